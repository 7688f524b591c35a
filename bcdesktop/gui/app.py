"""The main window: notebook of tabs, menus, status bar, shared state, loading, errors.

:class:`App` holds what the tabs share (the data set, the active model, the threshold)
and tells them about changes with virtual events on its window (``<<DataChanged>>``,
``<<ModelChanged>>``, ``<<ThresholdChanged>>``, ``<<EvidenceChanged>>``; bind with
``add="+"``). Tabs see it as a :class:`~bcdesktop.gui.context.AppContext` and never
reach into each other's widgets.
The app reads data files itself (:meth:`App.load_data`) and shows the load on the Data
tab; every background job that gives no result is told to the user one way
(:meth:`App.report_job_failure`).

:func:`run` is what the command line calls to open the window.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from bcdesktop import DISCLAIMER, __version__, resources
from bcdesktop.audit import AuditLog
from bcdesktop.data import load_csv
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.gui import export, widgets
from bcdesktop.gui.auditing import AuditRecorder
from bcdesktop.gui.context import CARD_FILETYPES, MODEL_FILETYPES, RESULT_FILETYPES, Inline, LoadView
from bcdesktop.gui.dialogs import Dialogs
from bcdesktop.gui.logs import configure_logging
from bcdesktop.gui.plots import favour_tk_thread
from bcdesktop.gui.settings import Settings
from bcdesktop.gui.statusbar import StatusBar
from bcdesktop.gui.tab_batch import BatchTab
from bcdesktop.gui.tab_calibration import CalibrationTab
from bcdesktop.gui.tab_data import DataTab
from bcdesktop.gui.tab_history import HistoryTab
from bcdesktop.gui.tab_landscape import LandscapeTab
from bcdesktop.gui.tab_patient import PatientTab
from bcdesktop.gui.tab_threshold import ThresholdTab
from bcdesktop.gui.tab_train import TrainTab
from bcdesktop.gui.widgets import MOD, MOD_LABEL
from bcdesktop.gui.worker import Job, Worker
from bcdesktop.metrics import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from bcdesktop.data import Dataset
    from bcdesktop.persistence import ModelBundle

log = logging.getLogger("bcdesktop.gui")

BY_HAND = "set by hand in the Threshold tab"  # how a threshold was chosen when no rule chose it
INTRO_BACKGROUND = "#eaf2fb"  # a pale blue: the first-screen note stands apart from the tabs
#: The tabs in notebook order: key, title, the letter Alt selects it by (Alt+H for
#: Threshold, since Alt+T is Train; Alt+S for History), and its class.
TABS = (("data", "Data", 0, DataTab), ("train", "Train", 0, TrainTab), ("patient", "Patient", 0, PatientTab),
        ("threshold", "Threshold", 1, ThresholdTab), ("calibration", "Calibration", 0, CalibrationTab),
        ("landscape", "Landscape", 0, LandscapeTab), ("batch", "Batch", 0, BatchTab),
        ("history", "History", 2, HistoryTab))
TAB_ORDER = tuple(key for key, *_ in TABS)

INTENDED_USE = (
    "bcdesktop estimates the probability that a breast tumour is malignant from the nine "
    "cytology scores (1-10) of the Wisconsin Breast Cancer (Original) data set, using a small "
    "neural network.\n\n"
    "It is meant for research and teaching: to explore how such a model is trained, how its "
    "threshold trades sensitivity against specificity, and how uncertain its figures are.\n\n"
    "It is not a medical device. It has not been validated for clinical use and must not be used "
    "to diagnose, treat or make decisions about any person."
)


def _press_focused_button(event) -> None:
    """Enter on one of the app's buttons presses it. A button that Tcl made itself, such as
    those of a message box, reaches Python as a bare path name: its own dialog binds
    Enter already, so it is left to that (calling ``.invoke`` on the name raised)."""
    if not isinstance(event.widget, str):
        event.widget.invoke()


class App:
    """The application: shared state, menus, tabs, status bar, background work, errors.

    Parameters
    ----------
    root : tk.Tk or tk.Toplevel
        The main window: a ``Tk`` in the running app, a ``Toplevel`` of a session's Tk
        in tests. What the app sets on it (menu, bindings, title, icon, size) goes with
        it; the Tk callback-exception handler goes on its Tk root while it lives; what
        Tk shares between windows (ttk styles, named fonts, the option database, class
        bindings) is set anew from this app's settings.
    dialogs : Dialogs-like, optional
        File dialogs and message boxes; tests pass :class:`~bcdesktop.gui.dialogs.RecordingDialogs`.
    settings : Settings, optional
        Per-user settings; by default read from the user folder.
    no_audit : bool
        ``--no-audit``: record nothing in the audit trail this session (the setting
        ``audit`` turns it off for good).

    Attributes
    ----------
    dataset : bcdesktop.data.Dataset or None
    model : bcdesktop.persistence.ModelBundle or None
        The active model (used by the Patient, Threshold and Batch tabs).
    model_source : str
        Where the active model came from ("default", "trained", or a file name).
    threshold : float
        The malignancy threshold in use (between 0 and 1; the tabs offer 0.01..0.99).
    threshold_chosen_by : str or None
        How it was chosen, in words (a rule of the Threshold tab, "set by hand in the
        Threshold tab"), or None for the active model's own (see its
        ``threshold_chosen_by``).
    model_origin : str
        "made on this installation", "shipped with bcdesktop", "external model" (or
        "origin unknown"): from the audit trail's list of models made here.
    audit_log : bcdesktop.audit.AuditLog
        The audit trail (the History tab reads it); ``audit`` writes to it off the Tk
        thread (:meth:`audit_record`).
    tabs : dict
        ``"data"``, ``"train"``, ``"patient"``, ``"threshold"``, ``"batch"`` -> tab frame.
    """

    def __init__(self, root: tk.Tk | tk.Toplevel, *, dialogs=None, settings: Settings | None = None,
                 no_audit: bool = False):
        self.root = root
        self.dialogs = dialogs if dialogs is not None else Dialogs(root)
        self.log_path = configure_logging()
        self.settings = settings if settings is not None else Settings.load()
        self.dataset: Dataset | None = None
        self.model: ModelBundle | None = None
        self.model_source = ""
        self._no_model_reason = ""
        self.threshold = DEFAULT_THRESHOLD
        self.threshold_chosen_by: str | None = None
        self.model_origin = ""
        self.no_audit = no_audit
        self.audit_log = AuditLog(enabled=not no_audit and self.settings.get("audit", True), source="window")
        self.audit = AuditRecorder(root, self.audit_log, self._on_audit_problem)
        self._threshold_entry: tuple | None = None   # (from, to, chosen_by, model) waiting to be recorded
        self._threshold_after: str | None = None
        self.results: dict[str, list[tuple[str, Any]]] = {}
        self.closed = False
        self.exit_code = 0
        self._worker = Worker(root, self.report_exception)
        self._load: Job | None = None  # the data load in progress
        self._loads_pending = 0  # loads whose done callback is still to come (each favours the Tk thread)
        self._evidence: Job | None = None  # the out-of-fold evidence being computed
        self.evidence_state = ""  # what that job is doing, or why it gave nothing
        self.runs: list = []  # the training runs of this session (landscape_runs.Run), oldest first

        self._install_callback_handler()
        root.bind("<Destroy>", self._on_destroy, add="+")
        root.title(f"bcdesktop {__version__} \u2014 breast tumour malignancy (research use only)")
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._set_icon()
        widgets.setup_styles(root, self.settings.get("text_scale", 1.0))
        self._restore_geometry()

        self._build_menu()
        self.status = StatusBar(root)
        self.status.pack(side="bottom", fill="x")
        self.intro = self._build_intro()
        self.notebook = ttk.Notebook(root)
        self.notebook.pack(side="top", fill="both", expand=True, padx=4, pady=(4, 0))
        self.notebook.enable_traversal()  # Ctrl+Tab / Ctrl+Shift+Tab
        self.tabs: dict[str, ttk.Frame] = {}
        self._build_tabs()
        self._load_view: LoadView = self.tabs["data"]  # the Data tab shows the loads
        dpi_factor = root.winfo_fpixels("1i") / 96
        if dpi_factor > 1.2:  # gaps written in pixels: keep the 100% proportions on a high-dpi display
            widgets.scale_spacing(root, dpi_factor)
        widgets.follow_text_size(root)
        self._bind_keys()
        self.update_status()
        if self.settings.notice:
            self.set_status_message(self.settings.notice)
        log.info("bcdesktop %s window opened", __version__)

    def _install_callback_handler(self) -> None:
        """Report exceptions in Tk callbacks (:meth:`report_exception`): tkinter asks the
        Tk root for ``report_callback_exception``, whichever window the callback was of.
        The handler before this app's comes back when the window goes (:meth:`_on_destroy`)."""
        tk_root = self.root._root()
        self._handler_before = vars(tk_root).get("report_callback_exception")
        tk_root.report_callback_exception = self._on_callback_exception
        self._handler = vars(tk_root).get("report_callback_exception")  # as stored (it may be wrapped)

    def _build_intro(self) -> ttk.Frame | None:
        """What the app is for, and what to do first: shown above the tabs until the user
        says "Got it" (remembered in the settings), so a new user reads it before anything."""
        if self.settings.get("intro_seen"):
            return None
        style = ttk.Style(self.root)
        style.configure("Intro.TFrame", background=INTRO_BACKGROUND, relief="solid", borderwidth=1)
        style.configure("Intro.TLabel", background=INTRO_BACKGROUND)
        box = ttk.Frame(self.root, padding=(10, 6), style="Intro.TFrame")
        box.pack(side="top", fill="x", padx=4, pady=(4, 0))
        box.columnconfigure(0, weight=1)
        text = ttk.Label(box, style="Intro.TLabel", text=(
            f"{DISCLAIMER} bcdesktop estimates how likely a breast tumour is malignant from nine "
            "cytology scores, for research and teaching.\n"
            "Start here: the bundled Wisconsin data and a trained model are already loaded. Open the "
            "Patient tab to try one case, the Threshold tab to see what a threshold costs, or the Train "
            "tab to train and judge your own model."))
        widgets.wrap_to_width(text, 40).grid(row=0, column=0, rowspan=2, sticky="ew")
        ttk.Button(box, text="Intended use\u2026", command=self.show_intended_use).grid(
            row=0, column=1, sticky="e", padx=(8, 0))
        self.intro_button = ttk.Button(box, text="Got it", command=self.dismiss_intro)
        self.intro_button.grid(row=1, column=1, sticky="e", padx=(8, 0), pady=(4, 0))
        self.intro_label = text
        return box

    def dismiss_intro(self) -> None:
        """Hide the first-screen note for good (until the settings are reset)."""
        if self.intro is not None:
            self.intro.destroy()
            self.intro = None
        self.settings.set("intro_seen", True)

    def _set_icon(self) -> None:
        """The window and taskbar icon (assets/bcdesktop-*.png); a missing file only logs.
        The main window's icon is every later window's too; a Toplevel's is its own."""
        try:
            self._icons = [tk.PhotoImage(master=self.root, file=str(resources.icon_path(n)))
                           for n in (16, 32, 64, 128)]
            self.root.iconphoto(isinstance(self.root, tk.Tk), *self._icons)
        except (tk.TclError, OSError) as exc:
            log.warning("window icon not set: %s", exc)

    def __repr__(self) -> str:
        data = Path(self.dataset.path).name if self.dataset is not None and self.dataset.path else None
        model = getattr(self.model, "model_id", None)
        return f"App(data={data!r}, model={model!r}, threshold={widgets.format_threshold(self.threshold)})"

    # ----------------------------------------------------------------- building
    def _build_tabs(self) -> None:
        # Each tab on a page that scrolls when the window cannot show all of it (large
        # text, a small screen); the notebook still takes the tab for its page.
        widgets.page_aliases(self.notebook)
        self.pages: dict[str, widgets.ScrolledPage] = {}
        for key, title, underline, tab_class in TABS:
            page = widgets.ScrolledPage(self.notebook)
            self.notebook.add(page, text=title, underline=underline, padding=6)
            tab = page.set_content(tab_class(page.body, self))
            self.tabs[key] = tab
            self.pages[key] = page

    def _build_menu(self) -> None:
        menubar = tk.Menu(self.root)
        file_menu = tk.Menu(menubar, tearoff=False)
        file_menu.add_command(label="Open data\u2026", underline=0, accelerator=f"{MOD_LABEL}+O", command=self.open_data)
        file_menu.add_command(label="Open bundled data", underline=5, command=self.open_bundled_data)
        file_menu.add_command(label="Open model\u2026", underline=5, accelerator=f"{MOD_LABEL}+M", command=self.open_model)
        file_menu.add_command(label="Save model\u2026", underline=0, accelerator=f"{MOD_LABEL}+S", command=self.save_model)
        file_menu.add_command(label="Export results\u2026", underline=0, accelerator=f"{MOD_LABEL}+E",
                              command=self.export_results)
        file_menu.add_command(label="Export model card\u2026", underline=7, command=self.export_model_card)
        file_menu.add_separator()
        file_menu.add_command(label="History (audit trail)", underline=0, command=lambda: self.select_tab("history"))
        self.audit_var = tk.BooleanVar(self.root, value=self.audit.enabled)
        file_menu.add_checkbutton(label="Record audit trail", underline=7, variable=self.audit_var,
                                  command=lambda: self.set_audit_enabled(self.audit_var.get()))
        file_menu.add_separator()
        file_menu.add_command(label="Quit", underline=0, accelerator=f"{MOD_LABEL}+Q", command=self.close)
        menubar.add_cascade(label="File", menu=file_menu, underline=0)

        view_menu = tk.Menu(menubar, tearoff=False)
        scale = widgets.text_scale(self.root)
        view_menu.add_command(label="Larger text", accelerator=f"{MOD_LABEL}++", command=lambda: self.change_text_scale(1.15),
                              state="normal" if scale < widgets.TEXT_SIZES[-1] else "disabled")
        view_menu.add_command(label="Smaller text", accelerator=f"{MOD_LABEL}+-",
                              command=lambda: self.change_text_scale(1 / 1.15),
                              state="normal" if scale > widgets.TEXT_SIZES[0] else "disabled")
        view_menu.add_command(label="Normal text size", accelerator=f"{MOD_LABEL}+0",
                              command=lambda: self.change_text_scale(None))
        self.text_size_var = tk.DoubleVar(self.root, scale)
        for size in widgets.TEXT_SIZES:  # where the steps lead, and which one is in use
            view_menu.add_radiobutton(label=f"Text size {size:.0%}", variable=self.text_size_var, value=size,
                                      command=lambda s=size: self.change_text_scale(s / widgets.text_scale(self.root)))
        view_menu.add_separator()
        view_menu.add_command(label="Stop current work", accelerator="Esc", command=self.stop_work)
        menubar.add_cascade(label="View", menu=view_menu, underline=0)

        help_menu = tk.Menu(menubar, tearoff=False)
        help_menu.add_command(label="Intended use", underline=0, command=self.show_intended_use)
        help_menu.add_command(label="Data source and licence", underline=0, command=self.show_data_source)
        help_menu.add_command(label="About bcdesktop", underline=0, command=self.show_about)
        menubar.add_cascade(label="Help", menu=help_menu, underline=0)
        self.root.configure(menu=menubar)
        self.menus = {"file": file_menu, "view": view_menu, "help": help_menu}

    def _bind_keys(self) -> None:
        root = self.root
        for keys, command in ((("o", "O"), self.open_data), (("m", "M"), self.open_model),
                              (("s", "S"), self.save_model), (("e", "E"), self.export_results),
                              (("q", "Q"), self.close)):
            for key in keys:
                root.bind(f"<{MOD}-{key}>", lambda _e, c=command: (c(), "break")[1])
        for seq in (f"<{MOD}-plus>", f"<{MOD}-equal>", f"<{MOD}-KP_Add>"):
            root.bind(seq, lambda _e: self.change_text_scale(1.15))
        for seq in (f"<{MOD}-minus>", f"<{MOD}-KP_Subtract>"):
            root.bind(seq, lambda _e: self.change_text_scale(1 / 1.15))
        root.bind(f"<{MOD}-Key-0>", lambda _e: self.change_text_scale(None))
        root.bind("<Escape>", lambda _e: self.stop_work())
        for seq in ("<Return>", "<KP_Enter>"):  # Enter presses the focused button, as Space does
            root.bind_class("TButton", seq, _press_focused_button)
        for i, key in enumerate(TAB_ORDER, start=1):
            root.bind(f"<Alt-Key-{i}>", lambda _e, k=key: self.select_tab(k))

    def _restore_geometry(self) -> None:
        """The remembered window size, else 1180x800 at 100% scaling (larger on a
        high-dpi display), never more than the screen."""
        scale = max(1.0, self.root.winfo_fpixels("1i") / 96)
        width, height = round(1180 * scale), round(800 * scale)
        sw, sh = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        geometry = self.settings.get("geometry")
        if isinstance(geometry, str):
            try:
                w, h = (int(v) for v in geometry.split("+")[0].split("x"))
                if 400 <= w <= sw and 300 <= h <= sh:
                    width, height = w, h
            except ValueError:
                pass
        # Room for a taskbar (40 pixels) and for the menu bar above the window's contents,
        # which grows with the text size (the menu is built after this).
        menu = tkfont.nametofont("TkMenuFont", root=self.root).metrics("linespace") + 13  # X11's menu bar
        self.root.geometry(f"{min(width, sw)}x{min(height, sh - 40 - menu)}")
        self.root.minsize(min(round(760 * scale), sw), min(round(520 * scale), sh - 40 - menu))

    # ----------------------------------------------------------------- shared state
    def set_dataset(self, dataset: Dataset | None) -> None:
        """Make ``dataset`` the current data and fire ``<<DataChanged>>``."""
        self.dataset = dataset
        self.update_status()
        if (dataset is not None and getattr(dataset, "path", None)
                and not resources.is_bundled_data(dataset.path)):  # not a folder inside the install
            self.remember_folder("data", Path(dataset.path).parent)
        self.root.event_generate("<<DataChanged>>")

    def set_model(self, bundle: ModelBundle | None, *, source: str = "") -> None:
        """Make ``bundle`` the active model; its threshold becomes the current one.

        Fires ``<<ModelChanged>>`` and then ``<<ThresholdChanged>>`` (if it changed).
        """
        previous = self.model
        self.model = bundle
        self.model_source = source
        self.model_origin = self._origin_of(bundle, source)
        self.update_status()
        if bundle is not None and (previous is None or previous.model_id != bundle.model_id):
            self._record_model(bundle, source)
        self.root.event_generate("<<ModelChanged>>")
        if bundle is not None and getattr(bundle, "threshold", None) is not None:
            self.set_threshold(float(bundle.threshold), chosen_by=getattr(bundle, "threshold_chosen_by", None),
                               _from_model=True)

    MAX_RUNS = 20  # the session's runs kept for comparing (about 1.3 MB each)

    def add_run(self, run) -> None:
        """Keep a finished training run for the session (``runs``, the latest
        :attr:`MAX_RUNS`); fires ``<<RunsChanged>>``."""
        self.runs.append(run)
        del self.runs[:-self.MAX_RUNS]
        self.root.event_generate("<<RunsChanged>>")

    # ----------------------------------------------------------------- out-of-fold evidence
    def compute_evidence(self, bundle: ModelBundle | None = None, dataset: Dataset | None = None, *,
                         on_ready: Callable[[ModelBundle], None] | None = None) -> Job | None:
        """Cross-validate ``bundle``'s settings (default: the active model) on ``dataset``
        (default: the current data) in the background, and give the model its out-of-fold
        evidence: the Threshold tab's default evidence and the interval's calibration
        pairs (:func:`bcdesktop.outoffold.compute`).

        The model stays usable meanwhile. When the evidence is ready and ``bundle`` is
        still the active model, it becomes ``bundle`` with the evidence (a new model
        id; the current threshold kept) through :meth:`set_model`. Progress and the
        outcome are in :attr:`evidence_state`, announced by ``<<EvidenceChanged>>``.
        ``on_ready(new_bundle)`` is called with it too, active or not (the Train tab
        keeps its run's model up to date). A job still running is stopped first.
        Returns the job, or
        None when there is nothing to do (no model, no labelled data).
        """
        bundle = self.model if bundle is None else bundle
        dataset = self.dataset if dataset is None else dataset
        if bundle is None or dataset is None or getattr(dataset, "y", None) is None:
            self._set_evidence_state("" if bundle is None else
                                     "Out-of-fold evidence needs labelled data: load the model's training data.")
            return None
        model_data = getattr(bundle, "data_sha256", None)
        if model_data is not None and getattr(dataset, "sha256", None) != model_data:
            # the evidence is the calibration pairs of the model's interval: of its own rows only
            self._set_evidence_state(
                "Out-of-fold evidence is computed on the model's training data, and the data loaded "
                f"are another file (the model was trained on data with SHA-256 {model_data[:12]}\u2026). "
                "Load its training data first.")
            return None
        if self._evidence is not None:
            self._evidence.cancel()
        from bcdesktop import evaluation, outoffold
        from bcdesktop.training import TrainConfig

        config = TrainConfig.of_model(bundle.settings)
        total = evaluation.DEFAULT_FOLDS * evaluation.DEFAULT_REPEATS
        name = Path(dataset.path).name if getattr(dataset, "path", None) else "the data"

        def work(report, cancel):
            # one thread: a background job, it must leave a core to the window (on two
            # cores, two parts starved the Tk loop for 100-160 ms at a time)
            return outoffold.compute(dataset.X, dataset.y, config, progress=report, cancel=cancel,
                                     data_sha256=getattr(dataset, "sha256", None), threads=1)

        def on_progress(p) -> None:
            if self._evidence is job:
                self._set_evidence_state(f"Cross-validating the model's settings on {name} for its "
                                         f"out-of-fold evidence: fit {p.done} of {total}\u2026")

        def on_done(ok: bool, result) -> None:
            if self._evidence is not job:
                return
            self._evidence = None
            if not ok:
                self._set_evidence_state("Out-of-fold evidence: " + (
                    "stopped." if isinstance(result, Cancelled) else
                    f"failed: {result}" if isinstance(result, UserError) else
                    "failed with an internal error (details in the log)."))
                if not isinstance(result, (Cancelled, UserError)):
                    self.report_exception(result)
                return
            self._set_evidence_state("")
            ready = bundle.with_parts(oof=result)
            if on_ready is not None:
                on_ready(ready)
            if self.model is bundle:
                self.set_model(ready.with_threshold(self.threshold), source=self.model_source)
            self.set_status_message(f"Out-of-fold evidence ready: {result.describe()}.")

        job = self._evidence = self.run_in_thread(work, on_done, on_progress, name="evidence")
        self._set_evidence_state(f"Cross-validating the model's settings on {name} for its "
                                 "out-of-fold evidence\u2026")
        return job

    @property
    def evidence_running(self) -> bool:
        return self._evidence is not None

    def _set_evidence_state(self, text: str) -> None:
        self.evidence_state = text
        self.root.event_generate("<<EvidenceChanged>>")

    def set_threshold(self, threshold: float, chosen_by: str | None = None, *, _from_model: bool = False) -> None:
        """Set the malignancy threshold (0 < t < 1) and fire ``<<ThresholdChanged>>`` if it
        changed. ``chosen_by`` says how (a rule's words); None: set by hand. The change
        is recorded in the audit trail once the threshold has rested for
        :data:`THRESHOLD_SETTLE_MS` (a slider dragged across passes many values)."""
        threshold = float(threshold)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if not _from_model and chosen_by is None:
            chosen_by = BY_HAND
        if threshold == self.threshold:
            if _from_model or chosen_by != BY_HAND:
                self.threshold_chosen_by = chosen_by
            return
        before = self.threshold
        self.threshold = threshold
        self.threshold_chosen_by = chosen_by
        self.update_status()
        if not _from_model and self.model is not None:
            self._queue_threshold_entry(before, threshold, chosen_by)
        self.root.event_generate("<<ThresholdChanged>>")

    @property
    def threshold_note(self) -> str:
        """How the threshold in use was chosen, for the patient report."""
        if self.threshold_chosen_by:
            return self.threshold_chosen_by
        return ("the model's own threshold; how it was chosen is not recorded in the model file"
                if self.model is None or self.model.threshold == self.threshold
                else "set for this prediction")

    # ----------------------------------------------------------------- audit trail
    THRESHOLD_SETTLE_MS = 1500

    def audit_record(self, kind: str, *, done: Callable | None = None, **fields) -> None:
        """Record an entry in the audit trail off the Tk thread (in order with the rest);
        ``done(entry or None)`` runs on the Tk loop afterwards. A threshold change
        still settling is recorded first."""
        if kind != "threshold":
            self._flush_threshold_entry()
        self.audit.record(kind, done=done, **fields)

    def _queue_threshold_entry(self, before: float, after: float, chosen_by: str | None) -> None:
        start = before if self._threshold_entry is None else self._threshold_entry[0]
        self._threshold_entry = (start, after, chosen_by, self.model)
        if self._threshold_after is not None:
            self.root.after_cancel(self._threshold_after)
        self._threshold_after = self.root.after(self.THRESHOLD_SETTLE_MS, self._flush_threshold_entry)

    def _flush_threshold_entry(self) -> None:
        if self._threshold_after is not None:
            try:
                self.root.after_cancel(self._threshold_after)
            except tk.TclError:
                pass
            self._threshold_after = None
        pending, self._threshold_entry = self._threshold_entry, None
        if pending is None or pending[0] == pending[1]:
            return
        start, end, chosen_by, model = pending
        self.audit.record("threshold", model=model, inputs={"from": start, "chosen_by": chosen_by},
                          output={"threshold": end})

    def _origin_of(self, bundle, source: str) -> str:
        if bundle is None:
            return ""
        if source == "trained":   # trained in this window: recorded as made here
            self.audit.remember_model(bundle, "trained in the window")
            return "made on this installation"
        return self.audit_log.origin(bundle)

    def _record_model(self, bundle, source: str) -> None:
        action = ("trained" if source == "trained" else "made active" if source == "default"
                  else "loaded" if bundle.source_path is not None else source or "made active")
        path = getattr(bundle, "source_path", None)
        self.audit_record("model", model=bundle,
                          inputs={"action": action, "path": None if path is None else str(path),
                                  "settings": getattr(bundle, "settings", None) if source == "trained" else None},
                          output={"origin": self.model_origin, "threshold": bundle.threshold})

    def set_audit_enabled(self, enabled: bool) -> None:
        """File > Record audit trail: the setting ``audit`` (kept for later sessions)."""
        self.settings.set("audit", bool(enabled))
        self.settings.save()  # at once: a window killed later must not forget it
        self.audit.set_enabled(bool(enabled) and not self.no_audit)
        if enabled and self.no_audit:
            self.set_status_message("Recording stays off in this session (started with --no-audit).")
        self.audit_var.set(self.audit.enabled)
        self.update_status()

    def _on_audit_problem(self, text: str) -> None:
        self.update_status()
        self.set_status_message(text)

    def set_results(self, section: str, rows: Sequence[tuple[str, Any]] | None) -> None:
        """Publish results for File > Export results: ``rows`` of ``(name, value)``.

        A value may be a number, a string, or a ``Rate`` (exported with its 95% CI and
        k/n). ``None`` removes the section.
        """
        if rows is None:
            self.results.pop(section, None)
        else:
            self.results[section] = list(rows)

    # ----------------------------------------------------------------- status
    def update_status(self) -> None:
        ds = self.dataset
        if ds is None:
            self.status.set_field("data", "Data: none loaded")
        else:
            name = Path(ds.path).name if getattr(ds, "path", None) else "(unnamed)"
            self.status.set_field("data", f"Data: {name} ({ds.n_usable} usable of {ds.n_read})")
        if self.model is None:
            reason = self._no_model_reason or "none"
            self.status.set_field("model", f"Model: {reason} \u2014 train one in the Train tab")
        else:
            source = f" ({self.model_source})" if self.model_source else ""
            external = " · external model" if self.model_origin == "external model" else ""
            self.status.set_field("model", f"Model: {self.model.model_id}{external}{source}")  # the mark first: it stays when shortened
        self.status.set_field("threshold", f"Threshold: {widgets.format_threshold(self.threshold)}")
        if not self.audit.enabled:
            why = "--no-audit" if self.no_audit else "setting"
            self.status.set_field("audit", f"Audit: off ({why})")
        elif self.audit_log.problem:
            self.status.set_field("audit", "Audit: not recording")
        else:
            self.status.set_field("audit", "Audit: on")

    def set_status_message(self, text: str) -> None:
        """Show a short message at the right of the status bar (and log it)."""
        self.status.set_message(text)
        if text:
            log.info("status: %s", text)

    # ----------------------------------------------------------------- data
    def load_data(self, path: str | os.PathLike, *, done: Callable[[bool], None] | None = None) -> Job:
        """Read ``path`` in the background (File > Open data, the Data tab, start-up); on
        success it becomes :attr:`dataset`. A load replaces one still running.

        The Data tab shows it (:class:`~bcdesktop.gui.context.LoadView`): the progress
        bar, Cancel (and Escape), then what was read or why nothing was; a file that
        cannot be used keeps the current data. ``done(ok)`` is called afterwards, on
        the Tk loop."""
        if self._load is not None:
            self._load.cancel()
        path = Path(path)
        view = self._load_view

        def work(report, cancel):
            return load_csv(path, progress=report, cancel=cancel)

        def on_progress(progress) -> None:
            if self._load is job:
                view.load_progress(path, progress)

        def on_done(ok: bool, result) -> None:
            self._loads_pending -= 1
            favour_tk_thread(False)
            if self._load is not job:
                return  # a newer load replaced this one
            self._load = None
            view.load_ended(path)
            if ok:
                self.set_dataset(result)
                self.set_status_message(f"Loaded {path.name}.")
            else:
                self.report_job_failure(result, what=f"Loading {path.name}", inline=view.show_load_message,
                                        stopped=f"Loading {path.name} was stopped; the previous data are kept.",
                                        kept="The previous data are kept.")
            if done is not None:
                done(ok)

        job = self._load = self.run_in_thread(work, on_done, on_progress, name="load-data")
        favour_tk_thread(True)  # the window keeps its turns while the file is read
        self._loads_pending += 1
        view.load_started(path, job)
        return job

    def open_data(self) -> None:
        """File > Open data: the Data tab asks for a file, which is loaded in the background."""
        self.select_tab("data")
        self.tabs["data"].open_dialog()

    def open_bundled_data(self, *, done: Callable[[bool], None] | None = None) -> None:
        """File > Open bundled data: back to the Wisconsin data set shipped with the app."""
        self.select_tab("data")
        self.load_data(resources.bundled_data_path(), done=done)

    # ----------------------------------------------------------------- work and errors
    def run_in_thread(self, fn: Callable, done: Callable[[bool, Any], None],
                      progress: Callable[[Any], None] | None = None, *, name: str | None = None) -> Job:
        """Run ``fn(report, cancel)`` in a worker thread; see :class:`bcdesktop.gui.worker.Worker`.

        ``progress(msg)`` and ``done(ok, result_or_exc)`` run on the Tk loop. Escape
        (or View > Stop) sets ``cancel`` of every running job.
        """
        return self._worker.submit(fn, done, progress, name=name)

    @property
    def busy(self) -> bool:
        """True while background work is running."""
        return self._worker.busy

    def stop_work(self) -> None:
        """Ask all running background work to stop (Escape)."""
        if self._worker.cancel_all():
            self.set_status_message("Stopping\u2026")

    def report_exception(self, exc: BaseException) -> None:
        """Tell the user about ``exc``: a ``UserError`` by its message, anything else as an
        internal error pointing to the log file (which gets the traceback)."""
        if isinstance(exc, UserError):
            log.info("user error: %s", exc)
            self.dialogs.error("bcdesktop", str(exc))
        elif isinstance(exc, Cancelled):
            self.set_status_message("Stopped.")
        else:
            log.error("internal error", exc_info=(type(exc), exc, exc.__traceback__))
            for handler in logging.getLogger("bcdesktop").handlers:
                handler.flush()
            self.dialogs.error("Internal error",
                               "bcdesktop hit an internal error (a fault in the program, not in your data).\n\n"
                               f"The details are in the log file:\n{self.log_path or 'the terminal (no log folder)'}")
            self.set_status_message(f"Internal error \u2014 details in {self.log_path or 'the terminal'}")

    def report_job_failure(self, exc: BaseException, *, what: str, inline: Inline | None = None,
                           stopped: str = "", kept: str = "") -> None:
        """Tell the user why a background job gave no result: the one failure path of the
        jobs' done callbacks (reading data, training, cross-validation, batch scoring).

        ``what`` names the job as the status bar says it ("Loading big.csv",
        "Training"); ``inline(text, error)`` shows a sentence in the job's tab;
        ``stopped`` is the tab's sentence for a job the user stopped (by default
        "{what} was stopped."); ``kept`` says what stayed as it was, after a problem.

        - ``Cancelled`` (Escape, Stop, Cancel): ``stopped`` in the tab as a note and
          "{what} stopped." in the status bar; nothing to acknowledge.
        - ``UserError``: "{what} stopped with an error: {message} {kept}" in the tab,
          where it stays, "{what} failed." in the status bar, and the message in an
          error box (:meth:`report_exception`), since the user may be on another tab.
        - anything else: "{what} stopped with an internal error (details in the log).
          {kept}" in the tab, then :meth:`report_exception` (the traceback to the log,
          an error box, the status bar).
        """
        if isinstance(exc, Cancelled):
            if inline is not None:
                inline(stopped or f"{what} was stopped.", False)
            self.set_status_message(f"{what} stopped.")
            return
        if isinstance(exc, UserError):
            text = f"{what} stopped with an error: {exc}"
            self.set_status_message(f"{what} failed.")
        else:
            text = f"{what} stopped with an internal error (details in the log)."
        if inline is not None:
            inline(f"{text} {kept}" if kept else text, True)
        self.report_exception(exc)

    def _on_callback_exception(self, exc_type, exc, tb) -> None:
        if exc is None:
            exc = exc_type()
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        self.report_exception(exc)

    # ----------------------------------------------------------------- tabs, folders
    def select_tab(self, key: str) -> None:
        self.notebook.select(self.tabs[key])

    def open_case(self, scores, note: str = "") -> None:
        """Show a case (nine scores) in the Patient tab, predicted, with ``note`` saying
        where it comes from (e.g. "line 12, id 1017023: a false negative")."""
        self.select_tab("patient")
        self.tabs["patient"].show_case(tuple(int(v) for v in scores), note)

    def remember_folder(self, kind: str, folder: str | os.PathLike) -> None:
        """Remember the last folder used for ``kind`` ("data", "model", "batch", "results")."""
        folders = dict(self.settings.get("folders", {}))
        folders[kind] = str(folder)
        self.settings.set("folders", folders)

    def folder(self, kind: str) -> str | None:
        """The last folder used for ``kind``, if it still exists."""
        folder = self.settings.get("folders", {}).get(kind)
        return folder if folder and os.path.isdir(folder) else None

    # ----------------------------------------------------------------- models and results
    def open_model(self) -> None:
        """File > Open model: load a saved model and make it active."""
        path = self.dialogs.ask_open_file("Open model", MODEL_FILETYPES, self.folder("model"))
        if not path:
            return
        from bcdesktop.persistence import load_model
        try:
            bundle = load_model(path)
        except UserError as exc:
            self.report_exception(exc)
            return
        self.remember_folder("model", Path(path).parent)
        self.set_model(bundle, source=Path(path).name)
        self.set_status_message(f"Opened model {Path(path).name}.")

    def save_model(self, bundle: ModelBundle | None = None) -> None:
        """File > Save model: save ``bundle`` (default: the active model, with the current threshold)."""
        active = bundle is None
        if active:
            if self.model is None:
                self.report_exception(UserError("There is no model to save yet. Train one in the Train tab first."))
                return
            # the threshold is saved with the model, and how it was chosen
            bundle = self.model.with_threshold(self.threshold, self.threshold_chosen_by)
        path = self.dialogs.ask_save_file("Save model", MODEL_FILETYPES, self.folder("model"),
                                          f"model-{bundle.model_id}.npz", ".npz")
        if not path:
            return
        from bcdesktop.persistence import load_model, save_model
        try:
            save_model(bundle, path)  # refuses a file shipped with the app
            if active:  # the saved file is now the model in use: its id is the file's
                self.set_model(load_model(path), source=Path(path).name)
        except OSError as exc:
            self.report_exception(UserError(f"Could not save the model to {path}: {exc.strerror or exc}. "
                                            "Choose another folder."))
            return
        except UserError as exc:
            self.report_exception(exc)
            return
        self.remember_folder("model", Path(path).parent)
        saved = self.model if active else bundle
        self.audit_record("model", model=saved, inputs={"action": "saved", "path": str(Path(path).resolve())},
                          output={"origin": self.audit_log.origin(saved) if not active else self.model_origin,
                                  "threshold": saved.threshold})
        self.set_status_message(f"Saved model to {path}.")

    def export_results(self) -> None:
        """File > Export results: the active model's metrics and every tab's published
        results as CSV (by extension) or plain text, headed by the disclaimer."""
        path = self.dialogs.ask_save_file("Export results", RESULT_FILETYPES, self.folder("results"),
                                          "bcdesktop-results.csv", ".csv")
        if not path:
            return
        if resources.is_bundled_file(path):
            self.report_exception(UserError(f"{path} is a file shipped with bcdesktop and is left as it is. "
                                            "Export the results to another file."))
            return
        text = self.results_text(csv_format=Path(path).suffix.lower() == ".csv")
        keep = [self.dataset.path] if self.dataset is not None and self.dataset.path else []
        try:  # never over the data in use (a UserError names it)
            resources.atomic_write_bytes(path, text.encode("utf-8"), protect=keep)
        except UserError as exc:
            self.report_exception(exc)
            return
        except OSError as exc:
            self.report_exception(UserError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder."))
            return
        self.remember_folder("results", Path(path).parent)
        self.set_status_message(f"Exported results to {path}.")

    def export_model_card(self) -> None:
        """File > Export model card: the active model's card, Markdown or HTML by the
        name chosen (:mod:`bcdesktop.card`)."""
        if self.model is None:
            self.report_exception(UserError("There is no model to describe yet. Train or open one first."))
            return
        path = self.dialogs.ask_save_file("Export model card", CARD_FILETYPES, self.folder("results"),
                                          f"model-card-{self.model.model_id}.html", ".html")
        if not path:
            return
        from bcdesktop import card

        keep = [p for p in (getattr(self.model, "source_path", None),
                            self.dataset.path if self.dataset is not None else None) if p]
        try:
            origin = self.model_origin if self.model_origin in card.ORIGINS else None  # None: not known
            card.write_card(path, self.model, origin=origin, inputs=keep)
        except UserError as exc:
            self.report_exception(exc)
            return
        self.remember_folder("results", Path(path).parent)
        self.set_status_message(f"Exported the model card of {self.model.model_id} to {path}.")

    def result_sections(self) -> list[export.Section]:
        """What File > Export results writes: the context (version, time, data, model,
        threshold), the active model's figures on its held-out predictions, then every
        section the tabs published."""
        context = [("bcdesktop version", __version__),
                   ("exported (UTC)", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))]
        if self.dataset is not None:
            context += [("data file", str(self.dataset.path)), ("data sha256", self.dataset.sha256),
                        ("rows read", self.dataset.n_read), ("rows usable", self.dataset.n_usable)]
        if self.model is not None:
            context += [("model id", self.model.model_id), ("model source", self.model_source)]
        context.append(("threshold", round(self.threshold, 4)))
        sections: list[export.Section] = [("Context", context)]
        model = self.model
        probs = getattr(model, "eval_probs", None)
        labels = getattr(model, "eval_labels", None)
        if probs is not None and labels is not None and len(probs):
            from bcdesktop.metrics import metrics_at
            m = metrics_at(labels, probs, self.threshold)
            kind = getattr(model, "eval_kind", "") or "evaluation"
            sections.append((f"Active model on its {kind} predictions at threshold "
                             f"{widgets.format_threshold(self.threshold)}",
                             [("true positives", m.tp), ("false positives", m.fp), ("true negatives", m.tn),
                              ("false negatives", m.fn)] +
                             [(label, getattr(m, attr)) for attr, label in widgets.METRIC_ROWS]))
        sections.extend(self.results.items())
        return sections

    def results_text(self, csv_format: bool = True) -> str:
        """The export as a string (CSV with ``#`` comment lines, or aligned text)."""
        return export.results_text(self.result_sections(), csv_format)

    # ----------------------------------------------------------------- help
    def show_intended_use(self) -> None:
        self.dialogs.info("Intended use", INTENDED_USE + "\n\n" + DISCLAIMER)

    def show_about(self) -> None:
        import platform

        import numpy
        self.dialogs.info("About bcdesktop",
                          f"bcdesktop {__version__}\n\n{DISCLAIMER}\n\n"
                          "A small neural network that estimates the malignancy of breast tumours from nine "
                          "cytology scores.\n\n"
                          f"Python {platform.python_version()}, Tk {self.root.tk.call('info', 'patchlevel')}, "
                          f"NumPy {numpy.__version__}\nSettings and log: {self._user_folder_text()}")

    def _user_folder_text(self) -> str:
        try:
            return str(resources.user_dir())
        except OSError as exc:
            return f"none ({exc.strerror or exc}): settings are not saved, the log goes to the terminal"

    def show_data_source(self) -> None:
        readme = resources.resource_path("data", "README.md")
        try:
            from bcdesktop.gui.plaintext import markdown_to_text

            text = readme.read_text(encoding="utf-8")
            text = markdown_to_text(text.split("## default_model", 1)[0].replace("# Bundled data\n", ""))
            text += ("\n\nThe model in use when the app starts was trained on these rows with the default "
                     "settings; the Threshold tab shows how it did on the rows it did not see.")
        except (OSError, UnicodeDecodeError):
            text = ("Wisconsin Breast Cancer (Original) data set, Dr. William H. Wolberg, University of "
                    "Wisconsin Hospitals, via the UCI Machine Learning Repository; licence CC BY 4.0.")
        self.dialogs.info("Data source and licence", text)

    # ----------------------------------------------------------------- text size
    def change_text_scale(self, factor: float | None) -> None:
        """Step the text size (``widgets.TEXT_SIZES``, 100% to 200%) in the direction of
        ``factor``: above 1 larger, below 1 smaller, to the step nearest the current size
        times ``factor``; None: back to 100%. Fires ``<<TextScaleChanged>>``."""
        current = widgets.text_scale(self.root)
        scale = widgets.next_text_size(current, factor)
        widgets.set_text_scale(self.root, scale)
        self.settings.set("text_scale", scale)
        self.text_size_var.set(scale)
        view = self.menus["view"]
        view.entryconfigure("Larger text", state="normal" if scale < widgets.TEXT_SIZES[-1] else "disabled")
        view.entryconfigure("Smaller text", state="normal" if scale > widgets.TEXT_SIZES[0] else "disabled")
        end = {widgets.TEXT_SIZES[0]: " (the smallest)", widgets.TEXT_SIZES[-1]: " (the largest)"}
        stuck = factor is not None and scale == current
        self.set_status_message(f"Text size {scale:.0%}" + (end.get(scale, "") if stuck else ""))
        self.root.event_generate(widgets.TEXT_SCALE_EVENT)  # -> widgets.follow_text_size
        self._grow_to_fit()

    def _grow_to_fit(self) -> None:
        """Size the window for its tabs after the text size changed: larger (never beyond
        the screen, moved back onto it if need be) when a tab needs more room, and back
        towards the size the user had when less is needed; what still does not fit
        scrolls. A window the user resized meanwhile keeps that size as its own."""
        root = self.root
        root.update_idletasks()
        width, height = root.winfo_width(), root.winfo_height()
        auto = getattr(self, "_auto_size", None)  # (the size set here, the user's size before it)
        base = auto[1] if auto is not None and auto[0] == (width, height) else (width, height)
        shown = next((p for p in self.pages.values() if p.winfo_ismapped()), None)
        if shown is None:
            return
        # Every page has the size of the shown one: what each asks for beyond it.
        need_w = max(p.content.winfo_reqwidth() for p in self.pages.values()) - shown.winfo_width()
        need_h = max(p.content.winfo_reqheight() for p in self.pages.values()) - shown.winfo_height()
        # The screen less a taskbar (40 pixels) and what sits above the contents: the menu
        # bar (taller with larger text) and the window manager's title bar, if any.
        place = re.search(r"([+-]-?\d+)([+-]-?\d+)$", root.wm_geometry())
        left, top = (int(v.lstrip("+")) for v in place.groups()) if place else (0, 0)
        chrome = max(0, root.winfo_rooty() - top)
        screen_w, screen_h = root.winfo_screenwidth(), root.winfo_screenheight() - 40 - chrome
        target = (min(max(base[0], width + need_w), screen_w), min(max(base[1], height + need_h), screen_h))
        if target == (width, height):
            return
        off_screen = left + target[0] > screen_w or top + target[1] > screen_h
        root.geometry(f"{target[0]}x{target[1]}"
                      + (f"+{max(0, min(left, screen_w - target[0]))}+{max(0, min(top, screen_h - target[1]))}"
                         if off_screen else ""))
        self._auto_size = (target, base)

    # ----------------------------------------------------------------- start and close
    def start(self, data: str | os.PathLike | None = None, model: str | os.PathLike | None = None,
              on_ready: Callable[[], None] | None = None) -> None:
        """Load the start-up model (``model`` or the shipped default) and data (``data`` or
        the bundled file, in the background); then call ``on_ready`` on the Tk loop."""
        self._load_startup_model(model)

        def data_done(ok: bool) -> None:
            if not ok and data is not None and self.dataset is None:
                self.load_data(resources.bundled_data_path(), done=lambda _ok: finish())
            else:
                finish()

        def finish() -> None:
            self._warm_imports()
            if on_ready is not None:
                self.root.after_idle(on_ready)

        self.load_data(Path(data) if data is not None else resources.bundled_data_path(), done=data_done)

    def _warm_imports(self) -> None:
        """Import scikit-learn in the background once the window is up (2-3.5 s, scipy.stats
        alone 1.6 s), as matplotlib is: the first Start or Cross-validate then need not wait
        for it. Python's import lock makes a click meanwhile wait for the import, not
        repeat it; a failed import is only logged (the click that needs it says why)."""
        def warm() -> None:
            try:
                import sklearn.calibration  # noqa: F401  (the calibration curve)
                import sklearn.model_selection  # noqa: F401  (splits, cross-validation)
            except Exception:  # noqa: BLE001 - only a head start; never worth an error here
                log.warning("warming scikit-learn failed", exc_info=True)

        self._warm_thread = threading.Thread(target=warm, name="warm-sklearn", daemon=True)
        self._warm_thread.start()

    def wait_for_background(self, timeout: float = 30.0) -> None:
        """After the window closed: let background threads (the scikit-learn import, a
        picture still being drawn) finish before the interpreter shuts down. A thread
        inside an extension module's import or a C drawing call when Python finalises
        can abort the process ("terminate called without an active exception"), seen
        in 2-5 of 50 frozen self-tests."""
        deadline = time.monotonic() + timeout
        ours = [t for t in threading.enumerate()
                if t is getattr(self, "_warm_thread", None) or t.name.startswith("bcdesktop-")]
        for thread in ours:  # only the app's own: a library's pool thread may never end
            if thread is not threading.current_thread() and not isinstance(thread, threading._DummyThread):
                thread.join(max(0.0, deadline - time.monotonic()))

    def _load_startup_model(self, model) -> None:
        """The model asked for (falling back to the default after saying what is wrong),
        else the shipped default; without one the status bar says so."""
        from bcdesktop import persistence
        if model is not None:
            try:
                self.set_model(persistence.load_model(model), source=Path(model).name)
                return
            except UserError as exc:
                self.report_exception(exc)
        try:
            path = resources.default_model_path()
            if not path.exists():
                self._no_model_reason = f"no default model found ({path.name} is missing)"
                self.update_status()
                log.warning("default model missing: %s", path)
                return
            self.set_model(persistence.load_default_model(), source="default")
        except UserError as exc:
            self.report_exception(exc)

    def close(self) -> None:
        """Save settings, stop background work and destroy the window."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.root.winfo_exists() and self.root.state() == "normal":
                self.settings.set("geometry", self.root.winfo_geometry())
        except tk.TclError:
            pass
        for tab in self.tabs.values():
            remember = getattr(tab, "save_settings", None)
            if remember is not None:
                try:
                    remember()
                except Exception as exc:  # never lose the rest of the settings over one tab
                    log.warning("could not remember settings of %s: %s", tab, exc)
        self.settings.save()
        self._worker.shutdown()
        for tab in self.tabs.values():  # what is shown but still settling is recorded too
            flush = getattr(tab, "flush_audit", None)
            if flush is not None:
                try:
                    flush()
                except Exception as exc:  # never lose the rest over one tab
                    log.warning("could not record the audit entry of %s: %s", tab, exc)
        self._flush_threshold_entry()
        self.audit.close()  # what was asked for is written before the window goes
        log.info("window closed")
        try:
            self.root.destroy()
        except tk.TclError:
            pass

    def _on_destroy(self, event) -> None:
        """The window is going (closed, or destroyed by its owner): give back what the app
        holds beyond it, the Tk thread's favour of loads whose done callback never comes
        now and the callback-exception handler."""
        if event.widget is not self.root:
            return
        while self._loads_pending:
            self._loads_pending -= 1
            favour_tk_thread(False)
        tk_root = self.root._root()
        if vars(tk_root).get("report_callback_exception") is self._handler:
            if self._handler_before is None:
                del vars(tk_root)["report_callback_exception"]
            else:
                vars(tk_root)["report_callback_exception"] = self._handler_before


def _write_ready_file(path: str) -> None:
    Path(path).write_text(f"{time.time():.6f}\n", encoding="utf-8")


def run(data: str | None = None, model: str | None = None, *, self_test: bool = False,
        ready_file: str | None = None, no_audit: bool = False) -> int:
    """Open the main window and run until it is closed; returns the exit code.

    Parameters
    ----------
    data : path, optional
        CSV to load instead of the bundled data set.
    model : path, optional
        Model to use instead of the shipped default.
    self_test : bool
        Once ready, fill the Patient tab with a typical malignant example, predict, print
        one JSON line (``{"self_test": "ok", "probability": ..., "prediction": ...}``) to
        stdout, and close. Returns 0 on success, 1 otherwise.
    ready_file : path, optional
        When the window is shown, the start-up data and model are loaded and the loop is
        idle, write the time (``time.time()``) to this file.
    no_audit : bool
        Record nothing in the audit trail this session.
    """
    try:
        root = tk.Tk(className="bcdesktop")
    except tk.TclError as exc:
        print(f"bcdesktop: cannot open the window: {exc}. Is a display available?", file=sys.stderr)
        return 2
    app = App(root, no_audit=no_audit)

    def ready() -> None:
        if app.closed:
            return
        root.update_idletasks()
        if not root.winfo_ismapped():
            root.after(10, ready)
            return
        if ready_file:
            _write_ready_file(ready_file)
        if self_test:
            root.after(10, lambda: _self_test(app))

    def ready_then_freeze() -> None:
        import gc

        # start-up's objects out of later full collections: one took ~110 ms, in whichever
        # thread ran it, holding the lock the Tk thread needs (once a process, here in
        # run(), so apps made and closed in one process, as in the tests, freeze nothing)
        gc.freeze()
        ready()

    app.start(data, model, on_ready=ready_then_freeze)
    root.mainloop()
    app.wait_for_background()
    return app.exit_code


def _self_test(app: App) -> None:
    """Predict the typical malignant example through the Patient tab and print the result."""
    try:
        result = app.tabs["patient"].self_test()
        print(json.dumps({"self_test": "ok", **result}), flush=True)
        app.exit_code = 0
    except Exception as exc:  # report and fail, never hang
        log.error("self-test failed", exc_info=True)
        print(json.dumps({"self_test": "failed", "error": str(exc)}), flush=True)
        app.exit_code = 1
    app.close()
