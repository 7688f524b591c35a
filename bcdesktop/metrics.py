"""How well predicted probabilities separate benign (0) from malignant (1).

Conventions used throughout:

- ``y`` holds the true labels, 0 benign and 1 malignant, shape ``(n,)``.
- ``p`` holds the predicted probabilities of malignancy, shape ``(n,)``, in [0, 1].
- A case is *called malignant* when ``p >= threshold``.

Rates (accuracy, sensitivity, specificity, PPV, NPV) come with a 95% Wilson score
interval and the counts behind them. A rate whose denominator is zero (for example
the sensitivity of a set without malignant cases) is undefined: its value is NaN,
``to_dict`` writes it as ``null`` and :attr:`Rate.note` says why.

The per-threshold functions (:func:`confusion`, :func:`metrics_at`, :func:`sweep`,
:func:`threshold_for_sensitivity`) and the ROC curve (:func:`roc_curve_auc`) are plain
NumPy so the GUI can call them on its own thread; :func:`auc`, :func:`brier` and
:func:`calibration` import scikit-learn when first called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The decision thresholds a user can choose, in the window and on the command line.
THRESHOLD_MIN, THRESHOLD_MAX = 0.01, 0.99
#: The threshold a new model is given unless one is chosen.
DEFAULT_THRESHOLD = 0.5


def threshold_at_6_decimals(threshold) -> float:
    """The threshold as the app uses it and writes it: rounded to 6 decimals (UserError
    unless strictly between 0 and 1 then). ``score`` and ``predict`` share it (here,
    so that ``predict`` need not import the scoring module for it)."""
    return threshold_micro(threshold) / 1e6


def threshold_micro(threshold) -> int:
    """The threshold in whole millionths, as the file writes it (UserError unless it is
    strictly between 0 and 1 at 6 decimals)."""
    from .errors import UserError

    t = float(threshold)
    if not 0.0 < t < 1.0:
        raise UserError(f"The threshold must lie between 0 and 1 (exclusive), got {t:.10g}.")
    micro = int(np.rint(t * 1e6))
    if not 0 < micro < 1_000_000:
        raise UserError(f"The threshold {t:.10g} rounds to {micro / 1e6:g} at the 6 decimals the "
                        "scored file writes; use a threshold from 0.000001 to 0.999999.")
    return micro


#: Two-sided 95% standard-normal quantile, ``scipy.stats.norm.ppf(0.975)``.
Z_95 = 1.959963984540054


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and probabilities; return ``(y bool (n,), p float64 (n,))``."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"y and p must be 1-D of the same length, got {y.shape} and {p.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("y must contain only 0 (benign) and 1 (malignant)")
    if p.size and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise ValueError("p must contain finite probabilities in [0, 1]")
    return y.astype(bool), p


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``.
    z : float
        Normal quantile; the default gives a 95% interval.

    Returns
    -------
    (low, high) : tuple of float
        Within [0, 1]; ``(nan, nan)`` when ``n == 0``. ``low`` is exactly 0 when
        ``k == 0`` and ``high`` exactly 1 when ``k == n``.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    phat = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (phat + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(phat * (1.0 - phat) / n + z2 / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def finite_or_none(x) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite: JSON has no NaN, and
    an undefined rate (e.g. the sensitivity of a set without malignant cases) is null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def format_percent(value, digits: int = 1) -> str:
    """A proportion for a person: ``0.952`` as ``"95.2%"``; "n/a" when it is None or NaN."""
    if value is None or value != value:
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def format_rate(rate) -> str:
    """A :class:`Rate` (or a bare proportion) for a person: ``"95.2% (91.0-97.5%)"``
    with its interval, the value alone when there is none, "n/a" when undefined."""
    value = getattr(rate, "value", rate)
    if value is None or value != value:
        return "n/a"
    low, high = getattr(rate, "low", None), getattr(rate, "high", None)
    if low is None or high is None:
        return format_percent(value)
    return f"{format_percent(value)} ({100 * low:.1f}-{100 * high:.1f}%)"


@dataclass(frozen=True)
class Rate:
    """A proportion ``k / n`` with its 95% Wilson interval.

    ``value``, ``low`` and ``high`` are NaN when ``n == 0``; ``note`` then says why
    the rate is undefined (e.g. "no malignant cases").
    """

    value: float
    low: float
    high: float
    k: int
    n: int
    note: str | None = None

    @classmethod
    def of(cls, k: int, n: int, undefined_note: str) -> Rate:
        k, n = int(k), int(n)
        low, high = wilson_interval(k, n)
        if n == 0:
            return cls(math.nan, low, high, k, n, undefined_note)
        return cls(k / n, low, high, k, n, None)

    @property
    def defined(self) -> bool:
        return self.n > 0

    def __str__(self) -> str:
        if not self.defined:
            return f"n/a ({self.note})"
        return f"{self.value:.3f} (95% CI {self.low:.3f}-{self.high:.3f}; {self.k}/{self.n})"

    def __repr__(self) -> str:
        return f"Rate({self})"


_RATE_NAMES = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True)
class Confusion:
    """Counts at one threshold: true/false positives/negatives (positive = malignant)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


