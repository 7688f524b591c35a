"""Small shared widgets and the look of the app: fonts, colours, styles, scrolling pages.

The look is ttk's built-in ``clam`` theme in a light palette: white fields, tables and
buttons on a pale grey window, one slate-blue accent for focus, selection and the main
action of a tab, and a 2-pixel focus ring in that accent on every control the keyboard
reaches. Every text colour keeps a contrast of at least 4.5:1 (WCAG AA) on the
backgrounds it is drawn on (tests/gui/test_text_size.py checks them).

Class colours come from the Okabe-Ito palette, which people with the common forms of
colour blindness can tell apart: benign is blue, malignant is orange, and every use of
colour is paired with a word or a symbol. Fonts are Tk named fonts in points, so they
follow Tk's scaling (the display's dpi) and the View menu's text size
(:data:`TEXT_SIZES`).

Each tab sits in a :class:`ScrolledPage`: when its content needs more room than the
window gives (large text, a small screen) scroll bars appear, the mouse wheel scrolls
it, and the widget that gets the keyboard focus is scrolled into view.
"""

from __future__ import annotations

import sys
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from bcdesktop.metrics import format_percent

# Okabe-Ito colours.
BENIGN = "#0072B2"          # blue
MALIGNANT = "#E69F00"       # orange (plots, fills)
MALIGNANT_TEXT = "#A35200"  # darker orange, readable as text on a light background
TRAIN_LINE = "#0072B2"
VALIDATION_LINE = "#D55E00"  # vermillion, drawn dashed
ERROR_TEXT = "#B00020"

# The window's palette (not class colours).
BACKGROUND = "#F4F6F8"      # window, panels
SURFACE = "#FFFFFF"         # fields, tables, buttons, cells
TEXT = "#1B1F24"
MUTED_TEXT = "#4F5A65"      # secondary text: 6.5:1 on BACKGROUND
DISABLED_TEXT = "#8A939C"   # disabled controls (exempt from the contrast rule, still legible)
BORDER = "#7D8791"          # outline of fields and buttons: 3.4:1, so a control is seen as one
RULE = "#CDD4DB"            # frames, tabs, separators (decoration)
ACCENT = "#2F5D8A"          # focus ring, selection, the main action: slate blue, not a class colour
ACCENT_ACTIVE = "#24486C"
HOVER = "#E9EFF5"
PRESSED = "#D6E0EA"
TAB_IDLE = "#E4E9EE"
HEADING = "#E9EDF1"
TROUGH = "#E4E8EC"
THUMB = "#B9C2CB"
THUMB_ACTIVE = "#98A3AE"
DISABLED_FILL = "#EEF1F4"
SELECT_INACTIVE = "#CFDCE8"  # a selection in a widget without the focus
PROGRESS = ACCENT

CLASS_NAMES = ("benign", "malignant")
CLASS_COLORS = (BENIGN, MALIGNANT)
# Colour is never the only cue: the classes and warnings also have a symbol and a word.
BENIGN_MARK = "\u25cf"     # ●
MALIGNANT_MARK = "\u25b2"  # ▲
WARNING_MARK = "\u26a0"    # ⚠
TEXT_SCALE_EVENT = "<<TextScaleChanged>>"  # fired on the root after the text size changed
#: The View menu's text sizes (Ctrl+plus / Ctrl+minus step through them, Ctrl+0 is 100%).
TEXT_SIZES = (1.0, 1.25, 1.5, 1.75, 2.0)

# Named fonts created by setup_styles, as (name, size relative to TkDefaultFont, weight, overstrike).
_FONTS = (
    ("BcTitle", 1.35, "bold", False),
    ("BcBig", 2.2, "bold", False),
    ("BcBigStale", 2.2, "bold", True),    # a result that no longer matches its inputs
    ("BcTitleStale", 1.35, "bold", True),
    ("BcBold", 1.0, "bold", False),
    ("BcSmall", 0.85, "normal", False),
)
_SCALED_TK_FONTS = ("TkDefaultFont", "TkTextFont", "TkFixedFont", "TkMenuFont", "TkHeadingFont",
                    "TkCaptionFont", "TkSmallCaptionFont", "TkIconFont", "TkTooltipFont")
_TEXT_CLASSES = ("TEntry", "TSpinbox", "TCombobox", "Entry", "Spinbox")


def setup_styles(root: tk.Misc, text_scale: float = 1.0) -> None:
    """Create the app's named fonts and ttk styles for the window ``root``; ``text_scale``
    multiplies all text sizes.

    Fonts, styles, the option database and class bindings belong to the Tk interpreter,
    which every window of it shares: all are set here in full, from Tk's own font sizes
    and ``text_scale``, never from what an earlier window left. Also installs the
    keyboard habits every text field shares (:func:`install_field_keys`)."""
    style = ttk.Style(root)
    if "clam" in style.theme_names() and style.theme_use() != "clam":
        style.theme_use("clam")  # built in everywhere; the palette below is written for it
    _option_database(root)
    set_text_scale(root, text_scale)
    _palette(style)
    _focus_rings(root, style)
    style.configure("Error.TLabel", foreground=ERROR_TEXT)
    style.configure("Muted.TLabel", foreground=MUTED_TEXT)
    style.configure("Small.TLabel", font="BcSmall", foreground=MUTED_TEXT)
    style.configure("Title.TLabel", font="BcTitle")
    style.configure("Big.TLabel", font="BcBig")
    style.configure("Bold.TLabel", font="BcBold")
    style.configure("Benign.TLabel", foreground=BENIGN, font="BcBold")
    style.configure("Malignant.TLabel", foreground=MALIGNANT_TEXT, font="BcBold")
    style.configure("Status.TLabel", padding=(6, 2))
    # A table cell: flat, white, thinly ruled, so it does not look like a button.
    style.configure("Cell.TLabel", background=SURFACE, foreground=TEXT, relief="solid", borderwidth=1,
                    bordercolor=RULE, lightcolor=SURFACE, darkcolor=SURFACE, padding=(8, 4), anchor="center")
    install_field_keys(root)


