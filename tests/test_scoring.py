"""Batch scoring: pass-through, order, refusals, atomic output, cancel, flat memory."""

import csv
import errno
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from bcdesktop import data, resources, schema, scoring
from bcdesktop.data import load_bundled
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.metrics import metrics_at
from bcdesktop.resources import bundled_data_path
from bcdesktop.schema import FEATURES

ROW = "5,1,1,1,2,1,3,1,1"


class StandIn:
    """Only what score_csv may use from a ModelBundle: predict_proba, threshold, model_id."""

    threshold = 0.5
    model_id = "standin0001"

    def __init__(self):
        self.blas_threads = []

    def predict_proba(self, X):
        from threadpoolctl import threadpool_info

        X = np.asarray(X, dtype=np.float64)
        assert X.ndim == 2 and X.shape[1] == 9 and np.isfinite(X).all()
        self.blas_threads += [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        return 1.0 / (1.0 + np.exp(-(X.sum(axis=1) - 30.0) / 4.0))


def write(tmp_path, text, name="cases.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def read_rows(path, delimiter=",", encoding="utf-8"):
    with open(path, newline="", encoding=encoding) as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- the bundled file

def test_bundled_file_scores_every_row_in_order(tmp_path):
    bundle = StandIn()
    out = tmp_path / "scored.csv"
    summary = scoring.score_csv(bundled_data_path(), out, bundle)
    threads_while_scoring = list(bundle.blas_threads)
    assert summary.summary_line().startswith("rows read 699, scored 683, rejected 16, ")
    assert summary.malignant + summary.benign == 683
    assert summary.output == out and summary.model_id == "standin0001"

    rows = read_rows(out)
    header, body = rows[0], rows[1:]
    assert header[-8:] == list(scoring.NEW_COLUMNS) == [
        "probability", "probability_low", "probability_high", "indeterminate", "prediction", "threshold",
        "status", "model"]
    assert header[:11] == [schema.ID_NAME, *FEATURES, schema.CLASS_NAME]
    original = bundled_data_path().read_text().splitlines()
    assert len(body) == 699
    # every original record is copied byte for byte, in order
    out_lines = out.read_text().splitlines()[1:]
    assert [line.rsplit(",", 8)[0] for line in out_lines] == original
    assert {r[-1] for r in body} == {"standin0001"}  # which model scored each row

    ds = load_bundled()
    ok = [r for r in body if r[17] == "ok"]
    p = np.array([float(r[11]) for r in ok])
    np.testing.assert_allclose(p, bundle.predict_proba(ds.X), atol=1e-6)
    assert [r[15] for r in ok] == ["malignant" if v >= 0.5 else "benign" for v in bundle.predict_proba(ds.X)]
    assert summary.malignant == sum(r[15] == "malignant" for r in ok)
    bad = [r for r in body if r[17] != "ok"]
    assert len(bad) == 16 and {r[17] for r in bad} == {"Bare Nuclei is missing"}
    assert all(r[11:16] == [""] * 5 and r[16] == "0.500000" for r in bad)
    assert all(r[12:15] == ["", "", ""] for r in ok)  # a model without calibration pairs: no interval
    assert [(r.line, r.sample_id) for r in summary.rejections] == [(r.line, r.sample_id) for r in ds.rejected]

    expected = metrics_at(ds.y, bundle.predict_proba(ds.X), 0.5)
    m = summary.metrics
    assert (m.tp, m.fp, m.tn, m.fn) == (expected.tp, expected.fp, expected.tn, expected.fn)
    assert m.accuracy.value == expected.accuracy.value and m.n == 683
    assert threads_while_scoring and set(threads_while_scoring) == {1}  # BLAS pinned while scoring


def test_the_input_and_output_hashes_are_those_of_the_files_and_only_when_asked(tmp_path):
    import hashlib

    summary = scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn())
    assert summary.input_sha256 == hashlib.sha256(bundled_data_path().read_bytes()).hexdigest()
    assert summary.output_sha256 == hashlib.sha256((tmp_path / "o.csv").read_bytes()).hexdigest()
    quiet = scoring.score_csv(bundled_data_path(), tmp_path / "q.csv", StandIn(), digests=False)
    assert quiet.input_sha256 is None and quiet.output_sha256 is None
    assert (tmp_path / "q.csv").read_bytes() == (tmp_path / "o.csv").read_bytes()


def test_threshold_override(tmp_path):
    summary = scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn(), threshold=0.9)
    body = read_rows(tmp_path / "o.csv")[1:]
    assert {r[16] for r in body} == {"0.900000"}
    called = [r[15] == "malignant" for r in body if r[17] == "ok"]
    assert sum(called) == summary.malignant
    assert all(float(r[11]) >= 0.9 for r in body if r[15] == "malignant")
    assert all(float(r[11]) < 0.9 for r in body if r[15] == "benign")
    with pytest.raises(UserError, match="between 0 and 1"):
        scoring.score_csv(bundled_data_path(), tmp_path / "p.csv", StandIn(), threshold=1.5)
    assert not (tmp_path / "p.csv").exists()


