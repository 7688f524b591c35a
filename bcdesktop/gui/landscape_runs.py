"""The Landscape tab's work, without Tk: the session's runs, and the landscapes and
pictures of one model or of several runs (issue 12).

A :class:`Run` is one finished training of the Train tab: its settings, loss curve,
training path (``TrainResult.path``, kept with ``landscape.path_every_for``), model id,
bundle and the data it was trained on. The app keeps them in ``app.runs``.

:func:`single_landscape` and :func:`compare_landscape` run in a worker thread (they take
the core's ``progress``/``cancel``); :func:`draw_single` and :func:`draw_compare` fill a
fresh matplotlib ``Figure`` in the pictures' worker thread
(:class:`~bcdesktop.gui.plots.OffscreenPicture`). Nothing here touches Tk.

The shared landscape of several runs: the PCA of all their paths stacked, each point
minus one common centre, **the final weights of the run listed last among those chosen**
(the newest: runs are listed in the order they were trained). The grid is around that
centre, on that run's training rows, so its centre value is that run's training loss;
the other runs' paths are projected on the same plane (their ends are where they
finished relative to it). The mean of the finals would be a point no run reached, with
a loss that belongs to no model; a real run's weights make the centre a model the user
can make active and compare with the Landscape page.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from bcdesktop.errors import Cancelled, UserError

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), each
#: run also with its own marker and line style, so no run is told apart by colour alone.
RUN_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
RUN_MARKERS = ("o", "s", "^", "D", "v", "P")
RUN_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MAX_COMPARED = 6
GRIDS = (21, 51, 101)
VIEWS = ("filled", "contour", "line")
_numbers = itertools.count(1)


@dataclasses.dataclass(eq=False)
class Run:
    """One finished training run of this session.

    Attributes
    ----------
    number : int
        1, 2, ... in the order runs finished.
    settings : dict
        The model's settings (``TrainConfig`` fields and the split).
    loss_curve : ndarray (k, 3)
        Iteration, training loss, validation loss (nan when none).
    path, path_iterations : ndarray or None
        The weights along training up to the model's weights (early stopping: the best).
    bundle : ModelBundle
        The model (replaced by the one with its out-of-fold evidence when that arrives).
    dataset : Dataset
        What it was trained on.
    stopped : str
    """

    number: int
    settings: dict
    loss_curve: np.ndarray
    path: np.ndarray | None
    path_iterations: np.ndarray | None
    bundle: object
    dataset: object
    stopped: str = "completed"

    @classmethod
    def from_outcome(cls, outcome, dataset) -> Run:
        """The run of ``evaluation.fit_model``'s ``outcome`` on ``dataset``."""
        result = outcome.result
        curve = np.array([(i, t, np.nan if v is None else v) for i, t, v in result.loss_curve], dtype=float)
        path = its = None
        if result.path is not None:
            path, its = path_to_final(result)
        return cls(next(_numbers), dict(outcome.bundle.settings or {}), curve, path, its, outcome.bundle,
                   dataset, result.stopped)

    @property
    def model_id(self) -> str:
        return self.bundle.model_id

    @property
    def label(self) -> str:
        """``"Run 2: adam, lr 0.002, constant"``: what the legend and the list say."""
        s = self.settings
        return f"Run {self.number}: {s.get('optimizer', '?')}, lr {s.get('lr', float('nan')):g}, {s.get('schedule', '?')}"

    @property
    def description(self) -> str:
        s = self.settings
        hidden = "-".join(str(h) for h in s.get("hidden", ()))
        return (f"{self.label}; {s.get('iterations', '?')} iterations, hidden {hidden or 'none'}, "
                f"seed {s.get('seed', '?')}; model {self.model_id[:12]}"
                + ("" if self.stopped == "completed" else f" ({self.stopped.replace('_', ' ')})"))

    def holds(self, bundle) -> bool:
        """``bundle`` has this run's network and scaler (its id may differ: evidence added)."""
        if bundle is None:
            return False
        if bundle is self.bundle:
            return True
        a, b = bundle.network.theta, self.bundle.network.theta
        return (a.shape == b.shape and np.array_equal(a, b)
                and np.array_equal(bundle.scaler.data_min, self.bundle.scaler.data_min)
                and np.array_equal(bundle.scaler.data_max, self.bundle.scaler.data_max))

    def __repr__(self) -> str:
        return f"Run({self.number}, {self.label!r}, model={self.model_id[:12]})"


