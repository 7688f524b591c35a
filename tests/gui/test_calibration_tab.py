"""The Calibration tab: the figures a user reads match calibrate.py and decision.py,
recalibration applied and removed changes the active model, and a model without
out-of-fold evidence says so and can get it."""

from __future__ import annotations

import numpy as np
import pytest

from bcdesktop import calibrate, decision

pytestmark = pytest.mark.gui


def number(text: str) -> float:
    return float(text.replace("\u2212", "-").rstrip("%"))


@pytest.fixture
def tab(app, root, default_model):
    if default_model is None or default_model.oof is None:
        pytest.skip("the shipped model carries no out-of-fold evidence")
    app.select_tab("calibration")
    root.update()
    return app.tabs["calibration"]


def shown(tab, wait_until, which="cal"):
    """Wait until the picture of the inner page ``which`` is on screen with its figures."""
    if which == "cal":
        tab.pages.select(tab.calibration_page)
        wait_until(lambda: tab.cal_plot is not None and not tab.cal_plot.pending and tab.analysis is not None
                   and tab.analysis.kind == tab.choice_var.get(), timeout=20,
                   message="the reliability diagrams never appeared")
        return tab.cal_plot
    tab.pages.select(tab.decision_page)
    wait_until(lambda: tab.dc_plot is not None and not tab.dc_plot.pending and tab.curves is not None, timeout=20,
               message="the decision curve never appeared")
    return tab.dc_plot


def cell(tab, measure, column="before") -> float:
    return number(tab.cells[(measure, column)].cget("text"))


def choose(tab, kind):
    tab.choice_buttons[kind].invoke()


def test_reliability_figures_match_calibrate(tab, app, root, default_model, wait_until):
    oof = default_model.oof
    plot = shown(tab, wait_until)
    assert plot.drawn_by == "bcdesktop-draw-calibration"  # computed and drawn off the Tk thread
    text = tab.source_label.cget("text")
    assert "683 rows x 5 repeats" in text and "all 3,415 predictions pooled" in text
    assert default_model.model_id in text
    s = calibrate.calibration_summary(oof.probs, oof.labels, 10)
    assert cell(tab, "intercept") == pytest.approx(s.intercept, abs=0.0005)
    assert cell(tab, "slope") == pytest.approx(s.slope, abs=0.0005)
    assert cell(tab, "brier") == pytest.approx(s.brier, abs=0.00005)
    assert cell(tab, "ece") == pytest.approx(s.ece, abs=0.0005)
    # the diagram shows every bin at its mean prediction, with its interval
    ax = plot.info["axes"][0]
    drawn = max(ax.lines, key=lambda line: len(line.get_xdata()))
    assert np.allclose(drawn.get_xdata(), [b.predicted for b in s.bins])
    assert np.allclose(drawn.get_ydata(), [b.observed for b in s.bins])
    bars = plot.info["hist"][0].patches
    assert [round(p.get_height()) for p in bars] == [b.n for b in s.bins]
    # without a recalibration chosen, only the network's column is shown
    assert not tab.cells[("slope", "cross")].winfo_ismapped()
    t = app.threshold
    m = decision.evidence_metrics(oof.probs, oof.labels, t)
    assert cell(tab, "sensitivity") == pytest.approx(100 * m.sensitivity.value, abs=0.05)
    assert cell(tab, "specificity") == pytest.approx(100 * m.specificity.value, abs=0.05)

    # isotonic: on the pairs it was fitted on it looks perfect; cross-fitted it does not
    choose(tab, "isotonic")
    shown(tab, wait_until)
    recal = calibrate.fit_recalibration("isotonic", oof.probs, oof.labels)
    _before, after = calibrate.before_after(oof.probs, oof.labels, recal)
    assert cell(tab, "slope", "fitted") == pytest.approx(after.slope, abs=0.0005)
    assert after.slope == pytest.approx(1.0, abs=0.1)  # near 1: kept half a case from 0% and 100%
    assert cell(tab, "brier", "fitted") == pytest.approx(after.brier, abs=0.00005)
    assert tab.cells[("slope", "cross")].winfo_ismapped()
    cross = tab.analysis.cross_probs
    assert cell(tab, "brier", "cross") == pytest.approx(np.mean((cross - oof.labels) ** 2), abs=0.00005)
    assert cell(tab, "brier", "cross") > cell(tab, "brier", "fitted")  # honest figures are worse
    note = tab.note_label.cget("text")
    assert "optimistic" in note and "looks nearly perfect" in note and "3,415 pairs" in note
    advice = tab.advice_label.cget("text")
    lowers = cell(tab, "brier", "cross") < cell(tab, "brier") - 0.00005
    assert ("lowers the Brier score" if lowers else "does not lower the Brier score") in advice


