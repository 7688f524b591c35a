"""The matching cases of a prediction: the training rows with the same nine scores, or
else the nearest training patterns, and whether a case is unusual.

The training rows are kept as their distinct score patterns (sorted lexicographically)
with how many rows of each class had each pattern: small (at most a few hundred patterns
for the bundled data), enough for the "matching cases" line, the unusual flag and the
Shapley backgrounds, and with no sample id anywhere. Distances are L1: the sum of the
nine score differences.

Only NumPy is imported here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .schema import FEATURES, SCORE_MAX, SCORE_MIN

#: The percentile of the training rows' distances to their nearest other row above which
#: a case is "unusual".
UNUSUAL_PERCENTILE = 99.0
#: Most nearest patterns listed in a :class:`Match`.
MAX_NEAREST = 5
#: Distinct patterns a model keeps (the bundled data have 449): bounds what a model file
#: may make the loader and every match compute.
MAX_PATTERNS = 20_000
#: Above this many patterns the unusual cutoff is estimated from a seeded sample of them
#: (each against all), not computed from every pair.
EXACT_CUTOFF_PATTERNS = 2_000
_MAX_COUNT = 2**53 // (MAX_PATTERNS * 2)   # every count, so the total stays an exact float
_CHUNK_CELLS = 2**21        # patterns x patterns x features compared at once


@dataclasses.dataclass(frozen=True)
class NearPattern:
    """One training pattern near a case: its scores, L1 distance and class counts."""

    scores: tuple[int, ...]
    distance: int
    benign: int
    malignant: int


@dataclasses.dataclass(frozen=True)
class Match:
    """How a case's scores meet the training data.

    Attributes
    ----------
    identical : int
        Training rows with exactly these scores.
    identical_malignant : int
        How many of those were malignant.
    nearest_distance : int
        L1 distance to the nearest training pattern (0 when ``identical > 0``).
    nearest : tuple of NearPattern
        The training patterns at that distance (the identical one when there is one),
        at most :data:`MAX_NEAREST`, in lexicographic order.
    nearest_patterns : int
        How many patterns lie at that distance (may exceed ``len(nearest)``).
    nearest_benign, nearest_malignant : int
        Training rows of each class among all those patterns.
    unusual : bool
        ``nearest_distance > cutoff``.
    cutoff : float
        :attr:`TrainingPatterns.unusual_cutoff`.
    """

    identical: int
    identical_malignant: int
    nearest_distance: int
    nearest: tuple[NearPattern, ...]
    nearest_patterns: int
    nearest_benign: int
    nearest_malignant: int
    unusual: bool
    cutoff: float

    def sentence(self) -> str:
        """The matching-cases line, e.g. "This exact pattern occurs 12 times in the
        training data: 12 benign." """
        if self.identical:
            return (f"This exact pattern occurs {_times(self.identical)} in the training data: "
                    f"{_classes(self.identical - self.identical_malignant, self.identical_malignant)}.")
        p, d = self.nearest_patterns, self.nearest_distance
        rows = self.nearest_benign + self.nearest_malignant
        head = ("No training case has exactly these scores; the nearest pattern" if p == 1 else
                f"No training case has exactly these scores; the {p} nearest patterns")
        head += f" (distance {d})"
        classes = _classes(self.nearest_benign, self.nearest_malignant)
        if rows == p:
            if p == 1:
                return f"{head} is {'malignant' if self.nearest_malignant else 'benign'}."
            return f"{head} are {classes}."
        return f"{head} {'occurs' if p == 1 else 'occur'} {_times(rows)}: {classes}."

    def unusual_sentence(self) -> str | None:
        """A warning when the case is unusual, else None."""
        if not self.unusual:
            return None
        return (f"Unusual pattern: its nearest training pattern is at distance {self.nearest_distance}, "
                f"farther than {UNUSUAL_PERCENTILE:g}% of training cases are from their nearest other case.")

    def to_dict(self) -> dict:
        """``{"identical": n, "identical_malignant": k, "nearest_distance": d, "unusual": b}``."""
        return {"identical": self.identical, "identical_malignant": self.identical_malignant,
                "nearest_distance": self.nearest_distance, "unusual": self.unusual}


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _classes(benign: int, malignant: int) -> str:
    parts = [f"{n} {word}" for n, word in ((benign, "benign"), (malignant, "malignant")) if n]
    return ", ".join(parts)


