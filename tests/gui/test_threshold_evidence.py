"""The Threshold tab on out-of-fold evidence (issue 11): the evidence choice and the
button that computes it, the figures a user reads (checked against bcdesktop.decision
computed here), prevalence, costs, the threshold rules, and the cases behind a count."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bcdesktop import decision, metrics

pytestmark = pytest.mark.gui


@pytest.fixture(scope="session")
def oof_bundle(bundled, trained_bundle):
    """The session's small model with its out-of-fold evidence (10-fold x 5, ~1.5 s)."""
    from bcdesktop import outoffold
    from bcdesktop.training import TrainConfig

    settings = {k: v for k, v in trained_bundle.settings.items() if k in TrainConfig().to_dict()}
    oof = outoffold.compute(bundled.X, bundled.y, TrainConfig.from_dict(settings))
    return trained_bundle.with_parts(oof=oof)


@pytest.fixture
def tab(app, root, oof_bundle):
    app.set_model(oof_bundle, source="test")
    root.update()
    return app.tabs["threshold"]


def rows_of(table):
    return {row[0]: row[1:] for row in table.rows()}


def pct(x):
    return f"{100 * x:.1f}%"


def interval(low, high):
    return f"{100 * low:.1f}-{100 * high:.1f}%"


def test_out_of_fold_is_the_default_and_the_validation_split_a_choice(tab, app, root, oof_bundle):
    oof = oof_bundle.oof
    assert tab.evidence_var.get() == "out-of-fold"
    assert ("Evidence: out-of-fold predictions of 683 rows x 5 repeats (10-fold, duplicates kept together)"
            in tab.source_label.cget("text"))
    assert not tab.compute_button.winfo_manager()  # nothing to compute
    app.set_threshold(0.4)
    root.update()
    m = decision.evidence_metrics(oof.probs, oof.labels, 0.4)
    shown = rows_of(tab.metrics_table)
    for name, rate in (("Sensitivity", m.sensitivity), ("Specificity", m.specificity), ("PPV", m.ppv)):
        assert shown[name][:2] == (pct(rate.value), interval(rate.low, rate.high))
        assert shown[name][2] == f"{rate.k / 5:.1f} / {rate.n // 5}"  # the average per repeat
    assert tab.confusion.values()["fn"] == f"FN {m.fn / 5:.1f}"
    assert "average over the 5 repeats" in tab.counts_note.cget("text")

    tab.evidence_radios["validation"].invoke()
    root.update()
    n = oof_bundle.eval_probs.size
    assert f"validation rows (n={n})" in tab.source_label.cget("text")
    v = metrics.metrics_at(oof_bundle.eval_labels, oof_bundle.eval_probs, 0.4)
    assert rows_of(tab.metrics_table)["Sensitivity"] == (pct(v.sensitivity.value),
                                                         interval(v.sensitivity.low, v.sensitivity.high),
                                                         f"{v.sensitivity.k} / {v.sensitivity.n}")
    assert tab.confusion.values()["tp"] == f"TP {v.tp}"


def test_more_figures_beside_the_metrics(tab, app, root, oof_bundle):
    oof = oof_bundle.oof
    app.set_threshold(0.3)
    root.update()
    m = decision.evidence_metrics(oof.probs, oof.labels, 0.3)
    p, y = oof.pooled()
    shown = {name: value for name, value in tab.extra_table.rows()}
    assert shown["F1 score"] == f"{metrics.f1_from_counts(m.tp, m.fp, m.tn, m.fn):.3f}"
    assert shown["Matthews correlation (MCC)"] == f"{metrics.mcc_from_counts(m.tp, m.fp, m.tn, m.fn):.3f}"
    assert shown["Cohen's kappa"] == f"{metrics.kappa_from_counts(m.tp, m.fp, m.tn, m.fn):.3f}"
    assert shown["Log loss (every threshold)"] == f"{metrics.log_loss(y, p):.3f}"


