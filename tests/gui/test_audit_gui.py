"""The window's audit trail, driven through the real widgets: what the Patient tab, the
Threshold tab, the Batch tab and the File menu record, the patient report and the model
card they write, and how the window says when it does not record.

No test waits on the clock: the settle delays are made long and the pending timer is
fired by hand (or short, and waited for with ``wait_until``), and the writer thread is
waited for with ``app.audit.flush()``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from bcdesktop import persistence
from bcdesktop.audit import AuditLog
from bcdesktop.report import NO_AUDIT
from bcdesktop.schema import FEATURES

pytestmark = pytest.mark.gui

LONG = 600_000  # ms: a settle delay no test outlives; its timer is fired by hand


# ------------------------------------------------------------------ helpers
@pytest.fixture
def settle(monkeypatch):
    """``settle(patient_ms, threshold_ms)``: the two settle delays for this test."""
    from bcdesktop.gui import tab_patient
    from bcdesktop.gui.app import App

    def set_delays(patient_ms: int = LONG, threshold_ms: int = LONG) -> None:
        monkeypatch.setattr(tab_patient, "AUDIT_SETTLE_MS", patient_ms)
        monkeypatch.setattr(App, "THRESHOLD_SETTLE_MS", threshold_ms)

    set_delays()
    return set_delays


def fire(root, after_id) -> None:
    """Run the pending Tk timer ``after_id`` now (as if its delay had passed)."""
    assert after_id is not None, "no timer is pending"
    script = root.tk.splitlist(root.tk.call("after", "info", after_id))[0]
    root.tk.call("after", "cancel", after_id)
    root.tk.eval(script)


def entries(app, kind=None):
    """The entries written so far (every one asked for is written first)."""
    app.audit.flush(10)
    assert app.audit.pending == 0
    return AuditLog().entries(kinds=[kind] if kind else None)


def type_into(spinbox, text) -> None:
    spinbox.delete(0, "end")
    if text:
        spinbox.insert(0, text)


def fill(tab, root, values) -> None:
    for name, value in zip(FEATURES, values):
        type_into(tab.fields[name].input, str(value))
    root.update()


def predict(tab, root, values) -> None:
    fill(tab, root, values)
    tab.predict_button.invoke()
    root.update()


def pdf_text(path) -> str | None:
    """The PDF's text, or None (the test skips that part) when pdftotext is missing."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("BCDESKTOP_REQUIRE_GUI") == "1":
            pytest.fail("pdftotext is missing, but BCDESKTOP_REQUIRE_GUI=1: install poppler-utils")
        return None
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True, timeout=30).stdout


@pytest.fixture(scope="module")
def case(bundled, trained_bundle):
    """A real row whose probability is nearest 0.5 (no "<0.1%"), and a second real row."""
    p = trained_bundle.predict_proba(bundled.X)
    i = int(np.argmin(np.abs(p - 0.5)))
    j = int(np.argmax(p))
    return [int(v) for v in bundled.X[i]], [int(v) for v in bundled.X[j]]


@pytest.fixture
def model_file(tmp_path, trained_bundle):
    """The session's trained model saved to a file of its own: never remembered in this
    test's BCDESKTOP_HOME, so an "external model" here."""
    path = tmp_path / "elsewhere.npz"
    persistence.save_model(trained_bundle, path)
    return path


@pytest.fixture
def tab(app, root, trained_bundle, settle):
    app.set_model(trained_bundle, source="test")
    app.select_tab("patient")
    root.update()
    return app.tabs["patient"]