def _option_database(root: tk.Misc) -> None:
    """Colours of the classic Tk widgets the app shows (menus, a combobox's list, the window)."""
    for pattern, value in (("*Menu.background", SURFACE), ("*Menu.foreground", TEXT),
                           ("*Menu.activeBackground", ACCENT), ("*Menu.activeForeground", SURFACE),
                           ("*Menu.disabledForeground", DISABLED_TEXT), ("*Menu.selectColor", TEXT),
                           ("*Menu.activeBorderWidth", 0), ("*Menu.relief", "flat"),
                           ("*TCombobox*Listbox.background", SURFACE), ("*TCombobox*Listbox.foreground", TEXT),
                           ("*TCombobox*Listbox.selectBackground", ACCENT),
                           ("*TCombobox*Listbox.selectForeground", SURFACE),
                           # classic Tk widgets: the plot toolbar's and the message boxes'
                           ("*Frame.background", BACKGROUND), ("*Label.background", BACKGROUND),
                           ("*Label.foreground", TEXT), ("*Button.background", BACKGROUND),
                           ("*Button.foreground", TEXT), ("*Button.activeBackground", HOVER),
                           ("*Button.highlightBackground", BACKGROUND), ("*Checkbutton.background", BACKGROUND),
                           ("*Checkbutton.activeBackground", HOVER), ("*Checkbutton.selectColor", PRESSED),
                           ("*Checkbutton.highlightBackground", BACKGROUND), ("*Dialog.background", BACKGROUND)):
        root.option_add(pattern, value)
    if isinstance(root, (tk.Tk, tk.Toplevel)):
        root.configure(background=BACKGROUND)


def _palette(style: ttk.Style) -> None:
    """The light palette on clam: flat white controls, thin rules, the accent for state."""
    style.configure(".", background=BACKGROUND, foreground=TEXT, bordercolor=RULE, lightcolor=BACKGROUND,
                    darkcolor=BACKGROUND, troughcolor=TROUGH, selectbackground=ACCENT, selectforeground=SURFACE,
                    insertcolor=TEXT, focuscolor=ACCENT, fieldbackground=SURFACE)
    style.map(".", background=[("disabled", BACKGROUND)], foreground=[("disabled", DISABLED_TEXT)],
              selectbackground=[("!focus", SELECT_INACTIVE)], selectforeground=[("!focus", TEXT)])
    # Buttons: the border element draws two rings (outer bordercolor, inner light/dark):
    # flat in the fill colour, both in the accent when focused.
    style.configure("TButton", background=SURFACE, bordercolor=BORDER, lightcolor=SURFACE, darkcolor=SURFACE,
                    padding=(10, 4))
    edge = [("focus", ACCENT), ("disabled", DISABLED_FILL), ("pressed", PRESSED), ("active", HOVER)]
    style.map("TButton", background=[("disabled", DISABLED_FILL), ("pressed", PRESSED), ("active", HOVER)],
              foreground=[("disabled", DISABLED_TEXT)], bordercolor=[("focus", ACCENT), ("disabled", RULE)],
              lightcolor=edge, darkcolor=edge)
    # The main action of a tab (Predict, Start training, Score): filled with the accent;
    # its focus ring is dark outside and white inside, so it shows on the fill.
    style.configure("Primary.TButton", background=ACCENT, foreground=SURFACE, bordercolor=ACCENT,
                    lightcolor=ACCENT, darkcolor=ACCENT)
    primary_edge = [("focus", SURFACE), ("disabled", DISABLED_FILL), ("pressed", ACCENT_ACTIVE),
                    ("active", ACCENT_ACTIVE)]
    style.map("Primary.TButton", background=[("disabled", DISABLED_FILL), ("pressed", ACCENT_ACTIVE),
                                             ("active", ACCENT_ACTIVE)],
              foreground=[("disabled", DISABLED_TEXT)], bordercolor=[("focus", TEXT), ("disabled", RULE)],
              lightcolor=primary_edge, darkcolor=primary_edge)
    # Text fields: white, a 1-pixel outline, a 2-pixel accent ring with the focus.
    field_edge = [("focus", ACCENT), ("disabled", DISABLED_FILL)]
    for name in ("TEntry", "TSpinbox", "TCombobox"):
        style.configure(name, fieldbackground=SURFACE, background=SURFACE, foreground=TEXT, bordercolor=BORDER,
                        lightcolor=SURFACE, darkcolor=SURFACE, arrowcolor=TEXT, insertcolor=TEXT)
        style.map(name, bordercolor=[("focus", ACCENT), ("disabled", RULE)], lightcolor=field_edge,
                  darkcolor=field_edge, fieldbackground=[("disabled", DISABLED_FILL)],
                  foreground=[("disabled", DISABLED_TEXT)], arrowcolor=[("disabled", DISABLED_TEXT)],
                  background=[("disabled", DISABLED_FILL), ("pressed", PRESSED), ("active", HOVER)],
                  selectbackground=[("!focus", SELECT_INACTIVE)], selectforeground=[("!focus", TEXT)])
    style.configure("TEntry", padding=(4, 2))
    style.configure("TCombobox", padding=(4, 2))
    style.map("TCombobox", fieldbackground=[("disabled", DISABLED_FILL), ("readonly", SURFACE)])
    for name in ("TCheckbutton", "TRadiobutton"):
        style.configure(name, indicatorbackground=SURFACE, indicatorforeground=TEXT, upperbordercolor=BORDER,
                        lowerbordercolor=BORDER)
        style.map(name, background=[("active", BACKGROUND)], foreground=[("disabled", DISABLED_TEXT)],
                  indicatorbackground=[("disabled", DISABLED_FILL), ("pressed", PRESSED)])
    style.configure("TNotebook", background=BACKGROUND, bordercolor=RULE, lightcolor=BACKGROUND,
                    darkcolor=BACKGROUND, tabmargins=(2, 4, 2, 0))
    style.configure("TNotebook.Tab", background=TAB_IDLE, foreground=TEXT, bordercolor=RULE, lightcolor=TAB_IDLE,
                    darkcolor=TAB_IDLE, padding=(10, 2))
    style.map("TNotebook.Tab", background=[("selected", BACKGROUND), ("active", HOVER)],
              lightcolor=[("selected", BACKGROUND), ("active", HOVER)],
              darkcolor=[("selected", BACKGROUND), ("active", HOVER)], padding=[("selected", (10, 4, 10, 2))])
    style.configure("TLabelframe", background=BACKGROUND, bordercolor=RULE, lightcolor=BACKGROUND,
                    darkcolor=BACKGROUND)
    style.configure("TLabelframe.Label", background=BACKGROUND, foreground=TEXT, font="BcBold")
    style.configure("Treeview", background=SURFACE, fieldbackground=SURFACE, foreground=TEXT, bordercolor=BORDER,
                    lightcolor=SURFACE, darkcolor=SURFACE)
    style.map("Treeview", background=[("selected", "focus", ACCENT), ("selected", SELECT_INACTIVE)],
              foreground=[("disabled", DISABLED_TEXT), ("selected", "focus", SURFACE), ("selected", TEXT)],
              bordercolor=[("focus", ACCENT)], lightcolor=[("focus", ACCENT)], darkcolor=[("focus", ACCENT)])
    style.configure("Treeview.Heading", background=HEADING, foreground=TEXT, bordercolor=RULE, lightcolor=HEADING,
                    darkcolor=HEADING, relief="raised")  # raised: a thin rule between the columns
    style.map("Treeview.Heading", background=[("active", HOVER)], lightcolor=[("active", HOVER)],
              darkcolor=[("active", HOVER)])
    for name in ("Vertical.TScrollbar", "Horizontal.TScrollbar"):
        style.configure(name, background=THUMB, troughcolor=TROUGH, bordercolor=TROUGH, lightcolor=THUMB,
                        darkcolor=THUMB, arrowcolor=MUTED_TEXT, gripcount=0)
        style.map(name, background=[("disabled", TROUGH), ("pressed", THUMB_ACTIVE), ("active", THUMB_ACTIVE)],
                  lightcolor=[("pressed", THUMB_ACTIVE), ("active", THUMB_ACTIVE)],
                  darkcolor=[("pressed", THUMB_ACTIVE), ("active", THUMB_ACTIVE)],
                  arrowcolor=[("disabled", DISABLED_TEXT)])
    style.configure("Horizontal.TProgressbar", background=PROGRESS, troughcolor=TROUGH, bordercolor=RULE,
                    lightcolor=PROGRESS, darkcolor=PROGRESS)
    style.configure("Horizontal.TScale", background=SURFACE, troughcolor=TROUGH, bordercolor=BORDER,
                    lightcolor=SURFACE, darkcolor=SURFACE, gripcount=0)
    style.configure("TSeparator", background=RULE)


