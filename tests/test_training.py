"""The training loop: optimizers, schedules, early stopping, cancel, divergence, merging."""

import threading

import numpy as np
import pytest

from bcdesktop.errors import TrainingDiverged, UserError
from bcdesktop.model import MLP
from bcdesktop.training import OPTIMIZERS, SCHEDULES, Optimizer, TrainConfig, learning_rates, merge_duplicates, train


def _scores(n=200, seed=0):
    """Integer scores 1..10 scaled to 0..1 (many repeated rows, like the real data)."""
    rng = np.random.default_rng(seed)
    distinct = rng.integers(1, 5, size=(n // 3, 9)).astype(float)
    X = distinct[rng.integers(0, len(distinct), n)]
    y = (X[:, :3].sum(axis=1) + rng.normal(0, 1.5, n) > 7.5).astype(float)
    return (X - 1) / 9, y


def _plain_gd(X, y, config, sample_weight=None):
    """Losses of plain full-batch gradient descent on the unmerged rows."""
    net = MLP(X.shape[1], config.hidden, config.init, config.seed)
    losses = []
    for i in range(config.iterations + 1):
        loss, grads = net.loss_and_grads(X, y, sample_weight)
        losses.append(loss)
        if i < config.iterations:
            params = [p - config.lr * g for p, g in zip(net.params, grads)]
            net = MLP.from_params(params)
    return losses, net


def test_merged_training_equals_unmerged_plain_descent():
    X, y = _scores()
    assert len(merge_duplicates(X, y)[0]) < len(X) * 0.9     # rows really were merged
    config = TrainConfig(init="xavier", optimizer="gd", lr=0.5, iterations=60, log_every=1)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    for sample_weight in (None, w):
        result = train(X, y, config, sample_weight=sample_weight)
        losses, net = _plain_gd(X, y, config, sample_weight)
        np.testing.assert_allclose([c[1] for c in result.loss_curve], losses, rtol=0, atol=1e-10)
        np.testing.assert_allclose(result.model.theta, net.theta, rtol=0, atol=1e-10)


def test_merge_duplicates_keeps_weighted_targets():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    Xu, t, w = merge_duplicates(X, y, [1.0, 3.0, 2.0, 1.0])
    order = np.argsort(Xu[:, 0])
    np.testing.assert_array_equal(Xu[order], [[0, 1], [1, 0]])
    np.testing.assert_allclose(t[order], [2 / 5, 1.0])
    np.testing.assert_allclose(w[order], [5.0, 2.0])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_optimizer_and_schedule_lowers_the_loss(optimizer, schedule):
    X, y = _scores()
    lr = 0.5 if optimizer == "gd" else 0.05
    config = TrainConfig(optimizer=optimizer, schedule=schedule, lr=lr, iterations=300,
                         log_every=100, seed=1)
    result = train(X, y, config)
    losses = [c[1] for c in result.loss_curve]
    assert [c[0] for c in result.loss_curve] == [0, 100, 200, 300]
    assert losses[-1] < 0.9 * losses[0]
    assert result.stopped == "completed" and result.iterations_run == 300


def test_learning_rate_schedules():
    def rates(schedule):
        return learning_rates(TrainConfig(schedule=schedule, lr=0.1, iterations=1000))

    np.testing.assert_array_equal(rates("constant"), 0.1)
    exp = rates("exponential")
    assert exp[0] == 0.1 and np.all(np.diff(exp) < 0) and exp[-1] == pytest.approx(0.001, rel=0.01)
    step = rates("step")
    assert sorted(set(step.round(12))) == [0.0125, 0.025, 0.05, 0.1]
    cos = rates("cosine")
    assert cos[0] == 0.1 and cos[500] == pytest.approx(0.05) and 0 < cos[-1] < 1e-5
    one = rates("onecycle")
    assert one[0] == pytest.approx(0.004) and one.max() == pytest.approx(0.1)
    assert np.argmax(one) == 300 and one[-1] < 1e-4
    assert all(len(rates(s)) == 1000 for s in SCHEDULES)


def test_weight_decay_shrinks_the_weights():
    X, y = _scores()
    base = TrainConfig(optimizer="adam", lr=0.05, iterations=300, seed=2)
    plain = train(X, y, base).model
    decayed = train(X, y, TrainConfig(**{**base.to_dict(), "l2": 0.05})).model
    norm = lambda net: sum(np.sum(W ** 2) for W in net.params[0::2])   # noqa: E731
    assert norm(decayed) < 0.7 * norm(plain)


def test_progress_reports_every_log_every_and_at_the_end():
    X, y = _scores()
    Xv, yv = _scores(60, seed=9)
    seen = []
    config = TrainConfig(iterations=250, log_every=100)
    result = train(X, y, config, X_val=Xv, y_val=yv, progress=seen.append)
    assert [(p.iteration, p.iterations) for p in seen] == [(0, 250), (100, 250), (200, 250),
                                                          (250, 250)]
    assert [(p.iteration, p.train_loss, p.val_loss) for p in seen] == result.loss_curve
    first = MLP(9, config.hidden, config.init, config.seed)
    assert seen[0].train_loss == pytest.approx(first.loss(X, y), abs=1e-12)
    assert seen[0].val_loss == pytest.approx(first.loss(Xv, yv), abs=1e-12)
    assert seen[-1].val_loss == pytest.approx(result.model.loss(Xv, yv), abs=1e-12)


def test_early_stopping_restores_the_best_weights():
    X, y = _scores(80)
    Xv, yv = _scores(80, seed=5)                 # small, noisy: the network overfits
    config = TrainConfig(hidden=(30,), lr=0.05, iterations=3000, patience=50, log_every=1)
    result = train(X, y, config, X_val=Xv, y_val=yv)
    assert result.stopped == "early_stopped"
    val = {it: v for it, _, v in result.loss_curve}
    assert result.iterations_run == result.best_iteration + 50
    assert val[result.best_iteration] == min(val.values())
    assert result.model.loss(Xv, yv) == pytest.approx(val[result.best_iteration], abs=1e-12)
    assert result.model.loss(Xv, yv) < val[result.iterations_run]


def test_early_stopping_needs_validation_rows():
    X, y = _scores()
    with pytest.raises(UserError, match="validation"):
        train(X, y, TrainConfig(patience=10))


def test_cancel_from_another_thread_keeps_finite_weights():
    X, y = _scores()
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.iteration)
        if p.iteration == 200:
            threading.Thread(target=cancel.set).start()

    config = TrainConfig(iterations=10 ** 7, log_every=100)
    result = train(X, y, config, progress=progress, cancel=cancel)
    assert result.stopped == "cancelled"
    assert 200 <= result.iterations_run < 10 ** 7
    assert result.model.is_finite()
    assert result.loss_curve[-1][0] == result.iterations_run == result.best_iteration
    assert result.loss_curve[-1][1] == pytest.approx(result.model.loss(X, y), abs=1e-12)


def test_divergence_raises_with_the_iteration():
    X, y = _scores()
    config = TrainConfig(optimizer="gd", lr=1e100, iterations=1000, init="he")
    with pytest.raises(TrainingDiverged) as info:
        train(X, y, config)
    message = str(info.value)
    assert "Training diverged at iteration" in message
    assert "Lower the learning rate (now 1e+100)" in message
    iteration = int(message.split("iteration ")[1].split(":")[0])
    assert 1 < iteration < 1000
    # the loss really is finite one iteration earlier
    losses = _plain_gd(X, y, TrainConfig(**{**config.to_dict(), "iterations": iteration - 1}))[0]
    assert np.all(np.isfinite(losses))


def test_same_seed_same_weights_other_seed_other_weights():
    X, y = _scores()
    config = TrainConfig(iterations=50)
    a = train(X, y, config).model
    b = train(X, y, config).model
    c = train(X, y, TrainConfig(iterations=50, seed=1)).model
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)


