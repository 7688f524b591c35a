"""Which layout a file is read in, and said so: headerless ten-column files, other
people's copies of the data set (R's MASS::biopsy, decimal commas, the Diagnostic data
set under prefixed names), memory bounded by the block and not by the row, and files
that change while they are read."""

import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from bcdesktop import csvlayout, csvrecords, csvscan, schema, scoring
from bcdesktop.csvlayout import sniff_layout
from bcdesktop.data import load_csv
from bcdesktop.errors import UserError
from bcdesktop.schema import CLASS_NAME, FEATURES, ID_NAME

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
    assert ds.rejected[0].reason == ("Bare Nuclei '1,0' is not a whole number (a decimal comma is read "
                                     "only in semicolon- or tab-separated files)")


def test_score_value_takes_the_decimal_mark():
    assert schema.score_value("1,0", ",") == (1.0, 0)
    assert schema.score_value("1,0")[1] != 0
    assert schema.score_value("10,000", ",")[0] == 10 and schema.score_value("10,000", ",")[1] == 0
    assert schema.score_value("1,5", ",")[1] == schema.score_value("1.5")[1]


# ---------------------------------------------------------------- the Diagnostic data set

def test_prefixed_wdbc_names_are_named_as_the_diagnostic_data_set(tmp_path):
    names = [f"x.{f}_{k}" for k in ("mean", "se", "worst") for f in (
        "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
        "concave_pts", "symmetry", "fractal_dim")]
    header = ",".join(f'"{c}"' for c in ["", *names, "y"])
    row = '"1",' + ",".join(["17.99"] * 30) + ',"M"'
    assert "Diagnostic" in refused(write(tmp_path, header + "\n" + row + "\n"))


def test_the_apps_own_column_names_are_not_taken_for_the_diagnostic_data_set():
    own = [*FEATURES, ID_NAME, CLASS_NAME, *(a for names in csvlayout._ALIASES.values() for a in names),
           *csvlayout._ID_ALIASES, *csvlayout._CLASS_ALIASES, "Patient name", "date", "note"]
    assert not csvlayout._wdbc_hints(own)


# ---------------------------------------------------------------- memory and time