def _focus_rings(root: tk.Misc, style: ttk.Style) -> None:
    """A solid 2-pixel accent ring for the controls whose clam focus mark is a faint
    dotted line (check and radio buttons, notebook tabs, the slider): clam's plain
    ``border`` element around the label (or the trough), drawn ``solid`` in the accent
    with the focus and ``flat`` (nothing) without it; its room is kept in both states,
    so nothing moves. Buttons and fields show the focus with their own border
    (:func:`_palette`); the dotted mark is left out of a button's layout."""
    ring = dict(bordercolor=ACCENT, borderwidth=3)  # the border draws 2 pixels: 1 is left as a gap
    relief = [("focus", "solid"), ("!focus", "flat")]
    button = [("Button.border", {"sticky": "nswe", "border": "1", "children": [
        ("Button.padding", {"sticky": "nswe", "children": [("Button.label", {"sticky": "nswe"})]})]})]
    style.layout("TButton", button)
    for kind in ("Checkbutton", "Radiobutton"):
        style.layout(f"T{kind}", [(f"{kind}.padding", {"sticky": "nswe", "children": [
            (f"{kind}.indicator", {"side": "left", "sticky": ""}),
            (f"{kind}.border", {"side": "left", "sticky": "w", "children": [
                (f"{kind}.label", {"sticky": "nswe"})]})]})])
        style.configure(f"T{kind}", **ring)
        style.map(f"T{kind}", relief=relief)
    # A tab's outline turns to the accent too (the tab element draws with bordercolor).
    style.layout("TNotebook.Tab", [("Notebook.tab", {"sticky": "nswe", "children": [
        ("Notebook.padding", {"side": "top", "sticky": "nswe", "children": [
            ("Notebook.border", {"side": "top", "sticky": "nswe", "children": [
                ("Notebook.label", {"side": "top", "sticky": ""})]})]})]})])
    style.configure("TNotebook.Tab", borderwidth=3)
    style.map("TNotebook.Tab", relief=relief, bordercolor=[("focus", ACCENT)])
    for orient in ("Horizontal", "Vertical"):
        side = "left" if orient == "Horizontal" else "top"
        style.layout(f"{orient}.TScale", [(f"{orient}.Scale.border", {"sticky": "nswe", "children": [
            (f"{orient}.Scale.trough", {"sticky": "nswe", "children": [
                (f"{orient}.Scale.slider", {"side": side, "sticky": ""})]})]})])
        style.configure(f"{orient}.TScale", borderwidth=2)
        style.map(f"{orient}.TScale", relief=relief, bordercolor=[("focus", ACCENT)],
                  background=[("pressed", PRESSED), ("active", HOVER)])


