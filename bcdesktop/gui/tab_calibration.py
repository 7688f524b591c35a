"""The Calibration tab: can the probabilities be taken at their word, and is the model
worth using at the threshold chosen?

Both halves judge the model on its out-of-fold evidence (``model.oof``: every row of
its training data, predicted in each repeat of a duplicate-aware cross-validation by a
network that did not see it), all repeats pooled:

- **Calibration**: reliability diagrams (observed fraction malignant per bin with 95%
  intervals, the diagonal, the predictions per bin), calibration intercept and slope,
  Brier score and ECE, each with a line saying what it means. A recalibration (Platt
  scaling or isotonic regression) can be fitted on the out-of-fold pairs; its "after"
  figures are cross-fitted (each row recalibrated by a fit on other rows:
  :mod:`bcdesktop.gui.calibration_analysis`), beside the optimistic figures on the
  pairs it was fitted on. "Apply to the model" makes the model with the recalibration
  (fitted on all pairs) the active one; every tab and the command line then predict
  through it. "Remove recalibration" goes back.
- **Decision curve** (Vickers and Elkin 2006): net benefit against threshold for the
  model (mean over repeats, band lowest to highest), treat all, treat none; the current
  threshold marked, with net benefit and net interventions avoided per 100 patients.

The figures are computed and drawn in the pictures' worker threads
(:class:`~bcdesktop.gui.plots.OffscreenPicture`), only while the tab is shown; the
numbers beside them come back with the picture. What follows the threshold (the
marker on the decision curve, the readout, the sensitivity and specificity rows) is
computed on the Tk thread (about a millisecond) and drawn as Tk canvas items.
"""

from __future__ import annotations

import math
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import TYPE_CHECKING

import numpy as np

from bcdesktop import decision
from bcdesktop.gui import calibration_analysis as ca
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import (
    ERROR_TEXT,
    TEXT_SCALE_EVENT,
    WARNING_MARK,
    format_threshold,
    page_of,
    size_factor,
    wrap_to_width,
)
from bcdesktop.metrics import format_percent

if TYPE_CHECKING:
    from bcdesktop.gui.plots import OffscreenPicture

#: The threshold ranges the decision curve shows: (label, highest threshold).
RANGES = (("0-100%", 0.99), ("0-50%", 0.50), ("0-25%", 0.25), ("0-10%", 0.10))

#: (key, name, what it means to a clinician) of the rows of the before/after table.
MEASURES = (
    ("intercept", "Calibration intercept",
     "0 is ideal. Above 0: the model under-estimates risk on average; below 0: it over-estimates."),
    ("slope", "Calibration slope",
     "1 is ideal. Below 1: predictions too extreme (high ones too high, low ones too low); "
     "above 1: too timid, too close to the average."),
    ("brier", "Brier score",
     "Mean squared gap between probability and outcome: 0 is perfect, lower is better."),
    ("ece", "ECE (expected calibration error)",
     "Average gap between predicted and observed risk over 10 bins: 0.02 is about 2 percentage points."),
)
COLUMNS = ("before", "cross", "fitted")


def _fmt(key: str, value) -> str:
    if value is None or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        return "n/a"
    value = float(value) + 0.0  # no "-0.000"
    if key in ("intercept", "slope", "ece") and abs(value) < 0.0005:
        value = 0.0
    if key == "intercept":
        return f"{value:+.3f}".replace("-", "\u2212")
    if key == "slope":
        return f"{value:.3f}"
    if key == "brier":
        return f"{value:.4f}"
    return f"{value:.3f}"


def format_measure(key: str, value) -> str:
    """How the table shows ``value`` of measure ``key`` (tests compare with it)."""
    return _fmt(key, value)


def format_nb(value: float) -> str:
    """Net benefit as the tab shows it: three decimals, a true minus sign."""
    return f"{value:.3f}".replace("-", "\u2212")


