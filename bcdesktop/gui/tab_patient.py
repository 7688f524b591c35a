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

from bcdesktop import DISCLAIMER, data
from bcdesktop.gui.widgets import (BENIGN, BENIGN_MARK, ERROR_TEXT, MALIGNANT_MARK, MALIGNANT_TEXT, MUTED_TEXT, TEXT,
                                   WARNING_MARK, Reflow, chars_width, format_threshold, scroll_into_view,
                                   wrap_to_width)

STALE_NOTE = "Out of date: the scores have changed since this result. Press Predict to update it."

def format_probability(p: float) -> str:
    """``0.8734 -> "87.3%"``; the extremes say "<0.1%" / ">99.9%" rather than a false 0 or 100."""
    if p < 0.0005:
        return "<0.1%"
    if p >= 0.9995:
        return ">99.9%"
    return f"{100 * p:.1f}%"


def typical_cases(dataset) -> dict[int, tuple[np.ndarray, int, str]]:
    """A typical benign (0) and malignant (1) case, each a real row of ``dataset``.

    For each class we take the per-feature median of that class's rows and return the
    real row nearest to it (smallest sum of absolute differences; the first in file
    order on ties), so the example is a case that actually occurred, not an average
    that never did. Returns ``{label: (scores (9,), line, sample_id)}``.
    """
    out = {}
    for label in (0, 1):
        rows = np.flatnonzero(dataset.y == label)
        if rows.size == 0:
            continue
        X = dataset.X[rows]
        distance = np.abs(X - np.median(X, axis=0)).sum(axis=1)
        best = rows[int(np.argmin(distance))]
        out[label] = (dataset.X[best], int(dataset.lines[best]), str(dataset.ids[best]))
    return out


