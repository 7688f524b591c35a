"""calibrate: reliability bins, calibration intercept and slope, ECE, Brier, recalibration."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from bcdesktop import calibrate, metrics
from bcdesktop.errors import UserError


def _data(n=683, repeats=5, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int8)
    p = np.clip(rng.beta(2, 5, (repeats, n)) * (1 - y) + rng.beta(5, 2, (repeats, n)) * y, 0.001, 0.999)
    return p, y


def _sk_logistic(x, y):
    """Unpenalised scikit-learn logistic regression of y on one feature: (coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


# ---------------------------------------------------------------- bins, ECE, Brier
def test_bins_ece_brier_by_hand():
    # uniform 10 bins, (low, high] with the first [0, 0.1]:
    #   bin 0.1-0.2: p 0.15, 0.15 (y 0, 1) -> predicted 0.15, observed 0.5
    #   bin 0.7-0.8: p 0.75, 0.75, 0.75, 0.75 (y 1, 1, 1, 0) -> predicted 0.75, observed 0.75
    #   bin 0.9-1.0: p 0.95, 0.95 (y 1, 1) -> predicted 0.95, observed 1
    y = np.array([0, 1, 1, 1, 1, 0, 1, 1])
    p = np.array([0.15, 0.15, 0.75, 0.75, 0.75, 0.75, 0.95, 0.95])
    s = calibrate.calibration_summary(p, y)
    assert [b.n for b in s.bins] == [2, 4, 2]
    assert [b.low for b in s.bins] == pytest.approx([0.1, 0.7, 0.9])
    assert [b.high for b in s.bins] == pytest.approx([0.2, 0.8, 1.0])
    assert [b.predicted for b in s.bins] == pytest.approx([0.15, 0.75, 0.95])
    assert [b.observed for b in s.bins] == pytest.approx([0.5, 0.75, 1.0])
    # ECE = (2 * |0.5 - 0.15| + 4 * 0 + 2 * |1 - 0.95|) / 8 = (0.7 + 0.1) / 8 = 0.1
    assert s.ece == pytest.approx(0.1, abs=1e-12)
    # Brier = (0.15^2 + 0.85^2 + 3 * 0.25^2 + 0.75^2 + 2 * 0.05^2) / 8
    expect = (0.0225 + 0.7225 + 3 * 0.0625 + 0.5625 + 2 * 0.0025) / 8
    assert s.brier == pytest.approx(expect, abs=1e-12)
    # per-bin 95% Wilson interval on the bin's counts
    assert s.bins[0].observed_ci == pytest.approx(metrics.wilson_interval(1, 2))
    assert s.bins[2].observed_ci[1] == 1.0


def test_bins_agree_with_metrics_calibration_and_sklearn_brier():
    from sklearn.metrics import brier_score_loss

    probs, y = _data(repeats=1)
    p = np.round(probs[0], 2)  # ties on the bin edges
    for strategy in ("uniform", "quantile"):
        ours = calibrate.calibration_summary(p, y, strategy=strategy)
        ref = metrics.calibration(y, p, strategy=strategy)
        np.testing.assert_allclose([b.predicted for b in ours.bins], ref.predicted, atol=1e-12)
        np.testing.assert_allclose([b.observed for b in ours.bins], ref.observed, atol=1e-12)
        assert [b.n for b in ours.bins] == list(ref.counts)
    assert ours.brier == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_quantile_bins_hold_equal_counts():
    probs, y = _data(n=1000, repeats=1)
    s = calibrate.calibration_summary(probs, y, bins=4, strategy="quantile")
    assert [b.n for b in s.bins] == [250, 250, 250, 250]
    assert s.bins[0].low == pytest.approx(probs.min()) and s.bins[-1].high == pytest.approx(probs.max())


def test_repeats_pool_and_intervals_are_at_rows():
    probs, y = _data(n=200, repeats=1)
    one = calibrate.calibration_summary(probs, y)
    two = calibrate.calibration_summary(np.vstack([probs, probs]), y)
    assert [b.n for b in two.bins] == [2 * b.n for b in one.bins]
    for a, b in zip(one.bins, two.bins):
        assert b.observed == pytest.approx(a.observed) and b.observed_ci == pytest.approx(a.observed_ci, abs=1e-12)
    for name in ("intercept", "slope", "ece", "brier"):
        assert getattr(two, name) == pytest.approx(getattr(one, name), abs=1e-8)
    assert (one.n, one.repeats, two.repeats) == (200, 1, 2)
    # (n,) and (1, n) agree
    flat = calibrate.calibration_summary(probs[0], y)
    for name in ("intercept", "slope", "ece", "brier"):
        assert getattr(flat, name) == pytest.approx(getattr(one, name), abs=1e-12)
    assert [b.to_dict() for b in flat.bins] == [b.to_dict() for b in one.bins]


def test_to_dict_keys_and_json():
    probs, y = _data()
    d = calibrate.calibration_summary(probs, y).to_dict()
    assert list(d) == ["intercept", "slope", "ece", "brier", "bins"]
    assert set(d["bins"][0]) == {"low", "high", "n", "predicted", "observed", "observed_ci"}
    assert sum(b["n"] for b in d["bins"]) == probs.size
    json.dumps(d, allow_nan=False)


def test_bad_arguments():
    with pytest.raises(ValueError):
        calibrate.calibration_summary([0.5], [1], strategy="kmeans")
    with pytest.raises(ValueError):
        calibrate.calibration_summary([0.5], [1], bins=0)
    with pytest.raises(ValueError):
        calibrate.calibration_summary([1.5], [1])


# ---------------------------------------------------------------- intercept and slope
def test_intercept_by_hand():
    # every p = 0.2 and 6 of 10 malignant: a + logit(0.2) = logit(0.6), so
    # a = log(0.6/0.4) - log(0.2/0.8) = log(1.5) + log(4) = log(6)
    y = np.array([1] * 6 + [0] * 4)
    p = np.full(10, 0.2)
    assert calibrate.calibration_intercept(p, y) == pytest.approx(math.log(6), abs=1e-9)
    # perfectly calibrated in the large: observed mean 0.2 -> intercept 0
    y = np.array([1, 1] + [0] * 8)
    assert calibrate.calibration_intercept(p, y) == pytest.approx(0.0, abs=1e-9)


def test_intercept_solves_its_score_equation():
    # the fit sets sum(y - sigmoid(a + logit p)) = 0: recalibrated mean = observed mean
    probs, y = _data()
    a = calibrate.calibration_intercept(probs, y)
    pp, yy = probs.ravel(), np.tile(y, 5)
    assert np.mean(calibrate.sigmoid(a + calibrate.logit(pp))) == pytest.approx(yy.mean(), abs=1e-9)


def test_slope_agrees_with_sklearn():
    probs, y = _data()
    coef, intercept = _sk_logistic(calibrate.logit(probs.ravel()), np.tile(y, 5))
    s = calibrate.calibration_summary(probs, y)
    assert s.slope == pytest.approx(coef, abs=1e-5)
    r = calibrate.fit_recalibration("platt", probs, y)
    assert r.params == pytest.approx([coef, intercept], abs=1e-5)


def test_well_calibrated_data_give_slope_one_intercept_zero():
    # y drawn from p itself: slope ~ 1 and intercept ~ 0 within sampling error
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.98, 20_000)
    y = (rng.random(p.size) < p).astype(int)
    s = calibrate.calibration_summary(p, y)
    assert s.slope == pytest.approx(1.0, abs=0.06) and s.intercept == pytest.approx(0.0, abs=0.05)
    assert s.ece < 0.02