# ---------------------------------------------------------------- pass-through

def test_extra_columns_quotes_unicode_bom_crlf_semicolon_pass_through(tmp_path):
    header = "Name;" + ";".join(FEATURES) + ";Date"
    records = [
        '"Müller; Anna ""Anni""";5;1;1;1;2;1;3;1;1;2024-01-05',
        '"Ωmega, 李";9;9;9;9;9;9;9;9;9;05/01/2024',
        '"two\r\nlines";5;1;1;1;2;?;3;1;1;',
        'plain;5;1;1;1;2;1;3;1;1;x',
    ]
    src = write(tmp_path, "\ufeff" + header + "\r\n" + "\r\n".join(records) + "\r\n")
    summary = scoring.score_csv(src, tmp_path / "out.csv", StandIn())
    raw = (tmp_path / "out.csv").read_bytes()
    new = b";probability;probability_low;probability_high;indeterminate;prediction;threshold;status;model\r\n"
    assert raw.startswith(b"\xef\xbb\xbf" + header.encode() + new)
    assert raw.count(b"\r\n") == src.read_bytes().count(b"\r\n") == raw.count(b"\n")  # CRLF kept
    text = raw[3:].decode()
    for record in records:
        assert record + ";" in text  # each record copied byte for byte, followed by the new columns
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["Müller; Anna \"Anni\"", "Ωmega, 李", "two\r\nlines", "plain"]
    assert [r[-2] for r in rows[1:]] == ["ok", "ok", "Bare Nuclei is missing", "ok"]
    assert rows[2][-4] == "malignant" and all(len(r) == 19 for r in rows)
    assert summary.rejections[0].line == 4 and summary.metrics is None


def test_cp1252_input_is_copied_in_its_own_encoding(tmp_path):
    text = "Name," + ",".join(FEATURES) + "\nJosé Nuñez," + ROW + "\n"
    src = write(tmp_path, text, encoding="cp1252")
    scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    out = (tmp_path / "o.csv").read_bytes()
    assert "José Nuñez,".encode("cp1252") + ROW.encode() + b"," in out
    assert out.decode("cp1252").count("\n") == 2


def test_headerless_input_gets_uci_header_and_labels_summary(tmp_path):
    src = write(tmp_path, f"{ROW}\n{ROW},\n1,2,3\n")
    summary = scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    rows = read_rows(tmp_path / "o.csv")
    assert rows[0] == [*FEATURES, *scoring.NEW_COLUMNS]
    assert rows[1][:9] == ROW.split(",")
    assert rows[2][-2] == "row has 10 fields, expected 9"
    assert rows[3][:3] == ["1", "2", "3"] and rows[3][-2] == "row has 3 fields, expected 9"
    assert (summary.rows_read, summary.scored, summary.rejected) == (3, 1, 2)


def test_new_column_names_do_not_clash_with_existing_ones(tmp_path):
    src = write(tmp_path, ",".join(FEATURES) + ",probability,Status\n" + ROW + ",0.1,old\n")
    scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    header = read_rows(tmp_path / "o.csv")[0]
    assert header[9:] == ["probability", "Status", "probability_2", "probability_low", "probability_high",
                          "indeterminate", "prediction", "threshold", "status_2", "model"]


