"""matplotlib pictures in Tk, never pyplot, in two ways.

- :class:`EmbeddedFigure`: a ``Figure`` on a ``FigureCanvasTkAgg``, drawn on the Tk
  thread, for a picture that changes while the user watches it and has matplotlib's
  toolbar (the loss plot); its redraws are throttled and blitted.
- :class:`OffscreenPicture`: a picture drawn in a worker thread (a fresh ``Figure`` on
  its own ``FigureCanvasAgg``, which never meets Tk) and shown on the Tk thread as a
  ``PhotoImage``, for pictures whose full draw takes hundreds of milliseconds (the Data
  tab's nine histograms, the Threshold tab's ROC curve and distributions): the window
  keeps reacting while they are drawn. Anything that must follow the mouse or a
  slider is a Tk canvas item over the picture.

matplotlib takes about half a second to import, so nothing here imports it at module
level: a figure is built the first time it is needed, after the window is up.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any

import numpy as np

from bcdesktop.errors import Cancelled
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import CLASS_COLORS, CLASS_NAMES, TRAIN_LINE, VALIDATION_LINE

# Benign bars plain, malignant bars outlined in black (and always to the right of the
# benign bar): the classes differ by more than colour. (Hatching would also do, but it
# triples the drawing time of the 3x3 grid.)
EDGES = ("none", "black")
HATCHES = (None, "///")  # benign, malignant: for pictures with few bars, where hatching is cheap


_MATPLOTLIB_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_tkagg")


def when_matplotlib_loaded(app: AppContext, then: Callable[[], None]) -> None:
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

    The figure is drawn on the Tk thread, so only while it is on screen: a redraw asked
    for while its tab is hidden (a resize as the window is laid out, a text-size
    change) waits until the tab is shown, and several of them make one.
    """

    HIDDEN_CHECK_MS = 100  # while a redraw waits for the canvas to be shown

    def __init__(self, parent: tk.Misc, figsize=(6.0, 4.0), *, toolbar: bool = False,
                 layout: str | None = "constrained"):
        from matplotlib.backends.backend_tkagg import NavigationToolbar2Tk
        from matplotlib.figure import Figure

        # 96 dpi at 100%: matplotlib's Tk canvas multiplies by the display's scaling
        # itself (its "device pixel ratio" follows ``tk scaling``), so text in the
        # figure grows with the window's at 150% or 200%.
        self.figure = Figure(figsize=figsize, dpi=96, layout=layout)
        focus = parent.focus_get()  # None when the app does not have the keyboard focus
        self.canvas = _shown_only_canvas()(self.figure, master=parent)
        self.canvas._bc_hidden = self._draw_when_shown
        self.canvas._bc_drawn = self._drawn
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
        self._hidden_id: str | None = None
        self._idle_when_shown = False  # a draw_idle came while hidden
        self._throttled_when_shown = None  # a throttled draw came while hidden
        self.draw_count = 0
        self.last_draw_seconds = 0.0
        self.widget.bind("<Destroy>", self._on_destroy, add="+")

    @property
    def shown(self) -> bool:
        """The canvas is on screen (its tab is the one shown)."""
        return bool(self.widget.winfo_viewable())

    def _draw_when_shown(self, throttled=None) -> None:
        """Remember a draw asked for while hidden; look again shortly (whether a hidden
        tab's widgets get ``<Map>`` when it is shown depends on how the tab is laid out)."""
        if throttled is None:
            self._idle_when_shown = True
        else:
            self._throttled_when_shown = throttled
        if self._hidden_id is None:
            self._hidden_id = self.widget.after(self.HIDDEN_CHECK_MS, self._check_shown)

    def _drawn(self) -> None:
        self._idle_when_shown = False  # a full draw did what a redraw asked for while hidden was for

    def _check_shown(self) -> None:
        self._hidden_id = None
        if not self.shown:
            self._hidden_id = self.widget.after(self.HIDDEN_CHECK_MS, self._check_shown)
            return
        throttled, self._throttled_when_shown = self._throttled_when_shown, None
        if self._idle_when_shown:
            self._idle_when_shown = False
            self.canvas.draw_idle()
        if throttled is not None:
            self.draw_throttled(throttled, self._min_interval)

    def _on_destroy(self, event) -> None:
        if event.widget is self.widget and self._hidden_id is not None:
            self.widget.after_cancel(self._hidden_id)
            self._hidden_id = None

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
        if not self.shown:
            self._draw_when_shown(draw or self.canvas.draw)
            return
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


