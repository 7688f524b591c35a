"""What a tab may use of the application: one small typed interface, and the file types.

Each tab is built as ``XTab(parent, app)`` with ``app`` an :class:`AppContext` (the
:class:`~bcdesktop.gui.app.App` in the window, any object with these members in a
test), so no tab imports the main module (as Porcupine's plugins call ``_state.py``).
The app tells the tabs about changes with virtual events on ``app.root``, bound with
``add="+"``: ``<<DataChanged>>``, ``<<ModelChanged>>``, ``<<ThresholdChanged>>`` and
``widgets.TEXT_SCALE_EVENT``.

A leaf module: it imports nothing of the package at run time.
"""

from __future__ import annotations

import os
import threading
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bcdesktop.csvscan import LoadProgress
    from bcdesktop.data import Dataset
    from bcdesktop.gui.dialogs import Dialogs
    from bcdesktop.gui.settings import Settings
    from bcdesktop.gui.worker import Job
    from bcdesktop.persistence import ModelBundle

DATA_FILETYPES = [("CSV or UCI data", "*.csv *.data *.txt"), ("All files", "*")]
MODEL_FILETYPES = [("bcdesktop model", "*.npz"), ("All files", "*")]
RESULT_FILETYPES = [("CSV", "*.csv"), ("Text", "*.txt")]
CARD_FILETYPES = [("HTML", "*.html *.htm"), ("Markdown", "*.md")]
REPORT_FILETYPES = [("PDF", "*.pdf")]
BATCH_INPUT_FILETYPES = [("CSV and data files", "*.csv *.data *.txt *.tsv"), ("All files", "*")]
SCORED_FILETYPES = [("CSV files", "*.csv"), ("All files", "*")]

#: ``inline(text, error)``: shows a sentence in a tab, as a problem (``error``) or a note.
Inline = Callable[[str, bool], None]


class AppContext(Protocol):
    """The members of the app that tabs use: shared state, its setters (each fires its
    event), the status bar, File > Export results, background work, errors and folders."""

    root: tk.Tk | tk.Toplevel  # the window: events are fired and bound on it
    dataset: Dataset | None
    model: ModelBundle | None  # the active model
    threshold: float  # the malignancy threshold in use
    settings: Settings
    dialogs: Dialogs  # file dialogs and message boxes (a recording fake in tests)

    def set_model(self, bundle: ModelBundle | None, *, source: str = "") -> None:
        """Make ``bundle`` the active model (``source``: "trained", a file name, ...)."""

    def set_threshold(self, threshold: float, chosen_by: str | None = None) -> None:
        """Set the threshold (0 < t < 1); fires ``<<ThresholdChanged>>`` if it changed.
        ``chosen_by``: how, in words (a rule); None for by hand."""

    threshold_note: str  # how the threshold in use was chosen, in words
    model_origin: str  # "made on this installation", "shipped with bcdesktop", "external model"
    audit_log: Any  # bcdesktop.audit.AuditLog: the audit trail (read by the History tab)

    def audit_record(self, kind: str, *, done: Callable[[Any], None] | None = None, **fields) -> None:
        """Record an audit entry off the Tk thread; ``done(entry or None)`` on the Tk loop."""

    evidence_state: str  # what the out-of-fold evidence job is doing, or why it gave nothing
    evidence_running: bool  # an out-of-fold evidence job is running
    runs: list  # the training runs of this session (gui.landscape_runs.Run), oldest first

    def add_run(self, run) -> None:
        """Keep a finished training run for the session; fires ``<<RunsChanged>>``."""

    def open_case(self, scores, note: str = "") -> None:
        """Show a case (nine scores) in the Patient tab, predicted, with ``note`` saying
        where it comes from."""

    def compute_evidence(self, bundle: ModelBundle | None = None, dataset: Dataset | None = None, *,
                         on_ready: Callable[[ModelBundle], None] | None = None) -> Job | None:
        """Cross-validate the model's settings in the background for its out-of-fold
        evidence; the model is replaced by one with it when ready (``<<ModelChanged>>``);
        progress in ``evidence_state``, announced by ``<<EvidenceChanged>>``."""

    def load_data(self, path: str | os.PathLike, *, done: Callable[[bool], None] | None = None) -> Job:
        """Read a data file in the background; it becomes ``dataset`` if it can be used."""

    def save_model(self, bundle: ModelBundle | None = None) -> None:
        """Ask where to save ``bundle`` (by default the active model) and save it."""

    def set_status_message(self, text: str) -> None:
        """Show a short message in the status bar (and log it)."""

    def set_results(self, section: str, rows: Sequence[tuple[str, Any]] | None) -> None:
        """Publish ``(name, value)`` rows for File > Export results; None removes the section."""

    def run_in_thread(self, fn: Callable[[Callable[[Any], None], threading.Event], Any],
                      done: Callable[[bool, Any], None], progress: Callable[[Any], None] | None = None,
                      *, name: str | None = None) -> Job:
        """Run ``fn(report, cancel)`` in a worker thread; ``progress`` and ``done`` on the Tk loop."""

    def report_exception(self, exc: BaseException) -> None:
        """Tell the user about ``exc``: a UserError by its message, anything else as an internal error."""

    def report_job_failure(self, exc: BaseException, *, what: str, inline: Inline | None = None,
                           stopped: str = "", kept: str = "") -> None:
        """Tell the user why a background job gave no result (see ``App.report_job_failure``)."""

    def folder(self, kind: str) -> str | None:
        """The last folder used for ``kind`` ("data", "model", "batch", "results"), if it still exists."""

    def remember_folder(self, kind: str, folder: str | os.PathLike) -> None:
        """Remember ``folder`` as the last one used for ``kind``."""


class LoadView(Protocol):
    """What shows a data load while it runs (the Data tab): ``AppContext.load_data`` calls
    these on the Tk loop, in this order, for the load in progress only."""

    def load_started(self, path: Path, job: Job) -> None:
        """Reading ``path`` has begun; ``job.cancel()`` stops it."""

    def load_progress(self, path: Path, progress: LoadProgress) -> None:
        """Rows read so far, and the fraction of the file."""

    def load_ended(self, path: Path) -> None:
        """The load is over (its outcome follows: ``<<DataChanged>>``, or :meth:`show_load_message`)."""

    def show_load_message(self, text: str, error: bool) -> None:
        """Why the load gave no data, and what was kept (``report_job_failure``'s ``inline``)."""
