"""The loss landscape of a trained network, and the learning-rate range test.

Three views of the training loss around a network's final weights ``theta*``:

- a 2-D grid ``loss(theta* + alpha d1 + beta d2)`` along two directions: two
  filter-normalised random directions (Li et al. 2018, "Visualizing the Loss Landscape
  of Neural Nets": each neuron's row of incoming weights of a Gaussian direction
  rescaled to the norm of that row in ``theta*``, the biases' entries zero), or the top
  two principal directions of the training path (PCA of ``theta_i - theta*``, as Li et
  al. do), with the path's coordinates on them;
- a 1-D line ``loss((1 - alpha) theta_0 + alpha theta*)`` from the initial weights
  (alpha 0) to the final ones (alpha 1);
- :func:`lr_find`, Smith's learning-rate range test: a short run whose rate grows
  exponentially, the loss recorded against the rate.

The loss is the one training reports (:func:`bcdesktop.training.train`): the weighted
mean cross-entropy over the training rows with identical rows merged into weighted rows
(``merge_duplicates``), without the L2 term. Every grid point goes through one stacked
forward pass: the weights of G points are a ``(G, n_out, n_in + 1)`` stack per layer and
each layer is one batched ``matmul``, in chunks of about :data:`CHUNK_BYTES` (buffers
reused from chunk to chunk stay in the cache: 4 MB chunks ran 51 x 51 points faster than
64 MB ones here).

NumPy only: no Tk, no matplotlib (the pictures are drawn by the callers).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import Cancelled, UserError
from .model import ACTIVATIONS, MLP, Pass, _check_targets, _check_X
from .training import Optimizer, TrainConfig, merge_duplicates

if TYPE_CHECKING:  # only for the annotations
    import threading

    from numpy.typing import ArrayLike

__all__ = ["Rows", "Landscape", "Line", "PathPCA", "LRFind", "DIRECTIONS", "DEFAULT_GRID",
           "DEFAULT_EXTENT", "MAX_GRID", "CHUNK_BYTES", "MAX_PATH_POINTS", "PCA_MARGIN",
           "filter_normalise", "random_directions", "pca_directions", "project", "stacked_losses",
           "loss_grid", "loss_line", "path_every_for", "lr_find", "LR_MIN", "LR_MAX", "LR_STEPS",
           "LR_EXPLODE", "LR_SMOOTHING", "MAX_LR_STEPS", "SUGGESTION_RULE", "LINE_SPAN", "LINE_POINTS",
           "check_grid"]

DIRECTIONS = ("random", "pca")
DEFAULT_GRID = 51                        # points a side
DEFAULT_EXTENT = 1.0                     # alphas, betas in [-1, 1] for random directions
MAX_GRID = 401                           # 160,801 points: about 10 s for the default network
CHUNK_BYTES = 4 * 2**20                  # the stacked pass's buffers per chunk: 64 MB is no faster
MAX_PATH_POINTS = 1000                   # a path this long is plenty for a PCA and a picture
PCA_MARGIN = 1.25                        # pca's default extent: the path's reach on each axis x this
LINE_SPAN = (-0.5, 1.5)                  # the 1-D line's default alphas: 0 initial, 1 final
LINE_POINTS = 101
Progress = Callable[[int, int], object]


# ------------------------------------------------------------------ rows and losses
class Rows:
    """Rows a loss is measured on, merged and weighted exactly as :func:`training.train`
    merges its training rows, so a loss here is the loss training reports.

    Parameters
    ----------
    X : array-like (n, n_inputs)
        Scaled rows.
    y : array-like (n,)
        0 benign, 1 malignant.
    sample_weight : array-like (n,), optional

    Attributes
    ----------
    X : ndarray (m, n_inputs)
        The distinct rows (m <= n).
    y, w : ndarray (m,)
        Each distinct row's mean label and weight, ``w`` summing to 1 as in ``Pass``.
    n : int
        Rows before merging.
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.shape}.")
        X = _check_X(X, X.shape[1])
        y, _ = _check_targets(y, sample_weight, len(X))
        self.n = len(X)
        self.X, target, weight = merge_duplicates(X, y, sample_weight)
        self.y, self.w = _check_targets(target, weight, len(self.X))

    @property
    def m(self) -> int:
        return len(self.X)

    def loss(self, model: MLP) -> float:
        """The model's weighted mean cross-entropy on these rows, by the trainer's ``Pass``."""
        p = Pass(model, self.X, self.y, self.w)
        p.forward()
        return p.loss()

    def __repr__(self) -> str:
        return f"Rows(n={self.n}, distinct={self.m})"


