"""Reading and validating the data records of a file in chunks, straight from its bytes.

:func:`iter_chunks` reads a file as :func:`~bcdesktop.csvlayout.sniff_layout` found it,
in chunks of raw records (bytes, so scoring can copy every original cell through
untouched), bounded in rows and in bytes (:data:`BLOCK_BYTES`), and validates each chunk
with vectorised NumPy (:func:`validate_chunk`, by the rules of ``bcdesktop.schema``),
giving for every record its line number, the scores, the class and, for a bad record,
the reason in words. A file that is not the one sniffed (replaced, or written to while
it is read), a line far too long, binary data or a quote that never closes is refused,
not read in part. (No pandas here: its string columns were three times too slow for
batch scoring.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import csvrecords
from .csvlayout import CsvLayout, changed_error, file_identity, open_checked
from .csvrecords import (
    NUL_RUN,
    Records,
    binary_error,
    line_ends,
    n_breaks,
    size_text,
    split_line,
    split_records,
    too_long_error,
)
from .errors import Cancelled
from .schema import (
    CLASS_CODING,
    CODED_01,
    CODED_24,
    FEATURES,
    OK,
    class_cell,
    class_key,
    score_reason,
    score_value,
    shorten,
    user_error,
)

#: A block of lines read at once holds about this many bytes (or one line, when longer),
#: so that a chunk, and the arrays validating it, are bounded in bytes as well as in
#: rows, whatever the width of the rows.
BLOCK_BYTES = 8 * 1024 * 1024
#: A quoted cell may hold line breaks, but not this many: past it, a quote is missing.
MAX_QUOTED_LINES = 1000
_MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class LoadProgress:
    """Progress of reading a file: data rows so far and bytes read of the total."""

    rows: int
    bytes_done: int
    bytes_total: int

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0


@dataclass
class Chunk:
    """One validated chunk of data records (blank lines already left out).

    Attributes
    ----------
    raw : list of bytes, length n
        Each record exactly as in the file, without its line ending (and without a BOM).
    lines : ndarray (n,) int64
        1-based line number where each record starts.
    X : ndarray (n, 9) float64
        Scores; NaN where a cell is missing or unusable.
    features_ok : ndarray (n,) bool
        Right number of fields and all nine scores usable.
    reasons : ndarray (n,) object
        "" where ``features_ok``, else the reason(s) in words.
    first_bad : ndarray (n,) object
        The first bad column name, or None (whole-row problem or nothing wrong).
    y : ndarray (n,) int8
        0/1, or -1 where there is no class column or the class cell is unusable.
    class_reasons : ndarray (n,) object
        "" or the reason the class cell is unusable (only with a class column).
    ids : ndarray (n,) object or None
        Sample ids as text (only when asked for).
    class_coding : ndarray (n,) int8 or None
        1 where the class is written 0/1, 2 where 2/4, 0 for words or no class.
    """

    raw: list
    lines: np.ndarray
    X: np.ndarray
    features_ok: np.ndarray
    reasons: np.ndarray
    first_bad: np.ndarray
    y: np.ndarray
    class_reasons: np.ndarray
    ids: np.ndarray | None
    class_coding: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.raw)

    def sample_id(self, i: int, layout: CsvLayout) -> str:
        """Sample id of record ``i`` (read from the raw record when ids were not kept)."""
        if self.ids is not None:
            return str(self.ids[i])
        if layout.id_col is None:
            return ""
        fields = _split_record(self.raw[i], layout)
        return fields[layout.id_col].strip() if layout.id_col < len(fields) else ""


def iter_chunks(layout: CsvLayout, *, chunksize: int = 100_000, want_ids: bool = False,
                progress: Callable[[LoadProgress], None] | None = None, cancel=None,
                hasher=None) -> Iterator[Chunk]:
    """Read and validate the data records of a file in chunks, in file order.

    Parameters
    ----------
    layout : CsvLayout
        From :func:`bcdesktop.csvlayout.sniff_layout`.
    chunksize : int
        At most this many lines per chunk; a chunk also holds at most about
        :data:`BLOCK_BYTES` of records (or one longer line), so memory stays bounded by
        these, not by the file or the width of its rows.
    want_ids : bool
        Also read the sample id of every record into ``Chunk.ids``.
    progress : callable, optional
        Called with a :class:`LoadProgress` after each chunk.
    cancel : threading.Event, optional
        When set, raises :class:`~bcdesktop.errors.Cancelled` before the next chunk.
    hasher : hashlib object, optional
        Updated with every byte of the file.

    Raises
    ------
    UserError
        At a line longer than :data:`~bcdesktop.csvrecords.MAX_LINE_BYTES`, binary data,
        a quote never closed, or when the file is not the one sniffed (``layout.identity``:
        replaced, grown, shrunk or rewritten since, or while it is read).
    """
    rows_done = 0
    memo: dict = {}
    with open_checked(layout.path) as fh:
        if layout.identity is not None and file_identity(os.fstat(fh.fileno())) != tuple(layout.identity):
            raise changed_error(layout.path)
        # everything up to and including the header line (which holds the BOM, if any)
        skipped = fh.read(layout.data_offset)
        if hasher is not None:
            hasher.update(skipped)
        done = len(skipped)
        line_no = 1 + n_breaks(skipped)
        bom = b"" if layout.header_line else layout.bom
        carry = b""  # a record cut inside a quoted cell, completed by the next block
        # with an identity, exactly the bytes that were sniffed (checked at the end)
        left = None if layout.identity is None else max(layout.size - len(skipped), 0)
        blocks = _read_blocks(fh, chunksize, left)
        while (block := _next_block(blocks, layout, line_no, carry)) is not None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if hasher is not None:
                hasher.update(block)
            done += len(block)
            nul = block.find(NUL_RUN)
            if nul >= 0:
                raise binary_error(layout.path, line_no + n_breaks(carry + block[:nul]))
            if bom:
                block, bom = block[len(bom):], b""
            buf = carry + block
            rec = split_records(buf, layout.delimiter)
            if rec.open_tail is not None:
                buf, carry = buf[:rec.open_tail], buf[rec.open_tail:]
                _check_open_quote(layout, line_no + n_breaks(buf), carry, at_end=False)
                rec = split_records(buf, layout.delimiter)
            else:
                carry = b""
            lines = line_no + rec.line_offsets
            long = np.flatnonzero(rec.ends - rec.starts > csvrecords.MAX_LINE_BYTES)
            if len(long):  # a quoted cell holding line breaks, far too long
                _check_open_quote(layout, int(lines[long[0]]), b"", at_end=False, too_long=True)
            line_no += n_breaks(buf)
            keep = rec.ends > rec.starts  # blank lines are not data rows
            if not keep.all():
                rec = Records(rec.starts[keep], rec.ends[keep], rec.n_fields[keep],
                              rec.line_offsets[keep], rec.first_delim[keep], rec.delims)
                lines = lines[keep]
            if len(rec.starts) == 0:
                continue
            raw = _raw_records(buf, rec)
            X, ok, reasons, first_bad, y, class_reasons, coding = validate_chunk(buf, rec, layout, memo)
            ids = _ids(buf, rec, raw, layout) if want_ids else None
            rows_done += len(raw)
            yield Chunk(raw=raw, lines=lines, X=X, features_ok=ok, reasons=reasons, first_bad=first_bad,
                        y=y, class_reasons=class_reasons, ids=ids, class_coding=coding)
            if progress is not None:
                progress(LoadProgress(rows_done, done, layout.size))
        if layout.identity is not None and (done != layout.size or
                                            file_identity(os.fstat(fh.fileno())) != tuple(layout.identity)):
            raise changed_error(layout.path)  # grown, shrunk or rewritten while being read
        if carry:
            _check_open_quote(layout, line_no, carry, at_end=True)


def _next_block(blocks: Iterator[bytes], layout: CsvLayout, line_no: int, carry: bytes) -> bytes | None:
    """The next block, or None at the end; UserError at a line that is far too long."""
    try:
        return next(blocks, None)
    except _LineTooLong:
        raise too_long_error(layout.path, line_no + n_breaks(carry)) from None


def _check_open_quote(layout: CsvLayout, line: int, tail: bytes, at_end: bool,
                      too_long: bool = False) -> None:
    """UserError when the quoted cell opened on ``line`` never closes (``at_end``), runs
    over more than :data:`MAX_QUOTED_LINES` lines or makes its record longer than
    :data:`~bcdesktop.csvrecords.MAX_LINE_BYTES` (``too_long``, or ``tail`` that long)."""
    if too_long or len(tail) > csvrecords.MAX_LINE_BYTES:
        raise user_error(f"{layout.path}, line {line}: a quote (\") opens a cell that runs on for "
                         f"more than {size_text(csvrecords.MAX_LINE_BYTES)}, so a closing quote is probably "
                         "missing. Remove the stray quote or add the closing one, and try again.")
    if at_end:
        raise user_error(f"{layout.path}, line {line}: a quote (\") opens a cell that is never "
                        "closed before the end of the file. Remove the stray quote or add the "
                        "closing one, and try again.")
    if n_breaks(tail) > MAX_QUOTED_LINES:
        raise user_error(f"{layout.path}, line {line}: a quote (\") opens a cell that runs over "
                        f"more than {MAX_QUOTED_LINES} lines, so a closing quote is probably "
                        "missing. Remove the stray quote or add the closing one, and try again.")


class _LineTooLong(Exception):
    pass


def _read_blocks(fh, chunksize: int, size: int | None = None) -> Iterator[bytes]:
    """Blocks of complete lines (the last may lack its line ending): at most ``chunksize``
    lines and about :data:`BLOCK_BYTES` bytes (more only for one long line), so memory
    stays flat whatever the row width. Reads at most ``size`` bytes (None: to the end).
    A block never ends between the CR and LF of a CRLF.

    Raises ``_LineTooLong`` (after yielding the lines before it) at a line longer than
    :data:`~bcdesktop.csvrecords.MAX_LINE_BYTES`, having read at most that much of it.
    """
    step, limit = max(int(BLOCK_BYTES), 1), csvrecords.MAX_LINE_BYTES
    chunksize = max(int(chunksize), 1)
    left = size
    pending = b""
    at_end = False
    target = step
    while True:
        parts, have = [pending], len(pending)
        while not at_end and have < target:
            want = target - have if left is None else min(target - have, left)
            piece = fh.read(want) if want > 0 else b""
            if not piece:
                at_end = True
                break
            if left is not None:
                left -= len(piece)
            parts.append(piece)
            have += len(piece)
        pending = b"".join(parts) if len(parts) > 1 else pending
        ends = line_ends(pending, at_end)
        if len(ends):
            starts = np.concatenate(([0], ends[:-1]))
            a = np.frombuffer(pending, dtype=np.uint8)
            crlf = (ends >= 2) & (a[ends - 1] == 10) & (a[np.maximum(ends - 2, 0)] == 13)
            too_long = np.flatnonzero(ends - starts - 1 - crlf > limit)
            stop = int(too_long[0]) if len(too_long) else len(ends)
            for k in range(0, stop, chunksize):
                yield pending[int(starts[k]):int(ends[min(k + chunksize, stop) - 1])]
            if stop < len(ends):
                raise _LineTooLong()
            pending = pending[int(ends[-1]):]
            target = step
        elif not at_end:
            if len(pending) > limit:
                raise _LineTooLong()
            target = len(pending) + step  # one line longer than a block: read on
            continue
        if at_end:
            if len(pending) > limit:
                raise _LineTooLong()
            if pending:
                yield pending
            return


def _raw_records(buf: bytes, rec: Records) -> list[bytes]:
    """Each record's bytes, without its line ending."""
    unterminated = not buf.endswith(b"\n")
    next_starts = np.append(rec.starts[1:], len(buf) + unterminated)
    if (buf.find(b"\r") < 0 and len(rec.starts) == buf.count(b"\n") + unterminated
            and np.array_equal(rec.ends, next_starts - 1)):
        # one record per line, no blank line, no CR: let bytes.split do the work
        raw = buf.split(b"\n")
        return raw[:-1] if buf.endswith(b"\n") else raw
    return [buf[s:e] for s, e in zip(rec.starts.tolist(), rec.ends.tolist())]


