"""The one-page PDF patient report of one prediction (issue 13).

:func:`report_pdf_bytes` draws an A4 portrait page from a
:class:`~bcdesktop.predictor.CasePrediction` and the
:class:`~bcdesktop.persistence.ModelBundle` that made it: the nine scores with their
meanings, the probability with its Venn-Abers interval, the call at the threshold and
how that threshold was chosen, the waterfall of the Shapley contributions, the
matching training cases, the model (its id, where it came from, the SHA-256 of its
training data and of its file, its cross-validated figures), the audit-trail entry and
the disclaimer. :func:`write_report` writes it atomically, never over an input nor a
file shipped with the app.

The page is laid out top to bottom in points (1/72 inch) on a fixed grid; every text
that comes from outside (the threshold note, the origin, a feature's name) is wrapped
or shortened to its column by its measured width, so nothing overlaps or leaves the
page. Fonts are embedded as TrueType (``pdf.fonttype`` 42), so the text can be copied
and searched; the file has no creation date but the report's own time, so the same
report gives the same bytes.

A core module: no tkinter, no pyplot; matplotlib is imported only when a page is drawn.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from . import DISCLAIMER, __version__
from .errors import UserError
from .metrics import format_percent
from .schema import FEATURE_DESCRIPTIONS, FEATURES, printable

__all__ = ["write_report", "report_pdf_bytes", "threshold_text", "ORIGINS", "EXTERNAL"]

#: The origins a caller names (printed next to the model id).
ORIGINS = ("made on this installation", "shipped with bcdesktop", "external model")
EXTERNAL = "external model"

NO_AUDIT = "not recorded (the audit trail is off)"
NO_AUDIT_FAILED = "not recorded (the audit trail could not be written)"
NO_INTERVAL = "interval not available (the model file has no calibration pairs)"
NO_EXPLANATION = "No explanation available: the model file has no training patterns."
NO_EVIDENCE = "No matching cases available: the model file has no training patterns."
NO_CV = "No cross-validated figures in this model file."
MINUS = "\u2212"

# A4 portrait, in points
PAGE_W, PAGE_H = 595.28, 841.89
MARGIN = 42.0
CONTENT_W = PAGE_W - 2 * MARGIN
FOOT_MARGIN = 32.0  # below the disclaimer

# the app's colours (bcdesktop.gui.widgets), dark enough to read when printed
TEXT = "#1B1F24"
MUTED = "#4F5A65"
RULE = "#CDD4DB"
PANEL = "#F2F4F6"
BENIGN = "#0072B2"
MALIGNANT = "#E69F00"
MALIGNANT_TEXT = "#A35200"
WARNING = "#B00020"

#: (score row, chart row, section gap) in points, from roomy to tight
_LEVELS = ((13.5, 14.0, 14.0), (12.5, 12.5, 12.0), (12.0, 11.0, 10.0), (11.0, 9.5, 8.0))

SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"


# ------------------------------------------------------------------------- the words

def threshold_text(case, bundle, threshold_note: str | None = None) -> str:
    """How the threshold in use was chosen, in words: the caller's note, else "set for
    this prediction" when it is not the model's own, else the model file's note, else
    that it is the model's own and how it was chosen is not recorded."""
    if threshold_note:
        return printable(threshold_note)
    if abs(float(case.threshold) - float(bundle.threshold)) > 5e-7:
        return f"set for this prediction (the model's own threshold is {float(bundle.threshold):g})"
    if getattr(bundle, "threshold_chosen_by", None):
        return printable(bundle.threshold_chosen_by)
    return "the model's own threshold, set when it was trained; how it was chosen is not recorded"