def test_cross_fitted_figures_never_see_their_own_rows(tab, default_model, wait_until):
    from bcdesktop.gui import calibration_analysis as ca

    oof = default_model.oof
    choose(tab, "platt")
    shown(tab, wait_until)
    group = ca.crossfit_folds(oof.scores)
    # identical score patterns always share a group, and there are ten groups
    _, pattern = np.unique(oof.scores, axis=0, return_inverse=True)
    assert all(len(set(group[pattern.reshape(-1) == k])) == 1 for k in range(pattern.max() + 1))
    assert set(group) == set(range(10))
    held = group == 3
    fit = calibrate.fit_recalibration("platt", oof.probs[:, ~held], oof.labels[~held])
    assert np.allclose(tab.analysis.cross_probs[:, held], fit.apply(oof.probs[:, held]))
    s = calibrate.calibration_summary(tab.analysis.cross_probs, oof.labels)
    assert cell(tab, "slope", "cross") == pytest.approx(s.slope, abs=0.0005)


def test_decision_curve_and_its_readout_follow_the_threshold(tab, app, root, default_model, wait_until):
    oof = default_model.oof
    plot = shown(tab, wait_until, "dc")
    assert plot.drawn_by == "bcdesktop-draw-decision-curve"
    dc = decision.decision_curve(oof.probs, oof.labels)
    assert np.allclose(tab.curves.main.model_mean, dc.model_mean)
    ax = plot.info["ax"]
    model_line = next(line for line in ax.lines if line.get_label() == "model")
    assert np.allclose(model_line.get_ydata(), dc.model_mean) and len(model_line.get_xdata()) == 99
    for t in (0.2, 0.07):
        app.set_threshold(t)
        root.update()
        at = decision.decision_curve(oof.probs, oof.labels, thresholds=[t])
        text = tab.readout_label.cget("text")
        assert f"net benefit {at.model_mean[0]:.3f}" in text
        assert f"treat all {at.treat_all[0]:.3f}" in text
        assert f"{at.interventions_avoided_mean[0]:.1f} per 100 patients" in text
        assert "better than treating all and than treating none" in tab.verdict_label.cget("text")
        assert tab.threshold_line_x() == pytest.approx(t, abs=0.005)
        x, y = tab.nb_point_xy()
        assert x == pytest.approx(t, abs=0.005) and y == pytest.approx(at.model_mean[0], abs=0.005)
    # the clinically relevant range only: the curve is drawn to 25%, the marker hides above it
    tab.range_box.set("0-25%")
    tab.range_box.event_generate("<<ComboboxSelected>>")
    wait_until(lambda: not tab.dc_plot.pending and tab.dc_plot.info.get("t_max") == 0.25, timeout=20)
    line = next(line for line in tab.dc_plot.info["ax"].lines if line.get_label() == "model")
    assert max(line.get_xdata()) == pytest.approx(25)
    assert tab.threshold_line_x() == pytest.approx(0.07, abs=0.005)
    app.set_threshold(0.5)
    root.update()
    assert tab.threshold_line_x() is None and "0.50" in tab.readout_label.cget("text")