def path_to_final(result):
    """The path of a ``TrainResult`` up to the weights ``result.model`` holds."""
    from bcdesktop.landscape import path_to_final as _path_to_final

    return _path_to_final(result)


# ------------------------------------------------------------------ one model
@dataclasses.dataclass
class Single:
    """What the Landscape page shows: the grid, the 1-D line and what they are of."""

    land: object            # landscape.Landscape
    line: object | None     # landscape.Line
    what: str               # "the active model 1a2b..." etc.
    notes: list
    retrained: bool = False  # the path comes from training the model's settings again


def _rows_of(bundle, dataset):
    from bcdesktop.landscape import model_rows

    if dataset is None or getattr(dataset, "y", None) is None:
        raise UserError("The landscape needs the labelled data the model was trained on; open them in the Data tab.")
    return model_rows(bundle, dataset)


def _retrain(rows, report, cancel):
    """The model's settings trained again on its rows with the path kept."""
    from bcdesktop import landscape as L
    from bcdesktop.model import Scaler
    from bcdesktop.training import train

    scaler = Scaler.fit(rows.X_train)
    config = rows.config
    stop = {} if rows.X_stop is None else {"X_val": scaler.transform(rows.X_stop), "y_val": rows.y_stop}

    def progress(p):
        report(("retrain", p.iteration / max(1, p.iterations)))

    result = train(scaler.transform(rows.X_fit), rows.y_fit, config, **stop, progress=progress, cancel=cancel,
                   path_every=L.path_every_for(config.iterations))
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return scaler, result


def single_landscape(bundle, dataset, *, run: Run | None = None, directions: str = "random", grid: int = 51,
                     extent: float | None = None, seed: int = 0, report=lambda _m: None, cancel=None,
                     what: str = "") -> Single:
    """The landscape of ``bundle`` on its training rows in ``dataset`` (the validation
    rows' too when its settings leave some), and the line from its initial weights.

    ``run``: the session's run that trained it (its path is used for pca). Without one,
    pca trains the model's settings again with the path kept (as ``bcdesktop landscape``
    does) and uses that path when it gives the model's weights. ``report`` gets
    ``("retrain", fraction)`` and ``("grid", fraction)``."""
    from bcdesktop import landscape as L
    from bcdesktop.model import MLP

    rows = _rows_of(bundle, dataset)
    notes = list(rows.notes)
    network, scaler = bundle.network, bundle.scaler
    path = its = None
    retrained = False
    if run is not None and run.path is not None:
        path, its = run.path, run.path_iterations
    elif directions == "pca":
        fresh_scaler, result = _retrain(rows, report, cancel)
        path, its = path_to_final(result)
        fresh = result.model
        same = fresh.theta.shape == network.theta.shape
        gap = float(np.abs(fresh.theta - network.theta).max()) if same else math.inf
        scaler_gap = float(max(np.abs(fresh_scaler.data_min - scaler.data_min).max(),
                               np.abs(fresh_scaler.data_max - scaler.data_max).max()))
        retrained = True
        if gap <= 1e-9 and scaler_gap <= 1e-9:
            path = (path - fresh.theta) + network.theta
            notes.append("this model has no stored path: its settings were trained again with the path kept, "
                         "which gave the model's weights")
        else:
            notes.append("training the model's settings again did not give the model: showing that retrained "
                         "network instead")
            network, scaler = fresh, fresh_scaler
    X_fit = scaler.transform(rows.X_fit)
    X_val = y_val = None
    if rows.X_val is not None:
        X_val, y_val = scaler.transform(rows.X_val), rows.y_val

    def on_grid(done, total):
        report(("grid", done / total))

    land = L.loss_grid(network, X_fit, rows.y_fit, directions=directions, seed=seed, path=path,
                       path_iterations=its, grid=grid, extent=extent, X_val=X_val, y_val=y_val,
                       progress=on_grid, cancel=cancel)
    initial = path[0] if path is not None else None
    if initial is None:
        config = rows.config
        start = MLP(network.n_inputs, config.hidden, config.init, config.seed)
        initial = start.theta if start.theta.shape == network.theta.shape else None
    line = None if initial is None else L.loss_line(initial, network, X_fit, rows.y_fit, cancel=cancel)
    return Single(land, line, what, notes, retrained)


