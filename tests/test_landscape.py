"""The loss landscape (issue 12): directions, the stacked grid, the PCA path, the 1-D line,
the learning-rate range test, the training path, and the two commands."""

from __future__ import annotations

import argparse
import json
import shutil
import threading

import numpy as np
import pytest

from bcdesktop import landscape as L
from bcdesktop.errors import Cancelled, UserError
from bcdesktop.model import MLP, Scaler
from bcdesktop.training import TrainConfig, train


@pytest.fixture(scope="module")
def scaled():
    """The bundled data, min-max scaled (683 rows, 9 scores)."""
    from bcdesktop.data import load_bundled

    ds = load_bundled()
    return Scaler.fit(ds.X).transform(ds.X), ds.y.astype(np.int8)


@pytest.fixture(scope="module")
def run(scaled):
    X, y = scaled
    return train(X, y, TrainConfig(iterations=400, lr=0.01), path_every=5)


def _loop_losses(model, land, X, y):
    """Each grid point through MLP.loss, one at a time, on the rows as given (not merged)."""
    net = MLP.from_params(model.params)
    out = np.empty_like(land.losses)
    for i, b in enumerate(land.betas):
        for j, a in enumerate(land.alphas):
            net.theta[:] = model.theta + a * land.vectors[0] + b * land.vectors[1]
            out[i, j] = net.loss(X, y)
    return out


# ---------------------------------------------------------------- the training path
def test_the_path_changes_no_number_of_the_run(scaled, run):
    X, y = scaled
    plain = train(X, y, TrainConfig(iterations=400, lr=0.01))
    assert plain.path is None and plain.path_iterations is None
    assert run.loss_curve == plain.loss_curve
    assert np.array_equal(run.model.theta, plain.model.theta)
    assert run.path.shape == (81, run.model.theta.size)
    assert run.path_iterations.tolist() == list(range(0, 401, 5))
    assert np.array_equal(run.path[0], MLP(9, (15,), "he", 0).theta)
    assert np.array_equal(run.path[-1], run.model.theta)
    odd = train(X, y, TrainConfig(iterations=10), path_every=4)
    assert odd.path_iterations.tolist() == [0, 4, 8, 10]
    with pytest.raises(ValueError):
        train(X, y, TrainConfig(iterations=10), path_every=0)


def test_path_every_for_bounds_the_points():
    assert L.path_every_for(2000) == 2 and L.path_every_for(500) == 1
    assert 2000 // L.path_every_for(2000, 300) <= 300


# ---------------------------------------------------------------- the grid
def test_the_centre_is_the_training_loss(scaled, run):
    X, y = scaled
    land = L.loss_grid(run.model, X, y, grid=11)
    assert land.losses.shape == (11, 11) and land.alphas[5] == 0.0 and land.betas[5] == 0.0
    assert abs(land.losses[5, 5] - land.centre_loss) <= 1e-12
    assert abs(land.centre_loss - run.loss_curve[-1][1]) <= 1e-12       # what training reported
    assert land.alphas[0] == -1.0 and land.alphas[-1] == 1.0 and land.extent == (1.0, 1.0)
    assert land.path is None and land.directions == "random" and land.seed == 0


def test_the_centre_of_the_default_model_is_its_training_loss():
    from bcdesktop import data, evaluation, persistence

    bundle = persistence.load_default_model()
    ds = data.load_bundled()
    s = bundle.settings
    train_idx, _ = evaluation.split_indices(ds.y, s["split"], s["val_fraction"], s["train_rows"], s["seed"])
    X = bundle.scaler.transform(ds.X[train_idx])
    y = ds.y[train_idx]
    land = L.loss_grid(bundle.network, X, y, grid=3)
    assert abs(land.losses[1, 1] - land.centre_loss) <= 1e-12
    assert abs(land.centre_loss - bundle.network.loss(X, y)) <= 1e-12
    assert land.rows == len(y) == s["n_train"]


def test_the_grid_equals_a_loop_of_single_losses(scaled, run):
    X, y = scaled
    land = L.loss_grid(run.model, X, y, grid=5, extent=(0.7, 1.3), seed=3)
    assert np.abs(land.losses - _loop_losses(run.model, land, X, y)).max() <= 1e-12
    assert land.betas[-1] == pytest.approx(1.3) and land.alphas[-1] == pytest.approx(0.7)


