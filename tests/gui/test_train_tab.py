"""The Train tab: inline validation, live loss plot, stop, results, divergence, cross-validation."""

from __future__ import annotations

import re

import pytest

from bcdesktop import persistence

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app):
    app.select_tab("train")
    app.root.update()
    return app.tabs["train"]


def set_fields(tab, **values):
    for key, value in values.items():
        tab.fields[key].set(value)


def message(tab, key):
    return tab.fields[key].message.cget("text")


def test_inline_validation_messages_and_start_refused(tab, app):
    set_fields(tab, hidden="abc", lr="0", iterations="3.5", l2="-1", threshold="1.2", val_fraction="")
    assert "'abc' is not a whole number" in message(tab, "hidden")
    assert "must be above 0" in message(tab, "lr")
    assert "'3.5' is not a whole number" in message(tab, "iterations")
    assert "must be in [0, 10]" in message(tab, "l2")
    assert "must be in [0.01, 0.99]" in message(tab, "threshold")
    assert "enter a fraction" in message(tab, "val_fraction")
    assert str(tab.fields["hidden"].message.cget("style")) == "Error.TLabel"
    tab.start_button.invoke()
    assert tab.job is None
    assert "Fix the settings marked in red" in tab.run_message.cget("text")
    assert app.dialogs.messages == []  # inline, never a popup
    set_fields(tab, hidden="16, 8", lr="0.05", iterations="200", l2="0", threshold="0.4", val_fraction="0.25")
    for key in ("hidden", "lr", "iterations", "l2", "threshold", "val_fraction"):
        assert tab.fields[key].error is None
    assert "\u26a0" not in message(tab, "hidden")


def test_split_choice_enables_the_matching_field(tab):
    assert str(tab.fields["train_rows"].input.cget("state")) == "disabled"
    tab.fields["split"].set("first N rows")
    assert str(tab.fields["train_rows"].input.cget("state")) == "normal"
    assert str(tab.fields["val_fraction"].input.cget("state")) == "disabled"


def test_l2_follows_the_optimizer_default_until_the_user_types_one(tab):
    from bcdesktop.training import DEFAULT_L2

    l2 = tab.fields["l2"]
    assert tab.fields["optimizer"].var.get() == "adam" and float(l2.var.get()) == DEFAULT_L2["adam"] > 0
    assert message(tab, "l2") == f"adam default: {DEFAULT_L2['adam']:g}"
    for optimizer in ("gd", "momentum", "adam", "gd"):
        tab.fields["optimizer"].set(optimizer)
        assert float(l2.var.get()) == DEFAULT_L2[optimizer]
        assert message(tab, "l2") == f"{optimizer} default: {DEFAULT_L2[optimizer]:g}"
    config, _ = tab.read_config()
    assert config.optimizer == "gd" and config.l2 == DEFAULT_L2["gd"]

    l2.set("0.01")  # the user's own value stays whatever the optimizer
    for optimizer in ("adam", "momentum"):
        tab.fields["optimizer"].set(optimizer)
        assert l2.var.get() == "0.01"
        assert message(tab, "l2") == f"{optimizer} default: {DEFAULT_L2[optimizer]:g}"
    config, _ = tab.read_config()
    assert config.optimizer == "momentum" and config.l2 == 0.01


def test_training_grows_the_plot_and_shows_results(tab, app, dialogs, tmp_path, wait_until):
    previous = app.model
    set_fields(tab, iterations="300", seed="3")
    tab.start_button.invoke()
    assert tab.job is not None and tab.cancel_button.instate(["!disabled"])
    wait_until(lambda: tab.job is None, timeout=30)
    line = tab.loss_plot.train_line
    assert list(line.get_xdata()) == list(range(301))  # every iteration from 0 to 300
    assert len(tab.loss_plot.val_line.get_ydata()) == 301
    tab.log_check.invoke()
    assert tab.loss_plot.ax.get_yscale() == "log" and tab.log_var.get()
    tab.log_check.invoke()
    assert tab.loss_plot.ax.get_yscale() == "linear"
    assert tab.loss_plot.embedded.toolbar is not None  # matplotlib's zoom/pan/save toolbar
    assert tab.progress_label.cget("text").startswith("Finished after 300 iterations")
    result = tab.result_label.cget("text")
    outcome = tab.outcome
    assert outcome.bundle.model_id in result and "validation accuracy" in result
    assert f"of {outcome.val_metrics.n}" in result
    vm = outcome.val_metrics
    assert tab.val_confusion.values() == {"tp": f"TP {vm.tp}", "fn": f"FN {vm.fn}", "fp": f"FP {vm.fp}",
                                          "tn": f"TN {vm.tn}"}
    assert vm.tp + vm.fn + vm.fp + vm.tn == 137
    assert app.model is previous  # not active until the user says so

    tab.use_button.invoke()
    assert app.model is outcome.bundle
    assert f"Model: {outcome.bundle.model_id} (trained)" in app.status.text()

    target = tmp_path / "mine.npz"
    dialogs.answer_save(target)
    tab.save_button.invoke()
    assert persistence.load_model(target).model_id == outcome.bundle.model_id


