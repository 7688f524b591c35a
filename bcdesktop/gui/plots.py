"""matplotlib pictures embedded in Tk: ``Figure`` + ``FigureCanvasTkAgg``, never pyplot.

matplotlib takes about half a second to import, so nothing here imports it at module
level: a figure is built the first time it is needed, after the window is up.
"""

from __future__ import annotations

import importlib
import sys
import time
import tkinter as tk

import numpy as np

from bcdesktop.gui.widgets import CLASS_COLORS, CLASS_NAMES, TRAIN_LINE, VALIDATION_LINE

# Benign bars plain, malignant bars outlined in black (and always to the right of the
# benign bar): the classes differ by more than colour. (Hatching would also do, but it
# triples the drawing time of the 3x3 grid.)
EDGES = ("none", "black")
HATCHES = (None, "///")  # benign, malignant: for pictures with few bars, where hatching is cheap


_MATPLOTLIB_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_tkagg")


def when_matplotlib_loaded(app, then) -> None:
    """Call ``then()`` on the Tk loop once matplotlib is imported, importing it in a
    worker thread if need be (the import takes about half a second)."""
    if all(name in sys.modules for name in _MATPLOTLIB_MODULES):
        then()
        return

    def load(report, cancel):
        for name in _MATPLOTLIB_MODULES:
            importlib.import_module(name)

    def done(ok, error):
        if ok:
            then()
        else:
            app.report_exception(error)

    app.run_in_thread(load, done, name="load-matplotlib")


class EmbeddedFigure:
    """A matplotlib ``Figure`` in a Tk frame, with an optional navigation toolbar.

    Parameters
    ----------
    parent : widget
        The figure's canvas (and toolbar) are packed into it.
    figsize : (float, float)
        Inches; the canvas then follows the frame's size.
    toolbar : bool
        Add matplotlib's ``NavigationToolbar2Tk`` (zoom, pan, save) below the plot.
    layout : {"constrained", None}
        matplotlib's layout engine. ``None`` (fixed margins, set by the caller) makes
        every redraw much cheaper for figures with many axes or frequent redraws.
    """

    def __init__(self, parent: tk.Misc, figsize=(6.0, 4.0), *, toolbar: bool = False,
                 layout: str | None = "constrained"):
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg, NavigationToolbar2Tk
        from matplotlib.figure import Figure

        # 96 dpi at 100%: matplotlib's Tk canvas multiplies by the display's scaling
        # itself (its "device pixel ratio" follows ``tk scaling``), so text in the
        # figure grows with the window's at 150% or 200%.
        self.figure = Figure(figsize=figsize, dpi=96, layout=layout)
        focus = parent.focus_get()  # None when the app does not have the keyboard focus
        self.canvas = FigureCanvasTkAgg(self.figure, master=parent)
        # matplotlib asks Tk to focus its new canvas once it is mapped; the user's focus
        # stays where it was. A focus request cancels that pending one, but a plain
        # focus_set is ignored for the window that has the focus already, hence "force"
        # (harmless: the app has the focus anyway).
        if focus is not None:
            focus.focus_force()
        else:
            parent.winfo_toplevel().focus_set()
        self.toolbar = None
        if toolbar:
            self.toolbar = NavigationToolbar2Tk(self.canvas, parent, pack_toolbar=False)
            self.toolbar.update()
            self.toolbar.pack(side="bottom", fill="x")
        self.widget = self.canvas.get_tk_widget()
        self.widget.configure(takefocus=0, highlightthickness=0)
        self.widget.pack(side="top", fill="both", expand=True)
        self._next_draw = 0.0
        self._min_interval = 0.25
        self._pending = None
        self._draw_fn = None
        self.draw_count = 0
        self.last_draw_seconds = 0.0

    def draw_idle(self) -> None:
        """Redraw when Tk is next idle."""
        self.draw_count += 1
        self.canvas.draw_idle()

    def draw_throttled(self, draw=None, min_interval_s: float = 0.25) -> None:
        """Redraw soon, but at most every ``min_interval_s``, and spend at most about a
        sixth of the time drawing (a slow draw widens the gap to the next one).

        Requests made while one is pending are merged into it. ``draw()`` (default: a
        full ``canvas.draw()``) does the drawing, so a caller can update its artists
        only when they are drawn, or blit instead of redrawing everything.
        """
        self._draw_fn = draw or self.canvas.draw
        self._min_interval = min_interval_s
        if self._pending is None:
            wait_ms = int((self._next_draw - time.perf_counter()) * 1000)
            self._pending = self.widget.after(max(1, wait_ms), self._draw_now)

    def _draw_now(self) -> None:
        self._pending = None
        draw, self._draw_fn = self._draw_fn, None
        started = time.perf_counter()
        self.draw_count += 1
        (draw or self.canvas.draw)()
        done = time.perf_counter()
        self.last_draw_seconds = done - started
        self._next_draw = done + max(self._min_interval, 5 * self.last_draw_seconds)

    def flush(self) -> None:
        """Do a pending throttled draw now."""
        if self._pending is not None:
            self.widget.after_cancel(self._pending)
            self._draw_now()


