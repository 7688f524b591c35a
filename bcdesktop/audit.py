"""The audit trail: which model, with which settings and inputs, gave which answer.

An append-only log in SQLite (the standard library's :mod:`sqlite3`, WAL mode), the file
``audit.sqlite3`` in the per-user folder beside the settings
(:func:`bcdesktop.resources.user_dir`, so ``BCDESKTOP_HOME`` moves it too). Each entry
holds the UTC time, the app version, the OS user, the model id and the SHA-256 of its
file, the inputs and the output, and the SHA-256 of the entry before it: the entries
form a hash chain, so :meth:`AuditLog.verify` finds an entry that was deleted, edited
or moved, and entries missing from the end (the table's AUTOINCREMENT counter
remembers the highest id ever written). Triggers refuse UPDATE and DELETE, so only a
deliberate edit of the file can change it, and that edit is what the chain detects
(someone who rewrites every hash from the edit to the end, and the counter, is not
detected: the chain proves order and integrity, not authorship).

Writers in several processes and threads at once (the window and the command line)
each take SQLite's write lock for one short transaction (``BEGIN IMMEDIATE``): read the
last entry's hash, insert, commit. None waits more than :data:`BUSY_TIMEOUT_S`.

A log that cannot be written (a read-only folder, a full disk, a file that is not a
database, a FIFO in its place) never stops a prediction: :meth:`AuditLog.record`
returns None and :attr:`AuditLog.problem` says why, in one sentence, once
(:meth:`AuditLog.take_problem`).

The same file lists the networks trained on this installation (table ``models``, by
:attr:`~bcdesktop.persistence.ModelBundle.network_id`, so a threshold changed later
keeps the model "made on this installation"); :meth:`AuditLog.origin` tells those
from the shipped model and from an "external model". That list is kept also when the
log of entries is turned off, so that turning it off does not make one's own models
look foreign.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import getpass
import hashlib
import io
import json
import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .errors import UserError

FILE_NAME = "audit.sqlite3"
SETTINGS_FILE = "settings.json"   # the window's settings: its "audit" key (true/false)
SETTING_KEY = "audit"
#: What an entry records. "prediction": one case (Patient tab, ``predict``); "batch": a
#: scored CSV; "model": a model trained, loaded, saved or made active; "threshold": the
#: threshold in use changed; "report": a patient report written.
KINDS = ("prediction", "batch", "model", "threshold", "report")
GENESIS = "0" * 64          # the "previous hash" of the first entry
BUSY_TIMEOUT_S = 30.0       # the longest a writer waits for another's lock
ORIGINS = ("made on this installation", "shipped with bcdesktop", "external model", "origin unknown")
EXTERNAL = "external model"

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_version TEXT NOT NULL,
    user TEXT NOT NULL,
    model_id TEXT,
    model_sha256 TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_time ON entries (time_utc);
CREATE TABLE IF NOT EXISTS models (
    network_id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    made_utc TEXT NOT NULL,
    how TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_append_only_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_append_only_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
_COLUMNS = "id, time_utc, kind, app_version, user, model_id, model_sha256, body, prev_hash, hash"


class AuditUnavailable(Exception):
    """The log cannot be opened or written; ``str()`` is one sentence for a person."""


# ------------------------------------------------------------------ entries
@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of the audit trail.

    Attributes
    ----------
    id : int
        1, 2, 3... in the order written.
    time_utc : str
        ISO 8601 with microseconds, e.g. ``"2026-12-02T05:10:03.123456Z"``.
    kind : str
        One of :data:`KINDS`.
    app_version, user : str
    model_id, model_sha256 : str or None
        The model the entry is about (its id and the SHA-256 of its file).
    inputs, output : dict
    source : str
        ``"window"`` or ``"command line"``.
    prev_hash, hash : str
        The SHA-256 of the entry before (:data:`GENESIS` for the first) and of this one.
    """

    id: int
    time_utc: str
    kind: str
    app_version: str
    user: str
    model_id: str | None
    model_sha256: str | None
    inputs: dict
    output: dict
    source: str
    prev_hash: str
    hash: str

    def to_json(self) -> dict:
        """``audit --json``: every field, inputs and output as objects."""
        return {"id": self.id, "time_utc": self.time_utc, "kind": self.kind,
                "app_version": self.app_version, "user": self.user, "model_id": self.model_id,
                "model_sha256": self.model_sha256, "source": self.source, "inputs": self.inputs,
                "output": self.output, "prev_hash": self.prev_hash, "hash": self.hash}

    def scores(self) -> list[int] | None:
        """The nine scores of a prediction entry, in feature order, else None."""
        if self.kind != "prediction":
            return None
        values = self.inputs.get("scores")
        if (isinstance(values, list) and len(values) == 9
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
            return [int(v) for v in values]
        return None

    def summary(self) -> str:
        """One line for a person: what happened, without the hashes."""
        i, o = self.inputs, self.output
        if self.kind == "prediction":
            scores = self.scores()
            p = o.get("probability")
            text = f"scores {' '.join(map(str, scores)) if scores else '?'}"
            if isinstance(p, (int, float)):
                text += f": {100 * p:.1f}%"
                low, high = (o.get("interval") or [None, None])[:2]
                if isinstance(low, (int, float)) and isinstance(high, (int, float)):
                    text += f" ({100 * low:.1f}-{100 * high:.1f}%)"
            call, t = o.get("call"), o.get("threshold")
            if call:
                text += f", {call}"
            if isinstance(t, (int, float)):
                text += f" at {t:g}"
            return text
        if self.kind == "batch":
            return (f"scored {_shown(i.get('input'))} -> {_shown(o.get('output'))}: "
                    f"{_count(o.get('rows_scored'))} scored, {_count(o.get('rows_rejected'))} rejected "
                    f"of {_count(o.get('rows_read'))} read, threshold {_number(i.get('threshold'))}")
        if self.kind == "model":
            path = i.get("path")
            return (f"model {_shown(i.get('action', '?'))}" + (f": {_shown(path)}" if path else "")
                    + (f" ({_shown(o['origin'])})" if o.get("origin") else ""))
        if self.kind == "threshold":
            how = i.get("chosen_by")
            return (f"threshold {_number(i.get('from'))} -> {_number(o.get('threshold'))}"
                    + (f": {how}" if how else ""))
        if self.kind == "report":
            return f"report {_shown(o.get('path'))} of entry {_count(i.get('entry'))}"
        return self.kind


def _shown(value) -> str:
    text = "?" if value is None else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def _clean(obj):
    """``obj`` as plain JSON values: NaN and infinities become None, NumPy numbers and
    arrays plain numbers and lists, paths text, tuples lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):   # NumPy scalars and arrays
        return _clean(obj.tolist())
    return str(obj)


def _canonical(obj) -> str:
    """One text for one value: sorted keys, no spaces, ASCII (a file name that is not
    valid UTF-8 keeps its escapes)."""
    return json.dumps(_clean(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _digest(row: Sequence) -> str | None:
    """The SHA-256 of an entry: of its columns ``id .. prev_hash`` (not its own hash).
    A column no writer makes (a BLOB put there by an edit) gives None, which no entry's
    hash equals."""
    try:
        text = json.dumps(list(row[:9]), ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _one_line(text) -> str:
    """Text safe for a database and a terminal: printable, valid Unicode."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def os_user() -> str:
    """The OS user name, or "unknown" when the system cannot say."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises KeyError, OSError, ImportError
        name = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return _one_line(name)[:200] or "unknown"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_since(text: str) -> str:
    """``--since``: a UTC date ``YYYY-MM-DD`` or time ``YYYY-MM-DDTHH:MM[:SS]`` as the
    entries' own time text, for comparison; ValueError with a plain reason."""
    raw = text.strip().replace(" ", "T")
    if raw.endswith("Z"):
        raw = raw[:-1]
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            when = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise ValueError(f"{text!r} is not a date such as 2026-12-01 or 2026-12-01T14:30 (UTC)")


def _row_entry(row) -> Entry:
    body = json.loads(row[7])
    if not isinstance(body, dict):
        raise ValueError("its body is not an object")
    inputs, output = body.get("inputs", {}), body.get("output", {})
    model_id, model_sha = (None if v is None else _one_line(v) for v in row[5:7])   # text, even if edited
    return Entry(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), model_id, model_sha,
                 inputs if isinstance(inputs, dict) else {}, output if isinstance(output, dict) else {},
                 str(body.get("source", "")), str(row[8]), str(row[9]))


