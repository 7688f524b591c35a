"""The NumPy network: scaler, initialisations, parameters, loss and a gradient check."""

import numpy as np
import pytest

from bcdesktop.errors import UserError
from bcdesktop.model import MAX_HIDDEN_LAYERS, MAX_HIDDEN_UNITS, MLP, Scaler, hidden_problem, parse_hidden


def _data(n=40, n_inputs=9, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_inputs))
    y = (X[:, 0] + X[:, 1] > 1).astype(float)
    return X, y


# --- Scaler ---------------------------------------------------------------------------

def test_scaler_maps_training_range_to_unit_interval():
    X = np.array([[1.0, 5.0], [10.0, 7.0], [4.0, 6.0]])
    scaler = Scaler.fit(X)
    np.testing.assert_array_equal(scaler.data_min, [1, 5])
    np.testing.assert_array_equal(scaler.data_max, [10, 7])
    np.testing.assert_allclose(scaler.transform(X), [[0, 0], [1, 1], [1 / 3, 0.5]])
    # values outside the training range are not clipped
    np.testing.assert_allclose(scaler.transform([[11.0, 4.0]]), [[10 / 9, -0.5]])


def test_scaler_constant_feature_gives_zero_not_nan():
    scaler = Scaler.fit(np.array([[3.0, 1.0], [3.0, 2.0]]))
    out = scaler.transform(np.array([[3.0, 1.5], [4.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.5], [1.0, 1.0]])


def test_scaler_rejects_wrong_width_and_bad_bounds():
    scaler = Scaler.fit(np.ones((2, 9)))
    with pytest.raises(ValueError, match="9 features"):
        scaler.transform(np.ones((2, 8)))
    with pytest.raises(ValueError, match="smaller than data_min"):
        Scaler([2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        Scaler([np.nan], [1.0])
    assert "data_min=[1.0" in repr(scaler)


# --- initialisation and parameters ------------------------------------------------------

def test_article_init_replays_the_legacy_random_state_stream():
    rs = np.random.RandomState(1)
    W1 = rs.randn(15, 9) / np.sqrt(9)
    W2 = rs.randn(1, 15) / np.sqrt(15)
    W1_, b1, W2_, b2 = MLP(init="article", seed=1).params
    np.testing.assert_array_equal(W1_, W1)
    np.testing.assert_array_equal(W2_, W2)
    assert not b1.any() and not b2.any()


@pytest.mark.parametrize("init", ["he", "xavier"])
def test_he_and_xavier_scales(init):
    net = MLP(n_inputs=200, hidden=(300,), init=init, seed=3)
    W1 = net.params[0]
    assert W1.shape == (300, 200)
    expected_sd = np.sqrt(2 / 200) if init == "he" else np.sqrt(2 / 500)   # Glorot: lim/sqrt(3)
    assert abs(W1.std() / expected_sd - 1) < 0.02
    if init == "xavier":
        assert np.abs(W1).max() <= np.sqrt(6 / 500)


def test_seed_decides_the_weights():
    a, b, c = MLP(seed=5), MLP(seed=5), MLP(seed=6)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


def test_params_round_trip_and_shapes():
    net = MLP(hidden=(6, 4), seed=2)
    shapes = [p.shape for p in net.params]
    assert shapes == [(6, 9), (6,), (4, 6), (4,), (1, 4), (1,)]
    X, _ = _data()
    again = MLP.from_params(net.params)
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
    assert again.layer_sizes == (9, 6, 4, 1)
    net.params[0][:] = 0                       # params are copies
    np.testing.assert_array_equal(again.params[0], MLP(hidden=(6, 4), seed=2).params[0])


@pytest.mark.parametrize("params, message", [
    ([np.ones((15, 9))], "pairs"),
    ([np.ones((15, 9)), np.ones(14), np.ones((1, 15)), np.ones(1)], "do not fit"),
    ([np.ones((15, 9)), np.ones(15), np.ones((1, 14)), np.ones(1)], "takes 14 inputs"),
    ([np.ones((15, 9)), np.ones(15), np.ones((2, 15)), np.ones(2)], "1 output unit"),
    ([np.full((15, 9), np.nan), np.ones(15), np.ones((1, 15)), np.ones(1)], "not finite"),
])
def test_from_params_rejects_bad_shapes(params, message):
    with pytest.raises(ValueError, match=message):
        MLP.from_params(params)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden": (0,)}, "hidden"), ({"hidden": (2.5,)}, "hidden"), ({"n_inputs": 0}, "n_inputs"),
    ({"init": "zeros"}, "init"), ({"seed": -1}, "seed"),
])
def test_mlp_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


# --- forward and loss -------------------------------------------------------------------

def _plain_forward(net, X):
    A = X
    params = net.params
    for W, b in zip(params[0:-2:2], params[1:-2:2]):
        A = np.maximum(A @ W.T + b, 0)
    return A @ params[-2].T[:, 0] + params[-1][0]


def test_forward_and_loss_match_a_plain_computation():
    net = MLP(hidden=(7, 5), seed=4)
    X, y = _data()
    z = _plain_forward(net, X)
    np.testing.assert_allclose(net.logits(X), z, rtol=1e-12)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(net.predict_proba(X), p, rtol=1e-12)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert net.loss(X, y) == pytest.approx(loss, rel=1e-12)
    w = np.arange(1, 41, dtype=float)
    weighted = -np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / w.sum()
    assert net.loss(X, y, sample_weight=w) == pytest.approx(weighted, rel=1e-12)


def test_loss_is_finite_for_saturated_outputs():
    net = MLP.from_params([np.full((1, 9), 100.0), np.zeros(1), np.array([[50.0]]), np.zeros(1)])
    X = np.ones((2, 9))                        # logit 45000: sigmoid is exactly 1.0
    assert net.predict_proba(X)[0] == 1.0
    assert net.loss(X, np.array([0.0, 1.0])) == pytest.approx(45000 / 2)


def test_loss_checks_its_inputs():
    net = MLP()
    X, y = _data()
    with pytest.raises(ValueError, match=r"shape \(n_samples, 9\)"):
        net.loss(X[:, :8], y)
    with pytest.raises(ValueError, match="one per row"):
        net.loss(X, y[:-1])
    with pytest.raises(ValueError, match="labels 0"):
        net.loss(X, y * 4)
    with pytest.raises(ValueError, match="sample_weight"):
        net.loss(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="not finite"):
        net.predict_proba(np.full((1, 9), np.inf))


# --- gradient check ---------------------------------------------------------------------

@pytest.mark.parametrize("hidden, weighted, l2", [
    ((15,), False, 0.0),
    ((15,), True, 0.3),
    ((4,), True, 0.0),
    ((6, 5), False, 0.0),
    ((6, 5), True, 0.1),
    ((3, 4, 2), True, 0.05),
])
def test_gradient_matches_central_differences(hidden, weighted, l2):
    X, y = _data(n=30, seed=len(hidden))
    X = X * 2 - 0.5                             # both signs reach the ReLUs
    net = MLP(hidden=hidden, init="xavier", seed=7)
    for Wb in net.packed:                       # non-zero biases, so their gradient matters
        Wb[:, -1] = np.random.default_rng(1).normal(0, 0.3, Wb.shape[0])
    w = np.random.default_rng(2).uniform(0.5, 3.0, len(y)) if weighted else None
    loss, grads = net.loss_and_grads(X, y, sample_weight=w, l2=l2)
    params = net.params

    def loss_at(params):
        return MLP.from_params(params).loss_and_grads(X, y, sample_weight=w, l2=l2)[0]

    assert loss == pytest.approx(loss_at(params), rel=1e-14)
    eps = 1e-6
    for k, p in enumerate(params):
        numeric = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            numeric[idx] = (loss_at(plus) - loss_at(minus)) / (2 * eps)
        assert grads[k].shape == p.shape
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"parameter {k} of {hidden}")


