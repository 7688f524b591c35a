"""Choosing a threshold like a clinician: prevalence, costs, net benefit, and rules.

The evidence is a set of out-of-fold predictions: ``probs`` of shape ``(R, n)``, the
probabilities that R repeats of cross-validation gave the same n rows (each row
predicted by a model that did not see it), or ``(n,)`` for one split (R = 1, e.g. a
validation set); ``y`` holds the n true labels, 0 benign and 1 malignant. A case is
called malignant when ``p >= threshold``, as everywhere in :mod:`bcdesktop.metrics`.

Pooling. Thresholds are chosen on, and counts summed over, all R * n (probability,
label) pairs. Sensitivity, specificity and accuracy pooled this way equal their means
over the repeats (every repeat has the same denominators). The repeats re-use the same
patients, though, so they are not R times the evidence: every interval here is taken at
the number of rows, a Wilson interval with ``z * sqrt(R)`` on the pooled counts, which
is exactly the Wilson interval of the mean counts (``k / R`` of ``n / R``). With R = 1
this is the ordinary Wilson interval, and ``(1, n)`` input gives what ``(n,)`` gives.

Plain NumPy, no scikit-learn, so the GUI may call it on its own thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import metrics
from .errors import UserError

#: The thresholds of a decision curve, 0.01 .. 0.99: exactly k / 100, no float drift.
CURVE_THRESHOLDS = np.arange(1, 100) / 100.0

#: The rules :func:`choose_threshold` knows.
RULES = ("sensitivity", "sensitivity_bound", "specificity", "youden", "cost")

_MICRO = 1_000_000


# ---------------------------------------------------------------- evidence
def as_evidence(probs, y) -> tuple[np.ndarray, np.ndarray]:
    """Check and normalise out-of-fold evidence.

    Parameters
    ----------
    probs : array (R, n) or (n,)
        Probabilities of malignancy in [0, 1]; ``(n,)`` is one repeat.
    y : array (n,) of 0/1

    Returns
    -------
    (probs, y) : (float64 array (R, n), bool array (n,))

    Raises
    ------
    ValueError
        Shapes that disagree, no rows, labels other than 0/1, or probabilities that
        are not finite numbers in [0, 1].
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if p.ndim == 1:
        p = p[np.newaxis, :]
    if p.ndim != 2 or y.ndim != 1 or p.shape[1] != y.shape[0]:
        raise ValueError(f"probs must be (R, n) or (n,) and y (n,), got {np.shape(probs)} and {y.shape}")
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"the evidence holds no predictions (shape {p.shape})")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must contain only 0 (benign) and 1 (malignant)")
    if not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise ValueError("probs must contain finite probabilities in [0, 1]")
    return p, y.astype(bool)