def test_config_round_trip_and_defaults():
    config = TrainConfig()
    assert (config.hidden, config.init, config.optimizer, config.lr, config.iterations,
            config.schedule, config.l2, config.patience, config.seed, config.log_every) == (
        (15,), "he", "adam", 0.002, 2000, "constant", 0.003, 0, 0, 500)
    # the L2 default follows the optimizer: the article's plain descent has none
    assert TrainConfig(optimizer="gd").l2 == TrainConfig(optimizer="momentum").l2 == 0.0
    assert TrainConfig(optimizer="gd", l2=0.01).l2 == 0.01
    assert TrainConfig(optimizer="adam", l2=0).l2 == 0.0
    custom = TrainConfig(hidden=[16, 8], optimizer="momentum", schedule="cosine", l2=1e-3)
    d = custom.to_dict()
    assert d["hidden"] == [16, 8]
    assert TrainConfig.from_dict(d) == custom
    assert TrainConfig(hidden=12).hidden == (12,)


@pytest.mark.parametrize("bad, setting", [
    ({"hidden": ()}, "'hidden'"), ({"hidden": (0,)}, "'hidden'"), ({"hidden": "15"}, "'hidden'"),
    ({"init": "zeros"}, "'init'"), ({"optimizer": "sgd"}, "'optimizer'"),
    ({"schedule": "linear"}, "'schedule'"), ({"lr": 0}, "'lr'"), ({"lr": float("nan")}, "'lr'"),
    ({"lr": "0.1"}, "'lr'"), ({"l2": -1}, "'l2'"), ({"iterations": 0}, "'iterations'"),
    ({"iterations": 10.5}, "'iterations'"), ({"patience": -1}, "'patience'"),
    ({"seed": True}, "'seed'"), ({"log_every": 0}, "'log_every'"),
    ({"learning_rate": 0.1}, "'learning_rate'"),
])
def test_config_validation_names_the_setting(bad, setting):
    with pytest.raises(UserError, match=setting):
        TrainConfig.from_dict(bad)


