"""The Threshold tab: choose where "malignant" begins, and see what it costs.

The metrics are computed on the model's held-out probabilities (validation rows or
out-of-fold predictions) with plain NumPy, so they follow the slider at once. The
pictures (ROC curve, probability distribution per class) are drawn in a worker thread
(:class:`~bcdesktop.gui.plots.OffscreenPicture`: their first full draw took 1.5-2.5 s
of the Tk thread) when the model, the text size or the window size changes; the two
things that follow the slider, the threshold line and the operating point on the ROC
curve, are Tk canvas items over the picture, placed through the drawn axes'
transforms, so moving them costs microseconds. The threshold is applied through
``app.set_threshold``, which the Patient and Batch tabs follow and which is saved with
the model.
"""

from __future__ import annotations

import math
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import TYPE_CHECKING

import numpy as np

from bcdesktop import metrics
from bcdesktop.errors import UserError
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import (
    CLASS_COLORS,
    ERROR_TEXT,
    MALIGNANT,
    METRICS_NOTE,
    TEXT_SCALE_EVENT,
    WARNING_MARK,
    ConfusionGrid,
    MetricsTable,
    chars_width,
    format_threshold,
    wrap_to_width,
)
from bcdesktop.metrics import format_percent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bcdesktop.gui.plots import OffscreenPicture

T_MIN, T_MAX = metrics.THRESHOLD_MIN, metrics.THRESHOLD_MAX
#: What "Find the threshold for ... >= X%" keeps at X: the sensitivity on the held-out
#: rows, or the lower end of its 95% interval (which stays honest on few cancers).
CRITERIA = ("sensitivity", "its lower 95% bound")


