"""A seeded, bounded mutation fuzzer for everything a user can hand in: CSV files of
cases and model files (and the small, odd data sets a user's file may hold, through
training and cross-validation).

Every mutated input must either work or raise :class:`UserError`; no other exception,
no hang. For a CSV that loads, no row may be lost: ``n_read == n_usable + n_rejected``,
the rows and the line each starts on are those Python's ``csv`` module finds in the
same file, and the scored output has exactly one row per input data row, each starting
with the input row's own cells. A model file either loads into a bundle that predicts
finite probabilities, or is refused; forged files (checksum recomputed) reach every
check after the checksum.

The seeds and the numbers of cases are fixed, so a failure reproduces; a failing CSV
or model file is written beside the test's tmp_path (``fuzz_failure.*``) and the
message names the seed file and its mutations.
"""

import codecs
import csv
import io
import os
import re

import numpy as np
import pytest

from bcdesktop import csvlayout, data, persistence, scoring
from bcdesktop.errors import UserError
from bcdesktop.model import MLP, Scaler
from bcdesktop.persistence import ModelBundle, load_model, save_model
from bcdesktop.resources import bundled_data_path
from bcdesktop.schema import FEATURES

# A deeper run: BCDESKTOP_FUZZ_CASES=5000 BCDESKTOP_FUZZ_SEED=7 pytest tests/test_fuzz.py
CASES = int(os.environ.get("BCDESKTOP_FUZZ_CASES", 400))  # mutated CSV files; ~3 s
MODEL_CASES = CASES  # mutated model files; ~1 s
SEED = int(os.environ.get("BCDESKTOP_FUZZ_SEED", 20261129))

UCI_HEADER = "Sample code number," + ",".join(FEATURES) + ",Class"


def _seed_csvs() -> dict[str, bytes]:
    """Valid files in every layout the loader promises to read."""
    uci = bundled_data_path().read_bytes().split(b"\n")[:40]
    uci_text = b"\n".join(uci) + b"\n"
    rows = [line.split(",") for line in uci_text.decode().splitlines()]
    names = ["Anna Müller", "Bob, Jr.", 'Cé "CJ" Li', "Dörte", "Éva"]
    extra = ["Patient," + UCI_HEADER + ",Date"]
    for i, r in enumerate(rows):
        extra.append(f'"{names[i % 5].replace(chr(34), chr(34) * 2)}",' + ",".join(r) + f",2024-01-{i % 28 + 1:02d}")
    semicolon = [";".join(h.strip().lower().replace(" ", "_") for h in UCI_HEADER.split(","))]
    semicolon += [";".join(r) for r in rows]
    quoted = [",".join(f'"{c}"' for c in UCI_HEADER.split(","))]
    quoted += [",".join(f'" {c} "' if j == 1 else f'"{c}"' for j, c in enumerate(r)) for r in rows]
    tab = ["\t".join(FEATURES)] + ["\t".join(r[1:10]) for r in rows]
    return {
        "uci": uci_text,
        "extra": ("\n".join(extra) + "\n").encode("utf-8"),
        "extra_cp1252": ("\n".join(extra) + "\n").encode("cp1252"),
        "semicolon": ("\n".join(semicolon) + "\n").encode(),
        "quoted": ("\n".join(quoted) + "\n").encode(),
        "crlf": uci_text.replace(b"\n", b"\r\n"),
        "bom": codecs.BOM_UTF8 + ("\r\n".join(tab) + "\r\n").encode(),
    }


INTERESTING_CELLS = [
    "", "?", " ", "5.0", "1e1", "0x5", "\uff15", "+5", " 5 ", "-1", "0", "11", "10.5", "nan",
    "inf", "-inf", '"', '""', '"5"', '"5', "5\"", "\x00", "é", "\u202e", "\ud7ff", "NA",
    "benign", "M", "4.0", "2", "1" * 400, "9" * 70_000, ",", ";", "\t", "\r", "\n", "\r\n",
    "१", "٥", "5\u00a0", "x" * 5000,
]


