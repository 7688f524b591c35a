"""File > Export results as text, from the result sections alone (no Tk)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from bcdesktop import DISCLAIMER, __version__
from bcdesktop.gui.export import CSV_COLUMNS, results_text
from bcdesktop.metrics import Rate, wilson_interval

SECTIONS = [("Context", [("threshold", 0.35), ("data file", "clinic.csv")]),
            ("Validation", [("Sensitivity", Rate.of(45, 50, "no malignant cases")),
                            ("Specificity", Rate.of(0, 0, "no benign cases")), ("rows", 50)])]


def test_csv_has_the_disclaimer_then_one_row_per_value_with_a_rate_s_interval_and_counts():
    text = results_text(SECTIONS, csv_format=True)
    lines = text.splitlines()
    assert lines[:2] == [f"# bcdesktop {__version__} results", f"# {DISCLAIMER}"]
    rows = list(csv.reader(io.StringIO("\n".join(lines[2:]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    low, high = wilson_interval(45, 50)
    assert rows[1:] == [["Context", "threshold", "0.35", "", "", "", ""],
                        ["Context", "data file", "clinic.csv", "", "", "", ""],
                        ["Validation", "Sensitivity", "0.9", f"{low:.6g}", f"{high:.6g}", "45", "50"],
                        ["Validation", "Specificity", "", "", "", "0", "0"],  # undefined: empty, not "nan"
                        ["Validation", "rows", "50", "", "", "", ""]]


def test_text_aligns_each_section_and_shows_a_rate_as_a_person_reads_it():
    low, high = wilson_interval(45, 50)
    assert results_text(SECTIONS, csv_format=False).splitlines() == [
        f"bcdesktop {__version__} results", DISCLAIMER, "",
        "Context", "-------", "  threshold  0.35", "  data file  clinic.csv", "",
        "Validation", "----------",
        f"  Sensitivity  90.0% ({100 * low:.1f}-{100 * high:.1f}%)  [45/50]",
        "  Specificity  n/a  [0/0]",
        "  rows         50"]


def test_the_export_needs_no_tkinter():
    code = "import sys, bcdesktop.gui.export; sys.exit('tkinter' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
