"""Inductive Venn-Abers predictor (Vovk and Petej, "Venn-Abers predictors", UAI 2014).

From calibration pairs (score, class), for a test score ``s``:

- ``p0`` is the isotonic (non-decreasing least-squares) fit of the calibration pairs plus
  ``(s, 0)``, evaluated at ``s``;
- ``p1`` likewise with ``(s, 1)``;

so ``p0 <= p1``, and one of them is a valid probability of malignancy (the Venn-Abers
guarantee). :meth:`VennAbers.merged` gives the paper's single probability
``p1 / (1 - p0 + p1)``.

How it is computed. Both numbers depend on ``s`` only through its place among the
sorted distinct calibration scores ``u_1 < ... < u_k``: below ``u_1``, equal to ``u_j``,
strictly between ``u_j`` and ``u_{j+1}``, or above ``u_k`` (2k + 1 places). :meth:`fit`
computes ``p0`` and ``p1`` for every place and :meth:`interval` looks them up with
``np.searchsorted``. For one place, the isotonic value at the test point is the slope of
the greatest convex minorant of the cumulative sum diagram (CSD) of the data at the test
point; adding the test point shifts every CSD point left of it by ``-(1, y)``, so the
value is the slope of the bridge between the lower convex hull of the shifted left part
and the lower hull of the right part. From one place to the next the left part gains one
point and the right part loses one, and both ends of the bridge only move to the right,
so all 2(2k + 1) values come from one left-to-right sweep over the hulls in O(k) steps
after the sort (the same idea as the paper's O(n log n) algorithm).

Ties. Calibration pairs with equal scores are one point of the CSD (weight = their
number, sum = their malignant count), as the isotonic regression pools tied scores (it is
what scikit-learn's ``IsotonicRegression`` does). A test score equal to a calibration
score joins that group. Scores are compared exactly, as float64.

Only NumPy is imported here.
"""

from __future__ import annotations

import numpy as np


