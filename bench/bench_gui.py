"""Responsiveness of the window while it trains, and how fast it starts.

    python bench/bench_gui.py [--repeats 5] [--iterations 40000] [--starts 7]     # about 30 s

Runs under its own Xvfb when there is no DISPLAY. Prints medians.

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
"""

from __future__ import annotations

import argparse
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
    from bcdesktop.gui.app import App, RecordingDialogs

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
    train_done = tab._train_done

    def record_done(ok, result):  # start() hands this to the worker as the done callback
        done_at.append(time.perf_counter())
        train_done(ok, result)

    tab._train_done = record_done

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="training runs of each kind")
    parser.add_argument("--iterations", type=int, default=40_000, help="iterations per training run")
    parser.add_argument("--starts", type=int, default=7, help="start-up measurements")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bcdesktop.gui.screenshots import virtual_display

    with virtual_display():
        stalls, inner_stalls, gui_rates, headless_rates = training_runs(args.repeats, args.iterations)
        app_times, bare_times = startup_runs(args.starts)

    ratio = median(gui_rates) / median(headless_rates)
    print(f"training in the window ({args.repeats} runs of {args.iterations:,} iterations, default model's settings)")
    print(f"  longest main-loop stall: median {median(stalls):.0f} ms, worst {max(stalls):.0f} ms "
          f"(goal < 100 ms; 10 ms heartbeat; includes the Start click and the final redraw)")
    print(f"  ... while the training thread runs: median {median(inner_stalls):.0f} ms, "
          f"worst {max(inner_stalls):.0f} ms")
    print(f"  iterations/s: window {median(gui_rates):,.0f}, headless {median(headless_rates):,.0f}, "
          f"ratio {ratio:.2f} (goal >= 0.80)")
    print(f"start-up from source ({args.starts} launches)")
    print(f"  window shown and ready: median {median(app_times):.2f} s, range {min(app_times):.2f}-"
          f"{max(app_times):.2f} s (goal < 1.5 s)")
    print(f"  bare 'python -c pass': median {median(bare_times):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