def test_prevalence_gives_ppv_npv_and_counts_per_1000(tab, app, root, oof_bundle):
    oof = oof_bundle.oof
    assert tab.prevalence_var.get() == f"{100 * oof.prevalence:.4g}"  # the evidence's own, 35%
    app.set_threshold(0.5)
    tab.prevalence_var.set("5")
    tab.prevalence_button.invoke()
    root.update()
    ap = decision.at_prevalence(decision.evidence_metrics(oof.probs, oof.labels, 0.5), 0.05)
    shown = rows_of(tab.prevalence_table)
    assert shown["PPV at 5%"] == (pct(ap.ppv.value), interval(ap.ppv.low, ap.ppv.high))
    assert shown["NPV at 5%"] == (pct(ap.npv.value), interval(ap.npv.low, ap.npv.high))
    assert tab.per_1000.values() == {"tp": f"TP {ap.tp:.1f}", "fp": f"FP {ap.fp:.1f}", "tn": f"TN {ap.tn:.1f}",
                                     "fn": f"FN {ap.fn:.1f}"}
    assert "at 5%" in tab.per_1000.title.cget("text")
    for bad in ("0", "100", "abc"):
        tab.prevalence_var.set(bad)
        tab.apply_prevalence()
        assert "\u26a0" in tab.prevalence_message.cget("text")
    assert tab.prevalence() == 0.05  # kept
    tab.own_prevalence_button.invoke()
    assert tab.prevalence() == pytest.approx(oof.prevalence)


def test_costs_a_ratio_or_a_matrix_and_the_cheapest_threshold(tab, app, root, oof_bundle, wait_until):
    oof = oof_bundle.oof
    pi = oof.prevalence
    app.set_threshold(0.5)
    tab.ratio_var.set("20")
    tab.ratio_button.invoke()
    root.update()
    costs = decision.Costs.from_ratio(20)
    m = decision.evidence_metrics(oof.probs, oof.labels, 0.5)
    cost = float(costs.per_1000(m.sensitivity.value, m.specificity.value, pi))
    assert f"Expected cost at threshold 0.50: {cost:.1f} per 1,000 patients" in tab.cost_label.cget("text")
    best, best_cost = decision.min_cost_threshold(oof.probs, oof.labels, costs, pi)
    text = tab.best_label.cget("text")
    assert f"threshold {best:.4f}".rstrip("0") in text and f"{best_cost:.1f} per 1,000" in text
    assert "optimum is 0.0476 (1/(1+R) at the data" in text  # 1/21, at the data's own prevalence

    # the marks on the probability picture, and the curve on its own page
    app.select_tab("threshold")
    wait_until(lambda: tab.figure is not None and not tab.plot.pending, timeout=20)
    pixel = 1 / tab.ax_hist.get_window_extent().width
    assert tab.mark_x("best") == pytest.approx(best, abs=2 * pixel)
    assert tab.mark_x("theory") == pytest.approx(1 / 21, abs=2 * pixel)
    tab.views.select(tab.pages["costs"])
    wait_until(lambda: tab.cost_plot is not None and tab.cost_plot.figure is not None
               and not tab.cost_plot.pending, timeout=20)
    assert tab.cost_plot.drawn_by == "bcdesktop-draw-cost-curve"
    line = tab.cost_plot.info["ax"].get_lines()[0]
    curve = decision.expected_cost_curve(oof.probs, oof.labels, costs, pi)
    assert np.allclose(line.get_ydata(), curve.pooled)

    # a 2x2 matrix (Weka's): only the differences matter, ratio (5 - 0.5) / (1 - 0) = 4.5
    tab.matrix_var.set(True)
    tab._toggle_matrix()
    for key, value in (("c_tp", "0.5"), ("c_fn", "5"), ("c_fp", "1"), ("c_tn", "0")):
        tab.matrix_vars[key].set(value)
    tab.matrix_button.invoke()
    root.update()
    assert tab.costs == decision.Costs(0.5, 1, 5, 0) and tab.ratio_var.get() == "4.5"
    matrix = decision.Costs(0.5, 1, 5, 0)
    cost = float(matrix.per_1000(m.sensitivity.value, m.specificity.value, pi))
    assert f"{cost:.1f} per 1,000 patients (cost units)" in tab.cost_label.cget("text")
    tab.matrix_vars["c_fn"].set("0.2")  # a missed cancer cheaper than one found: refused, costs kept
    tab.matrix_button.invoke()
    assert "missed cancer must cost more" in tab.cost_message.cget("text")
    assert tab.costs == matrix


