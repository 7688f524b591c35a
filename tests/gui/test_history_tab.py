"""The History tab: the audit trail as the window lists, filters, opens, exports and verifies it."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from bcdesktop import audit, schema
from bcdesktop.gui import tab_history
from bcdesktop.gui.auditing import AUDIT_EVENT

pytestmark = pytest.mark.gui

CASE = [5, 4, 4, 5, 7, 10, 3, 2, 1]


@pytest.fixture
def log(app):
    """The window's audit trail, with whatever the app wrote at start-up already written."""
    app.audit.flush()
    return app.audit_log


@pytest.fixture
def show(app, root, wait_until):
    """``show()``: select the History tab and wait until it lists the log as it is now."""
    tab = app.tabs["history"]

    def show_tab():
        app.select_tab("history")
        wait_until(lambda: not tab.stale and not tab.filling and tab._refresh_after is None)
        return tab
    return show_tab


def prediction(log, scores=CASE, p=0.93):
    return log.append("prediction", inputs={"scores": scores},
                      output={"probability": p, "interval": [p - 0.05, p + 0.03], "call": "malignant",
                              "threshold": 0.5})


def write_entries(log):
    """A prediction, a model entry and a threshold change, oldest first."""
    return [prediction(log),
            log.append("model", inputs={"action": "loaded", "path": "/models/clinic.npz"},
                       output={"origin": "external model"}),
            log.append("threshold", inputs={"from": 0.5, "chosen_by": "sensitivity 0.95"},
                       output={"threshold": 0.31})]


def expected_rows(entries):
    return [(str(e.id), tab_history.shown_time(e.time_utc), e.kind, e.user, e.model_id or "", e.summary())
            for e in entries]


def test_lists_the_entries_newest_first_with_their_summaries(app, log, show):
    written = write_entries(log)
    tab = show()
    everything = log.entries(newest_first=True)
    assert [e.id for e in everything[:3]] == [e.id for e in reversed(written)]
    assert tab.tree.rows() == expected_rows(everything)
    assert tab.tree.rows()[2][5] == "scores 5 4 4 5 7 10 3 2 1: 93.0% (88.0-96.0%), malignant at 0.5"
    assert tab.tree.rows()[0][5] == "threshold 0.5 -> 0.31: sensitivity 0.95"
    assert tab.count_label.cget("text") == f"{len(everything)} entries, newest first."
    assert str(log.path) in tab.log_label.cget("text") and "Recording is on" in tab.log_label.cget("text")


def test_an_empty_log_says_what_will_appear(app, home, show, wait_until):
    app.audit.flush()
    for suffix in ("", "-wal", "-shm"):  # whatever the app wrote at start-up
        (home / f"audit.sqlite3{suffix}").unlink(missing_ok=True)
    tab = show()
    assert tab.tree.rows() == []
    assert tab.count_label.cget("text") == tab_history.EMPTY
    assert "Recording is on" in tab.log_label.cget("text")
    app.set_audit_enabled(False)  # File > Record audit trail, with the tab on show
    assert "Recording is off (setting or --no-audit): nothing new is recorded." in tab.log_label.cget("text")
    assert str(tab.log_label.cget("style")) == "Error.TLabel"


