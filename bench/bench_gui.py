"""Responsiveness of the window while it trains, and how fast it starts.

    python bench/bench_gui.py [--repeats 5] [--iterations 40000] [--starts 7] [--phase-repeats 5]
                              [--parts training,startup,phases] [--baseline DIR]     # about 3 min

Runs under its own Xvfb when there is no DISPLAY. Prints medians and the machine's load.

1. Training in the window: the Train tab trains with the default model's settings
   (stratified 80/20 split, 9-15-1, He, Adam, lr 0.002, L2 0.003, seed 0) but
   ``--iterations`` long, so a run lasts a few seconds, while a 10 ms ``after()``
   heartbeat runs in the real ``mainloop``. The longest gap between two heartbeats beyond the 10 ms period is the
   longest stall a user could feel (goal: under 100 ms).
2. Speed: the same configuration trained headless (``evaluation.fit_model`` on the
   main thread, no window work) in the same process, alternating with the window runs;
   iterations per second from each run's own training-loop clock; the ratio
   window/headless (goal: at least 0.8).
3. Start-up: ``python -m bcdesktop gui --ready-file F`` from source, from launch to the
   moment the window is shown with the bundled data and the default model loaded and
   the event loop idle (goal: under 1.5 s), next to a bare ``python -c pass`` start.
4. Stalls by phase (``--phase-repeats``, each repeat in a fresh process, so every first
   visit is a first): the longest gap of a 10 ms ``after()`` heartbeat in the real
   ``mainloop`` beyond its period, for start-up (from ``App()`` construction, which
   runs before the window is shown and is also printed alone, to the window ready
   with the Data tab's histograms shown and no background work left), loading the
   bundled file and a 100,000-row file (the bundled rows repeated) in the Data tab,
   the first visit of the Train, Patient, Threshold and Batch tabs, a text-size change
   (larger, then back to normal) and the first visit of the Data tab in a window that
   started on another tab (goal: every phase under 100 ms). Each phase lasts until its
   pictures are shown and no background job is left, and then 0.8 s in which the loop
   is never held up for more than 0.1 s. The reference in the
   same run: the same heartbeat in an idle window. ``--baseline DIR`` measures another
   checkout of the app too (e.g. ``git archive <rev> | tar -x -C DIR``), interleaved
   with this one, and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

HEARTBEAT_MS = 10


def median(values):
    return statistics.median(values) if values else float("nan")


def training_runs(repeats: int, iterations: int):
    """Per repeat: longest stall in ms (whole run, and between the Start click's return
    and the done callback), window it/s, headless it/s."""
    from bcdesktop import data, evaluation, persistence
    from bcdesktop.gui.app import App
    from bcdesktop.gui.dialogs import RecordingDialogs

    os.environ["BCDESKTOP_HOME"] = tempfile.mkdtemp(prefix="bcdesktop-bench-")
    dataset = data.load_bundled()
    model = persistence.load_default_model()
    root = tk.Tk(className="bcdesktop")
    root.geometry("1180x800+0+0")
    app = App(root, dialogs=RecordingDialogs())
    app.set_dataset(dataset)
    app.set_model(model, source="default")
    tab = app.tabs["train"]
    app.select_tab("train")
    s = model.settings
    fields = {"hidden": ", ".join(map(str, s["hidden"])), "lr": s["lr"], "optimizer": s["optimizer"],
              "schedule": s["schedule"], "init": s["init"], "l2": s["l2"], "patience": s["patience"],
              "seed": s["seed"], "split": "stratified random", "val_fraction": s["val_fraction"],
              "iterations": iterations, "threshold": model.threshold}
    for key, value in fields.items():
        tab.fields[key].set(str(value))
    root.update()
    config, values = tab.read_config()
    options = dict(split="stratified", val_fraction=values["val_fraction"], threshold=values["threshold"])

    def headless() -> float:
        out = evaluation.fit_model(dataset, config, **options)
        return out.result.iterations_run / out.result.seconds

    done_at: list[float] = []
    train_done = tab._on_train_done

    def record_done(ok, result):  # start() hands this to the worker as the done callback
        done_at.append(time.perf_counter())
        train_done(ok, result)

    tab._on_train_done = record_done

    def in_window() -> tuple[float, float, float]:
        beats: list[float] = []

        def beat():
            beats.append(time.perf_counter())
            root.after(HEARTBEAT_MS, beat)

        def check_done():
            if tab.job is None:
                root.quit()
            else:
                root.after(50, check_done)

        beat()
        tab.start()
        started = time.perf_counter()
        root.after(50, check_done)
        root.mainloop()
        for after_id in root.tk.splitlist(root.tk.call("after", "info")):
            root.after_cancel(after_id)
        gaps = [((b - a) * 1000 - HEARTBEAT_MS, a, b) for a, b in zip(beats, beats[1:])]
        during = [g for g, a, b in gaps if a >= started and b <= done_at[-1]]
        result = tab.outcome.result
        return max(g for g, _a, _b in gaps), max(during, default=0.0), result.iterations_run / result.seconds

    headless()  # warm-up: imports (scikit-learn for the split), caches
    in_window()
    stalls, inner_stalls, gui_rates, headless_rates = [], [], [], []
    for r in range(repeats):
        order = (in_window, headless) if r % 2 == 0 else (headless, in_window)
        for run in order:
            if run is headless:
                headless_rates.append(headless())
            else:
                stall, inner, rate = in_window()
                stalls.append(stall)
                inner_stalls.append(inner)
                gui_rates.append(rate)
    app.close()
    return stalls, inner_stalls, gui_rates, headless_rates


def startup_runs(starts: int) -> tuple[list[float], list[float]]:
    """Seconds from launch to ready for the app, and for a bare interpreter."""
    root_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, BCDESKTOP_HOME=tempfile.mkdtemp(prefix="bcdesktop-bench-"))
    app_times, bare_times = [], []
    for _ in range(starts):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare_times.append(time.perf_counter() - t0)

        ready = Path(tempfile.mkdtemp(prefix="bcdesktop-ready-")) / "ready"
        launched = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "bcdesktop", "gui", "--ready-file", str(ready)],
                                cwd=root_dir, env=env)
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the window did not become ready")
            time.sleep(0.005)
        app_times.append(float(ready.read_text()) - launched)
        proc.terminate()
        proc.wait(10)
    return app_times, bare_times


# --------------------------------------------------------------------------- stalls by phase
PHASES = (
    ("idle", "idle window, nothing to do (reference)"),
    ("construct", "App() construction (before the window is shown)"),
    ("startup", "start-up: App() to ready, histograms shown"),
    ("load_bundled", "Data tab: load the bundled file (699 rows)"),
    ("load_large", "Data tab: load 100,000 rows"),
    ("visit_train", "first visit: Train"),
    ("visit_patient", "first visit: Patient"),
    ("visit_threshold", "first visit: Threshold"),
    ("visit_batch", "first visit: Batch"),
    ("text_larger", "text size 115% (on the Data tab)"),
    ("text_normal", "text size back to 100%"),
    ("visit_data", "first visit: Data (window started on Patient)"),
)
SETTLE_S = 0.8


def _write_large_file(path: Path, rows: int) -> Path:
    from bcdesktop import resources

    lines = resources.bundled_data_path().read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    out = (lines * (rows // len(lines) + 1))[:rows]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


class _Heartbeat:
    """A 10 ms ``after()`` timer on the Tk loop; ``run_phase`` runs the loop until a
    condition holds and has held for SETTLE_S with the loop never held up for more
    than 0.1 s (so a redraw the condition does not see, e.g. after a resize, is in)."""

    def __init__(self, root):
        self.root = root

    def run_phase(self, action, condition, *, first_beat: float | None = None, timeout: float = 120.0) -> float:
        root = self.root
        beats: list[float] = [first_beat] if first_beat is not None else []
        state = {"since": None, "failed": None}
        deadline = time.perf_counter() + timeout

        def beat():
            beats.append(time.perf_counter())
            state["beat"] = root.after(HEARTBEAT_MS, beat)

        def check():
            now = time.perf_counter()
            blocked = now - state.get("checked", now) > 0.1  # the loop was held up since the last check
            state["checked"] = now
            try:
                ok = bool(condition())
            except Exception as exc:  # noqa: BLE001 - reported by the parent
                state["failed"] = repr(exc)
                root.quit()
                return
            if ok:
                if state["since"] is None or blocked:
                    state["since"] = now
                if now - state["since"] >= SETTLE_S:
                    root.quit()
                    return
            else:
                state["since"] = None
            if now > deadline:
                state["failed"] = "timed out"
                root.quit()
                return
            state["check"] = root.after(20, check)

        beat()
        root.after(0, action)
        state["check"] = root.after(20, check)
        root.mainloop()
        beats.append(time.perf_counter())
        for key in ("beat", "check"):
            try:
                root.after_cancel(state[key])
            except (KeyError, tk.TclError):
                pass
        if state["failed"]:
            raise RuntimeError(state["failed"])
        return max(((b - a) * 1000 - HEARTBEAT_MS for a, b in zip(beats, beats[1:])), default=0.0)


def _histograms_shown(app) -> bool:
    tab = app.tabs["data"]
    return app.dataset is not None and getattr(tab, "_plotted", None) is app.dataset


def phase_child(out: str) -> None:
    """One repeat of every phase, in this (fresh) process; writes {phase: ms} as JSON.
    It may run a ``--baseline`` checkout from before issue 14, where the dialogs lived in
    gui/app.py and the Data tab loaded files itself."""
    from bcdesktop.gui.app import App
    try:
        from bcdesktop.gui.dialogs import RecordingDialogs
    except ImportError:  # a baseline from before the split
        from bcdesktop.gui.app import RecordingDialogs

    os.environ["BCDESKTOP_HOME"] = tempfile.mkdtemp(prefix="bcdesktop-bench-")
    large = _write_large_file(Path(tempfile.mkdtemp(prefix="bcdesktop-bench-")) / "large.csv", 100_000)
    from bcdesktop import resources

    bundled = resources.bundled_data_path()
    result: dict[str, float] = {}

    root = tk.Tk(className="bcdesktop")
    root.geometry("1180x800+0+0")
    hb = _Heartbeat(root)
    t0 = time.perf_counter()
    app = App(root, dialogs=RecordingDialogs())
    result["construct"] = (time.perf_counter() - t0) * 1000
    ready: list[bool] = []
    result["startup"] = hb.run_phase(lambda: app.start(on_ready=lambda: ready.append(True)),
                                     lambda: ready and _histograms_shown(app) and not app.busy)
    result["idle"] = hb.run_phase(lambda: None, lambda: True)
    for key, path in (("load_bundled", bundled), ("load_large", large)):
        load = getattr(app, "load_data", None) or app.tabs["data"].load  # the latter: a baseline
        result[key] = hb.run_phase(lambda p=path, f=load: f(p), lambda p=path: app.dataset.path == p
                                   and _histograms_shown(app) and not app.busy)
    shown = {"train": lambda: app.tabs["train"].loss_plot is not None,
             "patient": lambda: True,
             "threshold": lambda: getattr(app.tabs["threshold"], "figure", None) is not None,
             "batch": lambda: True}
    for key, cond in shown.items():
        result[f"visit_{key}"] = hb.run_phase(lambda k=key: app.select_tab(k), lambda c=cond: c() and not app.busy)
    hb.run_phase(lambda: app.select_tab("data"), lambda: _histograms_shown(app) and not app.busy)
    result["text_larger"] = hb.run_phase(lambda: app.change_text_scale(1.15),
                                         lambda: _histograms_shown(app) and not app.busy)
    result["text_normal"] = hb.run_phase(lambda: app.change_text_scale(None),
                                         lambda: _histograms_shown(app) and not app.busy)
    app.close()

    root = tk.Tk(className="bcdesktop")
    root.geometry("1180x800+0+0")
    hb = _Heartbeat(root)
    app = App(root, dialogs=RecordingDialogs())
    app.select_tab("patient")
    ready = []
    hb.run_phase(lambda: app.start(on_ready=lambda: ready.append(True)), lambda: ready and not app.busy)
    result["visit_data"] = hb.run_phase(lambda: app.select_tab("data"),
                                        lambda: _histograms_shown(app) and not app.busy)
    app.close()
    Path(out).write_text(json.dumps(result), encoding="utf-8")


def phase_runs(repeats: int, sources: dict[str, Path]) -> dict[str, dict[str, list[float]]]:
    """``{source name: {phase: [ms per repeat]}}``, each repeat a fresh process; the
    sources alternate, so a baseline and this checkout see the same load."""
    script = Path(__file__).resolve()
    results: dict[str, dict[str, list[float]]] = {name: {} for name in sources}
    for r in range(repeats):
        order = list(sources.items()) if r % 2 == 0 else list(reversed(sources.items()))
        for name, source in order:
            out = Path(tempfile.mkdtemp(prefix="bcdesktop-bench-")) / "phases.json"
            subprocess.run([sys.executable, str(script), "--phase-child", str(out), "--source", str(source)],
                           check=True, cwd=source)
            for key, value in json.loads(out.read_text(encoding="utf-8")).items():
                results[name].setdefault(key, []).append(value)
    return results


def print_phases(results: dict[str, dict[str, list[float]]], repeats: int) -> None:
    names = list(results)
    print(f"longest main-loop stall by phase, ms ({repeats} fresh processes each; median [worst]; "
          f"goal < 100 ms; 10 ms heartbeat)")
    header = "".join(f"{name:>22}" for name in names) + ("    ratio" if len(names) == 2 else "")
    print(f"  {'':50}{header}")
    for key, label in PHASES:
        cells, meds = "", []
        for name in names:
            values = results[name].get(key, [])
            meds.append(median(values))
            cells += f"{median(values):>14.0f} [{max(values, default=float('nan')):>5.0f}]"
        ratio = ""
        if len(names) == 2 and meds[1] > 0:
            ratio = f"    {meds[0] / meds[1]:.2f}"
        print(f"  {label:50}{cells}{ratio}")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="training runs of each kind")
    parser.add_argument("--iterations", type=int, default=40_000, help="iterations per training run")
    parser.add_argument("--starts", type=int, default=7, help="start-up measurements")
    parser.add_argument("--phase-repeats", type=int, default=5, help="fresh processes for the stalls by phase")
    parser.add_argument("--parts", default="training,startup,phases",
                        help="comma-separated: training, startup, phases (default: all)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of the app whose stalls by phase are measured too, interleaved")
    parser.add_argument("--phase-child", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.source.resolve()))
    if args.phase_child:  # one repeat of the phases, on the parent's display
        phase_child(args.phase_child)
        return 0
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"training", "startup", "phases"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    from bcdesktop.gui.xvfb import display

    print(f"before: {_load()}")
    with display():
        if "training" in parts:
            stalls, inner_stalls, gui_rates, headless_rates = training_runs(args.repeats, args.iterations)
        if "startup" in parts:
            app_times, bare_times = startup_runs(args.starts)
        if "phases" in parts:
            sources = {"this checkout": args.source.resolve()}
            if args.baseline is not None:
                sources["baseline"] = args.baseline.resolve()
            phases = phase_runs(args.phase_repeats, sources)

    if "training" in parts:
        ratio = median(gui_rates) / median(headless_rates)
        print(f"training in the window ({args.repeats} runs of {args.iterations:,} iterations, "
              "default model's settings)")
        print(f"  longest main-loop stall: median {median(stalls):.0f} ms, worst {max(stalls):.0f} ms "
              f"(goal < 100 ms; 10 ms heartbeat; includes the Start click and the final redraw)")
        print(f"  ... while the training thread runs: median {median(inner_stalls):.0f} ms, "
              f"worst {max(inner_stalls):.0f} ms")
        print(f"  iterations/s: window {median(gui_rates):,.0f}, headless {median(headless_rates):,.0f}, "
              f"ratio {ratio:.2f} (goal >= 0.80)")
    if "startup" in parts:
        print(f"start-up from source ({args.starts} launches)")
        print(f"  window shown and ready: median {median(app_times):.2f} s, range {min(app_times):.2f}-"
              f"{max(app_times):.2f} s (goal < 1.5 s)")
        print(f"  bare 'python -c pass': median {median(bare_times):.3f} s")
    if "phases" in parts:
        print_phases(phases, args.phase_repeats)
    print(f"after: {_load()}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
