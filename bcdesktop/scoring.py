"""Batch scoring: every row of a CSV of cases back with a malignancy probability.

The input is read with exactly the rules of :func:`bcdesktop.data.load_csv`
(:func:`~bcdesktop.csvlayout.sniff_layout` once, then :func:`~bcdesktop.csvscan.iter_chunks`),
in chunks, so memory stays flat however long the file is. The output has one row per
data row of the input, in the same order: each input record copied byte for byte
(same cells, quoting, delimiter and encoding), followed by eight new columns
(:data:`NEW_COLUMNS`):

- ``probability``: malignancy probability, 6 decimals (empty for a rejected row);
- ``probability_low``, ``probability_high``: the Venn-Abers interval of that
  probability (:func:`bcdesktop.predictor.intervals`, from the model's out-of-fold
  calibration pairs), 6 decimals like the probability; empty for a rejected row, and
  empty in every row for a model without calibration pairs (an older model file, or
  one trained with ``--no-calibrate``): "not available", never a guess;
- ``indeterminate``: ``true`` when the interval holds both calls at the threshold
  (``probability_low < threshold <= probability_high``), or lies wholly on the other
  side of it from the probability (:func:`~bcdesktop.predictor.undecided`), else ``false``; empty where the interval is (a rejected row, a model without
  calibration pairs). ``prediction`` keeps the call from the probability alone;
- ``prediction``: ``malignant`` when probability >= threshold, else ``benign``
  (empty for a rejected row);
- ``threshold``: the threshold used, 6 decimals like the probability;
- ``status``: ``ok``, or why the row could not be scored (e.g. ``Bare Nuclei is missing``);
- ``model``: the id of the model that scored the file (``ModelBundle.model_id``).

With ``explain=True`` (``bcdesktop score --explain``, the Batch tab's "Add the nine
contributions") nine more columns follow ``model``, :data:`CONTRIBUTION_COLUMNS`:
``contribution_clump_thickness``, ``contribution_uniformity_of_cell_size``,
``contribution_uniformity_of_cell_shape``, ``contribution_marginal_adhesion``,
``contribution_single_epithelial_cell_size``, ``contribution_bare_nuclei``,
``contribution_bland_chromatin``, ``contribution_normal_nucleoli``,
``contribution_mitoses`` (``contribution_`` + the UCI name of :data:`bcdesktop.schema.FEATURES`
lower-cased, every run of other characters an underscore): each feature's exact
Shapley contribution on the log-odds scale against the model's training rows
(:func:`bcdesktop.explain.explain_bundle` with ``patterns.background("training")``),
6 decimals (``-0.749112``). They add up: base + the nine = the log-odds of the row's
probability, the base being the same for every row (``ScoreSummary.explain_base``,
the mean log-odds over the training rows); within the 6 decimals written, the nine
cells sum to it within 5e-6. Empty for a rejected row, and for a model without
training patterns. One explanation takes ~10 ms, so each distinct score pattern is
explained once (:data:`MAX_EXPLAINED_PATTERNS` of them kept for the rest of the run)
and the rows that repeat it reuse it; chunks are then :data:`EXPLAIN_CHUNKSIZE` lines.

A new column whose name the input already uses (case-insensitive) is named
``NAME_2`` (``_3``, ...) instead. The threshold is rounded to 6 decimals before
scoring (a threshold that rounds to 0 or 1 is refused) and the call is
``probability >= threshold``, as in ``predict`` and the window. A number below the
threshold is never written at or above it: the probability of a benign row, or an
interval end below the threshold, that would round up to it is written a millionth
below, so ``prediction`` and ``indeterminate`` always agree with the digits as written.

Every output row has as many cells as the header, so the new columns always sit
under their names: a record with too few fields gets empty cells up to the header's
width; in a record with too many, everything from the last input column on (the
surplus fields and the delimiters between them) is folded into that column as one
quoted cell, its quotes doubled, so that cell reads back as the record's original
text from there on and no byte of the input is lost. Both rows keep the reason
(``row has 12 fields, expected 11``) in ``status``.

A header row is always written: the input's own, or for a headerless file the UCI
column names. Blank lines are not data rows and are not copied. A scored row whose
class cell is missing or unknown keeps ``status`` ``ok`` but is left out of the
labelled summary (``ScoreSummary.unlabelled`` counts them); so is a row whose class is
written 0/1 in a file that mostly writes 2/4, or the other way round (as
:func:`bcdesktop.data.load_csv` rejects it).

The output is written to a temporary file beside the target
(``.OUT.PID@HOST.RANDOM.part``) and moved into place only at the end, so a cancelled,
interrupted or failed run leaves no partial file; temporary files of earlier runs
that were killed are removed first (``ScoreSummary.swept``). The output is never the
input, the model in use (``bundle.source_path``), a file shipped with the app
(:func:`bcdesktop.resources.is_bundled_file`) or anything but a regular file, even
with ``force``; without ``force`` a file that appears at the output while scoring
(another run) is kept and this run fails instead. Any error writing the output (a
full disk, the folder removed) is one :class:`~bcdesktop.errors.UserError`.

:func:`score_rows` is the arithmetic shared with :func:`bcdesktop.frame.predict_frame`
(the same numbers for a pandas DataFrame, unrounded).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import csvlayout, csvrecords, csvscan, data, predictor, resources
from .errors import Cancelled, UserError
from .metrics import metrics_from_counts, threshold_at_6_decimals  # noqa: F401  (re-exported)
from .metrics import threshold_micro as _threshold_micro
from .schema import FEATURES

NEW_COLUMNS = ("probability", "probability_low", "probability_high", "indeterminate", "prediction",
               "threshold", "status", "model")
MAX_KEPT_REJECTIONS = 1000
DEFAULT_CHUNKSIZE = 50_000
#: Lines per chunk with ``explain`` (a chunk of distinct rows takes ~10 ms a row, and
#: progress and cancel are seen between chunks).
EXPLAIN_CHUNKSIZE = 1_000
#: Distinct score patterns whose contributions are kept for the rest of a run (about
#: 500 bytes each, so at most ~25 MB: memory stays flat however long the file).
MAX_EXPLAINED_PATTERNS = 50_000
#: How the file writes ``indeterminate`` (as pandas and R read booleans).
TRUE, FALSE = "true", "false"


def column_safe(name: str) -> str:
    """``"Uniformity of Cell Size"`` -> ``"uniformity_of_cell_size"``: lower case, every
    run of characters other than a-z and 0-9 one underscore, none at the ends."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