def parse_threshold(text: str) -> tuple[float | None, str | None]:
    """``(threshold, None)`` for a number in 0.01..0.99 (``"35%"`` means 0.35), else ``(None, message)``."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        return None, f"'{raw}' is not a number: enter a threshold from 0.01 to 0.99." if raw else \
            "Enter a threshold from 0.01 to 0.99."
    if not T_MIN <= value <= T_MAX:  # also refuses nan
        return None, f"{raw} is outside 0.01 to 0.99."
    return value, None


def draw_pictures(figure, y: np.ndarray | None, p: np.ndarray | None, roc: metrics.RocCurve | None,
                  pt: float) -> dict:
    """The tab's two pictures on ``figure``: the ROC curve (``roc``, None without held-out
    predictions) and the held-out probabilities by true class (log counts), without the
    moving threshold line and operating point (the tab draws those over the picture).
    Runs in a worker thread on a figure of its own: no Tk, only reads ``y``, ``p`` and
    ``roc``. ``pt`` is the window's text size in points; a figure too small for text
    that large (large text in a small window) gets smaller text, so the layout never
    collapses and no title is cut.
    Returns ``{"roc": axes, "hist": axes, "points": the text size used}``."""
    from bcdesktop.gui.plots import HATCHES, text_width

    fpr, tpr, auc = ((), (), math.nan) if roc is None else (roc.fpr, roc.tpr, roc.auc)
    titles = ("ROC curve" + ("" if math.isnan(auc) else f" (AUC {auc:.3f})"), "Probabilities by true class")
    px = figure.dpi / 72
    # the two titles side by side, and about ten characters' room for the tick and axis labels
    need = sum(text_width(figure, title, pt) for title in titles) + 10 * pt * px
    pt = max(6.0, min(pt, pt * 0.95 * figure.bbox.width / need, figure.bbox.height / px / 16))
    k = pt / 10.0  # line widths grow with the text
    figure.set_layout_engine("constrained")
    ax_roc, ax_hist = figure.subplots(1, 2, width_ratios=(1.3, 1))
    for ax in (ax_roc, ax_hist):
        ax.tick_params(labelsize=0.8 * pt)
    ax = ax_roc
    ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=k)
    ax.plot(fpr, tpr, color="black", linewidth=1.5 * k)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("1 \u2212 specificity", fontsize=0.9 * pt)
    ax.set_ylabel("Sensitivity", fontsize=0.9 * pt)
    ax.set_title(titles[0], fontsize=pt)

    ax = ax_hist
    if p is not None:
        from matplotlib.ticker import NullFormatter

        bins = np.linspace(0.0, 1.0, 21)
        for label, name in ((0, "Benign"), (1, "Malignant")):
            values = p[y == label]
            colour = CLASS_COLORS[label]
            ax.hist(values, bins=bins, histtype="stepfilled", facecolor=colour, alpha=0.35,
                    edgecolor=colour, hatch=HATCHES[label], linewidth=1.5 * k,
                    label=f"{name} (n={values.size})")
        # Most cases sit near 0 or 1; a log count axis keeps the few in between visible.
        ax.set_yscale("log")
        ax.set_ylim(0.7, None)
        ax.yaxis.set_major_formatter("{x:g}")
        ax.yaxis.set_minor_formatter(NullFormatter())  # no mathtext: its parser is shared between threads
        # Above the bars, where the moving threshold line never crosses it, in the room the
        # title's pad leaves (kept out of the layout, which would squeeze the axes at large text).
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=0.8 * pt, frameon=False,
                  borderaxespad=0.2).set_in_layout(False)
    else:
        for each in (ax, ax_roc):
            each.text(0.5, 0.5, "No held-out predictions", ha="center", va="center", fontsize=pt,
                      transform=each.transAxes)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Probability of malignancy", fontsize=0.9 * pt)
    ax.set_ylabel("Cases (log scale)" if p is not None else "Cases", fontsize=0.9 * pt)
    ax.set_title(titles[1], fontsize=pt,
                 pad=3.4 * pt if p is not None else 6.0)  # room for the legend below it
    return {"roc": ax_roc, "hist": ax_hist, "points": pt}


class ThresholdTab(ttk.Frame):
    """Threshold slider and entry, metrics, ROC and distribution plots.

    Widgets tests read: ``scale``, ``entry_var``, ``entry_message``, ``source_label``,
    ``confusion`` (widgets.ConfusionGrid), ``metrics_table`` (widgets.MetricsTable),
    ``target_var``, ``find_button``, ``find_label``;
    after :meth:`ensure_plots`: ``plot`` (plots.OffscreenPicture); once its first picture
    is shown: ``figure``, ``ax_roc``, ``ax_hist`` (the matplotlib objects drawn, only to
    be read) and ``threshold_line``, ``roc_point`` (item ids on ``plot.widget``).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self._syncing = False
        self._y = self._p = None
        self._roc: metrics.RocCurve | None = None
        self.plot: OffscreenPicture | None = None
        self.threshold_line = self.roc_point = None  # canvas items over the picture

        # The metrics take two fifths of the room beyond what they need, so their labels
        # wrap into fewer lines (the tab fits the window's height), the pictures the rest.
        self.columnconfigure(0, weight=2)
        self.columnconfigure(1, weight=3)
        self.rowconfigure(1, weight=1)
        self._build_controls().grid(row=0, column=0, columnspan=2, sticky="ew")
        self._build_metrics().grid(row=1, column=0, sticky="nsew", pady=(8, 0))
        self.plot_frame = ttk.LabelFrame(self, text="ROC curve and predicted probabilities", padding=4)
        self.plot_frame.grid(row=1, column=1, sticky="nsew", padx=(10, 0), pady=(8, 0))
        # Drawn when the tab is first shown (matplotlib, imported by the worker, is not needed
        # before), and again on showing it if the model or the size changed meanwhile.
        self.bind("<Map>", lambda _e: self.ensure_plots(), add="+")

        app.root.bind("<<ModelChanged>>", lambda _e: self._on_model_changed(), add="+")
        app.root.bind("<<ThresholdChanged>>", lambda _e: self._on_threshold_changed(), add="+")
        app.root.bind(TEXT_SCALE_EVENT, lambda _e: self._redraw_model(), add="+")
        self._on_model_changed()

    # ----------------------------------------------------------------- layout
    def _build_controls(self) -> ttk.Frame:
        box = ttk.LabelFrame(self, text="Malignancy threshold", padding=8)
        box.columnconfigure(1, weight=1)
        ttk.Label(box, text="Threshold").grid(row=0, column=0, sticky="w")
        self.scale = ttk.Scale(box, from_=T_MIN, to=T_MAX, orient="horizontal",
                               length=chars_width(self, 40), command=self._on_slide)
        self.scale.grid(row=0, column=1, sticky="ew", padx=8)
        for keys, step in ((("<Left>", "<Down>"), -0.01), (("<Right>", "<Up>"), 0.01),
                           (("<Prior>",), 0.1), (("<Next>",), -0.1)):
            for key in keys:
                self.scale.bind(key, lambda _e, s=step: self._nudge(s))
        self.entry_var = tk.StringVar(self, "")
        self.entry = ttk.Entry(box, textvariable=self.entry_var, width=7, justify="right")
        self.entry.grid(row=0, column=2, sticky="w")
        self.entry.bind("<Return>", lambda _e: self.apply_entry())
        self.entry.bind("<KP_Enter>", lambda _e: self.apply_entry())
        self.entry.bind("<FocusOut>", lambda _e: self.apply_entry())
        self.entry_message = ttk.Label(box, text="", style="Error.TLabel")
        self.entry_message.grid(row=0, column=3, sticky="w", padx=(8, 0))
        wrap_to_width(ttk.Label(box, text="Cases whose malignancy probability is at or above the threshold are "
                                          "called malignant. The threshold applies at once to the Patient and "
                                          "Batch tabs and is saved with the model.", style="Muted.TLabel")).grid(
            row=1, column=0, columnspan=4, sticky="ew", pady=(4, 8))

        find = ttk.Frame(box)
        find.grid(row=2, column=0, columnspan=4, sticky="w")
        ttk.Label(find, text="Find the threshold for").pack(side="left")
        self.criterion_var = tk.StringVar(self, CRITERIA[0])
        self.criterion = ttk.Combobox(find, textvariable=self.criterion_var, values=CRITERIA, state="readonly",
                                      width=max(map(len, CRITERIA)))
        self.criterion.pack(side="left", padx=4)
        self.criterion.bind("<<ComboboxSelected>>", lambda _e: self.find_for_sensitivity())
        ttk.Label(find, text="\u2265").pack(side="left")
        self.target_var = tk.StringVar(self, "95")
        self.target_entry = ttk.Entry(find, textvariable=self.target_var, width=5, justify="right")
        self.target_entry.pack(side="left", padx=4)
        self.target_entry.bind("<Return>", lambda _e: self.find_for_sensitivity())
        self.target_entry.bind("<KP_Enter>", lambda _e: self.find_for_sensitivity())
        ttk.Label(find, text="%").pack(side="left")
        self.find_button = ttk.Button(find, text="Find", command=self.find_for_sensitivity)
        self.find_button.pack(side="left", padx=(8, 0))
        self.find_label = ttk.Label(box, text="")
        self.find_label.grid(row=3, column=0, columnspan=4, sticky="ew", pady=(4, 0))
        wrap_to_width(self.find_label)
        # why a figure found this way flatters, and what to ask instead
        self.find_note = ttk.Label(box, text="", style="Small.TLabel")
        self.find_note.grid(row=4, column=0, columnspan=4, sticky="ew")
        wrap_to_width(self.find_note)
        wrap_to_width(ttk.Label(box, text="Picks the highest threshold that still calls at least X% of the "
                                          "malignant cases malignant: of all such thresholds it has the best "
                                          "specificity (fewest benign cases called malignant). Its lower 95% "
                                          "bound asks that X% hold even at the cautious end of the interval.",
                                style="Small.TLabel")).grid(row=5, column=0, columnspan=4, sticky="ew", pady=(2, 0))
        return box

    def _build_metrics(self) -> ttk.Frame:
        box = ttk.Frame(self)
        box.columnconfigure(0, weight=1)
        self.source_label = wrap_to_width(ttk.Label(box, text="", style="Bold.TLabel"))
        self.source_label.grid(row=0, column=0, sticky="ew")  # as wide as the metrics table
        self.confusion = ConfusionGrid(box, "Calls at this threshold")
        self.confusion.grid(row=1, column=0, sticky="w", pady=(6, 0))
        ttk.Label(box, text="95% Wilson confidence intervals", style="Muted.TLabel").grid(
            row=2, column=0, sticky="w", pady=(8, 2))
        self.metrics_table = MetricsTable(box)
        self.metrics_table.grid(row=3, column=0, sticky="w")  # its own width: the column's spare is for the labels
        wrap_to_width(ttk.Label(box, text=METRICS_NOTE, style="Small.TLabel")).grid(row=4, column=0, sticky="ew",
                                                                                   pady=(4, 0))
        return box

    def ensure_plots(self) -> None:
        """Make the picture (once) and ask for the current model's drawing; after that,
        draw whatever changed while the tab was hidden."""
        if self.plot is not None:
            self.plot.refresh()
            return
        from bcdesktop.gui.plots import OffscreenPicture

        # a modest size asked for: the picture takes the room the window gives it
        self.plot = OffscreenPicture(self.plot_frame, self.app.report_exception, size=(4.8, 2.8),
                                     name="draw-threshold-pictures")
        self.plot.on_shown = lambda _picture: self._place_moving()
        self._redraw_model()

    @property
    def figure(self) -> Figure | None:
        """The figure on screen (None before the first picture)."""
        return None if self.plot is None else self.plot.figure

    @property
    def ax_roc(self) -> Axes | None:
        return None if self.figure is None else self.plot.info["roc"]

    @property
    def ax_hist(self) -> Axes | None:
        return None if self.figure is None else self.plot.info["hist"]

    # ------------------------------------------------------------- the model
    def _on_model_changed(self) -> None:
        model = self.app.model
        p = getattr(model, "eval_probs", None)
        y = getattr(model, "eval_labels", None)
        if model is None or p is None or y is None or len(p) == 0:
            self._y = self._p = None
            self._roc = None
            self.source_label.configure(
                text=f"{WARNING_MARK} No model is loaded." if model is None else
                f"{WARNING_MARK} This model carries no held-out predictions, so its threshold cannot be "
                "evaluated here. Train a model with a validation split, or cross-validate, to see these figures.",
                foreground=ERROR_TEXT)
        else:
            self._y = np.asarray(y).astype(np.int8)
            self._p = np.asarray(p, dtype=np.float64)
            self._roc = metrics.roc_curve_auc(self._y, self._p)  # plain NumPy: no scikit-learn on the Tk thread
            kind = getattr(model, "eval_kind", "validation")
            what = (f"out-of-fold predictions (n={self._p.size})" if kind == "out-of-fold"
                    else f"validation rows (n={self._p.size})")
            self.source_label.configure(text=f"Evaluated on {what} of model {model.model_id}",
                                        foreground="")
        for state in (self.find_button, self.target_entry):
            state.state(["!disabled"] if self._p is not None else ["disabled"])
        self.criterion.state(["readonly", "!disabled"] if self._p is not None else ["disabled"])
        self._rows_word = ("out-of-fold predictions" if getattr(model, "eval_kind", None) == "out-of-fold"
                           else "validation rows")
        self.find_label.configure(text="")
        self.find_note.configure(text="")
        self._redraw_model()
        self._on_threshold_changed()

    def _redraw_model(self) -> None:
        """Ask for the pictures of the current held-out probabilities (drawn in the background)."""
        if self.plot is None:
            return
        y, p, roc, pt = self._y, self._p, self._roc, self._text_points()
        self.plot.request(lambda figure: draw_pictures(figure, y, p, roc, pt), note="Drawing\u2026")

    def _text_points(self) -> float:
        """The window's text size in points, so the pictures' text follows the View menu's size."""
        size = tkfont.nametofont("TkDefaultFont", root=self).actual("size")
        return float(size) if size > 0 else -size * 72.0 / self.winfo_fpixels("1i")

    # ------------------------------------------------------------ the threshold
    def _on_slide(self, value: str) -> None:
        if self._syncing:
            return
        self._apply(round(float(value), 2))

    def _nudge(self, step: float) -> str:
        self._apply(min(T_MAX, max(T_MIN, round(self.app.threshold + step, 2))))
        return "break"

    def apply_entry(self) -> None:
        """Apply the exact value typed in the entry, or show why it cannot be used."""
        value, message = parse_threshold(self.entry_var.get())
        if message:
            self.entry_message.configure(text=f"{WARNING_MARK} {message}")
            return
        self.entry_message.configure(text="")
        self._apply(value)

    def _apply(self, t: float) -> None:
        if abs(t - self.app.threshold) > 1e-12:
            self.app.set_threshold(t)  # -> <<ThresholdChanged>> -> _on_threshold_changed
        else:
            self._on_threshold_changed()

    def _on_threshold_changed(self) -> None:
        t = self.app.threshold
        self._syncing = True
        try:
            self.scale.set(t)
        finally:
            self._syncing = False
        if self.focus_get() is not self.entry or not self.entry_message.cget("text"):
            self.entry_var.set(format_threshold(t))
            self.entry_message.configure(text="")
        m = None if self._p is None else metrics.metrics_at(self._y, self._p, t)
        self.metrics_table.show(m)
        if m is None:
            self.confusion.show(None, None, None, None)
        else:
            self.confusion.show(m.tp, m.fp, m.tn, m.fn)
        self._place_moving(m)

    def _place_moving(self, m: metrics.ThresholdMetrics | None | bool = True) -> None:
        """Put the threshold line and the operating point where the picture on screen has
        the current threshold (``m``: its metrics, computed here if not given)."""
        plot = self.plot
        if plot is None or plot.figure is None:
            return
        t = self.app.threshold
        if m is True:
            m = None if self._p is None else metrics.metrics_at(self._y, self._p, t)
        canvas = plot.widget
        scale = plot.figure.dpi / 72 * plot.info["points"] / 10.0  # points to pixels, grown with the text
        if self.threshold_line is None:
            self.threshold_line = canvas.create_line(0, 0, 0, 0, fill="black")
            self.roc_point = canvas.create_oval(0, 0, 0, 0, fill=MALIGNANT, outline="black")
        width = max(1, round(1.5 * scale))
        x, top = plot.to_pixels(self.ax_hist.get_xaxis_transform(), (t, 1.0))
        _x, bottom = plot.to_pixels(self.ax_hist.get_xaxis_transform(), (t, 0.0))
        canvas.coords(self.threshold_line, x, top, x, bottom)
        canvas.itemconfigure(self.threshold_line, width=width, dash=(round(3.7 * width), round(1.6 * width)))
        point = None if m is None else (1.0 - m.specificity.value, m.sensitivity.value)
        if point is None or not all(math.isfinite(v) for v in point):  # one class only: no point
            canvas.itemconfigure(self.roc_point, state="hidden")
        else:
            cx, cy = plot.to_pixels(self.ax_roc.transData, point)
            r = 4.5 * scale
            canvas.coords(self.roc_point, cx - r, cy - r, cx + r, cy + r)
            canvas.itemconfigure(self.roc_point, state="normal", width=max(1, round(plot.figure.dpi / 72)))

    def roc_point_xy(self) -> tuple[float, float] | None:
        """Where the operating point is drawn, in ROC coordinates (1 - specificity,
        sensitivity), read back from the canvas; None when it is not shown."""
        if self.roc_point is None or self.plot.widget.itemcget(self.roc_point, "state") == "hidden":
            return None
        x0, y0, x1, y1 = self.plot.widget.coords(self.roc_point)
        height = self.figure.bbox.height
        return tuple(self.ax_roc.transData.inverted().transform(((x0 + x1) / 2, height - (y0 + y1) / 2)))

    def threshold_line_x(self) -> float | None:
        """Where the threshold line is drawn, on the probability axis, read back from the canvas."""
        if self.threshold_line is None:
            return None
        x0, _y0, x1, _y1 = self.plot.widget.coords(self.threshold_line)
        return float(self.ax_hist.transData.inverted().transform((x0, 0))[0])

    def find_for_sensitivity(self) -> None:
        """Apply the highest threshold whose held-out sensitivity (or its lower 95% bound,
        as the criterion says) is at least the target, and say how optimistic it is."""
        if self._p is None:
            return
        raw = self.target_var.get().strip().rstrip("%")
        try:
            target = float(raw)
        except ValueError:
            target = math.nan
        if not (0 < target <= 100):
            self.find_label.configure(text=f"{WARNING_MARK} Enter a sensitivity above 0 and at most 100 (%).",
                                      foreground=ERROR_TEXT)
            return
        bound = self.criterion_var.get() == CRITERIA[1]
        n_pos = int(np.count_nonzero(self._y == 1))
        rows = f"{n_pos} malignant {self._rows_word}"
        try:
            if bound:
                if target >= 100:
                    raise UserError("A lower bound of 100% cannot be shown on any number of cases; "
                                    "ask for less, e.g. 95%.")
                best, _ = metrics.threshold_for_sensitivity_bound(self._y, self._p, target / 100)
                if best is None:
                    low = metrics.wilson_interval(n_pos, n_pos)[0]
                    raise UserError(
                        f"No threshold keeps the lower 95% bound at {target:g}%: even finding all {rows} "
                        f"gives a lower bound of {format_percent(low)}. Showing {target:g}% takes at least "
                        f"{metrics.malignant_cases_needed(target / 100):,} malignant cases.")
            else:
                best = metrics.threshold_for_sensitivity(self._y, self._p, target / 100)
        except UserError as exc:
            self.find_label.configure(text=f"{WARNING_MARK} {exc}", foreground=ERROR_TEXT)
            self.find_note.configure(text="")
            return
        # Round down (a lower threshold never loses sensitivity) and keep to the slider's range.
        t = min(T_MAX, max(T_MIN, math.floor(best * 10_000) / 10_000))
        m = metrics.metrics_at(self._y, self._p, t)
        sens = m.sensitivity
        reached = (sens.low if bound else sens.value) * 100 >= target - 1e-9
        met = "meets" if reached else "cannot reach"
        spec = format_percent(m.specificity.value) if m.specificity.defined else "n/a (no benign cases)"
        if bound:
            shown = (f"lower 95% bound {format_percent(sens.low)} ({met} {target:g}%), "
                     f"sensitivity {format_percent(sens.value)}")
        else:
            shown = f"sensitivity {format_percent(sens.value)} ({met} {target:g}%)"
        self.find_label.configure(text=f"Threshold {format_threshold(t)}: {shown}, specificity {spec}.",
                                  foreground="")
        self.find_note.configure(
            text=f"Optimistic: this threshold was chosen on the same {rows} it is judged on, so on new "
                 f"cases its sensitivity is likely lower; the 95% interval is {format_percent(sens.low)} to "
                 f"{format_percent(sens.high)}."
                 + ("" if bound else f" To be safer, find the threshold for its lower 95% bound \u2265 {target:g}%."))
        self._apply(t)
