"""The Landscape tab: the grid and the path drawn are the core's, the centre is the
model's training loss, cancel stops the job, trained runs are kept and compared, and
any run can be made the active model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bcdesktop import landscape as L
from bcdesktop.landscape import model_rows

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app, root, default_model):
    if default_model is None:
        pytest.skip("the shipped model is missing")
    app.select_tab("landscape")
    root.update()
    return app.tabs["landscape"]


def drawn(tab, wait_until, token_part=None):
    wait_until(lambda: tab.job is None and tab.single is not None and tab.plot is not None
               and not tab.plot.pending and tab.plot.figure is not None
               and (token_part is None or token_part in tab.plot.token), timeout=20,
               message="the landscape never appeared")
    return tab.plot.figure.axes[0]


def artist(ax, gid):
    found = [a for a in [*ax.collections, *ax.lines] if a.get_gid() == gid]
    assert found, f"nothing drawn with gid {gid!r}"
    return found[0]


def training_rows(bundle, dataset):
    rows = model_rows(bundle, dataset)
    return bundle.scaler.transform(rows.X_fit), rows.y_fit


def test_pca_landscape_of_the_default_model_with_its_path(tab, app, default_model, bundled, wait_until):
    ax = drawn(tab, wait_until)  # shown: computed at once, pca by default (the model retrained)
    assert tab.plot.drawn_by == "bcdesktop-draw-landscape"
    single = tab.single
    assert single.retrained and "trained again" in tab.retrain_label.cget("text")
    X, y = training_rows(default_model, bundled)
    # the retrained path ends at the model's weights: the core on that path gives this grid
    expected = L.loss_grid(default_model.network, X, y, directions="pca", path=_path(default_model, bundled),
                           grid=51)
    mesh = artist(ax, "grid")
    assert np.asarray(mesh.get_array()).reshape(51, 51) == pytest.approx(expected.losses, rel=1e-9, abs=1e-12)
    path = artist(ax, "path").get_xydata()
    assert path == pytest.approx(expected.path, rel=1e-6, abs=1e-9)
    assert tuple(artist(ax, "start").get_xydata()[0]) == pytest.approx(tuple(expected.path[0]), abs=1e-9)
    assert len(path) == len(single.land.path_iterations) > 100
    # the centre value shown is the model's training loss
    centre = L.Rows(X, y).loss(default_model.network)
    assert single.land.losses[25, 25] == pytest.approx(centre, abs=1e-12)
    text = tab.centre_label.cget("text")
    assert f"{centre:.6f}" in text and "546 training rows" in text


def _path(bundle, dataset):
    from bcdesktop.gui.landscape_runs import _retrain
    from bcdesktop.landscape import path_to_final as _path_to_final

    rows = model_rows(bundle, dataset)
    _, result = _retrain(rows, lambda _m: None, None)
    path, _ = _path_to_final(result)
    return path - result.model.theta + bundle.network.theta


def test_random_directions_contours_validation_and_the_line(tab, default_model, bundled, wait_until):
    drawn(tab, wait_until)
    tab.directions_var.set("random")
    tab.seed_var.set("4")
    tab.grid_var.set("21")
    tab.extent_var.set("0.5")
    tab.compute_button.invoke()
    ax = drawn(tab, wait_until)
    wait_until(lambda: tab.single.land.directions == "random" and not tab.plot.pending, timeout=20)
    ax = tab.plot.figure.axes[0]
    X, y = training_rows(default_model, bundled)
    expected = L.loss_grid(default_model.network, X, y, directions="random", seed=4, grid=21, extent=0.5)
    assert np.asarray(artist(ax, "grid").get_array()).reshape(21, 21) == pytest.approx(expected.losses, rel=1e-9)
    assert not [a for a in ax.lines if a.get_gid() == "path"]  # random directions: no path
    tab.view_var.set("contour")
    tab.loss_var.set("validation")
    tab._draw_single()
    ax = drawn(tab, wait_until, "contour")
    assert artist(ax, "contours") is not None and tab.plot.info["validation"]
    assert "Validation loss there" in tab.centre_label.cget("text")
    tab.view_var.set("line")
    tab._draw_single()
    ax = drawn(tab, wait_until, "line")
    line = artist(ax, "line")
    assert line.get_ydata()[-1] == pytest.approx(tab.single.line.losses[-1])
    assert tab.single.line.final_loss == pytest.approx(L.Rows(X, y).loss(default_model.network), abs=1e-12)


def test_cancel_stops_the_landscape(tab, app, monkeypatch, wait_until):
    drawn(tab, wait_until)
    real = L.loss_grid

    def slow(*args, progress=None, **kwargs):
        def report(done, total):
            time.sleep(0.02)
            progress(done, total)
        return real(*args, progress=report, chunk_bytes=20_000, **kwargs)

    monkeypatch.setattr(L, "loss_grid", slow)
    tab.directions_var.set("random")
    tab.grid_var.set("101")
    before = tab.single
    tab.compute_button.invoke()
    wait_until(lambda: tab.progress["value"] > 0.02, timeout=20, message="no progress")
    assert str(tab.cancel_button.cget("state")) == "normal"
    tab.cancel_button.invoke()
    wait_until(lambda: tab.job is None, timeout=10, message="cancel did not stop the job")
    assert tab.single is before
    assert "stopped" in tab.message_label.cget("text")


def test_two_runs_are_kept_compared_and_one_made_active(app, root, wait_until):
    train = app.tabs["train"]
    app.select_tab("train")
    root.update()
    for optimizer, lr in (("gd", "0.5"), ("adam", "0.01")):
        train.fields["optimizer"].set(optimizer)
        train.fields["lr"].set(lr)
        train.fields["iterations"].set("150")
        train.start_button.invoke()
        wait_until(lambda: train.job is None, timeout=30, message="training did not finish")
    assert [r.settings["optimizer"] for r in app.runs] == ["gd", "adam"]
    assert all(r.path is not None and len(r.path) == 151 for r in app.runs)
    app.select_tab("landscape")
    root.update()
    tab = app.tabs["landscape"]
    tab.pages.select(tab.compare_page)
    root.update()
    rows = [tab.run_rows[r.number] for r in app.runs]
    for row in rows:
        row["check"].invoke()
    wait_until(lambda: tab.compared is not None and tab.compare_job is None and not tab.compare_plot.pending
               and tab.compare_plot.token is not None, timeout=30, message="no comparison")
    fig = tab.compare_plot.figure
    curves, land = fig.axes[0], fig.axes[1]
    for run in app.runs:
        curve = artist(curves, f"curve-{run.number}")
        assert curve.get_xdata() == pytest.approx(run.loss_curve[:, 0])
        assert curve.get_label() == run.label
        assert len(artist(land, f"path-{run.number}").get_xydata()) == len(run.path)
    newest = app.runs[-1]
    assert tab.compared.land.centre_loss == pytest.approx(
        L.Rows(*training_rows(newest.bundle, newest.dataset)).loss(newest.bundle.network), abs=1e-12)
    first = app.runs[0]
    rows[0]["active"].invoke()
    assert app.model is first.bundle and app.model_source == "trained"
