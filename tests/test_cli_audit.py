"""The audit trail on the command line: what predict, score, train and threshold --save
record, --no-audit and the window's setting, an unwritable log, the audit and card
commands, and predict --report."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_cli import _write_patients  # a small patients file with one bad row, as score's tests use
from test_cli import assert_one_line_error as _one_line_error
from test_cli import run_cli as _run_cli

from bcdesktop import audit
from bcdesktop.persistence import load_default_model, load_model
from bcdesktop.resources import bundled_data_path

CASE = ["5", "1", "1", "1", "2", "1", "3", "1", "1"]
ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv):
    """test_cli's, with paths as text."""
    return _run_cli(capsys, *map(str, argv))


def assert_one_line_error(code, out, err):
    _one_line_error(code, out, err)
    assert err.startswith("error: ")


def _log(home):
    return audit.AuditLog(Path(home) / audit.FILE_NAME)


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny model trained by the command line in a home of its own (read only by
    the tests: none of them writes to that home)."""
    home = tmp_path_factory.mktemp("train-home")
    out = tmp_path_factory.mktemp("model") / "m.npz"
    env = {**os.environ, "BCDESKTOP_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "bcdesktop", "train", "--out", str(out), "--iterations", "300",
                           "--no-calibrate", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(path=out, home=home, result=json.loads(proc.stdout))


# ------------------------------------------------------------------ predict
def test_predict_records_an_entry(capsys, private_home):
    code, out, err = run_cli(capsys, "predict", "--json", *CASE)
    assert code == 0, err
    result = json.loads(out)
    assert result["audit_entry"] == 1
    assert result["origin"] == "shipped with bcdesktop" and result["report"] is None
    (entry,) = _log(private_home).entries()
    bundle = load_default_model()
    assert entry.id == 1 and entry.kind == "prediction" and entry.source == "command line"
    assert entry.scores() == [int(v) for v in CASE]
    assert entry.inputs["features"]["Clump Thickness"] == 5
    assert entry.inputs["origin"] == "shipped with bcdesktop"
    assert entry.output["probability"] == pytest.approx(result["probability"], abs=1e-12)
    assert entry.output["interval"] == pytest.approx([result["interval"]["low"], result["interval"]["high"]])
    assert entry.output["call"] == "benign" and entry.output["prediction"] == result["prediction"]
    assert entry.output["threshold"] == result["threshold"] == bundle.threshold
    assert entry.model_id == bundle.model_id == result["model"]
    assert entry.model_sha256 == bundle.file_sha256 == _sha(bundle.source_path)
    # plain text says the entry too, and the chain grows
    code, out, err = run_cli(capsys, "predict", *CASE)
    assert code == 0 and "audit entry: 2" in out and err == ""
    assert "model: " + bundle.model_id + " (shipped with bcdesktop)" in out
    assert _log(private_home).verify().ok


@pytest.mark.parametrize("where", ["after", "before"])
def test_no_audit_records_nothing(capsys, private_home, where):
    argv = ["predict", "--json", "--no-audit", *CASE] if where == "after" else ["--no-audit", "predict", "--json",
                                                                                 *CASE]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    assert result["audit_entry"] is None and result["origin"] == "shipped with bcdesktop"
    assert not (private_home / audit.FILE_NAME).exists()
    code, out, _ = run_cli(capsys, "predict", "--no-audit", *CASE)
    assert code == 0 and "audit entry" not in out


def test_the_window_setting_turns_it_off(capsys, private_home):
    (private_home / "settings.json").write_text('{"audit": false, "other": 1}', encoding="utf-8")
    code, out, err = run_cli(capsys, "predict", "--json", *CASE)
    assert code == 0, err
    assert json.loads(out)["audit_entry"] is None
    assert _log(private_home).entries() == []
    (private_home / "settings.json").write_text('{"audit": true}', encoding="utf-8")
    code, out, _ = run_cli(capsys, "predict", "--json", *CASE)
    assert json.loads(out)["audit_entry"] == 1


@pytest.mark.parametrize("extra", [[], ["--json"], ["--report", "r.pdf"]])
def test_an_unwritable_log_never_stops_a_prediction(capsys, private_home, tmp_path, extra):
    (private_home / audit.FILE_NAME).mkdir()
    extra = [str(tmp_path / a) if a.endswith(".pdf") else a for a in extra]
    code, out, err = run_cli(capsys, "predict", *extra, *CASE)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and len(err.strip().splitlines()) == 1, err
    assert str(private_home / audit.FILE_NAME) in warnings[0] and "not recorded" in warnings[0]
    if "--json" in extra:
        result = json.loads(out)
        assert result["audit_entry"] is None and result["prediction"] == "benign"
    else:
        assert "malignancy probability" in out and "audit entry" not in out
        assert "Not a medical device" in out
    if "--report" in extra:
        assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


# ------------------------------------------------------------------ score, train, threshold
def test_score_records_a_batch_entry(capsys, private_home, tmp_path):
    src, dst = tmp_path / "clinic.csv", tmp_path / "scored.csv"
    _write_patients(src)
    code, out, err = run_cli(capsys, "score", src, "-o", dst)
    assert code == 0, err
    (entry,) = _log(private_home).entries()
    assert entry.kind == "batch"
    assert entry.inputs["input"] == os.path.abspath(src) and entry.output["output"] == os.path.abspath(dst)
    assert entry.inputs["input_sha256"] == _sha(src)
    assert entry.output["output_sha256"] == _sha(dst)
    assert (entry.output["rows_read"], entry.output["rows_scored"], entry.output["rows_rejected"]) == (3, 2, 1)
    assert (entry.output["malignant"], entry.output["benign"]) == (1, 1)
    assert entry.inputs["threshold"] == load_default_model().threshold
    assert entry.model_id == load_default_model().model_id
    assert entry.summary().endswith("2 scored, 1 rejected of 3 read, threshold 0.5")


def test_train_records_a_model_entry(trained, capsys, monkeypatch):
    bundle = load_model(trained.path)
    entries = _log(trained.home).entries()
    assert [e.kind for e in entries] == ["model"]
    (entry,) = entries
    assert entry.inputs["action"] == "trained" and entry.inputs["path"] == str(trained.path)
    assert entry.inputs["data_sha256"] == _sha(bundled_data_path())
    assert entry.inputs["settings"]["iterations"] == 300
    assert entry.output["origin"] == "made on this installation"
    assert entry.model_id == bundle.model_id == trained.result["model_id"]
    assert entry.model_sha256 == _sha(trained.path)
    # the home that trained it knows it (--no-audit: that home stays as the fixture left it)
    monkeypatch.setenv("BCDESKTOP_HOME", str(trained.home))
    code, out, err = run_cli(capsys, "predict", "--json", "--no-audit", "--model", trained.path, *CASE)
    assert code == 0, err
    assert json.loads(out)["origin"] == "made on this installation"
    assert len(_log(trained.home).entries()) == 1


def test_a_copied_model_is_external_elsewhere(trained, capsys, private_home, tmp_path):
    copy = tmp_path / "copy.npz"
    shutil.copyfile(trained.path, copy)
    code, out, err = run_cli(capsys, "predict", "--json", "--model", copy, *CASE)
    assert code == 0, err
    result = json.loads(out)
    assert result["origin"] == "external model"
    (entry,) = _log(private_home).entries()
    assert entry.inputs["origin"] == "external model" and entry.inputs["model_path"] == str(copy)
    code, out, _ = run_cli(capsys, "predict", "--model", copy, *CASE)
    assert "external model" in out


def test_threshold_save_records_how_it_was_chosen(trained, capsys, private_home, tmp_path):
    model = tmp_path / "m.npz"
    shutil.copyfile(trained.path, model)
    before = load_model(model)
    code, out, err = run_cli(capsys, "threshold", "--model", model, "--sensitivity", "0.98", "--save",
                             "--data", bundled_data_path(), "--json")
    assert code == 0, err
    result = json.loads(out)
    saved = load_model(model)
    assert saved.threshold == pytest.approx(result["threshold"])
    assert saved.threshold != before.threshold
    threshold_entry, model_entry = _log(private_home).entries()
    assert threshold_entry.kind == "threshold"
    chosen_by = threshold_entry.inputs["chosen_by"]
    assert chosen_by and "sensitivity" in chosen_by
    assert saved.threshold_chosen_by == chosen_by
    assert threshold_entry.inputs["from"] == before.threshold
    assert threshold_entry.inputs["previous_model"] == before.model_id
    assert threshold_entry.output["threshold"] == saved.threshold
    assert threshold_entry.model_id == saved.model_id and threshold_entry.model_sha256 == _sha(model)
    assert model_entry.kind == "model" and model_entry.inputs == {"action": "saved", "path": str(model)}
    assert model_entry.output["origin"] == "external model"   # trained in another home
    assert _log(private_home).verify().ok


# ------------------------------------------------------------------ bcdesktop audit
def _three_entries(capsys, home):
    for scores in (CASE, ["5", "10", "10", "8", "7", "10", "9", "7", "1"]):
        code, _, err = run_cli(capsys, "predict", *scores)
        assert code == 0, err
    _log(home).append("threshold", inputs={"from": 0.5, "chosen_by": "by hand"}, output={"threshold": 0.4})


def test_audit_listing(capsys, private_home):
    _three_entries(capsys, private_home)
    code, out, err = run_cli(capsys, "audit")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]
    assert "prediction" in lines[0] and "scores 5 1 1 1 2 1 3 1 1" in lines[0] and "benign" in lines[0]
    assert "malignant" in lines[1]
    assert "threshold 0.5 -> 0.4: by hand" in lines[2]
    assert " UTC " in lines[0]


def test_audit_json_kind_and_since(capsys, private_home):
    _three_entries(capsys, private_home)
    code, out, err = run_cli(capsys, "audit", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [e["id"] for e in listed] == [1, 2, 3]
    for e in listed:
        assert set(e) == {"id", "time_utc", "kind", "app_version", "user", "model_id", "model_sha256",
                          "source", "inputs", "output", "prev_hash", "hash"}
    assert listed[0]["prev_hash"] == audit.GENESIS and listed[1]["prev_hash"] == listed[0]["hash"]
    assert listed[0]["inputs"]["scores"] == [int(v) for v in CASE]
    code, out, _ = run_cli(capsys, "audit", "--json", "--kind", "threshold")
    assert [e["id"] for e in json.loads(out)] == [3]
    code, out, _ = run_cli(capsys, "audit", "--json", "--kind", "threshold", "--kind", "prediction")
    assert [e["id"] for e in json.loads(out)] == [1, 2, 3]
    code, out, _ = run_cli(capsys, "audit", "--json", "--kind", "batch")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_cli(capsys, "audit", "--json", "--since", "2000-01-01")
    assert len(json.loads(out)) == 3
    code, out, _ = run_cli(capsys, "audit", "--json", "--since", "2999-01-01")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_cli(capsys, "audit", "--since", "2999-01-01T10:00")
    assert code == 0 and out.startswith("no entries since 2999-01-01T10:00")
    for bad in ("yesterday", "2026-02-30"):
        assert_one_line_error(*run_cli(capsys, "audit", "--since", bad))
    assert_one_line_error(*run_cli(capsys, "audit", "--kind", "nonsense"))


def test_audit_export(capsys, private_home, tmp_path):
    _three_entries(capsys, private_home)
    target = tmp_path / "out.csv"
    code, out, err = run_cli(capsys, "audit", "--export", target, "--kind", "prediction")
    assert code == 0 and out == "" and "wrote 2 entries" in err
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert json.loads(rows[0]["inputs"])["scores"] == [int(v) for v in CASE]
    assert rows[1]["hash"] == _log(private_home).entries()[1].hash
    # --export with --json prints the list as well
    code, out, err = run_cli(capsys, "audit", "--export", target, "--json")
    assert code == 0 and len(json.loads(out)) == 3
    # never over the log itself
    log_path = private_home / audit.FILE_NAME
    before = log_path.read_bytes()
    assert_one_line_error(*run_cli(capsys, "audit", "--export", log_path))
    assert log_path.read_bytes() == before and _log(private_home).verify().ok


def test_audit_verify_and_tampering(capsys, private_home):
    _three_entries(capsys, private_home)
    code, out, err = run_cli(capsys, "audit", "--verify")
    assert code == 0, err
    assert "intact" in out and "3 entries" in out
    code, out, _ = run_cli(capsys, "audit", "--verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True and json.loads(out)["checked"] == 3
    con = sqlite3.connect(private_home / audit.FILE_NAME, isolation_level=None)
    con.execute("DROP TRIGGER entries_append_only_update")
    con.execute("UPDATE entries SET body = replace(body, '\"call\":\"benign\"', '\"call\":\"malignant\"') "
                "WHERE id = 1")
    con.close()
    code, out, err = run_cli(capsys, "audit", "--verify")
    assert code == 2
    assert "broken at entry 1" in out and len(out.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "audit", "--verify", "--json")
    assert code == 2 and json.loads(out)["bad_entry"] == 1 and json.loads(out)["ok"] is False


def test_audit_with_no_log_yet(capsys, private_home):
    code, out, err = run_cli(capsys, "audit")
    assert code == 0, err
    assert out.startswith("no entries in ") and str(private_home / audit.FILE_NAME) in out
    assert len(out.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "audit", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_cli(capsys, "audit", "--verify")
    assert code == 0 and "intact" in out
    assert not (private_home / audit.FILE_NAME).exists()


@pytest.mark.parametrize("argv", [["audit"], ["audit", "--verify"], ["audit", "--json"]])
def test_audit_of_a_file_that_is_not_a_log(capsys, private_home, argv):
    junk = bytes(range(256)) * 8
    (private_home / audit.FILE_NAME).write_bytes(junk)
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, out, err)
    assert "not an audit trail" in err
    assert (private_home / audit.FILE_NAME).read_bytes() == junk


def test_audit_when_the_log_is_a_folder(capsys, private_home):
    (private_home / audit.FILE_NAME).mkdir()
    code, out, err = run_cli(capsys, "audit")
    assert_one_line_error(code, out, err)
    assert "is a folder" in err


# ------------------------------------------------------------------ predict --report
def test_predict_report(capsys, private_home, tmp_path):
    target = tmp_path / "r.pdf"
    code, out, err = run_cli(capsys, "predict", "--json", "--report", target, *CASE)
    assert code == 0, err
    result = json.loads(out)
    assert result["report"] == str(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    prediction, report = _log(private_home).entries()
    assert prediction.id == result["audit_entry"] == 1
    assert report.kind == "report" and report.inputs == {"entry": 1} and report.output == {"path": str(target)}
    assert report.summary() == f"report {target} of entry 1"
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        if os.environ.get("BCDESKTOP_REQUIRE_GUI") == "1":
            pytest.fail("pdftotext is missing")
        return
    text = subprocess.run([pdftotext, str(target), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "entry: #1" in text or "entry #1" in text or "entry: 1" in text, text


def test_predict_report_never_over_the_model(capsys, private_home, tmp_path):
    model = tmp_path / "m.npz"
    shutil.copyfile(load_default_model().source_path, model)
    before = model.read_bytes()
    assert_one_line_error(*run_cli(capsys, "predict", "--model", model, "--report", model, *CASE))
    assert model.read_bytes() == before
    assert [e.kind for e in _log(private_home).entries()] == ["prediction"]   # no report entry


# ------------------------------------------------------------------ bcdesktop card
def test_card(capsys, tmp_path):
    bundle = load_default_model()
    code, out, err = run_cli(capsys, "card")
    assert code == 0, err
    assert out.startswith("# Model card") and bundle.model_id in out and "## " in out
    target = tmp_path / "x.html"
    code, out, err = run_cli(capsys, "card", "-o", target)
    assert code == 0 and out == "" and "wrote the model card" in err
    html = target.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and bundle.model_id in html
    assert_one_line_error(*run_cli(capsys, "card", "-o", tmp_path / "x.txt"))
    assert not (tmp_path / "x.txt").exists()


def test_card_of_a_trained_model_says_where_it_was_made(trained, capsys, monkeypatch):
    monkeypatch.setenv("BCDESKTOP_HOME", str(trained.home))
    code, out, err = run_cli(capsys, "card", "--model", trained.path)
    assert code == 0, err
    assert "made on this installation" in out.lower()


def test_card_when_the_log_cannot_be_read(capsys, private_home):
    """An unreadable log gives "origin unknown", which the card shows as not known."""
    (private_home / audit.FILE_NAME).write_bytes(bytes(range(256)) * 8)
    model = ROOT / "tests" / "data" / "model_format1.npz"
    assert _log(private_home).origin(load_model(model)) == "origin unknown"
    code, out, err = run_cli(capsys, "card", "--model", model)
    assert code == 0, err
    assert "Not known" in out


def test_audit_listing_escapes_an_edited_log(capsys, private_home):
    _three_entries(capsys, private_home)
    con = sqlite3.connect(private_home / audit.FILE_NAME, isolation_level=None)
    con.execute("DROP TRIGGER entries_append_only_update")
    con.execute("UPDATE entries SET user = 'evil\x1b[2J\nsecond line', model_id = 'x\ry' WHERE id = 2")
    con.execute("UPDATE entries SET model_id = 5, model_sha256 = X'00' WHERE id = 3")
    con.close()
    code, out, err = run_cli(capsys, "audit")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3 and "\x1b" not in out and "\r" not in out
    code, out, _ = run_cli(capsys, "audit", "--verify")
    assert code == 2 and "broken at entry 2" in out
