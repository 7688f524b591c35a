"""Exact interventional Shapley values of one prediction, on the log-odds scale.

With nine features there are only 2^9 = 512 coalitions, so nothing is sampled: every
coalition ``S`` is evaluated against every background row in one batched forward pass,

    v(S) = sum_b w_b f(x_S, background_b,~S) / sum_b w_b,

(``f`` the model's log-odds of raw scores, ``x_S`` the case's scores on the features in
``S`` and the background row's elsewhere), and the Shapley value of feature ``i`` is

    phi_i = sum_{S not containing i} |S|! (d - |S| - 1)! / d! [v(S + i) - v(S)],

done as one product ``v @ M`` with a precomputed (2^d, d) matrix ``M``. On this scale
the values add up exactly: ``base + sum(contributions) == value`` (the logit of the
case's probability), up to rounding.

The names in :data:`bcdesktop.schema.FEATURES` are the UCI names of the nine columns
(``data/README.md`` lists the same; the README has no table of its own); they are the
keys of :meth:`Explanation.to_dict`. :func:`explain_bundle` is the fast route for a
model bundle (~10 ms with 449 background rows). Only NumPy is imported here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from .schema import FEATURES

#: Largest number of features explained exactly (2^12 = 4096 coalitions).
MAX_FEATURES = 12
#: Bytes of hybrid rows built per call of the logit function.
CHUNK_BYTES = 8 * 2**20
#: Bytes of first-layer activations per step of :func:`explain_bundle` (fits in a cache).
_MLP_CHUNK_BYTES = 2 * 2**20

LogitFn = Callable[[np.ndarray], np.ndarray]


def sigmoid(z):
    """``1 / (1 + exp(-z))`` as ``(1 + tanh(z / 2)) / 2``, which never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