# ----------------------------------------------------------------- validation


def validate_chunk(buf: bytes, rec: Records, layout: CsvLayout, memo: dict | None = None):
    """Validate the nine scores and the class of every record in a block, vectorised.

    Plain cells (``1``..``9``, ``10``, and ``2``/``4``/``0``/``1`` for the class) are
    read straight from the bytes with NumPy; every other cell (spaces, quotes, ``?``,
    text, decimals) goes through :func:`score_value` / :func:`class_cell`, memoised in
    ``memo`` (cell bytes -> result), so a file of quoted cells is slower but just as right.

    Returns
    -------
    X : (n, 9) float64, NaN where unusable
    features_ok : (n,) bool -- right number of fields and nine usable scores
    reasons : (n,) object -- "" where ``features_ok``, else the reason(s) in words
    first_bad : (n,) object -- first bad feature name, or None
    y : (n,) int8 -- 0/1, -1 where there is no class column or the cell is unusable
    class_reasons : (n,) object -- "" or why the class cell is unusable
    class_coding : (n,) int8 -- 1 for a class written 0/1, 2 for 2/4, 0 for words or none
    """
    memo = {} if memo is None else memo
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    a = np.frombuffer(buf, dtype=np.uint8)
    top = max(len(a) - 1, 0)
    n = len(rec.starts)
    right = rec.n_fields == layout.n_fields
    rows = np.flatnonzero(right)
    X = np.full((n, len(FEATURES)), np.nan)
    codes = np.zeros((n, len(FEATURES)), dtype=np.int8)
    shown: dict[tuple[int, int], tuple[float, str]] = {}  # (row, feature) -> value, text of a bad cell
    for j, col in enumerate(layout.feature_cols):
        s, e = _field_bounds(rec, rows, col, layout.n_fields)
        qs, qe = _unquoted(a, s, e)
        length = qe - qs
        b0 = a[np.minimum(qs, top)]
        b1 = a[np.minimum(qs + 1, top)]
        v = np.where((length == 1) & (b0 >= 49) & (b0 <= 57), b0.astype(np.float64) - 48, np.nan)
        v[(length == 2) & (b0 == 49) & (b1 == 48)] = 10.0
        code = np.zeros(len(rows), dtype=np.int8)
        for k in np.flatnonzero(np.isnan(v)).tolist():
            cell = buf[s[k]:e[k]]
            hit = memo.get(cell)
            if hit is None:
                text = _cell_text(cell, layout.encoding)
                hit = memo[cell] = (*score_value(text, layout.decimal), text)
            v[k], code[k], text = hit
            if code[k] != OK:
                shown[int(rows[k]), j] = (v[k], text)
        X[rows, j] = v
        codes[rows, j] = code
    bad = codes != OK
    X[bad] = np.nan
    features_ok = right & ~bad.any(axis=1)

    reasons = np.full(n, "", dtype=object)
    first_bad = np.full(n, None, dtype=object)
    for i in np.flatnonzero(~right).tolist():
        k = int(rec.n_fields[i])
        reasons[i] = f"row has {k} field{'s' if k != 1 else ''}, expected {layout.n_fields}"
    # the bad cells of rows with the right fields, row by row and left to right within a
    # row (np.nonzero's order): one pass over them instead of a NumPy call a bad row
    bad_rows, bad_cols = np.nonzero(bad)
    said: dict[int, list[str]] = {}
    for i, j, c in zip(bad_rows.tolist(), bad_cols.tolist(), codes[bad_rows, bad_cols].tolist()):
        reason = score_reason(FEATURES[j], c, *shown[i, j])
        if i in said:
            said[i].append(reason)
        else:
            said[i] = [reason]
            first_bad[i] = FEATURES[j]
    for i, parts in said.items():
        reasons[i] = "; ".join(parts)

    y = np.full(n, -1, dtype=np.int8)
    coding = np.zeros(n, dtype=np.int8)
    class_reasons = np.full(n, "", dtype=object)
    if layout.class_col is not None:
        s, e = _field_bounds(rec, rows, layout.class_col, layout.n_fields)
        qs, qe = _unquoted(a, s, e)
        b0 = a[np.minimum(qs, top)]
        label = np.full(len(rows), -3, dtype=np.int8)
        one = (qe - qs) == 1
        label[one & ((b0 == 50) | (b0 == 48))] = 0
        label[one & ((b0 == 52) | (b0 == 49))] = 1
        code = np.where(one & ((b0 == 48) | (b0 == 49)), CODED_01, 0).astype(np.int8)
        code[one & ((b0 == 50) | (b0 == 52))] = CODED_24
        for k in np.flatnonzero(label == -3).tolist():
            text = _cell_text(buf[s[k]:e[k]], layout.encoding)
            label[k] = class_cell(text, layout.decimal)
            code[k] = CLASS_CODING.get(class_key(text, layout.decimal), 0)
        y[rows] = np.maximum(label, -1)
        coding[rows] = code
        for k in np.flatnonzero(label < 0).tolist():
            cell = _cell_text(buf[s[k]:e[k]], layout.encoding)
            class_reasons[rows[k]] = ("Class is missing" if label[k] == -1 else
                                      f"Class '{shorten(cell)}' is not benign/malignant (2/4, 0/1)")
        for i in np.flatnonzero(~right).tolist():
            class_reasons[i] = reasons[i]
    return X, features_ok, reasons, first_bad, y, class_reasons, coding


