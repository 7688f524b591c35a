"""The bottom line of the window: data file, active model, threshold, audit trail, and a message."""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk


class StatusBar(ttk.Frame):
    """Bottom line: data file, active model, threshold, whether the audit trail records, and a message.

    The message takes the width left after the four fields; a message longer than
    that ends in "…" (the whole message is in the log and in :meth:`text`). When even
    the fields do not fit (large text on a small screen), the data file's field and
    then the model's are shortened with "…" first, so that the threshold and whether
    the audit trail records stay in view. Set a field with :meth:`set_field`."""

    #: the fields shortened first when the bar is too narrow, and the fewest characters each keeps
    SHRINKABLE = (("data", 14), ("model", 18))

    def __init__(self, parent: tk.Misc):
        super().__init__(parent, relief="sunken", padding=(2, 1))
        self.data = ttk.Label(self, text="Data: none", style="Status.TLabel")
        self.model = ttk.Label(self, text="Model: none", style="Status.TLabel")
        self.threshold = ttk.Label(self, text="Threshold: -", style="Status.TLabel")
        self.audit = ttk.Label(self, text="Audit: on", style="Status.TLabel")
        # width=1: the message never asks for room, it gets what the fields leave.
        self.message = ttk.Label(self, text="", style="Status.TLabel", anchor="w", width=1)
        self._message = ""
        self._full = {name: getattr(self, name).cget("text") for name in ("data", "model", "threshold", "audit")}
        for i, label in enumerate(self._fields()):
            label.grid(row=0, column=2 * i, sticky="w")
            ttk.Separator(self, orient="vertical").grid(row=0, column=2 * i + 1, sticky="ns", padx=2)
        self.message.grid(row=0, column=8, sticky="ew")
        self.columnconfigure(8, weight=1)
        self.message.bind("<Configure>", lambda _e: self._fit_message())
        self.bind("<Configure>", lambda _e: self._fit_fields(), add="+")

    def _fields(self) -> tuple[ttk.Label, ...]:
        return (self.data, self.model, self.threshold, self.audit)

    def set_field(self, name: str, text: str) -> None:
        """Set field ``name`` ("data", "model", "threshold", "audit") to ``text``."""
        self._full[name] = text
        getattr(self, name).configure(text=text)
        self._fit_fields()

    def field(self, name: str) -> str:
        """The whole text of field ``name``, however it is shortened on screen."""
        return self._full[name]

    def _fit_fields(self) -> None:
        """Shorten the data and model fields with "…" when the four fields are wider
        than the bar (less room for a few words of the message)."""
        width = self.winfo_width()
        if width <= 1:
            return
        font = tkfont.nametofont("TkDefaultFont", root=self)
        pad = 12  # a label's padding, and its separator
        over = sum(font.measure(t) + pad for t in self._full.values()) + font.measure("0") * 12 - width
        for name, keep in self.SHRINKABLE:
            text = self._full[name]
            if over > 0 and len(text) > keep:
                shown = _shortened(text, font.measure(text) - over, font, keep)
                over -= font.measure(text) - font.measure(shown)
            else:
                shown = text
            if getattr(self, name).cget("text") != shown:
                getattr(self, name).configure(text=shown)

    def set_message(self, text: str) -> None:
        self._message = text
        self._fit_message()

    def _fit_message(self) -> None:
        """Show the message, shortened with "…" to the label's width if need be."""
        text = self._message
        room = self.message.winfo_width() - 12  # the style's padding
        font = tkfont.nametofont("TkDefaultFont", root=self)
        if room > 0 and self.message.winfo_ismapped() and font.measure(text) > room:
            text = _shortened(text, room, font)
        self.message.configure(text=text)

    def text(self) -> str:
        """Everything the status bar shows, as one line (the message in full)."""
        parts = [*self._full.values(), self._message]
        return " | ".join(p for p in parts if p)


def _shortened(text: str, room: int, font: tkfont.Font, keep: int = 0) -> str:
    """The longest start of ``text`` (at least ``keep`` characters) that fits ``room``
    pixels with "…" after it."""
    low, high = keep, len(text) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if font.measure(text[:mid] + "…") <= room:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + "…"
