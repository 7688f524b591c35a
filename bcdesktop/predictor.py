"""One case, fully answered: the probability, how sure (an interval), why (the exact
Shapley contributions) and what the training data held (the matching cases).

:func:`predict_case` is what ``bcdesktop predict`` prints and the Patient tab shows;
:func:`intervals` is what batch scoring adds to every row. The pieces come from the
model file (:class:`persistence.ModelBundle`): the interval needs its out-of-fold
calibration pairs (``bundle.oof``), the explanation and the matching cases its training
patterns (``bundle.patterns``). A model without them (an older file, or one trained
with ``--no-calibrate``) predicts as before, and says what is not available.

Only NumPy is imported at the top (``bcdesktop predict`` starts fast).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["BACKGROUNDS", "CasePrediction", "predict_case", "intervals", "probabilities_and_intervals",
           "venn_abers_of",
           "call_word", "straddles", "undecided"]

BACKGROUNDS = ("training", "benign")
BACKGROUND_TEXT = {"training": "all training cases", "benign": "the benign training cases"}


def venn_abers_of(bundle):
    """The model's Venn-Abers predictor, fitted once on its out-of-fold calibration
    pairs and kept on the bundle; None when the model has no pairs."""
    oof = getattr(bundle, "oof", None)
    if oof is None:
        return None
    cached = bundle.__dict__.get("_venn_abers")
    if cached is None:
        from .venn_abers import VennAbers

        cached = VennAbers.fit(*oof.pairs())
        object.__setattr__(bundle, "_venn_abers", cached)
    return cached


def intervals(bundle, X_raw) -> tuple[np.ndarray, np.ndarray] | None:
    """Venn-Abers interval ``(low (n,), high (n,))`` of each row's probability of
    malignancy, or None when the model has no calibration pairs.

    The interval is the predictor's [p0, p1] for the network's own score; Venn-Abers
    depends on the order of the scores only, so it is the same whether or not the
    model recalibrates its probabilities.
    """
    va = venn_abers_of(bundle)
    if va is None:
        return None
    low, high = va.interval(bundle.raw_proba(X_raw))
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def probabilities_and_intervals(bundle, X_raw):
    """``(probability (n,), low (n,) or None, high (n,) or None)`` with the network run
    once: the interval of its own score (:func:`intervals`), the probability that score
    after the model's recalibration (``bundle.predict_proba``)."""
    va = venn_abers_of(bundle)
    if va is None:
        return np.asarray(bundle.predict_proba(X_raw), dtype=np.float64).reshape(-1), None, None
    raw = np.asarray(bundle.raw_proba(X_raw), dtype=np.float64).reshape(-1)
    low, high = (np.asarray(a, dtype=np.float64).reshape(-1) for a in va.interval(raw))
    return np.asarray(bundle.recalibrated(raw), dtype=np.float64).reshape(-1), low, high


def straddles(low, high, threshold: float):
    """Whether an interval holds both calls at ``threshold`` (a case is called malignant
    when its probability >= threshold): ``low < threshold <= high``."""
    return (np.asarray(low) < threshold) & (np.asarray(high) >= threshold)


def undecided(probability, low, high, threshold: float):
    """Whether the evidence leaves the call open at ``threshold``: the interval holds both
    calls (:func:`straddles`), or it lies wholly on the other side of the threshold from
    the model's probability (the probability often lies outside its own interval, where
    the cross-validated cases disagree with the network). A case is decided only when
    the probability and the whole interval give the same call."""
    p, lo = np.asarray(probability), np.asarray(low)
    return straddles(low, high, threshold) | ((p >= threshold) != (lo >= threshold))


def call_word(probability: float, threshold: float, indeterminate: bool = False) -> str:
    """"malignant", "benign", or "indeterminate at this threshold"."""
    if indeterminate:
        return "indeterminate at this threshold"
    return "malignant" if probability >= threshold else "benign"