#: While a worker draws a picture (or reads a data file), the interpreter switches
#: threads every millisecond instead of every 5: each Tcl call lets go of the GIL, and
#: with the default interval a Tk callback of a dozen calls could wait 50 ms to get it
#: back from a busy worker.
BUSY_SWITCH_INTERVAL = 0.001
_busy = {"count": 0, "saved": None}  # touched on the Tk thread only


def favour_tk_thread(on: bool) -> None:
    """Call with True when a CPU-bound worker starts and False when it ends (on the Tk
    thread): while any runs, the interpreter hands the GIL back to the Tk thread within
    :data:`BUSY_SWITCH_INTERVAL`."""
    if on:
        if _busy["count"] == 0:
            _busy["saved"] = sys.getswitchinterval()
            sys.setswitchinterval(min(BUSY_SWITCH_INTERVAL, _busy["saved"]))
        _busy["count"] += 1
        return
    _busy["count"] = max(0, _busy["count"] - 1)
    if _busy["count"] == 0 and _busy["saved"] is not None:
        sys.setswitchinterval(_busy["saved"])
        _busy["saved"] = None


class OffscreenPicture:
    """A matplotlib picture drawn in a worker thread and shown as a Tk ``PhotoImage``.

    Each drawing is a fresh ``Figure`` on its own ``FigureCanvasAgg``, made, filled by
    ``draw(figure)`` and rendered in a worker thread (:class:`~bcdesktop.gui.worker.Worker`,
    one thread per drawing, results through its queue); only the finished RGBA pixels
    reach the Tk thread, which puts them into the ``PhotoImage`` with matplotlib's own
    C blit (a few milliseconds). The figure is never shared with Tk; once shown, it is
    only read (what it shows, where its axes are).

    The picture is drawn at the canvas's size and only while the canvas is on screen;
    a resize draws it again (once the size has settled). A request made while one is
    drawing replaces any other waiting one, and the picture on screen stays until the
    new one is ready. These jobs are the window's own: Escape does not stop them and
    ``App.busy`` does not count them.

    Parameters
    ----------
    parent : widget
        The canvas is packed into it (fill, expand).
    on_error : callable(exc)
        Told about a drawing that raised (on the Tk loop).
    size : (float, float)
        Inches at 96 dpi the canvas asks for (as a figure's ``figsize`` would).
    name : str
        The worker threads' name (``bcdesktop-<name>``).

    Attributes
    ----------
    widget : tk.Canvas
    figure : matplotlib.figure.Figure or None
        The figure on screen.
    info : Any
        What ``draw`` returned for the picture on screen.
    token : Any
        What the request on screen was made for (``request(..., token=)``).
    draw_count : int
        Pictures shown so far.
    requests : int
        Calls of :meth:`request` so far (a resize draws again without one).
    drawn_by : str or None
        The name of the thread that drew the picture on screen.
    on_shown : callable(picture) or None
        Called on the Tk loop after each picture is shown.
    """

    SETTLE_MS = 150  # after the last resize, before drawing at the new size
    HIDDEN_CHECK_MS = 100  # while a requested picture waits for its canvas to be shown

    def __init__(self, parent: tk.Misc, on_error: Callable[[BaseException], None], *, size=(6.0, 4.0),
                 name: str = "picture"):
        from bcdesktop.gui.worker import Worker

        ratio = parent.winfo_fpixels("1i") / 96
        self.widget = tk.Canvas(parent, width=round(size[0] * 96 * ratio), height=round(size[1] * 96 * ratio),
                                highlightthickness=0, borderwidth=0, background="white", takefocus=0)
        self.widget.pack(side="top", fill="both", expand=True)
        self.photo = tk.PhotoImage(master=self.widget, width=1, height=1)
        self._image = self.widget.create_image(0, 0, anchor="nw", image=self.photo)
        self._note = self.widget.create_text(12, 12, anchor="nw", text="", fill="#555555")
        self.name = name
        self.on_error = on_error
        self._worker = Worker(self.widget, self._job_error)
        self._draw: Callable[[Any], Any] | None = None
        self._token: Any = None
        self._generation = 0
        self._job = None
        self._settle_id: str | None = None
        self._hidden_id: str | None = None
        self._size: tuple[int, int] | None = None  # the canvas's size the picture on screen was drawn for
        self._shown_generation = 0
        self.figure = None
        self.info: Any = None
        self.token: Any = None
        self.draw_count = 0
        self.requests = 0
        self.drawn_by: str | None = None
        self.on_shown: Callable[[OffscreenPicture], None] | None = None
        self.widget.bind("<Configure>", self._on_configure, add="+")
        self.widget.bind("<Map>", lambda _e: self.refresh(), add="+")  # the first time only: see refresh()
        self.widget.bind("<Destroy>", self._on_destroy, add="+")

    def __repr__(self) -> str:
        state = "drawing" if self._job is not None else ("waiting" if self.pending else "idle")
        return f"OffscreenPicture({self.name!r}, {self.draw_count} shown, {state})"

    @property
    def canvas(self):
        """The ``FigureCanvasAgg`` of the figure on screen (None before the first)."""
        return None if self.figure is None else self.figure.canvas

    @property
    def drawing(self) -> bool:
        """A worker thread is drawing a picture now."""
        return self._job is not None

    @property
    def pending(self) -> bool:
        """A requested picture is not on screen yet (or is being drawn again at a new size)."""
        return self._draw is not None and (self._job is not None or self._shown_generation != self._generation)

    def request(self, draw: Callable[[Any], Any], *, token: Any = None, note: str = "") -> None:
        """Draw ``draw(figure)`` in the background at the canvas's size and show it.

        ``draw`` runs in a worker thread: it may use only what it was given (values,
        arrays nobody writes to), never Tk. What it returns becomes :attr:`info`.
        ``note`` is shown in the empty canvas until the first picture arrives."""
        self._draw = draw
        self._token = token
        self._generation += 1
        self.requests += 1
        if self.figure is None:
            self.widget.itemconfigure(self._note, text=note)
        self.refresh()

    def refresh(self) -> None:
        """Draw what was asked for if it is not on screen at this size (call it when the
        canvas may have come into view, e.g. from its tab's ``<Map>``). The first
        picture waits until the canvas's size has settled (a window being laid out
        resizes it a few times)."""
        if self.figure is None:
            self._on_configure()
        else:
            self._start()

    def _canvas_size(self) -> tuple[int, int]:
        return self.widget.winfo_width(), self.widget.winfo_height()

    def _start(self) -> None:
        if self._draw is None or self._job is not None:
            return
        if self._shown_generation == self._generation and self._size == self._canvas_size():
            return  # what is asked for is on screen
        if not self.widget.winfo_viewable():
            # Drawn when shown. Whether a hidden tab's widgets get <Map> when it is shown
            # depends on how the tab is laid out, so look again shortly, while hidden.
            if self._hidden_id is None:
                self._hidden_id = self.widget.after(self.HIDDEN_CHECK_MS, self._check_shown)
            return
        width, height = self._canvas_size()
        if width < 10 or height < 10:
            return  # not laid out yet: <Configure> comes
        if getattr(self, "_failed", None) == (self._generation, (width, height)):
            return  # this very drawing failed: said once, not again at every resize
        self._started_generation, self._started_size = self._generation, (width, height)
        # 96 dpi at 100%, times the display's scaling as matplotlib's Tk canvas takes it
        dpi = 96 * round(float(self.widget.tk.call("tk", "scaling")) / (96 / 72), 2)
        draw, token, generation = self._draw, self._token, self._generation

        def work(report, cancel):
            # matplotlib's Tk helpers are imported here too, so the Tk thread never pays for the import.
            from matplotlib.backends import _backend_tk  # noqa: F401  (its C blit is used on the Tk thread)
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
            canvas = FigureCanvasAgg(figure)
            info = draw(figure)
            canvas.draw()
            pixels = np.array(canvas.buffer_rgba(), copy=True)
            return generation, token, (width, height), figure, info, pixels, threading.current_thread().name

        self._job = self._worker.submit(work, self._done, name=self.name)
        favour_tk_thread(True)  # after submit: a submit that raises leaves no favour behind

    def _done(self, ok: bool, result) -> None:
        self._job = None
        favour_tk_thread(False)
        if not ok:
            if not isinstance(result, Cancelled):
                # shown once; the same drawing at the same size is not tried again (every
                # resize would bring the error back), but a newer request still starts
                self._failed = (self._started_generation, self._started_size)
                self.on_error(result)
            self._start()
            return
        generation, token, size, figure, info, pixels, thread = result
        try:
            if not self.widget.winfo_exists():
                return
        except tk.TclError:  # the window is gone
            return
        if generation == self._generation:  # the right picture, perhaps at an old size: shown meanwhile
            self._show(pixels, size)
            self.figure, self.info, self.token, self.drawn_by = figure, info, token, thread
            self._shown_generation = generation
            self.draw_count += 1
            if self.on_shown is not None:
                self.on_shown(self)
        self._start()  # a newer request, or the canvas's new size

    def _show(self, pixels: np.ndarray, size: tuple[int, int]) -> None:
        from matplotlib.backends import _backend_tk

        height, width = pixels.shape[:2]
        self.photo.configure(width=width, height=height)
        _backend_tk.blit(self.photo, pixels, (0, 1, 2, 3))
        self._size = size
        self.widget.itemconfigure(self._note, text="")

    def _on_configure(self, _event=None) -> None:
        if self._settle_id is not None:
            self.widget.after_cancel(self._settle_id)
        self._settle_id = self.widget.after(self.SETTLE_MS, self._settled)

    def _check_shown(self) -> None:
        self._hidden_id = None
        self._start()

    def _settled(self) -> None:
        self._settle_id = None
        self._start()

    def _job_error(self, exc: BaseException) -> None:
        self.on_error(exc)

    def _on_destroy(self, event) -> None:
        if event.widget is self.widget:
            for after_id in (self._settle_id, self._hidden_id):
                if after_id is not None:
                    self.widget.after_cancel(after_id)
            self._settle_id = self._hidden_id = None
            if self._job is not None:  # its done() never comes now
                self._job = None
                favour_tk_thread(False)
            self._worker.shutdown(timeout=0)
            # free the image now, on the Tk thread: left to the garbage collector it may be
            # deleted from a drawing thread, where Tcl must not be called
            try:
                self.widget.tk.call("image", "delete", self.photo.name)
                self.photo.name = ""
            except (tk.TclError, AttributeError):
                pass

    def to_pixels(self, transform, xy) -> tuple[float, float]:
        """Where the figure on screen draws the point ``xy`` under ``transform`` (e.g.
        ``ax.transData``), in the canvas's coordinates (y down)."""
        x, y = transform.transform(xy)
        return float(x), float(self.figure.bbox.height - y)