def test_the_grid_of_a_deeper_network_in_chunks_of_one_point(scaled):
    X, y = scaled
    result = train(X[:200], y[:200], TrainConfig(hidden=(6, 4), iterations=150, lr=0.02, seed=4))
    weights = np.linspace(0.5, 2.0, 200)
    land = L.loss_grid(result.model, X[:200], y[:200], weights, grid=4, chunk_bytes=1)
    net = MLP.from_params(result.model.params)
    for i, b in enumerate(land.betas):
        for j, a in enumerate(land.alphas):
            net.theta[:] = result.model.theta + a * land.vectors[0] + b * land.vectors[1]
            assert abs(land.losses[i, j] - net.loss(X[:200], y[:200], weights)) <= 1e-12


def test_validation_losses_on_the_same_grid(scaled, run):
    X, y = scaled
    land = L.loss_grid(run.model, X[:500], y[:500], grid=3, X_val=X[500:], y_val=y[500:])
    assert land.val_losses.shape == (3, 3)
    assert abs(land.val_losses[1, 1] - run.model.loss(X[500:], y[500:])) <= 1e-12
    assert abs(land.val_centre_loss - land.val_losses[1, 1]) <= 1e-12
    d = land.to_dict()
    assert len(d["validation_grid"]) == 3 and d["validation_rows"] == len(y) - 500


def test_filter_normalised_random_directions(run):
    model = run.model
    d = L.random_directions(model, seed=7)
    assert d.shape == (2, model.theta.size)
    assert np.array_equal(d, L.random_directions(model, seed=7))
    assert not np.allclose(d, L.random_directions(model, seed=8))
    for k in range(2):
        start = 0
        for Wb in model.packed:
            D = d[k, start:start + Wb.size].reshape(Wb.shape)
            start += Wb.size
            assert np.all(D[:, -1] == 0.0)                                   # biases zero
            assert np.allclose(np.linalg.norm(D[:, :-1], axis=1), np.linalg.norm(Wb[:, :-1], axis=1),
                               rtol=1e-12, atol=0)
    zero = MLP.from_params(model.params)
    zero.packed[0][3, :-1] = 0.0                                             # a dead unit's row
    assert np.all(L.random_directions(zero, 1)[:, 10 * 3:10 * 4] == 0.0)


# ---------------------------------------------------------------- the PCA path
def test_pca_of_the_training_path(scaled, run):
    X, y = scaled
    land = L.loss_grid(run.model, X, y, directions="pca", path=run.path,
                       path_iterations=run.path_iterations, grid=5)
    assert land.path.shape == (len(run.path), 2)
    assert land.path[-1].tolist() == [0.0, 0.0]
    assert np.all(land.path[0] <= 0)                                         # the sign convention
    assert np.allclose(land.vectors @ land.vectors.T, np.eye(2), atol=1e-12)
    assert 0 < land.explained[1] <= land.explained[0] < 1
    reach = np.abs(land.path).max(axis=0) * L.PCA_MARGIN
    assert land.extent == pytest.approx(tuple(reach))
    assert abs(land.losses[2, 2] - land.centre_loss) <= 1e-12
    assert land.to_dict()["path"][-1] == [0.0, 0.0] and land.seed is None
    assert "-0.0" not in json.dumps(land.to_dict()["path"][-1])
    assert np.abs(land.losses - _loop_losses(run.model, land, X, y)).max() <= 1e-12


def test_a_path_in_a_plane_is_projected_exactly():
    rng = np.random.default_rng(0)
    final = rng.standard_normal(40)
    u, v = np.linalg.qr(rng.standard_normal((40, 2)))[0].T
    c = np.array([[-3.0, -1.0], [-2.0, 0.5], [-1.5, 1.0], [-0.5, 0.4], [0.0, 0.0]])
    path = final + c[:, :1] * u + c[:, 1:] * v
    pca = L.pca_directions(path, final)
    assert pca.coords[-1].tolist() == [0.0, 0.0]
    assert np.abs(pca.coords @ pca.directions + final - path).max() <= 1e-12
    assert pca.explained.sum() == pytest.approx(1.0, abs=1e-12)
    # the coordinates are the plane's own, up to a rotation: the same distances
    dist = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)          # noqa: E731
    assert np.allclose(dist(pca.coords), dist(c), atol=1e-12)
    assert np.allclose(L.project(path, final, pca.directions), pca.coords, atol=1e-12)


def test_a_path_on_one_line_has_no_plane():
    final = np.zeros(5)
    with pytest.raises(UserError, match="two directions"):
        L.pca_directions(np.outer([3.0, 2.0, 1.0, 0.0], np.ones(5)), final)
    with pytest.raises(UserError):
        L.pca_directions(np.ones((2, 5)), final)