def _field_bounds(rec: Records, rows: np.ndarray, col: int, n_fields: int):
    """Start and end (exclusive) of field ``col`` in records ``rows`` that have
    exactly ``n_fields`` fields."""
    first = rec.first_delim[rows]
    s = rec.starts[rows] if col == 0 else rec.delims[first + col - 1] + 1
    e = rec.ends[rows] if col == n_fields - 1 else rec.delims[first + col]
    return s, e


def _unquoted(a: np.ndarray, s: np.ndarray, e: np.ndarray):
    """Field bounds without one pair of surrounding quotes (``"5"`` -> ``5``)."""
    quoted = (e - s >= 2) & (a[np.minimum(s, len(a) - 1)] == 34) & (a[np.maximum(e - 1, 0)] == 34)
    return s + quoted, e - quoted


def _cell_text(raw: bytes, encoding: str) -> str:
    """A cell as a person reads it: decoded, spaces trimmed, surrounding quotes removed."""
    text = raw.decode(encoding, errors="replace").strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"').strip()
    return text


def _ids(buf: bytes, rec: Records, raw: list, layout: CsvLayout) -> np.ndarray:
    ids = np.full(len(raw), "", dtype=object)
    if layout.id_col is None:
        return ids
    right = rec.n_fields == layout.n_fields
    rows = np.flatnonzero(right)
    s, e = _field_bounds(rec, rows, layout.id_col, layout.n_fields)
    ids[rows] = [_cell_text(buf[a:b], layout.encoding) for a, b in zip(s.tolist(), e.tolist())]
    for i in np.flatnonzero(~right).tolist():
        fields = _split_record(raw[i], layout)
        ids[i] = fields[layout.id_col].strip() if layout.id_col < len(fields) else ""
    return ids


def _split_record(raw: bytes, layout: CsvLayout) -> list[str]:
    return split_line(raw.decode(layout.encoding, errors="replace"), layout.delimiter)
