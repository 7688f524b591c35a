"""The Data tab: open a CSV and see what was read, what was rejected and why.

Loading runs in the background with a progress bar; the tab shows the counts (rows
read / usable / rejected), the class balance, every rejected row with its reason, a
preview of the usable rows, and per-feature histograms split by class. A file that
cannot be used shows its message and the previous data stay loaded.
"""

from __future__ import annotations

from pathlib import Path
from tkinter import ttk

from bcdesktop import resources
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.gui import widgets
from bcdesktop.gui.app import DATA_FILETYPES
from bcdesktop.gui.widgets import BENIGN_MARK, MALIGNANT_MARK, WARNING_MARK

SHORT_NAMES = ("Clump thickness", "Cell size", "Cell shape", "Marginal adhesion", "Epithelial size",
               "Bare nuclei", "Bland chromatin", "Normal nucleoli", "Mitoses")
PREVIEW_ROWS = 500
REJECTED_ROWS = 1000  # rejected rows listed at most (a table of a million rows would stall the window)


class DataTab(ttk.Frame):
    """Built as ``DataTab(notebook, app)``.

    Widgets tests read: ``open_button``, ``file_label``, ``counts_label``,
    ``balance_label``, ``layout_label``, ``message_label``, ``progress``, ``rejected``,
    ``preview`` and ``columns`` (:class:`~bcdesktop.gui.widgets.ScrolledTree`), ``views``
    (the inner notebook);
    ``plot`` (an :class:`~bcdesktop.gui.plots.EmbeddedFigure`) once histograms are drawn.
    """

    def __init__(self, master, app):
        super().__init__(master, padding=8)
        self.app = app
        self.job = None
        self.plot = None
        self._plotted = None

        top = ttk.Frame(self)
        top.pack(side="top", fill="x")
        self.open_button = ttk.Button(top, text="Open data\u2026 (Ctrl+O)", command=self.open_dialog)
        self.open_button.pack(side="left")
        self.cancel_button = ttk.Button(top, text="Cancel", command=self.cancel)
        self.progress = ttk.Progressbar(top, mode="determinate", maximum=1.0, length=220)
        self.file_label = ttk.Label(top, text="No data loaded", style="Bold.TLabel")
        self.file_label.pack(side="left", padx=(12, 0))

        summary = ttk.Frame(self)
        summary.pack(side="top", fill="x", pady=(8, 4))
        self.counts_label = ttk.Label(summary, text="")
        self.counts_label.pack(side="top", anchor="w")
        self.balance_label = ttk.Label(summary, text="")
        self.balance_label.pack(side="top", anchor="w")
        # how the file was read: never guessed silently (the Columns view has the details)
        self.layout_label = ttk.Label(summary, text="", style="Muted.TLabel")
        widgets.wrap_to_width(self.layout_label).pack(side="top", anchor="w", fill="x")
        self.message_label = ttk.Label(summary, text="", style="Error.TLabel")
        widgets.wrap_to_width(self.message_label).pack(side="top", anchor="w", fill="x")

        panes = self.panes = ttk.PanedWindow(self, orient="horizontal")
        panes.pack(side="top", fill="both", expand=True)
        panes.bind("<Map>", self._place_sash, add="+")
        self.views = ttk.Notebook(panes)
        self.rejected = widgets.ScrolledTree(self.views, (("line", "Line", 60, "e"), ("id", "Sample id", 90, "w"),
                                                          ("column", "Column", 150, "w"),
                                                          ("reason", "Reason", 340, "w")), height=12)
        preview_columns = [("line", "Line", 50, "e"), ("id", "Sample id", 80, "w")]
        preview_columns += [(f"f{i}", name, 78, "e") for i, name in enumerate(SHORT_NAMES)]
        preview_columns.append(("class", "Class", 90, "w"))
        self.preview = widgets.ScrolledTree(self.views, preview_columns, height=12)
        self.columns = widgets.ScrolledTree(self.views, (("column", "Column in the file", 200, "w"),
                                                         ("role", "Read as", 300, "w")), height=12)
        self.views.add(self.rejected, text="Rejected rows", padding=4)
        self.views.add(self.preview, text="Preview", padding=4)
        self.views.add(self.columns, text="Columns", padding=4)
        panes.add(self.views, weight=1)
        self.plot_frame = ttk.LabelFrame(panes, text="Scores by class", padding=4)
        panes.add(self.plot_frame, weight=1)
        self.plot_note = ttk.Label(self.plot_frame, text="Histograms appear when data are loaded.",
                                   style="Muted.TLabel")
        self.plot_note.pack(side="top", anchor="w")

        app.root.bind("<<DataChanged>>", lambda _e: self.show(self.app.dataset), add="+")
        app.root.bind(widgets.TEXT_SCALE_EVENT, lambda _e: self._redraw_histograms(), add="+")
        self.plot_frame.bind("<Map>", lambda _e: self._schedule_histograms(), add="+")

    def _place_sash(self, _event=None) -> None:
        """Share the width between the tables and the histograms (once, when first shown)."""
        if not getattr(self, "_sash_placed", False) and self.panes.winfo_width() > 1:
            self._sash_placed = True
            self.panes.sashpos(0, int(self.panes.winfo_width() * 0.48))

    # ----------------------------------------------------------------- loading
    def open_dialog(self) -> None:
        """Ask for a file (through ``app.dialogs``) and load it."""
        path = self.app.dialogs.ask_open_file("Open data", DATA_FILETYPES, self.app.folder("data"))
        if path:
            self.load(path)

    def load(self, path, done=None) -> None:
        """Load ``path`` in the background; on success it becomes ``app.dataset``.

        ``done(ok)`` is called afterwards (on the Tk loop). A ``UserError`` is shown to
        the user and the current data stay.
        """
        from bcdesktop import data

        if self.job is not None:
            self.job.cancel()
        path = Path(path)
        self.message_label.configure(text="")
        self.progress.configure(value=0)
        self.progress.pack(side="left", padx=(12, 0))
        self.cancel_button.pack(side="left", padx=(6, 0))
        self.file_label.configure(text=f"Reading {path.name}\u2026")

        def work(report, cancel):
            return data.load_csv(path, progress=report, cancel=cancel)

        def progress(p) -> None:
            self.progress.configure(value=p.fraction)
            self.file_label.configure(text=f"Reading {path.name}\u2026 {p.rows:,} rows ({p.fraction:.0%})")

        def finished(ok, result) -> None:
            if self.job is not job:
                return  # a newer load replaced this one
            self.job = None
            self.progress.pack_forget()
            self.cancel_button.pack_forget()
            if ok:
                self.app.set_dataset(result)
                self.app.set_status_message(f"Loaded {path.name}.")
            else:
                self._show_file_label()
                if isinstance(result, Cancelled):
                    self.message_label.configure(
                        text=f"{WARNING_MARK} Loading {path.name} was stopped; the previous data are kept.")
                    self.app.set_status_message(f"Loading {path.name} stopped.")
                elif isinstance(result, UserError):
                    self.message_label.configure(text=f"{WARNING_MARK} {result} The previous data are kept.")
                    self.app.report_exception(result)
                else:
                    self.app.report_exception(result)
            if done is not None:
                done(ok)

        job = self.job = self.app.run_in_thread(work, finished, progress, name="load-data")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # ----------------------------------------------------------------- display
    def _show_file_label(self) -> None:
        ds = self.app.dataset
        if ds is None:
            text = "No data loaded"
        elif resources.is_bundled_data(ds.path):
            text = (f"Bundled data set: {Path(ds.path).name} (Wisconsin Breast Cancer, "
                    "UCI Machine Learning Repository, CC BY 4.0)")
        else:
            text = str(ds.path)
        self.file_label.configure(text=text)

    def show(self, ds) -> None:
        """Fill the tab from a ``Dataset`` (called on ``<<DataChanged>>``)."""
        self._show_file_label()
        if ds is None:
            for label in (self.counts_label, self.balance_label, self.layout_label):
                label.configure(text="")
            for table in (self.rejected, self.preview, self.columns):
                table.replace_rows([])
            return
        layout = getattr(ds, "layout", None)
        if layout is not None:
            self.layout_label.configure(text=f"Read as: {layout.assumed or layout.describe()} "
                                             f"({layout.describe()}). Columns tab: which column is which.")
            from bcdesktop.data import EXTRA

            self.columns.replace_rows((column, "not used (copied through when scoring)" if role == EXTRA else role)
                                      for column, role in layout.column_matching())
        else:
            self.layout_label.configure(text="")
            self.columns.replace_rows([])
        self.counts_label.configure(
            text=f"Rows read: {ds.n_read:,}    Usable: {ds.n_usable:,}    Rejected: {ds.n_rejected:,}")
        if ds.y is None:
            self.balance_label.configure(text="This file has no class column: it can be scored but not used "
                                              "for training or evaluation.")
        else:
            n = len(ds.y)
            malignant = int(ds.y.sum())
            benign = n - malignant
            self.balance_label.configure(
                text=f"Class balance: {BENIGN_MARK} benign {benign:,} ({benign / n:.1%})    "
                     f"{MALIGNANT_MARK} malignant {malignant:,} ({malignant / n:.1%})")
        self.rejected.replace_rows((r.line, r.sample_id, r.column or "(whole row)", r.reason)
                                   for r in ds.rejected[:REJECTED_ROWS])
        listed = f"{ds.n_rejected:,}" if ds.n_rejected <= REJECTED_ROWS else \
            f"first {REJECTED_ROWS:,} of {ds.n_rejected:,}"
        self.views.tab(self.rejected, text=f"Rejected rows ({listed})")
        classes = ("benign", "malignant")
        rows = []
        for i in range(min(PREVIEW_ROWS, ds.n_usable)):
            label = "" if ds.y is None else f"{(BENIGN_MARK, MALIGNANT_MARK)[ds.y[i]]} {classes[ds.y[i]]}"
            rows.append((int(ds.lines[i]), ds.ids[i], *(f"{v:g}" for v in ds.X[i]), label))
        self.preview.replace_rows(rows)
        shown = f"first {PREVIEW_ROWS:,} of {ds.n_usable:,}" if ds.n_usable > PREVIEW_ROWS else f"{ds.n_usable:,}"
        self.views.tab(self.preview, text=f"Preview ({shown} usable rows)")
        if ds.n_rejected == 0:
            self.views.select(self.preview)
        self._schedule_histograms()

    def _schedule_histograms(self) -> None:
        # Drawn after the tables are on screen, and only while visible; matplotlib is
        # imported in the background first (half a second the window need not freeze).
        if self.app.dataset is not None and self._plotted is not self.app.dataset and self.winfo_ismapped():
            from bcdesktop.gui.plots import when_matplotlib_loaded
            when_matplotlib_loaded(self.app, lambda: self.after(30, self.draw_histograms))

    def _redraw_histograms(self) -> None:
        """Draw the histograms again with the new text size (when they are shown)."""
        if self.plot is not None:
            self._plotted = None
            self._schedule_histograms()

    def draw_histograms(self) -> None:
        """Draw the per-feature histograms of the current data (once per data set)."""
        ds = self.app.dataset
        if ds is None or self._plotted is ds:
            return
        from bcdesktop.gui.plots import EmbeddedFigure, draw_class_histograms

        if self.plot is None:
            self.plot_note.pack_forget()
            self.plot = EmbeddedFigure(self.plot_frame, figsize=(5.6, 4.6), layout=None)
        draw_class_histograms(self.plot.figure, ds.X, ds.y, SHORT_NAMES, widgets.text_scale(self.app.root))
        self.plot.draw_idle()
        self._plotted = ds
