"""The Threshold tab: slider and entry in sync, metrics as metrics.metrics_at says,
the pictures following, and the sensitivity target."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bcdesktop import metrics

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app, root, trained_bundle):
    app.set_model(trained_bundle, source="test")
    root.update()
    return app.tabs["threshold"]


def shown_metrics(tab):
    return {row[0].split(" ")[0]: row[1:] for row in tab.metrics_table.rows()}


def expected_metrics(trained_bundle, t):
    m = metrics.metrics_at(trained_bundle.eval_labels, trained_bundle.eval_probs, t)
    rows = {}
    for name, rate in (("Accuracy", m.accuracy), ("Sensitivity", m.sensitivity), ("Specificity", m.specificity),
                       ("PPV", m.ppv), ("NPV", m.npv)):
        rows[name] = (f"{100 * rate.value:.1f}%", f"{100 * rate.low:.1f}-{100 * rate.high:.1f}%",
                      f"{rate.k} / {rate.n}")
    return m, rows


def test_says_which_predictions_it_uses(tab, app, root, trained_bundle):
    n = trained_bundle.eval_probs.size
    assert f"validation rows (n={n})" in tab.source_label.cget("text")
    app.set_model(dataclasses.replace(trained_bundle, eval_kind="out-of-fold"), source="test")
    root.update()
    assert f"out-of-fold predictions (n={n})" in tab.source_label.cget("text")


def shown_pictures(tab, wait_until):
    """Wait until the tab's pictures (drawn in a worker) are on screen, at the canvas's size."""
    wait_until(lambda: tab.figure is not None and not tab.plot.pending, timeout=20,
               message="the Threshold tab's pictures never appeared")


def test_slider_moves_threshold_entry_metrics_and_pictures(tab, app, root, trained_bundle, wait_until):
    assert tab.figure is None and (tab.plot is None or not tab.plot.drawing)  # nothing drawn before it is shown
    app.select_tab("threshold")
    shown_pictures(tab, wait_until)
    assert tab.plot.drawn_by == "bcdesktop-draw-threshold-pictures"  # not the Tk thread
    tab.scale.set(0.3)  # as a drag does: the scale's command runs
    root.update()
    assert app.threshold == pytest.approx(0.3)
    assert tab.entry_var.get() == "0.30"
    m, rows = expected_metrics(trained_bundle, 0.3)
    assert shown_metrics(tab) == rows
    assert tab.confusion.values() == {"tp": f"TP {m.tp}", "fp": f"FP {m.fp}", "tn": f"TN {m.tn}",
                                      "fn": f"FN {m.fn}"}
    # the dashed line sits at 0.3 on the probability axis, from the bottom of the bars' axes to their top
    assert tab.threshold_line_x() == pytest.approx(0.3, abs=0.005)
    x0, top, x1, bottom = tab.plot.widget.coords(tab.threshold_line)
    box = tab.ax_hist.get_window_extent()
    height = tab.figure.bbox.height
    assert x0 == x1 and (top, bottom) == pytest.approx((height - box.y1, height - box.y0), abs=1)
    # the point sits on the ROC curve where this threshold operates (to within a pixel)
    fpr, tpr = tab.roc_point_xy()
    pixel = 1 / tab.ax_roc.get_window_extent().width
    assert (fpr, tpr) == pytest.approx((1 - m.specificity.value, m.sensitivity.value), abs=2 * pixel)
    assert "Threshold: 0.30" in app.status.text()
    requests = tab.plot.requests
    app.set_threshold(0.8)  # the moving pieces follow, the picture under them is not drawn again
    root.update()
    assert tab.threshold_line_x() == pytest.approx(0.8, abs=0.005) and tab.plot.requests == requests


def test_histogram_legend_sits_between_title_and_bars(tab, app, root, wait_until):
    app.select_tab("threshold")
    shown_pictures(tab, wait_until)
    renderer = tab.plot.canvas.get_renderer()
    tab.figure.draw(renderer)
    axes = tab.ax_hist.get_window_extent(renderer)
    legend = tab.ax_hist.get_legend().get_window_extent(renderer)
    title = tab.ax_hist.title.get_window_extent(renderer)
    assert [t.get_text().split(" ")[0] for t in tab.ax_hist.get_legend().get_texts()] == ["Benign", "Malignant"]
    assert legend.y0 >= axes.y1 - 1  # above the bars: the moving threshold line never crosses it
    assert legend.y1 <= title.y0 + 1  # and below the title, not over it


def test_entry_sets_slider_and_refuses_bad_values(tab, app, root, trained_bundle):
    app.select_tab("threshold")  # keys reach only a shown widget
    root.update()
    tab.entry.focus_force()
    tab.entry_var.set("0.735")
    root.update()
    tab.entry.event_generate("<Return>")
    root.update()
    assert app.threshold == pytest.approx(0.735)
    assert float(tab.scale.get()) == pytest.approx(0.735)
    assert shown_metrics(tab) == expected_metrics(trained_bundle, 0.735)[1]
    for bad, words in (("1.5", "outside 0.01 to 0.99"), ("0", "outside 0.01 to 0.99"), ("abc", "not a number")):
        tab.entry_var.set(bad)
        tab.entry.event_generate("<Return>")
        root.update()
        assert words in tab.entry_message.cget("text")
        assert app.threshold == pytest.approx(0.735)
    tab.entry_var.set("40%")
    tab.entry.event_generate("<Return>")
    root.update()
    assert app.threshold == pytest.approx(0.4) and tab.entry_message.cget("text") == ""


def test_threshold_set_elsewhere_moves_the_controls(tab, app, root, trained_bundle):
    app.set_threshold(0.62)
    root.update()
    assert float(tab.scale.get()) == pytest.approx(0.62)
    assert tab.entry_var.get() == "0.62"
    assert shown_metrics(tab) == expected_metrics(trained_bundle, 0.62)[1]


def test_arrow_keys_step_the_slider(tab, app, root):
    app.select_tab("threshold")  # keys reach only a shown widget
    root.update()
    app.set_threshold(0.5)
    tab.scale.focus_force()
    root.update()
    tab.scale.event_generate("<Right>")
    tab.scale.event_generate("<Right>")
    tab.scale.event_generate("<Left>")
    root.update()
    assert app.threshold == pytest.approx(0.51)
    tab.scale.event_generate("<Prior>")
    root.update()
    assert app.threshold == pytest.approx(0.61)


def test_find_threshold_for_sensitivity(tab, app, root, trained_bundle):
    y, p = trained_bundle.eval_labels, trained_bundle.eval_probs
    tab.target_var.set("97")
    tab.find_button.invoke()
    root.update()
    best = metrics.threshold_for_sensitivity(y, p, 0.97)
    t = app.threshold
    assert t <= best and best - t < 1e-4 or t == 0.01
    sens = metrics.metrics_at(y, p, t).sensitivity.value
    assert sens >= 0.97
    # the next malignant probability above t would drop below the target: t is the highest
    above = np.sort(p[(y == 1) & (p > best)])
    if above.size:
        assert metrics.metrics_at(y, p, float(above[0])).sensitivity.value < 0.97
    assert "meets 97%" in tab.find_label.cget("text")
    assert f"{100 * sens:.1f}%" in tab.find_label.cget("text")
    for bad in ("0", "120", "lots"):
        tab.target_var.set(bad)
        tab.find_button.invoke()
        assert "Enter a sensitivity" in tab.find_label.cget("text")
    assert app.threshold == t


def test_a_threshold_found_on_the_validation_rows_is_called_optimistic(tab, app, root, trained_bundle):
    y, p = trained_bundle.eval_labels, trained_bundle.eval_probs
    n_pos = int((y == 1).sum())
    tab.target_var.set("99")
    tab.find_button.invoke()
    root.update()
    note = tab.find_note.cget("text")
    assert "Optimistic" in note and f"same {n_pos} malignant validation rows" in note
    sens = metrics.metrics_at(y, p, app.threshold).sensitivity
    assert f"{100 * sens.low:.1f}% to {100 * sens.high:.1f}%" in note
    assert "lower 95% bound \u2265 99%" in note

    # the lower bound cannot reach 99% on a few dozen cancers: said plainly, threshold kept
    before = app.threshold
    tab.criterion.set(tab.criterion.cget("values")[1])
    tab.criterion.event_generate("<<ComboboxSelected>>")
    root.update()
    text = tab.find_label.cget("text")
    low = 100 * metrics.wilson_interval(n_pos, n_pos)[0]
    assert f"even finding all {n_pos} malignant validation rows gives a lower bound of {low:.1f}%" in text
    assert f"at least {metrics.malignant_cases_needed(0.99):,} malignant cases" in text
    assert app.threshold == before and tab.find_note.cget("text") == ""

    # a bound that can be shown: the threshold keeps the lower end of the interval at it
    target = 80
    tab.target_var.set(str(target))
    tab.find_button.invoke()
    root.update()
    m = metrics.metrics_at(y, p, app.threshold)
    assert 100 * m.sensitivity.low >= target
    assert f"lower 95% bound {100 * m.sensitivity.low:.1f}% (meets {target}%)" in tab.find_label.cget("text")
    best, _ = metrics.threshold_for_sensitivity_bound(y, p, target / 100)
    assert app.threshold <= best and (best - app.threshold < 1e-4 or app.threshold == 0.01)


def test_model_without_held_out_predictions(tab, app, root, trained_bundle):
    bare = dataclasses.replace(trained_bundle, eval_probs=None, eval_labels=None, eval_kind=None)
    app.set_model(bare, source="test")
    root.update()
    assert "no held-out predictions" in tab.source_label.cget("text")
    assert tab.find_button.instate(["disabled"])
    assert tab.metrics_table.rows() == []
    app.set_threshold(0.25)  # the slider still works; nothing to evaluate
    root.update()
    assert tab.entry_var.get() == "0.25"


def test_the_roc_curve_of_the_pictures_matches_scikit_learn(trained_bundle):
    from sklearn.metrics import roc_auc_score

    y, p = trained_bundle.eval_labels, trained_bundle.eval_probs
    roc = metrics.roc_curve_auc(y, p)
    fpr, tpr, auc = roc.fpr, roc.tpr, roc.auc
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert math.isnan(metrics.roc_curve_auc(np.zeros(3, int), np.array([0.1, 0.2, 0.3])).auc)


def test_widths_follow_the_text_size(tab, root):
    from bcdesktop.gui import widgets

    tab.app.select_tab("threshold")
    root.update()
    before = int(str(tab.scale.cget("length")))
    column = tab.metrics_table.tree.column("metric", "width")
    widgets.set_text_scale(root, 2.0)
    root.event_generate("<<TextScaleChanged>>")
    ratio = int(str(tab.scale.cget("length"))) / before
    assert 1.6 < ratio < 2.4
    assert tab.metrics_table.tree.column("metric", "width") == pytest.approx(column * ratio, abs=2)
    root.update()  # labels that wrap at their width still fit in it
    assert 1 < int(str(tab.source_label.cget("wraplength"))) <= tab.source_label.winfo_width()


def test_the_pictures_are_drawn_in_a_worker_while_the_window_keeps_running(tab, app, root, wait_until,
                                                                           held_drawing):
    import threading

    from bcdesktop.gui import tab_threshold

    drawing = held_drawing(tab_threshold, "draw_pictures")
    app.select_tab("threshold")
    shown_pictures(tab, wait_until)
    assert drawing[0] is not threading.main_thread() and tab.plot.drawn_by == drawing[0].name
    assert [ax.get_title().split(" (")[0] for ax in (tab.ax_roc, tab.ax_hist)] == [
        "ROC curve", "Probabilities by true class"]
    assert tab.threshold_line_x() == pytest.approx(app.threshold, abs=0.005)
    assert not app.busy  # the window's own drawing is no work for Escape to stop


def test_a_new_model_is_drawn_again_and_one_without_predictions_shows_no_point(tab, app, root, trained_bundle,
                                                                            wait_until):
    app.select_tab("threshold")
    shown_pictures(tab, wait_until)
    assert tab.roc_point_xy() is not None
    bare = dataclasses.replace(trained_bundle, eval_probs=None, eval_labels=None, eval_kind=None)
    app.set_model(bare, source="test")
    wait_until(lambda: tab.ax_hist is not None and tab.ax_hist.get_ylabel() == "Cases" and not tab.plot.pending,
               timeout=20)
    assert tab.roc_point_xy() is None  # no held-out predictions: no operating point
    assert tab.threshold_line_x() == pytest.approx(app.threshold, abs=0.005)  # the line still shows the threshold
    texts = [t.get_text() for t in tab.ax_roc.texts]
    assert texts == ["No held-out predictions"]
