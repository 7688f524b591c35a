"""The Data tab: open a CSV and see what was read, what was rejected and why.

The app reads the file in the background (``app.load_data``) and tells this tab how it
goes (:class:`~bcdesktop.gui.context.LoadView`): a progress bar and Cancel while it
runs, then what was read or why nothing was. The tab shows the counts (rows
read / usable / rejected), the class balance, every rejected row with its reason, a
preview of the usable rows, and per-feature histograms split by class (drawn in a
worker thread, :class:`~bcdesktop.gui.plots.OffscreenPicture`: nine axes take a few
hundred milliseconds to draw, seconds on a busy machine). A file that cannot be used
shows its message and the previous data stay loaded.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

from bcdesktop import resources
from bcdesktop.gui import widgets
from bcdesktop.gui.context import DATA_FILETYPES, AppContext
from bcdesktop.gui.widgets import BENIGN_MARK, MALIGNANT_MARK, WARNING_MARK

if TYPE_CHECKING:
    from bcdesktop.csvscan import LoadProgress
    from bcdesktop.data import Dataset
    from bcdesktop.gui.plots import OffscreenPicture
    from bcdesktop.gui.worker import Job

SHORT_NAMES = ("Clump thickness", "Cell size", "Cell shape", "Marginal adhesion", "Epithelial size",
               "Bare nuclei", "Bland chromatin", "Normal nucleoli", "Mitoses")
PREVIEW_ROWS = 500
HEADING_PADDING = 14  # pixels at 100% around a table heading's text (the theme's padding and borders)
TREE_BORDER = 4  # pixels the table's border takes from its width (clam: 2 each side)
SELECT_HINT = "Select a row to read its reason in full."
REJECTED_ROWS = 1000  # rejected rows listed at most (a table of a million rows would stall the window)


def fill_table(table: widgets.ScrolledTree, rows) -> None:
    """``table.replace_rows(rows)``, about four times faster: each row goes to Tcl as a
    list (tkinter's ``insert`` quotes every cell through a regular expression, 50 us a
    row, which made loading a large file hold the window for 100-170 ms)."""
    tree = table.tree
    tree.delete(*tree.get_children())
    call, path = tree.tk.call, tree._w
    for row in rows:
        call(path, "insert", "", "end", "-values", tuple("" if v is None else str(v) for v in row))


class DataTab(ttk.Frame):
    """Built as ``DataTab(notebook, app)``.

    Widgets tests read: ``open_button``, ``cancel_button``, ``file_label``, ``counts_label``,
    ``balance_label``, ``layout_label``, ``message_label``, ``progress``, ``rejected``,
    ``preview`` and ``columns`` (:class:`~bcdesktop.gui.widgets.ScrolledTree`), ``views``
    (the inner notebook), ``reason_label`` (the selected rejected row in full);
    ``plot`` (an :class:`~bcdesktop.gui.plots.OffscreenPicture`) once histograms are shown;
    ``job``, the app's load in progress (None when none runs).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=8)
        self.app = app
        self.job: Job | None = None  # the app's load in progress
        self._picture = None  # the histograms (plots.OffscreenPicture), made for the first data set
        self._requested = None  # (dataset, text scale) of the histograms asked for
        self._plotted = None  # the dataset whose histograms, at the current text size, are on screen

        top = ttk.Frame(self)
        top.pack(side="top", fill="x")
        self.open_button = ttk.Button(top, text=f"Open data\u2026 ({widgets.MOD_LABEL}+O)", command=self.open_dialog)
        self.open_button.pack(side="left")
        self.cancel_button = ttk.Button(top, text="Cancel", command=self.cancel)
        self.progress = ttk.Progressbar(top, mode="determinate", maximum=1.0, length=220)
        self.file_label = ttk.Label(top, text="No data loaded", style="Bold.TLabel")
        # wraps rather than asking for the width of a long path (or the bundled file's credit at large text)
        widgets.wrap_to_width(self.file_label).pack(side="left", fill="x", expand=True, padx=(12, 0))

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
                                                          ("reason", "Reason", 200, "w")), height=12)
        # The reason takes the width the other columns leave; the selected row's reason in full below.
        self.rejected.tree.column("reason", stretch=False)  # sized by _fit_reason_column, never squeezed by Tk
        self.rejected.tree.bind("<Configure>", lambda _e: self._fit_reason_column(), add="+")
        self.rejected.tree.bind("<<TreeviewSelect>>", lambda _e: self._show_selected_reason(), add="+")
        self.reason_label = ttk.Label(self.rejected, text=SELECT_HINT, style="Muted.TLabel")
        self.reason_label.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        widgets.wrap_to_width(self.reason_label)
        self.preview = widgets.ScrolledTree(self.views, self._preview_columns(), height=12)
        self.preview.tree.heading("#0", text="\n")  # Tk sizes the heading row by this hidden column's text
        self.preview.tree.column("class", stretch=False)  # a narrow view scrolls; it never squeezes a column
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
        app.root.bind(widgets.TEXT_SCALE_EVENT, lambda _e: self._on_text_scale(), add="+")
        # Shown again: draw what is not drawn yet (the picture also looks by itself while hidden).
        self.bind("<Map>", lambda _e: self._schedule_histograms(), add="+")

    def _preview_columns(self) -> list[tuple[str, str, int, str]]:
        """The preview's columns, each feature's heading on two lines and its column as
        wide as the longer line in the headings' bold font (widths at 100% text, as
        :class:`~bcdesktop.gui.widgets.ScrolledTree` takes them)."""
        font = tkfont.nametofont("BcBold", root=self)
        factor = widgets.size_factor(self)

        def column(cid, heading, width, anchor):
            text = max(font.measure(line) for line in heading.split("\n")) / factor + HEADING_PADDING
            return cid, heading, max(width, round(text)), anchor

        return ([column("line", "Line", 50, "e"), column("id", "Sample id", 80, "w")]
                + [column(f"f{i}", name.replace(" ", "\n", 1), 48, "e") for i, name in enumerate(SHORT_NAMES)]
                + [column("class", "Class", 90, "w")])

    def _fit_reason_column(self) -> None:
        """Give the reason column the width the other columns leave (never less than 20
        characters), so that a reason is cut only when it is longer than the table is wide."""
        tree = self.rejected.tree
        width = tree.winfo_width()
        if width <= 1:
            return
        ids = tree.cget("columns")
        others = sum(int(tree.column(cid, "width")) for cid in ids[:-1])
        want = max(widgets.chars_width(tree, 20), width - others - TREE_BORDER)
        if int(tree.column(ids[-1], "width")) != want:
            tree.column(ids[-1], width=want)

    def _show_selected_reason(self) -> None:
        selected = self.rejected.tree.selection()
        if not selected:
            self.reason_label.configure(text=SELECT_HINT)
            return
        line, sample_id, column, reason = self.rejected.tree.item(selected[0], "values")
        self.reason_label.configure(text=f"Line {line}, sample {sample_id or '(none)'}: {reason}")

    def _on_text_scale(self) -> None:
        # After every handler (the tables' widths are set for the new size by then).
        self.after_idle(self._fit_reason_column)
        self._redraw_histograms()

    def _place_sash(self, _event=None) -> None:
        """Share the width between the tables and the histograms (once, when first shown)."""
        if not getattr(self, "_sash_placed", False) and self.panes.winfo_width() > 1:
            self._sash_placed = True
            self.panes.sashpos(0, int(self.panes.winfo_width() * 0.48))

    # ----------------------------------------------------------------- loading
    def open_dialog(self) -> None:
        """Ask for a file (through ``app.dialogs``) and load it (``app.load_data``)."""
        path = self.app.dialogs.ask_open_file("Open data", DATA_FILETYPES, self.app.folder("data"))
        if path:
            self.app.load_data(path)

    def cancel(self) -> None:
        """Stop the load in progress (the Cancel button; Escape stops all work)."""
        if self.job is not None:
            self.job.cancel()

    # The app's loads, as it tells them (context.LoadView).
    def load_started(self, path: Path, job: Job) -> None:
        self.job = job
        self.message_label.configure(text="")
        self.progress.configure(value=0)
        self.progress.pack(side="left", padx=(12, 0))
        self.cancel_button.pack(side="left", padx=(6, 0))
        self.file_label.configure(text=f"Reading {path.name}\u2026")

    def load_progress(self, path: Path, progress: LoadProgress) -> None:
        self.progress.configure(value=progress.fraction)
        self.file_label.configure(text=f"Reading {path.name}\u2026 {progress.rows:,} rows ({progress.fraction:.0%})")

    def load_ended(self, path: Path) -> None:
        self.job = None
        self.progress.pack_forget()
        self.cancel_button.pack_forget()
        self._show_file_label()

    def show_load_message(self, text: str, error: bool) -> None:
        self.message_label.configure(text=f"{WARNING_MARK} {text}")

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

    def show(self, ds: Dataset | None) -> None:
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
            from bcdesktop.csvlayout import EXTRA

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
        fill_table(self.rejected, ((r.line, r.sample_id, r.column or "(whole row)", r.reason)
                                   for r in ds.rejected[:REJECTED_ROWS]))
        listed = f"{ds.n_rejected:,}" if ds.n_rejected <= REJECTED_ROWS else \
            f"first {REJECTED_ROWS:,} of {ds.n_rejected:,}"
        self.views.tab(self.rejected, text=f"Rejected rows ({listed})")
        classes = ("benign", "malignant")
        rows = []
        for i in range(min(PREVIEW_ROWS, ds.n_usable)):
            label = "" if ds.y is None else f"{(BENIGN_MARK, MALIGNANT_MARK)[ds.y[i]]} {classes[ds.y[i]]}"
            rows.append((int(ds.lines[i]), ds.ids[i], *(f"{v:g}" for v in ds.X[i]), label))
        fill_table(self.preview, rows)
        shown = f"{PREVIEW_ROWS:,} of {ds.n_usable:,}" if ds.n_usable > PREVIEW_ROWS else f"{ds.n_usable:,}"
        self.views.tab(self.preview, text=f"Preview ({shown})")  # short: the tabs' row sets the views' width
        if ds.n_rejected == 0:
            self.views.select(self.preview)
        self._schedule_histograms()

    @property
    def plot(self) -> OffscreenPicture | None:
        """The histograms (:class:`~bcdesktop.gui.plots.OffscreenPicture`) once a picture
        of them is on screen, else None."""
        picture = self._picture
        return picture if picture is not None and picture.draw_count else None

    def _schedule_histograms(self) -> None:
        """Ask for the current data's histograms at the current text size (drawn in a
        worker thread when the tab is on screen; nothing if they are asked for already)."""
        ds = self.app.dataset
        if ds is None:
            return
        scale = widgets.text_scale(self.app.root)
        if self._requested is not None and self._requested[0] is ds and self._requested[1] == scale:
            self._picture.refresh()  # e.g. the tab is shown again: draws only what is missing
            return
        from bcdesktop.gui.plots import OffscreenPicture, draw_class_histograms

        if self._picture is None:
            self.plot_note.pack_forget()
            # a modest size asked for: the picture takes the room the window gives it
            self._picture = OffscreenPicture(self.plot_frame, self.app.report_exception, size=(4.4, 3.4),
                                             name="draw-histograms")
            self._picture.on_shown = self._histograms_shown
        self._requested = (ds, scale)
        X, y = ds.X, ds.y  # a Dataset's arrays are never written to once loaded: the worker only reads them

        def draw(figure):
            draw_class_histograms(figure, X, y, SHORT_NAMES, scale)

        self._picture.request(draw, token=ds, note="Drawing the histograms\u2026")

    def _histograms_shown(self, picture) -> None:
        self._plotted = picture.token

    def _redraw_histograms(self) -> None:
        """Draw the histograms again with the new text size (when there are any)."""
        if self._picture is not None:
            self._plotted = None
            self._schedule_histograms()
