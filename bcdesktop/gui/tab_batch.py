"""The Batch tab: score a whole CSV of cases in the background.

It drives :func:`bcdesktop.scoring.score_csv` through ``app.run_in_thread``: a
progress bar with rows, rows/s and time left, Cancel (or Escape, the app's "stop
current work") that leaves no output behind, then a summary, the rejected rows with
their reasons, and metrics when the file had labels.
"""

from __future__ import annotations

import os
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

from bcdesktop.errors import UserError
from bcdesktop.gui.context import BATCH_INPUT_FILETYPES, SCORED_FILETYPES, AppContext
from bcdesktop.gui.widgets import (
    METRIC_ROWS,
    METRICS_NOTE,
    WARNING_MARK,
    ConfusionGrid,
    MetricsTable,
    Reflow,
    ScrolledTree,
    format_seconds,
    format_threshold,
    scroll_into_view,
    wrap_to_width,
)

if TYPE_CHECKING:
    from bcdesktop.scoring import ScoreProgress, ScoreSummary

COUNTS = (("rows_read", "Rows read"), ("scored", "Scored"), ("rejected", "Rejected"),
          ("malignant", "Malignant"), ("benign", "Benign"))
REJECTED_TITLE = "Rejected rows (kept in the output, with the reason in its status column)"


