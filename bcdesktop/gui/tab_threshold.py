"""The Threshold tab (being filled in)."""

from __future__ import annotations

from tkinter import ttk


class ThresholdTab(ttk.Frame):
    """The Threshold tab, built as ``ThresholdTab(notebook, app)``."""

    def __init__(self, master, app):
        super().__init__(master, padding=8)
        self.app = app
        ttk.Label(self, text="Threshold").grid(row=0, column=0, sticky="nw")
