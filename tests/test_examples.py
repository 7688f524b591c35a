"""Typical cases for the Patient tab: real rows nearest their class's median (no Tk)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bcdesktop import data
from bcdesktop.examples import example_source, typical_cases

ROWS = ["1000025,5,1,1,1,2,1,3,1,1,2", "1002945,5,4,4,5,7,10,3,2,1,2", "1015425,3,1,1,1,2,2,3,1,1,2",
        "1016277,6,8,8,1,3,4,3,7,1,4", "1017023,4,1,1,3,2,1,3,1,1,2", "1017122,8,10,10,8,7,10,9,7,1,4"]


@pytest.fixture(scope="module")
def bundled():
    return data.load_bundled()


def load(tmp_path, rows, name="cases.csv"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return data.load_csv(path)


def test_each_typical_case_is_the_real_row_of_its_class_nearest_the_median(bundled):
    cases = typical_cases(bundled)
    assert sorted(cases) == [0, 1]
    for label, case in cases.items():
        rows = np.flatnonzero(bundled.y == label)
        distance = np.abs(bundled.X[rows] - np.median(bundled.X[rows], axis=0)).sum(axis=1)
        first_nearest = rows[np.flatnonzero(distance == distance.min())[0]]  # the first in file order
        assert case.line == bundled.lines[first_nearest] and case.sample_id == str(bundled.ids[first_nearest])
        assert np.array_equal(case.scores, bundled.X[first_nearest]) and bundled.y[first_nearest] == label
        scores, line, sample_id = case  # unpacks as (scores, line, sample id)
        assert scores.shape == (9,) and line == case.line and sample_id == case.sample_id


def test_ties_go_to_the_first_row_in_file_order(tmp_path):
    same = "5,1,1,1,2,1,3,1,1"
    ds = load(tmp_path, [f"11,{same},2", f"12,{same},2", "13,9,9,9,9,9,9,9,9,9,4"])
    cases = typical_cases(ds)
    assert (cases[0].line, cases[0].sample_id) == (1, "11")
    assert (cases[1].line, cases[1].sample_id) == (3, "13")


def test_a_class_without_rows_has_no_typical_case(tmp_path):
    benign_only = load(tmp_path, [r for r in ROWS if r.endswith(",2")])
    assert list(typical_cases(benign_only)) == [0]


def test_the_cases_come_from_the_loaded_data_only_when_it_has_both_classes(tmp_path, bundled):
    both = load(tmp_path, ROWS)
    assert example_source(both) is both
    one_class = load(tmp_path, [r for r in ROWS if r.endswith(",4")], "malignant.csv")
    unlabelled = load(tmp_path, [r.rsplit(",", 1)[0] for r in ROWS], "unlabelled.csv")
    assert unlabelled.y is None
    for dataset in (None, one_class, unlabelled):
        source = example_source(dataset)
        assert source.path == bundled.path and source.n_read == bundled.n_read


def test_the_module_needs_no_tkinter():
    code = "import sys, bcdesktop.examples; sys.exit('tkinter' in sys.modules or 'matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