class _SideBySide:
    """The controls and the picture of each inner page side by side while the page is
    wide enough for both, else the picture below the controls (as
    :class:`~bcdesktop.gui.widgets.Reflow` does, but for all the inner pages at once and
    counting their inset in the page, so a hidden page never asks the page to scroll
    sideways through the notebook's width)."""

    GAP = 10

    def __init__(self, tab: CalibrationTab, parts, on_change=None):
        self.tab, self.parts = tab, parts  # [(parent, controls, picture)]
        self.on_change = on_change  # on_change(i, stacked, room): part i was laid out again
        self.stacked: list[bool | None] = [None] * len(parts)
        self._pending = None
        for i in range(len(parts)):
            self._apply(i, False)
        tab.bind("<Map>", lambda _e: self.update(), add="+")
        tab.bind("<Configure>", lambda _e: self.update(), add="+")
        tab.winfo_toplevel().bind(TEXT_SCALE_EVENT, lambda _e: self.update(), add="+")

    def update(self) -> None:
        if self._pending is None:
            self._pending = self.tab._root().after_idle(self._choose)

    def _choose(self) -> None:
        self._pending = None
        tab = self.tab
        if not tab.winfo_exists() or not tab.winfo_ismapped():
            return
        page = page_of(tab)
        room = page.canvas.winfo_width() if page is not None and page.canvas.winfo_ismapped() else tab.winfo_width()
        body = page.body if page is not None else tab
        shown = tab.pages.nametowidget(tab.pages.select()) if tab.pages.select() else tab.pages
        inset = max(0, shown.winfo_rootx() - body.winfo_rootx()) if shown.winfo_ismapped() else 40
        room -= 2 * inset
        for i, (_parent, controls, picture) in enumerate(self.parts):
            need = controls.winfo_reqwidth() + self.GAP + picture.winfo_reqwidth()
            stacked = room < need if not self.stacked[i] else room < need + 24  # slack: no flip-flop
            if stacked != self.stacked[i]:
                self._apply(i, stacked)
            if self.on_change is not None:
                self.on_change(i, self.stacked[i], room)

    def _apply(self, i: int, stacked: bool) -> None:
        self.stacked[i] = stacked
        parent, controls, picture = self.parts[i]
        if stacked:
            controls.grid(row=1, column=0, columnspan=2, sticky="nw", padx=0)  # its own width: easier to read
            picture.grid(row=2, column=0, columnspan=2, sticky="nsew", padx=0, pady=(self.GAP, 0))
            parent.columnconfigure(0, weight=1)
            parent.columnconfigure(1, weight=0)
            parent.rowconfigure(1, weight=0)
            parent.rowconfigure(2, weight=1)
        else:
            controls.grid(row=1, column=0, columnspan=1, sticky="nsew", padx=(0, self.GAP), pady=0)
            picture.grid(row=1, column=1, columnspan=1, sticky="nsew", padx=0, pady=0)
            parent.columnconfigure(0, weight=0)
            parent.columnconfigure(1, weight=1)
            parent.rowconfigure(1, weight=1)
            parent.rowconfigure(2, weight=0)