def test_every_kind_of_bad_row_is_kept_and_explained(tmp_path):
    bad = {
        "2,5,1,1,1,2,?,3,1,1,2": "Bare Nuclei is missing",
        "3,5,1,1,1,2,1,3,1,11,2": "Mitoses = 11 is outside 1..10",
        "4,abc,1,1,1,2,1,3,1,1,2": "Clump Thickness 'abc' is not a whole number",
        "5,3.5,1,1,1,2,1,3,1,1,2": "Clump Thickness = 3.5 is not a whole number",
        "6,5,1,1,1,2,1,3,1": "row has 9 fields, expected 11",
        f"7,{ROW},2,extra": "row has 12 fields, expected 11",
        '8,"x, y",1,1,1,2,1,3,1,1,2': "Clump Thickness 'x, y' is not a whole number",
    }
    lines = [f"1,{ROW},2", *bad, f"9,{ROW},x", f"10,{ROW},4"]
    src = write(tmp_path, "\n".join(lines) + "\n")
    summary = scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    out = (tmp_path / "o.csv").read_text().splitlines()[1:]
    rows = read_rows(tmp_path / "o.csv")[1:]
    assert len(rows) == len(lines)
    for line, out_line, row in zip(lines, out, rows):
        if line.count(",") <= 10:  # a record with too many fields is folded, see below
            assert out_line.startswith(line + ",")
        assert row[-2] == bad.get(line, "ok")
    assert summary.rejected == len(bad) and summary.scored == 3
    assert summary.unlabelled == 1 and summary.metrics.n == 2  # the row with class 'x'
    assert [r.line for r in summary.rejections] == list(range(2, 2 + len(bad)))
    assert [r.sample_id for r in summary.rejections] == [str(i) for i in range(2, 9)]


def test_rejections_kept_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "MAX_KEPT_REJECTIONS", 3)
    src = write(tmp_path, f"1,{ROW},2\n" + "".join(f"{i},5,?,1,1,2,1,3,1,1,2\n" for i in range(10)))
    summary = scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    assert summary.rejected == 10 and len(summary.rejections) == 3 and summary.rejections_not_kept == 7


def test_small_chunks_give_the_same_file_and_progress(tmp_path):
    src = bundled_data_path()
    seen = []
    scoring.score_csv(src, tmp_path / "a.csv", StandIn())
    scoring.score_csv(src, tmp_path / "b.csv", StandIn(), chunksize=37, progress=seen.append)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len(seen) == 19 and [p.rows_done for p in seen] == sorted(p.rows_done for p in seen)
    assert seen[-1].rows_done == 699 and seen[-1].fraction == 1.0 and seen[-1].rows_per_s > 0
    assert seen[0].eta_s >= 0 and "rows/s" in str(seen[0])


# ---------------------------------------------------------------- refusals, atomicity, cancel

def test_refuses_to_write_over_the_input(tmp_path):
    src = write(tmp_path, f"1,{ROW},2\n")
    before = src.read_bytes()
    os.link(src, tmp_path / "hardlink.csv")
    (tmp_path / "sub").mkdir()
    for target in (src, tmp_path / "sub" / ".." / "cases.csv", tmp_path / "hardlink.csv"):
        with pytest.raises(UserError, match="input file itself"):
            scoring.score_csv(src, target, StandIn(), force=True)
    assert src.read_bytes() == before and leftovers(tmp_path) == []


def test_refuses_existing_output_unless_forced(tmp_path):
    src = write(tmp_path, f"1,{ROW},2\n")
    out = write(tmp_path, "precious", name="out.csv")
    with pytest.raises(UserError, match="already exists"):
        scoring.score_csv(src, out, StandIn())
    assert out.read_text() == "precious"
    out.chmod(0o640)
    scoring.score_csv(src, out, StandIn(), force=True)
    assert out.read_text().splitlines()[1].startswith(f"1,{ROW},2,")
    assert out.stat().st_mode & 0o777 == 0o640  # the replaced file's mode is kept
    scoring.score_csv(src, tmp_path / "new.csv", StandIn())
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o666 & ~resources._UMASK  # not mkstemp's 0600
    with pytest.raises(UserError, match="does not exist"):
        scoring.score_csv(src, tmp_path / "nope" / "o.csv", StandIn())
    with pytest.raises(UserError, match="folder"):
        scoring.score_csv(src, tmp_path, StandIn(), force=True)


def test_never_replaces_a_pipe_or_a_device_even_when_forced(tmp_path):
    # found by hand: with --force, os.replace swapped the output for a plain file, which
    # as root turned /dev/null into a regular file; a FIFO stands in for a device here
    src = write(tmp_path, f"1,{ROW},2\n")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="named pipe"):
        scoring.score_csv(src, fifo, StandIn(), force=True)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(UserError, match="leads back to itself"):  # was a RuntimeError
        scoring.score_csv(src, tmp_path / "a", StandIn(), force=True)
    with pytest.raises(UserError, match="named pipe"):  # as input: refused, never blocks
        scoring.score_csv(fifo, tmp_path / "o.csv", StandIn())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "cases.csv", "pipe.csv"]