def shortcut_modifier(platform: str | None = None) -> tuple[str, str]:
    """``(Tk modifier, label)`` of the app's shortcuts: Command on macOS, as its users
    expect (``("Command", "Cmd")``), Control elsewhere (``("Control", "Ctrl")``)."""
    return ("Command", "Cmd") if (platform or sys.platform) == "darwin" else ("Control", "Ctrl")


#: The modifier key of every shortcut on this platform and how menus name it.
MOD, MOD_LABEL = shortcut_modifier()


def install_field_keys(root: tk.Misc) -> None:
    """Habits every text field of the app shares, as class bindings of ``root``'s Tk
    interpreter:

    - Ctrl+A (Cmd+A on macOS) selects the whole text (Tk's X11 default moves to the
      start of the line);
    - the mouse wheel never changes a spin box's or a combo box's value (a score or a
      setting changed by a wheel turn meant to scroll would go unnoticed): it scrolls
      the page under the pointer instead (see :class:`ScrolledPage`)."""
    for cls in _TEXT_CLASSES:
        for sequence in (f"<{MOD}-Key-a>", f"<{MOD}-Key-A>"):
            root.bind_class(cls, sequence, _select_all)
    for cls in ("TSpinbox", "TCombobox", "Spinbox"):
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            root.bind_class(cls, sequence, "")


def _select_all(event) -> str | None:
    widget = event.widget
    if isinstance(widget, str):  # a widget Tcl made itself (a dialog's): leave it to Tk
        return None
    widget.selection_range(0, "end")
    widget.icursor("end")
    return "break"


def set_text_scale(root: tk.Misc, factor: float) -> None:
    """Scale every named font by ``factor`` relative to the Tk defaults (1.0 = 100%), for
    the window ``root`` (:func:`text_scale` reads it back) and its Tk interpreter's fonts."""
    factor = min(max(float(factor), 0.5), 3.0)
    root._bc_text_scale = factor
    interpreter = root._root()
    for name, base in _tk_font_sizes(interpreter).items():
        sign = -1 if base < 0 else 1
        tkfont.nametofont(name, root=root).configure(size=sign * max(6, round(abs(base) * factor)))
    default = tkfont.nametofont("TkDefaultFont", root=root)
    size = default.cget("size")
    family = default.cget("family")
    # The interpreter's, as its fonts are; a tkinter Font deletes its Tk font when collected.
    fonts = interpreter.__dict__.setdefault("_bc_fonts", {})
    for name, mult, weight, overstrike in _FONTS:
        sign = -1 if size < 0 else 1
        options = dict(family=family, size=sign * max(6, round(abs(size) * mult)), weight=weight,
                       overstrike=overstrike)
        if name in fonts:
            fonts[name].configure(**options)
        else:
            fonts[name] = tkfont.Font(root=root, name=name, exists=name in tkfont.names(root), **options)
    _configure_sizes(root)


def _tk_font_sizes(interpreter: tk.Tk) -> dict[str, int]:
    """Tk's own sizes of its named fonts, read from ``interpreter`` the first time (before
    any text size changed them) and kept with it."""
    sizes = interpreter.__dict__.get("_bc_base_sizes")
    if sizes is None:
        sizes = interpreter._bc_base_sizes = {}
        for name in _SCALED_TK_FONTS:
            try:
                sizes[name] = tkfont.nametofont(name, root=interpreter).cget("size")
            except tk.TclError:
                continue
    return sizes


def next_text_size(current: float, factor: float | None) -> float:
    """The :data:`TEXT_SIZES` step ``factor`` leads to from ``current``: None is 100%;
    the step nearest ``current * factor``, but always one step on in the direction of
    ``factor`` (so Ctrl+plus after 132% gives 150%); the ends stay where they are."""
    if factor is None:
        return 1.0
    target = current * factor
    nearest = min(TEXT_SIZES, key=lambda s: (abs(s - target), s))
    if factor > 1 and nearest <= current + 1e-9:
        nearest = next((s for s in TEXT_SIZES if s > current + 1e-9), TEXT_SIZES[-1])
    elif factor < 1 and nearest >= current - 1e-9:
        nearest = next((s for s in reversed(TEXT_SIZES) if s < current - 1e-9), TEXT_SIZES[0])
    return nearest


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
    a guessed width that may not be there. Returns ``label``.

    The label asks for ``min_chars`` characters only (``width``), not for the width it
    was last given: otherwise it could never become narrower again, and a window made
    wider once (at a larger text size) would keep its layout after going back."""
    label.configure(wraplength=chars_width(label, min_chars), width=_width_in_own_font(label, min_chars))
    label._bc_wrap_to_width = True  # rescale_widgets leaves it alone: <Configure> sets it

    def follow(event) -> None:
        # A few pixels less than the width: the theme draws a border inside the label.
        wrap = max(chars_width(label, min_chars), event.width - 4)
        if wrap != int(float(str(label.cget("wraplength")) or 0)):  # each change lays the window out again
            label.configure(wraplength=wrap)

    label.bind("<Configure>", follow, add="+")
    return label


def _width_in_own_font(label: ttk.Label, n: int) -> int:
    """``n`` characters of the default font in characters of ``label``'s own font (a
    label's ``width`` counts its own font's characters: a title's are wider)."""
    font = str(label.cget("font") or ttk.Style(label).lookup(label.cget("style") or "TLabel", "font")
               or "TkDefaultFont")
    try:
        digit = tkfont.Font(root=label, font=font).measure("0") if font not in tkfont.names(label) \
            else tkfont.nametofont(font, root=label).measure("0")
    except tk.TclError:
        return n
    return max(1, round(chars_width(label, n) / max(1, digit)))


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
        before, last[0] = last[0], now
        rescale_widgets(root, before, now)

    root.bind(TEXT_SCALE_EVENT, changed, add="+")