@dataclass(frozen=True)
class ThresholdMetrics:
    """Everything about the calls at one threshold.

    Attributes
    ----------
    threshold : float
    tp, fp, tn, fn : int
    accuracy, sensitivity, specificity, ppv, npv : Rate
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: Rate
    sensitivity: Rate
    specificity: Rate
    ppv: Rate
    npv: Rate

    @property
    def n(self) -> int:
        return self.confusion.n

    @property
    def confusion(self) -> Confusion:
        return Confusion(self.tp, self.fp, self.tn, self.fn)

    def to_dict(self) -> dict:
        """JSON-ready: each rate as a number (``null`` when undefined) plus
        ``<rate>_ci`` ``[low, high]``; counts; ``notes`` for undefined rates."""
        out: dict = {"threshold": float(self.threshold), "n": self.n,
                     "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}
        notes = {}
        for name in _RATE_NAMES:
            rate: Rate = getattr(self, name)
            out[name] = finite_or_none(rate.value)
            out[f"{name}_ci"] = [finite_or_none(rate.low), finite_or_none(rate.high)]
            if rate.note:
                notes[name] = rate.note
        if notes:
            out["notes"] = notes
        return out

    def extra(self) -> dict[str, float]:
        """F1, Matthews correlation and Cohen's kappa of these counts (NaN where
        undefined; :func:`finite_or_none` turns NaN into JSON's null).

        Returns
        -------
        dict
            ``{"f1": float, "mcc": float, "kappa": float}``; see
            :func:`f1_from_counts`, :func:`mcc_from_counts`, :func:`kappa_from_counts`.
        """
        counts = (self.tp, self.fp, self.tn, self.fn)
        return {"f1": f1_from_counts(*counts), "mcc": mcc_from_counts(*counts),
                "kappa": kappa_from_counts(*counts)}

    def __repr__(self) -> str:
        return (f"ThresholdMetrics(threshold={self.threshold:g}, n={self.n}, "
                f"tp={self.tp}, fp={self.fp}, tn={self.tn}, fn={self.fn}, "
                f"accuracy={_fmt(self.accuracy)}, sensitivity={_fmt(self.sensitivity)}, "
                f"specificity={_fmt(self.specificity)})")


def _fmt(rate: Rate) -> str:
    return "n/a" if not rate.defined else f"{rate.value:.3f}"


def confusion(y, p, threshold: float) -> Confusion:
    """Confusion counts when cases with ``p >= threshold`` are called malignant."""
    y, p = _check(y, p)
    called = p >= threshold
    tp = int(np.count_nonzero(called & y))
    fp = int(np.count_nonzero(called & ~y))
    fn = int(np.count_nonzero(y)) - tp
    tn = int(y.size) - tp - fp - fn
    return Confusion(tp, fp, tn, fn)


def metrics_at(y, p, threshold: float) -> ThresholdMetrics:
    """Accuracy, sensitivity, specificity, PPV and NPV at ``threshold``, each with
    its 95% Wilson interval.

    Parameters
    ----------
    y : array (n,) of 0/1
    p : array (n,) of probabilities in [0, 1]
    threshold : float
        Cases with ``p >= threshold`` are called malignant.
    """
    c = confusion(y, p, threshold)
    return metrics_from_counts(c.tp, c.fp, c.tn, c.fn, threshold)


def metrics_from_counts(tp: int, fp: int, tn: int, fn: int, threshold: float) -> ThresholdMetrics:
    """:func:`metrics_at` from confusion counts (e.g. accumulated chunk by chunk).

    Parameters
    ----------
    tp, fp, tn, fn : int
        True/false positives/negatives, positive = called malignant at ``threshold``.
    threshold : float
        The threshold the counts were taken at (recorded on the result).
    """
    tp, fp, tn, fn = int(tp), int(fp), int(tn), int(fn)
    return ThresholdMetrics(
        threshold=float(threshold), tp=tp, fp=fp, tn=tn, fn=fn,
        accuracy=Rate.of(tp + tn, tp + fp + tn + fn, "no cases"),
        sensitivity=Rate.of(tp, tp + fn, "no malignant cases"),
        specificity=Rate.of(tn, tn + fp, "no benign cases"),
        ppv=Rate.of(tp, tp + fp, "no case is called malignant at this threshold"),
        npv=Rate.of(tn, tn + fn, "no case is called benign at this threshold"),
    )


def _check_counts(tp, fp, tn, fn) -> tuple[int, int, int, int]:
    counts = tuple(int(c) for c in (tp, fp, tn, fn))
    if min(counts) < 0:
        raise ValueError(f"confusion counts must be >= 0, got tp, fp, tn, fn = {counts}")
    return counts  # type: ignore[return-value]


def f1_from_counts(tp: int, fp: int, tn: int, fn: int) -> float:
    """F1 score, the harmonic mean of sensitivity and PPV: ``2 tp / (2 tp + fp + fn)``.

    ``tn`` is accepted for a uniform signature and does not enter. NaN when
    ``2 tp + fp + fn == 0`` (no malignant case and none called malignant), where
    scikit-learn's ``f1_score`` warns and returns 0.
    """
    tp, fp, tn, fn = _check_counts(tp, fp, tn, fn)
    denom = 2 * tp + fp + fn
    return math.nan if denom == 0 else 2 * tp / denom


def mcc_from_counts(tp: int, fp: int, tn: int, fn: int) -> float:
    """Matthews correlation coefficient, in [-1, 1]:
    ``(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``.

    NaN when any of the four margins is zero (one class absent, or every case called
    the same way), where scikit-learn's ``matthews_corrcoef`` returns 0. The products
    are taken in Python integers, exact for any count.
    """
    tp, fp, tn, fn = _check_counts(tp, fp, tn, fn)
    margins = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if margins == 0:
        return math.nan
    return (tp * tn - fp * fn) / math.sqrt(margins)


def kappa_from_counts(tp: int, fp: int, tn: int, fn: int) -> float:
    """Cohen's kappa between the calls and the truth: ``(po - pe) / (1 - pe)`` with
    observed agreement ``po = (tp + tn) / n`` and chance agreement
    ``pe = ((tp + fp)(tp + fn) + (tn + fn)(tn + fp)) / n**2``.

    NaN when ``n == 0`` or ``pe == 1`` (truth and calls both all one class).
    """
    tp, fp, tn, fn = _check_counts(tp, fp, tn, fn)
    n = tp + fp + tn + fn
    if n == 0:
        return math.nan
    chance = (tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)  # pe * n**2, exact
    if chance == n * n:
        return math.nan
    return ((tp + tn) * n - chance) / (n * n - chance)


#: Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before the logarithm.
LOG_LOSS_EPS = 1e-15


def log_loss(y, p, eps: float = LOG_LOSS_EPS) -> float:
    """Mean negative log-likelihood (cross-entropy) of the probabilities, natural log:
    ``-mean(y log p + (1 - y) log(1 - p))``, lower is better (0.693 for always 0.5).

    Parameters
    ----------
    y : array (n,) of 0/1
    p : array (n,) of probabilities in [0, 1]
        Clipped to ``[eps, 1 - eps]`` first, so a confident mistake costs
        ``-log(eps)`` (34.5 at the default) instead of infinity.

    Returns
    -------
    float
        NaN for empty input. Agrees with ``sklearn.metrics.log_loss`` away from the
        clip (scikit-learn clips at the float64 machine epsilon).
    """
    y, p = _check(y, p)
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    if y.size == 0:
        return math.nan
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


@dataclass(frozen=True)
class Sweep:
    """Metrics at many thresholds at once; every attribute is an array ``(m,)``.

    Rates are NaN where their denominator is zero.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    accuracy: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    ppv: np.ndarray
    npv: np.ndarray

    def __len__(self) -> int:
        return int(self.thresholds.size)

    def __repr__(self) -> str:
        t = self.thresholds
        span = f" {t.min():g}..{t.max():g}" if t.size else ""
        return f"Sweep({t.size} thresholds{span})"


def _ratio(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.full(k.shape, np.nan)
    np.divide(k, n, out=out, where=n > 0)
    return out


def sweep(y, p, thresholds=None) -> Sweep:
    """Counts and rates at each of ``thresholds`` (default 0, 0.01, ..., 1).

    Vectorised with sorted search, O((n + m) log n): a few hundred rows and a
    hundred thresholds take well under a millisecond.
    """
    y, p = _check(y, p)
    t = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError("thresholds must be 1-D")
    pos = np.sort(p[y])
    neg = np.sort(p[~y])
    # count of scores >= t = total - count of scores < t
    tp = pos.size - np.searchsorted(pos, t, side="left")
    fp = neg.size - np.searchsorted(neg, t, side="left")
    fn = pos.size - tp
    tn = neg.size - fp
    return Sweep(
        thresholds=t, tp=tp, fp=fp, tn=tn, fn=fn,
        accuracy=_ratio(tp + tn, np.full(t.shape, y.size)),
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        ppv=_ratio(tp, tp + fp),
        npv=_ratio(tn, tn + fn),
    )


def _malignant_probabilities(y, p) -> np.ndarray:
    """The malignant cases' probabilities, highest first; UserError when there are none."""
    from .errors import UserError

    y, p = _check(y, p)
    pos = np.sort(p[y])[::-1]
    if pos.size == 0:
        raise UserError("Cannot choose a threshold for a sensitivity: the evaluation data "
                        "contain no malignant cases. Use data with both classes.")
    return pos


def threshold_for_sensitivity(y, p, target: float) -> float:
    """The highest threshold whose sensitivity is at least ``target``.

    Sensitivity can only fall as the threshold rises and specificity can only rise,
    so this is the threshold with the best specificity that still meets the target.
    It is one of the malignant cases' probabilities (the ``ceil(target * n_pos)``-th
    highest): any higher threshold misses one more malignant case.

    Every target in (0, 1] is reachable when the data hold a malignant case, at
    worst with the lowest malignant probability (sensitivity 1). If that
    probability is 0, the threshold returned is 0 and every case is called
    malignant; callers that need a threshold strictly inside (0, 1) must check.

    Raises
    ------
    ValueError
        ``target`` outside (0, 1].
    bcdesktop.errors.UserError
        The data hold no malignant case, so sensitivity is undefined.
    """
    if not (0.0 < target <= 1.0):
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    pos = _malignant_probabilities(y, p)
    # smallest k with k / n_pos >= target; guard against k/n rounding just below target
    k = max(1, math.ceil(target * pos.size - 1e-9))
    while k / pos.size < target:
        k += 1
    return float(pos[k - 1])


def threshold_for_sensitivity_bound(y, p, target: float, z: float = Z_95) -> tuple[float | None, int]:
    """The highest threshold whose sensitivity's lower Wilson bound is at least ``target``.

    :func:`threshold_for_sensitivity` judges the threshold on the rows it was chosen
    on, so the sensitivity it reaches is optimistic: 48 of 48 malignant cases found is
    "100%", with a lower 95% bound of 92.6%. This asks more: keep the lower bound
    (``z``, 95% by default) at or above ``target``. The bound rises with the number of
    malignant cases found, so the answer is again one of the malignant probabilities
    (the ``k``-th highest, for the smallest ``k`` whose bound is high enough).

    Returns
    -------
    (threshold, k) : (float, int), or (None, n_pos)
        ``None`` when even finding every malignant case leaves the bound below
        ``target``: there are too few malignant cases to show it.

    Raises
    ------
    ValueError
        ``target`` outside (0, 1).
    bcdesktop.errors.UserError
        The data hold no malignant case.
    """
    if not (0.0 < target < 1.0):
        raise ValueError(f"target lower bound must be in (0, 1), got {target}")
    pos = _malignant_probabilities(y, p)
    n = int(pos.size)
    for k in range(1, n + 1):
        if wilson_interval(k, n, z)[0] >= target:
            return float(pos[k - 1]), k
    return None, n


def malignant_cases_needed(target: float, z: float = Z_95) -> int:
    """How many malignant cases, all found, it takes for the lower Wilson bound of the
    sensitivity to reach ``target`` (e.g. 99% needs 381, 90% needs 35)."""
    if not (0.0 < target < 1.0):
        raise ValueError(f"target lower bound must be in (0, 1), got {target}")
    n = 1
    while wilson_interval(n, n, z)[0] < target:
        n *= 2
    low, high = n // 2, n  # the bound at k = n rises with n: bisect
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (mid, high) if wilson_interval(mid, mid, z)[0] < target else (low, mid)
    return high


@dataclass(frozen=True)
class RocCurve:
    """ROC curve points ``(fpr, tpr)`` at ``thresholds`` (decreasing; the first is
    ``inf``), and the area under it (NaN when only one class is present)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float

    def __repr__(self) -> str:
        return f"RocCurve({self.fpr.size} points, auc={self.auc:.4f})"


_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2.0 has only trapz


def roc_curve_auc(y, p) -> RocCurve:
    """ROC curve at every distinct probability, from one :func:`sweep`, and its area.

    Plain NumPy (no scikit-learn import, so it is cheap on the GUI's thread). Every
    distinct probability is a point (scikit-learn's ``roc_curve`` drops collinear ones);
    the trapezoid area over them equals ``roc_auc_score``. With a single class present
    the curve is undefined: arrays are empty and ``auc`` is NaN.
    """
    y, p = _check(y, p)
    if y.all() or not y.any():
        empty = np.empty(0)
        return RocCurve(empty, empty, empty, math.nan)
    thresholds = np.concatenate(([np.inf], np.unique(p)[::-1]))
    s = sweep(y, p, thresholds)
    fpr, tpr = 1.0 - s.specificity, s.sensitivity
    return RocCurve(fpr, tpr, thresholds, float(_trapezoid(tpr, fpr)))


def auc(y, p) -> float:
    """Area under the ROC curve; NaN when only one class is present. The area of
    :func:`roc_curve_auc`'s curve, in NumPy (the same as scikit-learn's
    ``roc_auc_score``, pinned by tests/test_metrics.py), so no scikit-learn import
    (2-3.5 s) is needed."""
    return roc_curve_auc(y, p).auc


def brier(y, p) -> float:
    """Brier score, the mean squared error of the probabilities (lower is better;
    0.25 for always answering 0.5). NaN for empty input. (scikit-learn's
    ``brier_score_loss``, without its import.)"""
    y, p = _check(y, p)
    if y.size == 0:
        return math.nan
    return float(np.mean((y - p) ** 2))


@dataclass(frozen=True)
class Calibration:
    """Reliability-diagram data for the non-empty bins: mean predicted probability,
    observed fraction malignant and number of cases, each ``(k,)``."""

    predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    strategy: str

    def __repr__(self) -> str:
        return f"Calibration({self.counts.size} bins, {self.strategy}, n={int(self.counts.sum())})"


def calibration(y, p, bins: int = 10, strategy: str = "uniform") -> Calibration:
    """Calibration curve (scikit-learn's ``calibration_curve``) with bin counts.

    Parameters
    ----------
    bins : int
        Number of bins.
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1], or bins holding equal numbers of cases.
    """
    y, p = _check(y, p)
    if strategy not in ("uniform", "quantile"):
        raise ValueError("strategy must be 'uniform' or 'quantile'")
    if y.size == 0:
        empty = np.empty(0)
        return Calibration(empty, empty, np.empty(0, dtype=np.int64), strategy)
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y.astype(np.int8), p, n_bins=bins, strategy=strategy)
    # Same bin edges and assignment rule as scikit-learn, to report the counts.
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        edges = np.percentile(p, np.linspace(0.0, 100.0, bins + 1))
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    counts = counts[counts > 0]
    return Calibration(predicted, observed, counts, strategy)
