"""The data set of a file: its usable rows, and a rejection for every other row.

Everything that reads a table goes through one pipeline, so training and batch
scoring apply exactly the same rules:

1. :func:`~bcdesktop.csvlayout.sniff_layout` looks at the file once: encoding,
   delimiter and decimal mark, header, which column is which; it records the file's
   identity (``bcdesktop.csvlayout``).
2. :func:`~bcdesktop.csvscan.iter_chunks` reads the file in chunks of raw records,
   bounded in rows and in bytes, and validates each chunk straight from the bytes
   (``bcdesktop.csvscan``), by the rules of the schema (``bcdesktop.schema``: the nine
   scores 1..10, the class codings). A file that is not the one sniffed is refused.
3. :func:`load_csv` is a loop over those chunks that keeps the usable rows and a
   :class:`Rejection` for every other row; ``bcdesktop.scoring`` is another loop.

Rows are never dropped silently. A row with several problems gets one rejection whose
``column`` is the first bad column (in the nine-score order, then the class) and whose
``reason`` lists every problem, separated by ``"; "``. Completely blank lines are not
data rows: they are skipped (and still counted in line numbers). Every cell, sample id,
header name or path in a message goes through :func:`~bcdesktop.schema.printable`: one
line, no control characters.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .csvlayout import CsvLayout, sniff_layout
from .csvscan import LoadProgress, iter_chunks
from .resources import bundled_data_path
from .schema import CLASS_NAME, CODED_01, CODED_24, FEATURES, ID_NAME, printable, user_error


@dataclass(frozen=True)
class Rejection:
    """One row that was not used, and why.

    ``line`` is the 1-based line number a text editor shows; ``column`` the first bad
    column (a feature name or ``"Class"``), or None when the whole row is wrong (for
    example the wrong number of fields); ``reason`` a sentence for a person. The sample
    id and the reason are kept escaped by :func:`printable` (one line, no control
    characters), whoever builds the rejection.
    """

    line: int
    sample_id: str
    column: str | None
    reason: str

    def __post_init__(self):
        # shown on terminals and in windows: never a control character (see printable)
        object.__setattr__(self, "sample_id", printable(self.sample_id))
        object.__setattr__(self, "reason", printable(self.reason))

    def __str__(self) -> str:
        sid = f" (sample {self.sample_id})" if self.sample_id else ""
        return f"line {self.line}{sid}: {self.reason}"


@dataclass
class Dataset:
    """The usable rows of a file and the report of every row that was not used.

    Attributes
    ----------
    X : ndarray, shape (n, 9), float64
        The nine scores of the usable rows, in :data:`FEATURES` order, each 1..10.
    y : ndarray, shape (n,), int8, or None
        0 benign, 1 malignant; None when the file has no class column.
    ids : ndarray, shape (n,), object
        Sample ids as text ("" when the file has none).
    lines : ndarray, shape (n,), int64
        1-based line number of each usable row.
    rejected : list of Rejection
    n_read : int
        Data rows read (usable + rejected).
    path : Path
    sha256 : str
        SHA-256 of the file's bytes.
    layout : CsvLayout or None
        How the file was read (``layout.assumed``, ``layout.column_matching()``).
    """

    X: np.ndarray
    y: np.ndarray | None
    ids: np.ndarray
    lines: np.ndarray
    rejected: list[Rejection]
    n_read: int
    path: Path
    sha256: str
    layout: CsvLayout | None = None

    @property
    def n_usable(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def has_labels(self) -> bool:
        return self.y is not None

    def to_frame(self):
        """The usable rows as a pandas DataFrame, for analysis in a notebook.

        Columns: ``line``, ``Sample code number``, the nine :data:`FEATURES` (int8),
        and ``Class`` ("benign"/"malignant", categorical) when the file has labels.
        pandas is imported here, not when the module loads.
        """
        import pandas as pd

        frame = pd.DataFrame({"line": self.lines, ID_NAME: self.ids})
        for j, name in enumerate(FEATURES):
            frame[name] = self.X[:, j].astype(np.int8)
        if self.y is not None:
            frame[CLASS_NAME] = pd.Categorical.from_codes(self.y.astype(np.int8), ["benign", "malignant"])
        return frame

    def rejected_frame(self):
        """The rejected rows as a pandas DataFrame: line, sample id, column, reason."""
        import pandas as pd

        return pd.DataFrame([(r.line, r.sample_id, r.column, r.reason) for r in self.rejected],
                            columns=["line", ID_NAME, "column", "reason"])

    def summary(self) -> str:
        """E.g. ``"699 rows read, 683 usable, 16 rejected"``."""
        return f"{self.n_read} rows read, {self.n_usable} usable, {self.n_rejected} rejected"

    def __repr__(self) -> str:
        labels = "labelled" if self.y is not None else "unlabelled"
        return f"Dataset({self.path.name!r}, {self.summary()}, {labels})"


def load_csv(path: str | os.PathLike, *, progress: Callable[[LoadProgress], None] | None = None,
             cancel=None, chunksize: int = 100_000) -> Dataset:
    """Read a CSV of cases: the usable rows plus a :class:`Rejection` for every other.

    With a class column, a row needs a usable class too (it is rejected otherwise). A
    file that writes the class both ways, 0/1 and 2/4, is ambiguous (is a ``1`` in a 2/4
    file a typo?): the rows written the less common way are rejected, with the reason.

    Raises
    ------
    UserError
        When the file cannot be used at all (see :func:`sniff_layout`) or no row is usable.
    Cancelled
        When ``cancel`` is set.
    """
    layout = sniff_layout(path)
    hasher = hashlib.sha256()
    Xs, ys, ids, lines, codings = [], [], [], [], []
    rejected: list[Rejection] = []
    n_read = 0
    for chunk in iter_chunks(layout, chunksize=chunksize, want_ids=True, progress=progress,
                             cancel=cancel, hasher=hasher):
        usable = chunk.features_ok.copy()
        if layout.has_labels:
            usable &= chunk.y >= 0
        n_read += len(chunk)
        for i in np.flatnonzero(~usable):
            if not chunk.features_ok[i]:
                reason, column = chunk.reasons[i], chunk.first_bad[i]
                if layout.has_labels and chunk.y[i] < 0 and column is not None:
                    reason = f"{reason}; {chunk.class_reasons[i]}"
            else:
                reason, column = chunk.class_reasons[i], CLASS_NAME
            rejected.append(Rejection(int(chunk.lines[i]), str(chunk.ids[i]), column, reason))
        Xs.append(chunk.X[usable])
        ys.append(chunk.y[usable])
        ids.append(chunk.ids[usable])
        lines.append(chunk.lines[usable])
        codings.append(chunk.class_coding[usable])
    if n_read == 0:
        raise user_error(f"{layout.path} has a header row but no data rows." if layout.has_header
                        else f"{layout.path} has no data rows.")
    X = np.concatenate(Xs) if Xs else np.empty((0, len(FEATURES)))
    y, ids, lines = np.concatenate(ys), np.concatenate(ids), np.concatenate(lines)
    if layout.has_labels and len(X):
        keep = _mixed_coding_rejections(np.concatenate(codings), y, ids, lines, rejected)
        X, y, ids, lines = X[keep], y[keep], ids[keep], lines[keep]
    if len(X) == 0:
        first = "; ".join(str(r) for r in rejected[:3])
        raise user_error(f"None of the {n_read} rows of {layout.path} is usable ({first}). "
                        "Check that the columns hold the nine scores 1-10.")
    return Dataset(
        X=X,
        y=y.astype(np.int8) if layout.has_labels else None,
        ids=ids,
        lines=lines.astype(np.int64),
        rejected=rejected,
        n_read=n_read,
        path=layout.path,
        sha256=hasher.hexdigest(),
        layout=layout,
    )


def odd_class_coding(n01: int, n24: int) -> int | None:
    """The ``Chunk.class_coding`` whose rows are ambiguous when a file writes the class
    ``n01`` times as 0/1 and ``n24`` times as 2/4: the less common way (0/1 on a tie);
    None when the file writes it one way only. The one rule of ``load_csv`` and scoring."""
    if not (n01 and n24):
        return None
    return CODED_01 if n01 <= n24 else CODED_24


def _mixed_coding_rejections(coding: np.ndarray, y: np.ndarray, ids: np.ndarray, lines: np.ndarray,
                             rejected: list[Rejection]) -> np.ndarray:
    """Where usable rows write the class both as 0/1 and as 2/4, reject the less common
    way (0/1 on a tie) into ``rejected`` (kept in line order); return the rows to keep."""
    n01, n24 = int(np.count_nonzero(coding == CODED_01)), int(np.count_nonzero(coding == CODED_24))
    odd = odd_class_coding(n01, n24)
    if odd is None:
        return np.ones(len(coding), dtype=bool)
    used, other = ("0/1", "2/4 (2 benign, 4 malignant)") if odd == CODED_01 else ("2/4", "0/1 (0 benign, 1 malignant)")
    for i in np.flatnonzero(coding == odd).tolist():
        shown = ("01" if odd == CODED_01 else "24")[int(y[i])]
        rejected.append(Rejection(int(lines[i]), str(ids[i]), CLASS_NAME,
                                  f"Class '{shown}' is written {used}, but {max(n01, n24)} other rows "
                                  f"write it {other}; correct the class"))
    rejected.sort(key=lambda r: r.line)
    return coding != odd


def load_bundled() -> Dataset:
    """The bundled Wisconsin Breast Cancer (Original) file (699 rows, 683 usable)."""
    return load_csv(bundled_data_path())
