"""The Threshold tab's parts: the evidence it judges a threshold on, the confusion
matrix whose cells list their cases, the case list, and the expected-cost picture.

:class:`Evidence` is plain NumPy (no Tk): the probabilities a model gave rows it did
not see, sorted once when the model or the evidence changes, so that the figures at a
threshold are a few binary searches (microseconds) and follow the slider at once.

The evidence is one of

- **out-of-fold**: every row of the model's training data, predicted in each of R
  repeats of its cross-validation by the network that did not see it (``bundle.oof``);
  counts are pooled over the R x n pairs and every interval is taken at n rows
  (:mod:`bcdesktop.decision`);
- **validation**: the one split's held-out rows (``bundle.eval_probs``), R = 1.

A case of an out-of-fold confusion cell is a row whose probability *averaged over the
repeats* falls in that cell at the threshold: each row is listed once, so a cell's list
may hold a case or two more or fewer than the cell's count, which is the average of the
repeats' counts.
"""

from __future__ import annotations

import math
import tkinter as tk
from dataclasses import dataclass
from tkinter import ttk

import numpy as np

from bcdesktop import decision, metrics
from bcdesktop.gui.widgets import (
    ACCENT,
    METRIC_ROWS,
    PRESSED,
    RULE,
    SURFACE,
    TEXT,
    ConfusionGrid,
    MetricsTable,
    ScrolledTree,
)
from bcdesktop.metrics import format_percent

CELL_NAMES = {"tp": "true positives", "fp": "false positives", "tn": "true negatives", "fn": "false negatives"}
CELL_ONE = {"tp": "a true positive", "fp": "a false positive", "tn": "a true negative", "fn": "a false negative"}
CELL_MEANING = {"tp": "malignant, called malignant", "fp": "benign, called malignant",
                "tn": "benign, called benign", "fn": "malignant, called benign"}
#: The case list's short score headings, in ``schema.FEATURES`` order, and what they stand for.
SCORE_HEADINGS = ("Clump", "Size", "Shape", "Adhesion", "Epith.", "Nuclei", "Chrom.", "Nucleoli", "Mitoses")
SCORE_LEGEND = ("Clump: clump thickness; Size, Shape: uniformity of cell size and shape; Adhesion: marginal "
                "adhesion; Epith.: single epithelial cell size; Nuclei: bare nuclei; Chrom.: bland chromatin; "
                "Nucleoli: normal nucleoli.")
DASH = "\u2014"


def parse_percent(text: str, what: str) -> tuple[float | None, str | None]:
    """``("5", ...)`` or ``"5%"`` -> ``(0.05, None)``: a percentage strictly between 0 and
    100, else ``(None, message)``."""
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        return None, f"Enter {what} as a percentage above 0 and below 100, e.g. 5."
    if not (math.isfinite(value) and 0 < value < 100):
        return None, f"{what.capitalize()} must lie above 0% and below 100%, not {raw}%."
    return value / 100, None


