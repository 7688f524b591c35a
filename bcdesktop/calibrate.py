"""How far the probabilities can be taken at their word, and recalibrating them.

Evidence as in :mod:`bcdesktop.decision`: ``probs`` of shape ``(R, n)`` (R repeats of
cross-validation over the same n rows) or ``(n,)``, labels ``y`` (n,) of 0/1. Every
figure here pools the R * n (probability, label) pairs; the per-bin 95% Wilson
intervals are taken at the number of rows (``z * sqrt(R)`` on the pooled counts), as
the repeats re-use the same patients.

- :func:`calibration_summary`: reliability-diagram bins with intervals, calibration
  intercept and slope (logistic fits by Newton's method / IRLS in NumPy), Brier score
  and expected calibration error (ECE).
- :class:`Recalibration` and :func:`fit_recalibration`: Platt scaling or isotonic
  regression fitted on the out-of-fold pairs, stored as one float64 array plus JSON.

Plain NumPy at import; scikit-learn only inside :func:`fit_recalibration` for isotonic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import metrics
from .decision import as_evidence
from .errors import UserError

#: Probabilities are clipped to [P_CLIP, 1 - P_CLIP] before taking logits.
P_CLIP = 1e-12
#: The kinds of recalibration.
KINDS = ("platt", "isotonic")


def _pooled(probs, y) -> tuple[np.ndarray, np.ndarray, int, int]:
    p, y = as_evidence(probs, y)
    repeats, n = p.shape
    return p.ravel(), np.tile(y, repeats), n, repeats


def logit(p) -> np.ndarray:
    """``log(p / (1 - p))`` with p clipped to ``[P_CLIP, 1 - P_CLIP]`` (so at most +-27.6)."""
    p = np.clip(np.asarray(p, dtype=np.float64), P_CLIP, 1.0 - P_CLIP)
    return np.log(p) - np.log1p(-p)


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow (as ``(1 + tanh(x / 2)) / 2``)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


class _NoFit(Exception):
    """The logistic fit has no finite maximum (e.g. the classes are separated)."""


def logistic_fit(X, y, offset=None, max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood logistic regression by Newton's method (IRLS), no penalty:
    ``P(y = 1) = sigmoid(offset + X @ beta)``.

    Parameters
    ----------
    X : array (m, k)
        Design matrix (include a column of ones for an intercept).
    y : array (m,) of 0/1
    offset : array (m,), optional
        A fixed term with coefficient 1 (default 0).

    Returns
    -------
    beta : array (k,)

    Raises
    ------
    _NoFit
        No finite maximum: the Hessian is singular, the coefficients run away
        (separated classes) or Newton's method does not settle within ``max_iter``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    off = np.zeros(y.shape) if offset is None else np.asarray(offset, dtype=np.float64)
    beta = np.zeros(X.shape[1])

    def loglik(b):
        eta = off + X @ b
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    ll = loglik(beta)
    for _ in range(max_iter):
        mu = sigmoid(off + X @ beta)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * (mu * (1.0 - mu))[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            raise _NoFit("singular information matrix") from None
        if not np.isfinite(step).all():
            raise _NoFit("non-finite Newton step")
        # step halving: never accept a step that lowers the likelihood
        for _ in range(30):
            new = beta + step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, ll = new, ll_new
        if np.abs(beta).max() > 1e4:
            raise _NoFit("coefficients diverge (separated classes)")
        if np.abs(step).max() < tol * (1.0 + np.abs(beta).max()):
            return beta
    raise _NoFit(f"no convergence in {max_iter} iterations")


# ---------------------------------------------------------------- summary
@dataclass(frozen=True)
class CalibrationBin:
    """One bin of a reliability diagram: probabilities in (low, high] (the first bin
    includes ``low``), how many pairs, their mean prediction, the observed fraction
    malignant and its 95% Wilson interval."""

    low: float
    high: float
    n: int
    predicted: float
    observed: float
    observed_ci: tuple[float, float]

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "n": self.n, "predicted": self.predicted,
                "observed": self.observed, "observed_ci": [self.observed_ci[0], self.observed_ci[1]]}

    def __repr__(self) -> str:
        lo, hi = self.observed_ci
        return (f"CalibrationBin({self.low:.3g}-{self.high:.3g}: n={self.n}, predicted {self.predicted:.3f}, "
                f"observed {self.observed:.3f} ({lo:.3f}-{hi:.3f}))")


@dataclass(frozen=True)
class CalibrationSummary:
    """Calibration of pooled out-of-fold predictions.

    Attributes
    ----------
    intercept : float
        Calibration-in-the-large: ``a`` in ``logit P(y=1) = a + logit(p)`` (slope fixed
        at 1). 0 when the mean prediction matches; > 0 when the model under-predicts.
        NaN when it cannot be fitted (one class only).
    slope : float
        ``b`` in ``logit P(y=1) = c + b * logit(p)``: 1 ideal, < 1 predictions too
        extreme, > 1 too timid. NaN when it cannot be fitted (one class, or the
        predictions separate the classes perfectly).
    ece : float
        Expected calibration error over ``bins`` uniform bins:
        ``sum_b n_b / N * |observed_b - predicted_b|``.
    brier : float
        Mean of ``(p - y)**2``.
    bins : tuple of CalibrationBin
        The non-empty bins of ``strategy``.
    strategy : {"uniform", "quantile"}
    n, repeats : int
        Rows, and repeats pooled.
    """

    intercept: float
    slope: float
    ece: float
    brier: float
    bins: tuple[CalibrationBin, ...]
    strategy: str
    n: int
    repeats: int

    def to_dict(self) -> dict:
        """``{"intercept", "slope", "ece", "brier", "bins": [...]}``; null where undefined."""
        f = metrics.finite_or_none
        return {"intercept": f(self.intercept), "slope": f(self.slope), "ece": f(self.ece),
                "brier": f(self.brier), "bins": [b.to_dict() for b in self.bins]}

    def __repr__(self) -> str:
        return (f"CalibrationSummary(intercept={self.intercept:.4f}, slope={self.slope:.4f}, ece={self.ece:.4f}, "
                f"brier={self.brier:.4f}, {len(self.bins)} {self.strategy} bins, n={self.n} x {self.repeats})")


def _bin_edges(p: np.ndarray, bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        return np.arange(bins + 1) / bins  # exact k/bins, as the bins are named (0.3, not 0.30000000000000004)
    return np.percentile(p, np.linspace(0.0, 100.0, bins + 1))


def _binned(p, y, edges):
    """Counts, sums of p and of y per bin; the assignment of
    :func:`bcdesktop.metrics.calibration` (scikit-learn's ``calibration_curve``)."""
    k = edges.size - 1
    idx = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(idx, minlength=k)
    sum_p = np.bincount(idx, weights=p, minlength=k)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=k)
    return counts, sum_p, sum_y