def test_hashes_over_many_small_blocks_keep_their_order(tmp_path):
    # 683 rows in blocks of 20: far more blocks than the hashing thread's queue holds
    import hashlib

    summary = scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn(), chunksize=20)
    assert summary.input_sha256 == hashlib.sha256(bundled_data_path().read_bytes()).hexdigest()
    assert summary.output_sha256 == hashlib.sha256((tmp_path / "o.csv").read_bytes()).hexdigest()
    assert not [t for t in threading.enumerate() if t.name == "bcdesktop-sha256"]


def test_a_cancelled_or_failed_run_leaves_no_hashing_thread(tmp_path):
    stop = threading.Event()
    with pytest.raises(Cancelled):
        scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn(), chunksize=50,
                          progress=lambda p: stop.set(), cancel=stop)
    bad = tmp_path / "bad.csv"
    bad.write_text("1000025,?,?,?,?,?,?,?,?,?,2\n" * 30)
    with pytest.raises(UserError, match="None of the 30 rows"):
        scoring.score_csv(bad, tmp_path / "b.csv", StandIn())
    assert not [t for t in threading.enumerate() if t.name == "bcdesktop-sha256"]


def test_cancel_leaves_no_file(tmp_path):
    src = bundled_data_path()
    stop = threading.Event()
    out = tmp_path / "o.csv"
    with pytest.raises(Cancelled):
        scoring.score_csv(src, out, StandIn(), chunksize=100, progress=lambda p: stop.set(), cancel=stop)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_failure_midway_leaves_no_file_and_keeps_the_old_output(tmp_path):
    class Broken(StandIn):
        calls = 0

        def predict_proba(self, X):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("boom")
            return super().predict_proba(X)

    out = write(tmp_path, "old", name="o.csv")
    with pytest.raises(RuntimeError):
        scoring.score_csv(bundled_data_path(), out, Broken(), chunksize=100, force=True)
    assert out.read_text() == "old" and leftovers(tmp_path) == []


@pytest.mark.parametrize("content, match", [
    ("", "empty"),
    (b"\x00\x01\x02binary\x00" * 50, "not a text file"),
    ("Clump Thickness,Bare Nuclei\n", "no column for"),
    (",".join(FEATURES) + "\n", "no data rows"),
    ("id,diagnosis,radius_mean,texture_mean,perimeter_mean,area_mean\n1,M,1,2,3,4\n", "Diagnostic"),
    (f"1,{ROW.replace('5', '0')},2\n2,{ROW.replace('5', '0')},2\n", "None of the 2 rows"),
])
def test_unusable_input_gives_one_user_error_and_no_output(tmp_path, content, match):
    src = write(tmp_path, content)
    with pytest.raises(UserError, match=match):
        scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    assert not (tmp_path / "o.csv").exists() and leftovers(tmp_path) == []


def test_default_output_path(tmp_path):
    assert scoring.default_output_path(tmp_path / "clinic.export.csv") == tmp_path / "clinic.export.scored.csv"
    assert scoring.default_output_path("cases.data").name == "cases.scored.csv"


# ---------------------------------------------------------------- flat memory

