"""The command-line contract: train | evaluate | predict | score, flags, JSON keys, errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import __version__
from bcdesktop.cli import main
from bcdesktop.resources import bundled_data_path

ARTICLE_LR001 = {0: 0.673967, 500: 0.388928, 1000: 0.231340, 1500: 0.171447,
                 2000: 0.146433, 2500: 0.133993, 3000: 0.126808, 3500: 0.122107}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err):
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_version_through_the_installed_entry_point():
    proc = subprocess.run([sys.executable, "-m", "bcdesktop", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"bcdesktop {__version__}"


def test_predict_json_contract(capsys):
    from bcdesktop.persistence import load_default_model

    code, out, err = run_cli(capsys, "predict", "--json", "5", "10", "10", "8", "7", "10", "9", "7", "1")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"probability", "prediction", "threshold", "model"}
    bundle = load_default_model()
    expected = bundle.predict_proba(np.array([[5, 10, 10, 8, 7, 10, 9, 7, 1]], float))[0]
    assert result["probability"] == pytest.approx(expected, abs=1e-12)
    assert result["prediction"] == "malignant"
    assert result["threshold"] == bundle.threshold
    assert result["model"] == bundle.model_id


def test_predict_threshold_flag_changes_the_call(capsys):
    # a case near 30% (the threshold flag takes 0.01..0.99, as the window does)
    case = "5 3 3 3 2 3 4 4 1".split()
    code, out, _ = run_cli(capsys, "predict", "--json", *case)
    benign = json.loads(out)
    assert code == 0 and benign["prediction"] == "benign"
    low = benign["probability"] / 2
    assert 0.01 <= low <= 0.99
    code, out, _ = run_cli(capsys, "predict", "--json", "--threshold", f"{low:.10f}", *case)
    assert code == 0
    moved = json.loads(out)
    assert moved["threshold"] == pytest.approx(low)
    assert moved["prediction"] == "malignant"
    assert moved["probability"] == benign["probability"]


def test_predict_plain_text(capsys):
    code, out, _ = run_cli(capsys, "predict", "5", "1", "1", "1", "2", "1", "3", "1", "1")
    assert code == 0
    assert "malignancy probability" in out and "benign" in out and "Not a medical device" in out


@pytest.mark.parametrize("scores, words", [
    (["1", "2", "3"], "9"),
    (["5", "1", "1", "1", "2", "1", "3", "1", "11"], "Mitoses"),
    (["5", "1", "1", "1", "2", "x", "3", "1", "1"], "Bare Nuclei"),
    (["5", "1", "1", "1", "2", "1", "3.5", "1", "1"], "Bland Chromatin"),
])
def test_predict_bad_scores_one_line_exit_2(capsys, scores, words):
    code, out, err = run_cli(capsys, "predict", *scores)
    assert_one_line_error(code, out, err)
    assert words in err


def test_predict_bad_model_file(capsys, tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    code, out, err = run_cli(capsys, "predict", "--model", str(bad), *["1"] * 9)
    assert_one_line_error(code, out, err)
    assert "model.npz" in err


@pytest.mark.parametrize("argv", [
    ["train", "--lr", "abc"],
    ["train", "--iterations", "0"],
    ["train", "--optimizer", "sgd"],
    ["predict", "--threshold", "1.5", *["1"] * 9],
    ["score"],
    ["evaluate", "--folds", "x"],
])
def test_usage_errors_are_one_line(capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, out, err)


def test_the_choices_and_defaults_are_the_cores():
    from bcdesktop import evaluation, metrics, model, training
    from bcdesktop.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    train = {a.dest: a for a in sub["train"]._actions}
    assert train["optimizer"].choices == training.OPTIMIZERS == ("gd", "momentum", "adam", "adagrad",
                                                                 "rmsprop")
    assert train["activation"].choices == model.HIDDEN_ACTIVATIONS == ("relu", "leaky_relu", "tanh")
    assert train["init"].choices == model.INITS == ("article", "he", "xavier")
    assert train["schedule"].choices == training.SCHEDULES
    assert train["split"].choices == evaluation.SPLITS
    assert (train["split"].default, train["val_fraction"].default, train["train_rows"].default,
            train["threshold"].default) == (evaluation.SPLITS[0], evaluation.DEFAULT_VAL_FRACTION,
                                            evaluation.DEFAULT_TRAIN_ROWS, metrics.DEFAULT_THRESHOLD)
    evaluate = {a.dest: a for a in sub["evaluate"]._actions}
    assert (evaluate["folds"].default, evaluate["repeats"].default) == (
        evaluation.DEFAULT_FOLDS, evaluation.DEFAULT_REPEATS)


@pytest.mark.parametrize("value, words", [
    ("abc", "'abc' is not a whole number"),
    ("15,,8", "'15,,8' has an empty layer size"),
    ("0", "a hidden layer needs at least 1 unit; got 0"),
    ("4,4,4,4,4,4", "a network may have at most 5 hidden layers; got 6"),
])
def test_hidden_is_read_as_the_window_reads_it(capsys, tmp_path, value, words):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "m.npz"), "--hidden", value)
    assert_one_line_error(code, out, err)
    assert f"error: bcdesktop train: argument --hidden: {words}" in err
    assert err.rstrip().endswith(" (see 'bcdesktop train --help')")
    assert list(tmp_path.iterdir()) == []


def test_missing_data_file(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "--data", str(tmp_path / "nope.csv"),
                             "--out", str(tmp_path / "m.npz"))
    assert_one_line_error(code, out, err)
    assert "nope.csv" in err
    assert not (tmp_path / "m.npz").exists()


def test_debug_shows_the_traceback(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--debug", "train", "--data", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "Traceback" in err


def test_train_json_contract_and_model_file(capsys, tmp_path):
    out_path = tmp_path / "m.npz"
    code, out, err = run_cli(capsys, "train", "--out", str(out_path), "--iterations", "300",
                             "--log-every", "100", "--json")
    assert code == 0, err
    result = json.loads(out)  # nothing but one JSON object on stdout
    assert [row[0] for row in result["loss_curve"]] == [0, 100, 200]
    assert all(len(row) == 3 and row[1] > 0 and row[2] > 0 for row in result["loss_curve"])
    for part in ("train", "validation"):
        assert set(result[part]) >= {"accuracy", "sensitivity", "specificity", "n"}
        assert 0.8 < result[part]["accuracy"] <= 1.0
    assert result["train"]["n"] + result["validation"]["n"] == 683
    assert result["validation"]["n"] == pytest.approx(683 * 0.2, abs=1)
    assert result["model"] == str(out_path)
    from bcdesktop.persistence import load_model

    bundle = load_model(out_path)
    assert bundle.model_id == result["model_id"]
    assert bundle.settings["iterations"] == 300


def test_train_reproduces_the_article_from_the_command_line(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "--split", "first", "--train-rows", "500",
                             "--init", "article", "--seed", "1", "--optimizer", "gd",
                             "--lr", "0.01", "--iterations", "4000", "--log-every", "500",
                             "--out", str(tmp_path / "article.npz"), "--json")
    assert code == 0, err
    result = json.loads(out)
    curve = {it: loss for it, loss, _ in result["loss_curve"]}
    assert sorted(curve) == list(range(0, 4000, 500))
    for it, published in ARTICLE_LR001.items():
        assert round(curve[it], 6) == published, (it, curve[it])
    assert result["train"]["n"] == 500 and result["validation"]["n"] == 183


def test_train_text_output_logs_every_n(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--out", str(tmp_path / "m.npz"),
                           "--iterations", "200", "--log-every", "50")
    assert code == 0
    logged = [line for line in out.splitlines() if line.startswith("iteration")]
    assert len(logged) == 4
    assert "validation (n=137)" in out and "model saved to" in out


def test_train_never_overwrites_a_users_file(capsys, tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_bytes(bundled_data_path().read_bytes())
    before = csv.read_bytes()
    code, out, err = run_cli(capsys, "train", "--data", str(csv), "--out", str(csv),
                             "--iterations", "10")
    assert_one_line_error(code, out, err)
    assert csv.read_bytes() == before
    notes = tmp_path / "notes.npz"
    notes.write_text("my notes")
    code, out, err = run_cli(capsys, "train", "--out", str(notes), "--iterations", "10")
    assert_one_line_error(code, out, err)
    assert notes.read_text() == "my notes"


def test_train_replaces_an_earlier_model(capsys, tmp_path):
    path = tmp_path / "m.npz"
    # (a short run, with a rate that learns in it: a run that did not learn saves nothing)
    quick = ["--iterations", "100", "--lr", "0.05"]
    assert run_cli(capsys, "train", "--out", str(path), *quick, "--seed", "1")[0] == 0
    first = path.read_bytes()
    assert run_cli(capsys, "train", "--out", str(path), *quick, "--seed", "2")[0] == 0
    assert path.read_bytes() != first


def test_train_divergence_is_a_clear_error(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "m.npz"), "--optimizer",
                             "gd", "--lr", "1e100", "--iterations", "500", "--init", "he", "--json")
    assert_one_line_error(code, out, err)
    assert "diverged at iteration" in err
    assert "learning rate" in err.lower()
    assert not (tmp_path / "m.npz").exists()


def test_evaluate_json_contract(capsys):
    code, out, err = run_cli(capsys, "evaluate", "--folds", "3", "--repeats", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("accuracy", "roc_auc", "sensitivity", "specificity", "brier"):
        assert set(result[key]) >= {"mean", "sd"}
        assert 0.0 <= result[key]["mean"] <= 1.0
    assert result["accuracy"]["mean"] > 0.9 and result["brier"]["mean"] < 0.1
    assert result["folds"] == 3 and result["repeats"] == 1 and result["grouped"] is True


TRAINING_FLAGS = ("hidden", "lr", "iterations", "optimizer", "init", "schedule", "l2", "patience", "seed")


def test_evaluate_takes_the_training_flags_of_train_from_one_definition():
    from bcdesktop.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    train = {a.dest: a for a in sub["train"]._actions}
    evaluate = {a.dest: a for a in sub["evaluate"]._actions}
    for dest in TRAINING_FLAGS:
        a, b = train[dest], evaluate[dest]
        assert (a.option_strings, a.default, a.choices, a.help, a.nargs) == (
            b.option_strings, b.default, b.choices, b.help, b.nargs), dest
        assert a.type is None or a.type.__qualname__ == b.type.__qualname__, dest
        assert a.default is None  # TrainConfig's defaults, as train takes them
    samples = {"hidden": ["15", "16,8", "0", "x"], "lr": ["0.1", "nan", "x"], "iterations": ["5", "0", "x"],
               "l2": ["0", "inf"], "patience": ["0", "-1"], "seed": ["3", "-1"]}
    for dest, texts in samples.items():
        for text in texts:
            assert _parsed(train[dest].type, text) == _parsed(evaluate[dest].type, text), (dest, text)


def _parsed(parse, text):
    try:
        return "value", parse(text)
    except Exception as exc:  # argparse.ArgumentTypeError, with its words
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("flags, words", [
    (["--iterations", "0"], "argument --iterations: 0 must be at least 1"),
    (["--hidden", "4,4,4,4,4,4"], "a network may have at most 5 hidden layers; got 6"),
    (["--optimizer", "sgd"], "argument --optimizer: invalid choice: 'sgd'"),
    (["--seed", "-1"], "argument --seed: -1 must be at least 0"),
])
def test_evaluate_refuses_bad_training_flags_as_train_does(capsys, flags, words):
    for command in ("train", "evaluate"):
        code, out, err = run_cli(capsys, command, *flags)
        assert_one_line_error(code, out, err)
        assert words in err and f"(see 'bcdesktop {command} --help')" in err


def test_evaluate_keeps_its_json_keys_and_the_default_settings(capsys):
    from bcdesktop.training import TrainConfig

    code, out, err = run_cli(capsys, "evaluate", "--folds", "2", "--repeats", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    kept = ["accuracy", "roc_auc", "sensitivity", "specificity", "brier", "folds", "repeats",
            "grouped", "seed", "threshold", "n", "n_groups", "seconds", "settings"]
    assert list(result)[:len(kept)] == kept  # every key kept, in its order; additions after
    assert list(result)[len(kept):] == ["decision_curve", "calibration"]
    assert result["settings"] == TrainConfig().to_dict() and result["seed"] == 0
    assert isinstance(result["seconds"], float) and result["seconds"] > 0


def test_evaluate_cross_validates_the_settings_given(capsys):
    flags = ["--folds", "2", "--repeats", "1", "--optimizer", "gd", "--lr", "0.05", "--iterations", "300",
             "--hidden", "8", "--seed", "3"]
    code, out, err = run_cli(capsys, "evaluate", *flags, "--json")
    assert code == 0, err
    result = json.loads(out)
    settings = result["settings"]
    assert (settings["optimizer"], settings["lr"], settings["iterations"], settings["hidden"]) == ("gd", 0.05, 300, [8])
    assert settings["l2"] == 0.0 and settings["seed"] == 3  # gd's default L2, as train takes it
    assert result["seed"] == 3  # --seed chooses the folds too, as the window's Cross-validate does
    assert "compare" not in result
    code, out, err = run_cli(capsys, "evaluate", *flags)
    assert code == 0, err
    assert ("1 x 2-fold stratified cross-validation of the default settings except hidden 8, optimizer gd, "
            "lr 0.05, iterations 300, l2 0, seed 3 on 683 rows") in out


def test_evaluate_default_text_says_default_settings(capsys):
    code, out, err = run_cli(capsys, "evaluate", "--folds", "2", "--repeats", "1")
    assert code == 0, err
    assert "\n1 x 2-fold stratified cross-validation of the default settings on 683 rows; " in out
    assert "same folds" not in out


def test_evaluate_compare_json_puts_the_baselines_beside_the_network_on_the_same_folds(capsys, monkeypatch):
    from bcdesktop import evaluation

    folds_seen = []
    real = evaluation.cv_folds

    def recording(*args, **kwargs):
        splits = real(*args, **kwargs)
        folds_seen.append([te.tolist() for _tr, te in splits])
        return splits

    monkeypatch.setattr(evaluation, "cv_folds", recording)
    code, out, err = run_cli(capsys, "evaluate", "--folds", "3", "--repeats", "1", "--iterations", "300",
                             "--seed", "2", "--compare", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert list(result)[-4:] == ["settings", "compare", "decision_curve", "calibration"]  # earlier keys first
    compare = result["compare"]
    assert list(compare) == ["network", "logistic_regression", "random_forest"]
    for name, figures in compare.items():
        assert list(figures) == ["accuracy", "roc_auc", "brier", "sensitivity", "specificity"], name
        for key, value in figures.items():
            assert list(value) == ["mean", "sd"]
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in value.values()), (name, key)
        assert figures["accuracy"]["mean"] > 0.9 and figures["roc_auc"]["mean"] > 0.95, name
    for key in compare["network"]:
        assert compare["network"][key] == result[key]  # the network's row is the run above
    # the same folds for the three models: one set of test rows, so the same n in every fold
    assert len(folds_seen) == 3, "each model's folds come from evaluation.cv_folds"
    assert folds_seen[0] == folds_seen[1] == folds_seen[2]
    assert sum(len(te) for te in folds_seen[0]) == result["n"] == 683


def test_evaluate_compare_prints_a_table(capsys):
    code, out, err = run_cli(capsys, "evaluate", "--folds", "2", "--repeats", "1", "--iterations", "200",
                             "--compare")
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index("same folds, mean ± sd over 2 fits:")
    header, *rows = lines[start + 1:]
    assert header.split() == ["model", "accuracy", "roc_auc", "brier", "sensitivity", "specificity", "seconds"]
    assert [row.split()[0] for row in rows] == ["network", "logistic_regression", "random_forest"]
    for row in rows:
        cells = row.split()
        assert len(cells) == 1 + 5 * 3 + 1 and cells[2::3] == ["±"] * 5
        assert all(0.0 <= float(c) <= 1.0 for c in cells[1::3][:5]) and float(cells[-1]) >= 0.0


def _write_patients(path: Path) -> None:
    path.write_text(
        "id,Clump Thickness,Uniformity of Cell Size,Uniformity of Cell Shape,Marginal Adhesion,"
        "Single Epithelial Cell Size,Bare Nuclei,Bland Chromatin,Normal Nucleoli,Mitoses,name\n"
        "1,5,1,1,1,2,1,3,1,1,Ann\n"
        "2,5,10,10,8,7,10,9,7,1,\"Bee, B\"\n"
        "3,5,1,1,1,2,?,3,1,1,Cy\n", encoding="utf-8")


def test_score_default_output_and_summary(capsys, tmp_path):
    src = tmp_path / "clinic.csv"
    _write_patients(src)
    code, out, err = run_cli(capsys, "score", str(src))
    assert code == 0, err
    scored = tmp_path / "clinic.scored.csv"
    assert scored.exists()
    lines = scored.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    assert "Bare Nuclei is missing" in lines[3]
    summary = err.strip().splitlines()[-1]
    for words in ("read 3", "scored 2", "rejected 1", "malignant 1", "benign 1"):
        assert words in summary, summary
    # a second run refuses to overwrite without --force, then replaces it with it
    code, out, err = run_cli(capsys, "score", str(src))
    assert_one_line_error(code, out, err)
    code, _, _ = run_cli(capsys, "score", str(src), "--force")
    assert code == 0


def test_score_refuses_the_input_as_output(capsys, tmp_path):
    src = tmp_path / "clinic.csv"
    _write_patients(src)
    before = src.read_bytes()
    code, out, err = run_cli(capsys, "score", str(src), "-o", str(src), "--force")
    assert_one_line_error(code, out, err)
    assert src.read_bytes() == before


def test_score_unusable_file(capsys, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, out, err = run_cli(capsys, "score", str(empty))
    assert_one_line_error(code, out, err)
    assert "empty" in err.lower()


def _run_with_stderr_on_a_terminal(argv, cwd):
    """Run ``python -m bcdesktop ARGV`` with stderr on a pseudo-terminal; returns the
    exit status, stdout, and everything written to the terminal."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "bcdesktop", *argv], cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)  # the child holds its own copy; EOF (EIO) once it exits
    terminal = b""
    try:
        while True:
            try:
                block = os.read(master, 4096)
            except OSError:  # Linux: EIO when the last writer closed the terminal
                break
            if not block:
                break
            terminal += block
    finally:
        os.close(master)
    stdout = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=120), stdout, terminal.decode()