@lru_cache(maxsize=MAX_FEATURES + 1)
def _coalitions(d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(members, M)`` for ``d`` features: ``members`` (2^d, d) bool, bit ``i`` of
    coalition number ``S`` is feature ``i``; ``M`` (2^d, d) float64 such that
    ``phi = v @ M`` for the values ``v`` (2^d,) of the coalitions.

    ``M[S, i] = w(|S| - 1)`` when ``i`` is in ``S`` and ``-w(|S|)`` otherwise, with
    ``w(k) = k! (d - k - 1)! / d!``.
    """
    n = 1 << d
    members = ((np.arange(n)[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)
    size = members.sum(axis=1)
    w = np.array([math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d)
                  for k in range(d)] + [0.0])   # w(d) is never used with weight != 0
    M = np.where(members, w[np.maximum(size - 1, 0)][:, None], -w[size][:, None])
    members.setflags(write=False)
    M.setflags(write=False)
    return members, M


@dataclasses.dataclass(frozen=True)
class ProbabilityStep:
    """One bar of the waterfall: feature ``index`` moves the probability from ``before``
    to ``after`` (its log-odds ``contribution`` added to the running sum)."""

    feature: str
    index: int
    contribution: float
    before: float
    after: float


@dataclasses.dataclass(frozen=True, eq=False)
class Explanation:
    """Shapley contributions of one case on the log-odds scale.

    Attributes
    ----------
    base : float
        v(empty): the mean log-odds over the (weighted) background.
    contributions : ndarray, shape (d,)
        Shapley value of each feature, in the order of ``features``.
    value : float
        v(all): the log-odds of the case itself; ``base + contributions.sum()``.
    features : tuple of str, length d
    x : ndarray, shape (d,)
        The case's raw scores.
    scale : str
        Always ``"log-odds"``.
    """

    base: float
    contributions: np.ndarray
    value: float
    features: tuple[str, ...] = FEATURES
    x: np.ndarray | None = None
    scale: str = "log-odds"

    def __post_init__(self):
        c = np.array(self.contributions, dtype=np.float64).reshape(-1)
        c.setflags(write=False)
        object.__setattr__(self, "contributions", c)
        object.__setattr__(self, "features", tuple(self.features))
        if len(self.features) != c.size:
            raise ValueError(f"{c.size} contributions but {len(self.features)} feature names")
        if self.x is not None:
            x = np.array(self.x, dtype=np.float64).reshape(-1)
            if x.size != c.size:
                raise ValueError(f"{c.size} contributions but {x.size} scores")
            x.setflags(write=False)
            object.__setattr__(self, "x", x)
        object.__setattr__(self, "base", float(self.base))
        object.__setattr__(self, "value", float(self.value))

    @property
    def base_probability(self) -> float:
        return float(sigmoid(self.base))

    @property
    def probability(self) -> float:
        return float(sigmoid(self.value))

    def order(self) -> np.ndarray:
        """Feature indices by decreasing |contribution| (ties in feature order)."""
        return np.argsort(-np.abs(self.contributions), kind="stable")

    def probability_steps(self) -> list[ProbabilityStep]:
        """The waterfall: largest |contribution| first, each step adding its log-odds to a
        running sum that starts at ``base``; ``before``/``after`` are the sigmoid of that
        sum, so the first step starts at ``sigmoid(base)`` and the last ends at
        ``sigmoid(base + sum)`` = the case's probability."""
        steps = []
        running = self.base
        for i in self.order():
            c = float(self.contributions[i])
            after = running + c
            steps.append(ProbabilityStep(self.features[i], int(i), c, float(sigmoid(running)),
                                         float(sigmoid(after))))
            running = after
        return steps

    def to_dict(self) -> dict:
        """``{"scale": "log-odds", "base": .., "contributions": {feature name: value}}``."""
        return {"scale": self.scale, "base": self.base,
                "contributions": {name: float(c) for name, c in zip(self.features, self.contributions)}}

    def __repr__(self) -> str:
        top = ", ".join(f"{self.features[i]}={self.contributions[i]:+.3f}" for i in self.order()[:3])
        return (f"Explanation(base={self.base:.3f}, value={self.value:.3f}, p={self.probability:.3f}, "
                f"top: {top})")


def shapley(logit_fn: LogitFn, x, background, weights=None, *,
            features: Sequence[str] | None = None) -> Explanation:
    """Exact interventional Shapley values of ``logit_fn`` at ``x``.

    Parameters
    ----------
    logit_fn : callable
        ``logit_fn(X)`` with X (m, d) raw scores returns the log-odds, shape (m,).
        It is called once per chunk of at most :data:`CHUNK_BYTES` of hybrid rows
        (one call for nine features and up to ~200 background rows). The array passed in
        is reused between calls: ``logit_fn`` must not keep it.
    x : array-like, shape (d,)
        The case's raw scores, d <= :data:`MAX_FEATURES`.
    background : array-like, shape (b, d)
        Background rows (e.g. the distinct training patterns).
    weights : array-like, shape (b,), optional
        Non-negative weight of each row (e.g. its count), not all zero; rows of
        weight 0 are skipped. Default: all 1. A weight of k is the same as k copies.
    features : sequence of str, optional
        Names of the d features; default :data:`bcdesktop.schema.FEATURES` (d = 9).

    Returns
    -------
    Explanation
        ``base`` = v(empty), ``value`` = v(all) = ``logit_fn(x)``.

    Raises
    ------
    ValueError
        For inconsistent shapes, non-finite inputs, bad weights, or a ``logit_fn``
        that returns the wrong shape or a non-finite value.
    """
    def values(x, bg, w, members):
        return _hybrid_values(logit_fn, x, bg, w, members)

    return _explain(values, x, background, weights, features)


def _checked(x, background, weights, features):
    """x (d,), background (b, d) without zero-weight rows, weights summing to 1, names."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or not 1 <= x.size <= MAX_FEATURES:
        raise ValueError(f"x must be one row of 1..{MAX_FEATURES} scores, got shape {x.shape}")
    d = x.size
    bg = np.asarray(background, dtype=np.float64)
    if bg.ndim != 2 or bg.shape[1] != d or bg.shape[0] == 0:
        raise ValueError(f"background must have shape (b, {d}) with b >= 1, got {bg.shape}")
    if weights is None:
        w = np.ones(bg.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (bg.shape[0],):
            raise ValueError(f"weights must have shape ({bg.shape[0]},), got {w.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(bg)) and np.all(np.isfinite(w))):
        raise ValueError("x, background and weights must be finite numbers")
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must be >= 0 and not all zero")
    if features is None:
        features = FEATURES if d == len(FEATURES) else tuple(f"x{i}" for i in range(d))
    features = tuple(features)
    if len(features) != d:
        raise ValueError(f"{len(features)} feature names for {d} features")

    keep = w > 0
    return x, np.ascontiguousarray(bg[keep]), w[keep] / w[keep].sum(), features


def _hybrid_values(logit_fn, x, bg, w, members) -> np.ndarray:
    """v(S) for every coalition, from ``logit_fn`` on the hybrid rows: (2^d,)."""
    b, d = bg.shape
    n = members.shape[0]
    per_chunk = max(1, min(n, CHUNK_BYTES // (8 * d * b)))   # coalitions per call
    buf = np.empty((per_chunk, b, d))
    v = np.empty(n)
    for start in range(0, n, per_chunk):
        stop = min(n, start + per_chunk)
        rows = buf[: stop - start]
        rows[...] = bg                                       # every row the background ...
        np.copyto(rows, x, where=members[start:stop, None, :])  # ... but x on the coalition
        z = np.asarray(logit_fn(rows.reshape(-1, d)), dtype=np.float64)
        if z.shape != ((stop - start) * b,):
            raise ValueError(f"logit_fn returned shape {z.shape} for {(stop - start) * b} rows")
        if not np.all(np.isfinite(z)):
            raise ValueError("logit_fn returned a value that is not a finite number")
        v[start:stop] = z.reshape(stop - start, b) @ w
    return v


def _explain(values, x, background, weights, features) -> Explanation:
    """Check the inputs, then phi = v @ M for the coalition values ``values(...)`` gives."""
    x, bg, w, features = _checked(x, background, weights, features)
    members, M = _coalitions(x.size)
    v = values(x, bg, w, members)
    phi = v @ M
    return Explanation(base=v[0], contributions=phi, value=v[-1], features=features, x=x)


def logit_function(bundle) -> LogitFn:
    """The log-odds of a :class:`bcdesktop.persistence.ModelBundle` as a function of raw
    scores (n, d) -> (n,): its scaler, then its network's :meth:`~bcdesktop.model.MLP.logits`."""
    network, scaler = bundle.network, bundle.scaler

    def logits(X_raw: np.ndarray) -> np.ndarray:
        return network.logits(scaler.transform(X_raw))

    return logits


def explain_bundle(bundle, x, background, weights=None) -> Explanation:
    """:func:`shapley` of a model bundle's log-odds at the raw scores ``x`` (d,), the same
    numbers (to rounding) by a faster route for the MLP.

    The scaler and the first layer are linear in each feature, so the first layer's input
    of every hybrid row is ``q_b + sum_{i in S} D_b[i]`` (``D_b[i] = W[:, i] (x_i - b_i)``
    scaled): all 2^d x b of them come from one addition each, without building the hybrid
    rows (see :func:`_mlp_values`). A network other than a ReLU MLP, or a bundle with a
    recalibration (whose log-odds, ``bundle.logit``, are no longer the network's), goes
    through :func:`shapley`. See :func:`shapley` for the parameters.
    """
    network, scaler = bundle.network, bundle.scaler
    features = tuple(bundle.features)
    if getattr(bundle, "recalibration", None) is not None:   # not the network's own log-odds
        return shapley(bundle.logit, x, background, weights, features=features)
    if network.hidden_activation != "relu" or len(network.packed) < 2:
        return shapley(logit_function(bundle), x, background, weights, features=features)

    def values(x, bg, w, members):
        return _mlp_values(network, scaler, x, bg, w, members)

    return _explain(values, x, background, weights, features)


def _mlp_values(network, scaler, x, bg, w, members) -> np.ndarray:
    """v(S) for every coalition of the ReLU MLP ``network`` behind ``scaler``: (2^d,).

    The first layer's input of coalition ``S`` and background row ``b`` is
    ``q_b + sum_{i in S} D_b[i]``; built by doubling (coalitions ``2^i .. 2^(i+1) - 1``
    are coalitions ``0 .. 2^i - 1`` plus ``D[i]``), so it takes one addition per value
    and no matrix product (a multi-threaded BLAS slows to a crawl on a busy machine for
    such thin products). Background rows are taken in chunks that fit in a cache.
    """
    span = scaler.data_max - scaler.data_min
    span = np.where(span > 0, span, 1.0)
    xs = (x - scaler.data_min) / span
    bs = (bg - scaler.data_min) / span                         # (b, d)
    W1 = network.packed[0][:, :-1]                             # (h, d)
    c1 = network.packed[0][:, -1]
    h = W1.shape[0]
    b, d = bs.shape
    n = members.shape[0]
    q = (np.einsum("bd,hd->bh", bs, W1) + c1).reshape(-1)      # (b * h,): the background rows
    D = ((xs[:, None] - bs.T)[:, :, None] * W1.T[:, None, :]).reshape(d, b * h)   # (d, b, h)
    later = network.packed[1:]
    one_hidden = len(later) == 1
    if one_hidden:                               # v = relu(Z) @ (w x w_out) + c_out
        w_out = np.kron(w, later[0][0, :-1])                   # (b * h,)
    per_chunk = max(1, min(b, _MLP_CHUNK_BYTES // (8 * n * h)))   # background rows per step
    buf = np.empty(n * per_chunk * h)
    v = np.zeros(n)
    for start in range(0, b, per_chunk):
        stop = min(b, start + per_chunk)
        cols = slice(start * h, stop * h)
        Z = buf[: n * (stop - start) * h].reshape(n, (stop - start) * h)
        Z[0] = q[cols]
        for i in range(d):
            np.add(Z[: 1 << i], D[i, cols], out=Z[1 << i: 2 << i])
        np.maximum(Z, 0.0, out=Z)
        if one_hidden:
            v += np.einsum("sk,k->s", Z, w_out[cols])
            continue
        A = Z.reshape(-1, h)
        for Wb in later[:-1]:
            A = A @ Wb[:, :-1].T
            A += Wb[:, -1]
            np.maximum(A, 0.0, out=A)
        out = A @ later[-1][0, :-1]                            # (n * chunk,)
        v += out.reshape(n, stop - start) @ w[start:stop]
    v += later[-1][0, -1]
    if not np.all(np.isfinite(v)):
        raise ValueError("the network gives a value that is not a finite number")
    return v