def test_plot_grows_while_training_and_stop_keeps_partial_model(tab, app, wait_until):
    set_fields(tab, iterations="200000")
    tab.start_button.invoke()
    wait_until(lambda: tab.loss_plot.n_points >= 2, timeout=20)
    first = tab.loss_plot.n_points
    wait_until(lambda: tab.loss_plot.n_points > first, timeout=20)  # the drawn line keeps growing
    # the time left appears once 2% of the run is done: wait for it, at no fixed moment
    wait_until(lambda: "left" in tab.progress_label.cget("text"), timeout=60)
    assert "Iteration" in tab.progress_label.cget("text")
    tab.cancel_button.invoke()
    wait_until(lambda: tab.job is None, timeout=20)
    assert tab.outcome.result.stopped == "cancelled"
    assert tab.progress_label.cget("text").startswith("Stopped by you")
    assert "partly trained" in tab.run_message.cget("text")
    assert tab.use_button.instate(["!disabled"])


def test_escape_stops_training(tab, app, press_escape, wait_until):
    previous, previous_threshold = app.model, app.threshold
    set_fields(tab, iterations="200000")
    tab.start_button.invoke()
    wait_until(lambda: tab.loss_plot.n_points >= 2, timeout=20)
    press_escape()
    wait_until(lambda: tab.job is None, timeout=20)
    assert tab.outcome.result.stopped == "cancelled"
    assert tab.outcome.result.iterations_run < 200_000
    assert app.model is previous and app.threshold == previous_threshold  # the partial model is only offered


def test_escape_stops_cross_validation(tab, app, press_escape, wait_until):
    previous = app.model
    set_fields(tab, iterations="200000", folds="3", repeats="1")
    tab.cv_button.invoke()
    assert tab.job is not None
    press_escape()
    wait_until(lambda: tab.job is None, timeout=20)
    assert tab.progress_label.cget("text") == "Cross-validation was stopped."
    assert app.status.text().endswith("| Cross-validation stopped.")  # not left at "Stopping..."
    assert tab.cv_result is None and tab.cv_table.rows() == []
    assert not any(section.startswith("Cross-validation") for section in app.results)
    assert app.model is previous
    assert tab.cv_button.instate(["!disabled"]) and tab.cancel_button.instate(["disabled"])


def test_a_run_that_did_not_learn_says_so_and_asks_before_it_is_used(tab, app, dialogs, tmp_path, wait_until):
    previous, previous_threshold = app.model, app.threshold
    set_fields(tab, optimizer="adam", lr="50", iterations="2000")  # calls everyone benign
    tab.start_button.invoke()
    wait_until(lambda: tab.job is None, timeout=60)
    text = tab.run_message.cget("text")
    assert "did not learn" in text and "Lower the learning rate" in text
    assert "active before is still in use" in text
    status = app.status.text()
    assert "did not learn" in status and "ready to use" not in status
    assert app.model is previous and app.threshold == previous_threshold

    tab.use_button.invoke()  # the question is answered No (the recording dialogs' default)
    kind, title, message = dialogs.calls[-1]
    assert kind == "yes_no" and "did not learn" in title and "anyway" in message
    assert app.model is previous
    target = tmp_path / "failed.npz"
    dialogs.answer_save(target)
    tab.save_button.invoke()  # No again: nothing is asked for a file name, nothing written
    assert dialogs.calls[-1][0] == "yes_no" and not target.exists()

    dialogs.answer_yes_no(True)
    tab.use_button.invoke()
    assert app.model is tab.outcome.bundle


def test_diverged_run_explains_and_keeps_previous_model(tab, app, wait_until):
    previous, previous_threshold = app.model, app.threshold
    set_fields(tab, optimizer="gd", lr="1e100", iterations="300")
    tab.start_button.invoke()
    wait_until(lambda: tab.job is None, timeout=30)
    text = tab.run_message.cget("text")
    assert "diverged" in text and "Lower the learning rate" in text
    assert "active before is still in use" in text
    assert "Traceback" not in text
    assert app.model is previous and app.threshold == previous_threshold
    assert tab.outcome is None and tab.use_button.instate(["disabled"])
    assert app.dialogs.messages == []