# ------------------------------------------------------------------ several runs
@dataclasses.dataclass
class Compared:
    """Several runs' loss curves and their paths on one landscape."""

    runs: list                 # the Run objects, in the order drawn
    land: object | None        # landscape.Landscape around the centre run's final weights
    paths: list                # per run: ndarray (n_i, 2) of its path's coordinates
    centre: Run | None
    note: str = ""


def compare_landscape(runs: list[Run], *, grid: int = 51, report=lambda _m: None, cancel=None) -> Compared:
    """The runs' paths on the plane of the top two principal directions of all their
    paths stacked, centred on the last run's final weights (module docstring)."""
    from bcdesktop import landscape as L

    if not 2 <= len(runs) <= MAX_COMPARED:
        raise UserError(f"Choose two to {MAX_COMPARED} runs to compare; {len(runs)} chosen.")
    centre = runs[-1]
    bundle = centre.bundle
    shape = bundle.network.theta.shape
    unlike = [r for r in runs if r.bundle.network.theta.shape != shape or r.path is None]
    if unlike:
        names = ", ".join(f"run {r.number}" for r in unlike)
        return Compared(runs, None, [], None,
                        f"No shared landscape: {names} has another network shape than run {centre.number} "
                        "(or no path), so their weights are not points of one space. The loss curves are shown.")
    note = ""
    if any(not np.array_equal(r.bundle.scaler.data_min, bundle.scaler.data_min)
           or not np.array_equal(r.bundle.scaler.data_max, bundle.scaler.data_max) for r in runs):
        note = ("The runs scale their inputs differently (other data or split seed): their weights are drawn in "
                "one space, but the landscape is the loss of run " f"{centre.number}'s rows. ")
    rows = _rows_of(bundle, centre.dataset)
    stacked = np.vstack([r.path for r in runs])

    def on_grid(done, total):
        report(("grid", done / total))

    land = L.loss_grid(bundle.network, bundle.scaler.transform(rows.X_fit), rows.y_fit, directions="pca",
                       path=stacked, grid=grid, progress=on_grid, cancel=cancel)
    paths, start = [], 0
    for r in runs:
        paths.append(land.path[start:start + len(r.path)])
        start += len(r.path)
    return Compared(runs, land, paths, centre, note)


# ------------------------------------------------------------------ pictures
def _levels(Z, log: bool):
    finite = Z[np.isfinite(Z)]
    low, high = float(finite.min()), float(finite.max())
    if log:
        low = max(low, 1e-12)
        return np.geomspace(low, max(high, low * 1.0001), 16)
    return np.linspace(low, max(high, low + 1e-12), 16)


def _norm(Z, log: bool, gamma: float = 1.0):
    from matplotlib.colors import LogNorm, Normalize, PowerNorm

    finite = Z[np.isfinite(Z)]
    low, high = float(finite.min()), float(finite.max())
    if log:
        low = max(low, 1e-12)
        return LogNorm(vmin=low, vmax=max(high, low * 1.0001))
    if gamma != 1.0:
        return PowerNorm(gamma, vmin=low, vmax=max(high, low + 1e-12))
    return Normalize(vmin=low, vmax=max(high, low + 1e-12))