def _when(when_utc: str | None) -> tuple[str, datetime | None]:
    """``("2026-12-02 05:10 UTC", datetime)`` for an ISO time (default now); a text that
    is not an ISO time is shown as it is, with no datetime."""
    if when_utc is None:
        moment = datetime.now(timezone.utc)
    else:
        text = str(when_utc).strip()
        iso = text[:-4] if text.endswith(" UTC") else text
        iso = iso[:-1] + "+00:00" if iso.endswith("Z") else iso
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            return printable(text), None
        moment = (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None
                  else moment.astimezone(timezone.utc))
    return moment.strftime("%Y-%m-%d %H:%M UTC"), moment.replace(microsecond=0)


def _signed(value: float, digits: int = 2) -> str:
    """``+1.23`` / ``\u22120.50`` (a true minus sign)."""
    text = f"{abs(value):.{digits}f}"
    return (MINUS if value < 0 and float(text) != 0 else "+") + text


def _short_hash(h: str | None) -> str:
    return "not recorded" if not h else f"{h[:12]}\u2026{h[-8:]}"


def _created(text: str | None) -> str:
    return _when(text)[0] if text else "unknown"


def _cv_cells(oof) -> tuple[str, list[tuple[str, str]]] | None:
    """The cross-validated figures: a description and (name, "mean ± sd") cells, or None."""
    figures = getattr(oof, "figures", None) if oof is not None else None
    if not figures:
        return None

    def cell(key: str, percent: bool) -> str:
        entry = figures.get(key) or {}
        mean, sd = entry.get("mean"), entry.get("sd")
        if mean is None or mean != mean:
            return "n/a"
        shown = format_percent(mean) if percent else f"{mean:.3f}"
        if sd is None or sd != sd:
            return shown
        return f"{shown} \u00b1 {format_percent(sd) if percent else f'{sd:.3f}'}"

    folds = figures.get("folds", getattr(oof, "folds", None))
    repeats = figures.get("repeats", getattr(oof, "repeats", None))
    n = figures.get("n", getattr(oof, "n", None))
    grouped = figures.get("grouped", getattr(oof, "grouped", False))
    parts = []
    if folds is not None and repeats is not None:
        parts.append(f"{folds} folds x {repeats} repeats")
    if grouped:
        parts.append("duplicates kept together")
    t = figures.get("threshold")
    if isinstance(t, (int, float)):
        parts.append(f"threshold {t:g}")
    rows = f"{n:,} training rows" if isinstance(n, int) else "its training data"
    described = (f"Cross-validated on {rows}" + (f" ({', '.join(parts)})" if parts else "")
                 + ", mean \u00b1 sd:")
    cells = [("Sensitivity", cell("sensitivity", True)), ("Specificity", cell("specificity", True)),
             ("ROC AUC", cell("roc_auc", False)), ("Accuracy", cell("accuracy", True)),
             ("Brier score", cell("brier", False))]
    return described, cells


# --------------------------------------------------------------------------- the page

