"""Small shared widgets and the look of the app: fonts, colours, styles.

Colours come from the Okabe-Ito palette, which people with the common forms of colour
blindness can tell apart: benign is blue, malignant is orange, and every use of colour
is paired with a word or a symbol. Fonts are Tk named fonts in points, so they follow
Tk's scaling (the display's dpi) and the View menu's text size.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import Any, Callable

# Okabe-Ito colours.
BENIGN = "#0072B2"          # blue
MALIGNANT = "#E69F00"       # orange (plots, fills)
MALIGNANT_TEXT = "#A35200"  # darker orange, readable as text on a light background
TRAIN_LINE = "#0072B2"
VALIDATION_LINE = "#D55E00"  # vermillion, drawn dashed
ERROR_TEXT = "#B00020"
MUTED_TEXT = "#555555"
PROGRESS = "#4a6984"  # neutral slate blue, not a class colour

CLASS_NAMES = ("benign", "malignant")
CLASS_COLORS = (BENIGN, MALIGNANT)
# Colour is never the only cue: the classes and warnings also have a symbol and a word.
BENIGN_MARK = "\u25cf"     # ●
MALIGNANT_MARK = "\u25b2"  # ▲
WARNING_MARK = "\u26a0"    # ⚠
TEXT_SCALE_EVENT = "<<TextScaleChanged>>"  # fired on the root after the text size changed

# Named fonts created by setup_styles, as (name, size relative to TkDefaultFont, weight).
_FONTS = (
    ("BcTitle", 1.35, "bold"),
    ("BcBig", 2.2, "bold"),
    ("BcBold", 1.0, "bold"),
    ("BcSmall", 0.85, "normal"),
)
_SCALED_TK_FONTS = ("TkDefaultFont", "TkTextFont", "TkFixedFont", "TkMenuFont", "TkHeadingFont",
                    "TkCaptionFont", "TkSmallCaptionFont", "TkIconFont", "TkTooltipFont")


def setup_styles(root: tk.Misc, text_scale: float = 1.0) -> None:
    """Create the app's named fonts and ttk styles; ``text_scale`` multiplies all text sizes."""
    if not hasattr(root, "_bc_base_sizes"):
        root._bc_base_sizes = {}
        for name in _SCALED_TK_FONTS:
            try:
                size = tkfont.nametofont(name, root=root).cget("size")
            except tk.TclError:
                continue
            root._bc_base_sizes[name] = size
    style = ttk.Style(root)
    if "clam" in style.theme_names() and style.theme_use() == "default":
        style.theme_use("clam")  # the X11 default theme looks dated; clam is built in
    set_text_scale(root, text_scale)
    style.configure("Error.TLabel", foreground=ERROR_TEXT)
    style.configure("Muted.TLabel", foreground=MUTED_TEXT)
    style.configure("Small.TLabel", font="BcSmall", foreground=MUTED_TEXT)
    style.configure("Title.TLabel", font="BcTitle")
    style.configure("Big.TLabel", font="BcBig")
    style.configure("Bold.TLabel", font="BcBold")
    style.configure("Benign.TLabel", foreground=BENIGN, font="BcBold")
    style.configure("Malignant.TLabel", foreground=MALIGNANT_TEXT, font="BcBold")
    style.configure("Status.TLabel", padding=(6, 2))
    style.configure("Horizontal.TProgressbar", background=PROGRESS)  # clam's default bar is trough-grey


def set_text_scale(root: tk.Misc, factor: float) -> None:
    """Scale every named font by ``factor`` relative to the Tk defaults (1.0 = 100%)."""
    factor = min(max(float(factor), 0.5), 3.0)
    root._bc_text_scale = factor
    for name, base in root._bc_base_sizes.items():
        sign = -1 if base < 0 else 1
        tkfont.nametofont(name, root=root).configure(size=sign * max(6, round(abs(base) * factor)))
    default = tkfont.nametofont("TkDefaultFont", root=root)
    size = default.cget("size")
    family = default.cget("family")
    fonts = root.__dict__.setdefault("_bc_fonts", {})  # a tkinter Font deletes its Tk font when collected
    for name, mult, weight in _FONTS:
        sign = -1 if size < 0 else 1
        options = dict(family=family, size=sign * max(6, round(abs(size) * mult)), weight=weight)
        if name in fonts:
            fonts[name].configure(**options)
        else:
            fonts[name] = tkfont.Font(root=root, name=name, exists=name in tkfont.names(root), **options)
    _configure_sizes(root)


