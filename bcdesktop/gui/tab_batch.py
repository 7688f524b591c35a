"""The Batch tab (being filled in)."""

from __future__ import annotations

from tkinter import ttk


class BatchTab(ttk.Frame):
    """The Batch tab, built as ``BatchTab(notebook, app)``."""

    def __init__(self, master, app):
        super().__init__(master, padding=8)
        self.app = app
        ttk.Label(self, text="Batch").grid(row=0, column=0, sticky="nw")
