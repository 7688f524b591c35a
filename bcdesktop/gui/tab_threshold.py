"""The Threshold tab: choose where "malignant" begins, and see what it costs.

The figures are computed on the model's evidence (:class:`threshold_views.Evidence`):
its out-of-fold predictions (every row of its training data, each repeat of its
cross-validation) when it has them, else, or by choice, its validation split. They are
plain NumPy on arrays sorted when the evidence changes, so they follow the slider at
once: counts, rates with intervals, F1, MCC, kappa, PPV and NPV at a prevalence the
user sets, expected counts and cost per 1,000 patients. The threshold rules
(:func:`bcdesktop.decision.choose_threshold`) each say which rows they chose on; a
confusion cell lists its cases, and a case opens in the Patient tab. The
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
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

import numpy as np

from bcdesktop import decision, metrics
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.gui import threshold_views as views
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import (
    CLASS_COLORS,
    ERROR_TEXT,
    MALIGNANT,
    METRICS_NOTE,
    TEXT_SCALE_EVENT,
    WARNING_MARK,
    ConfusionGrid,
    Reflow,
    ScrolledTree,
    chars_width,
    format_threshold,
    size_factor,
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
#: Where the cost ratio starts: one missed cancer costs as much as 10 false alarms (a
#: starting point the tab says is not a recommendation).
DEFAULT_RATIO = 10.0
EXTRA_ROWS = ("F1 score", "Matthews correlation (MCC)", "Cohen's kappa", "Log loss (every threshold)")
EXTRA_NOTE = ("F1: the balance of sensitivity and PPV. MCC and kappa: agreement beyond chance (0 none, 1 "
              "perfect). Log loss: how well the probabilities fit the classes, lower is better, the same at "
              "every threshold.")
RULES_NOTE = ("Sensitivity: the highest threshold that still calls at least X% of the malignant cases "
              "malignant (of all such thresholds it has the best specificity); its lower 95% bound asks that "
              "X% hold even at the cautious end of the interval. Specificity: the lowest threshold that calls "
              "at least X% of the benign cases benign. Youden's J: the largest sensitivity + specificity - 1. "
              "Lowest expected cost: at the prevalence and costs set on their pages. Every rule "
              "chooses on the evidence named above the tabs, and says so.")
NO_CASES = ("Click a cell of the confusion matrix on the Calls and figures page (or press Enter on it) to list "
            "its cases here.")
MATRIX_NAMES = {"c_tp": "a cancer found", "c_fp": "a false alarm", "c_fn": "a missed cancer",
                "c_tn": "a correct all-clear"}
PREVALENCE_NOTE = ("Sensitivity and specificity come from the evidence; PPV and NPV follow from them at the "
                   "prevalence you set (their intervals take both rates' 95% bounds together, so they are a little "
                   "wide). Per 1,000 patients: how many would be called each way, on average.")
COST_PICTURE_NOTE = (f"Solid line {views.BEST_MARK}: the lowest expected cost on the evidence. Dotted line "
                     f"{views.THEORY_MARK}: the optimum for a calibrated model (1/(1+R) at the data's prevalence). Grey: the range over the "
                     "repeats. Dashed: the threshold now.")
CASES_DELAY_MS = 150
LEFT_CHARS, COST_CHARS = 70, 62  # the wrap widths beside the pictures, in characters  # the case list follows the threshold once the slider rests this long


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
                  pt: float, xlabel: str = "Probability of malignancy") -> dict:
    """The tab's two pictures on ``figure``: the ROC curve (``roc``, None without held-out
    predictions) and the held-out probabilities by true class (log counts), without the
    moving threshold line and operating point (the tab draws those over the picture).
    Runs in a worker thread on a figure of its own: no Tk, only reads ``y``, ``p`` and
    ``roc``. ``xlabel`` names the probabilities (e.g. their mean over repeats). ``pt``
    is the window's text size in points; a figure too small for text that large (large
    text in a small window) gets smaller text, so the layout never collapses and no
    title is cut.
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
    ax.set_xlabel(xlabel, fontsize=0.9 * pt)
    ax.set_ylabel("Cases (log scale)" if p is not None else "Cases", fontsize=0.9 * pt)
    ax.set_title(titles[1], fontsize=pt,
                 pad=3.4 * pt if p is not None else 6.0)  # room for the legend below it
    return {"roc": ax_roc, "hist": ax_hist, "points": pt}