class TrainingPatterns:
    """The distinct score patterns of the training rows with their class counts.

    Attributes
    ----------
    patterns : ndarray, shape (m, 9) of int8
        Distinct score patterns (each score 1..10), sorted lexicographically.
    counts : ndarray, shape (m, 2) of int64
        Rows of each pattern that were (benign, malignant); each row's sum is >= 1.
    unusual_cutoff : float
        The :data:`UNUSUAL_PERCENTILE` th percentile, over the training rows (each row
        once; NumPy's default linear interpolation), of each row's L1 distance to its
        nearest other row (0 for a row whose pattern occurs more than once). Infinite
        when there is only one training row. Computed when first asked for (a model
        loads without it); above :data:`EXACT_CUTOFF_PATTERNS` patterns, estimated from
        a seeded sample of that many patterns, each against all.
    """

    patterns: np.ndarray
    counts: np.ndarray

    def __init__(self, patterns: np.ndarray, counts: np.ndarray) -> None:
        """From checked arrays; use :meth:`from_rows` or :meth:`from_arrays`."""
        self.patterns = patterns
        self.counts = counts
        self.patterns.setflags(write=False)
        self.counts.setflags(write=False)
        self._totals = counts.sum(axis=1)
        self._p16 = patterns.astype(np.int16)
        self._cutoff: float | None = None

    @property
    def unusual_cutoff(self) -> float:
        if self._cutoff is None:
            self._cutoff = _cutoff(self._p16, self._totals)
        return self._cutoff

    # ------------------------------------------------------------------ make
    @classmethod
    def from_rows(cls, X, y) -> TrainingPatterns:
        """From training rows.

        Parameters
        ----------
        X : array-like, shape (n, 9)
            Raw scores, whole numbers 1..10.
        y : array-like, shape (n,)
            Classes, 0 benign or 1 malignant.
        """
        X = np.asarray(X)
        y = np.asarray(y).reshape(-1)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or X.shape[0] == 0:
            raise ValueError(f"X must have shape (n, {len(FEATURES)}) with n >= 1, got {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"{X.shape[0]} rows but {y.size} classes")
        _check_scores(X, "X")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("classes must be 0 or 1")
        patterns, inverse = np.unique(X.astype(np.int8), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        m = patterns.shape[0]
        if m > MAX_PATTERNS:
            raise ValueError(f"the training rows hold {m:,} distinct score patterns; a model keeps "
                             f"at most {MAX_PATTERNS:,}")
        counts = np.zeros((m, 2), dtype=np.int64)
        np.add.at(counts, (inverse, (y == 1).astype(np.intp)), 1)
        return cls(np.ascontiguousarray(patterns), counts)

    @classmethod
    def from_arrays(cls, patterns, counts) -> TrainingPatterns:
        """From :meth:`to_arrays`' two arrays, checked (ValueError with a short reason).

        Patterns not in lexicographic order are sorted (with their counts).
        """
        p = np.asarray(patterns)
        c = np.asarray(counts)
        if p.ndim != 2 or p.shape[1] != len(FEATURES) or p.shape[0] == 0:
            raise ValueError(f"train_patterns must have shape (m, {len(FEATURES)}) with m >= 1, got {p.shape}")
        if p.shape[0] > MAX_PATTERNS:
            raise ValueError(f"it keeps {p.shape[0]:,} training patterns, more than the "
                             f"{MAX_PATTERNS:,} a model holds")
        if c.shape != (p.shape[0], 2):
            raise ValueError(f"train_counts must have shape ({p.shape[0]}, 2), got {c.shape}")
        _check_scores(p, "train_patterns")
        if not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)):
            raise ValueError("train_counts must be numbers")
        if not (np.all(np.isfinite(c)) and np.all(c == np.round(c))):
            raise ValueError("train_counts must be whole numbers")
        if np.any(c < 0):
            raise ValueError("train_counts must be >= 0")
        if np.any(c > _MAX_COUNT):
            raise ValueError(f"train_counts must be at most {_MAX_COUNT:,}")
        c = c.astype(np.int64)
        if np.any(c.sum(axis=1) == 0):
            raise ValueError("a training pattern has no cases")
        p = p.astype(np.int8)
        order = np.lexsort(p.T[::-1])
        p, c = p[order], c[order]
        if p.shape[0] > 1 and np.any(np.all(p[1:] == p[:-1], axis=1)):
            raise ValueError("train_patterns has a pattern twice")
        return cls(np.ascontiguousarray(p), np.ascontiguousarray(c))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"train_patterns": int8 (m, 9), "train_counts": int64 (m, 2)}``."""
        return {"train_patterns": np.array(self.patterns, dtype=np.int8),
                "train_counts": np.array(self.counts, dtype=np.int64)}

    # ------------------------------------------------------------------- use
    @property
    def n_rows(self) -> int:
        """Number of training rows."""
        return int(self._totals.sum())

    def __len__(self) -> int:
        return self.patterns.shape[0]

    def match(self, x) -> Match:
        """The matching cases of one case's raw scores ``x`` (9,), whole numbers 1..10."""
        x = np.asarray(x)
        if x.shape != (len(FEATURES),):
            raise ValueError(f"x must have shape ({len(FEATURES)},), got {x.shape}")
        _check_scores(x, "x")
        dist = np.abs(self._p16 - x.astype(np.int16)).sum(axis=1)
        d = int(dist.min())
        at = np.flatnonzero(dist == d)
        benign, malignant = (int(v) for v in self.counts[at].sum(axis=0))
        nearest = tuple(NearPattern(tuple(int(s) for s in self.patterns[i]), d,
                                    int(self.counts[i, 0]), int(self.counts[i, 1]))
                        for i in at[:MAX_NEAREST])
        identical = benign + malignant if d == 0 else 0
        return Match(identical=identical, identical_malignant=malignant if d == 0 else 0,
                     nearest_distance=d, nearest=nearest, nearest_patterns=int(at.size),
                     nearest_benign=benign, nearest_malignant=malignant,
                     unusual=bool(d > self.unusual_cutoff), cutoff=self.unusual_cutoff)

    def background(self, kind: str = "training") -> tuple[np.ndarray, np.ndarray]:
        """Background rows (b, 9) float64 and their weights (b,) float64 for
        :func:`bcdesktop.explain.shapley`: ``"training"`` all patterns with their row
        counts, ``"benign"`` the patterns with benign rows, weighted by those (none when
        the training data had no benign row: shapes (0, 9) and (0,))."""
        if kind == "training":
            w = self._totals
        elif kind == "benign":
            w = self.counts[:, 0]
        else:
            raise ValueError(f"background kind must be 'training' or 'benign', got {kind!r}")
        keep = w > 0                              # (0, 9) and (0,) when there are none
        return self.patterns[keep].astype(np.float64), w[keep].astype(np.float64)

    def __repr__(self) -> str:
        b, m = (int(v) for v in self.counts.sum(axis=0))
        return (f"TrainingPatterns({len(self)} patterns of {self.n_rows} rows: {b} benign, {m} malignant; "
                f"unusual beyond distance {self.unusual_cutoff:g})")