def calibration_intercept(probs, y) -> float:
    """Calibration-in-the-large (see :attr:`CalibrationSummary.intercept`); NaN if unfittable."""
    pp, yy, _, _ = _pooled(probs, y)
    if yy.all() or not yy.any():
        return math.nan
    try:
        return float(logistic_fit(np.ones((pp.size, 1)), yy, offset=logit(pp))[0])
    except _NoFit:
        return math.nan


def calibration_slope(probs, y) -> float:
    """Calibration slope (see :attr:`CalibrationSummary.slope`); NaN if unfittable."""
    pp, yy, _, _ = _pooled(probs, y)
    ab = _platt_fit(pp, yy)
    return math.nan if ab is None else float(ab[0])


def _platt_fit(pp, yy) -> np.ndarray | None:
    """[a, b] of ``logit P(y=1) = a * logit(p) + b``, or None when there is no finite fit."""
    if yy.all() or not yy.any():
        return None
    z = logit(pp)
    try:
        return logistic_fit(np.column_stack((z, np.ones_like(z))), yy)
    except _NoFit:
        return None


def calibration_summary(probs, y, bins: int = 10, strategy: str = "uniform") -> CalibrationSummary:
    """Reliability diagram, calibration intercept and slope, Brier score and ECE.

    Parameters
    ----------
    probs : array (R, n) or (n,)
    y : array (n,) of 0/1
    bins : int
        Number of bins (>= 1); the ECE always uses this many uniform bins.
    strategy : {"uniform", "quantile"}
        Bins of the diagram: equal width on [0, 1], or equal numbers of pairs.
    """
    if strategy not in ("uniform", "quantile"):
        raise ValueError("strategy must be 'uniform' or 'quantile'")
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a whole number >= 1, got {bins}")
    bins = int(bins)
    pp, yy, n, repeats = _pooled(probs, y)
    z = metrics.Z_95 * math.sqrt(repeats)

    counts, sum_p, sum_y = _binned(pp, yy, _bin_edges(pp, bins, "uniform"))
    nz = counts > 0
    ece = float(np.sum(np.abs(sum_y[nz] - sum_p[nz])) / pp.size)  # sum n_b |obs_b - pred_b| / N

    edges = _bin_edges(pp, bins, strategy)
    if strategy != "uniform":
        counts, sum_p, sum_y = _binned(pp, yy, edges)
    out = []
    for i in np.flatnonzero(counts):
        c, k = int(counts[i]), int(round(sum_y[i]))
        out.append(CalibrationBin(float(edges[i]), float(edges[i + 1]), c, float(sum_p[i] / c), k / c,
                                  metrics.wilson_interval(k, c, z)))
    return CalibrationSummary(intercept=calibration_intercept(probs, y), slope=calibration_slope(probs, y),
                              ece=ece, brier=float(np.mean((pp - yy) ** 2)), bins=tuple(out), strategy=strategy,
                              n=n, repeats=repeats)


