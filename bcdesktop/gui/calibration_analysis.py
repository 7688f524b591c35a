"""The figures behind the Calibration tab, with no Tk and no matplotlib.

Everything here is computed on the model's out-of-fold evidence
(:class:`bcdesktop.outoffold.OutOfFold`: R repeats of cross-validation over the same n
rows, the network's own probabilities) with :mod:`bcdesktop.calibrate` and
:mod:`bcdesktop.decision`, so the tab and its tests read the same numbers.

Cross-fitting. A recalibration judged on the pairs it was fitted on flatters itself
(isotonic regression then always shows a slope of exactly 1). So the "after" figures the
tab shows first are cross-fitted: the rows are split into :data:`CROSS_FOLDS` groups
(identical score patterns always in one group, as the cross-validation keeps them), and
each group's probabilities, in every repeat, are recalibrated by a fit on the other
groups only. The recalibration the user applies is the one fitted on all the pairs.

Runs in the pictures' worker threads (isotonic regression imports scikit-learn); the
results are cached per evidence and kind, so the two pictures share one fit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from bcdesktop import calibrate, decision
from bcdesktop.errors import UserError

#: What the user may choose: no recalibration, or one of :data:`calibrate.KINDS`.
CHOICES = ("none", "platt", "isotonic")
CHOICE_LABELS = {"none": "None", "platt": "Platt scaling", "isotonic": "Isotonic regression"}
SHORT_LABELS = {"none": "none", "platt": "Platt", "isotonic": "isotonic"}
#: Groups of rows for the cross-fitted "after" figures, and the seed that forms them.
CROSS_FOLDS = 10
CROSS_SEED = 0
BINS = 10


def kind_of(recalibration) -> str:
    """``"none"`` for None, else the recalibration's kind."""
    return "none" if recalibration is None else str(recalibration.kind)


def same_recalibration(a, b) -> bool:
    """Both None, or the same kind with the same parameters."""
    if a is None or b is None:
        return a is None and b is None
    return a.kind == b.kind and a.params.shape == b.params.shape and bool(np.array_equal(a.params, b.params))


def crossfit_folds(scores: np.ndarray, folds: int = CROSS_FOLDS, seed: int = CROSS_SEED) -> np.ndarray:
    """(n,) group number 0..folds-1 of each row: the distinct score patterns shuffled
    (seeded) and dealt out in turn, so identical rows share a group."""
    _, pattern = np.unique(np.asarray(scores), axis=0, return_inverse=True)
    pattern = pattern.reshape(-1)
    n_patterns = int(pattern.max()) + 1
    order = np.random.default_rng(seed).permutation(n_patterns)
    group_of_pattern = np.empty(n_patterns, dtype=np.int64)
    group_of_pattern[order] = np.arange(n_patterns) % min(folds, n_patterns)
    return group_of_pattern[pattern]


