"""Fixtures for tests that drive the real Tk window.

- A display: the session uses ``$DISPLAY`` if set, else starts its own Xvfb
  (``-screen 0 1280x1024x24 -dpi 96``) on a free display number and stops it at the end.
- ``BCDESKTOP_HOME`` points at a fresh temporary folder in every test, so settings and
  logs never touch the real home.
- A fresh ``Tk`` root and :class:`~bcdesktop.gui.app.App` per test (with recording fake
  dialogs), destroyed afterwards.
- A Tk callback exception fails the test: ``Tk.report_callback_exception`` is patched,
  and so is ``App.report_exception`` for anything that is not a ``UserError``. A test
  that provokes one on purpose inspects ``callback_errors`` and empties it.
- Anything logged at ERROR or above fails the test (as in Porcupine's conftest): an
  internal error can be logged and shown without raising. A test that provokes one on
  purpose inspects ``error_logs`` and empties it.
- ``wait_until(condition, timeout)`` pumps the Tk loop until ``condition()`` is true.
"""

from __future__ import annotations

import logging
import os
import time
import tkinter as tk

import pytest

from bcdesktop.errors import Cancelled, UserError


@pytest.fixture(scope="session", autouse=True)
def display():
    """The X display the tests use (a private Xvfb when there is no DISPLAY)."""
    import shutil

    from bcdesktop.gui.screenshots import virtual_display

    if not os.environ.get("DISPLAY") and shutil.which("Xvfb") is None:
        if os.environ.get("BCDESKTOP_REQUIRE_GUI") == "1":  # CI: the GUI tests must run
            pytest.fail("no DISPLAY and no Xvfb, but BCDESKTOP_REQUIRE_GUI=1: install xvfb")
        pytest.skip("no DISPLAY and no Xvfb: install xvfb to run the GUI tests")
    with virtual_display() as name:
        yield name


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A private per-user folder for this test (settings, log)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("BCDESKTOP_HOME", str(path))
    return path


@pytest.fixture(autouse=True)
def callback_errors(monkeypatch):
    """Exceptions raised in Tk callbacks during the test; any left at the end fail it."""
    from bcdesktop.gui.app import App

    errors: list[BaseException] = []

    def tk_report(self, exc_type, exc, tb):
        errors.append(exc if exc is not None else exc_type())

    original = App.report_exception

    def app_report(self, exc):
        if not isinstance(exc, (UserError, Cancelled)):
            errors.append(exc)
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


@pytest.fixture
def root(display):
    """A fresh, shown Tk root, destroyed after the test."""
    r = tk.Tk(className="bcdesktop-test")
    r.geometry("1180x800+0+0")
    yield r
    destroy_root(r)


def destroy_root(r: tk.Tk) -> None:
    """Destroy a test's root after cancelling its timers: Tcl's timer queue is shared by
    every interpreter of the thread, so a pending after() could fire in the next test.
    (Tcl's own "after cancel": tkinter's after_cancel also deletes the callback's command
    while the widget that made it still lists it, and destroy() then stops halfway.)"""
    try:
        for after_id in r.tk.splitlist(r.tk.call("after", "info")):
            r.tk.call("after", "cancel", after_id)
        r.destroy()
    except tk.TclError:
        pass
    # collect the destroyed window's cycles here, on the Tk thread: left to a later
    # collection in a drawing thread, their images and variables would call Tcl from there
    import gc

    gc.collect()


@pytest.fixture
def dialogs():
    from bcdesktop.gui.app import RecordingDialogs
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
