"""Fixtures for tests that drive the real Tk window.

- A display: the session uses ``$DISPLAY`` if set, else starts its own Xvfb
  (``-screen 0 1280x1024x24 -dpi 96``, :mod:`bcdesktop.gui.xvfb`) and stops it at the end.
- ``BCDESKTOP_HOME`` points at a fresh temporary folder in every test, so settings and
  logs never touch the real home.
- One withdrawn ``Tk`` for the whole session (as ttkbootstrap's conftest does); each
  test's ``root`` is a shown ``Toplevel`` of it, with a fresh
  :class:`~bcdesktop.gui.app.App` (with recording fake dialogs) when asked for. After
  every test the session's Tk is put back as it was at the start: its windows destroyed,
  its timers cancelled, the bindings, option database and Tk fonts a test changed
  restored, and the attributes and Tcl commands a test added to the root removed.
- ``tk scaling`` is pinned to 96 dpi before every test, so a test that changes it cannot
  change the next one's fonts (the setting lives in the display connection, which every
  interpreter of the process shares).
- A Tk callback exception fails the test: ``Tk.report_callback_exception`` is patched,
  and so is ``App.report_exception`` for anything that is not a ``UserError``; a handler
  an App installs on the session's Tk records the exception first. A test that provokes
  one on purpose inspects ``callback_errors`` and empties it.
- Anything logged at ERROR or above fails the test (as in Porcupine's conftest): an
  internal error can be logged and shown without raising. A test that provokes one on
  purpose inspects ``error_logs`` and empties it.
- ``wait_until(condition, timeout)`` pumps the Tk loop until ``condition()`` is true.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import tkinter as tk

import pytest

from bcdesktop.errors import Cancelled, UserError


@pytest.fixture(scope="session", autouse=True)
def display():
    """The X display the tests use (a private Xvfb when there is no DISPLAY)."""
    from bcdesktop.gui import xvfb

    if not os.environ.get("DISPLAY") and not xvfb.installed():
        if os.environ.get("BCDESKTOP_REQUIRE_GUI") == "1":  # CI: the GUI tests must run
            pytest.fail("no DISPLAY and no Xvfb, but BCDESKTOP_REQUIRE_GUI=1: install xvfb")
        pytest.skip("no DISPLAY and no Xvfb: install xvfb to run the GUI tests")
    with xvfb.display() as name:
        yield name


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A private per-user folder for this test (settings, log)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("BCDESKTOP_HOME", str(path))
    return path


_callback_errors: list[BaseException] = []  # this test's; the session root's handlers add to it


def _record_callback_error(exc: BaseException) -> None:
    if not any(seen is exc for seen in _callback_errors):  # an App's handler may see it twice
        _callback_errors.append(exc)


@pytest.fixture(autouse=True)
def callback_errors(monkeypatch):
    """Exceptions raised in Tk callbacks during the test; any left at the end fail it."""
    from bcdesktop.gui.app import App

    errors = _callback_errors
    errors.clear()

    def tk_report(self, exc_type, exc, tb):
        _record_callback_error(exc if exc is not None else exc_type())

    original = App.report_exception

    def app_report(self, exc):
        if not isinstance(exc, (UserError, Cancelled)):
            _record_callback_error(exc)
        original(self, exc)

    monkeypatch.setattr(tk.Tk, "report_callback_exception", tk_report)
    monkeypatch.setattr(App, "report_exception", app_report)
    yield errors
    if errors:
        import traceback
        details = "".join(traceback.format_exception(errors[0]))
        pytest.fail(f"{len(errors)} exception(s) in Tk callbacks; the first:\n{details}", pytrace=False)


class _ErrorRecords(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if not any(r is record for r in self.records):  # seen by both loggers
            self.records.append(record)


@pytest.fixture(autouse=True)
def error_logs():
    """Records logged at ERROR or above during the test; any left at the end fail it.
    Watches the root logger and ``bcdesktop`` (which the app may stop from propagating)."""
    handler = _ErrorRecords()
    loggers = [logging.getLogger(), logging.getLogger("bcdesktop")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)
    if handler.records:
        first = handler.records[0]
        pytest.fail(f"{len(handler.records)} record(s) logged at ERROR or above; the first, from "
                    f"{first.name}: {first.getMessage()}", pytrace=False)


class _SessionRoot(tk.Tk):
    """The session's Tk. A ``report_callback_exception`` an App installs on it is wrapped
    so that an exception other than a ``UserError`` is recorded for ``callback_errors``
    first, whatever the App's handler then does with it."""

    def __setattr__(self, name, value):
        if name == "report_callback_exception":
            value = _recording(value)
        super().__setattr__(name, value)


def _recording(handler):
    def report(exc_type, exc, tb):
        exc = exc if exc is not None else exc_type()
        if not isinstance(exc, (UserError, Cancelled)):
            _record_callback_error(exc)
        return handler(exc_type, exc, tb)
    return report