def test_kind_and_date_filters_and_a_bad_date(app, log, show, monkeypatch, focused):
    # after the entries the app itself wrote at start-up
    times = iter(["2030-11-30T09:00:00.000000Z", "2030-12-01T08:00:00.000000Z",
                  "2030-12-01T15:30:00.000000Z", "2030-12-02T10:00:00.000000Z"])
    monkeypatch.setattr(audit, "utc_now", lambda: next(times))
    first, model, second, third = (prediction(log), log.append("model", inputs={"action": "trained"}),
                                   prediction(log, [1] * 9, 0.02), prediction(log, [2] * 9, 0.04))
    tab = show()

    tab.kind_var.set("prediction")
    tab.kind_box.event_generate("<<ComboboxSelected>>")
    predictions = [e for e in log.entries(newest_first=True) if e.kind == "prediction"]
    assert tab.tree.rows() == expected_rows(predictions)
    assert tab.count_label.cget("text") == f"{len(predictions)} matching entries, newest first."

    tab.since_var.set("2030-12-01 12:00")
    tab.since_entry.focus_set()
    tab.since_entry.update()
    tab.since_entry.event_generate("<Return>")
    assert [row[0] for row in tab.tree.rows()] == [str(third.id), str(second.id)]

    tab.kind_var.set("All")
    tab.since_var.set("2030-12-01")
    tab.apply_button.invoke()
    assert [row[0] for row in tab.tree.rows()] == [str(third.id), str(second.id), str(model.id)]

    tab.since_var.set("yesterday")
    tab.apply_button.invoke()
    assert tab.since_message.cget("text") == ("\u26a0 'yesterday' is not a date such as 2026-12-01 or "
                                              "2026-12-01T14:30 (UTC)")
    assert str(tab.since_message.cget("style")) == "Error.TLabel"
    assert [row[0] for row in tab.tree.rows()] == [str(third.id), str(second.id), str(model.id)]  # kept
    tab.since_var.set("2999-01-01")  # editing takes the message away; a date after every entry lists none
    assert str(tab.since_message.cget("style")) == "Muted.TLabel"
    tab.since_entry.event_generate("<Return>")
    assert tab.tree.rows() == []
    assert tab.count_label.cget("text").startswith("No entry matches this filter")
    assert first.id < model.id


