"""How a CSV file is laid out, found once by :func:`sniff_layout`.

:func:`sniff_layout` looks at the file once: encoding (UTF-8 with or without BOM, else
cp1252, else latin-1, decided by a scan of the whole file's bytes that stops at binary
data or a line far too long), delimiter (comma, semicolon or tab) and decimal mark,
whether the first row is a header, and which columns hold the sample id, the nine
scores, the class and anything else (said in words by ``CsvLayout.assumed`` and
``CsvLayout.column_matching()``); it records the file's identity, so that the chunk
reader (``bcdesktop.csvscan``) refuses a file that is no longer the one sniffed. A file
that cannot be used at all raises one :class:`~bcdesktop.errors.UserError`.

Header names are matched by their aliases (:data:`_ALIASES`), or as R's V1..V9; ten
columns without a header are read only on evidence (:func:`_ten_column_roles`), never
guessed.
"""

from __future__ import annotations

import codecs
import csv
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import csvrecords
from .csvrecords import NUL_RUN, binary_error, line_ends, n_breaks, split_line, split_records, too_long_error
from .errors import UserError
from .resources import NotAFile, open_regular_file
from .schema import (
    CLASS_NAME,
    CLASS_VALUES,
    FEATURES,
    ID_NAME,
    NA_TEXTS,
    OK,
    class_key,
    printable,
    score_value,
    shorten,
    user_error,
)

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
    (:data:`~bcdesktop.csvrecords.NUL_RUN`) or line longer than
    :data:`~bcdesktop.csvrecords.MAX_LINE_BYTES`, so a damaged file is refused after
    reading up to there, not the gigabytes after it.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE)):
        raise user_error(f"{path} is saved as UTF-16 ('Unicode text'). Save it as "
                         "'CSV UTF-8 (comma delimited)' and try again.")
    bom = codecs.BOM_UTF8 if head.startswith(codecs.BOM_UTF8) else b""
    limit = csvrecords.MAX_LINE_BYTES
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