def draw_class_histograms(figure, X: np.ndarray, y: np.ndarray | None, titles, text_scale: float = 1.0) -> None:
    """Per-feature bar charts of the scores 1..10, benign and malignant side by side.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        Cleared and filled with a 3x3 grid.
    X : ndarray (n, 9)
    y : ndarray (n,) of 0/1, or None (then all rows are drawn as one grey group)
    titles : sequence of 9 str
    text_scale : float
        The View menu's text size (1.0 = matplotlib's 10 pt); display scaling is
        applied by the canvas.
    """
    from matplotlib import rc_context

    with rc_context({"font.size": 10.0 * text_scale}):  # "small" etc. are relative to it
        _draw_class_histograms(figure, X, y, titles)


def _draw_class_histograms(figure, X, y, titles) -> None:
    figure.clear()
    axes = figure.subplots(3, 3, sharex=True, gridspec_kw=dict(left=0.09, right=0.98, bottom=0.09, top=0.87,
                                                                wspace=0.38, hspace=0.45))
    scores = np.arange(1, 11)
    if y is None:
        groups = [("all rows", "0.45", "none", np.ones(len(X), bool))]
    else:
        groups = [(f"{CLASS_NAMES[c]} (n={int((y == c).sum())})", CLASS_COLORS[c], EDGES[c], y == c)
                  for c in (0, 1)]
    width = 0.8 / len(groups)
    for j, ax in enumerate(axes.flat):
        column = np.clip(np.rint(X[:, j]).astype(int), 0, 10)
        for g, (label, colour, edge, rows) in enumerate(groups):
            counts = np.bincount(column[rows], minlength=11)[1:11]
            centres = scores + (g - (len(groups) - 1) / 2) * width
            # Ten bars as one step patch with zero-height gaps: one artist instead of ten.
            edges = np.column_stack([centres - width / 2, centres + width / 2]).ravel()
            values = np.column_stack([counts, np.zeros(10)]).ravel()[:-1]
            ax.stairs(values, edges, fill=True, facecolor=colour, edgecolor=edge, linewidth=0.6, label=label)
        ax.set_title(titles[j], fontsize="small", pad=3)
        ax.set_xticks([1, 5, 10])
        ax.tick_params(labelsize="small")
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("score", fontsize="x-small")
    for ax in axes[:, 0]:
        ax.set_ylabel("rows", fontsize="x-small")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncols=len(groups), fontsize="small", frameon=False)


