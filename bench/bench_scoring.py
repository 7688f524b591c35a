"""Batch-scoring speed and memory against plain pandas read_csv + to_csv.

Generates a file in the UCI layout (sample id, nine scores, class; no header) with
about 2% bad rows (missing, out of range, not a number, too few fields) in a
temporary folder, then times, each in a fresh subprocess that reports its own peak
memory (``VmHWM``, else ``resource.getrusage``):

- ``score``:  ``bcdesktop.scoring.score_csv`` end to end (read, validate, scale,
  predict, the Venn-Abers interval and ``indeterminate``, write) with the default model,
  which has calibration pairs, so the interval is on (or an untrained network of the
  same size, without an interval, when the default model is not built yet);
- ``pandas``: ``pd.read_csv(path, header=None)`` then ``df.to_csv(out, header=False,
  index=False)`` of the same file: the bare read + write.

Each is run ``--repeats`` times, alternating; medians are printed with their ratio.
Goals: (issue 15) <= 0.8x the bare read+write time with the interval on, peak memory
flat (< 256 MB, whatever the rows); (issue 3) >= 350,000 rows/s.

Then the cost of ``--explain`` (``score_csv(..., explain=True)``), each once against
``score`` without it on the same file: on ``--explain-rows`` random rows (all distinct:
one explanation a row, the worst case) and on ``--repeat-rows`` rows drawn from the
bundled data's rows (real cases repeat: each distinct pattern is explained once).
The machine's load average is printed before and after.

    python bench/bench_scoring.py [--rows 1000000] [--repeats 3] [--explain-rows 2000]
                                  [--repeat-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def generate(path: Path, rows: int, bad_fraction: float = 0.02, seed: int = 0) -> int:
    """Write ``rows`` UCI-layout rows, about ``bad_fraction`` of them bad; return #bad."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(1, 11, size=(rows, 9)).astype(str).astype(object)
    ids = (1_000_000 + np.arange(rows)).astype(str)
    cls = np.where(rng.random(rows) < 0.35, "4", "2")
    bad = np.flatnonzero(rng.random(rows) < bad_fraction)
    kinds = rng.integers(0, 5, size=bad.size)
    cols = rng.integers(0, 9, size=bad.size)
    for i, kind, col in zip(bad, kinds, cols):
        scores[i, col] = ("?", "11", "abc", "", "0")[kind]
    lines = [",".join((ids[i], *scores[i], cls[i])) for i in range(rows)]
    short = bad[kinds == 4][::2]  # half of one kind become rows with too few fields
    for i in short:
        lines[i] = ",".join((ids[i], *scores[i, :5]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return int(bad.size)


def child(kind: str, src: str, dst: str) -> None:
    import pandas as pd  # imported before the clock starts, for both

    if kind in ("score", "explain"):
        from bcdesktop import scoring
        bundle = _bundle()
        t0 = time.perf_counter()
        summary = scoring.score_csv(src, dst, bundle, force=True, explain=kind == "explain")
        extra = {"rows": summary.rows_read, "rejected": summary.rejected, "interval": summary.intervals,
                 "explained": summary.explained_patterns}
    else:
        t0 = time.perf_counter()
        df = pd.read_csv(src, header=None)
        df.to_csv(dst, header=False, index=False)
        extra = {"rows": len(df)}
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(), **extra}))


def generate_repeats(path: Path, rows: int, seed: int = 1) -> None:
    """``rows`` rows drawn (with replacement) from the bundled data's rows, UCI layout."""
    from bcdesktop.resources import bundled_data_path

    lines = [ln for ln in bundled_data_path().read_text().splitlines() if ln.strip()]
    pick = np.random.default_rng(seed).integers(0, len(lines), size=rows)
    path.write_text("\n".join(lines[i] for i in pick) + "\n", encoding="utf-8")


def load() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover - no getloadavg
        return "load average unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from /proc where there is one: unlike ``ru_maxrss`` it is not inherited
    from the parent across fork + exec (the parent holds the generated file's rows).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _bundle():
    from bcdesktop.errors import UserError
    from bcdesktop.model import MLP, Scaler
    from bcdesktop.persistence import ModelBundle, load_default_model

    try:
        return load_default_model()
    except UserError:
        return ModelBundle(network=MLP(seed=0), scaler=Scaler(np.ones(9), np.full(9, 10.0)))


def run(kind: str, src: Path, dst: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(dst)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--explain-rows", type=int, default=2000)
    ap.add_argument("--repeat-rows", type=int, default=100_000)
    ap.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "DST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "cases.csv"
        n_bad = generate(src, args.rows)
        print(f"input: {args.rows:,} rows, {n_bad:,} bad ({n_bad / args.rows:.1%}), "
              f"{src.stat().st_size / 1e6:.1f} MB")
        results: dict[str, list[dict]] = {"score": [], "pandas": []}
        for _ in range(args.repeats):
            for kind in results:
                results[kind].append(run(kind, src, Path(tmp) / f"{kind}.csv"))
        assert results["score"][0]["rows"] == args.rows
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
        peak = {k: max(r["peak_mb"] for r in v) for k, v in results.items()}
        for kind, label in (("score", "score_csv end to end"), ("pandas", "pandas read_csv + to_csv")):
            print(f"{label:28s} median {med[kind]:6.2f} s  {args.rows / med[kind]:>10,.0f} rows/s  "
                  f"peak {peak[kind]:6.0f} MB   (runs: "
                  + ", ".join(f"{r['seconds']:.2f}" for r in results[kind]) + ")")
        print(f"ratio score / (read+write): {med['score'] / med['pandas']:.2f}x   "
              f"(goals: <= 0.8x, peak < 256 MB, >= 350,000 rows/s)   interval on: "
              f"{'yes' if results['score'][0]['interval'] else 'NO (model without calibration pairs)'}")
        print(f"rejected rows reported by score_csv: {results['score'][0]['rejected']:,}")

        distinct, repeats = Path(tmp) / "distinct.csv", Path(tmp) / "repeats.csv"
        generate(distinct, args.explain_rows, seed=2)
        generate_repeats(repeats, args.repeat_rows)
        for label, path, rows in (("random rows, all distinct", distinct, args.explain_rows),
                                  ("rows drawn from the bundled data", repeats, args.repeat_rows)):
            plain = run("score", path, Path(tmp) / "plain.csv")
            explained = run("explain", path, Path(tmp) / "explained.csv")
            per = explained["seconds"] / max(explained["explained"], 1)
            print(f"--explain, {rows:,} {label}: {explained['seconds']:6.2f} s  "
                  f"{rows / explained['seconds']:>9,.0f} rows/s  peak {explained['peak_mb']:4.0f} MB; "
                  f"{explained['explained']:,} distinct patterns explained ({1000 * per:.1f} ms each); "
                  f"without --explain {plain['seconds']:.2f} s ({rows / plain['seconds']:,.0f} rows/s): "
                  f"{explained['seconds'] / plain['seconds']:.0f}x")
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
