"""The batched core (bcdesktop.batched): K networks trained together give, network by
network, what training.train gives each alone (loss curves, final weights, stopping) to
1e-10, and the batched gradient passes a central-difference check.

The runs are short (tens of updates, a handful of networks) so the file stays fast; the
equality holds over the full 2000 updates as well (bench/bench_cv.py prints it).
"""

import dataclasses
import threading

import numpy as np
import pytest

from bcdesktop import batched as B
from bcdesktop import data
from bcdesktop import evaluation as E
from bcdesktop.errors import Cancelled, TrainingDiverged, UserError
from bcdesktop.model import INITS, MLP, Scaler
from bcdesktop.training import OPTIMIZERS, SCHEDULES, TrainConfig, train

TOL = 1e-10
LR = {"gd": 0.5, "momentum": 0.05, "adam": 0.05, "adagrad": 0.05, "rmsprop": 0.01}


@pytest.fixture(scope="module")
def bundled():
    ds = data.load_bundled()
    return np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y).astype(np.int8)


_SPLITS: dict = {}


def folds_for(X, y, K, seed=0):
    """The first K folds of repeated 10-fold CV (made once: scikit-learn's are slow)."""
    if seed not in _SPLITS:
        _SPLITS[seed] = E.cv_folds(X, y, folds=10, repeats=3, seed=seed)
    return _SPLITS[seed][:K]


_INNER: dict = {}


def inner_split(X, y, tr, seed):
    """evaluation._inner_split of the fold's rows ``tr``, made once a fold and seed."""
    key = (tr.tobytes(), seed)
    if key not in _INNER:
        _INNER[key] = E._inner_split(X[tr], y[tr], seed)
    return _INNER[key]


def alone(X, y, tr, cfg, *, progress=None, cancel=None):
    """Today's per-fold path written out: the scaler on the fold's training rows, the
    inner early-stopping split when patience > 0, and training.train."""
    scaler = Scaler.fit(X[tr])
    Xs = scaler.transform(X[tr])
    if cfg.patience:
        fit_idx, stop_idx = inner_split(X, y, tr, cfg.seed)
        r = train(Xs[fit_idx], y[tr][fit_idx], cfg, X_val=Xs[stop_idx], y_val=y[tr][stop_idx],
                  progress=progress, cancel=cancel)
    else:
        r = train(Xs, y[tr], cfg, progress=progress, cancel=cancel)
    return scaler, r


def curve_diff(a, b):
    """Largest difference of two loss curves, which must log the same iterations and
    the same validation column."""
    assert [c[0] for c in a] == [c[0] for c in b]
    assert [c[2] is None for c in a] == [c[2] is None for c in b]
    return max([abs(p[1] - q[1]) for p, q in zip(a, b)]
               + [abs(p[2] - q[2]) for p, q in zip(a, b) if p[2] is not None])


def fold_weights(X, y, configs, splits):
    """Each network's training, validation and scaler rows: its fold, and the inner
    split of the fold for those with early stopping (per network)."""
    weights, _, scale_rows = E.cv_weights(X, y, splits, dataclasses.replace(configs[0], patience=0))
    val = np.zeros_like(weights)
    for k, (c, (tr, _te)) in enumerate(zip(configs, splits)):
        if c.patience:
            fit_idx, stop_idx = inner_split(X, y, tr, c.seed)
            weights[k] = 0.0
            weights[k, tr[fit_idx]] = 1.0
            val[k, tr[stop_idx]] = 1.0
    return weights, (val if val.any() else None), scale_rows


def compare(X, y, configs, splits, **kw):
    """Train ``configs`` on the folds ``splits`` together and alone; checks stopping,
    iterations and scalers agree and returns the largest curve and weight differences."""
    weights, val, scale_rows = fold_weights(X, y, configs, splits)
    out = B.train_many(X, y, configs, weights, val_weights=val, scale_rows=scale_rows, **kw)
    worst_curve = worst_weight = 0.0
    for k, (c, (tr, _te)) in enumerate(zip(configs, splits)):
        scaler, ref = alone(X, y, tr, c)
        got = out.results[k]
        assert (got.stopped, got.iterations_run, got.best_iteration) == \
            (ref.stopped, ref.iterations_run, ref.best_iteration), (k, c)
        assert np.array_equal(out.scalers[k].data_min, scaler.data_min)
        assert np.array_equal(out.scalers[k].data_max, scaler.data_max)
        assert got.model.layer_sizes == ref.model.layer_sizes
        worst_curve = max(worst_curve, curve_diff(got.loss_curve, ref.loss_curve))
        worst_weight = max(worst_weight, float(np.abs(got.model.theta - ref.model.theta).max()))
    return out, worst_curve, worst_weight


