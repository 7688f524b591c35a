"""decision: prevalence, costs, net benefit, threshold rules and the threshold report."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from bcdesktop import decision, metrics
from bcdesktop.errors import UserError

# Eight rows worked by hand below: three malignant, five benign.
Y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.05])


def _data(n=683, repeats=5, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int8)
    p = np.clip(rng.beta(2, 5, (repeats, n)) * (1 - y) + rng.beta(5, 2, (repeats, n)) * y, 0.001, 0.999)
    return p, y


# ---------------------------------------------------------------- evidence
def test_as_evidence_shapes_and_checks():
    p, y = decision.as_evidence(P, Y)
    assert p.shape == (1, 8) and y.dtype == bool
    with pytest.raises(ValueError):
        decision.as_evidence(P[:7], Y)
    with pytest.raises(ValueError):
        decision.as_evidence(np.empty((0, 8)), Y)
    with pytest.raises(ValueError):
        decision.as_evidence(P + 0.5, Y)
    with pytest.raises(ValueError):
        decision.as_evidence(P, Y * 2)


def test_pooled_intervals_are_at_the_number_of_rows():
    # the same split twice: counts double, but the evidence is the same 8 rows, so the
    # interval must equal one split's (Wilson(2k, 2n, z*sqrt(2)) == Wilson(k, n, z))
    one = decision.evidence_metrics(P, Y, 0.5)
    two = decision.evidence_metrics(np.stack([P, P]), Y, 0.5)
    assert (two.tp, two.fp, two.tn, two.fn) == (4, 2, 8, 2)
    for name in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
        a, b = getattr(one, name), getattr(two, name)
        assert b.value == pytest.approx(a.value, abs=1e-12)
        assert b.low == pytest.approx(a.low, abs=1e-12) and b.high == pytest.approx(a.high, abs=1e-12)
    # with one repeat it is metrics_from_counts exactly
    assert one == metrics.metrics_from_counts(2, 1, 4, 1, 0.5)


# ---------------------------------------------------------------- prevalence
def test_at_prevalence_by_hand():
    # at t = 0.5: tp=2 (0.9, 0.6), fp=1 (0.7), fn=1, tn=4 -> se = 2/3, sp = 4/5
    m = metrics.metrics_at(Y, P, 0.5)
    a = decision.at_prevalence(m, 0.1)
    # PPV = (2/3 * 0.1) / (2/3 * 0.1 + 0.2 * 0.9) = 0.0666.. / 0.24666..
    assert a.ppv.value == pytest.approx((2 / 30) / (2 / 30 + 0.18), abs=1e-12)
    # NPV = 0.8 * 0.9 / (0.72 + 1/3 * 0.1)
    assert a.npv.value == pytest.approx(0.72 / (0.72 + 1 / 30), abs=1e-12)
    # per 1,000: tp = 1000*0.1*2/3, fn = 1000*0.1/3, tn = 1000*0.9*0.8, fp = 1000*0.9*0.2
    assert (a.tp, a.fn, a.tn, a.fp) == pytest.approx((200 / 3, 100 / 3, 720, 180), abs=1e-9)
    assert a.tp + a.fp + a.tn + a.fn == pytest.approx(1000, abs=1e-9)
    # interval: PPV at the lower Wilson bounds of both rates, and at the upper
    se, sp = m.sensitivity, m.specificity
    lo = se.low * 0.1 / (se.low * 0.1 + (1 - sp.low) * 0.9)
    assert a.ppv.low == pytest.approx(lo, abs=1e-12)
    assert a.ppv.low <= a.ppv.value <= a.ppv.high
    assert a.npv.low <= a.npv.value <= a.npv.high
    d = a.to_dict()
    assert set(d) == {"prevalence", "ppv", "ppv_ci", "npv", "npv_ci", "per_1000"}
    json.dumps(d)


def test_at_prevalence_default_is_the_datas_and_matches_the_counts():
    a = decision.at_prevalence((2, 1, 4, 1))  # counts (tp, fp, tn, fn); prevalence 3/8
    assert a.prevalence == pytest.approx(3 / 8)
    assert a.ppv.value == pytest.approx(2 / 3, abs=1e-12)  # tp / (tp + fp)
    assert a.npv.value == pytest.approx(4 / 5, abs=1e-12)  # tn / (tn + fn)
    assert decision.at_prevalence(metrics.Confusion(2, 1, 4, 1)).ppv == a.ppv
    assert decision.at_prevalence({"tp": 2, "fp": 1, "tn": 4, "fn": 1}).npv == a.npv


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, math.nan, "five"])
def test_prevalence_at_or_beyond_the_bounds_is_rejected(bad):
    with pytest.raises(UserError, match="prevalence"):
        decision.at_prevalence((2, 1, 4, 1), bad)


def test_at_prevalence_without_malignant_cases():
    # no malignant case: sensitivity undefined, PPV/NPV NaN -> null in JSON
    with pytest.raises(UserError, match="own prevalence"):
        decision.at_prevalence((0, 2, 6, 0))
    a = decision.at_prevalence((0, 2, 6, 0), 0.05)
    assert math.isnan(a.ppv.value) and a.to_dict()["ppv"] is None and a.to_dict()["ppv_ci"] == [None, None]


# ---------------------------------------------------------------- costs
def test_costs_ratio_matrix_and_theoretical_threshold():
    c = decision.Costs.from_ratio(10)
    assert c.ratio == 10 and c.theoretical_threshold == pytest.approx(1 / 11)
    # Weka-style matrix: differences fn - tp = 9 - 1 = 8, fp - tn = 3 - 1 = 2 -> ratio 4, t = 2 / 10
    m = decision.as_costs({"c_tp": 1, "c_fp": 3, "c_fn": 9, "c_tn": 1})
    assert m.ratio == pytest.approx(4) and m.theoretical_threshold == pytest.approx(0.2)
    assert decision.as_costs((1, 3, 9, 1)) == m and decision.as_costs(m) is m
    # cost per 1000 at se=2/3, sp=4/5, pi=0.1, R=10: 1000 * (0.1 * 1/3 * 10 + 0.9 * 0.2 * 1) = 513.33..
    assert float(c.per_1000(2 / 3, 0.8, 0.1)) == pytest.approx(1000 * (1 / 3 + 0.18), abs=1e-9)
    # the matrix generalises: 1000 * (pi se c_tp + pi (1-se) c_fn + (1-pi) sp c_tn + (1-pi)(1-sp) c_fp)
    expect = 1000 * (0.1 * 2 / 3 * 1 + 0.1 / 3 * 9 + 0.9 * 0.8 * 1 + 0.9 * 0.2 * 3)
    assert float(m.per_1000(2 / 3, 0.8, 0.1)) == pytest.approx(expect, abs=1e-9)
    assert "10 false alarms" in c.describe() and "ratio=10" in repr(c)


@pytest.mark.parametrize("bad", [0, -1, math.inf, "x", (1, 2, 3), (0, 0, 1, 0), (1, 1, 0, 0)])
def test_bad_costs_are_rejected(bad):
    with pytest.raises(UserError):
        decision.as_costs(bad)


def test_min_cost_threshold_by_hand():
    # R = 10 at the data's prevalence 3/8, cost per 1000 = 1000 * (3/8 (1-se) 10 + 5/8 (1-sp)):
    #   t=0.05: se 1, sp 0   -> 625;  t=0.1: sp 1/5 -> 500;  t=0.2: sp 2/5 -> 375
    #   t=0.3:  se 1, sp 3/5 -> 250;  t=0.4: se 2/3, sp 3/5 -> 1250 + 250 = 1500; higher: worse
    t, cost = decision.min_cost_threshold(P, Y, 10)
    assert t == pytest.approx(0.3, abs=2e-6) and cost == pytest.approx(250, abs=1e-9)
    curve = decision.expected_cost_curve(P, Y, 10)
    assert curve.thresholds.size == 99 and curve.per_repeat.shape == (1, 99)
    assert curve.pooled[29] == pytest.approx(250)  # t = 0.30: same calls as above
    assert curve.pooled[19] == pytest.approx(375)  # t = 0.20
    assert curve.best_threshold == t and curve.theoretical_threshold == pytest.approx(1 / 11)
    assert curve.pooled.min() >= cost - 1e-9


def test_cost_needs_both_classes():
    with pytest.raises(UserError, match="no malignant"):
        decision.min_cost_threshold(P, np.zeros(8, int), 10, 0.1)


# ---------------------------------------------------------------- decision curve
def test_net_benefit_by_hand():
    dc = decision.decision_curve(P, Y)
    assert dc.thresholds.size == 99
    assert dc.thresholds[0] == 0.01 and dc.thresholds[49] == 0.5 and dc.thresholds[-1] == 0.99
    assert list(dc.thresholds) == [k / 100 for k in range(1, 100)]  # no drift
    # t = 0.5, w = 1: tp=2, fp=1 -> 2/8 - 1/8 = 0.125; treat all 3/8 - 5/8 = -0.25
    assert dc.model_mean[49] == pytest.approx(0.125, abs=1e-12)
    assert dc.treat_all[49] == pytest.approx(-0.25, abs=1e-12)
    # t = 0.25, w = 1/3: tp=3, fp=2 (0.7, 0.4) -> 3/8 - 2/24 = 0.291666..; all: 3/8 - 5/24 = 0.1666..
    assert dc.model_mean[24] == pytest.approx(3 / 8 - 2 / 24, abs=1e-12)
    assert dc.treat_all[24] == pytest.approx(3 / 8 - 5 / 24, abs=1e-12)
    # interventions avoided per 100 = (0.291666 - 0.166666) / (1/3) * 100 = 37.5
    assert dc.interventions_avoided_mean[24] == pytest.approx(37.5, abs=1e-9)
    assert (dc.treat_none == 0).all()
    assert float(decision.net_benefit(2, 1, 8, 0.5)) == pytest.approx(0.125)
    with pytest.raises(ValueError):
        decision.net_benefit(2, 1, 8, 1.0)


def test_decision_curve_band_and_mean_over_repeats():
    probs, y = _data(n=200, repeats=4)
    dc = decision.decision_curve(probs, y)
    assert dc.model.shape == (4, 99) and dc.repeats == 4
    for r in range(4):
        np.testing.assert_allclose(dc.model[r], decision.decision_curve(probs[r], y).model_mean, atol=1e-12)
    np.testing.assert_allclose(dc.model_mean, dc.model.mean(axis=0), atol=1e-12)
    assert (dc.model_min <= dc.model_mean + 1e-15).all() and (dc.model_mean <= dc.model_max + 1e-15).all()
    # the mean over repeats equals the pooled net benefit: sum tp / (R n) - sum fp / (R n) * w
    s = metrics.sweep(np.tile(y, 4), probs.ravel(), dc.thresholds)
    np.testing.assert_allclose(dc.model_mean, decision.net_benefit(s.tp, s.fp, 800, dc.thresholds), atol=1e-12)
    rows = decision.decision_curve_json(probs, y)
    assert len(rows) == 99 and rows[0][0] == 0.01 and rows[-1][0] == 0.99 and all(len(r) == 3 for r in rows)
    json.dumps(rows)


def test_decision_curve_agrees_with_dcurves():
    dcurves = pytest.importorskip("dcurves")
    import pandas as pd

    probs, y = _data(n=300, repeats=1, seed=3)
    p = np.round(probs[0], 3)  # ties, as a network's probabilities have at 3 decimals
    thresholds = [0.05, 0.1, 0.2, 0.35, 0.5, 0.8]
    df = pd.DataFrame({"y": y.astype(int), "model": p})
    out = dcurves.dca(data=df, outcome="y", modelnames=["model"], thresholds=thresholds)
    ours = decision.decision_curve(p, y, thresholds)
    for name, values in (("model", ours.model_mean), ("all", ours.treat_all), ("none", ours.treat_none)):
        theirs = out[out["model"] == name].sort_values("threshold")["net_benefit"].to_numpy()
        np.testing.assert_allclose(values, theirs, atol=1e-9)
    # dcurves gives interventions avoided per patient (nper=1); ours are per 100
    theirs = out[out["model"] == "model"].sort_values("threshold")["net_intervention_avoided"].to_numpy()
    np.testing.assert_allclose(ours.interventions_avoided_mean, 100 * theirs, atol=1e-7)


# ---------------------------------------------------------------- threshold rules
def test_rules_by_hand():
    # sensitivity >= 0.6 of 3 malignant -> 2 found; the 2nd highest malignant probability is 0.6
    c = decision.choose_threshold(P, Y, "sensitivity", 0.6, evidence="validation")
    assert c.threshold == pytest.approx(0.6, abs=2e-6)
    assert c.chosen_by == "the highest threshold with sensitivity >= 60% on 8 validation rows"
    assert (c.rule, c.value, c.n, c.repeats) == ("sensitivity", 0.6, 8, 1)
    # specificity >= 0.8 of 5 benign -> 4 below; 4th lowest benign is 0.4, so the next millionth
    c = decision.choose_threshold(P, Y, "specificity", 0.8)
    assert c.threshold == pytest.approx(0.400001, abs=1e-12)
    m = metrics.metrics_at(Y, P, c.threshold)
    assert m.specificity.value == pytest.approx(0.8) and m.sensitivity.value == pytest.approx(2 / 3)
    # Youden's J at each distinct probability: 0.05: 0, 0.1: 0.2, 0.2: 0.4, 0.3: 0.6 (max),
    # 0.4: 2/3+3/5-1 = 0.267, 0.6: 2/3+4/5-1 = 0.467, 0.7: 0.133, 0.9: 0.333
    c = decision.choose_threshold(P, Y, "youden")
    assert c.threshold == pytest.approx(0.3, abs=2e-6) and "0.600" in c.chosen_by
    # cost R = 10: 0.3 (see test_min_cost_threshold_by_hand)
    c = decision.choose_threshold(P, Y, "cost", cost=10)
    assert c.threshold == pytest.approx(0.3, abs=2e-6) and c.prevalence == pytest.approx(3 / 8)
    assert c.costs == decision.Costs.from_ratio(10) and c.value is None
    assert "10 false alarms" in c.chosen_by and "8 out-of-fold rows" in c.chosen_by


def test_rules_on_repeats_pool_and_say_so():
    probs, y = _data()
    yy, pp = np.tile(y, 5), probs.ravel()
    c = decision.choose_threshold(probs, y, "sensitivity", 0.98)
    assert c.chosen_by == "the highest threshold with sensitivity >= 98% on 683 out-of-fold rows x 5 repeats"
    assert metrics.metrics_at(yy, pp, c.threshold).sensitivity.value >= 0.98
    assert c.threshold == pytest.approx(metrics.threshold_for_sensitivity(yy, pp, 0.98), abs=1e-6)
    b = decision.choose_threshold(probs, y, "sensitivity_bound", 0.95)
    m = decision.evidence_metrics(probs, y, b.threshold)
    assert m.sensitivity.low >= 0.95 - 1e-12
    s = decision.choose_threshold(probs, y, "specificity", 0.9)
    assert metrics.metrics_at(yy, pp, s.threshold).specificity.value >= 0.9
    for choice in (c, b, s):
        assert 0 < choice.threshold < 1 and choice.threshold == round(choice.threshold, 6)
        assert choice.n == 683 and choice.repeats == 5


def test_cost_rule_depends_on_prevalence_and_ratio():
    probs, y = _data()
    low = decision.choose_threshold(probs, y, "cost", cost=10, prevalence=0.05).threshold
    high = decision.choose_threshold(probs, y, "cost", cost=10, prevalence=0.5).threshold
    assert high < low  # more cancers about: call more
    r1 = decision.choose_threshold(probs, y, "cost", cost=1).threshold
    r50 = decision.choose_threshold(probs, y, "cost", cost=50).threshold
    assert r50 < r1  # a larger R gives a lower threshold
    # the chosen threshold is no worse than any on the grid
    curve = decision.expected_cost_curve(probs, y, 10, 0.05)
    assert curve.best_cost_per_1000 <= curve.pooled.min() + 1e-9


def test_one_repeat_equals_flat_input():
    probs, y = _data(repeats=1)
    for rule, value, kw in [("sensitivity", 0.95, {}), ("sensitivity_bound", 0.9, {}), ("specificity", 0.9, {}),
                            ("youden", None, {}), ("cost", None, {"cost": 5, "prevalence": 0.1})]:
        a = decision.choose_threshold(probs, y, rule, value, **kw)
        b = decision.choose_threshold(probs[0], y, rule, value, **kw)
        assert a == b
    assert decision.summary(probs, y, 0.4, cost=5).to_dict() == decision.summary(probs[0], y, 0.4, cost=5).to_dict()
    np.testing.assert_allclose(decision.decision_curve(probs, y).model_mean,
                               decision.decision_curve(probs[0], y).model_mean, atol=1e-15)


def test_rule_errors_are_plain_sentences():
    with pytest.raises(UserError, match="Unknown threshold rule"):
        decision.choose_threshold(P, Y, "accuracy")
    with pytest.raises(UserError, match="needs a target"):
        decision.choose_threshold(P, Y, "sensitivity")
    with pytest.raises(UserError, match="between 0 and 1"):
        decision.choose_threshold(P, Y, "sensitivity_bound", 1.0)
    with pytest.raises(UserError, match="needs a cost"):
        decision.choose_threshold(P, Y, "cost")
    # 3 malignant cases cannot show a lower bound of 90%: it takes 35
    with pytest.raises(UserError, match="35 malignant cases"):
        decision.choose_threshold(P, Y, "sensitivity_bound", 0.9)
    # no malignant cases / no benign cases
    with pytest.raises(UserError, match="no malignant"):
        decision.choose_threshold(P, np.zeros(8, int), "sensitivity", 0.9)
    with pytest.raises(UserError, match="no malignant"):
        decision.choose_threshold(P, np.zeros(8, int), "youden")
    with pytest.raises(UserError, match="no benign"):
        decision.choose_threshold(P, np.ones(8, int), "specificity", 0.9)
    # a benign case at probability 1: specificity 100% needs a threshold above 1
    with pytest.raises(UserError, match="No threshold below 1"):
        decision.choose_threshold(np.where(Y == 0, 1.0, 0.5), Y, "specificity", 1.0)


def test_threshold_at_6_decimals_keeps_the_target():
    # 0.3 * 1e6 may land just below 300000: the threshold must still call the case at 0.3
    for v in (0.3, 0.7, 0.123457, 0.29, 0.57):
        p = np.array([v, 0.95, 0.01, v - 2e-7])
        y = np.array([1, 1, 0, 0])
        c = decision.choose_threshold(p, y, "sensitivity", 1.0)
        assert c.threshold <= v and metrics.metrics_at(y, p, c.threshold).sensitivity.value == 1.0
    # a malignant case at probability 0: 100% sensitivity needs a threshold of 0, which is not allowed
    with pytest.raises(UserError, match="below 0.000001"):
        decision.choose_threshold(np.array([0.0, 0.9, 0.1]), np.array([1, 1, 0]), "sensitivity", 1.0)
    # cost rule that calls none: the threshold lies above every probability, at most 0.999999
    c = decision.choose_threshold(np.array([0.2, 0.3, 0.4]), np.array([0, 1, 0]), "cost", cost=0.01)
    assert c.threshold == pytest.approx(0.400001)


def test_all_called_one_way():
    # every probability the same: any threshold calls all or none
    flat = np.full(8, 0.5)
    c = decision.choose_threshold(flat, Y, "sensitivity", 1.0)
    assert c.threshold == 0.5 and metrics.metrics_at(Y, flat, c.threshold).sensitivity.value == 1
    r = decision.summary(flat, Y, 0.5).to_dict()
    assert r["metrics"]["mcc"] is None and r["metrics"]["kappa"] == pytest.approx(0.0, abs=1e-12)
    r = decision.summary(flat, Y, 0.6).to_dict()  # none called: PPV undefined in the data
    assert r["metrics"]["ppv_in_data"] is None and r["metrics"]["f1"] == 0.0
    assert r["net_benefit"]["model"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- report
def test_summary_keys_and_values():
    r = decision.summary(P, Y, 0.5, prevalence=0.1, cost=10, evidence="validation", chosen_by="by hand")
    d = r.to_dict()
    assert list(d) == ["threshold", "chosen_by", "evidence", "n", "repeats", "prevalence", "metrics",
                       "per_1000", "costs", "expected_cost_per_1000", "net_benefit"]
    assert (d["threshold"], d["chosen_by"], d["evidence"], d["n"], d["prevalence"]) == (0.5, "by hand",
                                                                                        "validation", 8, 0.1)
    m = d["metrics"]
    assert set(metrics.metrics_at(Y, P, 0.5).to_dict()) <= set(m)
    assert {"ppv", "npv", "f1", "mcc", "kappa", "log_loss"} <= set(m)
    assert m["ppv"] == pytest.approx((2 / 30) / (2 / 30 + 0.18), abs=1e-12)  # at 10%, not 2/3
    assert m["ppv_in_data"] == pytest.approx(2 / 3, abs=1e-12)
    assert m["f1"] == pytest.approx(4 / 6, abs=1e-12)  # 2*2 / (4 + 1 + 1)
    assert d["expected_cost_per_1000"] == pytest.approx(1000 * (1 / 3 + 0.18), abs=1e-9)
    # net benefit at 10%, w = 1: 0.1 * 2/3 - 0.9 * 0.2 = -0.11333; treat all 0.1 - 0.9 = -0.8
    assert d["net_benefit"]["model"] == pytest.approx(0.1 * 2 / 3 - 0.18, abs=1e-12)
    assert d["net_benefit"]["treat_all"] == pytest.approx(-0.8, abs=1e-12)
    json.dumps(d, allow_nan=False)
    # at the data's prevalence, net benefit is TP/n - FP/n * w exactly
    d = decision.summary(P, Y, 0.25).to_dict()
    assert d["net_benefit"]["model"] == pytest.approx(3 / 8 - 2 / 24, abs=1e-12)
    assert "costs" not in d and "expected_cost_per_1000" not in d


def test_summary_rejects_bad_threshold_and_prevalence():
    with pytest.raises(UserError):
        decision.summary(P, Y, 1.0)
    with pytest.raises(UserError, match="prevalence"):
        decision.summary(P, Y, 0.5, prevalence=1)


def test_no_sklearn_on_import():
    code = "import bcdesktop.decision, sys; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_calibrated_cost_threshold_follows_the_prevalence_by_bayes_rule():
    costs = decision.Costs.from_ratio(10)
    assert costs.threshold_at(0.35, 0.35) == pytest.approx(costs.theoretical_threshold, abs=1e-15)
    # at 5% instead of 35%: odds shrink by k = (0.05/0.95) / (0.35/0.65); call when q/(1-q) * k > 1/10
    k = (0.05 / 0.95) / (0.35 / 0.65)
    t = costs.threshold_at(0.05, 0.35)
    assert t / (1 - t) * k == pytest.approx(1 / 10, rel=1e-12)
    assert costs.threshold_at(0.05, 0.35) > costs.threshold_at(0.35, 0.35) > costs.threshold_at(0.6, 0.35)


def test_rules_choose_among_thresholds_a_user_can_hold():
    """Probabilities of exactly 0: "call every case" (threshold 0) is no threshold in
    (0, 1), so neither the cost nor the Youden rule may pick it (found by review)."""
    p, y = np.array([0.0, 0.0, 0.3]), np.array([1, 1, 0])
    t, cost = decision.min_cost_threshold(p, y, 1.0)
    assert 0 < t < 1 and cost == pytest.approx(1000 * 2 / 3)  # both cancers missed beats 1000
    calls = p >= t
    assert cost == pytest.approx(1000 * (np.sum(~calls & (y == 1)) + np.sum(calls & (y == 0))) / 3)
    youden = decision.choose_threshold(np.array([0.0, 0.0, 0.3, 1.0]), np.array([1, 0, 0, 1]), "youden")
    assert 0 < youden.threshold < 1
