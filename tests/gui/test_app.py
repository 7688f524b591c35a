"""The main window: title, tabs, status bar, menus, settings, errors, background work."""

from __future__ import annotations

import json
import os
import threading
import time
import tkinter as tk
from tkinter import ttk

import pytest

from bcdesktop import DISCLAIMER, __version__
from bcdesktop.errors import UserError

pytestmark = pytest.mark.gui


def test_window_title_tabs_and_status(app, root):
    assert root.title().startswith(f"bcdesktop {__version__}")
    tabs = [app.notebook.tab(t, "text") for t in app.notebook.tabs()]
    assert tabs == ["Data", "Train", "Patient", "Threshold", "Calibration", "Landscape", "Batch", "History"]
    assert "Audit: on" in app.status.text()
    status = app.status.text()
    assert "breast-cancer-wisconsin.data (683 usable of 699)" in status
    assert "Threshold: 0.50" in status or f"Threshold: {app.threshold:.2f}" in status
    if app.model is not None:
        assert app.model.model_id in status


def test_state_setters_fire_events(app, root):
    seen = []
    for name in ("<<DataChanged>>", "<<ModelChanged>>", "<<ThresholdChanged>>"):
        root.bind(name, lambda e, n=name: seen.append(n), add="+")
    app.set_threshold(0.3)
    app.set_threshold(0.3)  # unchanged: no second event
    app.set_dataset(app.dataset)
    assert seen == ["<<ThresholdChanged>>", "<<DataChanged>>"]
    assert "Threshold: 0.30" in app.status.text()
    with pytest.raises(ValueError):
        app.set_threshold(1.0)


def test_a_threshold_reads_the_same_everywhere(app, root):
    """0.7476 is not rounded to 0.75 in one place and shown with four decimals in another."""
    app.set_threshold(0.7476)
    root.update()
    assert "Threshold: 0.7476" in app.status.text()
    assert app.tabs["threshold"].entry_var.get() == "0.7476"
    assert "threshold 0.7476" in app.tabs["batch"].model_label.cget("text")
    assert "at threshold 0.7476" in app.results_text(csv_format=False)


def test_a_long_status_message_ends_in_an_ellipsis_not_mid_word_cut(app, root):
    long = "Loaded a file with a rather long name; " + "and quite a lot more to say about it " * 8 + "THE END."
    app.set_status_message(long)
    root.update()
    shown = app.status.message.cget("text")
    assert shown.endswith("\u2026") and long.startswith(shown[:-1]) and "THE END" not in shown
    label = app.status.message
    assert label.winfo_x() + label.winfo_width() <= app.status.winfo_width()  # on screen, not cut off
    assert app.status.text().endswith("THE END.")  # the full message is kept
    app.set_status_message("Short.")
    root.update()
    assert app.status.message.cget("text") == "Short."


def test_user_error_shows_its_message(app, dialogs):
    app.report_exception(UserError("The file x.csv has no rows. Choose another file."))
    kind, title, message = dialogs.last_message
    assert kind == "error" and message == "The file x.csv has no rows. Choose another file."


def test_internal_error_shows_log_path_not_traceback(app, dialogs, home, callback_errors, error_logs, root):
    def broken():
        raise ZeroDivisionError("deliberate")

    button = tk.Button(root, text="broken", command=broken)
    button.invoke()  # the exception goes through Tk's callback error path
    assert len(callback_errors) == 1 and isinstance(callback_errors[0], ZeroDivisionError)
    callback_errors.clear()  # provoked on purpose
    kind, title, message = dialogs.last_message
    assert "internal error" in message
    assert str(home / "bcdesktop.log") in message
    assert "Traceback" not in message and "ZeroDivisionError" not in message
    log_text = (home / "bcdesktop.log").read_text()
    assert "Traceback" in log_text and "ZeroDivisionError: deliberate" in log_text
    assert "internal error" in app.status.text().lower()
    assert [r.getMessage() for r in error_logs] == ["internal error"]
    error_logs.clear()  # logged on purpose