def test_each_rule_applies_a_threshold_and_says_which_rows_it_chose_on(tab, app, root, oof_bundle):
    oof = oof_bundle.oof
    p, y = oof.probs, oof.labels

    tab.spec_var.set("98")
    tab.spec_button.invoke()
    root.update()
    choice = decision.choose_threshold(p, y, "specificity", 0.98)
    assert app.threshold >= choice.threshold and app.threshold - choice.threshold < 1e-4
    assert decision.evidence_metrics(p, y, app.threshold).specificity.value >= 0.98
    assert f"Chosen as {choice.chosen_by}." in tab.find_label.cget("text")
    assert "683 out-of-fold rows x 5 repeats" in choice.chosen_by

    tab.youden_button.invoke()
    root.update()
    choice = decision.choose_threshold(p, y, "youden")
    assert app.threshold <= choice.threshold and choice.threshold - app.threshold < 1e-4
    assert f"Chosen as {choice.chosen_by}." in tab.find_label.cget("text")

    tab.ratio_var.set("10")
    tab.apply_costs()
    tab.cost_button.invoke()
    root.update()
    choice = decision.choose_threshold(p, y, "cost", prevalence=oof.prevalence, cost=10)
    assert app.threshold <= choice.threshold and choice.threshold - app.threshold < 1e-4
    assert "minimising expected cost" in tab.find_label.cget("text")

    tab.target_var.set("97")
    tab.find_button.invoke()
    root.update()
    choice = decision.choose_threshold(p, y, "sensitivity", 0.97)
    assert app.threshold <= choice.threshold and choice.threshold - app.threshold < 1e-4
    assert "meets 97%" in tab.find_label.cget("text")
    assert "sensitivity >= 97% on 683 out-of-fold rows x 5 repeats" in tab.find_label.cget("text")

    tab.criterion.set(tab.criterion.cget("values")[1])  # the lower bound, at 683 rows, not 5 x 683
    tab.target_var.set("95")
    tab.find_button.invoke()
    root.update()
    choice = decision.choose_threshold(p, y, "sensitivity_bound", 0.95)
    assert app.threshold <= choice.threshold and choice.threshold - app.threshold < 1e-4
    assert decision.evidence_metrics(p, y, app.threshold).sensitivity.low >= 0.95


def test_a_confusion_cell_lists_its_cases_and_enter_opens_one(tab, app, root, oof_bundle, bundled, focused,
                                                              wait_until):
    oof = oof_bundle.oof
    app.select_tab("threshold")
    app.set_threshold(0.5)
    root.update()
    cell = tab.confusion.cells["fp"]
    assert str(cell.cget("takefocus")) in ("1", "True")  # the keyboard reaches the cells
    cell.focus_force()
    wait_until(lambda: root.focus_get() is cell, timeout=5)
    cell.event_generate("<Return>")
    root.update()
    mean = oof.probs.mean(axis=0)
    expected = np.flatnonzero((oof.labels == 0) & (mean >= 0.5))
    assert tab.views.select() == str(tab.pages["cases"])
    assert len(tab.case_table.rows()) == expected.size > 0
    assert sorted(tab.case_table.indices) == expected.tolist()
    title = tab.cases_title.cget("text")
    assert title.startswith(f"{expected.size} false positives (benign, called malignant)")
    assert "mean out-of-fold probability over the 5 repeats" in title
    first = tab.case_table.rows()[0]
    i = tab.case_table.indices[0]
    assert first[:2] == (str(bundled.lines[i]), str(bundled.ids[i]))  # the model's training data
    assert first[2:11] == tuple(str(int(v)) for v in bundled.X[i]) and first[11] == f"{mean[i]:.3f}"
    assert tab.cases_why.cget("text") == ""

    tree = tab.case_table.tree
    wait_until(lambda: root.focus_get() is tree, timeout=5)
    tree.event_generate("<Return>")
    root.update()
    patient = app.tabs["patient"]
    assert app.notebook.select() == str(patient)
    values, problems = patient.field_values()
    assert not problems and tuple(values.values()) == tuple(int(v) for v in bundled.X[i])
    assert f"Line {bundled.lines[i]}, sample {bundled.ids[i]}: a false positive" in patient.example_label.cget("text")

    # a click on another cell lists that one; the list follows the threshold once the slider rests
    app.select_tab("threshold")
    tab.views.select(tab.pages["calls"])
    root.update()
    tab.confusion.cells["tn"].event_generate("<Button-1>")
    root.update()
    assert len(tab.case_table.rows()) == np.count_nonzero((oof.labels == 0) & (mean < 0.5))
    app.set_threshold(0.9)
    wait_until(lambda: len(tab.case_table.rows()) == np.count_nonzero((oof.labels == 0) & (mean < 0.9)),
               timeout=5)


