"""The Calibration tab's two pictures, drawn in a worker thread on a figure of their own.

- :func:`draw_reliability`: reliability diagrams of the out-of-fold predictions, the
  network's own beside the cross-fitted recalibrated ones, each with the pairs per bin
  below it.
- :func:`draw_decision`: the decision curve (Vickers and Elkin 2006) of the model with
  its band across repeats, "treat all" and "treat none".

No Tk and no pyplot; matplotlib is imported inside the functions (it is loaded by the
pictures' worker). Everything that follows the threshold is drawn by the tab as Tk
canvas items over the picture.
"""

from __future__ import annotations

import numpy as np

from bcdesktop.gui.calibration_analysis import Analysis, CurveSet
from bcdesktop.gui.widgets import BENIGN, VALIDATION_LINE

#: Line colours: the model black, "treat all" blue and dashed, the comparison
#: vermillion and dash-dotted, "treat none" grey. Each differs by its dash as well.
MODEL_LINE = "black"
BAND = "#9AA5B1"
TREAT_ALL_LINE = BENIGN  # blue
OTHER_LINE = VALIDATION_LINE  # vermillion
NONE_LINE = "0.45"


def _fit_points(figure, pt: float, lines: float) -> float:
    """``pt``, smaller when the figure is too low for about ``lines`` lines of text at it."""
    px = figure.dpi / 72
    return max(6.0, min(pt, figure.bbox.height / px / lines))


def draw_reliability(figure, analysis: Analysis, pt: float) -> dict:
    """Two reliability diagrams on ``figure``: the network's out-of-fold predictions,
    and after the chosen recalibration, cross-fitted (or a note when none is chosen).

    Each shows the observed fraction malignant per bin (10 bins of equal width) at the
    bin's mean prediction, with its 95% interval (at the number of rows) as a bar, the
    diagonal of perfect calibration, and below it the predictions per bin (log scale).
    Returns ``{"axes": [reliability axes], "hist": [histogram axes], "points": pt}``.
    """
    from matplotlib.ticker import NullFormatter

    from bcdesktop.gui.plots import text_width

    pt = _fit_points(figure, pt, 22)
    titles = ("Before: the network", _after_title(analysis))
    px = figure.dpi / 72
    need = sum(text_width(figure, t, pt) for t in titles) + 8 * pt * px
    pt = max(6.0, min(pt, pt * 0.95 * figure.bbox.width / need))
    k = pt / 10.0
    figure.set_layout_engine("constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=(3.2, 1))
    axes, hists = [], []
    summaries = (analysis.before, analysis.after_cross)
    for col, (summary, title) in enumerate(zip(summaries, titles)):
        ax = figure.add_subplot(grid[0, col], sharey=axes[0] if axes else None)
        hist = figure.add_subplot(grid[1, col], sharex=ax)
        axes.append(ax)
        hists.append(hist)
        ax.set_title(title, fontsize=pt)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        for each in (ax, hist):
            each.tick_params(labelsize=0.8 * pt)
            each.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelbottom=False)
        hist.set_xlabel("Predicted probability", fontsize=0.9 * pt)
        if col == 0:
            ax.set_ylabel("Observed fraction malignant", fontsize=0.9 * pt)
            hist.set_ylabel("Predictions", fontsize=0.8 * pt)
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1.2 * k)
        if summary is None:
            message = analysis.error or "Choose Platt scaling or\nisotonic regression to\ncompare."
            ax.text(0.5, 0.5, _wrap(message, 34), ha="center", va="center", fontsize=0.9 * pt,
                    transform=ax.transAxes, color="0.25")
            hist.set_yticks([])
            continue
        bins = summary.bins
        x = np.array([b.predicted for b in bins])
        y = np.array([b.observed for b in bins])
        low = np.array([b.observed_ci[0] for b in bins])
        high = np.array([b.observed_ci[1] for b in bins])
        ax.errorbar(x, y, yerr=np.vstack((y - low, high - y)), fmt="o-", color=MODEL_LINE, ecolor="0.35",
                    elinewidth=1.2 * k, capsize=2.5 * k, markersize=4.0 * k, linewidth=1.2 * k)
        edges = np.array([[b.low, b.high] for b in bins])
        counts = np.array([b.n for b in bins])
        hist.bar(edges[:, 0], counts, width=edges[:, 1] - edges[:, 0], align="edge", color=BAND,
                 edgecolor="0.3", linewidth=0.6 * k)
        hist.set_yscale("log")
        top = max(10.0, counts.max() * 3)
        hist.set_ylim(0.7, top)
        hist.set_yticks([10.0 ** e for e in range(int(np.log10(top)) + 1)])  # every decade: 1, 10, 100, ...
        hist.yaxis.set_major_formatter("{x:g}")
        hist.yaxis.set_minor_formatter(NullFormatter())  # no mathtext: its parser is shared between threads
        ax.text(0.03, 0.97, f"Brier {summary.brier:.4f}\nECE {summary.ece:.3f}", ha="left", va="top",
                fontsize=0.8 * pt, transform=ax.transAxes, color="0.2")
    axes[1].tick_params(labelleft=False)
    return {"axes": axes, "hist": hists, "points": pt}


