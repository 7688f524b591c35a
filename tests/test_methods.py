"""The rest of the article's methods (issue 12): AdaGrad and RMSProp, SGDR and 1/t decay,
Leaky-ReLU and tanh hidden units, dropout; each against a hand computation, a central
difference or the run it must equal; and how a model file records them."""

import math

import numpy as np
import pytest
from test_training import _scores  # scaled scores with repeated rows, as the training tests use

from bcdesktop import evaluation as E
from bcdesktop import persistence
from bcdesktop.errors import UserError
from bcdesktop.model import HIDDEN_ACTIVATIONS, LEAKY_SLOPE, MLP, Pass, Scaler
from bcdesktop.persistence import ModelBundle, load_model, save_model
from bcdesktop.training import (
    LATER_DEFAULTS,
    Optimizer,
    TrainConfig,
    dropout_masks,
    learning_rates,
    merge_duplicates,
    train,
)


# ----------------------------------------------------------------------------- optimizers
def test_adagrad_against_a_hand_computed_step():
    opt = Optimizer("adagrad", (2,))
    theta = np.array([1.0, -2.0])
    # step 0, g = (0.5, -1): G = (0.25, 1); theta -= 0.1 g / (sqrt(G) + 1e-8)
    opt.step(0, 0.1, theta, np.array([0.5, -1.0]))
    np.testing.assert_allclose(theta, [1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 1 / (1 + 1e-8)],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(theta, [0.900000002, -1.900000001], rtol=0, atol=1e-12)
    # step 1, g = (1, 0): G = (1.25, 1); the second weight does not move
    opt.step(1, 0.1, theta, np.array([1.0, 0.0]))
    np.testing.assert_allclose(theta, [0.900000002 - 0.1 / (math.sqrt(1.25) + 1e-8), -1.900000001],
                               rtol=0, atol=1e-12)
    assert theta[0] == pytest.approx(0.8105572837, abs=1e-10)     # 0.900000002 - 0.0894427183
    # with L2: g + l2 theta is what is accumulated: 0.5 + 0.1 * 2 = 0.7, G = 0.49
    opt, theta = Optimizer("adagrad", (1,)), np.array([2.0])
    opt.step(0, 0.1, theta, np.array([0.5]), np.array([0.1]))
    assert theta[0] == pytest.approx(2 - 0.1 * 0.7 / (0.7 + 1e-8), abs=1e-15)


def test_rmsprop_against_a_hand_computed_step():
    opt = Optimizer("rmsprop", (2,))
    theta = np.array([1.0, -2.0])
    # step 0, g = (0.5, -1): v = 0.1 g^2 = (0.025, 0.1); theta -= 0.01 g / (sqrt(v) + 1e-8)
    opt.step(0, 0.01, theta, np.array([0.5, -1.0]))
    first = [1 - 0.01 * 0.5 / (math.sqrt(0.025) + 1e-8), -2 + 0.01 * 1 / (math.sqrt(0.1) + 1e-8)]
    np.testing.assert_allclose(theta, first, rtol=0, atol=1e-15)
    # 0.005 / (0.1581138830 + 1e-8) = 0.0316227746, 0.01 / (0.3162277660 + 1e-8) = 0.0316227756
    np.testing.assert_allclose(theta, [0.9683772254, -1.9683772244], rtol=0, atol=1e-10)
    # step 1, g = (0.5, 0): v = (0.9 * 0.025 + 0.1 * 0.25, 0.9 * 0.1) = (0.0475, 0.09)
    opt.step(1, 0.01, theta, np.array([0.5, 0.0]))
    np.testing.assert_allclose(theta, [first[0] - 0.01 * 0.5 / (math.sqrt(0.0475) + 1e-8), first[1]],
                               rtol=0, atol=1e-15)
    # 0.005 / (0.2179449472 + 1e-8) = 0.0229415723
    assert theta[0] == pytest.approx(0.9683772254 - 0.0229415723, abs=1e-10)


# ----------------------------------------------------------------------------- schedules
def test_sgdr_against_hand_computed_rates():
    c = math.cos
    # cycles of 4: t mod 4 = 0, 1, 2, 3, 0, ...; rate (1 + cos(pi t_cur / 4)) / 2
    rates = learning_rates(TrainConfig(schedule="sgdr", lr=1.0, iterations=10, restart_period=4))
    quarter = [1.0, (1 + c(math.pi / 4)) / 2, 0.5, (1 + c(3 * math.pi / 4)) / 2]
    np.testing.assert_allclose(rates, quarter * 2 + quarter[:2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(quarter, [1.0, 0.8535533906, 0.5, 0.1464466094], rtol=0, atol=1e-10)
    # cycles of 2, 4, 8 (cut at 10): t_cur 0 1 | 0 1 2 3 | 0 1 2 3
    rates = learning_rates(TrainConfig(schedule="sgdr", lr=0.5, iterations=10, restart_period=2,
                                       restart_mult=2))
    expected = [1.0, 0.5, 1.0, 0.8535533906, 0.5, 0.1464466094, 1.0, 0.9619397663, 0.8535533906,
                0.6913417162]
    np.testing.assert_allclose(rates, 0.5 * np.array(expected), rtol=0, atol=1e-10)
    # a period as long as the run is the plain cosine schedule
    np.testing.assert_allclose(
        learning_rates(TrainConfig(schedule="sgdr", lr=0.1, iterations=300, restart_period=300)),
        learning_rates(TrainConfig(schedule="cosine", lr=0.1, iterations=300)), rtol=0, atol=1e-15)


def test_inverse_time_against_hand_computed_rates():
    # lr / (1 + 9 t / 10): 0.1, 0.1 / 1.9, 0.1 / 2.8, ..., 0.1 / 9.1
    rates = learning_rates(TrainConfig(schedule="inverse_time", lr=0.1, iterations=10))
    np.testing.assert_allclose(rates, [0.1 / (1 + 0.9 * t) for t in range(10)], rtol=0, atol=1e-16)
    assert (rates[1], rates[9]) == (pytest.approx(0.0526315789, abs=1e-10), pytest.approx(0.010989011, abs=1e-9))
    rates = learning_rates(TrainConfig(schedule="inverse_time", lr=1.0, iterations=4, inverse_decay=2))
    np.testing.assert_allclose(rates, [1.0, 2 / 3, 0.5, 0.4], rtol=0, atol=1e-15)


def test_the_new_settings_are_checked_and_leave_to_dict_at_their_defaults():
    d = TrainConfig().to_dict()
    assert not set(LATER_DEFAULTS) & set(d)                 # earlier runs' settings unchanged
    custom = TrainConfig(activation="tanh", dropout=0.2, schedule="sgdr", restart_period=50,
                         restart_mult=2, inverse_decay=3, optimizer="rmsprop")
    d = custom.to_dict()
    assert (d["activation"], d["dropout"], d["restart_period"], d["restart_mult"],
            d["inverse_decay"]) == ("tanh", 0.2, 50, 2, 3.0)
    assert TrainConfig.from_dict(d) == custom and custom.l2 == 0.0
    assert TrainConfig(optimizer="adagrad").l2 == 0.0
    for bad, setting in (({"activation": "sigmoid"}, "'activation'"), ({"dropout": 1.0}, "'dropout'"),
                         ({"dropout": -0.1}, "'dropout'"), ({"restart_period": 0}, "'restart_period'"),
                         ({"restart_mult": 1.5}, "'restart_mult'"), ({"inverse_decay": -1}, "'inverse_decay'")):
        with pytest.raises(UserError, match=setting):
            TrainConfig.from_dict(bad)


def test_a_models_settings_give_back_its_config_with_the_later_settings():
    """What the evidence (command line and window) and the landscape do with a model's
    settings: keep the setting names, which to_dict() of a default config lacks."""
    config = TrainConfig(activation="tanh", dropout=0.1, restart_period=7)
    settings = {**config.to_dict(), "split": "stratified", "val_fraction": 0.2}
    assert TrainConfig.setting_names() >= set(LATER_DEFAULTS) | set(TrainConfig().to_dict())
    kept = {k: v for k, v in settings.items() if k in TrainConfig.setting_names()}
    assert TrainConfig.from_dict(kept) == config


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop"])
@pytest.mark.parametrize("schedule", ["sgdr", "inverse_time"])
def test_the_new_optimizers_and_schedules_lower_the_loss(optimizer, schedule):
    X, y = _scores()
    config = TrainConfig(optimizer=optimizer, schedule=schedule, lr=0.02, iterations=300,
                         log_every=100, seed=1, restart_period=100)
    losses = [c[1] for c in train(X, y, config).loss_curve]
    assert losses[-1] < 0.8 * losses[0]


# ----------------------------------------------------------------------------- activations
def test_the_activations_and_their_derivatives():
    Z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    for name, value, slope in (
            ("relu", [0, 0, 0, 0.5, 3], [0, 0, 0, 1, 1]),
            ("leaky_relu", [-2 * LEAKY_SLOPE, -0.5 * LEAKY_SLOPE, 0, 0.5, 3],
             [LEAKY_SLOPE, LEAKY_SLOPE, LEAKY_SLOPE, 1, 1]),
            ("tanh", np.tanh(Z[0]), 1 - np.tanh(Z[0]) ** 2)):
        from bcdesktop.model import ACTIVATIONS
        out, active = Z.copy(), np.empty_like(Z)
        ACTIVATIONS[name](out, active)
        np.testing.assert_allclose(out[0], value, rtol=0, atol=1e-15)
        np.testing.assert_allclose(active[0], slope, rtol=0, atol=1e-15)


def _numeric_gradient(loss_at, theta, eps=1e-6):
    num = np.empty_like(theta)
    for p in range(theta.size):
        saved = theta[p]
        theta[p] = saved + eps
        up = loss_at()
        theta[p] = saved - eps
        down = loss_at()
        theta[p] = saved
        num[p] = (up - down) / (2 * eps)
    return num


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_gradient_of_the_new_activations_matches_central_differences(activation, hidden, l2):
    rng = np.random.default_rng(4)
    X, y = rng.random((30, 9)), (rng.random(30) > 0.5).astype(float)
    w = rng.uniform(0.5, 2, 30)
    net = MLP(9, hidden, "xavier", 2, activation)
    net.theta += rng.normal(0, 0.2, net.theta.shape)      # biases away from 0
    loss, grads = net.loss_and_grads(X, y, w, l2=l2)
    flat = np.concatenate([np.column_stack([W, b]).ravel() for W, b in zip(grads[0::2], grads[1::2])])
    num = _numeric_gradient(lambda: net.loss_and_grads(X, y, w, l2=l2)[0], net.theta)
    assert np.abs(num - flat).max() / np.abs(flat).max() < 1e-6


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("hidden", [(6,), (5, 4)])
def test_gradient_with_a_fixed_dropout_mask_matches_central_differences(activation, hidden):
    rng = np.random.default_rng(6)
    X, y = rng.random((25, 9)), (rng.random(25) > 0.5).astype(float)
    net = MLP(9, hidden, "he", 1, activation)
    net.theta += rng.normal(0, 0.2, net.theta.shape)
    masks = [(rng.random((n, 25)) >= 0.4) / 0.6 for n in hidden]    # fixed, inverted dropout
    p = Pass(net, X, y)

    def loss_at():
        p.forward(masks)
        return p.loss()

    loss_at()
    grad = p.backward().copy()
    num = _numeric_gradient(loss_at, net.theta)
    assert np.abs(num - grad).max() / np.abs(grad).max() < 1e-6
    # the masked network's logits are those of a plain computation
    A = X.T
    for (W, b), mask in zip(zip(net.params[0:-2:2], net.params[1:-2:2]), masks):
        Z = W @ A + b[:, None]
        A = {"relu": np.maximum(Z, 0), "leaky_relu": np.where(Z > 0, Z, LEAKY_SLOPE * Z),
             "tanh": np.tanh(Z)}[activation] * mask
    z = net.params[-2] @ A + net.params[-1][:, None]
    np.testing.assert_allclose(p.forward(masks), z, rtol=0, atol=1e-12)
    assert not np.allclose(p.forward(), z)               # without masks: the whole network


def test_relu_remains_the_default_and_the_repr_names_another():
    assert MLP().hidden_activation == "relu" and repr(MLP(hidden=(4,), seed=1)) == "MLP(9-4-1, init='he', seed=1)"
    assert repr(MLP(hidden=(4,), seed=1, activation="tanh")) == \
        "MLP(9-4-1, init='he', seed=1, activation='tanh')"
    with pytest.raises(ValueError, match="activation must be one of relu, leaky_relu, tanh"):
        MLP(activation="swish")
    net = MLP(hidden=(4,), activation="leaky_relu")
    assert MLP.from_params(net.params, "leaky_relu").hidden_activation == "leaky_relu"
    assert MLP.from_params(net.params).hidden_activation == "relu"


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
def test_training_uses_the_activation(activation):
    X, y = _scores()
    config = TrainConfig(activation=activation, iterations=200, lr=0.01)
    result = train(X, y, config)
    assert result.model.hidden_activation == activation
    assert result.loss_curve[-1][1] < 0.8 * result.loss_curve[0][1]
    assert not np.array_equal(result.model.theta, train(X, y, TrainConfig(iterations=200, lr=0.01)).model.theta)
    assert result.loss_curve[-1][1] == pytest.approx(result.model.loss(X, y), abs=1e-12)


# ----------------------------------------------------------------------------- dropout
def test_dropout_masks_are_seeded_scaled_and_drop_the_fraction():
    config = TrainConfig(hidden=(40, 20), dropout=0.25, seed=3)
    a, b = dropout_masks(config, 500), dropout_masks(config, 500)
    first = [m.copy() for m in a()]
    assert [m.shape for m in first] == [(40, 500), (20, 500)]
    for m, n in zip(first, b()):
        np.testing.assert_array_equal(m, n)                # the same seed, the same masks
        assert set(np.unique(m)) == {0.0, 1 / 0.75}
        assert abs((m == 0).mean() - 0.25) < 0.02
    assert not np.array_equal(first[0], a()[0])              # a new mask each update
    other = dropout_masks(TrainConfig(hidden=(40, 20), dropout=0.25, seed=4), 500)()
    assert not np.array_equal(first[0], other[0])


def test_training_with_dropout_is_reproducible_and_off_at_prediction():
    X, y = _scores()
    config = TrainConfig(dropout=0.3, iterations=300, lr=0.01, log_every=100)
    a, b = train(X, y, config), train(X, y, config)
    np.testing.assert_array_equal(a.model.theta, b.model.theta)
    plain = train(X, y, TrainConfig(iterations=300, lr=0.01, log_every=100))
    assert not np.allclose(a.model.theta, plain.model.theta)
    assert a.loss_curve[-1][1] < 0.8 * a.loss_curve[0][1]
    # the curve records the whole network's loss, as predictions use it: no masks
    assert a.loss_curve[-1][1] == pytest.approx(a.model.loss(X, y), abs=1e-12)
    p = a.model.predict_proba(X[:20])
    np.testing.assert_array_equal(p, a.model.predict_proba(X[:20]))
    assert a.loss_curve[0] == plain.loss_curve[0]           # the same start


def test_one_dropout_update_is_the_masked_gradient_step():
    """train() with dropout: update 0 is theta - lr * gradient of the network thinned by
    the first masks of dropout_masks (plain descent, so the step is that gradient)."""
    X, y = _scores(60)
    config = TrainConfig(hidden=(7,), optimizer="gd", lr=0.5, iterations=1, dropout=0.5, seed=2)
    Xm, t, w = merge_duplicates(X, y)
    net = MLP(9, (7,), "he", 2)
    p = Pass(net, Xm, t, w)
    p.forward(dropout_masks(config, len(Xm))())
    expected = net.theta - 0.5 * p.backward()
    np.testing.assert_allclose(train(X, y, config).model.theta, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("patience", [0, 3])
def test_cross_validation_with_dropout_equals_the_per_fold_loop(patience):
    from bcdesktop import data

    ds = data.load_bundled()
    X, y = np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y).astype(np.int8)
    cfg = TrainConfig(hidden=(6,), lr=0.01, iterations=40, log_every=20, dropout=0.2, seed=1,
                      patience=patience, activation="tanh")
    kw = dict(folds=3, repeats=1, seed=2)
    a = E.cross_validate(X, y, cfg, **kw)                 # batched.train_many
    b = E.cross_validate_with(E.network_fit_predict(cfg), X, y, settings=cfg.to_dict(), **kw)
    assert np.abs(a.oof_all - b.oof_all).max() <= 1e-10
    assert a.settings == b.settings and a.settings["dropout"] == 0.2
    plain = E.cross_validate(X, y, TrainConfig(**{**cfg.to_dict(), "dropout": 0.0}), **kw)
    assert np.abs(a.oof_all - plain.oof_all).max() > 1e-4


# ----------------------------------------------------------------------------- model file
def _bundle(net):
    return ModelBundle(network=net, scaler=Scaler(np.ones(9), np.full(9, 10.0)), threshold=0.4,
                       settings=TrainConfig(activation=net.hidden_activation).to_dict(), seed=0,
                       metrics={})


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
def test_a_model_file_keeps_its_activation(tmp_path, activation):
    net = MLP(9, (6,), "he", 4, activation)
    net.theta += np.random.default_rng(1).normal(0, 0.3, net.theta.shape)
    path = tmp_path / "m.npz"
    save_model(_bundle(net), path)
    loaded = load_model(path)
    assert loaded.network.hidden_activation == activation
    X = np.random.default_rng(2).integers(1, 11, (30, 9)).astype(float)
    np.testing.assert_array_equal(loaded.predict_proba(X), _bundle(net).predict_proba(X))
    relu = MLP.from_params(net.params)
    assert not np.allclose(relu.predict_proba(X / 10), net.predict_proba(X / 10))
    assert persistence._read(path)[1]["activation"] == activation


def test_a_relu_model_file_has_no_activation_key_and_an_unknown_one_is_refused(tmp_path):
    path = tmp_path / "relu.npz"
    save_model(_bundle(MLP(9, (6,), "he", 4)), path)
    arrays, meta = persistence._read(path)
    assert "activation" not in meta                       # the bytes of relu files stay as they were
    assert load_model(path).network.hidden_activation == "relu"
    for value, shown in (("swish", "'swish'"), (3, "'int'")):
        meta = dict(meta, activation=value)
        meta["checksum"] = persistence._checksum(arrays, meta)
        bad = tmp_path / "bad.npz"
        bad.write_bytes(persistence._encode(arrays, meta))
        with pytest.raises(UserError) as info:
            load_model(bad)
        message = str(info.value)
        assert f"hidden activation {shown} is not one this bcdesktop knows (relu, leaky_relu, tanh)" \
            in message and "\n" not in message and str(bad) in message


def test_the_shipped_default_model_is_a_relu_model():
    bundle = persistence.load_default_model()
    assert bundle.network.hidden_activation == "relu"
    assert not set(LATER_DEFAULTS) & set(bundle.settings)


# ----------------------------------------------------------------------------- explanation
def test_a_tanh_models_explanation_adds_up():
    from bcdesktop.explain import explain_bundle, logit_function, shapley, sigmoid

    rng = np.random.default_rng(9)
    net = MLP(9, (8,), "he", 3, "tanh")
    net.theta += rng.normal(0, 0.3, net.theta.shape)
    bundle = _bundle(net)
    bg = rng.integers(1, 11, (30, 9)).astype(float)
    w = rng.integers(1, 4, 30)
    x = rng.integers(1, 11, 9).astype(float)
    e = explain_bundle(bundle, x, bg, w)
    assert e.base + e.contributions.sum() == pytest.approx(e.value, abs=1e-10)
    assert sigmoid(e.value) == pytest.approx(float(bundle.predict_proba(x)[0]), abs=1e-12)
    assert e.base == pytest.approx(float(np.average(logit_function(bundle)(bg), weights=w)), abs=1e-10)
    slow = shapley(logit_function(bundle), x, bg, w)
    np.testing.assert_allclose(e.contributions, slow.contributions, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- command line
def test_the_command_line_flags_reach_the_settings_and_the_model_file(capsys, tmp_path):
    import json

    from bcdesktop.cli import _train_config, build_parser, main

    args = build_parser().parse_args(
        ["evaluate", "--activation", "leaky_relu", "--dropout", "0.25", "--optimizer", "adagrad",
         "--schedule", "sgdr", "--restart-period", "40", "--restart-mult", "2", "--inverse-decay", "3"])
    assert _train_config(args) == TrainConfig(activation="leaky_relu", dropout=0.25, optimizer="adagrad",
                                              schedule="sgdr", restart_period=40, restart_mult=2,
                                              inverse_decay=3)
    assert _train_config(build_parser().parse_args(["train"])) == TrainConfig()
    out = tmp_path / "m.npz"
    code = main(["train", "--out", str(out), "--activation", "tanh", "--dropout", "0.1", "--optimizer",
                 "rmsprop", "--lr", "0.005", "--schedule", "inverse_time", "--iterations", "60", "--json"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    bundle = load_model(out)
    assert bundle.network.hidden_activation == "tanh"
    assert (bundle.settings["activation"], bundle.settings["dropout"], bundle.settings["optimizer"]) == (
        "tanh", 0.1, "rmsprop")
    assert "restart_period" not in bundle.settings and json.loads(printed)
    for flag, value, words in (("--dropout", "1", "'dropout'"), ("--activation", "swish", "invalid choice"),
                               ("--restart-period", "0", "must be at least 1")):
        code = main(["train", "--out", str(tmp_path / "n.npz"), flag, value])
        _, err = capsys.readouterr()
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