def test_a_background_job_without_a_result_is_told_one_way(app, dialogs, callback_errors, error_logs):
    from bcdesktop.errors import Cancelled

    said = []

    def inline(text, error):
        said.append((text, error))

    app.report_job_failure(Cancelled(), what="Scoring", inline=inline, stopped="Cancelled: nothing written.")
    assert said[-1] == ("Cancelled: nothing written.", False) and not dialogs.messages
    assert app.status.text().endswith("| Scoring stopped.")
    app.report_job_failure(UserError("The file x.csv has no rows."), what="Scoring", inline=inline,
                           kept="The old results stay.")
    assert said[-1] == ("Scoring stopped with an error: The file x.csv has no rows. The old results stay.", True)
    assert dialogs.last_message == ("error", "bcdesktop", "The file x.csv has no rows.")
    assert app.status.text().endswith("| Scoring failed.")
    app.report_job_failure(ZeroDivisionError("a bug"), what="Scoring", inline=inline)
    assert said[-1] == ("Scoring stopped with an internal error (details in the log).", True)
    assert dialogs.last_message[1] == "Internal error" and "internal error" in app.status.text().lower()
    assert [type(e) for e in callback_errors] == [ZeroDivisionError]
    callback_errors.clear()  # provoked on purpose
    error_logs.clear()


def test_an_error_logged_without_raising_fails_the_test(error_logs):
    """An error that is only logged (shown in a box, never raised) is caught too."""
    import logging

    logging.getLogger("bcdesktop.gui").error("something broke quietly")
    assert [r.getMessage() for r in error_logs] == ["something broke quietly"]
    error_logs.clear()


def test_callback_exception_is_caught_by_the_fixture(root, callback_errors):
    """Without an App, a callback exception reaches the patched Tk handler (and would fail the test)."""
    tk.Button(root, command=lambda: 1 / 0).invoke()
    assert [type(e) for e in callback_errors] == [ZeroDivisionError]
    callback_errors.clear()


@pytest.mark.skipif(not os.environ.get("BCDESKTOP_PROVE_FIXTURE"), reason="run only by the test below")
def test_unexpected_callback_exception(app):
    tk.Button(app.root, command=lambda: {}["missing"]).invoke()  # a bug in a callback, nothing else