class PatientTab(ttk.Frame):
    """Nine score fields, Predict, and the result; built as ``PatientTab(notebook, app)``.

    Widgets tests read: ``spinboxes`` (dict feature -> ttk.Spinbox), ``messages``
    (feature -> inline message label), ``predict_button``, ``predict_hint``,
    ``prob_label``, ``call_label``, ``detail_label``, ``note_label``,
    ``benign_button``, ``malignant_button``, ``clear_button``; :attr:`stale` says
    whether the shown result is out of date.
    """

    def __init__(self, master, app):
        super().__init__(master, padding=8)
        self.app = app
        self.vars: dict[str, tk.StringVar] = {}
        self.spinboxes: dict[str, ttk.Spinbox] = {}
        self.messages: dict[str, ttk.Label] = {}
        self._touched: set[str] = set()
        self._result: dict | None = None  # scores, probability, model id of the shown result
        self._typical: dict | None = None
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
        for i, name in enumerate(data.FEATURES):
            var = tk.StringVar(self, "")
            var.trace_add("write", lambda *_a, name=name: self._on_field_changed(name))
            ttk.Label(form, text=name, style="Bold.TLabel").grid(row=2 * i, column=0, sticky="w", pady=(4, 0))
            spin = ttk.Spinbox(form, from_=data.SCORE_MIN, to=data.SCORE_MAX, increment=1, width=5,
                               textvariable=var, wrap=False, justify="right")
            spin.grid(row=2 * i, column=1, rowspan=2, sticky="w", padx=8)
            spin.bind("<Return>", self._on_return)
            spin.bind("<KP_Enter>", self._on_return)
            message = ttk.Label(form, text="", style="Error.TLabel", wraplength=chars_width(self, 26))
            message.grid(row=2 * i, column=2, rowspan=2, sticky="w")
            ttk.Label(form, text=data.FEATURE_DESCRIPTIONS[name], style="Small.TLabel",
                      wraplength=chars_width(self, 56)).grid(row=2 * i + 1, column=0, sticky="w")
            self.vars[name] = var
            self.spinboxes[name] = spin
            self.messages[name] = message

        buttons = ttk.Frame(form)
        buttons.grid(row=2 * len(data.FEATURES), column=0, columnspan=3, sticky="ew", pady=(12, 0))
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
        self.predict_hint.grid(row=2 * len(data.FEATURES) + 1, column=0, columnspan=3, sticky="ew", pady=(6, 0))
        self.example_label = wrap_to_width(ttk.Label(form, text="", style="Small.TLabel"), 30)
        self.example_label.grid(row=2 * len(data.FEATURES) + 2, column=0, columnspan=3, sticky="ew")
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
        for name, var in self.vars.items():
            value, message = data.check_score(var.get())
            if message is None:
                values[name] = value
            else:
                problems[name] = message
        return values, problems

    def _on_field_changed(self, name: str) -> None:
        self._touched.add(name)
        self._refresh_state()
        self._show_result()

    def _refresh_state(self) -> None:
        """Inline messages for touched fields, and Predict enabled only when it can work."""
        values, problems = self.field_values()
        for name, label in self.messages.items():
            shown = name in problems and name in self._touched
            label.configure(text=f"{WARNING_MARK} {problems[name]}" if shown else "")
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
            self._touched.update(self.vars)
            self._refresh_state()
            self.spinboxes[next(n for n in data.FEATURES if n in problems)].focus_set()
            return
        if self.app.model is None:
            self._refresh_state()
            return
        scores = tuple(values[name] for name in data.FEATURES)
        self._result = {"scores": scores, "probability": self._probability(scores),
                        "model_id": self.app.model.model_id}
        self._show_result()
        scroll_into_view(self.call_label)  # beside the form, or below it with large text
        scroll_into_view(self.prob_label)
        p = self._result["probability"]
        self.app.set_status_message(f"Predicted {'malignant' if p >= self.app.threshold else 'benign'} "
                                    f"({format_probability(p)}) with model {self.app.model.model_id}.")

    def self_test(self) -> dict:
        """Predict the typical malignant example through the form (``bcdesktop --self-test``)."""
        self.fill_typical(1)
        self.predict()
        if self._result is None:
            raise RuntimeError(self.predict_hint.cget("text"))
        p = self._result["probability"]
        return {"probability": round(p, 6), "prediction": "malignant" if p >= self.app.threshold else "benign",
                "threshold": self.app.threshold, "model_id": self._result["model_id"]}

    def _probability(self, scores) -> float:
        X = np.asarray(scores, dtype=np.float64).reshape(1, -1)
        return float(self.app.model.predict_proba(X)[0])

    def fill_typical(self, label: int) -> None:
        """Fill the form with a typical benign (0) or malignant (1) case; see :func:`typical_cases`."""
        dataset = self.app.dataset
        if dataset is None or dataset.y is None or not {0, 1} <= set(np.unique(dataset.y).tolist()):
            dataset = data.load_bundled()  # the loaded file has no labels: fall back to the UCI data
        if self._typical_source is not dataset:
            self._typical, self._typical_source = typical_cases(dataset), dataset
        scores, line, sample_id = self._typical[label]
        for name, value in zip(data.FEATURES, scores):
            self.vars[name].set(str(int(value)))
        kind = "malignant" if label else "benign"
        where = f"line {line}" + (f", id {sample_id}" if sample_id else "")
        source = getattr(dataset.path, "name", None) or str(dataset.path or "the data set")
        self.example_label.configure(
            text=f"Typical {kind} example: the real {kind} case in {source} ({where}) "
                 f"closest to the median {kind} scores.")

    def clear(self) -> None:
        """Empty every field and the result; the cursor goes to the first field."""
        for var in self.vars.values():
            var.set("")
        self._touched.clear()
        self._result = None
        self.example_label.configure(text="")
        self._refresh_state()
        self._show_result()
        self.spinboxes[data.FEATURES[0]].focus_set()

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
        return bool(problems) or tuple(values[n] for n in data.FEATURES) != self._result["scores"]

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
        self.app.set_results("Patient", [*zip(data.FEATURES, result["scores"]), ("model id", result["model_id"]),
                                         ("malignancy probability", round(p, 6)), ("threshold", t),
                                         ("call", word.lower()),
                                         ("result", "out of date: the scores on the form changed after this "
                                                    "prediction" if stale else "current")])
        if stale:
            self.note_label.configure(text=f"{WARNING_MARK} {STALE_NOTE}", foreground=ERROR_TEXT)
        else:
            self.note_label.configure(text="", foreground=MUTED_TEXT)