def cross_fitted(kind: str, probs: np.ndarray, labels: np.ndarray, scores: np.ndarray, *,
                 folds: int = CROSS_FOLDS, seed: int = CROSS_SEED) -> np.ndarray:
    """(R, n): each row's probabilities, in every repeat, recalibrated by a ``kind`` fit
    on the rows of the other groups (all their repeats). UserError from the fit, saying
    which group, when one cannot be made."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[np.newaxis, :]
    labels = np.asarray(labels)
    group = crossfit_folds(scores, folds, seed)
    out = np.empty_like(probs)
    for g in np.unique(group):
        held = group == g
        try:
            recal = calibrate.fit_recalibration(kind, probs[:, ~held], labels[~held])
        except UserError as exc:
            raise UserError(f"The cross-fitted check failed on group {g + 1} of {folds}: {exc}") from None
        out[:, held] = recal.apply(probs[:, held])
    return out


@dataclass(frozen=True, eq=False)
class Analysis:
    """The calibration of the evidence before and after one recalibration.

    Attributes
    ----------
    kind : str
        One of :data:`CHOICES`.
    before : calibrate.CalibrationSummary
        Of the network's own out-of-fold probabilities.
    recalibration : calibrate.Recalibration or None
        Fitted on all the pooled pairs (what "Apply" applies); None for "none" or when
        it could not be fitted.
    after_fitted, after_cross : calibrate.CalibrationSummary or None
        After it, judged on the pairs it was fitted on (optimistic) and cross-fitted.
    cross_probs : ndarray (R, n) or None
        The cross-fitted recalibrated probabilities.
    error : str or None
        Why there is no recalibration of this kind (a sentence for the user).
    """

    kind: str
    before: calibrate.CalibrationSummary
    recalibration: object | None = None
    after_fitted: calibrate.CalibrationSummary | None = None
    after_cross: calibrate.CalibrationSummary | None = None
    cross_probs: np.ndarray | None = None
    error: str | None = None


_CACHE: dict = {}  # (id(oof), kind) -> (oof, Analysis); small, guarded by _LOCK
_LOCK = threading.Lock()
_CACHE_SIZE = 12


def analyse(oof, kind: str) -> Analysis:
    """The :class:`Analysis` of ``oof`` (an ``OutOfFold``) for ``kind`` (cached)."""
    if kind not in CHOICES:
        raise ValueError(f"unknown recalibration choice {kind!r}")
    key = (id(oof), kind)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is oof:
            return hit[1]
    result = _analyse(oof, kind)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = (oof, result)
    return result


def _analyse(oof, kind: str) -> Analysis:
    probs, labels = oof.probs, oof.labels
    before = calibrate.calibration_summary(probs, labels, BINS)
    if kind == "none":
        return Analysis(kind, before)
    try:
        recal = calibrate.fit_recalibration(kind, probs, labels)
        cross = cross_fitted(kind, probs, labels, oof.scores)
    except UserError as exc:
        return Analysis(kind, before, error=str(exc))
    return Analysis(kind, before, recal, calibrate.calibration_summary(recal.apply(probs), labels, BINS),
                    calibrate.calibration_summary(cross, labels, BINS), cross)


@dataclass(frozen=True, eq=False)
class CurveSet:
    """What the decision curve shows for the active model.

    Attributes
    ----------
    main : decision.DecisionCurve
        Of the active model on the evidence: the network's own out-of-fold
        probabilities, or, for a recalibrated model, the cross-fitted recalibrated ones.
    main_probs : ndarray (R, n)
        The probabilities ``main`` is made of (for the readout at any threshold).
    main_label : str
    other : decision.DecisionCurve or None
        A comparison drawn dotted: the network without its recalibration, or with the
        recalibration chosen but not applied.
    other_probs : ndarray (R, n) or None
    other_label : str
    labels : ndarray (n,)
    note : str
        Why ``other`` is missing when it could not be made ("" otherwise).
    """

    main: decision.DecisionCurve
    main_probs: np.ndarray
    main_label: str
    other: decision.DecisionCurve | None
    other_probs: np.ndarray | None
    other_label: str
    labels: np.ndarray
    note: str = ""


def curves(oof, model_kind: str, chosen_kind: str) -> CurveSet:
    """The decision curves of a model recalibrated by ``model_kind`` ("none" for none),
    with the network alone (or ``chosen_kind``, not applied) beside it."""
    labels = oof.labels
    raw = oof.probs
    note = ""
    if model_kind != "none":
        a = analyse(oof, model_kind)
        if a.cross_probs is None:  # cannot be cross-fitted here: show the network, say why
            main_probs, main_label = raw, "network (its recalibration could not be checked)"
            note = a.error or ""
            other_probs, other_label = None, ""
        else:
            main_probs = a.cross_probs
            main_label = f"model, {SHORT_LABELS[model_kind]} recalibrated (cross-fitted)"
            other_probs, other_label = raw, "network without recalibration"
    else:
        main_probs, main_label = raw, "model"
        other_probs, other_label = None, ""
        if chosen_kind != "none":
            a = analyse(oof, chosen_kind)
            if a.cross_probs is not None:
                other_probs = a.cross_probs
                other_label = f"with {SHORT_LABELS[chosen_kind]} (cross-fitted, not applied)"
            else:
                note = a.error or ""
    return CurveSet(decision.decision_curve(main_probs, labels), main_probs, main_label,
                    None if other_probs is None else decision.decision_curve(other_probs, labels),
                    other_probs, other_label, labels, note)


@dataclass(frozen=True)
class Readout:
    """The decision curve at one threshold: net benefit of the model (mean over the
    repeats, and their lowest and highest), of treating all, and the net interventions
    avoided per 100 patients compared with treating all."""

    threshold: float
    net_benefit: float
    low: float
    high: float
    treat_all: float
    avoided_per_100: float
    repeats: int


def readout(probs: np.ndarray, labels: np.ndarray, threshold: float) -> Readout:
    """:class:`Readout` at ``threshold`` (any value strictly inside (0, 1))."""
    dc = decision.decision_curve(probs, labels, thresholds=[float(threshold)])
    return Readout(float(threshold), float(dc.model_mean[0]), float(dc.model_min[0]), float(dc.model_max[0]),
                   float(dc.treat_all[0]), float(dc.interventions_avoided_mean[0]), dc.repeats)
