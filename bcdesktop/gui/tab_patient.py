"""The Patient tab: nine scores in; a malignancy probability, how sure, why, and what
the training data held, out.

Each field validates into a value or an inline message (never a popup), Predict is
refused until all nine are whole numbers 1..10, and a shown result follows the
threshold and the model when either changes. A result whose scores have since been
edited is greyed out and struck through, with a sentence saying it is out of date,
so an old probability is never read as the answer for the scores on the form. With
"Live" on, the result follows the scores as they change (debounced), whenever the form
holds nine valid scores.

The result is :func:`bcdesktop.predictor.predict_case`'s: the probability with its
Venn-Abers interval, the call at the threshold (or "indeterminate at this threshold"
when the interval holds both calls or contradicts the estimate), the waterfall of exact Shapley contributions
(:mod:`bcdesktop.gui.waterfall`) against the background the user chooses, and the
matching training cases with the unusual-pattern flag. What an older model file cannot
give is said in words, never left blank.

Every result shown is recorded in the audit trail once it has stood for
:data:`AUDIT_SETTLE_MS` (so a score typed as "1" on the way to "10" is not), with its
entry id shown beside the model; Save report writes the one-page PDF of the result
(:mod:`bcdesktop.report`) in the background, with that entry id. A model not made on
this installation is marked "external model".
"""

from __future__ import annotations

import dataclasses
import time
import tkinter as tk
from tkinter import ttk

from bcdesktop import DISCLAIMER, schema
from bcdesktop.errors import Cancelled
from bcdesktop.examples import TypicalCase, example_source, typical_cases
from bcdesktop.gui.context import REPORT_FILETYPES, AppContext
from bcdesktop.gui.waterfall import Waterfall
from bcdesktop.gui.widgets import (
    BENIGN,
    BENIGN_MARK,
    ERROR_TEXT,
    MALIGNANT_MARK,
    MALIGNANT_TEXT,
    MUTED_TEXT,
    TEXT,
    WARNING_MARK,
    Field,
    Reflow,
    chars_width,
    format_threshold,
    scroll_into_view,
    wrap_to_width,
)
from bcdesktop.metrics import format_percent
from bcdesktop.predictor import BACKGROUND_TEXT, BACKGROUNDS, call_word, explain_case, predict_case, undecided

STALE_NOTE = "Out of date: the scores have changed since this result. Press Predict to update it."
LIVE_STALE_NOTE = "Out of date: updating for the new scores\u2026"
LIVE_INVALID_NOTE = ("Out of date: the scores have changed since this result. It updates as soon as all nine "
                     "are whole numbers 1 to 10.")
NO_INTERVAL = "interval not available (this model file has no calibration pairs)"
NO_INTERVAL_YET = ("interval not available yet: the model's calibration pairs are being computed; it appears "
                   "here when they are ready")
INTERVAL_NOTE = "In brackets: the Venn-Abers interval, from the model's cross-validated predictions."
NO_EXPLANATION = "Explanation not available: this model file has no training patterns."
NO_MATCHES = "Matching cases not available: this model file has no training patterns."
EXPLAINING = "Working out each score's contribution\u2026"
INDETERMINATE_MARK = "\u25c6"  # ◆: neither class's mark nor colour
LIVE_DELAY_MS = 150  # the pause in typing after which live mode predicts
AUDIT_SETTLE_MS = 800  # how long a result stands before it is recorded in the audit trail
EXTERNAL_NOTE = ("External model: not made on this installation and not shipped with bcdesktop, so where it "
                 "came from and how it was trained cannot be vouched for here.")
#: The settings key of the background choice.
BACKGROUND_SETTING = "patient_background"
BACKGROUND_LABELS = {"training": "all training cases", "benign": "benign training cases"}


@dataclasses.dataclass(eq=False)
class _Recording:
    """A prediction entry asked of the audit trail: of which case, model, threshold and
    background (``key``), for which shown result, and its entry once written (None when
    the trail is off or could not be written)."""

    key: tuple
    result: dict
    entry: object = None
    written: bool = False
    waiters: list = dataclasses.field(default_factory=list)   # done(entry) callbacks


def format_probability(p: float) -> str:
    """``0.8734 -> "87.3%"``; the extremes say "<0.1%" / ">99.9%" rather than a false 0 or 100."""
    if p < 0.0005:
        return "<0.1%"
    if p >= 0.9995:
        return ">99.9%"
    return format_percent(p)


def interval_text(interval: tuple[float, float]) -> str:
    """``(0.781, 0.884) -> "78.1-88.4%"``, as ``bcdesktop predict`` writes it."""
    low, high = interval
    return f"{100 * low:.1f}-{100 * high:.1f}%"


