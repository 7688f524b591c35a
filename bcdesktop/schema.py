"""The schema of a case: nine cytology scores (each a whole number 1..10), a sample id
and a class, and the one rule for reading each of them from text.

The rules live here once, for files, forms and the command line alike:
:func:`score_value` reads one score (a value and a code: usable, missing, not a number,
not whole or outside 1..10), worded by :func:`check_score` for a form field and by
:func:`score_reason` for a cell of a file; :func:`parse_scores` reads the nine scores of
one case; :func:`class_cell` reads one class (2/4, 0/1 or words, see
:data:`CLASS_VALUES`), and :data:`CLASS_CODING` says which way a class is written, so a
file that writes it both ways can be told apart (``bcdesktop.data.odd_class_coding``).

Every cell, sample id, header name or path in a message goes through :func:`printable`:
one line, no control characters (:func:`user_error` and :func:`shorten` apply it).
Only NumPy is imported here: every other module may import this one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from .errors import UserError

FEATURES: tuple[str, ...] = (
    "Clump Thickness",
    "Uniformity of Cell Size",
    "Uniformity of Cell Shape",
    "Marginal Adhesion",
    "Single Epithelial Cell Size",
    "Bare Nuclei",
    "Bland Chromatin",
    "Normal Nucleoli",
    "Mitoses",
)

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "Clump Thickness": "1 = cells in a mono-layer, 10 = cells in multiple layers",
    "Uniformity of Cell Size": "1 = cells all the same size, 10 = sizes vary widely",
    "Uniformity of Cell Shape": "1 = cells all the same shape, 10 = shapes vary widely",
    "Marginal Adhesion": "1 = cells stick together, 10 = cells have lost adhesion",
    "Single Epithelial Cell Size": "1 = normal-sized epithelial cells, 10 = markedly enlarged",
    "Bare Nuclei": "1 = nuclei surrounded by cytoplasm, 10 = most nuclei bare",
    "Bland Chromatin": "1 = fine, uniform chromatin, 10 = coarse chromatin",
    "Normal Nucleoli": "1 = nucleoli small or invisible, 10 = prominent nucleoli",
    "Mitoses": "1 = no or rare mitoses, 10 = many cells dividing",
}

SCORE_MIN, SCORE_MAX = 1, 10
ID_NAME = "Sample code number"
CLASS_NAME = "Class"


# -------------------------------------------------------------- missing cells


#: Texts that mean a cell is empty (compared lower-cased), for the scores and the class.
_NA_VALUES = ["?", "", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "-", "#N/A"]
NA_TEXTS = frozenset(v.lower() for v in _NA_VALUES)


# ------------------------------------------------------------------ the class


#: Values accepted in the class column (compared after stripping and lower-casing).
CLASS_VALUES: dict[str, int] = {
    "2": 0, "4": 1, "0": 0, "1": 1, "2.0": 0, "4.0": 1, "0.0": 0, "1.0": 1,
    "benign": 0, "malignant": 1, "b": 0, "m": 1,
}
# How a class cell is written: 0/1 or 2/4 (words such as "benign" are unambiguous)
CODED_01, CODED_24 = 1, 2
CLASS_CODING = {"0": CODED_01, "1": CODED_01, "0.0": CODED_01, "1.0": CODED_01,
                "2": CODED_24, "4": CODED_24, "2.0": CODED_24, "4.0": CODED_24}


_CLASS_NUMBER = re.compile(r"([0-9]+)\.0*")
_CLASS_NUMBER_COMMA = re.compile(r"([0-9]+)[.,]0*")


def class_key(text: str, decimal: str = ".") -> str:
    """A class cell as looked up in :data:`CLASS_VALUES`: lower-cased, a number's zero
    decimals dropped by the score rule's decimal mark (``4.0``, ``4,0`` with ``","``)."""
    key = text.lower()
    m = (_CLASS_NUMBER_COMMA if decimal == "," else _CLASS_NUMBER).fullmatch(key)
    return m.group(1) if m else key


def class_cell(text: str, decimal: str = ".") -> int:
    """0, 1, or -1 (missing) / -2 (not a class) for one class cell."""
    if text.lower() in NA_TEXTS:
        return -1
    return CLASS_VALUES.get(class_key(text, decimal), -2)


# ----------------------------------------------------------------- the scores


#: What a score's text holds: the codes of :func:`score_value`, shared by all columns.
OK, MISSING, NOT_NUMBER, NOT_WHOLE, OUTSIDE = range(5)


#: A score as a spreadsheet writes it: ASCII digits, an optional minus sign (so that -1
#: is reported as out of range) and an optional decimal part ("5.0"). Not accepted:
#: exponents ("1e1"), hex ("0x5"), a plus sign, digit separators ("1_0"), non-ASCII digits
#: ("\uff15", full-width 5), all of which Python's float() would take.
_SCORE_TEXT = re.compile(r"-?([0-9]+)(?:\.([0-9]*))?")
#: The same where the decimal mark may be a comma (semicolon- and tab-separated files,
#: as European spreadsheets write them: "1,0").
_SCORE_TEXT_COMMA = re.compile(r"-?([0-9]+)(?:[.,]([0-9]*))?")