class _Page:
    """Text and shapes placed in points from the page's top-left corner."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextToPath

        self.fig = Figure(figsize=(PAGE_W / 72, PAGE_H / 72), dpi=72)
        self._measure = TextToPath()
        self._props = {}
        self._FontProperties = FontProperties

    def prop(self, size: float, weight: str = "normal", family: str = SANS):
        key = (size, weight, family)
        if key not in self._props:
            self._props[key] = self._FontProperties(family=family, size=size, weight=weight)
        return self._props[key]

    def width(self, text: str, size: float, weight: str = "normal", family: str = SANS) -> float:
        if not text:
            return 0.0
        return self._measure.get_text_width_height_descent(text, self.prop(size, weight, family), False)[0]

    def fit(self, text: str, room: float, size: float, weight: str = "normal", family: str = SANS) -> str:
        """``text`` shortened with an ellipsis to at most ``room`` points."""
        if self.width(text, size, weight, family) <= room:
            return text
        while text and self.width(text + "\u2026", size, weight, family) > room:
            text = text[:-1]
        return text.rstrip() + "\u2026"

    def wrap(self, text: str, room: float, size: float, weight: str = "normal",
             max_lines: int = 3) -> list[str]:
        """Words of ``text`` in lines of at most ``room`` points; the last of
        ``max_lines`` lines ends with an ellipsis when text is left over."""
        lines: list[str] = []
        line = ""
        for word in text.split():
            trial = f"{line} {word}" if line else word
            if self.width(trial, size, weight) <= room:
                line = trial
                continue
            if line:
                lines.append(line)
            line = word if self.width(word, size, weight) <= room else self.fit(word, room, size, weight)
        if line:
            lines.append(line)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self.fit(lines[-1] + " \u2026", room, size, weight)
            if not lines[-1].endswith("\u2026"):
                lines[-1] += "\u2026"
        return lines or [""]

    def text(self, x: float, y: float, s: str, size: float = 9, *, weight: str = "normal",
             color: str = TEXT, ha: str = "left", family: str = SANS, va: str = "baseline"):
        # parse_math=False: a "$" in a text from the model file (how its threshold was
        # chosen) is a dollar sign, never the start of mathtext, which could fail to parse
        return self.fig.text(x / PAGE_W, 1 - y / PAGE_H, s, fontsize=size, fontweight=weight,
                             color=color, ha=ha, va=va, family=family, parse_math=False)

    def rect(self, x: float, y: float, w: float, h: float, *, face: str = "none", edge: str = "none",
             lw: float = 0.8, z: float = 0):
        from matplotlib.patches import Rectangle

        self.fig.patches.append(Rectangle((x / PAGE_W, 1 - (y + h) / PAGE_H), w / PAGE_W, h / PAGE_H,
                                          transform=self.fig.transFigure, facecolor=face,
                                          edgecolor=edge, linewidth=lw, zorder=z))

    def rule(self, y: float, color: str = RULE, lw: float = 0.8) -> None:
        self.rect(MARGIN, y, CONTENT_W, 0, edge=color, lw=lw)

    def heading(self, y: float, s: str) -> float:
        """A section heading at ``y`` (its top); returns the y below it."""
        self.text(MARGIN, y + 10, s, 10.5, weight="bold")
        return y + 17


def _draw(case, bundle, *, audit_id, origin, threshold_note, when_utc, level: int = 0,
          audit_note: str | None = None):
    """The figure of the page and ``(flow_bottom, footer_top)`` in points: the flowing
    content must end above the footer. ``level`` 0.. :data:`_LEVELS` tightens the rows
    and the gaps, for a page with many long notes."""
    score_row, chart_row, gap = _LEVELS[level]
    page = _Page()
    shown_when, _moment = _when(when_utc)
    y = MARGIN

    # ---------------------------------------------------------------- header
    page.text(MARGIN, y + 16, "bcdesktop \u2013 malignancy estimate", 17, weight="bold")
    page.text(PAGE_W - MARGIN, y + 16, shown_when, 10, ha="right")
    page.text(MARGIN, y + 31, "Breast fine-needle aspirate: the nine cytology scores of the "
              "Wisconsin data set", 8.5, color=MUTED)
    page.text(PAGE_W - MARGIN, y + 31, f"bcdesktop {__version__}", 8.5, color=MUTED, ha="right")
    y += 38
    page.rule(y, TEXT, 1.2)
    y += 10

    # ------------------------------------------------------------ the result
    top = y
    inner = MARGIN + 10
    room = CONTENT_W - 20
    page.text(inner, y + 32, format_percent(case.probability), 24, weight="bold")
    value_w = page.width(format_percent(case.probability), 24, "bold")
    page.text(inner + value_w + 14, y + 17, "estimated probability of malignancy", 9, color=MUTED)
    if case.interval is None:
        interval = NO_INTERVAL
    else:
        interval = (f"Venn-Abers interval {format_percent(case.interval[0])} to "
                    f"{format_percent(case.interval[1])}")
    page.text(inner + value_w + 14, y + 31, page.fit(interval, room - value_w - 14, 10.5), 10.5)
    y += 37
    side = case.outside_interval
    if side is not None:
        remark = (f"The probability lies {side} its interval: cross-validated cases scored like this one "
                  f"were malignant {'less' if side == 'above' else 'more'} often than the model says.")
        for line in page.wrap(remark, room, 8.5, max_lines=2):
            y += 11
            page.text(inner, y, line, 8.5, color=MUTED)
        y += 3
    t = float(case.threshold)
    call = case.call
    color = {"malignant": MALIGNANT_TEXT, "benign": BENIGN}.get(call, TEXT)
    y += 18
    head = f"Call at threshold {t:g}: "
    page.text(inner, y, head, 12.5)
    page.text(inner + page.width(head, 12.5), y, call, 12.5, weight="bold", color=color)
    lines = page.wrap("Threshold: " + threshold_text(case, bundle, threshold_note), room, 8.5, max_lines=3)
    for line in lines:
        y += 11.5
        page.text(inner, y, line, 8.5, color=MUTED)
    y += 9
    page.rect(MARGIN, top, CONTENT_W, y - top, face=PANEL, edge=RULE, z=-1)
    y += gap

    # ------------------------------------------------------------- the scores
    y = page.heading(y, "The nine scores (each 1 to 10)")
    name_x, score_x, meaning_x = MARGIN + 6, MARGIN + 190, MARGIN + 228
    page.text(name_x, y + 8, "Feature", 7.5, color=MUTED)
    page.text(score_x + 10, y + 8, "Score", 7.5, color=MUTED, ha="right")
    page.text(meaning_x, y + 8, "Meaning of the scale", 7.5, color=MUTED)
    y += 12
    names = tuple(getattr(bundle, "features", ()) or FEATURES)
    row_h = score_row
    for i, name in enumerate(names):
        if i % 2 == 0:
            page.rect(MARGIN, y, CONTENT_W, row_h, face=PANEL, z=-1)
        base = y + row_h - 3.8
        page.text(name_x, base, page.fit(printable(name), score_x - name_x - 30, 9), 9)
        score = float(case.scores[i])
        page.text(score_x + 10, base, f"{score:g}", 9.5, weight="bold", ha="right")
        meaning = FEATURE_DESCRIPTIONS.get(name, "")
        page.text(meaning_x, base, page.fit(meaning, MARGIN + CONTENT_W - meaning_x - 4, 8), 8, color=MUTED)
        y += row_h
    y += gap

    # ---------------------------------------------------------- the waterfall
    y = page.heading(y, "Why: what each score contributed")
    explanation = case.explanation
    if explanation is None:
        page.text(MARGIN, y + 9, NO_EXPLANATION, 9, color=MUTED)
        y += 16
    else:
        from .predictor import BACKGROUND_TEXT

        against = BACKGROUND_TEXT.get(case.background, "the training cases")
        note = (f"Shapley contributions in log-odds against {against} (on average "
                f"{format_percent(explanation.base_probability)}); each bar adds to the sum above it.")
        for line in page.wrap(note, CONTENT_W, 8, max_lines=2):
            y += 10
            page.text(MARGIN, y, line, 8, color=MUTED)
        y += 8
        y = _waterfall(page, explanation, case, y, chart_row)

    # ------------------------------------------------------- matching cases
    y += gap - 6
    y = page.heading(y, "Matching training cases")
    evidence = case.evidence
    sentence = NO_EVIDENCE if evidence is None else evidence.sentence()
    for line in page.wrap(sentence, CONTENT_W, 8.5, max_lines=2):
        y += 11
        page.text(MARGIN, y, line, 8.5, color=MUTED if evidence is None else TEXT)
    if evidence is not None and evidence.unusual:
        warn = evidence.unusual_sentence() or "Unusual pattern."
        warn = f"Caution: {warn} Treat the estimate with caution."
        for line in page.wrap(warn, CONTENT_W, 8.5, "bold", max_lines=2):
            y += 11
            page.text(MARGIN, y, line, 8.5, weight="bold", color=WARNING)
    y += gap

    # ------------------------------------------------------------- the model
    y = page.heading(y, "The model")
    external = str(origin).strip().lower() == EXTERNAL
    label = "Model "
    page.text(MARGIN, y + 9, label, 9)
    x = MARGIN + page.width(label, 9)
    page.text(x, y + 9, bundle.model_id, 9.5, family=MONO)  # the frozen build keeps Mono's regular face only
    x += page.width(bundle.model_id, 9, "bold", MONO)
    origin_text = page.fit(f"  \u2013  {printable(origin)}", MARGIN + CONTENT_W - x - 4, 9,
                           "bold" if external else "normal")
    page.text(x, y + 9, origin_text, 9, weight="bold" if external else "normal",
              color=WARNING if external else TEXT)
    y += 13
    if external:
        warn = ("External model: it was neither made on this installation nor shipped with bcdesktop. "
                "Check where the model file came from before relying on this estimate.")
        lines = page.wrap(warn, CONTENT_W - 12, 8.5, "bold", max_lines=2)
        page.rect(MARGIN, y, CONTENT_W, 5 + 11 * len(lines), edge=WARNING, lw=1.2)
        for line in lines:
            y += 11
            page.text(MARGIN + 6, y, line, 8.5, weight="bold", color=WARNING)
        y += 7
    made = (f"Made {_created(getattr(bundle, 'created_utc', None))} with bcdesktop "
            f"{printable(getattr(bundle, 'app_version', '') or 'unknown')}; training data SHA-256 "
            f"{_short_hash(getattr(bundle, 'data_sha256', None))} (in full below)")
    for line in page.wrap(made, CONTENT_W, 8.5, max_lines=2):
        y += 11.5
        page.text(MARGIN, y, line, 8.5)
    cv = _cv_cells(getattr(bundle, "oof", None))
    y += 5
    if cv is None:
        y += 11
        page.text(MARGIN, y, NO_CV, 8.5, color=MUTED)
    else:
        described, cells = cv
        for line in page.wrap(described, CONTENT_W, 8.5, max_lines=2):
            y += 11.5
            page.text(MARGIN, y, line, 8.5)
        y += 4
        cell_w = CONTENT_W / len(cells)
        page.rect(MARGIN, y, CONTENT_W, 30, face=PANEL, edge=RULE, z=-1)
        for k, (name, value) in enumerate(cells):
            cx = MARGIN + cell_w * (k + 0.5)
            page.text(cx, y + 11, name, 7.5, color=MUTED, ha="center")
            page.text(cx, y + 24, page.fit(value, cell_w - 6, 9.5, "bold"), 9.5, weight="bold", ha="center")
        y += 30
    y += gap + 6
    audit = (audit_note or NO_AUDIT) if audit_id is None else f"#{int(audit_id)}"
    page.text(MARGIN, y, f"Audit trail entry: {audit}", 9)
    flow_bottom = y + 4

    # ------------------------------------------------------------ the footer
    footer_top = PAGE_H - FOOT_MARGIN - 52
    y = footer_top
    page.rule(y)
    for what, h in (("Training data SHA-256", getattr(bundle, "data_sha256", None)),
                    ("Model file SHA-256", getattr(bundle, "file_sha256", None))):
        y += 10
        page.text(MARGIN, y, f"{what}:", 6.5, color=MUTED)
        page.text(MARGIN + 82, y, h or "not recorded", 6.5, color=MUTED, family=MONO)
    y += 8
    page.rect(MARGIN, y, CONTENT_W, 22, edge=TEXT, lw=1.0)
    page.text(PAGE_W / 2, y + 14.5, page.fit(DISCLAIMER, CONTENT_W - 12, 9.5, "bold"), 9.5,
              weight="bold", ha="center")
    return page.fig, flow_bottom, footer_top


def _waterfall(page: _Page, explanation, case, y: float, row_h: float) -> float:
    """The bar chart of the explanation's steps from ``y`` down; returns the y below it."""
    steps = explanation.probability_steps()
    label_room, right_room = 170.0, 62.0
    labels = ["Average case"]
    for step in steps:
        score = f" = {float(case.scores[step.index]):g}" if step.index < len(case.scores) else ""
        name = page.fit(printable(step.feature), label_room - 10 - page.width(score, 8), 8)
        labels.append(name + score)
    labels.append("This case")
    n = len(labels)
    top_pad, axis_h = 12.0, 22.0
    height = top_pad + n * row_h + axis_h
    ax_top, ax_bottom = y + top_pad, y + top_pad + n * row_h
    left = MARGIN + label_room
    right = MARGIN + CONTENT_W - right_room
    ax = page.fig.add_axes((left / PAGE_W, 1 - ax_bottom / PAGE_H, (right - left) / PAGE_W,
                            (ax_bottom - ax_top) / PAGE_H))

    running = [explanation.base]
    for step in steps:
        running.append(running[-1] + step.contribution)
    t = min(max(float(case.threshold), 1e-6), 1 - 1e-6)
    t_logit = math.log(t / (1 - t))
    lo, hi = min(running + [t_logit]), max(running + [t_logit])
    span = max(hi - lo, 1.0)
    ax.set_xlim(lo - 0.16 * span, hi + 0.16 * span)
    ax.set_ylim(n - 0.5, -0.5)

    ax.axvline(t_logit, color=MUTED, lw=0.8, ls=(0, (3, 2)), zorder=1)
    where = (t_logit - ax.get_xlim()[0]) / (ax.get_xlim()[1] - ax.get_xlim()[0])
    ax.text(t_logit, -0.62, f"threshold {float(case.threshold):g}", fontsize=6.5, color=MUTED,
            ha="right" if where > 0.8 else "left" if where < 0.2 else "center", va="bottom", family=SANS)
    ax.plot([explanation.base], [0], "o", color=TEXT, ms=4.5, zorder=3)
    for k, step in enumerate(steps, start=1):
        before, c = running[k - 1], step.contribution
        ax.barh(k, c, left=before, height=0.62, color=MALIGNANT if c >= 0 else BENIGN,
                edgecolor=MALIGNANT_TEXT if c >= 0 else "#004F7C", linewidth=0.6, zorder=2)
        ax.plot([before, before], [k - 1, k - 0.31], color=MUTED, lw=0.5, zorder=1)
        end = before + c
        ax.text(end + (0.012 if c >= 0 else -0.012) * span * 1.32, k, _signed(c), fontsize=7,
                ha="left" if c >= 0 else "right", va="center", color=TEXT, family=SANS)
    ax.plot([running[-1], running[-1]], [n - 2, n - 1], color=MUTED, lw=0.5, zorder=1)
    ax.plot([running[-1]], [n - 1], "D", color=TEXT, ms=4.5, zorder=3)

    ax.set_yticks(range(n))
    ax.set_yticklabels(labels, fontsize=8, family=SANS)
    for tick in (ax.get_yticklabels()[0], ax.get_yticklabels()[-1]):
        tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, pad=6, colors=TEXT)
    ax.tick_params(axis="x", labelsize=7, colors=MUTED, length=3)
    ax.set_xlabel("log-odds of malignancy (0 = 50%)", fontsize=7.5, color=MUTED, labelpad=2, family=SANS)
    for name, spine in ax.spines.items():
        spine.set_visible(name == "bottom")
        spine.set_color(RULE)
    ax.grid(axis="x", color=RULE, lw=0.4, zorder=0)
    ax.set_axisbelow(True)

    # the probability after each row, in a column of its own to the right
    column = MARGIN + CONTENT_W
    page.text(column, ax_top - 4, "probability", 7, color=MUTED, ha="right")
    probs = [explanation.base_probability] + [s.after for s in steps] + [case.probability]
    for k, p in enumerate(probs):
        weight = "bold" if k in (0, n - 1) else "normal"
        page.text(column, ax_top + (k + 0.5) * row_h + 3, format_percent(p), 8, weight=weight, ha="right")
    return y + height


