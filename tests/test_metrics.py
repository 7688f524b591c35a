"""Metrics: Wilson intervals, rates at a threshold, sweeps, ROC/AUC, Brier, calibration."""

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from bcdesktop import metrics
from bcdesktop.errors import UserError


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int8)
    # informative but overlapping scores, with ties (rounded to 2 decimals)
    p = np.clip(np.round(rng.beta(2, 5, n) * (1 - y) + rng.beta(5, 2, n) * y, 2), 0, 1)
    return y, p


# ---------------------------------------------------------------- Wilson
@pytest.mark.parametrize("k, n, low, high", [
    # reference values from inverting the score test numerically (R: prop.test(k, n, correct = FALSE))
    (81, 263, 0.2553, 0.3662),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (1, 2, 0.0945, 0.9055),
    (95, 100, 0.8882, 0.9785),
])
def test_wilson_matches_published_values(k, n, low, high):
    lo, hi = metrics.wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_is_symmetric_and_contains_the_estimate():
    for n in (1, 7, 50, 683):
        for k in range(0, n + 1, max(1, n // 7)):
            lo, hi = metrics.wilson_interval(k, n)
            lo2, hi2 = metrics.wilson_interval(n - k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0
            assert lo == pytest.approx(1 - hi2, abs=1e-12)
            assert hi == pytest.approx(1 - lo2, abs=1e-12)


def test_wilson_empty_and_invalid():
    lo, hi = metrics.wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError):
        metrics.wilson_interval(5, 4)


# ---------------------------------------------------------------- metrics_at
def test_metrics_at_agrees_with_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score

    y, p = _data()
    for t in (0.2, 0.5, 0.73):
        m = metrics.metrics_at(y, p, t)
        called = (p >= t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, called, labels=[0, 1]).ravel()
        assert (m.tp, m.fp, m.tn, m.fn) == (tp, fp, tn, fn)
        assert m.accuracy.value == pytest.approx(accuracy_score(y, called))
        assert m.sensitivity.value == pytest.approx(recall_score(y, called))
        assert m.specificity.value == pytest.approx(recall_score(y, called, pos_label=0))
        assert m.ppv.value == pytest.approx(precision_score(y, called))
        assert m.npv.value == pytest.approx(precision_score(y, called, pos_label=0))
        assert (m.sensitivity.k, m.sensitivity.n) == (tp, tp + fn)
        assert (m.npv.k, m.npv.n) == (tn, tn + fn)
        assert m.sensitivity.low <= m.sensitivity.value <= m.sensitivity.high


def test_threshold_is_inclusive():
    m = metrics.metrics_at([1, 0], [0.5, 0.49], 0.5)
    assert (m.tp, m.fp, m.tn, m.fn) == (1, 0, 1, 0)


def test_metrics_from_counts_is_metrics_at_of_the_same_counts():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    m = metrics.metrics_at(y, p, 0.4)
    c = m.confusion
    # numpy integers (as a chunked count gives them) come back as plain ints
    again = metrics.metrics_from_counts(*np.array([c.tp, c.fp, c.tn, c.fn]), threshold=0.4)
    assert again == m
    assert all(type(getattr(again, k)) is int for k in ("tp", "fp", "tn", "fn"))
    assert again.accuracy.k == c.tp + c.tn and again.accuracy.n == 200


def test_undefined_rates_are_explained_and_json_safe():
    m = metrics.metrics_at([0, 0, 0], [0.1, 0.2, 0.3], 0.5)   # no malignant case, no malignant call
    assert math.isnan(m.sensitivity.value) and not m.sensitivity.defined
    assert "no malignant cases" in m.sensitivity.note
    assert "called malignant" in m.ppv.note
    assert m.specificity.value == 1.0 and m.specificity.note is None
    d = m.to_dict()
    text = json.dumps(d, allow_nan=False)      # would raise on NaN
    assert json.loads(text)["sensitivity"] is None
    assert d["sensitivity_ci"] == [None, None]
    assert set(d["notes"]) == {"sensitivity", "ppv"}
    assert d["n"] == 3 and d["accuracy"] == 1.0
    assert "n/a" in str(m.sensitivity) and "n/a" in repr(m)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        metrics.metrics_at([0, 1], [0.5], 0.5)
    with pytest.raises(ValueError):
        metrics.metrics_at([0, 2], [0.5, 0.5], 0.5)
    with pytest.raises(ValueError):
        metrics.metrics_at([0, 1], [0.5, np.nan], 0.5)
    with pytest.raises(ValueError):
        metrics.metrics_at([0, 1], [0.5, 1.5], 0.5)


# ---------------------------------------------------------------- sweep
def test_sweep_matches_metrics_at_at_every_threshold():
    y, p = _data()
    thresholds = np.concatenate([np.linspace(0, 1, 101), np.unique(p)])  # include exact ties
    s = metrics.sweep(y, p, thresholds)
    assert len(s) == thresholds.size
    for i, t in enumerate(thresholds):
        m = metrics.metrics_at(y, p, t)
        assert (s.tp[i], s.fp[i], s.tn[i], s.fn[i]) == (m.tp, m.fp, m.tn, m.fn)
        for name in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
            expected = getattr(m, name).value
            got = getattr(s, name)[i]
            assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)
    assert np.all(np.diff(s.sensitivity[np.argsort(thresholds)]) <= 0)


def test_sweep_is_fast_enough_for_a_slider():
    y, p = _data(600)
    t = np.linspace(0, 1, 201)
    metrics.sweep(y, p, t)
    started = time.perf_counter()
    for _ in range(20):
        metrics.sweep(y, p, t)
        metrics.metrics_at(y, p, 0.37)
    per_call = (time.perf_counter() - started) / 20
    assert per_call < 0.01, f"{per_call * 1e3:.2f} ms per sweep + metrics_at"


# ---------------------------------------------------------------- threshold for a sensitivity
@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.975, 0.99, 1.0])
def test_threshold_for_sensitivity_is_the_highest_that_reaches_the_target(target):
    y, p = _data()
    t = metrics.threshold_for_sensitivity(y, p, target)
    assert metrics.metrics_at(y, p, t).sensitivity.value >= target
    # the next representable threshold above misses the target: t is the highest
    assert metrics.metrics_at(y, p, np.nextafter(t, 2.0)).sensitivity.value < target
    # and no threshold with the target reached has better specificity
    s = metrics.sweep(y, p, np.unique(p))
    ok = s.sensitivity >= target
    assert metrics.metrics_at(y, p, t).specificity.value == pytest.approx(s.specificity[ok].max())


