"""The audit trail's core (bcdesktop.audit): entries and their hash chain, tampering
found and the first bad entry named, several writers at once, a log that cannot be
written, where a model came from, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import audit
from bcdesktop.audit import GENESIS, AuditLog
from bcdesktop.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ helpers
@pytest.fixture
def log(tmp_path):
    return AuditLog(tmp_path / "audit.sqlite3")


def _fill(log, n=5):
    return [log.append("prediction", inputs={"scores": [1 + i % 10] * 9, "n": i},
                       output={"probability": i / 10}) for i in range(n)]


def _raw(log):
    """A connection that can edit the log: the triggers dropped, as a deliberate edit would."""
    con = sqlite3.connect(log.path, isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS entries_append_only_update")
    con.execute("DROP TRIGGER IF EXISTS entries_append_only_delete")
    return con


def _rehash(con, entry_id):
    row = con.execute(f"SELECT {audit._COLUMNS} FROM entries WHERE id = ?", (entry_id,)).fetchone()
    con.execute("UPDATE entries SET hash = ? WHERE id = ?", (audit._digest(row), entry_id))


def _broken_at(log, bad_id, *words):
    result = log.verify()
    assert not result.ok
    assert result.bad_id == bad_id, result
    sentence = result.sentence()
    assert f"entry {bad_id}:" in sentence, sentence
    assert "\n" not in sentence
    for word in words:
        assert word in sentence, sentence
    assert result.to_json()["bad_entry"] == bad_id
    return result


def _small_bundle(seed=3, threshold=0.4):
    from bcdesktop.model import MLP, Scaler
    from bcdesktop.persistence import ModelBundle

    return ModelBundle(network=MLP(9, (5,), init="he", seed=seed),
                       scaler=Scaler(np.ones(9), np.full(9, 10.0)), threshold=threshold,
                       created_utc="2026-12-02T00:00:00Z")


# ------------------------------------------------------------------ entries
def test_entries_round_trip(log):
    shipped = __import__("bcdesktop.persistence", fromlist=["x"]).load_default_model()
    first = log.append("prediction", model=shipped, inputs={"scores": [5, 1, 1, 1, 2, 1, 3, 1, 1]},
                       output={"probability": 0.25, "interval": [0.2, 0.3], "call": "benign",
                               "threshold": 0.5})
    second = log.append("batch", inputs={"input": "a.csv", "threshold": 0.5},
                        output={"output": "b.csv", "rows_read": 3, "rows_scored": 2, "rows_rejected": 1})
    third = log.append("threshold", inputs={"from": 0.5, "chosen_by": "youden"}, output={"threshold": 0.4},
                       source="window")
    assert [e.id for e in (first, second, third)] == [1, 2, 3]
    got = log.entries()
    assert got == [first, second, third]
    e = got[0]
    assert e.kind == "prediction" and e.model_id == shipped.model_id
    assert e.model_sha256 == shipped.file_sha256
    assert e.inputs["scores"] == [5, 1, 1, 1, 2, 1, 3, 1, 1] and e.scores() == [5, 1, 1, 1, 2, 1, 3, 1, 1]
    assert e.output["interval"] == [0.2, 0.3] and e.output["probability"] == 0.25
    assert e.source == "command line" and got[2].source == "window"
    assert e.user == audit.os_user() and e.app_version == audit.__version__
    assert e.time_utc.endswith("Z") and audit.parse_since(e.time_utc[:10]) <= e.time_utc
    assert got[1].model_id is None and got[1].scores() is None
    # the chain
    assert got[0].prev_hash == GENESIS
    assert [e.prev_hash for e in got[1:]] == [e.hash for e in got[:-1]]
    assert len({e.hash for e in got}) == 3
    # order, limit, kinds, since
    assert [e.id for e in log.entries(newest_first=True)] == [3, 2, 1]
    assert [e.id for e in log.entries(limit=2)] == [1, 2]
    assert [e.id for e in log.entries(newest_first=True, limit=1)] == [3]
    assert [e.id for e in log.entries(kinds=["batch", "threshold"])] == [2, 3]
    assert log.entries(kinds=["model"]) == []
    assert [e.id for e in log.entries(since=audit.parse_since("2000-01-01"))] == [1, 2, 3]
    assert log.entries(since=audit.parse_since("2999-01-01")) == []
    assert [e.id for e in log.entries(since=second.time_utc)] == [2, 3]
    assert log.count() == 3
    assert json.loads(json.dumps(e.to_json()))["inputs"]["scores"][0] == 5
    assert set(e.to_json()) == {"id", "time_utc", "kind", "app_version", "user", "model_id",
                                "model_sha256", "source", "inputs", "output", "prev_hash", "hash"}


def test_values_are_stored_as_plain_json(log):
    entry = log.append("prediction", inputs={"scores": np.arange(1, 10), "path": Path("x.csv")},
                       output={"probability": np.float64(0.5), "nan": float("nan"), "pair": (1, 2)})
    (back,) = log.entries()
    assert back == entry
    assert back.inputs == {"scores": list(range(1, 10)), "path": "x.csv"}
    assert back.output == {"probability": 0.5, "nan": None, "pair": [1, 2]}
    with pytest.raises(ValueError):
        log.append("nonsense")


def test_no_log_yet_reads_as_empty(log):
    assert log.entries() == [] and log.count() == 0
    result = log.verify()
    assert result.ok and result.checked == 0
    assert not log.path.exists()


def test_parse_since():
    assert audit.parse_since("2026-12-01") == "2026-12-01T00:00:00.000000Z"
    assert audit.parse_since("2026-12-01 14:30") == "2026-12-01T14:30:00.000000Z"
    assert audit.parse_since("2026-12-01T14:30:05Z") == "2026-12-01T14:30:05.000000Z"
    for bad in ("yesterday", "2026-13-01", ""):
        with pytest.raises(ValueError, match="not a date"):
            audit.parse_since(bad)


# ------------------------------------------------------------------ the chain
def test_verify_intact(log):
    _fill(log, 5)
    result = log.verify()
    assert result.ok and result.checked == 5 and result.bad_id is None
    assert "intact" in result.sentence() and "5 entries" in result.sentence()


def test_body_edited(log):
    _fill(log, 5)
    con = _raw(log)
    con.execute("UPDATE entries SET body = replace(body, '\"n\":2', '\"n\":7') WHERE id = 3")
    _broken_at(log, 3, "edited")


def test_user_edited(log):
    _fill(log, 5)
    _raw(log).execute("UPDATE entries SET user = 'someone else' WHERE id = 2")
    _broken_at(log, 2, "edited")


def test_update_and_delete_are_refused_without_dropping_the_triggers(log):
    _fill(log, 2)
    con = sqlite3.connect(log.path, isolation_level=None)
    for sql in ("UPDATE entries SET user = 'x'", "DELETE FROM entries"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()
    assert log.verify().ok


def test_entry_deleted_in_the_middle(log):
    _fill(log, 5)
    _raw(log).execute("DELETE FROM entries WHERE id = 3")
    _broken_at(log, 3, "missing", "deleted")


def test_several_deleted_in_the_middle(log):
    _fill(log, 6)
    _raw(log).execute("DELETE FROM entries WHERE id IN (2, 3, 4)")
    _broken_at(log, 2, "entries 2-4 are missing")


def test_first_entry_deleted(log):
    _fill(log, 3)
    _raw(log).execute("DELETE FROM entries WHERE id = 1")
    _broken_at(log, 1, "missing")


def test_two_entries_swapped(log):
    _fill(log, 5)
    con = _raw(log)
    rows = {r[0]: r for r in con.execute(f"SELECT {audit._COLUMNS} FROM entries WHERE id IN (2, 4)")}
    cols = audit._COLUMNS.split(", ")[1:]
    for target, source in ((2, 4), (4, 2)):
        con.execute(f"UPDATE entries SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                    (*rows[source][1:], target))
    _broken_at(log, 2)


@pytest.mark.parametrize("deleted, words", [((5,), "entry 5, the last, is missing"),
                                            ((4, 5), "entries 4-5 are missing from the end")])
def test_last_entries_deleted(log, deleted, words):
    _fill(log, 5)
    _raw(log).execute(f"DELETE FROM entries WHERE id IN ({', '.join(map(str, deleted))})")
    _broken_at(log, deleted[0], words)


def test_all_entries_deleted(log):
    _fill(log, 3)
    _raw(log).execute("DELETE FROM entries")
    _broken_at(log, 1, "entries 1-3 are missing")


def test_entry_edited_and_its_hash_recomputed(log):
    """The edited entry is self-consistent; the next one's link names it."""
    _fill(log, 5)
    con = _raw(log)
    con.execute("UPDATE entries SET body = replace(body, '\"n\":2', '\"n\":7') WHERE id = 3")
    _rehash(con, 3)
    result = _broken_at(log, 4, "entry 3")
    assert result.checked == 3
    assert "hash" in result.problem