def test_apply_and_remove_recalibration(tab, app, root, default_model, wait_until):
    oof = default_model.oof
    case = np.array([[5, 4, 4, 5, 7, 10, 3, 2, 1]], dtype=float)
    raw = default_model.raw_proba(case)
    assert not tab.apply_button.instate(["!disabled"])  # nothing chosen yet
    assert not tab.remove_button.instate(["!disabled"])
    choose(tab, "platt")
    shown(tab, wait_until)
    assert tab.apply_button.instate(["!disabled"])
    tab.apply_button.invoke()
    root.update()
    model = app.model
    expected = calibrate.fit_recalibration("platt", oof.probs, oof.labels)
    assert model.recalibration.kind == "platt" and np.allclose(model.recalibration.params, expected.params)
    assert model.model_id != default_model.model_id
    assert model.predict_proba(case) == pytest.approx(expected.apply(raw))
    assert model.predict_proba(case) != pytest.approx(raw)
    status = app.status.text()
    assert f"Model: {model.model_id} (recalibrated: Platt scaling)" in status
    assert "applies Platt scaling fitted on 3,415" in tab.recal_label.cget("text")
    assert tab.choice_var.get() == "platt" and not tab.apply_button.instate(["!disabled"])
    # the decision curve is now the recalibrated model's, cross-fitted, beside the network's
    shown(tab, wait_until, "dc")
    assert "Platt recalibrated (cross-fitted)" in tab.curve_label.cget("text")
    assert "network without recalibration" in tab.curve_label.cget("text")

    tab.pages.select(tab.calibration_page)
    tab.remove_button.invoke()
    root.update()
    assert app.model.recalibration is None
    assert app.model.model_id == default_model.model_id  # the same file as before
    assert app.model.predict_proba(case) == pytest.approx(raw)
    assert f"Model: {default_model.model_id} (recalibration removed)" in app.status.text()
    assert "not recalibrated" in tab.recal_label.cget("text")


def test_a_model_without_evidence_says_so_and_gets_it(app, root, trained_bundle, wait_until):
    bundle = trained_bundle.with_parts(oof=None)
    app.set_model(bundle, source="test")
    app.select_tab("calibration")
    root.update()
    tab = app.tabs["calibration"]
    assert "carries no out-of-fold evidence" in tab.source_label.cget("text")
    assert tab.compute_button.winfo_ismapped() and tab.compute_button.instate(["!disabled"])
    assert not tab.choice_buttons["platt"].instate(["!disabled"])
    tab.compute_button.invoke()
    root.update()
    assert "Cross-validating" in tab.evidence_label.cget("text")
    assert not tab.compute_button.instate(["!disabled"])  # one run at a time
    wait_until(lambda: getattr(app.model, "oof", None) is not None, timeout=60,
               message="the out-of-fold evidence never arrived")
    oof = app.model.oof
    assert f"{oof.n:,} rows x {oof.repeats} repeats" in tab.source_label.cget("text")
    assert not tab.compute_button.winfo_ismapped()
    plot = shown(tab, wait_until)
    s = calibrate.calibration_summary(oof.probs, oof.labels)
    assert cell(tab, "brier") == pytest.approx(s.brier, abs=0.00005)
    assert plot.figure is not None


@pytest.mark.parametrize("size", (1.0, 1.5))
def test_every_control_is_reachable_and_uncut(tab, app, root, wait_until, size):
    from test_text_size import tab_problems  # its rules assume a 1366x768 screen: a window that fits one

    choose(tab, "platt")  # the widest state: three columns of figures
    if size != 1.0:
        app.change_text_scale(size)  # (which may make the window larger: set its size after)
    root.geometry("1280x740+0+0")
    shown(tab, wait_until)
    root.update()
    assert not tab_problems(app, "calibration")
    # side by side or stacked, the page never scrolls sideways
    assert not app.pages["calibration"].scrollable[0]