def chars_width(widget: tk.Misc, n: int) -> int:
    """Pixels for ``n`` average characters of the default font (so widths follow the text size)."""
    return tkfont.nametofont("TkDefaultFont", root=widget).measure("0") * n


def size_factor(widget: tk.Misc) -> float:
    """How much larger text is than at 100% (display scaling times the View menu's
    text size): the default font's digit width over its 8 pixels at 96 dpi."""
    return chars_width(widget, 1) / 8


def wrap_to_width(label: ttk.Label, min_chars: int = 20) -> ttk.Label:
    """Wrap ``label``'s text at the width its container gives it (grid it with
    ``sticky="ew"`` or pack it with ``fill="x"``), never narrower than ``min_chars``.
    The label then follows the window's size and the text size instead of asking for
    a guessed width that may not be there. Returns ``label``."""
    label.configure(wraplength=chars_width(label, min_chars))
    label._bc_wrap_to_width = True  # rescale_widgets leaves it alone: <Configure> sets it
    # A few pixels less than the width: the theme draws a border inside the label.
    label.bind("<Configure>", lambda e: label.configure(wraplength=max(chars_width(label, min_chars), e.width - 4)),
               add="+")
    return label


def text_scale(root: tk.Misc) -> float:
    return getattr(root, "_bc_text_scale", 1.0)


