"""File > Export results: result sections as CSV or as aligned plain text.

A pure function of the sections (no Tk): the app gathers them (the context, the
active model's figures, what each tab published with ``app.set_results``) and writes
the text this returns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from bcdesktop import DISCLAIMER, __version__
from bcdesktop.metrics import finite_or_none, format_rate

#: ``(title, [(name, value), ...])``; a value is a number, a string, or a ``Rate``.
Section = tuple[str, Sequence[tuple[str, Any]]]

CSV_COLUMNS = ("section", "name", "value", "ci95_low", "ci95_high", "k", "n")


def results_text(sections: Sequence[Section], csv_format: bool = True) -> str:
    """The export of ``sections``, headed by the version and the disclaimer: CSV with
    ``#`` comment lines (a ``Rate`` as its value, 95% interval and k/n, undefined
    numbers empty), or aligned text (a ``Rate`` as ``95.2% (91.0-97.5%)  [k/n]``)."""
    header = [f"bcdesktop {__version__} results", DISCLAIMER]
    if csv_format:
        out = io.StringIO()
        for line in header:
            out.write(f"# {line}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for section, rows in sections:
            for name, value in rows:
                if _is_rate(value):
                    writer.writerow([section, name, _number(value.value), _number(value.low), _number(value.high),
                                     value.k, value.n])
                else:
                    writer.writerow([section, name, value, "", "", "", ""])
        return out.getvalue()
    lines = header + [""]
    for section, rows in sections:
        lines.append(section)
        lines.append("-" * len(section))
        width = max((len(name) for name, _ in rows), default=0)
        for name, value in rows:
            shown = f"{format_rate(value)}  [{value.k}/{value.n}]" if _is_rate(value) else value
            lines.append(f"  {name.ljust(width)}  {shown}")
        lines.append("")
    return "\n".join(lines)


def _is_rate(value: Any) -> bool:
    return hasattr(value, "low") and hasattr(value, "k")


def _number(value: float | None) -> str:
    """A rate's value or bound for the CSV: 6 significant digits, empty when undefined."""
    value = finite_or_none(value)
    return "" if value is None else f"{value:.6g}"