def test_cases_of_other_data_have_no_line_or_id_and_say_why(tab, app, root, oof_bundle, bundled):
    other = dataclasses.replace(bundled, sha256="0" * 64, path="elsewhere.csv")
    app.set_dataset(other)
    root.update()
    tab.show_cases("fn")
    root.update()
    rows = tab.case_table.rows()
    assert rows and all(row[0] == row[1] == "\u2014" for row in rows)
    assert all(row[2] != "\u2014" for row in rows)  # the model's own copy of the scores
    assert "not the model's training data" in tab.cases_why.cget("text")
    assert tab.open_button.instate(["!disabled"])

    tab.evidence_radios["validation"].invoke()  # the split keeps no scores: probabilities only
    tab.show_cases("tn")
    root.update()
    rows = tab.case_table.rows()
    assert rows and all(row[2] == "\u2014" for row in rows)
    assert "not their scores" in tab.cases_why.cget("text")
    assert tab.open_button.instate(["disabled"])


def test_compute_evidence_from_the_tab(app, root, trained_bundle, wait_until):
    app.set_model(trained_bundle, source="test")
    root.update()
    tab = app.tabs["threshold"]
    assert tab.evidence_var.get() == "validation"
    assert tab.evidence_radios["out-of-fold"].instate(["disabled"])
    assert "no out-of-fold evidence" in tab.source_label.cget("text")
    assert tab.compute_button.winfo_manager() and tab.compute_button.instate(["!disabled"])
    tab.compute_button.invoke()
    assert tab.compute_button.instate(["disabled"])
    assert "Cross-validating" in tab.evidence_state_label.cget("text")
    assert tab.metrics_table.rows()  # the validation split stays usable meanwhile
    app.set_threshold(0.4)
    root.update()
    wait_until(lambda: getattr(app.model, "oof", None) is not None, timeout=60,
               message="the out-of-fold evidence never arrived")
    root.update()
    assert tab.evidence_var.get() == "out-of-fold"
    assert "out-of-fold predictions of 683 rows x 5 repeats" in tab.source_label.cget("text")
    assert not tab.compute_button.winfo_manager()
    assert tab.evidence_state_label.cget("text") == ""
    assert app.threshold == pytest.approx(0.4)  # kept


def test_the_slider_path_follows_every_step_on_683_x_5_rows(tab, app, root, wait_until):
    """Every figure that follows the slider, on 683 x 5 pooled pairs, is the last step's
    (how long a step takes is bench/bench_evidence_gui.py's to measure, not a test's)."""
    app.select_tab("threshold")
    wait_until(lambda: tab.figure is not None and not tab.plot.pending, timeout=20)
    tab.show_cases("tn", select=False)
    for i in range(60):
        tab._on_slide(str(0.05 + (i % 90) / 100))
    root.update()
    assert math.isclose(float(tab.scale.get()), app.threshold)
    assert app.threshold == pytest.approx(0.05 + (59 % 90) / 100, abs=1e-9)


def test_validation_cases_are_found_again_in_the_training_data(app, root, trained_bundle, bundled, wait_until):
    app.set_model(trained_bundle, source="test")
    root.update()
    tab = app.tabs["threshold"]
    assert tab.evidence_var.get() == "validation"
    app.set_threshold(0.5)
    tab.show_cases("tn")
    wait_until(lambda: tab.case_table.rows() and tab.case_table.rows()[0][0] != "\u2014", timeout=30,
               message="the validation rows were never found in the training data")
    y, p = trained_bundle.eval_labels, trained_bundle.eval_probs
    rows = tab.case_table.rows()
    assert len(rows) == np.count_nonzero((y == 0) & (p < 0.5))
    for line, sample, *rest in rows[:5]:  # each row is the data's own line, with the model's probability
        i = int(np.flatnonzero(bundled.lines == int(line))[0])
        assert str(bundled.ids[i]) == sample and rest[:9] == [str(int(v)) for v in bundled.X[i]]
        assert f"{trained_bundle.predict_proba(bundled.X[i:i + 1])[0]:.3f}" == rest[9]
    assert tab.open_button.instate(["!disabled"]) and tab.cases_why.cget("text") == ""
    assert "of the 137 validation rows" in tab.cases_title.cget("text")