# ------------------------------------------------------------------ Patient tab
def test_a_shown_result_is_recorded_once_it_has_stood(app, tab, root, case, settle, wait_until):
    settle(patient_ms=20)
    values, _ = case
    before = len(entries(app, "prediction"))
    predict(tab, root, values)
    pred = tab.prediction
    wait_until(lambda: "audit entry" in tab.model_label.cget("text"), message="the result was never recorded")
    found = entries(app, "prediction")
    assert len(found) == before + 1
    entry = found[-1]
    assert entry.scores() == values
    assert entry.inputs["features"] == dict(zip(FEATURES, values))
    assert entry.output["probability"] == pytest.approx(pred.probability, abs=1e-9)
    shown = tab.prob_label.cget("text")
    assert f"{100 * entry.output['probability']:.1f}%" in shown
    assert entry.output["call"] == pred.call and entry.output["threshold"] == pytest.approx(app.threshold)
    assert entry.model_id == app.model.model_id and entry.source == "window"
    assert f"audit entry {entry.id}" in tab.model_label.cget("text")
    assert app.model.model_id in tab.model_label.cget("text")

    # shown again (another tab and back, a model event) and predicted again: no new entry
    app.select_tab("threshold")
    root.update()
    app.select_tab("patient")
    root.event_generate("<<DataChanged>>")
    root.update()
    tab.predict_button.invoke()
    root.update()
    assert tab._audit_after is None, "the same result waits to be recorded again"
    assert len(entries(app, "prediction")) == before + 1
    assert f"audit entry {entry.id}" in tab.model_label.cget("text")


def test_a_result_still_settling_when_the_window_closes_is_recorded(app, tab, root, case, settle):
    values, _ = case
    predict(tab, root, values)          # shown, its settle time (long here) not yet over
    assert tab._audit_after is not None
    app.close()                         # as Quit does, or the self-test right after its prediction
    found = AuditLog().entries(kinds=["prediction"])
    assert [e.scores() for e in found] == [values]


def test_a_result_that_stands_less_than_the_settle_time_is_not_recorded(app, tab, root, case, monkeypatch):
    from bcdesktop.gui import tab_patient

    monkeypatch.setattr(tab_patient, "LIVE_DELAY_MS", 1)
    values, other = case
    before = len(entries(app, "prediction"))
    predict(tab, root, values)            # stands less than the settle time: replaced below
    first = tab._audit_after
    assert first is not None
    predict(tab, root, other)
    assert tab._audit_after not in (None, first)
    assert first not in root.tk.splitlist(root.tk.call("after", "info")), "the first result's timer is left"

    # typed with Live on: "1" on the way to "10"
    tab.live_var.set(True)
    tab._on_live_toggled()
    field = tab.fields[FEATURES[0]].input
    type_into(field, "1")
    while tab._live_after is not None:
        fire(root, tab._live_after)
    assert tab.prediction is not None and tab._result["scores"][0] == 1 and not tab.stale
    field.insert("end", "0")
    while tab._live_after is not None:
        fire(root, tab._live_after)
    final = (10, *other[1:])
    assert tab._result["scores"] == final and not tab.stale
    fire(root, tab._audit_after)          # the last result has now stood long enough
    found = entries(app, "prediction")
    assert [e.scores() for e in found[before:]] == [list(final)]


# ------------------------------------------------------------------ Save report
def test_save_report_writes_the_pdf_with_the_entry_and_records_it(app, tab, root, case, dialogs, tmp_path,
                                                                   wait_until):
    values, _ = case
    assert tab.report_button.instate(["disabled"])           # no result yet
    predict(tab, root, values)
    assert tab.report_button.instate(["!disabled"])
    pred = tab.prediction
    path = tmp_path / "report.pdf"
    dialogs.answer_save(path)
    tab.report_button.invoke()
    wait_until(lambda: path.exists() and tab._report_job is None, timeout=30, message="no report was written")
    assert not [m for m in dialogs.messages if m[0] == "error"]
    prediction = entries(app, "prediction")[-1]
    assert prediction.scores() == values
    reports = entries(app, "report")
    assert len(reports) == 1 and reports[0].inputs["entry"] == prediction.id
    assert reports[0].output["path"] == str(path) and reports[0].id > prediction.id
    assert f"audit entry {prediction.id}" in app.status.text()
    text = pdf_text(path)
    if text is not None:
        shown = tab.prob_label.cget("text").split()[2]   # "Malignancy probability 51.2% (...)"
        assert shown in text
        assert pred.call.upper() in text.upper()
        assert app.model.model_id in text
        assert f"#{prediction.id}" in text and NO_AUDIT not in " ".join(text.split())
        for name, value in zip(FEATURES, values):
            line = next((ln for ln in text.splitlines() if name in ln), None)
            assert line is not None, f"{name} is not in the report"
            assert str(value) in line.split(name, 1)[1].split(), f"{name} = {value} is not in the report"