def _pooled(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All R * n pairs: ``(p.ravel() (R*n,), y tiled (R*n,))``."""
    return p.ravel(), np.tile(y, p.shape[0])


def _rows_phrase(n: int, repeats: int, evidence: str) -> str:
    if repeats == 1:
        return f"{n:,} {evidence} rows"
    return f"{n:,} {evidence} rows x {repeats} repeats"


def _pct(x: float) -> str:
    """0.98 -> "98%", 0.975 -> "97.5%" (no float noise such as 7.000000000000001)."""
    return f"{100 * x:.10g}%"


def pooled_metrics(tp: int, fp: int, tn: int, fn: int, threshold: float, repeats: int = 1) -> metrics.ThresholdMetrics:
    """:func:`bcdesktop.metrics.metrics_from_counts` for counts summed over ``repeats``
    repeats of the same rows: the same counts and point values, with each 95% Wilson
    interval taken at the number of rows (``z * sqrt(repeats)``; see the module notes).
    ``repeats=1`` gives exactly ``metrics_from_counts``."""
    if int(repeats) < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    base = metrics.metrics_from_counts(tp, fp, tn, fn, threshold)
    if repeats == 1:
        return base
    z = metrics.Z_95 * math.sqrt(repeats)
    rates = {}
    for name in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
        r: metrics.Rate = getattr(base, name)
        low, high = metrics.wilson_interval(r.k, r.n, z)
        rates[name] = metrics.Rate(r.value, low, high, r.k, r.n, r.note)
    return metrics.ThresholdMetrics(threshold=base.threshold, tp=base.tp, fp=base.fp, tn=base.tn,
                                    fn=base.fn, **rates)


def evidence_metrics(probs, y, threshold: float) -> metrics.ThresholdMetrics:
    """The pooled :class:`~bcdesktop.metrics.ThresholdMetrics` of the evidence at
    ``threshold`` (counts over all R * n pairs, intervals at n rows)."""
    p, y = as_evidence(probs, y)
    pp, yy = _pooled(p, y)
    c = metrics.confusion(yy, pp, threshold)
    return pooled_metrics(c.tp, c.fp, c.tn, c.fn, threshold, p.shape[0])


# ---------------------------------------------------------------- prevalence
def check_prevalence(prevalence) -> float:
    """``prevalence`` as a float strictly inside (0, 1), else a UserError saying so."""
    try:
        value = float(prevalence)
    except (TypeError, ValueError):
        raise UserError(f"The prevalence must be a number such as 0.05 (for 5%), got {prevalence!r}.") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise UserError(f"The prevalence must lie strictly between 0 and 1 (a fraction such as 0.05 "
                        f"for 5%), got {value:.10g}.")
    return value


@dataclass(frozen=True)
class Estimate:
    """A value with a 95% interval; NaN throughout when undefined."""

    value: float
    low: float
    high: float

    def to_list(self) -> list:
        return [metrics.finite_or_none(self.low), metrics.finite_or_none(self.high)]

    def __repr__(self) -> str:
        if math.isnan(self.value):
            return "Estimate(n/a)"
        return f"Estimate({self.value:.4f}, 95% CI {self.low:.4f}-{self.high:.4f})"


def _ppv(se, sp, pi):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(se * pi) / (se * pi + (1.0 - sp) * (1.0 - pi))


def _npv(se, sp, pi):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(sp * (1.0 - pi)) / (sp * (1.0 - pi) + (1.0 - se) * pi)


@dataclass(frozen=True)
class AtPrevalence:
    """PPV, NPV and expected counts per 1,000 patients at a prevalence.

    Attributes
    ----------
    prevalence : float
    sensitivity, specificity : float
        The rates they come from (NaN when undefined).
    ppv, npv : Estimate
    tp, fp, tn, fn : float
        Expected patients per 1,000 (they sum to 1,000 when both rates are defined).
    """

    prevalence: float
    sensitivity: float
    specificity: float
    ppv: Estimate
    npv: Estimate
    tp: float
    fp: float
    tn: float
    fn: float

    def to_dict(self) -> dict:
        """``{"prevalence", "ppv", "ppv_ci", "npv", "npv_ci", "per_1000": {tp, fp, tn, fn}}``
        with null for undefined values."""
        f = metrics.finite_or_none
        return {"prevalence": self.prevalence,
                "ppv": f(self.ppv.value), "ppv_ci": self.ppv.to_list(),
                "npv": f(self.npv.value), "npv_ci": self.npv.to_list(),
                "per_1000": {"tp": f(self.tp), "fp": f(self.fp), "tn": f(self.tn), "fn": f(self.fn)}}

    def __repr__(self) -> str:
        return (f"AtPrevalence(prevalence={self.prevalence:g}, ppv={self.ppv!r}, npv={self.npv!r}, "
                f"per 1000: tp={self.tp:.1f} fp={self.fp:.1f} tn={self.tn:.1f} fn={self.fn:.1f})")


def _as_metrics(metrics_or_counts) -> metrics.ThresholdMetrics:
    if isinstance(metrics_or_counts, metrics.ThresholdMetrics):
        return metrics_or_counts
    if isinstance(metrics_or_counts, metrics.Confusion):
        c = metrics_or_counts
        return metrics.metrics_from_counts(c.tp, c.fp, c.tn, c.fn, math.nan)
    if isinstance(metrics_or_counts, Mapping):
        c = metrics_or_counts
        return metrics.metrics_from_counts(c["tp"], c["fp"], c["tn"], c["fn"], math.nan)
    tp, fp, tn, fn = metrics_or_counts
    return metrics.metrics_from_counts(tp, fp, tn, fn, math.nan)


def at_prevalence(metrics_or_counts, prevalence: float | None = None) -> AtPrevalence:
    """PPV and NPV with 95% intervals, and expected counts per 1,000 patients, at a
    prevalence other than the data's (e.g. 5% for a screening population).

    ``PPV = se*pi / (se*pi + (1-sp)*(1-pi))`` and ``NPV = sp*(1-pi) / (sp*(1-pi) +
    (1-se)*pi)``. Both rise with sensitivity and with specificity, so the interval
    runs from the value at the lower Wilson bounds of both to the value at the upper
    bounds of both. It treats the two bounds as reached together, which makes it
    somewhat wider (more conservative) than a joint 95% interval. Per 1,000 patients:
    ``TP = 1000*pi*se``, ``FN = 1000*pi*(1-se)``, ``TN = 1000*(1-pi)*sp``,
    ``FP = 1000*(1-pi)*(1-sp)``.

    Parameters
    ----------
    metrics_or_counts : ThresholdMetrics, Confusion, mapping or (tp, fp, tn, fn)
        Where the sensitivity and specificity (and their intervals) come from. Pass
        :func:`evidence_metrics` / :func:`pooled_metrics` for repeated evidence.
    prevalence : float in (0, 1), optional
        Default: the data's own, ``(tp + fn) / n``, at which PPV and NPV equal the
        counts' ``tp / (tp + fp)`` and ``tn / (tn + fn)``.

    Raises
    ------
    UserError
        ``prevalence`` not strictly inside (0, 1), or no default because the counts
        hold only one class.
    """
    m = _as_metrics(metrics_or_counts)
    if prevalence is None:
        if m.n == 0 or m.tp + m.fn in (0, m.n):
            raise UserError("The data's own prevalence is 0% or 100%, so it cannot be used; "
                            "state a prevalence between 0 and 1.")
        prevalence = (m.tp + m.fn) / m.n
    pi = check_prevalence(prevalence)
    se, sp = m.sensitivity, m.specificity
    ppv = Estimate(float(_ppv(se.value, sp.value, pi)), float(_ppv(se.low, sp.low, pi)),
                   float(_ppv(se.high, sp.high, pi)))
    npv = Estimate(float(_npv(se.value, sp.value, pi)), float(_npv(se.low, sp.low, pi)),
                   float(_npv(se.high, sp.high, pi)))
    return AtPrevalence(prevalence=pi, sensitivity=se.value, specificity=sp.value, ppv=ppv, npv=npv,
                        tp=1000 * pi * se.value, fp=1000 * (1 - pi) * (1 - sp.value),
                        tn=1000 * (1 - pi) * sp.value, fn=1000 * pi * (1 - se.value))


# ---------------------------------------------------------------- costs
@dataclass(frozen=True)
class Costs:
    """What each outcome costs, in any one unit (as Weka's 2x2 cost matrix).

    Only the differences matter for a decision: a missed cancer costs ``c_fn - c_tp``
    more than finding it, a false alarm ``c_fp - c_tn`` more than a correct all-clear;
    their quotient is :attr:`ratio`, "one missed cancer costs as much as R false alarms".
    """

    c_tp: float = 0.0
    c_fp: float = 1.0
    c_fn: float = 1.0
    c_tn: float = 0.0

    def __post_init__(self):
        values = (self.c_tp, self.c_fp, self.c_fn, self.c_tn)
        try:
            floats = [float(v) for v in values]
        except (TypeError, ValueError):
            raise UserError(f"Every cost must be a number, got {values}.") from None
        if not all(math.isfinite(v) for v in floats):
            raise UserError(f"Every cost must be a finite number, got {values}.")
        for name, v in zip(("c_tp", "c_fp", "c_fn", "c_tn"), floats):
            object.__setattr__(self, name, v)
        if not self.c_fn > self.c_tp:
            raise UserError("A missed cancer must cost more than a cancer found "
                            f"(c_fn {self.c_fn:g} <= c_tp {self.c_tp:g}).")
        if not self.c_fp > self.c_tn:
            raise UserError("A false alarm must cost more than a correct all-clear "
                            f"(c_fp {self.c_fp:g} <= c_tn {self.c_tn:g}).")

    @classmethod
    def from_ratio(cls, ratio: float) -> Costs:
        """A missed cancer costs as much as ``ratio`` false alarms (c_fp=1, c_fn=ratio)."""
        try:
            r = float(ratio)
        except (TypeError, ValueError):
            raise UserError(f"The cost ratio must be a number such as 10, got {ratio!r}.") from None
        if not (math.isfinite(r) and r > 0):
            raise UserError(f"The cost ratio must be a positive number (how many false alarms one "
                            f"missed cancer is worth), got {r:.10g}.")
        return cls(0.0, 1.0, r, 0.0)

    @property
    def ratio(self) -> float:
        """``(c_fn - c_tp) / (c_fp - c_tn)``."""
        return (self.c_fn - self.c_tp) / (self.c_fp - self.c_tn)

    @property
    def theoretical_threshold(self) -> float:
        """The cost-minimising threshold for a calibrated model:
        ``(c_fp - c_tn) / ((c_fp - c_tn) + (c_fn - c_tp))`` = ``1 / (1 + ratio)``."""
        fp, fn = self.c_fp - self.c_tn, self.c_fn - self.c_tp
        return fp / (fp + fn)

    def threshold_at(self, prevalence: float, trained_prevalence: float) -> float:
        """The cost-minimising threshold for a model calibrated at ``trained_prevalence``
        used where the prevalence is ``prevalence``: Bayes' rule shifts the odds by
        k = odds(prevalence) / odds(trained_prevalence), so the threshold on the model's
        probability is ``1 / (1 + ratio * k)`` (:attr:`theoretical_threshold` at k = 1)."""
        pi, p0 = check_prevalence(prevalence), check_prevalence(trained_prevalence)
        k = (pi / (1 - pi)) / (p0 / (1 - p0))
        fp, fn = self.c_fp - self.c_tn, self.c_fn - self.c_tp
        return fp / (fp + fn * k)

    def per_1000(self, sensitivity, specificity, prevalence: float):
        """Expected cost per 1,000 patients (arrays broadcast):
        ``1000*(pi*se*c_tp + pi*(1-se)*c_fn + (1-pi)*sp*c_tn + (1-pi)*(1-sp)*c_fp)``."""
        se, sp, pi = np.asarray(sensitivity, float), np.asarray(specificity, float), prevalence
        return 1000.0 * (pi * se * self.c_tp + pi * (1 - se) * self.c_fn
                         + (1 - pi) * sp * self.c_tn + (1 - pi) * (1 - sp) * self.c_fp)

    def describe(self) -> str:
        r = f"{self.ratio:.10g}"
        return f"a missed cancer costs as much as {r} false alarm{'' if r == '1' else 's'}"

    def to_dict(self) -> dict:
        return {"c_tp": self.c_tp, "c_fp": self.c_fp, "c_fn": self.c_fn, "c_tn": self.c_tn,
                "ratio": self.ratio}

    def __repr__(self) -> str:
        return (f"Costs(c_tp={self.c_tp:g}, c_fp={self.c_fp:g}, c_fn={self.c_fn:g}, c_tn={self.c_tn:g}; "
                f"ratio={self.ratio:g})")


def as_costs(cost) -> Costs:
    """A :class:`Costs` from a Costs, a cost ratio (number), a mapping with keys
    ``c_tp, c_fp, c_fn, c_tn``, or a 4-sequence in that order."""
    if isinstance(cost, Costs):
        return cost
    if isinstance(cost, (int, float, np.number)) and not isinstance(cost, bool):
        return Costs.from_ratio(cost)
    if isinstance(cost, Mapping):
        missing = {"c_tp", "c_fp", "c_fn", "c_tn"} - set(cost)
        if missing:
            raise UserError(f"The cost matrix lacks {', '.join(sorted(missing))}.")
        return Costs(*(float(cost[k]) for k in ("c_tp", "c_fp", "c_fn", "c_tn")))
    try:
        values = [float(v) for v in cost]
    except (TypeError, ValueError):
        raise UserError(f"A cost is a ratio or four numbers (c_tp, c_fp, c_fn, c_tn), got {cost!r}.") from None
    if len(values) != 4:
        raise UserError(f"A cost matrix has four entries (c_tp, c_fp, c_fn, c_tn), got {len(values)}.")
    return Costs(*values)


@dataclass(frozen=True)
class CostCurve:
    """Expected cost per 1,000 patients across thresholds at one prevalence.

    Attributes
    ----------
    thresholds : array (m,)
    pooled : array (m,)
        From the pooled sensitivity and specificity (= the mean over repeats).
    per_repeat : array (R, m)
    costs : Costs
    prevalence : float
    best_threshold : float
        The threshold minimising expected cost on the evidence (over every distinct
        pooled probability, not only ``thresholds``); see :func:`min_cost_threshold`.
    best_cost_per_1000 : float
    theoretical_threshold : float
        ``c_fp / (c_fp + c_fn)`` with the differences of :class:`Costs`.
    """

    thresholds: np.ndarray
    pooled: np.ndarray
    per_repeat: np.ndarray
    costs: Costs
    prevalence: float
    best_threshold: float
    best_cost_per_1000: float
    theoretical_threshold: float

    def __repr__(self) -> str:
        return (f"CostCurve({self.thresholds.size} thresholds, {self.costs.describe()}, prevalence "
                f"{self.prevalence:g}: best {self.best_threshold:g} at {self.best_cost_per_1000:.1f}/1000, "
                f"theoretical {self.theoretical_threshold:g})")


def _se_sp(s: metrics.Sweep) -> tuple[np.ndarray, np.ndarray]:
    return s.sensitivity, s.specificity


def _need_both_classes(y: np.ndarray, what: str) -> None:
    if not y.any():
        raise UserError(f"Cannot {what}: the evidence contains no malignant cases. Use data with both classes.")
    if y.all():
        raise UserError(f"Cannot {what}: the evidence contains no benign cases. Use data with both classes.")


def _data_prevalence(y: np.ndarray) -> float:
    return float(np.count_nonzero(y)) / y.size


def expected_cost_curve(probs, y, cost, prevalence: float | None = None, thresholds=None) -> CostCurve:
    """Expected cost per 1,000 patients at each threshold, and the cheapest threshold.

    Parameters
    ----------
    probs : array (R, n) or (n,)
    y : array (n,) of 0/1
    cost : Costs, ratio, mapping or 4-sequence (see :func:`as_costs`)
    prevalence : float in (0, 1), optional
        Default: the data's own.
    thresholds : array (m,), optional
        Default :data:`CURVE_THRESHOLDS` (0.01 .. 0.99).
    """
    p, y = as_evidence(probs, y)
    costs = as_costs(cost)
    _need_both_classes(y, "compute expected costs")
    pi = _data_prevalence(y) if prevalence is None else check_prevalence(prevalence)
    t = CURVE_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    pp, yy = _pooled(p, y)
    pooled = costs.per_1000(*_se_sp(metrics.sweep(yy, pp, t)), pi)
    per_repeat = np.stack([costs.per_1000(*_se_sp(metrics.sweep(y, row, t)), pi) for row in p])
    best, best_cost = min_cost_threshold(p, y, costs, pi)
    # the calibrated optimum at this prevalence, for a model calibrated at the data's
    return CostCurve(t, pooled, per_repeat, costs, pi, best, best_cost,
                     costs.threshold_at(pi, _data_prevalence(y)))


def _candidates(pp: np.ndarray) -> np.ndarray:
    """Every threshold that gives different calls on the pooled probabilities: each
    distinct probability (call it and everything above), and "call none" (inf)."""
    return np.concatenate((np.unique(pp), [np.inf]))


def _reachable(pp: np.ndarray) -> np.ndarray:
    """The thresholds a user can hold, at 6 decimals strictly inside (0, 1), that give
    every different set of calls those thresholds can give: each candidate of
    :func:`_candidates` put at 6 decimals (:func:`_to_6_decimals`), duplicates removed.
    Choosing among these, not among the raw candidates, keeps a rule from picking a
    call (e.g. "call every case", at probability 0) no threshold in (0, 1) makes."""
    cand = _candidates(pp)
    finite = cand[np.isfinite(cand)]
    micro = np.clip(np.floor(finite * _MICRO), 1, _MICRO - 1) / _MICRO
    return np.unique(np.append(micro, _to_6_decimals(cand, cand.size - 1, pp)))


def min_cost_threshold(probs, y, cost, prevalence: float | None = None) -> tuple[float, float]:
    """The threshold minimising expected cost on the pooled evidence, and that cost
    per 1,000 patients. Every distinct pooled probability is tried (and calling none);
    among equal costs the highest threshold wins. The threshold is then put at 6
    decimals (see :func:`_to_6_decimals`) and the cost recomputed there.

    Returns
    -------
    (threshold, cost_per_1000) : (float, float)
    """
    p, y = as_evidence(probs, y)
    costs = as_costs(cost)
    _need_both_classes(y, "minimise expected cost")
    pi = _data_prevalence(y) if prevalence is None else check_prevalence(prevalence)
    pp, yy = _pooled(p, y)
    reach = _reachable(pp)
    c = costs.per_1000(*_se_sp(metrics.sweep(yy, pp, reach)), pi)
    i = int(np.flatnonzero(c <= c.min() * (1 + 1e-12) + 1e-12)[-1])
    return float(reach[i]), float(c[i])


def _to_6_decimals(cand: np.ndarray, i: int, pp: np.ndarray) -> float:
    """A threshold at 6 decimals, strictly inside (0, 1), giving the calls of
    ``cand[i]`` where possible: ``cand[i]`` rounded down (keeps every case it called;
    may add one within 1e-6 below), or for ``inf`` ("call none") the next millionth
    above the highest probability, capped at 0.999999."""
    t = float(cand[i])
    if math.isinf(t):
        top = float(pp.max())
        micro = math.floor(top * _MICRO) + 1
        while micro / _MICRO <= top:
            micro += 1
    else:
        micro = _micro_at_most(t)
    return min(max(micro, 1), _MICRO - 1) / _MICRO


def _micro_at_most(t: float) -> int:
    """The largest whole number of millionths ``m`` with ``m / 1e6 <= t`` (robust to
    ``t * 1e6`` landing just below a whole number, as 0.3 * 1e6 may)."""
    micro = int(np.rint(t * _MICRO))
    while micro / _MICRO > t:
        micro -= 1
    return micro


# ---------------------------------------------------------------- decision curve
@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit against threshold (Vickers and Elkin 2006).

    ``NB(t) = TP/n - FP/n * t/(1-t)`` at threshold probability t; "treat all" has
    ``pi - (1-pi) * t/(1-t)``, "treat none" 0. Net interventions avoided per 100
    patients: ``(NB_model - NB_all) / (t/(1-t)) * 100``.

    Attributes
    ----------
    thresholds : array (m,)
    model : array (R, m)
        Per repeat.
    model_mean, model_min, model_max : array (m,)
        Mean over repeats (equals the pooled net benefit) and the band across them.
    treat_all, treat_none : array (m,)
    interventions_avoided : array (R, m)
        Per 100 patients, per repeat.
    interventions_avoided_mean : array (m,)
    prevalence : float
    """

    thresholds: np.ndarray
    model: np.ndarray
    model_mean: np.ndarray
    model_min: np.ndarray
    model_max: np.ndarray
    treat_all: np.ndarray
    treat_none: np.ndarray
    interventions_avoided: np.ndarray
    interventions_avoided_mean: np.ndarray
    prevalence: float

    @property
    def repeats(self) -> int:
        return int(self.model.shape[0])

    def rows(self) -> list[list[float]]:
        """``[[t, net_benefit_model (mean over repeats), net_benefit_all], ...]``, JSON-ready."""
        return [[float(t), float(m), float(a)] for t, m, a in zip(self.thresholds, self.model_mean, self.treat_all)]

    def __repr__(self) -> str:
        t = self.thresholds
        return (f"DecisionCurve({t.size} thresholds {t.min():g}..{t.max():g}, {self.repeats} repeat(s), "
                f"prevalence {self.prevalence:.4g})")


def net_benefit(tp, fp, n, threshold):
    """``tp/n - fp/n * t/(1-t)`` (arrays broadcast); t strictly inside (0, 1)."""
    t = np.asarray(threshold, dtype=np.float64)
    if np.any((t <= 0) | (t >= 1)):
        raise ValueError("net benefit needs thresholds strictly between 0 and 1")
    return np.asarray(tp) / n - np.asarray(fp) / n * (t / (1 - t))


def decision_curve(probs, y, thresholds=None) -> DecisionCurve:
    """Net benefit of the model, "treat all" and "treat none" across thresholds, per
    repeat, with the mean and the min-max band across repeats.

    Parameters
    ----------
    probs : array (R, n) or (n,)
    y : array (n,) of 0/1
    thresholds : array (m,) strictly inside (0, 1), optional
        Default :data:`CURVE_THRESHOLDS`, 0.01 .. 0.99 (99 points, each k / 100).
    """
    p, y = as_evidence(probs, y)
    t = CURVE_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("thresholds must be a non-empty 1-D array")
    n = y.size
    model = np.stack([net_benefit(s.tp, s.fp, n, t) for s in (metrics.sweep(y, row, t) for row in p)])
    pos = int(np.count_nonzero(y))
    treat_all = net_benefit(pos, n - pos, n, t)
    w = t / (1 - t)
    avoided = (model - treat_all) / w * 100
    return DecisionCurve(t, model, model.mean(axis=0), model.min(axis=0), model.max(axis=0), treat_all,
                         np.zeros_like(t), avoided, avoided.mean(axis=0), pos / n)


def decision_curve_json(probs, y) -> list[list[float]]:
    """``evaluate --json``'s ``decision_curve``: ``[t, net_benefit_model, net_benefit_all]``
    for t = 0.01 .. 0.99, the model's value the mean over repeats."""
    return decision_curve(probs, y).rows()


# ---------------------------------------------------------------- threshold rules
@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and how it was chosen.

    Attributes
    ----------
    threshold : float
        At 6 decimals, strictly inside (0, 1).
    rule : str
        One of :data:`RULES`.
    value : float or None
        The rule's target (None for "youden" and "cost").
    chosen_by : str
        A plain sentence, e.g. "the highest threshold with sensitivity >= 98% on 683
        out-of-fold rows x 5 repeats".
    n : int
        Rows.
    repeats : int
    evidence : str
        "out-of-fold" or "validation".
    prevalence : float or None
        For "cost": the prevalence it was chosen at.
    costs : Costs or None
        For "cost".
    """

    threshold: float
    rule: str
    value: float | None
    chosen_by: str
    n: int
    repeats: int
    evidence: str
    prevalence: float | None = None
    costs: Costs | None = None

    def __repr__(self) -> str:
        return f"ThresholdChoice({self.threshold:g}: {self.chosen_by})"


def _target(rule: str, value, closed_top: bool) -> float:
    if value is None:
        raise UserError(f"The rule '{rule}' needs a target, a fraction such as 0.98.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserError(f"The target for '{rule}' must be a fraction such as 0.98, got {value!r}.") from None
    ok = 0.0 < x <= 1.0 if closed_top else 0.0 < x < 1.0
    if not (math.isfinite(x) and ok):
        span = "greater than 0 and at most 1" if closed_top else "strictly between 0 and 1"
        raise UserError(f"The target for '{rule}' must be {span} (a fraction such as 0.98), got {x:.10g}.")
    return x


def _check_reached(yy, pp, threshold: float, what: str, target: float, value_of) -> None:
    """UserError when the threshold, put at 6 decimals, no longer reaches the target
    (only when reaching it needs cases at probabilities below 0.000001 or above 0.999999)."""
    got = float(value_of(metrics.sweep(yy, pp, [threshold])))
    if not got >= target - 1e-12:
        raise UserError(f"No threshold between 0.000001 and 0.999999 gives {what} >= {_pct(target)} on this "
                        f"evidence (it needs calling cases whose probability is below 0.000001); "
                        f"{threshold:.6f} gives {_pct(round(got, 4))}. Choose a lower target.")


def choose_threshold(probs, y, rule: str, value: float | None = None, *, prevalence: float | None = None,
                     cost=None, evidence: str = "out-of-fold") -> ThresholdChoice:
    """Choose a threshold on the evidence by one of :data:`RULES`.

    All R * n (probability, label) pairs are pooled for choosing (see the module notes).

    - ``"sensitivity"``: the highest threshold with sensitivity >= ``value`` (the best
      specificity that meets it); :func:`bcdesktop.metrics.threshold_for_sensitivity`.
    - ``"sensitivity_bound"``: the highest threshold whose sensitivity's lower 95%
      Wilson bound, at the number of rows, is >= ``value``;
      :func:`bcdesktop.metrics.threshold_for_sensitivity_bound` with ``z * sqrt(R)``.
    - ``"specificity"``: the lowest threshold with specificity >= ``value``.
    - ``"youden"``: the maximum of Youden's J = sensitivity + specificity - 1 (among
      ties the highest threshold).
    - ``"cost"``: the minimum expected cost at ``prevalence`` (default the data's) for
      ``cost`` (a ratio or cost matrix, see :func:`as_costs`); :func:`min_cost_threshold`.

    The threshold is returned at 6 decimals, strictly inside (0, 1): for the
    "highest" rules rounded down, which keeps every call (the target still holds).

    Raises
    ------
    UserError
        An unknown rule, a missing or out-of-range target, a class the rule needs that
        the evidence lacks, or no threshold satisfying the rule (the message says why).
    ValueError
        Malformed evidence (see :func:`as_evidence`).
    """
    if rule not in RULES:
        raise UserError(f"Unknown threshold rule '{rule}'; use one of {', '.join(RULES)}.")
    p, y = as_evidence(probs, y)
    repeats, n = p.shape
    pp, yy = _pooled(p, y)
    on = _rows_phrase(n, repeats, evidence)
    extra: dict = {}
    if rule == "sensitivity":
        x = _target(rule, value, closed_top=True)
        t = metrics.threshold_for_sensitivity(yy, pp, x)
        threshold = min(max(_micro_at_most(t), 1), _MICRO - 1) / _MICRO
        _check_reached(yy, pp, threshold, "sensitivity", x, lambda s: s.sensitivity[0])
        chosen_by = f"the highest threshold with sensitivity >= {_pct(x)} on {on}"
    elif rule == "sensitivity_bound":
        x = _target(rule, value, closed_top=False)
        t, k = metrics.threshold_for_sensitivity_bound(yy, pp, x, z=metrics.Z_95 * math.sqrt(repeats))
        if t is None:
            npos = int(np.count_nonzero(y))
            reach = metrics.wilson_interval(npos, npos)[0]
            need = metrics.malignant_cases_needed(x)
            raise UserError(f"No threshold gives a lower 95% bound of {_pct(x)} for sensitivity: even finding "
                            f"all {npos} malignant cases of the {n:,} rows leaves the bound at {_pct(round(reach, 4))} "
                            f"(it takes {need} malignant cases). Choose a lower target.")
        threshold = min(max(_micro_at_most(t), 1), _MICRO - 1) / _MICRO
        z = metrics.Z_95 * math.sqrt(repeats)
        _check_reached(yy, pp, threshold, "the lower 95% bound of sensitivity", x,
                       lambda s: metrics.wilson_interval(int(s.tp[0]), int(s.tp[0] + s.fn[0]), z)[0])
        chosen_by = f"the highest threshold whose sensitivity's lower 95% bound is >= {_pct(x)} on {on}"
    elif rule == "specificity":
        x = _target(rule, value, closed_top=True)
        neg = np.sort(pp[~yy])
        if neg.size == 0:
            raise UserError("Cannot choose a threshold for a specificity: the evidence contains no benign "
                            "cases. Use data with both classes.")
        j = math.ceil(x * neg.size - 1e-9)  # benign cases that must fall below the threshold
        while j / neg.size < x:
            j += 1
        below = float(neg[j - 1])  # the threshold must lie above this
        micro = math.floor(below * _MICRO) + 1
        while micro / _MICRO <= below:
            micro += 1
        if micro >= _MICRO:
            raise UserError(f"No threshold below 1 gives specificity >= {_pct(x)}: benign cases have "
                            f"probabilities up to {below:.6f}. Choose a lower target.")
        threshold = micro / _MICRO
        chosen_by = f"the lowest threshold with specificity >= {_pct(x)} on {on}"
    elif rule == "youden":
        _need_both_classes(y, "choose a threshold by Youden's J")
        cand = _reachable(pp)
        s = metrics.sweep(yy, pp, cand)
        j = s.sensitivity + s.specificity - 1
        i = int(np.flatnonzero(j >= j.max() - 1e-12)[-1])
        threshold = float(cand[i])
        s1 = metrics.sweep(yy, pp, [threshold])
        jj = float(s1.sensitivity[0] + s1.specificity[0] - 1)
        chosen_by = f"the threshold maximising Youden's J (sensitivity + specificity - 1 = {jj:.3f}) on {on}"
    else:  # cost
        if cost is None:
            raise UserError("The rule 'cost' needs a cost: how many false alarms one missed cancer is worth, "
                            "or a cost matrix.")
        costs = as_costs(cost)
        pi = _data_prevalence(y) if prevalence is None else check_prevalence(prevalence)
        threshold, per_1000 = min_cost_threshold(p, y, costs, pi)
        extra = {"prevalence": pi, "costs": costs}
        chosen_by = (f"the threshold minimising expected cost ({costs.describe()}; prevalence {_pct(round(pi, 4))}; "
                     f"{per_1000:.1f} per 1,000 patients) on {on}")
    return ThresholdChoice(threshold=threshold, rule=rule, value=None if rule in ("youden", "cost") else float(value),
                           chosen_by=chosen_by, n=n, repeats=repeats, evidence=evidence, **extra)


# ---------------------------------------------------------------- report
@dataclass(frozen=True)
class ThresholdReport:
    """Everything about one threshold on the evidence, for ``bcdesktop threshold``.

    Attributes
    ----------
    threshold : float
    chosen_by : str or None
    evidence : str
    n, repeats : int
    prevalence : float
        The prevalence PPV, NPV, the counts per 1,000, cost and net benefit are at.
    metrics : ThresholdMetrics
        Pooled counts, intervals at n rows (:func:`pooled_metrics`).
    at_prevalence : AtPrevalence
    log_loss : float
        Of all pooled pairs; independent of the threshold.
    costs : Costs or None
    expected_cost_per_1000 : float or None
    net_benefit_model, net_benefit_all : float
        ``pi*se - (1-pi)*(1-sp)*w`` and ``pi - (1-pi)*w``, ``w = t/(1-t)``: Vickers and
        Elkin's ``TP/n - FP/n * w`` at the stated prevalence (exactly it at the data's).
    """

    threshold: float
    chosen_by: str | None
    evidence: str
    n: int
    repeats: int
    prevalence: float
    metrics: metrics.ThresholdMetrics
    at_prevalence: AtPrevalence
    log_loss: float
    costs: Costs | None
    expected_cost_per_1000: float | None
    net_benefit_model: float
    net_benefit_all: float

    def to_dict(self) -> dict:
        """JSON-ready: ``threshold, chosen_by, evidence, n, repeats, prevalence, metrics,
        per_1000, [costs, expected_cost_per_1000,] net_benefit {model, treat_all}``.

        ``metrics`` is :meth:`ThresholdMetrics.to_dict` (pooled counts, so its ``n`` is
        R * n pairs) with ``ppv``/``npv`` (and ``_ci``) at :attr:`prevalence`, the counts'
        own PPV and NPV kept as ``ppv_in_data``/``npv_in_data``, plus ``f1``, ``mcc``,
        ``kappa``, ``log_loss`` (null where undefined).
        """
        f = metrics.finite_or_none
        m = self.metrics.to_dict()
        for name in ("ppv", "npv"):
            m[f"{name}_in_data"], m[f"{name}_in_data_ci"] = m[name], m[f"{name}_ci"]
        ap = self.at_prevalence.to_dict()
        m.update(ppv=ap["ppv"], ppv_ci=ap["ppv_ci"], npv=ap["npv"], npv_ci=ap["npv_ci"])
        m.update({k: f(v) for k, v in self.metrics.extra().items()})
        m["log_loss"] = f(self.log_loss)
        out: dict = {"threshold": self.threshold, "chosen_by": self.chosen_by, "evidence": self.evidence,
                     "n": self.n, "repeats": self.repeats, "prevalence": self.prevalence, "metrics": m,
                     "per_1000": ap["per_1000"]}
        if self.costs is not None:
            out["costs"] = self.costs.to_dict()
            out["expected_cost_per_1000"] = f(self.expected_cost_per_1000)
        out["net_benefit"] = {"model": f(self.net_benefit_model), "treat_all": f(self.net_benefit_all)}
        return out

    def __repr__(self) -> str:
        return (f"ThresholdReport(threshold={self.threshold:g}, {self.evidence}, n={self.n} x {self.repeats}, "
                f"prevalence={self.prevalence:.4g}, {self.metrics!r})")


def summary(probs, y, threshold: float, prevalence: float | None = None, cost=None, *,
            evidence: str = "out-of-fold", chosen_by: str | None = None) -> ThresholdReport:
    """The :class:`ThresholdReport` of ``threshold`` on the evidence.

    Parameters
    ----------
    probs : array (R, n) or (n,)
    y : array (n,) of 0/1
    threshold : float
        Put at 6 decimals (:func:`bcdesktop.metrics.threshold_at_6_decimals`).
    prevalence : float in (0, 1), optional
        Default: the data's own.
    cost : Costs, ratio, mapping or 4-sequence, optional
        Adds ``expected_cost_per_1000``.
    evidence : str
        The caller's word for the evidence: "out-of-fold" or "validation".
    chosen_by : str, optional
        :attr:`ThresholdChoice.chosen_by`, if it was chosen by a rule.
    """
    t = metrics.threshold_at_6_decimals(threshold)
    p, y = as_evidence(probs, y)
    repeats, n = p.shape
    if prevalence is None:
        _need_both_classes(y, "use the data's own prevalence")
        pi = _data_prevalence(y)
    else:
        pi = check_prevalence(prevalence)
    m = evidence_metrics(p, y, t)
    ap = at_prevalence(m, pi)
    pp, yy = _pooled(p, y)
    costs = None if cost is None else as_costs(cost)
    exp_cost = None if costs is None else float(costs.per_1000(m.sensitivity.value, m.specificity.value, pi))
    w = t / (1 - t)
    se, sp = m.sensitivity.value, m.specificity.value
    nb_model = pi * se - (1 - pi) * (1 - sp) * w
    nb_all = pi - (1 - pi) * w
    return ThresholdReport(threshold=t, chosen_by=chosen_by, evidence=evidence, n=n, repeats=repeats,
                           prevalence=pi, metrics=m, at_prevalence=ap, log_loss=metrics.log_loss(yy, pp),
                           costs=costs, expected_cost_per_1000=exp_cost, net_benefit_model=float(nb_model),
                           net_benefit_all=float(nb_all))
