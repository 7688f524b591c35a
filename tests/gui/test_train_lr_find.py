"""The Train tab's learning-rate range test: the tab's settings and rows, "Use it", Cancel, invalid fields."""

from __future__ import annotations

import numpy as np
import pytest

from bcdesktop import landscape
from bcdesktop.evaluation import SPLITS, split_indices
from bcdesktop.model import Scaler

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app):
    app.select_tab("train")
    app.root.update()
    return app.tabs["train"]


def test_range_test_uses_the_tabs_settings_and_training_rows(tab, app, wait_until):
    for key, value in dict(optimizer="gd", hidden="8", init="xavier", activation="tanh", l2="0.01",
                           seed="4", val_fraction="0.3").items():
        tab.fields[key].set(value)
    tab.lr_find_button.invoke()
    assert tab.job is not None and tab.cancel_button.instate(["!disabled"])
    wait_until(lambda: tab.job is None, timeout=30)
    found = tab.lr_result
    c = found.config
    assert (c.optimizer, c.hidden, c.init, c.activation, c.l2, c.seed) == ("gd", (8,), "xavier", "tanh", 0.01, 4)

    ds = app.dataset  # the training part of the split these settings make, scaled on it only
    y = np.asarray(ds.y).astype(np.int8)
    train_idx, _ = split_indices(y, SPLITS[0], 0.3, 500, 4)
    X_tr = np.asarray(ds.X, dtype=np.float64)[train_idx]
    expected = landscape.lr_find(Scaler.fit(X_tr).transform(X_tr), y[train_idx], c)
    assert found.rows == len(train_idx)
    assert abs(found.suggested - expected.suggested) <= 1e-12
    np.testing.assert_allclose(found.losses, expected.losses, rtol=0, atol=1e-12)
    text = tab.lr_label.cget("text")
    assert text.startswith(f"Suggested learning rate {found.suggested:.3g} (where the smoothed loss falls fastest; ")
    assert f"On the {len(train_idx):,} training rows" in tab.lr_rows_label.cget("text")
    assert "validation fraction 0.3" in tab.lr_rows_label.cget("text")
    assert tab.results.select() == str(tab.lr_page)
    wait_until(lambda: tab.lr_picture.draw_count >= 1, timeout=20)
    assert tab.lr_picture.info["xscale"] == "log" and tab.lr_picture.info["lines"] == 3
    assert tab.lr_picture.drawn_by != "MainThread"
    section = app.results["Learning-rate range test 1"]
    assert dict(section)["suggested learning rate"] == found.suggested


def test_use_it_fills_the_rate_and_start_trains_with_it(tab, app, wait_until):
    tab.fields["lr"].set("abc")  # the rate itself does not matter to the range test
    tab.lr_find_button.invoke()
    wait_until(lambda: tab.job is None, timeout=30)
    suggested = tab.lr_result.suggested
    tab.use_lr_button.invoke()
    field = tab.fields["lr"]
    assert field.var.get() == f"{suggested:.3g}" and field.error is None
    tab.fields["iterations"].set("50")
    tab.start_button.invoke()
    wait_until(lambda: tab.job is None, timeout=30)
    assert tab.outcome is not None and tab.outcome.bundle.settings["lr"] == float(f"{suggested:.3g}")


def test_cancel_stops_the_range_test(tab, app, wait_until, monkeypatch):
    import threading

    release = threading.Event()
    real = landscape.lr_find

    def slow(*args, progress=None, cancel=None, **kwargs):  # waits for Cancel before its first step
        release.set()
        cancel.wait(20)
        return real(*args, progress=progress, cancel=cancel, **kwargs)

    monkeypatch.setattr(landscape, "lr_find", slow)
    tab.lr_find_button.invoke()
    wait_until(lambda: release.is_set(), timeout=20)
    tab.cancel_button.invoke()
    wait_until(lambda: tab.job is None, timeout=20)
    assert tab.lr_result is None
    assert tab.progress_label.cget("text") == "The learning-rate range test was stopped."
    assert tab.lr_find_button.instate(["!disabled"]) and tab.use_lr_button.instate(["disabled"])


def test_an_invalid_setting_blocks_the_range_test(tab, app):
    tab.fields["hidden"].set("abc")
    tab.fields["hidden"].message.configure(text="")  # shown again by the button
    tab.lr_find_button.invoke()
    assert tab.job is None and tab.lr_result is None
    assert "'abc' is not a whole number" in tab.fields["hidden"].message.cget("text")
    assert "Fix the settings marked in red" in tab.run_message.cget("text")
    assert app.dialogs.messages == []
