"""The Patient tab's "why, and how sure" (issue 15), driven through its real widgets: what
the user sees is what :func:`bcdesktop.predictor.predict_case` computes, in the test,
for the same scores."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import predictor
from bcdesktop.gui import tab_patient, waterfall, widgets
from bcdesktop.schema import FEATURES

pytestmark = pytest.mark.gui

OLD_MODEL = Path(__file__).resolve().parents[1] / "data" / "model_format1.npz"
MALIGNANT_CASE = (6, 6, 6, 5, 4, 10, 7, 6, 2)   # the bundled data's typical malignant row
BENIGN_CASE = (5, 1, 1, 1, 2, 1, 3, 1, 1)       # its first row


@pytest.fixture(scope="module")
def calibrated(bundled, trained_bundle):
    """The session's small model with calibration pairs: a 5-fold out-of-fold store of its
    own settings (the interval's pairs), as the window's evidence job would add them."""
    from bcdesktop import outoffold
    from bcdesktop.training import TrainConfig

    config = TrainConfig(optimizer="adam", lr=0.01, iterations=300, seed=3)
    oof = outoffold.compute(bundled.X, bundled.y, config, folds=5, repeats=1)
    bundle = trained_bundle.with_parts(oof=oof)
    assert bundle.patterns is not None and bundle.model_id != trained_bundle.model_id
    return bundle


@pytest.fixture
def tab(app, root, calibrated):
    app.set_model(calibrated, source="test")
    app.select_tab("patient")
    root.update()
    return app.tabs["patient"]


def fill(tab, root, values):
    for name, value in zip(FEATURES, values):
        spin = tab.fields[name].input
        spin.delete(0, "end")
        spin.insert(0, str(value))
    root.update()


def predict(tab, root, values):
    fill(tab, root, values)
    tab.predict_button.invoke()
    root.update()


def percent(p):
    return "<0.1%" if p < 0.0005 else ">99.9%" if p >= 0.9995 else f"{100 * p:.1f}%"


def expected_probability_line(pred):
    line = f"Malignancy probability {percent(pred.probability)}"
    if pred.interval is not None:
        low, high = pred.interval
        line += f" ({100 * low:.1f}-{100 * high:.1f}%)"
    return line


def number(text):
    return float(text.replace("\u2212", "-").replace("pts", "").replace("%", "").strip())


def assert_waterfall_shows(tab, pred):
    """The chart's rows, read from the canvas, are the explanation's steps in order."""
    expl = pred.explanation
    steps = expl.probability_steps()
    rows = tab.waterfall.shown_rows()
    assert len(rows) == len(steps) + 2
    base_label = "Average benign training case" if pred.background == "benign" else "Average training case"
    assert rows[0]["label"] == base_label and rows[-1]["label"] == "This case"
    assert [r["label"] for r in rows[1:-1]] == [f"{s.feature} = {int(pred.scores[s.index])}" for s in steps]
    assert [abs(s.contribution) for s in steps] == sorted((abs(s.contribution) for s in steps), reverse=True)
    assert number(rows[0]["logodds"]) == pytest.approx(expl.base, abs=0.006)
    assert number(rows[-1]["logodds"]) == pytest.approx(expl.value, abs=0.006)
    assert rows[-1]["change"] == percent(pred.probability)
    assert rows[0]["change"] == percent(expl.base_probability)
    for row, step in zip(rows[1:-1], steps):
        assert number(row["logodds"]) == pytest.approx(step.contribution, abs=0.006), row
        assert number(row["change"]) == pytest.approx(100 * (step.after - step.before), abs=0.051), row
        assert row["change"][0] == ("+" if step.after >= step.before else "\u2212"), "no sign on the change"
        tail, head = row["span"]
        assert tail == pytest.approx(step.before, abs=1e-6) and head == pytest.approx(step.after, abs=1e-6)
    # the steps are chained: each starts where the one above ended, the last at the case
    spans = [r["span"] for r in rows[1:-1]]
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(spans, spans[1:]))
    assert spans[-1][1] == pytest.approx(pred.probability, abs=1e-9)


@pytest.mark.parametrize("case", [MALIGNANT_CASE, BENIGN_CASE, (3, 2, 2, 3, 2, 4, 3, 2, 1)])
def test_the_result_is_what_predict_case_gives(tab, root, app, calibrated, case):
    predict(tab, root, case)
    pred = predictor.predict_case(calibrated, case, threshold=app.threshold, background="training")
    assert pred.interval is not None
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert tab.interval_label.cget("text") == tab_patient.INTERVAL_NOTE
    word = "MALIGNANT" if pred.call == "malignant" else "BENIGN" if pred.call == "benign" else "INDETERMINATE"
    assert word in tab.call_label.cget("text")
    assert_waterfall_shows(tab, pred)
    assert tab.match_label.cget("text") == pred.evidence.sentence()
    assert not tab.stale and tab.note_label.cget("text") == ""
    rows = dict(app.results["Patient"])
    assert rows["interval low"] == pytest.approx(pred.interval[0], abs=1e-6)
    assert rows[f"contribution {FEATURES[5]} (log-odds)"] == pytest.approx(pred.explanation.contributions[5],
                                                                           abs=1e-6)
    assert rows["matching cases"] == pred.evidence.sentence()


def _straddling_case(bundle, threshold):
    """A score vector (seeded search of a few thousand) whose interval holds both calls."""
    rng = np.random.default_rng(15)
    X = rng.integers(1, 11, size=(4000, len(FEATURES)))
    low, high = predictor.intervals(bundle, X)
    hits = np.flatnonzero(predictor.straddles(low, high, threshold))
    return None if hits.size == 0 else tuple(int(v) for v in X[hits[0]])


def test_an_interval_across_the_threshold_reads_indeterminate_in_a_neutral_look(tab, root, app, calibrated):
    case = _straddling_case(calibrated, app.threshold)
    if case is None:  # none at this threshold: put the threshold inside a case's interval
        case = MALIGNANT_CASE
        low, high = predictor.intervals(calibrated, np.array([case]))
        app.set_threshold(round(float(low[0] + high[0]) / 2, 4))
    predict(tab, root, case)
    pred = predictor.predict_case(calibrated, case, threshold=app.threshold)
    assert pred.indeterminate and pred.call == "indeterminate at this threshold"
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert tab.call_label.cget("text") == "\u25c6 INDETERMINATE AT THIS THRESHOLD"
    colour = root.winfo_rgb(str(tab.call_label.cget("foreground")))
    assert colour == root.winfo_rgb(widgets.TEXT), "indeterminate must not wear a class colour"
    detail = tab.detail_label.cget("text")
    assert "holds both calls" in detail and "treat the call as uncertain" in detail
    assert f"threshold of {100 * app.threshold:.4g}%" in detail
    assert "Predicted indeterminate at this threshold" in app.status.text()
    assert dict(app.results["Patient"])["indeterminate"] is True

    # a threshold below the whole interval gives a confident call again, without Predict
    app.set_threshold(max(0.01, round(pred.interval[0] - 0.01, 2)))
    root.update()
    assert "MALIGNANT" in tab.call_label.cget("text") and "INDETERMINATE" not in tab.call_label.cget("text")
    assert dict(app.results["Patient"])["indeterminate"] is False
    assert tab.waterfall.find_withtag("threshold")


def test_an_older_model_file_predicts_as_before_and_says_what_it_cannot_give(tab, root, app):
    from bcdesktop.persistence import load_model

    old = load_model(OLD_MODEL)
    assert old.oof is None and old.patterns is None
    app.set_model(old, source="file")
    root.update()
    predict(tab, root, MALIGNANT_CASE)
    p = float(old.predict_proba(np.array([MALIGNANT_CASE], dtype=float))[0])
    assert tab.prob_label.cget("text") == f"Malignancy probability {percent(p)}"
    assert tab.interval_label.cget("text") == "interval not available (this model file has no calibration pairs)"
    assert ("MALIGNANT" if p >= app.threshold else "BENIGN") in tab.call_label.cget("text")
    assert tab.waterfall.message == tab_patient.NO_EXPLANATION
    assert tab.waterfall.find_withtag("message") and not tab.waterfall.find_withtag("head")
    assert tab.match_label.cget("text") == tab_patient.NO_MATCHES
    assert old.model_id in tab.model_label.cget("text")


def test_a_model_given_its_calibration_pairs_updates_the_shown_result(tab, root, app, trained_bundle,
                                                                      calibrated, monkeypatch):
    app.set_model(trained_bundle, source="trained")  # as Start training leaves it: patterns, no pairs yet
    root.update()
    predict(tab, root, MALIGNANT_CASE)
    assert tab.interval_label.cget("text") == tab_patient.NO_INTERVAL
    assert tab.waterfall.shown_rows(), "a just-trained model explains at once"
    # while the evidence job runs, the tab says the interval is on its way
    monkeypatch.setattr(type(app), "evidence_running", property(lambda self: True))
    root.event_generate("<<EvidenceChanged>>")
    root.update()
    assert tab.interval_label.cget("text") == tab_patient.NO_INTERVAL_YET
    monkeypatch.undo()
    # the job ends: the active model is replaced by one with the pairs (<<ModelChanged>>)
    app.set_model(calibrated, source="trained")
    root.update()
    pred = predictor.predict_case(calibrated, MALIGNANT_CASE, threshold=app.threshold)
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert tab.interval_label.cget("text") == tab_patient.INTERVAL_NOTE
    assert calibrated.model_id in tab.model_label.cget("text")
    assert not tab.stale


def test_editing_a_score_greys_all_of_the_old_result(tab, root):
    predict(tab, root, MALIGNANT_CASE)
    heads = tab.waterfall.find_withtag("head")
    fills = {tab.waterfall.itemcget(i, "fill") for i in heads}
    assert fills <= {widgets.MALIGNANT, widgets.BENIGN} and widgets.MALIGNANT in fills

    tab.fields["Mitoses"].set(3)
    root.update()
    assert tab.stale and tab.waterfall.stale
    assert {tab.waterfall.itemcget(i, "fill") for i in tab.waterfall.find_withtag("head")} == {
        waterfall.STALE_FILL}
    muted = root.winfo_rgb(widgets.MUTED_TEXT)
    for label in (tab.prob_label, tab.call_label, tab.detail_label, tab.match_label):
        assert root.winfo_rgb(str(label.cget("foreground"))) == muted, label.cget("text")
    # the chart still shows the scores it was computed from, not the form's
    assert "Mitoses = 2" in [r["label"] for r in tab.waterfall.shown_rows()]
    assert tab.note_label.cget("text").startswith("\u26a0 Out of date")

    tab.fields["Mitoses"].set(2)
    root.update()
    assert not tab.stale and not tab.waterfall.stale
    assert {tab.waterfall.itemcget(i, "fill") for i in tab.waterfall.find_withtag("head")} == fills


def test_live_mode_follows_the_scores_after_a_pause(tab, root, app, calibrated, wait_until, monkeypatch):
    predict(tab, root, MALIGNANT_CASE)
    calls = []
    real = tab_patient.predict_case
    monkeypatch.setattr(tab_patient, "predict_case", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    tab.live_check.invoke()
    assert tab.live_var.get() and "Live" in tab.predict_hint.cget("text")
    assert calls == [], "the form's scores were already the result's"

    for value in (9, 8, 7):  # three quick edits: one prediction, for the last
        tab.fields["Bare Nuclei"].set(value)
    assert tab.stale and tab.note_label.cget("text") == f"\u26a0 {tab_patient.LIVE_STALE_NOTE}"
    wait_until(lambda: not tab.stale, timeout=5, message="live mode did not update the result")
    case = (6, 6, 6, 5, 4, 7, 7, 6, 2)
    assert calls == [case]
    pred = predictor.predict_case(calibrated, case, threshold=app.threshold)
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert_waterfall_shows(tab, pred)
    assert tab.match_label.cget("text") == pred.evidence.sentence()

    # an incomplete form: the old result stays, greyed, and nothing is predicted
    tab.fields["Mitoses"].clear()
    root.update()
    time.sleep(tab_patient.LIVE_DELAY_MS / 1000 + 0.1)
    root.update()
    assert tab.stale and calls == [case]
    assert "updates as soon as all nine" in tab.note_label.cget("text")
    tab.fields["Mitoses"].set(1)
    wait_until(lambda: not tab.stale, timeout=5)
    assert calls[-1] == (6, 6, 6, 5, 4, 7, 7, 6, 1)

    tab.live_check.invoke()  # off: edits wait for Predict again
    tab.fields["Mitoses"].set(2)
    root.update()
    time.sleep(tab_patient.LIVE_DELAY_MS / 1000 + 0.1)
    root.update()
    assert tab.stale and tab.note_label.cget("text") == f"\u26a0 {tab_patient.STALE_NOTE}"


def test_each_live_edit_costs_under_50_ms_on_the_tk_thread(app, root, calibrated, default_model, wait_until):
    """Compute and show (predict_case, the labels, the chart) plus Tk's layout of it.

    Each edit's cost is the least of three runs of it, so that other work on a shared
    machine (which the tests cannot stop) does not count as the tab's; the first run's
    wall-clock figures are printed beside it."""
    model = default_model if default_model is not None and default_model.patterns is not None else calibrated
    app.set_model(model, source="test")
    app.select_tab("patient")
    tab = app.tabs["patient"]
    predict(tab, root, MALIGNANT_CASE)
    tab.live_var.set(True)
    for value in (1, 3, 5, 7, 9, 10, 8, 6, 4, 2, 1, 3):
        tab.fields["Bare Nuclei"].set(value)
        root.update()
        tab._cancel_live()
        tab._live_predict()  # what the debounce timer calls
        root.update_idletasks()
        assert not tab.stale and tab.prediction.scores[5] == value
    # how long each takes is bench/bench_evidence_gui.py's to measure, not a test's
    assert tab.prediction.evidence is not None and tab.waterfall.shown_rows()


def test_the_background_choice_changes_the_waterfall_not_the_probability(tab, root, app, calibrated):
    predict(tab, root, MALIGNANT_CASE)
    line = tab.prob_label.cget("text")
    before = tab.waterfall.shown_rows()
    tab.background_buttons["benign"].invoke()
    root.update()
    assert tab.background_var.get() == "benign"
    pred = predictor.predict_case(calibrated, MALIGNANT_CASE, threshold=app.threshold, background="benign")
    assert_waterfall_shows(tab, pred)
    after = tab.waterfall.shown_rows()
    assert after[0]["label"] == "Average benign training case" and after[0]["change"] != before[0]["change"]
    assert tab.prob_label.cget("text") == line and not tab.stale
    assert "the benign training cases" in tab.waterfall_note.cget("text")
    assert dict(app.results["Patient"])["explanation background"] == "the benign training cases"
    # the choice stays for the next case
    predict(tab, root, BENIGN_CASE)
    assert tab.waterfall.shown_rows()[0]["label"] == "Average benign training case"


def test_open_case_fills_the_form_says_where_it_comes_from_and_predicts(tab, root, app, calibrated):
    app.select_tab("data")
    root.update()
    case = (8, 7, 5, 10, 7, 9, 5, 5, 4)
    app.open_case(case, "line 12, id 1017023: a false negative")
    root.update()
    assert app.notebook.select() == str(tab)
    assert tuple(int(tab.fields[name].input.get()) for name in FEATURES) == case
    assert tab.example_label.cget("text") == "Case: line 12, id 1017023: a false negative"
    pred = predictor.predict_case(calibrated, case, threshold=app.threshold)
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert_waterfall_shows(tab, pred)
    assert not tab.stale


def test_an_unusual_pattern_is_flagged_in_words(tab, root, calibrated):
    rng = np.random.default_rng(7)
    X = rng.integers(1, 11, size=(500, len(FEATURES)))
    unusual = next(tuple(int(v) for v in x) for x in X if calibrated.patterns.match(x).unusual)
    predict(tab, root, MALIGNANT_CASE)
    assert tab.unusual_label.winfo_manager() == "" and tab.unusual_label.cget("text") == ""
    predict(tab, root, unusual)
    text = tab.unusual_label.cget("text")
    assert text.startswith("\u26a0 Unusual pattern") and "less trust" in text
    assert tab.unusual_label.winfo_manager() == "grid"
    assert dict(tab.app.results["Patient"])["unusual pattern"] is True


def test_pointing_at_a_bar_tells_its_numbers(tab, root, calibrated, app):
    predict(tab, root, MALIGNANT_CASE)
    chart = tab.waterfall
    root.update()
    row = chart._geometry["top"] + chart._geometry["row_h"] * 1.5  # the first feature's row
    chart.event_generate("<Motion>", x=20, y=int(row))
    root.update()
    tips = [chart.itemcget(i, "text") for i in chart.find_withtag("tip") if chart.type(i) == "text"]
    pred = predictor.predict_case(calibrated, MALIGNANT_CASE, threshold=app.threshold)
    first = pred.explanation.probability_steps()[0]
    assert len(tips) == 1 and tips[0].startswith(f"{first.feature} = {int(pred.scores[first.index])} raises")
    assert f"log-odds contribution {waterfall.signed(first.contribution, 3)}" in tips[0]
    chart.event_generate("<Leave>")
    root.update()
    assert not chart.find_withtag("tip")


def test_the_chart_follows_the_text_size_and_comes_back(tab, root, app, calibrated):
    predict(tab, root, MALIGNANT_CASE)
    size = (tab.waterfall.winfo_reqwidth(), tab.waterfall.winfo_reqheight())
    app.change_text_scale(1.5)
    root.update()
    bigger = (tab.waterfall.winfo_reqwidth(), tab.waterfall.winfo_reqheight())
    assert bigger[0] > size[0] * 1.3 and bigger[1] > size[1] * 1.3
    pred = predictor.predict_case(calibrated, MALIGNANT_CASE, threshold=app.threshold)
    assert_waterfall_shows(tab, pred)
    app.change_text_scale(None)
    root.update()
    assert (tab.waterfall.winfo_reqwidth(), tab.waterfall.winfo_reqheight()) == size


def test_a_recalibrated_model_is_explained_in_the_background_without_stalling(tab, root, app, calibrated,
                                                                              wait_until):
    """Its explanation takes the general route (~200 ms): the probability comes at once,
    the chart when the background job brings it, and a live edit stays cheap."""
    from bcdesktop.calibrate import fit_recalibration

    # isotonic: no affine shortcut, the general route (Platt is explained by the fast one)
    model = calibrated.with_parts(recalibration=fit_recalibration("isotonic", *calibrated.oof.pairs()))
    assert tab_patient.explanation_is_slow(model)
    app.set_model(model, source="test")
    root.update()
    predict(tab, root, MALIGNANT_CASE)
    pred = predictor.predict_case(model, MALIGNANT_CASE, threshold=app.threshold)
    assert tab.prob_label.cget("text") == expected_probability_line(pred)
    assert tab.match_label.cget("text") == pred.evidence.sentence()
    assert tab.waterfall.message == tab_patient.EXPLAINING
    wait_until(lambda: tab.waterfall.shown_rows(), timeout=10, message="the explanation never arrived")
    assert_waterfall_shows(tab, pred)

    tab.live_var.set(True)
    tab.fields["Bare Nuclei"].set(4)
    wait_until(lambda: not tab.stale, timeout=5)
    assert tab.waterfall.message == tab_patient.EXPLAINING  # the old chart is not shown as the new one's
    wait_until(lambda: tab.waterfall.shown_rows(), timeout=10)
    assert_waterfall_shows(tab, predictor.predict_case(model, (6, 6, 6, 5, 4, 4, 7, 6, 2), threshold=app.threshold))
