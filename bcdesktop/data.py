"""The schema (nine cytology scores, each 1..10), and reading it from CSV files.

Everything that reads a table goes through one pipeline, so training and batch
scoring apply exactly the same rules:

1. :func:`sniff_layout` looks at the file once: encoding (UTF-8 with or without BOM,
   else cp1252, else latin-1), delimiter (comma, semicolon or tab) and decimal mark,
   whether the first row is a header, and which columns hold the sample id, the nine
   scores, the class and anything else (said in words by ``CsvLayout.assumed`` and
   ``CsvLayout.column_matching()``); it records the file's identity. A file that cannot
   be used at all raises one :class:`~bcdesktop.errors.UserError`.
2. :func:`iter_chunks` reads the file in chunks of raw records (bytes, so scoring can
   copy every original cell through untouched), bounded in rows and in bytes, and
   validates each chunk straight from the bytes with vectorised NumPy
   (:func:`validate_chunk`), giving for every record its line number, the scores, the
   class and, for a bad record, the reason in words. A file that is not the one sniffed
   (replaced, or written to while it is read) is refused, not read in part.
   (No pandas here: its string columns were three times too slow for batch scoring.)
3. :func:`load_csv` is a loop over those chunks that keeps the usable rows and a
   :class:`Rejection` for every other row; ``bcdesktop.scoring`` is another loop.

Rows are never dropped silently. A row with several problems gets one rejection whose
``column`` is the first bad column (in the nine-score order, then the class) and whose
``reason`` lists every problem, separated by ``"; "``. Completely blank lines are not
data rows: they are skipped (and still counted in line numbers). Every cell, sample id,
header name or path in a message goes through :func:`printable`: one line, no control
characters.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .csvrecords import (
    MAX_LINE_BYTES,
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
from .errors import Cancelled, UserError
from .resources import (
    NotAFile,
    bundled_data_path,
    open_regular_file,
)
from .schema import (
    CLASS_CODING,
    CLASS_NAME,
    CLASS_VALUES,
    CODED_01,
    CODED_24,
    FEATURES,
    ID_NAME,
    NA_TEXTS,
    OK,
    class_cell,
    class_key,
    printable,
    score_reason,
    score_value,
    shorten,
    user_error,
)

# isort: split
# temporary: gui/tab_patient.py (data.FEATURE_DESCRIPTIONS, SCORE_MIN, SCORE_MAX, check_score)
# and cli.py (data.parse_scores) still read these from data
from .schema import FEATURE_DESCRIPTIONS, SCORE_MAX, SCORE_MIN, check_score, parse_scores  # noqa: F401

#: The role of a column that is neither a score, the sample id nor the class (copied
#: through by scoring, not used), in CsvLayout.column_matching().
EXTRA = "extra"

#: Header aliases, compared after lower-casing and removing everything but a-z, 0-9.
_ALIASES: dict[str, tuple[str, ...]] = {
    "Clump Thickness": ("clumpthickness", "clump", "clthickness", "thickness"),
    "Uniformity of Cell Size": (
        "uniformityofcellsize", "uniformitycellsize", "uniformcellsize", "cellsizeuniformity",
        "sizeuniformity", "cellsize", "unifcellsize", "ucellsize",
    ),
    "Uniformity of Cell Shape": (
        "uniformityofcellshape", "uniformitycellshape", "uniformcellshape",
        "cellshapeuniformity", "shapeuniformity", "cellshape", "unifcellshape", "ucellshape",
    ),
    "Marginal Adhesion": ("marginaladhesion", "margadhesion", "adhesion"),
    "Single Epithelial Cell Size": (
        "singleepithelialcellsize", "singleepithelialsize", "epithelialcellsize",
        "singleepicellsize", "epithcsize", "epithelialsize", "secsize",
    ),
    "Bare Nuclei": ("barenuclei", "barenucleoli", "barenucleus", "nuclei"),
    "Bland Chromatin": ("blandchromatin", "blchromatin", "blcromatin", "blandcromatin", "chromatin"),
    "Normal Nucleoli": ("normalnucleoli", "nucleoli"),
    "Mitoses": ("mitoses", "mitosis"),
}
_ID_ALIASES = ("samplecodenumber", "samplecode", "sampleid", "sample", "id", "codenumber",
               "patientid", "caseid", "scn")
_CLASS_ALIASES = ("class", "diagnosis", "label", "target", "outcome", "classlabel")
# Words of the 30 column names of the Wisconsin Diagnostic (WDBC) data set, to say so by
# name; looked for anywhere in a normalised name (R's mlbench / dslabs exports write
# ``x.radius_mean``), and three different ones are needed.
_WDBC_HINTS = ("radius", "texture", "perimeter", "smoothness", "compactness", "concavity",
               "concavepoints", "concavepts", "symmetry", "fractaldim", "areamean", "areaworst",
               "arease")
#: R's MASS::biopsy names the nine scores V1..V9, in the UCI order of :data:`FEATURES`.

_DELIMITERS = (",", ";", "\t")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SNIFF_BYTES = 256 * 1024
# A line ends at LF, CRLF or a lone CR (old Mac files), as text editors and csv see it.
_LINE_BREAK_TEXT = re.compile("\r\n|\r|\n")

_LOADING_HINT = ("The file should hold the nine cytology scores (1-10) of the Wisconsin "
                 "Breast Cancer (Original) data set, optionally with a sample id and a class.")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_LOOKUP: dict[str, str] = {}
for _feature, _names in _ALIASES.items():
    for _alias in _names:
        _LOOKUP[_alias] = _feature
for _alias in _ID_ALIASES:
    _LOOKUP[_alias] = ID_NAME
for _alias in _CLASS_ALIASES:
    _LOOKUP[_alias] = CLASS_NAME
for _feature in FEATURES:
    _LOOKUP[_norm(_feature)] = _feature


# ----------------------------------------------------------------- the layout


@dataclass(frozen=True)
class CsvLayout:
    """How a file is laid out, found once by :func:`sniff_layout`.

    Column positions are 0-based field indices. ``columns`` names every field for
    output (the header's own text, or UCI names for a headerless file).
    """

    path: Path
    encoding: str  # Python codec name used to decode (never "utf-8-sig": the BOM is in ``bom``)
    bom: bytes
    delimiter: str
    newline: str
    has_header: bool
    n_fields: int
    id_col: int | None
    feature_cols: tuple[int, ...]
    class_col: int | None
    extra_cols: tuple[int, ...]
    columns: tuple[str, ...]
    header_line: int  # line number of the header (0 when none)
    size: int
    header_raw: bytes = b""  # the header record as in the file (no BOM, no line ending)
    data_offset: int = 0  # byte offset where the data rows start (after the header's line break)
    #: The decimal mark of the file's numbers: "," in semicolon- and tab-separated files
    #: (where a point is read as one too), "." in comma-separated ones. See score_value.
    decimal: str = "."
    #: Which layout was assumed, for a person (one line), e.g. "no header row; 10
    #: columns read as sample id + nine scores (...)". See also column_matching().
    assumed: str = ""
    #: (st_dev, st_ino, st_size, st_mtime_ns) of the file when it was sniffed;
    #: iter_chunks refuses a file that is no longer this one. None: not checked.
    identity: tuple | None = None

    @property
    def has_labels(self) -> bool:
        return self.class_col is not None

    def role(self, col: int) -> str:
        """What field ``col`` is read as: a name of :data:`FEATURES`, :data:`ID_NAME`,
        :data:`CLASS_NAME`, or :data:`EXTRA` (copied through, not used)."""
        if col in self.feature_cols:
            return FEATURES[self.feature_cols.index(col)]
        if col == self.id_col:
            return ID_NAME
        if col == self.class_col:
            return CLASS_NAME
        return EXTRA

    def column_matching(self) -> list[tuple[str, str]]:
        """Which file column was matched to which feature, in file order: a list of
        ``(column, role)``, ``column`` being the header's name (escaped by
        :func:`printable`) or ``"column N"`` (1-based) for a headerless file or an unnamed
        column, ``role`` as :meth:`role` gives it. E.g. ``[("ID", "Sample code number"),
        ("V1", "Clump Thickness"), ..., ("class", "Class")]``."""
        out = []
        for i in range(self.n_fields):
            name = self.columns[i] if self.has_header and i < len(self.columns) else ""
            out.append((printable(name) if name else f"column {i + 1}", self.role(i)))
        return out

    def describe(self) -> str:
        """One line for a person, e.g. ``"comma-separated, UTF-8, header, 11 columns"``."""
        head = "header row" if self.has_header else "no header"
        extra = f", {len(self.extra_cols)} extra" if self.extra_cols else ""
        decimal = ", decimal comma" if self.decimal == "," else ""
        return (f"{_DELIM_NAMES[self.delimiter]}-separated, {self.encoding}, {head}, "
                f"{self.n_fields} columns{extra}{decimal}")

    def __repr__(self) -> str:
        return f"CsvLayout({self.path.name!r}: {self.describe()})"


def sniff_layout(path: str | os.PathLike) -> CsvLayout:
    """Find how a CSV file is laid out, reading its start (and checking its encoding).

    Raises
    ------
    UserError
        Missing file, folder, permission denied, empty, binary, not a table, header
        only, wrong schema, a header without some of the nine scores, duplicate columns.
    """
    path = Path(path)
    with open_checked(path) as fh:
        try:
            identity = file_identity(os.fstat(fh.fileno()))
            head = fh.read(_SNIFF_BYTES)
            size = identity[2]
            if not head.strip(codecs.BOM_UTF8 + b" \t\r\n"):
                raise user_error(f"{path} is empty. " + _LOADING_HINT)
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                raise user_error(f"{path} is a spreadsheet workbook (.xls), not a CSV file. Open it "
                                 "in the spreadsheet program and save it as CSV.")
            if head.startswith(b"PK\x03\x04"):  # a zip: .xlsx and .ods are zips too, and so is a model
                raise user_error(f"{path} is a zip archive (a spreadsheet workbook such as .xlsx or "
                                 ".ods, a bcdesktop model .npz, or another archive), not a CSV file. "
                                 "If it is a workbook, open it in its spreadsheet program and save it as CSV.")
            if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise user_error(f"{path} is not a text file (it contains binary data). "
                                 "Choose a CSV file exported from a spreadsheet or a database.")
            encoding, bom, total = _scan_file(path, fh, head)
            if total != size or file_identity(os.fstat(fh.fileno())) != identity:
                raise changed_error(path)
        except OSError as exc:
            raise user_error(f"{path} cannot be read: {exc.strerror or exc}.") from None
    text = head[len(bom):].decode(encoding, errors="replace")
    all_lines = _LINE_BREAK_TEXT.split(text)
    if len(head) == _SNIFF_BYTES and len(all_lines) > 1:
        all_lines = all_lines[:-1]  # the last one may be cut in half
    numbered = [(i + 1, ln) for i, ln in enumerate(all_lines) if ln.strip()]
    if not numbered:
        raise user_error(f"{path} is empty. " + _LOADING_HINT)
    sample = [ln for _, ln in numbered[:200]]
    delimiter = _sniff_delimiter(sample)
    rows = _split_lines(sample, delimiter)
    decimal = _decimal_mark(delimiter)
    first_break = _LINE_BREAK_TEXT.search(text)
    newline = first_break.group() if first_break else "\n"

    first = rows[0]
    has_header = _looks_like_header(first, decimal)
    if has_header:
        header = [c.strip() for c in first]
        if len(header) == 1:
            raise user_error(f"{path} is not a table of comma-, semicolon- or tab-separated "
                            f"values (first line: '{shorten(header[0])}'). " + _LOADING_HINT)
        # R's write.table(row.names = TRUE) leaves the row names' column out of the header:
        # every data row then has one field more than the header names. That first field
        # is read as an unnamed extra column (copied through), not shifted into the scores.
        # (Only when the extra field is not a trailing delimiter's empty cell, and the
        # first fields are distinct, as row names are.)
        counts = [len(r) for r in rows[1:]]
        longer = [r for r in rows[1:] if len(r) == len(header) + 1]
        unnamed_first = (bool(counts) and max(set(counts), key=counts.count) == len(header) + 1
                         and all(r[-1].strip() for r in longer)
                         and len({r[0].strip() for r in longer}) == len(longer))
        if unnamed_first:
            header = ["", *header]
        n_fields = len(header)
        id_col, feature_cols, class_col, extra, assumed = _header_roles(path, header)
        if unnamed_first:
            assumed += ("; the header names one column fewer than the rows hold, so the first "
                        "column (R's row names) is read as an unnamed extra column")
        columns = tuple(h if h else f"column {i + 1}" for i, h in enumerate(header))
        # the header record as the data records are split (a quoted name may hold a line break)
        body = head[len(bom):]
        rec = split_records(body, delimiter)
        nonblank = np.flatnonzero(rec.ends > rec.starts)
        if len(nonblank) == 0:
            raise user_error(f"{path}: a quote (\") in the header row opens a name that is never "
                            "closed. Remove the stray quote and try again.")
        k = int(nonblank[0])
        header_line = 1 + int(rec.line_offsets[k])
        header_raw = body[rec.starts[k]:rec.ends[k]]
        if unnamed_first:  # the output's header gets the empty name too, so it stays aligned
            header_raw = delimiter.encode(encoding) + header_raw
        data_offset = len(bom) + (int(rec.starts[k + 1]) if k + 1 < len(rec.starts) else len(body))
        if len(numbered) == 1 and len(head) < _SNIFF_BYTES:
            raise user_error(f"{path} has a header row but no data rows.")
    else:
        counts = [len(r) for r in rows]
        n_fields = max(set(counts), key=counts.count)
        if n_fields == 1:
            raise user_error(f"{path} is not a table of comma-, semicolon- or tab-separated values. "
                            + _LOADING_HINT)
        # every sniffed line is evidence (not only the first 200), see _ten_column_roles
        evidence = [(ln, split_line(t, delimiter)) for ln, t in
                    (numbered if n_fields in (10, 31, 32) else numbered[:200])]
        id_col, feature_cols, class_col, assumed = _headerless_roles(path, evidence, n_fields, decimal)
        extra = ()
        names = {c: f for c, f in zip(feature_cols, FEATURES)}
        if id_col is not None:
            names[id_col] = ID_NAME
        if class_col is not None:
            names[class_col] = CLASS_NAME
        columns = tuple(names[i] for i in range(n_fields))
        header_line, header_raw, data_offset = 0, b"", 0
    return CsvLayout(path=path, encoding=encoding, bom=bom, delimiter=delimiter, newline=newline,
                     has_header=has_header, n_fields=n_fields, id_col=id_col,
                     feature_cols=feature_cols, class_col=class_col, extra_cols=extra,
                     columns=columns, header_line=header_line, size=size, header_raw=header_raw,
                     data_offset=data_offset, decimal=decimal, assumed=assumed, identity=identity)


# ----------------------------------------------------------- opening the file


def open_checked(path: Path):
    """``path`` opened for binary reading (see :func:`~bcdesktop.resources.open_regular_file`),
    or a UserError saying why it cannot be: missing, not readable, a folder, a device or a
    pipe, a symbolic-link loop."""
    try:
        return open_regular_file(path)
    except FileNotFoundError:
        raise user_error(f"{path} does not exist. Check the file name and folder.") from None
    except PermissionError:
        raise user_error(f"{path} cannot be read: permission denied.") from None
    except IsADirectoryError:
        raise user_error(f"{path} is a folder, not a file. Choose a CSV file.") from None
    except NotAFile as exc:
        raise user_error(f"{path} is {exc.kind}, not a file. Choose a CSV file.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise user_error(f"{path} is a symbolic link that leads back to itself. "
                            "Choose the CSV file it should point to.") from None
        raise user_error(f"{path} cannot be read: {exc.strerror or exc}.") from None


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """``(st_dev, st_ino, st_size, st_mtime_ns)``: a file replaced, grown, shrunk or
    rewritten has another (:attr:`CsvLayout.identity`)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def changed_error(path: Path) -> UserError:
    return user_error(f"{path} changed while it was being read (it is still being written, or "
                      "was replaced), so nothing read from it is used. Try again when it is "
                      "complete.")


