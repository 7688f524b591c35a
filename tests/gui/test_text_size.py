"""Text sizes 100% to 200% on a 1366x768 screen, and the look: every control of every
tab can be reached and is not cut, the View menu lands on the sizes it names, the layout
comes back after going back to 100%, text colours keep their contrast, focus rings show,
Ctrl+A selects a field's text, the mouse wheel scrolls the page and never a value.

These tests run on a private 1366x768 Xvfb (a common laptop screen; the session's
display is 1280x1024), with the first-screen note shown, as a new user sees the window.

What "reachable" means here: after the page scrolls it into view (as the focus or the
scroll bars would), the widget lies wholly inside the page's visible area and on the
screen, is shown (mapped and viewable), and has at least the room it asks for (a button
or a field squeezed below its requested size shows cut text).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tkinter as tk
from tkinter import ttk

import pytest

from bcdesktop.gui import widgets
from bcdesktop.schema import FEATURES

pytestmark = pytest.mark.gui

SCREEN = (1366, 768)
SIZES = (1.0, 1.25, 1.5, 1.75, 2.0)
CONTROLS = ("TButton", "TEntry", "TSpinbox", "TCombobox", "TCheckbutton", "TRadiobutton", "TScale",
            "Button", "Checkbutton")
GOOD = ["1000025,5,1,1,1,2,1,3,1,1,2", "1002945,5,4,4,5,7,10,3,2,1,2", "1017122,8,10,10,8,7,10,9,7,1,4",
        "1057013,8,4,5,1,2,?,7,3,1,4", "1018561,2,1,2,1,2,1,3,1,1,2", "1041801,5,3,3,3,2,3,4,4,1,4"]


@pytest.fixture(scope="session")
def laptop():
    """A private 1366x768 Xvfb at 96 dpi; yields its display name.

    It is stopped when the test process exits, not when the tests are done with it: a Tcl
    interpreter keeps its display open after its window is destroyed, and Tk ends the
    process (exit status 1, no message) at its next X call once the server is gone."""
    import atexit

    from bcdesktop.gui import xvfb

    if not xvfb.installed():
        pytest.skip("Xvfb is needed for the 1366x768 screen")
    server = xvfb.Xvfb(*SCREEN, dpi=96)
    atexit.register(server.stop)
    yield server.name


@pytest.fixture
def small_root(laptop):
    from conftest import destroy_root  # the same clean-up as the suite's own root

    r = tk.Tk(screenName=laptop, className="bcdesktop-test")
    yield r
    destroy_root(r)


@pytest.fixture
def pump(small_root, waiter_for):
    """``pump(condition, timeout)``: run the loop of the 1366x768 window until ``condition()``."""
    return waiter_for(small_root, 20.0)


@pytest.fixture
def laptop_app(small_root, pump, bundled, default_model, trained_bundle, tmp_path):
    """The window on the 1366x768 screen with data, a model, a predicted patient and a
    scored batch, as the screenshots show it."""
    from bcdesktop.gui.app import App
    from bcdesktop.gui.dialogs import RecordingDialogs

    small_root.geometry("+0+0")
    app = App(small_root, dialogs=RecordingDialogs())
    app.set_dataset(bundled)
    app.set_model(trained_bundle, source="test")
    pump(lambda: small_root.winfo_ismapped())
    app.tabs["patient"].fill_typical(1)
    app.tabs["patient"].predict()
    app.tabs["patient"]._record_result()  # now, not after the settle time: "audit entry N" shows
    app.audit.flush()
    batch = app.tabs["batch"]
    source = tmp_path / "clinic.csv"
    source.write_text("\n".join(GOOD) + "\n")
    batch.set_input(source)
    batch.score()
    pump(lambda: not batch.running and batch.summary is not None, message="the batch was not scored")
    yield app
    if not app.closed:
        app._worker.shutdown()


def descendants(widget):
    stack = [widget]
    while stack:
        w = stack.pop()
        yield w
        stack.extend(w.winfo_children())


def shown_in_principle(widget, tab) -> bool:
    """Laid out by its container all the way up to the tab (not a widget kept for later,
    such as a Cancel button packed only while loading)."""
    w = widget
    while w is not tab:
        if not w.winfo_manager():
            return False
        w = w.master
    return True


def checked_widgets(tab):
    """The controls and texts a user of ``tab`` needs: every button, field, check box and
    slider, every label with text, every table."""
    for w in descendants(tab):
        kind = w.winfo_class()
        if kind in CONTROLS or kind == "Treeview" or (kind in ("TLabel", "Label") and str(w.cget("text"))):
            if shown_in_principle(w, tab):
                yield w


def problems_of(widget, page, root) -> list[str]:
    """Why ``widget`` cannot be used after scrolling it into view (empty: it can).
    ``page`` is the tab's :class:`~bcdesktop.gui.widgets.ScrolledPage` (or, for a tab
    shown straight in the notebook, the notebook: nothing to scroll)."""
    if isinstance(page, getattr(widgets, "ScrolledPage", ())):
        page.see(widget)
        view = page.canvas
    else:
        view = page
    root.update()
    name = f"{widget.winfo_class()} {str(widget.cget('text'))[:30]!r}" if "text" in widget.keys() \
        else widget.winfo_class()
    if not widget.winfo_viewable():
        return [f"{name} is not shown"]
    out = []
    x, y, w, h = widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()
    if widget.winfo_class() == "Treeview":
        row = int(float(ttk.Style(widget).lookup("Treeview", "rowheight") or 20))
        if h < 2 * row:
            out.append(f"{name} is {h} px high, less than its heading and a row")
    elif w < widget.winfo_reqwidth() or h < widget.winfo_reqheight():
        out.append(f"{name} is cut: {w}x{h} for {widget.winfo_reqwidth()}x{widget.winfo_reqheight()}")
    vx, vy = view.winfo_rootx(), view.winfo_rooty()
    vw, vh = view.winfo_width(), view.winfo_height()
    if x < vx or y < vy or x + w > vx + vw or y + h > vy + vh:
        out.append(f"{name} at {w}x{h}+{x}+{y} is not inside the page's view {vw}x{vh}+{vx}+{vy}")
    if x < 0 or y < 0 or x + w > SCREEN[0] or y + h > SCREEN[1]:
        out.append(f"{name} at {w}x{h}+{x}+{y} is off the {SCREEN[0]}x{SCREEN[1]} screen")
    return out


def tab_problems(app, key) -> list[str]:
    """Every problem of every checked widget of the tab ``key``, each inner notebook page
    shown in turn (a widget on a page not shown is reached by choosing that page)."""
    root = app.root
    app.select_tab(key)
    root.update()
    # what a first visit starts (the Landscape tab's grid) changes the layout when it is drawn
    deadline = time.monotonic() + 60
    while getattr(app, "busy", False) and time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)
    root.update()
    tab, page = app.tabs[key], getattr(app, "pages", {}).get(key, app.notebook)
    inner = [w for w in descendants(tab) if w.winfo_class() == "TNotebook" and shown_in_principle(w, tab)]
    problems = []
    seen = set()
    for notebook in inner or [None]:
        pages = notebook.tabs() if notebook is not None else [None]
        for inner_page in pages:
            if notebook is not None:
                notebook.select(inner_page)
                root.update()
            for w in checked_widgets(tab):
                if str(w) in seen or not w.winfo_viewable() and notebook is not None:
                    continue  # on another inner page: checked when that page is shown
                seen.add(str(w))
                problems += [f"{key} tab: {p}" for p in problems_of(w, page, root)]
        if notebook is not None:
            notebook.select(0)
    return problems


def step_to(app, size, pump):
    """Press Ctrl+plus / Ctrl+minus as a user does until the text size is ``size``."""
    root = app.root
    root.focus_force()
    for _ in range(10):
        now = widgets.text_scale(root)
        if now == size:
            break
        root.event_generate(f"<{widgets.MOD}-plus>" if now < size else f"<{widgets.MOD}-minus>")
        pump()
    assert widgets.text_scale(root) == size


def show_at(app, key, size, pump):
    """Step to text ``size``, show tab ``key``; returns ``(tab, page)``."""
    step_to(app, size, pump)
    app.select_tab(key)
    pump()
    return app.tabs[key], app.pages[key]


@pytest.mark.parametrize("size", SIZES)
def test_every_control_of_every_tab_can_be_reached_at_each_text_size(laptop_app, pump, size):
    app = laptop_app
    step_to(app, size, pump)
    pump()
    root = app.root
    assert root.winfo_rootx() >= 0 and root.winfo_rooty() >= 0
    assert root.winfo_rootx() + root.winfo_width() <= SCREEN[0], "the window is wider than the screen"
    assert root.winfo_rooty() + root.winfo_height() <= SCREEN[1], "the window is taller than the screen"
    problems = []
    for key in ("data", "train", "patient", "threshold", "calibration", "landscape", "batch"):
        problems += tab_problems(app, key)
    assert not problems, f"at {size:.0%} text:\n" + "\n".join(problems)


def test_the_view_menu_steps_land_on_the_sizes_it_names(laptop_app, pump):
    import tkinter.font as tkfont

    app, root = laptop_app, laptop_app.root
    base = tkfont.nametofont("TkDefaultFont", root=root).cget("size")
    view = app.menus["view"]
    seen = []
    for _ in range(4):
        view.invoke("Larger text")
        seen.append(widgets.text_scale(root))
    assert seen == [1.25, 1.5, 1.75, 2.0]
    assert view.entrycget("Larger text", "state") == "disabled"
    root.focus_force()
    root.event_generate("<Control-plus>")
    assert widgets.text_scale(root) == 2.0 and "Text size 200% (the largest)" in app.status.text()
    assert abs(tkfont.nametofont("TkDefaultFont", root=root).cget("size")) == round(abs(base) * 2)
    root.focus_force()
    seen = []
    for _ in range(5):
        root.event_generate("<Control-minus>")
        seen.append(widgets.text_scale(root))
    assert seen == [1.75, 1.5, 1.25, 1.0, 1.0]
    assert view.entrycget("Smaller text", "state") == "disabled"
    view.invoke("Text size 175%")
    assert widgets.text_scale(root) == 1.75 and app.text_size_var.get() == 1.75
    root.event_generate("<Control-Key-0>")
    assert widgets.text_scale(root) == 1.0
    assert tkfont.nametofont("TkDefaultFont", root=root).cget("size") == base
    assert app.settings.get("text_scale") == 1.0


def layout_of(app):
    """What the tabs ask for and where their controls are, for comparing two moments."""
    root = app.root
    root.update()
    sizes = {key: (tab.winfo_reqwidth(), tab.winfo_reqheight()) for key, tab in app.tabs.items()}
    # labels that wrap at a fixed width (those that wrap at their column follow its width)
    wraps = {str(w): str(w.cget("wraplength")) for tab in app.tabs.values() for w in descendants(tab)
             if w.winfo_class() == "TLabel" and not hasattr(w, "_bc_wrap_to_width")}
    return root.winfo_width(), root.winfo_height(), sizes, wraps


def test_the_layout_comes_back_after_going_back_to_100_percent(laptop_app, pump):
    app = laptop_app
    for key in app.tabs:  # every tab shown once, as a user looking around would
        app.select_tab(key)
        pump()
        pump(lambda: not app.busy, 60)  # what a first visit starts (the Landscape tab's grid) is shown
    app.select_tab("patient")
    pump()
    before = layout_of(app)
    for size in (2.0, 1.5, 1.75, 1.25, 1.0):
        step_to(app, size, pump)
        pump()
    for key in app.tabs:
        app.select_tab(key)
        pump()
        pump(lambda: not app.busy, 60)
    app.select_tab("patient")
    pump()
    after = layout_of(app)
    assert after[:2] == before[:2], "the window kept the size it grew to"
    assert after[2] == before[2], "a tab asks for more room than before"
    changed = {k: (before[3][k], after[3][k]) for k in before[3] if before[3][k] != after[3].get(k)}
    assert not changed, f"wrap widths drifted: {changed}"
    assert not any(tab_problems(app, key) for key in app.tabs)


def test_at_200_percent_the_patient_form_and_its_result_stack_and_predict_shows_the_result(laptop_app, pump):
    app, root = laptop_app, laptop_app.root
    patient, page = show_at(app, "patient", 2.0, pump)
    assert patient.layout.stacked, "side by side at 200% the result would need scrolling sideways"
    assert page.scrollable == (False, True)
    # Tab to Predict, as a keyboard user does: the page follows the focus.
    last = patient.fields[FEATURES[-1]].input
    last.focus_force()
    pump()
    last.event_generate("<Tab>")
    pump(lambda: root.focus_get() is patient.predict_button)
    pump()
    assert in_view(patient.predict_button, page), "the page did not follow the focus to Predict"
    top = page.canvas.canvasy(0)
    patient.predict_button.invoke()
    pump()
    assert page.canvas.canvasy(0) != top, "the result below the form was not scrolled into view"
    for label in (patient.prob_label, patient.call_label):
        assert in_view(label, page), f"{label.cget('text')!r} is not in view after Predict"


def in_view(widget, page) -> bool:
    """``widget`` lies wholly inside the visible part of ``page``."""
    top, bottom = page.canvas.winfo_rooty(), page.canvas.winfo_rooty() + page.canvas.winfo_height()
    left, right = page.canvas.winfo_rootx(), page.canvas.winfo_rootx() + page.canvas.winfo_width()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return left <= x and x + widget.winfo_width() <= right and top <= y and y + widget.winfo_height() <= bottom


def test_the_mouse_wheel_scrolls_the_page_and_never_changes_a_score(laptop_app, pump):
    app = laptop_app
    patient, page = show_at(app, "patient", 2.0, pump)
    page.canvas.yview_moveto(0)
    pump()
    spin = patient.fields[FEATURES[0]].input
    value = spin.get()
    spin.focus_force()
    pump()
    spin.event_generate("<Button-5>", x=5, y=5)  # wheel down with the pointer on the field
    spin.event_generate("<ButtonRelease-5>", x=5, y=5)
    pump()
    assert spin.get() == value, "the wheel changed a score"
    assert page.canvas.canvasy(0) > 0, "the wheel did not scroll the page"
    spin.event_generate("<Button-4>", x=5, y=5)
    spin.event_generate("<ButtonRelease-4>", x=5, y=5)
    pump()
    assert page.canvas.canvasy(0) == 0 and spin.get() == value


def test_the_focus_goes_to_a_bad_field_out_of_view_and_the_page_follows(laptop_app, pump):
    app, root = laptop_app, laptop_app.root
    train, page = show_at(app, "train", 2.0, pump)
    root.focus_force()
    page.canvas.yview_moveto(1.0)  # scrolled to the bottom, the settings out of view
    pump()
    train.fields["threshold"].set("2")
    train.cv_button.invoke()
    pump(lambda: root.focus_get() is train.fields["threshold"].input)
    pump()
    assert in_view(train.fields["threshold"].input, page)


# ----------------------------------------------------------------- the look

def luminance(root, colour: str) -> float:
    def channel(v):
        v /= 65535
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in root.winfo_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(root, a: str, b: str) -> float:
    la, lb = sorted((luminance(root, a), luminance(root, b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_keep_a_contrast_of_at_least_4_5_to_1(make_app, root):
    """WCAG 2.1 AA for text: every text colour of the styles and of the tabs, on the
    backgrounds it is drawn on (disabled controls are exempt)."""
    app = make_app()
    style = ttk.Style(root)

    def look(name, option, state=()):
        value = style.lookup(name, option, state) if state else style.lookup(name, option)
        return value or style.lookup(".", option)

    pairs = []
    for name in ("TLabel", "Muted.TLabel", "Small.TLabel", "Error.TLabel", "Benign.TLabel", "Malignant.TLabel",
                 "Title.TLabel", "Big.TLabel", "Bold.TLabel", "Status.TLabel", "TLabelframe.Label", "TCheckbutton",
                 "TButton", "Cell.TLabel", "Treeview.Heading"):
        pairs.append((name, look(name, "foreground"), look(name, "background")))
    pairs.append(("Primary.TButton", look("Primary.TButton", "foreground"), look("Primary.TButton", "background")))
    pairs.append(("Primary.TButton active", look("Primary.TButton", "foreground"),
                  look("Primary.TButton", "background", ("active",))))
    pairs.append(("TButton active", look("TButton", "foreground"), look("TButton", "background", ("active",))))
    for name in ("TEntry", "TSpinbox", "TCombobox", "Treeview"):
        pairs.append((name, look(name, "foreground"), look(name, "fieldbackground")))
    pairs.append(("Treeview selected", look("Treeview", "foreground", ("selected", "focus")),
                  look("Treeview", "background", ("selected", "focus"))))
    pairs.append(("Treeview selected, no focus", look("Treeview", "foreground", ("selected",)),
                  look("Treeview", "background", ("selected",))))
    pairs.append(("TEntry selection", look("TEntry", "selectforeground", ("focus",)),
                  look("TEntry", "selectbackground", ("focus",))))
    for tab_state in ((), ("selected",), ("active",)):
        pairs.append((f"TNotebook.Tab {tab_state}", look("TNotebook.Tab", "foreground"),
                      look("TNotebook.Tab", "background", tab_state)))
    # Colours the tabs give their labels directly, on the window's background and on a cell.
    for colour in (widgets.ERROR_TEXT, widgets.MUTED_TEXT, widgets.MALIGNANT_TEXT, widgets.BENIGN, widgets.TEXT):
        pairs.append((f"label text {colour}", colour, widgets.BACKGROUND))
        pairs.append((f"label text {colour} on a cell", colour, widgets.SURFACE))
    menu = app.menus["view"]
    pairs.append(("menu", menu.cget("foreground"), menu.cget("background")))
    pairs.append(("menu, active entry", menu.cget("activeforeground"), menu.cget("activebackground")))
    low = [(name, fg, bg, round(contrast(root, fg, bg), 2)) for name, fg, bg in pairs if contrast(root, fg, bg) < 4.5]
    assert not low, f"text below 4.5:1: {low}"
    # The app is not Tk's grey default: a light window, white fields.
    assert luminance(root, style.lookup(".", "background")) > luminance(root, "#dcdad5")
    assert root.winfo_rgb(style.lookup("TEntry", "fieldbackground")) == root.winfo_rgb("white")


def grab(root, widget, pad: int = 0) -> list[tuple[int, int, int]]:
    """The pixels of ``widget`` as they are on the screen (ImageMagick's import)."""
    root.update()
    x, y = widget.winfo_rootx() - pad, widget.winfo_rooty() - pad
    w, h = widget.winfo_width() + 2 * pad, widget.winfo_height() + 2 * pad
    display = root.tk.call("winfo", "screen", str(root))
    raw = subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "-depth", "8", "rgb:-"],
                         capture_output=True, check=True, env=dict(os.environ, DISPLAY=display)).stdout
    return [tuple(raw[i:i + 3]) for i in range(0, len(raw) - 2, 3)]


