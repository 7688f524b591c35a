"""Command line of the loss landscape (issue 12): ``bcdesktop landscape`` and ``lr-find``.

``add_parsers(sub, common)`` adds both sub-commands to ``cli.build_parser``'s
sub-parsers; each command is a thin layer over :mod:`bcdesktop.landscape`. As in
:mod:`bcdesktop.cli`, heavy libraries load inside the commands (matplotlib only for
``-o``), errors a user can fix are one :class:`UserError` line (exit 2), progress goes
on stderr only when it is a terminal, and ``--json`` prints one object on stdout.

The helpers shared with the other commands (``_out``, ``_print_json``, ``_Progress``,
the argparse types, the model and data loaders) are :mod:`bcdesktop.cli`'s, imported
inside the functions: ``cli`` imports this module inside ``build_parser``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bcdesktop.errors import UserError
from bcdesktop.landscape import ModelRows, model_rows, path_to_final  # noqa: F401

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
__all__ = ["add_parsers", "cmd_landscape", "cmd_lr_find", "write_picture", "check_picture_path",
           "model_rows", "PNG_SIGNATURE"]


# ---------------------------------------------------------------- parsers
def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    """Add ``landscape`` and ``lr-find`` to ``sub`` (``build_parser``'s sub-parsers),
    each with ``common``'s options (``--debug``) as a parent."""
    from bcdesktop import landscape as L
    from bcdesktop.cliutil import _float, _hidden, _positive, _whole
    from bcdesktop.model import INITS
    from bcdesktop.training import OPTIMIZERS

    def grid(text: str) -> int:
        value = _whole(2)(text)
        if value > L.MAX_GRID:
            raise argparse.ArgumentTypeError(f"{value} is more than {L.MAX_GRID} points a side")
        return value

    def steps(text: str) -> int:
        value = _whole(10)(text)
        if value > L.MAX_LR_STEPS:
            raise argparse.ArgumentTypeError(f"{value} is more than {L.MAX_LR_STEPS:,} steps")
        return value

    p = sub.add_parser(
        "landscape", parents=[common], help="the training loss around a model's final weights",
        description="The training loss of a model on a 2-D grid around its final weights, "
                    "along two filter-normalised random directions (Li et al. 2018) or the top "
                    "two principal directions of its training path (which is drawn on it). The "
                    "training rows are the ones the model's settings pick from --data; for pca "
                    "the model's settings are trained again on them with the path kept, and the "
                    "result is checked to be the model.")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--data", help="the labelled CSV the model was trained on (default: the bundled data set)")
    p.add_argument("--grid", type=grid, default=L.DEFAULT_GRID,
                   help=f"points a side, 2 to {L.MAX_GRID}; odd puts one on the final weights "
                        f"(default {L.DEFAULT_GRID})")
    p.add_argument("--extent", type=_positive,
                   help="alpha and beta run from -EXTENT to EXTENT (default: "
                        f"{L.DEFAULT_EXTENT:g} for random directions, the path's reach x "
                        f"{L.PCA_MARGIN:g} on each axis for pca)")
    p.add_argument("--directions", choices=L.DIRECTIONS, default=L.DIRECTIONS[0],
                   help="filter-normalised random directions, or the training path's principal "
                        f"directions (default {L.DIRECTIONS[0]})")
    p.add_argument("--seed", type=_whole(0), default=0, help="seed of the random directions (default 0)")
    p.add_argument("--validation", action="store_true",
                   help="also the validation rows' loss on the same grid (JSON validation_grid; "
                        "a second panel in the picture)")
    p.add_argument("-o", "--output", metavar="PNG", help="write the picture to this PNG file")
    p.add_argument("--log", action="store_true", help="colour the picture on a log scale of the loss")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.set_defaults(func=cmd_landscape)

    p = sub.add_parser(
        "lr-find", parents=[common], help="learning-rate range test: suggest a learning rate",
        description="Smith's learning-rate range test: from the initial weights of these settings, "
                    "full-batch updates whose rate grows exponentially from --min-lr to --max-lr, "
                    "the training loss recorded before each; the run stops once the smoothed loss "
                    f"passes {L.LR_EXPLODE:g}x its lowest. Suggested: {L.SUGGESTION_RULE}. The "
                    "rows are the training rows 'bcdesktop train' would use with the same --seed.")
    p.add_argument("--data", help="labelled CSV (default: the bundled UCI data set)")
    p.add_argument("--hidden", type=_hidden, help="hidden layer sizes, e.g. 15 or 15,8 (default 15)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default adam")
    p.add_argument("--init", choices=INITS, help="weight initialisation (default he)")
    p.add_argument("--seed", type=_whole(0), help="seed of the split and the initialisation (default 0)")
    p.add_argument("--l2", type=_float, help="L2 weight decay (default: the optimizer's, as train)")
    p.add_argument("--min-lr", type=_positive, default=L.LR_MIN, help=f"first rate (default {L.LR_MIN:g})")
    p.add_argument("--max-lr", type=_positive, default=L.LR_MAX, help=f"last rate (default {L.LR_MAX:g})")
    p.add_argument("--steps", type=steps, default=L.LR_STEPS,
                   help=f"updates from the first rate to the last (default {L.LR_STEPS})")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.set_defaults(func=cmd_lr_find)


def _retrain_with_path(rows: ModelRows, bar):
    """A network trained with the settings on the rows, its path kept: (scaler, result)."""
    from bcdesktop import landscape as L
    from bcdesktop.model import Scaler
    from bcdesktop.training import train

    scaler = Scaler.fit(rows.X_train)
    config = rows.config
    stop = {} if rows.X_stop is None else {"X_val": scaler.transform(rows.X_stop), "y_val": rows.y_stop}
    result = train(scaler.transform(rows.X_fit), rows.y_fit, config, **stop,
                   progress=lambda p: bar.update(p.iteration, f"retraining, loss {p.train_loss:.6f}"),
                   path_every=L.path_every_for(config.iterations))
    return scaler, result



# ---------------------------------------------------------------- the picture
def check_picture_path(out, protect=()) -> Path:
    """UserError unless a picture may be written at ``out``: never a file shipped with
    the app nor one of ``protect`` (the data, the model), never an existing file that is
    not a PNG picture, never into a missing folder."""
    from bcdesktop.resources import is_bundled_file, same_file

    out = Path(out)
    if is_bundled_file(out):
        raise UserError(f"-o {out} is a file shipped with bcdesktop, which is never written over; "
                        "choose another name or folder.")
    for what, other in protect:
        if other is not None and same_file(out, other):
            raise UserError(f"-o {out} is the {what}; choose another file name for the picture.")
    if out.is_dir():
        raise UserError(f"-o {out} is a folder; give a file name such as {out / 'landscape.png'}.")
    if not out.parent.is_dir():
        raise UserError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    if out.exists():
        try:
            with open(out, "rb") as fh:
                head = fh.read(len(PNG_SIGNATURE))
        except OSError:
            head = b""
        if head != PNG_SIGNATURE:
            raise UserError(f"-o {out} exists and is not a PNG picture; refusing to overwrite it. "
                            "Choose another file name.")
    return out


def write_picture(land, out, *, log: bool = False, title: str = "", line=None, protect=()) -> Path:
    """Draw ``land`` (a :class:`~bcdesktop.landscape.Landscape`) into the PNG ``out``:
    filled contours, contour lines, a colour bar (log scale with ``log``), the final
    weights marked and, for pca directions, the path; the validation loss in a second
    panel when the landscape has it. Written atomically (a temporary file in the same
    folder, then ``os.replace``); ``protect`` as :func:`check_picture_path`'s."""
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    from bcdesktop.resources import atomic_writer, protected_paths

    out = check_picture_path(out, protect)
    panels = [("training loss", land.losses, land.centre_loss)]
    if land.val_losses is not None:
        panels.append(("validation loss", land.val_losses, land.val_centre_loss))
    fig = Figure(figsize=(6.4 * len(panels), 5.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for k, (name, Z, centre) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        Zf = np.where(np.isfinite(Z), Z, np.nan)
        low, high = float(np.nanmin(Zf)), float(np.nanmax(Zf))
        if log:
            low = max(low, 1e-12)
            levels = np.geomspace(low, max(high, low * 1.0001), 31)
            norm = LogNorm(vmin=levels[0], vmax=levels[-1])
        else:
            levels = np.linspace(low, max(high, low + 1e-12), 31)
            norm = None
        filled = ax.contourf(land.alphas, land.betas, Zf, levels=levels, norm=norm, cmap="viridis",
                             extend="neither")
        ax.contour(land.alphas, land.betas, Zf, levels=levels[::3], norm=norm, colors="black",
                   linewidths=0.5, alpha=0.6)
        bar = fig.colorbar(filled, ax=ax)
        bar.ax.minorticks_off()
        ticks = levels[::6]
        bar.set_ticks(ticks, labels=[f"{t:.3g}" for t in ticks])
        bar.set_label(name + (" (log scale)" if log else ""))
        if land.path is not None:
            ax.plot(land.path[:, 0], land.path[:, 1], color="white", lw=1.4, marker=".", ms=4,
                    markevery=max(1, len(land.path) // 25), label="training path")
            ax.plot(*land.path[0], marker="o", ms=8, color="white", mec="black", label="start")
        ax.plot(0, 0, marker="*", ms=14, color="red", mec="black",
                label=f"final weights ({centre:.4g})")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
        if land.directions == "pca":
            e = land.explained
            ax.set_xlabel(f"first principal direction ({e[0]:.1%} of the path's variance)")
            ax.set_ylabel(f"second principal direction ({e[1]:.1%})")
        else:
            ax.set_xlabel(f"alpha (random direction 1, seed {land.seed})")
            ax.set_ylabel("beta (random direction 2)")
        ax.set_title(f"{name.capitalize()} around the final weights" + (f"\n{title}" if title else ""),
                     fontsize=10)
    buf = io.BytesIO()
    fig.canvas.print_png(buf)
    shipped = protected_paths()
    try:
        with atomic_writer(out, ".png", overwrite=True,
                           protect=[*(p for _, p in protect if p is not None), *shipped]) as fh:
            fh.write(buf.getvalue())
    except OSError as exc:
        raise UserError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    return out


# ---------------------------------------------------------------- commands
def cmd_landscape(args) -> int:
    """``bcdesktop landscape``: the grid (and the 1-D line from the initial weights) of a
    model; see :func:`add_parsers` for the flags."""
    import numpy as np

    from bcdesktop import cliutil as cli
    from bcdesktop import landscape as L
    from bcdesktop.model import MLP
    from bcdesktop.resources import bundled_data_path, default_model_path

    data_path = args.data if args.data is not None else bundled_data_path()
    model_path = args.model if args.model is not None else default_model_path()
    protect = (("data file", data_path), ("model file", model_path))
    if args.output:
        check_picture_path(args.output, protect)   # before any work
    bundle = cli._load_model(args.model)
    dataset = cli._load_data(args.data)
    rows = model_rows(bundle, dataset)
    config, notes = rows.config, list(rows.notes)
    network, scaler, which = bundle.network, bundle.scaler, "model"
    path = path_iterations = None
    if args.directions == "pca":
        bar = cli._Progress(config.iterations, "retraining", enabled=not args.json)
        fresh_scaler, result = _retrain_with_path(rows, bar)
        bar.close()
        path, path_iterations = path_to_final(result)
        fresh = result.model
        same_shape = fresh.theta.shape == network.theta.shape
        gap = float(np.abs(fresh.theta - network.theta).max()) if same_shape else float("inf")
        scaler_gap = float(max(np.abs(fresh_scaler.data_min - scaler.data_min).max(),
                               np.abs(fresh_scaler.data_max - scaler.data_max).max()))
        if gap <= 1e-9 and scaler_gap <= 1e-9:
            # the model itself at the centre: the path moved by the (<= 1e-9) difference,
            # so its last point is exactly the model's weights
            path = (path - fresh.theta) + network.theta
        else:
            why = (f"its weights differ from them by up to {gap:.3g}" if same_shape else
                   "its network has another shape")
            notes.append(f"training the model's settings again on {dataset.path} did not give the model "
                         f"({why}): showing the landscape of that retrained network instead, "
                         "which the model file cannot give a path for")
            network, scaler, which = fresh, fresh_scaler, "retrained"
    X_fit = scaler.transform(rows.X_fit)
    X_val = y_val = None
    if args.validation:
        if rows.X_val is None:
            raise UserError("--validation: the model's settings leave no validation rows in these data.")
        X_val, y_val = scaler.transform(rows.X_val), rows.y_val
    total_bar = cli._Progress(1.0, "landscape", enabled=not args.json)
    land = L.loss_grid(network, X_fit, rows.y_fit, directions=args.directions, seed=args.seed,
                       path=path, path_iterations=path_iterations, grid=args.grid, extent=args.extent,
                       X_val=X_val, y_val=y_val,
                       progress=lambda done, total: total_bar.update(done / total, f"{done:,}/{total:,} points"))
    total_bar.update(1.0, force=True)
    total_bar.close()
    initial = path[0] if path is not None else None
    if initial is None:
        start = MLP(network.n_inputs, config.hidden, config.init, config.seed)
        initial = start.theta if start.theta.shape == network.theta.shape else None
    line = None if initial is None else L.loss_line(initial, network, X_fit, rows.y_fit)
    if initial is None:
        notes.append("the model's settings do not give its network's shape: no line from the initial weights")
    picture = None
    if args.output:
        picture = write_picture(land, args.output, log=args.log, protect=protect,
                                title=f"{_network_name(network)}, model {bundle.model_id[:12]}"
                                      + (" (retrained)" if which == "retrained" else ""))
    for note in notes:
        print(f"note: {cli._printable(note)}", file=sys.stderr)
    if args.json:
        cli._print_json({
            **land.to_dict(),
            "grid_points": int(args.grid),
            "log_scale": bool(args.log),
            "model": bundle.model_id,
            "model_path": str(model_path),
            "network": which,
            "data": {"path": str(dataset.path), "sha256": getattr(dataset, "sha256", None),
                     "usable": int(dataset.n_usable)},
            "line": None if line is None else line.to_dict(),
            "picture": None if picture is None else str(picture),
            "notes": notes,
        })
        return 0
    _landscape_text(land, line, network, bundle, which, picture, cli)
    return 0


def _network_name(network) -> str:
    return "-".join(map(str, network.layer_sizes)) + " network"


def _landscape_text(land, line, network, bundle, which, picture, cli) -> None:
    import numpy as np

    e1, e2 = land.extent
    where = (f"random directions (seed {land.seed})" if land.directions == "random" else
             "the training path's principal directions")
    cli._out(f"landscape: {len(land.betas)} x {len(land.alphas)} grid of the training loss over "
             f"{land.rows} rows around the {'retrained network' if which == 'retrained' else 'model'} "
             f"{bundle.model_id[:12]} ({_network_name(network)}), along {where}; "
             f"alpha in +-{e1:.4g}, beta in +-{e2:.4g} ({land.seconds:.2f} s)")
    i, j = np.unravel_index(np.nanargmin(land.losses), land.losses.shape)
    cli._out(f"centre (the final weights' training loss): {land.centre_loss:.6f}; lowest "
             f"{land.losses[i, j]:.6f} at alpha {land.alphas[j]:.4g}, beta {land.betas[i]:.4g}; "
             f"highest {np.nanmax(land.losses):.6f}")
    if land.val_losses is not None:
        cli._out(f"validation loss at the centre: {land.val_centre_loss:.6f} ({land.val_rows} rows); "
                 f"lowest on the grid {np.nanmin(land.val_losses):.6f}")
    if land.path is not None:
        e = land.explained
        cli._out(f"path: {len(land.path)} points, iterations {int(land.path_iterations[0])} to "
                 f"{int(land.path_iterations[-1])}, starting at ({land.path[0, 0]:.4g}, {land.path[0, 1]:.4g}); "
                 f"the directions explain {e[0]:.1%} and {e[1]:.1%} of its variance")
    if line is not None:
        k = int(np.nanargmin(line.losses))
        cli._out(f"line from the initial (alpha 0) to the final weights (alpha 1): loss "
                 f"{line.initial_loss:.6f} -> {line.final_loss:.6f}; lowest {line.losses[k]:.6f} at "
                 f"alpha {line.alphas[k]:.3g}")
    if picture is not None:
        cli._out(f"wrote {cli._printable(str(picture))}")


def cmd_lr_find(args) -> int:
    """``bcdesktop lr-find``: the learning-rate range test on the training rows ``train``
    would use with these settings."""
    import numpy as np

    from bcdesktop import cliutil as cli
    from bcdesktop import evaluation
    from bcdesktop import landscape as L
    from bcdesktop.model import Scaler
    from bcdesktop.training import TrainConfig

    values = {"hidden": args.hidden, "optimizer": args.optimizer, "init": args.init,
              "seed": args.seed, "l2": args.l2}
    config = TrainConfig.from_dict({k: v for k, v in values.items() if v is not None})
    if not args.min_lr < args.max_lr:
        raise UserError(f"--min-lr {args.min_lr:g} must be below --max-lr {args.max_lr:g}.")
    dataset = cli._load_data(args.data)
    if dataset.y is None:
        raise UserError(f"{dataset.path} has no class column; the range test needs labelled rows.")
    y = np.asarray(dataset.y).astype(np.int8)
    train_idx, _ = evaluation.split_indices(y, evaluation.SPLITS[0], evaluation.DEFAULT_VAL_FRACTION,
                                            evaluation.DEFAULT_TRAIN_ROWS, config.seed)
    X_tr, y_tr = dataset.X[train_idx], y[train_idx]
    scaler = Scaler.fit(X_tr)
    bar = cli._Progress(args.steps, "range test", enabled=not args.json)
    found = L.lr_find(scaler.transform(X_tr), y_tr, config, min_lr=args.min_lr, max_lr=args.max_lr,
                      steps=args.steps, progress=lambda done, total: bar.update(done))
    bar.update(args.steps, force=True)
    bar.close()
    if args.json:
        cli._print_json({**found.to_dict(),
                         "data": {"path": str(dataset.path), "sha256": getattr(dataset, "sha256", None),
                                  "usable": int(dataset.n_usable)}})
        return 0
    stopped = {"completed": "reached the last rate",
               "exploded": f"stopped: the smoothed loss passed {L.LR_EXPLODE:g}x its lowest",
               "diverged": "stopped: the loss stopped being a finite number"}[found.stopped]
    cli._out(f"learning-rate range test: {config.optimizer}, "
             f"{'-'.join(map(str, (9, *config.hidden, 1)))} network, init {config.init}, seed {config.seed}, "
             f"{found.rows} training rows; rates {found.rates[0]:.3g} to {found.rates[-1]:.3g} over "
             f"{len(found.rates)} steps ({stopped})")
    shown = np.unique(np.linspace(0, len(found.rates) - 1, min(12, len(found.rates))).round().astype(int))
    for k in shown:
        cli._out(f"  rate {found.rates[k]:10.3g}  loss {found.losses[k]:.6f}  smoothed {found.smoothed[k]:.6f}")
    cli._out(f"lowest smoothed loss at rate {found.minimum_rate:.3g} (a tenth of it: {found.minimum_rate / 10:.3g})")
    cli._out(f"suggested learning rate: {found.suggested:.3g} ({L.SUGGESTION_RULE})")
    return 0