_SCAN_BYTES = 1 << 20


def _scan_file(path: Path, fh, head: bytes) -> tuple[str, bytes, int]:
    """(codec, bom, bytes read): UTF-8 when the whole file decodes as UTF-8, else cp1252,
    else latin-1.

    Reads the whole file once from ``fh`` (a second time when it is not UTF-8), in
    blocks, and stops with a UserError naming the line at the first run of NUL bytes
    (:data:`NUL_RUN`) or line longer than :data:`MAX_LINE_BYTES`, so a damaged file is
    refused after reading up to there, not the gigabytes after it.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)):
        raise user_error(f"{path} is saved as UTF-16 ('Unicode text'). Save it as "
                         "'CSV UTF-8 (comma delimited)' and try again.")
    bom = codecs.BOM_UTF8 if head.startswith(codecs.BOM_UTF8) else b""
    limit = MAX_LINE_BYTES
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    breaks = 0  # line breaks before the block
    since = 0  # bytes of the current line before the block
    prev_cr = False
    tail = b""  # the previous block's last bytes, for a NUL run across two blocks
    total = 0
    fh.seek(0)
    while block := fh.read(_SCAN_BYTES):
        total += len(block)
        if utf8:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                utf8 = False
        crlf_split = prev_cr and block.startswith(b"\n")  # one break, counted with the CR
        at = (tail + block).find(NUL_RUN)
        if at >= 0:
            pos = max(at - len(tail), 0)
            raise binary_error(path, 1 + breaks + n_breaks(block[:pos]) - (crlf_split and pos > 0))
        last = max(block.rfind(b"\n"), block.rfind(b"\r"))
        if last < 0:
            since += len(block)
            if since > limit:
                raise too_long_error(path, 1 + breaks)
        else:
            first = min(i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0)
            if since + first > limit:
                raise too_long_error(path, 1 + breaks)
            if limit < last:  # lines inside the block may be too long too
                ends = line_ends(block, at_end=True)
                lengths = np.diff(ends) - 1
                bad = np.flatnonzero(lengths > limit)
                if len(bad):
                    k = int(bad[0]) + 1
                    raise too_long_error(path, 1 + breaks + n_breaks(block[:ends[k - 1]]) - crlf_split)
            since = len(block) - last - 1
        breaks += n_breaks(block) - crlf_split
        prev_cr = block.endswith(b"\r")
        tail = block[-(len(NUL_RUN) - 1):]
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8", bom, total
        except UnicodeDecodeError:
            pass
    decoder = codecs.getincrementaldecoder("cp1252")()
    fh.seek(0)
    try:
        while block := fh.read(_SCAN_BYTES):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return "cp1252", bom, total
    except UnicodeDecodeError:
        return "latin-1", bom, total


# ------------------------------------------------------- delimiter and header


def _split_lines(lines: list[str], delimiter: str) -> list[list[str]]:
    """Each line split into cells by the csv module (one line at a time if one fails)."""
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:  # one bad line (e.g. a huge cell) must not hide the others
        return [split_line(ln, delimiter) for ln in lines]


def _decimal_mark(delimiter: str) -> str:
    """The decimal mark of a file with this delimiter: a comma where the comma is no
    delimiter (semicolon- and tab-separated files, as European spreadsheets write them)."""
    return "," if delimiter in (";", "\t") else "."


def _sniff_delimiter(rows_text: list[str]) -> str:
    """The delimiter that splits the most rows into one number (> 1) of fields; on a tie,
    the one whose cells are numbers more often (``5,0;1,0`` is two decimal-comma numbers
    split by a semicolon, not ``5``, ``0;1`` and ``0`` split by commas), then the one
    giving more fields."""
    best, best_score = ",", (-1, -1, -1)
    for d in _DELIMITERS:
        try:
            rows = list(csv.reader(rows_text, delimiter=d))
        except csv.Error:  # e.g. a whole line over csv's field limit: not this delimiter
            continue
        if not rows:
            continue
        counts = [len(r) for r in rows]
        mode = max(set(counts), key=counts.count)
        decimal = _decimal_mark(d)
        numbers = (sum(_is_number(c.strip(), decimal) for r in rows if len(r) == mode for c in r[:64] if c)
                   if mode > 1 else 0)  # (the first cells of a row tell enough)
        score = (counts.count(mode) if mode > 1 else 0, numbers, mode)
        if score > best_score:
            best, best_score = d, score
    return best


def _is_number(cell: str, decimal: str = ".") -> bool:
    if decimal == "," and cell.count(",") == 1:
        cell = cell.replace(",", ".")
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _looks_like_header(cells: list[str], decimal: str = ".") -> bool:
    cells = [c.strip() for c in cells]
    known = sum(_norm(c) in _LOOKUP for c in cells)
    words = sum(bool(c) and c != "?" and not _is_number(c, decimal)
                and _norm(c) not in ("benign", "malignant", "b", "m") for c in cells)
    return known > 0 or words > len(cells) / 2


# ------------------------------------------------------ which column is which


def _header_roles(path: Path, header: list[str]):
    """(id_col, feature_cols, class_col, extra_cols, assumed) from header names.

    Names are matched by their aliases; failing that, a header naming exactly V1..V9 (and
    no score by name) is R's MASS::biopsy, whose V1..V9 are the nine scores in the UCI
    order (its ``ID`` and ``class`` match by name, a row-name column is an extra).
    """
    roles: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        canonical = _LOOKUP.get(_norm(cell))
        if canonical is not None:
            roles.setdefault(canonical, []).append(i)
    missing = [f for f in FEATURES if f not in roles]
    assumed = "header row; columns matched by name"
    if missing:
        found = [f for f in FEATURES if f in roles]
        v_cols = _v_columns(header)
        if not found and sorted(v_cols) == list(range(1, 10)) and all(len(c) == 1 for c in v_cols.values()):
            for k, feature in enumerate(FEATURES, start=1):
                roles[feature] = v_cols[k]
            missing = []
            assumed = ("header row; columns V1..V9 read as the nine scores in the order of R's "
                       "MASS::biopsy (V1 Clump Thickness, V2 Uniformity of Cell Size, ..., V6 Bare "
                       "Nuclei, ..., V9 Mitoses)")
    if missing:
        if len(_wdbc_hints(header)) >= 3:
            raise _wdbc_error(path)
        if not found:
            shown = ", ".join(f"'{shorten(c.strip())}'" for c in header[:12])
            v_hint = ""
            if v_cols:
                have = ", ".join(f"V{k}" for k in sorted(v_cols)[:12])
                v_hint = (f" Columns named V1..V9 are read as the nine scores (as in R's MASS::biopsy) "
                          f"only when the file names exactly V1 to V9 once each; this one has {have}.")
            raise user_error(
                f"{path}: the header row ({shown}) names none of the nine cytology scores." + v_hint
                + " " + _LOADING_HINT + " Name the columns e.g. 'Clump Thickness', ..., 'Mitoses'.")
        raise user_error(f"{path}: the header row has no column for {', '.join(missing)}. "
                         "Add or rename the column(s); the nine scores are: " + ", ".join(FEATURES) + ".")
    for name, cols in roles.items():
        if len(cols) > 1:
            shown = " and ".join(f"'{shorten(header[c].strip())}' (column {c + 1})" for c in cols)
            raise user_error(f"{path}: {shown} both look like {name}. Rename or remove one of them.")
    feature_cols = tuple(roles[f][0] for f in FEATURES)
    id_col = roles[ID_NAME][0] if ID_NAME in roles else None
    class_col = roles[CLASS_NAME][0] if CLASS_NAME in roles else None
    used = set(feature_cols) | {id_col, class_col}
    extra = tuple(i for i in range(len(header)) if i not in used)
    return id_col, feature_cols, class_col, extra, assumed


def _v_columns(header: list[str]) -> dict[int, list[int]]:
    """{k: [columns]} of the columns named ``Vk`` (R's default names)."""
    found: dict[int, list[int]] = {}
    for i, cell in enumerate(header):
        m = re.fullmatch(r"v([0-9]{1,3})", _norm(cell))
        if m:
            found.setdefault(int(m.group(1)), []).append(i)
    return found


def _wdbc_hints(names) -> set[str]:
    """The words of the Diagnostic (WDBC) data set's column names found anywhere in
    ``names`` (normalised): three or more mean a WDBC file."""
    normed = [_norm(str(c)) for c in names]
    return {w for w in _WDBC_HINTS if any(w in h for h in normed)}


def _wdbc_error(path: Path) -> UserError:
    return user_error(
        f"{path} looks like the Wisconsin Diagnostic (WDBC) data set, with 30 features "
        "measured from images. This app needs the nine cytology scores (1-10) of the "
        "Wisconsin Breast Cancer (Original) data set.")


def _headerless_roles(path: Path, rows: list[tuple[int, list[str]]], n: int, decimal: str):
    """(id_col, feature_cols, class_col, assumed) of a headerless file with ``n`` fields;
    ``rows`` are (line, cells) of the sniffed lines."""
    if n == 11:
        return 0, tuple(range(1, 10)), 10, ("no header row; 11 columns read as sample id + nine "
                                            "scores + class (the UCI layout)")
    if n == 9:
        return None, tuple(range(9)), None, "no header row; 9 columns read as the nine scores"
    if n == 10:
        return _ten_column_roles(path, rows, decimal)
    if n in (31, 32) and any(r[1 if n == 32 else 0].strip().upper() in ("M", "B") for _, r in rows if len(r) == n):
        raise _wdbc_error(path)
    raise user_error(
        f"{path} has {n} columns and no header row. Without a header the app reads 9 columns "
        "(the nine scores), 10 (sample id and nine scores, or nine scores and class) or 11 "
        "(sample id, nine scores, class, as in the UCI file). Add a header row naming the "
        "columns, e.g. 'Clump Thickness', 'Bare Nuclei', 'Class'.")


def _ten_column_roles(path: Path, rows: list[tuple[int, list[str]]], decimal: str):
    """Ten headerless columns are a sample id + the nine scores, or the nine scores + the
    class. Decided only on evidence, from every sniffed row (not a sample of them), that
    one reading cannot explain; on no evidence, or evidence both ways, a UserError asks
    for a header row. Never guessed: a wrong guess shifts every column by one and still
    reads every row as usable.

    Evidence for the class at the end: a last cell that is a class but no score (``0``,
    ``benign``, ``M``); or most of the last column 2 or 4 (three rows at least), as a
    2/4 class column is and Mitoses, mostly 1, is not. Evidence for the id in front: a
    last cell that is a score but no class code (3, 5..10), or a last column writing 1
    beside 2 and 4 (two class codings: a score); or a first cell that is no score (an id
    over 10, a text id). A first column counting up (1, 2, 3 ...) decides nothing: in a
    file of ten rows or fewer nine scores can do that too; it only makes a class
    reading ambiguous.
    Rows past the sniffed start that contradict the reading are rejected with the reason
    (a class '7', a Mitoses 'benign'), never read silently.
    """
    firsts = [(line, r[0].strip()) for line, r in rows if len(r) == 10]
    lasts = [(line, r[9].strip()) for line, r in rows if len(r) == 10]
    class_ev: list[str] = []
    id_ev: list[str] = []
    known = [(line, c) for line, c in lasts if c.lower() not in NA_TEXTS]
    keys = [class_key(c, decimal) for _, c in known]
    kinds = [(score_value(c, decimal)[1] == OK, k in CLASS_VALUES) for (_, c), k in zip(known, keys)]
    for (line, cell), (score, label) in zip(known, kinds):
        if label and not score:
            class_ev.append(f"the last column holds '{shorten(cell)}' (line {line}), a class but no score")
            break
    for (line, cell), (score, label) in zip(known, kinds):
        if score and not label:
            id_ev.append(f"the last column holds '{shorten(cell)}' (line {line}), a score but no class code")
            break
    n24 = sum(k in ("2", "4") for k in keys)
    if n24 >= 3 and 2 * n24 > len(known):
        share = f"all {n24}" if n24 == len(known) else f"{n24} of the {len(known)}"
        class_ev.append(f"{share} cells of the last column are 2 or 4, as a 2/4 class is written "
                        "and Mitoses, mostly 1, is not")
    if n24 and "1" in keys:
        id_ev.append("the last column writes 1 beside 2 and 4 (two class codings), as a score does")
    present = [(line, c) for line, c in firsts if c.lower() not in NA_TEXTS]
    for line, cell in present:
        if score_value(cell, decimal)[1] != OK:
            id_ev.append(f"the first column holds '{shorten(cell)}' (line {line}), which is no score")
            break
    # A first column counting up looks like ids, but only while every value is a score
    # (past 10 rows an id exceeds 10 and is "no score" above): nine scores can count up
    # too, so this never decides; it only stops the class reading from deciding.
    digits = [int(c) for _, c in present if re.fullmatch(r"[0-9]{1,18}", c)]
    counts_up = (len(present) >= 3 and len(digits) == len(present)
                 and all(a < b for a, b in zip(digits, digits[1:])))
    doubt = (f"the first column counts up ({digits[0]}, {digits[1]}, {digits[2]}, ...) as sample ids "
             "do" if counts_up else None)
    if class_ev and not id_ev and not doubt:
        return None, tuple(range(9)), 9, f"no header row; 10 columns read as nine scores + class ({class_ev[0]})"
    if id_ev and not class_ev:
        return 0, tuple(range(1, 10)), None, f"no header row; 10 columns read as sample id + nine scores ({id_ev[0]})"
    rows_seen = f"its first {len(firsts)} row{'s' if len(firsts) != 1 else ''}"
    if class_ev:
        why = f"{class_ev[0]}, but {(id_ev or [doubt])[0]}"
    elif doubt:
        why = f"{doubt}, but nine scores can count up too, and nothing else in {rows_seen} tells them apart"
    else:
        why = f"nothing in {rows_seen} tells them apart"
    raise user_error(
        f"{path}: the layout is ambiguous: 10 columns without a header row can be a sample id + "
        f"the nine scores, or the nine scores + the class, and {why}. Add a header row naming "
        f"the columns (e.g. '{ID_NAME}, Clump Thickness, ..., Mitoses' or 'Clump Thickness, ..., "
        "Mitoses, Class') and try again.")


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
        From :func:`sniff_layout`.
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
        At a line longer than :data:`MAX_LINE_BYTES`, binary data, a quote never closed,
        or when the file is not the one sniffed (``layout.identity``: replaced, grown,
        shrunk or rewritten since, or while it is read).
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
            long = np.flatnonzero(rec.ends - rec.starts > MAX_LINE_BYTES)
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
    :data:`MAX_LINE_BYTES` (``too_long``, or ``tail`` that long)."""
    if too_long or len(tail) > MAX_LINE_BYTES:
        raise user_error(f"{layout.path}, line {line}: a quote (\") opens a cell that runs on for "
                         f"more than {size_text(MAX_LINE_BYTES)}, so a closing quote is probably "
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
    :data:`MAX_LINE_BYTES`, having read at most that much of it.
    """
    step, limit = max(int(BLOCK_BYTES), 1), MAX_LINE_BYTES
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
    for i in np.flatnonzero(~features_ok).tolist():
        if not right[i]:
            k = int(rec.n_fields[i])
            reasons[i] = f"row has {k} field{'s' if k != 1 else ''}, expected {layout.n_fields}"
            continue
        bad_j = np.flatnonzero(bad[i]).tolist()
        first_bad[i] = FEATURES[bad_j[0]]
        reasons[i] = "; ".join(score_reason(FEATURES[j], int(codes[i, j]), *shown[i, j]) for j in bad_j)

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
