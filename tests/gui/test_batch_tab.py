"""The Batch tab: scoring a real file in the background and reading what it shows."""

from __future__ import annotations

import numpy as np
import pytest

from bcdesktop import scoring

pytestmark = pytest.mark.gui

GOOD = ["1000025,5,1,1,1,2,1,3,1,1,2", "1002945,5,4,4,5,7,10,3,2,1,2", "1017023,4,1,1,3,2,1,3,1,1,2",
        "1017122,8,10,10,8,7,10,9,7,1,4", "1018561,2,1,2,1,2,1,3,1,1,2", "1033078,2,1,1,1,2,1,1,1,5,2",
        "1035283,1,1,1,1,1,1,3,1,1,2", "1041801,5,3,3,3,2,3,4,4,1,4", "1043999,1,1,1,1,2,3,3,1,1,2",
        "1044572,8,7,5,10,7,9,5,5,4,4"]
BAD = {4: ("1057013,8,4,5,1,2,?,7,3,1,4", "Bare Nuclei", "Bare Nuclei is missing"),
       7: ("1099510,10,4,3,1,3,3,6,5,11,4", "Mitoses", "Mitoses = 11 is outside 1..10"),
       10: ("1100524,6,10,2,8,10,2,7,abc,1,4", "Normal Nucleoli", "Normal Nucleoli 'abc' is not a whole number")}


@pytest.fixture
def small_csv(tmp_path):
    """10 good rows and 3 bad ones (at file lines 4, 7 and 10), headerless UCI layout."""
    lines, good = [], iter(GOOD)
    for line in range(1, len(GOOD) + len(BAD) + 1):
        lines.append(BAD[line][0] if line in BAD else next(good))
    path = tmp_path / "clinic.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tab(app, root, trained_bundle):
    app.set_model(trained_bundle, source="test")
    app.select_tab("batch")
    root.update()
    return app.tabs["batch"]


def counts(tab):
    return {key: label.cget("text") for key, label in tab.count_labels.items()}


def test_scores_a_small_file_and_shows_summary_rejections_and_metrics(tab, app, small_csv, trained_bundle,
                                                                       dialogs, wait_until):
    dialogs.answer_open(small_csv)
    tab.choose_input_button.invoke()
    assert tab.input_var.get() == str(small_csv)
    expected_out = scoring.default_output_path(small_csv)
    assert tab.output_var.get() == str(expected_out)

    tab.score_button.invoke()
    assert tab.running and tab.cancel_button.instate(["!disabled"])
    wait_until(lambda: not tab.running)

    X = np.array([[float(v) for v in row.split(",")[1:10]] for row in GOOD])
    malignant = int((trained_bundle.predict_proba(X) >= app.threshold).sum())
    assert counts(tab) == {"rows_read": "13", "scored": "10", "rejected": "3",
                           "malignant": str(malignant), "benign": str(10 - malignant)}
    assert tab.rejected_tree.rows() == [(str(line), row.split(",")[0], column, reason)
                                        for line, (row, column, reason) in sorted(BAD.items())]
    assert "Scored 10 of 13 rows; 3 could not be scored" in tab.message_label.cget("text")
    assert f"Scored 10 of 13 rows into {expected_out.name}." in app.status.text()  # not a stale message
    assert expected_out.exists() and len(expected_out.read_text().splitlines()) == 14  # header + 13
    labels = np.array([int(row.split(",")[10]) == 4 for row in GOOD])
    tp = int(((trained_bundle.predict_proba(X) >= app.threshold) & labels).sum())
    assert tab.confusion.values()["tp"] == f"TP {tp}"
    fn = int((~(trained_bundle.predict_proba(X) >= app.threshold) & labels).sum())
    sensitivity = tab.metrics_table.rows()[1]
    assert sensitivity[0] == "Sensitivity" and sensitivity[3] == f"{tp} / {tp + fn}"
    assert sensitivity[1] == f"{100 * tp / (tp + fn):.1f}%" and sensitivity[2].endswith("%")
    assert tab.open_button.instate(["!disabled"])
    tab.open_button.invoke()
    assert dialogs.opened_folders == [str(small_csv.parent)]
    assert ("rejected", 3) in app.results["Batch scoring"]


def test_the_keyboard_focus_leaves_cancel_when_scoring_ends(tab, focused, small_csv, wait_until):
    tab.set_input(small_csv)
    tab.score_button.invoke()
    assert focused.focus_get() is tab.cancel_button  # Enter or Space cancels while it runs
    wait_until(lambda: not tab.running)
    assert tab.cancel_button.instate(["disabled"])
    assert focused.focus_get() is tab.score_button  # not left on a disabled button


def test_existing_output_is_kept_unless_the_user_agrees(tab, small_csv, dialogs, wait_until):
    out = small_csv.with_name("out.csv")
    out.write_text("keep me\n")
    tab.set_input(small_csv)
    tab.output_var.set(str(out))
    dialogs.answer_yes_no(False)
    tab.score_button.invoke()
    assert not tab.running
    assert dialogs.calls[-1][0] == "yes_no" and str(out) in dialogs.calls[-1][2]
    assert "already exists and was kept" in tab.message_label.cget("text")
    assert out.read_text() == "keep me\n"

    dialogs.answer_yes_no(True)
    tab.score_button.invoke()
    wait_until(lambda: not tab.running)
    assert out.read_text().splitlines()[0].endswith(",".join(scoring.NEW_COLUMNS))
    assert counts(tab)["rows_read"] == "13"