def prediction_fields(case, bundle, origin: str) -> dict:
    """The ``model``, ``inputs`` and ``output`` of a prediction entry, for
    :meth:`AuditLog.record`: the nine scores (a list and by name), the model's file and
    origin, and the probability, interval, call and threshold of ``case``
    (a :class:`~bcdesktop.predictor.CasePrediction`). The window and ``predict`` both
    write these."""
    from .schema import FEATURES

    scores = [int(v) for v in case.scores]
    path = getattr(bundle, "source_path", None)
    return {
        "model": bundle,
        "inputs": {"scores": scores, "features": dict(zip(FEATURES, scores)),
                   "model_path": None if path is None else str(path), "origin": origin,
                   "background": case.background},
        "output": {"probability": case.probability,
                   "interval": None if case.interval is None else list(case.interval),
                   "prediction": case.prediction, "call": case.call,
                   "indeterminate": bool(case.indeterminate), "threshold": case.threshold},
    }


def batch_fields(summary, bundle, origin: str) -> dict:
    """The ``model``, ``inputs`` and ``output`` of a batch entry: the input and output
    files (absolute paths) with the SHA-256 of their bytes as read and written, the
    threshold, and the row counts of a :class:`~bcdesktop.scoring.ScoreSummary`."""
    path = getattr(bundle, "source_path", None)
    return {"model": bundle,
            "inputs": {"input": os.path.abspath(summary.input), "input_sha256": summary.input_sha256,
                       "threshold": summary.threshold, "explain": bool(summary.explained),
                       "model_path": None if path is None else str(path), "origin": origin},
            "output": {"output": os.path.abspath(summary.output), "output_sha256": summary.output_sha256,
                       "rows_read": summary.rows_read, "rows_scored": summary.scored,
                       "rows_rejected": summary.rejected, "malignant": summary.malignant,
                       "benign": summary.benign, "indeterminate": summary.indeterminate}}


