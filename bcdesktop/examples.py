"""Typical cases: a real benign and a real malignant row to try a model on.

The Patient tab's "Typical benign" and "Typical malignant" buttons and the frozen
app's self-test fill the form with these. Each is a case that actually occurred, the
row of its class nearest to that class's median scores, not an average that never did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from bcdesktop.data import Dataset


class TypicalCase(NamedTuple):
    """A row of a data set: its nine scores, the file line it was read from, its sample id."""

    scores: np.ndarray  # (9,) float64
    line: int
    sample_id: str


def typical_cases(dataset: Dataset) -> dict[int, TypicalCase]:
    """A typical benign (0) and malignant (1) case, each a real row of ``dataset``.

    For each class, the per-feature median of that class's rows, and the real row
    nearest to it (smallest sum of absolute differences; the first in file order on
    ties). A class without rows has no entry. ``dataset`` needs labels (``y``).
    """
    out = {}
    for label in (0, 1):
        rows = np.flatnonzero(dataset.y == label)
        if rows.size == 0:
            continue
        X = dataset.X[rows]
        distance = np.abs(X - np.median(X, axis=0)).sum(axis=1)
        best = rows[int(np.argmin(distance))]
        out[label] = TypicalCase(dataset.X[best], int(dataset.lines[best]), str(dataset.ids[best]))
    return out


def example_source(dataset: Dataset | None) -> Dataset:
    """The data set to take typical cases from: ``dataset`` when it has rows of both
    classes, else the bundled Wisconsin data (no data loaded, no class column, or one
    class only)."""
    if dataset is not None and dataset.y is not None and {0, 1} <= set(np.unique(dataset.y).tolist()):
        return dataset
    from bcdesktop.data import load_bundled

    return load_bundled()