def test_the_same_case_reported_twice_is_one_prediction_entry(app, tab, root, case, dialogs, tmp_path,
                                                               wait_until):
    values, _ = case
    predict(tab, root, values)               # its settle timer has not fired: Save report records it
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    dialogs.answer_save(first)
    tab.report_button.invoke()
    predict(tab, root, values)               # the same case again while the entry is being written
    wait_until(lambda: tab._report_job is None, timeout=30)
    assert tab.report_button.instate(["!disabled"])
    dialogs.answer_save(second)
    tab.report_button.invoke()
    wait_until(lambda: second.exists() and tab._report_job is None, timeout=30)
    predictions = entries(app, "prediction")
    assert [e.scores() for e in predictions] == [values]
    assert [r.inputs["entry"] for r in entries(app, "report")] == [predictions[0].id] * 2
    assert f"audit entry {predictions[0].id}" in tab.model_label.cget("text")
    assert tab._audit_after is None
    assert first.exists()


def test_save_report_with_the_trail_off_says_not_recorded(app, tab, root, case, dialogs, tmp_path, wait_until):
    app.menus["file"].invoke("Record audit trail")           # checked -> unchecked
    assert not app.audit.enabled
    before = entries(app)
    predict(tab, root, case[0])
    path = tmp_path / "off.pdf"
    dialogs.answer_save(path)
    tab.report_button.invoke()
    wait_until(lambda: path.exists() and tab._report_job is None, timeout=30, message="no report was written")
    assert entries(app) == before
    assert "audit entry" not in tab.model_label.cget("text")
    text = pdf_text(path)
    if text is not None:
        assert NO_AUDIT in " ".join(text.split())


def test_save_report_is_refused_while_the_result_is_stale(app, tab, root, case, dialogs):
    values, _ = case
    predict(tab, root, values)
    type_into(tab.fields[FEATURES[0]].input, str(values[0] % 10 + 1))
    root.update()
    assert tab.stale and tab.report_button.instate(["disabled"])
    tab.save_report()                                        # even called directly: nothing asked
    assert not [c for c in dialogs.calls if c[0] == "save"]
    tab.clear()
    root.update()
    assert tab.report_button.instate(["disabled"])


@pytest.mark.parametrize("where", ["model file", "folder"])
def test_save_report_to_a_refused_path_shows_an_error(app, root, case, dialogs, tmp_path, model_file, settle,
                                                     wait_until, where):
    app.set_model(persistence.load_model(model_file), source=model_file.name)
    app.select_tab("patient")
    tab = app.tabs["patient"]
    predict(tab, root, case[0])
    original = model_file.read_bytes()
    target = model_file if where == "model file" else tmp_path
    dialogs.answer_save(target)
    tab.report_button.invoke()
    wait_until(lambda: tab._report_job is None and dialogs.messages, timeout=30, message="no error was shown")
    kind, _title, message = dialogs.messages[-1]
    assert kind == "error" and "Traceback" not in message and "internal error" not in message.lower()
    assert str(target.name) in message or str(target) in message
    assert model_file.read_bytes() == original and tmp_path.is_dir()
    assert tab.report_button.instate(["!disabled"])          # the user can try another name
    assert "failed" in app.status.text()
    assert entries(app, "report") == []


# ------------------------------------------------------------------ external model
def test_a_model_from_elsewhere_is_marked_external(app, root, model_file, settle, default_model):
    app.set_model(persistence.load_model(model_file), source=model_file.name)
    root.update()
    tab = app.tabs["patient"]
    assert app.model_origin == "external model"
    assert "external model" in app.status.text()
    app.select_tab("patient")
    root.update()
    assert tab.external_label.winfo_manager() == "grid" and "External model" in tab.external_label.cget("text")
    model_entry = entries(app, "model")[-1]
    assert model_entry.output["origin"] == "external model" and model_entry.inputs["path"] == str(model_file)
    if default_model is None:
        return
    app.set_model(default_model, source="default")
    root.update()
    assert app.model_origin == "shipped with bcdesktop"
    assert "external model" not in app.status.text()
    assert tab.external_label.winfo_manager() == "" and tab.external_label.cget("text") == ""