def _surface(figure, ax, land, Z, *, view: str, log: bool, cmap: str, label: str, gamma: float = 1.0,
             fs: float = 9.0):
    """The grid as filled colour (a ``QuadMesh``, gid ``"grid"``) or contour lines
    (gid ``"contours"``), with a colour bar."""
    Zf = np.where(np.isfinite(Z), Z, np.nan)
    norm = _norm(Zf, log, gamma)
    if view == "contour":
        levels = _levels(Zf, log)
        drawn = ax.contour(land.alphas, land.betas, Zf, levels=levels, norm=norm, cmap=cmap, linewidths=1.1)
        drawn.set_gid("contours")
        ax.set_facecolor("white")
    else:
        drawn = ax.pcolormesh(land.alphas, land.betas, Zf, norm=norm, cmap=cmap, shading="nearest",
                              rasterized=True)
        drawn.set_gid("grid")
        ax.contour(land.alphas, land.betas, Zf, levels=_levels(Zf, log)[::2], norm=norm, colors="black",
                   linewidths=0.4, alpha=0.5)
    bar = figure.colorbar(drawn, ax=ax, fraction=0.05, pad=0.02, aspect=40)
    bar.set_label(label + (" (log scale)" if log else ""), fontsize=fs)
    bar.ax.tick_params(labelsize=fs - 1)
    bar.ax.minorticks_off()
    if log:
        ticks = np.geomspace(norm.vmin, norm.vmax, 6)
        bar.set_ticks(ticks, labels=[f"{t:.3g}" for t in ticks])
    ax.set_xlim(land.alphas[0], land.alphas[-1])
    ax.set_ylim(land.betas[0], land.betas[-1])
    return drawn


def draw_single(figure, single: Single, *, view: str = "filled", log: bool = False, validation: bool = False,
                fs: float = 9.0):
    """The Landscape page's picture: the grid (or the 1-D line) with the path; ``fs``
    the text size in points (the window's, so the picture follows the text size)."""
    land, line = single.land, single.line
    ax = figure.add_subplot(1, 1, 1)
    figure.set_layout_engine("constrained")
    if view == "line":
        if line is None:
            ax.text(0.5, 0.5, "No line: the model's settings do not give its network's shape.",
                    ha="center", va="center", transform=ax.transAxes)
            return {"view": view}
        drawn, = ax.plot(line.alphas, line.losses, color=RUN_COLOURS[0], lw=1.8, gid="line",
                         label="training loss")
        ax.plot([0], [line.initial_loss], marker="o", ms=8, color="white", mec="black", ls="none",
                label=f"initial weights ({line.initial_loss:.4g})")
        ax.plot([1], [line.final_loss], marker="*", ms=14, color=RUN_COLOURS[1], mec="black", ls="none",
                label=f"final weights ({line.final_loss:.4g})")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("alpha: (1 \u2212 alpha) \u00d7 initial + alpha \u00d7 final weights", fontsize=fs)
        ax.set_ylabel("training loss" + (" (log scale)" if log else ""), fontsize=fs)
        ax.set_title("Training loss along the line from the initial to the final weights", fontsize=fs + 1)
        ax.grid(True, color="#dddddd", lw=0.6)
        ax.legend(fontsize=fs - 1, loc="upper right", framealpha=0.9)
        return {"view": view}
    if validation and land.val_losses is not None:
        Z, centre, name = land.val_losses, land.val_centre_loss, "validation loss"
    else:
        Z, centre, name = land.losses, land.centre_loss, "training loss"
    _surface(figure, ax, land, Z, view=view, log=log, cmap="viridis", label=name, fs=fs)
    if land.path is not None:
        p = land.path
        ax.plot(p[:, 0], p[:, 1], color="white", lw=2.6, zorder=3)
        ax.plot(p[:, 0], p[:, 1], color="black", lw=1.1, marker=".", ms=3.5, zorder=4, gid="path",
                label=f"training path ({len(p)} logged points)")
        ax.plot(*p[0], marker="o", ms=9, color="white", mec="black", ls="none", zorder=5, gid="start",
                label="start (initial weights)")
    ax.plot(0, 0, marker="*", ms=15, color="#E69F00", mec="black", ls="none", zorder=6, gid="final",
            label=f"final weights ({centre:.4g})")
    ax.legend(fontsize=fs - 1, loc="upper right", framealpha=0.85)
    if land.directions == "pca":
        e = land.explained
        ax.set_xlabel(f"first principal direction of the path ({e[0]:.1%} of its variance)", fontsize=fs)
        ax.set_ylabel(f"second principal direction ({e[1]:.1%})", fontsize=fs)
    else:
        ax.set_xlabel(f"alpha: filter-normalised random direction 1 (seed {land.seed})", fontsize=fs)
        ax.set_ylabel("beta: random direction 2", fontsize=fs)
    ax.set_title(f"{name.capitalize()} around the final weights of {single.what}", fontsize=fs + 1)
    ax.tick_params(labelsize=fs - 1)
    return {"view": view, "validation": name == "validation loss"}


