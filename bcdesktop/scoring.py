"""Batch scoring: every row of a CSV of cases back with a malignancy probability.

The input is read with exactly the rules of :func:`bcdesktop.data.load_csv`
(:func:`~bcdesktop.csvlayout.sniff_layout` once, then :func:`~bcdesktop.csvscan.iter_chunks`),
in chunks, so memory stays flat however long the file is. The output has one row per
data row of the input, in the same order: each input record copied byte for byte
(same cells, quoting, delimiter and encoding), followed by five new columns:

- ``probability``: malignancy probability, 6 decimals (empty for a rejected row);
- ``prediction``: ``malignant`` when probability >= threshold, else ``benign``
  (empty for a rejected row);
- ``threshold``: the threshold used, 6 decimals like the probability;
- ``status``: ``ok``, or why the row could not be scored (e.g. ``Bare Nuclei is missing``);
- ``model``: the id of the model that scored the file (``ModelBundle.model_id``).

A new column whose name the input already uses (case-insensitive) is named
``NAME_2`` (``_3``, ...) instead. The threshold is rounded to 6 decimals before
scoring (a threshold that rounds to 0 or 1 is refused) and the call is
``probability >= threshold``, as in ``predict`` and the window; the written
probability of a benign row never reaches the written threshold (one within half a
millionth below it is written a millionth below), so the numbers as written always
agree with the call.

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
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import csvlayout, csvrecords, csvscan, data, resources
from .errors import UserError
from .metrics import metrics_from_counts, threshold_at_6_decimals  # noqa: F401  (re-exported)
from .metrics import threshold_micro as _threshold_micro

NEW_COLUMNS = ("probability", "prediction", "threshold", "status", "model")
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
    layout : csvlayout.CsvLayout or None
        How the input was read (``layout.assumed``, ``layout.column_matching()``).
    swept : list of Path
        Temporary files of earlier runs to this output that were killed, removed
        before writing (see :meth:`swept_line`).
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


def _header(layout: csvlayout.CsvLayout) -> bytes:
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
              cancel=None, protect=()) -> ScoreSummary:
    """Score every row of ``input_path`` and write ``output_path``.

    Parameters
    ----------
    input_path, output_path : path
        The output must not be the input, the model file in use, a file shipped with
        the app or a file in ``protect`` (even with ``force``), and must not exist
        unless ``force``.
    bundle : ModelBundle
        Only ``predict_proba(X_raw (n, 9)) -> (n,)``, ``threshold``, ``model_id`` and,
        when it has one, ``source_path`` (the file it was loaded from) are used.
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
    counts = np.zeros((3, 4), dtype=np.int64)  # tp, fp, tn, fn by class coding (words, 0/1, 2/4)
    newline = layout.newline.encode()
    t_text = _micro_text(t_micro)

    def report(rows: int, bytes_done: int) -> None:
        if progress is not None:
            progress(ScoreProgress(rows, bytes_done, layout.size, time.perf_counter() - started))

    def put(out, payload: bytes) -> None:
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
            put(out, layout.bom + _header(layout) + newline)
            chunks = csvscan.iter_chunks(layout, chunksize=chunksize, cancel=cancel,
                                      progress=lambda p: report(p.rows, p.bytes_done))
            for chunk in chunks:
                put(out, _score_chunk(chunk, layout, bundle, t_micro, t_text, counts, summary) + newline)
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


def _score_chunk(chunk: csvscan.Chunk, layout: csvlayout.CsvLayout, bundle, t_micro: int,
                 t_text: str, counts: np.ndarray, summary: ScoreSummary) -> bytes:
    """The output records of one chunk (joined by the line ending, without a final one);
    updates ``counts`` (tp, fp, tn, fn for each class coding) and ``summary``.

    The new cells of every row are laid out in a byte matrix with NumPy (one
    zero-padded row per record, read back as variable-length bytes), so the per-row
    Python work is a single ``bytes + bytes``. The call is the app's one rule,
    ``probability >= threshold`` (the threshold at 6 decimals, as ``predict`` and the
    window use it); the probability is written in whole millionths, and a benign row
    whose probability would round up to the threshold is written one millionth below
    it, so the digits written never contradict the call.
    """
    n = len(chunk)
    ok = chunk.features_ok
    ok_idx = np.flatnonzero(ok)
    micro = np.empty(0, dtype=np.int64)
    if len(ok_idx):
        p = np.asarray(bundle.predict_proba(chunk.X[ok_idx]), dtype=np.float64).reshape(-1)
        if p.shape != ok_idx.shape or not np.all((p >= 0) & (p <= 1)):
            raise ValueError("the model returned probabilities outside [0, 1] or of the wrong shape")
        micro = np.rint(p * 1e6).astype(np.int64)
    else:
        p = np.empty(0)
    called = p >= t_micro / 1e6
    micro[~called] = np.minimum(micro[~called], t_micro - 1)
    d = layout.delimiter
    model = d + _csv_cell(str(bundle.model_id), d)

    bad_idx = np.flatnonzero(~ok).tolist()
    bad_tails = []
    for i in bad_idx:
        reason = chunk.reasons[i]
        bad_tails.append(f"{d}{d}{d}{t_text}{d}{_csv_cell(reason, d)}{model}".replace("\0", "")
                         .encode(layout.encoding, errors="replace"))
        if len(summary.rejections) < MAX_KEPT_REJECTIONS:
            summary.rejections.append(data.Rejection(int(chunk.lines[i]), chunk.sample_id(i, layout),
                                                     chunk.first_bad[i], reason))
        else:
            summary.rejections_not_kept += 1

    # ok rows: delimiter, probability as "d.dddddd", then ",benign,T,ok,M" or ",malignant,T,ok,M"
    calls = [f"{d}{word}{d}{t_text}{d}ok{model}".replace("\0", "").encode(layout.encoding, errors="replace")
             for word in ("benign", "malignant")]
    width_ok = 9 + max(map(len, calls))
    width = max([width_ok, *map(len, bad_tails)])
    tails = np.zeros((n, width), dtype=np.uint8)
    if len(ok_idx):
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
    for i, tail in zip(bad_idx, bad_tails):
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

    raw = chunk.raw
    if bad_idx:  # only a rejected record can have the wrong number of fields
        raw = list(raw)
        for i, record in zip(bad_idx, _fit_to_header([raw[i] for i in bad_idx], layout)):
            raw[i] = record
    # a fixed-width bytes array drops the trailing zero padding when read back
    encoded = tails.view(f"S{width}").ravel().tolist()
    return layout.newline.encode().join(map(bytes.__add__, raw, encoded))


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