def matrix_configs(optimizer, iterations=60):
    """Every schedule with L2 on or off and early stopping on or off, the three inits
    in turn, own seeds and rates, two run lengths."""
    out = []
    for n, (schedule, l2, patience) in enumerate(
            (s, l2, p) for s in SCHEDULES for l2 in (0.0, 0.003) for p in (0, 2)):
        out.append(TrainConfig(optimizer=optimizer, schedule=schedule, l2=l2, patience=patience,
                               init=INITS[n % 3], seed=n, lr=LR[optimizer] * (1 + n % 2),
                               iterations=iterations - 10 * (n % 2), log_every=7))
    return out


# ----------------------------------------------------------------------------- equality
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_schedule_l2_early_stopping_and_init_equals_train_alone(bundled, optimizer):
    X, y = bundled
    configs = matrix_configs(optimizer)
    out, curves, weights = compare(X, y, configs, folds_for(X, y, len(configs)))
    assert curves <= TOL and weights <= TOL, (curves, weights)
    assert "completed" in out.stopped
    if optimizer != "gd":                     # networks stopped early while others went on
        assert "early_stopped" in out.stopped, out.stopped


def test_the_default_settings(bundled):
    X, y = bundled
    _, curves, weights = compare(X, y, [TrainConfig(iterations=300)] * 3, folds_for(X, y, 13)[10:])
    assert curves <= TOL and weights <= TOL


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh"])
@pytest.mark.parametrize("hidden", [(15,), (6, 4)])
def test_the_hidden_activations_equal_train_alone(bundled, activation, hidden):
    X, y = bundled
    configs = [TrainConfig(hidden=hidden, activation=activation, lr=LR["adam"], iterations=50 - 5 * s,
                           seed=s, init=INITS[s % 3], patience=2 * (s % 2), l2=0.002 * (s % 3),
                           schedule=SCHEDULES[s], log_every=9)
               for s in range(4)]
    out, curves, weights = compare(X, y, configs, folds_for(X, y, 4))
    assert curves <= TOL and weights <= TOL, (curves, weights)
    assert all(r.model.hidden_activation == activation for r in out.results)


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop"])
def test_warm_restarts_and_inverse_time_with_their_parameters_equal_train_alone(bundled, optimizer):
    """Networks of one batch with their own restart periods, multipliers and 1/t decays:
    each its own row of rates."""
    X, y = bundled
    configs = [TrainConfig(optimizer=optimizer, schedule="sgdr", restart_period=p, restart_mult=m,
                           lr=LR[optimizer], iterations=60, seed=k, log_every=10)
               for k, (p, m) in enumerate(((7, 1), (7, 2), (5, 3)))]
    configs += [TrainConfig(optimizer=optimizer, schedule="inverse_time", inverse_decay=d,
                            lr=LR[optimizer], iterations=60, seed=3 + k, log_every=10, patience=3 * k)
                for k, d in enumerate((9.0, 1.0, 50.0))]
    _, curves, weights = compare(X, y, configs, folds_for(X, y, len(configs)))
    assert curves <= TOL and weights <= TOL, (curves, weights)


@pytest.mark.parametrize("activation, hidden", [("relu", (15,)), ("tanh", (6, 4)), ("leaky_relu", (5, 4, 3))])
def test_dropout_equals_train_alone(bundled, activation, hidden):
    """Each network draws train()'s masks over its own rows; networks without dropout,
    with early stopping, and of other run lengths share the batch."""
    X, y = bundled
    configs = [TrainConfig(hidden=hidden, activation=activation, dropout=(0.0, 0.2, 0.5, 0.3, 0.1)[s],
                           lr=0.01, iterations=45 - 5 * s, seed=s, patience=2 * (s % 2), log_every=8,
                           init=INITS[s % 3])
               for s in range(5)]
    out, curves, weights = compare(X, y, configs, folds_for(X, y, 5))
    assert curves <= TOL and weights <= TOL, (curves, weights)
    # and dropout did change the weights: a network without it ends elsewhere
    ref = alone(X, y, folds_for(X, y, 5)[2][0], dataclasses.replace(configs[2], dropout=0.0))[1]
    assert np.abs(out.results[2].model.theta - ref.model.theta).max() > 1e-3


