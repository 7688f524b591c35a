"""Write a screenshot of every tab, in a realistic state, to ``docs/screenshots/<tab>.png``.

Run ``python -m bcdesktop.gui.screenshots [OUT_DIR] [--dpi 192] [--text-scale 1.3]``.
Without a ``DISPLAY`` (or with ``--dpi``) it starts its own Xvfb (:mod:`bcdesktop.gui.xvfb`):
1280x1024 at 96 dpi (100%), larger in proportion for a higher dpi, so ``--dpi 192`` shows
the window at 200% scaling; ``--text-scale`` applies the View menu's text size on top.
The window is driven like a user would: the bundled data loaded, a model trained and
cross-validated, a typical malignant patient predicted, the threshold moved, the
calibration and decision curve shown, the active model's loss landscape computed, and
a small batch with a few bad rows scored.
Captures use ImageMagick's ``import``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

from bcdesktop.gui.xvfb import DPI, display


def pump_until(root: tk.Misc, condition, timeout: float = 60.0, what: str = "") -> None:
    """Run the Tk loop until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or condition}")
        root.update()
        time.sleep(0.01)


def settle(root: tk.Misc, seconds: float = 0.4) -> None:
    """Let pending redraws (throttled plots, idle tasks) happen."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.01)


def capture(root: tk.Tk, path: Path) -> None:
    """Save the whole top-level window, menu bar included, as a PNG.

    Without a window manager the menu bar sits above the client area, in the wrapper
    window that ``geometry("+0+0")`` puts at the screen's top-left corner.
    """
    # The pointer to the bottom-right corner, so no tooltip or hover highlight shows.
    root.event_generate("<Motion>", warp=True, x=root.winfo_width() - 2, y=root.winfo_height() - 2)
    root.update()
    width = root.winfo_width()
    height = root.winfo_rooty() + root.winfo_height()
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+0+0", "+repage", str(path)],
                   check=True)


def _batch_input(folder: Path) -> Path:
    """A small CSV of real rows plus three bad ones, with a header and labels."""
    from bcdesktop.data import load_bundled
    from bcdesktop.schema import CLASS_NAME, FEATURES, ID_NAME

    ds = load_bundled()
    lines = [",".join([ID_NAME, *FEATURES, CLASS_NAME])]
    for i in range(0, 120, 3):
        scores = ",".join(str(int(v)) for v in ds.X[i])
        lines.append(f"{ds.ids[i]},{scores},{4 if ds.y[i] else 2}")
    lines.insert(5, "1000001,5,1,1,1,2,?,3,1,1,2")
    lines.insert(9, "1000002,11,1,1,1,2,1,3,1,1,2")
    lines.insert(14, "1000003,5,abc,1,1,2,1,3,1,1,4")
    path = folder / "clinic-batch.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def take(out_dir: Path, text_scale: float = 1.0) -> list[Path]:
    """Drive the app through each tab and capture it; returns the written files.

    The window is 1180x800 at 100% scaling and larger in proportion to the display's
    dpi; ``text_scale`` is the View menu's text size (1.0 = normal)."""
    from bcdesktop.gui.app import App
    from bcdesktop.gui.dialogs import RecordingDialogs

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.gettempdir()) / "bcdesktop-screenshots"  # a fixed name: the pictures show it
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    os.environ["BCDESKTOP_HOME"] = str(work / "home")
    root = tk.Tk(className="bcdesktop")
    scale = max(1.0, root.winfo_fpixels("1i") / DPI)
    root.geometry(f"{round(1180 * scale)}x{round(800 * scale)}+0+0")
    app = App(root, dialogs=RecordingDialogs())
    if text_scale != 1.0:
        app.change_text_scale(text_scale)
    ready = []
    app.start(on_ready=lambda: ready.append(True))
    pump_until(root, lambda: ready, what="start-up")
    written = []

    def pictures_pending(tab) -> bool:
        """A picture on show still being drawn (one on a page not shown waits for it)."""
        plots = [getattr(tab, attr, None) for attr in ("plot", "cal_plot", "dc_plot", "cost_plot")]
        return any(p is not None and p.pending and p.widget.winfo_ismapped() for p in plots)

    def shot(name: str, file: str | None = None) -> None:
        app.select_tab(name)
        settle(root)
        # a picture drawn off the Tk thread may still be on its way after a layout change
        pump_until(root, lambda: not pictures_pending(app.tabs[name]), what="pictures")
        settle(root)
        path = out_dir / f"{file or name}.png"
        capture(root, path)
        written.append(path)

    data_tab = app.tabs["data"]
    app.select_tab("data")
    pump_until(root, lambda: data_tab.plot is not None, what="histograms")
    shot("data")

    train = app.tabs["train"]
    app.select_tab("train")
    train.fields["folds"].set("5")
    train.fields["repeats"].set("2")
    train.cross_validate()
    pump_until(root, lambda: train.job is None, timeout=300, what="cross-validation")
    train.fields["iterations"].set("1500")
    train.start()
    pump_until(root, lambda: train.job is None, timeout=300, what="training")
    if app.model is None:
        train.use_model()
    # the run's out-of-fold evidence (its interval's calibration pairs) comes a few seconds later
    pump_until(root, lambda: not app.evidence_running, timeout=300, what="out-of-fold evidence")
    shot("train")

    patient = app.tabs["patient"]
    app.select_tab("patient")
    patient.fill_typical(1)
    patient.predict()
    shot("patient")

    threshold = app.tabs["threshold"]
    app.select_tab("threshold")
    settle(root)
    threshold.target_var.set("97")  # the sensitivity target, with its note on optimism
    threshold.find_for_sensitivity()
    threshold.views.select(threshold.pages["rules"])  # where the rule's result is told
    shot("threshold")
    threshold.views.select(threshold.pages["costs"])  # cost per 1,000 patients across thresholds
    shot("threshold", "threshold-costs")

    calibration = app.tabs["calibration"]
    app.select_tab("calibration")
    settle(root)
    calibration.choice_var.set("platt")  # the figures before and after, cross-fitted
    calibration._on_choice()
    pump_until(root, lambda: calibration.analysis is not None and calibration.analysis.kind == "platt",
               timeout=120, what="recalibration")
    shot("calibration")
    calibration.pages.select(calibration.decision_page)
    shot("calibration", "decision-curve")

    landscape = app.tabs["landscape"]
    app.select_tab("landscape")  # computes the active model's landscape on its first visit
    settle(root)
    pump_until(root, lambda: landscape.job is None and landscape.plot is not None, timeout=300,
               what="landscape")
    shot("landscape")

    batch = app.tabs["batch"]
    app.select_tab("batch")
    batch.set_input(_batch_input(work))
    batch.output_var.set(str(work / "clinic-batch-scored.csv"))
    batch.score()
    pump_until(root, lambda: not batch.running, timeout=120, what="batch scoring")
    if batch.summary is None:
        raise RuntimeError(f"batch scoring failed: {batch.message_label.cget('text')} {app.dialogs.messages}")
    shot("batch")

    history = app.tabs["history"]  # what the session did, as the audit trail holds it
    app.audit.flush()
    app.select_tab("history")
    pump_until(root, lambda: not history.filling and history.tree.tree.get_children(), what="history")
    rows = history.tree.tree.get_children()
    first = next((r for r in rows if history.tree.tree.set(r, "kind") == "prediction"), rows[0])
    history.tree.tree.selection_set(first)  # its details below the list
    history.tree.tree.focus(first)
    shot("history")

    app.close()
    shutil.rmtree(work, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bcdesktop.gui.screenshots",
                                     description="Write a screenshot of every tab.")
    parser.add_argument("out_dir", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[2] / "docs" / "screenshots",
                        help="folder for the PNG files (default: docs/screenshots)")
    parser.add_argument("--dpi", type=int, default=None,
                        help="run a private Xvfb at this dpi (96 = 100%%, 192 = 200%% scaling)")
    parser.add_argument("--text-scale", type=float, default=1.0,
                        help="the View menu's text size on top of the display scaling (default 1.0)")
    args = parser.parse_args(argv)
    if args.dpi is not None and not 48 <= args.dpi <= 384:
        parser.error("--dpi must be between 48 and 384")
    if not 0.5 <= args.text_scale <= 3.0:
        parser.error("--text-scale must be between 0.5 and 3")
    if shutil.which("import") is None:
        print("screenshots need ImageMagick's 'import' (apt-get install imagemagick)", file=sys.stderr)
        return 2
    with display(args.dpi):
        for path in take(args.out_dir, args.text_scale):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