_CHILD = textwrap.dedent("""
    import sys, numpy as np
    from bcdesktop import scoring

    class StandIn:
        threshold, model_id = 0.5, "standin"
        def predict_proba(self, X):
            return 1.0 / (1.0 + np.exp(-(X.sum(axis=1) - 30.0) / 4.0))

    s = scoring.score_csv(sys.argv[1], sys.argv[2], StandIn(), force=True)
    with open("/proc/self/status") as fh:
        hwm = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    print(s.rows_read, s.rejected, hwm // 1024)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for VmHWM")
def test_memory_stays_flat_with_file_length(tmp_path):
    block = "".join(f"{1000000 + i},{ROW},2\n" if i % 50 else f"{i},5,1,?,1,2,1,3,1,1,4\n"
                    for i in range(1000)).encode()
    peaks = {}
    for rows in (200_000, 2_000_000):
        src = tmp_path / f"{rows}.csv"
        src.write_bytes(block * (rows // 1000))
        out = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(tmp_path / "o.csv")],
                             check=True, capture_output=True, text=True).stdout.split()
        assert int(out[0]) == rows and int(out[1]) == rows // 50
        peaks[rows] = int(out[2])
        src.unlink()
    assert peaks[2_000_000] - peaks[200_000] < 40, peaks
    assert peaks[2_000_000] < 256, peaks


# One rule for a score, wherever it is typed: the form (check_score), a file (load_csv)
# and batch scoring agree cell for cell. Python's float() takes "1e1", "+5", "1_0" and
# full-width digits; a spreadsheet never writes them, so they are refused everywhere.
SCORE_TEXTS = {
    "5": 5, " 5 ": 5, "5.0": 5, "5.": 5, "05": 5, "10.00": 10, "\u00a05\u00a0": 5,
    "1e1": None, "0x5": None, "\uff15": None, "\u0665": None, "+5": None, "1_0": None,
    "5,0": None, ".5": None, "inf": None, "nan": None, "3.5": None, "0": None, "11": None,
    "-1": None, "9" * 400: None, "?": None, "": None,
}


@pytest.mark.parametrize("text", list(SCORE_TEXTS))
def test_one_rule_for_scores_in_forms_files_and_scoring(tmp_path, text):
    expected = SCORE_TEXTS[text]
    value, message = schema.check_score(text)
    assert value == expected and (message is None) == (expected is not None)
    cell = '"' + text + '"'  # quoted, so "5,0" stays one cell
    src = write(tmp_path, f"id,{','.join(FEATURES)}\n1,{cell},1,1,1,2,1,3,1,1\n2,{ROW}\n")
    ds = data.load_csv(src)
    if expected is None:
        assert ds.n_usable == 1 and ds.rejected[0].column == "Clump Thickness"
        assert (ds.rejected[0].reason == "Clump Thickness is missing") == (text in ("", "?", "nan"))
    else:
        assert ds.n_usable == 2 and ds.X[0, 0] == expected
    summary = scoring.score_csv(src, tmp_path / "out.csv", StandIn())
    status = read_rows(tmp_path / "out.csv")[1][-2]
    assert (status == "ok") == (expected is not None)
    assert summary.scored == ds.n_usable


def test_a_class_written_both_ways_is_left_out_of_the_summary_as_load_csv_rejects_it(tmp_path):
    classes = ["2", "4", "1", "4", "benign", "2", "0"]
    src = write(tmp_path, "".join(f"{i},{ROW},{c}\n" for i, c in enumerate(classes, start=1)))
    summary = scoring.score_csv(src, tmp_path / "o.csv", StandIn(), chunksize=2)
    ds = data.load_csv(src)
    assert summary.scored == 7 and summary.unlabelled == 2 == ds.n_rejected
    p = StandIn().predict_proba(ds.X)
    assert summary.metrics == metrics_at(ds.y, p, 0.5)


def test_same_file_sees_through_links_and_dotdot(tmp_path):
    from bcdesktop.scoring import same_file

    a = tmp_path / "a.csv"
    a.write_text("x\n")
    (tmp_path / "sub").mkdir()
    hard = tmp_path / "hard.csv"
    os.link(a, hard)
    soft = tmp_path / "soft.csv"
    soft.symlink_to(a)
    assert same_file(a, tmp_path / "sub" / ".." / "a.csv")
    assert same_file(a, hard) and same_file(a, soft)
    assert not same_file(a, tmp_path / "b.csv")  # a missing output is not the input
    (tmp_path / "b.csv").write_text("x\n")
    assert not same_file(a, tmp_path / "b.csv")  # equal content is not the same file


# ---------------------------------------------------------------- never over a model, a shipped file

class Fixed(StandIn):
    """A model whose probabilities are chosen: one per scored row, in file order."""

    def __init__(self, probs, threshold=0.5, model_id="fixed01"):
        super().__init__()
        self.probs, self.threshold, self.model_id = list(probs), threshold, model_id

    def predict_proba(self, X):
        out, self.probs = self.probs[: len(X)], self.probs[len(X):]
        return np.array(out, dtype=np.float64)


def test_never_writes_over_the_model_in_use(tmp_path):
    src = write(tmp_path, f"1,{ROW},2\n")
    model = write(tmp_path, b"MODEL", name="model.npz")
    os.link(model, tmp_path / "hard.npz")
    (tmp_path / "soft.npz").symlink_to(model)
    (tmp_path / "sub").mkdir()
    bundle = StandIn()
    bundle.source_path = model  # ModelBundle.source_path: the file it was loaded from
    for target in (model, tmp_path / "hard.npz", tmp_path / "soft.npz",
                   tmp_path / "sub" / ".." / "model.npz"):
        for force in (True, False):
            with pytest.raises(UserError, match="model file being used") as info:
                scoring.score_csv(src, target, bundle, force=force)
            assert "\n" not in str(info.value)
    assert model.read_bytes() == b"MODEL" and leftovers(tmp_path) == []
    # and any file a caller names, e.g. the data set a window has open
    with pytest.raises(UserError, match="must not be written over"):
        scoring.score_csv(src, tmp_path / "hard.npz", StandIn(), force=True, protect=[model])
    assert model.read_bytes() == b"MODEL" and leftovers(tmp_path) == []


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    """A PyInstaller bundle in ``tmp_path / "bundle"`` holding the shipped files."""
    from bcdesktop import resources

    bundle = tmp_path / "bundle"
    (bundle / "data").mkdir(parents=True)
    (bundle / "assets").mkdir()
    (bundle / "data" / resources.DATA_FILE).write_bytes(bundled_data_path().read_bytes())
    (bundle / "data" / resources.DEFAULT_MODEL_FILE).write_bytes(b"the shipped model")
    (bundle / "assets" / "bcdesktop-64.png").write_bytes(b"\x89PNG icon")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    return bundle


def test_never_writes_over_a_file_shipped_with_the_app(frozen, tmp_path):
    from bcdesktop import resources

    src = write(tmp_path, f"1,{ROW},2\n")
    shipped = {p: p.read_bytes() for p in (resources.default_model_path(), resources.bundled_data_path(),
                                           resources.icon_path(64))}
    assert all(frozen in p.parents for p in shipped)
    os.link(resources.default_model_path(), tmp_path / "hard.npz")
    (tmp_path / "soft.npz").symlink_to(resources.default_model_path())
    targets = [*shipped, tmp_path / "hard.npz", tmp_path / "soft.npz", frozen / "data" / "new.scored.csv"]
    for target in targets:
        for force in (True, False):
            with pytest.raises(UserError, match="shipped with the app"):
                scoring.score_csv(src, target, StandIn(), force=force)
    assert {p: p.read_bytes() for p in shipped} == shipped
    assert not (frozen / "data" / "new.scored.csv").exists()
    assert sorted(p.name for p in (frozen / "data").iterdir()) == sorted(
        [resources.DATA_FILE, resources.DEFAULT_MODEL_FILE])
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- two runs, one output

@pytest.mark.parametrize("links", ["hard links", "no hard links"])
def test_an_output_that_appears_while_scoring_is_never_replaced_without_force(tmp_path, monkeypatch, links):
    if links == "no hard links":
        def no_link(*args, **kwargs):
            raise PermissionError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    out = tmp_path / "o.csv"
    other = {}

    def second_run(p):  # another run to the same output starts and finishes meanwhile
        if not other:
            other["summary"] = scoring.score_csv(bundled_data_path(), out, StandIn(), chunksize=1000)
            other["bytes"] = out.read_bytes()

    with pytest.raises(UserError, match="appeared while") as info:
        scoring.score_csv(bundled_data_path(), out, Fixed([0.9] * 683, model_id="first"), chunksize=100,
                          progress=second_run)
    assert "\n" not in str(info.value) and str(out) in str(info.value)
    assert out.read_bytes() == other["bytes"] and other["summary"].rows_read == 699
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv"]
    # allowed to overwrite, the run replaces it
    scoring.score_csv(bundled_data_path(), out, Fixed([0.9] * 683, model_id="first"), force=True,
                      progress=lambda p: out.write_text("x"))
    assert read_rows(out)[1][-1] == "first" and sorted(p.name for p in tmp_path.iterdir()) == ["o.csv"]


# ---------------------------------------------------------------- killed runs

_KILLED_CHILD = textwrap.dedent("""
    import signal, sys, numpy as np
    from bcdesktop import scoring

    class Model:
        threshold, model_id = 0.5, "child"
        def predict_proba(self, X):
            return np.full(len(X), 0.25)

    if sys.argv[3] == "handler":  # as cli.main does: SIGTERM unwinds like Ctrl+C
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    def progress(p):
        print("scoring", flush=True)
        sys.stdin.read()  # wait here until the parent stops us

    scoring.score_csv(sys.argv[1], sys.argv[2], Model(), chunksize=100, progress=progress)
""")


def _start_and_stop(tmp_path, out, how):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(bundled_data_path()), str(out), how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "scoring\n"
        (temp,) = leftovers(tmp_path)
        assert temp.startswith(f".{out.name}.{proc.pid}@") and temp.endswith(".part")
        if how == "handler":
            proc.terminate()
        else:
            proc.kill()
        proc.wait(timeout=120)
    finally:
        proc.stdin.close()
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return temp


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigterm_with_a_handler_leaves_no_temporary_file(tmp_path):
    _start_and_stop(tmp_path, tmp_path / "o.csv", "handler")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_the_temporary_file_of_a_killed_run_is_swept_and_reported(tmp_path):
    out = tmp_path / "o.csv"
    temp = _start_and_stop(tmp_path, out, "kill")
    mine = tmp_path / f".o.csv.{os.getpid()}@x.part"  # not our naming: kept
    mine.write_text("keep")
    assert (tmp_path / temp).exists()  # kill -9 gives no chance to clean up
    summary = scoring.score_csv(bundled_data_path(), out, StandIn())
    assert summary.swept == [tmp_path / temp]
    assert summary.swept_line() == f"removed 1 temporary file left by an earlier run that was stopped: {temp}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "o.csv"])
    summary = scoring.score_csv(bundled_data_path(), tmp_path / "p.csv", StandIn())
    assert summary.swept == [] and summary.swept_line() == ""


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupted_scoring_leaves_no_file(tmp_path, exc):
    def stop(p):
        raise exc()

    with pytest.raises(exc):
        scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn(), chunksize=100, progress=stop)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- every row as wide as the header

@pytest.mark.parametrize("delimiter, header", [(",", True), (";", True), (",", False)])
def test_rows_with_too_few_or_too_many_fields_keep_the_new_columns_under_their_names(tmp_path, delimiter,
                                                                                    header):
    d = delimiter
    cols = [schema.ID_NAME, *FEATURES, schema.CLASS_NAME]
    row = d.join(["1", *ROW.split(","), "2"])
    records = [
        row,
        d.join(["2", "5", "1"]),  # 3 fields
        d.join(["3", *ROW.split(",")]),  # 10: the class is missing
        row + d + "extra",  # 12
        row + d + '"a ""quoted"" cell, with' + d + ' and a line\nbreak"' + d + d + "tail",  # 14
        d.join(["4", "5"]) + d + '"x' + d + 'y"',  # 3 fields, the last quoted with a delimiter in it
        row, row,
    ]
    text = (d.join(cols) + "\n" if header else "") + "\n".join(records) + "\n"
    src = write(tmp_path, text)
    summary = scoring.score_csv(src, tmp_path / "o.csv", Fixed([0.9, 0.1, 0.5], model_id="m,1"))
    rows = read_rows(tmp_path / "o.csv", delimiter=d)
    head = rows[0]
    assert head == [*cols, *scoring.NEW_COLUMNS]
    assert all(len(r) == len(head) for r in rows), [len(r) for r in rows]
    status, model = head.index("status"), head.index("model")
    n = len(cols)
    inputs = list(csv.reader(io.StringIO(text, newline=""), delimiter=d))[1 if header else 0:]
    for original, out in zip(inputs, rows[1:], strict=True):
        assert out[model] == "m,1"
        if len(original) <= n:  # padded with empty cells
            assert out[:n] == original + [""] * (n - len(original))
        else:  # the surplus folded into the last column, as the original text from there on
            assert out[: n - 1] == original[: n - 1]
    assert [r[status] for r in rows[1:]] == [
        "ok", "row has 3 fields, expected 11", "row has 10 fields, expected 11",
        "row has 12 fields, expected 11", "row has 14 fields, expected 11",
        "row has 3 fields, expected 11", "ok", "ok"]
    out_lines = (tmp_path / "o.csv").read_bytes().split(b"\n")
    # every original byte is in the output: a long record's tail, quotes doubled, in one quoted cell
    long_in = records[4]
    last = long_in.split(d, n - 1)[n - 1]
    assert rows[5][n - 1] == last
    assert rows[4][n - 1] == "2" + d + "extra"
    assert (tmp_path / "o.csv").read_bytes().count(b"\n") == len(records) + 2  # + header, + the quoted break
    assert summary.rejected == 5 and summary.scored == 3 and out_lines[-1] == b""


# ---------------------------------------------------------------- the written numbers agree with the call

def test_probability_and_threshold_are_written_alike_and_the_call_agrees_with_them(tmp_path):
    t = 0.0158484
    probs = [0.0158484, 0.01584835, 0.01584849, 0.0158485, 0.015848, 0.0158475, 0.01584749, 0.0158495,
             0.015847, 1e-9, 0.0, 1.0, 0.9999996]
    src = write(tmp_path, "".join(f"{i},{ROW},{2 if i % 2 else 4}\n" for i in range(len(probs))))
    summary = scoring.score_csv(src, tmp_path / "o.csv", Fixed(probs), threshold=t)
    rows = read_rows(tmp_path / "o.csv")[1:]
    assert {r[16] for r in rows} == {"0.015848"} and summary.threshold == 0.015848
    for r in rows:
        assert re.fullmatch(r"[01]\.\d{6}", r[11]) and re.fullmatch(r"0\.\d{6}", r[16]), r
        assert (r[15] == "malignant") == (float(r[11]) >= float(r[16])), r
    assert summary.malignant == sum(r[15] == "malignant" for r in rows)
    m = summary.metrics
    truth = [r[10] == "4" for r in rows]
    called = [r[15] == "malignant" for r in rows]
    assert m.tp == sum(a and b for a, b in zip(called, truth)) and m.threshold == summary.threshold
    # the bundle's own threshold is rounded the same way
    scoring.score_csv(src, tmp_path / "p.csv", Fixed(probs, threshold=0.0158484))
    assert (tmp_path / "p.csv").read_bytes() == (tmp_path / "o.csv").read_bytes()


@pytest.mark.parametrize("t", [0.0000004, 0.9999996, 0.0, 1.0, float("nan"), -0.1])
def test_a_threshold_that_cannot_be_written_in_6_decimals_is_refused(tmp_path, t):
    src = write(tmp_path, f"1,{ROW},2\n")
    with pytest.raises(UserError, match="threshold") as info:
        scoring.score_csv(src, tmp_path / "o.csv", StandIn(), threshold=t)
    assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == [src]


def test_model_column_name_does_not_clash(tmp_path):
    src = write(tmp_path, ",".join(FEATURES) + ",Model,model_2\n" + ROW + ",a,b\n")
    scoring.score_csv(src, tmp_path / "o.csv", StandIn())
    assert read_rows(tmp_path / "o.csv")[0][-1] == "model_3"
    assert read_rows(tmp_path / "o.csv")[1][-1] == "standin0001"


# ---------------------------------------------------------------- disk full, folder gone

class FullDisk:
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, fh, room):
        self.fh, self.room = fh, room

    def write(self, b):
        if len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(b)
        return self.fh.write(b)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def _one_line_write_error(info, out, words):
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"Cannot write the output {out}: "), message
    assert words in message, message


@pytest.mark.parametrize("where", ["write", "fsync", "replace", "link"])
def test_disk_full_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch, where):
    out = tmp_path / "o.csv"
    if where == "write":
        real = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDisk(real(fd, *a, **k), room=20_000))
    else:
        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, where, full)
    if where == "replace":
        out.write_text("old")
    with pytest.raises(UserError) as info:
        scoring.score_csv(bundled_data_path(), out, StandIn(), chunksize=100, force=where == "replace")
    _one_line_write_error(info, out, "No space left on device. Free some space")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["o.csv"] if where == "replace" else [])
    assert where != "replace" or out.read_text() == "old"


def test_other_write_errors_are_one_line_too(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(UserError) as info:
        scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", StandIn())
    _one_line_write_error(info, tmp_path / "o.csv", os.strerror(errno.EIO))
    assert list(tmp_path.iterdir()) == []


def test_the_output_folder_removed_while_scoring_is_one_line(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(UserError) as info:
        scoring.score_csv(bundled_data_path(), folder / "o.csv", StandIn(), chunksize=100,
                          progress=lambda p: shutil.rmtree(folder, ignore_errors=True))
    _one_line_write_error(info, folder / "o.csv", "no longer exists")
    assert list(tmp_path.iterdir()) == []


def test_cli_score_on_a_full_disk_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from bcdesktop import cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    src = write(tmp_path, f"1,{ROW},2\n")
    monkeypatch.setattr(os, "fsync", full)
    code = cli.main(["score", str(src), "-o", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"Cannot write the output {tmp_path / 'o.csv'}: No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv"]


def test_default_output_of_a_shipped_file_is_not_beside_it(frozen, tmp_path, monkeypatch):
    from bcdesktop import resources

    monkeypatch.chdir(tmp_path)
    shipped = resources.bundled_data_path()
    assert scoring.default_output_path(shipped) == tmp_path / "breast-cancer-wisconsin.scored.csv"
    assert scoring.default_output_path(shipped, folder=tmp_path / "x") == \
        tmp_path / "x" / "breast-cancer-wisconsin.scored.csv"
    summary = scoring.score_csv(shipped, scoring.default_output_path(shipped), StandIn())
    assert summary.output.parent == tmp_path and summary.rows_read == 699
    other = tmp_path / "sub" / "cases.csv"
    assert scoring.default_output_path(other, folder=tmp_path / "x") == tmp_path / "sub" / "cases.scored.csv"