# ------------------------------------------------------------------ verification
@dataclasses.dataclass(frozen=True)
class Verification:
    """What :meth:`AuditLog.verify` found: ``ok``, the entries checked, and for a broken
    chain the first bad entry's id and what is wrong with it."""

    ok: bool
    checked: int
    bad_id: int | None = None
    problem: str | None = None

    def sentence(self) -> str:
        if self.ok:
            return f"the audit trail is intact: {self.checked:,} entr{'y' if self.checked == 1 else 'ies'}, chain verified"
        return f"the audit trail is broken at entry {self.bad_id}: {self.problem}"

    def to_json(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "bad_entry": self.bad_id, "problem": self.problem}


# ------------------------------------------------------------------ the log
def default_path() -> Path:
    """``audit.sqlite3`` in the per-user folder; OSError when there is no such folder."""
    from .resources import user_dir

    return user_dir() / FILE_NAME


def setting_enabled(folder: Path | None = None) -> bool:
    """The window's setting: False only when ``settings.json`` says ``"audit": false``.
    A missing, unreadable or odd settings file leaves the trail on (the window says
    what is wrong with the file itself)."""
    from .resources import open_regular_file

    try:
        path = (folder if folder is not None else default_path().parent) / SETTINGS_FILE
        with open_regular_file(path) as fh:
            values = json.loads(fh.read(1_000_001).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return True
    return not (isinstance(values, dict) and values.get(SETTING_KEY) is False)


class AuditLog:
    """The audit trail in one SQLite file.

    Parameters
    ----------
    path : path, optional
        Default :func:`default_path`.
    enabled : bool
        False (``--no-audit``, the setting): :meth:`record` writes no entry and
        returns None; the list of models made here is still kept.
    source : str
        What the entries say wrote them: ``"window"`` or ``"command line"``.

    Every connection is opened for one operation and closed after it, so one
    instance may be used from any thread.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, enabled: bool = True,
                 source: str = "command line"):
        self._path = None if path is None else Path(path)
        self.enabled = bool(enabled)
        self.source = source
        self.problem: str | None = None     # why the last write failed; None once one works
        self._told = False
        self._lock = threading.Lock()
        self._ready = None   # (device, inode) of the file prepared for writing, else None

    def __repr__(self) -> str:
        return f"AuditLog({str(self._path) if self._path else 'default'!r}, enabled={self.enabled})"

    @property
    def path(self) -> Path:
        """The log file; AuditUnavailable when there is no per-user folder for it."""
        if self._path is None:
            try:
                self._path = default_path()
            except OSError as exc:
                raise AuditUnavailable("The audit trail cannot be kept: your settings folder cannot be "
                                       f"made ({exc.strerror or exc}).") from None
        return self._path

    # -------------------------------------------------------------- connections
    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        path = self.path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if not write:
                raise AuditUnavailable(f"There is no audit trail yet ({path} does not exist).") from None
            if not path.parent.is_dir():
                raise AuditUnavailable(f"The audit trail {path} cannot be written (its folder "
                                       f"{path.parent} does not exist).") from None
            st = None
        except NotADirectoryError:
            raise AuditUnavailable(f"The audit trail {path} cannot be {'written' if write else 'read'} "
                                   "(a file stands where its folder should be).") from None
        except OSError as exc:
            raise AuditUnavailable(f"The audit trail {path} cannot be read ({exc.strerror or exc}).") from None
        if st is not None and not stat.S_ISREG(st.st_mode):
            from .resources import file_kind

            kind = "a folder" if stat.S_ISDIR(st.st_mode) else file_kind(st.st_mode)
            raise AuditUnavailable(f"The audit trail {path} is {kind}, not a file; "
                                   "nothing is recorded until it is moved away.")
        try:
            if write:
                con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                      check_same_thread=False)
            else:
                con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                      timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise AuditUnavailable(self._why(exc, write)) from None
        try:
            # prepared once per file: again when it was deleted or replaced since
            if write and (st is None or self._ready != (st.st_dev, st.st_ino)):
                self._prepare(con)
            yield con
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if con.in_transaction:
                    con.execute("ROLLBACK")
            raise AuditUnavailable(self._why(exc, write)) from None
        finally:
            con.close()

    def _prepare(self, con: sqlite3.Connection) -> None:
        """WAL mode and the tables, once per file (both persist in it): again when the
        file was deleted or replaced since."""
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = self._wal(con)
        if not mode or str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError("the file system does not allow SQLite's write-ahead log")
        if con.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            self._create(con)
        try:
            st = os.stat(self.path)
        except OSError:
            self._ready = None
        else:
            self._ready = (st.st_dev, st.st_ino)

    @staticmethod
    def _wal(con: sqlite3.Connection):
        """Switch the file to WAL (a no-op once it is). The switch needs the file to
        itself, and SQLite answers "database is locked" at once, without waiting out
        the busy timeout, while another process switches a new file at the same time:
        so ask first, and retry a busy switch for up to :data:`BUSY_TIMEOUT_S`."""
        mode = con.execute("PRAGMA journal_mode").fetchone()
        if mode and str(mode[0]).lower() == "wal":
            return mode
        deadline, pause = time.monotonic() + BUSY_TIMEOUT_S, 0.005
        while True:
            try:
                return con.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    @staticmethod
    def _create(con: sqlite3.Connection) -> None:
        # executescript commits first; the statements are all IF NOT EXISTS, so two
        # processes creating the tables at once cannot clash
        con.executescript(_SCHEMA + f"PRAGMA user_version = {_SCHEMA_VERSION};")

    def _why(self, exc: sqlite3.Error, write: bool = True) -> str:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            reason = "it is not an audit trail (not an SQLite database); it was left as it is"
        elif "no such table" in text:
            reason = "it is an SQLite database but not an audit trail"
        elif "readonly" in text or "read-only" in text:
            reason = "its folder or file is read-only"
        elif "disk is full" in text or "disk I/O" in text:
            reason = "the disk is full or failing"
        elif "unable to open" in text:
            reason = "the file cannot be opened or made there"
        elif "locked" in text or "busy" in text:
            reason = f"another program held it locked for over {BUSY_TIMEOUT_S:g} s"
        else:
            reason = _one_line(text)
        try:
            where = str(self.path)
        except AuditUnavailable:
            where = FILE_NAME
        return f"The audit trail {where} cannot be {'written' if write else 'read'} ({reason})."

    # -------------------------------------------------------------- writing
    def append(self, kind: str, *, model=None, inputs: dict | None = None, output: dict | None = None,
               source: str | None = None) -> Entry:
        """Write one entry and return it; AuditUnavailable when the log cannot be
        written. ``model`` is the :class:`~bcdesktop.persistence.ModelBundle` the entry
        is about, or None."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        model_id = model_sha = None
        if model is not None:
            model_id, model_sha = model.model_id, model.file_sha256
        body = _canonical({"inputs": inputs or {}, "output": output or {},
                           "source": source or self.source})
        time_utc, user = utc_now(), os_user()
        with self._connect(write=True) as con:
            con.execute("BEGIN IMMEDIATE")
            last = con.execute("SELECT id, hash FROM entries ORDER BY id DESC LIMIT 1").fetchone()
            seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
            new_id = max(last[0] if last else 0, seq[0] if seq else 0) + 1
            row = [new_id, time_utc, kind, __version__, user, model_id, model_sha, body,
                   last[1] if last else GENESIS]
            row.append(_digest(row))
            con.execute(f"INSERT INTO entries ({_COLUMNS}) VALUES ({', '.join('?' * 10)})", row)
            con.execute("COMMIT")
        return _row_entry(row)

    def record(self, kind: str, **fields) -> Entry | None:
        """:meth:`append` that never raises for the log's sake: None when the trail is
        off or cannot be written, with :attr:`problem` saying why (see
        :meth:`take_problem`)."""
        if not self.enabled:
            return None
        try:
            entry = self.append(kind, **fields)
        except AuditUnavailable as exc:
            with self._lock:
                if self.problem != str(exc):
                    self._told = False
                self.problem = str(exc)
            return None
        with self._lock:
            if self.problem is not None:
                self.problem, self._told = None, False
        return entry

    def take_problem(self) -> str | None:
        """The sentence to tell the user, the first time only after each new problem:
        "... cannot be written (...). Predictions go on, but are not recorded." """
        with self._lock:
            if self.problem is None or self._told:
                return None
            self._told = True
            return f"{self.problem} Predictions go on, but are not recorded."

    # -------------------------------------------------------------- models made here
    def remember_model(self, bundle, how: str) -> bool:
        """Record ``bundle``'s network as made on this installation (``how``: "trained
        in the window", "trained with the command line"); False when it could not be
        written. Kept also when the entries are turned off."""
        try:
            with self._connect(write=True) as con:
                con.execute("INSERT OR IGNORE INTO models (network_id, model_id, file_sha256, made_utc, how) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (bundle.network_id, bundle.model_id, bundle.file_sha256, utc_now(), how))
        except AuditUnavailable as exc:
            with self._lock:
                self.problem = self.problem or str(exc)
            return False
        return True

    def origin(self, bundle) -> str:
        """"shipped with bcdesktop", "made on this installation", "external model", or
        "origin unknown" when the list of models made here cannot be read."""
        if _is_shipped_file(bundle) or bundle.network_id == _shipped_network_id():
            return ORIGINS[1]
        try:
            with self._connect(write=False) as con:
                known = con.execute("SELECT 1 FROM models WHERE network_id = ?", (bundle.network_id,)).fetchone()
        except AuditUnavailable as exc:
            if "does not exist" in str(exc):
                return EXTERNAL
            return ORIGINS[3]
        except sqlite3.Error:
            return ORIGINS[3]
        return ORIGINS[0] if known else EXTERNAL

    # -------------------------------------------------------------- reading
    def entries(self, *, since: str | None = None, kinds: Sequence[str] | None = None,
                newest_first: bool = False, limit: int | None = None) -> list[Entry]:
        """The entries from ``since`` (a time text as :func:`parse_since` gives) on,
        of ``kinds``, oldest first (or newest first), at most ``limit``. An entry whose
        body cannot be read is skipped here (:meth:`verify` names it). No log yet: []."""
        where, args = [], []
        if since is not None:
            where.append("time_utc >= ?")
            args.append(since)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args += list(kinds)
        sql = (f"SELECT {_COLUMNS} FROM entries" + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY id {'DESC' if newest_first else 'ASC'}" + ("" if limit is None else f" LIMIT {max(0, int(limit))}"))
        try:
            with self._connect(write=False) as con:
                rows = con.execute(sql, args).fetchall()
        except AuditUnavailable as exc:
            if "does not exist" in str(exc):
                return []
            raise
        out = []
        for row in rows:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                out.append(_row_entry(row))
        return out

    def count(self) -> int:
        """Entries in the log (0 when there is none yet)."""
        try:
            with self._connect(write=False) as con:
                return int(con.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        except AuditUnavailable as exc:
            if "does not exist" in str(exc):
                return 0
            raise

    def verify(self) -> Verification:
        """Walk the chain from the first entry: every entry's hash must be that of its
        contents, every entry must name the hash of the one before, the ids must run
        1, 2, 3... without a gap, and none may be missing from the end."""
        try:
            con_cm = self._connect(write=False)
            con = con_cm.__enter__()
        except AuditUnavailable as exc:
            if "does not exist" in str(exc):
                return Verification(True, 0)
            raise
        try:
            prev_hash, expected, checked = GENESIS, 1, 0
            for row in con.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY id"):
                entry_id = row[0]
                if entry_id < expected:   # ids ascend: only a first entry below 1 gets here
                    return Verification(False, checked, entry_id,
                                        "the chain starts at entry 1, so this entry was inserted before it")
                if entry_id != expected:
                    missing = (f"entry {expected} is missing" if entry_id == expected + 1
                               else f"entries {expected}-{entry_id - 1} are missing")
                    return Verification(False, checked, expected, f"{missing} (deleted)")
                if _digest(row) != row[9]:
                    return Verification(False, checked, entry_id, "its contents do not match its hash "
                                        "(it was edited after it was written)")
                if row[8] != prev_hash:
                    if entry_id == 1:
                        why = ("it does not start the chain (its link to the start was changed and "
                               "its hash recomputed, or it was put in place of the first entry)")
                    else:
                        why = (f"it does not follow entry {entry_id - 1}: entry {entry_id - 1} was "
                               "changed and its hash recomputed, or this entry was inserted or "
                               "rewritten in its place")
                    return Verification(False, checked, entry_id, why)
                try:
                    _row_entry(row)
                except (ValueError, TypeError):
                    return Verification(False, checked, entry_id, "its contents are not readable")
                prev_hash, expected, checked = row[9], expected + 1, checked + 1
            seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
            if seq and seq[0] >= expected:
                return Verification(False, checked, expected,
                                    f"entries {expected}-{seq[0]} are missing from the end (deleted)"
                                    if seq[0] > expected else f"entry {expected}, the last, is missing (deleted)")
        except sqlite3.Error as exc:
            if checked == 0 and isinstance(exc, sqlite3.DatabaseError) and (
                    "not a database" in str(exc) or "no such table" in str(exc)):
                # the file as a whole, not an entry of it: say so as for any other read
                raise AuditUnavailable(self._why(exc, write=False)) from None
            return Verification(False, checked, expected, f"the file cannot be read there ({_one_line(exc)})")
        finally:
            con_cm.__exit__(None, None, None)
        return Verification(True, checked)


_SHIPPED: dict = {}


def _is_shipped_file(bundle) -> bool:
    """``bundle`` was read from the model file shipped with the app (then its network id
    is the shipped one, and the file need not be read a second time)."""
    path = getattr(bundle, "source_path", None)
    if path is None:
        return False
    from .resources import default_model_path, same_file

    if same_file(path, default_model_path()):
        _SHIPPED.setdefault("id", bundle.network_id)
        return True
    return False


def _shipped_network_id() -> str | None:
    """The network id of the model shipped with the app (read once), None if unreadable."""
    if "id" not in _SHIPPED:
        try:
            from .persistence import load_default_model

            _SHIPPED["id"] = load_default_model().network_id
        except Exception:  # noqa: BLE001 - a damaged install: nothing is "shipped"
            _SHIPPED["id"] = None
    return _SHIPPED["id"]


# ------------------------------------------------------------------ export
CSV_COLUMNS = ("id", "time_utc", "kind", "summary", "user", "app_version", "source", "model_id",
               "model_sha256", "inputs", "output", "prev_hash", "hash")


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (a formula to
    a spreadsheet) gets a leading apostrophe; JSON columns start with { and are kept."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def entries_csv(entries: Sequence[Entry]) -> bytes:
    """The entries as CSV (UTF-8, a header row, one row an entry)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        # every cell through _cell: an edited log can hold anything in any column
        writer.writerow([_cell(v) for v in (
            e.id, e.time_utc, e.kind, e.summary(), e.user, e.app_version, e.source, e.model_id,
            e.model_sha256, _canonical(e.inputs), _canonical(e.output), e.prev_hash, e.hash)])
    return buf.getvalue().encode("utf-8", "backslashreplace")


def export_csv(path, entries: Sequence[Entry], *, log_path: Path | None = None, protect: Sequence = ()) -> Path:
    """Write ``entries`` to ``path`` as CSV, atomically; never over the log itself, a
    file in ``protect`` (the data and the model in use) or a file shipped with the app.
    UserError with one sentence when it cannot be written."""
    from .resources import atomic_write_bytes, is_bundled_file

    path = Path(path)
    if is_bundled_file(path):
        raise UserError(f"{path} is a file shipped with bcdesktop; choose another name for the export.")
    protect = [*protect, *([] if log_path is None else
                           [log_path, Path(f"{log_path}-wal"), Path(f"{log_path}-shm")])]
    try:
        atomic_write_bytes(path, entries_csv(entries), protect=protect)
    except UserError:
        raise
    except OSError as exc:
        raise UserError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return path
