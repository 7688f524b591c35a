"""Batch scoring's interval, indeterminate and --explain columns (issue 15, "Batch")."""

import csv
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import cli, persistence, predictor, schema, scoring
from bcdesktop.errors import Cancelled
from bcdesktop.resources import bundled_data_path
from bcdesktop.schema import FEATURES

OLD_MODEL = Path(__file__).parent / "data" / "model_format1.npz"
ROW = "5,1,1,1,2,1,3,1,1"
SIX = re.compile(r"[01]\.\d{6}")
CONTRIBUTION = re.compile(r"-?\d+\.\d{6}")


@pytest.fixture(scope="module")
def bundle():
    return persistence.load_default_model()


def read_rows(path, delimiter=","):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def cases(tmp_path, n=40, name="cases.csv"):
    """The bundled file's first ``n`` lines plus rows that cannot be scored (a missing
    score, one outside 1..10, too few and too many fields), as a headerless UCI file."""
    lines = bundled_data_path().read_text().splitlines()[:n]
    lines[3] = "77,5,1,1,1,2,?,3,1,1,2"
    lines[7] = "78,5,1,1,1,2,1,3,1,11,4"
    lines[11] = "79,5,1,1"
    lines[13] = f"80,{ROW},2,extra,more"
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, lines


def scores_of(line):
    cells = line.split(",")
    return np.array([float(c) for c in cells[1:10]])


def usable(line):
    cells = line.split(",")
    return len(cells) == 11 and all(schema.score_value(c)[1] == schema.OK for c in cells[1:10])


# ---------------------------------------------------------------- the interval columns

def test_interval_columns_follow_probability_and_equal_predictor_intervals(tmp_path, bundle):
    src, lines = cases(tmp_path, n=20)
    summary = scoring.score_csv(src, tmp_path / "o.csv", bundle)
    rows = read_rows(tmp_path / "o.csv")
    head = rows[0]
    assert head == [schema.ID_NAME, *FEATURES, schema.CLASS_NAME, "probability", "probability_low",
                    "probability_high", "indeterminate", "prediction", "threshold", "status", "model"]
    assert all(len(r) == len(head) for r in rows) and len(rows) == len(lines) + 1
    col = {name: head.index(name) for name in head}
    good = [i for i, line in enumerate(lines) if usable(line)]
    X = np.array([scores_of(lines[i]) for i in good])
    low, high = predictor.intervals(bundle, X)
    p = bundle.predict_proba(X)
    t = summary.threshold
    for k, i in enumerate(good):
        r = rows[i + 1]
        assert r[col["status"]] == "ok"
        for name, value in (("probability", p[k]), ("probability_low", low[k]), ("probability_high", high[k])):
            assert SIX.fullmatch(r[col[name]]), r
            assert abs(float(r[col[name]]) - value) <= 5e-7 + 1e-12, (name, r, value)
        flag = bool(predictor.undecided(p[k], low[k], high[k], t))
        assert r[col["indeterminate"]] == ("true" if flag else "false")
    assert summary.intervals and summary.indeterminate == int(np.sum(predictor.undecided(p, low, high, t)))
    # rejected rows: every new cell empty but threshold, status (the reason) and model, in place
    bad = [i for i in range(len(lines)) if i not in good]
    assert [rows[i + 1][col["status"]] for i in bad] == [
        "Bare Nuclei is missing", "Mitoses = 11 is outside 1..10", "row has 4 fields, expected 11",
        "row has 13 fields, expected 11"]
    for i in bad:
        r = rows[i + 1]
        assert r[col["probability"]: col["prediction"] + 1] == [""] * 5
        assert r[col["threshold"]] == "0.500000" and r[col["model"]] == bundle.model_id
    assert rows[12][:4] == ["79", "5", "1", "1"] and rows[14][0] == "80"


def test_indeterminate_rows_at_a_threshold_inside_their_interval(tmp_path, bundle):
    src, lines = cases(tmp_path)
    good = [i for i, line in enumerate(lines) if usable(line)]
    X = np.array([scores_of(lines[i]) for i in good])
    low, high = predictor.intervals(bundle, X)
    k = int(np.argmax(high - low))
    t = round(float(low[k] + high[k]) / 2, 6)
    summary = scoring.score_csv(src, tmp_path / "o.csv", bundle, threshold=t)
    rows = read_rows(tmp_path / "o.csv")
    col = rows[0].index("indeterminate")
    flags = [rows[i + 1][col] for i in good]
    assert flags[k] == "true" and summary.indeterminate == flags.count("true") >= 1
    p = bundle.predict_proba(X)
    assert flags == ["true" if f else "false" for f in predictor.undecided(p, low, high, t)]