def _bar_drawn(text: str, label: str) -> bool:
    return f"\r{label} [{'#' * 28}] 100.0%" in text


def test_progress_bars_draw_on_a_terminal_only(tmp_path):
    src = tmp_path / "clinic.csv"
    _write_patients(src)
    argv = {"training": ["train", "--iterations", "3000", "--out", str(tmp_path / "m.npz")],
            "scoring": ["score", str(src), "-o", str(tmp_path / "s.csv"), "--force"]}
    for label, args in argv.items():
        code, out, terminal = _run_with_stderr_on_a_terminal(args, tmp_path)
        assert code == 0, terminal
        assert f"\r{label} [" in terminal and _bar_drawn(terminal, label), terminal
        proc = subprocess.run([sys.executable, "-m", "bcdesktop", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert f"{label} [" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
        assert "%" not in proc.stderr and "\033[K" not in proc.stderr, proc.stderr


def test_missing_data_file_beside_an_existing_model(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert run_cli(capsys, "train", "--out", str(model), "--iterations", "100", "--lr", "0.05")[0] == 0
    before = model.read_bytes()
    code, out, err = run_cli(capsys, "train", "--data", str(tmp_path / "nope.csv"),
                             "--out", str(model), "--iterations", "5")
    assert_one_line_error(code, out, err)
    assert "nope.csv does not exist" in err
    assert model.read_bytes() == before


def _unwritable_folder(tmp_path, monkeypatch) -> Path:
    """A folder this process cannot write to (as root, where modes do not stop writes,
    ``os.access`` is told so for that folder)."""
    import os

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
            False if Path(path) == folder and mode & os.W_OK else real(path, mode, **kw)))
    return folder


@pytest.mark.parametrize("where", ["a file", "unwritable"])
def test_train_refuses_an_unusable_out_folder_before_training(capsys, tmp_path, monkeypatch, where):
    if where == "a file":
        folder = tmp_path / "notes.txt"
        folder.write_text("my notes")
    else:
        folder = _unwritable_folder(tmp_path, monkeypatch)
    code, out, err = run_cli(capsys, "train", "--out", str(folder / "m.npz"), "--iterations", "50",
                             "--log-every", "10")
    assert_one_line_error(code, out, err)  # out == "": not one iteration was logged
    assert str(folder) in err and ("not a folder" in err if where == "a file" else "not writable" in err)


def test_score_into_a_missing_or_unwritable_folder(capsys, tmp_path, monkeypatch):
    import errno
    import tempfile

    src = tmp_path / "clinic.csv"
    _write_patients(src)
    code, out, err = run_cli(capsys, "score", str(src), "-o", str(tmp_path / "nope" / "s.csv"))
    assert_one_line_error(code, out, err)
    assert "nope" in err and "does not exist" in err

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):  # as root the mode alone would not stop the write
        if dir is not None and Path(dir) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code, out, err = run_cli(capsys, "score", str(src), "-o", str(folder / "s.csv"))
    assert_one_line_error(code, out, err)
    assert f"Cannot write in the folder {folder}: Permission denied" in err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("argv, words", [
    (["predict", *"5 1 1 1 2 1 3 1".split()], "got 8"),
    (["predict", *"5 1 1 1 2 1 3 1 1 1".split()], "got 10"),
    (["predict", *"-5 1 1 1 2 1 3 1 1".split()], "Clump Thickness: -5 is outside 1..10"),
    (["predict", "--threshold", "0", *"5 1 1 1 2 1 3 1 1".split()], "threshold"),
    (["train", "--val-fraction", "1.5"], "Validation fraction 1.5 (--val-fraction)"),
    (["train", "--split", "first", "--train-rows", "10000"], "Training rows 10000 (--train-rows)"),
    (["train", "--split", "first", "--train-rows", "0"], "--train-rows"),
    (["train", "--data", "{folder}"], "is a folder"),
    (["train", "--data", "{binary}"], "binary"),
    (["score", "{fifo}"], "named pipe"),
    (["score", "{binary}"], "binary"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, words):
    import os

    binary = tmp_path / "scan.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    fifo = tmp_path / "pipe.csv"
    if "{fifo}" in argv:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes on this platform")
        os.mkfifo(fifo)
    argv = [a.format(folder=tmp_path, binary=binary, fifo=fifo) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "m.npz"), "--iterations", "10"]
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, out, err)
    assert words in err
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------- hostile-user review
@pytest.mark.parametrize("settings, call", [
    (["--lr", "50"], "benign"),                                   # Adam saturates
    (["--optimizer", "gd", "--lr", "100000"], "malignant"),
])
def test_a_training_run_that_did_not_learn_is_an_error_and_writes_no_model(capsys, tmp_path, settings, call):
    out_file = tmp_path / "m.npz"
    code, out, err = run_cli(capsys, "train", "--out", str(out_file), "--json", *settings)
    assert_one_line_error(code, out, err)
    assert "did not learn" in err and f"training rows {call}" in err
    assert "Lower the learning rate" in err and "No model file was written" in err
    assert not out_file.exists()


