"""Batch scoring: every row of a CSV of cases back with a malignancy probability.

The input is read with exactly the rules of :func:`bcdesktop.data.load_csv`
(:func:`~bcdesktop.data.sniff_layout` once, then :func:`~bcdesktop.data.iter_chunks`),
in chunks, so memory stays flat however long the file is. The output has one row per
data row of the input, in the same order: each input record copied byte for byte
(same cells, quoting, delimiter and encoding), followed by four new columns:

- ``probability``: malignancy probability, 6 decimals (empty for a rejected row);
- ``prediction``: ``malignant`` when probability >= threshold, else ``benign``
  (empty for a rejected row);
- ``threshold``: the threshold used;
- ``status``: ``ok``, or why the row could not be scored (e.g. ``Bare Nuclei is missing``).

A header row is always written: the input's own, or for a headerless file the UCI
column names. Blank lines are not data rows and are not copied. A scored row whose
class cell is missing or unknown keeps ``status`` ``ok`` but is left out of the
labelled summary (``ScoreSummary.unlabelled`` counts them); so is a row whose class is
written 0/1 in a file that mostly writes 2/4, or the other way round (as
:func:`bcdesktop.data.load_csv` rejects it).

The output is written to a temporary file beside the target and moved into place
only at the end, so a cancelled or failed run leaves no partial file.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import data, resources
from .metrics import metrics_from_counts
from .errors import UserError

NEW_COLUMNS = ("probability", "prediction", "threshold", "status")
MAX_KEPT_REJECTIONS = 1000
DEFAULT_CHUNKSIZE = 50_000


@dataclass(frozen=True)
class ScoreProgress:
    """Progress of a scoring run, reported after each chunk."""

    rows_done: int
    bytes_done: int
    bytes_total: int
    seconds: float

    @property
    def fraction(self) -> float:
        return min(self.bytes_done / self.bytes_total, 1.0) if self.bytes_total else 1.0

    @property
    def rows_per_s(self) -> float:
        return self.rows_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_s(self) -> float:
        """Seconds left, estimated from the bytes read so far (NaN before any)."""
        f = self.fraction
        return self.seconds * (1 - f) / f if f > 0 else math.nan

    def __str__(self) -> str:
        eta = "" if math.isnan(self.eta_s) else f", {self.eta_s:.0f} s left"
        return f"{self.rows_done:,} rows, {self.rows_per_s:,.0f} rows/s{eta}"


@dataclass
class ScoreSummary:
    """What a scoring run did.

    Attributes
    ----------
    input, output : Path
    model_id : str
    threshold : float
    rows_read : int
        Data rows in the input (= rows in the output).
    scored, rejected, malignant, benign : int
    rejections : list of Rejection
        The first :data:`MAX_KEPT_REJECTIONS` rejected rows; ``rejections_not_kept`` more.
    metrics : ThresholdMetrics or None
        Accuracy, sensitivity, specificity and confusion counts at ``threshold`` over
        the scored rows with a usable class; None without a class column.
    unlabelled : int
        Scored rows left out of ``metrics`` because their class cell was unusable or
        written in the file's less common coding (0/1 beside 2/4).
    seconds : float
    """

    input: Path
    output: Path
    model_id: str
    threshold: float
    rows_read: int = 0
    scored: int = 0
    rejected: int = 0
    malignant: int = 0
    benign: int = 0
    rejections: list = field(default_factory=list)
    rejections_not_kept: int = 0
    metrics: object = None
    unlabelled: int = 0
    seconds: float = 0.0

    def summary_line(self) -> str:
        """``"rows read 699, scored 683, rejected 16, malignant 239, benign 444"``."""
        return (f"rows read {self.rows_read}, scored {self.scored}, rejected {self.rejected}, "
                f"malignant {self.malignant}, benign {self.benign}")

    def __repr__(self) -> str:
        return f"ScoreSummary({self.input.name!r} -> {self.output.name!r}: {self.summary_line()})"


def default_output_path(input_path: str | os.PathLike) -> Path:
    """``INPUT_STEM.scored.csv`` beside the input."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}.scored.csv")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links and ``..`` are
    resolved, or two names (e.g. hard links) of one existing file."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable: not provably the same file
        return False


