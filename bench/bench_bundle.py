"""Size and cold start of the standalone (PyInstaller onedir) build.

    pyinstaller --noconfirm build.spec          # first: dist/bcdesktop/
    python bench/bench_bundle.py [--runs 7] [--check]

Size: bytes on disk (allocated blocks, like ``du``; symbolic links count as links) and
apparent bytes, plus the largest parts of ``_internal/``. Budget: 200 MB on disk (190.3
MB measured when it was set, with pandas, Tcl's CJK encodings and messages left out).

Start: time from launching ``dist/bcdesktop/bcdesktop gui --ready-file F`` to the
window being shown and ready (the GUI writes ``time.time()`` to F once the window is
mapped, the bundled data and default model are loaded and the loop is idle), under
Xvfb (started here when there is no DISPLAY); after each start ``xdotool search
--onlyvisible --name '^bcdesktop'`` confirms the window is really there (when xdotool
is installed; its ``--sync`` polls only every 0.5 s, too coarse to time with). The first
run, with an empty per-user folder, is reported on its own (a first start creates the
settings; matplotlib's font cache is built later, when a plot is first shown); the
median is over the ``--runs`` runs after it, which share one per-user folder like a
real user's.
Reference, measured the same way in the same run, interleaved: the app from source
(``python -m bcdesktop gui``). Budget: 1.5 s median.

``--check`` exits 1 when the bundle is over its size budget. The start time is
printed against its budget but not enforced: it moves with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bcdesktop.gui import xvfb  # noqa: E402  (the X server helper: no tkinter, no app)

SIZE_BUDGET_MB = 200  # 190.3 MB measured + 5% for dependency releases; CI enforces it (--check)
START_BUDGET_S = 1.5
START_TIMEOUT_S = 60.0


# ------------------------------------------------------------------ size
def tree_size(path: Path) -> tuple[int, int, int]:
    """(bytes on disk, apparent bytes, files) of everything under ``path``, links not followed."""
    disk = apparent = files = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            disk += getattr(st, "st_blocks", 0) * 512 or st.st_size
            if name in filenames:
                apparent += st.st_size
                files += 1
    return disk, apparent, files


def largest_parts(internal: Path, n: int = 12) -> list[tuple[int, str]]:
    parts = []
    for child in internal.iterdir():
        disk = tree_size(child)[0] if child.is_dir() and not child.is_symlink() else \
            getattr(os.lstat(child), "st_blocks", 0) * 512
        parts.append((disk, child.name))
    return sorted(parts, reverse=True)[:n]


# ------------------------------------------------------------------ start time
def window_visible(env: dict) -> bool | None:
    """Whether a visible window titled ``bcdesktop...`` exists (None without xdotool)."""
    if not shutil.which("xdotool"):
        return None
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^bcdesktop"],
                           env=env, capture_output=True, text=True)
    return bool(found.stdout.strip())


def time_start(cmd: list[str], env: dict, ready_file: Path) -> float:
    """Launch ``cmd``; seconds until the ready file holds the time it was written."""
    ready_file.unlink(missing_ok=True)
    t0 = time.time()
    app = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if time.time() - t0 > START_TIMEOUT_S:
                raise RuntimeError(f"{cmd[0]} not ready after {START_TIMEOUT_S:.0f} s")
            if app.poll() is not None:
                raise RuntimeError(f"{' '.join(cmd)} exited with {app.returncode}: "
                                   f"{app.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                ready = float(ready_file.read_text()) - t0
                break
            except (OSError, ValueError):  # not written yet, or half written
                time.sleep(0.005)
        if window_visible(env) is False:
            raise RuntimeError(f"{' '.join(cmd)} wrote its ready file but no window is visible")
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        app.stderr.close()
    return ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "bcdesktop",
                        help="the onedir build (default: dist/bcdesktop)")
    parser.add_argument("--runs", type=int, default=7, help="timed starts of each (at least 5)")
    parser.add_argument("--no-source", action="store_true", help="skip the from-source reference")
    parser.add_argument("--check", action="store_true", help="exit 1 if over the size budget")
    args = parser.parse_args()
    exe = args.dist / ("bcdesktop.exe" if os.name == "nt" else "bcdesktop")
    if not exe.is_file():
        raise SystemExit(f"{exe} not found: build it first with 'pyinstaller --noconfirm build.spec'")
    runs = max(args.runs, 5)

    disk, apparent, files = tree_size(args.dist)
    print(f"bundle {args.dist}: {files} files, {disk / 1e6:.1f} MB on disk ({disk / 2**20:.1f} MiB), "
          f"{apparent / 1e6:.1f} MB apparent")
    internal = args.dist / "_internal"
    if internal.is_dir():
        print("largest parts of _internal/ (MB on disk):")
        for size, name in largest_parts(internal):
            print(f"  {size / 1e6:7.1f}  {name}")
    size_ok = disk <= SIZE_BUDGET_MB * 1e6
    print(f"size budget {SIZE_BUDGET_MB} MB: {'ok' if size_ok else 'OVER'} ({disk / 1e6:.1f} MB)")

    if not os.environ.get("DISPLAY") and not xvfb.installed():
        raise SystemExit("no DISPLAY and no Xvfb: install xvfb (apt-get install xvfb)")
    with tempfile.TemporaryDirectory(prefix="bcdesktop-bench-") as tmp, xvfb.display() as display:
        tmp = Path(tmp)
        env = {**os.environ, "DISPLAY": display, "BCDESKTOP_HOME": str(tmp / "home")}
        ready = tmp / "ready"
        frozen_cmd = [str(exe), "gui", "--ready-file", str(ready)]
        source_cmd = [sys.executable, "-m", "bcdesktop", "gui", "--ready-file", str(ready)]
        first = time_start(frozen_cmd, env, ready)
        print(f"\nfirst start, empty per-user folder: ready after {first:.3f} s")
        if not args.no_source:
            time_start(source_cmd, env, ready)  # warm the source run's caches too
        times = {"frozen": [], "source": []}
        for _ in range(runs):  # interleaved, so both see the same load
            for name, cmd in (("frozen", frozen_cmd), ("source", source_cmd)):
                if name == "source" and args.no_source:
                    continue
                times[name].append(time_start(cmd, env, ready))
        print(f"start to window shown and ready, {runs} runs each, under {display}:")
        for name, values in times.items():
            if values:
                print(f"  {name:7s} median {statistics.median(values):.3f} s   runs: "
                      + " ".join(f"{v:.3f}" for v in values))
        frozen_median = statistics.median(times["frozen"])
        if times["source"]:
            print(f"  frozen / source: {frozen_median / statistics.median(times['source']):.2f}")
        print(f"start budget {START_BUDGET_S} s median: "
              f"{'ok' if frozen_median <= START_BUDGET_S else 'OVER'} ({frozen_median:.3f} s)")
    return 1 if args.check and not size_ok else 0


if __name__ == "__main__":
    sys.exit(main())