def test_unfittable_cases_are_nan():
    # one class only: no finite intercept or slope -> NaN -> null
    s = calibrate.calibration_summary([0.2, 0.4, 0.6], [0, 0, 0])
    assert math.isnan(s.intercept) and math.isnan(s.slope)
    assert s.to_dict()["slope"] is None
    # perfectly separated: the slope runs away -> NaN; intercept still finite
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert math.isnan(calibrate.calibration_slope(p, y))
    assert math.isfinite(calibrate.calibration_intercept(p, y))


def test_probabilities_at_0_and_1_are_clipped():
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5])
    y = np.array([0, 1, 1, 0, 1, 0])
    s = calibrate.calibration_summary(p, y)
    assert math.isfinite(s.slope) and math.isfinite(s.intercept)
    assert calibrate.logit(0.0) == pytest.approx(math.log(1e-12), rel=1e-6)


# ---------------------------------------------------------------- recalibration
def test_platt_apply_formula():
    r = calibrate.Recalibration("platt", [2.0, 0.5], 10, 10)
    # p' = sigmoid(2 * logit(0.3) + 0.5) = 1 / (1 + exp(-(2 * log(3/7) + 0.5)))
    expect = 1 / (1 + math.exp(-(2 * math.log(0.3 / 0.7) + 0.5)))
    assert float(r.apply(0.3)) == pytest.approx(expect, abs=1e-12)
    out = r.apply(np.array([[0.0, 0.3], [0.5, 1.0]]))
    assert out.shape == (2, 2) and 0 < out[0, 0] < 1e-20 and out[1, 1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        r.apply([0.2, math.nan])


def test_platt_improves_miscalibrated_predictions():
    # probabilities squeezed towards 0.5 (slope > 1 needed), outcome from the truth
    rng = np.random.default_rng(1)
    true = rng.uniform(0.01, 0.99, (3, 2000))
    y = (rng.random(2000) < true[0]).astype(int)
    squeezed = calibrate.sigmoid(0.4 * calibrate.logit(np.broadcast_to(true[0], (3, 2000))))
    r = calibrate.fit_recalibration("platt", squeezed, y)
    before, after = calibrate.before_after(squeezed, y, r)
    assert after.ece < before.ece and after.slope == pytest.approx(1.0, abs=1e-6)
    assert r.describe() == "Platt scaling fitted on 6,000 out-of-fold predictions (2,000 rows x 3 repeats)"


def test_isotonic_matches_sklearn_within_half_a_case_of_0_and_1():
    from sklearn.isotonic import IsotonicRegression

    probs, y = _data()
    r = calibrate.fit_recalibration("isotonic", probs, y)
    x, v = r.params
    assert (np.diff(x) > 0).all() and (np.diff(v) >= 0).all() and v.min() >= 0 and v.max() <= 1
    pp, yy = probs.ravel(), np.tile(y, 5)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(pp, yy)
    grid = np.linspace(0, 1, 1001)
    floor = 0.5 / y.size  # never a certain 0% or 100%: at most half a case in n rows
    np.testing.assert_allclose(r.apply(grid), np.clip(iso.predict(grid), floor, 1 - floor), atol=1e-12)
    # flat beyond the ends; the floor where every fitted pair below was benign
    assert r.apply(0.0) == v[0] and r.apply(1.0) == v[-1]
    assert iso.predict([0.0])[0] == 0.0 and v[0] == pytest.approx(floor, abs=0)
    assert "Isotonic regression" in r.describe() and "3,415 out-of-fold predictions" in r.describe()


def test_recalibration_one_repeat_equals_flat_input():
    probs, y = _data(repeats=1)
    for kind in ("platt", "isotonic"):
        a = calibrate.fit_recalibration(kind, probs, y)
        b = calibrate.fit_recalibration(kind, probs[0], y)
        np.testing.assert_allclose(a.params, b.params, atol=1e-12)


def test_fit_errors_are_plain_sentences():
    with pytest.raises(UserError, match="no malignant"):
        calibrate.fit_recalibration("platt", [0.1, 0.2], [0, 0])
    with pytest.raises(UserError, match="separate the classes"):
        calibrate.fit_recalibration("platt", [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    with pytest.raises(UserError, match="reverse the order"):
        calibrate.fit_recalibration("platt", [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [1, 1, 0, 1, 0, 0])
    with pytest.raises(UserError, match="Unknown recalibration"):
        calibrate.fit_recalibration("beta", [0.1, 0.9], [0, 1])


def test_stored_round_trip():
    probs, y = _data()
    for kind in ("platt", "isotonic"):
        r = calibrate.fit_recalibration(kind, probs, y)
        meta, arrays = r.to_stored()
        assert set(arrays) == {"recal_params"} and arrays["recal_params"].dtype == np.float64
        meta = json.loads(json.dumps(meta))
        back = calibrate.Recalibration.from_stored(meta, arrays["recal_params"])
        assert back.kind == kind and back.describe() == r.describe()
        np.testing.assert_array_equal(back.params, r.params)
        grid = np.linspace(0, 1, 101)
        np.testing.assert_array_equal(back.apply(grid), r.apply(grid))
    assert not r.params.flags.writeable


GOOD = {"kind": "isotonic", "n_pairs": 6, "rows": 3, "repeats": 2, "evidence": "out-of-fold"}
ISO = np.array([[0.1, 0.5, 0.9], [0.0, 0.4, 1.0]])


@pytest.mark.parametrize("meta, array, reason", [
    ([1, 2], ISO, "mapping"),
    ({**GOOD, "kind": "beta"}, ISO, "unknown recalibration kind"),
    ({**GOOD, "n_pairs": 5}, ISO, "rows x repeats"),
    ({**GOOD, "rows": 1.5}, ISO, "whole number"),
    ({**GOOD, "repeats": True}, ISO, "whole number"),
    ({k: v for k, v in GOOD.items() if k != "rows"}, ISO, "rows"),
    ({**GOOD, "evidence": 3}, ISO, "evidence"),
    (GOOD, None, "missing"),
    (GOOD, np.array([["a", "b"], ["c", "d"]]), "numbers"),
    (GOOD, ISO[:, :0], "shape"),
    (GOOD, ISO[0], "shape"),
    (GOOD, np.array([[0.1, 0.5, np.nan], [0.0, 0.4, 1.0]]), "finite"),
    (GOOD, np.array([[0.1, 0.5, 0.5], [0.0, 0.4, 1.0]]), "strictly increasing"),
    (GOOD, np.array([[0.1, 0.5, 1.2], [0.0, 0.4, 1.0]]), "knots must lie"),
    (GOOD, np.array([[0.1, 0.5, 0.9], [0.0, 0.6, 0.4]]), "non-decreasing"),
    (GOOD, np.array([[0.1, 0.5, 0.9], [-0.1, 0.4, 1.0]]), "values must lie"),
    ({**GOOD, "kind": "platt"}, np.array([1.0, 2.0, 3.0]), "shape"),
    ({**GOOD, "kind": "platt"}, np.array([-1.0, 0.0]), "positive"),
    ({**GOOD, "kind": "platt"}, np.array([np.inf, 0.0]), "finite"),
])
def test_from_stored_rejects_with_a_reason(meta, array, reason):
    with pytest.raises(ValueError, match=reason):
        calibrate.Recalibration.from_stored(meta, array)


def test_from_stored_accepts_good():
    r = calibrate.Recalibration.from_stored(GOOD, ISO)
    # np.interp between knots: 0.3 is halfway from 0.1 to 0.5 -> 0.2; flat outside
    assert r.apply([0.0, 0.3, 0.95]) == pytest.approx([0.0, 0.2, 1.0])
    assert "3 knots" in repr(r)


def test_apply_on_millions_is_elementwise():
    # the batch path applies it to whole chunks at once: same values as one by one
    p = np.random.default_rng(0).random(2_000_000)
    pick = np.random.default_rng(1).integers(0, p.size, 50)
    for params, kind in (([1.3, -0.2], "platt"), (ISO, "isotonic")):
        r = calibrate.Recalibration(kind, params, 6, 3, 2)
        out = r.apply(p)
        assert out.shape == p.shape
        one_by_one = np.array([r.apply(np.array([v]))[0] for v in p[pick]])
        np.testing.assert_allclose(out[pick], one_by_one, rtol=0, atol=1e-15)


def test_no_sklearn_on_import():
    code = "import bcdesktop.decision, bcdesktop.calibrate, sys; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