def test_cross_validation_shows_mean_sd_and_ci(tab, app, wait_until):
    set_fields(tab, iterations="150", folds="3", repeats="2")
    tab.cv_button.invoke()
    wait_until(lambda: tab.job is None, timeout=60)
    rows = {r[0]: r for r in tab.cv_table.rows()}
    assert list(rows) == ["Accuracy", "Sensitivity", "Specificity", "ROC AUC", "Brier score"]
    mean = tab.cv_result.mean("accuracy")
    assert rows["Accuracy"][1].startswith(f"{100 * mean:.1f}% \u00b1 ")
    assert "%" in rows["Accuracy"][2] and "(" in rows["Accuracy"][2]  # pooled value with its 95% CI
    assert "2 \u00d7 3-fold" in tab.cv_label.cget("text")
    assert tab.progress_label.cget("text").startswith("Cross-validation finished: 2 \u00d7 3 fits")
    assert any(section.startswith("Cross-validation") for section in app.results)


def test_settings_are_remembered(make_app, dialogs):
    import tkinter as tk

    from bcdesktop.gui.app import App

    app = make_app(data=False, model=False)
    fields = app.tabs["train"].fields
    fields["iterations"].set("777")
    fields["optimizer"].set("gd")
    fields["l2"].set("0.003")  # the user's own L2 for gd (whose default is 0)
    assert not app.tabs["train"].compare_var.get()
    app.tabs["train"].compare_check.invoke()  # compare with the baselines
    app.close()  # saves settings and destroys the window
    again = App(tk.Toplevel(), dialogs=dialogs)  # a second window of the session's Tk
    try:
        restored = {key: field.var.get() for key, field in again.tabs["train"].fields.items()}
        assert (restored["iterations"], restored["optimizer"], restored["l2"]) == ("777", "gd", "0.003")
        assert again.tabs["train"].compare_var.get() is True
    finally:
        again.close()


def test_unlabelled_data_cannot_train(tab, app, tmp_path, wait_until):
    path = tmp_path / "unlabelled.csv"
    path.write_text("1000025,5,1,1,1,2,1,3,1,1\n1002945,5,4,4,5,7,10,3,2,1\n", encoding="utf-8")
    app.load_data(path)
    wait_until(lambda: app.dataset.path == path)
    assert tab.start_button.instate(["disabled"])
    tab.start()
    assert "no class column" in tab.run_message.cget("text")


def test_the_fix_the_settings_message_goes_once_every_setting_is_valid(tab, app):
    set_fields(tab, hidden="abc", threshold="2")
    tab.start_button.invoke()
    assert tab.job is None and "Fix the settings marked in red first" in tab.run_message.cget("text")
    set_fields(tab, hidden="15")  # one of two fixed: the message stays
    assert "Fix the settings marked in red first" in tab.run_message.cget("text")
    set_fields(tab, threshold="0.5")
    assert tab.run_message.cget("text") == "", "the message stayed after every setting was fixed"
    set_fields(tab, lr="x")  # a new mistake shows beside its field only, until Start is pressed
    assert tab.run_message.cget("text") == "" and "not a number" in message(tab, "lr")


def test_the_status_bar_says_cross_validation_finished_with_its_result(tab, app, wait_until):
    set_fields(tab, iterations="100", folds="2", repeats="1")
    tab.cv_button.invoke()
    assert "Cross-validating" in app.status.text()
    wait_until(lambda: tab.job is None, timeout=60)
    status = app.status.text()
    mean = tab.cv_result.mean("accuracy")
    assert "Cross-validating" not in status and "Cross-validation finished: 1 \u00d7 2 fits" in status
    assert f"accuracy {100 * mean:.1f}% \u00b1" in status