def rescale_widgets(widget: tk.Misc, before: int, after: int) -> None:
    """After the text changed from ``before`` to ``after`` pixels a character: set wrap
    widths and lengths in ``widget``'s tree for the new size, table columns too, and
    re-apply entry widths (Tk keeps an entry's old pixel size and scroll position after
    a font change).

    Each pixel size is kept in characters from the first time it is seen, and set from
    that, so going up and down the text sizes lands on the same pixels every time
    (multiplying by each step's ratio drifts by rounding)."""
    stack = [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, ScrolledTree):
            w.apply_text_scale()  # absolute widths from its 100% widths: no rounding drift
            continue
        kind = w.winfo_class()
        if kind == "TLabel" and not hasattr(w, "_bc_wrap_to_width"):
            _rescale_option(w, "wraplength", before, after)
        elif kind in ("TEntry", "TSpinbox", "TCombobox"):
            w.configure(width=w.cget("width"))
            w.xview_moveto(0)
        elif kind in ("TScale", "TProgressbar"):
            _rescale_option(w, "length", before, after)
        stack.extend(w.winfo_children())


def _rescale_option(widget: tk.Misc, option: str, before: int, after: int) -> None:
    units = widget.__dict__.setdefault("_bc_chars", {})
    if option not in units:
        value = int(str(widget.cget(option)) or 0)
        if value <= 0:
            return
        units[option] = value / before  # in characters of the size it was made at
    widget.configure(**{option: round(units[option] * after)})


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
        and 2 (message) of ``row`` (a form may move them with ``grid_configure``).
    label : str
    check : callable
    initial : str
    values : sequence of str, optional
        If given, the input is a read-only combobox of these values.
    spin : (int, int), optional
        If given, the input is a spin box stepping through the whole numbers from the
        first to the second (right-aligned, no wrapping round).
    width : int
    hint : str, optional
        Shown in the message column (muted) while the value is valid.
    label_style : str, optional
        The label's ttk style (default: a plain label).
    message_chars : int
        The message wraps at this many average characters.
    quiet : bool
        Say nothing until the text first changes or :meth:`validate` is called: a form
        the user has not filled in yet is not wrong yet.
    """

    def __init__(self, parent: tk.Misc, row: int, label: str, check: Callable[[str], tuple[Any, str | None]],
                 initial: str = "", *, values: tuple[str, ...] | None = None, spin: tuple[int, int] | None = None,
                 width: int = 8, hint: str | None = None, label_style: str = "", message_chars: int = 18,
                 quiet: bool = False):
        self.check = check
        self.hint = hint or ""
        self.var = tk.StringVar(parent, value=initial)
        self.label = ttk.Label(parent, text=label, style=label_style)
        self.label.grid(row=row, column=0, sticky="w", padx=(0, 8), pady=2)
        if values is not None:
            self.input = ttk.Combobox(parent, textvariable=self.var, values=list(values), width=width,
                                      state="readonly")
        elif spin is not None:
            self.input = ttk.Spinbox(parent, textvariable=self.var, from_=spin[0], to=spin[1], increment=1,
                                     width=width, wrap=False, justify="right")
        else:
            self.input = ttk.Entry(parent, textvariable=self.var, width=width)
        self.input.grid(row=row, column=1, sticky="w", pady=2)
        self.message = ttk.Label(parent, text=self.hint, style="Muted.TLabel",
                                 wraplength=chars_width(parent, message_chars))
        self.message.grid(row=row, column=2, sticky="w", padx=(8, 0), pady=2)
        self.var.trace_add("write", lambda *_: self.validate())
        if not quiet:
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

    def clear(self) -> None:
        """Empty the field and say nothing about it again until it is next changed."""
        self.var.set("")
        self.message.configure(text=self.hint, style="Muted.TLabel")

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
    for a table whose rows and columns always fit (it saves their room); such a table
    asks for all its rows and columns.

    With scroll bars the table asks only for a modest room (at most
    :data:`TABLE_MIN_CHARS` wide and :data:`TABLE_MIN_ROWS` rows high) and takes what
    its container gives it (pack it with ``fill="both", expand=True`` or grid it
    ``sticky="nsew"``): on a small screen or with large text it scrolls inside itself
    instead of pushing the rest of its tab out of the window.
    """

    def __init__(self, parent: tk.Misc, columns, *, height: int = 8, stretch: int = -1, scrollbars: bool = True):
        super().__init__(parent)
        ids = [c[0] for c in columns]
        self.tree = ttk.Treeview(self, columns=ids, show="headings", height=height, selectmode="browse")
        self._base_widths = {cid: width for cid, _h, width, _a in columns}
        self._rows = height
        self._elastic = scrollbars
        stretch_id = ids[stretch]
        for cid, heading, _width, anchor in columns:
            self.tree.heading(cid, text=heading, anchor=anchor)
            self.tree.column(cid, minwidth=30, anchor=anchor, stretch=cid == stretch_id)
        self.tree.grid(row=0, column=0, sticky="nsew")
        if scrollbars:
            self.yscroll = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
            self.xscroll = ttk.Scrollbar(self, orient="horizontal", command=self.tree.xview)
            self.tree.configure(yscrollcommand=self.yscroll.set, xscrollcommand=self.xscroll.set)
            self.yscroll.grid(row=0, column=1, sticky="ns")
            self.xscroll.grid(row=1, column=0, sticky="ew")
            self.grid_propagate(False)  # the size asked for is set in apply_text_scale
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.apply_text_scale()

    def apply_text_scale(self) -> None:
        """Set the column widths for the current text size (display scaling included)."""
        scale = size_factor(self)
        for cid, width in self._base_widths.items():
            self.tree.column(cid, width=round(width * scale))
        if self._elastic:
            style = ttk.Style(self)
            row = int(float(style.lookup("Treeview", "rowheight") or 20))
            # the style's size, not the scroll bar's own request: that is still the old text
            # size's while the text size changes, so going back would leave the table taller
            bar = int(float(style.lookup("Vertical.TScrollbar", "arrowsize") or 14))
            natural = sum(round(w * scale) for w in self._base_widths.values()) + bar + 4
            rows = min(self._rows, TABLE_MIN_ROWS)
            self.configure(width=min(natural, chars_width(self, TABLE_MIN_CHARS)),
                           height=(rows + 1) * row + bar + 8)  # + the heading, the frame

    def replace_rows(self, rows) -> None:
        """Show ``rows`` (sequences of cell values) instead of the current ones."""
        self.tree.delete(*self.tree.get_children())
        for row in rows:
            self.tree.insert("", "end", values=["" if v is None else v for v in row])

    def rows(self) -> list[tuple]:
        """The cell texts as a user sees them, one tuple per row."""
        return [tuple(self.tree.item(i, "values")) for i in self.tree.get_children()]


