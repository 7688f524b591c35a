"""The command line of the evidence issues: train's calibration pairs, predict's interval,
explanation and matching cases, the threshold command, evaluate's decision curve and
calibration. Figures are checked against the core computed here, with tolerances."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import calibrate, decision, outoffold
from bcdesktop.cli import main
from bcdesktop.data import load_bundled
from bcdesktop.persistence import load_default_model, load_model
from bcdesktop.predictor import predict_case
from bcdesktop.schema import FEATURES

QUICK = ("--iterations", "150", "--lr", "0.02")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err):
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory):
    """A quickly trained model with its calibration pairs (made once for the module)."""
    path = tmp_path_factory.mktemp("m") / "quick.npz"
    assert main(["train", "--out", str(path), "--json", *QUICK]) == 0
    return path


def test_train_keeps_calibration_pairs_and_says_so(quick_model, capsys):
    bundle = load_model(quick_model)
    assert bundle.format_version == 2
    oof = bundle.oof
    data = load_bundled()
    assert (oof.n, oof.repeats, oof.folds) == (data.n_usable, 5, 10)
    assert oof.data_sha256 == data.sha256
    np.testing.assert_array_equal(oof.labels, data.y)
    np.testing.assert_array_equal(oof.scores, data.X.astype(np.int8))
    pats = bundle.patterns
    assert int(pats.counts.sum()) == bundle.settings["n_train"]


def test_train_json_reports_the_pairs_and_no_calibrate_skips_them(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "a.npz"), "--json", "--no-calibrate", *QUICK)
    assert code == 0, err
    d = json.loads(out)
    assert d["calibration_pairs"] is None and d["calibration_problem"] == "--no-calibrate"
    bundle = load_model(tmp_path / "a.npz")
    assert bundle.oof is None and bundle.patterns is not None
    code, out, err = run(capsys, "predict", "--model", str(tmp_path / "a.npz"), "--json", *["5"] * 9)
    assert code == 0, err
    p = json.loads(out)
    assert p["interval"] is None and p["indeterminate"] is False and p["explanation"] is not None
    code, out, err = run(capsys, "predict", "--model", str(tmp_path / "a.npz"), *["5"] * 9)
    assert "interval not available" in out


def test_predict_json_keeps_its_keys_and_adds_interval_explanation_evidence(capsys):
    scores = [5, 1, 1, 1, 2, 1, 3, 1, 1]
    code, out, err = run(capsys, "predict", "--json", *map(str, scores))
    assert code == 0, err
    d = json.loads(out)
    assert {"probability", "prediction", "threshold", "model"} <= set(d)
    bundle = load_default_model()
    case = predict_case(bundle, np.array(scores, float))
    assert d["probability"] == pytest.approx(case.probability, abs=1e-12)
    assert d["model"] == bundle.model_id
    low, high = d["interval"]["low"], d["interval"]["high"]
    assert 0.0 <= low <= high <= 1.0
    assert (low, high) == pytest.approx(case.interval, abs=1e-12)
    assert d["indeterminate"] == (low < d["threshold"] <= high)
    ex = d["explanation"]
    assert ex["scale"] == "log-odds" and list(ex["contributions"]) == list(FEATURES)
    logit = math.log(d["probability"] / (1 - d["probability"]))
    assert ex["base"] + sum(ex["contributions"].values()) == pytest.approx(logit, abs=1e-9)
    ev = d["evidence"]
    assert set(ev) == {"identical", "identical_malignant", "nearest_distance", "unusual"}
    rows = bundle.patterns
    hit = np.all(rows.patterns == np.array(scores), axis=1)
    assert ev["identical"] == int(rows.counts[hit].sum())
    assert ev["identical_malignant"] == int(rows.counts[hit, 1].sum())


def test_predict_text_prints_a_waterfall_and_the_matching_cases(capsys):
    code, out, err = run(capsys, "predict", "--background", "benign", *["8", "10", "10", "8", "7", "10", "9", "7", "1"])
    assert code == 0, err
    assert "Venn-Abers interval" in out and "against the benign training cases" in out
    lines = [line for line in out.splitlines() if "->" in line]
    assert len(lines) == 9
    assert "matching cases:" in out


def test_threshold_rules_match_the_core(capsys):
    bundle = load_default_model()
    ev = outoffold.evidence_of(bundle)
    cases = [(("--sensitivity", "0.98"), ("sensitivity", 0.98, None)),
             (("--sensitivity", "0.95", "--bound"), ("sensitivity_bound", 0.95, None)),
             (("--specificity", "0.97"), ("specificity", 0.97, None)),
             (("--youden",), ("youden", None, None)),
             (("--cost-ratio", "10"), ("cost", None, 10.0))]
    thresholds = {}
    for flags, (rule, value, cost) in cases:
        code, out, err = run(capsys, "threshold", "--json", *flags)
        assert code == 0, err
        d = json.loads(out)
        want = decision.choose_threshold(ev.probs, ev.labels, rule, value, cost=cost)
        assert d["threshold"] == pytest.approx(want.threshold, abs=1e-9)
        assert d["chosen_by"] == want.chosen_by and d["evidence"] == "out-of-fold"
        assert d["n"] == 683 and d["prevalence"] == pytest.approx(ev.labels.mean())
        for key in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "mcc", "kappa"):
            assert key in d["metrics"]
        assert set(d["net_benefit"]) == {"model", "treat_all"}
        assert ("expected_cost_per_1000" in d) == (cost is not None)
        thresholds[rule] = d["threshold"]
    # a larger cost ratio gives a lower (or equal) threshold
    code, out, _ = run(capsys, "threshold", "--json", "--cost-ratio", "50")
    assert json.loads(out)["threshold"] <= thresholds["cost"]


def test_threshold_prevalence_changes_ppv_not_sensitivity(capsys):
    _, base, _ = run(capsys, "threshold", "--json")
    _, low, _ = run(capsys, "threshold", "--json", "--prevalence", "0.05")
    a, b = json.loads(base), json.loads(low)
    assert b["prevalence"] == 0.05
    assert a["metrics"]["sensitivity"] == pytest.approx(b["metrics"]["sensitivity"])
    assert b["metrics"]["ppv"] < a["metrics"]["ppv"]
    se, sp = b["metrics"]["sensitivity"], b["metrics"]["specificity"]
    assert b["metrics"]["ppv"] == pytest.approx(se * 0.05 / (se * 0.05 + (1 - sp) * 0.95), rel=1e-9)
    w = b["threshold"] / (1 - b["threshold"])
    assert b["net_benefit"]["treat_all"] == pytest.approx(0.05 - 0.95 * w, rel=1e-9)


def test_threshold_save_writes_the_model_and_refuses_the_shipped_one(quick_model, tmp_path, capsys):
    code, out, err = run(capsys, "threshold", "--save", "--youden")
    one_line_error(code, out, err)
    assert "--model" in err
    copy = tmp_path / "copy.npz"
    copy.write_bytes(quick_model.read_bytes())
    code, out, err = run(capsys, "threshold", "--model", str(copy), "--youden", "--save", "--json")
    assert code == 0, err
    d = json.loads(out)
    saved = load_model(copy)
    assert saved.threshold == pytest.approx(d["threshold"]) and saved.model_id == d["model"]
    assert d["saved"] == str(copy)
    assert saved.oof is not None  # the evidence is kept
    # an older model gets its threshold only: no evidence made behind the user's back
    old = tmp_path / "old.npz"
    old.write_bytes((Path(__file__).parent / "data" / "model_format1.npz").read_bytes())
    code, out, err = run(capsys, "threshold", "--model", str(old), "--youden", "--save", "--json")
    assert code == 0, err
    again = load_model(old)
    assert again.format_version == 1 and again.oof is None
    assert again.threshold == pytest.approx(json.loads(out)["threshold"])


def test_threshold_on_validation_evidence_and_on_other_data(quick_model, tmp_path, capsys):
    code, out, err = run(capsys, "threshold", "--model", str(quick_model), "--evidence", "validation", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["evidence"] == "validation" and d["n"] == load_model(quick_model).eval_labels.size
    # a model without out-of-fold evidence gets it from --data
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "bare.npz"), "--no-calibrate", *QUICK)
    assert code == 0, err
    code, out, err = run(capsys, "threshold", "--model", str(tmp_path / "bare.npz"), "--json")
    assert code == 0, err
    assert json.loads(out)["evidence"] == "out-of-fold" and json.loads(out)["n"] == 683


@pytest.mark.parametrize("flags, fragment", [
    (("--sensitivity", "1.5"), "fraction"),
    (("--sensitivity", "abc"), "fraction"),
    (("--prevalence", "1"), "prevalence"),
    (("--prevalence", "0"), "fraction"),
    (("--cost-ratio", "-3"), "positive"),
    (("--cost-matrix", "0,1,10"), "four costs"),
    (("--cost-matrix", "0,1,0,0"), "missed cancer must cost more"),
    (("--youden", "--specificity", "0.9"), "not allowed with"),
    (("--bound",), "--sensitivity"),
    (("--sensitivity", "0.999", "--bound"), "No threshold gives a lower 95% bound"),
])
def test_threshold_bad_flags_are_one_line(flags, fragment, capsys):
    code, out, err = run(capsys, "threshold", *flags)
    one_line_error(code, out, err)
    assert fragment in err


def test_evaluate_json_adds_the_decision_curve_and_calibration(capsys):
    code, out, err = run(capsys, "evaluate", "--json", "--folds", "3", "--repeats", "2", *QUICK)
    assert code == 0, err
    d = json.loads(out)
    assert {"accuracy", "roc_auc", "brier", "seconds"} <= set(d)
    curve = d["decision_curve"]
    assert len(curve) == 99 and [round(r[0], 2) for r in curve] == [k / 100 for k in range(1, 100)]
    prevalence = 239 / 683
    for t, model, treat_all in curve:
        assert treat_all == pytest.approx(prevalence - (1 - prevalence) * t / (1 - t), abs=1e-12)
        assert model <= prevalence + 1e-12
    cal = d["calibration"]
    assert {"intercept", "slope", "ece", "bins"} <= set(cal)
    assert sum(b["n"] for b in cal["bins"]) == 2 * 683
    assert all(b["observed_ci"][0] <= b["observed"] <= b["observed_ci"][1] for b in cal["bins"])


def test_evaluate_figures_are_those_of_the_core(capsys):
    from bcdesktop import evaluation
    from bcdesktop.training import TrainConfig

    code, out, err = run(capsys, "evaluate", "--json", "--folds", "3", "--repeats", "1", *QUICK)
    d = json.loads(out)
    data = load_bundled()
    cv = evaluation.cross_validate(data.X, data.y, TrainConfig(iterations=150, lr=0.02), folds=3, repeats=1)
    want = decision.decision_curve_json(cv.oof_all, cv.labels)
    np.testing.assert_allclose(np.array(d["decision_curve"]), np.array(want), rtol=0, atol=1e-9)
    cal = calibrate.calibration_summary(cv.oof_all, cv.labels)
    assert d["calibration"]["ece"] == pytest.approx(cal.ece, abs=1e-9)
