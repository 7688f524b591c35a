"""The Train tab offers the article's other methods: every optimizer, schedule and hidden
activation of the core, and dropout, each field checked inline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app):
    app.select_tab("train")
    app.root.update()
    return app.tabs["train"]


def test_the_choices_are_the_cores_and_the_new_fields_check_inline(tab):
    from bcdesktop.model import HIDDEN_ACTIVATIONS
    from bcdesktop.training import OPTIMIZERS, SCHEDULES

    f = tab.fields
    assert tuple(f["optimizer"].input.cget("values")) == OPTIMIZERS
    assert tuple(f["schedule"].input.cget("values")) == SCHEDULES
    assert tuple(f["activation"].input.cget("values")) == HIDDEN_ACTIVATIONS
    assert (f["activation"].var.get(), f["dropout"].var.get()) == ("relu", "0")
    config, _ = tab.read_config()
    assert (config.activation, config.dropout) == ("relu", 0.0)
    for text, words in (("1", "must be in [0, 1)"), ("-0.1", "must be in [0, 1)"), ("x", "'x' is not a number")):
        f["dropout"].set(text)
        assert words in f["dropout"].message.cget("text")
    f["activation"].set("swish")
    assert "choose one of relu, leaky_relu, tanh" in f["activation"].message.cget("text")
    tab.start_button.invoke()
    assert tab.job is None
    f["activation"].set("tanh")
    f["dropout"].set("0.2")
    f["optimizer"].set("rmsprop")
    f["schedule"].set("sgdr")
    config, _ = tab.read_config()
    assert (config.activation, config.dropout, config.optimizer, config.schedule) == (
        "tanh", 0.2, "rmsprop", "sgdr")
    assert f["dropout"].error is None and f["activation"].error is None
    f["activation"].set("relu")
    f["dropout"].set("0")
    f["optimizer"].set("adam")
    f["schedule"].set("constant")