class CalibrationTab(ttk.Frame):
    """Reliability diagrams, recalibration and the decision curve of the active model.

    Widgets tests read: ``source_label``, ``compute_button``, ``evidence_label``,
    ``choice_var`` (one of ``calibration_analysis.CHOICES``), ``choice_buttons``,
    ``apply_button``, ``remove_button``, ``recal_label``, ``cells`` (``{(measure,
    column): label}``, columns ``before``, ``cross``, ``fitted``; measures as
    :data:`MEASURES` plus ``sensitivity``, ``specificity``), ``headings``, ``advice_label``, ``note_label``,
    ``range_var``, ``range_box``, ``readout_label``, ``verdict_label``, ``curve_label``;
    after :meth:`ensure_plots`: ``cal_plot``, ``dc_plot`` (plots.OffscreenPicture);
    once shown, :attr:`analysis` and :attr:`curves` (what the pictures on screen show),
    ``threshold_line``, ``nb_point`` (item ids on ``dc_plot.widget``).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self.cal_plot: OffscreenPicture | None = None
        self.dc_plot: OffscreenPicture | None = None
        self.threshold_line = self.nb_point = None
        self._oof = None
        self._network = None
        self._evidence_job = None
        self._shown_analysis: ca.Analysis | None = None
        self._shown_curves: ca.CurveSet | None = None
        self._fitted_for: ca.Analysis | None = None  # the analysis self._fitted_probs are of
        self._fitted_probs: np.ndarray | None = None

        self.columnconfigure(0, weight=1)
        self._build_evidence().grid(row=0, column=0, sticky="ew")
        # Two pages, so that each fits the window with its picture at a readable size.
        self.pages = ttk.Notebook(self)
        self.pages.grid(row=1, column=0, sticky="nsew", pady=(8, 0))
        self.rowconfigure(1, weight=1)
        self.calibration_page = self._build_calibration()
        self.decision_page = self._build_decision()
        self.pages.add(self.calibration_page, text="Calibration and recalibration", padding=8)
        self.pages.add(self.decision_page, text="Decision curve", padding=8)
        self.layout = _SideBySide(self, [self._cal_parts, self._dc_parts], self._fit_picture)
        self.bind("<Map>", lambda _e: self.ensure_plots(), add="+")

        app.root.bind("<<ModelChanged>>", lambda _e: self._on_model_changed(), add="+")
        app.root.bind("<<ThresholdChanged>>", lambda _e: self._on_threshold_changed(), add="+")
        app.root.bind("<<EvidenceChanged>>", lambda _e: self._on_evidence_changed(), add="+")
        app.root.bind("<<DataChanged>>", lambda _e: self._on_evidence_changed(), add="+")  # labelled data or not
        app.root.bind(TEXT_SCALE_EVENT, lambda _e: self._request_all(), add="+")
        self._on_model_changed()

    # ----------------------------------------------------------------- layout
    def _build_evidence(self) -> ttk.Frame:
        box = ttk.Frame(self)
        box.columnconfigure(0, weight=1)
        self.source_label = wrap_to_width(ttk.Label(box, text="", style="Bold.TLabel"), 40)
        self.source_label.grid(row=0, column=0, sticky="ew")
        row = ttk.Frame(box)
        row.grid(row=1, column=0, sticky="ew")
        row.columnconfigure(1, weight=1)
        self.compute_button = ttk.Button(row, text="Compute out-of-fold evidence", command=self.compute_evidence)
        self.evidence_label = wrap_to_width(ttk.Label(row, text="", style="Muted.TLabel"), 30)
        self.evidence_label.grid(row=0, column=1, sticky="ew", padx=(8, 0))
        return box

    def _build_calibration(self) -> ttk.Frame:
        frame = ttk.Frame(self)
        ttk.Label(frame, text="Do the predicted probabilities match what happened?", style="Bold.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w", pady=(0, 6))
        left = ttk.Frame(frame)
        left.columnconfigure(0, weight=1)
        choose = ttk.Frame(left)
        choose.grid(row=0, column=0, sticky="w")
        ttk.Label(choose, text="Recalibration:").pack(side="left")
        self.choice_var = tk.StringVar(self, "none")
        self.choice_buttons = {}
        for kind in ca.CHOICES:
            button = ttk.Radiobutton(choose, text=ca.CHOICE_LABELS[kind], value=kind, variable=self.choice_var,
                                     command=self._on_choice)
            button.pack(side="left", padx=(6, 0))
            self.choice_buttons[kind] = button
        actions = ttk.Frame(left)
        actions.grid(row=1, column=0, sticky="w", pady=(4, 0))
        self.apply_button = ttk.Button(actions, text="Apply to the model", command=self.apply)
        self.apply_button.pack(side="left")
        self.remove_button = ttk.Button(actions, text="Remove recalibration", command=self.remove)
        self.remove_button.pack(side="left", padx=(6, 0))
        self.recal_label = wrap_to_width(ttk.Label(left, text=""), 30)
        self.recal_label.grid(row=2, column=0, sticky="ew", pady=(4, 0))
        self._build_table(left).grid(row=3, column=0, sticky="ew", pady=(6, 0))
        self.advice_label = wrap_to_width(ttk.Label(left, text=""), 30)
        self.advice_label.grid(row=4, column=0, sticky="ew", pady=(6, 0))
        self.note_label = wrap_to_width(ttk.Label(left, text="", style="Small.TLabel"), 30)
        self.note_label.grid(row=5, column=0, sticky="ew", pady=(4, 0))

        self.cal_frame = ttk.Frame(frame)
        self._cal_parts = (frame, left, self.cal_frame)
        return frame

    def _build_table(self, parent: tk.Misc) -> ttk.Frame:
        table = ttk.Frame(parent)
        table.columnconfigure(0, weight=1)
        self.headings = {}
        for col, (key, text) in enumerate((("measure", ""), ("before", "Network"),
                                           ("cross", "After,\ncross-fitted"),
                                           ("fitted", "After, on the\nfitted pairs")), start=0):
            label = ttk.Label(table, text=text, style="Bold.TLabel", justify="right" if col else "left")
            label.grid(row=0, column=col, sticky="se" if col else "sw", padx=(10 if col else 0, 0))
            self.headings[key] = label
        self.cells: dict[tuple[str, str], ttk.Label] = {}
        r = 1
        rows = [*MEASURES, ("sensitivity", "Sensitivity at the threshold", ""),
                ("specificity", "Specificity at the threshold", "")]
        self.row_names = {}
        for key, name, meaning in rows:
            head = ttk.Label(table, text=name)
            head.grid(row=r, column=0, sticky="w", pady=(3, 0))
            self.row_names[key] = head
            for col, column in enumerate(COLUMNS, start=1):
                cell = ttk.Label(table, text="", anchor="e", width=7)
                cell.grid(row=r, column=col, sticky="e", padx=(10, 0), pady=(3, 0))
                self.cells[(key, column)] = cell
            r += 1
            if meaning:
                wrap_to_width(ttk.Label(table, text=meaning, style="Small.TLabel"), 30).grid(
                    row=r, column=0, columnspan=4, sticky="ew", padx=(12, 0))
                r += 1
        return table

    def _build_decision(self) -> ttk.Frame:
        frame = ttk.Frame(self)
        ttk.Label(frame, text="Is using the model better than treating everyone, or no one?",
                  style="Bold.TLabel").grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 6))
        left = ttk.Frame(frame)
        left.columnconfigure(0, weight=1)
        pick = ttk.Frame(left)
        pick.grid(row=0, column=0, sticky="w")
        ttk.Label(pick, text="Thresholds shown").pack(side="left")
        self.range_var = tk.StringVar(self, RANGES[0][0])
        self.range_box = ttk.Combobox(pick, textvariable=self.range_var, values=[r[0] for r in RANGES],
                                      state="readonly", width=7)
        self.range_box.pack(side="left", padx=(6, 0))
        self.range_box.bind("<<ComboboxSelected>>", lambda _e: self._request_decision())
        self.curve_label = wrap_to_width(ttk.Label(left, text="", style="Muted.TLabel"), 36)
        self.curve_label.grid(row=1, column=0, sticky="ew", pady=(4, 0))
        self.readout_label = wrap_to_width(ttk.Label(left, text=""), 36)
        self.readout_label.grid(row=2, column=0, sticky="ew", pady=(4, 0))
        self.verdict_label = wrap_to_width(ttk.Label(left, text=""), 36)
        self.verdict_label.grid(row=3, column=0, sticky="ew", pady=(2, 0))
        wrap_to_width(ttk.Label(left, style="Small.TLabel", text=(
            "Net benefit = true positives/n \u2212 false positives/n \u00d7 t/(1 \u2212 t). The threshold t says "
            "how many unnecessary interventions (e.g. biopsies) one would accept to find one cancer: 4 at 20%, "
            "9 at 10%. A net benefit of 0.30 is as good as finding 30 cancers in 100 patients with no "
            "unnecessary intervention. The model is worth using where its curve lies above both "
            "\u201ctreat all\u201d and \u201ctreat none\u201d.")), 36).grid(row=4, column=0, sticky="ew",
                                                                          pady=(4, 0))
        self.dc_frame = ttk.Frame(frame)
        self._dc_parts = (frame, left, self.dc_frame)
        return frame

    # ----------------------------------------------------------------- pictures
    def ensure_plots(self) -> None:
        """Make the pictures (once, when the tab is first shown) and ask for the current
        model's; after that, draw whatever changed while the tab was hidden."""
        if self.cal_plot is not None:
            self.cal_plot.refresh()
            self.dc_plot.refresh()
            return
        from bcdesktop.gui.plots import OffscreenPicture

        self.cal_plot = OffscreenPicture(self.cal_frame, self.app.report_exception, size=self.PICTURE_INCHES,
                                         name="draw-calibration")
        self.cal_plot.on_shown = lambda _p: self._show_analysis()
        self.dc_plot = OffscreenPicture(self.dc_frame, self.app.report_exception, size=self.PICTURE_INCHES,
                                        name="draw-decision-curve")
        self.dc_plot.on_shown = lambda _p: self._show_curves()
        self.layout.update()  # sizes the pictures for the layout in use
        self._request_all()

    PICTURE_INCHES = (5.8, 3.4)  # what each picture asks for beside its controls

    def _fit_picture(self, i: int, stacked: bool, room: int) -> None:
        """Below its controls a picture is as wide as the page: make it taller too (about
        half as tall as wide, within what the text size asks for), or its diagrams would
        be squashed; beside them, back to its usual size."""
        plot = (self.cal_plot, self.dc_plot)[i]
        if plot is None:
            return
        base = round(self.PICTURE_INCHES[1] * plot.widget.winfo_fpixels("1i"))
        height = max(base, min(round(0.45 * room), round(base * size_factor(self)))) if stacked else base
        if int(plot.widget.cget("height")) != height:
            plot.widget.configure(height=height)

    def _request_all(self) -> None:
        self._request_calibration()
        self._request_decision()

    def _text_points(self) -> float:
        size = tkfont.nametofont("TkDefaultFont", root=self).actual("size")
        return float(size) if size > 0 else -size * 72.0 / self.winfo_fpixels("1i")

    def _request_calibration(self) -> None:
        if self.cal_plot is None:
            return
        oof, kind, pt = self._oof, self.choice_var.get(), self._text_points()
        if oof is None:
            self.cal_plot.request(lambda figure: _no_evidence(figure, pt), token=None)
            return

        def draw(figure):
            from bcdesktop.gui.calibration_plots import draw_reliability

            analysis = ca.analyse(oof, kind)
            info = draw_reliability(figure, analysis, pt)
            info["analysis"] = analysis
            return info

        self.cal_plot.request(draw, token=(id(oof), kind), note="Computing\u2026")

    def _model_kind(self) -> str:
        return ca.kind_of(getattr(self.app.model, "recalibration", None))

    def _t_max(self) -> float:
        return dict(RANGES).get(self.range_var.get(), 0.99)

    def _request_decision(self) -> None:
        if self.dc_plot is None:
            return
        oof, pt = self._oof, self._text_points()
        if oof is None:
            self.dc_plot.request(lambda figure: _no_evidence(figure, pt), token=None)
            return
        model_kind, chosen, t_max = self._model_kind(), self.choice_var.get(), self._t_max()

        def draw(figure):
            from bcdesktop.gui.calibration_plots import draw_decision

            curves = ca.curves(oof, model_kind, chosen)
            info = draw_decision(figure, curves, t_max, pt)
            info["curves"], info["t_max"] = curves, t_max
            return info

        self.dc_plot.request(draw, token=(id(oof), model_kind, chosen, t_max), note="Computing\u2026")

    @property
    def analysis(self) -> ca.Analysis | None:
        """What the reliability diagrams on screen show (None before the first)."""
        return self._shown_analysis

    @property
    def curves(self) -> ca.CurveSet | None:
        """What the decision curve on screen shows (None before the first)."""
        return self._shown_curves

    # ----------------------------------------------------------------- the model
    def _on_model_changed(self) -> None:
        model = self.app.model
        oof = getattr(model, "oof", None)
        recal = getattr(model, "recalibration", None)
        network = getattr(model, "network_id", None) if model is not None else None
        if recal is not None:
            self.choice_var.set(recal.kind)
        elif network != self._network:
            self.choice_var.set("none")
        self._network = network
        self._oof = oof
        self._shown_analysis = self._shown_curves = None
        self._describe_evidence()
        self._update_controls()
        self._clear_figures()
        self._request_all()

    def _describe_evidence(self) -> None:
        model, oof = self.app.model, self._oof
        if model is None:
            self.source_label.configure(text=f"{WARNING_MARK} No model is loaded.", foreground=ERROR_TEXT)
        elif oof is None:
            self.source_label.configure(
                text=f"{WARNING_MARK} Model {model.model_id} carries no out-of-fold evidence, so its calibration "
                     "and net benefit cannot be judged here. Compute it: the model's settings are "
                     "cross-validated on the current data (10 folds, 5 repeats) in the background.",
                foreground=ERROR_TEXT)
        else:
            self.source_label.configure(
                text=f"Model {model.model_id}, judged on its network's {oof.describe()}: all {oof.probs.size:,} "
                     f"predictions pooled, 95% intervals taken at the {oof.n:,} rows.", foreground="")
        if model is not None and oof is None:
            self.compute_button.grid(row=0, column=0, sticky="w", pady=(4, 0))
        else:
            self.compute_button.grid_remove()
        self._on_evidence_changed()

    def _update_controls(self) -> None:
        model, oof = self.app.model, self._oof
        recal = getattr(model, "recalibration", None)
        for button in self.choice_buttons.values():
            button.state(["!disabled"] if oof is not None else ["disabled"])
        self.remove_button.state(["!disabled"] if recal is not None else ["disabled"])
        analysis = self._shown_analysis
        ready = (oof is not None and analysis is not None and analysis.kind == self.choice_var.get()
                 and analysis.recalibration is not None
                 and not ca.same_recalibration(analysis.recalibration, recal))
        self.apply_button.state(["!disabled"] if ready else ["disabled"])
        if model is None:
            text = ""
        elif recal is None:
            text = "The active model is not recalibrated: every tab shows the network's own probabilities."
        else:
            text = f"The active model applies {_lower_first(recal.describe())}, in every tab and on the command line."
        chosen = self.choice_var.get()
        if analysis is not None and analysis.error and analysis.kind == chosen:
            self.recal_label.configure(text=f"{WARNING_MARK} {analysis.error}", foreground=ERROR_TEXT)
        else:
            self.recal_label.configure(text=text, foreground="")

    def _clear_figures(self) -> None:
        for cell in self.cells.values():
            cell.configure(text="")
        self.readout_label.configure(text="")
        self.verdict_label.configure(text="")
        self.curve_label.configure(text="Computing\u2026" if self._oof is not None else "")
        self.note_label.configure(text="")
        self.advice_label.configure(text="")
        self._show_columns(self.choice_var.get() != "none")
        if self.dc_plot is not None and self.threshold_line is not None:
            for item in (self.threshold_line, self.nb_point):
                self.dc_plot.widget.itemconfigure(item, state="hidden")

    def _show_columns(self, after: bool) -> None:
        for (_key, column), cell in self.cells.items():
            if column == "before":
                continue
            (cell.grid if after else cell.grid_remove)()
        for key in ("cross", "fitted"):
            (self.headings[key].grid if after else self.headings[key].grid_remove)()

    # ----------------------------------------------------------------- evidence
    def compute_evidence(self) -> None:
        """Cross-validate the model's settings for its out-of-fold evidence (the app's job)."""
        self._evidence_job = self.app.compute_evidence()
        self._on_evidence_changed()

    def _on_evidence_changed(self) -> None:
        state = getattr(self.app, "evidence_state", "")
        # a run this tab started, or one the app started itself (after training): its
        # state ends in an ellipsis while it runs
        running = (self._evidence_job is not None and not self._evidence_job.finished) or state.endswith("\u2026")
        no_data = self.app.dataset is None or getattr(self.app.dataset, "y", None) is None
        if self._oof is None and self.app.model is not None and not state and no_data:
            state = "Out-of-fold evidence needs labelled data: load the model's training data."
        self.evidence_label.configure(text=state if self._oof is None else "")
        self.compute_button.state(["disabled"] if running or no_data else ["!disabled"])

    # ----------------------------------------------------------------- recalibration
    def _on_choice(self) -> None:
        self._shown_analysis = None
        self._clear_figures()
        self._update_controls()
        self._request_all()

    def apply(self) -> None:
        """Make the active model the one with the chosen recalibration (fitted on all the
        out-of-fold pairs): a new model id, shown in the status bar."""
        analysis, model = self._shown_analysis, self.app.model
        if model is None or analysis is None or analysis.recalibration is None:
            return
        recal = analysis.recalibration
        bundle = model.with_parts(recalibration=recal, threshold=self.app.threshold)
        self.app.set_model(bundle, source=f"recalibrated: {ca.CHOICE_LABELS[recal.kind]}")
        self.app.set_status_message(f"Model {bundle.model_id} applies {_lower_first(recal.describe())}; "
                                    "save it to keep it.")

    def remove(self) -> None:
        """Make the active model the same network without its recalibration."""
        model = self.app.model
        if model is None or getattr(model, "recalibration", None) is None:
            return
        bundle = model.with_parts(recalibration=None, threshold=self.app.threshold)
        self.app.set_model(bundle, source="recalibration removed")
        self.app.set_status_message(f"Model {bundle.model_id}: the network's own probabilities again.")

    def _show_analysis(self) -> None:
        info = self.cal_plot.info if self.cal_plot is not None else None
        analysis = info.get("analysis") if isinstance(info, dict) else None
        if analysis is None or self.cal_plot.token != (id(self._oof), self.choice_var.get()):
            return
        self._shown_analysis = analysis
        after = analysis.kind != "none"
        self._show_columns(after)
        for key, *_ in MEASURES:
            self.cells[(key, "before")].configure(text=format_measure(key, getattr(analysis.before, key)))
            for column, summary in (("cross", analysis.after_cross), ("fitted", analysis.after_fitted)):
                self.cells[(key, column)].configure(
                    text="" if not after else format_measure(key, None if summary is None else getattr(summary, key)))
        if after and analysis.recalibration is not None:
            self.note_label.configure(text=(
                f"Cross-fitted: each row's recalibrated probability comes from a fit on the other "
                f"{ca.CROSS_FOLDS - 1} of {ca.CROSS_FOLDS} groups of rows (identical score patterns in one group), "
                "so it is not judged on what it learnt from. \u201cOn the fitted pairs\u201d is optimistic: the "
                "recalibration is judged on the pairs it was fitted on"
                + (" (isotonic regression there looks nearly perfect)" if analysis.kind == "isotonic" else "")
                + f". \u201cApply\u201d uses the fit on all {analysis.recalibration.n_pairs:,} pairs."
                + _extremes_note(analysis)))
        else:
            self.note_label.configure(text="")
        self.advice_label.configure(text=_advice(analysis))
        self._update_controls()
        self._threshold_rows()
        self._publish()

    def _threshold_rows(self) -> None:
        analysis, oof = self._shown_analysis, self._oof
        t = self.app.threshold
        for key in ("sensitivity", "specificity"):
            self.row_names[key].configure(text=f"{key.capitalize()} at {format_threshold(t)}")
        if analysis is None or oof is None:
            return
        sets = {"before": oof.probs}
        if analysis.kind != "none" and analysis.recalibration is not None:
            if self._fitted_for is not analysis:
                self._fitted_for, self._fitted_probs = analysis, analysis.recalibration.apply(oof.probs)
            sets["cross"] = analysis.cross_probs
            sets["fitted"] = self._fitted_probs
        for column in COLUMNS:
            probs = sets.get(column)
            m = None if probs is None else decision.evidence_metrics(probs, oof.labels, t)
            for key in ("sensitivity", "specificity"):
                self.cells[(key, column)].configure(text="" if m is None else format_percent(getattr(m, key).value))

    # ----------------------------------------------------------------- decision curve
    def _show_curves(self) -> None:
        info = self.dc_plot.info if self.dc_plot is not None else None
        curves = info.get("curves") if isinstance(info, dict) else None
        if curves is None or self.dc_plot.token != (id(self._oof), self._model_kind(), self.choice_var.get(),
                                                     self._t_max()):
            return
        self._shown_curves = curves
        text = (f"Solid: {curves.main_label}, mean of {curves.main.repeats} repeats"
                + (f"; dash-dotted: {curves.other_label}" if curves.other is not None else "") + ".")
        if curves.note:
            text += f" {WARNING_MARK} {curves.note}"
        self.curve_label.configure(text=text)
        self._on_threshold_changed()

    def _on_threshold_changed(self) -> None:
        self._threshold_rows()
        curves = self._shown_curves
        if curves is None:
            return
        t = self.app.threshold
        r = ca.readout(curves.main_probs, curves.labels, t)
        spread = (f" (lowest {format_nb(r.low)}, highest {format_nb(r.high)})" if r.repeats > 1 else "")
        avoided = f"{r.avoided_per_100:.1f}".replace("-", "\u2212")
        self.readout_label.configure(text=(
            f"At the threshold {format_threshold(t)}"
            + (f" (mean of {r.repeats} repeats)" if r.repeats > 1 else "") + ":\n"
            f"\u2022 model: net benefit {format_nb(r.net_benefit)}{spread}\n"
            f"\u2022 treat all {format_nb(r.treat_all)}; treat none 0\n"
            f"\u2022 net interventions avoided: {avoided} per 100 patients, compared with intervening in all"))
        self.verdict_label.configure(text=_verdict(r))
        self._place_marker(r)
        self._publish(r)

    def _place_marker(self, r: ca.Readout) -> None:
        plot = self.dc_plot
        if plot is None or plot.figure is None or not isinstance(plot.info, dict) or "ax" not in plot.info:
            return
        canvas, ax = plot.widget, plot.info["ax"]
        scale = plot.figure.dpi / 72 * plot.info["points"] / 10.0
        if self.threshold_line is None:
            self.threshold_line = canvas.create_line(0, 0, 0, 0, fill="black")
            self.nb_point = canvas.create_oval(0, 0, 0, 0, fill="white", outline="black")
        if r.threshold > plot.info["t_max"] + 1e-12:
            for item in (self.threshold_line, self.nb_point):
                canvas.itemconfigure(item, state="hidden")
            return
        width = max(1, round(1.2 * scale))
        x, top = plot.to_pixels(ax.get_xaxis_transform(), (100 * r.threshold, 1.0))
        _x, bottom = plot.to_pixels(ax.get_xaxis_transform(), (100 * r.threshold, 0.0))
        canvas.coords(self.threshold_line, x, top, x, bottom)
        canvas.itemconfigure(self.threshold_line, state="normal", width=width,
                             dash=(round(3 * width), round(2 * width)))
        cx, cy = plot.to_pixels(ax.transData, (100 * r.threshold, r.net_benefit))
        radius = 4.5 * scale
        canvas.coords(self.nb_point, cx - radius, cy - radius, cx + radius, cy + radius)
        canvas.itemconfigure(self.nb_point, state="normal", width=max(1, round(1.5 * scale)))

    def threshold_line_x(self) -> float | None:
        """Where the threshold marker is drawn, as a threshold (0..1), read back from the canvas."""
        if self.threshold_line is None or self.dc_plot.widget.itemcget(self.threshold_line, "state") == "hidden":
            return None
        x0, _y0, _x1, _y1 = self.dc_plot.widget.coords(self.threshold_line)
        return float(self.dc_plot.info["ax"].transData.inverted().transform((x0, 0))[0]) / 100

    def nb_point_xy(self) -> tuple[float, float] | None:
        """Where the net-benefit point is drawn, as (threshold, net benefit), read back."""
        if self.nb_point is None or self.dc_plot.widget.itemcget(self.nb_point, "state") == "hidden":
            return None
        x0, y0, x1, y1 = self.dc_plot.widget.coords(self.nb_point)
        height = self.dc_plot.figure.bbox.height
        x, y = self.dc_plot.info["ax"].transData.inverted().transform(((x0 + x1) / 2, height - (y0 + y1) / 2))
        return float(x) / 100, float(y)

    # ----------------------------------------------------------------- export
    def _publish(self, r: ca.Readout | None = None) -> None:
        analysis, curves = self._shown_analysis, self._shown_curves
        if self._oof is None or analysis is None:
            self.app.set_results("Calibration", None)
            return
        rows = [("evidence", self._oof.describe())]
        for key, name, _meaning in MEASURES:
            rows.append((f"{name} (network)", format_measure(key, getattr(analysis.before, key))))
        model_recal = getattr(self.app.model, "recalibration", None)
        rows.append(("recalibration applied", "none" if model_recal is None else model_recal.describe()))
        if curves is not None:
            if r is None or r.threshold != self.app.threshold:
                r = ca.readout(curves.main_probs, curves.labels, self.app.threshold)
            rows += [("decision curve of", curves.main_label),
                     (f"net benefit at {format_threshold(r.threshold)}", format_nb(r.net_benefit)),
                     ("net benefit, treat all", format_nb(r.treat_all)),
                     ("net interventions avoided per 100", f"{r.avoided_per_100:.1f}")]
        self.app.set_results("Calibration", rows)


