"""Splits, one fitted model and cross-validation: nothing learnt from the rows reported on."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from bcdesktop import data, evaluation, metrics
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.model import Scaler
from bcdesktop.training import TrainConfig

FAST = TrainConfig(hidden=(8,), optimizer="adam", lr=0.01, iterations=150, log_every=50, seed=2)


@pytest.fixture(scope="module")
def bundled():
    return data.load_bundled()


def _dataset(X, y):
    return SimpleNamespace(X=np.asarray(X, dtype=np.float64), y=np.asarray(y, dtype=np.int8),
                           sha256="cd" * 32)


# ---------------------------------------------------------------- split_indices
def test_stratified_split_is_a_seeded_partition_keeping_the_class_ratio(bundled):
    y = bundled.y
    tr, va = evaluation.split_indices(y, "stratified", val_fraction=0.2, seed=5)
    assert np.intersect1d(tr, va).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(y.size))
    assert va.size == int(np.ceil(0.2 * y.size))
    assert abs(y[va].mean() - y.mean()) < 0.01 and abs(y[tr].mean() - y.mean()) < 0.01
    tr2, va2 = evaluation.split_indices(y, "stratified", val_fraction=0.2, seed=5)
    assert np.array_equal(va, va2)
    assert not np.array_equal(va, evaluation.split_indices(y, "stratified", seed=6)[1])


def test_first_split_is_the_articles(bundled):
    tr, va = evaluation.split_indices(bundled.y, "first", train_rows=500)
    assert np.array_equal(tr, np.arange(500)) and np.array_equal(va, np.arange(500, 683))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(method="stratified", val_fraction=0.0), "val-fraction"),
    (dict(method="stratified", val_fraction=1.0), "val-fraction"),
    (dict(method="first", train_rows=683), "train-rows"),
    (dict(method="first", train_rows=0), "train-rows"),
    (dict(method="random"), "Unknown split"),
])
def test_bad_split_settings_are_user_errors(bundled, kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        evaluation.split_indices(bundled.y, **kwargs)


def test_unlabelled_data_cannot_be_split():
    with pytest.raises(UserError, match="no class column"):
        evaluation.split_indices(None)


# ---------------------------------------------------------------- fit_model
def test_scaler_is_fitted_on_training_rows_only():
    rng = np.random.default_rng(0)
    X = rng.integers(2, 8, size=(120, 9)).astype(float)   # training rows span 2..7
    y = (X[:, 0] + rng.normal(0, 1, 120) > 5).astype(np.int8)
    X[100:, 3] = 10.0                                      # only validation rows reach 10
    X[100:, 5] = 1.0                                       # and 1
    out = evaluation.fit_model(_dataset(X, y), FAST, split="first", train_rows=100)
    assert out.bundle.scaler.data_max[3] == X[:100, 3].max() < 10
    assert out.bundle.scaler.data_min[5] == X[:100, 5].min() > 1
    # stratified: the scaler equals one fitted on exactly the training indices
    out = evaluation.fit_model(_dataset(X, y), FAST, split="stratified")
    ref = Scaler.fit(X[out.train_idx])
    assert np.array_equal(out.bundle.scaler.data_min, ref.data_min)
    assert np.array_equal(out.bundle.scaler.data_max, ref.data_max)


@pytest.mark.parametrize("patience", [0, 20])
def test_validation_rows_never_influence_the_model(bundled, patience):
    config = TrainConfig(**{**FAST.to_dict(), "hidden": (8,), "patience": patience})
    out = evaluation.fit_model(bundled, config, split="first", train_rows=500)
    X, y = bundled.X.copy(), bundled.y.copy()
    X[500:] = 11 - X[500:]          # scramble every validation row ...
    y[500:] = 1 - y[500:]           # ... and flip its label
    changed = evaluation.fit_model(_dataset(X, y), config, split="first", train_rows=500)
    # the same network (the files differ: their validation rows, metrics and data hash)
    assert changed.bundle.network_id == out.bundle.network_id
    assert changed.result.iterations_run == out.result.iterations_run
    if patience:
        assert out.curve_val_kind == "early-stopping"
        assert out.bundle.settings["n_early_stopping"] > 0
    else:
        assert out.curve_val_kind == "validation"
        # the curve's validation column is the loss on the validation rows, so it changed
        assert changed.loss_curve[-1][2] != out.loss_curve[-1][2]


def test_fit_model_outcome_is_consistent_and_reproducible(bundled):
    out = evaluation.fit_model(bundled, FAST, threshold=0.3)
    b = out.bundle
    p_val = b.predict_proba(bundled.X[out.val_idx])
    assert np.array_equal(b.eval_probs, p_val) and b.eval_kind == "validation"
    assert np.array_equal(b.eval_labels, bundled.y[out.val_idx])
    assert out.val_metrics == metrics.metrics_at(bundled.y[out.val_idx], p_val, 0.3)
    assert out.train_metrics.n == out.train_idx.size == b.settings["n_train"]
    assert b.threshold == 0.3 and b.data_sha256 == bundled.sha256 and b.seed == FAST.seed
    assert b.settings["lr"] == FAST.lr and b.settings["split"] == "stratified"
    assert b.metrics["validation"]["accuracy"] == out.val_metrics.accuracy.value
    assert 0.5 < b.metrics["validation"]["roc_auc"] <= 1.0
    assert [row[0] for row in out.loss_curve] == [0, 50, 100, 150]
    again = evaluation.fit_model(bundled, FAST, threshold=0.3)
    # the same network again (model_id, the file's hash, also holds the creation time)
    assert again.bundle.network_id == b.network_id
    other = evaluation.fit_model(bundled, TrainConfig(**{**FAST.to_dict(), "seed": 3}))
    assert other.bundle.network_id != b.network_id


def test_fit_model_cancel_keeps_a_usable_model(bundled):
    cancel = threading.Event()
    cancel.set()
    out = evaluation.fit_model(bundled, FAST, cancel=cancel)
    assert out.result.stopped == "cancelled" and out.result.iterations_run < FAST.iterations
    assert out.bundle.predict_proba(bundled.X[:3]).shape == (3,)


# ---------------------------------------------------------------- cross-validation
def test_grouped_folds_keep_identical_feature_vectors_together(bundled):
    groups = evaluation.duplicate_groups(bundled.X)
    assert groups.max() + 1 < bundled.X.shape[0]   # the data do repeat vectors
    splits = evaluation.cv_folds(bundled.X, bundled.y, folds=10, repeats=2, seed=0)
    assert len(splits) == 20
    for tr, te in splits:
        assert np.intersect1d(groups[tr], groups[te]).size == 0
    for r in range(2):   # each repeat tests every row once
        tested = np.concatenate([te for _, te in splits[r * 10:(r + 1) * 10]])
        assert np.array_equal(np.sort(tested), np.arange(bundled.y.size))
    ungrouped = evaluation.cv_folds(bundled.X, bundled.y, folds=10, repeats=1, grouped=False)
    assert any(np.intersect1d(groups[tr], groups[te]).size for tr, te in ungrouped)


def test_the_grouped_folds_are_scikit_learns(bundled):
    """cv_folds and the early-stopping split compute StratifiedGroupKFold's folds
    themselves (evaluation._group_test_folds, faster): pinned to scikit-learn's, on the
    bundled data and on random groupings, so a change in scikit-learn shows here. Before
    scikit-learn 1.8 its shuffle differed (PR #32540): the replica follows 1.8 on."""
    import warnings

    import sklearn
    from sklearn.model_selection import StratifiedGroupKFold

    if tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit()) < (1, 8):
        pytest.skip(f"scikit-learn {sklearn.__version__} shuffles its groups the pre-1.8 way")

    def sklearn_folds(y, groups, n_splits, seed):
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return [te for _, te in splitter.split(np.zeros((len(y), 1)), y, groups)]

    X, y = np.asarray(bundled.X), bundled.y.astype(np.int8)
    groups = evaluation.duplicate_groups(X)
    cases = [(y, groups, n, seed) for n, seed in ((10, 0), (10, 1_234_567), (5, 3), (3, 4), (2, 99))]
    rng = np.random.default_rng(11)
    for _ in range(12):
        n = int(rng.integers(20, 200))
        labels = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(np.int8)
        cases.append((labels, rng.integers(0, int(rng.integers(10, n)), n), int(rng.integers(2, 8)),
                      int(rng.integers(0, 2**31 - 1))))
    for labels, grouping, n_splits, seed in cases:
        if np.bincount(labels, minlength=2).min() < n_splits or len(np.unique(grouping)) < n_splits:
            continue
        ours = evaluation._group_test_folds(labels, grouping, n_splits, seed)
        theirs = sklearn_folds(labels, grouping, n_splits, seed)
        assert len(ours) == len(theirs) == n_splits
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs)), (n_splits, seed)
    for tr, te in evaluation.cv_folds(X, y, folds=10, repeats=1, seed=2):
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(y.size))
        fit_idx, stop_idx = evaluation._inner_split(X[tr], y[tr], 7)
        assert np.array_equal(stop_idx, sklearn_folds(y[tr], groups[tr], 5, 7)[0])
        assert np.array_equal(fit_idx, np.setdiff1d(np.arange(tr.size), stop_idx))