def draw_compare(figure, compared: Compared, *, log: bool = False, fs: float = 9.0):
    """Loss curves overlaid (left) and the paths on the shared landscape (right), one
    legend below both: each run's colour, line style and end mark, with its optimizer,
    learning rate and schedule."""
    from matplotlib.lines import Line2D

    figure.set_layout_engine("constrained")
    curves = figure.add_subplot(1, 2, 1)
    handles = []
    for k, run in enumerate(compared.runs):
        c = run.loss_curve
        curves.plot(c[:, 0], c[:, 1], color=RUN_COLOURS[k], ls=RUN_STYLES[k], lw=1.6, gid=f"curve-{run.number}",
                    label=run.label)
        handles.append(Line2D([], [], color=RUN_COLOURS[k], ls=RUN_STYLES[k], lw=1.8, marker=RUN_MARKERS[k],
                              ms=7, mec="black", label=run.label))
    curves.set_yscale("log" if log else "linear")
    curves.set_xlabel("iteration", fontsize=fs)
    curves.set_ylabel("training loss" + (" (log scale)" if log else ""), fontsize=fs)
    curves.set_title("Loss curves", fontsize=fs + 1)
    curves.grid(True, color="#dddddd", lw=0.6)
    curves.tick_params(labelsize=fs - 1)
    ax = figure.add_subplot(1, 2, 2)
    if compared.land is None:
        ax.axis("off")
        ax.text(0.02, 0.5, _wrap(compared.note, 40), transform=ax.transAxes, va="center", fontsize=fs)
        figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=fs - 1, frameon=False)
        return {"paths": 0}
    land = compared.land
    # light greys, stretched towards the low losses where the paths end, so the coloured
    # paths stand out on every part of it
    _surface(figure, ax, land, land.losses, view="filled", log=log, cmap="Greys",
             label=f"training loss (run {compared.centre.number}'s rows)", gamma=0.45, fs=fs)
    for k, (run, p) in enumerate(zip(compared.runs, compared.paths)):
        ax.plot(p[:, 0], p[:, 1], color="white", lw=3.4, zorder=3)
        ax.plot(p[:, 0], p[:, 1], color=RUN_COLOURS[k], ls=RUN_STYLES[k], lw=1.8, zorder=4 + k,
                marker=RUN_MARKERS[k], ms=8, mec="black", markevery=[len(p) - 1],
                gid=f"path-{run.number}", label=f"run {run.number}")
    starts = np.unique(np.round(np.array([p[0] for p in compared.paths]), 9), axis=0)
    ax.plot(starts[:, 0], starts[:, 1], marker="o", ms=9, color="white", mec="black", mew=1.4, ls="none",
            zorder=20)
    handles.append(Line2D([], [], marker="o", ms=8, color="white", mec="black", ls="none",
                          label="start" + ("s" if len(starts) > 1 else " (all runs)") + "; marks: the ends"))
    ax.set_xlabel(f"first principal direction ({land.explained[0]:.1%})", fontsize=fs)
    ax.set_ylabel(f"second ({land.explained[1]:.1%})", fontsize=fs)
    ax.set_title(f"Paths on one landscape\n(centre: run {compared.centre.number}'s end)", fontsize=fs + 1)
    ax.tick_params(labelsize=fs - 1)
    figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=fs - 1, frameon=False)
    return {"paths": len(compared.paths)}


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