_EXTENTS: dict = {}  # (text, points, dpi) -> (width, height) in pixels, for the Tk thread's figures


def _text_extent(figure, text: str, points: float) -> tuple[float, float]:
    """Pixels (width, height) ``text`` takes at ``points`` on ``figure`` (cached: a
    figure's margins are fitted again at every resize)."""
    key = (text, points, figure.dpi)
    if key not in _EXTENTS:
        from matplotlib.font_manager import FontProperties

        if len(_EXTENTS) > 4096:
            _EXTENTS.clear()
        mathtext = len(text) > 1 and text.startswith("$") and text.endswith("$")  # the log axis's 10^-2
        width, height, _descent = figure.canvas.get_renderer().get_text_width_height_descent(
            text, FontProperties(size=points), mathtext)
        _EXTENTS[key] = (width, height)
    return _EXTENTS[key]


def _shown_only_canvas():
    """``FigureCanvasTkAgg`` whose idle redraws (matplotlib asks for one at every resize)
    wait while the canvas is not on screen, telling ``_bc_hidden()`` instead, and which
    calls ``_bc_before_draw()`` before each full draw and ``_bc_drawn()`` after it."""
    global _ShownOnlyCanvas
    if _ShownOnlyCanvas is None:
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg

        class ShownOnlyCanvas(FigureCanvasTkAgg):
            _bc_hidden = None
            _bc_before_draw = None
            _bc_drawn = None

            def draw(self):
                if self._bc_before_draw is not None:
                    self._bc_before_draw()
                super().draw()
                if self._bc_drawn is not None:
                    self._bc_drawn()

            def draw_idle(self):
                widget = getattr(self, "_tkcanvas", None)
                if self._bc_hidden is not None and widget is not None and not widget.winfo_viewable():
                    self._bc_hidden()
                    return
                if self._idle_draw_id:
                    return
                # Soon rather than at the next idle moment: a tab being laid out resizes
                # the canvas in a few passes, each of which asked for a full draw.
                def idle_draw():
                    try:
                        self.draw()
                    finally:
                        self._idle_draw_id = None

                self._idle_draw_id = widget.after(DRAW_IDLE_MS, idle_draw)

        _ShownOnlyCanvas = ShownOnlyCanvas
    return _ShownOnlyCanvas