@pytest.mark.parametrize("value", ["1e-320", "0.005", "0.995", "1", "0"])
@pytest.mark.parametrize("command", ["predict", "train", "score"])
def test_the_threshold_flag_takes_the_windows_range(capsys, tmp_path, command, value):
    argv = {"predict": ["predict", *"5 1 1 1 2 1 3 1 1".split()],
            "train": ["train", "--out", str(tmp_path / "m.npz")],
            "score": ["score", str(bundled_data_path()), "-o", str(tmp_path / "s.csv")]}[command]
    code, out, err = run_cli(capsys, *argv, "--threshold", value)
    assert_one_line_error(code, out, err)
    assert f"threshold {value} must lie between 0.01 and 0.99" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, words", [
    (["--iterations", "1000000000000"], "'iterations' must be at most"),
    (["--iterations", "1000000000"], "'iterations' must be at most"),
    (["--seed", "4294967296"], "'seed' must be at most"),
    (["--hidden", "99999999999999999999"], "units a layer"),
    (["--hidden", "800000"], "units a layer"),
])
def test_settings_beyond_the_limits_are_refused_before_training(capsys, tmp_path, flags, words):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "m.npz"), *flags)
    assert_one_line_error(code, out, err)
    assert words in err
    assert not (tmp_path / "m.npz").exists()