def test_first_entry_rehashed_with_another_start(log):
    _fill(log, 2)
    con = _raw(log)
    con.execute("UPDATE entries SET prev_hash = ? WHERE id = 1", ("1" * 64,))
    _rehash(con, 1)
    result = _broken_at(log, 1)
    assert "entry 0" not in result.sentence()


def test_entry_inserted(log):
    entries = _fill(log, 3)
    con = _raw(log)
    # a forged entry at the end whose link is not the last entry's hash
    row = [4, entries[-1].time_utc, "prediction", audit.__version__, "mallory", None, None,
           audit._canonical({"inputs": {}, "output": {}, "source": "command line"}), entries[0].hash]
    row.append(audit._digest(row))
    con.execute(f"INSERT INTO entries ({audit._COLUMNS}) VALUES ({', '.join('?' * 10)})", row)
    _broken_at(log, 4)
    # one with a made-up hash is found too
    con.execute("DELETE FROM entries WHERE id = 4")
    row[8], row[9] = entries[-1].hash, "f" * 64
    con.execute(f"INSERT INTO entries ({audit._COLUMNS}) VALUES ({', '.join('?' * 10)})", row)
    _broken_at(log, 4, "edited")


def test_entry_inserted_in_the_middle_by_renumbering(log):
    _fill(log, 4)
    con = _raw(log)
    for i in (4, 3):
        con.execute("UPDATE entries SET id = id + 1 WHERE id = ?", (i,))
    row = list(con.execute(f"SELECT {audit._COLUMNS} FROM entries WHERE id = 2").fetchone())
    row[0], row[4], row[8] = 3, "mallory", row[9]
    row[9] = audit._digest(row)
    con.execute(f"INSERT INTO entries ({audit._COLUMNS}) VALUES ({', '.join('?' * 10)})", row)
    _broken_at(log, 4)


