"""The waterfall of one prediction's contributions, drawn on a Tk Canvas.

It runs from the base probability (the average case of the chosen background) to the
case's own probability, one row per feature, largest contribution first
(:meth:`bcdesktop.explain.Explanation.probability_steps`). Each bar spans the
probability before and after that feature's log-odds contribution is added, on a 0 to
100% axis, so the bars are steps: each starts where the one above ended. A bar that
raises the probability is orange with a head pointing right and a "+" change; one that
lowers it is blue with a head pointing left and a "\u2212" change: colour, direction
and sign each say it, so no one needs to tell orange from blue. The change in
percentage points is written beside each bar; the last column gives the log-odds
contributions (Shapley values), which add up exactly from the base to the case.
Hovering a row shows a tip with the numbers in words and the score's meaning.

Everything is measured in the app's named fonts, so the chart follows the View menu's
text size (``widgets.TEXT_SCALE_EVENT``) and its width; a redraw is a few hundred
canvas items (about a millisecond or two).
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass

from bcdesktop import schema
from bcdesktop.gui.widgets import (
    BENIGN,
    BORDER,
    MALIGNANT,
    MUTED_TEXT,
    RULE,
    SURFACE,
    TEXT,
    TEXT_SCALE_EVENT,
    chars_width,
)

MINUS = "\u2212"
#: Fills and outlines of a stale (out of date) chart: every class colour turns grey.
STALE_FILL = "#C9D0D7"
STALE_LINE = "#8A939C"
RAISE_LINE = "#A35200"   # the outline of a raising bar (the darker orange of text)
LOWER_LINE = "#004F7C"   # the outline of a lowering bar


def signed(value: float, digits: int) -> str:
    """``1.234 -> "+1.23"``, ``-0.5 -> "\u22120.50"`` (a true minus sign); zero is "+0.00"."""
    text = f"{abs(value):.{digits}f}"
    return (MINUS if value < 0 and float(text) != 0 else "+") + text


def parse_signed(text: str) -> float:
    """The inverse of :func:`signed` (and of the change text, "+42.3 pts")."""
    return float(text.replace(MINUS, "-").replace("pts", "").replace("%", "").strip())


def percent(p: float) -> str:
    """A probability on the chart: one decimal, and "<0.1%" / ">99.9%" at the extremes."""
    if p < 0.0005:
        return "<0.1%"
    if p >= 0.9995:
        return ">99.9%"
    return f"{100 * p:.1f}%"


@dataclass(frozen=True)
class Row:
    """One drawn row: ``kind`` "base", "feature" or "case"; a feature row's probability
    goes from ``before`` to ``after`` by the log-odds ``log_odds``."""

    kind: str
    label: str
    before: float
    after: float
    log_odds: float
    feature: str = ""
    score: int | None = None


def rows_of(explanation, base_label: str) -> list[Row]:
    """The chart's rows for an :class:`~bcdesktop.explain.Explanation`: the base, one
    per feature (largest |contribution| first), the case."""
    x = explanation.x
    rows = [Row("base", base_label, explanation.base_probability, explanation.base_probability,
                explanation.base)]
    for step in explanation.probability_steps():
        score = None if x is None else int(round(float(x[step.index])))
        label = step.feature if score is None else f"{step.feature} = {score}"
        rows.append(Row("feature", label, step.before, step.after, step.contribution, step.feature, score))
    rows.append(Row("case", "This case", explanation.probability, explanation.probability, explanation.value))
    return rows


class Waterfall(tk.Canvas):
    """The chart; :meth:`show` an explanation, :meth:`show_message` a sentence instead.

    Items carry tags tests read back: ``label``, ``change``, ``logodds``, ``body``,
    ``head``, ``dot`` (each with ``row<k>``, k from 0 for the base), ``threshold``, ``message``, ``tip``.
    :meth:`shown_rows` gives what is drawn, read from the items themselves.
    """

    def __init__(self, master: tk.Misc, **kwargs):
        super().__init__(master, background=SURFACE, highlightthickness=1, highlightbackground=RULE,
                         borderwidth=0, **kwargs)
        self._rows: list[Row] = []
        self._threshold: float | None = None
        self._stale = False
        self._message = ""
        self._geometry: dict = {}
        self._spans: dict[int, tuple[float, float]] = {}
        self._drawn_width = 0
        self._size()
        self.bind("<Configure>", self._on_configure, add="+")
        self.bind("<Motion>", self._on_motion, add="+")
        self.bind("<Leave>", lambda _e: self.delete("tip"), add="+")
        self.winfo_toplevel().bind(TEXT_SCALE_EVENT, lambda _e: self._rescale(), add="+")

    def __repr__(self) -> str:
        state = self._message or f"{len(self._rows)} rows"
        return f"Waterfall({state}{', stale' if self._stale else ''})"

    # ------------------------------------------------------------------ public
    def show(self, explanation, base_label: str, threshold: float | None = None, *, stale: bool = False) -> None:
        """Draw ``explanation`` (the base row labelled ``base_label``), with the
        threshold as a dashed line; ``stale`` draws it all in grey."""
        self._rows = rows_of(explanation, base_label)
        self._threshold = threshold
        self._stale = stale
        self._message = ""
        self._draw()

    def show_message(self, text: str) -> None:
        """No chart: ``text`` in its place (e.g. why there is no explanation)."""
        self._rows, self._threshold, self._stale, self._message = [], None, False, text
        self._draw()

    def set_stale(self, stale: bool) -> None:
        """Grey the chart (``True``) or give it its colours back, without new numbers."""
        if stale != self._stale:
            self._stale = stale
            self._draw()

    @property
    def stale(self) -> bool:
        return self._stale

    @property
    def message(self) -> str:
        return self._message

    def shown_rows(self) -> list[dict]:
        """What the chart shows, row by row, read from the canvas items: ``label``,
        ``change`` (the text beside the bar: "+42.3 pts", or the probability of the
        base and the case), ``logodds`` (its text), and for a feature ``span``: the
        probabilities (from, to) at the bar's tail and head, read from its pixels."""
        out = []
        g = self._geometry
        for k in range(len(self._rows)):
            row = {}
            for kind in ("label", "change", "logodds"):
                items = self.find_withtag(f"{kind}&&row{k}")
                row[kind] = self.itemcget(items[0], "text") if items else ""
            if k in self._spans and g:
                tail, tip = self._spans[k]
                row["span"] = ((tail - g["x0"]) / g["span"], (tip - g["x0"]) / g["span"])
            out.append(row)
        return out

    # ------------------------------------------------------------------ sizes
    def _fonts(self) -> tuple[tkfont.Font, tkfont.Font, tkfont.Font]:
        def named(name: str) -> tkfont.Font:
            try:
                return tkfont.nametofont(name, root=self)
            except tk.TclError:
                return tkfont.nametofont("TkDefaultFont", root=self)
        return named("TkDefaultFont"), named("BcSmall"), named("BcBold")

    def _metrics(self) -> dict:
        text, small, bold = self._fonts()
        line = text.metrics("linespace")
        pad = chars_width(self, 1)
        # The widest label any case can have, so the chart asks for the same room always.
        label_w = max([text.measure(f"{name} = 10") for name in schema.FEATURES]
                      + [bold.measure("This case"), text.measure("Average benign training case")])
        logodds_w = max(small.measure(f"{MINUS}10.00"), small.measure("log-odds"))
        return dict(line=line, small_line=small.metrics("linespace"), pad=pad, label_w=label_w,
                    logodds_w=logodds_w, row_h=round(line * 1.3), min_span=chars_width(self, 18))

    def _size(self) -> None:
        m = self._metrics()
        width = m["pad"] * 6 + m["label_w"] + m["min_span"] + m["logodds_w"]
        height = m["small_line"] * 2 + m["row_h"] * (len(schema.FEATURES) + 2) + m["small_line"] + m["pad"]
        self.configure(width=width, height=height)

    def _rescale(self) -> None:
        if self.winfo_exists():
            self._size()
            self._draw()

    def _on_configure(self, event) -> None:
        if event.width != self._drawn_width:
            self._draw()

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        self.delete("all")
        self._spans = {}
        width = self.winfo_width()
        if width <= 1:
            width = int(self.cget("width"))
        self._drawn_width = self.winfo_width()
        height = int(self.cget("height"))
        m = self._metrics()
        text_font, small_font, bold_font = self._fonts()
        pad, row_h = m["pad"], m["row_h"]
        x0 = pad * 2 + m["label_w"] + pad                       # the 0% line
        x1 = width - pad * 2 - m["logodds_w"] - pad             # the 100% line
        span = max(1, x1 - x0)
        top = m["small_line"] * 2                               # below the axis labels
        self._geometry = dict(x0=x0, span=span, top=top, row_h=row_h, pad=pad)
        stale = self._stale
        ink = MUTED_TEXT if stale else TEXT

        if self._message:
            self.create_text(width / 2, height / 2, text=self._message, fill=MUTED_TEXT, font=text_font,
                             width=max(10, width - 4 * pad), justify="center", tags=("message",))
            return
        if not self._rows:
            return

        def x_of(p: float) -> float:
            return x0 + span * min(max(p, 0.0), 1.0)

        bottom = top + row_h * len(self._rows)
        # the axis: gridlines at every quarter, their labels above the chart
        for q in (0.0, 0.25, 0.5, 0.75, 1.0):
            x = x_of(q)
            self.create_line(x, top, x, bottom, fill=RULE, tags=("grid",))
            anchor = "nw" if q == 0 else "ne" if q == 1 else "n"
            self.create_text(x, m["small_line"] * 0.5, text=f"{100 * q:.0f}%", anchor=anchor, fill=MUTED_TEXT,
                             font=small_font, tags=("axis",))
        self.create_text(width - pad, m["small_line"] * 0.5, text="log-odds", anchor="ne", fill=MUTED_TEXT,
                         font=small_font, tags=("axis",))

        thick = max(6, round(m["line"] * 0.62))
        head = max(5, round(thick * 0.8))
        for k, row in enumerate(self._rows):
            yc = top + row_h * (k + 0.5)
            tag = f"row{k}"
            if k % 2 == 0:
                self.create_rectangle(0, yc - row_h / 2, width, yc + row_h / 2, fill="#F7F9FA", width=0,
                                      tags=("band", tag))
            font = bold_font if row.kind == "case" else text_font
            self.create_text(pad, yc, text=row.label, anchor="w", fill=ink, font=font, tags=("label", tag))
            self.create_text(width - pad, yc, text=signed(row.log_odds, 2), anchor="e", fill=MUTED_TEXT,
                             font=bold_font if row.kind == "case" else small_font, tags=("logodds", tag))
            if row.kind != "feature":
                x = x_of(row.after)
                r = max(4, round(thick * 0.55))
                colour = STALE_LINE if stale else TEXT
                shape = self.create_oval if row.kind == "case" else self.create_rectangle
                shape(x - r, yc - r, x + r, yc + r, fill=colour if row.kind == "case" else SURFACE,
                      outline=colour, width=2, tags=("dot", tag))
                self._note(row, k, x - r, x + r, x0, x1, yc, percent(row.after), bold_font if row.kind == "case"
                           else text_font, ink)
                continue
            raising = row.after >= row.before
            tail, tip = x_of(row.before), x_of(row.after)
            if stale:
                fill, outline = STALE_FILL, STALE_LINE
            else:
                fill, outline = (MALIGNANT, RAISE_LINE) if raising else (BENIGN, LOWER_LINE)
            direction = 1 if raising else -1
            length = abs(tip - tail)
            neck = tip - direction * min(head, length)          # where the head begins
            half = thick / 2
            if length > head:
                self.create_rectangle(min(tail, neck), yc - half, max(tail, neck), yc + half, fill=fill,
                                      outline=outline, tags=("body", tag))
            # The head always shows the direction, however small the step: a step too small
            # to see has its head drawn at full size from the point it starts.
            base_x = neck if length > head else tail
            point = tip if length > head else tail + direction * head
            self.create_polygon(base_x, yc - half - 3, point, yc, base_x, yc + half + 3, fill=fill,
                                outline=outline, tags=("head", tag))
            self._spans[k] = (tail, tip)   # in pixels, for shown_rows
            if k + 1 < len(self._rows):                          # the step down to the next bar
                self.create_line(tip, yc + half, tip, yc + row_h - half, fill=BORDER, dash=(2, 2),
                                 tags=("connector", tag))
            change = signed(100 * (row.after - row.before), 1) + " pts"
            self._note(row, k, min(tail, point), max(tail, point), x0, x1, yc, change, small_font, ink,
                       ahead=direction)

        if self._threshold is not None:
            x = x_of(self._threshold)
            colour = STALE_LINE if stale else TEXT
            self.create_line(x, top, x, bottom + 2, fill=colour, dash=(5, 3), width=1, tags=("threshold",))
            label = f"threshold {100 * self._threshold:.4g}%"
            w = small_font.measure(label)
            cx = min(max(x, x0 + w / 2), x1 - w / 2)
            self.create_text(cx, bottom + 3, text=label, anchor="n", fill=MUTED_TEXT, font=small_font,
                             tags=("threshold",))
        self.tag_raise("head")

    def _note(self, row: Row, k: int, left: float, right: float, x0: float, x1: float, yc: float, text: str,
              font: tkfont.Font, ink: str, ahead: int = 1) -> None:
        """``text`` beside the mark spanning ``left..right``: beyond its head (to the
        right when ``ahead`` is 1, the left when -1) if there is room within the chart,
        else on the other side, else on the mark itself."""
        gap = 4
        w = font.measure(text)
        tags = ("change", f"row{k}")
        fits_right = right + gap + w <= x1
        fits_left = left - gap - w >= x0 - self._geometry["pad"]
        if fits_right and (ahead > 0 or not fits_left):
            self.create_text(right + gap, yc, text=text, anchor="w", fill=ink, font=font, tags=tags)
        elif fits_left:
            self.create_text(left - gap, yc, text=text, anchor="e", fill=ink, font=font, tags=tags)
        else:   # the bar spans the chart: the text goes on the bar, readable on its fill
            on_blue = row.kind == "feature" and row.after < row.before and not self._stale
            self.create_text((left + right) / 2, yc, text=text, anchor="center", fill=SURFACE if on_blue else TEXT,
                             font=font, tags=tags)

    # ------------------------------------------------------------------ the tip
    def _on_motion(self, event) -> None:
        self.delete("tip")
        g = self._geometry
        if not self._rows or not g:
            return
        k = int((event.y - g["top"]) // g["row_h"])
        if not 0 <= k < len(self._rows) or event.y < g["top"]:
            return
        text = self.tip_text(k)
        if not text:
            return
        _, small, _ = self._fonts()
        width = self.winfo_width()
        wrap = max(chars_width(self, 20), min(chars_width(self, 46), width - 2 * g["pad"]))
        item = self.create_text(0, 0, text=text, anchor="nw", width=wrap, fill=TEXT, font=small, tags=("tip",))
        x1, y1, x2, y2 = self.bbox(item)
        w, h = x2 - x1 + 2 * 6, y2 - y1 + 2 * 4
        x = min(max(2, event.x + 12), width - w - 2)
        y = event.y + 16 if event.y + 16 + h < int(self.winfo_height()) else event.y - h - 8
        self.coords(item, x + 6, y + 4)
        box = self.create_rectangle(x, y, x + w, y + h, fill="#FFFBE6", outline=BORDER, tags=("tip",))
        self.tag_raise(item, box)

    def tip_text(self, k: int) -> str:
        """The tip of row ``k`` in words: what the row means, with both scales."""
        row = self._rows[k]
        if row.kind == "base":
            return (f"{row.label}: {percent(row.after)} (log-odds {signed(row.log_odds, 3)}), where the "
                    "contributions start.")
        if row.kind == "case":
            return (f"This case: {percent(row.after)} (log-odds {signed(row.log_odds, 3)}) = the start plus "
                    "every contribution.")
        verb = "raises" if row.after >= row.before else "lowers"
        meaning = schema.FEATURE_DESCRIPTIONS.get(row.feature, "")
        return (f"{row.label} {verb} the probability from {percent(row.before)} to {percent(row.after)} "
                f"({signed(100 * (row.after - row.before), 1)} percentage points); log-odds contribution "
                f"{signed(row.log_odds, 3)}." + (f"\nScore: {meaning}." if meaning else ""))