class LossPlot:
    """Training and validation loss against iteration, updated in place while training.

    Keeps the two ``Line2D`` objects and changes their data (``set_data``). While a run
    is going the lines are "animated": the axes, ticks and labels (most of the drawing
    time, mostly text) are drawn once and kept as a background image, and each update
    only puts the background back, draws the two lines and blits the axes. A full
    redraw happens only when the axis limits change. Updates are throttled by
    :meth:`EmbeddedFigure.draw_throttled`. At the end of a run the lines become
    ordinary artists again, so saving the figure from the toolbar includes them.
    """

    def __init__(self, embedded: EmbeddedFigure):
        self.embedded = embedded
        # Fixed margins rather than a layout engine: this figure is redrawn while
        # training, and every millisecond of drawing is taken from the window and
        # from the training thread.
        embedded.figure.subplots_adjust(left=0.12, right=0.96, bottom=0.15, top=0.97)
        self.ax = embedded.figure.add_subplot()
        (self.train_line,) = self.ax.plot([], [], color=TRAIN_LINE, linewidth=1.8, label="training loss")
        (self.val_line,) = self.ax.plot([], [], color=VALIDATION_LINE, linewidth=1.8, linestyle="--",
                                        label="validation loss")
        self.ax.set_xlabel("iteration")
        self.ax.set_ylabel("cross-entropy loss")
        self.ax.grid(True, color="0.9")
        self.ax.legend(loc="upper right", frameon=False)
        self.ax.spines[["top", "right"]].set_visible(False)
        self.iterations = 1
        self._x: list[float] = []
        self._train: list[float] = []
        self._val: list[float] = []
        self._log = False
        self._top = 0.0
        self._bottom = np.inf
        self._background = None
        self.full_draws = 0
        embedded.canvas.mpl_connect("draw_event", self._on_full_draw)

    def reset(self, iterations: int) -> None:
        """Empty the lines for a new run of ``iterations``."""
        self.iterations = max(1, int(iterations))
        self._x, self._train, self._val = [], [], []
        self._top = 0.0
        self._bottom = np.inf
        for line in (self.train_line, self.val_line):
            line.set_data([], [])
            line.set_animated(True)
        self.ax.set_xlim(0.0, float(self.iterations))
        self.ax.set_ylim(*((0.01, 1.0) if self._log else (0.0, 1.0)))
        # Drawn now, before the training thread competes for the interpreter; with
        # these limits most runs need no other full redraw until they end.
        self.embedded.canvas.draw()

    def add(self, iteration: int, train_loss: float, val_loss: float | None) -> None:
        """Append one point; the lines are updated and drawn at most every 0.25 s."""
        self._x.append(iteration)
        self._train.append(train_loss)
        self._val.append(np.nan if val_loss is None else val_loss)
        for value in (train_loss, val_loss):
            if value is not None and 0 < value < np.inf:
                self._top = max(self._top, value)
                self._bottom = min(self._bottom, value)
        self.embedded.draw_throttled(self._update)

    def finish(self) -> None:
        """Show every point now, as ordinary artists (end of a run)."""
        self.embedded.flush()
        for line in (self.train_line, self.val_line):
            line.set_animated(False)
        self._push()
        if self._x and not self._log:  # fit the finished curve snugly
            self.ax.set_ylim(0.0, np.ceil(self._top * 1.05 * 20) / 20)
        self.embedded.draw_idle()

    def _push(self) -> None:
        self.train_line.set_data(self._x, self._train)
        self.val_line.set_data(self._x, self._val)

    def _update(self) -> None:
        self._push()
        canvas = self.embedded.canvas
        if self._rescale() or self._background is None or not self.train_line.get_animated():
            canvas.draw()  # -> _on_full_draw keeps the new background and draws the lines
            return
        canvas.restore_region(self._background)
        self._draw_lines()
        canvas.blit(self.ax.bbox)

    def _on_full_draw(self, _event) -> None:
        """After any full draw (resize, zoom, new limits): keep the background, add the lines."""
        self.full_draws += 1
        if self.train_line.get_animated():
            self._background = self.embedded.canvas.copy_from_bbox(self.ax.bbox)
            self._draw_lines()
        else:
            self._background = None

    def _draw_lines(self) -> None:
        self.ax.draw_artist(self.train_line)
        self.ax.draw_artist(self.val_line)

    def set_text_scale(self, factor: float) -> None:
        """Tick labels, axis labels and legend at ``factor`` times matplotlib's 10 pt
        (the View menu's text size; display scaling is applied by the canvas)."""
        size = 10.0 * factor
        self.ax.tick_params(labelsize=size)
        for text in (self.ax.xaxis.label, self.ax.yaxis.label, *self.ax.get_legend().get_texts()):
            text.set_fontsize(size)
        self.embedded.draw_idle()

    def set_log_scale(self, on: bool) -> None:
        self._log = bool(on)
        self.ax.set_yscale("log" if on else "linear")
        self.ax.set_ylim(*((0.01, 1.0) if self._log else (0.0, 1.0)))
        self._rescale()
        self.embedded.draw_idle()

    def _rescale(self) -> bool:
        """Fit the axes to the points; True if the limits changed. The limits move in
        coarse steps so that a run needs only a few full redraws."""
        if self._top <= 0:
            return False
        low, high = self.ax.get_ylim()
        if self._log:  # whole decades, only ever widened during a run
            ylim = (min(low, 10 ** np.floor(np.log10(max(self._bottom, 1e-6)))),
                    max(high, 10 ** np.ceil(np.log10(self._top))))
        else:
            ylim = (0.0, max(high, np.ceil(self._top * 1.05 * 10) / 10))
        xlim = (0.0, float(max(self.iterations, self._x[-1] if self._x else 1)))
        changed = ylim != tuple(self.ax.get_ylim()) or xlim != tuple(self.ax.get_xlim())
        if changed:
            self.ax.set_ylim(*ylim)
            self.ax.set_xlim(*xlim)
        return changed

    @property
    def n_points(self) -> int:
        """Points on the training line so far (what a user sees grow)."""
        return len(self.train_line.get_xdata())