def _rows(X, y=None, sample_weight=None) -> Rows:
    return X if isinstance(X, Rows) else Rows(X, y, sample_weight)


def _layers(model: MLP) -> list[tuple[int, int]]:
    """``(n_in, n_out)`` of each layer."""
    return list(zip(model.layer_sizes, model.layer_sizes[1:]))


def _point_bytes(model: MLP, m: int) -> int:
    """Bytes of the stacked pass's buffers per grid point."""
    hidden = sum((n_out + 1) * m for _, n_out in _layers(model)[:-1])
    return 8 * (hidden + 3 * m + model.theta.size + max(model.layer_sizes[1:]) * m)


def _chunk_points(model: MLP, m: int, chunk_bytes: int) -> int:
    return max(1, int(chunk_bytes) // _point_bytes(model, m))


class _Stacked:
    """Forward passes of up to ``size`` networks shaped like ``model`` at once, over the
    rows of ``rows``, in buffers allocated once."""

    def __init__(self, model: MLP, rows: Rows, size: int) -> None:
        self.layers = _layers(model)
        m = rows.m
        self.A0 = np.ones((model.n_inputs + 1, m))
        self.A0[:-1] = rows.X.T
        # hidden activations with a last row of ones, as Pass keeps them, per grid point
        self.A = [np.ones((size, n_out + 1, m)) for _, n_out in self.layers[:-1]]
        self.z = np.empty((size, 1, m))
        self.buf = np.empty((size, m))
        self.y, self.w = rows.y, rows.w
        name = model.hidden_activation
        self._fast = name == "relu"
        self._activation = ACTIVATIONS[name]
        widest = max(n_out for _, n_out in self.layers[:-1])   # the derivative, unused here
        self._scratch = None if self._fast else np.empty((size, widest, m))

    def losses(self, thetas: np.ndarray) -> np.ndarray:
        """Loss of each row of ``thetas`` (G, n_parameters), shape (G,)."""
        G = thetas.shape[0]
        A, start = self.A0, 0
        for layer, (n_in, n_out) in enumerate(self.layers):
            size = n_out * (n_in + 1)
            Wb = thetas[:, start:start + size].reshape(G, n_out, n_in + 1)
            start += size
            if layer == len(self.layers) - 1:
                np.matmul(Wb, A, out=self.z[:G])
                break
            Z = self.A[layer][:G, :-1]
            np.matmul(Wb, A, out=Z)                       # Z = [W | b] [A; 1], each point
            if self._fast:
                np.maximum(Z, 0.0, out=Z)
            else:
                self._activation(Z, self._scratch[:G, :n_out])
            A = self.A[layer][:G]
        z, buf = self.z[:G, 0], self.buf[:G]
        np.logaddexp(0.0, z, out=buf)                     # log(1 + exp(z)) - y z
        buf -= self.y * z
        return buf @ self.w


def stacked_losses(model: MLP, thetas: ArrayLike, X, y=None, sample_weight=None, *,
                   chunk_bytes: int = CHUNK_BYTES, progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> np.ndarray:
    """The training loss of networks shaped like ``model`` at each row of ``thetas``.

    Parameters
    ----------
    model : MLP
        Gives the layer sizes and the hidden activation; its weights are not used.
    thetas : array-like (G, n_parameters)
        Flat weight vectors laid out like ``model.theta``.
    X, y, sample_weight
        Scaled rows, labels and optional weights; or a :class:`Rows` as ``X``.
    chunk_bytes : int
        Bound on the pass's buffers: the points go in chunks that fit.
    progress : callable, optional
        ``progress(done, total)`` after each chunk, in points.
    cancel : threading.Event, optional
        Set: :class:`~bcdesktop.errors.Cancelled` before the next chunk.

    Returns
    -------
    ndarray (G,)
    """
    rows = _rows(X, y, sample_weight)
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.ndim != 2 or thetas.shape[1] != model.theta.size:
        raise ValueError(f"thetas must have shape (G, {model.theta.size}), got {thetas.shape}.")
    G = thetas.shape[0]
    step = min(G, _chunk_points(model, rows.m, chunk_bytes)) or 1
    stacked = _Stacked(model, rows, step)
    out = np.empty(G)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, G, step):
            _check_cancel(cancel)
            out[start:start + step] = stacked.losses(thetas[start:start + step])
            if progress is not None:
                progress(min(start + step, G), G)
    return out


def _check_cancel(cancel) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("The loss landscape was stopped.")


# ------------------------------------------------------------------ directions
def filter_normalise(direction: ArrayLike, model: MLP) -> np.ndarray:
    """``direction`` (n_parameters,) filter-normalised to ``model``'s weights (Li et al.).

    Each neuron's row of incoming weights of the direction is rescaled to the norm of
    the same row in ``model.theta``; the bias entries become 0. A row that is zero in
    either stays zero.
    """
    d = np.array(direction, dtype=np.float64).reshape(-1)
    if d.shape != model.theta.shape:
        raise ValueError(f"direction must have {model.theta.size} values, got {d.size}.")
    start = 0
    for n_in, n_out in _layers(model):
        size = n_out * (n_in + 1)
        D = d[start:start + size].reshape(n_out, n_in + 1)
        W = model.theta[start:start + size].reshape(n_out, n_in + 1)[:, :-1]
        D[:, -1] = 0.0
        norm_d = np.linalg.norm(D[:, :-1], axis=1)
        norm_w = np.linalg.norm(W, axis=1)
        scale = np.divide(norm_w, norm_d, out=np.zeros_like(norm_w), where=norm_d > 0)
        D[:, :-1] *= scale[:, None]
        start += size
    return d


def random_directions(model: MLP, seed: int = 0) -> np.ndarray:
    """Two filter-normalised Gaussian directions, shape (2, n_parameters).

    Drawn by ``np.random.default_rng(seed).standard_normal`` (the first direction's
    values, then the second's) and each put through :func:`filter_normalise`.
    """
    rng = np.random.default_rng(seed)
    return np.stack([filter_normalise(rng.standard_normal(model.theta.size), model)
                     for _ in range(2)])


@dataclasses.dataclass
class PathPCA:
    """The top two principal directions of a training path.

    Attributes
    ----------
    directions : ndarray (2, n_parameters)
        Orthonormal; signed so the path's first point has coordinates <= 0.
    coords : ndarray (n_points, 2)
        Each point's ``theta_i - theta*`` projected on them; the final weights are (0, 0).
    explained : ndarray (2,)
        The share of the (centred) path's variance each direction explains.
    """

    directions: np.ndarray
    coords: np.ndarray
    explained: np.ndarray

    def __repr__(self) -> str:
        return (f"PathPCA(points={len(self.coords)}, "
                f"explained={np.round(self.explained, 4).tolist()})")


def pca_directions(path: ArrayLike, final: ArrayLike) -> PathPCA:
    """PCA of the training path about the final weights (Li et al. 2018, section 7).

    The rows ``theta_i - theta*`` are centred (as scikit-learn's PCA, which Li et al.
    use, centres them) and decomposed by NumPy's SVD; the two leading right singular
    vectors are the directions, and the uncentred rows are projected on them, so the
    final weights land on (0, 0) and a path lying in a plane through them is projected
    exactly.

    Parameters
    ----------
    path : array-like (n_points, n_parameters)
        The weights along training (``TrainResult.path``).
    final : array-like (n_parameters,)
        The final weights, the landscape's centre.

    Raises
    ------
    UserError
        When the path has fewer than two independent directions of movement (fewer than
        three distinct points, or all on one line).
    """
    path = np.asarray(path, dtype=np.float64)
    final = np.asarray(final, dtype=np.float64).reshape(-1)
    if path.ndim != 2 or path.shape[1] != final.size:
        raise ValueError(f"path must have shape (n_points, {final.size}), got {path.shape}.")
    M = path - final
    centred = M - M.mean(axis=0)
    if len(path) < 3:
        raise _flat_path(len(path))
    _, s, vt = _svd(centred)
    if s.size < 2 or not s[1] > 1e-12 * max(s[0], np.abs(M).max(), 1e-300):
        raise _flat_path(len(path))
    directions = vt[:2].copy()
    coords = M @ directions.T
    for k in range(2):                    # a fixed sign: the path starts at coordinates <= 0
        ref = coords[0, k] if abs(coords[0, k]) > 1e-12 * np.abs(coords[:, k]).max() else \
            directions[k, np.argmax(np.abs(directions[k]))] * -1
        if ref > 0:
            directions[k] *= -1
            coords[:, k] *= -1
    coords += 0.0                         # no -0.0 (a flipped 0) in the JSON
    variance = s ** 2
    return PathPCA(directions, coords, variance[:2] / variance.sum())


def _svd(a: np.ndarray):
    """NumPy's SVD with BLAS on one thread: on a busy two-core machine the threaded SVD of
    a 200 x 166 path took 0.1-1.6 s, on one thread 0.02 s."""
    from threadpoolctl import threadpool_limits  # a dependency; imported here, as batched does

    with threadpool_limits(1):
        return np.linalg.svd(a, full_matrices=False)


def _flat_path(n: int) -> UserError:
    return UserError(f"The training path ({n} points) does not move in two directions, so it has "
                     "no plane to draw; train for more iterations or use random directions.")


def project(path: ArrayLike, final: ArrayLike, directions: ArrayLike) -> np.ndarray:
    """Coordinates (n_points, 2) of ``path - final`` on two directions (2, n_parameters),
    by least squares (exact for orthonormal directions and a path in their plane)."""
    D = np.asarray(directions, dtype=np.float64)
    M = np.asarray(path, dtype=np.float64) - np.asarray(final, dtype=np.float64).reshape(-1)
    return np.linalg.lstsq(D.T, M.T, rcond=None)[0].T


# ------------------------------------------------------------------ the 2-D grid
@dataclasses.dataclass
class Landscape:
    """A 2-D slice of the loss around the final weights.

    Attributes
    ----------
    alphas : ndarray (n_alpha,)
        Steps along the first direction; the middle one is exactly 0 when the count is odd.
    betas : ndarray (n_beta,)
    losses : ndarray (n_beta, n_alpha)
        Training loss at ``theta* + alpha d1 + beta d2``: rows are betas, columns alphas.
    centre_loss : float
        The network's training loss at its final weights (by the trainer's own pass):
        what the grid's centre shows.
    directions : {"random", "pca"}
    vectors : ndarray (2, n_parameters)
        ``d1`` and ``d2``.
    extent : (float, float)
        ``max |alpha|`` and ``max |beta|``.
    seed : int or None
        The random directions' seed (None for pca).
    path : ndarray (n_points, 2) or None
        The training path's coordinates (pca directions only).
    path_iterations : ndarray (n_points,) or None
    explained : ndarray (2,) or None
        The share of the path's variance each pca direction explains.
    val_losses : ndarray (n_beta, n_alpha) or None
        The validation loss on the same grid, when validation rows were given.
    val_centre_loss : float or None
    rows, val_rows : int
        Training (and validation) rows, before merging identical ones.
    seconds : float
    """

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray
    centre_loss: float
    directions: str
    vectors: np.ndarray = dataclasses.field(repr=False)
    extent: tuple[float, float]
    seed: int | None = None
    path: np.ndarray | None = dataclasses.field(default=None, repr=False)
    path_iterations: np.ndarray | None = dataclasses.field(default=None, repr=False)
    explained: np.ndarray | None = None
    val_losses: np.ndarray | None = dataclasses.field(default=None, repr=False)
    val_centre_loss: float | None = None
    rows: int = 0
    val_rows: int = 0
    seconds: float = 0.0

    @property
    def path_list(self) -> list[list[float]] | None:
        """The path as ``[[alpha, beta], ...]``, or None (random directions)."""
        return None if self.path is None else self.path.tolist()

    def to_dict(self) -> dict:
        """JSON-ready: ``grid`` (rows of losses, one a beta), ``alphas``, ``betas``,
        ``centre_loss``, ``path`` (``[[alpha, beta], ...]`` for pca, null for random),
        and ``directions``, ``seed``, ``extent``, ``path_iterations``,
        ``explained_variance``, ``min_loss``, ``max_loss``, ``rows``, ``seconds``; with
        validation rows also ``validation_grid`` and ``validation_centre_loss``."""
        d = {
            "directions": self.directions,
            "seed": self.seed,
            "extent": [float(e) for e in self.extent],
            "alphas": self.alphas.tolist(),
            "betas": self.betas.tolist(),
            "grid": _finite_rows(self.losses),
            "centre_loss": float(self.centre_loss),
            "min_loss": _finite(np.nanmin(self.losses)),
            "max_loss": _finite(np.nanmax(self.losses)),
            "path": self.path_list,
            "path_iterations": None if self.path_iterations is None else
            [int(i) for i in self.path_iterations],
            "explained_variance": None if self.explained is None else self.explained.tolist(),
            "rows": int(self.rows),
            "seconds": round(float(self.seconds), 4),
        }
        if self.val_losses is not None:
            d["validation_grid"] = _finite_rows(self.val_losses)
            d["validation_centre_loss"] = float(self.val_centre_loss)
            d["validation_rows"] = int(self.val_rows)
        return d

    def __repr__(self) -> str:
        return (f"Landscape({self.directions}, {len(self.betas)}x{len(self.alphas)}, "
                f"extent={tuple(round(e, 4) for e in self.extent)}, centre_loss={self.centre_loss:.6g}, "
                f"min={np.nanmin(self.losses):.6g}, seconds={self.seconds:.3f})")


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _finite_rows(a: np.ndarray) -> list:
    return [[v if math.isfinite(v) else None for v in row] for row in a.tolist()]


def _axis(extent: float, points: int) -> np.ndarray:
    a = extent * np.linspace(-1.0, 1.0, points)
    if points % 2:
        a[points // 2] = 0.0                  # the centre exactly at the final weights
    return a


def check_grid(grid, extent) -> tuple[int, tuple[float, float] | None]:
    """``grid`` and ``extent`` checked (UserError naming the setting)."""
    if not isinstance(grid, (int, np.integer)) or isinstance(grid, bool) or not 2 <= grid <= MAX_GRID:
        raise UserError(f"Setting 'grid' must be a whole number from 2 to {MAX_GRID}; got {grid!r}.")
    if extent is None:
        return int(grid), None
    pair = (extent, extent) if np.isscalar(extent) else tuple(extent)
    if len(pair) != 2 or not all(isinstance(e, (int, float, np.integer, np.floating))
                                 and not isinstance(e, bool) and math.isfinite(e) and e > 0 for e in pair):
        raise UserError(f"Setting 'extent' must be a number above 0 (or two); got {extent!r}.")
    return int(grid), (float(pair[0]), float(pair[1]))


def loss_grid(model: MLP, X, y=None, sample_weight=None, *, directions: str = "random",
              seed: int = 0, path: ArrayLike | None = None, path_iterations: ArrayLike | None = None,
              grid: int = DEFAULT_GRID, extent: float | Sequence[float] | None = None,
              X_val=None, y_val=None, chunk_bytes: int = CHUNK_BYTES,
              progress: Progress | None = None, cancel: threading.Event | None = None) -> Landscape:
    """The training loss on a ``grid`` x ``grid`` slice around ``model``'s weights.

    Parameters
    ----------
    model : MLP
        The trained network: the centre of the slice.
    X, y, sample_weight
        Its scaled training rows, labels and optional weights (or a :class:`Rows`).
    directions : {"random", "pca"}
        Filter-normalised random directions (``seed``), or the training path's principal
        directions (``path`` needed).
    path : array-like (n_points, n_parameters), optional
        The weights along training (``TrainResult.path``); its last point should be the
        final weights (it is then drawn ending at (0, 0)).
    grid : int
        Points a side, 2..MAX_GRID; odd gives a centre point at exactly the final weights.
    extent : float or (float, float), optional
        Alphas in ``[-extent, extent]`` (and betas, or the second number). Default
        :data:`DEFAULT_EXTENT` for random directions (the directions have the weights'
        scale); for pca, the path's reach on each axis x :data:`PCA_MARGIN`.
    X_val, y_val : optional
        Validation rows: their loss on the same grid too (``val_losses``).
    progress : callable, optional
        ``progress(done, total)`` after each chunk, in grid points (twice the grid with
        validation rows).
    cancel : threading.Event, optional
        Set: :class:`~bcdesktop.errors.Cancelled` before the next chunk.

    Returns
    -------
    Landscape
    """
    started = time.perf_counter()
    if directions not in DIRECTIONS:
        raise UserError(f"Setting 'directions' must be one of {', '.join(DIRECTIONS)}; got {directions!r}.")
    grid, pair = check_grid(grid, extent)
    rows = _rows(X, y, sample_weight)
    val_rows = None if X_val is None else _rows(X_val, y_val)
    final = model.theta
    coords = explained = iterations = None
    if directions == "random":
        vectors = random_directions(model, seed)
    else:
        if path is None:
            raise ValueError("pca directions need the training path (path=...).")
        pca = pca_directions(path, final)
        vectors, coords, explained = pca.directions, pca.coords, pca.explained
        iterations = None if path_iterations is None else np.asarray(path_iterations).copy()
        seed = None
    if pair is None:
        if coords is None:
            pair = (DEFAULT_EXTENT, DEFAULT_EXTENT)
        else:
            reach = np.abs(coords).max(axis=0)
            pair = tuple(float(r * PCA_MARGIN) if r > 0 else DEFAULT_EXTENT for r in reach)
    alphas, betas = _axis(pair[0], grid), _axis(pair[1], grid)
    # theta* + alpha d1 + beta d2, rows = betas (the grid's row-major order)
    A, B = np.meshgrid(alphas, betas)
    coeffs = np.stack([A.ravel(), B.ravel()], axis=1)
    total = coeffs.shape[0] * (1 if val_rows is None else 2)
    step = _chunk_points(model, max(rows.m, 0 if val_rows is None else val_rows.m), chunk_bytes)
    step = max(1, min(step, coeffs.shape[0]))
    train_pass = _Stacked(model, rows, step)
    val_pass = None if val_rows is None else _Stacked(model, val_rows, step)
    losses = np.empty(coeffs.shape[0])
    val_losses = None if val_rows is None else np.empty(coeffs.shape[0])
    thetas = np.empty((step, final.size))
    done = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, coeffs.shape[0], step):
            _check_cancel(cancel)
            c = coeffs[start:start + step]
            t = thetas[:len(c)]
            np.matmul(c, vectors, out=t)
            t += final                       # an exact 0 step is exactly theta*
            losses[start:start + len(c)] = train_pass.losses(t)
            done += len(c)
            if val_pass is not None:
                val_losses[start:start + len(c)] = val_pass.losses(t)
                done += len(c)
            if progress is not None:
                progress(done, total)
    return Landscape(
        alphas=alphas, betas=betas, losses=losses.reshape(grid, grid),
        centre_loss=rows.loss(model), directions=directions, vectors=vectors, extent=pair,
        seed=None if seed is None else int(seed), path=coords, path_iterations=iterations,
        explained=explained,
        val_losses=None if val_losses is None else val_losses.reshape(grid, grid),
        val_centre_loss=None if val_rows is None else val_rows.loss(model),
        rows=rows.n, val_rows=0 if val_rows is None else val_rows.n,
        seconds=time.perf_counter() - started)


def path_every_for(iterations: int, max_points: int = MAX_PATH_POINTS) -> int:
    """The ``path_every`` for :func:`training.train` that keeps at most about
    ``max_points`` + 1 points of a run of ``iterations`` updates."""
    return max(1, -(-int(iterations) // int(max_points)))


# ------------------------------------------------------------------ the 1-D line
@dataclasses.dataclass
class Line:
    """The loss along the straight line from the initial weights (alpha 0) to the final
    weights (alpha 1): ``loss((1 - alpha) theta_0 + alpha theta*)``."""

    alphas: np.ndarray
    losses: np.ndarray
    initial_loss: float
    final_loss: float
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"alphas": self.alphas.tolist(), "losses": [_finite(v) for v in self.losses],
                "initial_loss": float(self.initial_loss), "final_loss": float(self.final_loss)}

    def __repr__(self) -> str:
        return (f"Line({len(self.alphas)} points, alphas {self.alphas[0]:g}..{self.alphas[-1]:g}, "
                f"initial_loss={self.initial_loss:.6g}, final_loss={self.final_loss:.6g})")


def loss_line(initial: MLP | ArrayLike, final: MLP, X, y=None, sample_weight=None, *,
              alphas: ArrayLike | None = None, span: tuple[float, float] = LINE_SPAN,
              points: int = LINE_POINTS, chunk_bytes: int = CHUNK_BYTES,
              progress: Progress | None = None, cancel: threading.Event | None = None) -> Line:
    """The training loss along the line through the initial and the final weights.

    Parameters
    ----------
    initial : MLP or array-like (n_parameters,)
        The weights training started from (alpha 0).
    final : MLP
        The trained network (alpha 1).
    alphas : array-like, optional
        Where to measure; default ``points`` steps over ``span`` (-0.5 to 1.5), with 0
        and 1 among them when the steps allow.
    """
    started = time.perf_counter()
    theta0 = np.asarray(initial.theta if isinstance(initial, MLP) else initial, dtype=np.float64).reshape(-1)
    theta1 = final.theta
    if theta0.shape != theta1.shape:
        raise ValueError(f"initial weights have {theta0.size} values, the final {theta1.size}.")
    if alphas is None:
        if not (isinstance(points, int) and 2 <= points <= 100_000):
            raise UserError(f"Setting 'points' must be a whole number from 2 to 100,000; got {points!r}.")
        alphas = np.linspace(float(span[0]), float(span[1]), points)
        alphas[np.isclose(alphas, 0.0, rtol=0, atol=1e-12)] = 0.0
        alphas[np.isclose(alphas, 1.0, rtol=0, atol=1e-12)] = 1.0
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    rows = _rows(X, y, sample_weight)
    thetas = (1.0 - alphas)[:, None] * theta0 + alphas[:, None] * theta1   # exact at 0 and 1
    losses = stacked_losses(final, thetas, rows, chunk_bytes=chunk_bytes, progress=progress,
                            cancel=cancel)
    start_net = MLP.from_params(final.params, final.hidden_activation)
    start_net.theta[:] = theta0
    return Line(alphas, losses, rows.loss(start_net), rows.loss(final), time.perf_counter() - started)


# ------------------------------------------------------------------ learning-rate range test
LR_MIN, LR_MAX = 1e-5, 10.0
LR_STEPS = 200
MAX_LR_STEPS = 100_000
LR_EXPLODE = 4.0                         # stop once the smoothed loss passes 4x its best
LR_SMOOTHING = 0.9                       # the loss's exponential moving average (debiased)


@dataclasses.dataclass
class LRFind:
    """What :func:`lr_find` returns.

    Attributes
    ----------
    rates : ndarray (k,)
        The rate of each update made, rising exponentially.
    losses : ndarray (k,)
        The training loss (cross-entropy, as training reports it) before that update.
    smoothed : ndarray (k,)
        Their debiased exponential moving average.
    suggested : float
        The rate of steepest descent of the smoothed loss against log(rate), before
        its minimum (see :func:`lr_find`).
    steepest, minimum_rate : float
        That rate, and the rate at the smoothed loss's minimum.
    stopped : {"completed", "exploded", "diverged"}
    config : TrainConfig
    rows : int
    """

    rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested: float
    steepest: float
    minimum_rate: float
    stopped: str
    config: TrainConfig = dataclasses.field(repr=False)
    rows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"rates": self.rates.tolist(), "losses": [_finite(v) for v in self.losses],
                "smoothed": [_finite(v) for v in self.smoothed], "suggested": self.suggested,
                "steepest": self.steepest, "minimum_rate": self.minimum_rate,
                "minimum_over_10": self.minimum_rate / 10, "rule": SUGGESTION_RULE,
                "stopped": self.stopped, "steps": len(self.rates), "rows": int(self.rows),
                "settings": self.config.to_dict(), "seconds": round(float(self.seconds), 4)}

    def __repr__(self) -> str:
        return (f"LRFind({len(self.rates)} steps {self.rates[0]:g}..{self.rates[-1]:g}, "
                f"stopped={self.stopped!r}, suggested={self.suggested:.3g}, "
                f"minimum_rate={self.minimum_rate:.3g})")


SUGGESTION_RULE = ("steepest descent: the rate at which the smoothed loss falls fastest against "
                   "log(rate), looked for before the smoothed loss's minimum")


def lr_find(X, y, config: TrainConfig | None = None, sample_weight=None, *,
            min_lr: float = LR_MIN, max_lr: float = LR_MAX, steps: int = LR_STEPS,
            explode: float = LR_EXPLODE, smoothing: float = LR_SMOOTHING,
            progress: Progress | None = None, cancel: threading.Event | None = None) -> LRFind:
    """Smith's learning-rate range test, full batch, from ``config``'s initial weights.

    Update ``k`` (0-based) of ``steps`` uses the rate ``min_lr * (max_lr / min_lr) **
    (k / (steps - 1))`` with ``config``'s optimizer and L2 (the trainer's
    :class:`~bcdesktop.training.Optimizer`, on the rows merged as training merges them);
    the loss before each update is recorded. The run stops early when the loss is not
    finite (``"diverged"``) or its smoothed value passes ``explode`` times the lowest so
    far (``"exploded"``). The smoothed loss is the exponential moving average with
    factor ``smoothing``, debiased as Adam's moments are.

    The suggestion (:data:`SUGGESTION_RULE`): among the steps up to the smoothed loss's
    minimum, the rate where its slope against ``log10(rate)`` (``np.gradient``) is
    most negative; the minimum's rate itself when there is no earlier step. The
    minimum's rate / 10, the other common rule, is kept as ``minimum_rate / 10``.

    Parameters
    ----------
    X, y, sample_weight
        Scaled training rows, labels, optional weights.
    config : TrainConfig, optional
        Network, initialisation, seed, optimizer and L2 (its ``lr``, ``iterations`` and
        ``schedule`` are not used). Default ``TrainConfig()``.
    progress : callable, optional
        ``progress(done, steps)`` every 10 steps and at the end.
    cancel : threading.Event, optional
        Set: :class:`~bcdesktop.errors.Cancelled`.
    """
    started = time.perf_counter()
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr), ("explode", explode)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UserError(f"Setting '{name}' must be a number above 0; got {value!r}.")
    if not min_lr < max_lr:
        raise UserError(f"The smallest rate ({min_lr:g}) must be below the largest ({max_lr:g}).")
    if not explode > 1:
        raise UserError(f"Setting 'explode' must be above 1; got {explode!r}.")
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and 10 <= steps <= MAX_LR_STEPS):
        raise UserError(f"Setting 'steps' must be a whole number from 10 to {MAX_LR_STEPS:,}; got {steps!r}.")
    if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise UserError(f"Setting 'smoothing' must be a number from 0 to below 1; got {smoothing!r}.")
    rows = _rows(X, y, sample_weight)
    model = MLP(rows.X.shape[1], config.hidden, config.init, config.seed, config.activation)
    p = Pass(model, rows.X, rows.y, rows.w)
    optimizer = Optimizer(config.optimizer, model.theta.shape)
    decay = config.l2 * model.weight_mask if config.l2 else None
    schedule = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    losses, smoothed = [], []
    average, best, stopped = 0.0, math.inf, "completed"
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            _check_cancel(cancel)
            p.forward()
            loss = p.loss()
            if not math.isfinite(loss) or not p.logits_finite():
                stopped = "diverged"
                break
            average = smoothing * average + (1 - smoothing) * loss
            value = average / (1 - smoothing ** (k + 1))
            losses.append(loss)
            smoothed.append(value)
            if value > explode * best:
                stopped = "exploded"
                break
            best = min(best, value)
            p.backward()
            optimizer.step(k, float(schedule[k]), model.theta, p.grad, decay)
            if not model.is_finite():
                stopped = "diverged"
                break
            if progress is not None and (k + 1) % 10 == 0:
                progress(k + 1, steps)
    if progress is not None:
        progress(steps, steps)
    n = len(losses)
    if n < 2:
        raise UserError(f"The learning-rate range test stopped after {n} step(s): the loss was not "
                        f"finite from the start; lower the smallest rate (now {min_lr:g}).")
    rates = schedule[:n].copy()
    smooth = np.array(smoothed)
    lowest = int(np.argmin(smooth))
    if lowest >= 1:
        slope = np.gradient(smooth[:lowest + 1], np.log10(rates[:lowest + 1]))
        steep = int(np.argmin(slope))
    else:
        steep = lowest
    return LRFind(rates=rates, losses=np.array(losses), smoothed=smooth,
                  suggested=float(rates[steep]), steepest=float(rates[steep]),
                  minimum_rate=float(rates[lowest]), stopped=stopped, config=config,
                  rows=rows.n, seconds=time.perf_counter() - started)