def _mutate_csv(raw: bytes, rng) -> tuple[bytes, list[str]]:
    """Apply 1-4 random byte- or cell-level mutations; return the bytes and their names."""
    done = []
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice([
            "delete", "insert", "duplicate", "special", "truncate", "cell", "huge", "columns",
            "drop_cell", "add_cell", "dup_row", "unicode", "quote_line",
        ]))
        n = len(raw)
        pos = int(rng.integers(0, n + 1))
        if kind == "delete" and n:
            raw = raw[:pos] + raw[pos + int(rng.integers(1, 40)):]
        elif kind == "insert":
            raw = raw[:pos] + rng.bytes(int(rng.integers(1, 20))) + raw[pos:]
        elif kind == "duplicate" and n:
            end = min(n, pos + int(rng.integers(1, 200)))
            raw = raw[:end] + raw[pos:end] + raw[end:]
        elif kind == "special":
            b = bytes([int(rng.choice([0, 9, 10, 13, 34, 44, 59, 0xEF, 0xFF, 0x80]))])
            raw = raw[:pos] + b + raw[pos + int(rng.integers(0, 2)):]
        elif kind == "truncate":
            raw = raw[:pos]
        elif kind == "huge":
            raw = raw[:pos] + b"7" * int(rng.integers(1000, 300_000)) + raw[pos:]
        elif kind == "columns":
            raw = raw[:pos] + bytes([int(rng.choice([44, 59, 9]))]) * int(rng.integers(100, 20_000)) + raw[pos:]
        elif kind == "unicode":
            text = "".join(chr(int(c)) for c in rng.integers(0x80, 0x2FFF, size=int(rng.integers(1, 8))))
            raw = raw[:pos] + text.encode("utf-8", errors="replace") + raw[pos:]
        else:  # cell-level: on one line, split by the likely delimiter
            lines = raw.split(b"\n")
            li = int(rng.integers(0, len(lines)))
            line = lines[li]
            d = max((b",", b";", b"\t"), key=line.count)
            cells = line.split(d)
            ci = int(rng.integers(0, len(cells)))
            if kind == "cell":
                cell = INTERESTING_CELLS[int(rng.integers(0, len(INTERESTING_CELLS)))]
                cells[ci] = cell.encode("utf-8", errors="surrogatepass")
            elif kind == "drop_cell" and len(cells) > 1:
                del cells[ci]
            elif kind == "add_cell":
                cells.insert(ci, b"3")
            elif kind == "quote_line":
                cells[ci] = b'"' + cells[ci]
            elif kind == "dup_row":
                lines.insert(li, line)
            lines[li] = d.join(cells) if kind != "dup_row" else line
            raw = b"\n".join(lines)
        done.append(kind)
    return raw, done


def _csv_data_rows(path, layout, with_lines=False):
    """The data rows Python's csv module finds, decoded as the loader decodes (and the
    line each starts on)."""
    rows, lines = _csv_rows(path.read_bytes(), layout, with_lines=True)
    skip = 1 if layout.has_header else 0
    return (rows[skip:], lines[skip:]) if with_lines else rows[skip:]


def _csv_rows(raw: bytes, layout, with_lines=False):
    text = raw[len(layout.bom):].decode(layout.encoding, errors="replace")
    limit = csv.field_size_limit(1 << 30)  # (the loader must not depend on this global)
    rows, lines, line = [], [], 0
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
        for row in reader:
            if row:  # a blank line is no row
                rows.append(row)
                lines.append(line + 1)
            line = reader.line_num
    finally:
        csv.field_size_limit(limit)
    return (rows, lines) if with_lines else rows


class Logistic:
    """What score_csv uses of a model, as a plain function of the scores."""

    threshold = 0.5
    model_id = "fuzz"

    def predict_proba(self, X):
        assert X.ndim == 2 and X.shape[1] == 9 and np.isfinite(X).all()
        assert ((X >= 1) & (X <= 10) & (X == np.round(X))).all()
        return 1.0 / (1.0 + np.exp(-(X.sum(axis=1) - 30.0) / 4.0))


