"""predictor.predict_case: one case with its interval, call, explanation and matching cases."""

from pathlib import Path

import numpy as np
import pytest

from bcdesktop import calibrate, predictor
from bcdesktop.explain import shapley
from bcdesktop.persistence import load_default_model, load_model
from bcdesktop.venn_abers import VennAbers

CASES = [np.array(v, dtype=np.float64) for v in
         ([5, 1, 1, 1, 2, 1, 3, 1, 1], [2, 3, 4, 4, 2, 5, 2, 5, 1], [8, 10, 10, 8, 7, 10, 9, 7, 1],
          [1] * 9, [10] * 9)]


@pytest.fixture(scope="module")
def bundle():
    return load_default_model()


def test_the_interval_is_venn_abers_on_the_models_calibration_pairs(bundle):
    va = VennAbers.fit(*bundle.oof.pairs())
    for x in CASES:
        case = predictor.predict_case(bundle, x)
        p0, p1 = va.interval(bundle.raw_proba(x))
        assert case.interval == pytest.approx((p0[0], p1[0]), abs=1e-15)
        assert 0.0 <= case.interval[0] <= case.interval[1] <= 1.0
        assert case.probability == pytest.approx(float(bundle.predict_proba(x)[0]), abs=0)


def test_indeterminate_when_the_interval_holds_both_calls(bundle):
    x = CASES[1]
    low, high = predictor.predict_case(bundle, x).interval
    inside = (low + high) / 2
    case = predictor.predict_case(bundle, x, threshold=inside)
    assert case.indeterminate and case.call == "indeterminate at this threshold"
    assert case.prediction in ("benign", "malignant")  # the JSON's call stays the probability's
    for t in (max(0.01, low / 2), min(0.99, (1 + high) / 2)):
        if not low < t <= high:
            assert not predictor.predict_case(bundle, x, threshold=t).indeterminate
    assert predictor.straddles(0.2, 0.6, 0.6) and not predictor.straddles(0.2, 0.6, 0.2)


def test_explanation_adds_up_to_the_log_odds_with_either_background(bundle):
    for background in predictor.BACKGROUNDS:
        for x in CASES:
            case = predictor.predict_case(bundle, x, background=background)
            e = case.explanation
            p = case.probability
            assert e.base + e.contributions.sum() == pytest.approx(np.log(p / (1 - p)), abs=1e-9)
    a = predictor.predict_case(bundle, CASES[2], background="training").explanation
    b = predictor.predict_case(bundle, CASES[2], background="benign").explanation
    assert b.base < a.base  # the benign cases' average is further from malignant


@pytest.mark.parametrize("kind", calibrate.KINDS)
def test_a_recalibrated_model_is_explained_on_its_own_log_odds(bundle, kind):
    r = calibrate.fit_recalibration(kind, bundle.oof.probs, bundle.oof.labels)
    rb = bundle.with_parts(recalibration=r)
    rows, w = rb.patterns.background("training")
    for x in CASES[:3]:
        e = predictor.explain_case(rb, x)
        ref = shapley(rb.logit, x, rows, w)  # the general route, on the recalibrated log-odds
        np.testing.assert_allclose(e.contributions, ref.contributions, rtol=0, atol=1e-9)
        assert e.base == pytest.approx(ref.base, abs=1e-9)
        assert e.value == pytest.approx(float(rb.logit(x)[0]), abs=1e-9)
        case = predictor.predict_case(rb, x)
        assert case.probability == pytest.approx(float(r.apply(bundle.predict_proba(x))[0]), abs=1e-15)
        # the interval rests on the network's own scores: unchanged by a monotone Platt map
        if kind == "platt":
            assert case.interval == pytest.approx(predictor.predict_case(bundle, x).interval, abs=1e-15)


def test_an_older_model_predicts_as_before_without_interval_or_explanation():
    old = load_model(Path(__file__).parent / "data" / "model_format1.npz")
    x = CASES[0]
    case = predictor.predict_case(old, x)
    assert case.interval is None and not case.indeterminate
    assert case.explanation is None and case.evidence is None
    assert case.probability == pytest.approx(float(old.predict_proba(x)[0]), abs=0)
    assert case.probability_text().endswith("(interval not available)")
    d = case.to_json()
    assert d["interval"] is None and d["explanation"] is None and d["evidence"] is None


def test_matching_cases_never_carry_a_sample_id(bundle):
    case = predictor.predict_case(bundle, CASES[0])
    text = repr(case.evidence.to_dict()) + case.evidence.sentence()
    ids = {str(i) for i in __import__("bcdesktop.data", fromlist=["x"]).load_bundled().ids}
    assert not any(token.strip(".,:;()") in ids for token in text.split())


def test_outside_interval_says_which_side(bundle):
    for x in CASES:
        case = predictor.predict_case(bundle, x)
        low, high = case.interval
        side = case.outside_interval
        assert side == ("above" if case.probability > high else "below" if case.probability < low else None)
