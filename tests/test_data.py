"""Reading CSV files of cases: layouts, encodings, every kind of bad row and bad file."""

import hashlib
import os
import threading

import numpy as np
import pytest

from bcdesktop import csvrecords, csvscan, data, schema
from bcdesktop.csvlayout import sniff_layout
from bcdesktop.data import load_bundled, load_csv
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.schema import FEATURES, check_score, parse_scores

ROW = "5,1,1,1,2,1,3,1,1"  # nine scores of the first UCI row
UCI_HEADER = "Sample code number," + ",".join(FEATURES) + ",Class"


def write(tmp_path, text, name="cases.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


# ---------------------------------------------------------------- the bundled file

def test_bundled_file_counts():
    ds = load_bundled()
    assert ds.n_read == 699
    assert ds.n_usable == 683
    assert ds.n_rejected == 16
    assert all(r.reason == "Bare Nuclei is missing" and r.column == "Bare Nuclei" for r in ds.rejected)
    assert ds.X.shape == (683, 9) and ds.X.dtype == np.float64
    assert ds.X.min() == 1 and ds.X.max() == 10
    assert np.bincount(ds.y).tolist() == [444, 239]
    # the first rejected row is line 24 of the file, sample 1057013
    assert (ds.rejected[0].line, ds.rejected[0].sample_id) == (24, "1057013")
    assert ds.lines[:3].tolist() == [1, 2, 3] and ds.ids[0] == "1000025"
    assert ds.sha256 == "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64"


def test_chunked_reading_gives_the_same_result_and_reports_progress():
    whole = load_bundled()
    seen = []
    chunked = load_csv(whole.path, chunksize=50, progress=seen.append)
    np.testing.assert_array_equal(chunked.X, whole.X)
    np.testing.assert_array_equal(chunked.y, whole.y)
    np.testing.assert_array_equal(chunked.lines, whole.lines)
    assert chunked.rejected == whole.rejected
    assert len(seen) == 14 and seen[-1].rows == 699 and seen[-1].bytes_done == seen[-1].bytes_total
    assert [p.rows for p in seen] == sorted(p.rows for p in seen)


def test_cancel_raises():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        load_csv(load_bundled().path, cancel=stop)


# ---------------------------------------------------------------- layouts

@pytest.mark.parametrize("text, labelled, ids", [
    (f"1000025,{ROW},2\n", True, "1000025"),            # UCI, headerless 11
    (f"1000025,{ROW}\n", False, "1000025"),             # id + nine
    (f"{ROW},4\n", True, ""),                           # nine + class
    (f"{ROW}\n", False, ""),                            # nine only
])
def test_headerless_layouts(tmp_path, text, labelled, ids):
    ds = load_csv(write(tmp_path, text * 3))
    assert ds.n_usable == 3
    assert ds.X[0].tolist() == [5, 1, 1, 1, 2, 1, 3, 1, 1]
    assert (ds.y is not None) == labelled
    assert ds.ids[0] == ids


def test_header_with_variants_in_any_order_and_extra_columns(tmp_path):
    names = ["patient name", "clump_thickness", "Uniformity-Of-Cell-Size", "cell_shape_uniformity",
             "MARGINAL ADHESION", "single_epithelial_cell_size", "bare_nucleoli", "Bland Chromatin",
             "normal_nucleoli", "Mitoses", "Diagnosis", "sample id", "date"]
    text = ";".join(names) + "\r\n" + '"Smith; Jane";5;1;1;1;2;10;3;1;1;Malignant;"1 7";2024-01-01\r\n'
    path = write(tmp_path, "\ufeff" + text)
    layout = sniff_layout(path)
    assert layout.delimiter == ";" and layout.has_header and layout.bom
    assert layout.extra_cols == (0, 12) and layout.id_col == 11 and layout.class_col == 10
    ds = load_csv(path)
    assert ds.X[0].tolist() == [5, 1, 1, 1, 2, 10, 3, 1, 1]
    assert ds.y.tolist() == [1] and ds.ids.tolist() == ["1 7"] and ds.lines.tolist() == [2]


def test_reordered_columns_map_to_the_right_features(tmp_path):
    order = list(reversed(FEATURES))
    values = [str(i + 1) for i in range(9)]
    path = write(tmp_path, "\t".join(order) + "\n" + "\t".join(values) + "\n")
    ds = load_csv(path)
    assert ds.X[0].tolist() == [float(v) for v in reversed(values)]
    assert ds.y is None


@pytest.mark.parametrize("classes, expected", [
    (["2", "4"], [0, 1]), (["0", "1"], [0, 1]), (["benign", "MALIGNANT"], [0, 1]), (["B", "m"], [0, 1]),
])
def test_class_spellings(tmp_path, classes, expected):
    text = "".join(f"{i},{ROW},{c}\n" for i, c in enumerate(classes))
    assert load_csv(write(tmp_path, text)).y.tolist() == expected


def test_quotes_spaces_crlf_and_cp1252(tmp_path):
    text = 'id,' + ",".join(FEATURES) + ',Class,Note\r\n"7", 5 ,"1",1 , 1,2,1,3,1,1, 2 ,"café, ""quoted"""\r\n'
    ds = load_csv(write(tmp_path, text, encoding="cp1252"))
    assert sniff_layout(tmp_path / "cases.csv").encoding == "cp1252"
    assert ds.n_usable == 1 and ds.X[0].tolist() == [5, 1, 1, 1, 2, 1, 3, 1, 1] and ds.ids[0] == "7"


def test_latin1_fallback(tmp_path):
    # 0x81 is undefined in cp1252, so only latin-1 decodes this
    path = write(tmp_path, f"Name,{','.join(FEATURES)}\n".encode() + b"A\x81," + ROW.encode() + b"\n")
    assert sniff_layout(path).encoding == "latin-1"
    assert load_csv(path).n_usable == 1


def test_blank_lines_are_skipped_but_counted_in_line_numbers(tmp_path):
    text = f"\n{UCI_HEADER}\n\n1,{ROW},2\n\n2,{ROW},4\n\n"
    ds = load_csv(write(tmp_path, text))
    assert ds.n_read == 2 and ds.lines.tolist() == [4, 6]


def test_quoted_line_break_keeps_line_numbers(tmp_path):
    text = f"Note,{','.join(FEATURES)}\n\"two\nlines\",{ROW}\nx,{ROW.replace('5', '11', 1)}\n"
    ds = load_csv(write(tmp_path, text))
    assert ds.lines.tolist() == [2]
    assert ds.rejected[0].line == 4


# ---------------------------------------------------------------- bad rows

@pytest.mark.parametrize("row, column, reason", [
    ("9,5,1,1,1,2,?,3,1,1,2", "Bare Nuclei", "Bare Nuclei is missing"),
    ("9,5,1,1,1,2,,3,1,1,2", "Bare Nuclei", "Bare Nuclei is missing"),
    ("9,5,1,1,1,2,1,3,1,11,2", "Mitoses", "Mitoses = 11 is outside 1..10"),
    ("9,0,1,1,1,2,1,3,1,1,2", "Clump Thickness", "Clump Thickness = 0 is outside 1..10"),
    ("9,abc,1,1,1,2,1,3,1,1,2", "Clump Thickness", "Clump Thickness 'abc' is not a whole number"),
    ("9,3.5,1,1,1,2,1,3,1,1,2", "Clump Thickness", "Clump Thickness = 3.5 is not a whole number"),
    (f"9,{ROW},x", "Class", "Class 'x' is not benign/malignant (2/4, 0/1)"),
    (f"9,{ROW},", "Class", "Class is missing"),
    ("9,5,1,1,1,2,1,3", None, "row has 8 fields, expected 11"),
    (f"9,{ROW},2,7", None, "row has 12 fields, expected 11"),
    ("9,5,1,1,1,2,?,3,1,11,2", "Bare Nuclei", "Bare Nuclei is missing; Mitoses = 11 is outside 1..10"),
])
def test_each_bad_row_is_reported_with_line_id_column_and_reason(tmp_path, row, column, reason):
    text = f"1,{ROW},2\n{row}\n3,{ROW},4\n"
    ds = load_csv(write(tmp_path, text))
    assert ds.n_read == 3 and ds.n_usable == 2
    assert ds.rejected == [data.Rejection(2, "9", column, reason)]
    assert ds.lines.tolist() == [1, 3]


# ---------------------------------------------------------------- unusable files

def _msg(path):
    with pytest.raises(UserError) as info:
        load_csv(path)
    return str(info.value)


def test_unusable_files(tmp_path):
    assert "does not exist" in _msg(tmp_path / "nope.csv")
    assert "folder" in _msg(tmp_path)
    assert "empty" in _msg(write(tmp_path, ""))
    assert "empty" in _msg(write(tmp_path, "\ufeff\r\n  \n"))
    assert "no data rows" in _msg(write(tmp_path, UCI_HEADER + "\n"))
    assert "not a text file" in _msg(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10))
    assert "save it as CSV" in _msg(write(tmp_path, b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))))
    # a zip is a workbook or a model or any archive: said as such, not as a workbook alone
    assert "is a zip archive" in _msg(write(tmp_path, b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))))
    assert "spreadsheet workbook (.xls)" in _msg(write(tmp_path, b"\xd0\xcf\x11\xe0" + bytes(range(256))))
    assert "not a table" in _msg(write(tmp_path, "hello world\nthis is prose\n"))
    assert "UTF-16" in _msg(write(tmp_path, ("\ufeff" + f"1,{ROW},2\n").encode("utf-16-le")))
    assert "15 columns" in _msg(write(tmp_path, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"))


def test_wrong_schema_wdbc_is_named(tmp_path):
    header = "id,diagnosis," + ",".join(f"{f}_{k}" for k in ("mean", "se", "worst") for f in (
        "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
        "concave points", "symmetry", "fractal_dimension"))
    row = "842302,M," + ",".join(["17.99"] * 30)
    assert "Diagnostic" in _msg(write(tmp_path, header + "\n" + row + "\n"))
    assert "Diagnostic" in _msg(write(tmp_path, row + "\n" + row + "\n"))


def test_header_missing_features_or_duplicates(tmp_path):
    names = list(FEATURES[:-2])
    msg = _msg(write(tmp_path, ",".join(names) + "\n" + "1," * 6 + "1\n"))
    assert "Normal Nucleoli" in msg and "Mitoses" in msg and "no column" in msg
    msg = _msg(write(tmp_path, ",".join(FEATURES) + ",mitosis\n" + ROW + ",1\n"))
    assert "Mitoses" in msg and "mitosis" in msg


def test_every_row_rejected(tmp_path):
    msg = _msg(write(tmp_path, f"1,{ROW.replace('5', '12', 1)},2\n2,{ROW.replace('5', '12', 1)},2\n"))
    assert "None of the 2 rows" in msg and "Clump Thickness = 12" in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path):
    path = write(tmp_path, f"1,{ROW},2\n")
    path.chmod(0)
    assert "permission denied" in _msg(path)


# ---------------------------------------------------------------- single values

@pytest.mark.parametrize("text, value", [("1", 1), (" 10 ", 10), ("7.0", 7)])
def test_check_score_ok(text, value):
    assert check_score(text) == (value, None)


def test_check_score_messages_differ():
    messages = [check_score(t)[1] for t in ("", "0", "11", "3.5", "abc")]
    assert all(messages) and len(set(messages)) == 5
    assert "outside" in messages[1] and "outside" in messages[2]
    assert "whole number" in messages[3] and "not a number" in messages[4]


def test_parse_scores():
    assert parse_scores(["5", 1, 1, 1, 2, 1, 3, 1, 1]).tolist() == [5, 1, 1, 1, 2, 1, 3, 1, 1]
    with pytest.raises(UserError, match="Bare Nuclei"):
        parse_scores([5, 1, 1, 1, 2, "?", 3, 1, 1])
    with pytest.raises(UserError, match="9 scores"):
        parse_scores([1, 2])


def test_feature_descriptions_cover_every_feature():
    assert list(schema.FEATURE_DESCRIPTIONS) == list(FEATURES)
    assert all(d.startswith("1 = ") and "10 = " in d for d in schema.FEATURE_DESCRIPTIONS.values())


@pytest.mark.parametrize("chunksize", [1, 2, 3, 1000])
def test_tiny_chunks_with_bom_blank_lines_and_header(tmp_path, chunksize):
    text = f"\ufeff\n\n{UCI_HEADER}\n1,{ROW},2\n\n2,{ROW},4\n3,{ROW},x\n"
    path = write(tmp_path, text)
    ds = load_csv(path, chunksize=chunksize)
    assert ds.lines.tolist() == [4, 6] and ds.ids.tolist() == ["1", "2"]
    assert [(r.line, r.sample_id) for r in ds.rejected] == [(7, "3")]
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_cell_quoted(tmp_path):
    rows = [["1", "10", "1", "1", "1", "2", "1", "3", "1", "1", "4"],
            ["2", "5", "1", "1", "1", "2", "?", "3", "1", "1", "2"],
            ["3", " 7 ", "1", "1", "1", "2", "1", "3", "1", "1", "benign"],
            ["4", "1,5", "1", "1", "1", "2", "1", "3", "1", "1", '"2"']]
    text = "".join(",".join('"' + c.replace('"', '""') + '"' for c in r) + "\n" for r in rows)
    ds = load_csv(write(tmp_path, text))
    assert ds.X[:, 0].tolist() == [10, 7] and ds.y.tolist() == [1, 0] and ds.ids.tolist() == ["1", "3"]
    assert [r.reason for r in ds.rejected] == [
        "Bare Nuclei is missing",
        "Clump Thickness '1,5' is not a whole number (a decimal comma is read only in semicolon- or "
        "tab-separated files); Class '\"2\"' is not benign/malignant (2/4, 0/1)"]


def test_a_huge_cell_rejects_only_its_row(tmp_path):
    path = tmp_path / "bigcell.csv"
    path.write_text("1,5,1,1,1,2,1,3,1,1,2\n2," + "x" * 200_000 + ",1,1,1,2,1,3,1,1,2\n"
                    "3,5,1,1,1,2,1,3,1,1,4\n")
    ds = load_csv(path)
    assert (ds.n_read, ds.n_usable) == (3, 2)
    assert ds.rejected[0].line == 2 and ds.rejected[0].column == "Clump Thickness"
    assert len(ds.rejected[0].reason) < 200  # the cell is quoted shortened, not echoed whole


@pytest.mark.parametrize("text, words", [
    ("x" * 500_000 + "\n", "not a table"),  # one enormous line
    ("id," + ",".join(f"c{i}" for i in range(50_000)) + "\n1,2\n", "names none of the nine"),
])
def test_hostile_shapes_get_a_user_error(tmp_path, text, words):
    path = tmp_path / "hostile.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=words):
        load_csv(path)


# ---------------------------------------------------------------- found by tests/test_fuzz.py

def test_a_stray_quote_inside_a_cell_is_an_ordinary_character(tmp_path):
    # a quote that does not start a cell (5" for inches) opens nothing, as in Python's csv
    # module and spreadsheets; it used to swallow every following row of its chunk unseen
    text = f"1,{ROW},2\n2,5\",1,1,1,2,1,3,1,1,2\n" + "".join(f"{i},{ROW},4\n" for i in range(3, 12))
    for chunksize in (1, 4, 100):
        ds = load_csv(write(tmp_path, text), chunksize=chunksize)
        assert (ds.n_read, ds.n_usable) == (11, 10)
        assert ds.rejected == [data.Rejection(2, "2", "Clump Thickness",
                                              "Clump Thickness '5\"' is not a whole number")]
        assert ds.lines.tolist() == [1, *range(3, 12)]


def test_a_lone_cr_ends_a_line_as_in_editors_and_the_csv_module(tmp_path):
    text = f"{UCI_HEADER}\r1,{ROW},2\r2,{ROW},4\r\n3,{ROW},2\n4,{ROW},4"  # CR, CRLF, LF, none
    ds = load_csv(write(tmp_path, text), chunksize=2)
    assert ds.n_read == 4 and ds.ids.tolist() == ["1", "2", "3", "4"]
    assert ds.lines.tolist() == [2, 3, 4, 5]


def test_a_line_break_inside_a_quoted_header_name(tmp_path):
    header = UCI_HEADER.replace("Bare Nuclei", '"Bare\rNuclei"')
    ds = load_csv(write(tmp_path, f"{header}\n1,{ROW},2\n2,{ROW},4\n"))
    assert ds.n_read == 2 and ds.lines.tolist() == [3, 4]


@pytest.mark.parametrize("tail, words", [
    ('"5,1,1\n', "never closed before the end of the file"),
    ('"5,1,1\n' + f"3,{ROW},2\n" * (csvscan.MAX_QUOTED_LINES + 5), "more than 1000 lines"),
])
def test_a_quote_that_never_closes_names_its_line(tmp_path, tail, words):
    path = write(tmp_path, f"1,{ROW},2\n2,{ROW},2\n7,{tail}")
    with pytest.raises(UserError, match=words) as info:
        load_csv(path, chunksize=50)
    assert "line 3" in str(info.value)


def test_pipes_devices_and_link_loops_are_refused_without_reading(tmp_path):
    # /dev/zero used to be read without end (the encoding check reads the whole file)
    # and a FIFO to block forever
    fifo = tmp_path / "cases.csv"
    os.mkfifo(fifo)
    assert "named pipe" in _msg(fifo)
    assert "device" in _msg("/dev/zero")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert "leads back to itself" in _msg(tmp_path / "a")


def test_a_line_far_too_long_stops_with_its_line_number(tmp_path, monkeypatch):
    # the reader used to hold any line whole, however long (a 1 GB line meant 1 GB of memory)
    monkeypatch.setattr(csvrecords, "MAX_LINE_BYTES", 1000)
    fine = "x" * 900
    path = write(tmp_path, f"Note,{','.join(FEATURES)}\n{fine},{ROW}\n{fine},{ROW}\n{'y' * 5000},{ROW}\n")
    for chunksize in (1, 2, 100):
        with pytest.raises(UserError, match="line 4: the line is longer than"):
            load_csv(path, chunksize=chunksize)
    path = write(tmp_path, f"Note,{','.join(FEATURES)}\n{fine},{ROW}\n{fine},{ROW}")
    assert load_csv(path, chunksize=1).n_usable == 2


def test_a_class_written_both_0_1_and_2_4_rejects_the_odd_rows(tmp_path):
    # found by hand: a '1' in a 2/4 file (a typo for 2 or 4?) was read as malignant, unseen
    rows = ["2", "4", "benign", "1", "4", '"2"', "4.0", "0"]
    text = "".join(f"{i},{ROW},{c}\n" for i, c in enumerate(rows, start=1))
    ds = load_csv(write(tmp_path, text), chunksize=3)
    assert ds.n_read == 8 and ds.ids.tolist() == ["1", "2", "3", "5", "6", "7"]
    assert ds.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert [(r.line, r.column) for r in ds.rejected] == [(4, "Class"), (8, "Class")]
    assert ds.rejected[0].reason.startswith("Class '1' is written 0/1, but 5 other rows write it 2/4")
    # one coding throughout (with words) is fine
    ds = load_csv(write(tmp_path, "".join(f"{i},{ROW},{c}\n" for i, c in enumerate(["0", "1", "M"]))))
    assert ds.n_rejected == 0 and ds.y.tolist() == [0, 1, 1]


def test_dataset_as_pandas_frames_for_notebooks():
    ds = load_bundled()
    frame = ds.to_frame()
    assert frame.shape == (683, 12)
    assert list(frame.columns[2:11]) == list(FEATURES)
    assert (frame[list(FEATURES)].to_numpy() == ds.X).all()
    assert frame["Class"].value_counts().to_dict() == {"benign": 444, "malignant": 239}
    assert frame["line"].iloc[0] == 1 and frame["Sample code number"].iloc[0] == "1000025"
    rejected = ds.rejected_frame()
    assert len(rejected) == 16 and set(rejected["reason"]) == {"Bare Nuclei is missing"}
    assert rejected["line"].iloc[0] == 24


# ---------------------------------------------------------------- found by the hostile-user review

@pytest.mark.parametrize("text", ["9.99999999999999999", "9.9999999999999999999", "10.0000000000000001",
                                  "1.00000000000000000001", "5.5", "-1.5"])
def test_a_score_is_whole_only_when_its_text_is(tmp_path, text):
    # 9.99999999999999999 used to be taken as 10 (float() rounds it), in forms and files
    value, message = check_score(text)
    assert value is None and "not a whole number" in message and text in message
    with pytest.raises(UserError, match="not a whole number"):
        parse_scores([text, 1, 1, 1, 2, 1, 3, 1, 1])
    ds = load_csv(write(tmp_path, f"1,{text},1,1,1,2,1,3,1,1,2\n2,{ROW},4\n3,{ROW},2\n"))
    assert ds.rejected == [data.Rejection(1, "1", "Clump Thickness",
                                          f"Clump Thickness = {text} is not a whole number")]


@pytest.mark.parametrize("text, value", [("10.000", 10), ("5.", 5), ("007", 7), ("3.0000000000000000000", 3)])
def test_whole_scores_written_with_zero_decimals(text, value):
    assert check_score(text) == (value, None)


def test_exponents_stay_refused():
    assert "not a number" in check_score("1e1")[1]
    assert "not a number" in check_score("1.0e1")[1]


def _big_file_with(tmp_path, bad_rows: list[str]) -> "data.Dataset":
    # past the sniffed start (256 KB), where the file is no longer checked for NUL bytes
    good = "".join(f"{i},{ROW},2\n" for i in range(1, 20_001))
    return load_csv(write(tmp_path, good + "".join(r + "\n" for r in bad_rows)))


def test_a_nul_byte_in_a_cell_is_quoted_escaped(tmp_path):
    # the reason quoted the cell with the NUL raw: a terminal shows '5' is not a whole number
    ds = _big_file_with(tmp_path, ["20001,5\x00,1,1,1,2,1,3,1,1,2", "20002,\x005,1,1,1,2,1,3,1,1,2",
                                   "20003,5,1,1,1,2,1,3,1,1,\x00"])
    reasons = [r.reason for r in ds.rejected]
    assert reasons == ["Clump Thickness '5\\x00' is not a whole number",
                       "Clump Thickness '\\x005' is not a whole number",
                       "Class '\\x00' is not benign/malignant (2/4, 0/1)"]


CONTROLS = ["\x1b[2J", "\x1b]0;owned\x07", "\x9b31m", "\u202eevil", "a\nb", "a\rb", "\x7f", "\u2028", "\x00"]


@pytest.mark.parametrize("text", CONTROLS)
def test_printable_escapes_control_characters(text):
    shown = schema.printable(text)
    assert shown.isprintable() and "\n" not in shown
    assert schema.printable(shown) == shown  # escaping twice changes nothing
    assert schema.printable("Müller, 5\u00b0 (Zürich) \\ ok") == "Müller, 5\u00b0 (Zürich) \\ ok"
    assert schema.printable("\x1b[2J") == "\\x1b[2J" and schema.printable("\u202e") == "\\u202e"
    assert schema.printable("\x9b") == "\\x9b"


@pytest.mark.parametrize("text", CONTROLS[:-1])
def test_terminal_escapes_in_ids_and_cells_never_reach_the_report_raw(tmp_path, text):
    # a file could clear the screen or fake the report through a sample id or a cell
    text = f"<{text}>"  # (around a cell, a line separator is only white space)
    cell = '"' + text.replace('"', '""') + '"'
    path = write(tmp_path, f"{cell},{ROW},x\n2,{cell},1,1,1,2,1,3,1,1,2\n3,{ROW},{cell}\n4,{ROW},2\n")
    ds = load_csv(path)
    assert ds.n_rejected == 3
    for r in ds.rejected:
        for shown in (str(r), r.sample_id, r.reason):
            assert shown.isprintable(), shown
    assert ds.rejected[0].sample_id == schema.printable(text)


def test_a_latin1_c1_control_is_escaped(tmp_path):
    # byte 0x9b is CSI (an escape sequence's start) on many terminals when read as latin-1
    path = write(tmp_path, b"\x81\x9b2J," + ROW.encode() + b",x\n2," + ROW.encode() + b",2\n")
    ds = load_csv(path)
    assert sniff_layout(path).encoding == "latin-1"
    assert ds.rejected[0].sample_id == "\\x81\\x9b2J" and str(ds.rejected[0]).isprintable()


def test_header_names_and_paths_in_messages_are_escaped(tmp_path):
    path = write(tmp_path, "\x1b[31mred,\u202ename\n1,2\n")
    message = _msg(path)
    assert message.isprintable() and "\\x1b[31mred" in message and "\\u202ename" in message
    odd = tmp_path / "a\nb\x1b[2J.csv"
    message = _msg(odd)
    assert "does not exist" in message and message.isprintable() and "a\\nb\\x1b[2J.csv" in message
    odd.write_text("hello world\nthis is prose\n")
    assert _msg(odd).isprintable()
    dup = write(tmp_path, ",".join(FEATURES) + ",\x1bmitosis\n" + ROW + ",1\n")
    assert _msg(dup).isprintable()