def test_a_callback_exception_fails_the_test(display):
    """Run the test above in a child pytest: it must fail, naming the exception."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"{__file__}::test_unexpected_callback_exception"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DISPLAY=display, BCDESKTOP_PROVE_FIXTURE="1"))
    assert proc.returncode == 1, proc.stdout
    assert "exception(s) in Tk callbacks" in proc.stdout and "KeyError: 'missing'" in proc.stdout


def test_worker_runs_in_a_thread_and_reports_on_the_tk_loop(app, wait_until):
    seen, done = [], []
    main = threading.get_ident()

    def work(report, cancel):
        assert threading.get_ident() != main
        for i in range(100):
            report(i)
        return "result"

    def progress(msg):
        assert threading.get_ident() == main
        seen.append(msg)

    app.run_in_thread(work, lambda ok, r: done.append((ok, r, threading.get_ident())), progress)
    assert app.busy
    wait_until(lambda: done)
    assert seen == list(range(100))
    assert done == [(True, "result", main)]
    assert not app.busy


def test_escape_cancels_running_work(app, root, wait_until):
    done = []

    def work(report, cancel):
        while not cancel.is_set():
            time.sleep(0.005)
        return "stopped"

    app.run_in_thread(work, lambda ok, r: done.append(r))
    root.focus_force()
    root.update()
    root.event_generate("<Escape>")
    wait_until(lambda: done, timeout=5)
    assert done == ["stopped"]


def test_worker_errors_reach_done(app, wait_until):
    done = []
    app.run_in_thread(lambda report, cancel: int("x"), lambda ok, r: done.append((ok, type(r))))
    wait_until(lambda: done)
    assert done == [(False, ValueError)]


def test_corrupt_settings_are_set_aside(home, make_app):
    (home / "settings.json").write_text("{not json", encoding="utf-8")
    app = make_app()
    aside = list(home.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert "settings file could not be read" in app.status.text()
    app.close()
    saved = json.loads((home / "settings.json").read_text())
    assert "geometry" in saved


def test_settings_remember_geometry(home, make_app, root):
    app = make_app(data=False, model=False)
    root.geometry("900x640")
    root.update()
    app.close()
    assert json.loads((home / "settings.json").read_text())["geometry"].startswith("900x640")


def test_help_menu_and_export(app, dialogs, tmp_path):
    app.show_about()
    assert DISCLAIMER in dialogs.last_message[2] and __version__ in dialogs.last_message[2]
    app.show_data_source()
    assert "CC BY 4.0" in dialogs.last_message[2]
    app.show_intended_use()
    assert "not a medical device" in dialogs.last_message[2].lower()

    out = tmp_path / "results.csv"
    dialogs.answer_save(out)
    app.export_results()
    text = out.read_text()
    assert text.splitlines()[1] == f"# {DISCLAIMER}"
    assert "breast-cancer-wisconsin.data" in text
    if app.model is not None and app.model.eval_probs is not None:
        assert "Sensitivity" in text
    txt = tmp_path / "results.txt"
    dialogs.answer_save(txt)
    app.export_results()
    assert DISCLAIMER in txt.read_text()


def test_export_never_replaces_the_data_in_use_or_a_shipped_file(app, dialogs, tmp_path, bundled):
    from bcdesktop import resources
    from bcdesktop.data import load_csv

    shipped = resources.bundled_data_path()
    before = shipped.read_bytes()
    dialogs.answer_save(shipped)
    app.export_results()
    assert dialogs.last_message[0] == "error" and "shipped with bcdesktop" in dialogs.last_message[2]
    assert shipped.read_bytes() == before

    mine = tmp_path / "mine.csv"
    mine.write_bytes(before)
    app.set_dataset(load_csv(mine))
    dialogs.answer_save(tmp_path / "." / "mine.csv")  # the same file by another name
    app.export_results()
    assert dialogs.last_message[0] == "error" and "must not be replaced" in dialogs.last_message[2]
    assert mine.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp")) and sorted(p.name for p in tmp_path.iterdir()) == ["home", "mine.csv"]


def test_open_and_save_model_through_the_file_menu(app, dialogs, tmp_path):
    if app.model is None:
        pytest.skip("no default model shipped yet")
    app.set_threshold(0.35)
    target = tmp_path / "copy.npz"
    dialogs.answer_save(target)
    app.menus["file"].invoke("Save model\u2026")
    from bcdesktop import persistence
    saved = persistence.load_model(target)
    assert saved.model_id == app.model.model_id and saved.threshold == pytest.approx(0.35)

    app.set_threshold(0.5)
    dialogs.answer_open(target)
    app.menus["file"].invoke("Open model\u2026")
    assert app.threshold == pytest.approx(0.35)  # the threshold is saved with the model
    assert f"Model: {saved.model_id} (copy.npz)" in app.status.text()

    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a model")
    dialogs.answer_open(broken)
    app.open_model()
    assert dialogs.last_message[0] == "error" and "broken.npz" in dialogs.last_message[2]
    assert app.model.model_id == saved.model_id


def test_save_model_never_writes_over_a_shipped_file(app, dialogs):
    from bcdesktop import resources

    if app.model is None:
        pytest.skip("no default model shipped yet")
    shipped = resources.default_model_path()
    before = shipped.read_bytes()
    app.set_threshold(0.3)
    dialogs.answer_save(shipped)
    app.save_model()
    assert dialogs.last_message[0] == "error" and "shipped with bcdesktop" in dialogs.last_message[2]
    assert shipped.read_bytes() == before


def test_text_size_follows_ctrl_plus_and_minus(app, root):
    import tkinter.font as tkfont

    seen = []
    root.bind("<<TextScaleChanged>>", lambda e: seen.append(True), add="+")
    base = tkfont.nametofont("TkDefaultFont", root=root).cget("size")
    tree = app.tabs["data"].rejected.tree
    width = tree.column("column", "width")  # a fixed column (the stretching one takes what is left)
    root.focus_force()
    root.update()
    root.event_generate("<Control-plus>")
    root.event_generate("<Control-plus>")
    bigger = tkfont.nametofont("TkDefaultFont", root=root).cget("size")
    assert abs(bigger) > abs(base) and seen == [True, True]
    assert tree.column("column", "width") > width
    assert "Text size 150%" in app.status.text()  # Ctrl+plus steps 100, 125, 150, 175, 200%
    root.event_generate("<Control-Key-0>")
    assert tkfont.nametofont("TkDefaultFont", root=root).cget("size") == base


def test_self_test_from_the_command_line(display, home, tmp_path):
    """What the frozen executable's smoke test runs: open, predict, print JSON, close."""
    import os
    import subprocess
    import sys

    from bcdesktop import resources
    if not resources.default_model_path().exists():
        pytest.skip("no default model shipped yet")
    ready = tmp_path / "ready"
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "bcdesktop", "gui", "--self-test", "--ready-file", str(ready)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DISPLAY=display, BCDESKTOP_HOME=str(home)))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["self_test"] == "ok" and result["prediction"] == "malignant"
    assert 0.5 < result["probability"] <= 1.0
    assert started < float(ready.read_text()) < time.time()