class TkSession:
    """The session's one Tk interpreter, and what a test may change in it as it was at the
    start. ``clean()`` puts it back after a test: a fresh Tk as far as the next test can
    tell (ttk styles excepted: Tk cannot unset a style's option; each App sets its own)."""

    # Tk's and ttk's class bindings (bound by Tk itself at start-up), put back after each
    # test; a class tag found on a widget at the end of a test is put back too.
    CLASSES = ("Button", "Canvas", "Checkbutton", "Entry", "Frame", "Label", "Labelframe", "Listbox",
               "Menu", "Menubutton", "Message", "Panedwindow", "Radiobutton", "Scale", "Scrollbar",
               "Spinbox", "Text", "Toplevel", "TButton", "TCheckbutton", "TCombobox", "TEntry", "TFrame",
               "TLabel", "TLabelframe", "TMenubutton", "TNotebook", "TPanedwindow", "TProgressbar",
               "TRadiobutton", "TScale", "TScrollbar", "TSeparator", "TSizegrip", "TSpinbox", "Treeview")

    def __init__(self, root: tk.Tk):
        self.root = root
        call, split = root.tk.call, root.tk.splitlist
        self.bindings = {tag: self._bindings(tag) for tag in (*root.bindtags(), *self.CLASSES)}
        self.fonts = {name: call("font", "configure", name) for name in split(call("font", "names"))}
        self.attributes = dict(vars(root))
        self.commands = set(root._tclCommands or ())

    def _bindings(self, tag: str) -> dict[str, str]:
        call = self.root.tk.call
        return {seq: call("bind", tag, seq) for seq in self.root.tk.splitlist(call("bind", tag))}

    def _cancel_timers(self) -> None:
        """Tcl's own "after cancel" for every pending after() of the interpreter: tkinter's
        after_cancel also deletes the callback's command while the widget that made it still
        lists it, and destroy() then stops halfway."""
        call = self.root.tk.call
        for after_id in self.root.tk.splitlist(call("after", "info")):
            call("after", "cancel", after_id)

    def _windows(self) -> list[str]:
        """Every window below the root, as Tcl sees them (dialogs Tcl made itself included)."""
        call, split = self.root.tk.call, self.root.tk.splitlist
        found, stack = [], list(split(call("winfo", "children", ".")))
        while stack:
            found.append(stack.pop())
            stack.extend(split(call("winfo", "children", found[-1])))
        return found

    def clean(self) -> None:
        r, call, split = self.root, self.root.tk.call, self.root.tk.splitlist
        self._cancel_timers()  # Tcl's timer queue is shared: one could fire in the next test
        tags = set(self.bindings)
        for window in self._windows():
            tags.update(tag for tag in split(call("bindtags", window)) if not tag.startswith("."))
        for child in list(r.children.values()):
            child.destroy()  # tkinter's destroy, which also deletes the widgets' Python commands
        for window in split(call("winfo", "children", ".")):
            call("destroy", window)  # windows Tcl made itself
        self._cancel_timers()  # one a <Destroy> handler set
        for tag in tags:  # bindings of the root, of "all" and of classes: put back as they were
            before, now = self.bindings.get(tag, {}), self._bindings(tag)
            for seq in now.keys() | before.keys():
                if now.get(seq) != before.get(seq):
                    call("bind", tag, seq, before.get(seq, ""))
        call("option", "clear")
        for name, options in self.fonts.items():
            if call("font", "configure", name) != options:
                call("font", "configure", name, *options)
        added = [name for name in (r._tclCommands or ()) if name not in self.commands]
        for key in [key for key in vars(r) if key not in self.attributes and key != "_last_child_ids"]:
            del r.__dict__[key]  # e.g. an App's handler, or flags such as "bindings installed"
        r.__dict__.update(self.attributes)
        for name in added:
            r.deletecommand(name)  # the commands the test's bindings on the root called
        # collect the destroyed windows' cycles here, on the Tk thread: left to a later
        # collection in a drawing thread, their images and variables would call Tcl from there
        gc.collect()


@pytest.fixture(scope="session")
def tk_session(display):
    """The session's one Tk, withdrawn (see :class:`TkSession`)."""
    r = _SessionRoot(className="bcdesktop-test")
    r.withdraw()
    session = TkSession(r)
    yield session
    session.clean()
    r.destroy()


@pytest.fixture(autouse=True)
def tk_scaling(tk_session):
    """``tk scaling`` at 96 dpi (points to pixels), set before the test builds anything."""
    value = 96 / 72
    tk_session.root.tk.call("tk", "scaling", value)
    return value


@pytest.fixture(autouse=True)
def fresh_tk(tk_session, callback_errors, error_logs):
    """After the test (and before its callback errors and error logs are checked, so a
    failing clean-up fails it), put the session's Tk back as it was."""
    yield
    tk_session.clean()


@pytest.fixture
def root(tk_session):
    """This test's window: a shown Toplevel of the session's Tk, destroyed after the test."""
    window = tk.Toplevel(tk_session.root)
    window.geometry("1180x800+0+0")
    return window