def count_colour(root, pixels, colour: str) -> int:
    want = tuple(v // 257 for v in root.winfo_rgb(colour))
    return sum(1 for p in pixels if all(abs(a - b) <= 8 for a, b in zip(p, want)))


@pytest.mark.skipif(shutil.which("import") is None, reason="needs ImageMagick's import")
def test_focus_rings_are_solid_and_in_the_accent_colour(make_app, root, wait_until):
    """A 2-pixel ring in the accent colour (the main button: dark and white, on its fill)
    around every kind of control the keyboard reaches, and none without the focus."""
    app = make_app()
    root.focus_force()
    wait_until(lambda: root.focus_get() is not None)
    patient, train, threshold = app.tabs["patient"], app.tabs["train"], app.tabs["threshold"]
    app.select_tab("train")
    root.update()
    accent, dark = widgets.ACCENT, widgets.TEXT
    cases = [("train", train.cv_button, accent), ("train", train.fields["lr"].input, accent),
             ("train", train.fields["optimizer"].input, accent), ("train", train.log_check, accent),
             ("patient", patient.fields[FEATURES[0]].input, accent), ("patient", patient.predict_button, dark),
             ("threshold", threshold.scale, accent), ("patient", app.notebook, accent)]
    for key, widget, colour in cases:
        app.select_tab(key)
        root.update()
        other = app.tabs[key]
        other.focus_set()  # the tab frame itself: nothing drawn as focused
        root.update()
        before = count_colour(root, grab(root, widget), colour)
        widget.focus_set()
        wait_until(lambda w=widget: root.focus_get() is w)
        after = count_colour(root, grab(root, widget), colour)
        # a ring two pixels thick around at least a label's height and width
        assert after - before >= 2 * 2 * 30, f"{widget.winfo_class()}: no visible focus ring ({before} -> {after})"


def test_ctrl_a_selects_the_whole_text_of_every_kind_of_field(app, root, focused):
    patient, train, batch = app.tabs["patient"], app.tabs["train"], app.tabs["batch"]
    app.select_tab("batch")
    batch.input_var.set("/some/folder/clinic.csv")
    entry = next(w for w in descendants(batch) if w.winfo_class() == "TEntry"
                 and str(w.cget("textvariable")) == str(batch.input_var))
    fields = [("batch", entry),
              ("patient", patient.fields[FEATURES[0]].input), ("train", train.fields["optimizer"].input),
              ("train", train.fields["lr"].input)]
    patient.fields[FEATURES[0]].input.insert(0, "7")
    for key, field in fields:
        app.select_tab(key)
        root.update()
        field.focus_force()
        root.update()
        field.icursor(1)
        field.selection_clear()
        field.event_generate("<Control-a>")
        root.update()
        text = field.get()
        assert text and field.selection_present(), f"{field.winfo_class()}: nothing selected"
        assert (field.index("sel.first"), field.index("sel.last")) == (0, len(text)), field.winfo_class()


def test_confusion_cells_are_plain_cells_sized_to_their_counts(make_app, root):
    import tkinter.font as tkfont

    app = make_app()
    grid = app.tabs["train"].val_confusion
    app.select_tab("train")
    for size in SIZES:
        widgets.set_text_scale(root, size)
        root.event_generate(widgets.TEXT_SCALE_EVENT)
        grid.show(170976, 12, 9, 1234567)
        root.update()
        for cell in grid.cells.values():
            text = cell.cget("text")
            style = cell.cget("style") or "TLabel"
            font = tkfont.nametofont(str(ttk.Style(root).lookup(style, "font") or "TkDefaultFont"), root=root)
            assert cell.winfo_width() >= font.measure(text), f"{text!r} is clipped at {size:.0%}"
            assert str(cell.cget("relief") or ttk.Style(root).lookup(style, "relief")) not in (
                "raised", "groove"), "a cell drawn like a button"
            assert not cell.instate(["focus"]) and str(cell.cget("takefocus")) in ("0", "False", "false")
    widgets.set_text_scale(root, 1.0)
    root.event_generate(widgets.TEXT_SCALE_EVENT)


def test_at_200_percent_a_finished_run_or_batch_scrolls_its_results_into_view(laptop_app, pump, tmp_path):
    app = laptop_app
    step_to(app, 2.0, pump)
    train, batch = app.tabs["train"], app.tabs["batch"]
    app.select_tab("train")
    pump()
    app.pages["train"].canvas.yview_moveto(0)
    train.fields["iterations"].set("50")
    train.start_button.invoke()
    pump(lambda: train.job is None, timeout=60, message="training did not finish")
    pump()
    assert in_view(train.result_label, app.pages["train"]), "the result of the run is out of view"

    app.select_tab("batch")
    pump()
    app.pages["batch"].canvas.yview_moveto(0)
    source = tmp_path / "again.csv"
    source.write_text("\n".join(GOOD) + "\n")
    batch.set_input(source)
    batch.output_var.set(str(tmp_path / "again-out.csv"))
    batch.score_button.invoke()
    pump(lambda: not batch.running, message="the batch was not scored")
    pump()
    assert batch.summary is not None
    assert in_view(batch.count_labels["scored"], app.pages["batch"]), "the counts are out of view"
    assert in_view(batch.score_button, app.pages["batch"])


def test_at_200_percent_the_status_bar_keeps_the_threshold_and_the_audit_state_in_view(laptop_app, pump):
    app, root = laptop_app, laptop_app.root
    step_to(app, 2.0, pump)
    pump()
    root.update()
    status = app.status
    right = root.winfo_rootx() + root.winfo_width()
    for name in ("threshold", "audit"):
        label = getattr(status, name)
        assert label.cget("text") == status.field(name)  # never shortened
        assert label.winfo_ismapped() and label.winfo_rootx() + label.winfo_width() <= right, name
    assert status.data.cget("text").endswith("\u2026")  # the data file's name gave way
    assert status.field("data") in status.text()       # whole in the text and the log
    step_to(app, 1.0, pump)
    pump()
    root.update()
    assert status.data.cget("text") == status.field("data")  # room again: whole