def test_networks_of_one_batch_share_their_activation(bundled):
    X, y = bundled
    w = np.ones(len(y))
    with pytest.raises(ValueError, match="share hidden sizes, optimizer and activation"):
        B.train_many(X, y, [TrainConfig(), TrainConfig(activation="tanh")], np.stack([w, w]))


def test_a_deeper_network(bundled):
    X, y = bundled
    configs = [TrainConfig(hidden=(8, 4), optimizer="momentum", lr=0.05, iterations=80,
                           seed=s, init=INITS[s % 3], patience=3 * (s % 2), l2=0.001 * s)
               for s in range(4)]
    _, curves, weights = compare(X, y, configs, folds_for(X, y, 4))
    assert curves <= TOL and weights <= TOL


def test_networks_whose_scalers_differ_from_the_reference(bundled):
    """Small random training parts: the networks' min and max differ, so their scaling is
    folded into the first layer (a != 1, c != 0)."""
    X, y = bundled
    rng = np.random.default_rng(7)
    splits = []
    for _ in range(4):
        tr = np.sort(rng.choice(len(y), 40, replace=False))
        splits.append((tr, np.setdiff1d(np.arange(len(y)), tr)))
    configs = [TrainConfig(seed=k, iterations=80, schedule=SCHEDULES[k % 5], log_every=20)
               for k in range(4)]
    weights, val, scale_rows = fold_weights(X, y, configs, splits)
    assert B.BatchData.build(X, y, weights, val, scale_rows).fold
    _, curves, weights = compare(X, y, configs, splits)
    assert curves <= TOL and weights <= TOL