def _verdict(r: ca.Readout) -> str:
    better_all = r.net_benefit > r.treat_all + 1e-12
    better_none = r.net_benefit > 1e-12
    if better_all and better_none:
        return "Here the model does better than treating all and than treating none."
    if not better_none and not better_all:
        return f"{WARNING_MARK} Here the model does no better than treating all or treating none."
    if not better_none:
        return f"{WARNING_MARK} Here the model does no better than treating no one."
    return f"{WARNING_MARK} Here the model does no better than treating everyone."


def _advice(analysis: ca.Analysis) -> str:
    """What the cross-fitted Brier score says about the chosen recalibration."""
    before, after = analysis.before, analysis.after_cross
    if analysis.kind == "none" or after is None:
        return ""
    name = ca.CHOICE_LABELS[analysis.kind]
    if after.brier < before.brier - 0.00005:
        return (f"On rows it was not fitted on, {_lower_first(name)} lowers the Brier score from "
                f"{before.brier:.4f} to {after.brier:.4f}.")
    return (f"On rows it was not fitted on, {_lower_first(name)} does not lower the Brier score "
            f"({after.brier:.4f} against {before.brier:.4f}): the network's own probabilities do as well.")


def _extremes_note(analysis: ca.Analysis) -> str:
    """For isotonic regression: how many cross-fitted probabilities are exactly 0% or
    100%, which the calibration slope (on the log-odds) counts as extreme."""
    p = analysis.cross_probs
    if analysis.kind != "isotonic" or p is None:
        return ""
    k = int(np.count_nonzero((p <= 0.0) | (p >= 1.0)))
    if k == 0:
        return ""
    return (f" {k:,} of the {p.size:,} cross-fitted probabilities are exactly 0% or 100%: the slope, measured "
            "on the log-odds, counts them as extreme.")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != "Pl" else text


def _no_evidence(figure, pt: float) -> dict:
    """A picture saying there is nothing to draw (runs in the picture's worker)."""
    figure.text(0.5, 0.5, "No out-of-fold evidence", ha="center", va="center", fontsize=pt, color="0.35")
    return {"points": pt}