def test_l2_does_not_touch_biases():
    X, y = _data()
    net = MLP(seed=1)
    _, plain = net.loss_and_grads(X, y)
    loss, decayed = net.loss_and_grads(X, y, l2=0.5)
    params = net.params
    np.testing.assert_allclose(decayed[0] - plain[0], 0.5 * params[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(decayed[1], plain[1])
    penalty = 0.25 * (np.sum(params[0] ** 2) + np.sum(params[2] ** 2))
    assert loss == pytest.approx(net.loss(X, y) + penalty, rel=1e-13)


def test_repr_names_the_architecture():
    assert repr(MLP(hidden=(8, 4), init="xavier", seed=3)) == "MLP(9-8-4-1, init='xavier', seed=3)"


# --- hidden layer sizes typed by a person (the command line's --hidden, the window's field) ---

@pytest.mark.parametrize("text, sizes", [
    ("15", (15,)), ("15,8", (15, 8)), ("16, 8", (16, 8)), (" 16 ; 8 ", (16, 8)), ("+15", (15,)),
    ("007", (7,)), (",".join(["4"] * MAX_HIDDEN_LAYERS), (4,) * MAX_HIDDEN_LAYERS),
    (str(MAX_HIDDEN_UNITS), (MAX_HIDDEN_UNITS,)),
])
def test_parse_hidden_reads_layer_sizes(text, sizes):
    assert parse_hidden(text) == sizes


@pytest.mark.parametrize("text, words", [
    ("", "Enter the hidden layer sizes"), ("  ", "Enter the hidden layer sizes"),
    ("abc", "'abc' is not a whole number"), ("15,abc", "'abc' is not a whole number"),
    ("1 5", "'1 5' is not a whole number"), ("1_5", "'1_5' is not a whole number"),
    ("2.5", "'2.5' is not a whole number"), ("\u00b2", "is not a whole number"),
    ("15,,8", "'15,,8' has an empty layer size"), ("15,", "'15,' has an empty layer size"),
    ("0", "at least 1 unit; got 0"), ("-3", "at least 1 unit; got -3"),
    ("4,4,4,4,4,4", "at most 5 hidden layers; got 6"),
    ("800000", "at most 2,000 units a layer; got 800,000"),
    ("99999999999999999999", "units a layer"), ("9" * 5000, "is not a layer size from 1 to 2,000"),
    ("2000,2000", "the limit is 1,000,000"),
])
def test_parse_hidden_refuses_with_one_plain_sentence(text, words):
    with pytest.raises(UserError) as info:
        parse_hidden(text)
    message = str(info.value)
    assert words in message
    assert message[0].isupper() or message[0] in "'0123456789"  # a sentence
    assert message.endswith(".") and "\n" not in message and len(message) < 120


def test_parse_hidden_keeps_the_trainers_limits():
    from bcdesktop.training import TrainConfig

    for sizes in [(4,) * 6, (MAX_HIDDEN_UNITS + 1,), (2000, 2000), (15,), (16, 8)]:
        text = ",".join(map(str, sizes))
        problem = hidden_problem(sizes)
        try:
            TrainConfig(hidden=sizes)
        except UserError as exc:
            assert problem is not None and problem in str(exc)
            with pytest.raises(UserError) as info:
                parse_hidden(text)
            assert str(info.value) == f"{problem[0].upper()}{problem[1:]}."
        else:
            assert problem is None and parse_hidden(text) == sizes