def test_train_checks_its_data():
    X, y = _scores(20)
    with pytest.raises(ValueError, match="one per row"):
        train(X, y[:-1], TrainConfig(iterations=1))
    with pytest.raises(ValueError, match="both X_val and y_val"):
        train(X, y, TrainConfig(iterations=1), X_val=X)
    with pytest.raises(ValueError, match="not finite"):
        train(np.full_like(X, np.nan), y, TrainConfig(iterations=1))


@pytest.mark.parametrize("bad, fragment", [
    ({"iterations": 1_000_000_000_000}, "'iterations' must be at most 10,000,000"),
    ({"iterations": 1_000_000_000}, "'iterations' must be at most"),
    ({"seed": 2**32}, "'seed' must be at most 4,294,967,295"),
    ({"hidden": (99999999999999999999,)}, "at most 2,000 units"),
    ({"hidden": (800_000,)}, "at most 2,000 units"),
    ({"hidden": (2000, 2000)}, "the limit is 1,000,000"),
    ({"hidden": (4,) * 6}, "at most 5 hidden layers"),
])
def test_settings_beyond_what_the_app_trains_or_loads_are_refused_up_front(bad, fragment):
    # each of these once became a MemoryError, an allocation of gigabytes, an error deep
    # in scikit-learn, or a model file that the loader then refused
    with pytest.raises(UserError, match=fragment):
        TrainConfig.from_dict(bad)


def test_the_limits_themselves_are_accepted():
    from bcdesktop import training

    TrainConfig(seed=training.MAX_SEED, iterations=training.MAX_ITERATIONS)
    TrainConfig(hidden=(training.MAX_HIDDEN_UNITS,))
    assert training.n_parameters((15,)) == 10 * 15 + 16


def test_the_largest_network_allowed_fits_in_a_model_file_the_loader_accepts():
    from bcdesktop import persistence, training

    assert training.MAX_PARAMETERS * 8 * 1.2 < persistence.MAX_MODEL_BYTES


def test_the_loss_curve_is_bounded_too():
    # found by review: 10 million iterations logged every one kept 1.5 GB of curve
    with pytest.raises(UserError, match="'log_every' must be at least 10 for 10,000,000 iterations"):
        TrainConfig(iterations=10_000_000, log_every=1)
    TrainConfig(iterations=10_000_000, log_every=10)
    TrainConfig(iterations=200_000, log_every=1)  # what the Train tab asks for at most


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_optimizer_for_one_network_and_for_many(optimizer):
    """The update rules train() uses are those of K networks at once (a (K, 1) rate)."""
    rng = np.random.default_rng(5)
    theta, grads = rng.normal(size=(3, 7)), rng.normal(size=(4, 3, 7))
    rates, decay = np.array([[0.1], [0.01], [0.3]]), rng.uniform(0, 0.1, size=(3, 7))
    many, alone = Optimizer(optimizer, theta.shape), [Optimizer(optimizer, (7,)) for _ in range(3)]
    together, apart = theta.copy(), theta.copy()
    for i, g in enumerate(grads):
        many.step(i, rates, together, g.copy(), decay)
        for k in range(3):
            alone[k].step(i, float(rates[k, 0]), apart[k], g[k].copy(), decay[k])
    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-15)
    many.keep(np.array([2, 0]))               # networks that stopped leave; the others go on
    kept = together[[2, 0]]
    many.step(4, rates[[2, 0]], kept, grads[0][[2, 0]].copy(), decay[[2, 0]])
    for pos, k in enumerate((2, 0)):
        alone[k].step(4, float(rates[k, 0]), apart[k], grads[0][k].copy(), decay[k])
        np.testing.assert_allclose(kept[pos], apart[k], rtol=0, atol=1e-15)