#: The ``explain`` columns, one per feature in :data:`bcdesktop.schema.FEATURES` order.
CONTRIBUTION_COLUMNS = tuple(f"contribution_{column_safe(f)}" for f in FEATURES)


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
    layout : csvlayout.CsvLayout or None
        How the input was read (``layout.assumed``, ``layout.column_matching()``).
    swept : list of Path
        Temporary files of earlier runs to this output that were killed, removed
        before writing (see :meth:`swept_line`).
    intervals : bool
        The model had calibration pairs, so ``probability_low`` / ``_high`` and
        ``indeterminate`` are filled; ``indeterminate`` counts the rows so marked.
    explained : bool
        The run added the contribution columns and they are filled (``explain`` asked
        for, and the model has training patterns).
    explain_base : float or None
        The base the contributions start from (the mean log-odds over the training
        rows): base + the nine contributions = the row's log-odds.
    explained_patterns : int
        Explanations computed (distinct score patterns; rows repeating one reuse it).
    input_sha256, output_sha256 : str or None
        SHA-256 of the input's bytes as read and of the output's bytes as written
        (for the audit trail), computed while streaming; None until the run ends, and
        when ``score_csv`` was asked for no ``digests``.
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
    swept: list = field(default_factory=list)
    layout: object = None
    intervals: bool = False
    indeterminate: int = 0
    explained: bool = False
    explain_base: float | None = None
    explained_patterns: int = 0
    input_sha256: str | None = None
    output_sha256: str | None = None

    def summary_line(self) -> str:
        """``"rows read 699, scored 683, rejected 16, malignant 239, benign 444"``."""
        return (f"rows read {self.rows_read}, scored {self.scored}, rejected {self.rejected}, "
                f"malignant {self.malignant}, benign {self.benign}")

    def swept_line(self) -> str:
        """``"removed 1 temporary file left by an earlier run that was stopped: NAME"``,
        or ``""`` when nothing was swept."""
        if not self.swept:
            return ""
        n = len(self.swept)
        return (f"removed {n} temporary file{'s' if n != 1 else ''} left by an earlier run that "
                f"was stopped: {', '.join(p.name for p in self.swept)}")

    def __repr__(self) -> str:
        return f"ScoreSummary({self.input.name!r} -> {self.output.name!r}: {self.summary_line()})"