def _after_title(analysis: Analysis) -> str:
    if analysis.kind == "none":
        return "After recalibration"
    return {"platt": "After Platt, cross-fitted", "isotonic": "After isotonic, cross-fitted"}[analysis.kind]


def _wrap(text: str, width: int) -> str:
    if "\n" in text:
        return text
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def draw_decision(figure, curves: CurveSet, t_max: float, pt: float) -> dict:
    """The decision curve on ``figure`` for thresholds 1% .. ``t_max``: the model's net
    benefit (mean over repeats, the band their lowest to highest), the comparison
    (dotted), "treat all" and "treat none". Returns ``{"ax": axes, "points": pt}``."""
    pt = _fit_points(figure, pt, 22)
    k = pt / 10.0
    figure.set_layout_engine("constrained")
    ax = figure.add_subplot()
    main = curves.main
    t = main.thresholds
    shown = t <= t_max + 1e-12
    ts = t[shown] * 100
    if main.repeats > 1:
        ax.fill_between(ts, main.model_min[shown], main.model_max[shown], color=BAND, alpha=0.55, linewidth=0,
                        label=f"model, lowest to highest of {main.repeats} repeats")
    ax.plot(ts, main.model_mean[shown], color=MODEL_LINE, linewidth=1.8 * k, label=curves.main_label)
    if curves.other is not None:
        ax.plot(ts, curves.other.model_mean[shown], color=OTHER_LINE, linewidth=1.4 * k, linestyle="-.",
                label=curves.other_label)
    ax.plot(ts, main.treat_all[shown], color=TREAT_ALL_LINE, linewidth=1.5 * k, linestyle="--",
            label="treat all")
    ax.plot(ts, main.treat_none[shown], color=NONE_LINE, linewidth=1.2 * k, label="treat none")
    prevalence = main.prevalence
    top = max(prevalence, float(np.max(main.model_max[shown])))
    ax.set_ylim(-0.05 * max(1.0, top / 0.35) - 0.01, top + 0.05)
    ax.set_xlim(0, t_max * 100 + (1 if t_max < 0.99 else 1))
    ax.set_xlabel("Threshold probability (%)", fontsize=0.9 * pt)
    ax.set_ylabel("Net benefit", fontsize=0.9 * pt)
    ax.tick_params(labelsize=0.8 * pt)
    ax.grid(True, color="0.92")
    ax.spines[["top", "right"]].set_visible(False)
    # Below the axes, where no curve runs (in the corners the curves do, at one range or another).
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3 if len(handles) > 4 else 2,
                  fontsize=0.8 * pt, frameon=False)
    return {"ax": ax, "points": pt}