def test_every_run_has_its_own_numbered_section_in_the_export(tab, app, dialogs, tmp_path, wait_until):
    ids = []
    for iterations, seed in (("60", "1"), ("80", "2")):
        set_fields(tab, iterations=iterations, seed=seed)
        tab.start_button.invoke()
        wait_until(lambda: tab.job is None, timeout=60)
        ids.append(tab.outcome.bundle.model_id)
    for _ in range(2):  # the same cross-validation twice: two sections, not one overwritten
        set_fields(tab, folds="2", repeats="1")
        tab.cv_button.invoke()
        wait_until(lambda: tab.job is None, timeout=60)
    out = tmp_path / "results.txt"
    dialogs.answer_save(out)
    app.export_results()
    text = out.read_text()
    assert "Last training run" not in text
    runs = [line for line in text.splitlines() if line.startswith("Training run ")]
    assert runs == [f"Training run 1 (model {ids[0]})", f"Training run 2 (model {ids[1]})"]
    assert [line for line in text.splitlines() if line.startswith("Cross-validation run ")] == [
        "Cross-validation run 1 (1 x 2-fold)", "Cross-validation run 2 (1 x 2-fold)"]
    first = dict(app.results[runs[0]])
    assert first["iterations"] == 60 and first["seed"] == 1 and first["model id"] == ids[0]
    assert first["ended"].startswith("completed after 60 iterations") and first["validation rows"] > 0
    assert "Sensitivity (validation rows)" in first


def test_cross_validation_compares_the_network_with_the_baselines_when_asked(tab, app, wait_until):
    assert not tab.compare_var.get() and "logistic regression and random forest" in tab.compare_check.cget("text")
    assert tab.compare_table.winfo_manager() == ""  # no table until a comparison ran
    set_fields(tab, iterations="150", folds="3", repeats="2")
    tab.compare_check.invoke()
    assert tab.compare_var.get()
    tab.cv_button.invoke()
    assert tab.job is not None and tab.compare_check.instate(["disabled"])
    assert "of each of 3 models" in tab.progress_label.cget("text")
    seen = set()

    def finished() -> bool:
        seen.add(tab.progress_label.cget("text"))
        return tab.job is None

    wait_until(finished, timeout=120)
    assert tab.compare_check.instate(["!disabled"])
    # the progress named the model being cross-validated, counting the fits of all three
    assert any(re.match(r"Cross-validation, random forest: fit \d+ of 18 ", text) for text in seen), seen
    assert tab.progress_label.cget("text").startswith("Cross-validation finished: 2 \u00d7 3 fits of each of 3 models")
    assert tab.compare_table.winfo_manager() == "pack" and tab.compare_table.winfo_ismapped()
    rows = tab.compare_table.rows()
    assert [row[0] for row in rows] == ["Network", "Logistic regression", "Random forest"]
    for row in rows:
        accuracy, auc, brier, sensitivity, specificity = row[1:]
        for rate in (accuracy, sensitivity, specificity):
            assert re.fullmatch(r"\d{2,3}\.\d% \u00b1 \d+\.\d", rate), row
        for score in (auc, brier):
            assert re.fullmatch(r"0\.\d{3} \u00b1 0\.\d{3}", score), row
        assert float(accuracy.split("%")[0]) > 90 and float(auc.split()[0]) > 0.95, row
    # the network's row is the run the table above shows
    assert rows[0][1] == dict((r[0], r[1]) for r in tab.cv_table.rows())["Accuracy"]
    assert tab.comparison.network is tab.cv_result
    assert list(tab.comparison.results) == ["network", "logistic_regression", "random_forest"]
    section = dict(app.results["Cross-validation run 1 (2 x 3-fold)"])
    assert section["compared with"] == "logistic regression and random forest"
    assert 0.9 < section["Random forest: Accuracy mean over fits"] <= 1.0
    assert section["Logistic regression: Brier SD over fits"] > 0

    tab.compare_check.invoke()  # without the baselines, the next run shows no comparison
    tab.cv_button.invoke()
    wait_until(lambda: tab.job is None, timeout=60)
    assert tab.comparison is None and tab.compare_table.rows() == []
    assert tab.compare_table.winfo_manager() == ""
    assert "compared with" not in dict(app.results["Cross-validation run 2 (2 x 3-fold)"])


def test_escape_stops_the_comparison_while_the_baselines_run(tab, app, press_escape, wait_until):
    set_fields(tab, iterations="50", folds="10", repeats="5")  # 50 fits of each baseline, the forest's slow
    tab.compare_var.set(True)
    tab.cv_button.invoke()
    wait_until(lambda: re.match(r"Cross-validation, (logistic regression|random forest): fit \d+ of 150 ",
                                tab.progress_label.cget("text")) is not None, timeout=120)
    press_escape()
    wait_until(lambda: tab.job is None, timeout=20)
    assert tab.progress_label.cget("text") == "Cross-validation was stopped."
    assert app.status.text().endswith("| Cross-validation stopped.")
    assert tab.cv_result is None and tab.comparison is None and tab.compare_table.rows() == []
    assert app.dialogs.messages == []
    assert tab.cv_button.instate(["!disabled"]) and tab.compare_check.instate(["!disabled"])