def test_keyboard_reaches_every_tab(app, root):
    root.focus_force()
    root.update()
    root.event_generate("<Alt-Key-2>")
    assert app.notebook.index("current") == 1
    root.event_generate("<Alt-Key-6>")
    assert app.notebook.index("current") == 5
    root.event_generate("<Alt-Key-7>")
    assert app.notebook.index("current") == 6
    app.notebook.focus_set()
    root.update()
    app.notebook.event_generate("<Control-Tab>")  # ttk's own traversal
    assert app.notebook.index("current") == 7
    root.event_generate("<Alt-Key-8>")
    assert app.notebook.index("current") == 7
    app.notebook.event_generate("<Control-Tab>")
    assert app.notebook.index("current") == 0


def focus_order(tab, n):
    """The first ``n`` widgets Tab visits inside ``tab``."""
    order, widget = [], tab.tk_focusNext()
    while widget is not None and len(order) < n and str(widget).startswith(str(tab)):
        order.append(widget)
        widget = widget.tk_focusNext()
    return order


def test_tab_key_order_follows_the_layout(app, root):
    patient = app.tabs["patient"]
    app.select_tab("patient")
    patient.fill_typical(0)
    root.update()
    assert focus_order(patient, 10) == [*(field.input for field in patient.fields.values()), patient.predict_button]
    train = app.tabs["train"]
    app.select_tab("train")
    root.update()
    order = focus_order(train, 40)
    assert order.index(train.log_check) < order.index(train.results)  # plot controls, then results below
    batch = app.tabs["batch"]
    app.select_tab("batch")
    root.update()
    assert focus_order(batch, 2)[1] is batch.choose_input_button


def test_missing_default_model_is_said_not_fatal(make_app, monkeypatch, tmp_path, wait_until):
    from bcdesktop import resources

    monkeypatch.setattr(resources, "default_model_path", lambda: tmp_path / "default_model.npz")
    app = make_app(data=False, model=False)
    ready = []
    app.start(on_ready=lambda: ready.append(True))
    wait_until(lambda: ready)
    assert app.model is None and app.dataset is not None
    assert "Model: no default model found (default_model.npz is missing) \u2014 train one in the Train tab" \
        in app.status.text()
    assert app.tabs["train"].start_button.instate(["!disabled"])


def test_bad_model_on_the_command_line_falls_back_to_the_default(make_app, dialogs, tmp_path, wait_until,
                                                                 default_model):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nonsense")
    app = make_app(data=False, model=False)
    ready = []
    app.start(model=bad, on_ready=lambda: ready.append(True))
    wait_until(lambda: ready)
    assert "bad.npz" in dialogs.last_message[2]
    if default_model is not None:
        assert app.model.model_id == default_model.model_id and app.model_source == "default"


def test_spacing_grows_with_the_display_scaling(root):
    from bcdesktop.gui.widgets import scale_spacing

    frame = ttk.Frame(root, padding=8)
    frame.pack(padx=(6, 0), pady=3)
    label = ttk.Label(frame, text="x", padding=(2, 3))
    label.grid(row=0, column=0, padx=4)
    scale_spacing(frame, 2.0)
    assert frame.pack_info()["padx"] == (12, 0) and frame.pack_info()["pady"] == 6
    assert label.grid_info()["padx"] == 8
    assert [int(str(v)) for v in frame.cget("padding")] == [16]
    assert [int(str(v)) for v in label.cget("padding")] == [4, 6]


def test_a_new_plot_leaves_the_keyboard_focus_where_it_was(app, root, wait_until):
    data = app.tabs["data"]
    app.select_tab("data")
    root.focus_force()
    data.open_button.focus_set()
    wait_until(lambda: root.focus_get() is data.open_button)
    wait_until(lambda: data.plot is not None and data.plot.draw_count > 0)  # matplotlib's canvas made now
    root.update()
    assert root.focus_get() is data.open_button