TABLE_MIN_CHARS = 48
TABLE_MIN_ROWS = 6


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
                interval = "" if value is None or value != value else \
                    f"{100 * rate.low:.1f}-{100 * rate.high:.1f}%"
                rows.append((short, format_percent(value), interval, f"{rate.k} / {rate.n}"))
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
        # Plain table cells (flat, white, thinly ruled: nothing to press), at least 7
        # characters wide and as wide as their count needs ("TP 170976") at any text size.
        for key, r, c in (("tp", 2, 1), ("fn", 2, 2), ("fp", 3, 1), ("tn", 3, 2)):
            cell = ttk.Label(self, text="-", style="Cell.TLabel", anchor="center", width=-7, takefocus=False)
            cell.grid(row=r, column=c, padx=1, pady=1, sticky="nsew")
            self.cells[key] = cell

    def show(self, tp: int | None, fp: int | None, tn: int | None, fn: int | None) -> None:
        names = {"tp": "TP", "fp": "FP", "tn": "TN", "fn": "FN"}
        for key, value in (("tp", tp), ("fp", fp), ("tn", tn), ("fn", fn)):
            self.cells[key].configure(text="-" if value is None else f"{names[key]} {value}")

    def values(self) -> dict[str, str]:
        return {k: cell.cget("text") for k, cell in self.cells.items()}


class ScrolledPage(ttk.Frame):
    """A notebook page that scrolls its content when the window is too small for it.

    Build the content as a child of :attr:`body` and hand it to :meth:`set_content`.
    The content gets all the room the page has, and never less than it asks for: what
    does not fit is reached with the scroll bars, which appear only when needed (the
    vertical one first), the mouse wheel (Shift+wheel: sideways) anywhere over the page
    except over a table or list that can scroll itself, and the keyboard: the widget
    that gets the focus (Tab, or a form focusing its first bad field) is scrolled into
    view. :func:`scroll_into_view` does the same for any widget on a page.

    The content is unmapped while the page is hidden and mapped again when it is shown,
    as the notebook does with a page of its own, so ``<Map>`` and ``winfo_ismapped``
    keep meaning "this tab is on screen".
    """

    def __init__(self, parent: tk.Misc):
        super().__init__(parent)
        _install_page_scrolling(self)
        self.canvas = tk.Canvas(self, width=1, height=1, borderwidth=0, highlightthickness=0, takefocus=0,
                                background=BACKGROUND, yscrollincrement=1, xscrollincrement=1)
        self.vbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview, takefocus=0)
        self.hbar = ttk.Scrollbar(self, orient="horizontal", command=self.canvas.xview, takefocus=0)
        self.canvas.configure(yscrollcommand=self.vbar.set, xscrollcommand=self.hbar.set)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.body = ttk.Frame(self.canvas)
        self.body.rowconfigure(0, weight=1)
        self.body.columnconfigure(0, weight=1)
        self.canvas.create_window(0, 0, window=self.body, anchor="nw")
        self.content: tk.Misc | None = None
        self._pending = None
        self._shown = (False, False)
        self._viewport = (0, 0)
        self.canvas.bind("<Configure>", lambda _e: self._schedule(), add="+")
        self.body.bind("<Configure>", lambda _e: self._schedule(), add="+")
        self.bind("<Map>", lambda e: self._on_map(e, True), add="+")
        self.bind("<Unmap>", lambda e: self._on_map(e, False), add="+")

    def __repr__(self) -> str:
        return f"ScrolledPage({self.content!r}, scroll={self.scrollable})"

    def set_content(self, content: tk.Misc) -> tk.Misc:
        """Show ``content`` (a child of :attr:`body`) in the page; returns it.

        It is laid out when the page is first shown, not before (the notebook's
        current page at once): a canvas maps its window as soon as that asks for a
        size, shown or not, and every tab would then be mapped at start-up (its
        ``<Map>`` work, such as building plots, included)."""
        self.content = content
        content._bc_page = self
        notebook = self.master
        current = isinstance(notebook, ttk.Notebook) and str(notebook.tk.call(notebook._w, "select")) == self._w
        if current or self.winfo_ismapped():
            content.grid(row=0, column=0, sticky="nsew")
            self._schedule()
        return content

    @property
    def scrollable(self) -> tuple[bool, bool]:
        """Whether the (horizontal, vertical) scroll bar is shown."""
        return self._shown

    def _on_map(self, event, mapped: bool) -> None:
        if event.widget is not self or self.content is None:
            return
        if mapped:
            self.content.grid(row=0, column=0, sticky="nsew")
            self._schedule()
        else:
            self.content.grid_remove()

    def _schedule(self) -> None:
        if self._pending is None:
            # On the root, not on this widget: a pending call cancelled through the root
            # (as a closing window or a test does) must not leave this widget a command
            # name to delete again when it is destroyed (Tk refuses, and stops there).
            self._pending = self._root().after_idle(self._update)

    def _update(self) -> None:
        """Fit the content to the page: scroll bars where it cannot fit, the rest filled."""
        self._pending = None
        content = self.content
        if content is None or not self.winfo_exists() or not self.winfo_ismapped():
            return  # hidden: the layout of the page is kept as it was until it is shown
        width, height = self.winfo_width(), self.winfo_height()
        if width <= 1 or height <= 1:
            return
        want_w, want_h = content.winfo_reqwidth(), content.winfo_reqheight()
        bar_w, bar_h = self.vbar.winfo_reqwidth(), self.hbar.winfo_reqheight()
        vertical = want_h > height
        horizontal = want_w > width - (bar_w if vertical else 0)
        if horizontal and not vertical:
            vertical = want_h > height - bar_h
        if (horizontal, vertical) != self._shown:
            self._shown = (horizontal, vertical)
            for bar, shown, where in ((self.hbar, horizontal, dict(row=1, column=0, sticky="ew")),
                                      (self.vbar, vertical, dict(row=0, column=1, sticky="ns"))):
                if shown:
                    bar.grid(**where)
                else:
                    bar.grid_remove()
        viewport = (width - (bar_w if vertical else 0), height - (bar_h if horizontal else 0))
        if viewport != self._viewport:  # the content fills the page where it is smaller
            self._viewport = viewport
            self.body.columnconfigure(0, minsize=viewport[0])
            self.body.rowconfigure(0, minsize=viewport[1])
        region = (0, 0, max(want_w, viewport[0]), max(want_h, viewport[1]))
        if tuple(int(float(v)) for v in self.tk.splitlist(self.canvas.cget("scrollregion"))) != region:
            self.canvas.configure(scrollregion=region)
        if not horizontal:
            self.canvas.xview_moveto(0)
        if not vertical:
            self.canvas.yview_moveto(0)

    def scroll(self, units: int, *, horizontal: bool = False) -> None:
        """Scroll by ``units`` lines of text (negative: up or left), if there is more to see."""
        if not self._shown[0 if horizontal else 1]:
            return
        step = tkfont.nametofont("TkDefaultFont", root=self).metrics("linespace")
        (self.canvas.xview_scroll if horizontal else self.canvas.yview_scroll)(units * step, "units")

    def see(self, widget: tk.Misc, margin: int = 8) -> None:
        """Scroll so that ``widget`` (somewhere in the content) is in view, moving as little
        as possible; a widget taller or wider than the page shows its top or left edge."""
        if self.content is None or not self.winfo_ismapped() or not widget.winfo_ismapped():
            return
        if self._pending is not None:  # lay out first, or the sizes are from before
            self._root().after_cancel(self._pending)
            self._update()
        for horizontal in (False, True):
            if not self._shown[0 if horizontal else 1]:
                continue
            if horizontal:
                start = widget.winfo_rootx() - self.body.winfo_rootx()
                size, room, total = widget.winfo_width(), self.canvas.winfo_width(), self.body.winfo_width()
                first = self.canvas.canvasx(0)
            else:
                start = widget.winfo_rooty() - self.body.winfo_rooty()
                size, room, total = widget.winfo_height(), self.canvas.winfo_height(), self.body.winfo_height()
                first = self.canvas.canvasy(0)
            if start - margin < first or size + 2 * margin > room:
                new = start - margin
            elif start + size + margin > first + room:
                new = start + size + margin - room
            else:
                continue
            new = min(max(0, new), max(0, total - room))
            (self.canvas.xview_moveto if horizontal else self.canvas.yview_moveto)(new / max(1, total))


