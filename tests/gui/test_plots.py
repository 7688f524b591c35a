"""The pictures' layout: every text inside the figure and clear of its neighbours, at
every text size (the loss plot in the real Train tab, the Data tab's histograms)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def inside(box, figure_box, tol: float = 0.5) -> bool:
    return (box.x0 >= figure_box.x0 - tol and box.y0 >= figure_box.y0 - tol
            and box.x1 <= figure_box.x1 + tol and box.y1 <= figure_box.y1 + tol)


def overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def shown_tick_labels(axis) -> list:
    """The tick labels matplotlib draws: those of ticks inside the view."""
    low, high = sorted(axis.get_view_interval())
    return [tick.label1 for tick in axis.get_major_ticks()[:len(axis.get_majorticklocs())]
            if tick.label1.get_visible() and low - 1e-9 <= tick.get_loc() <= high + 1e-9]


@pytest.mark.parametrize("log", [False, True])
def test_the_loss_plot_keeps_its_labels_inside_the_figure_at_every_text_size(app, root, wait_until, log):
    tab = app.tabs["train"]
    app.select_tab("train")
    wait_until(lambda: tab.loss_plot is not None, timeout=20)
    plot = tab.loss_plot
    tab.fields["iterations"].set("3000")  # a finished run: its curve, limits and tick labels ("3000")
    tab.start_button.invoke()
    wait_until(lambda: tab.job is None, timeout=60)
    assert plot.n_points > 2 and plot.ax.get_xlim() == (0.0, 3000.0)
    if log:
        tab.log_var.set(True)
        tab._on_log_toggle()
    for factor in (None, 1.5, 2.0):  # 100%, 150%, 200% (each from 100%)
        app.change_text_scale(None)
        if factor is not None:
            app.change_text_scale(factor)
        root.update()
        canvas = plot.embedded.canvas
        canvas.draw()
        renderer = canvas.get_renderer()
        figure_box = plot.embedded.figure.bbox
        ax = plot.ax
        texts = [ax.xaxis.label, ax.yaxis.label, *shown_tick_labels(ax.xaxis), *shown_tick_labels(ax.yaxis)]
        for text in texts:
            if text.get_visible() and text.get_text():
                box = text.get_window_extent(renderer)
                assert inside(box, figure_box), (factor, text.get_text(), box, figure_box)
        assert ax.xaxis.label.get_text() == "iteration"
        ticks = [t.get_window_extent(renderer) for t in shown_tick_labels(ax.xaxis) if t.get_text()]
        label = ax.xaxis.label.get_window_extent(renderer)
        assert not any(overlap(label, t) for t in ticks)  # below its tick labels, not over them
        assert ax.get_window_extent(renderer).height > 0.3 * figure_box.height  # the curve keeps most room


@pytest.mark.parametrize("text_scale, size", [(1.0, (5.9, 4.4)), (1.5, (6.2, 4.6)), (2.0, (4.5, 3.6))])
def test_histogram_texts_stay_inside_and_apart(bundled, text_scale, size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bcdesktop.gui.plots import draw_class_histograms
    from bcdesktop.gui.tab_data import SHORT_NAMES

    figure = Figure(figsize=size, dpi=96)
    canvas = FigureCanvasAgg(figure)
    draw_class_histograms(figure, bundled.X, bundled.y, SHORT_NAMES, text_scale)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = figure.bbox
    legend = figure.legends[0].get_window_extent(renderer)
    assert inside(legend, box)
    titles = []
    for ax in figure.axes:
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()):
            if text.get_visible() and text.get_text():
                assert inside(text.get_window_extent(renderer), box), (text_scale, text.get_text())
        title = ax.title.get_window_extent(renderer)
        assert not overlap(title, legend) and not overlap(title, ax.get_window_extent(renderer))
        for tick in ax.get_yticklabels():  # the axis label beside its tick labels, not over them
            if tick.get_text():
                assert not overlap(ax.yaxis.label.get_window_extent(renderer), tick.get_window_extent(renderer))
        titles.append(title)
    for i, a in enumerate(titles):
        assert not any(overlap(a, b) for b in titles[i + 1:]), text_scale


@pytest.mark.parametrize("points, size", [(10.0, (5.5, 3.2)), (15.0, (6.7, 3.4)), (20.0, (6.0, 3.0))])
def test_threshold_picture_texts_stay_inside_and_apart(trained_bundle, points, size):
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bcdesktop.gui.tab_threshold import draw_pictures
    from bcdesktop.metrics import roc_curve_auc

    y, p = trained_bundle.eval_labels.astype(np.int8), trained_bundle.eval_probs
    figure = Figure(figsize=size, dpi=96)
    canvas = FigureCanvasAgg(figure)
    info = draw_pictures(figure, y, p, roc_curve_auc(y, p), points)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = figure.bbox
    assert 6.0 <= info["points"] <= points
    for ax in (info["roc"], info["hist"]):
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *shown_tick_labels(ax.xaxis),
                     *shown_tick_labels(ax.yaxis)):
            if text.get_visible() and text.get_text():
                assert inside(text.get_window_extent(renderer), box), (points, text.get_text())
    legend = info["hist"].get_legend().get_window_extent(renderer)
    assert inside(legend, box)
    assert not overlap(legend, info["hist"].title.get_window_extent(renderer))
    assert not overlap(info["roc"].title.get_window_extent(renderer), info["hist"].title.get_window_extent(renderer))


def test_a_failed_drawing_is_reported_once_and_a_newer_request_still_starts(root, wait_until):
    # found by review: a failing drawing left every later request waiting, and each
    # resize drew it again and showed the error again
    from bcdesktop.gui.plots import OffscreenPicture

    errors = []
    picture = OffscreenPicture(root, errors.append, size=(3.0, 2.0), name="test-picture")
    root.update()

    def broken(figure):
        raise ValueError("cannot draw this")

    def fine(figure):
        figure.add_subplot().plot([0, 1], [0, 1])
        return "drawn"

    picture.request(broken, token="broken")
    wait_until(lambda: errors, timeout=30)
    for _ in range(3):  # configure events, as resizes bring them
        picture.widget.event_generate("<Configure>")
        root.update()
    wait_until(lambda: not picture.drawing, timeout=30)
    assert [str(e) for e in errors] == ["cannot draw this"]
    picture.request(fine, token="fine")
    wait_until(lambda: picture.token == "fine", timeout=30)
    assert picture.info == "drawn" and not picture.pending