# ---------------------------------------------------------------- settings, log, Enter
@pytest.mark.parametrize("content, key", [
    ('{"text_scale": NaN, "geometry": "900x640"}', "text_scale"),
    ('{"text_scale": "big"}', "text_scale"),
    ('{"text_scale": 1e308}', "text_scale"),
    ('{"geometry": ["900", 640]}', "geometry"),
    ('{"folders": {"data": 5}}', "folders"),
    ('{"train": "lr=0.1"}', "train"),
])
def test_a_settings_value_the_app_cannot_use_falls_back_to_its_default(home, make_app, root, content, key):
    (home / "settings.json").write_text(content, encoding="utf-8")
    app = make_app(data=False, model=False)
    status = app.status.text()
    assert f"values the app cannot use ({key})" in status and "settings.json.corrupt-" in status
    aside = list(home.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
    from bcdesktop.gui import widgets

    assert widgets.text_scale(root) == pytest.approx(1.0) or key != "text_scale"
    app.close()
    from bcdesktop.gui.settings import CHECKS

    saved = json.loads((home / "settings.json").read_text())  # written anew by the app itself
    assert saved and all(CHECKS[k](v) for k, v in saved.items())


def test_deeply_nested_settings_are_set_aside(home, make_app):
    (home / "settings.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    app = make_app(data=False, model=False)
    assert "settings file could not be read (nested too deep)" in app.status.text()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_settings_file_that_is_a_fifo_or_a_device_is_not_read(home, make_app, kind):
    import os

    target = home / "settings.json"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(target)  # reading it would block start-up for ever
    else:
        target.symlink_to("/dev/zero")  # reading it would fill the memory
    app = make_app(data=False, model=False)
    assert "not a file" in app.status.text() and "default settings are used" in app.status.text()
    app.close()  # and nothing is written over it
    assert target.is_symlink() if kind == "device" else not target.is_file()


def test_without_a_settings_folder_the_app_runs_and_says_so(monkeypatch, tmp_path, make_app, capfd):
    monkeypatch.setenv("BCDESKTOP_HOME", "/dev/null/bcdesktop")  # cannot be created
    app = make_app(data=False, model=False)
    try:
        assert "settings will not be saved" in app.status.text()
        app.close()
        err = capfd.readouterr().err
        assert err.count("logging to the terminal instead") == 1 and "Traceback" not in err
    finally:
        import logging

        logger = logging.getLogger("bcdesktop")
        for handler in list(logger.handlers):
            if getattr(handler, "_bcdesktop_stderr", False):
                logger.removeHandler(handler)


def test_an_unwritable_log_file_says_so_once_then_logs_to_stderr(tmp_path, capfd):
    import logging

    from bcdesktop.gui.logs import configure_logging

    folder = tmp_path / "gone"
    folder.mkdir()
    path = configure_logging(folder / "bcdesktop.log")
    folder.rmdir()  # the folder vanished: every write fails
    log = logging.getLogger("bcdesktop.test")
    try:
        for i in range(3):
            log.info("message %d", i)
        err = capfd.readouterr().err
        assert err.count("cannot write the log file") == 1 and "Traceback" not in err
        assert "message 0" in err and "message 2" in err
    finally:
        logger = logging.getLogger("bcdesktop")
        for handler in list(logger.handlers):
            if getattr(handler, "baseFilename", None) == str(path.resolve()):
                logger.removeHandler(handler)


def test_enter_on_a_button_made_by_tcl_is_not_an_error(app, root, focused, callback_errors):
    # the buttons of a message box are made by Tcl: Python sees only their path name
    root.tk.eval("ttk::button .tclmade -text OK -command {set ::pressed 1}; pack .tclmade")
    root.update()
    root.tk.call("focus", "-force", ".tclmade")
    root.update()
    root.tk.call("event", "generate", ".tclmade", "<Return>")
    root.update()
    assert callback_errors == []  # (Enter on the app's own buttons: test_patient_tab)


def test_a_new_user_first_sees_the_intended_use_and_what_to_do_first(make_app, home, root, dialogs):
    app = make_app()
    assert app.intro is not None and app.intro.winfo_ismapped()
    text = app.intro_label.cget("text")
    assert DISCLAIMER in text and "Start here" in text and "Patient tab" in text
    # above the tabs, so it is the first thing read
    assert app.intro.winfo_rooty() < app.notebook.winfo_rooty()
    app.intro_button.invoke()
    root.update()
    assert app.intro is None
    app.close()
    assert json.loads((home / "settings.json").read_text())["intro_seen"] is True


def test_the_intro_stays_away_once_dismissed(make_app, home):
    (home / "settings.json").write_text('{"intro_seen": true}', encoding="utf-8")
    assert make_app().intro is None


def test_data_source_reads_as_plain_text_not_markdown(app, dialogs):
    app.show_data_source()
    text = dialogs.last_message[2]
    assert "#" not in text and "`" not in text
    assert "CC BY 4.0" in text and "\u2022 Source: Dr. William H. Wolberg" in text
    # the hard-wrapped lines of one sentence are one line again
    assert "nine cytology scores (Clump Thickness, Uniformity of Cell Size" in text


def test_file_menu_goes_back_to_the_bundled_data(app, dialogs, tmp_path, wait_until):
    from bcdesktop import resources

    other = tmp_path / "few.csv"
    other.write_text("1000025,5,1,1,1,2,1,3,1,1,2\n1017122,8,10,10,8,7,10,9,7,1,4\n")
    app.load_data(other)
    wait_until(lambda: app.dataset.path == other)
    app.menus["file"].invoke("Open bundled data")
    wait_until(lambda: app.dataset.path == resources.bundled_data_path())
    assert app.dataset.n_read == 699
    assert app.notebook.select() == str(app.tabs["data"])


def test_the_background_import_is_waited_for_before_the_process_ends(make_app, wait_until):
    # a thread still inside an extension import when Python finalises can abort the
    # process (seen in frozen self-tests); run() waits for it after the main loop
    app = make_app(data=False, model=False)
    ready = []
    app.start(on_ready=lambda: ready.append(True))
    wait_until(lambda: ready, timeout=60)
    assert app._warm_thread.name == "warm-sklearn"
    app.close()
    app.wait_for_background(timeout=120)
    assert not app._warm_thread.is_alive()


def test_shortcuts_use_command_on_macos_and_control_elsewhere(app):
    from bcdesktop.gui import widgets

    assert widgets.shortcut_modifier("darwin") == ("Command", "Cmd")
    assert widgets.shortcut_modifier("linux") == widgets.shortcut_modifier("win32") == ("Control", "Ctrl")
    label = widgets.MOD_LABEL
    assert app.menus["file"].entrycget("Open data\u2026", "accelerator") == f"{label}+O"
    assert app.root.bind(f"<{widgets.MOD}-o>")  # bound with this platform's modifier


def test_an_app_on_a_toplevel_keeps_to_its_window_and_sets_what_tk_shares_from_its_own_settings(
        root, home, dialogs):
    """One Tk, one window after another (as the tests run): the second window at 150% text
    starts from Tk's own font sizes, not from the first's; what an app sets on its window
    goes with it, and closing it leaves the Tk root alone."""
    import tkinter.font as tkfont

    from bcdesktop.gui.app import App

    tk_root = root._root()
    base = tkfont.nametofont("TkDefaultFont", root=tk_root).cget("size")
    title = tk_root.title()
    handler_before = vars(tk_root).get("report_callback_exception")
    (home / "settings.json").write_text('{"text_scale": 1.5, "intro_seen": true}', encoding="utf-8")
    for _ in range(2):
        window = tk.Toplevel(tk_root)
        app = App(window, dialogs=dialogs)
        size = tkfont.nametofont("TkDefaultFont", root=tk_root).cget("size")
        assert abs(size) == round(abs(base) * 1.5)
        assert window.title().startswith("bcdesktop") and tk_root.title() == title
        assert window.bind("<Escape>") and not tk_root.bind("<Escape>")
        assert str(window.cget("menu")) and vars(tk_root).get("report_callback_exception") is not handler_before
        app.close()
        assert not window.winfo_exists() and tk_root.winfo_exists()
        assert vars(tk_root).get("report_callback_exception") is handler_before


def test_out_of_fold_evidence_is_only_computed_on_the_models_own_data(app, root):
    """The evidence becomes the calibration pairs of the model's interval: another file's
    rows would give it an interval it never earned."""
    import dataclasses

    from bcdesktop.persistence import load_default_model

    model = dataclasses.replace(load_default_model(), oof=None, data_sha256="ab" * 32)
    app.set_model(model, source="test")
    seen = []
    root.bind("<<EvidenceChanged>>", lambda e: seen.append(app.evidence_state), add="+")
    assert app.compute_evidence() is None and not app.evidence_running
    root.update()
    assert seen and "Load its training data first" in app.evidence_state
    assert app.model is model