def _peak_mb(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_with_very_wide_rows(tmp_path):
    # 100 rows of 1 MB each: a chunk of 100,000 lines used to hold the whole file (and
    # five times that in arrays); a block is now bounded in bytes too
    path = tmp_path / "wide.csv"
    cell = b"x" * (1 << 20)
    with open(path, "wb") as fh:
        fh.write(("Note," + ",".join(FEATURES) + "\n").encode())
        for _ in range(100):
            fh.write(cell + b"," + ROW.encode() + b"\n")
    result = {}
    peak = _peak_mb(lambda: result.setdefault("ds", load_csv(path)))
    assert result["ds"].n_usable == 100
    assert peak < 80, f"{peak:.0f} MB for a 100 MB file"


def test_a_sparse_nul_tail_is_refused_at_its_line_without_reading_it(tmp_path):
    # `truncate -s +2G` after valid rows: NUL bytes and no line break. It used to be read
    # whole (gigabytes of memory, tens of seconds) before the line was found too long
    path = tmp_path / "tail.csv"
    rows = "".join(f"{i},{ROW},2\n" for i in range(1, 20_001))  # past the sniffed start
    path.write_text(rows)
    with open(path, "r+b") as fh:
        fh.truncate(len(rows) + 300 * 2**20)  # sparse: no disk
    box = {}

    def load():
        with pytest.raises(UserError) as info:
            load_csv(path)
        box["message"] = str(info.value)

    peak = _peak_mb(load)
    assert "line 20001" in box["message"] and "binary data" in box["message"]
    assert "\n" not in box["message"]
    assert peak < 40, f"{peak:.0f} MB"


def test_the_nul_tail_is_refused_under_a_memory_limit(tmp_path):
    # a child python under an address-space limit: no MemoryError, one line
    path = tmp_path / "tail.csv"
    rows = "".join(f"{i},{ROW},2\n" for i in range(1, 20_001))
    path.write_text(rows)
    with open(path, "r+b") as fh:
        fh.truncate(len(rows) + 2 * 2**30)  # 2 GB sparse tail
    code = textwrap.dedent(f"""
        import resource, sys
        from bcdesktop import data
        from bcdesktop.errors import UserError
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + 600 * 2**20, hard))
        try:
            data.load_csv({str(path)!r})
        except UserError as exc:
            print(exc)
    """)
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc to size the limit")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "line 20001" in done.stdout and len(done.stdout.strip().splitlines()) == 1


def test_blocks_are_bounded_in_bytes_and_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(csvscan, "BLOCK_BYTES", 1000)
    text = "".join(f"{i},{ROW},2\n" for i in range(1, 301))  # ~7 KB
    path = write(tmp_path, text)
    seen = []
    ds = load_csv(path, chunksize=100_000, progress=seen.append)
    assert ds.n_usable == 300 and ds.lines.tolist() == list(range(1, 301))
    assert len(seen) >= 7 and seen[-1].bytes_done == seen[-1].bytes_total
    seen.clear()
    load_csv(path, chunksize=7, progress=seen.append)  # the row count still bounds a chunk
    assert np.diff([0] + [p.rows for p in seen]).max() <= 7


def test_a_cr_only_file_longer_than_the_line_limit_reads(tmp_path, monkeypatch):
    # old Mac line endings: the reader used to split on LF only, one 'line' for the file
    monkeypatch.setattr(csvrecords, "MAX_LINE_BYTES", 1000)
    text = "\r".join(f"{i},{ROW},2" for i in range(1, 201)) + "\r"
    ds = load_csv(write(tmp_path, text), chunksize=30)
    assert ds.n_usable == 200 and ds.lines.tolist() == list(range(1, 201))


@pytest.mark.parametrize("chunksize", [2, 1000])
def test_a_quoted_cell_longer_than_the_line_limit_is_refused(tmp_path, monkeypatch, chunksize):
    monkeypatch.setattr(csvrecords, "MAX_LINE_BYTES", 1000)
    text = f"Note,{','.join(FEATURES)}\nx,{ROW}\n\"" + "note\n" * 500 + f"\",{ROW}\ny,{ROW}\n"
    message = refused(write(tmp_path, text), chunksize=chunksize)
    assert "line 3" in message and "closing quote" in message


# ---------------------------------------------------------------- files that change

def test_a_file_replaced_between_sniffing_and_reading_is_refused(tmp_path):
    path = write(tmp_path, "".join(f"{i},{ROW},2\n" for i in range(1, 50)))
    layout = sniff_layout(path)
    assert layout.identity is not None and layout.identity[2] == path.stat().st_size
    other = write(tmp_path, "".join(f"{i},{ROW},4\n" for i in range(1, 30)), name="new.csv")
    os.replace(other, path)
    with pytest.raises(UserError, match="changed while it was being read") as info:
        list(csvscan.iter_chunks(layout))
    assert "try again" in str(info.value).lower() and "\n" not in str(info.value)


def test_a_file_rewritten_in_place_with_the_same_size_is_refused(tmp_path):
    path = write(tmp_path, "".join(f"{i},{ROW},2\n" for i in range(1, 50)))
    layout = sniff_layout(path)
    st = path.stat()
    path.write_bytes(path.read_bytes().replace(b",2\n", b",4\n"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(UserError, match="changed while it was being read"):
        list(csvscan.iter_chunks(layout))


@pytest.mark.parametrize("change", ["append", "truncate"])
def test_a_file_that_changes_during_the_read_is_refused(tmp_path, change):
    # a half-written last line used to be scored 'ok'
    path = write(tmp_path, "".join(f"{i},{ROW},2\n" for i in range(1, 200)))

    def meddle(progress):
        if not meddle.done:
            meddle.done = True
            with open(path, "ab" if change == "append" else "r+b") as fh:
                if change == "append":
                    fh.write(f"200,{ROW[:5]}".encode())
                else:
                    fh.truncate(100)
    meddle.done = False
    message = refused(path, chunksize=10, progress=meddle)
    assert "changed while it was being read" in message


def test_scoring_a_file_replaced_after_sniffing_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path, "".join(f"{i},{ROW},2\n" for i in range(1, 50)))
    real = csvlayout.sniff_layout

    def sniff_then_replace(p):
        layout = real(p)
        os.replace(write(tmp_path, f"1,{ROW},2\n", name="new.csv"), path)
        return layout
    monkeypatch.setattr(csvlayout, "sniff_layout", sniff_then_replace)

    class Model:
        threshold, model_id = 0.5, "m"

        def predict_proba(self, X):
            return np.full(len(X), 0.25)

    with pytest.raises(UserError, match="changed while it was being read"):
        scoring.score_csv(path, tmp_path / "out.csv", Model())
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("block_bytes", [1, 5, 64, 1000])
def test_tiny_blocks_read_every_layout_the_same(tmp_path, monkeypatch, block_bytes):
    # block edges inside CRLF, inside quoted cells holding line breaks, inside a BOM
    from test_fuzz import _seed_csvs

    seeds = _seed_csvs()
    seeds["cr"] = seeds["uci"].replace(b"\n", b"\r")
    seeds["multiline"] = (f"Note,{','.join(FEATURES)}\r\n\"a\r\nb\",{ROW}\r\n\"c\"\"\nd\",{ROW}\r\n"
                          f"x,{ROW}").encode()
    expected = {name: load_csv(write(tmp_path, raw, name=f"{name}.csv"), chunksize=3)
                for name, raw in seeds.items()}
    monkeypatch.setattr(csvscan, "BLOCK_BYTES", block_bytes)
    for name, want in expected.items():
        got = load_csv(tmp_path / f"{name}.csv", chunksize=3)
        assert got.lines.tolist() == want.lines.tolist(), name
        assert got.ids.tolist() == want.ids.tolist() and got.rejected == want.rejected, name
        np.testing.assert_array_equal(got.X, want.X)
        assert got.sha256 == want.sha256


def test_a_file_that_grows_while_it_is_sniffed_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path, "".join(f"{i},{ROW},2\n" for i in range(1, 50)))
    real = csvlayout._scan_file

    def scan_while_written(p, fh, head):
        with open(path, "ab") as out:
            out.write(f"50,{ROW[:3]}".encode())  # a writer still at work
        return real(p, fh, head)
    monkeypatch.setattr(csvlayout, "_scan_file", scan_while_written)
    with pytest.raises(UserError, match="changed while it was being read"):
        sniff_layout(path)


def test_a_headerless_semicolon_file_of_decimal_commas_has_no_header(tmp_path):
    # a float-typed export writes every score as 5,0: those are numbers, not names
    rows = [";".join(f"{v},0" for v in [1000025 + i, *ROW.split(","), 2]) for i in range(3)]
    ds = load_csv(write(tmp_path, "\n".join(rows) + "\n"))
    assert not ds.layout.has_header and ds.n_usable == 3 and ds.y.tolist() == [0, 0, 0]
    assert ds.X[0].tolist() == [5, 1, 1, 1, 2, 1, 3, 1, 1]


# ---------------------------------------------------------------- found by review

@pytest.mark.parametrize("rows", [
    # nine scores + class coded 1 (all malignant): the first column happens to count up
    ["5,4,4,5,7,10,3,2,1,1", "8,10,10,8,7,10,9,7,1,1", "10,7,7,6,4,10,4,1,2,1"],
    # ids 1..3 + nine scores whose Mitoses is 1: as readable the other way
    ["1,8,2,4,1,5,1,5,4,1", "2,1,1,1,1,1,1,1,1,1", "3,5,5,5,5,5,5,5,5,1"],
])
def test_a_first_column_counting_up_alone_decides_nothing(tmp_path, rows):
    message = refused(write(tmp_path, "\n".join(rows) + "\n"))
    assert "layout is ambiguous" in message and "counts up" in message


def test_r_write_table_with_row_names_leaves_their_column_out_of_the_header(tmp_path):
    # write.table(biopsy, sep = ",") names one column fewer than each row holds
    text = ('"ID","V1","V2","V3","V4","V5","V6","V7","V8","V9","class"\n'
            '"1","1000025",5,1,1,1,2,1,3,1,1,"benign"\n'
            '"2","1017122",8,10,10,8,7,10,9,7,1,"malignant"\n')
    ds = load_csv(write(tmp_path, text))
    assert ds.n_usable == 2 and list(ds.y) == [0, 1]
    assert list(ds.ids) == ["1000025", "1017122"] and ds.X[1].tolist() == [8, 10, 10, 8, 7, 10, 9, 7, 1]
    assert "R's row names" in ds.layout.assumed
    assert ds.layout.column_matching()[0] == ("column 1", csvlayout.EXTRA)
    out = tmp_path / "out.csv"
    from bcdesktop.persistence import load_default_model

    scoring.score_csv(ds.path, out, load_default_model())
    import csv

    table = list(csv.reader(out.open()))
    assert table[0][:2] == ["", "ID"] and all(len(r) == len(table[0]) for r in table)


def test_a_trailing_delimiter_is_not_taken_for_row_names(tmp_path):
    header = ",".join(FEATURES)
    text = f"{header}\n{ROW},\n8,10,10,8,7,10,9,7,1,\n"  # an empty last cell in every row
    ds_or_message = refused(write(tmp_path, text))
    assert "None of the 2 rows" in ds_or_message and "expected 9" in ds_or_message


def test_a_decimal_comma_in_a_comma_file_says_where_it_is_read(tmp_path):
    header = ",".join(FEATURES)
    ds = load_csv(write(tmp_path, f'{header}\n"5,0",1,1,1,2,1,3,1,1\n{ROW}\n'))
    assert ds.rejected[0].reason == ("Clump Thickness '5,0' is not a whole number (a decimal comma "
                                     "is read only in semicolon- or tab-separated files)")


def test_printable_keeps_no_break_spaces():
    assert schema.printable("Bare\u00a0Nuclei") == "Bare\u00a0Nuclei"
    assert schema.printable("a\u202eb\x1b") == "a\\u202eb\\x1b"