def test_networks_trained_in_chunks_equal_one_batch(bundled):
    X, y = bundled
    configs = [TrainConfig(seed=k, iterations=40, log_every=10) for k in range(5)]
    seen = []
    out, curves, weights = compare(X, y, configs, folds_for(X, y, 5), max_batch=2,
                                   progress=seen.append)
    assert curves <= TOL and weights <= TOL
    assert len(out) == 5 and out.stopped == ["completed"] * 5
    assert all(p.networks == 5 and p.train_loss.shape == (5,) for p in seen)
    fractions = [p.done / p.total for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_wide_networks_go_in_parts_by_default(bundled, monkeypatch):
    """Each (networks, units, rows) buffer stays within PART_BYTES: 3 networks of 400 units
    on 683 rows (2.2 MB each) train one at a time, and equal each alone."""
    X, y = bundled
    builds = []
    real_build = B.BatchData.build
    monkeypatch.setattr(B.BatchData, "build", lambda *a, **kw: builds.append(1) or real_build(*a, **kw))
    configs = [TrainConfig(hidden=(400,), seed=k, iterations=5, log_every=1) for k in range(3)]
    _, curves, weights = compare(X, y, configs, folds_for(X, y, 3))
    assert curves <= TOL and weights <= TOL and len(builds) == 3


def test_networks_trained_in_threads_equal_one_batch(bundled):
    X, y = bundled
    configs = [TrainConfig(seed=k, iterations=40, log_every=10, patience=2 * (k % 2)) for k in range(5)]
    seen = []
    out, curves, weights = compare(X, y, configs, folds_for(X, y, 5), threads=2, progress=seen.append)
    assert curves <= TOL and weights <= TOL and len(out) == 5
    fractions = [p.done / p.total for p in seen]
    assert fractions == sorted(fractions) and all(p.networks == 5 for p in seen)
    for k in range(5):                        # every loss-curve entry was reported, in order
        reported = [(p.iteration, p.train_loss[k]) for p in seen if not np.isnan(p.train_loss[k])]
        assert reported == [(c[0], c[1]) for c in out.results[k].loss_curve]


def test_an_error_in_one_thread_stops_the_others_and_is_raised(bundled):
    X, y = bundled
    splits = folds_for(X, y, 4)
    configs = [TrainConfig(optimizer="gd", lr=1e100 if k == 3 else 0.5, iterations=10**5, seed=k)
               for k in range(4)]
    weights, _, scale_rows = E.cv_weights(X, y, splits, configs[0])
    # the other part stops at once (else this test would run 10**5 updates of two networks)
    reports = []
    with pytest.raises(TrainingDiverged, match="Training diverged at iteration 2:"):
        B.train_many(X, y, configs, weights, scale_rows=scale_rows, threads=2, progress=reports.append)
    assert reports and all(p.done < p.total for p in reports)  # the healthy part never finished
    ev = threading.Event()
    ev.set()
    out = B.train_many(X, y, configs[:3], weights[:3], scale_rows=scale_rows[:3], threads=3, cancel=ev)
    assert out.stopped == ["cancelled"] * 3


def test_predictions_are_those_of_the_network_alone(bundled):
    X, y = bundled
    splits = folds_for(X, y, 2)
    cfg = TrainConfig(iterations=50)
    weights, _, scale_rows = E.cv_weights(X, y, splits, cfg)
    out = B.train_many(X, y, cfg, weights, scale_rows=scale_rows)
    for k, (tr, te) in enumerate(splits):
        scaler, ref = alone(X, y, tr, cfg)
        p = ref.model.predict_proba(scaler.transform(X[te]))
        assert np.abs(out.predict_proba(X[te], k)[0] - p).max() <= TOL
    assert out.predict_proba(X[:3]).shape == (2, 3)


# ----------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize("hidden", [(15,), (6, 4)])
def test_central_difference_gradient_of_the_batched_pass(bundled, hidden, activation):
    X, y = bundled
    rng = np.random.default_rng(3)
    K = 3
    weights = np.zeros((K, len(y)))
    for k in range(K):                        # different rows, so different scalers (a fold)
        weights[k, rng.choice(len(y), 80 + 40 * k, replace=False)] = rng.integers(1, 4, 80 + 40 * k)
    d = B.BatchData.build(X, y, weights)
    assert d.fold
    sizes = (9, *hidden, 1)
    theta = np.stack([MLP(9, hidden, INITS[k], k).theta for k in range(K)])
    theta += rng.normal(0, 0.1, theta.shape)  # biases away from 0
    l2 = np.array([0.0, 0.003, 0.1])
    loss, grad = B.loss_and_grad(d, sizes, theta, l2, activation)
    eps = 1e-6
    num = np.empty_like(grad)
    for p in range(theta.shape[1]):
        tp, tm = theta.copy(), theta.copy()
        tp[:, p] += eps
        tm[:, p] -= eps
        num[:, p] = (B.loss_and_grad(d, sizes, tp, l2, activation)[0]
                     - B.loss_and_grad(d, sizes, tm, l2, activation)[0]) / (2 * eps)
    rel = np.abs(num - grad).max() / np.abs(grad).max()
    assert rel < 1e-6, rel
    # and the loss and gradient of MLP.loss_and_grads on each network's own scaled rows
    for k in range(K):
        rows = weights[k] > 0
        sc = Scaler.fit(X[rows])
        net = MLP(9, hidden, "he", 0, activation)
        np.copyto(net.theta, theta[k])
        ref_loss, ref_grads = net.loss_and_grads(sc.transform(X[rows]), y[rows],
                                                 sample_weight=weights[k, rows], l2=l2[k])
        flat = np.concatenate([np.column_stack([W, b]).ravel()
                               for W, b in zip(ref_grads[0::2], ref_grads[1::2])])
        assert abs(ref_loss - loss[k]) <= 1e-12
        assert np.abs(flat - grad[k]).max() <= 1e-12


# ----------------------------------------------------------------------------- per network
def test_divergence_is_per_network(bundled):
    X, y = bundled
    splits = folds_for(X, y, 3)
    configs = [TrainConfig(optimizer="gd", lr=0.5, iterations=30, seed=0),
               TrainConfig(optimizer="gd", lr=1e100, iterations=30, seed=1),
               TrainConfig(optimizer="gd", lr=0.5, iterations=30, seed=2)]
    weights, _, scale_rows = E.cv_weights(X, y, splits, configs[0])
    with pytest.raises(TrainingDiverged) as alone_exc:
        alone(X, y, splits[1][0], configs[1])
    with pytest.raises(TrainingDiverged) as batch_exc:
        B.train_many(X, y, configs, weights, scale_rows=scale_rows)
    assert str(batch_exc.value) == str(alone_exc.value)
    out = B.train_many(X, y, configs, weights, scale_rows=scale_rows, on_diverged="stop")
    assert out.stopped == ["completed", "diverged", "completed"]
    assert str(out.errors[1]) == str(alone_exc.value) and out.results[1] is None
    for k in (0, 2):
        ref = alone(X, y, splits[k][0], configs[k])[1]
        assert np.abs(out.results[k].model.theta - ref.model.theta).max() <= TOL


def test_cancel_per_network_and_for_all(bundled):
    X, y = bundled
    splits = folds_for(X, y, 3)
    cfg = TrainConfig(iterations=60, log_every=10)
    weights, _, scale_rows = E.cv_weights(X, y, splits, cfg)
    events = [threading.Event() for _ in range(3)]

    def progress(p):
        if p.iteration == 20:
            events[1].set()
    out = B.train_many(X, y, cfg, weights, scale_rows=scale_rows, progress=progress, cancel=events)
    assert out.stopped == ["completed", "cancelled", "completed"]
    ev = threading.Event()

    def stop_at_20(p):
        if p.iteration == 20:
            ev.set()
    ref = alone(X, y, splits[1][0], cfg, progress=stop_at_20, cancel=ev)[1]
    got = out.results[1]
    assert (got.stopped, got.iterations_run) == (ref.stopped, ref.iterations_run) == ("cancelled", 20)
    assert curve_diff(got.loss_curve, ref.loss_curve) <= TOL
    assert np.abs(got.model.theta - ref.model.theta).max() <= TOL
    every = threading.Event()
    every.set()
    out = B.train_many(X, y, cfg, weights, scale_rows=scale_rows, cancel=every)
    assert out.stopped == ["cancelled"] * 3 and all(r.iterations_run == 0 for r in out.results)


def test_progress_reports_every_curve_entry_and_fractions_up_to_the_whole(bundled):
    X, y = bundled
    splits = folds_for(X, y, 4)
    configs = [TrainConfig(iterations=40, log_every=10, lr=0.05, seed=s, patience=2 * (s % 2))
               for s in range(4)]
    weights, val, scale_rows = fold_weights(X, y, configs, splits)
    seen = []
    out = B.train_many(X, y, configs, weights, val_weights=val, scale_rows=scale_rows,
                       progress=seen.append, report_every=3)
    fractions = [p.done / p.total for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {0, 3, 6, 9} <= {p.iteration for p in seen}
    for k in range(4):                        # every loss-curve entry was reported, in order
        reported = [(p.iteration, p.train_loss[k]) for p in seen if not np.isnan(p.train_loss[k])]
        assert reported == [(c[0], c[1]) for c in out.results[k].loss_curve]


def test_bad_arguments_are_refused(bundled):
    X, y = bundled
    w = np.ones(len(y))
    with pytest.raises(UserError, match="Early stopping"):
        B.train_many(X, y, TrainConfig(patience=3), w)
    with pytest.raises(ValueError, match="share hidden sizes"):
        B.train_many(X, y, [TrainConfig(), TrainConfig(hidden=(4,))], np.stack([w, w]))
    with pytest.raises(ValueError, match="all 0"):
        B.train_many(X, y, TrainConfig(), np.zeros(len(y)))
    with pytest.raises(ValueError, match="report_every"):
        B.train_many(X, y, TrainConfig(), w, report_every=0)
    with pytest.raises(ValueError, match="threads"):
        B.train_many(X, y, TrainConfig(), w, threads=0)


# ----------------------------------------------------------------------------- cross-validation
@pytest.mark.parametrize("patience, grouped", [(0, True), (3, True), (0, False)])
def test_cross_validation_equals_the_per_fold_loop(bundled, patience, grouped):
    """Ungrouped folds split copies of a vector between training and test: each
    network's merged targets and weights are its own."""
    X, y = bundled
    cfg = TrainConfig(hidden=(8,), lr=0.01, iterations=60, log_every=20, seed=2, patience=patience)
    kw = dict(folds=3, repeats=2, seed=4, grouped=grouped)
    a = E.cross_validate_with(E.network_fit_predict(cfg), X, y, settings=cfg.to_dict(), **kw)
    b = E.cross_validate(X, y, cfg, **kw)
    for name in E.CV_METRICS:
        assert np.abs(a.per_fold[name] - b.per_fold[name]).max() <= TOL, name
    assert np.abs(a.oof_all - b.oof_all).max() <= TOL
    assert np.array_equal(b.oof_probs, b.oof_all[0])
    assert a.to_dict().keys() == b.to_dict().keys() and a.settings == b.settings
    assert b.oof_all.shape == (2, len(y)) and np.isfinite(b.oof_all).all()


def test_cross_validation_cancelled_during_training(bundled):
    X, y = bundled
    ev = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        ev.set()
    with pytest.raises(Cancelled):
        E.cross_validate(X, y, TrainConfig(iterations=200), folds=3, repeats=1, progress=progress,
                         cancel=ev)
    assert [p.done for p in seen] == [1]