# ------------------------------------------------------------------ threshold
@pytest.fixture
def threshold_tab(app, root, trained_bundle, settle):
    app.set_model(trained_bundle, source="test")
    app.select_tab("threshold")
    root.update()
    return app.tabs["threshold"]


def test_a_dragged_threshold_is_one_entry_once_it_rests(app, threshold_tab, root, settle, wait_until):
    start = app.threshold
    before = len(entries(app, "threshold"))
    for value in (0.3, 0.32, 0.35, 0.4):
        threshold_tab.scale.set(value)
        root.update()
    assert app.threshold == pytest.approx(0.4)
    assert len(entries(app, "threshold")) == before          # still moving: nothing yet
    fire(root, app._threshold_after)
    found = entries(app, "threshold")
    assert len(found) == before + 1
    entry = found[-1]
    assert entry.inputs["from"] == pytest.approx(start) and entry.output["threshold"] == pytest.approx(0.4)
    assert entry.inputs["chosen_by"] == "set by hand in the Threshold tab"
    assert entry.model_id == app.model.model_id

    settle(threshold_ms=20)                                  # and on its own, after the (short) rest
    threshold_tab.scale.set(0.45)
    root.update()
    wait_until(lambda: app._threshold_after is None)
    last = entries(app, "threshold")[-1]
    assert last.id > entry.id and last.inputs["from"] == pytest.approx(0.4)
    assert last.output["threshold"] == pytest.approx(0.45)


def test_a_sensitivity_rule_is_recorded_and_saved_with_the_model(app, threshold_tab, root, dialogs, tmp_path):
    threshold_tab.target_var.set("97")
    threshold_tab.find_button.invoke()
    root.update()
    chosen = app.threshold_chosen_by
    assert chosen and chosen != "set by hand in the Threshold tab"
    assert f"Chosen as {chosen}." in threshold_tab.find_label.cget("text")
    fire(root, app._threshold_after)
    entry = entries(app, "threshold")[-1]
    assert entry.inputs["chosen_by"] == chosen and entry.output["threshold"] == pytest.approx(app.threshold)

    path = tmp_path / "rule.npz"
    dialogs.answer_save(path)
    app.menus["file"].invoke("Save model\u2026")
    root.update()
    saved = persistence.load_model(path)
    assert saved.threshold_chosen_by == chosen and saved.threshold == pytest.approx(app.threshold)
    assert app.threshold_chosen_by == chosen                 # the saved file, now active, keeps it
    model = entries(app, "model")[-1]
    assert model.inputs["action"] == "saved" and model.inputs["path"] == str(path.resolve())
    assert entries(app, "threshold")[-1].id == entry.id      # opening the saved file is no threshold change


# ------------------------------------------------------------------ turning it off
def test_no_audit_records_nothing(make_app, root, case, settle):
    app = make_app(no_audit=True)
    tab = app.tabs["patient"]
    app.select_tab("patient")
    root.update()
    assert "Audit: off (--no-audit)" in app.status.text()
    predict(tab, root, case[0])
    tab._record_result()                                     # as the settle timer does
    app.set_threshold(0.3)
    app._flush_threshold_entry()
    assert entries(app) == []
    assert not os.path.exists(AuditLog().path) or AuditLog().count() == 0
    app.menus["file"].invoke("Record audit trail")           # stays off this session
    assert not app.audit.enabled and "Audit: off (--no-audit)" in app.status.text()