def format_seconds(seconds: float | None) -> str:
    """``0.42 -> "0.4 s"``, ``42 -> "42 s"``, ``75 -> "1 min 15 s"``; empty when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


def format_threshold(t: float) -> str:
    """``0.5 -> "0.50"``, ``0.317 -> "0.317"``: at least two decimals, at most four.

    Every place that shows a threshold (tabs, status bar, export) uses this, so one
    value never appears as two different numbers."""
    text = f"{t:.4f}".rstrip("0")
    head, _, tail = text.partition(".")
    return f"{head}.{tail.ljust(2, '0')}"


def follow_text_size(root: tk.Misc) -> None:
    """Keep the window's pixel sizes (label wrap widths, scale lengths, table columns,
    entry widths) in proportion to the text when ``TEXT_SCALE_EVENT`` fires on ``root``.
    The app calls this once; tabs need do nothing but give sizes in characters."""
    last = [chars_width(root, 1)]

    def changed(_event=None) -> None:
        now = chars_width(root, 1)
        ratio, last[0] = now / last[0], now
        rescale_widgets(root, ratio)

    root.bind(TEXT_SCALE_EVENT, changed, add="+")


def rescale_widgets(widget: tk.Misc, ratio: float) -> None:
    """After the text grew by ``ratio``: scale wrap widths and lengths in ``widget``'s
    tree, set table columns for the new size, and re-apply entry widths (Tk keeps an
    entry's old pixel size and scroll position after a font change)."""
    stack = [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, ScrolledTree):
            w.apply_text_scale()  # absolute widths from its 100% widths: no rounding drift
            continue
        kind = w.winfo_class()
        if kind == "TLabel" and int(str(w.cget("wraplength")) or 0) > 0 and not hasattr(w, "_bc_wrap_to_width"):
            w.configure(wraplength=round(int(str(w.cget("wraplength"))) * ratio))
        elif kind in ("TEntry", "TSpinbox", "TCombobox"):
            w.configure(width=w.cget("width"))
            w.xview_moveto(0)
        elif kind in ("TScale", "TProgressbar") and int(str(w.cget("length")) or 0) > 0:
            w.configure(length=round(int(str(w.cget("length"))) * ratio))
        stack.extend(w.winfo_children())


def scale_spacing(widget: tk.Misc, factor: float) -> None:
    """Multiply the gaps in ``widget``'s tree (pack/grid ``padx``/``pady`` and ttk
    ``padding``, written in pixels at 96 dpi) by ``factor``, so a high-dpi display
    keeps the same proportions instead of cramped spacing. Call once, after building."""
    def scaled(value):
        if isinstance(value, (tuple, list)):
            return tuple(scaled(v) for v in value)
        return round(float(str(value)) * factor)

    stack = [widget]
    while stack:
        w = stack.pop()
        stack.extend(w.winfo_children())
        manager = w.winfo_manager()
        if manager in ("pack", "grid"):
            info = w.pack_info() if manager == "pack" else w.grid_info()
            options = {key: scaled(info[key]) for key in ("padx", "pady") if info.get(key) not in (0, None)}
            if options:
                (w.pack_configure if manager == "pack" else w.grid_configure)(**options)
        if isinstance(w, ttk.Widget) and "padding" in w.keys():
            padding = w.cget("padding")
            if padding not in ("", None) and len(padding):
                w.configure(padding=scaled(tuple(padding)))


def _configure_sizes(root: tk.Misc) -> None:
    """Sizes ttk does not derive from the font: table rows, check boxes, arrows."""
    linespace = tkfont.nametofont("TkDefaultFont", root=root).metrics("linespace")
    style = ttk.Style(root)
    style.configure("Treeview", rowheight=linespace + 6)
    style.configure("Treeview.Heading", font="BcBold")
    style.configure("TCheckbutton", indicatorsize=max(10, round(linespace * 0.65)))
    style.configure("TRadiobutton", indicatorsize=max(10, round(linespace * 0.65)))
    for name in ("TCombobox", "TSpinbox", "Vertical.TScrollbar", "Horizontal.TScrollbar"):
        style.configure(name, arrowsize=max(12, round(linespace * 0.8)))


class Field:
    """One labelled form input with an inline message beside it.

    ``check(text) -> (value, message)`` returns the cleaned value and ``None``, or
    ``None`` and a sentence saying what is wrong. The message is shown in red text with
    a warning sign next to the field as the user types (not in a popup).

    Parameters
    ----------
    parent : widget
        Container laid out with ``grid``; the field uses columns 0 (label), 1 (input)
        and 2 (message) of ``row``.
    label : str
    check : callable
    initial : str
    values : sequence of str, optional
        If given, the input is a read-only combobox of these values.
    width : int
    hint : str, optional
        Shown in the message column (muted) while the value is valid.
    """

    def __init__(self, parent: tk.Misc, row: int, label: str, check: Callable[[str], tuple[Any, str | None]],
                 initial: str = "", *, values: tuple[str, ...] | None = None, width: int = 8,
                 hint: str | None = None):
        self.check = check
        self.hint = hint or ""
        self.var = tk.StringVar(parent, value=initial)
        self.label = ttk.Label(parent, text=label)
        self.label.grid(row=row, column=0, sticky="w", padx=(0, 8), pady=2)
        if values is not None:
            self.input = ttk.Combobox(parent, textvariable=self.var, values=list(values), width=width,
                                      state="readonly")
        else:
            self.input = ttk.Entry(parent, textvariable=self.var, width=width)
        self.input.grid(row=row, column=1, sticky="w", pady=2)
        self.message = ttk.Label(parent, text=self.hint, style="Muted.TLabel", wraplength=chars_width(parent, 18))
        self.message.grid(row=row, column=2, sticky="w", padx=(8, 0), pady=2)
        self.var.trace_add("write", lambda *_: self.validate())
        self.validate()

    def validate(self) -> tuple[Any, str | None]:
        """Check the current text, show the outcome beside the field, return ``(value, message)``."""
        value, message = self.check(self.var.get())
        if message:
            self.message.configure(text=f"{WARNING_MARK} {message}", style="Error.TLabel")
        else:
            self.message.configure(text=self.hint, style="Muted.TLabel")
        return value, message

    @property
    def error(self) -> str | None:
        return self.check(self.var.get())[1]

    def set(self, text: Any) -> None:
        self.var.set(str(text))

    def set_state(self, enabled: bool) -> None:
        if isinstance(self.input, ttk.Combobox):
            self.input.configure(state="readonly" if enabled else "disabled")
        else:
            self.input.configure(state="normal" if enabled else "disabled")


def int_check(low: int, high: int, what: str) -> Callable[[str], tuple[int | None, str | None]]:
    """A :class:`Field` check for a whole number in ``low..high``."""
    def check(text: str):
        text = text.strip()
        if not text:
            return None, f"enter {what} ({low}..{high})"
        try:
            value = int(text)
        except ValueError:
            return None, f"{text!r} is not a whole number"
        if not low <= value <= high:
            return None, f"must be between {low} and {high}"
        return value, None
    return check


def float_check(low: float, high: float, what: str, *,
                low_open: bool = False) -> Callable[[str], tuple[float | None, str | None]]:
    """A :class:`Field` check for a number in ``low..high`` (``(low..high]`` with ``low_open``)."""
    import math

    def check(text: str):
        text = text.strip()
        if not text:
            return None, f"enter {what}"
        try:
            value = float(text)
        except ValueError:
            return None, f"{text!r} is not a number"
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            if math.isinf(high):
                return None, f"must be above {low:g}" if low_open else f"must be at least {low:g}"
            bracket = "(" if low_open else "["
            return None, f"must be in {bracket}{low:g}, {high:g}]"
        return value, None
    return check


class ScrolledTree(ttk.Frame):
    """A Treeview with a vertical (and horizontal) scrollbar.

    ``columns`` is a sequence of ``(id, heading, width, anchor)``; widths are in
    pixels at 100% text size and grow with it. Only the ``stretch`` column (by default
    the last) takes extra width, so narrow columns keep theirs. ``scrollbars=False``
    for a table whose rows and columns always fit (it saves their room).
    """

    def __init__(self, parent: tk.Misc, columns, *, height: int = 8, stretch: int = -1, scrollbars: bool = True):
        super().__init__(parent)
        ids = [c[0] for c in columns]
        self.tree = ttk.Treeview(self, columns=ids, show="headings", height=height, selectmode="browse")
        self._base_widths = {cid: width for cid, _h, width, _a in columns}
        stretch_id = ids[stretch]
        for cid, heading, width, anchor in columns:
            self.tree.heading(cid, text=heading, anchor=anchor)
            self.tree.column(cid, minwidth=30, anchor=anchor, stretch=cid == stretch_id)
        self.apply_text_scale()
        self.tree.grid(row=0, column=0, sticky="nsew")
        if scrollbars:
            yscroll = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
            xscroll = ttk.Scrollbar(self, orient="horizontal", command=self.tree.xview)
            self.tree.configure(yscrollcommand=yscroll.set, xscrollcommand=xscroll.set)
            yscroll.grid(row=0, column=1, sticky="ns")
            xscroll.grid(row=1, column=0, sticky="ew")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)

    def apply_text_scale(self) -> None:
        """Set the column widths for the current text size (display scaling included)."""
        scale = size_factor(self)
        for cid, width in self._base_widths.items():
            self.tree.column(cid, width=round(width * scale))

    def replace_rows(self, rows) -> None:
        """Show ``rows`` (sequences of cell values) instead of the current ones."""
        self.tree.delete(*self.tree.get_children())
        for row in rows:
            self.tree.insert("", "end", values=["" if v is None else v for v in row])

    def rows(self) -> list[tuple]:
        """The cell texts as a user sees them, one tuple per row."""
        return [tuple(self.tree.item(i, "values")) for i in self.tree.get_children()]