def _check_csv_case(path, out, raw, name):
    """One mutated CSV: load, score, and compare both with the csv module's rows."""
    try:
        ds = data.load_csv(path, chunksize=7)  # small chunks: many block boundaries
    except UserError as exc:
        assert str(exc).strip(), name
        ds = None
    if ds is not None:
        assert ds.n_read == ds.n_usable + ds.n_rejected, name
        assert ds.X.shape == (ds.n_usable, 9) and len(ds.ids) == len(ds.lines) == ds.n_usable, name
        assert ((ds.X >= 1) & (ds.X <= 10) & (ds.X == np.round(ds.X))).all(), name
        lines = np.sort(np.concatenate([ds.lines, [r.line for r in ds.rejected]]).astype(int))
        assert len(np.unique(lines)) == ds.n_read, f"{name}: two rows on one line"
        n_lines = len(re.split(rb"\r\n|\r|\n", raw))  # as an editor counts lines
        assert lines.min() >= 1 and lines.max() <= n_lines, name
        for r in ds.rejected:
            assert r.reason and (r.column is None or r.column in (*FEATURES, "Class")), name
        layout = csvlayout.sniff_layout(path)
        expected, expected_lines = _csv_data_rows(path, layout, with_lines=True)
        assert ds.n_read == len(expected), f"{name}: read {ds.n_read} rows, csv module finds {len(expected)}"
        assert lines.tolist() == expected_lines, f"{name}: line numbers differ from the csv module's"
    try:
        summary = scoring.score_csv(path, out, Logistic(), force=True, chunksize=5)
    except UserError as exc:
        assert str(exc).strip(), name
        return
    layout = csvlayout.sniff_layout(path)
    assert summary.rows_read == summary.scored + summary.rejected, name
    if ds is not None:
        assert summary.rows_read == ds.n_read, name
    rows_in = _csv_data_rows(path, layout)
    rows_out = _csv_rows(out.read_bytes(), layout)
    assert len(rows_out) - 1 == len(rows_in) == summary.rows_read, (
        f"{name}: {len(rows_in)} input rows, {len(rows_out) - 1} output rows, {summary.rows_read} read")
    n_new, n = len(scoring.NEW_COLUMNS), layout.n_fields
    for row_in, row_out in zip(rows_in, rows_out[1:]):
        # every output row is as wide as the header: a short record padded with empty
        # cells, a long one with its surplus folded into the last input column as one
        # cell that reads back as the original fields
        cells = row_out[:-n_new]
        assert len(cells) == n, f"{name}: output row not as wide as the header"
        if len(row_in) <= n:
            assert cells == row_in + [""] * (n - len(row_in)), f"{name}: cells changed"
        else:
            limit = csv.field_size_limit(1 << 30)
            try:
                folded = next(csv.reader(io.StringIO(cells[-1], newline=""), delimiter=layout.delimiter))
            finally:
                csv.field_size_limit(limit)
            assert cells[:-1] == row_in[:n - 1] and folded == row_in[n - 1:], f"{name}: cells changed"
        assert row_out[-2], name  # status: ok or the reason


def test_csv_mutations_load_and_score_or_say_why(tmp_path):
    seeds = _seed_csvs()
    names = sorted(seeds)
    rng = np.random.default_rng(SEED)
    path, out = tmp_path / "cases.csv", tmp_path / "cases.scored.csv"
    for case in range(CASES):
        seed_name = names[case % len(names)]
        raw, kinds = _mutate_csv(seeds[seed_name], rng)
        path.write_bytes(raw)
        name = f"case {case} ({seed_name}: {', '.join(kinds)})"
        try:
            _check_csv_case(path, out, raw, name)
        except Exception:
            (tmp_path.parent / "fuzz_failure.csv").write_bytes(raw)
            raise


def test_unmutated_seeds_load_fully(tmp_path):
    """The seeds themselves are valid: every row usable, nothing rejected."""
    for name, raw in _seed_csvs().items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(raw)
        ds = data.load_csv(path)
        rejected = [r for r in ds.rejected if r.reason != "Bare Nuclei is missing"]
        assert not rejected, (name, rejected[:3])
        assert ds.n_read == 40, name


# ------------------------------------------------------------------ model files

@pytest.fixture
def model_bytes(tmp_path):
    rng = np.random.default_rng(5)
    probs = rng.random(30)
    bundle = ModelBundle(
        network=MLP(9, (15,), init="he", seed=1), scaler=Scaler(np.ones(9), np.full(9, 10.0)),
        threshold=0.5, settings={"optimizer": "adam"}, seed=1, metrics={"validation": {}},
        data_sha256="cd" * 32, eval_probs=probs, eval_labels=(probs > 0.5).astype(np.int8),
        eval_kind="validation")
    path = tmp_path / "seed.npz"
    save_model(bundle, path)
    return path.read_bytes()


def _mutate_bytes(raw: bytes, rng) -> bytes:
    for _ in range(int(rng.integers(1, 4))):
        n = len(raw)
        pos = int(rng.integers(0, n + 1))
        kind = int(rng.integers(0, 6))
        if kind == 0:
            raw = raw[:pos] + raw[pos + int(rng.integers(1, 64)):]
        elif kind == 1:
            raw = raw[:pos] + rng.bytes(int(rng.integers(1, 16))) + raw[pos:]
        elif kind == 2:
            raw = raw[:pos] + bytes([int(rng.integers(0, 256))]) + raw[pos + 1:]
        elif kind == 3:
            raw = raw[:pos]
        elif kind == 4:
            end = min(n, pos + int(rng.integers(1, 300)))
            raw = raw[:end] + raw[pos:end] + raw[end:]
        else:  # flip one bit
            if n:
                p = min(pos, n - 1)
                raw = raw[:p] + bytes([raw[p] ^ (1 << int(rng.integers(0, 8)))]) + raw[p + 1:]
    return raw


