"""Write a screenshot of every tab, in a realistic state, to ``docs/screenshots/<tab>.png``.

Run ``python -m bcdesktop.gui.screenshots [OUT_DIR]``. Without a ``DISPLAY`` it starts
its own Xvfb (1280x1024, 96 dpi). The window is driven like a user would: the bundled
data loaded, a model trained and cross-validated, a typical malignant patient
predicted, the threshold moved, and a small batch with a few bad rows scored.
Captures use ImageMagick's ``import``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

SCREEN = "1280x1024x24"
DPI = 96


def start_xvfb(screen: str = SCREEN, dpi: int = DPI) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks one and tells us); returns ``(process, ":N")``."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-dpi", str(dpi),
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        deadline = time.monotonic() + 10
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number.decode().strip()}"


@contextlib.contextmanager
def virtual_display():
    """Use ``$DISPLAY`` when set; otherwise run inside a private Xvfb for the duration."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    proc, name = start_xvfb()
    os.environ["DISPLAY"] = name
    try:
        yield name
    finally:
        os.environ.pop("DISPLAY", None)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


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
    root.update()
    width = root.winfo_width()
    height = root.winfo_rooty() + root.winfo_height()
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+0+0", "+repage", str(path)],
                   check=True)


def _batch_input(folder: Path) -> Path:
    """A small CSV of real rows plus three bad ones, with a header and labels."""
    from bcdesktop import data

    ds = data.load_bundled()
    lines = [",".join([data.ID_NAME, *data.FEATURES, data.CLASS_NAME])]
    for i in range(0, 120, 3):
        scores = ",".join(str(int(v)) for v in ds.X[i])
        lines.append(f"{ds.ids[i]},{scores},{4 if ds.y[i] else 2}")
    lines.insert(5, "1000001,5,1,1,1,2,?,3,1,1,2")
    lines.insert(9, "1000002,11,1,1,1,2,1,3,1,1,2")
    lines.insert(14, "1000003,5,abc,1,1,2,1,3,1,1,4")
    path = folder / "clinic-batch.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def take(out_dir: Path) -> list[Path]:
    """Drive the app through each tab and capture it; returns the written files."""
    from bcdesktop.gui.app import App, RecordingDialogs

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.gettempdir()) / "bcdesktop-screenshots"  # a fixed name: the pictures show it
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    os.environ["BCDESKTOP_HOME"] = str(work / "home")
    root = tk.Tk(className="bcdesktop")
    root.geometry("1180x800+0+0")
    app = App(root, dialogs=RecordingDialogs())
    ready = []
    app.start(on_ready=lambda: ready.append(True))
    pump_until(root, lambda: ready, what="start-up")
    written = []

    def shot(name: str) -> None:
        app.select_tab(name)
        settle(root)
        path = out_dir / f"{name}.png"
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
    shot("train")

    patient = app.tabs["patient"]
    app.select_tab("patient")
    patient.fill_typical(1)
    patient.predict()
    shot("patient")

    threshold = app.tabs["threshold"]
    app.select_tab("threshold")
    settle(root)
    threshold.entry_var.set("0.30")
    threshold.apply_entry()
    shot("threshold")

    batch = app.tabs["batch"]
    app.select_tab("batch")
    batch.set_input(_batch_input(work))
    batch.output_var.set(str(work / "clinic-batch-scored.csv"))
    batch.score()
    pump_until(root, lambda: not batch.running, timeout=120, what="batch scoring")
    if batch.summary is None:
        raise RuntimeError(f"batch scoring failed: {batch.message_label.cget('text')} {app.dialogs.messages}")
    shot("batch")

    app.close()
    shutil.rmtree(work, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if shutil.which("import") is None:
        print("screenshots need ImageMagick's 'import' (apt-get install imagemagick)", file=sys.stderr)
        return 2
    with virtual_display():
        for path in take(out_dir):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