def test_input_as_output_is_refused(tab, small_csv, dialogs):
    before = small_csv.read_bytes()
    tab.set_input(small_csv)
    tab.output_var.set(str(small_csv.parent / "." / small_csv.name))
    tab.score_button.invoke()
    assert not tab.running
    assert "The output file is the input file" in tab.message_label.cget("text")
    assert dialogs.calls == []  # refused before any question
    assert small_csv.read_bytes() == before


def test_escape_cancels_and_leaves_no_output(tab, press_escape, tmp_path, dialogs, wait_until):
    rng = np.random.default_rng(0)
    rows = rng.integers(1, 11, size=(150_000, 9))
    big = tmp_path / "big.csv"
    np.savetxt(big, rows, fmt="%d", delimiter=",")
    tab.set_input(big)
    out = scoring.default_output_path(big)
    tab.score_button.invoke()
    assert tab.running
    press_escape()  # the app's "stop current work"
    wait_until(lambda: not tab.running, timeout=20)
    assert "Cancelled: no output file was written" in tab.message_label.cget("text")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "home"]
    assert counts(tab)["scored"] == "\u2014"
    assert tab.score_button.instate(["!disabled"]) and tab.cancel_button.instate(["disabled"])


def test_unusable_file_reports_a_plain_error_and_keeps_the_last_results(tab, tmp_path, small_csv, dialogs,
                                                                        wait_until):
    tab.set_input(small_csv)
    tab.score_button.invoke()
    wait_until(lambda: not tab.running)
    assert counts(tab)["scored"] == "10"
    bad = tmp_path / "photo.csv"
    bad.write_bytes(bytes(range(256)) * 40)
    tab.set_input(bad)
    tab.score_button.invoke()
    wait_until(lambda: not tab.running)
    kind, _title, message = dialogs.last_message
    assert kind == "error" and "photo.csv" in message and "Traceback" not in message
    shown = tab.message_label.cget("text")
    assert "stopped with an error" in shown and f"still those of {small_csv.name}" in shown
    assert counts(tab)["scored"] == "10" and len(tab.rejected_tree.rows()) == 3  # the previous results stay
    assert not scoring.default_output_path(bad).exists()


def test_progress_shows_rows_rate_and_time_left(tab):
    tab._on_progress(scoring.ScoreProgress(rows_done=50_000, bytes_done=1_000_000, bytes_total=4_000_000,
                                           seconds=0.5))
    assert tab.progress_label.cget("text") == "50,000 rows \u00b7 100,000 rows/s \u00b7 about 1.5 s left"
    assert float(tab.progress.cget("value")) == pytest.approx(0.25)


def test_without_a_model_scoring_is_refused(make_app, root, small_csv):
    app = make_app(model=False)
    tab = app.tabs["batch"]
    tab.set_input(small_csv)
    root.update()
    assert tab.score_button.instate(["disabled"])
    assert "No model is loaded" in tab.model_label.cget("text")


def entry_of(tab, var):
    stack = [tab]
    while stack:
        w = stack.pop()
        stack.extend(w.winfo_children())
        if w.winfo_class() == "TEntry" and str(w.cget("textvariable")) == str(var):
            return w
    raise AssertionError("no entry for that variable")


def test_the_output_follows_a_typed_or_chosen_input_until_the_user_gives_one(tab, root, tmp_path, dialogs):
    first, second = tmp_path / "clinic-a.csv", tmp_path / "clinic-b.csv"
    typed = entry_of(tab, tab.input_var)
    typed.insert(0, str(first))  # typed (or pasted) into the field, not chosen
    root.update()
    assert tab.output_var.get() == str(scoring.default_output_path(first)) == str(tmp_path / "clinic-a.scored.csv")
    typed.delete(0, "end")
    typed.insert(0, str(second))
    root.update()
    assert tab.output_var.get() == str(tmp_path / "clinic-b.scored.csv")

    own = entry_of(tab, tab.output_var)  # the user writes an output of their own: it stays
    own.delete(0, "end")
    own.insert(0, str(tmp_path / "mine.csv"))
    dialogs.answer_open(first)
    tab.choose_input_button.invoke()
    root.update()
    assert tab.input_var.get() == str(first) and tab.output_var.get() == str(tmp_path / "mine.csv")

    own.delete(0, "end")  # an empty output follows again
    dialogs.answer_open(second)
    tab.choose_input_button.invoke()
    root.update()
    assert tab.output_var.get() == str(tmp_path / "clinic-b.scored.csv")


def test_the_explain_check_box_adds_the_contributions(app, root, small_csv, wait_until):
    from bcdesktop.persistence import load_default_model

    app.set_model(load_default_model(), source="default")
    app.select_tab("batch")
    root.update()
    tab = app.tabs["batch"]
    assert tab.explain_var.get() is False
    tab.set_input(small_csv)
    tab.explain_check.invoke()
    assert tab.explain_var.get() is True
    tab.score_button.invoke()
    wait_until(lambda: not tab.running)
    out = scoring.default_output_path(small_csv)
    header = out.read_text().splitlines()[0].split(",")
    assert header[11:] == [*scoring.NEW_COLUMNS, *scoring.CONTRIBUTION_COLUMNS]
    assert tab.summary.explained and tab.summary.intervals
    assert "Scored 10 of 13 rows" in tab.message_label.cget("text")