def test_model_file_mutations_load_or_say_why(tmp_path, model_bytes):
    rng = np.random.default_rng(SEED + 1)
    path = tmp_path / "model.npz"
    loaded = 0
    for _case in range(MODEL_CASES):
        raw = _mutate_bytes(model_bytes, rng)
        path.write_bytes(raw)
        try:
            bundle = load_model(path)
        except UserError as exc:
            assert str(path) in str(exc)
            continue
        except Exception:
            (tmp_path.parent / "fuzz_failure.npz").write_bytes(raw)
            raise
        loaded += 1
        p = bundle.predict_proba(np.full((2, 9), 5.0))
        assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    # almost every mutation must be caught (a checksum covers arrays and metadata)
    assert loaded < MODEL_CASES // 10


ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, "", "x" * 1000, [], [15], [0], [-3], [10**9],
              {}, {"a": 1}, "bcdesktop-model", 0.0, 1.0, 0.5, list(FEATURES)[::-1], 2]


def _mutate_structure(arrays: dict, meta: dict, rng) -> None:
    """Change one thing a writer bug or a forger could: an array's presence, name,
    dtype, shape or values, or one metadata entry's value or type."""
    kind = int(rng.integers(0, 7))
    names = sorted(arrays)
    name = names[int(rng.integers(0, len(names)))]
    if kind == 0:
        del arrays[name]
    elif kind == 1:
        arrays[name + "x"] = arrays.pop(name)
    elif kind == 2:
        arrays[name] = arrays[name].astype(str(rng.choice(["float32", "int64", "int8", "complex128", ">f8"])))
    elif kind == 3:
        a = arrays[name]
        arrays[name] = a.reshape(-1) if a.ndim > 1 else np.concatenate([a, a[:1]])
    elif kind == 4 and arrays[name].size:
        a = np.array(arrays[name].real, dtype=np.float64)
        a.flat[int(rng.integers(0, a.size))] = float(rng.choice([np.nan, np.inf, -np.inf, 1e308, -5.0, 2.0]))
        arrays[name] = a
    elif kind == 5:
        arrays["extra"] = np.zeros(int(rng.integers(0, 5)))
    else:
        keys = sorted(meta)
        key = keys[int(rng.integers(0, len(keys)))]
        meta[key] = ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]


def test_forged_model_files_load_or_say_why(tmp_path, model_bytes):
    """Content mutations with the checksum recomputed (as a forger or a writer bug would),
    so that every check after the checksum is exercised too."""
    seed_path = tmp_path / "seed.npz"
    path = tmp_path / "forged.npz"
    rng = np.random.default_rng(SEED + 2)
    loaded = 0
    for _case in range(MODEL_CASES // 2):
        arrays, meta = persistence._read(seed_path)
        for _ in range(int(rng.integers(1, 3))):
            _mutate_structure(arrays, meta, rng)
        if rng.random() < 0.9:
            meta["checksum"] = persistence._checksum(arrays, meta)
        path.write_bytes(persistence._encode(arrays, meta))
        try:
            bundle = load_model(path)
        except UserError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
            continue
        loaded += 1
        p = bundle.predict_proba(np.full((2, 9), 5.0))
        assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
        assert 0 < bundle.threshold < 1 and bundle.features == FEATURES
    assert loaded < MODEL_CASES // 2  # most forgeries are caught


# ------------------------------------------------------------------ evaluation

def test_training_and_cross_validation_on_odd_small_data_work_or_say_why():
    """Small, repetitive, lopsided labelled sets (what a user's own file may hold) under
    random split, early-stopping and fold settings: a result or a UserError."""
    from types import SimpleNamespace

    from bcdesktop import evaluation
    from bcdesktop.training import TrainConfig

    rng = np.random.default_rng(SEED + 3)
    for case in range(CASES // 4):
        n = int(rng.integers(2, 60))
        distinct = rng.integers(1, 11, (int(rng.integers(1, n + 1)), 9))
        X = distinct[rng.integers(0, len(distinct), n)].astype(np.float64)
        y = (rng.random(n) < rng.random()).astype(np.int8)
        config = TrainConfig(hidden=(3,), optimizer=str(rng.choice(["gd", "momentum", "adam"])),
                             lr=0.01, iterations=5, log_every=2, seed=1, patience=int(rng.choice([0, 3])))
        kind = int(rng.integers(0, 3))
        try:
            if kind == 0:
                evaluation.fit_model(SimpleNamespace(X=X, y=y, sha256="ab" * 32), config,
                                     val_fraction=float(rng.choice([0.1, 0.2, 0.5, 0.9])))
            elif kind == 1:
                evaluation.fit_model(SimpleNamespace(X=X, y=y, sha256="ab" * 32), config,
                                     split="first", train_rows=int(rng.integers(1, n + 2)))
            else:
                cv = evaluation.cross_validate(X, y, config, folds=int(rng.integers(2, 6)), repeats=1,
                                               grouped=bool(rng.integers(0, 2)))
                assert np.isfinite(cv.oof_probs).all(), f"case {case}"
        except UserError as exc:
            assert str(exc).strip() and "\n" not in str(exc), f"case {case}"