def test_a_prediction_entry_opens_in_the_patient_tab_and_a_model_entry_cannot(app, log, show):
    entry, model, _ = write_entries(log)
    tab = show()
    tree = tab.tree.tree
    tree.selection_set(str(model.id))
    tree.update()
    assert tab.open_button.instate(["disabled"])
    assert "Only a prediction entry" in tab.open_hint.cget("text")
    assert '"origin": "external model"' in tab.details.get("1.0", "end")

    tree.selection_set(str(entry.id))
    tree.see(str(entry.id))
    tree.update()
    assert tab.open_button.instate(["!disabled"])
    details = tab.details.get("1.0", "end")
    for text in (f"Entry\t{entry.id}\n", '\t  "scores": [5, 4, 4, 5, 7, 10, 3, 2, 1]', '\t  "probability": 0.93',
                 f"Previous hash\t{entry.prev_hash}\n", f"\nHash\t{entry.hash}"):
        assert text in details
    x, y, _w, h = tree.bbox(str(entry.id), "summary")
    for _ in range(2):  # a double click, as the window system sends it
        tree.event_generate("<ButtonPress-1>", x=x + 5, y=y + h // 2, time=1000)
        tree.event_generate("<ButtonRelease-1>", x=x + 5, y=y + h // 2, time=1001)
    assert app.notebook.select() == str(app.tabs["patient"])
    values, problems = app.tabs["patient"].field_values()
    assert problems == {} and [values[name] for name in schema.FEATURES] == CASE
    assert f"audit entry {entry.id} of" in app.tabs["patient"].example_label.cget("text")


def test_export_writes_every_matching_entry_oldest_first(app, log, show, dialogs, tmp_path, monkeypatch,
                                                        wait_until):
    monkeypatch.setattr(tab_history, "SHOWN", 2)  # more entries than the table lists
    written = [prediction(log, [k] * 9, 0.1 * k) for k in range(1, 5)]
    log.append("model", inputs={"action": "saved"})
    tab = show()
    tab.kind_var.set("prediction")
    tab.apply_button.invoke()
    assert [row[0] for row in tab.tree.rows()] == [str(written[3].id), str(written[2].id)]
    assert "Showing the newest 2 matching entries; there are more" in tab.count_label.cget("text")

    out = tmp_path / "exports" / "trail.csv"
    out.parent.mkdir()
    dialogs.answer_save(out)
    tab.export_button.invoke()
    wait_until(lambda: not tab.exporting)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    predictions = [e for e in log.entries() if e.kind == "prediction"]
    assert [int(r["id"]) for r in rows] == [e.id for e in predictions]
    assert {r["kind"] for r in rows} == {"prediction"} and len(rows) >= 4
    assert tab.verify_label.cget("text") == f"Exported {len(rows)} entries to {out}."
    assert app.folder("audit") == str(out.parent)


def test_export_never_writes_over_the_data_in_use(app, log, show, dialogs, tmp_path, wait_until, callback_errors):
    prediction(log, [3] * 9, 0.3)
    data = tmp_path / "patients.csv"
    data.write_text("kept\n", encoding="utf-8")
    app.dataset = type("Loaded", (), {"path": data})()  # as the window holds a loaded file
    tab = show()
    dialogs.answer_save(data)
    tab.export_button.invoke()
    wait_until(lambda: not tab.exporting)
    assert data.read_text(encoding="utf-8") == "kept\n"
    said = tab.verify_label.cget("text")
    assert said.startswith("\u26a0 Exporting the audit trail stopped with an error") and "patients.csv" in said, said


def test_verify_says_ok_and_then_names_the_edited_entry(app, log, show, wait_until):
    entry, *_ = write_entries(log)
    tab = show()
    tab.verify_button.invoke()
    wait_until(lambda: not tab.verifying)
    assert tab.verify_label.cget("text").startswith("\u2713 The audit trail is intact")
    assert str(tab.verify_label.cget("style")) == "AuditOk.TLabel"

    con = sqlite3.connect(log.path)
    con.execute("DROP TRIGGER entries_append_only_update")
    con.execute("UPDATE entries SET body = replace(body, '0.93', '0.03') WHERE id = ?", (entry.id,))
    con.commit()
    con.close()
    tab.verify_button.invoke()
    wait_until(lambda: not tab.verifying)
    text = tab.verify_label.cget("text")
    assert text.startswith(f"\u26a0 The audit trail is broken at entry {entry.id}: its contents do not match")
    assert str(tab.verify_label.cget("style")) == "Error.TLabel"
    wait_until(lambda: tab.tree.tree.selection() == (str(entry.id),) and not tab.filling)
    tab.update()
    assert '"probability": 0.03' in tab.details.get("1.0", "end")  # the entry as the file now holds it


def test_audit_changed_refreshes_a_shown_tab_and_marks_a_hidden_one_stale(app, log, show, wait_until):
    tab = show()
    before = len(tab.tree.rows())
    done = []
    app.audit_record("threshold", inputs={"from": 0.5}, output={"threshold": 0.4}, done=done.append)
    app.audit.flush()
    assert done and done[0] is not None
    wait_until(lambda: len(tab.tree.rows()) == before + 1 and not tab.filling)
    assert tab.tree.rows()[0][0] == str(done[0].id)

    app.select_tab("data")
    wait_until(lambda: not tab.winfo_ismapped())
    prediction(log)
    app.root.event_generate(AUDIT_EVENT)
    assert tab.stale and len(tab.tree.rows()) == before + 1  # not read while hidden
    show()
    assert len(tab.tree.rows()) == before + 2


@pytest.mark.parametrize("damage", ["folder", "random bytes"])
def test_a_log_that_cannot_be_read_shows_a_sentence(app, home, show, damage):
    app.audit.flush()
    for suffix in ("", "-wal", "-shm"):
        (home / f"audit.sqlite3{suffix}").unlink(missing_ok=True)
    if damage == "folder":
        (home / "audit.sqlite3").mkdir()
        expected = "not a file"
    else:
        (home / "audit.sqlite3").write_bytes(bytes(range(256)) * 64)
        expected = "not an SQLite database"
    tab = show()
    text = tab.count_label.cget("text")
    assert text.startswith("\u26a0 The audit trail") and expected in text, text
    assert "Traceback" not in text and str(tab.count_label.cget("style")) == "Error.TLabel"
    assert tab.tree.rows() == []
