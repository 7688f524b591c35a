"""What the audit trail costs: one entry against a bare SQLite insert, writers at once,
verifying and listing a long log.

    python bench/bench_audit.py [--entries 200] [--log 20000] [--writers 4]

Each repeat, in a fresh temporary folder:

- **bare insert**: the same row (ten columns, one JSON body) inserted and committed in
  its own ``BEGIN IMMEDIATE`` transaction on one open WAL connection: what SQLite itself
  costs for one durable row;
- **AuditLog.append**: one prediction entry as ``predict`` writes it (its own connection,
  the last hash read, the canonical JSON, the SHA-256, insert, commit);
- **--writers processes at once**, each appending ``--entries / writers`` entries:
  the wall time and whether every entry arrived and the chain verifies;
- **verify and list** a log of ``--log`` entries (made with the bare insert's speed,
  then verified by ``AuditLog.verify`` and listed by ``entries(limit=2000)``).

Prints medians (milliseconds per entry, entries per second), the ratio append / bare
insert, and the machine's load. Nothing here is asserted on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bcdesktop import audit  # noqa: E402
from bcdesktop.persistence import load_default_model  # noqa: E402
from bcdesktop.predictor import predict_case  # noqa: E402

WRITER = """
import sys
from bcdesktop.audit import AuditLog
log = AuditLog(sys.argv[1], source="bench")
for i in range(int(sys.argv[3])):
    log.append("prediction", inputs={"writer": int(sys.argv[2]), "n": i}, output={})
"""


def bare_inserts(path: Path, n: int, body: str) -> float:
    """Seconds per committed row on one open connection."""
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, "
                "body TEXT, g TEXT, h TEXT)")
    started = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (i + 1, "2026-12-02T05:10:03.123456Z", "prediction", "0.1.0", "user", "0123456789",
                     "0" * 64, body, "0" * 64, "f" * 64))
        con.execute("COMMIT")
    seconds = (time.perf_counter() - started) / n
    con.close()
    return seconds


def appends(path: Path, n: int, fields: dict) -> float:
    log = audit.AuditLog(path)
    log.append("prediction", **fields)  # the file and its tables made first
    started = time.perf_counter()
    for _ in range(n):
        log.append("prediction", **fields)
    return (time.perf_counter() - started) / n


def writers_at_once(path: Path, writers: int, each: int) -> tuple[float, bool]:
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(each)], cwd=ROOT)
             for w in range(writers)]
    ok = all(p.wait(timeout=300) == 0 for p in procs)
    seconds = time.perf_counter() - started
    log = audit.AuditLog(path)
    ok = ok and log.count() == writers * each and log.verify().ok
    return seconds, ok


def long_log(path: Path, n: int, fields: dict) -> tuple[float, float]:
    """Seconds to verify ``n`` entries and to list the newest 2,000."""
    log = audit.AuditLog(path)
    for _ in range(n):
        log.append("prediction", **fields)
    started = time.perf_counter()
    assert log.verify().ok
    verify_s = time.perf_counter() - started
    started = time.perf_counter()
    log.entries(newest_first=True, limit=2000)
    return verify_s, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--log", type=int, default=20000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    bundle = load_default_model()
    case = predict_case(bundle, [5, 1, 1, 1, 2, 1, 3, 1, 1])
    fields = audit.prediction_fields(case, bundle, "shipped with bcdesktop")
    body = audit._canonical({"inputs": fields["inputs"], "output": fields["output"], "source": "bench"})
    bare, app, walls, oks = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d)
            bare.append(bare_inserts(folder / "bare.sqlite3", args.entries, body))
            app.append(appends(folder / "audit.sqlite3", args.entries, fields))
            wall, ok = writers_at_once(folder / "many.sqlite3", args.writers, args.entries // args.writers)
            walls.append(wall)
            oks.append(ok)
    with tempfile.TemporaryDirectory() as d:
        verify_s, list_s = long_log(Path(d) / "long.sqlite3", args.log, fields)

    b, a, w = statistics.median(bare), statistics.median(app), statistics.median(walls)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores, "
          f"{args.repeats} repeats (medians)")
    print(f"bare SQLite insert + commit:   {1e3 * b:7.3f} ms/entry ({1 / b:8,.0f} entries/s)")
    print(f"AuditLog.append (prediction):  {1e3 * a:7.3f} ms/entry ({1 / a:8,.0f} entries/s)  "
          f"ratio {a / b:.2f}x the bare insert")
    total = args.writers * (args.entries // args.writers)
    print(f"{args.writers} processes at once:          {w:7.2f} s for {total} entries (with start-up) "
          f"({'all present, chain verifies' if all(oks) else 'ENTRIES LOST OR CHAIN BROKEN'})")
    print(f"verify {args.log:,} entries:          {verify_s:7.3f} s; list the newest 2,000: "
          f"{1e3 * list_s:.1f} ms")
    return 0 if all(oks) else 1


if __name__ == "__main__":
    sys.exit(main())