def default_output_path(input_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """``INPUT_STEM.scored.csv`` beside the input; for a file shipped with the app
    (which nothing is written beside), in ``folder`` (default: the current folder)."""
    path = Path(input_path)
    name = f"{path.stem}.scored.csv"
    if resources.is_bundled_file(path):
        return (Path.cwd() if folder is None else Path(folder)) / name
    return path.with_name(name)


#: Whether two paths name one file (links and ``..`` resolved, hard links compared by
#: identity); kept here for the callers that know it as ``scoring.same_file``.
same_file = resources.same_file


def _check_output(input_path: Path, output_path: Path, force: bool, model_path=None,
                  protect=()) -> None:
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
    if model_path is not None and same_file(output_path, model_path):
        raise UserError(f"The output {output_path} is the model file being used for scoring "
                        f"({model_path}); the app never writes over a model in use. Choose another "
                        "output name.")
    if resources.is_bundled_file(output_path):
        raise UserError(f"The output {output_path} is among the files shipped with the app, which it "
                        "never writes over or beside. Choose another output name and folder.")
    for other in protect:
        if same_file(output_path, other):
            raise UserError(f"The output {output_path} is {other}, which must not be written over. "
                            "Choose another output name.")
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UserError(f"The output {output_path} is a folder. Give a file name for the output.")
    if st is not None and not stat.S_ISREG(st.st_mode):
        # never replace a device or a pipe, even when allowed to overwrite (as root, os.replace
        # would swap /dev/null for a plain file)
        raise UserError(f"The output {output_path} is {resources.file_kind(st.st_mode)}, not a file. "
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


def _new_column_names(existing, wanted=NEW_COLUMNS) -> list[str]:
    """``wanted``, each renamed ``NAME_2`` (``_3``, ...) when ``existing`` (or an
    earlier new name) already uses it, case-insensitively."""
    taken = {str(c).strip().lower() for c in existing}
    names = []
    for name in wanted:
        candidate, k = name, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{name}_{k}"
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def output_columns(explain: bool = False) -> tuple[str, ...]:
    """The new columns a run adds, before any renaming: :data:`NEW_COLUMNS`, then
    :data:`CONTRIBUTION_COLUMNS` with ``explain``."""
    return NEW_COLUMNS + (CONTRIBUTION_COLUMNS if explain else ())


def _header(layout: csvlayout.CsvLayout, explain: bool = False) -> bytes:
    d = layout.delimiter
    new = d.join(_new_column_names(layout.columns, output_columns(explain)))
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


class _Hashing:
    """SHA-256 of byte streams computed in one background thread, in the order given.

    ``stream()`` gives an object with ``update(data)`` (queued, at most a few blocks
    ahead, so memory stays bounded) and ``hexdigest()``. Used as a context manager
    around the work: leaving it waits until every queued block is hashed (and stops the
    thread however the work ended). hashlib releases the GIL on large blocks, so on a
    second core the hashing costs the scoring next to nothing.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = None

    def stream(self) -> _HashStream:
        return _HashStream(self)

    def put(self, digest, data: bytes) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bcdesktop-sha256", daemon=True)
            self._thread.start()
        self._queue.put((digest, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            item[0].update(item[1])

    def __enter__(self) -> _Hashing:
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class _HashStream:
    def __init__(self, hashing: _Hashing) -> None:
        self._hashing, self._digest = hashing, hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hashing.put(self._digest, data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def score_csv(input_path: str | os.PathLike, output_path: str | os.PathLike, bundle, *,
              threshold: float | None = None, force: bool = False,
              chunksize: int = DEFAULT_CHUNKSIZE,
              progress: Callable[[ScoreProgress], None] | None = None,
              cancel=None, protect=(), explain: bool = False, digests: bool = True) -> ScoreSummary:
    """Score every row of ``input_path`` and write ``output_path``.

    Parameters
    ----------
    input_path, output_path : path
        The output must not be the input, the model file in use, a file shipped with
        the app or a file in ``protect`` (even with ``force``), and must not exist
        unless ``force``.
    bundle : ModelBundle
        ``predict_proba(X_raw (n, 9)) -> (n,)``, ``threshold``, ``model_id`` and, when
        it has one, ``source_path`` (the file it was loaded from) are used; with
        calibration pairs (``oof``) also ``raw_proba`` and ``recalibrated`` (for the
        interval), with ``explain`` and training patterns (``patterns``) ``network``,
        ``scaler`` and ``features`` (see :func:`score_rows`).
    threshold : float, optional
        Call malignant when probability >= threshold; the bundle's by default. Rounded
        to 6 decimals, as written in the file (``ScoreSummary.threshold``).
    force : bool
        Overwrite an existing output. Without it, an output that another run creates
        while this one scores is kept and this run raises a UserError.
    chunksize : int
        Lines read per chunk; memory grows with this, not with the file.
    progress : callable, optional
        Called with a :class:`ScoreProgress` after each chunk.
    cancel : threading.Event, optional
        When set, the run stops with :class:`~bcdesktop.errors.Cancelled` and no
        output file is left behind.
    protect : iterable of paths
        More files the output must never be (e.g. the data set a window has open).
    explain : bool
        Add :data:`CONTRIBUTION_COLUMNS` (slow: ~10 ms for each distinct score pattern;
        chunks of at most :data:`EXPLAIN_CHUNKSIZE` lines, so progress and ``cancel``
        are seen every few seconds).
    digests : bool
        Compute the SHA-256 of the input and of the output while streaming
        (``ScoreSummary.input_sha256`` / ``output_sha256``, for the audit trail), in a
        second thread (``_Hashing``; in this one it took about 9% of the run); False
        leaves them None.

    Raises
    ------
    UserError
        Unusable input (see :func:`bcdesktop.csvlayout.sniff_layout`), no usable row,
        a refused output path, a bad threshold, or the output could not be written
        (``"Cannot write the output OUT: No space left on device. ..."``).
    """
    started = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    t_micro = _threshold_micro(bundle.threshold if threshold is None else threshold)
    layout = csvlayout.sniff_layout(input_path)
    model_path = getattr(bundle, "source_path", None)
    protect = tuple(protect)
    _check_output(input_path, output_path, force, model_path, protect)
    # checked again by the writer just before its final move
    keep = (input_path, *([model_path] if model_path is not None else []), *protect,
            *resources.protected_paths())

    t = t_micro / 1e6
    summary = ScoreSummary(input=input_path, output=output_path, model_id=str(bundle.model_id),
                           threshold=t, layout=layout)
    explainer = Explainer(bundle, cancel=cancel, delimiter=layout.delimiter) if explain else None
    if explain:
        chunksize = min(chunksize, EXPLAIN_CHUNKSIZE)
    counts = np.zeros((3, 4), dtype=np.int64)  # tp, fp, tn, fn by class coding (words, 0/1, 2/4)
    newline = layout.newline.encode()
    t_text = _micro_text(t_micro)

    def report(rows: int, bytes_done: int) -> None:
        if progress is not None:
            progress(ScoreProgress(rows, bytes_done, layout.size, time.perf_counter() - started))

    # the input's and the output's SHA-256, for the audit trail, hashed in a second thread
    # (about 5% of the run when done here)
    hashing = _Hashing() if digests else None
    in_hash, out_hash = (hashing.stream(), hashing.stream()) if hashing else (None, None)

    def put(out, payload: bytes) -> None:
        if out_hash is not None:
            out_hash.update(payload)
        try:
            out.write(payload)
        except OSError as exc:
            raise _cannot_write(output_path, exc) from None

    stage = "create"  # then "score" (reading the input), then "finish" (sync and move)
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(resources.atomic_writer(
                output_path, suffix=".part", overwrite=force, protect=keep, swept=summary.swept))
            stage = "score"
            stack.enter_context(_one_blas_thread())
            if hashing is not None:
                stack.enter_context(hashing)
            put(out, layout.bom + _header(layout, explain) + newline)
            chunks = csvscan.iter_chunks(layout, chunksize=chunksize, cancel=cancel,
                                      progress=lambda p: report(p.rows, p.bytes_done), hasher=in_hash)
            for chunk in chunks:
                put(out, _score_chunk(chunk, layout, bundle, t_micro, t_text, counts, summary, explainer,
                                      explain) + newline)
            # raising here leaves no output file behind, as a cancel does
            if summary.rows_read == 0:
                raise UserError(f"{input_path} has no data rows.")
            if summary.scored == 0:
                first = "; ".join(str(r) for r in summary.rejections[:3])
                raise UserError(f"None of the {summary.rows_read} rows of {input_path} could be "
                                f"scored ({first}). Check that the columns hold the nine scores 1-10.")
            stage = "finish"
    except resources.TargetExists as exc:
        if not exc.appeared:
            raise
        raise UserError(f"The output {output_path} appeared while scoring (another run writing the "
                        "same file?) and was kept as it is; this run's scores were not written. "
                        "Choose another output name, or allow overwriting it (--force on the "
                        "command line).") from None
    except OSError as exc:
        if stage == "create":
            raise UserError(f"Cannot write in the folder {output_path.parent}: "
                            f"{exc.strerror or exc}. Choose another output folder.") from None
        if stage == "finish":
            raise _cannot_write(output_path, exc) from None
        raise UserError(f"Cannot read {input_path}: {exc.strerror or exc}. No output was "
                        "written.") from None
    if layout.has_labels:
        odd = data.odd_class_coding(int(counts[1].sum()), int(counts[2].sum()))
        if odd is not None:  # both codings: the less common one is ambiguous, as in load_csv
            summary.unlabelled += int(counts[odd].sum())
            counts[odd] = 0
        summary.metrics = metrics_from_counts(*counts.sum(axis=0).tolist(), threshold=t)
    if hashing is not None:
        summary.input_sha256, summary.output_sha256 = in_hash.hexdigest(), out_hash.hexdigest()
    summary.intervals = predictor.venn_abers_of(bundle) is not None
    if explainer is not None:
        summary.explained = explainer.available
        summary.explain_base = explainer.base
        summary.explained_patterns = explainer.computed
    summary.seconds = time.perf_counter() - started
    return summary


def _micro_text(micro: int) -> str:
    """``"0.015848"`` for 15848: the 6-decimal form every probability is written in."""
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"


def _cannot_write(output_path: Path, exc: OSError) -> UserError:
    """One line for an OSError while writing, syncing or moving the output."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = "Free some space or choose another folder, and score again."
    elif exc.errno == errno.ENOENT and not output_path.parent.is_dir():
        reason = f"the folder {output_path.parent} no longer exists (removed or renamed while scoring)"
        fix = "Choose an existing folder and score again."
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "Choose a folder you can write to, and score again."
    else:
        fix = "Choose another output folder, and score again."
    return UserError(f"Cannot write the output {output_path}: {reason}. {fix} No partial file "
                     "was left.")


@dataclass(frozen=True)
class RowScores:
    """The numbers of :func:`score_rows` for m usable rows.

    Attributes
    ----------
    probability : ndarray (m,)
        ``bundle.predict_proba``.
    called : ndarray (m,) bool
        ``probability >= threshold``.
    low, high : ndarray (m,) or None
        The Venn-Abers interval (:func:`bcdesktop.predictor.intervals`); None for a
        model without calibration pairs.
    indeterminate : ndarray (m,) bool or None
        The probability and the whole interval do not give one call at ``threshold``
        (:func:`bcdesktop.predictor.undecided`).
    contributions : ndarray (m, 9) or None
        Shapley contributions on the log-odds scale against the training rows; None
        when not asked for or the model has no training patterns.
    """

    probability: np.ndarray
    called: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    indeterminate: np.ndarray | None = None
    contributions: np.ndarray | None = None


def score_rows(bundle, X: np.ndarray, threshold: float, explainer: Explainer | None = None) -> RowScores:
    """Probability, call, interval and (with an ``explainer``) contributions of the
    usable rows ``X`` (m, 9) at ``threshold`` (already at 6 decimals): the numbers both
    :func:`score_csv` and :func:`bcdesktop.frame.predict_frame` give.

    The network runs once (:func:`bcdesktop.predictor.probabilities_and_intervals`).
    """
    m = X.shape[0]
    low = high = indeterminate = None
    if m == 0:
        p = np.empty(0)
    else:
        p, low, high = predictor.probabilities_and_intervals(bundle, X)
        if low is not None:
            indeterminate = predictor.undecided(p, low, high, threshold)
    if p.shape != (m,) or not np.all((p >= 0) & (p <= 1)):
        raise ValueError("the model returned probabilities outside [0, 1] or of the wrong shape")
    contributions = None
    if explainer is not None and explainer.available:
        contributions = explainer.contributions(X)
    return RowScores(probability=p, called=p >= threshold, low=low, high=high,
                     indeterminate=indeterminate, contributions=contributions)


def _pattern_keys(X: np.ndarray) -> np.ndarray:
    """One int64 per row of whole scores 1..10 (m, 9): the same key for the same nine."""
    return (X.astype(np.int64) - 1) @ (10 ** np.arange(X.shape[1], dtype=np.int64))


class Explainer:
    """Exact Shapley contributions of many rows, each distinct score pattern explained
    once (:func:`bcdesktop.explain.explain_bundle` against the model's training rows,
    ~10 ms each) and kept for the rest of the run (at most
    :data:`MAX_EXPLAINED_PATTERNS`), rows repeating it mapped back to it.

    ``available`` is False for a model without training patterns (nothing to explain
    against). With a ``delimiter``, :meth:`cells` gives each row's contribution cells
    as bytes, formatted once per pattern too. ``cancel`` (a ``threading.Event``) is
    looked at between explanations (:class:`~bcdesktop.errors.Cancelled`).
    """

    def __init__(self, bundle, *, cancel=None, delimiter: str | None = None):
        self.bundle, self.cancel, self.delimiter = bundle, cancel, delimiter
        pats = getattr(bundle, "patterns", None)
        rows, weights = pats.background("training") if pats is not None else (np.empty((0, 9)), np.empty(0))
        self.rows, self.weights = rows, weights
        self.available = rows.shape[0] > 0
        self.base: float | None = None
        self.computed = 0
        self._memo: dict[int, tuple[np.ndarray, bytes]] = {}

    def __repr__(self) -> str:
        return (f"Explainer({'available' if self.available else 'no training patterns'}, "
                f"{self.computed} patterns explained, {len(self._memo)} kept)")

    def _explained(self, X: np.ndarray) -> tuple[np.ndarray, list[bytes], np.ndarray]:
        """(contributions of each distinct pattern (u, 9), their cells, inverse (m,))."""
        from .explain import explain_bundle

        keys = _pattern_keys(X)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        out = np.empty((uniq.size, X.shape[1]))
        cells: list[bytes] = []
        for k, key in enumerate(uniq.tolist()):
            hit = self._memo.get(key)
            if hit is None:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled()
                e = explain_bundle(self.bundle, X[first[k]], self.rows, self.weights)
                self.computed += 1
                if self.base is None:
                    self.base = e.base
                hit = (e.contributions, self._format(e.contributions))
                if len(self._memo) < MAX_EXPLAINED_PATTERNS:
                    self._memo[key] = hit
            out[k] = hit[0]
            cells.append(hit[1])
        return out, cells, inverse.reshape(-1)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Contributions (m, 9) of the rows ``X`` (m, 9) of whole scores."""
        out, _, inverse = self._explained(X)
        return out[inverse]

    def cells(self, X: np.ndarray) -> list[bytes]:
        """Each row's nine contribution cells, each after a delimiter (``,-0.749112...``)."""
        _, cells, inverse = self._explained(X)
        return [cells[i] for i in inverse.tolist()]

    def _format(self, c: np.ndarray) -> bytes:
        if self.delimiter is None:
            return b""
        d = self.delimiter
        return "".join(d + format_contribution(v) for v in c.tolist()).encode("ascii")


def format_contribution(value: float) -> str:
    """A log-odds contribution as written: 6 decimals, ``-0.749112``, never ``-0.000000``."""
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text


#: The ASCII digits of 0..999 as bytes 2-4 and 5-7 of a little-endian 8-byte word, for
#: :func:`_put_micro`.
_D3 = (48 + np.array([[k // 100, k // 10 % 10, k % 10] for k in range(1000)])).astype(np.uint64)
_THOUSANDTHS = (_D3 << np.array([16, 24, 32], dtype=np.uint64)).sum(axis=1).astype("<u8")
_MILLIONTHS = (_D3 << np.array([40, 48, 56], dtype=np.uint64)).sum(axis=1).astype("<u8")


def _put_micro(cells: np.ndarray, col: int, micro: np.ndarray) -> None:
    """``d.dddddd`` (8 bytes) of ``micro`` millionths (0..1,000,000) at ``cells[:, col:col + 8]``:
    each cell built as one 8-byte word from two 3-digit lookups, then copied in once."""
    whole, frac = np.divmod(micro, 1_000_000)
    word = _THOUSANDTHS[frac // 1000] | _MILLIONTHS[frac % 1000] | (whole.astype("<u8") + np.uint64(48 + (46 << 8)))
    cells[:, col:col + 8] = word.view(np.uint8).reshape(-1, 8)


def _written(values: np.ndarray, below: np.ndarray, t_micro: int) -> np.ndarray:
    """``values`` in whole millionths, those ``below`` the threshold at most a millionth
    under it (so a number below the threshold never prints as reaching it)."""
    micro = np.rint(values * 1e6).astype(np.int64)
    micro[below] = np.minimum(micro[below], t_micro - 1)
    return micro


def _score_chunk(chunk: csvscan.Chunk, layout: csvlayout.CsvLayout, bundle, t_micro: int,
                 t_text: str, counts: np.ndarray, summary: ScoreSummary,
                 explainer: Explainer | None = None, explain: bool = False) -> bytes:
    """The output records of one chunk (joined by the line ending, without a final one);
    updates ``counts`` (tp, fp, tn, fn for each class coding) and ``summary``.

    The new cells of every row are laid out in a byte matrix with NumPy (one
    zero-padded row per record, read back as variable-length bytes), so the per-row
    Python work is a single ``bytes + bytes`` (two with ``explain``). The call is the
    app's one rule, ``probability >= threshold`` (the threshold at 6 decimals, as
    ``predict`` and the window use it); the probability and the interval are written in
    whole millionths, and a number below the threshold that would round up to it is
    written one millionth below it, so the digits written never contradict the call
    nor ``indeterminate``.
    """
    n = len(chunk)
    ok = chunk.features_ok
    ok_idx = np.flatnonzero(ok)
    t = t_micro / 1e6
    scores = score_rows(bundle, chunk.X[ok_idx], t, None)
    called = scores.called
    micro = _written(scores.probability, ~called, t_micro)
    with_interval = scores.low is not None
    d = layout.delimiter
    model = d + _csv_cell(str(bundle.model_id), d)
    no_contributions = d * len(CONTRIBUTION_COLUMNS) if explain else ""

    bad_idx = np.flatnonzero(~ok).tolist()
    bad_tails = []
    for i in bad_idx:
        reason = chunk.reasons[i]
        bad_tails.append(f"{d * 6}{t_text}{d}{_csv_cell(reason, d)}{model}".replace("\0", "")
                         .encode(layout.encoding, errors="replace"))
        if len(summary.rejections) < MAX_KEPT_REJECTIONS:
            summary.rejections.append(data.Rejection(int(chunk.lines[i]), chunk.sample_id(i, layout),
                                                     chunk.first_bad[i], reason))
        else:
            summary.rejections_not_kept += 1

    # ok rows: delimiter, probability as "d.dddddd", with an interval ",d.dddddd,d.dddddd",
    # then ",false,benign,T,ok,M" (indeterminate, call: a table of 4), without ",,,,benign,T,ok,M"
    words = ("benign", "malignant")
    if with_interval:
        fixed = 27
        calls = [f"{d}{flag}{d}{word}{d}{t_text}{d}ok{model}" for flag in (FALSE, TRUE) for word in words]
        pick = 2 * scores.indeterminate.astype(np.intp) + called.astype(np.intp)
    else:
        fixed = 9
        calls = [f"{d * 4}{word}{d}{t_text}{d}ok{model}" for word in words]
        pick = called.astype(np.intp)
    calls = [c.replace("\0", "").encode(layout.encoding, errors="replace") for c in calls]
    width_ok = fixed + max(map(len, calls))
    width = max([width_ok, *map(len, bad_tails)])
    tails = np.zeros((n, width), dtype=np.uint8)
    if len(ok_idx):
        cells = np.empty((len(ok_idx), width_ok), dtype=np.uint8)
        cells[:, 0] = ord(d)
        _put_micro(cells, 1, micro)
        if with_interval:
            cells[:, 9] = ord(d)
            _put_micro(cells, 10, _written(scores.low, scores.low < t, t_micro))
            cells[:, 18] = ord(d)
            _put_micro(cells, 19, _written(scores.high, scores.high < t, t_micro))
        table = np.zeros((len(calls), width_ok - fixed), dtype=np.uint8)
        for row, text in zip(table, calls):
            row[: len(text)] = np.frombuffer(text, dtype=np.uint8)
        cells[:, fixed:] = table[pick]
        tails[ok_idx, :width_ok] = cells
    for i, tail in zip(bad_idx, bad_tails):
        tails[i, : len(tail)] = np.frombuffer(tail, dtype=np.uint8)

    n_mal = int(np.count_nonzero(called))
    summary.rows_read += n
    summary.scored += len(ok_idx)
    summary.rejected += n - len(ok_idx)
    summary.malignant += n_mal
    summary.benign += len(ok_idx) - n_mal
    if with_interval:
        summary.indeterminate += int(np.count_nonzero(scores.indeterminate))
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

    raw = chunk.raw
    if bad_idx:  # only a rejected record can have the wrong number of fields
        raw = list(raw)
        for i, record in zip(bad_idx, _fit_to_header([raw[i] for i in bad_idx], layout)):
            raw[i] = record
    # a fixed-width bytes array drops the trailing zero padding when read back
    encoded = tails.view(f"S{width}").ravel().tolist()
    lines = map(bytes.__add__, raw, encoded)
    if explain:
        extra = [no_contributions.encode(layout.encoding)] * n
        if explainer is not None and explainer.available and len(ok_idx):
            for i, cell in zip(ok_idx.tolist(), explainer.cells(chunk.X[ok_idx])):
                extra[i] = cell
        lines = map(bytes.__add__, lines, extra)
    return layout.newline.encode().join(lines)


def _fit_to_header(records: list[bytes], layout: csvlayout.CsvLayout) -> list[bytes]:
    """Each record with exactly ``layout.n_fields`` fields, so the new columns line up.

    A short record gets empty cells at its end. In a long one, everything from the
    last input column on (surplus fields and delimiters included) becomes one quoted
    cell with its quotes doubled: read back, that cell is the original text from there
    on, so no byte is lost. Fields are found by the reader's own record splitter
    (quotes honoured exactly as when the rows were read and counted).
    """
    want = layout.n_fields
    d = layout.delimiter
    rec = csvrecords.split_records(b"\n".join(records), d)
    if len(rec.starts) != len(records):  # pragma: no cover - a record that splits differently alone
        return [_fit_one(r, csvrecords.split_records(r, d), 0, want, d) for r in records]
    return [_fit_one(r, rec, j, want, d) for j, r in enumerate(records)]


def _fit_one(record: bytes, rec, j: int, want: int, d: str) -> bytes:
    have = int(rec.n_fields[j])
    if have == want:
        return record
    if have < want:
        return record + d.encode() * (want - have)
    if want <= 1:
        cut = 0
    else:  # just after the delimiter that opens the last input column
        cut = int(rec.delims[rec.first_delim[j] + want - 2] - rec.starts[j]) + 1
    return record[:cut] + b'"' + record[cut:].replace(b'"', b'""') + b'"'