def format_rate(rate) -> str:
    """``Rate(value, low, high, k, n)`` as ``"95.2% (91.0-97.5%)"``; "n/a" when undefined."""
    value = getattr(rate, "value", rate)
    if value is None or value != value:
        return "n/a"
    low, high = getattr(rate, "low", None), getattr(rate, "high", None)
    if low is None or high is None:
        return f"{100 * value:.1f}%"
    return f"{100 * value:.1f}% ({100 * low:.1f}-{100 * high:.1f}%)"


METRIC_ROWS = (("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"), ("specificity", "Specificity"),
               ("ppv", "PPV (positive predictive value)"), ("npv", "NPV (negative predictive value)"))


METRICS_NOTE = ("Sensitivity: malignant cases called malignant. Specificity: benign cases called benign. "
                "PPV / NPV (positive / negative predictive value): malignant / benign calls that are right.")


class MetricsTable(ScrolledTree):
    """Accuracy, sensitivity, specificity, PPV and NPV with 95% Wilson intervals and k/n.

    The rows have short names (``"PPV"``), so the table leaves room for the pictures;
    put :data:`METRICS_NOTE` beside it."""

    def __init__(self, parent: tk.Misc, *, height: int = 5):
        super().__init__(parent, (("metric", "Metric", 96, "w"), ("value", "Value", 64, "e"),
                                  ("ci", "95% CI", 104, "e"), ("kn", "k / n", 72, "e")), height=height, stretch=0,
                         scrollbars=False)

    def show(self, metrics) -> None:
        """Show a ``ThresholdMetrics`` (or clear with None)."""
        rows = []
        if metrics is not None:
            for attr, label in METRIC_ROWS:
                rate = getattr(metrics, attr)
                value = getattr(rate, "value", None)
                short = label.split(" (")[0]  # "PPV (positive predictive value)" -> "PPV"
                if value is None or value != value:
                    rows.append((short, "n/a", "", f"{rate.k} / {rate.n}"))
                else:
                    rows.append((short, f"{100 * value:.1f}%", f"{100 * rate.low:.1f}-{100 * rate.high:.1f}%",
                                 f"{rate.k} / {rate.n}"))
        self.replace_rows(rows)