class ThresholdTab(ttk.Frame):
    """Threshold slider and entry, the evidence, metrics, pictures, prevalence, costs,
    threshold rules and the cases behind each count.

    Above an inner notebook: the slider and entry, the evidence choice (out-of-fold by
    default when the model has it) with its label, and "Compute out-of-fold evidence"
    when it has none. Its pages: Calls and figures, Choose a threshold, Prevalence,
    Costs, Cases (only the page shown asks for room).

    Widgets tests read: ``scale``, ``entry_var``, ``entry_message``, ``source_label``,
    ``evidence_var`` (``"out-of-fold"`` / ``"validation"``), ``evidence_radios``,
    ``compute_button``, ``evidence_state_label``, ``views`` (the inner notebook) and
    ``pages["calls"|"rules"|"prevalence"|"costs"|"cases"]``; ``confusion``
    (threshold_views.CaseGrid), ``metrics_table`` (threshold_views.EvidenceMetricsTable),
    ``extra_table``, ``counts_note``, ``marks_label``;
    ``target_var``, ``criterion``, ``find_button``, ``spec_var``, ``spec_button``,
    ``youden_button``, ``cost_button``, ``find_label``, ``find_note``;
    ``prevalence_var``, ``prevalence_entry``, ``prevalence_button``,
    ``own_prevalence_button``, ``prevalence_message``, ``prevalence_table``, ``per_1000``
    (widgets.ConfusionGrid); ``ratio_var``, ``ratio_entry``, ``ratio_button``,
    ``matrix_var``, ``matrix_vars`` (``"c_tp"`` ...), ``matrix_button``, ``cost_message``,
    ``cost_label``, ``best_label``, ``best_button``; ``cases_title``, ``cases_why``,
    ``case_table`` (threshold_views.CaseTable), ``open_button``; ``evidence``
    (threshold_views.Evidence or None), ``costs``, ``cost_curve``, :meth:`prevalence`;
    after :meth:`ensure_plots`: ``plot`` (plots.OffscreenPicture); once its first picture
    is shown: ``figure``, ``ax_roc``, ``ax_hist`` (the matplotlib objects drawn, only to
    be read), ``threshold_line``, ``roc_point`` (item ids on ``plot.widget``) and
    :meth:`mark_x`; ``cost_plot`` once the Costs page was shown (``info["ax"]``).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self._syncing = False
        self.evidence: views.Evidence | None = None
        self._oof: views.Evidence | None = None
        self._held_out: views.Evidence | None = None
        self._rows = views.CaseRows(None, None, None)
        self._roc: metrics.RocCurve | None = None
        self._prevalence_user: float | None = None  # None: the evidence's own
        self.costs = decision.Costs.from_ratio(DEFAULT_RATIO)
        self.cost_curve: decision.CostCurve | None = None
        self._cost_problem = ""
        self._cost_generation = 0
        self._cost_now = math.nan
        self._at_prevalence = None
        self._evidence_job = None
        self._val_rows: dict = {}  # (model id, data sha256) -> the validation rows' indices, or None
        self._val_jobs: dict = {}
        self._cases_cell: str | None = None  # the cell whose cases are listed
        self._cases_pending = None
        self.plot: OffscreenPicture | None = None
        self.cost_plot: OffscreenPicture | None = None
        self.threshold_line = self.roc_point = None  # canvas items over the picture
        self._marks: dict[str, int] = {}
        self._cost_items: dict[str, int] = {}

        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self._build_controls().grid(row=0, column=0, sticky="ew")
        self.views = ttk.Notebook(self)
        self.views.grid(row=1, column=0, sticky="nsew", pady=(8, 0))
        self.pages: dict[str, ttk.Frame] = {}
        for key, title, build in (("calls", "Calls and figures", self._build_calls),
                                  ("rules", "Choose a threshold", self._build_rules),
                                  ("prevalence", "Prevalence", self._build_prevalence),
                                  ("costs", "Costs", self._build_costs),
                                  ("cases", "Cases", self._build_cases)):
            page = ttk.Frame(self.views, padding=8)
            self.views.add(page, text=title)
            self.pages[key] = page
            build(page)
        # Only the page shown asks for room: a page not shown keeps its wrapped labels at
        # their narrowest (they learn their width when shown), which would ask for a tall tab.
        self.views.bind("<<NotebookTabChanged>>", lambda _e: self._on_view_changed(), add="+")
        self._on_view_changed()
        # Drawn when the tab is first shown (matplotlib, imported by the worker, is not needed
        # before), and again on showing it if the model or the size changed meanwhile.
        self.bind("<Map>", lambda _e: self.ensure_plots(), add="+")
        self.pages["costs"].bind("<Map>", lambda _e: self.ensure_cost_plot(), add="+")

        app.root.bind("<<ModelChanged>>", lambda _e: self._on_model_changed(), add="+")
        app.root.bind("<<DataChanged>>", lambda _e: self._on_data_changed(), add="+")
        app.root.bind("<<ThresholdChanged>>", lambda _e: self._on_threshold_changed(), add="+")
        app.root.bind("<<EvidenceChanged>>", lambda _e: self._show_evidence_state(), add="+")
        app.root.bind(TEXT_SCALE_EVENT, lambda _e: (self._size_pictures(), self._redraw_all()), add="+")
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
            row=1, column=0, columnspan=4, sticky="ew", pady=(4, 6))

        choice = ttk.Frame(box)
        choice.grid(row=2, column=0, columnspan=4, sticky="w")
        ttk.Label(choice, text="Judge it on").pack(side="left")
        self.evidence_var = tk.StringVar(self, "out-of-fold")
        self.evidence_radios = {}
        for value, text in (("out-of-fold", "Out-of-fold (cross-validation)"), ("validation", "Validation split")):
            radio = ttk.Radiobutton(choice, text=text, value=value, variable=self.evidence_var,
                                    command=self._use_evidence)
            radio.pack(side="left", padx=(8, 0))
            self.evidence_radios[value] = radio
        self.compute_button = ttk.Button(choice, text="Compute out-of-fold evidence", width=-8,
                                         command=self.compute_evidence)
        self.compute_button.pack(side="left", padx=(12, 0))
        self.source_label = wrap_to_width(ttk.Label(box, text="", style="Bold.TLabel"))
        self.source_label.grid(row=3, column=0, columnspan=4, sticky="ew", pady=(4, 0))
        self.evidence_state_label = wrap_to_width(ttk.Label(box, text="", style="Muted.TLabel"))
        self.evidence_state_label.grid(row=4, column=0, columnspan=4, sticky="ew")
        self.evidence_state_label.grid_remove()  # shown while there is something to say
        return box

    def _build_calls(self, page: ttk.Frame) -> None:
        left = ttk.Frame(page)
        left.columnconfigure(1, weight=1)
        self.confusion = views.CaseGrid(left, "Calls at this threshold", self.show_cases)
        self.confusion.grid(row=0, column=0, sticky="nw")
        self.extra_table = ScrolledTree(left, (("figure", "More figures", 200, "w"), ("value", "Value", 64, "e")),
                                        height=len(EXTRA_ROWS), stretch=0, scrollbars=False)
        self.extra_table.grid(row=0, column=1, sticky="nw", padx=(12, 0), pady=(4, 0))
        self.counts_note = self._fixed_wrap(ttk.Label(left, text="", style="Small.TLabel"), LEFT_CHARS)
        self.counts_note.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(2, 0))
        self.interval_label = self._fixed_wrap(ttk.Label(left, text="95% Wilson confidence intervals",
                                                         style="Muted.TLabel"), LEFT_CHARS)
        self.interval_label.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(6, 2))
        self.metrics_table = views.EvidenceMetricsTable(left)
        self.metrics_table.grid(row=3, column=0, columnspan=2, sticky="w")
        self._fixed_wrap(ttk.Label(left, text=METRICS_NOTE + " " + EXTRA_NOTE, style="Small.TLabel"),
                         LEFT_CHARS).grid(row=4, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        self.marks_label = self._fixed_wrap(ttk.Label(left, text="", style="Small.TLabel"), LEFT_CHARS)
        self.marks_label.grid(row=5, column=0, columnspan=2, sticky="ew", pady=(4, 0))

        self.plot_frame = ttk.LabelFrame(page, text="ROC curve and predicted probabilities", padding=4)
        page.rowconfigure(0, weight=1)
        self.calls_reflow = Reflow(page, left, self.plot_frame, weights=(2, 3))

    def _build_rules(self, page: ttk.Frame) -> None:
        page.columnconfigure(0, weight=1)
        find = ttk.Frame(page)
        find.grid(row=0, column=0, sticky="w")
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
        self.find_button = ttk.Button(find, text="Find", width=-8, command=self.find_for_sensitivity)
        self.find_button.pack(side="left", padx=(8, 0))

        spec = ttk.Frame(page)
        spec.grid(row=1, column=0, sticky="w", pady=(6, 0))
        ttk.Label(spec, text="Find the threshold for specificity \u2265").pack(side="left")
        self.spec_var = tk.StringVar(self, "95")
        self.spec_entry = ttk.Entry(spec, textvariable=self.spec_var, width=5, justify="right")
        self.spec_entry.pack(side="left", padx=4)
        for seq in ("<Return>", "<KP_Enter>"):
            self.spec_entry.bind(seq, lambda _e: self.find_for_specificity())
        ttk.Label(spec, text="%").pack(side="left")
        self.spec_button = ttk.Button(spec, text="Find", width=-8, command=self.find_for_specificity)
        self.spec_button.pack(side="left", padx=(8, 0))

        other = ttk.Frame(page)
        other.grid(row=2, column=0, sticky="w", pady=(6, 0))
        self.youden_button = ttk.Button(other, text="Best Youden's J", width=-8, command=self.choose_youden)
        self.youden_button.pack(side="left")
        self.cost_button = ttk.Button(other, text="Lowest expected cost", width=-8, command=self.choose_min_cost)
        self.cost_button.pack(side="left", padx=(8, 0))
        self.cost_rule_label = ttk.Label(other, text="", style="Muted.TLabel")
        self.cost_rule_label.pack(side="left", padx=(8, 0))

        self.find_label = ttk.Label(page, text="")
        self.find_label.grid(row=3, column=0, sticky="ew", pady=(8, 0))
        wrap_to_width(self.find_label)
        # why a figure found this way flatters, and what to ask instead
        self.find_note = ttk.Label(page, text="", style="Small.TLabel")
        self.find_note.grid(row=4, column=0, sticky="ew")
        wrap_to_width(self.find_note)
        wrap_to_width(ttk.Label(page, text=RULES_NOTE, style="Small.TLabel")).grid(row=5, column=0, sticky="ew",
                                                                                 pady=(6, 0))

    def _build_prevalence(self, page: ttk.Frame) -> None:
        page.columnconfigure(0, weight=1)
        row = ttk.Frame(page)
        row.grid(row=0, column=0, sticky="w")
        ttk.Label(row, text="Prevalence of malignancy where the model is used").pack(side="left")
        self.prevalence_var = tk.StringVar(self, "")
        self.prevalence_entry = ttk.Entry(row, textvariable=self.prevalence_var, width=6, justify="right")
        self.prevalence_entry.pack(side="left", padx=4)
        for seq in ("<Return>", "<KP_Enter>"):
            self.prevalence_entry.bind(seq, lambda _e: self.apply_prevalence())
        ttk.Label(row, text="%").pack(side="left")
        self.prevalence_button = ttk.Button(row, text="Apply", width=-8, command=self.apply_prevalence)
        self.prevalence_button.pack(side="left", padx=(8, 0))
        self.own_prevalence_button = ttk.Button(row, text="The evidence's own", width=-8,
                                                command=self.reset_prevalence)
        self.own_prevalence_button.pack(side="left", padx=(4, 0))
        self.prevalence_message = wrap_to_width(ttk.Label(page, text="", style="Small.TLabel"))
        self.prevalence_message.grid(row=1, column=0, sticky="ew", pady=(2, 6))
        both = ttk.Frame(page)
        both.grid(row=2, column=0, sticky="w")
        self.prevalence_table = ScrolledTree(both, (("figure", "At this prevalence", 170, "w"),
                                                    ("value", "Value", 64, "e"), ("ci", "95% CI", 104, "e")),
                                             height=2, stretch=0, scrollbars=False)
        self.prevalence_table.grid(row=0, column=0, sticky="nw")
        self.per_1000 = ConfusionGrid(both, "Expected per 1,000 patients")
        self.per_1000.grid(row=0, column=1, sticky="nw", padx=(16, 0))
        wrap_to_width(ttk.Label(page, text=PREVALENCE_NOTE, style="Small.TLabel")).grid(
            row=3, column=0, sticky="ew", pady=(6, 0))

    def _build_costs(self, page: ttk.Frame) -> None:
        cost = ttk.Frame(page)
        cost.columnconfigure(0, weight=1)
        row = ttk.Frame(cost)
        row.grid(row=0, column=0, sticky="w")
        ttk.Label(row, text="One missed cancer costs as much as").pack(side="left")
        self.ratio_var = tk.StringVar(self, f"{DEFAULT_RATIO:g}")
        self.ratio_entry = ttk.Entry(row, textvariable=self.ratio_var, width=6, justify="right")
        self.ratio_entry.pack(side="left", padx=4)
        for seq in ("<Return>", "<KP_Enter>"):
            self.ratio_entry.bind(seq, lambda _e: self.apply_costs())
        ttk.Label(row, text="false alarms").pack(side="left")
        self.ratio_button = ttk.Button(row, text="Apply", width=-8, command=self.apply_costs)
        self.ratio_button.pack(side="left", padx=(8, 0))
        self.matrix_var = tk.BooleanVar(self, False)
        self.matrix_check = ttk.Checkbutton(cost, text="Use a 2\u00d72 cost matrix instead (as in Weka)",
                                            variable=self.matrix_var, command=self._toggle_matrix)
        self.matrix_check.grid(row=1, column=0, sticky="w", pady=(4, 0))
        self.matrix_frame = ttk.Frame(cost)
        ttk.Label(self.matrix_frame, text="called malignant", style="Muted.TLabel").grid(row=0, column=1, padx=4)
        ttk.Label(self.matrix_frame, text="called benign", style="Muted.TLabel").grid(row=0, column=2, padx=4)
        ttk.Label(self.matrix_frame, text="actually malignant", style="Muted.TLabel").grid(row=1, column=0, sticky="e")
        ttk.Label(self.matrix_frame, text="actually benign", style="Muted.TLabel").grid(row=2, column=0, sticky="e")
        self.matrix_vars: dict[str, tk.StringVar] = {}
        for key, r, c in (("c_tp", 1, 1), ("c_fn", 1, 2), ("c_fp", 2, 1), ("c_tn", 2, 2)):
            var = self.matrix_vars[key] = tk.StringVar(self, f"{getattr(self.costs, key):g}")
            entry = ttk.Entry(self.matrix_frame, textvariable=var, width=7, justify="right")
            entry.grid(row=r, column=c, padx=4, pady=1)
            for seq in ("<Return>", "<KP_Enter>"):
                entry.bind(seq, lambda _e: self.apply_costs())
        self.matrix_button = ttk.Button(self.matrix_frame, text="Apply", width=-8, command=self.apply_costs)
        self.matrix_button.grid(row=1, column=3, rowspan=2, padx=(8, 0))
        self.cost_message = self._fixed_wrap(ttk.Label(cost, text="", style="Small.TLabel"), COST_CHARS)
        self.cost_message.grid(row=3, column=0, sticky="ew", pady=(2, 0))
        self.cost_label = self._fixed_wrap(ttk.Label(cost, text="", style="Bold.TLabel"), COST_CHARS)
        self.cost_label.grid(row=4, column=0, sticky="ew", pady=(6, 0))
        self.best_label = self._fixed_wrap(ttk.Label(cost, text=""), COST_CHARS)
        self.best_label.grid(row=5, column=0, sticky="ew", pady=(2, 0))
        self.best_button = ttk.Button(cost, text="Use the lowest-cost threshold", command=self.choose_min_cost)
        self.best_button.grid(row=6, column=0, sticky="w", pady=(6, 0))

        self.cost_frame = ttk.LabelFrame(page, text="Expected cost per 1,000 patients", padding=4)
        self._fixed_wrap(ttk.Label(cost, text=COST_PICTURE_NOTE, style="Small.TLabel"), COST_CHARS).grid(
            row=7, column=0, sticky="ew", pady=(8, 0))
        page.rowconfigure(0, weight=1)
        self.costs_reflow = Reflow(page, cost, self.cost_frame, weights=(2, 3))

    def _build_cases(self, page: ttk.Frame) -> None:
        page.columnconfigure(0, weight=1)
        page.rowconfigure(2, weight=1)
        self.cases_title = wrap_to_width(ttk.Label(page, text=NO_CASES, style="Bold.TLabel"))
        self.cases_title.grid(row=0, column=0, sticky="ew")
        self.cases_why = wrap_to_width(ttk.Label(page, text="", style="Small.TLabel"))
        self.cases_why.grid(row=1, column=0, sticky="ew", pady=(2, 4))
        self.case_table = views.CaseTable(page)
        self.case_table.grid(row=2, column=0, sticky="nsew")
        tree = self.case_table.tree
        tree.bind("<Double-Button-1>", lambda _e: self.open_selected_case(), add="+")
        for seq in ("<Return>", "<KP_Enter>"):
            tree.bind(seq, lambda _e: (self.open_selected_case(), "break")[1])
        wrap_to_width(ttk.Label(page, text=views.SCORE_LEGEND, style="Small.TLabel")).grid(
            row=3, column=0, sticky="ew", pady=(2, 0))
        row = ttk.Frame(page)
        row.grid(row=4, column=0, sticky="w", pady=(6, 0))
        self.open_button = ttk.Button(row, text="Open in the Patient tab", command=self.open_selected_case)
        self.open_button.pack(side="left")
        ttk.Label(row, text="or double-click a case, or press Enter on it.", style="Muted.TLabel").pack(
            side="left", padx=(8, 0))
        self.open_button.state(["disabled"])

    def _fixed_wrap(self, label: ttk.Label, chars: int) -> ttk.Label:
        """Wrap ``label`` at ``chars`` characters of the default font (following the text
        size, not the width): the labels beside a picture must not change height with
        the width the picture leaves them, or a scroll bar that comes and goes could
        make the two re-wrap each other without end."""
        label.configure(wraplength=chars_width(self, chars))
        return label

    def _on_view_changed(self) -> None:
        shown = self.views.select()
        for page in self.pages.values():
            if str(page) == shown:
                page.grid_propagate(True)
            else:
                page.grid_propagate(False)
                page.configure(width=1, height=1)

    def ensure_plots(self) -> None:
        """Make the picture (once) and ask for the current model's drawing; after that,
        draw whatever changed while the tab was hidden."""
        if self.plot is not None:
            self.plot.refresh()
            if self.cost_plot is not None:
                self.cost_plot.refresh()
            return
        from bcdesktop.gui.plots import OffscreenPicture

        # a modest size asked for: the picture takes the room the window gives it
        self.plot = OffscreenPicture(self.plot_frame, self.app.report_exception, size=(4.8, 2.8),
                                     name="draw-threshold-pictures")
        self.plot.on_shown = lambda _picture: self._place_moving()
        self._size_pictures()
        self._redraw_model()

    def ensure_cost_plot(self) -> None:
        """The expected-cost picture, made when its page is first shown."""
        if self.cost_plot is not None:
            self.cost_plot.refresh()
            return
        from bcdesktop.gui.plots import OffscreenPicture

        self.cost_plot = OffscreenPicture(self.cost_frame, self.app.report_exception, size=(4.4, 2.8),
                                          name="draw-cost-curve")
        self.cost_plot.on_shown = lambda _picture: self._place_cost_items()
        self._size_pictures()
        self._redraw_costs()

    def _size_pictures(self) -> None:
        """The pictures ask for more height as the text grows (their text grows with it;
        set below the tables on a narrow page, a picture gets only the height it asks for)."""
        ratio = max(self.winfo_fpixels("1i") / 96, size_factor(self))
        for picture in (self.plot, self.cost_plot):
            if picture is not None:
                picture.widget.configure(height=round(2.8 * 96 * ratio))

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

    # ------------------------------------------------------------- the model and its evidence
    def _on_model_changed(self) -> None:
        model = self.app.model
        self._oof = self._held_out = None
        oof = getattr(model, "oof", None)
        if oof is not None:
            self._oof = views.Evidence("out-of-fold", oof.probs, oof.labels, description=oof.describe(),
                                       rows_word="out-of-fold rows")
        p = getattr(model, "eval_probs", None)
        y = getattr(model, "eval_labels", None)
        if model is not None and p is not None and y is not None and len(p) > 0:
            kind = getattr(model, "eval_kind", None) or "validation"
            what = (f"out-of-fold predictions (n={len(p)})" if kind == "out-of-fold"
                    else f"validation rows (n={len(p)})")
            self._held_out = views.Evidence(kind, p, y, description=what,
                                            rows_word="out-of-fold predictions" if kind == "out-of-fold"
                                            else "validation rows")
        self.evidence_radios["validation"].configure(
            text="Validation split" if getattr(model, "eval_kind", "validation") != "out-of-fold"
            else "Stored held-out predictions")
        self.evidence_var.set("out-of-fold" if self._oof is not None else "validation")
        self._use_evidence()

    def _use_evidence(self) -> None:
        """Judge the threshold on the evidence the choice names (out-of-fold when the model has it)."""
        model = self.app.model
        want = self.evidence_var.get()
        ev = self._oof if want == "out-of-fold" and self._oof is not None else self._held_out
        if ev is None and self._oof is not None:
            ev = self._oof
        if ev is not None:
            self.evidence_var.set("out-of-fold" if ev is self._oof else "validation")
        self.evidence = ev
        self._roc = None if ev is None else ev.roc
        for value, radio in self.evidence_radios.items():
            have = (self._oof if value == "out-of-fold" else self._held_out) is not None
            radio.state(["!disabled"] if have else ["disabled"])
        if model is None:
            text, colour = f"{WARNING_MARK} No model is loaded.", ERROR_TEXT
        elif ev is None:
            text, colour = (f"{WARNING_MARK} This model carries no held-out predictions, so its threshold cannot be "
                            "evaluated here. Compute its out-of-fold evidence, or train a model with a validation "
                            "split, to see these figures."), ERROR_TEXT
        else:
            text, colour = f"Evidence: {ev.description} of model {model.model_id}", ""
            if self._oof is None:
                text += (". It has no out-of-fold evidence: these figures rest on one split's "
                         f"{ev.n} rows; compute it to judge the threshold on every row.")
        self.source_label.configure(text=text, foreground=colour)
        self._show_evidence_state()
        on = ev is not None
        for widget in (self.find_button, self.target_entry, self.spec_button, self.spec_entry, self.youden_button,
                       self.cost_button, self.best_button, self.prevalence_entry, self.prevalence_button, self.own_prevalence_button):
            widget.state(["!disabled"] if on else ["disabled"])
        self.criterion.state(["readonly", "!disabled"] if on else ["disabled"])
        kinds = "out-of-fold" if ev is not None and ev.kind == "out-of-fold" else "held-out"
        self.counts_note.configure(text="" if ev is None or ev.repeats == 1 else
                                   f"Counts: the average over the {ev.repeats} repeats ({ev.n} rows each). "
                                   "Click a cell, or press Enter on it, to list its cases.")
        if ev is not None and ev.repeats == 1:
            self.counts_note.configure(text="Click a cell, or press Enter on it, to list its cases.")
        self.interval_label.configure(
            text="95% Wilson confidence intervals" if ev is None or ev.repeats == 1 else
            f"95% Wilson confidence intervals at the {ev.n} rows; k / n: the average per repeat")
        self._rows_word = "validation rows" if ev is None else ev.rows_word
        self._kinds = kinds
        self.find_label.configure(text="")
        self.find_note.configure(text="")
        self._case_rows()
        self._update_prevalence_entry()
        self._update_costs()
        self._redraw_model()
        self._cases_cell = None
        self._clear_cases()
        self._on_threshold_changed()

    def _on_data_changed(self) -> None:
        self._case_rows()
        if self._cases_cell is not None:
            self.show_cases(self._cases_cell, select=False)

    def _case_rows(self, start: bool = False) -> None:
        """Where the evidence's cases come from (scores; lines and ids when the loaded data
        are the model's training data)."""
        ev, model, data = self.evidence, self.app.model, self.app.dataset
        if ev is None:
            self._rows = views.CaseRows(None, None, None)
            return
        if ev is not self._oof:
            self._rows = self._validation_rows(ev, model, data, start)
            return
        scores = model.oof.scores
        sha = getattr(model, "data_sha256", None)
        if data is None:
            why = "No data are loaded, so lines and sample ids are not known; the scores are the model's own copy."
        elif not sha or getattr(data, "sha256", None) != sha:
            name = Path(data.path).name if getattr(data, "path", None) else "the loaded data"
            why = (f"The loaded data ({name}) are not the model's training data (their SHA-256 differs), so "
                   "lines and sample ids are not shown; the scores are the model's own copy.")
        elif data.X.shape[0] != ev.n or not np.array_equal(data.X, scores):
            why = (f"The loaded data have {data.X.shape[0]} rows whose scores do not match the evidence's "
                   f"{ev.n}, so lines and sample ids are not shown.")
        else:
            self._rows = views.CaseRows(scores, np.asarray(data.lines), np.asarray(data.ids, dtype=object))
            return
        self._rows = views.CaseRows(scores, None, None, why=why)

    def _validation_rows(self, ev: views.Evidence, model, data, start: bool) -> views.CaseRows:
        """The validation rows' scores, lines and ids, when the loaded data are the model's
        training data: its split is made again from its settings (in a worker: the
        stratified split is scikit-learn's) and accepted only if the model gives those
        rows exactly its stored probabilities. The search starts (``start``) only when a
        list of cases is asked for."""
        none = views.CaseRows(None, None, None, why=(
            "The model keeps the validation rows' probabilities and classes but not their scores, and the loaded "
            "data are not its training data, so only their probabilities can be listed. Load its training data, "
            "or choose the out-of-fold evidence, to see and open the cases."))
        sha = getattr(model, "data_sha256", None)
        if (ev.kind != "validation" or data is None or data.y is None or not sha
                or getattr(data, "sha256", None) != sha):
            return none
        key = (model.model_id, sha)
        if key in self._val_rows:
            idx = self._val_rows[key]
            if idx is None:
                return views.CaseRows(None, None, None, why=(
                    "The validation rows could not be found again in the loaded data (the model's split settings "
                    "do not give its stored probabilities), so only their probabilities can be listed."))
            return views.CaseRows(np.asarray(data.X[idx]), np.asarray(data.lines)[idx],
                                  np.asarray(data.ids, dtype=object)[idx])
        if start and key not in self._val_jobs:
            settings = dict(getattr(model, "settings", {}) or {})
            probs = np.asarray(model.eval_probs, dtype=np.float64)
            labels = np.asarray(model.eval_labels)

            def work(report, cancel):
                from bcdesktop import evaluation

                try:
                    _train, val = evaluation.split_indices(
                        data.y, settings.get("split", evaluation.SPLITS[0]),
                        settings.get("val_fraction", evaluation.DEFAULT_VAL_FRACTION),
                        settings.get("train_rows", evaluation.DEFAULT_TRAIN_ROWS), int(settings.get("seed", 0)))
                except UserError:
                    return None
                if val.size != probs.size or not np.array_equal(np.asarray(data.y)[val], labels):
                    return None
                if not np.allclose(model.predict_proba(data.X[val]), probs, rtol=0, atol=1e-9):
                    return None
                return val

            def done(ok, result):
                self._val_jobs.pop(key, None)
                if not ok:
                    self._val_rows[key] = None
                    if not isinstance(result, (UserError, Cancelled)):
                        self.app.report_exception(result)
                else:
                    self._val_rows[key] = result
                if self.app.model is model and self.app.dataset is data and self.evidence is ev:
                    self._case_rows()
                    if self._cases_cell is not None:
                        self._list_cases()

            self._val_jobs[key] = self.app.run_in_thread(work, done, name="threshold-validation-rows")
        return views.CaseRows(None, None, None, why="Finding the validation rows in the loaded data\u2026")

    def compute_evidence(self) -> None:
        """Ask the app to cross-validate the model's settings for its out-of-fold evidence."""
        self._evidence_job = self.app.compute_evidence()
        self._show_evidence_state()

    def _show_evidence_state(self) -> None:
        job = self._evidence_job
        running = job is not None and not job.finished
        if not running:
            self._evidence_job = None
        model = self.app.model
        # what the app's evidence job says, while this model lacks the evidence (a job for
        # another model, e.g. a run on the Train tab, is no news here)
        state = self.app.evidence_state if running or self._oof is None else ""
        self.evidence_state_label.configure(text=state, style="Muted.TLabel")
        if state:
            self.evidence_state_label.grid()
        else:
            self.evidence_state_label.grid_remove()
        show = model is not None and self._oof is None
        if show:
            self.compute_button.pack(side="left", padx=(12, 0))
            self.compute_button.state(["disabled"] if running or model is None else ["!disabled"])
        else:
            self.compute_button.pack_forget()

    def _redraw_all(self) -> None:
        self._redraw_model()
        self._redraw_costs()

    def _redraw_model(self) -> None:
        """Ask for the pictures of the current held-out probabilities (drawn in the background)."""
        if self.plot is None:
            return
        ev, pt = self.evidence, self._text_points()
        y, p, roc = (None, None, None) if ev is None else (ev.y, ev.mean, ev.roc)
        xlabel = ("Probability of malignancy" if ev is None or ev.repeats == 1 else
                  f"Mean probability ({ev.repeats} repeats)")
        self.plot.request(lambda figure: draw_pictures(figure, y, p, roc, pt, xlabel), note="Drawing\u2026")

    def _redraw_costs(self) -> None:
        if self.cost_plot is None:
            return
        curve, unit, pt, problem = self.cost_curve, self._cost_unit(), self._text_points(), self._cost_problem
        self.cost_plot.request(lambda figure: views.draw_cost_curve(figure, curve, unit, pt, problem),
                               token=self._cost_generation, note="Drawing\u2026")

    def _text_points(self) -> float:
        """The window's text size in points, so the pictures' text follows the View menu's size."""
        size = tkfont.nametofont("TkDefaultFont", root=self).actual("size")
        return float(size) if size > 0 else -size * 72.0 / self.winfo_fpixels("1i")

    # ------------------------------------------------------------- prevalence and costs
    def prevalence(self) -> float | None:
        """The prevalence the figures are at: the user's, else the evidence's own (None
        when neither can be used, e.g. evidence of one class)."""
        if self._prevalence_user is not None:
            return self._prevalence_user
        ev = self.evidence
        return ev.prevalence if ev is not None and ev.both_classes else None

    def _update_prevalence_entry(self, force: bool = False) -> None:
        pi = self.prevalence()
        if force or self.focus_get() is not self.prevalence_entry:
            self.prevalence_var.set("" if pi is None else f"{100 * pi:.4g}")
        ev = self.evidence
        own = "" if ev is None else f"{100 * ev.prevalence:.1f}%"
        if self._prevalence_user is None:
            text = (f"The evidence's own prevalence{': ' + own if own else ''}. PPV and NPV depend on it: "
                    "a screening population may be nearer 5%.")
        else:
            text = f"As you set it{' (the evidence' + chr(39) + 's own is ' + own + ')' if own else ''}."
        self.prevalence_message.configure(text=text, foreground="")

    def apply_prevalence(self) -> None:
        """Use the prevalence typed in the entry (a percentage), or say why it cannot be used."""
        value, message = views.parse_percent(self.prevalence_var.get(), "the prevalence")
        if message:
            self.prevalence_message.configure(text=f"{WARNING_MARK} {message}", foreground=ERROR_TEXT)
            return
        self._prevalence_user = value
        self._update_prevalence_entry(force=True)
        self._update_costs()
        self._on_threshold_changed()

    def reset_prevalence(self) -> None:
        """Back to the evidence's own prevalence."""
        self._prevalence_user = None
        self._update_prevalence_entry(force=True)
        self._update_costs()
        self._on_threshold_changed()

    def _toggle_matrix(self) -> None:
        if self.matrix_var.get():
            for key, var in self.matrix_vars.items():
                var.set(f"{getattr(self.costs, key):g}")
            self.matrix_frame.grid(row=2, column=0, sticky="w", pady=(4, 0))
            self.ratio_entry.state(["disabled"])
            self.ratio_button.state(["disabled"])
        else:
            self.matrix_frame.grid_remove()
            self.ratio_entry.state(["!disabled"])
            self.ratio_button.state(["!disabled"])
            self.apply_costs()

    def apply_costs(self) -> None:
        """Use the cost ratio (or the 2x2 matrix, when ticked), or say why it cannot be used."""
        try:
            if self.matrix_var.get():
                values = {}
                for key, var in self.matrix_vars.items():
                    value, message = _number(var.get())
                    if message:
                        raise UserError(f"The cost of {MATRIX_NAMES[key]} {message}")
                    values[key] = value
                costs = decision.Costs(**values)
            else:
                value, message = views.parse_positive(self.ratio_var.get(), "the number of false alarms")
                if message:
                    raise UserError(message)
                costs = decision.Costs.from_ratio(value)
        except UserError as exc:
            self.cost_message.configure(text=f"{WARNING_MARK} {exc}", foreground=ERROR_TEXT)
            return
        self.costs = costs
        if self.matrix_var.get():
            self.ratio_var.set(f"{costs.ratio:.4g}")
        self._update_costs()
        self._on_threshold_changed()

    def _cost_unit(self) -> str:
        return "false alarms" if not self.matrix_var.get() else "cost units"

    def _update_costs(self) -> None:
        """The expected-cost curve, its cheapest threshold and the calibrated one, for the
        evidence, costs and prevalence now set (plain NumPy, a few milliseconds)."""
        ev, pi, costs = self.evidence, self.prevalence(), self.costs
        self.cost_curve, self._cost_problem = None, ""
        self._cost_generation += 1
        if ev is None:
            self._cost_problem = "No held-out predictions"
        elif pi is None or not ev.both_classes:
            self._cost_problem = "Expected costs need evidence with both classes"
        else:
            try:
                self.cost_curve = decision.expected_cost_curve(ev.probs, ev.y, costs, pi)
            except UserError as exc:
                self._cost_problem = str(exc)
        matrix = self.matrix_var.get()
        setting = (f"one missed cancer = {costs.ratio:.4g} false alarms" if not matrix else
                   f"cost matrix TP {costs.c_tp:g}, FP {costs.c_fp:g}, FN {costs.c_fn:g}, TN {costs.c_tn:g}")
        self.cost_message.configure(
            text=f"Using {setting} (ratio R = {costs.ratio:.4g}). Choose R for your setting: "
                 f"{DEFAULT_RATIO:g} is where the tab starts, not a recommendation.", foreground="")
        curve = self.cost_curve
        if curve is None:
            self.best_label.configure(text=self._cost_problem)
            self.marks_label.configure(text="")
            self.cost_rule_label.configure(text="")
        else:
            unit = self._cost_unit()
            self.best_label.configure(
                text=f"{views.BEST_MARK} Lowest expected cost on the evidence: threshold "
                     f"{format_threshold(curve.best_threshold)}, {curve.best_cost_per_1000:.1f} per 1,000 patients "
                     f"({unit}).\n{views.THEORY_MARK} For a calibrated model the optimum is "
                     f"{format_threshold(curve.theoretical_threshold)} (1/(1+R) at the data's prevalence, moved by "
                     "Bayes' rule to the one set); a gap between the two shows the probabilities are not "
                     "calibrated at these costs.")
            self.marks_label.configure(
                text=f"{views.BEST_MARK} lowest expected cost on the evidence "
                     f"({format_threshold(curve.best_threshold)}); {views.THEORY_MARK} calibrated optimum "
                     f"({format_threshold(curve.theoretical_threshold)}), for the costs on the Costs page "
                     "(on the probability picture, above the bars).")
            self.cost_rule_label.configure(text=f"(R = {costs.ratio:.4g}, prevalence {views.format_prevalence(pi)})")
        self._redraw_costs()
        self._place_marks()

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

    def _apply(self, t: float, chosen_by: str | None = None) -> None:
        """Use threshold ``t``; ``chosen_by`` says how, for the audit trail and the patient
        report (None: set by hand)."""
        if abs(t - self.app.threshold) > 1e-12:
            self.app.set_threshold(t, chosen_by)  # -> <<ThresholdChanged>> -> _on_threshold_changed
        else:
            if chosen_by is not None:
                self.app.set_threshold(self.app.threshold, chosen_by)
            self._on_threshold_changed()

    def _on_threshold_changed(self) -> None:
        """Everything that follows the threshold: counts, rates, figures, PPV/NPV at the
        prevalence, the cost, the moving marks. A few binary searches and small sums."""
        t = self.app.threshold
        self._syncing = True
        try:
            self.scale.set(t)
        finally:
            self._syncing = False
        if self.focus_get() is not self.entry or not self.entry_message.cget("text"):
            self.entry_var.set(format_threshold(t))
            self.entry_message.configure(text="")
        ev = self.evidence
        m = None if ev is None else ev.metrics(t)
        self.metrics_table.show(m, 1 if ev is None else ev.repeats)
        if m is None:
            self.confusion.show(None, None, None, None)
            self.extra_table.replace_rows([])
        else:
            r = ev.repeats
            self.confusion.show(*(views.format_count(v / r, r) for v in (m.tp, m.fp, m.tn, m.fn)))
            extra = m.extra()
            self.extra_table.replace_rows([
                (EXTRA_ROWS[0], views.format_number(extra["f1"])), (EXTRA_ROWS[1], views.format_number(extra["mcc"])),
                (EXTRA_ROWS[2], views.format_number(extra["kappa"])),
                (EXTRA_ROWS[3], views.format_number(ev.log_loss))])
        self._show_at_prevalence(m)
        self._place_moving(m)
        self._place_cost_items(m)
        if self._cases_cell is not None:
            self._schedule_cases()
        self._publish(m)

    def _show_at_prevalence(self, m: metrics.ThresholdMetrics | None) -> None:
        pi = self.prevalence()
        if m is None or pi is None:
            self.prevalence_table.replace_rows([])
            self.per_1000.show(None, None, None, None)
            self.cost_label.configure(text="")
            self._at_prevalence = None
            self._cost_now = math.nan
            return
        ap = decision.at_prevalence(m, pi)
        self._at_prevalence = ap

        def row(name, est):
            if not math.isfinite(est.value):
                return (name, "n/a", "")
            return (name, format_percent(est.value), f"{100 * est.low:.1f}-{100 * est.high:.1f}%")

        self.prevalence_table.replace_rows([row(f"PPV at {views.format_prevalence(pi)}", ap.ppv),
                                            row(f"NPV at {views.format_prevalence(pi)}", ap.npv)])
        self.per_1000.title.configure(text=f"Expected per 1,000 patients at {views.format_prevalence(pi)}")
        self.per_1000.show(*(("n/a" if not math.isfinite(v) else f"{v:.1f}") for v in (ap.tp, ap.fp, ap.tn, ap.fn)))
        cost = float(self.costs.per_1000(m.sensitivity.value, m.specificity.value, pi))
        self._cost_now = cost
        self.cost_label.configure(
            text=f"Expected cost at threshold {format_threshold(self.app.threshold)}: "
                 + ("n/a" if not math.isfinite(cost) else f"{cost:.1f} per 1,000 patients ({self._cost_unit()})"))

    def _publish(self, m: metrics.ThresholdMetrics | None) -> None:
        """The tab's figures for File > Export results."""
        ev = self.evidence
        if ev is None or m is None:
            self.app.set_results("Threshold tab", None)
            return
        extra = m.extra()
        rows = [("evidence", ev.description), ("threshold", self.app.threshold),
                ("F1", extra["f1"]), ("MCC", extra["mcc"]), ("Cohen's kappa", extra["kappa"]),
                ("log loss", ev.log_loss)]
        ap = self._at_prevalence
        if ap is not None:
            rows += [("prevalence", ap.prevalence), ("PPV at prevalence", ap.ppv.value),
                     ("NPV at prevalence", ap.npv.value), ("cost ratio R", self.costs.ratio),
                     ("expected cost per 1,000", self._cost_now)]
        if self.cost_curve is not None:
            rows += [("lowest-cost threshold", self.cost_curve.best_threshold),
                     ("calibrated optimum", self.cost_curve.theoretical_threshold)]
        self.app.set_results("Threshold tab", rows)

    def _place_moving(self, m: metrics.ThresholdMetrics | None | bool = True) -> None:
        """Put the threshold line and the operating point where the picture on screen has
        the current threshold (``m``: its metrics, computed here if not given)."""
        plot = self.plot
        if plot is None or plot.figure is None:
            return
        t = self.app.threshold
        if m is True:
            m = None if self.evidence is None else self.evidence.metrics(t)
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
        self._place_marks()

    def _place_marks(self) -> None:
        """The two cost thresholds as small triangles on top of the probability axes."""
        plot, curve = self.plot, self.cost_curve
        if plot is None or plot.figure is None:
            return
        canvas = plot.widget
        scale = plot.figure.dpi / 72 * plot.info["points"] / 10.0
        for key, fill in (("best", "black"), ("theory", "")):
            if key not in self._marks:
                self._marks[key] = canvas.create_polygon(0, 0, 0, 0, 0, 0, fill=fill, outline="black")
            item = self._marks[key]
            if curve is None:
                canvas.itemconfigure(item, state="hidden")
                continue
            x = curve.best_threshold if key == "best" else curve.theoretical_threshold
            px, top = plot.to_pixels(self.ax_hist.get_xaxis_transform(), (x, 1.0))
            h = 7 * scale
            canvas.coords(item, px - h * 0.6, top, px + h * 0.6, top, px, top + h)
            canvas.itemconfigure(item, state="normal", width=max(1, round(scale)))

    def _place_cost_items(self, m: metrics.ThresholdMetrics | None | bool = True) -> None:
        """The threshold line and the current cost's point on the expected-cost picture."""
        plot = self.cost_plot
        if plot is None or plot.figure is None:
            return
        canvas, ax = plot.widget, plot.info["ax"]
        scale = plot.figure.dpi / 72 * plot.info["points"] / 10.0
        if not self._cost_items:
            self._cost_items = {"line": canvas.create_line(0, 0, 0, 0, fill="black"),
                                "point": canvas.create_oval(0, 0, 0, 0, fill=MALIGNANT, outline="black")}
        t = self.app.threshold
        width = max(1, round(1.5 * scale))
        x, top = plot.to_pixels(ax.get_xaxis_transform(), (t, 1.0))
        _x, bottom = plot.to_pixels(ax.get_xaxis_transform(), (t, 0.0))
        canvas.coords(self._cost_items["line"], x, top, x, bottom)
        canvas.itemconfigure(self._cost_items["line"], width=width, dash=(round(3.7 * width), round(1.6 * width)))
        cost = self._cost_now if self.cost_curve is not None else math.nan
        low, high = ax.get_ylim()
        point = self._cost_items["point"]
        if plot.token != self._cost_generation or not math.isfinite(cost) or not low <= cost <= high:
            canvas.itemconfigure(point, state="hidden")
        else:
            cx, cy = plot.to_pixels(ax.transData, (t, cost))
            r = 4.5 * scale
            canvas.coords(point, cx - r, cy - r, cx + r, cy + r)
            canvas.itemconfigure(point, state="normal")

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

    def mark_x(self, key: str) -> float | None:
        """Where the cost mark ``key`` ("best", "theory") is drawn on the probability axis."""
        item = self._marks.get(key)
        if item is None or self.plot.widget.itemcget(item, "state") == "hidden":
            return None
        xs = self.plot.widget.coords(item)[0::2]
        return float(self.ax_hist.transData.inverted().transform((sum(xs[:2]) / 2, 0))[0])

    # ------------------------------------------------------------ threshold rules
    def _target(self, var: tk.StringVar, what: str) -> float | None:
        raw = var.get().strip().rstrip("%")
        try:
            target = float(raw)
        except ValueError:
            target = math.nan
        if not (0 < target <= 100):
            self._say_rule(f"{WARNING_MARK} Enter a {what} above 0 and at most 100 (%).", error=True)
            return None
        return target

    def _say_rule(self, text: str, note: str = "", *, error: bool = False) -> None:
        self.find_label.configure(text=text, foreground=ERROR_TEXT if error else "")
        self.find_note.configure(text=note)

    def _optimism(self, ev: views.Evidence, rows: str) -> str:
        if ev.repeats > 1 or ev.kind == "out-of-fold":
            return (f"Chosen on the same {rows} it is judged on. Every row was predicted by a network that did not "
                    "see it, so this is fairer than one split, but the choice itself still fits these rows: expect "
                    "a little less on new cases.")
        return (f"Optimistic: this threshold was chosen on the same {rows} it is judged on, so on new "
                "cases its figures are likely lower.")

    def find_for_sensitivity(self) -> None:
        """Apply the highest threshold whose sensitivity on the evidence (or its lower 95%
        bound, as the criterion says) is at least the target, and say how optimistic it is."""
        ev = self.evidence
        if ev is None:
            return
        target = self._target(self.target_var, "sensitivity")
        if target is None:
            return
        bound = self.criterion_var.get() == CRITERIA[1]
        rows = f"{ev.n_pos} malignant {ev.rows_word}"
        try:
            if bound:
                if target >= 100:
                    raise UserError("A lower bound of 100% cannot be shown on any number of cases; "
                                    "ask for less, e.g. 95%.")
                low = metrics.wilson_interval(ev.n_pos, ev.n_pos)[0]
                if low < target / 100:
                    raise UserError(
                        f"No threshold keeps the lower 95% bound at {target:g}%: even finding all {rows} "
                        f"gives a lower bound of {format_percent(low)}. Showing {target:g}% takes at least "
                        f"{metrics.malignant_cases_needed(target / 100):,} malignant cases.")
            choice = decision.choose_threshold(ev.probs, ev.y, "sensitivity_bound" if bound else "sensitivity",
                                               target / 100, evidence=ev.kind)
        except UserError as exc:
            self._say_rule(f"{WARNING_MARK} {exc}", error=True)
            return
        # Round down (a lower threshold never loses sensitivity) and keep to the slider's range.
        t = _down(choice.threshold)
        m = ev.metrics(t)
        sens = m.sensitivity
        reached = (sens.low if bound else sens.value) * 100 >= target - 1e-9
        met = "meets" if reached else "cannot reach"
        spec = format_percent(m.specificity.value) if m.specificity.defined else "n/a (no benign cases)"
        if bound:
            shown = (f"lower 95% bound {format_percent(sens.low)} ({met} {target:g}%), "
                     f"sensitivity {format_percent(sens.value)}")
        else:
            shown = f"sensitivity {format_percent(sens.value)} ({met} {target:g}%)"
        note = (self._optimism(ev, rows) + f" The 95% interval is {format_percent(sens.low)} to "
                f"{format_percent(sens.high)}."
                + ("" if bound else f" To be safer, find the threshold for its lower 95% bound \u2265 {target:g}%."))
        self._say_rule(f"Threshold {format_threshold(t)}: {shown}, specificity {spec}.\n"
                       f"Chosen as {choice.chosen_by}.", note)
        self._apply(t, choice.chosen_by)

    def find_for_specificity(self) -> None:
        """Apply the lowest threshold whose specificity on the evidence is at least the target."""
        ev = self.evidence
        if ev is None:
            return
        target = self._target(self.spec_var, "specificity")
        if target is None:
            return
        try:
            choice = decision.choose_threshold(ev.probs, ev.y, "specificity", target / 100, evidence=ev.kind)
        except UserError as exc:
            self._say_rule(f"{WARNING_MARK} {exc}", error=True)
            return
        t = _up(choice.threshold)  # a higher threshold never loses specificity
        m = ev.metrics(t)
        spec = m.specificity
        met = "meets" if spec.value * 100 >= target - 1e-9 else "cannot reach"
        sens = format_percent(m.sensitivity.value) if m.sensitivity.defined else "n/a (no malignant cases)"
        rows = f"{ev.n_neg} benign {ev.rows_word}"
        self._say_rule(f"Threshold {format_threshold(t)}: specificity {format_percent(spec.value)} ({met} "
                       f"{target:g}%), sensitivity {sens}.\nChosen as {choice.chosen_by}.",
                       self._optimism(ev, rows) + f" The 95% interval is {format_percent(spec.low)} to "
                       f"{format_percent(spec.high)}.")
        self._apply(t, choice.chosen_by)

    def choose_youden(self) -> None:
        """Apply the threshold with the largest Youden's J (sensitivity + specificity - 1)."""
        ev = self.evidence
        if ev is None:
            return
        try:
            choice = decision.choose_threshold(ev.probs, ev.y, "youden", evidence=ev.kind)
        except UserError as exc:
            self._say_rule(f"{WARNING_MARK} {exc}", error=True)
            return
        t = _down(choice.threshold)
        m = ev.metrics(t)
        j = m.sensitivity.value + m.specificity.value - 1
        self._say_rule(f"Threshold {format_threshold(t)}: Youden's J {j:.3f} (sensitivity "
                       f"{format_percent(m.sensitivity.value)}, specificity {format_percent(m.specificity.value)})."
                       f"\nChosen as {choice.chosen_by}.",
                       self._optimism(ev, ev.rows_phrase) + " Youden's J weighs a missed cancer and a false alarm "
                       "alike; state costs for a threshold that does not.")
        self._apply(t, choice.chosen_by)

    def choose_min_cost(self) -> None:
        """Apply the threshold of lowest expected cost at the prevalence and costs set."""
        ev, pi = self.evidence, self.prevalence()
        if ev is None:
            return
        try:
            if pi is None:
                raise UserError("Set a prevalence above 0% and below 100% first (the Prevalence page).")
            choice = decision.choose_threshold(ev.probs, ev.y, "cost", prevalence=pi, cost=self.costs,
                                               evidence=ev.kind)
        except UserError as exc:
            self._say_rule(f"{WARNING_MARK} {exc}", error=True)
            return
        t = _down(choice.threshold)
        m = ev.metrics(t)
        cost = float(self.costs.per_1000(m.sensitivity.value, m.specificity.value, pi))
        self._say_rule(f"Threshold {format_threshold(t)}: expected cost {cost:.1f} per 1,000 patients "
                       f"({self._cost_unit()}), sensitivity {format_percent(m.sensitivity.value)}, specificity "
                       f"{format_percent(m.specificity.value)}.\nChosen as {choice.chosen_by}.",
                       self._optimism(ev, ev.rows_phrase) + " The calibrated optimum "
                       f"{format_threshold(self.cost_curve.theoretical_threshold if self.cost_curve else self.costs.theoretical_threshold)}"
                       " does not depend on these rows.")
        self._apply(t, choice.chosen_by)

    # ------------------------------------------------------------ from counts to cases
    def show_cases(self, cell: str, *, select: bool = True) -> None:
        """List the cases of confusion ``cell`` ("tp", "fp", "tn", "fn") at the current
        threshold on the Cases page (and show that page, focused on the first case)."""
        ev = self.evidence
        if ev is None:
            return
        self._cases_cell = cell
        self._case_rows(start=True)
        self._list_cases()
        if select:
            self.views.select(self.pages["cases"])
            if self.case_table.tree.get_children():
                self.case_table.tree.focus_set()

    def _schedule_cases(self) -> None:
        """List the cases again once the slider rests (a drag would list them at every step)."""
        if self._cases_pending is not None:
            self.after_cancel(self._cases_pending)
        self._cases_pending = self.after(CASES_DELAY_MS, self._list_cases)

    def _list_cases(self) -> None:
        self._cases_pending = None
        ev, cell = self.evidence, self._cases_cell
        if ev is None or cell is None:
            self._clear_cases()
            return
        t = self.app.threshold
        idx = ev.cell_rows(cell, t)
        self.case_table.show(ev, idx, self._rows)
        word = views.CELL_NAMES[cell]
        if ev.repeats > 1:
            r = ev.repeats
            count = self.evidence.counts(t)[("tp", "fp", "tn", "fn").index(cell)] / r
            title = (f"{len(idx)} {word} ({views.CELL_MEANING[cell]}) at threshold {format_threshold(t)}, each row "
                     f"called by its mean out-of-fold probability over the {r} repeats; the matrix's "
                     f"{views.format_count(count, r)} is the average of the repeats' counts.")
        else:
            title = (f"{len(idx)} {word} ({views.CELL_MEANING[cell]}) at threshold {format_threshold(t)}, "
                     f"of the {ev.n} {ev.rows_word}.")
        self.cases_title.configure(text=title)
        self._say_why(self._rows.why)
        can_open = self._rows.scores is not None and len(idx) > 0
        self.open_button.state(["!disabled"] if can_open else ["disabled"])

    def _clear_cases(self) -> None:
        if self._cases_pending is not None:
            self.after_cancel(self._cases_pending)
            self._cases_pending = None
        self.case_table.replace_rows([])
        self.case_table.indices = []
        self.cases_title.configure(text=NO_CASES)
        self._say_why("")
        self.open_button.state(["disabled"])

    def _say_why(self, text: str) -> None:
        """Why lines and ids (or scores) are missing; no empty line when nothing is."""
        self.cases_why.configure(text=text)
        if text:
            self.cases_why.grid()
        else:
            self.cases_why.grid_remove()

    def open_selected_case(self) -> None:
        """Show the selected case in the Patient tab, with where it comes from."""
        ev, i = self.evidence, self.case_table.selected()
        if ev is None or i is None or self._rows.scores is None or self._cases_cell is None:
            return
        rows = self._rows
        where = (f"Line {int(rows.lines[i])}, sample {rows.ids[i]}" if rows.lines is not None
                 else f"Row {i + 1} of the model's training data")
        how = (f"mean out-of-fold probability {ev.mean[i]:.3f} over {ev.repeats} repeats" if ev.repeats > 1
               else f"held-out probability {ev.mean[i]:.3f}")
        note = (f"{where}: {views.CELL_ONE[self._cases_cell]} at threshold {format_threshold(self.app.threshold)} "
                f"({how}; actually {'malignant' if ev.y[i] else 'benign'}).")
        self.app.open_case(tuple(int(v) for v in rows.scores[i]), note)


def _number(text: str) -> tuple[float | None, str | None]:
    try:
        value = float(text.strip())
    except ValueError:
        return None, f"'{text.strip()}' is not a number."
    if not math.isfinite(value):
        return None, "must be a finite number."
    return value, None


def _down(t: float) -> float:
    """A rule's threshold at the tab's 4 decimals, rounded down, in the slider's range."""
    return min(T_MAX, max(T_MIN, math.floor(t * 10_000 + 1e-9) / 10_000))


def _up(t: float) -> float:
    """Rounded up to 4 decimals, in the slider's range."""
    return min(T_MAX, max(T_MIN, math.ceil(t * 10_000 - 1e-9) / 10_000))
