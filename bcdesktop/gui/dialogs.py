"""File dialogs and message boxes: the real ones, and a recording stand-in for tests.

The app and its tabs ask through ``app.dialogs`` only, so a test passes
:class:`RecordingDialogs` and no modal window ever opens (IDLE's ``mock_tk``). The
dialog modules are imported when first used, not at start-up.
"""

from __future__ import annotations

import os
import sys
import tkinter as tk

FileTypes = list[tuple[str, str]]


class Dialogs:
    """File dialogs and message boxes of the real app (tests use :class:`RecordingDialogs`)."""

    def __init__(self, parent: tk.Misc):
        self.parent = parent

    def ask_open_file(self, title: str, filetypes: FileTypes | None = None,
                      initialdir: str | None = None) -> str | None:
        from tkinter import filedialog

        path = filedialog.askopenfilename(parent=self.parent, title=title, filetypes=filetypes or [],
                                          initialdir=initialdir or None)
        return path or None

    def ask_save_file(self, title: str, filetypes: FileTypes | None = None, initialdir: str | None = None,
                      initialfile: str | None = None, defaultextension: str | None = None) -> str | None:
        from tkinter import filedialog

        path = filedialog.asksaveasfilename(parent=self.parent, title=title, filetypes=filetypes or [],
                                            initialdir=initialdir or None, initialfile=initialfile or "",
                                            defaultextension=defaultextension or "")
        return path or None

    def info(self, title: str, message: str) -> None:
        from tkinter import messagebox

        messagebox.showinfo(title, message, parent=self.parent)

    def warning(self, title: str, message: str) -> None:
        from tkinter import messagebox

        messagebox.showwarning(title, message, parent=self.parent)

    def error(self, title: str, message: str) -> None:
        from tkinter import messagebox

        messagebox.showerror(title, message, parent=self.parent)

    def ask_yes_no(self, title: str, message: str) -> bool:
        from tkinter import messagebox

        return bool(messagebox.askyesno(title, message, parent=self.parent))

    def open_folder(self, path: str) -> None:
        """Show a folder in the system's file manager."""
        import subprocess

        if sys.platform.startswith("win"):
            os.startfile(path)  # type: ignore[attr-defined]
        elif sys.platform == "darwin":
            subprocess.Popen(["open", path])
        else:
            subprocess.Popen(["xdg-open", path])


class RecordingDialogs:
    """Stand-in for :class:`Dialogs` in tests: records every call, never blocks.

    Queue answers with :meth:`answer_open`, :meth:`answer_save`, :meth:`answer_yes_no`;
    without one, a file dialog returns None (as if cancelled) and a question False.
    ``messages`` holds ``(kind, title, message)`` for info/warning/error boxes;
    ``calls`` holds every call in order.
    """

    def __init__(self):
        self.calls: list[tuple] = []
        self.messages: list[tuple[str, str, str]] = []
        self.opened_folders: list[str] = []
        self._answers: dict[str, list] = {"open": [], "save": [], "yes_no": []}

    def __repr__(self) -> str:
        return f"RecordingDialogs({len(self.calls)} calls)"

    def answer_open(self, path) -> None:
        self._answers["open"].append(None if path is None else str(path))

    def answer_save(self, path) -> None:
        self._answers["save"].append(None if path is None else str(path))

    def answer_yes_no(self, answer: bool) -> None:
        self._answers["yes_no"].append(bool(answer))

    def _next(self, kind: str, default=None):
        return self._answers[kind].pop(0) if self._answers[kind] else default

    def ask_open_file(self, title, filetypes=None, initialdir=None):
        self.calls.append(("open", title, initialdir))
        return self._next("open")

    def ask_save_file(self, title, filetypes=None, initialdir=None, initialfile=None, defaultextension=None):
        self.calls.append(("save", title, initialdir, initialfile))
        return self._next("save")

    def _message(self, kind, title, message):
        self.calls.append((kind, title, message))
        self.messages.append((kind, title, message))

    def info(self, title, message):
        self._message("info", title, message)

    def warning(self, title, message):
        self._message("warning", title, message)

    def error(self, title, message):
        self._message("error", title, message)

    def ask_yes_no(self, title, message):
        self.calls.append(("yes_no", title, message))
        return self._next("yes_no", False)

    def open_folder(self, path):
        self.calls.append(("open_folder", str(path)))
        self.opened_folders.append(str(path))

    @property
    def last_message(self) -> tuple[str, str, str] | None:
        return self.messages[-1] if self.messages else None