def test_threshold_for_sensitivity_edge_cases():
    assert metrics.threshold_for_sensitivity([1, 1, 0], [0.2, 0.9, 0.5], 1.0) == 0.2
    assert metrics.threshold_for_sensitivity([1, 1, 0], [0.2, 0.9, 0.5], 0.5) == 0.9
    with pytest.raises(UserError, match="no malignant cases"):
        metrics.threshold_for_sensitivity([0, 0], [0.2, 0.3], 0.9)
    for bad in (0.0, 1.01, -1):
        with pytest.raises(ValueError):
            metrics.threshold_for_sensitivity([1, 0], [0.2, 0.3], bad)


# ---------------------------------------------------------------- ROC, Brier, calibration
def test_roc_auc_and_brier_agree_with_direct_computation():
    y, p = _data()
    roc = metrics.roc_curve_auc(y, p)
    # AUC as the probability that a malignant case outranks a benign one (ties count 1/2)
    pos, neg = p[y == 1], p[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc.auc == pytest.approx(pairs)
    assert metrics.auc(y, p) == pytest.approx(pairs)
    assert (getattr(np, "trapezoid", None) or np.trapz)(roc.tpr, roc.fpr) == pytest.approx(roc.auc)
    assert roc.fpr[0] == 0 and roc.tpr[-1] == 1
    assert metrics.brier(y, p) == pytest.approx(np.mean((p - y) ** 2))


def test_roc_with_one_class_is_undefined_not_an_error():
    roc = metrics.roc_curve_auc([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(roc.auc) and roc.fpr.size == 0
    assert math.isnan(metrics.auc([1, 1], [0.1, 0.2]))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_bins(strategy):
    y, p = _data()
    cal = metrics.calibration(y, p, bins=5, strategy=strategy)
    assert cal.counts.sum() == y.size
    assert cal.predicted.shape == cal.observed.shape == cal.counts.shape
    # the counts belong to the bins: weighted means reproduce the overall means
    assert np.dot(cal.predicted, cal.counts) / y.size == pytest.approx(p.mean())
    assert np.dot(cal.observed, cal.counts) / y.size == pytest.approx(y.mean())
    assert np.all(np.diff(cal.predicted) > 0)


def test_roc_curve_matches_scikit_learn_without_importing_it():
    from sklearn.metrics import roc_auc_score, roc_curve

    y, p = _data()
    p = np.round(p, 2)  # ties
    roc = metrics.roc_curve_auc(y, p)
    assert roc.auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert roc.thresholds.size == np.unique(p).size + 1 and roc.thresholds[0] == np.inf
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr)
    np.testing.assert_allclose(roc.tpr, tpr)
    code = ("import sys; import numpy as np; from bcdesktop import metrics; "
            "r = metrics.roc_curve_auc(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.5])); "
            "assert r.auc == 0.75, r; assert 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("levels", [0, 2, 5, 100])   # 0: continuous, else that many distinct values
def test_auc_and_brier_match_scikit_learn_over_random_cases_with_ties(levels):
    from sklearn.metrics import brier_score_loss, roc_auc_score

    rng = np.random.default_rng(levels)
    for _ in range(200):
        n = int(rng.integers(2, 300))
        y = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(int)
        y[:2] = [0, 1]                                     # both classes
        p = rng.random(n) if levels == 0 else rng.integers(0, levels + 1, n) / levels
        if rng.random() < 0.3:                             # tied across the classes, in blocks
            p = np.sort(p)
        assert metrics.auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-15)
    assert metrics.auc([0, 1], [0.5, 0.5]) == 0.5 and metrics.auc([0, 1], [0.9, 0.1]) == 0.0


def test_cross_validation_figures_need_no_scikit_learn():
    # the grouped 10x5 CV (what bcdesktop evaluate runs by default) computes its folds,
    # AUC and Brier with NumPy: the command spares the 2-3.5 s import
    code = ("import sys; import numpy as np; from bcdesktop import data, evaluation; "
            "from bcdesktop.training import TrainConfig; ds = data.load_bundled(); "
            "cv = evaluation.cross_validate(ds.X, ds.y, TrainConfig(iterations=5), folds=3, repeats=1); "
            "assert np.isfinite(cv.per_fold['roc_auc']).all() and np.isfinite(cv.per_fold['brier']).all(); "
            "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_threshold_for_the_lower_bound_of_sensitivity():
    rng = np.random.default_rng(5)
    y = np.array([1] * 200 + [0] * 300)
    p = np.where(y == 1, rng.uniform(0.3, 1.0, y.size), rng.uniform(0.0, 0.6, y.size))
    t, k = metrics.threshold_for_sensitivity_bound(y, p, 0.9)
    m = metrics.metrics_at(y, p, t)
    assert m.sensitivity.low >= 0.9 and m.tp == k
    # the highest such threshold: one malignant case fewer and the bound falls below
    assert metrics.wilson_interval(k - 1, 200)[0] < 0.9
    # asking for the bound is stricter than asking for the point estimate
    assert t <= metrics.threshold_for_sensitivity(y, p, 0.9)


def test_the_lower_bound_cannot_be_shown_with_too_few_malignant_cases():
    # 48 of 48 found is "100%", but its lower 95% bound is 92.6%: 99% cannot be shown
    y = np.array([1] * 48 + [0] * 89)
    p = np.where(y == 1, 0.9, 0.1)
    assert metrics.threshold_for_sensitivity_bound(y, p, 0.99) == (None, 48)
    assert metrics.wilson_interval(48, 48)[0] == pytest.approx(0.9259, abs=1e-4)
    assert metrics.threshold_for_sensitivity_bound(y, p, 0.92) == (0.9, 48)
    needed = metrics.malignant_cases_needed(0.99)
    assert metrics.wilson_interval(needed, needed)[0] >= 0.99 > metrics.wilson_interval(needed - 1, needed - 1)[0]
    with pytest.raises(ValueError):
        metrics.threshold_for_sensitivity_bound(y, p, 1.0)


# ---------------------------------------------------------------- for JSON and for people
@pytest.mark.parametrize("x, expected", [
    (None, None), (math.nan, None), (math.inf, None), (-math.inf, None), (np.float64("nan"), None),
    (0, 0.0), (1, 1.0), (0.25, 0.25), (np.float32(0.5), 0.5), (np.int64(3), 3.0),
])
def test_finite_or_none(x, expected):
    out = metrics.finite_or_none(x)
    assert out == expected and (out is None or type(out) is float)


def test_format_percent():
    assert metrics.format_percent(0.9525) == "95.2%"
    assert metrics.format_percent(0.9525, 2) == "95.25%"
    assert metrics.format_percent(1.0) == "100.0%"
    assert metrics.format_percent(0.5, 0) == "50%"
    assert metrics.format_percent(None) == "n/a" and metrics.format_percent(math.nan) == "n/a"


def test_format_rate():
    assert metrics.format_rate(metrics.Rate.of(20, 21, "x")) == "95.2% (77.3-99.2%)"
    assert metrics.format_rate(metrics.Rate.of(0, 0, "no malignant cases")) == "n/a"
    assert metrics.format_rate(0.5) == "50.0%"  # a bare proportion: the value alone
    assert metrics.format_rate(metrics.Rate(0.5, None, None, 1, 2)) == "50.0%"
    assert metrics.format_rate(None) == "n/a" and metrics.format_rate(math.nan) == "n/a"


# ---------------------------------------------------------------- F1, MCC, kappa, log loss
def test_f1_mcc_kappa_by_hand():
    # tp=40, fp=10, tn=45, fn=5, n=100
    # F1 = 2*40 / (80 + 10 + 5) = 80/95
    assert metrics.f1_from_counts(40, 10, 45, 5) == pytest.approx(80 / 95, abs=1e-12)
    # MCC = (40*45 - 10*5) / sqrt(50*45*55*50) = 1750 / sqrt(6187500)
    assert metrics.mcc_from_counts(40, 10, 45, 5) == pytest.approx(1750 / math.sqrt(6_187_500), abs=1e-12)
    # po = 85/100; pe = (50*45 + 50*55) / 100**2 = 0.5; kappa = (0.85 - 0.5) / 0.5 = 0.7
    assert metrics.kappa_from_counts(40, 10, 45, 5) == pytest.approx(0.7, abs=1e-12)
    m = metrics.metrics_from_counts(40, 10, 45, 5, 0.5)
    extra = m.extra()
    assert set(extra) == {"f1", "mcc", "kappa"}
    assert extra["kappa"] == pytest.approx(0.7, abs=1e-12)
    assert set(m.to_dict()) >= {"accuracy", "ppv", "npv"} and "f1" not in m.to_dict()  # unchanged


def test_f1_mcc_kappa_undefined_are_nan():
    # no malignant case and none called malignant: F1 0/0, MCC margins 0, kappa pe = 1
    assert math.isnan(metrics.f1_from_counts(0, 0, 10, 0))
    assert math.isnan(metrics.mcc_from_counts(0, 0, 10, 0))
    assert math.isnan(metrics.kappa_from_counts(0, 0, 10, 0))
    # every case called malignant: MCC undefined; kappa = 0 (po = pe = 0.4)
    assert math.isnan(metrics.mcc_from_counts(4, 6, 0, 0))
    assert metrics.kappa_from_counts(4, 6, 0, 0) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(metrics.kappa_from_counts(0, 0, 0, 0))
    assert metrics.finite_or_none(metrics.mcc_from_counts(4, 6, 0, 0)) is None
    with pytest.raises(ValueError):
        metrics.f1_from_counts(-1, 0, 0, 0)


def test_f1_mcc_kappa_agree_with_sklearn():
    from sklearn.metrics import cohen_kappa_score, f1_score, matthews_corrcoef

    y, p = _data()
    for t in (0.2, 0.35, 0.5, 0.8):
        called = (p >= t).astype(np.int8)
        c = metrics.confusion(y, p, t)
        assert metrics.f1_from_counts(c.tp, c.fp, c.tn, c.fn) == pytest.approx(f1_score(y, called), abs=1e-12)
        assert metrics.mcc_from_counts(c.tp, c.fp, c.tn, c.fn) == pytest.approx(
            matthews_corrcoef(y, called), abs=1e-12)
        assert metrics.kappa_from_counts(c.tp, c.fp, c.tn, c.fn) == pytest.approx(
            cohen_kappa_score(y, called), abs=1e-12)


def test_mcc_exact_for_large_counts():
    # margins overflow int64 (4e9 ** 4 ~ 2.6e38): Python ints keep them exact
    big = 4_000_000_000
    assert metrics.mcc_from_counts(big, 0, big, 0) == pytest.approx(1.0, abs=1e-12)


def test_log_loss_by_hand_and_against_sklearn():
    from sklearn.metrics import log_loss as sk_log_loss

    # -(log 0.8 + log(1 - 0.4) + log 0.5) / 3
    y, p = [1, 0, 1], [0.8, 0.4, 0.5]
    expected = -(math.log(0.8) + math.log(0.6) + math.log(0.5)) / 3
    assert metrics.log_loss(y, p) == pytest.approx(expected, abs=1e-12)
    y, p = _data()
    p = np.clip(p, 0.01, 0.99)
    assert metrics.log_loss(y, p) == pytest.approx(sk_log_loss(y, p, labels=[0, 1]), abs=1e-12)


def test_log_loss_clips_and_empty():
    # y=1 with p=0 costs -log(1e-15); y=0 with p=0 costs -log(1 - 1e-15) ~ 1e-15
    assert metrics.log_loss([1, 0], [0.0, 0.0]) == pytest.approx(-math.log(1e-15) / 2, rel=1e-9)
    assert math.isnan(metrics.log_loss([], []))
    with pytest.raises(ValueError):
        metrics.log_loss([1], [1.5])