def test_cross_validation_fits_on_training_rows_only(bundled):
    seen = []

    def fit_predict(X_tr, y_tr, X_te, cancel):
        # no test vector also appears among the training rows
        assert not (X_te[:, None, :] == X_tr[None, :, :]).all(axis=2).any()
        seen.append((len(X_tr), len(X_te)))
        return np.full(len(X_te), y_tr.mean())

    cv = evaluation.cross_validate_with(fit_predict, bundled.X, bundled.y, folds=5, repeats=2)
    assert len(seen) == 10 and all(a + b == 683 for a, b in seen)
    # a constant prediction has no discrimination
    assert cv.mean("roc_auc") == pytest.approx(0.5)


def _rows_of(A) -> set:
    return {tuple(r) for r in np.asarray(A).tolist()}


@pytest.mark.parametrize("patience", [0, 10])
def test_cross_validate_never_shows_the_test_fold_to_scaler_or_network(bundled, monkeypatch, patience):
    """Spies on the real pipeline (the batched training, its scalers, the predictions):
    in every fold the scaler is fitted on exactly that fold's training rows, the network
    (and its early-stopping rows) sees only training rows, and the test rows are only
    ever predicted."""
    from bcdesktop import batched

    calls, predicted, batches = [], [], []
    real_train_many = batched.train_many

    def train_many_spy(X, y, configs, weights, *, val_weights=None, scale_rows=None, **kwargs):
        calls.append((np.array(X), np.array(weights), None if val_weights is None else np.array(val_weights),
                      np.array(scale_rows)))
        out = real_train_many(X, y, configs, weights, val_weights=val_weights, scale_rows=scale_rows, **kwargs)
        batches.append(out)
        real_predict = out.predict_proba
        out.predict_proba = lambda Xs, k=None: predicted.append((k, np.array(Xs))) or real_predict(Xs, k)
        return out

    monkeypatch.setattr(batched, "train_many", train_many_spy)
    config = TrainConfig(**{**FAST.to_dict(), "iterations": 60, "patience": patience})
    cv = evaluation.cross_validate(bundled.X, bundled.y, config, folds=4, repeats=2, seed=3)
    splits = evaluation.cv_folds(bundled.X, bundled.y, folds=4, repeats=2, seed=3)
    assert len(calls) == 1 and len(predicted) == len(splits) == 8
    X_seen, weights, val, scale_rows = calls[0]
    assert np.array_equal(X_seen, bundled.X)
    groups = evaluation.duplicate_groups(bundled.X)
    for k, ((tr, te), (k_pred, X_pred)) in enumerate(zip(splits, predicted)):
        assert np.array_equal(np.flatnonzero(scale_rows[k]), tr)       # the scaler: training rows only
        trained = np.flatnonzero(weights[k])
        stop = np.array([], dtype=int) if val is None else np.flatnonzero(val[k])
        assert set(trained) | set(stop) <= set(tr)                      # the network: training rows only
        assert not set(groups[trained]) & set(groups[te])               # grouped: no vector on both sides
        if patience:
            assert stop.size and not set(groups[trained]) & set(groups[stop])  # inner split grouped too
            assert trained.size + stop.size == tr.size
        else:
            assert val is None and trained.size == tr.size
        scaler = Scaler.fit(bundled.X[tr])
        assert np.array_equal(batches[0].scalers[k].data_min, scaler.data_min)
        assert np.array_equal(batches[0].scalers[k].data_max, scaler.data_max)
        assert k_pred == k and np.array_equal(X_pred, bundled.X[te])    # test rows: predicted, once
        p = cv.oof_all[k // 4, te]
        assert np.isfinite(p).all()
    assert np.isfinite(cv.oof_probs).all()


def test_out_of_fold_predictions_of_every_repeat(bundled):
    cv = evaluation.cross_validate(bundled.X, bundled.y, FAST, folds=3, repeats=2, seed=4)
    n = bundled.y.size
    assert cv.oof_all.shape == (2, n) and np.isfinite(cv.oof_all).all()
    assert np.array_equal(cv.oof_all[0], cv.oof_probs)
    assert not np.array_equal(cv.oof_all[0], cv.oof_all[1])   # other folds, other networks
    long = cv.oof_long()
    assert long.dtype.names == ("row", "repeat", "probability") and len(long) == 2 * n
    assert np.array_equal(long["row"][:n], np.arange(n)) and set(long["repeat"]) == {0, 1}
    assert np.array_equal(long["probability"][n:], cv.oof_all[1])
    # a result made without them (as older code made it) still answers, with the first repeat
    old = evaluation.CVResult(cv.per_fold, cv.oof_probs, cv.labels, 3, 2, 4, True, 0.5, 1, 0.0)
    assert old.oof_all.shape == (1, n) and len(old.oof_long()) == n


def test_cross_validate_results_and_reproducibility(bundled):
    reports = []
    cv = evaluation.cross_validate(bundled.X, bundled.y, FAST, folds=3, repeats=2, seed=4,
                                   progress=reports.append)
    assert [r.done for r in reports] == [1, 2, 3, 4, 5, 6] and reports[-1].total == 6
    assert all(cv.per_fold[k].shape == (6,) for k in evaluation.CV_METRICS)
    assert np.isfinite(cv.oof_probs).all() and cv.oof_probs.shape == (683,)
    # the out-of-fold probabilities give an AUC close to the folds' mean
    assert metrics.auc(bundled.y, cv.oof_probs) == pytest.approx(cv.mean("roc_auc"), abs=0.02)
    assert cv.mean("accuracy") > 0.9
    d = cv.to_dict()
    assert set(evaluation.CV_METRICS) <= set(d)
    assert d["folds"] == 3 and d["repeats"] == 2 and d["grouped"] is True
    assert d["accuracy"]["mean"] == pytest.approx(cv.per_fold["accuracy"].mean(), abs=1e-6)
    assert d["accuracy"]["sd"] == pytest.approx(cv.per_fold["accuracy"].std(ddof=1), abs=1e-6)
    again = evaluation.cross_validate(bundled.X, bundled.y, FAST, folds=3, repeats=2, seed=4)
    for k in evaluation.CV_METRICS:
        assert np.array_equal(again.per_fold[k], cv.per_fold[k])
    other = evaluation.cross_validate(bundled.X, bundled.y, FAST, folds=3, repeats=2, seed=5)
    assert not np.array_equal(other.per_fold["brier"], cv.per_fold["brier"])


def test_cross_validate_with_early_stopping_runs_inside_each_fold(bundled):
    config = TrainConfig(**{**FAST.to_dict(), "patience": 10, "iterations": 400})
    cv = evaluation.cross_validate(bundled.X, bundled.y, config, folds=3, repeats=1)
    assert np.isfinite(cv.per_fold["brier"]).all()


def test_cross_validate_cancel(bundled):
    cancel = threading.Event()
    reports = []

    def progress(p):
        reports.append(p)
        cancel.set()          # the user presses Cancel during the first fold's report

    with pytest.raises(Cancelled):
        evaluation.cross_validate(bundled.X, bundled.y, FAST, folds=3, repeats=2,
                                  progress=progress, cancel=cancel)
    assert len(reports) == 1


def test_cross_validate_cancel_mid_training(bundled):
    cancel = threading.Event()
    config = TrainConfig(**{**FAST.to_dict(), "iterations": 10**6})
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    with pytest.raises(Cancelled):
        evaluation.cross_validate(bundled.X, bundled.y, config, folds=3, repeats=1,
                                  cancel=cancel)
    timer.cancel()


def test_too_many_folds_is_a_user_error():
    X = np.arange(18, dtype=float).reshape(-1, 9).repeat(4, axis=0)
    with pytest.raises(UserError, match="fewer folds"):
        evaluation.cv_folds(X, [0, 1] * 4, folds=5)


def test_too_few_distinct_rows_for_grouped_folds_is_a_user_error():
    # found by hand: scikit-learn's ValueError ("number of splits ... greater than the
    # number of groups") reached the user when the data repeat a few score vectors
    X = np.repeat(np.arange(1, 5)[:, None] * np.ones((1, 9)), 10, axis=0)   # 4 distinct rows
    y = np.tile([0, 1], 20)
    with pytest.raises(UserError, match="at least 5 different rows of scores; the data have 4"):
        evaluation.cross_validate(X, y, FAST, folds=5, repeats=1)
    assert len(evaluation.cv_folds(X, y, folds=4, repeats=1)) == 4
    assert len(evaluation.cv_folds(X, y, folds=5, repeats=1, grouped=False)) == 5
    early = TrainConfig(**{**FAST.to_dict(), "patience": 5})
    with pytest.raises(UserError, match="Early stopping .* the data have 3"):
        evaluation.fit_model(_dataset(X, y), early, split="first", train_rows=30)  # rows 1-3 only


def test_early_stopping_on_a_handful_of_training_rows_is_a_user_error():
    # found by a randomised probe: StratifiedGroupKFold's "n_splits=5 cannot be greater
    # than the number of members in each class" reached the user
    rng = np.random.default_rng(4)
    X = rng.integers(1, 11, size=(40, 9)).astype(float)
    y = np.tile([0, 1], 20)
    early = TrainConfig(**{**FAST.to_dict(), "patience": 5})
    with pytest.raises(UserError, match="3 benign and 3 malignant"):
        evaluation.fit_model(_dataset(X, y), early, split="first", train_rows=6)
    assert evaluation.fit_model(_dataset(X, y), early, split="first", train_rows=20).bundle


# ---------------------------------------------------------------- a run that did not learn
@pytest.mark.parametrize("settings, call", [
    ({"optimizer": "adam", "lr": 50.0}, "benign"),          # saturates: everyone benign
    ({"optimizer": "gd", "lr": 100000.0}, "malignant"),     # everyone malignant
])
def test_a_run_that_calls_everyone_one_class_has_not_learned(bundled, settings, call):
    outcome = evaluation.fit_model(bundled, TrainConfig(**settings))
    assert not outcome.learned
    assert f"training rows {call}" in outcome.failure
    assert "Lower the learning rate" in outcome.failure and "\n" not in outcome.failure


def test_a_run_whose_loss_stays_near_the_prevalence_loss_has_not_learned(bundled):
    # plain descent with a tiny rate barely moves from its (already slightly informative)
    # random start: its loss stays near that of always answering the prevalence
    outcome = evaluation.fit_model(bundled, TrainConfig(optimizer="gd", lr=1e-4, iterations=50))
    assert not outcome.learned and "not clearly below" in outcome.failure
    assert "more iterations" in outcome.failure


def test_a_working_run_has_learned(bundled):
    assert evaluation.fit_model(bundled, FAST).learned
    article = TrainConfig(optimizer="gd", lr=0.01, init="article", seed=1, iterations=1000)
    assert evaluation.fit_model(bundled, article, split="first", train_rows=500).learned


def test_learning_failure_compares_with_the_prevalence_loss():
    y = np.array([0] * 65 + [1] * 35)
    assert evaluation.learning_failure(y, np.full(100, 0.35), 0.5) is not None
    good = np.where(y == 1, 0.9, 0.1)
    assert evaluation.learning_failure(y, good, 0.5) is None
    everyone = np.where(y == 1, 0.9, 0.55)  # ranks well, but calls everyone malignant at 0.5
    assert "every one of the 100 training rows malignant" in evaluation.learning_failure(y, everyone)
    # a high threshold of the user's calling everyone benign is no failure to learn
    assert evaluation.learning_failure(y, good, 0.95) is None


def test_the_hint_follows_the_loss_curve():
    y = np.array([0] * 65 + [1] * 35)
    flat = np.full(100, 0.35)
    falling = [(0, 0.7, None), (10, 0.65, None), (20, 0.62, None), (30, 0.6, None)]
    rising = [(0, 0.6, None), (10, 0.9, None), (20, 0.8, None), (30, 1.2, None)]
    config = TrainConfig(iterations=30, lr=0.5)
    assert "more iterations (now 30)" in evaluation.learning_failure(y, flat, 0.5, config, falling)
    assert "Lower the learning rate (now 0.5)" in evaluation.learning_failure(y, flat, 0.5, config, rising)
    assert evaluation.log_loss([0, 1], [0.5, 0.5]) == pytest.approx(np.log(2), abs=1e-12)