def test_the_record_audit_trail_menu_turns_recording_off_and_on(app, tab, root, case, settle, home):
    from bcdesktop.audit import setting_enabled

    assert app.audit_var.get() and "Audit: on" in app.status.text()
    app.menus["file"].invoke("Record audit trail")
    assert not app.audit_var.get() and not app.audit.enabled
    assert "Audit: off (setting)" in app.status.text() and app.settings.get("audit") is False
    before = entries(app)
    values, other = case
    predict(tab, root, values)
    fire(root, tab._audit_after)
    assert entries(app) == before

    app.menus["file"].invoke("Record audit trail")
    assert app.audit_var.get() and app.audit.enabled and "Audit: on" in app.status.text()
    assert app.settings.get("audit") is True
    predict(tab, root, other)
    fire(root, tab._audit_after)
    assert [e.scores() for e in entries(app, "prediction")] == [other]

    app.menus["file"].invoke("Record audit trail")           # off again, and so it stays
    app.close()
    assert json.loads((home / "settings.json").read_text())["audit"] is False
    assert setting_enabled(home) is False                    # what the command line reads


def test_an_unwritable_log_is_told_once_and_predictions_go_on(make_app, root, home, case, settle, monkeypatch):
    from bcdesktop.gui.app import App

    (home / "audit.sqlite3").mkdir()
    messages = []
    real = App.set_status_message
    monkeypatch.setattr(App, "set_status_message", lambda self, text: (messages.append(text), real(self, text)))
    app = make_app()
    tab = app.tabs["patient"]
    app.select_tab("patient")
    values, other = case
    for scores in (values, other, values):
        predict(tab, root, scores)
        assert tab.prediction is not None and list(tab._result["scores"]) == scores
        assert "Malignancy probability" in tab.prob_label.cget("text")
        fire(root, tab._audit_after)
        app.audit.flush(10)
        root.update()
    assert "Audit: not recording" in app.status.text()
    told = [m for m in messages if "audit trail" in m.lower() and "not recorded" in m]
    assert len(told) == 1, told
    assert str(home / "audit.sqlite3") in told[0] and "Predictions go on" in told[0]
    assert "audit entry" not in tab.model_label.cget("text")


# ------------------------------------------------------------------ model card
def test_export_model_card_writes_the_html_and_refuses_the_model_file(app, root, dialogs, tmp_path, model_file,
                                                                      settle):
    app.set_model(persistence.load_model(model_file), source=model_file.name)
    path = tmp_path / "card.html"
    dialogs.answer_save(path)
    app.menus["file"].invoke("Export model card\u2026")
    root.update()
    assert not dialogs.messages
    text = path.read_text(encoding="utf-8")
    assert "<html" in text.lower() and app.model.model_id in text
    assert app.model.model_id in app.status.text()

    original = model_file.read_bytes()
    dialogs.answer_save(model_file)
    app.menus["file"].invoke("Export model card\u2026")
    root.update()
    kind, _title, message = dialogs.messages[-1]
    assert kind == "error" and "Traceback" not in message and model_file.name in message
    assert model_file.read_bytes() == original


# ------------------------------------------------------------------ Batch tab
def test_a_batch_run_is_one_entry_with_the_outputs_hash(app, root, tmp_path, trained_bundle, settle, wait_until):
    from bcdesktop import scoring

    rows = ["1000025,5,1,1,1,2,1,3,1,1,2", "1002945,5,4,4,5,7,10,3,2,1,2", "1017122,8,10,10,8,7,10,9,7,1,4",
            "1057013,8,4,5,1,2,?,7,3,1,4"]
    source = tmp_path / "clinic.csv"
    source.write_text("\n".join(rows) + "\n")
    app.set_model(trained_bundle, source="test")
    app.select_tab("batch")
    tab = app.tabs["batch"]
    root.update()
    tab.set_input(source)
    tab.score_button.invoke()
    wait_until(lambda: not tab.running, timeout=30)
    out = scoring.default_output_path(source)
    found = entries(app, "batch")
    assert len(found) == 1
    entry = found[0]
    assert entry.output["output"] == str(out.resolve())
    assert entry.output["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert entry.inputs["input_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (entry.output["rows_read"], entry.output["rows_scored"], entry.output["rows_rejected"]) == (4, 3, 1)
    assert entry.model_id == trained_bundle.model_id
    assert AuditLog().verify().ok