def parse_positive(text: str, what: str) -> tuple[float | None, str | None]:
    """A finite number above 0, else ``(None, message)``."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        return None, f"Enter {what} as a number above 0, e.g. 10."
    if not (math.isfinite(value) and value > 0):
        return None, f"{what.capitalize()} must be a number above 0, not {raw}."
    return value, None


def format_count(value: float, repeats: int) -> str:
    """A confusion count: whole for one repeat, one decimal for an average over repeats."""
    return f"{int(round(value))}" if repeats == 1 else f"{value:.1f}"


def format_number(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def format_prevalence(pi: float) -> str:
    """0.05 -> "5%", 0.3499 -> "35%", 0.025 -> "2.5%"."""
    return f"{100 * pi:.1f}".rstrip("0").rstrip(".") + "%"


class EvidenceMetricsTable(MetricsTable):
    """:class:`~bcdesktop.gui.widgets.MetricsTable` for pooled evidence: with R repeats
    its k / n column shows the average per repeat (``232.0 / 239``), as the confusion
    matrix does, while the intervals are those of :func:`bcdesktop.decision.pooled_metrics`."""

    def __init__(self, parent: tk.Misc, *, height: int = 5):
        ScrolledTree.__init__(self, parent, (("metric", "Metric", 96, "w"), ("value", "Value", 64, "e"),
                                             ("ci", "95% CI", 104, "e"), ("kn", "k / n", 100, "e")),
                              height=height, stretch=0, scrollbars=False)

    def show(self, metrics, repeats: int = 1) -> None:
        if metrics is None or repeats == 1:
            super().show(metrics)
            return
        rows = []
        for attr, label in METRIC_ROWS:
            rate = getattr(metrics, attr)
            value = rate.value
            interval = "" if value != value else f"{100 * rate.low:.1f}-{100 * rate.high:.1f}%"
            rows.append((label.split(" (")[0], format_percent(value), interval,
                         f"{rate.k / repeats:.1f} / {rate.n // repeats}"))
        self.replace_rows(rows)


# ---------------------------------------------------------------- the evidence
@dataclass(frozen=True)
class CaseRows:
    """Where the evidence's rows come from: their scores and, when the loaded data are
    the model's training data, their lines and sample ids.

    ``scores`` (n, 9) or None (the validation split keeps no scores); ``lines`` (n,) and
    ``ids`` (n,) or None; ``why`` says in a sentence why lines and ids are missing."""

    scores: np.ndarray | None
    lines: np.ndarray | None
    ids: np.ndarray | None
    why: str = ""


class Evidence:
    """Held-out probabilities of one model, ready for the slider.

    Parameters
    ----------
    kind : {"out-of-fold", "validation"}
    probs : array (R, n) or (n,)
    y : array (n,) of 0/1
    description : str
        What the label says, e.g. "out-of-fold predictions of 683 rows x 5 repeats (...)".
    rows_word : str
        How the find messages name the rows ("validation rows", "out-of-fold rows").
    """

    def __init__(self, kind: str, probs, y, *, description: str, rows_word: str):
        p, yb = decision.as_evidence(probs, y)
        self.kind = kind
        self.probs = p
        self.probs.setflags(write=False)
        self.y = yb.astype(np.int8)
        self.repeats, self.n = p.shape
        self.description = description
        self.rows_word = rows_word
        pooled, labels = p.ravel(), np.tile(yb, self.repeats)
        self._pos = np.sort(pooled[labels])
        self._neg = np.sort(pooled[~labels])
        self.n_pos = int(np.count_nonzero(yb))
        self.n_neg = self.n - self.n_pos
        self.mean = p.mean(axis=0)
        self.mean.setflags(write=False)
        self.roc = metrics.roc_curve_auc(labels.astype(np.int8), pooled)
        self.log_loss = metrics.log_loss(labels.astype(np.int8), pooled)
        self.prevalence = self.n_pos / self.n
        self.both_classes = 0 < self.n_pos < self.n

    def __repr__(self) -> str:
        return f"Evidence({self.kind}, n={self.n}, repeats={self.repeats})"

    @property
    def rows_phrase(self) -> str:
        """"683 out-of-fold rows x 5 repeats" / "137 validation rows" (as decision says it)."""
        return decision._rows_phrase(self.n, self.repeats, self.kind)

    def counts(self, t: float) -> tuple[int, int, int, int]:
        """Pooled (tp, fp, tn, fn) over the R x n pairs at threshold ``t`` (p >= t is malignant)."""
        tp = self._pos.size - int(np.searchsorted(self._pos, t, side="left"))
        fp = self._neg.size - int(np.searchsorted(self._neg, t, side="left"))
        return tp, fp, self._neg.size - fp, self._pos.size - tp

    def metrics(self, t: float) -> metrics.ThresholdMetrics:
        """:func:`bcdesktop.decision.pooled_metrics` at ``t``: pooled counts, intervals at n rows."""
        return decision.pooled_metrics(*self.counts(t), t, self.repeats)

    def cell_rows(self, cell: str, t: float) -> np.ndarray:
        """Rows (indices) whose mean probability falls in confusion ``cell`` at ``t``."""
        called = self.mean >= t
        actual = self.y == 1
        mask = {"tp": actual & called, "fn": actual & ~called, "fp": ~actual & called,
                "tn": ~actual & ~called}[cell]
        idx = np.flatnonzero(mask)
        # the most confident calls first: the surest misses and false alarms lead their lists
        order = np.argsort(-self.mean[idx] if cell in ("tp", "fp") else self.mean[idx], kind="stable")
        return idx[order]


# ---------------------------------------------------------------- the clickable confusion matrix
def setup_cell_styles(widget: tk.Misc) -> None:
    """The focused confusion cell: the accent outline on a pressed fill (text 13:1)."""
    style = ttk.Style(widget)
    style.configure("CellFocus.TLabel", background=PRESSED, foreground=TEXT, relief="solid", borderwidth=1,
                    bordercolor=ACCENT, lightcolor=PRESSED, darkcolor=PRESSED, padding=(8, 4), anchor="center")
    style.configure("CellPlain.TLabel", background=SURFACE, foreground=TEXT, relief="solid", borderwidth=1,
                    bordercolor=RULE, lightcolor=SURFACE, darkcolor=SURFACE, padding=(8, 4), anchor="center")


class CaseGrid(ConfusionGrid):
    """A :class:`~bcdesktop.gui.widgets.ConfusionGrid` whose cells list their cases:
    a click, or Enter or Space on a cell reached with Tab, calls ``on_open(cell)``
    (``"tp"``, ``"fp"``, ``"tn"``, ``"fn"``)."""

    def __init__(self, parent: tk.Misc, title: str, on_open):
        super().__init__(parent, title)
        setup_cell_styles(self)
        self.on_open = on_open
        for key, cell in self.cells.items():
            cell.configure(takefocus=True, cursor="hand2", style="CellPlain.TLabel")
            cell.bind("<Button-1>", lambda _e, k=key: self.open(k), add="+")
            for seq in ("<Return>", "<KP_Enter>", "<space>"):
                cell.bind(seq, lambda _e, k=key: (self.open(k), "break")[1])
            cell.bind("<FocusIn>", lambda _e, c=cell: c.configure(style="CellFocus.TLabel"), add="+")
            cell.bind("<FocusOut>", lambda _e, c=cell: c.configure(style="CellPlain.TLabel"), add="+")

    def open(self, key: str) -> None:
        if self.cells[key].cget("text") not in ("-", ""):
            self.on_open(key)


# ---------------------------------------------------------------- the case list
class CaseTable(ScrolledTree):
    """Cases of one confusion cell: line, sample id, the nine scores, probability."""

    def __init__(self, parent: tk.Misc):
        columns = [("line", "Line", 56, "e"), ("id", "Sample id", 92, "w")]
        columns += [(f"s{i}", name, 74, "e") for i, name in enumerate(SCORE_HEADINGS)]
        columns += [("p", "Probability", 100, "e")]
        super().__init__(parent, columns, height=8, stretch=-1)
        self.indices: list[int] = []  # the evidence row of each table row, in order

    def show(self, evidence: Evidence, idx: np.ndarray, source: CaseRows) -> None:
        rows = []
        for i in idx:
            line = DASH if source.lines is None else str(int(source.lines[i]))
            sample = DASH if source.ids is None else str(source.ids[i])
            scores = [DASH] * 9 if source.scores is None else [str(int(v)) for v in source.scores[i]]
            rows.append((line, sample, *scores, f"{evidence.mean[i]:.3f}"))
        self.indices = [int(i) for i in idx]
        self.replace_rows(rows)
        items = self.tree.get_children()
        if items:
            self.tree.selection_set(items[0])
            self.tree.focus(items[0])
            self.tree.see(items[0])

    def selected(self) -> int | None:
        """The evidence row of the selected (else focused) table row, or None."""
        items = list(self.tree.get_children())
        chosen = self.tree.selection() or ((self.tree.focus(),) if self.tree.focus() else ())
        if not chosen or chosen[0] not in items:
            return None
        return self.indices[items.index(chosen[0])]


# ---------------------------------------------------------------- the expected-cost picture
#: The two cost marks, as drawn on the pictures and named in the note under them.
BEST_MARK = "\u25bc"  # ▼ lowest expected cost on the evidence
THEORY_MARK = "\u25bd"  # ▽ the optimum for a calibrated model


def draw_cost_curve(figure, curve: decision.CostCurve | None, unit: str, pt: float, message: str = "") -> dict:
    """Expected cost per 1,000 patients across thresholds on ``figure``: the pooled curve,
    the band of the repeats (min to max), and the two cost thresholds (the lowest cost on
    the evidence, solid, marked BEST_MARK; the calibrated model's 1/(1+R), dotted, marked
    THEORY_MARK). The cost axis stops a little above the larger of the cost of calling
    everyone malignant and a few times the lowest cost, so the low region stays readable
    (the curve may leave the top). Runs in a worker thread: no Tk; only reads ``curve``.
    Without a curve, ``message`` in the middle.
    Returns ``{"ax": axes, "points": the text size used}``."""
    from matplotlib.transforms import blended_transform_factory

    px = figure.dpi / 72
    pt = max(6.0, min(pt, figure.bbox.height / px / 14, figure.bbox.width / px / 30))
    k = pt / 10.0
    if figure.bbox.height < 14 * 6 * px * 2 or figure.bbox.width < 30 * 6 * px:
        figure.subplots_adjust(left=0.2, right=0.97, bottom=0.22, top=0.85)  # too small for a layout engine
    else:
        figure.set_layout_engine("constrained")
    ax = figure.subplots()
    ax.tick_params(labelsize=0.8 * pt)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Threshold", fontsize=0.9 * pt)
    ax.set_ylabel(f"Per 1,000 patients ({unit})", fontsize=0.9 * pt)
    ax.set_title("Expected cost across thresholds", fontsize=pt, pad=1.6 * pt)
    if curve is None:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, message or "No expected cost to show", ha="center", va="center", fontsize=pt,
                transform=ax.transAxes, wrap=True)
        return {"ax": ax, "points": pt}
    t = curve.thresholds
    if curve.per_repeat.shape[0] > 1:
        ax.fill_between(t, curve.per_repeat.min(axis=0), curve.per_repeat.max(axis=0), color="0.8", linewidth=0)
    ax.plot(t, curve.pooled, color="black", linewidth=1.5 * k)
    for x, style, mark in ((curve.best_threshold, "-", BEST_MARK), (curve.theoretical_threshold, ":", THEORY_MARK)):
        ax.axvline(x, color="black", linewidth=1.0 * k, linestyle=style)
        ax.text(x, 1.0, mark, transform=blended_transform_factory(ax.transData, ax.transAxes), ha="center",
                va="bottom", fontsize=0.9 * pt)
    finite = curve.pooled[np.isfinite(curve.pooled)]
    high = float(finite.max()) if finite.size else 1.0
    cap = max(float(curve.pooled[0]), 4.0 * curve.best_cost_per_1000, 1e-9) * 1.1
    ax.set_ylim(0, min(high * 1.05, cap) or 1.0)
    return {"ax": ax, "points": pt}