# ---------------------------------------------------------------------------- the API

def report_pdf_bytes(case, bundle, *, audit_id: int | None, origin: str,
                     threshold_note: str | None = None, when_utc: str | None = None,
                     audit_note: str | None = None) -> bytes:
    """The report of ``case`` (a :class:`~bcdesktop.predictor.CasePrediction` made with
    ``bundle``) as the bytes of a one-page A4 PDF.

    Parameters
    ----------
    case : predictor.CasePrediction
    bundle : persistence.ModelBundle
    audit_id : int or None
        The audit-trail entry of this prediction; None when it was not recorded.
    audit_note : str, optional
        Why there is no entry, when ``audit_id`` is None (default :data:`NO_AUDIT`, the
        trail is off; :data:`NO_AUDIT_FAILED` when it could not be written).
    origin : str
        Where the model came from, printed next to its id: one of :data:`ORIGINS`
        (``"external model"`` stands out).
    threshold_note : str, optional
        How the threshold in use was chosen, when the caller knows better than the
        model file (see :func:`threshold_text`).
    when_utc : str, optional
        ISO time of the report (default now), shown as ``2026-12-02 05:10 UTC``; it is
        also the file's creation date, so the same report gives the same bytes.
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import FigureCanvasPdf

    _shown, moment = _when(when_utc)
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": SANS, "axes.unicode_minus": True,
                                "pdf.compression": 6}):
        for level in range(len(_LEVELS)):  # the first that fits (level 0 for most cases)
            fig, bottom, footer = _draw(case, bundle, audit_id=audit_id, origin=origin,
                                        threshold_note=threshold_note, when_utc=when_utc, level=level,
                                        audit_note=audit_note)
            if bottom <= footer:
                break
        buf = io.BytesIO()
        FigureCanvasPdf(fig).print_pdf(buf, metadata={
            "Title": "bcdesktop - malignancy estimate", "Author": None, "Subject": DISCLAIMER,
            "Creator": f"bcdesktop {__version__}", "CreationDate": moment})
    return buf.getvalue()


def write_report(path, case, bundle, *, audit_id: int | None, origin: str,
                 threshold_note: str | None = None, when_utc: str | None = None,
                 inputs: Sequence[str | os.PathLike] = (), audit_note: str | None = None) -> Path:
    """Write the report (:func:`report_pdf_bytes`) to ``path`` atomically; returns it.

    An existing report at ``path`` is replaced only once the new one is complete: a
    failed write leaves it as it was, and no partial file.

    Raises
    ------
    UserError
        ``path`` is one of ``inputs`` (e.g. the model file in use) or a file shipped
        with the app, a folder, a pipe or a device, or its folder is missing or cannot
        be written to; one plain sentence.
    """
    from . import resources

    path = Path(path)
    shown = printable(path)
    if resources.is_bundled_file(path):
        raise UserError(f"{shown} is among the files shipped with bcdesktop, which are never written "
                        "over or beside. Save the report in another folder.")
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise UserError(f"Cannot write the report to {shown}: the folder {printable(path.parent)} "
                        f"{problem}. Choose an existing folder.")
    data = report_pdf_bytes(case, bundle, audit_id=audit_id, origin=origin,
                            threshold_note=threshold_note, when_utc=when_utc, audit_note=audit_note)
    try:  # the writer refuses an input, a folder or a pipe at the path (a UserError)
        resources.atomic_write_bytes(path, data, protect=tuple(inputs))
    except OSError as exc:
        raise UserError(f"Cannot write the report to {shown}: {exc.strerror or exc}. Choose a folder "
                        "you can write to; no partial file was left.") from None
    return path
