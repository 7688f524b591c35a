"""How the bytes of a CSV file split into lines, records and fields, and the limits past
which they are no table of cases.

:func:`split_records` splits a block of bytes into records, vectorised with NumPy,
honouring quotes exactly as Python's ``csv`` module does (a quoted cell may hold
delimiters and even line breaks); :func:`split_line` splits one decoded record with the
``csv`` module itself. A line ends at LF, CRLF or a lone CR (:func:`n_breaks`,
:func:`line_ends`), as a text editor counts lines. A line longer than
:data:`MAX_LINE_BYTES`, or a run of NUL bytes (:data:`NUL_RUN`), means the file is not a
table of cases: :func:`too_long_error` and :func:`binary_error` say so, naming the line.

The sniffer (``bcdesktop.csvlayout``), the chunk reader (``bcdesktop.csvscan``) and
scoring's output (which lines short and long records up with the header) all split
records here, so they agree on every file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .schema import user_error

# -------------------------------------------------------------------- records


@dataclass
class Records:
    """Record boundaries of one block of bytes (arrays of length n unless noted)."""

    starts: np.ndarray
    ends: np.ndarray  # exclusive, without the line ending
    n_fields: np.ndarray
    line_offsets: np.ndarray  # line breaks before each record, from the block's start
    first_delim: np.ndarray  # index into ``delims`` of each record's first delimiter
    delims: np.ndarray  # positions of every delimiter outside quotes (length = all delimiters)
    open_tail: int | None = None  # start of a last record cut inside a quoted cell


def split_records(buf: bytes, delimiter: str) -> Records:
    """Split a block of records into records, vectorised.

    Quotes are honoured the way Python's ``csv`` module honours them (see
    :func:`_cell_quotes`): delimiters and line breaks inside a quoted cell do not
    count, so a quoted cell may hold delimiters and even line breaks. When the block
    ends inside a quoted cell, ``open_tail`` is where that unfinished record starts.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = a == 10
    if buf.find(b"\r") >= 0:  # a lone CR (old Mac files) ends a line too
        nl[:-1] |= (a[:-1] == 13) & (a[1:] != 10)
        nl[-1] |= a[-1] == 13
    quotes = _cell_quotes(a, delimiter) if buf.find(b'"') >= 0 else None
    if quotes is not None and len(quotes):
        toggles = np.zeros(len(a), dtype=np.uint8)
        toggles[quotes] = 1
        outside = (np.cumsum(toggles, dtype=np.uint8) & 1) == 0  # uint8 wraps, parity kept
        rec_end = np.flatnonzero(nl & outside)
        delim = (a == ord(delimiter)) & outside
        open_tail = None
        if len(quotes) % 2:  # the caller cuts the block here and reads on
            open_tail = int(rec_end[-1]) + 1 if len(rec_end) else 0
    else:
        rec_end = np.flatnonzero(nl)
        delim = a == ord(delimiter)
        open_tail = None
    if len(a) and not nl[-1] and open_tail is None:
        rec_end = np.append(rec_end, len(a))
    starts = np.zeros_like(rec_end)
    starts[1:] = rec_end[:-1] + 1
    delims = np.flatnonzero(delim)
    first_delim = np.searchsorted(delims, starts)
    n_fields = np.searchsorted(delims, rec_end) - first_delim + 1
    line_offsets = (np.searchsorted(np.flatnonzero(nl), starts) if quotes is not None
                    else np.arange(len(starts), dtype=np.int64))
    ends = rec_end.copy()
    cr = ends > starts
    cr[cr] = a[ends[cr] - 1] == 13
    ends[cr] -= 1
    return Records(starts, ends, n_fields, line_offsets, first_delim, delims, open_tail)