def score_value(text: str, decimal: str = ".") -> tuple[float, int]:
    """``(value, code)`` of one score's text (spaces and quotes already removed): the one
    rule for scores in files, forms and on the command line.

    ``code`` is ``OK``, ``MISSING`` (empty, ``?``, ``NA`` ...), ``NOT_NUMBER`` (not
    plain digits, see :data:`_SCORE_TEXT`), ``NOT_WHOLE`` or ``OUTSIDE`` (not in
    1..10); ``value`` is NaN for the first two. A score is whole only when its *text* is:
    digits, optionally a decimal mark followed by zeros only (``10.000``); any other digit
    after the mark makes it not whole, however close to a whole number
    (``9.99999999999999999``, which ``float()`` rounds to 10). ``decimal`` is the file's
    decimal mark (:attr:`bcdesktop.csvlayout.CsvLayout.decimal`): with ``","`` a comma is a decimal mark as
    well as a point (``1,0`` is 1, ``1,5`` not whole).
    """
    if text.lower() in NA_TEXTS:
        return math.nan, MISSING
    match = (_SCORE_TEXT_COMMA if decimal == "," else _SCORE_TEXT).fullmatch(text)
    if match is None:
        return math.nan, NOT_NUMBER
    whole, fraction = match.group(1), match.group(2) or ""
    if fraction.strip("0"):
        return float(text.replace(",", ".")), NOT_WHOLE  # (the value is only approximate)
    v = float(whole)  # may be inf for hundreds of digits
    if text.startswith("-"):
        v = -v
    if not SCORE_MIN <= v <= SCORE_MAX:
        return v, OUTSIDE
    return v, OK


def check_score(text, decimal: str = ".") -> tuple[int | None, str | None]:
    """Check one score typed into a form field, by the same rule as a score in a file.

    Returns ``(value, None)`` for a whole number 1..10, else ``(None, message)``. See
    :func:`score_value` for what counts as a number (and ``decimal``).
    """
    s = "" if text is None else str(text).strip()
    value, code = score_value(s, decimal)
    if code == MISSING:
        return None, f"enter a whole number from {SCORE_MIN} to {SCORE_MAX}"
    if code == NOT_NUMBER:
        return None, f"'{shorten(s)}' is not a number; enter a whole number from {SCORE_MIN} to {SCORE_MAX}"
    if code == NOT_WHOLE:
        return None, f"{shorten(s)} is not a whole number; scores are whole numbers from {SCORE_MIN} to {SCORE_MAX}"
    if code == OUTSIDE:
        return None, f"{_number_text(value, s)} is outside {SCORE_MIN}..{SCORE_MAX}"
    return int(value), None


def score_reason(name: str, code: int, value: float, text: str) -> str:
    """Why the cell ``text`` of the score ``name`` in a file is unusable, for a rejection;
    ``value`` and ``code`` as :func:`score_value` gives them for it."""
    if code == MISSING:
        return f"{name} is missing"
    if code == NOT_NUMBER:
        if re.fullmatch(r"-?[0-9]+,[0-9]+", text):  # a decimal comma in a comma-separated file
            return (f"{name} '{shorten(text)}' is not a whole number (a decimal comma is read only in "
                    "semicolon- or tab-separated files)")
        return f"{name} '{shorten(text)}' is not a whole number"
    if code == NOT_WHOLE:  # the text as written: its value may print as a whole number
        return f"{name} = {shorten(text)} is not a whole number"
    return f"{name} = {_number_text(value, text)} is outside {SCORE_MIN}..{SCORE_MAX}"


def _number_text(value: float, text: str) -> str:
    """A whole score outside 1..10 as a number (``11.0`` -> ``11``), or its text when huge."""
    return str(int(value)) if math.isfinite(value) and abs(value) < 1e15 else shorten(text)


def parse_scores(values: Sequence) -> np.ndarray:
    """The nine scores of one case as a float64 array of shape (9,).

    Raises
    ------
    UserError
        Naming the feature, when a value is missing, not a whole number or not in 1..10,
        or when there are not exactly nine values.
    """
    values = list(values)
    if len(values) != len(FEATURES):
        raise user_error(f"Expected {len(FEATURES)} scores ({', '.join(FEATURES)}), got {len(values)}.")
    out = np.empty(len(FEATURES), dtype=np.float64)
    for i, (name, text) in enumerate(zip(FEATURES, values)):
        value, message = check_score(text)
        if message is not None:
            raise user_error(f"{name}: {message}.")
        out[i] = value
    return out


# ---------------------------------------------------------- text for a person


def printable(text) -> str:
    """``text`` safe to show on a terminal or in a window, on one line.

    Every character that is not printable (C0 controls such as ESC and the line
    breaks, DEL, C1 controls such as ``\\x9b``, bidi overrides such as U+202E, line and
    paragraph separators, lone surrogates) is written as its Python escape (``\\x1b``,
    ``\\u202e``), so a cell, a sample id, a header name or a path can neither move the
    cursor, clear the screen, reorder the text nor start a new line. Printable text
    (accents, symbols, other scripts) is kept as it is. Escaping twice changes nothing.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or unicodedata.category(c) == "Zs" else _escape_char(c)
                   for c in text)  # Zs: no-break and other spaces are harmless and read as spaces


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(c: str) -> str:
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def user_error(message: str) -> UserError:
    """A UserError whose message is one printable line (paths, cells and names escaped)."""
    return UserError(printable(message))


_CELL_SHOWN = 24  # characters of a bad cell quoted in a message


def shorten(text: str) -> str:
    """A cell or name as quoted in a message: at most :data:`_CELL_SHOWN` characters of
    the text, then escaped by :func:`printable` (one line, no control characters)."""
    text = str(text)
    if len(text) > _CELL_SHOWN:
        text = text[: _CELL_SHOWN - 3] + "..."
    return printable(text)