_ShownOnlyCanvas = None
DRAW_IDLE_MS = 40  # an embedded figure's idle redraw waits this long for more requests


def draw_class_histograms(figure, X: np.ndarray, y: np.ndarray | None, titles, text_scale: float = 1.0) -> None:
    """Per-feature bar charts of the scores 1..10, benign and malignant side by side.

    Safe in a worker thread on a figure of its own (no Tk, no global matplotlib
    settings changed: the font sizes are given to each text).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        Cleared and filled with a 3x3 grid.
    X : ndarray (n, 9)
        Only read.
    y : ndarray (n,) of 0/1, or None (then all rows are drawn as one grey group)
    titles : sequence of 9 str
    text_scale : float
        The View menu's text size (1.0 = matplotlib's 10 pt); display scaling comes
        with the figure's dpi.
    """
    from matplotlib.ticker import MaxNLocator

    size = 10.0 * text_scale
    small, x_small = size / 1.2, size / 1.44  # matplotlib's "small" and "x-small"
    figure.clear()
    if y is None:
        groups = [("all rows", "0.45", "none", np.ones(len(X), bool))]
    else:
        groups = [(f"{CLASS_NAMES[c]} (n={int((y == c).sum())})", CLASS_COLORS[c], EDGES[c], y == c)
                  for c in (0, 1)]
    columns = np.clip(np.rint(X).astype(int), 0, 10) if len(X) else np.zeros((0, 9), int)
    counts = [[np.bincount(columns[rows, j], minlength=11)[1:11] for _label, _c, _e, rows in groups]
              for j in range(9)]
    highest = max((int(c.max()) for per_feature in counts for c in per_feature), default=0)
    layout = _grid_layout(figure, digits=len(str(int(highest * 1.05) + 1)), tick_size=small,
                          title_size=small, label_size=x_small, legend_size=small)
    axes = figure.subplots(3, 3, sharex=True, gridspec_kw=layout)
    # A title wider than its axes and half the gaps beside it, or a legend wider than the
    # figure (large text in a small window), is set smaller rather than run into its neighbour.
    fig_w = figure.bbox.width
    axes_w = fig_w * (layout["right"] - layout["left"]) / (3 + 2 * layout["wspace"])
    rooms = [axes_w + min(0.8 * axes_w * layout["wspace"], 2 * fig_w * (1 - layout["right"]) if j % 3 == 2 else np.inf)
             for j in range(9)]  # a title may reach into the gaps beside its axes, the last column's into the margin
    title_size = small * min(1.0, *(room / text_width(figure, t, small) for room, t in zip(rooms, titles)))
    legend_text = sum(text_width(figure, label, small) for label, *_rest in groups)
    legend_w = legend_text + small * figure.dpi / 72 * (2.8 * len(groups) + 2.0 * (len(groups) - 1) + 1.0)
    legend_size = small * min(1.0, 0.98 * figure.bbox.width / legend_w)
    scores = np.arange(1, 11)
    width = 0.8 / len(groups)
    for j, ax in enumerate(axes.flat):
        for g, (label, colour, edge, _rows) in enumerate(groups):
            centres = scores + (g - (len(groups) - 1) / 2) * width
            # Ten bars as one step patch with zero-height gaps: one artist instead of ten.
            edges = np.column_stack([centres - width / 2, centres + width / 2]).ravel()
            values = np.column_stack([counts[j][g], np.zeros(10)]).ravel()[:-1]
            ax.stairs(values, edges, fill=True, facecolor=colour, edgecolor=edge, linewidth=0.6, label=label)
        ax.set_title(titles[j], fontsize=title_size, pad=3)
        ax.set_xticks([1, 5, 10])
        # counts are whole: as the default locator, but never a tick at 0.5 (a file of a few rows)
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))
        ax.tick_params(labelsize=small)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("score", fontsize=x_small)
    for ax in axes[:, 0]:
        ax.set_ylabel("rows", fontsize=x_small)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncols=len(groups),
                  fontsize=legend_size, frameon=False, borderaxespad=0.3)