@pytest.mark.parametrize("body", ["not json {", "[1, 2]", "null"])
def test_body_not_json(log, body):
    _fill(log, 3)
    con = _raw(log)
    con.execute("UPDATE entries SET body = ? WHERE id = 2", (body,))
    _broken_at(log, 2, "edited")
    _rehash(con, 2)
    _rehash_following(con, 2)
    _broken_at(log, 2, "not readable")
    assert [e.id for e in log.entries()] == [1, 3]   # skipped when listing


def _rehash_following(con, entry_id):
    """Rewrite the chain after ``entry_id`` as a careful forger would."""
    prev = con.execute("SELECT hash FROM entries WHERE id = ?", (entry_id,)).fetchone()[0]
    for (i,) in con.execute("SELECT id FROM entries WHERE id > ? ORDER BY id", (entry_id,)).fetchall():
        con.execute("UPDATE entries SET prev_hash = ? WHERE id = ?", (prev, i))
        _rehash(con, i)
        prev = con.execute("SELECT hash FROM entries WHERE id = ?", (i,)).fetchone()[0]


@pytest.mark.parametrize("column, value", [("body", b"\x00\xff"), ("model_id", b"\x01"),
                                           ("hash", 12), ("hash", ""), ("time_utc", 12.5)])
def test_odd_column_types_are_a_broken_chain_not_a_crash(log, column, value):
    _fill(log, 3)
    _raw(log).execute(f"UPDATE entries SET {column} = ? WHERE id = 2", (value,))
    _broken_at(log, 2)
    log.entries()   # no exception


