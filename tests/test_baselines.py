"""The baselines beside the network: same folds, same scaling, seeded, cancellable; no Tk."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from bcdesktop import baselines, evaluation
from bcdesktop.data import load_bundled
from bcdesktop.errors import Cancelled
from bcdesktop.model import Scaler
from bcdesktop.training import TrainConfig

SMALL = dict(folds=3, repeats=2, seed=5)
QUICK = TrainConfig(iterations=60, seed=5)


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


@pytest.fixture
def recorded_folds(monkeypatch):
    """Every ``evaluation.cv_folds`` call's folds, as (train, test) index lists."""
    calls = []
    real = evaluation.cv_folds

    def recording(*args, **kwargs):
        splits = real(*args, **kwargs)
        calls.append([(tr.tolist(), te.tolist()) for tr, te in splits])
        return splits

    monkeypatch.setattr(evaluation, "cv_folds", recording)
    return calls


def test_compare_runs_every_model_on_the_same_folds(bundled, recorded_folds, monkeypatch):
    seen = []  # the sizes of the rows each baseline fit was given, in order
    real = baselines.baseline_fit_predict

    def spying(name, seed=0):
        fit_predict = real(name, seed)

        def wrapped(X_tr, y_tr, X_te, cancel=None):
            seen.append((name, len(X_tr), len(X_te)))
            return fit_predict(X_tr, y_tr, X_te, cancel)
        return wrapped

    monkeypatch.setattr(baselines, "baseline_fit_predict", spying)
    comparison = baselines.compare(bundled.X, bundled.y, QUICK, **SMALL)
    assert list(comparison.results) == list(baselines.MODELS) == ["network", "logistic_regression", "random_forest"]
    # one set of folds for the three models
    assert len(recorded_folds) == 3 and recorded_folds[0] == recorded_folds[1] == recorded_folds[2]
    expected = evaluation.cv_folds(bundled.X, bundled.y, folds=3, repeats=2, seed=5)
    assert recorded_folds[0] == [(tr.tolist(), te.tolist()) for tr, te in expected]
    sizes = [(len(tr), len(te)) for tr, te in expected]
    for name in baselines.BASELINES:
        assert [(n_tr, n_te) for who, n_tr, n_te in seen if who == name] == sizes
    for cv in comparison.results.values():
        assert (cv.folds, cv.repeats, cv.seed, cv.grouped) == (3, 2, 5, True)
        assert all(np.isfinite(cv.per_fold[key]).all() and cv.per_fold[key].size == 6
                   for key in baselines.COMPARE_METRICS)
        assert np.isfinite(cv.oof_probs).all()  # the first repeat's folds cover every row once

    d = comparison.to_dict()  # the JSON's "compare"
    assert list(d) == ["network", "logistic_regression", "random_forest"]
    for name, figures in d.items():
        assert list(figures) == ["accuracy", "roc_auc", "brier", "sensitivity", "specificity"]
        for key, value in figures.items():
            assert set(value) == {"mean", "sd"}
            assert isinstance(value["mean"], float) and isinstance(value["sd"], float)
            assert 0.0 <= value["mean"] <= 1.0
            assert value == comparison.results[name].to_dict()[key]  # rounded as the network's own figures
    assert d["logistic_regression"]["accuracy"]["mean"] > 0.94 and d["random_forest"]["roc_auc"]["mean"] > 0.97
    assert "Comparison(network acc=" in repr(comparison)


def test_the_figures_are_those_of_a_scaled_model_fitted_fold_by_fold(bundled):
    """Logistic regression on the min-max scaled rows of each fold's training part, by hand."""
    from sklearn.linear_model import LogisticRegression

    from bcdesktop import metrics

    results = baselines.cross_validate_baselines(bundled.X, bundled.y, names=("logistic_regression",), **SMALL)
    cv = results["logistic_regression"]
    X, y = np.asarray(bundled.X, dtype=float), np.asarray(bundled.y)
    for k, (tr, te) in enumerate(evaluation.cv_folds(X, y, folds=3, repeats=2, seed=5)):
        scaler = Scaler.fit(X[tr])
        model = LogisticRegression(max_iter=baselines.LR_MAX_ITER).fit(scaler.transform(X[tr]), y[tr])
        p = model.predict_proba(scaler.transform(X[te]))[:, 1]
        assert cv.per_fold["brier"][k] == pytest.approx(metrics.brier(y[te], p), abs=1e-12)
        assert cv.per_fold["roc_auc"][k] == pytest.approx(metrics.auc(y[te], p), abs=1e-12)
    assert cv.settings == {"model": "LogisticRegression", "max_iter": 1000, "random_state": 5,
                           "scaling": "min-max, fitted on each fold's training rows"}
    assert cv.mean("accuracy") > 0.94 and cv.mean("roc_auc") > 0.98 and cv.mean("brier") < 0.05


def test_the_forest_is_seeded_by_the_seed(bundled):
    def forest(seed):
        small = {"folds": 2, "repeats": 1, "seed": seed}
        return baselines.cross_validate_baselines(bundled.X, bundled.y, names=("random_forest",),
                                                  **small)["random_forest"]

    first, again = forest(5), forest(5)
    for key in baselines.COMPARE_METRICS:
        np.testing.assert_array_equal(first.per_fold[key], again.per_fold[key])
    assert first.settings["random_state"] == 5 and first.settings["n_estimators"] == baselines.RF_TREES
    model = baselines.baseline_model("random_forest", 7)
    assert (model.random_state, model.n_estimators, model.n_jobs) == (7, 200, 1)
    assert first.mean("accuracy") > 0.94


def test_progress_counts_every_fit_of_every_model_in_order(bundled):
    reports = []
    baselines.compare(bundled.X, bundled.y, QUICK, folds=2, repeats=1, seed=0, progress=reports.append)
    assert all(p.total == 6 for p in reports)
    models = [p.model for p in reports]
    assert models == sorted(models, key=baselines.MODELS.index)  # network, then each baseline
    assert set(models) == set(baselines.MODELS)
    done = [p.done for p in reports]
    assert done == sorted(done) and done[-1] == 6
    assert [p.done for p in reports if p.model != "network"] == [3, 4, 5, 6]
    assert [(p.repeat, p.fold) for p in reports if p.model == "random_forest"] == [(0, 0), (0, 1)]


def test_cancel_stops_between_the_baselines_fits(bundled):
    cancel = threading.Event()
    reports = []

    def progress(p):
        reports.append(p)
        if p.model == "logistic_regression":  # stop once the first baseline has fitted one fold
            cancel.set()

    with pytest.raises(Cancelled):
        baselines.compare(bundled.X, bundled.y, QUICK, folds=3, repeats=2, seed=0, progress=progress,
                          cancel=cancel)
    assert [p.model for p in reports].count("logistic_regression") == 1
    assert "random_forest" not in [p.model for p in reports]


def test_an_unknown_baseline_is_refused_at_once():
    with pytest.raises(ValueError, match="unknown baseline 'svm'"):
        baselines.baseline_fit_predict("svm")


def test_the_module_loads_neither_tkinter_nor_scikit_learn():
    code = ("import sys, bcdesktop.baselines; "
            "print(sorted(m for m in ('tkinter', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
