"""Out-of-fold evidence: the store the Threshold tab, the interval and the model card share.

For a model's own settings, :func:`compute` runs the repeated, duplicate-aware
cross-validation of :func:`evaluation.cross_validate` over every row of the training
data and keeps, for each repeat, the probability each row got from the one network that
did not see it. :class:`OutOfFold` holds them with the rows' labels and scores; it is
saved in the model file (``oof_probs`` (R, n), ``oof_labels`` (n,), ``oof_scores``
(n, 9)) and is:

- the default evidence for choosing a threshold (all R x n pairs);
- the calibration pairs of the model's Venn-Abers interval (:meth:`OutOfFold.pairs`:
  each row once, its probability averaged over the repeats, so the interval counts
  n cases, not R x n);
- the cross-validated figures of the model card.

No sample id is kept: the rows are known by their position in the training data and
by their nine scores.

Only NumPy is imported here (``persistence`` reads the store at start-up).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["OutOfFold", "Evidence", "compute", "from_cv", "evidence_of", "EVIDENCE_KIND"]

EVIDENCE_KIND = "out-of-fold"
_MAX_REPEATS = 100
#: Rows whose out-of-fold evidence a model keeps (the bundled data have 683): bounds what
#: a model file may hold and what its interval's fit costs.
MAX_ROWS = 100_000


@dataclasses.dataclass(frozen=True, eq=False)
class OutOfFold:
    """Out-of-fold probabilities of every row of a model's training data.

    Attributes
    ----------
    probs : ndarray (R, n) float64
        ``probs[r, i]``: row ``i``'s probability in repeat ``r``, from the fold's network
        that did not see row ``i``.
    labels : ndarray (n,) int8
        0 benign, 1 malignant.
    scores : ndarray (n, 9) int8
        The rows' nine scores (1..10), in the data's order.
    folds, repeats, seed : int
        ``folds``-fold cross-validation repeated ``repeats`` times, folds from ``seed``.
    grouped : bool
        Identical score vectors kept in one fold.
    figures : dict
        The cross-validation's figures (``CVResult.to_dict()`` without ``settings``).
    data_sha256 : str or None
        SHA-256 of the data file the rows came from, when known: the evidence belongs
        to those rows (line numbers and sample ids can be looked up in that file).
    """

    probs: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    folds: int
    repeats: int
    seed: int
    grouped: bool = True
    figures: dict = dataclasses.field(default_factory=dict)
    data_sha256: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        probs = np.array(self.probs, dtype=np.float64, ndmin=2, copy=True)
        labels = np.asarray(self.labels).reshape(-1)
        scores = np.asarray(self.scores)
        problem = _problem(probs, labels, scores, self.folds, self.repeats, self.seed)
        if problem:
            raise ValueError(problem)
        set_(self, "probs", probs)
        set_(self, "labels", labels.astype(np.int8))
        set_(self, "scores", scores.astype(np.int8))
        for a in (self.probs, self.labels, self.scores):
            a.setflags(write=False)

    @property
    def n(self) -> int:
        """Rows."""
        return int(self.labels.size)

    @property
    def prevalence(self) -> float:
        """Fraction of the rows that are malignant."""
        return float(self.labels.mean()) if self.n else math.nan

    def mean_probs(self) -> np.ndarray:
        """(n,): each row's probability averaged over the repeats."""
        return self.probs.mean(axis=0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The calibration pairs: (mean probability (n,), label (n,)), each row once."""
        return self.mean_probs(), self.labels

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (probability, label) pair of every repeat: ((R * n,), (R * n,))."""
        return self.probs.reshape(-1), np.tile(self.labels, self.repeats)

    def describe(self) -> str:
        """E.g. "out-of-fold predictions of 683 rows x 5 repeats (10-fold, grouped)"."""
        return (f"out-of-fold predictions of {self.n:,} rows x {self.repeats} "
                f"repeat{'s' if self.repeats != 1 else ''} ({self.folds}-fold"
                f"{', duplicates kept together' if self.grouped else ''})")

    def __repr__(self) -> str:
        return (f"OutOfFold(n={self.n}, repeats={self.repeats}, folds={self.folds}, "
                f"seed={self.seed}, grouped={self.grouped})")

    # ------------------------------------------------------------ file form
    def to_stored(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(metadata, arrays) for the model file."""
        meta = {"folds": int(self.folds), "repeats": int(self.repeats), "seed": int(self.seed),
                "grouped": bool(self.grouped), "figures": self.figures, "data_sha256": self.data_sha256}
        arrays = {"oof_probs": np.ascontiguousarray(self.probs),
                  "oof_labels": np.ascontiguousarray(self.labels),
                  "oof_scores": np.ascontiguousarray(self.scores)}
        return meta, arrays

    @classmethod
    def from_stored(cls, meta, arrays: dict[str, np.ndarray]) -> OutOfFold:
        """Inverse of :meth:`to_stored`; ValueError with a short reason for anything
        that does not make sense (wrong types, shapes, values)."""
        if not isinstance(meta, dict):
            raise ValueError("its out-of-fold description is not an object")
        for key in ("folds", "repeats", "seed"):
            v = meta.get(key)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"its out-of-fold {key} is not a whole number")
        if not isinstance(meta.get("grouped"), bool):
            raise ValueError("its out-of-fold 'grouped' is not true or false")
        if not isinstance(meta.get("figures", {}), dict):
            raise ValueError("its out-of-fold figures are not an object")
        sha = meta.get("data_sha256")
        if sha is not None and not (isinstance(sha, str) and len(sha) <= 128):
            raise ValueError("its out-of-fold data_sha256 is not a hash")
        names = ("oof_probs", "oof_labels", "oof_scores")
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ValueError(f"array {missing[0]} is missing")
        probs, labels, scores = (arrays[name] for name in names)
        for name, a, dtype in zip(names, (probs, labels, scores), (np.float64, np.int8, np.int8)):
            if a.dtype != dtype:
                raise ValueError(f"array {name} is {a.dtype}, not {np.dtype(dtype)}")
        if probs.ndim != 2 or labels.ndim != 1 or scores.ndim != 2:
            raise ValueError("the out-of-fold arrays have the wrong number of dimensions")
        return cls(probs, labels, scores, meta["folds"], meta["repeats"], meta["seed"],
                   meta["grouped"], dict(meta.get("figures", {})), sha)


def _problem(probs, labels, scores, folds, repeats, seed) -> str | None:
    if probs.ndim != 2:
        return "out-of-fold probabilities must be (repeats, rows)"
    r, n = probs.shape
    if n == 0 or r == 0:
        return "no out-of-fold predictions"
    if n > MAX_ROWS:
        return f"out-of-fold evidence of {n:,} rows, more than the {MAX_ROWS:,} a model keeps"
    if not (isinstance(repeats, int) and 1 <= repeats <= _MAX_REPEATS and repeats == r):
        return f"out-of-fold repeats {repeats!r} do not match the {r} rows of probabilities"
    if not (isinstance(folds, int) and 2 <= folds <= n):
        return f"out-of-fold folds {folds!r} is not between 2 and the number of rows"
    if not isinstance(seed, int):
        return "out-of-fold seed is not a whole number"
    if labels.shape != (n,):
        return "out-of-fold labels do not match the probabilities"
    if scores.shape != (n, 9):
        return "out-of-fold scores are not nine a row for each row"
    if not np.all(np.isfinite(probs) & (probs >= 0.0) & (probs <= 1.0)):
        return "out-of-fold probabilities hold values outside 0..1"
    if not np.isin(labels, (0, 1)).all():
        return "out-of-fold labels hold values other than 0 and 1"
    if not np.all((scores >= 1) & (scores <= 10) & (scores == np.round(scores))):
        return "out-of-fold scores hold values that are not whole numbers 1 to 10"
    return None


def from_cv(result, X, data_sha256: str | None = None) -> OutOfFold:
    """The store of an :class:`evaluation.CVResult` over the raw scores ``X`` (n, 9)."""
    figures = {k: v for k, v in result.to_dict().items() if k != "settings"}
    return OutOfFold(result.oof_all, result.labels, np.asarray(X, dtype=np.float64),
                     result.folds, result.repeats, int(result.seed), bool(result.grouped), figures,
                     data_sha256)


def compute(X, y, config, *, folds: int | None = None, repeats: int | None = None,
            seed: int | None = None, progress=None, cancel=None,
            data_sha256: str | None = None, threads: int | None = None) -> OutOfFold:
    """Cross-validate ``config`` (duplicate-aware, every row of ``X`` held out once a
    repeat) and keep the out-of-fold predictions.

    Parameters
    ----------
    X : array (n, 9) of raw scores
    y : array (n,) of 0/1
    config : training.TrainConfig
        The model's settings; the fold networks start from ``config.seed``.
    folds, repeats : int, optional
        Default ``evaluation.DEFAULT_FOLDS`` and ``DEFAULT_REPEATS`` (10 and 5).
    seed : int, optional
        Chooses the folds; default ``config.seed`` (so a model's evidence follows from
        its own settings, and no seed is chosen by its result).
    progress, cancel
        As :func:`evaluation.cross_validate`.
    data_sha256 : str, optional
        Of the file ``X`` came from (kept on the result).
    threads : int, optional
        As :func:`evaluation.cross_validate` (the window asks for one, so that the
        cross-validation after a training run leaves a core to the window).
    """
    from . import evaluation
    from .errors import UserError

    if len(y) > MAX_ROWS:
        raise UserError(f"A model keeps out-of-fold evidence (its calibration pairs) for at most "
                        f"{MAX_ROWS:,} rows; these data have {len(y):,}.")
    result = evaluation.cross_validate(
        X, y, config,
        folds=evaluation.DEFAULT_FOLDS if folds is None else folds,
        repeats=evaluation.DEFAULT_REPEATS if repeats is None else repeats,
        seed=int(config.seed if seed is None else seed), progress=progress, cancel=cancel,
        threads=threads)
    return from_cv(result, X, data_sha256)


@dataclasses.dataclass(frozen=True, eq=False)
class Evidence:
    """The held-out probabilities a threshold is judged on, as the model gives them.

    Attributes
    ----------
    probs : ndarray (R, n)
        After the model's recalibration, if it has one (thresholds apply to the
        probabilities the model gives).
    labels : ndarray (n,) int8
    kind : {"out-of-fold", "validation"}
    description : str
        E.g. "out-of-fold predictions of 683 rows x 5 repeats (10-fold, duplicates
        kept together)" or "the validation split's 137 rows".
    oof : OutOfFold or None
        The store behind out-of-fold evidence (its rows' scores, data hash).
    """

    probs: np.ndarray
    labels: np.ndarray
    kind: str
    description: str
    oof: OutOfFold | None = None

    @property
    def n(self) -> int:
        return int(self.labels.size)

    @property
    def repeats(self) -> int:
        return int(self.probs.shape[0])


def evidence_of(bundle, kind: str | None = None) -> Evidence | None:
    """The model's evidence of ``kind`` ("out-of-fold", "validation", or None for the
    best it has: out-of-fold when present), or None when it has none of that kind."""
    oof = getattr(bundle, "oof", None)
    if kind is None:
        kind = EVIDENCE_KIND if oof is not None else "validation"
    if kind == EVIDENCE_KIND:
        if oof is None:
            return None
        probs, labels, text, store = oof.probs, oof.labels, oof.describe(), oof
    elif kind == "validation":
        probs = getattr(bundle, "eval_probs", None)
        if probs is None:
            return None
        labels = bundle.eval_labels
        text = (f"{labels.size:,} out-of-fold predictions (one repeat)" if bundle.eval_kind == EVIDENCE_KIND
                else f"the {labels.size:,} rows of the validation split (one split)")
        store = None
        probs = np.asarray(probs, dtype=np.float64)[None, :]
    else:
        raise ValueError(f"kind must be 'out-of-fold' or 'validation', got {kind!r}")
    recal = getattr(bundle, "recalibration", None)
    if recal is not None:
        probs = recal.apply(probs.reshape(-1)).reshape(probs.shape)
        # the recalibration was fitted on these very pairs: figures that depend on the
        # probabilities' values (not only their order) flatter it
        text += f", recalibrated on these same pairs (optimistic: {recal.describe()})"
    return Evidence(np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int8), kind, text, store)