# ---------------------------------------------------------------- recalibration
def _check_params(kind, params) -> np.ndarray:
    """The parameters as a read-only float64 array, or ValueError with a short reason."""
    if kind not in KINDS:
        raise ValueError(f"unknown recalibration kind {kind!r}")
    arr = np.asarray(params)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"recalibration parameters must be numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)  # a copy
    if not np.isfinite(arr).all():
        raise ValueError("recalibration parameters are not all finite")
    if kind == "platt":
        if arr.shape != (2,):
            raise ValueError(f"Platt parameters must have shape (2,), got {arr.shape}")
        if not arr[0] > 0:
            raise ValueError("the Platt slope must be positive (the order of the probabilities kept)")
    else:
        if arr.ndim != 2 or arr.shape[0] != 2 or arr.shape[1] < 1:
            raise ValueError(f"isotonic parameters must have shape (2, k) with k >= 1, got {arr.shape}")
        x, v = arr
        if x.min() < 0 or x.max() > 1:
            raise ValueError("isotonic knots must lie in [0, 1]")
        if np.any(np.diff(x) <= 0):
            raise ValueError("isotonic knots must be strictly increasing")
        if v.min() < 0 or v.max() > 1:
            raise ValueError("isotonic values must lie in [0, 1]")
        if np.any(np.diff(v) < 0):
            raise ValueError("isotonic values must be non-decreasing")
    arr.flags.writeable = False
    return arr


def _count(meta, key) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"recalibration {key} must be a whole number >= 1, got {value!r}")
    return value