class VennAbers:
    """An inductive Venn-Abers predictor fitted on calibration pairs.

    Attributes
    ----------
    scores : ndarray, shape (k,)
        The distinct calibration scores, increasing.
    counts : ndarray, shape (k,) of int64
        How many calibration pairs have each score.
    positives : ndarray, shape (k,) of int64
        How many of those have class 1.
    p0, p1 : ndarray, shape (2k + 1,)
        The interval at each place of a test score: place ``2j`` is strictly between
        ``scores[j-1]`` and ``scores[j]`` (below all for j = 0, above all for j = k),
        place ``2j + 1`` is equal to ``scores[j]``.
    """

    scores: np.ndarray
    counts: np.ndarray
    positives: np.ndarray
    p0: np.ndarray
    p1: np.ndarray

    def __init__(self, scores, counts, positives) -> None:
        """From distinct increasing ``scores`` (k,) with their ``counts`` and ``positives``
        (k,); use :meth:`fit` for raw pairs."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        counts = np.asarray(counts).reshape(-1)
        positives = np.asarray(positives).reshape(-1)
        if scores.size == 0:
            raise ValueError("Venn-Abers needs at least one calibration pair")
        if counts.shape != scores.shape or positives.shape != scores.shape:
            raise ValueError("scores, counts and positives must have the same length")
        if not np.all(np.isfinite(scores)):
            raise ValueError("calibration scores must be finite numbers")
        if np.any(np.diff(scores) <= 0):
            raise ValueError("calibration scores must be distinct and increasing")
        if not (np.all(counts == np.round(counts)) and np.all(positives == np.round(positives))):
            raise ValueError("counts and positives must be whole numbers")
        counts, positives = counts.astype(np.int64), positives.astype(np.int64)
        if np.any(counts < 1) or np.any(positives < 0) or np.any(positives > counts):
            raise ValueError("each score needs count >= 1 and 0 <= positives <= count")
        self.scores, self.counts, self.positives = scores, counts, positives
        self.p0, self.p1 = _all_places(counts, positives)
        for a in (self.scores, self.counts, self.positives, self.p0, self.p1):
            a.setflags(write=False)

    @classmethod
    def fit(cls, scores, labels) -> VennAbers:
        """Fit on calibration pairs.

        Parameters
        ----------
        scores : array-like, shape (n,)
            Finite scores, larger meaning more likely class 1 (probabilities, logits).
        labels : array-like, shape (n,)
            0 or 1.
        """
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        y = np.asarray(labels).reshape(-1)
        if s.shape != y.shape:
            raise ValueError(f"{s.size} scores but {y.size} labels")
        if s.size == 0:
            raise ValueError("Venn-Abers needs at least one calibration pair")
        if not np.all(np.isfinite(s)):
            raise ValueError("calibration scores must be finite numbers")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("labels must be 0 or 1")
        u, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        positives = np.bincount(inverse.reshape(-1), weights=(y == 1), minlength=u.size)
        return cls(u, counts, np.round(positives).astype(np.int64))

    @property
    def n(self) -> int:
        """Number of calibration pairs."""
        return int(self.counts.sum())

    def places(self, s) -> np.ndarray:
        """The place (index into :attr:`p0`, :attr:`p1`) of each test score, same shape."""
        s = np.asarray(s, dtype=np.float64)
        if not np.all(np.isfinite(s)):
            raise ValueError("test scores must be finite numbers")
        j = np.searchsorted(self.scores, s, side="left")
        equal = self.scores[np.minimum(j, self.scores.size - 1)] == s
        return 2 * j + equal

    def interval(self, s) -> tuple[np.ndarray, np.ndarray]:
        """``(p0, p1)`` for test scores ``s`` (any shape; arrays of that shape), p0 <= p1."""
        t = self.places(s)
        return self.p0[t], self.p1[t]

    def merged(self, s) -> np.ndarray:
        """The paper's single probability ``p1 / (1 - p0 + p1)``, same shape as ``s``."""
        p0, p1 = self.interval(s)
        return p1 / (1.0 - p0 + p1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The calibration data in three arrays (what :meth:`__init__` takes back)."""
        return {"scores": np.array(self.scores), "counts": np.array(self.counts),
                "positives": np.array(self.positives)}

    def __repr__(self) -> str:
        return (f"VennAbers(n={self.n}, distinct scores={self.scores.size}, "
                f"positives={int(self.positives.sum())})")


def _all_places(counts: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p0 and p1 (2k + 1,) at every place of a test point among k calibration groups.

    CSD points ``P_i = (W_i, C_i)``, i = 0..k (cumulative counts and positives, P_0 the
    origin). At place ``(L, R)`` (test between groups: ``L = R = j``; test in group j:
    ``L = j - 1, R = j``) the isotonic value at the test point with label y is

        max_{l <= L} min_{r >= R} slope(P_l - (1, y), P_r),

    the slope of the bridge between the lower hull of ``{P_l - (1, y): l <= L}`` (the
    lower hull of ``P_0..P_L``, shifted) and the lower hull of ``P_R..P_k``.
    """
    k = counts.size
    W = np.concatenate(([0], np.cumsum(counts))).astype(np.float64).tolist()
    C = np.concatenate(([0], np.cumsum(positives))).astype(np.float64).tolist()
    # Lower hull of each suffix P_R..P_k as a linked list: R, nxt[R], nxt[nxt[R]], ...
    nxt = [-1] * (k + 1)
    stack: list[int] = []
    for r in range(k, -1, -1):
        xr, yr = W[r], C[r]
        while len(stack) >= 2:
            a, b = stack[-1], stack[-2]
            # pop a unless it lies strictly below the segment r -> b
            if (W[a] - xr) * (C[b] - yr) - (C[a] - yr) * (W[b] - xr) <= 0:
                stack.pop()
            else:
                break
        nxt[r] = stack[-1] if stack else -1
        stack.append(r)

    left: list[int] = []          # lower hull of P_0..P_L (indices), grown as L grows
    out0 = [0.0] * (2 * k + 1)
    out1 = [0.0] * (2 * k + 1)
    # bridge ends for y = 0 and y = 1: a position in `left`, a vertex of the suffix hull
    a0 = a1 = 0
    b0 = b1 = 0
    L = -1
    for t in range(2 * k + 1):
        newL, R = t // 2, (t + 1) // 2
        if newL > L:                              # add P_L to the left hull
            L = newL
            xl, yl = W[L], C[L]
            while len(left) >= 2:
                p, q = left[-1], left[-2]
                if (W[p] - W[q]) * (yl - C[q]) - (C[p] - C[q]) * (xl - W[q]) <= 0:
                    left.pop()
                else:
                    break
            left.append(L)
        top = len(left) - 1
        for y, out in ((0.0, out0), (1.0, out1)):
            a, b = (a0, b0) if y == 0.0 else (a1, b1)
            if a > top:                           # its vertex was popped: the new one
                a = top
            if b < R:
                b = R
            while True:
                ax, ay = W[left[a]] - 1.0, C[left[a]] - y
                # walk b right while the slope from the left end does not increase
                s = (C[b] - ay) / (W[b] - ax)
                nb = nxt[b]
                while nb >= 0:
                    s2 = (C[nb] - ay) / (W[nb] - ax)
                    if s2 <= s:
                        b, s, nb = nb, s2, nxt[nb]
                    else:
                        break
                # walk a right while the slope to the right end does not decrease
                moved = False
                bx, by = W[b], C[b]
                while a < top:
                    na = left[a + 1]
                    s2 = (by - C[na] + y) / (bx - W[na] + 1.0)
                    if s2 > s:  # strictly: moving on a tie strands a (found by review: p0 7/11, not 9/14)
                        a, s, moved = a + 1, s2, True
                    else:
                        break
                if not moved:
                    break
            out[t] = s
            if y == 0.0:
                a0, b0 = a, b
            else:
                a1, b1 = a, b
    return np.array(out0), np.array(out1)
