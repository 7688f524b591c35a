"""The Train tab's learning-rate range test: its sentence and its picture.

:func:`suggestion_text` says what the test found; :func:`draw_lr_find` draws loss
against rate (log rate axis, raw and smoothed, the suggestion marked) on a fresh
``Figure`` in a worker thread (:class:`~bcdesktop.gui.plots.OffscreenPicture`), so it
must touch nothing but its arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bcdesktop.gui.widgets import TRAIN_LINE, VALIDATION_LINE

if TYPE_CHECKING:
    from bcdesktop.landscape import LRFind

RAW_LINE = "#9aa7b8"  # the raw losses, light behind the smoothed line


def format_lr(rate: float) -> str:
    """A rate as the learning-rate field takes it: three significant digits (``0.0193``)."""
    return f"{rate:.3g}"


def suggestion_text(found: LRFind) -> str:
    """``"Suggested learning rate 0.0193 (where the smoothed loss falls fastest; the
    loss exploded at 2.1)"``."""
    last = found.rates[-1]
    ended = {"exploded": f"the loss exploded at {last:.2g}",
             "diverged": f"the loss stopped being a finite number at {last:.2g}",
             "completed": f"the loss had not exploded by {last:.2g}, the largest rate tried"}[found.stopped]
    return f"Suggested learning rate {format_lr(found.suggested)} (where the smoothed loss falls fastest; {ended})"


def draw_lr_find(figure, found: LRFind, text_scale: float = 1.0) -> dict:
    """Loss against learning rate on ``figure`` (worker thread); returns what it drew."""
    size = 9.0 * text_scale
    ax = figure.add_subplot()
    ax.plot(found.rates, found.losses, color=RAW_LINE, linewidth=1.0, label="loss")
    ax.plot(found.rates, found.smoothed, color=TRAIN_LINE, linewidth=1.8, label="smoothed")
    ax.axvline(found.suggested, color=VALIDATION_LINE, linestyle="--", linewidth=1.2,
               label=f"suggested {format_lr(found.suggested)}")
    ax.set_xscale("log")
    finite = found.losses[np.isfinite(found.losses)]
    if finite.size:  # the start and the fall, not the explosion's top
        top = min(float(finite.max()), 1.5 * float(found.smoothed[0]) + 0.05)
        ax.set_ylim(max(0.0, float(finite.min()) - 0.05), top * 1.05)
    ax.set_xlabel("learning rate (log scale)", fontsize=size)
    ax.set_ylabel("loss", fontsize=size)
    ax.tick_params(labelsize=size * 0.9)
    ax.grid(True, color="0.9")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", frameon=False, fontsize=size * 0.9)
    figure.tight_layout(pad=0.4)
    return {"suggested": found.suggested, "xscale": ax.get_xscale(), "lines": len(ax.lines)}