@dataclass(frozen=True, eq=False)
class Recalibration:
    """A map from the model's probabilities to recalibrated ones.

    Attributes
    ----------
    kind : {"platt", "isotonic"}
    params : float64 array, read-only
        ``"platt"``: shape (2,), ``[a, b]`` with ``p' = sigmoid(a * logit(p) + b)``
        (``a > 0``; p clipped to [1e-12, 1 - 1e-12] first).
        ``"isotonic"``: shape (2, k), knots ``x`` (strictly increasing, in [0, 1]) and
        values (non-decreasing, in [0, 1]); ``p'`` interpolates linearly between knots
        and is flat beyond the ends. :func:`fit_recalibration` keeps the values within
        half a case of 0 and 1 (a range where the fitted pairs were all benign or all
        malignant); a stored one may hold any value in [0, 1].
    n_pairs : int
        Pairs it was fitted on (rows x repeats).
    rows, repeats : int
    evidence : str
        What the pairs were, e.g. "out-of-fold".
    """

    kind: str
    params: np.ndarray
    n_pairs: int
    rows: int
    repeats: int = 1
    evidence: str = "out-of-fold"

    def __post_init__(self):
        object.__setattr__(self, "params", _check_params(self.kind, self.params))
        for key in ("n_pairs", "rows", "repeats"):
            _count({key: getattr(self, key)}, key)

    def apply(self, p) -> np.ndarray:
        """Recalibrated probabilities, the shape of ``p`` (any shape), float64.

        Vectorised (a million probabilities take milliseconds). ValueError unless
        every ``p`` is a finite number in [0, 1].
        """
        p = np.asarray(p, dtype=np.float64)
        if p.size and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
            raise ValueError("probabilities must be finite numbers in [0, 1]")
        if self.kind == "platt":
            a, b = self.params
            # sigmoid(a * logit(p) + b) in place, one log and one exp per value
            q = np.clip(np.atleast_1d(p), P_CLIP, 1.0 - P_CLIP)
            e = np.log(q / (1.0 - q))
            e *= -a
            e -= b
            np.clip(e, -700.0, 700.0, out=e)
            np.exp(e, out=e)
            e += 1.0
            return np.reciprocal(e, out=e).reshape(p.shape)
        x, v = self.params
        return np.interp(p, x, v)

    def describe(self) -> str:
        """E.g. "Platt scaling fitted on 3,415 out-of-fold predictions (683 rows x 5 repeats)"."""
        what = ("Platt scaling" if self.kind == "platt"
                else f"Isotonic regression ({self.params.shape[1]} knots)")
        rows = f" ({self.rows:,} rows x {self.repeats} repeats)" if self.repeats > 1 else ""
        return f"{what} fitted on {self.n_pairs:,} {self.evidence} predictions{rows}"

    def to_stored(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(meta, arrays)`` for the model file: meta JSON-ready, arrays
        ``{"recal_params": float64 array}``; :meth:`from_stored` reverses it."""
        meta = {"kind": self.kind, "n_pairs": self.n_pairs, "rows": self.rows, "repeats": self.repeats,
                "evidence": self.evidence}
        return meta, {"recal_params": np.array(self.params, dtype=np.float64)}

    @classmethod
    def from_stored(cls, meta, array) -> Recalibration:
        """Rebuild from :meth:`to_stored`'s meta and ``recal_params`` array.

        Raises
        ------
        ValueError
            With a short plain reason: meta not a mapping, unknown kind, counts missing
            or not whole numbers, parameters of the wrong shape or type, not finite,
            knots not increasing or values not non-decreasing, outside [0, 1].
        """
        if not isinstance(meta, Mapping):
            raise ValueError("recalibration metadata must be a mapping")
        kind = meta.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown recalibration kind {kind!r}")
        if array is None:
            raise ValueError("recalibration parameters are missing")
        evidence = meta.get("evidence", "out-of-fold")
        if not isinstance(evidence, str) or not evidence or len(evidence) > 40:
            raise ValueError("recalibration evidence must be a short text")
        n_pairs, rows, repeats = (_count(meta, k) for k in ("n_pairs", "rows", "repeats"))
        if n_pairs != rows * repeats:
            raise ValueError(f"recalibration n_pairs {n_pairs} is not rows x repeats ({rows} x {repeats})")
        return cls(kind, _check_params(kind, array), n_pairs, rows, repeats, evidence)

    def __repr__(self) -> str:
        if self.kind == "platt":
            a, b = self.params
            return f"Recalibration(platt a={a:.4f} b={b:.4f}; n_pairs={self.n_pairs})"
        return f"Recalibration(isotonic {self.params.shape[1]} knots; n_pairs={self.n_pairs})"


def fit_recalibration(kind: str, probs, y, *, evidence: str = "out-of-fold") -> Recalibration:
    """Fit a :class:`Recalibration` on all pooled (probability, label) pairs.

    ``"platt"``: logistic regression of y on logit(p) by IRLS (the calibration slope
    and its intercept). ``"isotonic"``: scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")``, its knots kept, its values kept within
    [0.5 / n, 1 - 0.5 / n] for n rows: a step of the fit over only benign (or only
    malignant) cases says "fewer than one in n", not a certain 0% (or 100%), which a
    patient must never be shown.

    Raises
    ------
    UserError
        Unknown kind; the evidence holds only one class; Platt scaling has no finite
        fit (the predictions separate the classes) or reverses their order.
    """
    if kind not in KINDS:
        raise UserError(f"Unknown recalibration '{kind}'; use 'platt' or 'isotonic'.")
    pp, yy, n, repeats = _pooled(probs, y)
    if yy.all() or not yy.any():
        which = "benign" if yy.all() else "malignant"
        raise UserError(f"Cannot fit a recalibration: the evidence contains no {which} cases.")
    if kind == "platt":
        ab = _platt_fit(pp, yy)
        if ab is None:
            raise UserError("Cannot fit Platt scaling: the predictions separate the classes perfectly, "
                            "so no finite fit exists. Use isotonic recalibration, or none.")
        if not ab[0] > 0:
            raise UserError("Platt scaling would reverse the order of the probabilities (the model ranks "
                            "cases worse than chance on this evidence); it is not applied.")
        params = ab
    else:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(pp, yy.astype(np.float64))
        floor = 0.5 / n
        params = np.vstack((iso.X_thresholds_, np.clip(iso.y_thresholds_, floor, 1.0 - floor)))
    return Recalibration(kind, params, pp.size, n, repeats, evidence)


def before_after(probs, y, recalibration: Recalibration, bins: int = 10,
                 strategy: str = "uniform") -> tuple[CalibrationSummary, CalibrationSummary]:
    """The :func:`calibration_summary` of the evidence before and after ``recalibration``
    (on the pairs it was fitted on, so "after" flatters it)."""
    p, y = as_evidence(probs, y)
    return (calibration_summary(p, y, bins, strategy),
            calibration_summary(recalibration.apply(p), y, bins, strategy))