def page_of(widget: tk.Misc) -> ScrolledPage | None:
    """The :class:`ScrolledPage` ``widget`` is on, or None."""
    w = widget
    while w is not None:
        if isinstance(w, ScrolledPage):
            return w
        w = getattr(w, "master", None)
    return None


def scroll_into_view(widget: tk.Misc) -> None:
    """Scroll the page ``widget`` is on (if any) so that it can be seen; for a result
    that appears away from the button that asked for it."""
    page = page_of(widget)
    if page is not None:
        widget.update_idletasks()  # its size and place are known only once laid out
        page.see(widget)


def page_aliases(notebook: ttk.Notebook) -> None:
    """Let ``notebook`` take and give the content of each :class:`ScrolledPage` for the
    page: ``select``, ``index``, ``tab``, ``hide`` and ``forget`` accept the content (or
    its path name), and ``select()`` and ``tabs()`` answer with the content's path. Code
    that knows a tab by its own frame (``notebook.select(app.tabs["data"])``,
    ``notebook.select() == str(app.tabs["data"])``) keeps working when the tab is on a
    scrolled page."""
    if getattr(notebook, "_bc_page_aliases", False):
        return
    notebook._bc_page_aliases = True

    def page(tab_id):
        if isinstance(tab_id, str) and not tab_id.startswith(str(notebook) + "."):
            return tab_id  # an index, "current", "end", "@x,y"
        if isinstance(tab_id, str):
            try:
                tab_id = notebook.nametowidget(tab_id)
            except KeyError:
                return tab_id
        owner = getattr(tab_id, "_bc_page", None)
        return tab_id if owner is None else owner

    def content(path):
        try:
            widget = notebook.nametowidget(str(path))
        except KeyError:
            return path
        shown = getattr(widget, "content", None) if isinstance(widget, ScrolledPage) else None
        return path if shown is None else str(shown)

    for name in ("select", "index", "tab", "hide", "forget"):
        method = getattr(notebook, name)

        def alias(tab_id=None, *args, _method=method, _name=name, **kwargs):
            if tab_id is None:
                answer = _method(*args, **kwargs)
                return content(answer) if _name == "select" and answer else answer
            return _method(page(tab_id), *args, **kwargs)

        setattr(notebook, name, alias)
    tabs = notebook.tabs
    notebook.tabs = lambda: tuple(content(path) for path in tabs())