def explanation_is_slow(model) -> bool:
    """Whether :func:`bcdesktop.predictor.predict_case` explains ``model`` by the general
    Shapley route (~200 ms: a model with a recalibration) rather than the network's fast
    first-layer route (~10 ms); the tab then explains in the background."""
    return getattr(model, "recalibration", None) is not None


def outside_sentence(pred) -> str:
    """A sentence when the probability lies outside its interval (as shown, to one
    decimal), else "". Venn-Abers calibrates the network's score on its cross-validated
    predictions, so where the network is over- or under-confident its own estimate can
    fall outside the interval; the user is told which way, not left to wonder."""
    if pred.interval is None:
        return ""
    low, high = pred.interval
    p = pred.probability
    shown = format_probability(p)
    if round(100 * p, 1) < round(100 * low, 1):
        side, rate = "below", "more"
    elif round(100 * p, 1) > round(100 * high, 1):
        side, rate = "above", "fewer"
    else:
        return ""
    return (f" The network's estimate ({shown}) lies {side} its interval: among the cross-validated cases it "
            f"scored like this one, {rate} were malignant than {shown} suggests.")


class PatientTab(ttk.Frame):
    """Nine score fields, Predict, and the result; built as ``PatientTab(notebook, app)``.

    Widgets tests read: ``fields`` (feature -> :class:`~bcdesktop.gui.widgets.Field`: its
    spin box ``input`` and inline ``message``), ``predict_button``, ``predict_hint``,
    ``live_check`` (with ``live_var``), ``prob_label``, ``interval_label``,
    ``call_label``, ``detail_label``, ``note_label``, ``background_buttons``
    (background -> radio button, with ``background_var``), ``waterfall``
    (:class:`~bcdesktop.gui.waterfall.Waterfall`), ``waterfall_note``, ``match_label``,
    ``unusual_label``, ``example_label``, ``benign_button``, ``malignant_button``,
    ``clear_button``; :attr:`stale` says whether the shown result is out of date,
    :attr:`prediction` is the shown :class:`~bcdesktop.predictor.CasePrediction`, and
    :attr:`last_seconds` how long the last prediction took on the Tk thread (computed
    and shown, before Tk redraws).
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=8)
        self.app = app
        self.fields: dict[str, Field] = {}
        # scores, prediction (a CasePrediction), probability, model id of the shown result
        self._result: dict | None = None
        self._typical: dict[int, TypicalCase] | None = None
        self._typical_source = None
        self._live_after: str | None = None
        self._audit_after: str | None = None
        self._recording: _Recording | None = None   # the last prediction entry asked for
        self._report_job = None
        self._explain_job = None  # the background explanation of a slow model's result
        self._drawn = None  # what the waterfall shows, so an unchanged result is not drawn again
        self.last_seconds: float | None = None
        # the background choice is kept in the per-user settings
        self.background_var = tk.StringVar(self, value=app.settings.get(BACKGROUND_SETTING, "training"))
        self.live_var = tk.BooleanVar(self, value=False)

        self.rowconfigure(0, weight=1)
        # The result beside the form, or below it when the window is too narrow for both.
        self.layout = Reflow(self, self._build_form(), self._build_result(), weights=(0, 1))
        wrap_to_width(ttk.Label(self, text=DISCLAIMER, style="Small.TLabel"), 40).grid(
            row=2, column=0, columnspan=2, sticky="ew", pady=(6, 0))

        root = app.root
        root.bind("<<ModelChanged>>", self._on_model_changed, add="+")
        root.bind("<<ThresholdChanged>>", self._on_threshold_changed, add="+")
        root.bind("<<DataChanged>>", self._on_app_changed, add="+")
        root.bind("<<EvidenceChanged>>", self._on_evidence_changed, add="+")
        self.bind("<Destroy>", self._on_destroy, add="+")
        self._refresh_state()
        self._show_result()

    # ----------------------------------------------------------------- layout
    def _build_form(self) -> ttk.Frame:
        form = ttk.LabelFrame(self, text="Cytology scores (whole numbers 1 to 10)", padding=8)
        form.columnconfigure(2, weight=1)
        for i, name in enumerate(schema.FEATURES):
            # A score is checked as the user types; its message waits until the field is touched.
            field = Field(form, 2 * i, name, schema.check_score, spin=(schema.SCORE_MIN, schema.SCORE_MAX), width=5,
                          label_style="Bold.TLabel", message_chars=26, quiet=True)
            # the meaning of the score below its name, the spin box and the message beside both
            field.label.grid_configure(padx=0, pady=(4, 0))
            field.input.grid_configure(rowspan=2, padx=8, pady=0)
            field.message.grid_configure(rowspan=2, padx=0, pady=0)
            ttk.Label(form, text=schema.FEATURE_DESCRIPTIONS[name], style="Small.TLabel",
                      wraplength=chars_width(self, 56)).grid(row=2 * i + 1, column=0, sticky="w")
            field.var.trace_add("write", lambda *_a: self._on_field_changed())
            field.input.bind("<Return>", self._on_return)
            field.input.bind("<KP_Enter>", self._on_return)
            self.fields[name] = field

        n = 2 * len(schema.FEATURES)
        buttons = ttk.Frame(form)
        buttons.grid(row=n, column=0, columnspan=3, sticky="ew", pady=(12, 0))
        self.predict_button = ttk.Button(buttons, text="Predict", command=self.predict, default="active",
                                         style="Primary.TButton")
        self.predict_button.pack(side="left")
        self.benign_button = ttk.Button(buttons, text="Typical benign", command=lambda: self.fill_typical(0))
        self.benign_button.pack(side="left", padx=(12, 0))
        self.malignant_button = ttk.Button(buttons, text="Typical malignant", command=lambda: self.fill_typical(1))
        self.malignant_button.pack(side="left", padx=(6, 0))
        self.clear_button = ttk.Button(buttons, text="Clear", command=self.clear)
        self.clear_button.pack(side="left", padx=(6, 0))
        self.live_check = ttk.Checkbutton(form, text="Live: update the result as the scores change",
                                          variable=self.live_var, command=self._on_live_toggled)
        self.live_check.grid(row=n + 1, column=0, columnspan=3, sticky="w", pady=(8, 0))
        self.predict_hint = wrap_to_width(ttk.Label(form, text="", style="Muted.TLabel"), 30)
        self.predict_hint.grid(row=n + 2, column=0, columnspan=3, sticky="ew", pady=(4, 0))
        self.example_label = wrap_to_width(ttk.Label(form, text="", style="Small.TLabel"), 30)
        self.example_label.grid(row=n + 3, column=0, columnspan=3, sticky="ew")
        return form

    def _build_result(self) -> ttk.Frame:
        box = ttk.LabelFrame(self, text="Result", padding=12)
        box.columnconfigure(0, weight=1)
        # Every text wraps at the column's width, so larger text never runs off the edge.
        # Wide enough for the longest word of the large probability line ("probability").
        self.prob_label = wrap_to_width(ttk.Label(box, text="", style="Big.TLabel"), 30)
        self.prob_label.grid(row=0, column=0, sticky="ew")
        self.interval_label = wrap_to_width(ttk.Label(box, text="", style="Small.TLabel"))
        self.interval_label.grid(row=1, column=0, sticky="ew", pady=(2, 0))
        self.call_label = wrap_to_width(ttk.Label(box, text="", font="BcTitle"), 30)
        self.call_label.grid(row=2, column=0, sticky="ew", pady=(6, 0))
        self.detail_label = wrap_to_width(ttk.Label(box, text=""))
        self.detail_label.grid(row=3, column=0, sticky="ew", pady=(6, 0))
        # How sure: the matching training cases and the unusual flag, next to the call.
        self.match_heading = ttk.Label(box, text="Matching training cases", style="Bold.TLabel")
        self.match_heading.grid(row=4, column=0, sticky="w", pady=(8, 0))
        self.match_label = wrap_to_width(ttk.Label(box, text=""))
        self.match_label.grid(row=5, column=0, sticky="ew")
        self.unusual_label = wrap_to_width(ttk.Label(box, text="", foreground=ERROR_TEXT))
        self.unusual_label.grid(row=6, column=0, sticky="ew", pady=(4, 0))
        meta = ttk.Frame(box)
        meta.grid(row=7, column=0, sticky="ew", pady=(6, 0))
        meta.columnconfigure(0, weight=1)
        self.model_label = wrap_to_width(ttk.Label(meta, text="", style="Muted.TLabel"))
        self.model_label.grid(row=0, column=0, sticky="ew")
        self.report_button = ttk.Button(meta, text="Save report\u2026", command=self.save_report)
        self.report_button.grid(row=0, column=1, sticky="ne", padx=(8, 0))
        self.external_label = wrap_to_width(ttk.Label(meta, text="", foreground=ERROR_TEXT))
        self.external_label.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(2, 0))
        self.note_label = wrap_to_width(ttk.Label(box, text=""))
        self.note_label.grid(row=8, column=0, sticky="ew", pady=(4, 0))

        # Why: the waterfall, against the background the user chooses.
        ttk.Label(box, text="Why this probability", style="Bold.TLabel").grid(row=9, column=0, sticky="w",
                                                                              pady=(8, 0))
        why = ttk.Frame(box)
        why.grid(row=10, column=0, sticky="w", pady=(2, 0))
        ttk.Label(why, text="Compare with:").pack(side="left")
        self.background_buttons: dict[str, ttk.Radiobutton] = {}
        for key in BACKGROUNDS:
            button = ttk.Radiobutton(why, text=BACKGROUND_LABELS[key], value=key, variable=self.background_var,
                                     command=self._on_background_changed)
            button.pack(side="left", padx=(6, 0))
            self.background_buttons[key] = button
        self.waterfall = Waterfall(box)
        self.waterfall.grid(row=11, column=0, sticky="ew", pady=(4, 0))
        self.waterfall_note = wrap_to_width(ttk.Label(box, text="", style="Small.TLabel"))
        self.waterfall_note.grid(row=12, column=0, sticky="ew", pady=(2, 0))
        box.rowconfigure(13, weight=1)
        wrap_to_width(ttk.Label(box, text="The probability is the network's estimate, learned from the Wisconsin "
                                          "cases, that this tumour is malignant. The call compares it with the "
                                          "threshold set on the Threshold tab: a lower threshold misses fewer "
                                          "cancers and raises more false alarms.", style="Small.TLabel")).grid(
            row=13, column=0, sticky="sew", pady=(10, 0))
        return box

    # ------------------------------------------------------------- validation
    def field_values(self) -> tuple[dict[str, int], dict[str, str]]:
        """``(values, problems)``: the valid scores and a message for each invalid field."""
        values, problems = {}, {}
        for name, field in self.fields.items():
            value, message = field.check(field.var.get())
            if message is None:
                values[name] = value
            else:
                problems[name] = message
        return values, problems

    def _form_scores(self) -> tuple[int, ...] | None:
        """The nine scores on the form, or None while any is missing or not valid."""
        values, problems = self.field_values()
        return None if problems else tuple(values[name] for name in schema.FEATURES)

    def _on_field_changed(self) -> None:
        self._refresh_state()
        self._show_result()
        if self.live_var.get():
            self._schedule_live()

    def _refresh_state(self) -> None:
        """Predict enabled only when it can work, and the hint below it saying why not."""
        values, problems = self.field_values()
        if self.app.model is None:
            hint = "No model is loaded: open one (File menu) or train one on the Train tab."
        elif problems:
            hint = (f"Predict needs all nine scores: {len(problems)} "
                    f"{'is' if len(problems) == 1 else 'are'} missing or not a whole number 1 to 10.")
        elif self.live_var.get():
            hint = "Live: the result follows the scores as you change them."
        else:
            hint = "Press Predict or Enter."
        self.predict_hint.configure(text=hint)
        self.predict_button.state(["!disabled"] if self.app.model is not None and not problems else ["disabled"])

    # ----------------------------------------------------------------- actions
    def _on_return(self, _event=None) -> str:
        self.predict()
        return "break"

    def predict(self) -> None:
        """Predict from the form, or show every field's message and focus the first bad one."""
        self._cancel_live()
        values, problems = self.field_values()
        if problems:
            for field in self.fields.values():
                field.validate()
            self._refresh_state()
            self.fields[next(n for n in schema.FEATURES if n in problems)].input.focus_set()
            return
        if self.app.model is None:
            self._refresh_state()
            return
        self._predict_now(tuple(values[name] for name in schema.FEATURES))
        scroll_into_view(self.call_label)  # beside the form, or below it with large text
        scroll_into_view(self.prob_label)

    def _predict_now(self, scores: tuple[int, ...]) -> None:
        """Predict ``scores`` with the active model and show it (timed: :attr:`last_seconds`)."""
        started = time.perf_counter()
        model = self.app.model
        self._result = self._compute(scores)
        self._show_result()
        self.last_seconds = time.perf_counter() - started
        prediction = self._result["prediction"]
        self.app.set_status_message(f"Predicted {prediction.call} ({format_probability(prediction.probability)}) "
                                    f"with model {model.model_id}.")

    def _compute(self, scores: tuple[int, ...]) -> dict:
        """A result for ``scores`` with the active model, threshold and background.

        The explanation of a plain network takes ~10 ms (predict_case's first-layer route)
        and is computed here; a model with a recalibration is explained by the general
        route, some 200 ms, which would stall typing: its explanation is worked out in a
        background job and shown when it arrives, the rest at once."""
        model, background = self.app.model, self.background_var.get()
        slow = explanation_is_slow(model)
        prediction = predict_case(model, scores, threshold=self.app.threshold, background=background,
                                  explain=not slow)
        result = {"scores": scores, "prediction": prediction, "probability": prediction.probability,
                  "model_id": model.model_id, "explaining": slow, "explain_problem": None}
        if self._explain_job is not None:
            self._explain_job.cancel()
            self._explain_job = None
        if slow and model.patterns is not None:
            def work(_report, _cancel):
                return explain_case(model, scores, background)

            def done(ok: bool, value) -> None:
                if self._explain_job is not job:
                    return  # a newer result asked for its own
                self._explain_job = None
                if self._result is not result or not self.winfo_exists():
                    return
                result["explaining"] = False
                if ok:
                    result["prediction"] = dataclasses.replace(result["prediction"], explanation=value)
                else:
                    result["explain_problem"] = (
                        "The explanation was stopped: press Predict to work it out again."
                        if isinstance(value, Cancelled) else "The explanation could not be worked out.")
                    if not isinstance(value, Cancelled):
                        self.app.report_exception(value)
                self._show_result()

            job = self._explain_job = self.app.run_in_thread(work, done, name="explanation")
        else:
            result["explaining"] = False
        return result

    def show_case(self, scores: tuple[int, ...], note: str = "") -> None:
        """Fill the nine fields with ``scores``, say where the case comes from (``note``,
        e.g. "line 12, id 1017023: a false negative") and predict it; used by
        :meth:`App.open_case <bcdesktop.gui.app.App.open_case>`."""
        if len(scores) != len(schema.FEATURES):
            raise ValueError(f"a case has {len(schema.FEATURES)} scores, got {len(scores)}")
        self._cancel_live()
        for name, value in zip(schema.FEATURES, scores):
            self.fields[name].set(int(value))
        self.example_label.configure(text=f"Case: {note}" if note else "")
        self.predict()

    def self_test(self) -> dict[str, object]:
        """Predict the typical malignant example through the form (``bcdesktop --self-test``)."""
        self.fill_typical(1)
        self.predict()
        if self._result is None:
            raise RuntimeError(self.predict_hint.cget("text"))
        p = self._result["probability"]
        return {"probability": round(p, 6), "prediction": "malignant" if p >= self.app.threshold else "benign",
                "threshold": self.app.threshold, "model_id": self._result["model_id"]}

    def fill_typical(self, label: int) -> None:
        """Fill the form with a typical benign (0) or malignant (1) case of the loaded data
        (or of the bundled data when those cannot give both); see
        :func:`bcdesktop.examples.typical_cases`."""
        dataset = example_source(self.app.dataset)
        if self._typical_source is not dataset:
            self._typical, self._typical_source = typical_cases(dataset), dataset
        scores, line, sample_id = self._typical[label]
        for name, value in zip(schema.FEATURES, scores):
            self.fields[name].set(int(value))
        kind = "malignant" if label else "benign"
        where = f"line {line}" + (f", id {sample_id}" if sample_id else "")
        source = getattr(dataset.path, "name", None) or str(dataset.path or "the data set")
        self.example_label.configure(
            text=f"Typical {kind} example: the real {kind} case in {source} ({where}) "
                 f"closest to the median {kind} scores.")

    def clear(self) -> None:
        """Empty every field and the result; the cursor goes to the first field."""
        self._cancel_live()
        for field in self.fields.values():
            field.clear()
        self._cancel_live()  # clearing the fields may have asked for one
        self._result = None
        self.example_label.configure(text="")
        self._refresh_state()
        self._show_result()
        self.fields[schema.FEATURES[0]].input.focus_set()

    # -------------------------------------------------------------------- live
    def _on_live_toggled(self) -> None:
        self._refresh_state()
        if self.live_var.get():
            self._live_predict()  # at once: the user asked for it
        else:
            self._cancel_live()
            self._show_result()

    def _schedule_live(self) -> None:
        """Predict when the typing pauses for :data:`LIVE_DELAY_MS` (each change restarts
        the wait), if the form then holds nine valid scores."""
        self._cancel_live()
        if self.app.model is not None and self._form_scores() is not None:
            # On the root, as ScrolledPage does: a pending call cancelled through the root
            # must leave this widget no command to delete twice.
            self._live_after = self._root().after(LIVE_DELAY_MS, self._live_predict)

    def _cancel_live(self) -> None:
        self._live_after = self._cancel_timer(self._live_after)

    def _cancel_timer(self, after_id: str | None) -> None:
        """Cancel a pending call made with ``self._root().after`` (None: nothing to do);
        returns None, for the attribute that held it."""
        if after_id is not None:
            try:
                self._root().after_cancel(after_id)
            except tk.TclError:
                pass

    def _live_predict(self) -> None:
        self._live_after = None
        if not self.winfo_exists() or not self.live_var.get() or self.app.model is None:
            return
        scores = self._form_scores()
        if scores is None:
            return
        result = self._result
        if result is not None and result["scores"] == scores and result["model_id"] == self.app.model.model_id:
            self._show_result()  # back to the scores shown: current again
            return
        self._predict_now(scores)

    def _on_destroy(self, event) -> None:
        if event.widget is self:
            self._cancel_live()
            self._cancel_audit()
            if self._explain_job is not None:
                self._explain_job.cancel()
                self._explain_job = None

    # ------------------------------------------------------------------ result
    def _on_app_changed(self, _event=None) -> None:
        self._refresh_state()
        self._show_result()

    def _on_model_changed(self, _event=None) -> None:
        model, result = self.app.model, self._result
        if result is not None and model is not None and model.model_id != result["model_id"]:
            # A new model (or the same one with its calibration pairs now): the shown case
            # is predicted again with it, so its interval appears without retyping.
            self._recompute()
        self._on_app_changed()

    def _on_threshold_changed(self, _event=None) -> None:
        result = self._result
        if result is not None:
            # The call and the indeterminate flag depend on the threshold; nothing else does.
            p, t = result["prediction"], float(self.app.threshold)
            indeterminate = p.interval is not None and bool(undecided(p.probability, *p.interval, t))
            result["prediction"] = dataclasses.replace(
                p, threshold=t, indeterminate=indeterminate, prediction=call_word(p.probability, t))
        self._on_app_changed()

    def _on_evidence_changed(self, _event=None) -> None:
        result = self._result
        if result is not None and result["prediction"].interval is None:
            self._show_interval_note(result["prediction"], self.stale)

    def _on_background_changed(self) -> None:
        self.app.settings.set(BACKGROUND_SETTING, self.background_var.get())
        if self._result is not None and self.app.model is not None:
            self._recompute()
            self._show_result()

    def _recompute(self) -> None:
        """Predict the shown result's scores again (new model, new background), keeping
        whether the form still matches them."""
        started = time.perf_counter()
        self._result = self._compute(self._result["scores"])
        self.last_seconds = time.perf_counter() - started

    # ------------------------------------------------------------ audit trail, report
    def _show_model_line(self, result: dict, t: float) -> None:
        r = self._recording
        entry = r.entry if r is not None and r.key == self._audit_key(result) else None
        recorded = "" if entry is None else f" \u00b7 audit entry {entry.id}"
        origin = getattr(self.app, "model_origin", "") or ""
        self.model_label.configure(text=f"Model {result['model_id']} ({origin}) \u00b7 threshold "
                                        f"{format_threshold(t)}{recorded}" if origin else
                                   f"Model {result['model_id']} \u00b7 threshold {format_threshold(t)}{recorded}")

    def _show_origin(self) -> None:
        external = self.app.model is not None and getattr(self.app, "model_origin", "") == "external model"
        self.external_label.configure(text=f"{WARNING_MARK} {EXTERNAL_NOTE}" if external else "")
        if external:
            self.external_label.grid()
        else:
            self.external_label.grid_remove()

    def _audit_key(self, result: dict) -> tuple:
        pred = result["prediction"]
        return (result["scores"], result["model_id"], pred.threshold, pred.background)

    def _recorded(self, result: dict) -> _Recording | None:
        """The recording that stands for ``result``: the last one asked for, when it is of
        the same case, model, threshold and background and is being written or was
        written (a result shown again, or the same case predicted again, is not recorded
        twice); one that gave no entry (the trail off or failing) stands only for the
        result it was asked for, so the same case predicted again is recorded afresh."""
        r = self._recording
        if r is None or r.key != self._audit_key(result):
            return None
        return r if (not r.written or r.entry is not None or r.result is result) else None

    def _schedule_audit(self) -> None:
        """Record the shown result once it has stood for :data:`AUDIT_SETTLE_MS`."""
        result = self._result
        if result is None or self._recorded(result) is not None:
            return
        self._cancel_audit()
        self._audit_after = self._root().after(AUDIT_SETTLE_MS, self._record_result)

    def _cancel_audit(self) -> None:
        self._audit_after = self._cancel_timer(self._audit_after)

    def flush_audit(self) -> None:
        """Record now a result still waiting out its settle time (the window is closing)."""
        if self._audit_after is not None:
            self._cancel_audit()
            self._record_result()

    def _record_result(self, done=None) -> None:
        """Record the shown result in the audit trail now; ``done(entry or None)`` after."""
        self._audit_after = None
        result, model = self._result, self.app.model
        if result is None or model is None or model.model_id != result["model_id"] or not self.winfo_exists():
            if done is not None:
                done(None)
            return
        r = self._recorded(result)
        if r is not None:  # recorded already, or being recorded
            if done is not None:
                if r.written:
                    done(r.entry)
                else:
                    r.waiters.append(done)   # told when it is written
            return
        from bcdesktop.audit import prediction_fields

        r = self._recording = _Recording(self._audit_key(result), result, waiters=[] if done is None else [done])

        def recorded(entry) -> None:
            r.entry, r.written = entry, True
            waiters, r.waiters = r.waiters, []
            shown = self._result
            if shown is not None and self._recording is r and self.winfo_exists():
                self._show_model_line(shown, shown["prediction"].threshold)
            for waiter in waiters:
                waiter(entry)

        self.app.audit_record("prediction", done=recorded,
                              **prediction_fields(result["prediction"], model, self.app.model_origin))

    def save_report(self) -> None:
        """Save report: the shown result as a one-page PDF, with its audit entry."""
        result, model = self._result, self.app.model
        if result is None or model is None or self.stale or self._report_job is not None:
            return
        scores = "".join(str(v) if v < 10 else "X" for v in result["scores"])
        path = self.app.dialogs.ask_save_file("Save patient report", REPORT_FILETYPES, self.app.folder("reports"),
                                              f"bcdesktop-report-{scores}.pdf", ".pdf")
        if not path:
            return
        self._cancel_audit()
        pred, origin, note = result["prediction"], self.app.model_origin, self.app.threshold_note
        keep = [p for p in (getattr(model, "source_path", None),
                            getattr(self.app.dataset, "path", None)) if p is not None]
        self.report_button.state(["disabled"])
        self.app.set_status_message("Writing the report\u2026")

        def write(entry) -> None:
            from bcdesktop import report

            audit_id = None if entry is None else entry.id
            why = None if entry is not None or not self.app.audit_log.enabled else report.NO_AUDIT_FAILED

            def work(_report, _cancel):
                return report.write_report(path, pred, model, audit_id=audit_id, origin=origin,
                                           threshold_note=note, inputs=keep, audit_note=why)

            def done(ok: bool, value) -> None:
                self._report_job = None
                if self.winfo_exists():
                    self.report_button.state(["disabled"] if self.stale or self._result is None else ["!disabled"])
                if not ok:
                    self.app.report_job_failure(value, what="Writing the report")
                    return
                self.app.remember_folder("reports", value.parent)
                self.app.audit_record("report", model=model, inputs={"entry": audit_id},
                                      output={"path": str(value)})
                recorded = "" if audit_id is None else f" (audit entry {audit_id})"
                self.app.set_status_message(f"Saved the report to {value}{recorded}.")

            self._report_job = self.app.run_in_thread(work, done, name="report")

        self._report_job = "waiting for the audit entry"
        self._record_result(done=write)

    @property
    def prediction(self):
        """The shown :class:`~bcdesktop.predictor.CasePrediction`, or None."""
        return None if self._result is None else self._result["prediction"]

    @property
    def stale(self) -> bool:
        """True when a result is shown but the form's scores are no longer its scores."""
        if self._result is None:
            return False
        return self._form_scores() != self._result["scores"]

    def _show_interval_note(self, pred, stale: bool) -> None:
        if pred.interval is not None:
            text = INTERVAL_NOTE
        elif getattr(self.app, "evidence_running", False):
            text = NO_INTERVAL_YET
        else:
            text = NO_INTERVAL
        self.interval_label.configure(text=text)

    def _show_result(self) -> None:
        model, result = self.app.model, self._result
        if model is None or result is None:
            self.app.set_results("Patient", None)
            for label in (self.prob_label, self.interval_label, self.call_label, self.detail_label,
                          self.model_label, self.waterfall_note, self.match_label, self.unusual_label):
                label.configure(text="")
            self.unusual_label.grid_remove()
            self.match_heading.grid_remove()
            self._drawn = None
            self._cancel_audit()
            self.report_button.state(["disabled"])
            self._show_origin()
            if model is None:
                self.note_label.configure(text=f"{WARNING_MARK} No model is loaded, so no prediction can be made.",
                                          foreground=ERROR_TEXT)
                self.waterfall.show_message("No model is loaded.")
            else:
                self.note_label.configure(text="Enter the nine scores and press Predict.",
                                          foreground=MUTED_TEXT)
                self.waterfall.show_message("How each score moves the probability appears here after Predict.")
            return
        pred = result["prediction"]
        p, t = pred.probability, pred.threshold
        stale = self.stale
        grey = MUTED_TEXT if stale else None

        shown_p = format_probability(p)
        interval = pred.interval
        self.prob_label.configure(
            text=f"Malignancy probability {shown_p}" + (f" ({interval_text(interval)})" if interval else ""),
            font="BcBigStale" if stale else "BcBig", foreground=grey or TEXT)
        self._show_interval_note(pred, stale)

        threshold = f"{100 * t:.4g}%"
        if pred.indeterminate:
            word = "INDETERMINATE AT THIS THRESHOLD"
            call = f"{INDETERMINATE_MARK} {word}"
            colour = TEXT
            side = "at or above" if pred.prediction == "malignant" else "below"
            low, high = interval
            holds = f"holds both calls at the threshold of {threshold}" if low < t <= high else (
                f"lies wholly on the other side of the threshold of {threshold} from the network's estimate")
            detail = (f"Indeterminate: the interval {interval_text(interval)} {holds}, so the model's evidence "
                      f"does not settle on which side of it this case falls: treat the call as uncertain.")
            detail += f" On its own, the network's estimate ({shown_p}) is {side} the threshold"
            outside = outside_sentence(pred)  # " The network's estimate (..) lies below its interval: ..."
            detail += (", and" + outside.split(")", 1)[1]) if outside else "."
        else:
            malignant = pred.prediction == "malignant"
            word = "MALIGNANT" if malignant else "BENIGN"
            call = f"{MALIGNANT_MARK if malignant else BENIGN_MARK} {word}"
            colour = MALIGNANT_TEXT if malignant else BENIGN
            relation = "at or above" if malignant else "below"
            detail = f"Called {word.lower()}: {shown_p} is {relation} the threshold of {threshold}."
            if interval is not None:
                detail += f" So is the whole interval ({interval_text(interval)})."
            detail += outside_sentence(pred)
        self.call_label.configure(text=call, font="BcTitleStale" if stale else "BcTitle", foreground=grey or colour)
        self.detail_label.configure(text=detail, foreground=grey or TEXT)
        self._show_model_line(result, t)

        self._show_explanation(pred, stale)
        evidence = pred.evidence
        self.match_heading.grid()
        self.match_label.configure(text=NO_MATCHES if evidence is None else evidence.sentence(),
                                   foreground=grey or (MUTED_TEXT if evidence is None else TEXT))
        unusual = None if evidence is None else evidence.unusual_sentence()
        if unusual:
            self.unusual_label.configure(
                text=f"{WARNING_MARK} {unusual} The model has learned from few cases like it, so its probability "
                     "and interval deserve less trust here.", foreground=grey or ERROR_TEXT)
            self.unusual_label.grid()
        else:
            self.unusual_label.configure(text="")
            self.unusual_label.grid_remove()

        self.app.set_results("Patient", self._export_rows(pred, result, stale))
        if stale:
            live = self.live_var.get()
            note = STALE_NOTE if not live else LIVE_STALE_NOTE if self._form_scores() else LIVE_INVALID_NOTE
            self.note_label.configure(text=f"{WARNING_MARK} {note}", foreground=ERROR_TEXT)
            self._cancel_audit()
        else:
            self.note_label.configure(text="", foreground=MUTED_TEXT)
            self._schedule_audit()
        self.report_button.state(["disabled"] if stale or self._report_job is not None else ["!disabled"])
        self._show_origin()

    def _show_explanation(self, pred, stale: bool) -> None:
        explanation = pred.explanation
        key = (explanation, pred.threshold, stale)  # Explanation compares by identity
        if explanation is None:
            result = self._result
            self.waterfall.show_message(EXPLAINING if result.get("explaining") else
                                        result.get("explain_problem") or NO_EXPLANATION)
            self.waterfall_note.configure(text="")
            self._drawn = None
            return
        if key != self._drawn:
            base = "Average benign training case" if pred.background == "benign" else "Average training case"
            self.waterfall.show(explanation, base, pred.threshold, stale=stale)
            self._drawn = key
        self.waterfall_note.configure(
            text=f"Each bar is one score's exact Shapley contribution, largest first, from the average of "
                 f"{BACKGROUND_TEXT[pred.background]} to this case: \u25b6 orange raises the probability, "
                 f"\u25c0 blue lowers it. The log-odds add up exactly; point at a bar for its numbers.",
            foreground=MUTED_TEXT)

    def _export_rows(self, pred, result: dict, stale: bool) -> list[tuple[str, object]]:
        """The rows File > Export results writes: the scores this result was computed
        from, and what it says; it says when the form has changed since."""
        rows = [*zip(schema.FEATURES, result["scores"]), ("model id", result["model_id"]),
                ("malignancy probability", round(pred.probability, 6))]
        if pred.interval is not None:
            rows += [("interval low", round(pred.interval[0], 6)), ("interval high", round(pred.interval[1], 6))]
        else:
            rows.append(("interval", "not available (no calibration pairs in the model file)"))
        rows += [("threshold", pred.threshold), ("call", pred.call), ("indeterminate", pred.indeterminate)]
        if pred.explanation is not None:
            rows += [("explanation background", BACKGROUND_TEXT[pred.background]),
                     ("base log-odds", round(pred.explanation.base, 6))]
            rows += [(f"contribution {name} (log-odds)", round(float(c), 6))
                     for name, c in zip(pred.explanation.features, pred.explanation.contributions)]
        if pred.evidence is not None:
            rows += [("matching cases", pred.evidence.sentence()), ("unusual pattern", pred.evidence.unusual)]
        rows.append(("result", "out of date: the scores on the form changed after this prediction" if stale
                     else "current"))
        return rows
