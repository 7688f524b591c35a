"""Small helpers every command shares: argparse types, the progress bar, printing that
survives a closed stdout, JSON, the model and data loaders, printable text.

A leaf of the command line: :mod:`bcdesktop.cli` and the commands kept in their own
modules (:mod:`bcdesktop.cli_landscape`) import it, it imports neither.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bcdesktop.errors import UserError


def _ensure_streams() -> None:
    """A windowed (no console) frozen build has ``sys.stdout``/``sys.stderr`` set to None."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def _whole(low: int):
    """argparse type: a whole number of at least ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        return value
    return parse


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def _positive(text: str) -> float:
    """argparse type: a finite number above 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number, such as 10")
    return value


def _threshold(text: str) -> float:
    """argparse type: a threshold in the window's range, 0.01..0.99."""
    from bcdesktop.metrics import THRESHOLD_MAX, THRESHOLD_MIN

    value = _float(text)
    if not THRESHOLD_MIN <= value <= THRESHOLD_MAX:
        raise argparse.ArgumentTypeError(
            f"threshold {text} must lie between {THRESHOLD_MIN:g} and {THRESHOLD_MAX:g}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    """argparse type: ``15`` or ``15,8`` (one number per hidden layer), as the window
    reads them (:func:`bcdesktop.model.parse_hidden`, with the trainer's limits)."""
    from bcdesktop.model import parse_hidden

    try:
        return parse_hidden(text)
    except UserError as exc:  # a sentence; argparse's messages are phrases
        message = str(exc).removesuffix(".")
        raise argparse.ArgumentTypeError(message[:1].lower() + message[1:]) from None


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: float, label: str, enabled: bool = True):
        self.total = max(float(total), 1.0)
        self.label = label
        self.enabled = enabled and sys.stderr is not None and sys.stderr.isatty()
        self.started = time.perf_counter()
        self._last = 0.0

    def update(self, done: float, extra: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = min(max(done / self.total, 0.0), 1.0)
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        elapsed = now - self.started
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        eta_text = f"{eta:5.1f}s left" if eta == eta else "   ..."
        sys.stderr.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}% {eta_text} {extra}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


_stdout_gone = False


def _out(text: str = "") -> None:
    """Print a line on stdout. Once its reader has gone (``bcdesktop train | head -2``),
    stop printing and carry on, so the work still finishes and is saved: stdout is
    pointed at the null device, as the Python documentation advises for SIGPIPE."""
    global _stdout_gone
    if _stdout_gone:
        return
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone = True
        _silence_stdout()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (e.g. a test's StringIO)
        sys.stdout = open(os.devnull, "w", encoding="utf-8")


def _print_json(obj) -> None:
    _out(json.dumps(obj, indent=None, allow_nan=False, default=_json_default))


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")



def _load_model(path: str | None):
    from bcdesktop import persistence

    return persistence.load_default_model() if path is None else persistence.load_model(path)


def _load_data(path: str | None):
    from bcdesktop import data

    return data.load_bundled() if path is None else data.load_csv(path)


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a terminal shows it on one line."""
    from bcdesktop.schema import printable

    return printable(text)