def _install_page_scrolling(widget: tk.Misc) -> None:
    """Mouse wheel and focus bindings for every :class:`ScrolledPage` (once per Tk interpreter)."""
    root = widget._root()
    if getattr(root, "_bc_page_scrolling", False):
        return
    root._bc_page_scrolling = True
    for sequence, units, horizontal in (("<Button-4>", -3, False), ("<Button-5>", 3, False),
                                        ("<Shift-Button-4>", -3, True), ("<Shift-Button-5>", 3, True)):
        root.bind_all(sequence, lambda e, u=units, h=horizontal: _on_wheel(e, u, h), add="+")
    root.bind_all("<MouseWheel>", lambda e: _on_wheel(e, -3 if e.delta > 0 else 3, False), add="+")
    root.bind_all("<Shift-MouseWheel>", lambda e: _on_wheel(e, -3 if e.delta > 0 else 3, True), add="+")
    root.bind_all("<FocusIn>", _on_focus_in, add="+")


def _on_wheel(event, units: int, horizontal: bool) -> None:
    widget = event.widget
    if isinstance(widget, str):
        return
    w = widget
    while w is not None and not isinstance(w, ScrolledPage):
        if _scrolls_itself(w, units, horizontal):
            return  # a table or list under the pointer scrolls itself (its own binding)
        w = getattr(w, "master", None)
    if w is not None:
        w.scroll(units, horizontal=horizontal)


def _scrolls_itself(widget: tk.Misc, units: int, horizontal: bool) -> bool:
    view = getattr(widget, "xview" if horizontal else "yview", None)
    if view is None or widget.winfo_class() not in ("Treeview", "Text", "Listbox"):
        return False
    try:
        first, last = (float(v) for v in view())
    except (tk.TclError, TypeError, ValueError):
        return False
    return (units < 0 and first > 0.0) or (units > 0 and last < 1.0)


def _on_focus_in(event) -> None:
    widget = event.widget
    if isinstance(widget, str):
        return
    root = widget._root()
    if str(widget.tk.call("focus")) != str(widget):
        return  # an ancestor told that the focus went into it: the focused widget follows
    if widget is getattr(root, "_bc_last_focus", None):
        return  # the window got the focus back: leave the page where the user scrolled it
    root._bc_last_focus = widget
    page = page_of(widget)
    if page is not None and widget is not page.content:
        root.after_idle(lambda: widget.winfo_exists() and page.see(widget))


class Reflow:
    """Two parts of a tab side by side while its page is wide enough for both, else the
    second below the first, so large text scrolls one way (down) instead of two.

    ``first`` and ``second`` are children of ``parent`` (laid out with grid); they take
    rows ``row`` and ``row + 1`` (stacked) or columns 0 and 1 of ``row`` (side by side,
    ``weights`` for the two columns). The choice follows the page's width, the text
    size and :meth:`update` (call it when a part's content grew). ``top`` is the gap
    above the row."""

    def __init__(self, parent: tk.Misc, first: tk.Misc, second: tk.Misc, *, row: int = 0, gap: int = 12,
                 weights: tuple[int, int] = (0, 1), sticky: str = "nsew", top: int = 0):
        self.parent, self.first, self.second = parent, first, second
        self.row, self.gap, self.weights, self.sticky, self.top = row, gap, weights, sticky, top
        self.stacked: bool | None = None
        self._pending = None
        self._apply(False)
        parent.bind("<Map>", lambda _e: self.update(), add="+")
        parent.winfo_toplevel().bind(TEXT_SCALE_EVENT, lambda _e: self.update(), add="+")
        page = page_of(parent)
        if page is not None:
            page.canvas.bind("<Configure>", lambda _e: self.update(), add="+")

    def __repr__(self) -> str:
        return f"Reflow({'stacked' if self.stacked else 'side by side'})"

    def update(self) -> None:
        """Choose the layout again when Tk is next idle (sizes are known by then)."""
        if self._pending is None:
            self._pending = self.parent._root().after_idle(self._choose)  # see ScrolledPage._schedule

    def _room(self) -> int:
        page = page_of(self.parent)
        if page is not None and page.canvas.winfo_ismapped():
            return page.canvas.winfo_width()
        return self.parent.winfo_width()

    def _choose(self) -> None:
        self._pending = None
        if not self.parent.winfo_exists() or not self.parent.winfo_ismapped():
            return
        need = self.first.winfo_reqwidth() + self.gap + self.second.winfo_reqwidth() + _side_padding(self.parent)
        room = self._room()
        # A little slack before going back to side by side, so a scroll bar that comes
        # and goes never flips the layout to and fro.
        stacked = room < need if not self.stacked else room < need + 24
        if stacked != self.stacked:
            self._apply(stacked)

    def _apply(self, stacked: bool) -> None:
        self.stacked = stacked
        if stacked:
            self.first.grid(row=self.row, column=0, columnspan=2, sticky=self.sticky, padx=0, pady=(self.top, 0))
            self.second.grid(row=self.row + 1, column=0, columnspan=2, sticky=self.sticky, padx=0,
                             pady=(self.gap, 0))
            self.parent.columnconfigure(0, weight=1)
            self.parent.columnconfigure(1, weight=0)
            self.parent.rowconfigure(self.row + 1, weight=1)
        else:
            self.first.grid(row=self.row, column=0, columnspan=1, sticky=self.sticky, padx=(0, self.gap),
                            pady=(self.top, 0))
            self.second.grid(row=self.row, column=1, columnspan=1, sticky=self.sticky, padx=0, pady=(self.top, 0))
            self.parent.columnconfigure(0, weight=self.weights[0])
            self.parent.columnconfigure(1, weight=self.weights[1])
            self.parent.rowconfigure(self.row + 1, weight=0)


def _side_padding(widget: tk.Misc) -> int:
    """The left plus right ``padding`` of a ttk widget, in pixels (0 without padding)."""
    if "padding" not in widget.keys():
        return 0
    values = [int(float(str(v))) for v in widget.tk.splitlist(widget.cget("padding"))]
    if not values:
        return 0
    if len(values) < 3:
        return 2 * values[0]
    return values[0] + values[2]
