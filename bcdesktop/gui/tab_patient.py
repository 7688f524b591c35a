"""The Patient tab: nine scores in, a malignancy probability and a call out.

Each field validates into a value or an inline message (never a popup), Predict is
refused until all nine are whole numbers 1..10, and a shown result follows the
threshold and the model when either changes. A result whose scores have since been
edited is greyed out and struck through, with a sentence saying it is out of date,
so an old probability is never read as the answer for the scores on the form.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

import numpy as np

from bcdesktop import DISCLAIMER, schema
from bcdesktop.examples import TypicalCase, example_source, typical_cases
from bcdesktop.gui.context import AppContext
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

STALE_NOTE = "Out of date: the scores have changed since this result. Press Predict to update it."


def format_probability(p: float) -> str:
    """``0.8734 -> "87.3%"``; the extremes say "<0.1%" / ">99.9%" rather than a false 0 or 100."""
    if p < 0.0005:
        return "<0.1%"
    if p >= 0.9995:
        return ">99.9%"
    return format_percent(p)


class PatientTab(ttk.Frame):
    """Nine score fields, Predict, and the result; built as ``PatientTab(notebook, app)``.

    Widgets tests read: ``fields`` (feature -> :class:`~bcdesktop.gui.widgets.Field`: its
    spin box ``input`` and inline ``message``), ``predict_button``, ``predict_hint``,
    ``prob_label``, ``call_label``, ``detail_label``, ``note_label``,
    ``benign_button``, ``malignant_button``, ``clear_button``; :attr:`stale` says
    whether the shown result is out of date.
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=8)
        self.app = app
        self.fields: dict[str, Field] = {}
        self._result: dict | None = None  # scores, probability, model id of the shown result
        self._typical: dict[int, TypicalCase] | None = None
        self._typical_source = None

        self.rowconfigure(0, weight=1)
        # The result beside the form, or below it when the window is too narrow for both.
        self.layout = Reflow(self, self._build_form(), self._build_result(), weights=(0, 1))
        wrap_to_width(ttk.Label(self, text=DISCLAIMER, style="Small.TLabel"), 40).grid(
            row=2, column=0, columnspan=2, sticky="ew", pady=(6, 0))

        for sequence in ("<<ModelChanged>>", "<<ThresholdChanged>>", "<<DataChanged>>"):
            app.root.bind(sequence, self._on_app_changed, add="+")
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

        buttons = ttk.Frame(form)
        buttons.grid(row=2 * len(schema.FEATURES), column=0, columnspan=3, sticky="ew", pady=(12, 0))
        self.predict_button = ttk.Button(buttons, text="Predict", command=self.predict, default="active",
                                         style="Primary.TButton")
        self.predict_button.pack(side="left")
        self.benign_button = ttk.Button(buttons, text="Typical benign", command=lambda: self.fill_typical(0))
        self.benign_button.pack(side="left", padx=(12, 0))
        self.malignant_button = ttk.Button(buttons, text="Typical malignant", command=lambda: self.fill_typical(1))
        self.malignant_button.pack(side="left", padx=(6, 0))
        self.clear_button = ttk.Button(buttons, text="Clear", command=self.clear)
        self.clear_button.pack(side="left", padx=(6, 0))
        self.predict_hint = wrap_to_width(ttk.Label(form, text="", style="Muted.TLabel"), 30)
        self.predict_hint.grid(row=2 * len(schema.FEATURES) + 1, column=0, columnspan=3, sticky="ew", pady=(6, 0))
        self.example_label = wrap_to_width(ttk.Label(form, text="", style="Small.TLabel"), 30)
        self.example_label.grid(row=2 * len(schema.FEATURES) + 2, column=0, columnspan=3, sticky="ew")
        return form

    def _build_result(self) -> ttk.Frame:
        box = ttk.LabelFrame(self, text="Result", padding=12)
        box.columnconfigure(0, weight=1)
        # Every text wraps at the column's width, so larger text never runs off the edge.
        # Wide enough for the longest word of the large probability line ("probability").
        self.prob_label = wrap_to_width(ttk.Label(box, text="", style="Big.TLabel"), 30)
        self.prob_label.grid(row=0, column=0, sticky="ew")
        self.call_label = wrap_to_width(ttk.Label(box, text="", font="BcTitle"), 30)
        self.call_label.grid(row=1, column=0, sticky="ew", pady=(6, 0))
        self.detail_label = wrap_to_width(ttk.Label(box, text=""))
        self.detail_label.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.model_label = wrap_to_width(ttk.Label(box, text="", style="Muted.TLabel"))
        self.model_label.grid(row=3, column=0, sticky="ew", pady=(4, 0))
        self.note_label = wrap_to_width(ttk.Label(box, text=""))
        self.note_label.grid(row=4, column=0, sticky="ew", pady=(12, 0))
        box.rowconfigure(5, weight=1)
        wrap_to_width(ttk.Label(box, text="The probability is the network's estimate, learned from the Wisconsin "
                                          "cases, that this tumour is malignant. The call compares it with the "
                                          "threshold set on the Threshold tab: a lower threshold misses fewer "
                                          "cancers and raises more false alarms.", style="Small.TLabel")).grid(
            row=5, column=0, sticky="sew")
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

    def _on_field_changed(self) -> None:
        self._refresh_state()
        self._show_result()

    def _refresh_state(self) -> None:
        """Predict enabled only when it can work, and the hint below it saying why not."""
        values, problems = self.field_values()
        if self.app.model is None:
            hint = "No model is loaded: open one (File menu) or train one on the Train tab."
        elif problems:
            hint = (f"Predict needs all nine scores: {len(problems)} "
                    f"{'is' if len(problems) == 1 else 'are'} missing or not a whole number 1 to 10.")
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
        scores = tuple(values[name] for name in schema.FEATURES)
        self._result = {"scores": scores, "probability": self._probability(scores),
                        "model_id": self.app.model.model_id}
        self._show_result()
        scroll_into_view(self.call_label)  # beside the form, or below it with large text
        scroll_into_view(self.prob_label)
        p = self._result["probability"]
        self.app.set_status_message(f"Predicted {'malignant' if p >= self.app.threshold else 'benign'} "
                                    f"({format_probability(p)}) with model {self.app.model.model_id}.")

    def self_test(self) -> dict[str, object]:
        """Predict the typical malignant example through the form (``bcdesktop --self-test``)."""
        self.fill_typical(1)
        self.predict()
        if self._result is None:
            raise RuntimeError(self.predict_hint.cget("text"))
        p = self._result["probability"]
        return {"probability": round(p, 6), "prediction": "malignant" if p >= self.app.threshold else "benign",
                "threshold": self.app.threshold, "model_id": self._result["model_id"]}

    def _probability(self, scores: tuple[int, ...]) -> float:
        X = np.asarray(scores, dtype=np.float64).reshape(1, -1)
        return float(self.app.model.predict_proba(X)[0])

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
        for field in self.fields.values():
            field.clear()
        self._result = None
        self.example_label.configure(text="")
        self._refresh_state()
        self._show_result()
        self.fields[schema.FEATURES[0]].input.focus_set()

    # ------------------------------------------------------------------ result
    def _on_app_changed(self, _event=None) -> None:
        model = self.app.model
        if self._result is not None and model is not None and model.model_id != self._result["model_id"]:
            # A new model: recompute the shown case with it (one cheap forward pass).
            self._result["probability"] = self._probability(self._result["scores"])
            self._result["model_id"] = model.model_id
        self._refresh_state()
        self._show_result()

    @property
    def stale(self) -> bool:
        """True when a result is shown but the form's scores are no longer its scores."""
        if self._result is None:
            return False
        values, problems = self.field_values()
        return bool(problems) or tuple(values[n] for n in schema.FEATURES) != self._result["scores"]

    def _show_result(self) -> None:
        model, result = self.app.model, self._result
        if model is None or result is None:
            self.app.set_results("Patient", None)
            for label in (self.prob_label, self.call_label, self.detail_label, self.model_label):
                label.configure(text="")
            if model is None:
                self.note_label.configure(text=f"{WARNING_MARK} No model is loaded, so no prediction can be made.",
                                          foreground=ERROR_TEXT)
            else:
                self.note_label.configure(text="Enter the nine scores and press Predict.",
                                          foreground=MUTED_TEXT)
            return
        p, t = result["probability"], self.app.threshold
        malignant = p >= t
        word = "MALIGNANT" if malignant else "BENIGN"
        stale = self.stale
        self.prob_label.configure(text=f"Malignancy probability {format_probability(p)}",
                                  font="BcBigStale" if stale else "BcBig", foreground=MUTED_TEXT if stale else TEXT)
        self.call_label.configure(text=f"{MALIGNANT_MARK if malignant else BENIGN_MARK} {word}",
                                  font="BcTitleStale" if stale else "BcTitle",
                                  foreground=MUTED_TEXT if stale else (MALIGNANT_TEXT if malignant else BENIGN))
        relation = "at or above" if malignant else "below"
        self.detail_label.configure(
            text=f"Called {word.lower()}: {format_probability(p)} is {relation} the threshold "
                 f"of {100 * t:.4g}%.", foreground=MUTED_TEXT if stale else TEXT)
        self.model_label.configure(text=f"Model {result['model_id']} \u00b7 threshold {format_threshold(t)}")
        # The export keeps the scores this result was computed from, and says when the form differs.
        self.app.set_results("Patient", [*zip(schema.FEATURES, result["scores"]), ("model id", result["model_id"]),
                                         ("malignancy probability", round(p, 6)), ("threshold", t),
                                         ("call", word.lower()),
                                         ("result", "out of date: the scores on the form changed after this "
                                                    "prediction" if stale else "current")])
        if stale:
            self.note_label.configure(text=f"{WARNING_MARK} {STALE_NOTE}", foreground=ERROR_TEXT)
        else:
            self.note_label.configure(text="", foreground=MUTED_TEXT)