def _cell_quotes(a: np.ndarray, delimiter: str) -> np.ndarray:
    """Positions of the quotes that open or close a quoted cell, as Python's ``csv``
    module and spreadsheets read them.

    A quote opens a quoted cell only as a cell's first byte; inside one, ``""`` is a
    quote and a single ``"`` closes it. Any other quote (``5"`` for inches, ``a"b``) is
    an ordinary character of an unquoted cell and is left out. Well-formed files are
    checked vectorised; only a block with such stray quotes takes a loop over its quotes.
    """
    q = np.flatnonzero(a == 34)
    if len(q) == 0:
        return q
    d = ord(delimiter)
    prev = np.where(q > 0, a[np.maximum(q - 1, 0)], 10)
    nxt = np.where(q < len(a) - 1, a[np.minimum(q + 1, len(a) - 1)], 10)
    adjacent = q[1:] == q[:-1] + 1
    after_quote = np.concatenate(([False], adjacent))
    before_quote = np.concatenate((adjacent, [False]))
    opens_cell = (prev == d) | (prev == 10) | (prev == 13) | after_quote
    closes_cell = (nxt == d) | (nxt == 10) | (nxt == 13) | before_quote
    opening = np.arange(len(q)) % 2 == 0
    if np.where(opening, opens_cell, closes_cell).all():
        return q  # every quote where the simple parity rule puts it
    keep, inside, i, qs = [], False, 0, q.tolist()
    while i < len(qs):
        p = qs[i]
        if inside and i + 1 < len(qs) and qs[i + 1] == p + 1:  # "" inside a quoted cell
            keep += (p, p + 1)
            i += 2
            continue
        if inside or p == 0 or a[p - 1] in (d, 10, 13):
            keep.append(p)
            inside = not inside
        i += 1
    return np.asarray(keep, dtype=np.int64)


def split_line(text: str, delimiter: str) -> list[str]:
    """One decoded record split into cells by Python's ``csv`` module."""
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:  # e.g. a field over csv's size limit: one field, rejected by its count
        return [text]


# ---------------------------------------------------------------------- lines


def n_breaks(buf: bytes) -> int:
    """Line breaks in ``buf``: LF, CRLF or a lone CR, as a text editor counts them."""
    n = buf.count(b"\n")
    if buf.find(b"\r") >= 0:
        n += buf.count(b"\r") - buf.count(b"\r\n")
    return n


def line_ends(buf: bytes, at_end: bool) -> np.ndarray:
    """Positions just after each line break in ``buf`` (LF, CRLF or a lone CR). A CR that
    ends ``buf`` counts only ``at_end`` (else an LF may follow in the next block)."""
    a = np.frombuffer(buf, dtype=np.uint8)
    brk = a == 10
    if buf.find(b"\r") >= 0:
        lone = a == 13
        lone[:-1] &= a[1:] != 10
        if not at_end:
            lone[-1] = False
        brk |= lone
    return np.flatnonzero(brk) + 1


# --------------------------------------------------------------------- limits


#: No line of a CSV of cases is anywhere near this long; past it, reading stops with a
#: UserError instead of filling the memory with one line.
MAX_LINE_BYTES = 16 * 1024 * 1024


#: No text cell holds this: a file with it past its start is binary or damaged (e.g. the
#: zero-filled tail of an unfinished download or of ``truncate -s``).
NUL_RUN = b"\x00" * 16


def size_text(n: int) -> str:
    """A size for a message: ``"16 MB"``, or ``"1,234 bytes"`` below a megabyte."""
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def too_long_error(path: Path, line: int) -> UserError:
    return user_error(f"{path}, line {line}: the line is longer than {size_text(MAX_LINE_BYTES)}, "
                      "so this is not a table of cases. Check that the file is the CSV you meant.")


def binary_error(path: Path, line: int) -> UserError:
    return user_error(f"{path}, line {line}: binary data (a run of NUL bytes) where text should be, "
                      "so the file is damaged or not a CSV file (an unfinished download or copy?). "
                      "Choose the complete CSV file.")