def destroy_root(r: tk.Tk) -> None:
    """Destroy a Tk of the test's own (another display's) after cancelling its timers:
    Tcl's timer queue is shared by every interpreter of the thread, so a pending after()
    could fire in the next test. (Tcl's own "after cancel": tkinter's after_cancel also
    deletes the callback's command while the widget that made it still lists it, and
    destroy() then stops halfway.)"""
    try:
        for after_id in r.tk.splitlist(r.tk.call("after", "info")):
            r.tk.call("after", "cancel", after_id)
        r.destroy()
    except tk.TclError:
        pass
    gc.collect()  # on the Tk thread (see TkSession.clean)


@pytest.fixture
def dialogs():
    from bcdesktop.gui.dialogs import RecordingDialogs
    return RecordingDialogs()


@pytest.fixture(scope="session")
def bundled():
    """The bundled data set, read once per session."""
    from bcdesktop import data
    return data.load_bundled()


@pytest.fixture(scope="session")
def default_model():
    """The shipped default model, or None while it is missing."""
    from bcdesktop import persistence, resources
    if not resources.default_model_path().exists():
        return None
    return persistence.load_default_model()


@pytest.fixture(scope="session")
def trained_bundle(bundled):
    """A small model trained once per session (seeded, 300 iterations), with validation
    probabilities. ``ModelBundle`` is frozen, so tests share it safely; they derive
    variants with ``dataclasses.replace``."""
    from bcdesktop.evaluation import fit_model
    from bcdesktop.training import TrainConfig

    return fit_model(bundled, TrainConfig(optimizer="adam", lr=0.01, iterations=300, seed=3)).bundle


@pytest.fixture
def wait_until(root, callback_errors):
    """``wait_until(condition, timeout=10, message=None)``: pump Tk until ``condition()``."""
    return make_waiter(root, callback_errors, 10.0)


def make_waiter(root, callback_errors, default_timeout: float):
    """``wait(condition, timeout, message)`` pumping ``root``'s loop until ``condition()``
    is true (a bounded poll), raising the first callback error as soon as one happens."""
    def wait(condition=lambda: True, timeout: float = default_timeout, message: str | None = None):
        deadline = time.monotonic() + timeout
        while True:
            root.update()
            if callback_errors:
                raise callback_errors[0]
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(message or f"timed out after {timeout} s waiting for {condition}")
            time.sleep(0.005)
    return wait


@pytest.fixture
def waiter_for(callback_errors):
    """``waiter_for(other_root, default_timeout)``: a ``wait_until`` for another root."""
    return lambda other_root, default_timeout=10.0: make_waiter(other_root, callback_errors, default_timeout)


@pytest.fixture
def held_drawing(root, monkeypatch):
    """``held_drawing(module, name)``: replace ``module.name`` (a drawing function) by one
    that records the thread it runs in and waits until a Tk timer has fired, which can
    only happen when it does not run on the Tk thread; returns the list of threads."""
    import threading

    def hold(module, name: str) -> list:
        real = getattr(module, name)
        drawing, released = [], threading.Event()

        def draw(*args, **kwargs):
            drawing.append(threading.current_thread())
            # Only a Tk timer lets the drawing go on: drawn on the Tk thread, it would wait in vain.
            if not released.wait(10):
                raise AssertionError(f"no Tk timer fired while {name} drew")
            return real(*args, **kwargs)

        def release():
            if drawing:
                released.set()
            else:
                root.after(10, release)

        monkeypatch.setattr(module, name, draw)
        root.after(10, release)
        return drawing
    return hold


@pytest.fixture
def focused(root, wait_until):
    """The window has the keyboard focus from the start of the test (Tk drops a
    generated key press while no window of it has the focus, and waiting for the
    focus in the middle of a test could let short background work finish first)."""
    root.focus_force()
    wait_until(lambda: root.focus_get() is not None, timeout=5, message="the window never got the focus")
    return root


@pytest.fixture
def press_escape(focused):
    """``press_escape()``: the Escape key as the user presses it."""
    def press():
        assert focused.focus_get() is not None, "the window lost the keyboard focus"
        focused.event_generate("<Escape>")
    return press


@pytest.fixture
def make_app(root, dialogs, bundled, default_model):
    """``make_app(data=True, model=True)``: a fresh App on ``root`` with the bundled data
    and the default model set synchronously (no start-up threads)."""
    from bcdesktop.gui.app import App

    apps = []

    def make(data: bool = True, model: bool = True, **kwargs):
        app = App(root, dialogs=dialogs, **kwargs)
        apps.append(app)
        if data:
            app.set_dataset(bundled)
        if model and default_model is not None:
            app.set_model(default_model, source="default")
        root.update()
        return app

    yield make
    for app in apps:
        if not app.closed:
            app._worker.shutdown()


@pytest.fixture
def app(make_app):
    """An App with the bundled data and (when shipped) the default model."""
    return make_app()