class WithInterval:
    """A stand-in with calibration pairs whose interval is given: raw_proba, no recalibration."""

    threshold = 0.5
    model_id = "interval01"
    recalibration = None
    oof = "pairs"

    def __init__(self, p, low, high):
        self.p, self.low, self.high = (np.asarray(a, dtype=float) for a in (p, low, high))

    def predict_proba(self, X):
        return self.p[: len(X)]

    raw_proba = predict_proba

    def recalibrated(self, raw):
        return raw


class GivenInterval:
    def __init__(self, owner):
        self.owner = owner

    def interval(self, s):
        return self.owner.low[: len(s)], self.owner.high[: len(s)]


def test_interval_ends_below_the_threshold_never_print_as_reaching_it(tmp_path, monkeypatch):
    t = 0.015848
    low = [t - 4e-7, t - 4e-7, t, 0.0, t - 2e-6, 0.2, 1e-9]
    high = [t, t - 3e-7, 0.5, t - 1e-7, 1.0, 0.3, 0.9999996]
    fake = WithInterval([0.1] * len(low), low, high)
    monkeypatch.setattr(predictor, "venn_abers_of", lambda b: GivenInterval(b) if b is fake else None)
    src = tmp_path / "c.csv"
    src.write_text("".join(f"{i},{ROW},2\n" for i in range(len(low))))
    scoring.score_csv(src, tmp_path / "o.csv", fake, threshold=t)
    rows = read_rows(tmp_path / "o.csv")
    head = rows[0]
    lo, hi, ind = (head.index(c) for c in ("probability_low", "probability_high", "indeterminate"))
    written = [(r[lo], r[hi], r[ind]) for r in rows[1:]]
    # every row's probability is 0.1, above t: a row is decided only when its whole
    # interval is at or above t too
    assert written == [
        ("0.015847", "0.015848", "true"),   # 4e-7 below: written a millionth below, still straddles
        ("0.015847", "0.015847", "true"),   # both below (neither printed at t): against the probability
        ("0.015848", "0.500000", "false"),  # low at the threshold: not below it
        ("0.000000", "0.015847", "true"),
        ("0.015846", "1.000000", "true"),
        ("0.200000", "0.300000", "false"),
        ("0.000000", "1.000000", "true")]
    for a, b, flag in written:  # as written, the digits agree with the flag
        assert (float(a) < t <= float(b) or float(a) < t) == (flag == "true")


def test_a_model_without_calibration_pairs_leaves_the_interval_empty(tmp_path):
    old = persistence.load_model(OLD_MODEL)
    assert old.oof is None and old.patterns is None
    src, lines = cases(tmp_path)
    summary = scoring.score_csv(src, tmp_path / "o.csv", old, explain=True)
    rows = read_rows(tmp_path / "o.csv")
    head = rows[0]
    assert head[11:] == [*scoring.NEW_COLUMNS, *scoring.CONTRIBUTION_COLUMNS]
    p, lo = head.index("probability"), head.index("probability_low")
    for line, r in zip(lines, rows[1:]):
        assert len(r) == len(head)
        assert r[lo: lo + 3] == ["", "", ""]  # low, high, indeterminate: not available
        assert r[-9:] == [""] * 9  # no training patterns to explain against
        assert (r[p] != "") == usable(line)
    assert not summary.intervals and summary.indeterminate == 0
    assert not summary.explained and summary.explain_base is None and summary.explained_patterns == 0
    # the rest of the row is what the model gives without calibration pairs
    X = np.array([scores_of(line) for line in lines if usable(line)])
    written = [float(r[p]) for r in rows[1:] if r[p]]
    np.testing.assert_allclose(written, old.predict_proba(X), atol=5e-7 + 1e-12)


# ---------------------------------------------------------------- --explain

def test_explain_columns_add_up_to_the_log_odds(tmp_path, bundle):
    src, lines = cases(tmp_path, n=60)
    summary = scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True)
    rows = read_rows(tmp_path / "o.csv")
    head = rows[0]
    assert scoring.CONTRIBUTION_COLUMNS == (
        "contribution_clump_thickness", "contribution_uniformity_of_cell_size",
        "contribution_uniformity_of_cell_shape", "contribution_marginal_adhesion",
        "contribution_single_epithelial_cell_size", "contribution_bare_nuclei",
        "contribution_bland_chromatin", "contribution_normal_nucleoli", "contribution_mitoses")
    assert head[11:] == [*scoring.NEW_COLUMNS, *scoring.CONTRIBUTION_COLUMNS]
    assert all(len(r) == len(head) for r in rows)
    first = head.index(scoring.CONTRIBUTION_COLUMNS[0])
    base = summary.explain_base
    assert summary.explained and base is not None
    good = [i for i, line in enumerate(lines) if usable(line)]
    X = np.array([scores_of(lines[i]) for i in good])
    logit = bundle.logit(X)
    for k, i in enumerate(good):
        r = rows[i + 1]
        cells = r[first:]
        assert all(CONTRIBUTION.fullmatch(c) for c in cells), cells
        c = np.array([float(v) for v in cells])
        assert abs(base + c.sum() - logit[k]) <= 9 * 5e-7 + 1e-9, (r, logit[k])
        # the probability written is that log-odds' sigmoid
        assert abs(float(r[head.index("probability")]) - 1 / (1 + np.exp(-logit[k]))) <= 5e-7 + 1e-12
    # the same numbers as the one-case explanation, to the printed precision
    for k in (0, len(good) - 1):
        e = predictor.explain_case(bundle, X[k])
        assert abs(e.base - base) < 1e-12
        written = np.array([float(v) for v in rows[good[k] + 1][first:]])
        np.testing.assert_allclose(written, e.contributions, atol=5e-7 + 1e-12)
    # rejected rows: nine empty cells, the reason still in status
    status = head.index("status")
    for i in (3, 7, 11, 13):
        assert rows[i + 1][first:] == [""] * 9 and rows[i + 1][status] != "ok"
    assert summary.explained_patterns == len({tuple(x) for x in X})


