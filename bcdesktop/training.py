"""The training loop: optimizers, learning-rate schedules, early stopping, cancel, progress.

Training is full-batch. Identical training rows are first merged into one weighted
row (the Wisconsin data repeats many score vectors), which makes each iteration
cheaper and leaves the loss, a weighted mean, the same as the plain mean over the
original rows. Every parameter lives in one flat vector (``MLP.theta``), so each
optimizer updates all layers with a handful of in-place operations.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .errors import TrainingDiverged, UserError
from .model import (
    HIDDEN_ACTIVATIONS,
    INITS,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_UNITS,
    MAX_PARAMETERS,
    MLP,
    Pass,
    _check_targets,
    _check_X,
    hidden_problem,
    n_parameters,
)

__all__ = ["TrainConfig", "TrainProgress", "TrainResult", "train", "learning_rates",
           "merge_duplicates", "merged_weights", "Optimizer", "OPTIMIZERS", "SCHEDULES",
           "HIDDEN_ACTIVATIONS", "dropout_masks",
           # the network's limits, kept in model.py, as the training settings enforce them
           "MAX_HIDDEN_LAYERS", "MAX_HIDDEN_UNITS", "MAX_PARAMETERS", "n_parameters"]

if TYPE_CHECKING:  # only for the annotations: numpy.typing is slow to import
    import threading

    from numpy.typing import ArrayLike

OPTIMIZERS: tuple[str, ...] = ("gd", "momentum", "adam", "adagrad", "rmsprop")
# L2 weight decay when a config does not name one: Adam's was chosen by 10x5
# duplicate-aware cross-validation (AUC and Brier improve on every fold seed tried);
# plain and momentum descent keep the article's none.
# AdaGrad and RMSProp (not cross-validated) have none either.
DEFAULT_L2: dict[str, float] = {"gd": 0.0, "momentum": 0.0, "adam": 0.003, "adagrad": 0.0,
                                "rmsprop": 0.0}
SCHEDULES: tuple[str, ...] = ("constant", "exponential", "step", "cosine", "onecycle", "sgdr",
                              "inverse_time")
MOMENTUM = 0.9                           # momentum coefficient
# Limits of what the app trains, checked up front so that a typing slip fails at once
# with a line naming the limit, not after minutes, with a MemoryError, or with a model
# file the loader would refuse. The default network has 166 parameters and 2000 updates.
# The network's size limits (MAX_HIDDEN_LAYERS, MAX_HIDDEN_UNITS, MAX_PARAMETERS) live in
# model.py beside parse_hidden, which the command line and the window share.
MAX_ITERATIONS = 10_000_000              # one learning rate an update is kept: 80 MB at most
MAX_SEED = 2**32 - 1                     # scikit-learn's splitters take seeds up to this
MAX_CURVE_POINTS = 1_000_000             # loss-curve entries (about 150 bytes each) a run keeps
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
ADAGRAD_EPS = 1e-8
RMSPROP_RHO, RMSPROP_EPS = 0.9, 1e-8    # Hinton's lecture 6e: a moving average over ~10 updates
# Settings added after the first model files: TrainConfig.to_dict() leaves each out while
# it has this value, so the settings of a file (and of a run) from before stay as they were.
LATER_DEFAULTS: dict[str, object] = {"activation": "relu", "dropout": 0.0, "restart_period": 500,
                                     "restart_mult": 1, "inverse_decay": 9.0}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run, checked on creation (UserError naming the setting).

    Attributes
    ----------
    hidden : tuple of int
        Hidden layer sizes.
    init : {"article", "he", "xavier"}
    optimizer : {"gd", "momentum", "adam", "adagrad", "rmsprop"}
        Plain gradient descent (the article's), momentum 0.9, Adam, AdaGrad or
        RMSProp (decay 0.9); see :class:`Optimizer`.
    lr : float
        Learning rate (peak rate for the ``onecycle`` schedule).
    iterations : int
        Number of full-batch updates.
    schedule : {"constant", "exponential", "step", "cosine", "onecycle", "sgdr", "inverse_time"}
        See :func:`learning_rates`.
    l2 : float or None
        Weight decay: ``l2 / 2 * sum(W ** 2)`` over the weights (not the biases)
        is added to the loss being minimised. None (the default) takes the
        optimizer's default, :data:`DEFAULT_L2`: 0.003 for Adam (chosen with the
        other defaults by cross-validation, bench/README.md) and 0 for gd and
        momentum, so the article's plain gradient descent stays the article's.
    patience : int
        Early stopping: stop after this many iterations without a lower
        validation loss and restore the best weights; 0 turns it off.
    seed : int
        Seed of the initialisation.
    log_every : int
        Progress and loss-curve entries every this many iterations.
    activation : {"relu", "leaky_relu", "tanh"}
        The hidden units' activation (:data:`~bcdesktop.model.HIDDEN_ACTIVATIONS`).
    dropout : float
        Inverted dropout of hidden units while training, ``0 <= dropout < 1``: each
        update drops each hidden unit of each (merged) row with this probability and
        scales the kept ones by ``1 / (1 - dropout)``; the masks come from a generator
        seeded by ``seed`` (:func:`dropout_masks`). Never at prediction, nor in the
        losses recorded. 0 (the default) turns it off.
    restart_period : int
        ``sgdr``: updates in the first cycle (default 500).
    restart_mult : int
        ``sgdr``: each cycle is this many times as long as the one before (default 1).
    inverse_decay : float
        ``inverse_time``: the rate is ``lr / (1 + inverse_decay * t / iterations)``,
        ``lr / 10`` at the end with the default 9.

    The last five leave :meth:`to_dict` while they have their defaults
    (:data:`LATER_DEFAULTS`), so the settings of earlier runs and files are unchanged.
    """

    hidden: tuple[int, ...] = (15,)
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 0.002  # chosen by 10x5 duplicate-aware CV (bench/README.md); 0.01 overfits
    iterations: int = 2000
    schedule: str = "constant"
    l2: float | None = None  # None: DEFAULT_L2[optimizer]
    patience: int = 0
    seed: int = 0
    log_every: int = 500
    activation: str = "relu"
    dropout: float = 0.0
    restart_period: int = 500
    restart_mult: int = 1
    inverse_decay: float = 9.0

    def __post_init__(self) -> None:
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or not hidden or not all(
                _is_int(h) and h > 0 for h in hidden):
            raise UserError(
                f"Setting 'hidden' must list one or more positive layer sizes such as 15 or "
                f"16,8; got {self.hidden!r}.")
        hidden = tuple(int(h) for h in hidden)
        if (problem := hidden_problem(hidden)) is not None:
            raise UserError(f"Setting 'hidden': {problem}.")
        object.__setattr__(self, "hidden", hidden)
        for name, choices in (("init", INITS), ("optimizer", OPTIMIZERS),
                              ("schedule", SCHEDULES), ("activation", HIDDEN_ACTIVATIONS)):
            if getattr(self, name) not in choices:
                raise UserError(f"Setting '{name}' must be one of {', '.join(choices)}; "
                                f"got {getattr(self, name)!r}.")
        if not _is_number(self.lr) or not self.lr > 0:
            raise UserError(f"Setting 'lr' (learning rate) must be a number above 0; "
                            f"got {self.lr!r}.")
        if self.l2 is None:
            object.__setattr__(self, "l2", DEFAULT_L2[self.optimizer])
        if not _is_number(self.l2) or self.l2 < 0:
            raise UserError(f"Setting 'l2' must be a number >= 0; got {self.l2!r}.")
        for name, low, high in (("iterations", 1, MAX_ITERATIONS), ("log_every", 1, None),
                                ("patience", 0, None), ("seed", 0, MAX_SEED),
                                ("restart_period", 1, MAX_ITERATIONS), ("restart_mult", 1, 1000)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise UserError(f"Setting '{name}' must be a whole number >= {low}; "
                                f"got {value!r}.")
            if high is not None and value > high:
                raise UserError(f"Setting '{name}' must be at most {high:,}; got {value:,}.")
        if self.iterations // self.log_every > MAX_CURVE_POINTS:
            least = -(-self.iterations // MAX_CURVE_POINTS)
            raise UserError(f"Setting 'log_every' must be at least {least:,} for {self.iterations:,} "
                            f"iterations: the loss curve keeps at most {MAX_CURVE_POINTS:,} points.")
        if not _is_number(self.dropout) or not 0 <= self.dropout < 1:
            raise UserError(f"Setting 'dropout' must be a number from 0 up to (not including) 1, "
                            f"the fraction of hidden units dropped; got {self.dropout!r}.")
        if not _is_number(self.inverse_decay) or self.inverse_decay < 0:
            raise UserError(f"Setting 'inverse_decay' must be a number >= 0; got {self.inverse_decay!r}.")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "l2", float(self.l2))
        object.__setattr__(self, "dropout", float(self.dropout))
        object.__setattr__(self, "inverse_decay", float(self.inverse_decay))

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the settings; the settings of :data:`LATER_DEFAULTS`
        only where they differ from their defaults."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        for name, default in LATER_DEFAULTS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def setting_names(cls) -> frozenset[str]:
        """The names of every setting, those :meth:`to_dict` leaves out at their defaults
        too: the keys to keep of a model's ``settings`` (which also say how the data were
        split) before :meth:`from_dict`."""
        return frozenset(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of_model(cls, settings: dict | None) -> TrainConfig:
        """The config a model was trained with, from its ``settings`` (which also say how
        its data were split: those keys are left out, see :meth:`setting_names`)."""
        known = cls.setting_names()
        return cls.from_dict({k: v for k, v in (settings or {}).items() if k in known})

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Config from a dict such as :meth:`to_dict` gives; missing keys take defaults.

        Raises UserError for an unknown key or a bad value, naming the setting.
        """
        if not isinstance(d, dict):
            raise UserError(f"Training settings must be a mapping of names to values; "
                            f"got {type(d).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"Unknown training setting {unknown[0]!r}; the settings are "
                            f"{', '.join(sorted(known))}.")
        return cls(**d)


class TrainProgress(NamedTuple):
    """One progress report: losses before update ``iteration`` (cross-entropy, no L2)."""

    iteration: int
    iterations: int
    train_loss: float
    val_loss: float | None


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : MLP
        The trained network (the best one by validation loss when early stopping).
    loss_curve : list of (int, float, float or None)
        ``(iteration, train_loss, val_loss)`` every ``log_every`` iterations from 0,
        and the last iteration reached.
    iterations_run : int
        Updates actually made.
    best_iteration : int
        Updates made to the returned weights (``iterations_run`` unless early
        stopping restored earlier weights).
    stopped : {"completed", "early_stopped", "cancelled"}
    seconds : float
        Wall-clock time of the loop.
    path : ndarray (n_points, n_parameters) or None
        Only when :func:`train` was given ``path_every``: the weights (``theta``) before
        update ``i`` for every ``i`` in :attr:`path_iterations`; else None.
    path_iterations : ndarray (n_points,) of int or None
        Every ``path_every``-th iteration from 0, and the last iteration reached.
    """

    model: MLP
    loss_curve: list[tuple[int, float, float | None]]
    iterations_run: int
    best_iteration: int
    stopped: str
    seconds: float
    path: np.ndarray | None = dataclasses.field(default=None, repr=False)
    path_iterations: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        last = self.loss_curve[-1] if self.loss_curve else None
        return (f"TrainResult({self.model!r}, stopped={self.stopped!r}, "
                f"iterations_run={self.iterations_run}, best_iteration={self.best_iteration}, "
                f"last={last}, seconds={self.seconds:.3f})")


def learning_rates(config: TrainConfig) -> np.ndarray:
    """Learning rate of each iteration, shape (iterations,).

    ``constant``: ``lr``. ``exponential``: decays smoothly to ``lr / 100`` at the
    end. ``step``: halves after each quarter of the run. ``cosine``: half a cosine
    from ``lr`` down to 0. ``onecycle``: rises linearly from ``lr / 25`` to ``lr``
    over the first 30 % of the run, then follows a cosine down to ``lr / 10**4``
    (the defaults of PyTorch's OneCycleLR). ``sgdr``: cosine with warm restarts
    (Loshchilov & Hutter 2017, PyTorch's CosineAnnealingWarmRestarts with a least rate
    of 0): cycles of ``restart_period``, then ``restart_mult`` times as long each, every
    one a half cosine from ``lr`` towards 0, ``lr * (1 + cos(pi * t_cur / T_i)) / 2``
    at ``t_cur`` updates into a cycle of ``T_i``. ``inverse_time``: 1/t decay,
    ``lr / (1 + inverse_decay * t / iterations)``.
    """
    T, lr = config.iterations, config.lr
    t = np.arange(T, dtype=np.float64)
    if config.schedule == "constant":
        return np.full(T, lr)
    if config.schedule == "exponential":
        return lr * 0.01 ** (t / T)
    if config.schedule == "step":
        return lr * 0.5 ** np.floor(4 * t / T)
    if config.schedule == "cosine":
        return lr * 0.5 * (1 + np.cos(np.pi * t / T))
    if config.schedule == "inverse_time":
        return lr / (1 + config.inverse_decay * t / T)
    if config.schedule == "sgdr":
        if config.restart_mult == 1:          # cycles of one length
            period = config.restart_period
            return lr * 0.5 * (1 + np.cos(np.pi * (t % period) / period))
        t_cur, length = np.empty(T), np.empty(T)
        start, period = 0, config.restart_period
        while start < T:                      # at most log2(T) cycles
            end = min(T, start + period)
            t_cur[start:end] = t[start:end] - start
            length[start:end] = period
            start, period = end, period * config.restart_mult
        return lr * 0.5 * (1 + np.cos(np.pi * t_cur / length))
    warm = max(1, round(0.3 * T))             # onecycle
    start, end = lr / 25, lr / 1e4
    up = start + (lr - start) * t[:warm] / warm
    down = end + (lr - end) * 0.5 * (1 + np.cos(np.pi * (t[warm:] - warm) / max(1, T - warm)))
    return np.concatenate([up, down])


def merge_duplicates(X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge identical rows of ``X`` into one row each, with summed weight.

    A merged row's target is the weighted mean label of its rows, so for any
    network ``sum_i w_i * loss(z, y_i) == W * loss(z, ybar)`` with ``W = sum_i w_i``:
    the weighted-mean cross-entropy and its gradient do not change.

    Returns
    -------
    X_unique : ndarray (n_unique, n_features)
    target : ndarray (n_unique,)
    weight : ndarray (n_unique,)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    X_unique, inverse = np.unique(X, axis=0, return_inverse=True)
    weight, target = merged_weights(inverse.reshape(-1), w, y, len(X_unique))
    keep = weight > 0
    return X_unique[keep], target[keep], weight[keep]


def merged_weights(inverse: np.ndarray, w: np.ndarray, y: np.ndarray, n_unique: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Summed weight and weighted mean label of each distinct row, shape (n_unique,) each.

    ``inverse[i]`` is the distinct row of row ``i``; a distinct row without weight gets
    weight 0 and target 0. :func:`merge_duplicates` keeps the rows with weight, the
    batched core (:mod:`bcdesktop.batched`) keeps every row and one such pair a network.
    """
    weight = np.bincount(inverse, weights=w, minlength=n_unique)
    target = np.bincount(inverse, weights=w * y, minlength=n_unique)
    np.divide(target, weight, out=target, where=weight > 0)
    target[weight == 0] = 0.0
    return weight, target


def train(X_train: ArrayLike, y_train: ArrayLike, config: TrainConfig, *,
          X_val: ArrayLike | None = None, y_val: ArrayLike | None = None,
          sample_weight: ArrayLike | None = None,
          progress: Callable[[TrainProgress], object] | None = None,
          cancel: threading.Event | None = None,
          path_every: int | None = None) -> TrainResult:
    """Train a fresh network on scaled data with full-batch updates.

    Parameters
    ----------
    X_train : array-like, shape (n_samples, n_features)
        Scaled training rows.
    y_train : array-like, shape (n_samples,)
        0 benign, 1 malignant.
    config : TrainConfig
    X_val, y_val : array-like, optional
        Validation rows, needed when ``config.patience > 0``.
    sample_weight : array-like, shape (n_samples,), optional
        Weight of each training row; the loss is the weighted mean.
    progress : callable, optional
        Called with a :class:`TrainProgress` every ``log_every`` iterations from 0
        and once at the end.
    cancel : threading.Event, optional
        When set, training stops after the current iteration and keeps its
        weights (``stopped == "cancelled"``).
    path_every : int, optional
        Keep the training path: the weights every this many iterations from 0 and at
        the last iteration reached (``TrainResult.path``; pass ``config.log_every``
        for the weights of every logged iteration). Changes no number of the run.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDiverged
        When the loss or the weights stop being finite numbers.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    X_train = np.asarray(X_train, dtype=np.float64)
    if X_train.ndim != 2:
        raise ValueError(f"X_train must be 2-D (n_samples, n_features), got {X_train.shape}.")
    n_inputs = X_train.shape[1]
    X_train = _check_X(X_train, n_inputs)
    y_train, _ = _check_targets(y_train, sample_weight, len(X_train))
    if (X_val is None) != (y_val is None):
        raise ValueError("Give both X_val and y_val, or neither.")
    if X_val is not None:
        X_val = _check_X(X_val, n_inputs)
        y_val, _ = _check_targets(y_val, None, len(X_val))
    if config.patience and X_val is None:
        raise UserError("Early stopping (patience > 0) needs validation rows; "
                        "use a validation split or set patience to 0.")

    model = MLP(n_inputs, config.hidden, config.init, config.seed, config.activation)
    X_merged, target, weight = merge_duplicates(X_train, y_train, sample_weight)
    train_pass = Pass(model, X_merged, target, weight)
    draw_masks = dropout_masks(config, len(X_merged)) if config.dropout else None
    val_pass = None if X_val is None else Pass(model, *merge_duplicates(X_val, y_val))
    optimizer = Optimizer(config.optimizer, model.theta.shape)
    decay = config.l2 * model.weight_mask if config.l2 else None
    rates = learning_rates(config)  # an array: a list of 10 million floats would take 320 MB
    curve: list[tuple[int, float, float | None]] = []
    T, log_every = config.iterations, config.log_every
    best_theta, best_val, best_iteration = np.empty_like(model.theta), math.inf, T
    stopped, started = "completed", time.perf_counter()
    if path_every is not None and not (_is_int(path_every) and path_every >= 1):
        raise ValueError(f"path_every must be a whole number >= 1, got {path_every!r}.")
    path: list[np.ndarray] = []
    path_iterations: list[int] = []

    def record(i: int, train_loss: float, val_loss: float | None) -> None:
        curve.append((i, train_loss, val_loss))
        if progress is not None:
            progress(TrainProgress(i, T, train_loss, val_loss))

    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(T + 1):                # i = updates made so far
            if path_every is not None and i % path_every == 0:
                path.append(model.theta.copy())
                path_iterations.append(i)
            train_pass.forward()
            if not train_pass.logits_finite():
                raise diverged_error(i, config.lr, train_pass.loss())
            logged = i % log_every == 0 or i == T
            val_loss = None
            if val_pass is not None and (logged or config.patience):
                val_pass.forward()
                val_loss = val_pass.loss()
            if logged:
                record(i, train_pass.loss(), val_loss)
            if config.patience:
                if val_loss < best_val:
                    best_val, best_iteration = val_loss, i
                    np.copyto(best_theta, model.theta)
                elif i - best_iteration >= config.patience:
                    stopped = "early_stopped"
                    break
            if i == T:
                break
            if cancel is not None and cancel.is_set():
                stopped = "cancelled"
                break
            if draw_masks is not None:          # the thinned network's gradient
                train_pass.forward(draw_masks())
            train_pass.backward()
            optimizer.step(i, float(rates[i]), model.theta, train_pass.grad, decay)

    if path_every is not None and path_iterations[-1] != i:
        path.append(model.theta.copy())
        path_iterations.append(i)
    if curve[-1][0] != i:                     # the last iteration reached
        if val_pass is not None:
            val_pass.forward()
        record(i, train_pass.loss(), None if val_pass is None else val_pass.loss())
    if config.patience and best_iteration != i:
        np.copyto(model.theta, best_theta)
    else:
        best_iteration = i
    if not model.is_finite():
        raise diverged_error(i, config.lr)
    result = TrainResult(model, curve, i, best_iteration, stopped, time.perf_counter() - started)
    if path_every is not None:
        result.path, result.path_iterations = np.array(path), np.array(path_iterations)
    return result


DROPOUT_STREAM = 0xD5                     # keeps the masks' stream apart from the init's


def dropout_masks(config: TrainConfig, m: int) -> Callable[[], list[np.ndarray]]:
    """The dropout masks of ``config``'s network over ``m`` (merged) training rows: a
    function that gives the next update's masks, one (n_units, m) array a hidden layer,
    0 for a dropped unit and ``1 / (1 - dropout)`` for a kept one.

    Each call draws ``rng.random((n_units, m))`` for each hidden layer in turn, from
    ``np.random.default_rng([config.seed, DROPOUT_STREAM])``: the same settings give the
    same masks, so a run with dropout is reproducible. The arrays are reused.
    """
    p = config.dropout
    rng = np.random.default_rng([config.seed, DROPOUT_STREAM])
    draws = [np.empty((n, m)) for n in config.hidden]
    masks = [np.empty((n, m)) for n in config.hidden]
    keep_scale = 1.0 / (1.0 - p)

    def draw() -> list[np.ndarray]:
        for u, mask in zip(draws, masks):
            rng.random(out=u)
            np.greater_equal(u, p, out=mask)
            np.multiply(mask, keep_scale, out=mask)
        return masks

    return draw


class Optimizer:
    """The update rules of plain descent, momentum, Adam, AdaGrad and RMSProp, in place
    on ``theta``.

    With ``g`` the gradient (plus the L2 term) and ``lr`` the update's rate:

    - gd: ``theta -= lr g``; momentum: ``v = 0.9 v - lr g``, ``theta += v``;
    - adam: Kingma & Ba's, beta 0.9 and 0.999, eps 1e-8, bias-corrected;
    - adagrad (Duchi et al. 2011): ``G += g**2``, ``theta -= lr g / (sqrt(G) + 1e-8)``;
    - rmsprop (Hinton): ``v = 0.9 v + 0.1 g**2``, ``theta -= lr g / (sqrt(v) + 1e-8)``.

    One class for one network (``theta`` of shape (n_parameters,), a float rate) and
    for K networks trained together (:mod:`bcdesktop.batched`: ``theta`` (K,
    n_parameters), the rate a (K, 1) column, each network its own). The state
    (velocity, Adam's second moments) has the shape of ``theta``; :meth:`keep` drops
    the rows of networks that stopped, so the arrays shrink without reallocation.

    Parameters
    ----------
    name : {"gd", "momentum", "adam", "adagrad", "rmsprop"}
    shape : tuple of int
        Shape of the ``theta`` it updates.
    """

    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}.")
        self.name = name
        self._velocity = np.zeros(shape)
        self._second = np.zeros(shape) if name in ("adam", "adagrad", "rmsprop") else None
        self._scratch = np.empty(shape)
        self._bind(shape[0] if len(shape) > 1 else None)
        self._update = {"gd": self._gd, "momentum": self._momentum, "adam": self._adam,
                        "adagrad": self._adagrad, "rmsprop": self._rmsprop}[name]

    def _bind(self, k: int | None) -> None:
        cut = slice(None) if k is None else slice(0, k)
        self.velocity = self._velocity[cut]
        self.second = None if self._second is None else self._second[cut]
        self.scratch = self._scratch[cut]

    def keep(self, rows: np.ndarray) -> None:
        """Keep the state of the networks at ``rows`` (K networks only), in that order."""
        k = len(rows)
        self._velocity[:k] = self._velocity[rows]
        if self._second is not None:
            self._second[:k] = self._second[rows]
        self._bind(k)

    def step(self, i: int, lr, theta: np.ndarray, g: np.ndarray,
             decay: np.ndarray | None = None) -> None:
        """Update ``theta`` in place for update ``i`` (0-based) at rate ``lr``.

        ``g`` is the cross-entropy's gradient and is used as scratch; ``decay``
        (``l2 * MLP.weight_mask``, the shape of ``theta``) adds the gradient of
        ``l2 / 2 * sum(W ** 2)``, the weights' and not the biases'.
        """
        if decay is not None:
            g += decay * theta
        self._update(i, lr, theta, g)

    def _gd(self, i, lr, theta, g) -> None:
        np.multiply(g, lr, out=g)
        np.subtract(theta, g, out=theta)        # theta <- theta - lr g

    def _momentum(self, i, lr, theta, g) -> None:
        v = self.velocity
        np.multiply(v, MOMENTUM, out=v)
        np.multiply(g, lr, out=g)
        np.subtract(v, g, out=v)                # v <- mu v - lr g
        np.add(theta, v, out=theta)             # theta <- theta + v

    def _adam(self, i, lr, theta, g) -> None:
        t = i + 1
        m, v, scratch = self.velocity, self.second, self.scratch
        m[:] = ADAM_BETA1 * m + (1 - ADAM_BETA1) * g       # m
        v[:] = ADAM_BETA2 * v + (1 - ADAM_BETA2) * g * g   # v
        # theta <- theta - lr m_hat / (sqrt(v_hat) + eps), bias corrections folded
        # into the rate and epsilon (the parameter vector is small: ~200 values)
        lr_t = lr * math.sqrt(1 - ADAM_BETA2 ** t) / (1 - ADAM_BETA1 ** t)
        eps_t = ADAM_EPS * math.sqrt(1 - ADAM_BETA2 ** t)
        np.sqrt(v, out=scratch)
        np.add(scratch, eps_t, out=scratch)
        np.divide(m, scratch, out=scratch)
        np.multiply(scratch, lr_t, out=scratch)
        np.subtract(theta, scratch, out=theta)

    def _adagrad(self, i, lr, theta, g) -> None:
        G, scratch = self.second, self.scratch
        np.multiply(g, g, out=scratch)
        np.add(G, scratch, out=G)               # G <- G + g^2
        self._scaled_step(lr, theta, g, G, ADAGRAD_EPS)

    def _rmsprop(self, i, lr, theta, g) -> None:
        v, scratch = self.second, self.scratch
        np.multiply(g, g, out=scratch)
        np.multiply(scratch, 1 - RMSPROP_RHO, out=scratch)
        np.multiply(v, RMSPROP_RHO, out=v)
        np.add(v, scratch, out=v)               # v <- rho v + (1 - rho) g^2
        self._scaled_step(lr, theta, g, v, RMSPROP_EPS)

    def _scaled_step(self, lr, theta, g, squares, eps) -> None:
        scratch = self.scratch                  # theta <- theta - lr g / (sqrt(squares) + eps)
        np.sqrt(squares, out=scratch)
        np.add(scratch, eps, out=scratch)
        np.divide(g, scratch, out=scratch)
        np.multiply(scratch, lr, out=scratch)
        np.subtract(theta, scratch, out=theta)


def diverged_error(iteration: int, lr: float, loss: float | None = None) -> TrainingDiverged:
    """The error of a run whose loss (``loss``, or its weights when None) stopped being
    finite at ``iteration``; :func:`train` and :func:`batched.train_many` raise it."""
    if loss is None:
        what = "the weights are no longer finite numbers"
    elif math.isinf(loss):
        what = "the loss became infinite"
    elif math.isnan(loss):
        what = "the loss became NaN (not a number)"
    else:
        what = "the network's outputs became too large to compute"
    return TrainingDiverged(f"Training diverged at iteration {iteration}: {what}. "
                            f"Lower the learning rate (now {lr:g}) and try again.")


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) \
        and math.isfinite(x)