@dataclasses.dataclass(frozen=True)
class CasePrediction:
    """Everything ``predict`` says about one case.

    Attributes
    ----------
    scores : ndarray (9,)
    probability : float
        After the model's recalibration, if it has one.
    threshold : float
    prediction : {"malignant", "benign"}
        The call at ``threshold`` from the probability alone.
    interval : (low, high) or None
        The Venn-Abers interval; None when the model has no calibration pairs.
    indeterminate : bool
        The interval holds both calls at ``threshold``, or lies wholly on the other side
        of it from the probability (:func:`undecided`).
    explanation : explain.Explanation or None
        Exact Shapley contributions on the log-odds scale; None without training patterns.
    evidence : patterns.Match or None
        The matching training cases; None without training patterns.
    background : str
        ``"training"`` or ``"benign"``: what the explanation compares the case with.
    model_id : str
    """

    scores: np.ndarray
    probability: float
    threshold: float
    prediction: str
    interval: tuple[float, float] | None
    indeterminate: bool
    explanation: object | None
    evidence: object | None
    background: str
    model_id: str

    @property
    def call(self) -> str:
        """The word to show: the prediction, or "indeterminate at this threshold"."""
        return call_word(self.probability, self.threshold, self.indeterminate)

    @property
    def outside_interval(self) -> str | None:
        """"above" or "below" when the model's probability lies outside its own interval
        (the cross-validated cases scored like this one were malignant less or more often
        than the model says: a sign of miscalibration there), else None."""
        if self.interval is None:
            return None
        if self.probability > self.interval[1]:
            return "above"
        if self.probability < self.interval[0]:
            return "below"
        return None

    def probability_text(self) -> str:
        """E.g. "83.0% (78.1-88.4%)", or "1.6% (interval not available)"."""
        from .metrics import format_percent

        if self.interval is None:
            return f"{format_percent(self.probability)} (interval not available)"
        low, high = self.interval
        return f"{format_percent(self.probability)} ({100 * low:.1f}-{100 * high:.1f}%)"

    def to_json(self) -> dict:
        """``predict --json``: probability, prediction, threshold, model, interval,
        indeterminate, explanation, evidence (null where not available)."""
        return {
            "probability": self.probability,
            "prediction": self.prediction,
            "threshold": self.threshold,
            "model": self.model_id,
            "interval": None if self.interval is None else
            {"low": float(self.interval[0]), "high": float(self.interval[1])},
            "indeterminate": bool(self.indeterminate),
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }


def explain_case(bundle, scores, background: str = "training"):
    """Exact Shapley contributions of ``scores`` (9,) against ``background``, or None
    when the model has no training patterns."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    pats = getattr(bundle, "patterns", None)
    if pats is None:
        return None
    from .explain import explain_bundle, shapley

    rows, weights = pats.background(background)
    if rows.shape[0] == 0:
        return None
    x = np.asarray(scores, dtype=np.float64)
    recal = getattr(bundle, "recalibration", None)
    if recal is None:
        return explain_bundle(bundle, x, rows, weights)    # the network's own log-odds
    if recal.kind == "platt":
        # Platt scaling is affine on the log-odds (a z + b), and Shapley values are linear:
        # the network's values times a, its base a * base + b; exact, at the fast route's cost
        a, b = (float(v) for v in recal.params)
        raw = explain_bundle(dataclasses.replace(bundle, recalibration=None), x, rows, weights)
        return dataclasses.replace(raw, base=a * raw.base + b, contributions=a * raw.contributions,
                                   value=a * raw.value + b)
    return shapley(bundle.logit, x, rows, weights, features=tuple(bundle.features))


def predict_case(bundle, scores, *, threshold: float | None = None,
                 background: str = "training", explain: bool = True) -> CasePrediction:
    """Predict one case and say how sure, why, and what the training data held.

    Parameters
    ----------
    bundle : persistence.ModelBundle
    scores : array (9,) of raw scores 1..10
    threshold : float, optional
        Default the model's own.
    background : {"training", "benign"}
        What the explanation compares the case with.
    explain : bool
        Compute the explanation (the Patient tab's "live" mode recomputes it as the
        user types; the batch path never asks).
    """
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    t = float(bundle.threshold if threshold is None else threshold)
    probs, low, high = probabilities_and_intervals(bundle, x.reshape(1, -1))
    p = float(probs[0])
    interval = None if low is None else (float(low[0]), float(high[0]))
    indeterminate = interval is not None and bool(undecided(p, interval[0], interval[1], t))
    pats = getattr(bundle, "patterns", None)
    return CasePrediction(
        scores=x, probability=p, threshold=t,
        prediction="malignant" if p >= t else "benign",
        interval=interval, indeterminate=indeterminate,
        explanation=explain_case(bundle, x, background) if explain else None,
        evidence=None if pats is None else pats.match(x),
        background=background, model_id=bundle.model_id)