def test_explain_explains_each_distinct_pattern_once(tmp_path, bundle, monkeypatch):
    from bcdesktop import explain

    calls = []
    real = explain.explain_bundle
    monkeypatch.setattr(explain, "explain_bundle", lambda *a, **k: calls.append(1) or real(*a, **k))
    rows = ["5,1,1,1,2,1,3,1,1", "8,10,10,8,7,10,9,7,1", "5,1,1,1,2,1,3,1,1", "1,1,1,1,1,1,1,1,1"]
    src = tmp_path / "c.csv"
    src.write_text(",".join(FEATURES) + "\n" + "\n".join(rows * 700) + "\n")   # 2 chunks of 1,000+
    summary = scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True)
    assert summary.rows_read == 2800 and len(calls) == summary.explained_patterns == 3
    out = read_rows(tmp_path / "o.csv")[1:]
    assert len({tuple(r[-9:]) for r in out}) == 3
    assert out[0][-9:] == out[2][-9:] == out[2798][-9:] != out[1][-9:]


def test_explain_can_be_cancelled_between_explanations(tmp_path, bundle, monkeypatch):
    from bcdesktop import explain

    cancel = threading.Event()
    calls = []
    real = explain.explain_bundle

    def slow(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            cancel.set()
        return real(*a, **k)

    monkeypatch.setattr(explain, "explain_bundle", slow)
    src, _ = cases(tmp_path, n=200)
    with pytest.raises(Cancelled):
        scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True, cancel=cancel)
    assert len(calls) == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv"]


def test_new_names_do_not_clash_with_existing_columns(tmp_path, bundle):
    src = tmp_path / "c.csv"
    src.write_text(",".join(FEATURES) + ",Indeterminate,contribution_mitoses\n" + ROW + ",a,b\n")
    scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True)
    head = read_rows(tmp_path / "o.csv")[0]
    assert head[9:13] == ["Indeterminate", "contribution_mitoses", "probability", "probability_low"]
    assert "indeterminate_2" in head and head[-1] == "contribution_mitoses_2"


def test_semicolon_file_gets_the_new_cells_with_its_delimiter(tmp_path, bundle):
    src = tmp_path / "c.csv"
    src.write_text(";".join(FEATURES) + "\n" + ROW.replace(",", ";") + "\n")
    scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True)
    rows = read_rows(tmp_path / "o.csv", delimiter=";")
    assert len(rows[1]) == len(rows[0]) == 9 + 8 + 9
    assert SIX.fullmatch(rows[1][10]) and rows[1][12] in ("true", "false")
    assert all(CONTRIBUTION.fullmatch(c) for c in rows[1][-9:])


def test_format_contribution():
    assert scoring.format_contribution(-0.7491124) == "-0.749112"
    assert scoring.format_contribution(-1e-9) == "0.000000"
    assert scoring.format_contribution(12.5) == "12.500000"
    assert scoring.column_safe("Uniformity of Cell Size") == "uniformity_of_cell_size"


def test_cli_score_explain(tmp_path, capsys):
    src, lines = cases(tmp_path, n=20)
    out = tmp_path / "o.csv"
    assert cli.main(["score", str(src), "-o", str(out), "--explain"]) == 0
    head = read_rows(out)[0]
    assert head[-9:] == list(scoring.CONTRIBUTION_COLUMNS)
    assert cli.main(["score", str(src), "-o", str(tmp_path / "p.csv")]) == 0
    head = read_rows(tmp_path / "p.csv")[0]
    assert head[-8:] == list(scoring.NEW_COLUMNS)
    # without --explain the file is the --explain file without its last nine columns
    a = [r[:-9] for r in read_rows(out)]
    assert a == read_rows(tmp_path / "p.csv")
