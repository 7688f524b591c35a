"""The Train tab: settings, a live loss plot, the result, and cross-validation.

Training runs in a worker thread through :func:`bcdesktop.evaluation.fit_model`;
progress messages arrive on the Tk loop, where the loss lines grow (throttled
redraws) and the progress bar shows the iteration, the loss and the time left. The
finished model becomes active only when the user says so ("Use this model"). A run
that diverges explains itself and the active model stays as it was.

"Find a learning rate\u2026" runs the learning-rate range test
(:func:`bcdesktop.landscape.lr_find`) on the training rows the split would make, in
the background as training runs; its picture (:mod:`bcdesktop.gui.lr_find_view`) and
suggestion fill the results' third page, and "Use it" puts the rate into its field.
"""

from __future__ import annotations

import dataclasses
import math
import time
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Collection
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from bcdesktop import baselines
from bcdesktop.errors import TrainingDiverged, UserError
from bcdesktop.evaluation import DEFAULT_FOLDS, DEFAULT_REPEATS, DEFAULT_TRAIN_ROWS, DEFAULT_VAL_FRACTION
from bcdesktop.evaluation import SPLITS as CORE_SPLITS
from bcdesktop.gui import widgets
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import WARNING_MARK, Field, float_check, format_seconds, format_threshold, int_check
from bcdesktop.metrics import DEFAULT_THRESHOLD, THRESHOLD_MAX, THRESHOLD_MIN, format_percent, format_rate
from bcdesktop.model import HIDDEN_ACTIVATIONS, INITS, HiddenSizesError, parse_hidden
from bcdesktop.training import DEFAULT_L2, OPTIMIZERS, SCHEDULES, TrainConfig

if TYPE_CHECKING:
    from bcdesktop.baselines import Comparison
    from bcdesktop.data import Dataset
    from bcdesktop.evaluation import CVResult, FitOutcome

SPLITS = ("stratified random", "first N rows")  # the labels of evaluation.SPLITS, in its order
_CORE = TrainConfig()  # the core's defaults, which the CLI uses too
DEFAULTS = {"hidden": ", ".join(map(str, _CORE.hidden)), "lr": f"{_CORE.lr:g}", "iterations": str(_CORE.iterations),
            "optimizer": _CORE.optimizer, "schedule": _CORE.schedule, "init": _CORE.init, "l2": f"{_CORE.l2:g}",
            "patience": str(_CORE.patience), "seed": str(_CORE.seed), "split": SPLITS[0],
            "activation": _CORE.activation, "dropout": f"{_CORE.dropout:g}",
            "val_fraction": f"{DEFAULT_VAL_FRACTION:g}", "train_rows": str(DEFAULT_TRAIN_ROWS),
            "threshold": f"{DEFAULT_THRESHOLD:g}", "folds": str(DEFAULT_FOLDS), "repeats": str(DEFAULT_REPEATS)}
MAX_POINTS = 500  # loss-curve points per run (log_every is chosen to give about this many)
COMPARE_TEXT = "Compare with logistic regression and random forest"
#: The comparison table's columns: a metric of :data:`bcdesktop.baselines.COMPARE_METRICS`,
#: its heading, whether it is a rate (shown in percent) and its width at 100% text.
COMPARE_COLUMNS = (("accuracy", "Accuracy", True, 90), ("roc_auc", "AUC", False, 100), ("brier", "Brier", False, 100),
                   ("sensitivity", "Sensitivity", True, 90), ("specificity", "Specificity", True, 90))


def mean_sd_text(mean: float, sd: float, percent: bool) -> str:
    """A cross-validated figure as the tab shows it: ``"96.9% \u00b1 1.9"`` (a rate, the SD
    in percentage points) or ``"0.996 \u00b1 0.005"``; ``"n/a"`` when undefined."""
    if mean != mean:
        return "n/a"
    shown = format_percent(mean) if percent else f"{mean:.3f}"
    if sd != sd:  # a spread needs two fits with the figure defined
        return shown
    return f"{shown} \u00b1 {100 * sd:.1f}" if percent else f"{shown} \u00b1 {sd:.3f}"


def hidden_check(text: str) -> tuple[tuple[int, ...] | None, str | None]:
    """Hidden layer sizes (``"15"`` or ``"16, 8"``) by the core's rule and limits
    (:func:`bcdesktop.model.parse_hidden`), as a :class:`~bcdesktop.gui.widgets.Field`
    check: ``(sizes, None)`` or ``(None, what is wrong)``."""
    try:
        return parse_hidden(text), None
    except HiddenSizesError as exc:
        return None, exc.phrase


def dropout_check(text: str) -> tuple[float | None, str | None]:
    """The fraction of hidden units dropped while training, ``0 <= p < 1`` as
    :class:`~bcdesktop.training.TrainConfig` takes it, as a Field check."""
    value, message = float_check(0.0, 1.0, "a dropout fraction (0 = off)")(text)
    if message is None and value == 1.0:
        return None, "must be in [0, 1)"
    return value, (message.replace("1]", "1)") if message else None)


def _choice(values: tuple[str, ...]) -> Callable[[str], tuple[str | None, str | None]]:
    def check(text: str) -> tuple[str | None, str | None]:
        return (text, None) if text in values else (None, f"choose one of {', '.join(values)}")
    return check