def test_a_closed_stdout_does_not_lose_the_training(tmp_path):
    # `bcdesktop train ... | head -2`: the reader goes away after two lines
    out_file = tmp_path / "m.npz"
    proc = subprocess.Popen([sys.executable, "-m", "bcdesktop", "train", "--out", str(out_file),
                             "--iterations", "3000", "--log-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = [proc.stdout.readline() for _ in range(2)]
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert all(line.startswith(b"iteration") for line in first)
    assert proc.returncode == 0, err
    assert b"internal error" not in err and b"Traceback" not in err and b"Broken" not in err
    from bcdesktop.persistence import load_model

    assert load_model(out_file).settings["iterations"] == 3000


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_score_leaves_no_partial_file(tmp_path, signame):
    import signal
    import time

    if not hasattr(signal, signame):
        pytest.skip(f"no {signame} on this platform")
    out_file = tmp_path / "out.csv"
    # scoring is held inside its first chunk (as a long file would be) until the signal
    script = ("import sys, time\n"
              "import bcdesktop.scoring as s\n"
              "real = s._score_chunk\n"
              "def slow(*a, **k):\n"
              "    time.sleep(60)\n"
              "    return real(*a, **k)\n"
              "s._score_chunk = slow\n"
              "from bcdesktop.cli import main\n"
              f"sys.exit(main(['score', {str(bundled_data_path())!r}, '-o', {str(out_file)!r}]))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".*.part")):  # the temporary file is being written
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, signame)
    assert f"stopped by {signame}" in err.decode() and "Traceback" not in err.decode()
    assert list(tmp_path.iterdir()) == []  # neither the output nor a hidden .part file


def test_score_says_when_it_sweeps_a_killed_runs_temporary_file(capsys, tmp_path):
    from bcdesktop import resources

    out_file = tmp_path / "out.csv"
    # what a run killed with kill -9 leaves: our naming, a process that no longer runs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stem = resources._temp_prefix(out_file.name).replace(f".{os.getpid()}@", f".{dead.pid}@")
    stale = tmp_path / f"{stem}abc123.part"
    stale.write_bytes(b"x" * 1000)
    code, out, err = run_cli(capsys, "score", str(bundled_data_path()), "-o", str(out_file))
    assert code == 0, err
    assert f"removed 1 temporary file left by an earlier run that was stopped: {stale.name}" in err
    assert not stale.exists() and out_file.exists()


@pytest.mark.parametrize("word", ["bogus", "trian", "scroe"])
def test_a_mistyped_command_is_an_unknown_command_not_a_file_to_open(capsys, word):
    code, out, err = run_cli(capsys, word)
    assert_one_line_error(code, out, err)
    assert f"unknown command '{word}'" in err
    assert all(command in err for command in ("evaluate", "gui", "predict", "score", "train"))


def test_evaluate_checks_its_flags_before_loading_scikit_learn(capsys):
    code, out, err = run_cli(capsys, "evaluate", "--folds", "1")
    assert_one_line_error(code, out, err)
    assert "--folds" in err and "at least 2" in err


def test_control_characters_in_a_path_reach_the_terminal_escaped(capsys, tmp_path):
    evil = tmp_path / "cases\n\x1b[2Jerror: all clear\x07.csv"
    code, out, err = run_cli(capsys, "score", str(evil))
    assert_one_line_error(code, out, err)
    assert "\x1b" not in err and "\x07" not in err and "\\x1b[2J" in err


def _biopsy(path: Path) -> Path:
    """An export of R's MASS::biopsy: ID, V1..V9, class (benign/malignant)."""
    rows = ["ID,V1,V2,V3,V4,V5,V6,V7,V8,V9,class"]
    for i in range(40):
        malignant = i % 3 == 0
        scores = [8, 7, 7, 6, 5, 10, 7, 6, 2] if malignant else [3, 1, 1, 1, 2, 1, 2, 1, 1]
        scores = [min(10, max(1, s + (i % 2))) for s in scores]
        rows.append(f"{1000 + i},{','.join(map(str, scores))},{'malignant' if malignant else 'benign'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_cli_summaries_say_which_layout_was_assumed(capsys, tmp_path):
    data = _biopsy(tmp_path / "biopsy.csv")
    code, out, err = run_cli(capsys, "train", "--data", str(data), "--out", str(tmp_path / "m.npz"),
                             "--iterations", "300", "--lr", "0.05")
    assert code == 0, err
    assert "read as: header row; columns V1..V9 read as the nine scores" in out
    assert "V1 = Clump Thickness" in out and "V9 = Mitoses" in out and "ID = Sample code number" in out
    code, out, err = run_cli(capsys, "train", "--data", str(data), "--out", str(tmp_path / "m.npz"),
                             "--iterations", "300", "--lr", "0.05", "--json")
    d = json.loads(out)["data"]
    assert "V1..V9" in d["layout"] and ["V6", "Bare Nuclei"] in d["columns"]
    code, out, err = run_cli(capsys, "score", str(data), "-o", str(tmp_path / "s.csv"))
    assert code == 0 and "read as: header row; columns V1..V9" in err
    code, out, err = run_cli(capsys, "score", str(bundled_data_path()), "-o", str(tmp_path / "u.csv"))
    assert "read as: no header row; 11 columns read as sample id + nine scores + class" in err


def test_train_never_writes_over_the_shipped_model(capsys, tmp_path):
    from bcdesktop.resources import default_model_path

    shipped = default_model_path()
    before = shipped.read_bytes()
    code, out, err = run_cli(capsys, "train", "--out", str(shipped), "--iterations", "100", "--lr", "0.05")
    assert_one_line_error(code, out, err)
    assert "shipped with bcdesktop" in err and shipped.read_bytes() == before
    # the maintainers' flag changes nothing for any other file
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "m.npz"), "--iterations", "100",
                             "--lr", "0.05", "--replace-shipped-model")
    assert code == 0, err


@pytest.mark.parametrize("offset", [-1e-8, 0.0, 1e-8, 4e-7, -4e-7])
def test_predict_and_score_give_one_call_near_the_threshold(capsys, tmp_path, offset):
    # found by review: at --threshold 0.01584849 predict said benign, score malignant
    case = "5 1 1 1 2 1 3 1 1".split()
    p = json.loads(run_cli(capsys, "predict", "--json", *case)[1])["probability"]
    threshold = f"{p + offset:.8f}"
    if not 0.01 <= float(threshold) <= 0.99:
        pytest.skip("this case's probability is outside the threshold range")
    predicted = json.loads(run_cli(capsys, "predict", "--json", "--threshold", threshold, *case)[1])
    source = tmp_path / "one.csv"
    source.write_text(",".join(case) + "\n")
    code, _, err = run_cli(capsys, "score", str(source), "-o", str(tmp_path / "s.csv"), "--threshold", threshold)
    assert code == 0, err
    head, row = (line.split(",") for line in (tmp_path / "s.csv").read_text().splitlines()[:2])
    written_p, call, written_t = (float(row[head.index("probability")]), row[head.index("prediction")],
                                  float(row[head.index("threshold")]))
    assert call == predicted["prediction"]
    assert (written_p >= written_t) == (call == "malignant")
    assert written_t == predicted["threshold"]


def test_main_leaves_the_signal_handlers_as_it_found_them(capsys):
    import signal

    before = signal.getsignal(signal.SIGTERM)
    run_cli(capsys, "predict", *"5 1 1 1 2 1 3 1 1".split())
    assert signal.getsignal(signal.SIGTERM) is before