# ---------------------------------------------------------------- the 1-D line, progress, cancel
def test_the_line_from_the_initial_to_the_final_weights(scaled, run):
    X, y = scaled
    line = L.loss_line(run.path[0], run.model, X, y)
    assert line.alphas[0] == -0.5 and line.alphas[-1] == 1.5 and len(line.alphas) == 101
    at0, at1 = np.flatnonzero(line.alphas == 0.0), np.flatnonzero(line.alphas == 1.0)
    assert len(at0) == len(at1) == 1
    assert abs(line.losses[at0[0]] - run.loss_curve[0][1]) <= 1e-12
    assert abs(line.losses[at1[0]] - run.loss_curve[-1][1]) <= 1e-12
    assert abs(line.initial_loss - run.loss_curve[0][1]) <= 1e-12
    assert abs(line.final_loss - run.model.loss(X, y)) <= 1e-12
    short = L.loss_line(MLP(9, (15,), "he", 0), run.model, X, y, alphas=[0.0, 1.0])
    assert short.losses == pytest.approx([line.initial_loss, line.final_loss], abs=1e-12)


def test_progress_and_cancel(scaled, run):
    X, y = scaled
    seen = []
    L.loss_grid(run.model, X, y, grid=9, chunk_bytes=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, 81) for k in range(1, 82)]
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        L.loss_grid(run.model, X, y, grid=5, cancel=stop)
    stop = threading.Event()
    with pytest.raises(Cancelled):                                            # stopped mid-way
        L.loss_grid(run.model, X, y, grid=9, chunk_bytes=1, cancel=stop,
                    progress=lambda d, t: d >= 10 and stop.set())
    with pytest.raises(Cancelled):
        L.lr_find(X, y, cancel=stop)


def test_settings_are_checked(scaled, run):
    X, y = scaled
    for bad in ({"grid": 1}, {"grid": L.MAX_GRID + 1}, {"grid": 5.0}, {"extent": 0}, {"extent": float("nan")},
                {"directions": "sideways"}):
        with pytest.raises(UserError):
            L.loss_grid(run.model, X, y, **bad)


# ---------------------------------------------------------------- the learning-rate range test
def test_lr_find(scaled):
    X, y = scaled
    found = L.lr_find(X, y, TrainConfig(), steps=120)
    assert found.stopped == "exploded" and len(found.rates) < 120
    assert np.all(np.diff(found.rates) > 0) and found.rates[0] == L.LR_MIN
    assert found.rates[0] <= found.suggested <= found.minimum_rate <= found.rates[-1]
    assert found.losses[0] == pytest.approx(MLP(9, (15,), "he", 0).loss(X, y), abs=1e-12)
    assert found.smoothed[-1] > L.LR_EXPLODE * found.smoothed.min()
    calm = L.lr_find(X, y, TrainConfig(optimizer="gd"), max_lr=0.1, steps=30)
    assert calm.stopped == "completed" and len(calm.rates) == 30
    assert calm.rates[-1] == pytest.approx(0.1)
    with pytest.raises(UserError):
        L.lr_find(X, y, min_lr=1.0, max_lr=0.1)


# ---------------------------------------------------------------- the commands
def _main(argv):
    """``cli.main`` once it knows the commands; until then a parser of add_parsers alone,
    with main's handling of a UserError."""
    import sys

    from bcdesktop import cli, cli_landscape

    parser = cli.build_parser()
    choices = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "landscape" in choices:
        return cli.main(list(argv))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    parser = cli._Parser(prog="bcdesktop", parents=[common])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=cli._Parser)
    cli_landscape.add_parsers(sub, common)
    try:
        args = parser.parse_args(list(argv))
        return args.func(args)
    except UserError as exc:
        print(f"error: {cli._printable(str(exc))}", file=sys.stderr)
        return cli.EXIT_USER_ERROR