class TrainTab(ttk.Frame):
    """Built as ``TrainTab(notebook, app)``.

    Widgets tests read: ``fields`` (name -> :class:`~bcdesktop.gui.widgets.Field`),
    ``start_button``, ``cancel_button``, ``cv_button``, ``use_button``, ``save_button``,
    ``progress``, ``progress_label``, ``run_message``, ``result_label``,
    ``train_confusion``, ``val_confusion``, ``cv_table``, ``cv_label``, ``log_var``,
    ``compare_var`` and ``compare_check`` (cross-validate the baselines too),
    ``compare_table`` and ``compare_label`` (shown after a cross-validation with them);
    ``loss_plot`` (a :class:`~bcdesktop.gui.plots.LossPlot`) once a run has started;
    the learning-rate range test's ``lr_find_button``, ``lr_page``, ``lr_label``,
    ``lr_rows_label``, ``use_lr_button`` and ``lr_picture`` (an
    :class:`~bcdesktop.gui.plots.OffscreenPicture`, after the first test), whose last
    :class:`~bcdesktop.landscape.LRFind` is ``lr_result``.
    ``outcome`` is the last finished :class:`~bcdesktop.evaluation.FitOutcome`;
    ``cv_result`` the network's last :class:`~bcdesktop.evaluation.CVResult`, and
    ``comparison`` its :class:`~bcdesktop.baselines.Comparison` when the baselines ran too.
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=8)
        self.app = app
        self.job = None
        self.outcome: FitOutcome | None = None
        self.cv_result: CVResult | None = None
        self.comparison: Comparison | None = None
        self.loss_plot = None
        self._started = 0.0
        self._runs = {"train": 0, "cv": 0}  # numbered in the export: "Training run 3 (model ...)"
        self._run_settings = self._cv_settings = None
        self._settings_message = False  # run_message says what to fix in the settings

        self.rowconfigure(0, weight=1)
        left = ttk.Frame(self)
        right = ttk.Frame(self)
        # Settings beside the plot and results, or above them when the window is too narrow.
        self.layout = widgets.Reflow(self, left, right, gap=10, weights=(0, 1))
        self._build_settings(left)
        self._build_results(right)  # packed at the bottom first, so the plot gets what is left
        self._build_plot(right)
        self.results.lift()  # Tab reaches the plot's controls before the results below it
        self._restore_settings()
        self._update_buttons()
        app.root.bind("<<DataChanged>>", lambda _e: self._update_buttons(), add="+")

    # ----------------------------------------------------------------- layout
    def _build_settings(self, parent) -> None:
        box = ttk.LabelFrame(parent, text="Training settings", padding=8)
        box.pack(side="top", fill="x")
        box.columnconfigure(2, minsize=widgets.chars_width(self, 15))
        f = self.fields = {}
        rows = [
            ("hidden", "Hidden units", hidden_check, {"hint": "e.g. 15 or 16, 8"}),
            ("lr", "Learning rate", float_check(0.0, math.inf, "a learning rate", low_open=True), {}),
            ("iterations", "Iterations", int_check(1, 200_000, "the number of iterations"), {}),
            ("optimizer", "Optimizer", _choice(OPTIMIZERS), {"values": OPTIMIZERS}),
            ("schedule", "Learning-rate schedule", _choice(SCHEDULES), {"values": SCHEDULES}),
            ("init", "Initialisation", _choice(INITS), {"values": INITS}),
            ("activation", "Hidden activation", _choice(HIDDEN_ACTIVATIONS), {"values": HIDDEN_ACTIVATIONS}),
            ("dropout", "Dropout", dropout_check, {"hint": "0 = off"}),
            ("l2", "L2 penalty", float_check(0.0, 10.0, "an L2 penalty (0 = none)"), {}),
            ("patience", "Early-stopping patience", int_check(0, 200_000, "a patience"), {"hint": "0 = off"}),
            ("seed", "Seed", int_check(0, 2**31 - 1, "a seed"), {}),
            ("split", "Validation split", _choice(SPLITS), {"values": SPLITS, "width": 15}),
            ("val_fraction", "Validation fraction", float_check(0.0, 0.9, "a fraction", low_open=True), {}),
            ("train_rows", "Training rows (first N)", int_check(1, 10_000_000, "a number of rows"), {}),
            ("threshold", "Threshold", float_check(THRESHOLD_MIN, THRESHOLD_MAX, "a threshold"),
             {"hint": f"{THRESHOLD_MIN:g} to {THRESHOLD_MAX:g}"}),
        ]
        for row, (key, label, check, options) in enumerate(rows):
            options.setdefault("width", 14 if "values" in options else 10)
            f[key] = Field(box, row, label, check, DEFAULTS[key], **options)
        f["split"].var.trace_add("write", lambda *_: (self._update_split_fields(), self._recheck_settings()))
        self._l2_optimizer = DEFAULTS["optimizer"]  # the optimizer whose default L2 the field may hold
        f["optimizer"].var.trace_add("write", lambda *_: self._follow_l2_default())
        self._follow_l2_default()

        buttons = ttk.Frame(parent)
        buttons.pack(side="top", fill="x", pady=(6, 0))
        self.start_button = ttk.Button(buttons, text="Start training", command=self.start, style="Primary.TButton")
        self.start_button.pack(side="left")
        self.cancel_button = ttk.Button(buttons, text="Stop (Esc)", command=self.cancel)
        self.cancel_button.pack(side="left", padx=(6, 0))
        # the range test, on the rows training would use, with these settings (its result
        # is the results' third page)
        self.lr_find_button = ttk.Button(buttons, text="Find a learning rate\u2026", command=self.find_lr)
        self.lr_find_button.pack(side="left", padx=(6, 0))

        # One line, folds, repeats and the button, so the column fits a small screen at 100%;
        # below the button, whether the plain baselines run on the same folds too.
        cv = ttk.LabelFrame(parent, text="Cross-validation (same settings)", padding=8)
        cv.pack(side="top", fill="x", pady=(8, 0))
        line = ttk.Frame(cv)
        line.pack(side="top", fill="x")
        for key, label, check in (("folds", "Folds", int_check(2, 20, "the number of folds")),
                                  ("repeats", "Repeats", int_check(1, 20, "the number of repeats"))):
            cell = ttk.Frame(line)
            cell.pack(side="left", anchor="n", padx=(0, 4))
            f[key] = Field(cell, 0, label, check, DEFAULTS[key], width=4)
        self.cv_button = ttk.Button(line, text="Cross-validate", command=self.cross_validate)
        self.cv_button.pack(side="left", anchor="n")
        self.compare_var = tk.BooleanVar(self, value=False)
        self.compare_check = ttk.Checkbutton(cv, text=COMPARE_TEXT, variable=self.compare_var)
        self.compare_check.pack(side="top", anchor="w", pady=(4, 0))
        for field in f.values():  # a message saying what to fix goes once nothing needs fixing
            field.var.trace_add("write", lambda *_: self._recheck_settings())
        widgets.wrap_to_width(ttk.Label(
            parent, style="Small.TLabel",
            text="Validation rows never fit the network; they show how it does on cases it has not "
                 "seen. With early stopping, a further fifth of the training rows decides when to "
                 "stop. The threshold turns probabilities into calls and is saved with the model.")
        ).pack(side="top", fill="x", pady=(8, 0))

    def _build_plot(self, parent) -> None:
        self.plot_frame = ttk.LabelFrame(parent, text="Loss while training", padding=4)
        options = ttk.Frame(self.plot_frame)
        options.pack(side="top", fill="x")
        self.log_var = tk.BooleanVar(self, value=False)
        self.log_check = ttk.Checkbutton(options, text="Logarithmic loss axis", variable=self.log_var,
                                         command=self._on_log_toggle)
        self.log_check.pack(side="left")
        self.plot_note = ttk.Label(options, text="solid: training loss \u00b7 dashed: validation loss",
                                   style="Small.TLabel")
        self.plot_note.pack(side="left", padx=(12, 0))
        self.plot_area = ttk.Frame(self.plot_frame)
        self.plot_area.pack(side="top", fill="both", expand=True)

        bar = ttk.Frame(parent)
        bar.pack(side="bottom", fill="x", pady=(6, 0))
        self.progress = ttk.Progressbar(bar, mode="determinate", maximum=1.0)
        self.progress.pack(side="top", fill="x")
        self.progress_label = ttk.Label(bar, text="Ready.", style="Muted.TLabel")
        self.progress_label.pack(side="top", anchor="w")
        self.run_message = ttk.Label(bar, text="", style="Error.TLabel")
        self.run_message.pack(side="top", anchor="w", fill="x")
        widgets.wrap_to_width(self.run_message, 36)
        self.plot_frame.pack(side="top", fill="both", expand=True)
        # The plot is built when the tab is first shown (matplotlib imported in the
        # background if need be), so Start reacts at once.
        self.plot_area.bind("<Map>", lambda _e: self._prepare_plot(), add="+")

    def _build_results(self, parent) -> None:
        self.results = ttk.Notebook(parent)
        self.results.pack(side="bottom", fill="x", pady=(6, 0))
        box = ttk.Frame(self.results, padding=8)
        self.results.add(box, text="Result of the last run")
        self.result_label = ttk.Label(box, text="No run yet.")
        self.result_label.grid(row=0, column=0, columnspan=2, sticky="ew")
        widgets.wrap_to_width(self.result_label, 36)
        self.train_confusion = widgets.ConfusionGrid(box, "Training rows")
        self.train_confusion.grid(row=1, column=0, sticky="w", pady=(6, 0))
        # in line with the training grid, whose row labels it shares (room for both at 130% text)
        self.val_confusion = widgets.ConfusionGrid(box, "Validation rows", row_labels=False)
        self.val_confusion.grid(row=1, column=1, sticky="w", padx=(16, 0), pady=(6, 0))
        actions = ttk.Frame(box)
        actions.grid(row=2, column=0, columnspan=2, sticky="w", pady=(8, 0))
        self.use_button = ttk.Button(actions, text="Use this model", command=self.use_model)
        self.use_button.pack(side="left")
        self.save_button = ttk.Button(actions, text="Save model\u2026", command=self.save_model)
        self.save_button.pack(side="left", padx=(6, 0))
        box.columnconfigure(1, weight=1)

        cv = ttk.Frame(self.results, padding=8)
        self.results.add(cv, text="Cross-validation")
        self.cv_label = ttk.Label(cv, text="Not run yet. Identical score vectors are kept in one fold, so no "
                                           "case is tested on a copy of itself.", style="Small.TLabel")
        self.cv_label.pack(side="top", anchor="w", fill="x")
        widgets.wrap_to_width(self.cv_label, 36)
        self.cv_table = widgets.ScrolledTree(cv, (("metric", "Metric", 110, "w"),
                                                  ("mean", "Mean \u00b1 SD over fits", 170, "e"),
                                                  ("pooled", "Pooled out-of-fold, 95% CI", 210, "e")), height=5)
        self.cv_table.pack(side="top", fill="both", expand=True, pady=(4, 0))
        self._build_lr_find(self.results)
        # the network beside the baselines on the same folds; packed only after such a run
        self.compare_label = ttk.Label(cv, text="", style="Small.TLabel")
        widgets.wrap_to_width(self.compare_label, 36)
        self.compare_table = widgets.ScrolledTree(
            cv, (("model", "Model", 132, "w"), *((key, heading, width, "e") for key, heading, _p, width in COMPARE_COLUMNS)),
            height=len(baselines.MODELS), stretch=0)

    def _build_lr_find(self, notebook) -> None:
        """The range test's page: its sentence, "Use it", the rows it ran on, its picture."""
        page = self.lr_page = ttk.Frame(notebook, padding=8)
        notebook.add(page, text="Learning-rate range test")
        line = ttk.Frame(page)
        line.pack(side="top", fill="x")
        self.use_lr_button = ttk.Button(line, text="Use it", command=self.use_suggested_lr)
        self.use_lr_button.pack(side="right", anchor="n", padx=(8, 0))
        self.lr_label = ttk.Label(line, text="Not run yet. \u201cFind a learning rate\u2026\u201d raises the rate "
                                             "at every step from the network's first weights and watches the loss.")
        self.lr_label.pack(side="left", fill="x", expand=True)
        widgets.wrap_to_width(self.lr_label, 30)
        self.lr_rows_label = ttk.Label(page, text="", style="Small.TLabel")
        self.lr_rows_label.pack(side="top", anchor="w", fill="x")
        widgets.wrap_to_width(self.lr_rows_label, 36)
        self.lr_picture_frame = ttk.Frame(page)
        self.lr_picture_frame.pack(side="top", fill="both", expand=True, pady=(4, 0))
        self.lr_picture = None  # an OffscreenPicture, made with the first result
        self.lr_result = None  # the last LRFind

    def _prepare_plot(self) -> None:
        if self.loss_plot is None:
            from bcdesktop.gui.plots import when_matplotlib_loaded
            when_matplotlib_loaded(self.app, lambda: self._root().after_idle(
                lambda: self.winfo_exists() and self.ensure_plot()))

    def ensure_plot(self) -> None:
        """Build the loss plot and its toolbar (once; matplotlib loads on first use)."""
        if self.loss_plot is not None:
            return
        from bcdesktop.gui.plots import EmbeddedFigure, LossPlot

        embedded = EmbeddedFigure(self.plot_area, figsize=(6.0, 3.2), toolbar=True, layout=None)
        self.loss_plot = LossPlot(embedded)
        self._follow_text_size()
        self.app.root.bind(widgets.TEXT_SCALE_EVENT, lambda _e: self._follow_text_size(), add="+")
        if self.log_var.get():
            self.loss_plot.set_log_scale(True)

    def _follow_text_size(self) -> None:
        """The plot's text follows the text size; it asks for a modest room (it takes
        what the column gives it), so a large text size makes it smaller, not the page wider."""
        self.loss_plot.set_text_scale(widgets.text_scale(self.app.root))
        linespace = tkfont.nametofont("TkDefaultFont", root=self).metrics("linespace")
        toolbar = self.loss_plot.embedded.toolbar
        width = max(widgets.chars_width(self, 40), toolbar.winfo_reqwidth() if toolbar is not None else 0)
        self.plot_area.pack_propagate(False)  # matplotlib's canvas asks for its last size: ask for this instead
        self.plot_area.configure(width=width, height=12 * linespace)

    # ----------------------------------------------------------------- settings
    def _update_split_fields(self) -> None:
        stratified = self.fields["split"].var.get() == SPLITS[0]
        self.fields["val_fraction"].set_state(stratified)
        self.fields["train_rows"].set_state(not stratified)

    def _follow_l2_default(self) -> None:
        """The L2 field follows the optimizer's default (:data:`~bcdesktop.training.DEFAULT_L2`)
        while it holds the previous optimizer's default; a value the user typed stays."""
        optimizer = self.fields["optimizer"].var.get()
        if optimizer not in DEFAULT_L2:
            return
        l2 = self.fields["l2"]
        if l2.check(l2.var.get())[0] == DEFAULT_L2[self._l2_optimizer]:
            l2.set(f"{DEFAULT_L2[optimizer]:g}")
        self._l2_optimizer = optimizer
        l2.hint = f"{optimizer} default: {DEFAULT_L2[optimizer]:g}"
        l2.validate()

    def _restore_settings(self) -> None:
        saved = self.app.settings.get("train", {})
        if isinstance(saved, dict):
            for key, field in self.fields.items():
                value = saved.get(key)
                if isinstance(value, str) and field.check(value)[1] is None:
                    field.set(value)
            if saved.get("compare") in ("0", "1"):
                self.compare_var.set(saved["compare"] == "1")
        self._update_split_fields()

    def save_settings(self) -> None:
        """Remember the settings as typed, and the comparison check box (called when the
        window closes and on Start or Cross-validate)."""
        self.app.settings.set("train", {**{key: field.var.get() for key, field in self.fields.items()},
                                        "compare": "1" if self.compare_var.get() else "0"})

    def check_settings(self, keys: Collection[str] | None = None
                       ) -> tuple[TrainConfig | None, dict[str, Any], list[Field], str | None]:
        """``(config, values, bad_fields, message)`` from the fields, showing nothing:
        ``config`` is None when a field is invalid (``bad_fields``) or the settings do
        not go together (``message``, from :class:`~bcdesktop.training.TrainConfig`)."""
        values, bad = {}, []
        for key, field in self.fields.items():
            if keys is not None and key not in keys:
                continue
            if key == "val_fraction" and self.fields["split"].var.get() != SPLITS[0]:
                continue
            if key == "train_rows" and self.fields["split"].var.get() == SPLITS[0]:
                continue
            value, message = field.check(field.var.get())
            if message:
                bad.append(field)
            values[key] = value
        if bad:
            return None, values, bad, "Fix the settings marked in red first."
        iterations = values["iterations"]
        try:
            config = TrainConfig(hidden=values["hidden"], init=values["init"], optimizer=values["optimizer"],
                                 lr=values["lr"], iterations=iterations, schedule=values["schedule"],
                                 l2=values["l2"], patience=values["patience"], seed=values["seed"],
                                 activation=values["activation"], dropout=values["dropout"],
                                 log_every=max(1, iterations // MAX_POINTS))
        except UserError as exc:
            return None, values, [], str(exc)
        return config, values, [], None

    def read_config(self, keys: Collection[str] | None = None) -> tuple[TrainConfig, dict[str, Any]] | None:
        """``(TrainConfig, options)`` from the fields, or None after showing what to fix.

        Every invalid field shows its message; the first one gets the focus. The
        message below the plot stays until every setting is valid again."""
        config, values, bad, message = self.check_settings(keys)
        for field in bad:
            field.validate()
        if config is None:
            self.run_message.configure(text=f"{WARNING_MARK} {message}")
            self._settings_message = True
            if bad:
                bad[0].input.focus_set()
            return None
        return config, values

    def _recheck_settings(self) -> None:
        """While the message says to fix the settings: follow the fields as they are edited,
        and clear the message once they are all valid (or name what is left)."""
        if not self._settings_message or self.job is not None:
            return
        config, _values, _bad, message = self.check_settings()
        if config is None:
            self.run_message.configure(text=f"{WARNING_MARK} {message}")
        else:
            self.run_message.configure(text="")
            self._settings_message = False

    def _dataset(self) -> Dataset | None:
        ds = self.app.dataset
        if ds is None:
            self.run_message.configure(text=f"{WARNING_MARK} Load a data file first (Data tab).")
            return None
        if ds.y is None:
            self.run_message.configure(text=f"{WARNING_MARK} The loaded file has no class column, so it cannot be used "
                                            "for training. Load a labelled file on the Data tab.")
            return None
        return ds

    # ----------------------------------------------------------------- training
    def _prepare(self):
        """Settings and data for a new job, or None (with the reason shown) if there is
        a job already, a setting is invalid or the data cannot be used."""
        if self.job is not None:
            return None
        self.run_message.configure(text="")
        self._settings_message = False
        read = self.read_config()
        ds = self._dataset()
        if read is None or ds is None:
            return None
        self.save_settings()
        return (*read, ds)

    def _launch(self, kind: str, work, done, progress, starting: str, status: str) -> None:
        """Run ``work`` in the background as the tab's job of ``kind`` ("train" or "cv")."""
        self.progress.configure(value=0)
        self.progress_label.configure(text=starting)
        self._started = time.perf_counter()
        self.job = self.app.run_in_thread(work, done, progress, name=kind)
        self._update_buttons()
        self.app.set_status_message(status)

    def start(self) -> None:
        """Start training with the current settings (in the background)."""
        prepared = self._prepare()
        if prepared is None:
            return
        config, values, ds = prepared
        from bcdesktop import landscape
        from bcdesktop.evaluation import fit_model

        options = dict(split=CORE_SPLITS[SPLITS.index(values["split"])],
                       val_fraction=values.get("val_fraction") or DEFAULT_VAL_FRACTION,
                       train_rows=values.get("train_rows") or DEFAULT_TRAIN_ROWS, threshold=values["threshold"])

        def work(report, cancel):
            return fit_model(ds, config, progress=report, cancel=cancel,
                             path_every=landscape.path_every_for(config.iterations), **options)

        self._run_settings = self._settings_rows(config, values)
        self._train_data = ds

        self.ensure_plot()
        self.loss_plot.reset(config.iterations)
        self._launch("train", work, self._on_train_done, self._on_train_progress, "Starting\u2026",
                     "Training\u2026 (Esc stops)")

    def _on_train_progress(self, p) -> None:
        self.loss_plot.add(p.iteration, p.train_loss, p.val_loss)
        fraction = p.iteration / max(1, p.iterations)
        elapsed = time.perf_counter() - self._started
        left = elapsed / fraction * (1 - fraction) if fraction > 0.02 else None
        val = "" if p.val_loss is None else f", validation loss {p.val_loss:.4f}"
        self.progress.configure(value=fraction)
        self.progress_label.configure(
            text=f"Iteration {p.iteration:,} of {p.iterations:,}: training loss {p.train_loss:.4f}{val}"
                 + ("" if left is None else f" \u2014 about {format_seconds(left)} left"))

    def _on_train_done(self, ok: bool, result) -> None:
        self.job = None
        self._update_buttons()
        if self.loss_plot is not None:
            self.loss_plot.finish()
        if not ok:
            self.progress_label.configure(text="Training did not finish.")
            if isinstance(result, TrainingDiverged):
                # what the run found, shown with its curve as a run that did not learn is
                self.run_message.configure(
                    text=f"{WARNING_MARK} {result} The model that was active before is still in use.")
                self.app.set_status_message("Training diverged; the previous model is still active.")
            else:
                self.app.report_job_failure(result, what="Training", inline=self._say,
                                            kept="The model that was active before is still in use.")
            return
        self.outcome = result
        from bcdesktop.gui.landscape_runs import Run

        self.app.add_run(Run.from_outcome(result, self._train_data))  # the Landscape tab's runs
        stopped = result.result.stopped
        seconds = result.result.seconds
        done = {"completed": "Finished", "early_stopped": "Stopped early (validation loss no longer improving)",
                "cancelled": "Stopped by you"}[stopped]
        self.progress.configure(value=1.0 if stopped != "cancelled" else self.progress["value"])
        self.progress_label.configure(
            text=f"{done} after {result.result.iterations_run:,} iterations in {format_seconds(seconds)}.")
        if stopped == "cancelled":
            self.run_message.configure(text="This model is only partly trained; you can still use or save it.")
        self._show_outcome(result)
        self._export_run(result)
        self.results.select(0)
        widgets.scroll_into_view(self.results)  # below the settings when the window is narrow
        if not result.learned:
            # a failed run looks like a model: say so, keep the active one, ask before using it
            self.run_message.configure(
                text=f"{WARNING_MARK} {result.failure} The model that was active before is still in use.")
            self.app.set_status_message("Training did not learn; the previous model is still active.")
            return
        self.app.set_status_message(f"Training {done.lower()}; model {result.bundle.model_id} is ready to use.")
        if stopped != "cancelled":
            # the calibration pairs of the interval and the Threshold tab's evidence: the
            # model is usable now, and gains them when the cross-validation is done
            self.app.compute_evidence(result.bundle, self._train_data,
                                      on_ready=lambda bundle: self._on_evidence_ready(result, bundle))

    def _on_evidence_ready(self, outcome: FitOutcome, bundle) -> None:
        """The trained model now carries its out-of-fold evidence (a new model id)."""
        if self.outcome is not outcome:
            return  # another run replaced it
        self.outcome = dataclasses.replace(outcome, bundle=bundle)
        self._show_outcome(self.outcome)
        self._export_run(self.outcome)

    def _say(self, text: str, error: bool) -> None:
        """A job's outcome in words: a problem below the plot, a note on the progress line."""
        if error:
            self.run_message.configure(text=f"{WARNING_MARK} {text}")
        else:
            self.progress_label.configure(text=text)

    def _show_outcome(self, outcome: FitOutcome) -> None:
        tm, vm = outcome.train_metrics, outcome.val_metrics
        self.result_label.configure(
            text=f"Model {outcome.bundle.model_id} at threshold {format_threshold(tm.threshold)}:  training accuracy "
                 f"{format_rate(tm.accuracy)} of {tm.n}  \u00b7  validation accuracy "
                 f"{format_rate(vm.accuracy)} of {vm.n}")
        self.train_confusion.show(tm.tp, tm.fp, tm.tn, tm.fn)
        self.val_confusion.show(vm.tp, vm.fp, vm.tn, vm.fn)
        self.train_confusion.title.configure(text=f"Training rows (n={tm.n})")
        self.val_confusion.title.configure(text=f"Validation rows (n={vm.n})")
        self._update_buttons()

    @staticmethod
    def _settings_rows(config, values) -> list[tuple[str, object]]:
        """The settings of a run, as the export lists them with its results."""
        split = (f"stratified random, validation fraction {values.get('val_fraction')}"
                 if values["split"] == SPLITS[0] else f"first {values.get('train_rows')} rows for training")
        return [("hidden units", ", ".join(map(str, config.hidden))), ("learning rate", config.lr),
                ("iterations", config.iterations), ("optimizer", config.optimizer),
                ("learning-rate schedule", config.schedule), ("initialisation", config.init),
                ("hidden activation", config.activation), ("dropout", config.dropout),
                ("L2 penalty", config.l2), ("early-stopping patience", config.patience), ("seed", config.seed),
                ("validation split", split), ("threshold", values["threshold"])]

    def _export_run(self, outcome: FitOutcome) -> None:
        """Add this run to File > Export results as a section of its own: every run of
        the session is kept, numbered, with its settings, how it ended and its figures,
        so the export says which figures belong to which model."""
        self._runs["train"] += 1
        run = outcome.result
        tm, vm = outcome.train_metrics, outcome.val_metrics
        ended = {"completed": "completed", "early_stopped": "stopped early (validation loss no longer improving)",
                 "cancelled": "stopped by the user (partly trained)"}[run.stopped]
        rows = [("model id", outcome.bundle.model_id), *(self._run_settings or []),
                ("ended", f"{ended} after {run.iterations_run} iterations"),
                ("learned", "yes" if outcome.learned else f"no: {outcome.failure}"),
                ("training rows", tm.n), ("Accuracy (training rows)", tm.accuracy), ("validation rows", vm.n),
                *((f"{label} (validation rows)", getattr(vm, attr)) for attr, label in widgets.METRIC_ROWS)]
        self.app.set_results(f"Training run {self._runs['train']} (model {outcome.bundle.model_id})", rows)

    def cancel(self) -> None:
        """Stop the running training or cross-validation."""
        if self.job is not None:
            self.job.cancel()
            self.progress_label.configure(text="Stopping\u2026")

    def _confirm_unlearned(self, action: str) -> bool:
        """True when the last run learned, or the user confirms ``action`` all the same."""
        if self.outcome.learned:
            return True
        return self.app.dialogs.ask_yes_no(
            "This model did not learn",
            f"{self.outcome.failure}\n\n{action} it anyway? Its predictions are no better than "
            "guessing from the share of malignant cases.")

    def use_model(self) -> None:
        """Make the last trained model the active one (after a warning when it did not learn)."""
        if self.outcome is not None and self._confirm_unlearned("Use"):
            self.app.set_model(self.outcome.bundle, source="trained")
            self.app.set_status_message(f"Model {self.outcome.bundle.model_id} is now active.")

    def save_model(self) -> None:
        if self.outcome is not None and self._confirm_unlearned("Save"):
            self.app.save_model(self.outcome.bundle)

    # ----------------------------------------------------------------- cross-validation
    def cross_validate(self) -> None:
        """Run repeated k-fold cross-validation of the current settings in the background."""
        prepared = self._prepare()
        if prepared is None:
            return
        config, values, ds = prepared
        from bcdesktop.evaluation import cross_validate

        folds, repeats, threshold = values["folds"], values["repeats"], values["threshold"]
        compare = bool(self.compare_var.get())  # read here, on the Tk thread

        def work(report, cancel):
            options = dict(folds=folds, repeats=repeats, seed=config.seed, threshold=threshold, progress=report,
                           cancel=cancel)
            if compare:  # the network, then the baselines on its folds: one job, one progress bar
                return baselines.compare(ds.X, ds.y, config, **options)
            return cross_validate(ds.X, ds.y, config, **options)

        compared = [("compared with", " and ".join(baselines.LABELS[name].lower() for name in baselines.BASELINES))]
        self._cv_settings = [*self._settings_rows(config, values), ("folds", folds), ("repeats", repeats),
                             *(compared if compare else [])]
        starting = (f"Cross-validating: {repeats} \u00d7 {folds} fits of each of {len(baselines.MODELS)} models\u2026"
                    if compare else f"Cross-validating: {repeats} \u00d7 {folds} fits\u2026")
        self._launch("cv", work, self._on_cv_done, self._on_cv_progress, starting,
                     "Cross-validating\u2026 (Esc stops)")

    def _on_cv_progress(self, p) -> None:
        fraction = p.done / p.total
        elapsed = time.perf_counter() - self._started
        model = getattr(p, "model", None)  # a CompareProgress names the model being cross-validated
        which = "" if model is None else f", {baselines.LABELS[model].lower()}"
        left = f" \u2014 about {format_seconds(elapsed / fraction * (1 - fraction))} left" if fraction > 0 else ""
        self.progress.configure(value=fraction)
        self.progress_label.configure(
            text=f"Cross-validation{which}: fit {p.done} of {p.total} (repeat {p.repeat + 1}, fold {p.fold + 1})"
                 + left)

    def _on_cv_done(self, ok: bool, result) -> None:
        self.job = None
        self._update_buttons()
        if not ok:
            self.progress_label.configure(text="Cross-validation did not finish.")
            self.app.report_job_failure(result, what="Cross-validation", inline=self._say)
            return
        comparison = result if isinstance(result, baselines.Comparison) else None
        result = comparison.network if comparison is not None else result
        self.cv_result, self.comparison = result, comparison
        self.progress.configure(value=1.0)
        seconds = result.seconds if comparison is None else sum(cv.seconds for cv in comparison.results.values())
        models = "" if comparison is None else f" of each of {len(comparison.results)} models"
        finished = (f"Cross-validation finished: {result.repeats} \u00d7 {result.folds} fits{models} in "
                    f"{format_seconds(seconds)}")
        self.progress_label.configure(text=f"{finished}.")
        export = self.show_cv(result) + self.show_comparison(comparison)
        self._runs["cv"] += 1  # each run its own section, numbered, with its settings (as training runs)
        self.app.set_results(f"Cross-validation run {self._runs['cv']} ({result.repeats} x {result.folds}-fold)",
                             [*self._cv_settings, *export])
        self.results.select(1)
        widgets.scroll_into_view(self.results)
        accuracy = result.mean("accuracy")
        self.app.set_status_message(
            f"{finished}; accuracy {format_percent(accuracy)} \u00b1 {100 * result.sd('accuracy'):.1f} "
            "(mean \u00b1 SD over fits)." if accuracy == accuracy else f"{finished}.")

    def show_cv(self, cv: CVResult) -> list[tuple[str, Any]]:
        """Fill the cross-validation table from a ``CVResult``; returns its rows for the export."""
        import numpy as np

        from bcdesktop.metrics import metrics_at

        rows, export = [], []
        mask = np.isfinite(cv.oof_probs)
        pooled = metrics_at(cv.labels[mask], cv.oof_probs[mask], cv.threshold)
        for name, label, percent in (("accuracy", "Accuracy", True), ("sensitivity", "Sensitivity", True),
                                     ("specificity", "Specificity", True), ("roc_auc", "ROC AUC", False),
                                     ("brier", "Brier score", False)):
            mean, sd = cv.mean(name), cv.sd(name)
            rate = getattr(pooled, name, None)
            rows.append((label, mean_sd_text(mean, sd, percent), format_rate(rate) if rate is not None else "\u2014"))
            export.append((f"{label} mean over fits", mean))
            export.append((f"{label} SD over fits", sd))
            if rate is not None:
                export.append((f"{label} pooled out-of-fold", rate))
        self.cv_table.replace_rows(rows)
        grouped = "identical score vectors kept in one fold" if cv.grouped else "ungrouped"
        self.cv_label.configure(
            text=f"{cv.repeats} \u00d7 {cv.folds}-fold, {grouped}, threshold {format_threshold(cv.threshold)}. "
                 f"Pooled: the out-of-fold predictions of the first repeat (n={int(mask.sum())}), "
                 "95% Wilson intervals.")
        return export

    def show_comparison(self, comparison: Comparison | None) -> list[tuple[str, Any]]:
        """Show the network beside the baselines (or hide the table, for None); returns the
        baselines' rows for the export (the network's are :meth:`show_cv`'s)."""
        if comparison is None:
            self.compare_table.replace_rows([])
            self.compare_label.pack_forget()
            self.compare_table.pack_forget()
            return []
        rows, export = [], []
        for name, cv in comparison.results.items():
            label = baselines.LABELS[name]
            rows.append((label, *(mean_sd_text(cv.mean(key), cv.sd(key), percent)
                                  for key, _heading, percent, _width in COMPARE_COLUMNS)))
            if name != "network":
                for key, heading, _percent, _width in COMPARE_COLUMNS:
                    export.append((f"{label}: {heading} mean over fits", cv.mean(key)))
                    export.append((f"{label}: {heading} SD over fits", cv.sd(key)))
        self.compare_table.replace_rows(rows)
        self.compare_label.configure(
            text="The network beside two plain baselines on the same folds, each scaled on the fold's "
                 "training rows only (mean \u00b1 SD over fits):")
        self.compare_label.pack(side="top", anchor="w", fill="x", pady=(8, 0))
        self.compare_table.pack(side="top", fill="x", pady=(4, 0))
        return export

    # ----------------------------------------------------------------- state
    def _update_buttons(self) -> None:
        running = self.job is not None
        can_run = not running and self.app.dataset is not None and self.app.dataset.y is not None
        self.start_button.state(["!disabled"] if can_run else ["disabled"])
        self.cv_button.state(["!disabled"] if can_run else ["disabled"])
        self.lr_find_button.state(["!disabled"] if can_run else ["disabled"])
        self.use_lr_button.state(["!disabled"] if self.lr_result is not None and not running else ["disabled"])
        self.cancel_button.state(["!disabled"] if running else ["disabled"])
        self.compare_check.state(["!disabled"] if not running else ["disabled"])
        has_outcome = self.outcome is not None and not running
        self.use_button.state(["!disabled"] if has_outcome else ["disabled"])
        self.save_button.state(["!disabled"] if has_outcome else ["disabled"])
        for field in self.fields.values():
            field.set_state(not running)
        if not running:
            self._update_split_fields()

    # ----------------------------------------------------------------- learning-rate range test
    LR_KEYS = ("hidden", "optimizer", "init", "activation", "l2", "seed", "split", "val_fraction", "train_rows")

    def find_lr(self) -> None:
        """Run the learning-rate range test (:func:`bcdesktop.landscape.lr_find`) in the
        background on the training rows of the split these settings would make (scaled
        on those rows only), with the tab's network, optimizer, L2 and seed."""
        if self.job is not None:
            return
        self.run_message.configure(text="")
        self._settings_message = False
        values, bad = {}, []  # only the settings the test uses: the rate itself may be anything
        stratified = self.fields["split"].var.get() == SPLITS[0]
        for key in self.LR_KEYS:
            if (key == "val_fraction" and not stratified) or (key == "train_rows" and stratified):
                continue
            value, message = self.fields[key].validate()
            if message:
                bad.append(self.fields[key])
            values[key] = value
        if bad:
            self.run_message.configure(text=f"{WARNING_MARK} Fix the settings marked in red first.")
            self._settings_message = True
            bad[0].input.focus_set()
            return
        try:
            config = TrainConfig(hidden=values["hidden"], init=values["init"], optimizer=values["optimizer"],
                                 l2=values["l2"], seed=values["seed"], activation=values["activation"])
        except UserError as exc:
            self.run_message.configure(text=f"{WARNING_MARK} {exc}")
            return
        ds = self._dataset()
        if ds is None:
            return
        self.save_settings()
        split = CORE_SPLITS[SPLITS.index(values["split"])]
        val_fraction = values.get("val_fraction") or DEFAULT_VAL_FRACTION
        train_rows = values.get("train_rows") or DEFAULT_TRAIN_ROWS
        which = (f"the stratified random split with validation fraction {val_fraction:g}"
                 if split == CORE_SPLITS[0] else f"the first {train_rows:,} rows")

        def work(report, cancel):
            return self.lr_find_rows(ds, config, split, val_fraction, train_rows,
                                     progress=lambda done, total: report((done, total)), cancel=cancel)

        self._lr_which = which
        self._launch("lr-find", work, self._on_lr_done, self._on_lr_progress,
                     "Learning-rate range test: starting\u2026", "Finding a learning rate\u2026 (Esc stops)")

    @staticmethod
    def lr_find_rows(ds, config: TrainConfig, split: str, val_fraction: float, train_rows: int, **options):
        """The range test on ``ds``'s training rows of this split (``fit_model``'s), scaled
        by a scaler fitted on them only (worker thread; no Tk)."""
        import numpy as np

        from bcdesktop import landscape
        from bcdesktop.evaluation import split_indices
        from bcdesktop.model import Scaler

        X = np.asarray(ds.X, dtype=np.float64)
        y = np.asarray(ds.y).astype(np.int8)
        train_idx, _ = split_indices(y, split, val_fraction, train_rows, config.seed)
        X_tr, y_tr = X[train_idx], y[train_idx]
        scaler = Scaler.fit(X_tr)
        return landscape.lr_find(scaler.transform(X_tr), y_tr, config, **options)

    def _on_lr_progress(self, p) -> None:
        done, total = p
        self.progress.configure(value=done / max(1, total))
        self.progress_label.configure(text=f"Learning-rate range test: step {done:,} of {total:,}")

    def _on_lr_done(self, ok: bool, result) -> None:
        self.job = None
        self._update_buttons()
        if not ok:
            self.progress_label.configure(text="The learning-rate range test did not finish.")
            self.app.report_job_failure(result, what="The learning-rate range test", inline=self._say,
                                        stopped="The learning-rate range test was stopped.")
            return
        from bcdesktop.gui import lr_find_view

        self.lr_result = found = result
        self.progress.configure(value=1.0)
        self.progress_label.configure(
            text=f"Learning-rate range test finished: {len(found.rates)} steps in {format_seconds(found.seconds)}.")
        self.lr_label.configure(text=f"{lr_find_view.suggestion_text(found)}.")
        c = found.config
        self.lr_rows_label.configure(
            text=f"On the {found.rows:,} training rows of {self._lr_which} (scaled on those rows only); "
                 f"{c.optimizer}, {'-'.join(map(str, (9, *c.hidden, 1)))} {c.activation} network, init {c.init}, "
                 f"L2 {c.l2:g}, seed {c.seed}; rates {found.rates[0]:.2g} to {found.rates[-1]:.2g}.")
        if self.lr_picture is None:
            from bcdesktop.gui.plots import OffscreenPicture

            self.lr_picture = OffscreenPicture(self.lr_picture_frame, self.app.report_exception, size=(4.2, 1.5),
                                               name="lr-find")
            self.app.root.bind(widgets.TEXT_SCALE_EVENT, lambda _e: self._draw_lr_picture(), add="+")
        self._draw_lr_picture()
        self._runs["lr"] = self._runs.get("lr", 0) + 1  # File > Export results: each test its own section
        self.app.set_results(
            f"Learning-rate range test {self._runs['lr']}",
            [("hidden units", ", ".join(map(str, c.hidden))), ("optimizer", c.optimizer), ("initialisation", c.init),
             ("hidden activation", c.activation), ("L2 penalty", c.l2), ("seed", c.seed),
             ("training rows", f"{found.rows} of {self._lr_which}, scaled on those rows only"),
             ("smallest rate", float(found.rates[0])), ("largest rate reached", float(found.rates[-1])),
             ("steps", len(found.rates)), ("ended", found.stopped), ("suggested learning rate", found.suggested),
             ("rate at the lowest smoothed loss", found.minimum_rate)])
        self._update_buttons()
        self.results.select(self.lr_page)
        widgets.scroll_into_view(self.results)
        self.app.set_status_message(f"Suggested learning rate {lr_find_view.format_lr(found.suggested)}.")

    def _draw_lr_picture(self) -> None:
        """Loss against rate for the last range test, drawn off the Tk thread at the text size."""
        from bcdesktop.gui import lr_find_view

        found, scale = self.lr_result, widgets.text_scale(self.app.root)
        if found is not None and self.lr_picture is not None:
            self.lr_picture.request(lambda figure: lr_find_view.draw_lr_find(figure, found, scale), token=found,
                                    note="Drawing\u2026")

    def use_suggested_lr(self) -> None:
        """Put the range test's suggestion into the learning-rate field."""
        if self.lr_result is None or self.job is not None:
            return
        from bcdesktop.gui.lr_find_view import format_lr

        self.fields["lr"].set(format_lr(self.lr_result.suggested))
        self.fields["lr"].validate()
        self.app.set_status_message(f"Learning rate set to {format_lr(self.lr_result.suggested)}.")

    def _on_log_toggle(self) -> None:
        if self.loss_plot is not None:
            self.loss_plot.set_log_scale(self.log_var.get())
