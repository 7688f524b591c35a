"""The Patient tab (being filled in)."""

from __future__ import annotations

from tkinter import ttk


class PatientTab(ttk.Frame):
    """The Patient tab, built as ``PatientTab(notebook, app)``."""

    def __init__(self, master, app):
        super().__init__(master, padding=8)
        self.app = app
        ttk.Label(self, text="Patient").grid(row=0, column=0, sticky="nw")