# ---------------------------------------------------------------- the model's rows
@dataclasses.dataclass
class ModelRows:
    """The rows a model's settings train on, picked from a data set.

    ``X_fit``/``y_fit`` are the rows the network was fitted on (the training rows, less
    the early-stopping rows with ``patience > 0``); ``X_stop``/``y_stop`` those early
    stopping watched; ``X_val``/``y_val`` the validation rows. All raw (1..10 scores).
    """

    config: object
    X_train: object
    y_train: object
    X_fit: object
    y_fit: object
    X_stop: object
    y_stop: object
    X_val: object
    y_val: object
    notes: list


def model_rows(bundle, dataset) -> ModelRows:
    """The training rows ``bundle``'s settings pick from ``dataset``, as ``fit_model``
    picked them (its split, fraction, rows and seed; the early-stopping rows carved out
    with ``patience > 0``), with notes when they cannot be the model's own."""
    import numpy as np

    from . import evaluation

    if dataset.y is None:
        raise UserError(f"{dataset.path} has no class column; the loss needs labelled rows.")
    X = np.asarray(dataset.X, dtype=np.float64)
    y = np.asarray(dataset.y).astype(np.int8)
    config = TrainConfig.of_model(bundle.settings)
    s = bundle.settings or {}
    notes = []
    if bundle.data_sha256 is not None and getattr(dataset, "sha256", None) != bundle.data_sha256:
        notes.append(f"the model was trained on other data than {dataset.path} (the checksums differ): "
                     "these are the rows its settings pick from this file")
    if "split" in s:
        train_idx, val_idx = evaluation.split_indices(
            y, s["split"], s.get("val_fraction", evaluation.DEFAULT_VAL_FRACTION),
            s.get("train_rows", evaluation.DEFAULT_TRAIN_ROWS), config.seed)
    else:
        notes.append("the model file does not say how its data were split: every labelled row is used")
        train_idx, val_idx = np.arange(len(y)), np.arange(0)
    X_tr, y_tr = X[train_idx], y[train_idx]
    X_fit, y_fit, X_stop, y_stop = X_tr, y_tr, None, None
    if config.patience > 0:
        fit_idx, stop_idx = evaluation._inner_split(X_tr, y_tr, config.seed)
        X_fit, y_fit, X_stop, y_stop = X_tr[fit_idx], y_tr[fit_idx], X_tr[stop_idx], y_tr[stop_idx]
    X_va, y_va = (X[val_idx], y[val_idx]) if len(val_idx) else (None, None)
    return ModelRows(config, X_tr, y_tr, X_fit, y_fit, X_stop, y_stop, X_va, y_va, notes)


def path_to_final(result):
    """The path up to the weights ``result.model`` holds (early stopping: the best ones)."""
    import numpy as np

    path, its = result.path, result.path_iterations
    keep = its <= result.best_iteration
    path, its = path[keep], its[keep]
    if its[-1] != result.best_iteration:
        path = np.vstack([path, result.model.theta])
        its = np.append(its, result.best_iteration)
    return path, its