class BatchTab(ttk.Frame):
    """Input and output files, Score / Cancel with progress, and the results.

    Widgets tests read: ``input_var``, ``output_var``, ``choose_input_button``,
    ``choose_output_button``, ``score_button``, ``cancel_button``, ``message_label``,
    ``progress_label``, ``progress`` (the bar),
    ``count_labels`` (``rows_read scored rejected malignant benign`` -> label),
    ``rejected_tree`` (widgets.ScrolledTree), ``metrics_table`` (widgets.MetricsTable), ``metrics_label``,
    ``confusion``, ``open_button`` (which calls ``app.dialogs.open_folder``),
    ``explain_var`` / ``explain_check`` ("Add the nine contributions": ``score_csv(...,
    explain=True)``).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self.job = None
        self.summary: ScoreSummary | None = None
        self._previous: ScoreSummary | None = None
        self._model = None  # the model of the scoring in progress
        self._default_output = ""

        # The labelled-metrics box takes the right column beside the summary and the
        # rejected rows, so its five rows fit without scrolling; below them when the
        # window is too narrow for both.
        self.rowconfigure(2, weight=1)
        self._build_files().grid(row=0, column=0, columnspan=2, sticky="ew")
        self._build_run().grid(row=1, column=0, columnspan=2, sticky="ew", pady=(10, 0))
        left = ttk.Frame(self)
        left.columnconfigure(0, weight=1)
        left.rowconfigure(1, weight=1)
        self._build_summary(left).grid(row=0, column=0, sticky="ew")
        self.rejected_frame = ttk.LabelFrame(left, text=REJECTED_TITLE, padding=6)
        self.rejected_frame.grid(row=1, column=0, sticky="nsew", pady=(10, 0))
        self.rejected_tree = ScrolledTree(self.rejected_frame, (
            ("line", "Line", 48, "e"), ("id", "Sample id", 88, "w"), ("column", "Column", 176, "w"),
            ("reason", "Reason", 352, "w")), height=4)
        self.rejected_tree.pack(fill="both", expand=True)
        labelled = self._build_labelled(self)
        self.layout = Reflow(self, left, labelled, row=2, gap=10, weights=(1, 0), top=10)

        for sequence in ("<<ModelChanged>>", "<<ThresholdChanged>>"):
            app.root.bind(sequence, lambda _e: self._refresh_state(), add="+")
        self._refresh_state()

    # ----------------------------------------------------------------- layout
    def _build_files(self) -> ttk.Frame:
        box = ttk.LabelFrame(self, text="Files", padding=8)
        box.columnconfigure(1, weight=1)
        self.input_var = tk.StringVar(self, "")
        self.output_var = tk.StringVar(self, "")
        buttons = []
        for row, (text, var, command) in enumerate((("Input CSV", self.input_var, self.choose_input),
                                                    ("Output CSV", self.output_var, self.choose_output))):
            ttk.Label(box, text=text).grid(row=row, column=0, sticky="w", pady=2)
            entry = ttk.Entry(box, textvariable=var)
            entry.grid(row=row, column=1, sticky="ew", padx=8, pady=2)
            entry.bind("<Return>", lambda _e: self.score())
            button = ttk.Button(box, text="Choose\u2026", command=command)
            button.grid(row=row, column=2, pady=2)
            buttons.append(button)
        self.choose_input_button, self.choose_output_button = buttons
        self.input_var.trace_add("write", lambda *_: (self._follow_input(), self._refresh_state()))
        self.output_var.trace_add("write", lambda *_: self._refresh_state())
        wrap_to_width(ttk.Label(box, text="The output has every input row, in order, with its original columns "
                                          "plus probability, its interval (probability_low, probability_high), "
                                          "indeterminate, prediction, threshold, status and the id of the model "
                                          "that scored it. The nine contributions say why each row got its "
                                          "probability (log-odds; about 10 ms for each distinct row).",
                                style="Small.TLabel")).grid(row=2, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        self.explain_var = tk.BooleanVar(self, False)
        self.explain_check = ttk.Checkbutton(
            box, text="Add the nine contributions (slower)", variable=self.explain_var)
        self.explain_check.grid(row=3, column=0, columnspan=3, sticky="w", pady=(4, 0))
        return box

    def _build_run(self) -> ttk.Frame:
        box = ttk.Frame(self)
        box.columnconfigure(2, weight=1)
        self.score_button = ttk.Button(box, text="Score", command=self.score, style="Primary.TButton")
        self.score_button.grid(row=0, column=0, sticky="w")
        self.cancel_button = ttk.Button(box, text="Cancel (Esc)", command=self.cancel)
        self.cancel_button.grid(row=0, column=1, sticky="w", padx=(6, 0))
        self.progress = ttk.Progressbar(box, orient="horizontal", mode="determinate", maximum=1.0)
        self.progress.grid(row=0, column=2, sticky="ew", padx=(12, 0))
        self.progress_label = ttk.Label(box, text="", style="Muted.TLabel")
        self.progress_label.grid(row=1, column=2, sticky="w", padx=(12, 0))
        self.model_label = ttk.Label(box, text="", style="Muted.TLabel")
        self.model_label.grid(row=1, column=0, columnspan=2, sticky="w", pady=(4, 0))
        self.message_label = wrap_to_width(ttk.Label(box, text=""))
        self.message_label.grid(row=2, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        return box

    def _build_summary(self, parent) -> ttk.Frame:
        box = ttk.LabelFrame(parent, text="Summary", padding=8)
        box.columnconfigure(0, weight=1)
        counts = self.counts_frame = ttk.Frame(box)
        counts.grid(row=0, column=0, sticky="w")
        self.count_labels = {}
        for col, (key, title) in enumerate(COUNTS):
            ttk.Label(counts, text=title, style="Muted.TLabel").grid(row=0, column=col, sticky="w", padx=(0, 24))
            label = ttk.Label(counts, text="\u2014", font="BcTitle")
            label.grid(row=1, column=col, sticky="w", padx=(0, 24))
            self.count_labels[key] = label
        where = ttk.Frame(box)
        where.grid(row=1, column=0, sticky="ew", pady=(8, 0))
        self.open_button = ttk.Button(where, text="Open output folder", command=self._open_output_folder)
        self.open_button.pack(side="left")
        self.output_label = wrap_to_width(ttk.Label(where, text=""))
        self.output_label.pack(side="left", fill="x", expand=True, padx=(12, 0))
        return box

    def _build_labelled(self, parent) -> ttk.Frame:
        box = ttk.LabelFrame(parent, text="Against the file's labels", padding=6)
        box.columnconfigure(0, weight=1)
        self.metrics_label = wrap_to_width(ttk.Label(box, text="Shown when the scored file has a class column.",
                                                     style="Muted.TLabel"))
        self.metrics_label.grid(row=0, column=0, sticky="ew")
        self.metrics_frame = ttk.Frame(box)
        self.confusion = ConfusionGrid(self.metrics_frame)
        self.confusion.grid(row=0, column=0, sticky="w")
        self.metrics_table = MetricsTable(self.metrics_frame)
        self.metrics_table.grid(row=1, column=0, sticky="ew", pady=(6, 0))
        wrap_to_width(ttk.Label(self.metrics_frame, text=METRICS_NOTE, style="Small.TLabel")).grid(
            row=2, column=0, sticky="ew", pady=(4, 0))
        return box

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """True while a file is being scored."""
        return self.job is not None

    def _refresh_state(self) -> None:
        model = self.app.model
        if model is None:
            self.model_label.configure(text="No model is loaded: open or train one before scoring.")
        else:
            self.model_label.configure(
                text=f"Model {model.model_id}, threshold {format_threshold(self.app.threshold)}")
        ready = (model is not None and not self.running and self.input_var.get().strip() != ""
                 and self.output_var.get().strip() != "")
        self.score_button.state(["!disabled"] if ready else ["disabled"])
        self.cancel_button.state(["!disabled"] if self.running else ["disabled"])
        self.open_button.state(["!disabled"] if self.summary is not None else ["disabled"])
        if not self.running and self.focus_get() is self.cancel_button:
            self.score_button.focus_set()  # score() put it on Cancel; never leave it on a disabled button

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.configure(text=f"{WARNING_MARK} {text}" if error else text,
                                     style="Error.TLabel" if error else "TLabel")

    # ----------------------------------------------------------------- files
    def choose_input(self) -> None:
        current = self.input_var.get().strip()
        folder = str(Path(current).parent) if current else self.app.folder("batch")
        path = self.app.dialogs.ask_open_file("Choose the CSV to score", BATCH_INPUT_FILETYPES, folder)
        if path:
            self.app.remember_folder("batch", Path(path).parent)
            self.set_input(path)

    def set_input(self, path: str | os.PathLike) -> None:
        """Use ``path`` as input; the output follows with the default name unless the user chose one."""
        self.input_var.set(os.fspath(path))

    def _follow_input(self) -> None:
        """The output is ``INPUT_STEM.scored.csv`` beside the input
        (:func:`bcdesktop.scoring.default_output_path`) whether the input was chosen or
        typed, for as long as the user has not given an output of their own (an empty
        output field follows again)."""
        from bcdesktop import scoring

        if self.output_var.get().strip() not in ("", self._default_output):
            return  # the user's own choice
        source = self.input_var.get().strip()
        default = ""
        if source and Path(source).name:
            try:
                default = os.fspath(scoring.default_output_path(source))
            except (OSError, ValueError):  # a path being typed may not make sense yet
                default = ""
        self._default_output = default
        self.output_var.set(default)

    def choose_output(self) -> None:
        current = Path(self.output_var.get().strip() or self.input_var.get().strip() or "scored.csv")
        folder = str(current.parent) if str(current.parent) not in ("", ".") else self.app.folder("batch")
        path = self.app.dialogs.ask_save_file("Save the scored CSV as", SCORED_FILETYPES, folder, current.name,
                                              ".csv")
        if path:
            self.output_var.set(os.fspath(path))

    # ----------------------------------------------------------------- scoring
    def score(self) -> None:
        """Check the files, ask before replacing an existing output, then score in the background."""
        from bcdesktop import scoring

        if self.running:
            return
        model = self.app.model
        source = self.input_var.get().strip()
        target = self.output_var.get().strip()
        if model is None:
            self._say("No model is loaded: open or train one before scoring.", error=True)
            return
        if not source or not target:
            self._say("Choose an input CSV and an output file first.", error=True)
            return
        source_path, target_path = Path(source).expanduser(), Path(target).expanduser()
        if not source_path.is_file():
            self._say(f"The input file {source_path} does not exist. Choose another.", error=True)
            return
        if scoring.same_file(source_path, target_path):  # refused before any dialog
            self._say("The output file is the input file: scoring would overwrite your data. "
                      "Choose a different output file.", error=True)
            return
        force = False
        if target_path.exists():
            if not self.app.dialogs.ask_yes_no(
                    "Replace the output file?",
                    f"{target_path} already exists.\n\nReplace it with the new scores?"):
                self._say(f"Not scored: {target_path.name} already exists and was kept. "
                          "Choose another output file, or score again and agree to replace it.",
                          error=True)
                return
            force = True

        threshold = self.app.threshold
        explain = bool(self.explain_var.get())
        digests = self.app.audit_log.enabled  # the files' hashes are for the audit entry

        def work(report, cancel):
            return scoring.score_csv(source_path, target_path, model, threshold=threshold, force=force,
                                     progress=report, cancel=cancel, explain=explain, digests=digests)

        self._previous = self.summary  # shown again if this run fails or is cancelled
        self._clear_results()
        self._say(f"Scoring {source_path.name} at threshold {format_threshold(threshold)}\u2026")
        self.app.set_status_message(f"Scoring {source_path.name}\u2026")
        self.progress_label.configure(text="Starting\u2026")
        self.progress.configure(value=0)
        self._model = model  # the model the audit entry names
        self.job = self.app.run_in_thread(work, self._on_done, self._on_progress)
        self._refresh_state()
        self.cancel_button.focus_set()

    def cancel(self) -> None:
        """Ask the running scoring to stop; no output file is left behind."""
        if self.running:
            self.job.cancel()
            self.progress_label.configure(text="Cancelling\u2026")
            self.cancel_button.state(["disabled"])

    def _on_progress(self, msg: ScoreProgress) -> None:
        """Show a ``scoring.ScoreProgress``: rows, rows/s, time left, and the bar."""
        parts = [f"{msg.rows_done:,} rows"]
        if msg.rows_per_s:
            parts.append(f"{msg.rows_per_s:,.0f} rows/s")
        left = format_seconds(msg.eta_s)
        if left:
            parts.append(f"about {left} left")
        self.progress_label.configure(text=" \u00b7 ".join(parts))
        self.progress.configure(value=msg.fraction)

    def _on_done(self, ok: bool, result) -> None:
        self.job = None
        if ok:
            self.progress.configure(value=1.0)
            self.progress_label.configure(text="Done.")
            self._show_summary(result)
            scroll_into_view(self.counts_frame)  # the counts may be below Score with large text
            self.app.set_status_message(f"Scored {result.scored:,} of {result.rows_read:,} rows "
                                        f"into {Path(result.output).name}.")
            from bcdesktop.audit import batch_fields

            self.app.audit_record("batch", **batch_fields(result, self._model, self.app.model_origin))
        else:
            self.progress.configure(value=0)
            self.progress_label.configure(text="")
            if self._previous is not None:
                self._show_summary(self._previous)
            kept = (f"The results below are still those of {Path(self._previous.input).name}."
                    if self._previous is not None else "")
            stopped = "Cancelled: no output file was written." + (f" {kept}" if kept else "")
            self.app.report_job_failure(result, what="Batch scoring", inline=self._say, stopped=stopped, kept=kept)
        self._previous = None
        self._refresh_state()

    # ----------------------------------------------------------------- results
    def _clear_results(self) -> None:
        self.summary = None
        for label in self.count_labels.values():
            label.configure(text="\u2014")
        self.output_label.configure(text="")
        self.metrics_label.configure(text="Shown when the scored file has a class column.")
        self.metrics_frame.grid_remove()
        self.metrics_table.show(None)
        self.rejected_tree.replace_rows([])
        self.rejected_frame.configure(text=REJECTED_TITLE)
        self.app.set_results("Batch scoring", None)

    def _show_summary(self, summary: ScoreSummary) -> None:
        self.summary = summary
        m = summary.metrics
        for key, label in self.count_labels.items():
            label.configure(text=f"{getattr(summary, key):,}")
        self.output_label.configure(text=f"Written to {summary.output}")
        unsure = getattr(summary, "indeterminate", 0)
        self._say(f"Scored {summary.scored:,} of {summary.rows_read:,} rows"
                  + (f"; {summary.rejected:,} could not be scored (see below)." if summary.rejected else ".")
                  + (f" {unsure:,} {'is' if unsure == 1 else 'are'} indeterminate at this threshold (the "
                     "probability and its interval do not give one call)." if unsure else ""))
        self.rejected_tree.replace_rows(
            (r.line, r.sample_id, r.column or "(whole row)", r.reason) for r in summary.rejections)
        self.rejected_frame.configure(text=REJECTED_TITLE + (
            f": the first {len(summary.rejections):,} of {summary.rejected:,}; the output's status "
            "column has every reason" if summary.rejections_not_kept else ""))
        self.app.set_results("Batch scoring", [
            ("input", str(summary.input)), ("output", str(summary.output)), ("model id", summary.model_id),
            ("threshold", summary.threshold), *((title.lower(), getattr(summary, key)) for key, title in COUNTS),
            *(() if m is None else ((f"{title} (labelled rows)", getattr(m, attr)) for attr, title in METRIC_ROWS))])
        if m is None:
            self.metrics_label.configure(text="The file has no class column, so the calls cannot be "
                                              "checked against labels.")
            self.metrics_frame.grid_remove()
        else:
            skipped = (f" ({summary.unlabelled:,} scored rows without a usable class are left out)"
                       if summary.unlabelled else "")
            self.metrics_label.configure(text=f"{m.n:,} scored rows with a class{skipped}, at threshold "
                                              f"{format_threshold(summary.threshold)}; 95% Wilson intervals.")
            self.confusion.show(m.tp, m.fp, m.tn, m.fn)
            self.metrics_table.show(m)
            self.metrics_frame.grid(row=1, column=0, sticky="ew", pady=(6, 0))
        self.layout.update()  # larger counts may no longer fit beside the labelled box

    def _open_output_folder(self) -> None:
        if self.summary is None:
            return
        try:
            self.app.dialogs.open_folder(str(Path(self.summary.output).parent))
        except OSError as exc:
            self.app.report_exception(UserError(
                f"Could not open the folder {Path(self.summary.output).parent}: {exc.strerror or exc}. "
                "Open it from your file manager instead."))