def text_width(figure, text: str, points: float) -> float:
    """Pixels ``text`` takes at ``points`` on ``figure``'s renderer (for a figure of the
    calling thread's own)."""
    from matplotlib.font_manager import FontProperties

    return figure.canvas.get_renderer().get_text_width_height_descent(text, FontProperties(size=points), False)[0]


def _grid_layout(figure, *, digits: int, tick_size: float, title_size: float, label_size: float,
                 legend_size: float) -> dict:
    """Margins and gaps of a 3x3 grid with a legend above it (``gridspec_kw``), made
    from the sizes of its texts at this figure's size and dpi, so no tick label, axis
    label or title is cut or overlaps its neighbour at any text size; ``digits`` is the
    widest y tick label. A fixed layout, as cheap as fixed fractions (no layout engine)."""
    from matplotlib.font_manager import FontProperties

    renderer = figure.canvas.get_renderer()

    def extent(text: str, points: float) -> tuple[float, float]:
        width, height, _descent = renderer.get_text_width_height_descent(text, FontProperties(size=points), False)
        return width, height

    px = figure.dpi / 72  # pixels per point
    width, height = figure.bbox.width, figure.bbox.height
    # heights of a line of text as matplotlib lays it out (ascent and descent: "lp")
    tick_w, tick_h = extent("0" * digits, tick_size)[0], extent("lp", tick_size)[1]
    title_h = extent("lp", title_size)[1]
    label_h = extent("lp", label_size)[1]
    ticks = (3.5 + 3.5) * px  # tick length and label pad, matplotlib's defaults
    left = tick_w + ticks + 4 * px + label_h + 3 * px
    bottom = tick_h + ticks + 4 * px + label_h + 3 * px
    right = extent("10", tick_size)[0] / 2 + 3 * px
    top = (1 + 2 * 0.3 + 2 * 0.4) * legend_size * px + title_h + 3 * px + 2 * px  # legend, title, its pad
    gap_w = tick_w + ticks + 6 * px
    gap_h = title_h + 3 * px + 6 * px
    axes_w = max(1.0, (width - left - right - 2 * gap_w) / 3)
    axes_h = max(1.0, (height - top - bottom - 2 * gap_h) / 3)
    return dict(left=min(0.4, left / width), right=max(0.6, 1 - right / width),
                bottom=min(0.4, bottom / height), top=max(0.6, 1 - top / height),
                wspace=gap_w / axes_w, hspace=gap_h / axes_h)