def run_cli(capsys, *argv):
    code = _main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err):
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_landscape_json(capsys):
    code, out, err = run_cli(capsys, "landscape", "--json", "--grid", "5")
    assert code == 0, err
    d = json.loads(out)
    assert {"grid", "alphas", "betas", "centre_loss", "path", "directions", "seed", "extent", "model",
            "network", "line", "notes"} <= set(d)
    assert len(d["grid"]) == 5 and all(len(row) == 5 for row in d["grid"])
    assert d["alphas"] == d["betas"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert d["path"] is None and d["directions"] == "random" and d["network"] == "model"
    assert abs(d["grid"][2][2] - d["centre_loss"]) <= 1e-12
    from bcdesktop.persistence import load_default_model

    bundle = load_default_model()
    assert d["model"] == bundle.model_id and d["rows"] == bundle.settings["n_train"]
    assert d["notes"] == [] and len(d["line"]["alphas"]) == len(d["line"]["losses"]) == 101


def test_landscape_pca_json_and_picture(capsys, tmp_path):
    png = tmp_path / "pca.png"
    code, out, err = run_cli(capsys, "landscape", "--json", "--grid", "5", "--directions", "pca",
                             "-o", str(png), "--log", "--validation")
    assert code == 0, err
    d = json.loads(out)
    assert d["network"] == "model" and d["notes"] == []                 # the retraining was the model
    assert d["path"][-1] == [0.0, 0.0] and d["path_iterations"][0] == 0
    assert d["path_iterations"][-1] == 2000 and len(d["path"]) == len(d["path_iterations"])
    assert d["line"]["initial_loss"] > d["centre_loss"] and len(d["validation_grid"]) == 5
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000 and d["picture"] == str(png)
    code, out, err = run_cli(capsys, "landscape", "--grid", "5", "-o", str(png))   # a PNG is replaced
    assert code == 0 and "wrote" in out and png.read_bytes() != data
    assert [p.name for p in tmp_path.iterdir()] == ["pca.png"]                     # no temporary left


def test_landscape_refuses_to_overwrite_the_model_data_or_shipped_files(capsys, tmp_path):
    from bcdesktop.resources import bundled_data_path, default_model_path

    model = tmp_path / "model.npz"
    shutil.copyfile(default_model_path(), model)
    data = tmp_path / "data.csv"
    shutil.copyfile(bundled_data_path(), data)
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    before = model.read_bytes(), data.read_bytes()
    for target in (model, data, other, default_model_path(), bundled_data_path(), tmp_path):
        code, out, err = run_cli(capsys, "landscape", "--grid", "3", "--model", str(model),
                                 "--data", str(data), "-o", str(target))
        assert_one_line_error(code, out, err)
    assert (model.read_bytes(), data.read_bytes()) == before and other.read_text() == "keep me"
    code, out, err = run_cli(capsys, "landscape", "--grid", "3", "-o", str(tmp_path / "no" / "x.png"))
    assert_one_line_error(code, out, err)


def test_landscape_of_a_model_trained_on_other_data_says_so(capsys, tmp_path):
    from types import SimpleNamespace

    from bcdesktop import evaluation, persistence
    from bcdesktop.data import load_bundled

    ds = load_bundled()
    part = SimpleNamespace(X=ds.X[:300], y=ds.y[:300], sha256="0" * 64)
    outcome = evaluation.fit_model(part, TrainConfig(iterations=200, lr=0.01))
    model = persistence.save_model(outcome.bundle, tmp_path / "part.npz")
    code, out, err = run_cli(capsys, "landscape", "--json", "--grid", "3", "--directions", "pca",
                             "--model", str(model))
    assert code == 0, err
    d = json.loads(out)
    assert d["network"] == "retrained" and d["path"][-1] == [0.0, 0.0]
    assert any("other data" in n for n in d["notes"]) and any("retrained" in n for n in d["notes"])
    assert "note: " in err


def test_lr_find_json(capsys):
    code, out, err = run_cli(capsys, "lr-find", "--json", "--steps", "100")
    assert code == 0, err
    d = json.loads(out)
    assert {"rates", "losses", "suggested", "smoothed", "rule", "stopped", "minimum_rate"} <= set(d)
    rates = d["rates"]
    assert len(rates) == len(d["losses"]) and all(b > a for a, b in zip(rates, rates[1:]))
    assert rates[0] <= d["suggested"] <= rates[-1]
    code, out, err = run_cli(capsys, "lr-find", "--optimizer", "momentum", "--steps", "50", "--max-lr", "1")
    assert code == 0 and "suggested learning rate" in out


@pytest.mark.parametrize("argv", [
    ("landscape", "--grid", "1"), ("landscape", "--grid", "x"), ("landscape", "--grid", "100000"),
    ("landscape", "--extent", "-1"), ("landscape", "--extent", "nan"), ("landscape", "--directions", "up"),
    ("landscape", "--model", "/no/such/model.npz"), ("landscape", "--data", "/no/such.csv"),
    ("lr-find", "--steps", "3"), ("lr-find", "--min-lr", "0"), ("lr-find", "--min-lr", "1", "--max-lr", "0.1"),
    ("lr-find", "--hidden", "0"), ("lr-find", "--optimizer", "sgd"), ("lr-find", "--bogus"),
])
def test_bad_flags_are_one_line_exit_2(capsys, argv):
    assert_one_line_error(*run_cli(capsys, *argv))