def _check_scores(a: np.ndarray, name: str) -> None:
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must hold numbers")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must hold whole numbers {SCORE_MIN}..{SCORE_MAX}")
    if not (np.all(a == np.round(a)) and np.all((a >= SCORE_MIN) & (a <= SCORE_MAX))):
        raise ValueError(f"{name} must hold whole numbers {SCORE_MIN}..{SCORE_MAX}")


def nearest_other(patterns: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Each pattern's L1 distance (m,) to the nearest other training row: 0 when the
    pattern occurs more than once, else to the nearest other pattern (inf if none).
    ``patterns`` (m, d) int, ``totals`` (m,) rows per pattern; chunked over rows."""
    p = np.asarray(patterns, dtype=np.int16)
    m, d = p.shape
    out = np.full(m, np.inf)
    step = max(1, _CHUNK_CELLS // max(1, m * d))
    for start in range(0, m, step):
        stop = min(m, start + step)
        D = np.abs(p[start:stop, None, :] - p[None, :, :]).sum(axis=2, dtype=np.int32).astype(np.float64)
        D[np.arange(stop - start), np.arange(start, stop)] = np.inf
        if m > 1:
            out[start:stop] = D.min(axis=1)
    out[np.asarray(totals) > 1] = 0.0
    return out


def _nearest_other_of(patterns: np.ndarray, totals: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """:func:`nearest_other` of the patterns ``rows`` only, against all (k,)."""
    p = np.asarray(patterns, dtype=np.int16)
    m, d = p.shape
    out = np.full(rows.size, np.inf)
    step = max(1, _CHUNK_CELLS // max(1, m * d))
    for start in range(0, rows.size, step):
        sel = rows[start:start + step]
        D = np.abs(p[sel, None, :] - p[None, :, :]).sum(axis=2, dtype=np.int32).astype(np.float64)
        D[np.arange(sel.size), sel] = np.inf
        out[start:start + sel.size] = D.min(axis=1)
    out[np.asarray(totals)[rows] > 1] = 0.0
    return out


def _cutoff(patterns: np.ndarray, totals: np.ndarray) -> float:
    """:attr:`TrainingPatterns.unusual_cutoff`: the percentile of :func:`nearest_other`
    over rows, as ``np.percentile`` of the values repeated by ``totals`` would give."""
    if totals.sum() == 1:
        return float("inf")
    m = patterns.shape[0]
    if m > EXACT_CUTOFF_PATTERNS:
        # a seeded sample of patterns, each against all: O(sample x m), not O(m^2)
        pick = np.sort(np.random.default_rng(0).choice(m, EXACT_CUTOFF_PATTERNS, replace=False))
        near = _nearest_other_of(patterns, totals, pick)
        patterns, totals = patterns[pick], totals[pick]
    else:
        near = nearest_other(patterns, totals)
    order = np.argsort(near, kind="stable")
    v, n = near[order], np.cumsum(totals[order])
    h = UNUSUAL_PERCENTILE / 100.0 * (n[-1] - 1)         # NumPy's "linear" position
    lo, hi = int(np.floor(h)), int(np.ceil(h))
    v_lo, v_hi = v[np.searchsorted(n, lo, side="right")], v[np.searchsorted(n, hi, side="right")]
    return float(v_lo + (h - lo) * (v_hi - v_lo))