class ConfusionGrid(ttk.Frame):
    """A 2x2 confusion matrix with words on both axes (no colour needed to read it).

    ``row_labels=False`` leaves out the "actual" class names on the left, for a grid
    placed in line to the right of one that has them."""

    def __init__(self, parent: tk.Misc, title: str = "", *, row_labels: bool = True):
        super().__init__(parent)
        self.title = ttk.Label(self, text=title, style="Bold.TLabel")
        if title:  # an empty title would leave a blank line above the grid
            self.title.grid(row=0, column=0, columnspan=3, sticky="w")
        ttk.Label(self, text="called\nmalignant", style="Muted.TLabel", justify="center").grid(row=1, column=1, padx=4)
        ttk.Label(self, text="called\nbenign", style="Muted.TLabel", justify="center").grid(row=1, column=2, padx=4)
        if row_labels:
            ttk.Label(self, text="actual \u2193", style="Muted.TLabel").grid(row=1, column=0, sticky="se",
                                                                                     padx=(0, 4))
            for row, text, style in ((2, f"{MALIGNANT_MARK} malignant", "Malignant.TLabel"),
                                     (3, f"{BENIGN_MARK} benign", "Benign.TLabel")):
                ttk.Label(self, text=text, style=style).grid(row=row, column=0, sticky="e", padx=(0, 4))
        self.cells = {}
        for key, r, c in (("tp", 2, 1), ("fn", 2, 2), ("fp", 3, 1), ("tn", 3, 2)):
            cell = ttk.Label(self, text="-", anchor="center", relief="groove", width=7, padding=(2, 3))
            cell.grid(row=r, column=c, padx=2, pady=2, sticky="nsew")
            self.cells[key] = cell

    def show(self, tp: int | None, fp: int | None, tn: int | None, fn: int | None) -> None:
        names = {"tp": "TP", "fp": "FP", "tn": "TN", "fn": "FN"}
        for key, value in (("tp", tp), ("fp", fp), ("tn", tn), ("fn", fn)):
            self.cells[key].configure(text="-" if value is None else f"{names[key]} {value}")

    def values(self) -> dict[str, str]:
        return {k: cell.cget("text") for k, cell in self.cells.items()}