def test_a_careful_forger_who_rewrites_everything_is_not_found(log):
    """Documented limit: the chain proves order and integrity, not authorship."""
    _fill(log, 4)
    con = _raw(log)
    con.execute("UPDATE entries SET user = 'mallory' WHERE id = 2")
    _rehash(con, 2)
    _rehash_following(con, 2)
    assert log.verify().ok


def test_writing_goes_on_after_a_broken_chain(log):
    _fill(log, 3)
    _raw(log).execute("DELETE FROM entries WHERE id = 2")
    assert log.append("prediction").id == 4   # never reuses an id
    _broken_at(log, 2)


# ------------------------------------------------------------------ several writers
WRITER = """
import sys
from bcdesktop.audit import AuditLog
log = AuditLog(sys.argv[1])
w = sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()   # all start together
for i in range(int(sys.argv[3])):
    log.append("prediction", inputs={"writer": w, "seq": i})
"""


def test_concurrent_writers(tmp_path):
    path = tmp_path / "audit.sqlite3"
    n, processes, threads = 40, 4, 3
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{k}", str(n)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k in range(processes)]
    errors = []
    start = threading.Event()

    def write(name):
        one = AuditLog(path, source="window")
        start.wait(60)
        try:
            for i in range(n):
                one.append("prediction", inputs={"writer": name, "seq": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    shared = AuditLog(path)

    def record():
        start.wait(60)
        for i in range(n):
            shared.record("batch", inputs={"writer": "r", "seq": i})

    workers = [threading.Thread(target=write, args=(f"t{k}",)) for k in range(threads)]
    workers.append(threading.Thread(target=record))
    for t in workers:
        t.start()
    for p in procs:
        assert p.stdout.readline().strip() == b"ready"
    for p in procs:   # the file does not exist yet: the first writers also create it at once
        p.stdin.write(b"go\n")
        p.stdin.flush()
    start.set()
    for t in workers:
        t.join(120)
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert not errors and shared.problem is None
    entries = AuditLog(path).entries()
    writers = [f"p{k}" for k in range(processes)] + [f"t{k}" for k in range(threads)] + ["r"]
    assert len(entries) == n * len(writers)
    assert [e.id for e in entries] == list(range(1, len(entries) + 1))
    seen = {}
    for e in entries:
        seen.setdefault(e.inputs["writer"], []).append(e.inputs["seq"])
    assert sorted(seen) == sorted(writers)
    for w, seqs in seen.items():
        assert seqs == list(range(n)), w   # each writer's entries once, in its order
    result = AuditLog(path).verify()
    assert result.ok and result.checked == len(entries)


# ------------------------------------------------------------------ a log that cannot be written
def _check_unwritable(log, *, fix=None, words=()):
    assert log.record("prediction", inputs={"n": 1}) is None
    problem = log.problem
    assert problem and "\n" not in problem and problem.endswith(".")
    assert str(log.path) in problem
    assert "Traceback" not in problem and "sqlite3." not in problem
    for word in words:
        assert word in problem, problem
    told = log.take_problem()
    assert told.startswith(problem) and "not recorded" in told
    assert log.take_problem() is None
    assert log.record("prediction") is None          # the same problem is not told twice
    assert log.take_problem() is None
    if fix is not None:
        fix()
        entry = log.record("prediction", inputs={"n": 2})
        assert entry is not None and log.problem is None and log.take_problem() is None
        assert log.verify().ok
    return problem


def test_log_is_a_folder(log):
    log.path.mkdir()
    _check_unwritable(log, fix=log.path.rmdir, words=("is a folder, not a file",))


def test_its_folder_is_a_regular_file(tmp_path):
    parent = tmp_path / "home"
    parent.write_text("a file", encoding="utf-8")
    log = AuditLog(parent / "audit.sqlite3")

    def fix():
        parent.unlink()
        parent.mkdir()

    _check_unwritable(log, fix=fix, words=("a file stands where its folder should be",))
    assert parent.is_dir()


def test_its_folder_is_missing(tmp_path):
    log = AuditLog(tmp_path / "gone" / "audit.sqlite3")
    _check_unwritable(log, fix=lambda: (tmp_path / "gone").mkdir(), words=("does not exist",))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_in_its_place(log):
    os.mkfifo(log.path)
    done = []
    t = threading.Thread(target=lambda: done.append(_check_unwritable(log, words=("FIFO",))), daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():   # unblock the thread so the test run can end, then fail
        fd = os.open(log.path, os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("writing to a FIFO blocked")
    assert done
    log.path.unlink()
    assert log.record("prediction") is not None and log.problem is None


def test_random_bytes_are_left_untouched(log):
    data = np.random.default_rng(7).bytes(5000)
    log.path.write_bytes(data)
    _check_unwritable(log, words=("not an audit trail",))
    assert log.path.read_bytes() == data
    assert sorted(p.name for p in log.path.parent.iterdir()) == [log.path.name]
    assert audit.AuditLog(log.path).origin(_small_bundle()) == "origin unknown"
    for read in (log.verify, log.entries, log.count):
        with pytest.raises(audit.AuditUnavailable, match="cannot be read .*not an audit trail"):
            read()
    assert log.path.read_bytes() == data


def test_another_sqlite_database_is_not_an_audit_trail(log):
    con = sqlite3.connect(log.path)
    con.execute("CREATE TABLE other (a)")
    con.commit()
    con.close()
    with pytest.raises(audit.AuditUnavailable, match="not an audit trail"):
        log.verify()


class _Failing(sqlite3.Connection):
    message = "database or disk is full"

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith("INSERT"):
            raise sqlite3.OperationalError(self.message)
        return super().execute(sql, *args)


@pytest.mark.parametrize("message, words", [("database or disk is full", "disk is full"),
                                            ("attempt to write a readonly database", "read-only")])
def test_disk_full_or_read_only_on_insert(log, monkeypatch, message, words):
    _fill(log, 2)
    real = sqlite3.connect

    class Failing(_Failing):
        pass

    Failing.message = message
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real(*a, factory=Failing, **k))
    _check_unwritable(log, fix=monkeypatch.undo, words=(words,))
    assert [e.id for e in log.entries()] == [1, 2, 3]


@pytest.mark.parametrize("message, words", [("database or disk is full", "disk is full"),
                                            ("attempt to write a readonly database", "read-only"),
                                            ("unable to open database file", "cannot be opened")])
def test_connect_fails(log, monkeypatch, message, words):
    def refuse(*a, **k):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(sqlite3, "connect", refuse)
    _check_unwritable(log, fix=monkeypatch.undo, words=(words,))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes to a read-only folder anyway")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    log = AuditLog(folder / "audit.sqlite3")
    folder.chmod(0o500)
    try:
        _check_unwritable(log, fix=lambda: folder.chmod(0o700))
    finally:
        folder.chmod(0o700)


def test_a_new_problem_is_told_again(log):
    log.path.mkdir()
    assert log.record("prediction") is None and log.take_problem()
    log.path.rmdir()
    assert log.record("prediction") is not None and log.problem is None
    log.path.with_name("audit.sqlite3-wal").mkdir()   # now another failure
    log.path.unlink()
    log.path.mkdir()
    assert log.record("prediction") is None
    assert log.take_problem() is not None and log.take_problem() is None


def test_disabled_log_records_nothing(log):
    off = AuditLog(log.path, enabled=False)
    assert off.record("prediction") is None and off.problem is None
    assert not log.path.exists()


def test_setting_enabled(tmp_path):
    assert audit.setting_enabled(tmp_path)
    settings = tmp_path / audit.SETTINGS_FILE
    for text, expected in (('{"audit": false}', False), ('{"audit": true}', True), ('{"audit": 0}', True),
                           ("not json", True), ("[]", True)):
        settings.write_text(text, encoding="utf-8")
        assert audit.setting_enabled(tmp_path) is expected, text
    settings.unlink()
    settings.mkdir()
    assert audit.setting_enabled(tmp_path)


def test_setting_enabled_reads_bcdesktop_home(private_home):
    (private_home / audit.SETTINGS_FILE).write_text('{"audit": false}', encoding="utf-8")
    assert not audit.setting_enabled()
    assert audit.default_path() == private_home / audit.FILE_NAME


# ------------------------------------------------------------------ origin
def test_origin(log):
    from bcdesktop.persistence import load_default_model

    shipped = load_default_model()
    assert log.origin(shipped) == "shipped with bcdesktop"
    mine, other = _small_bundle(seed=3), _small_bundle(seed=4)
    assert log.origin(mine) == "external model"          # no log yet
    assert log.remember_model(mine, "trained in a test")
    assert log.origin(mine) == "made on this installation"
    moved = mine.with_threshold(0.3, "a test")
    assert moved.model_id != mine.model_id and moved.network_id == mine.network_id
    assert log.origin(moved) == "made on this installation"
    assert log.origin(other) == "external model"
    assert log.remember_model(mine, "again")              # twice is fine
    assert log.count() == 0                               # models are not entries


def test_disabled_log_still_remembers_models(log):
    off = AuditLog(log.path, enabled=False)
    bundle = _small_bundle()
    assert off.remember_model(bundle, "trained in a test")
    assert off.origin(bundle) == "made on this installation"
    assert AuditLog(log.path).origin(bundle) == "made on this installation"
    assert log.entries() == []


def test_remember_model_on_an_unwritable_log(log):
    log.path.mkdir()
    bundle = _small_bundle()
    assert not log.remember_model(bundle, "trained in a test")
    assert str(log.path) in log.take_problem()
    assert log.origin(bundle) == "origin unknown"


# ------------------------------------------------------------------ export
def test_export_csv(log, tmp_path, monkeypatch):
    _fill(log, 2)
    monkeypatch.setattr(audit, "os_user", lambda: '=HYPERLINK("http://x","y")')
    log.append("model", inputs={"action": "loaded", "path": "m.npz"}, source="+cmd")
    out = audit.export_csv(tmp_path / "out.csv", log.entries(), log_path=log.path)
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == audit.CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    last = dict(zip(rows[0], rows[-1]))
    assert last["user"].startswith("'=")
    assert last["source"].startswith("'+")
    assert last["kind"] == "model" and last["summary"] == "model loaded: m.npz"
    assert json.loads(last["inputs"]) == {"action": "loaded", "path": "m.npz"}
    assert last["hash"] == log.entries()[-1].hash
    first = dict(zip(rows[0], rows[1]))
    assert json.loads(first["output"]) == {"probability": 0.0}
    for cells in rows[1:]:
        assert not any(c[:1] and c[:1] in "=+-@" for c in cells), cells


def test_export_refuses_the_log_and_shipped_files(log):
    from bcdesktop.resources import bundled_data_path

    _fill(log, 2)
    before = log.path.read_bytes()
    for target in (log.path, Path(f"{log.path}-wal")):
        with pytest.raises(UserError) as info:
            audit.export_csv(target, log.entries(), log_path=log.path)
        assert "\n" not in str(info.value)
    assert log.path.read_bytes() == before and log.verify().ok
    shipped = bundled_data_path()
    shipped_bytes = Path(shipped).read_bytes()
    with pytest.raises(UserError, match="shipped"):
        audit.export_csv(shipped, log.entries(), log_path=log.path)
    assert Path(shipped).read_bytes() == shipped_bytes


def test_export_into_a_missing_folder_is_one_sentence(log, tmp_path):
    with pytest.raises(UserError) as info:
        audit.export_csv(tmp_path / "nope" / "out.csv", [], log_path=log.path)
    assert "\n" not in str(info.value)


def test_entries_csv_of_nothing_is_the_header():
    text = audit.entries_csv([]).decode("utf-8")
    assert next(csv.reader(io.StringIO(text))) == list(audit.CSV_COLUMNS)


def test_summaries(log):
    texts = [e.summary() for e in (
        log.append("prediction", inputs={"scores": [5, 1, 1, 1, 2, 1, 3, 1, 1]},
                   output={"probability": 0.123, "interval": [0.1, 0.15], "call": "benign", "threshold": 0.5}),
        log.append("prediction", inputs={"scores": "odd"}, output={}),
        log.append("batch", inputs={"input": "in.csv", "threshold": 0.5},
                   output={"output": "out.csv", "rows_read": 1234, "rows_scored": 1200, "rows_rejected": 34}),
        log.append("batch"),
        log.append("model", inputs={"action": "trained", "path": "m.npz"},
                   output={"origin": "made on this installation"}),
        log.append("model", inputs={"action": "made active"}),
        log.append("threshold", inputs={"from": 0.5, "chosen_by": "sensitivity >= 0.98"},
                   output={"threshold": 0.31}),
        log.append("threshold"),
        log.append("report", inputs={"entry": 1}, output={"path": "r.pdf"}),
        log.append("report", inputs={"entry": None}, output={"path": "a\nb.pdf"}),
    )]
    assert texts == [
        "scores 5 1 1 1 2 1 3 1 1: 12.3% (10.0-15.0%), benign at 0.5",
        "scores ?",
        "scored in.csv -> out.csv: 1,200 scored, 34 rejected of 1,234 read, threshold 0.5",
        "scored ? -> ?: ? scored, ? rejected of ? read, threshold ?",
        "model trained: m.npz (made on this installation)",
        "model made active",
        "threshold 0.5 -> 0.31: sensitivity >= 0.98",
        "threshold ? -> ?",
        "report r.pdf of entry 1",
        "report a\\nb.pdf of entry ?",
    ]


def test_prediction_and_batch_fields(log):
    from bcdesktop.persistence import load_default_model
    from bcdesktop.predictor import predict_case

    bundle = load_default_model()
    case = predict_case(bundle, [5, 1, 1, 1, 2, 1, 3, 1, 1], threshold=bundle.threshold)
    entry = log.append("prediction", **audit.prediction_fields(case, bundle, "shipped with bcdesktop"))
    (back,) = log.entries()
    assert back == entry and back.scores() == [5, 1, 1, 1, 2, 1, 3, 1, 1]
    assert back.inputs["features"]["Mitoses"] == 1 and back.inputs["origin"] == "shipped with bcdesktop"
    assert back.output["probability"] == pytest.approx(case.probability, abs=1e-15)
    assert back.output["call"] == case.call and back.output["threshold"] == case.threshold
    assert back.model_id == bundle.model_id and back.model_sha256 == bundle.file_sha256


def test_entry_inserted_before_the_first(log):
    entries = _fill(log, 2)
    con = _raw(log)
    row = [0, entries[0].time_utc, "prediction", audit.__version__, "mallory", None, None,
           audit._canonical({"inputs": {}, "output": {}, "source": "command line"}), GENESIS]
    row.append(audit._digest(row))
    con.execute(f"INSERT INTO entries ({audit._COLUMNS}) VALUES ({', '.join('?' * 10)})", row)
    _broken_at(log, 0, "inserted")


def test_limit_zero_is_none(log):
    _fill(log, 3)
    assert log.entries(limit=0) == []
    assert len(log.entries(limit=None)) == 3


def test_a_log_deleted_while_in_use_is_made_again(log):
    """The window keeps one AuditLog open for hours: a log moved away starts afresh."""
    _fill(log, 2)
    for name in ("", "-wal", "-shm"):
        Path(f"{log.path}{name}").unlink(missing_ok=True)
    entry = log.record("prediction")
    assert entry is not None and entry.id == 1 and entry.prev_hash == GENESIS, log.problem
    assert log.verify().ok and log.count() == 1


def test_a_log_replaced_while_in_use_is_checked_again(log):
    _fill(log, 1)
    data = b"x" * 4096
    for name in ("-wal", "-shm"):
        Path(f"{log.path}{name}").unlink(missing_ok=True)
    log.path.unlink()
    log.path.write_bytes(data)
    assert log.record("prediction") is None and "not an audit trail" in log.problem
    assert log.path.read_bytes() == data


def test_a_busy_switch_to_wal_is_tried_again(log, monkeypatch):
    """SQLite answers "database is locked" at once (no busy wait) when two processes
    switch a new file to WAL together; the writer tries again instead of giving up."""
    real = sqlite3.connect
    refusals = []

    class Busy(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.replace(" ", "").upper() == "PRAGMAJOURNAL_MODE=WAL" and len(refusals) < 3:
                refusals.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real(*a, factory=Busy, **k))
    assert log.record("prediction") is not None, log.problem
    assert len(refusals) == 3
    # once the file is in WAL mode, nobody switches it again
    assert AuditLog(log.path).record("prediction") is not None and len(refusals) == 3
