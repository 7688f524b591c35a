"""The Threshold tab on a 1366x768 screen at 100% and 150% text, with out-of-fold
evidence: every control and text of every inner page can be reached and is not cut
(the checks of test_text_size.py, for this tab), and its layout settles."""

from __future__ import annotations

import pytest
from test_text_size import laptop, laptop_app, pump, small_root, step_to, tab_problems  # noqa: F401

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def oof_model(bundled, trained_bundle):
    from bcdesktop import outoffold
    from bcdesktop.training import TrainConfig

    settings = {k: v for k, v in trained_bundle.settings.items() if k in TrainConfig().to_dict()}
    return trained_bundle.with_parts(oof=outoffold.compute(bundled.X, bundled.y, TrainConfig.from_dict(settings)))


@pytest.mark.parametrize("size", (1.0, 1.5))
def test_every_part_of_the_threshold_tab_can_be_reached(laptop_app, pump, oof_model, size):  # noqa: F811
    app = laptop_app
    app.set_model(oof_model, source="test")
    step_to(app, size, pump)
    tab = app.tabs["threshold"]
    app.select_tab("threshold")
    tab.show_cases("fn", select=False)
    tab.matrix_var.set(True)
    tab._toggle_matrix()
    pump()
    problems = tab_problems(app, "threshold")
    assert not problems, f"at {size:.0%} text:\n" + "\n".join(problems)
    # the layout comes to rest: an update() returns (no layout that keeps re-doing itself)
    for page in tab.pages.values():
        tab.views.select(page)
        pump(lambda: tab.plot is None or not tab.plot.pending, timeout=20)
        app.root.update()