def _check_output(input_path: Path, output_path: Path, force: bool) -> None:
    try:
        st = os.stat(output_path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        problem = ("is a symbolic link that leads back to itself" if exc.errno == errno.ELOOP
                   else f"cannot be used ({exc.strerror or exc})")
        raise UserError(f"The output {output_path} {problem}. Choose another output name.") from None
    if same_file(output_path, input_path):
        raise UserError(f"The output {output_path} is the input file itself; the app never writes "
                        "over its input. Choose another output name.")
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UserError(f"The output {output_path} is a folder. Give a file name for the output.")
    if st is not None and not stat.S_ISREG(st.st_mode):
        # never replace a device or a pipe, even when allowed to overwrite (as root, os.replace
        # would swap /dev/null for a plain file)
        raise UserError(f"The output {output_path} is {data.file_kind(st.st_mode)}, not a file. "
                        "Give a file name for the output.")
    if st is not None and not force:
        raise UserError(f"The output {output_path} already exists. Choose another name, or allow "
                        "overwriting it (--force on the command line).")
    if not output_path.parent.is_dir():
        raise UserError(f"The folder {output_path.parent} of the output does not exist.")


def _csv_cell(text: str, delimiter: str) -> str:
    if any(c in text for c in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def _new_column_names(existing: tuple[str, ...]) -> list[str]:
    taken = {c.strip().lower() for c in existing}
    names = []
    for name in NEW_COLUMNS:
        candidate, k = name, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{name}_{k}"
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def _header(layout: data.CsvLayout) -> bytes:
    d = layout.delimiter
    new = d.join(_new_column_names(layout.columns))
    if layout.has_header:
        return layout.header_raw + d.encode() + new.encode(layout.encoding)
    old = d.join(_csv_cell(c, d) for c in layout.columns)
    return (old + d + new).encode(layout.encoding)


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def score_csv(input_path: str | os.PathLike, output_path: str | os.PathLike, bundle, *,
              threshold: float | None = None, force: bool = False,
              chunksize: int = DEFAULT_CHUNKSIZE,
              progress: Callable[[ScoreProgress], None] | None = None,
              cancel=None) -> ScoreSummary:
    """Score every row of ``input_path`` and write ``output_path``.

    Parameters
    ----------
    input_path, output_path : path
        The output must not be the input, and must not exist unless ``force``.
    bundle : ModelBundle
        Only ``predict_proba(X_raw (n, 9)) -> (n,)``, ``threshold`` and ``model_id``
        are used.
    threshold : float, optional
        Call malignant when probability >= threshold; the bundle's by default.
    force : bool
        Overwrite an existing output.
    chunksize : int
        Lines read per chunk; memory grows with this, not with the file.
    progress : callable, optional
        Called with a :class:`ScoreProgress` after each chunk.
    cancel : threading.Event, optional
        When set, the run stops with :class:`~bcdesktop.errors.Cancelled` and no
        output file is left behind.

    Raises
    ------
    UserError
        Unusable input (see :func:`bcdesktop.data.sniff_layout`), no usable row,
        a refused output path, or a bad threshold.
    """
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    t = float(bundle.threshold if threshold is None else threshold)
    if not 0.0 < t < 1.0:
        raise UserError(f"The threshold must lie between 0 and 1 (exclusive), got {t:g}.")
    layout = data.sniff_layout(input_path)
    _check_output(input_path, output_path, force)

    summary = ScoreSummary(input=input_path, output=output_path, model_id=str(bundle.model_id),
                           threshold=t)
    counts = np.zeros((3, 4), dtype=np.int64)  # tp, fp, tn, fn by class coding (words, 0/1, 2/4)
    newline = layout.newline.encode()
    t_text = f"{t:g}"

    def report(rows: int, bytes_done: int) -> None:
        if progress is not None:
            progress(ScoreProgress(rows, bytes_done, layout.size, time.perf_counter() - started))

    with contextlib.ExitStack() as stack:
        try:
            out = stack.enter_context(resources.atomic_writer(output_path, suffix=".part"))
        except OSError as exc:
            raise UserError(f"Cannot write in the folder {output_path.parent}: "
                            f"{exc.strerror or exc}. Choose another output folder.") from None
        stack.enter_context(_one_blas_thread())
        out.write(layout.bom + _header(layout) + newline)
        chunks = data.iter_chunks(layout, chunksize=chunksize, cancel=cancel,
                                  progress=lambda p: report(p.rows, p.bytes_done))
        for chunk in chunks:
            out.write(_score_chunk(chunk, layout, bundle, t, t_text, counts, summary) + newline)
        # raising here leaves no output file behind, as a cancel does
        if summary.rows_read == 0:
            raise UserError(f"{input_path} has no data rows.")
        if summary.scored == 0:
            first = "; ".join(str(r) for r in summary.rejections[:3])
            raise UserError(f"None of the {summary.rows_read} rows of {input_path} could be scored "
                            f"({first}). Check that the columns hold the nine scores 1-10.")
    if layout.has_labels:
        odd = data.odd_class_coding(int(counts[1].sum()), int(counts[2].sum()))
        if odd is not None:  # both codings: the less common one is ambiguous, as in load_csv
            summary.unlabelled += int(counts[odd].sum())
            counts[odd] = 0
        summary.metrics = metrics_from_counts(*counts.sum(axis=0).tolist(), threshold=t)
    summary.seconds = time.perf_counter() - started
    return summary


def _score_chunk(chunk: data.Chunk, layout: data.CsvLayout, bundle, threshold: float,
                 t_text: str, counts: np.ndarray, summary: ScoreSummary) -> bytes:
    """The output records of one chunk (joined by the line ending, without a final one);
    updates ``counts`` (tp, fp, tn, fn for each class coding) and ``summary``.

    The four new cells of every row are laid out in a byte matrix with NumPy (one
    zero-padded row per record, read back as variable-length bytes), so the per-row
    Python work is a single ``bytes + bytes``.
    """
    n = len(chunk)
    ok = chunk.features_ok
    ok_idx = np.flatnonzero(ok)
    p = np.empty(0)
    if len(ok_idx):
        p = np.asarray(bundle.predict_proba(chunk.X[ok_idx]), dtype=np.float64).reshape(-1)
        if p.shape != ok_idx.shape or not np.all((p >= 0) & (p <= 1)):
            raise ValueError("the model returned probabilities outside [0, 1] or of the wrong shape")
    called = p >= threshold
    d = layout.delimiter

    bad_tails = []
    for i in np.flatnonzero(~ok).tolist():
        reason = chunk.reasons[i]
        bad_tails.append(f"{d}{d}{d}{t_text}{d}{_csv_cell(reason, d)}".replace("\0", "")
                         .encode(layout.encoding, errors="replace"))
        if len(summary.rejections) < MAX_KEPT_REJECTIONS:
            summary.rejections.append(data.Rejection(int(chunk.lines[i]), chunk.sample_id(i, layout),
                                                     chunk.first_bad[i], reason))
        else:
            summary.rejections_not_kept += 1

    # ok rows: delimiter, probability as "d.dddddd", then ",benign,T,ok" or ",malignant,T,ok"
    calls = [f"{d}benign{d}{t_text}{d}ok".encode(), f"{d}malignant{d}{t_text}{d}ok".encode()]
    width_ok = 9 + max(map(len, calls))
    width = max([width_ok, *map(len, bad_tails)])
    tails = np.zeros((n, width), dtype=np.uint8)
    if len(ok_idx):
        micro = np.rint(p * 1e6).astype(np.int64)
        cells = np.empty((len(ok_idx), width_ok), dtype=np.uint8)
        cells[:, 0] = ord(d)
        cells[:, 1] = 48 + micro // 1_000_000
        cells[:, 2] = 46  # "."
        for k in range(6):
            cells[:, 8 - k] = 48 + (micro // 10 ** k) % 10
        table = np.zeros((2, width_ok - 9), dtype=np.uint8)
        for row, text in zip(table, calls):
            row[: len(text)] = np.frombuffer(text, dtype=np.uint8)
        cells[:, 9:] = table[called.astype(np.intp)]
        tails[ok_idx] = cells if width == width_ok else np.pad(cells, ((0, 0), (0, width - width_ok)))
    for i, tail in zip(np.flatnonzero(~ok).tolist(), bad_tails):
        tails[i, : len(tail)] = np.frombuffer(tail, dtype=np.uint8)

    n_mal = int(np.count_nonzero(called))
    summary.rows_read += n
    summary.scored += len(ok_idx)
    summary.rejected += n - len(ok_idx)
    summary.malignant += n_mal
    summary.benign += len(ok_idx) - n_mal
    if layout.has_labels:
        y = chunk.y[ok_idx]
        known = y >= 0
        summary.unlabelled += int(np.count_nonzero(~known))
        coding = chunk.class_coding[ok_idx]
        for c in range(3):
            sel = known & (coding == c)
            truth, call = y[sel] == 1, called[sel]
            counts[c] += (np.count_nonzero(call & truth), np.count_nonzero(call & ~truth),
                          np.count_nonzero(~call & ~truth), np.count_nonzero(~call & truth))

    # a fixed-width bytes array drops the trailing zero padding when read back
    encoded = tails.view(f"S{width}").ravel().tolist()
    return layout.newline.encode().join(map(bytes.__add__, chunk.raw, encoded))
