"""Which layout a file is read in, and said so: headerless ten-column files, other
people's copies of the data set (R's MASS::biopsy, decimal commas, the Diagnostic data
set under prefixed names), memory bounded by the block and not by the row, and files
that change while they are read."""

import numpy as np
import pytest

from bcdesktop import data, scoring
from bcdesktop.data import CLASS_NAME, FEATURES, ID_NAME, load_csv, sniff_layout
from bcdesktop.errors import UserError

ROW = "5,1,1,1,2,1,3,1,1"  # nine scores of the first UCI row
MITOSES = [1, 1, 2, 1, 3, 1, 1, 4, 7, 1, 1, 10]  # a last column as Mitoses has it


def write(tmp_path, text, name="cases.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def refused(path, **kwargs):
    with pytest.raises(UserError) as info:
        load_csv(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# ---------------------------------------------------------------- headerless, ten columns

def test_ten_columns_with_ids_1_to_n_are_id_and_nine_scores(tmp_path):
    # the review's file: ids 1..n before the nine scores were read as nine scores + class
    text = "".join(f"{i},8,2,4,1,5,1,5,4,{m}\n" for i, m in enumerate(MITOSES, start=1))
    path = write(tmp_path, text)
    layout = sniff_layout(path)
    assert (layout.id_col, layout.feature_cols, layout.class_col) == (0, tuple(range(1, 10)), None)
    assert "sample id + nine scores" in layout.assumed and "no header" in layout.assumed
    ds = load_csv(path)
    assert ds.y is None and ds.ids.tolist()[:3] == ["1", "2", "3"]
    assert ds.X[:, 8].tolist() == MITOSES and ds.X[0, 0] == 8


@pytest.mark.parametrize("rows", [
    ["1,8,2,4,1,5,1,5,4,4"],                                   # one row: no evidence either way
    [f"{i},8,2,4,1,5,1,5,4,4" for i in range(1, 6)],          # ids 1..5, but Mitoses all 4
    [f"{i},8,2,4,1,5,1,5,4,{c}" for i, c in zip(range(1, 9), "24242424")],
    ["3,8,2,4,1,5,1,5,4,1", "7,8,2,4,1,5,1,5,4,1", "2,8,2,4,1,5,1,5,4,1"],  # class all 1?
])
def test_ten_columns_that_can_be_read_both_ways_are_refused(tmp_path, rows):
    message = refused(write(tmp_path, "\n".join(rows) + "\n"))
    assert "ambiguous" in message and "header row" in message
    with pytest.raises(UserError):
        sniff_layout(tmp_path / "cases.csv")


@pytest.mark.parametrize("last, reading", [
    (["2", "4", "2", "2", "4"], "class"),         # 2/4 only, first column no sequence
    (["0", "1", "1", "0"], "class"),              # 0 is no score
    (["benign", "malignant", "b"], "class"),      # words are no score
    (["1", "2", "4", "1", "1"], "id"),            # 1 with 2/4: two codings, so a score
    (["3", "1", "1", "1"], "id"),                 # 3 is no class code
])
def test_ten_columns_decided_by_the_last_column(tmp_path, last, reading):
    firsts = [5, 3, 8, 3, 6]
    text = "".join(f"{firsts[k]},1,1,1,2,1,3,1,1,{c}\n" for k, c in enumerate(last))
    layout = sniff_layout(write(tmp_path, text))
    if reading == "class":
        assert (layout.id_col, layout.class_col) == (None, 9)
        assert "nine scores + class" in layout.assumed
    else:
        assert (layout.id_col, layout.class_col) == (0, None)
        assert "sample id + nine scores" in layout.assumed


def test_ten_columns_with_ids_outside_1_to_10(tmp_path):
    text = "".join(f"{1000000 + i},{ROW.rsplit(',', 1)[0]},{c}\n" for i, c in enumerate("2442"))
    # the last column 2/4 looks like a class, the first like an id: refuse, never guess
    assert "ambiguous" in refused(write(tmp_path, text))
    text = "".join(f"{1000000 + i},{ROW}\n" for i in range(4))  # Mitoses 1: an id file
    layout = sniff_layout(write(tmp_path, text))
    assert (layout.id_col, layout.class_col) == (0, None)


def test_conflicting_evidence_is_refused_not_guessed(tmp_path):
    # a nine-scores-and-class (2/4) file with one typo in the first column: reading it as
    # id + nine would shift every column silently (the class read as Mitoses)
    rows = [f"{c},1,1,1,2,1,3,1,1,{k}" for c, k in zip([5, 3, "abc", 6, 4, 8], "242244")]
    message = refused(write(tmp_path, "\n".join(rows) + "\n"))
    assert "ambiguous" in message and "'abc'" in message
    # ... and a class typo (3) in a 2/4 class column, with no id in sight
    rows = [f"{c},1,1,1,2,1,3,1,1,{k}" for c, k in zip([5, 3, 1, 6, 4, 8], "242344")]
    assert "ambiguous" in refused(write(tmp_path, "\n".join(rows) + "\n"))


def test_ten_columns_evidence_past_the_first_200_lines_is_seen(tmp_path):
    # 250 rows of 2/4 in the last column; then Mitoses values appear: this is no class
    rows = [f"{5 if i % 2 else 3},1,1,1,2,1,3,1,1,{2 if i % 3 else 4}" for i in range(250)]
    rows += [f"{5 if i % 2 else 3},1,1,1,2,1,3,1,1,{m}" for i, m in enumerate(MITOSES * 3)]
    message = refused(write(tmp_path, "\n".join(rows) + "\n"))
    assert "ambiguous" in message


def test_the_assumed_layout_and_column_matching_are_stated(tmp_path):
    layout = sniff_layout(write(tmp_path, f"1000025,{ROW},2\n" * 3))
    assert layout.assumed == ("no header row; 11 columns read as sample id + nine scores + class "
                              "(the UCI layout)")
    matching = layout.column_matching()
    assert matching[0] == ("column 1", ID_NAME)
    assert matching[1:10] == [(f"column {k + 2}", f) for k, f in enumerate(FEATURES)]
    assert matching[10] == ("column 11", CLASS_NAME)
    header = "Patient,Mitoses," + ",".join(FEATURES[:-1]) + ",Diagnosis"
    layout = sniff_layout(write(tmp_path, f"{header}\nAnna,1,{ROW[:-2]},benign\n"))
    assert layout.assumed.startswith("header row")
    assert layout.column_matching()[:2] == [("Patient", "extra"), ("Mitoses", "Mitoses")]
    assert layout.column_matching()[-1] == ("Diagnosis", CLASS_NAME)
    assert load_csv(tmp_path / "cases.csv").layout.column_matching() == layout.column_matching()


# ---------------------------------------------------------------- R's MASS::biopsy

V_HEADER = ["ID", *(f"V{k}" for k in range(1, 10)), "class"]
BIOPSY = [("1000025", "5,1,1,1,2,1,3,1,1", "benign"),
          ("1002945", "5,4,4,5,7,10,3,2,1", "benign"),
          ("1057013", "8,4,5,1,2,NA,7,3,1", "malignant"),
          ("1017122", "8,10,10,8,7,10,9,7,1", "malignant")]


def _biopsy(kind):
    if kind == "write.csv":  # R: write.csv(biopsy, f): quoted header and row names, NA
        head = ",".join(f'"{c}"' for c in ["", *V_HEADER])
        rows = [f'"{n}","{i}",{s},"{c}"' for n, (i, s, c) in enumerate(BIOPSY, start=1)]
    elif kind == "row.names=FALSE":
        head = ",".join(f'"{c}"' for c in V_HEADER)
        rows = [f'"{i}",{s},"{c}"' for i, s, c in BIOPSY]
    elif kind == "pandas":  # pandas: df.to_csv(f) with its index, first header cell empty
        head = "," + ",".join(V_HEADER)
        rows = [f"{n},{i},{s.replace('NA', '')},{c}" for n, (i, s, c) in enumerate(BIOPSY)]
    elif kind == "write.csv2":  # R: write.csv2, semicolons
        head = ";".join(f'"{c}"' for c in ["", *V_HEADER])
        rows = [f'"{n}";"{i}";{s.replace(",", ";")};"{c}"' for n, (i, s, c) in enumerate(BIOPSY, start=1)]
    elif kind == "X":  # read.csv then write.csv again: the row names come back as X
        head = ",".join(f'"{c}"' for c in ["", "X", *V_HEADER])
        rows = [f'"{n}",{n},"{i}",{s},"{c}"' for n, (i, s, c) in enumerate(BIOPSY, start=1)]
    return head + "\r\n" + "\r\n".join(rows) + "\r\n"


@pytest.mark.parametrize("kind, extra", [("write.csv", 1), ("row.names=FALSE", 0), ("pandas", 1),
                                         ("write.csv2", 1), ("X", 2)])
def test_r_biopsy_exports_are_read_with_v1_to_v9_as_the_nine_scores(tmp_path, kind, extra):
    path = write(tmp_path, _biopsy(kind))
    layout = sniff_layout(path)
    assert len(layout.extra_cols) == extra
    assert "V1..V9" in layout.assumed and "biopsy" in layout.assumed
    matching = layout.column_matching()
    assert [role for _, role in matching[extra + 1:extra + 10]] == list(FEATURES)
    assert matching[extra + 1] == ("V1", "Clump Thickness")
    assert matching[extra + 6] == ("V6", "Bare Nuclei")
    assert matching[extra] == ("ID", ID_NAME) and matching[-1] == ("class", CLASS_NAME)
    assert all(role == "extra" for _, role in matching[:extra])
    ds = load_csv(path)
    assert (ds.n_read, ds.n_usable) == (4, 3)
    assert ds.rejected[0].reason == "Bare Nuclei is missing" and ds.rejected[0].sample_id == "1057013"
    assert ds.ids.tolist() == ["1000025", "1002945", "1017122"]
    assert ds.X[1].tolist() == [5, 4, 4, 5, 7, 10, 3, 2, 1] and ds.y.tolist() == [0, 0, 1]


def test_r_biopsy_scores_with_its_row_names_copied_through(tmp_path):
    path = write(tmp_path, _biopsy("write.csv"))
    out = tmp_path / "out.csv"

    class Model:
        threshold, model_id = 0.5, "m"

        def predict_proba(self, X):
            return np.full(len(X), 0.25)

    summary = scoring.score_csv(path, out, Model())
    assert (summary.rows_read, summary.scored) == (4, 3)
    lines = out.read_text().splitlines()
    assert lines[1].startswith('"1","1000025",5,1,1,1,2,1,3,1,1,"benign",')


@pytest.mark.parametrize("names, words", [
    ([f"V{k}" for k in range(1, 12)], "V1"),                   # R's names for a headerless UCI read
    (["ID", *(f"V{k}" for k in range(1, 9)), "class"], "V1"),  # V9 missing
    (["ID", *(f"V{k}" for k in range(1, 10)), "Mitoses"], "no column for"),  # real names win
])
def test_v_names_other_than_biopsys_are_not_guessed(tmp_path, names, words):
    row = ",".join(["7"] * len(names))
    message = refused(write(tmp_path, ",".join(names) + "\n" + row + "\n"))
    assert words in message


# ---------------------------------------------------------------- decimal commas

def test_semicolon_file_with_decimal_commas(tmp_path):
    # a European spreadsheet writes a float column as 1,0; in a semicolon file that is 1
    header = ";".join([ID_NAME, *FEATURES, CLASS_NAME])
    rows = ["1;5;1;1;1;2;1,0;3;1;1;2",
            '2;5;1;1;1;2;"10,0";3;1;1;4,0',
            "3;5;1;1;1;2;1,5;3;1;1;2,0",
            "4;5;1;1;1;2;1.0;3;1;1;\"2,00\"",
            "5;5,000;1;1;1;2;1;3;1;1;x,0"]
    path = write(tmp_path, header + "\n" + "\n".join(rows) + "\n")
    assert sniff_layout(path).decimal == ","
    ds = load_csv(path)
    assert ds.ids.tolist() == ["1", "2", "4"] and ds.X[:, 5].tolist() == [1, 10, 1]
    assert ds.y.tolist() == [0, 1, 0]
    assert [(r.line, r.reason) for r in ds.rejected] == [
        (4, "Bare Nuclei = 1,5 is not a whole number"),
        (6, "Class 'x,0' is not benign/malignant (2/4, 0/1)")]


def test_semicolon_decimal_comma_class_codes(tmp_path):
    header = ";".join([*FEATURES, CLASS_NAME])
    rows = [f"{ROW.replace(',', ';')};{c}" for c in ("2,0", "4,0", '"4,0"', "2")]
    ds = load_csv(write(tmp_path, header + "\n" + "\n".join(rows) + "\n"))
    assert ds.y.tolist() == [0, 1, 1, 0] and ds.n_rejected == 0


def test_tab_file_with_decimal_commas_and_comma_file_unchanged(tmp_path):
    ds = load_csv(write(tmp_path, "\t".join(FEATURES) + "\n" + "5\t1\t1\t1\t2\t3,0\t3\t1\t1\n"))
    assert ds.X[0, 5] == 3
    # in a comma-separated file a quoted 1,0 is still no score
    ds = load_csv(write(tmp_path, ",".join(FEATURES) + "\n" + '5,1,1,1,2,"1,0",3,1,1\n5,1,1,1,2,1,3,1,1\n'))
    assert sniff_layout(tmp_path / "cases.csv").decimal == "."
    assert ds.rejected[0].reason == "Bare Nuclei '1,0' is not a whole number"


def test_score_value_takes_the_decimal_mark():
    assert data.score_value("1,0", ",") == (1.0, 0)
    assert data.score_value("1,0")[1] != 0
    assert data.score_value("10,000", ",")[0] == 10 and data.score_value("10,000", ",")[1] == 0
    assert data.score_value("1,5", ",")[1] == data.score_value("1.5")[1]


# ---------------------------------------------------------------- the Diagnostic data set

def test_prefixed_wdbc_names_are_named_as_the_diagnostic_data_set(tmp_path):
    names = [f"x.{f}_{k}" for k in ("mean", "se", "worst") for f in (
        "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
        "concave_pts", "symmetry", "fractal_dim")]
    header = ",".join(f'"{c}"' for c in ["", *names, "y"])
    row = '"1",' + ",".join(["17.99"] * 30) + ',"M"'
    assert "Diagnostic" in refused(write(tmp_path, header + "\n" + row + "\n"))


def test_the_apps_own_column_names_are_not_taken_for_the_diagnostic_data_set():
    own = [*FEATURES, ID_NAME, CLASS_NAME, *(a for names in data._ALIASES.values() for a in names),
           *data._ID_ALIASES, *data._CLASS_ALIASES, "Patient name", "date", "note"]
    assert not data._wdbc_hints(own)