class LossPlot:
    """Training and validation loss against iteration, updated in place while training.

    Keeps the two ``Line2D`` objects and changes their data (``set_data``). While a run
    is going the lines are "animated": the axes, ticks and labels (most of the drawing
    time, mostly text) are drawn once and kept as a background image, and each update
    only puts the background back, draws the two lines and blits the axes. A full
    redraw happens only when the axis limits change. Updates are throttled by
    :meth:`EmbeddedFigure.draw_throttled`. At the end of a run the lines become
    ordinary artists again, so saving the figure from the toolbar includes them.

    The margins are worked out from the sizes of the tick labels and axis labels, at
    this size of the figure and of the text, whenever one of them changes (a resize, the
    View menu's text size, the log axis, new limits), never by a layout engine at every
    draw: fixed fractions cut "iteration" off a short figure or at large text.
    """

    def __init__(self, embedded: EmbeddedFigure):
        self.embedded = embedded
        # Margins set by _fit_margins rather than a layout engine: this figure is
        # redrawn while training, and every millisecond of drawing is taken from the
        # window and from the training thread.
        self.ax = embedded.figure.add_subplot()
        (self.train_line,) = self.ax.plot([], [], color=TRAIN_LINE, linewidth=1.8, label="training loss")
        (self.val_line,) = self.ax.plot([], [], color=VALIDATION_LINE, linewidth=1.8, linestyle="--",
                                        label="validation loss")
        self.ax.set_xlabel("iteration")
        self.ax.set_ylabel("cross-entropy loss")
        self.ax.grid(True, color="0.9")
        self.ax.legend(loc="upper right", frameon=False)
        self.ax.spines[["top", "right"]].set_visible(False)
        # Limits of its own before the first run (autoscaling empty lines gives -0.06..0.06),
        # known now, so the margins are made for the tick labels that will be drawn.
        self.ax.set_xlim(0.0, 1.0)
        self.ax.set_ylim(0.0, 1.0)
        self.iterations = 1
        self._x: list[float] = []
        self._train: list[float] = []
        self._val: list[float] = []
        self._log = False
        self._top = 0.0
        self._bottom = np.inf
        self._background = None
        self.full_draws = 0
        self._text_size = 10.0
        embedded.canvas.mpl_connect("draw_event", self._on_full_draw)
        self._margins_for = None  # what the margins were fitted to
        embedded.canvas._bc_before_draw = self._fit_margins  # at every full draw, only if something changed

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
        size = self._text_size = 10.0 * factor
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

    def _fit_margins(self) -> None:
        """Leave room around the axes for the tick labels the current limits give, the
        axis labels and half of the last x tick label, at the current text size (called
        before each full draw; does nothing unless the size, text or limits changed)."""
        figure = self.embedded.figure
        width, height = figure.bbox.width, figure.bbox.height
        key = (width, height, figure.dpi, self._text_size, self._log, self.ax.get_xlim(), self.ax.get_ylim())
        if width < 10 or height < 10 or key == self._margins_for:
            return
        self._margins_for = key
        size = self._text_size

        def extent(text: str) -> tuple[float, float]:
            return _text_extent(figure, text, size)

        def labels(axis) -> list[str]:
            low, high = sorted(axis.get_view_interval())
            locs = [v for v in axis.get_major_locator()() if low - 1e-12 <= v <= high + 1e-12]
            return [t for t in axis.get_major_formatter().format_ticks(locs) if t] or ["0"]

        px = figure.dpi / 72
        line = extent("lp")[1]  # a line of text as matplotlib lays it out
        ticks = (3.5 + 3.5) * px  # tick length and label pad, matplotlib's defaults
        y_ticks = max(extent(t)[0] for t in labels(self.ax.yaxis) + ["0.00"])
        x_last = extent(labels(self.ax.xaxis)[-1])[0]
        left = y_ticks + ticks + 4 * px + line + 4 * px
        bottom = line + ticks + 4 * px + line + 4 * px
        right = max(x_last / 2, 2 * px) + 4 * px
        top = line / 2 + 4 * px  # the highest y tick label sits half above the axes
        figure.subplots_adjust(left=min(0.45, left / width), right=max(0.55, 1 - right / width),
                               bottom=min(0.45, bottom / height), top=max(0.55, 1 - top / height))

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
