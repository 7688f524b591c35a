"""K networks trained together in one batched NumPy loop (:func:`train_many`).

Each network is trained as :func:`bcdesktop.training.train` would train it alone (its
own seed, settings, rows, scaler, early stopping), to rounding: tests/test_batched.py
checks loss curves and weights to 1e-10. The update rules are
:class:`bcdesktop.training.Optimizer`'s, the initialisation ``MLP``'s, the schedules
:func:`~bcdesktop.training.learning_rates`.

The data
--------
All K networks see the same merged distinct rows ``X_u`` (R, f) of the data set
(``np.unique`` of the raw rows). Network k has its own non-negative row weights: a
cross-validation fold is a weight vector, 0 outside its training part and the number
of copies inside it. Exactly as ``training.merge_duplicates`` + ``model.Pass`` do for
one network, a merged row's target is the weighted mean label of that network's rows
and the weights are normalised to sum to 1, so the loss of network k is::

    loss_k = sum_r w_kr * (log(1 + exp(z_kr)) - t_kr * z_kr)        (sum_r w_kr = 1)

and ``l2_k / 2 * sum(W ** 2)`` (weights, not biases) is added to what is minimised.
The same holds for the validation (early-stopping) rows: their own weight vector.

One shared input, K scalers
---------------------------
Each network has its own min-max scaler, fitted on its own training rows. Instead of
K scaled copies of the input, the input is scaled once with a *reference* scaler
(per feature, the (min, max) most networks have; in cross-validation on the
Wisconsin data that is every network's), and network k's scaling is folded into its
first layer: ``Xs_k = a_k * Xs_0 + c_k`` per feature, so

    W Xs_k + b = (W * a_k) Xs_0 + (b + W c_k)
    dL/dW_k    = a_k * (G Xs_0^T) + c_k * (G 1)

For a network whose scaler equals the reference, ``a_k = 1`` and ``c_k = 0`` exactly
and the fold changes nothing, bit for bit. The first layer of all K networks is then
ONE matrix product ``(K * h, f + 1) @ (f + 1, R)`` in the forward pass and ONE in the
backward pass (``(K * h, R) @ (R, f + 1)``), which BLAS runs far better than K small
ones. Later layers use stacked ``np.matmul`` on ``(K, n_out, n_in)``.

Parameters and optimizer
------------------------
``theta`` is ``(K, n_parameters)``, laid out per network exactly like ``MLP.theta``
(layer by layer, each ``[W | b]`` of shape ``(n_out, n_in + 1)`` row-major), so
``theta[k]`` can be copied into an ``MLP`` as it is. The optimizer
(:class:`~bcdesktop.training.Optimizer`, the one ``train`` uses) keeps a state of
``(K, n_parameters)``, with the learning rate a ``(K, 1)`` column (each network its
own schedule and rate).

Dropout
-------
A network with dropout draws the masks ``training.train`` draws (``training.dropout_masks``,
its own seeded generator) over its own merged rows, the distinct rows it has training
weight on, in ``np.unique``'s order (min-max scaling keeps that order), and they go into
its columns of one (K, n_units, R) buffer a hidden layer. As in ``train``, the losses
recorded (and the checks for divergence) come from the pass without masks; a second,
masked pass comes before each backward pass.

Stopping per network
--------------------
Early stopping, the end of a network's iterations, divergence and cancel are decided
per network, with the same rules as ``training.train``. A network that stops is
finished at once (its last curve entry, its best weights restored) and removed from
the batch (the batch is compacted), while the others go on.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .errors import UserError
from .model import ACTIVATIONS, MLP, Scaler
from .training import (
    Optimizer,
    TrainConfig,
    TrainResult,
    diverged_error,
    dropout_masks,
    learning_rates,
    merged_weights,
)

__all__ = ["train_many", "BatchProgress", "BatchResult", "BatchData", "BatchPass", "loss_and_grad", "PART_BYTES"]

#: Networks trained at once keep each hidden-layer buffer (networks, units, rows) of
#: float64 within this size; more networks go in parts. At 2.7 MB (50 networks of 15
#: units, 449 distinct rows) one batch of 50 ran 42 us a network-iteration here, one of
#: 200 (10.8 MB) 58 us.
PART_BYTES = 4 * 2**20


# ----------------------------------------------------------------------------- data
def _weight_matrix(w, K, n, what):
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1:
        w = np.broadcast_to(w, (K, n))
    if w.shape != (K, n):
        raise ValueError(f"{what} must have shape ({K}, {n}), got {w.shape}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{what} must be finite and >= 0.")
    return w


@dataclasses.dataclass
class BatchData:
    """Merged distinct rows and every network's weights, targets and scaler.

    Attributes
    ----------
    X_u : (R, f) distinct raw rows;  inverse : (n,) row -> distinct row
    w, t : (K, R) normalised training weights and merged targets
    vw, vt : (K, R) or None, the same for the validation rows
    has_val : (K,) bool
    data_min, data_max : (K, f) each network's scaler
    XA : (f + 1, R) reference-scaled rows with a last row of ones; XAT its (R, f + 1) copy
    a, c : (K, f) the fold of each network's scaling (1 and 0 when it is the reference's)
    fold : bool, whether any network needs the fold
    """

    X_u: np.ndarray
    inverse: np.ndarray
    w: np.ndarray
    t: np.ndarray
    vw: np.ndarray | None
    vt: np.ndarray | None
    has_val: np.ndarray
    data_min: np.ndarray
    data_max: np.ndarray
    ref_min: np.ndarray
    ref_max: np.ndarray
    XA: np.ndarray
    XAT: np.ndarray
    a: np.ndarray
    c: np.ndarray
    fold: bool

    @property
    def K(self):
        return self.w.shape[0]

    @property
    def R(self):
        return self.X_u.shape[0]

    def scaler(self, k) -> Scaler:
        return Scaler(self.data_min[k], self.data_max[k])

    @classmethod
    def build(cls, X, y, weights, val_weights=None, scale_rows=None, scale=True):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise ValueError("X holds values that are not finite numbers.")
        n, f = X.shape
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if y.shape != (n,) or not np.all((y >= 0) & (y <= 1)):
            raise ValueError(f"y must hold {n} labels in 0..1.")
        weights = np.asarray(weights, dtype=np.float64)
        K = 1 if weights.ndim == 1 else weights.shape[0]
        weights = _weight_matrix(weights, K, n, "weights")
        if not np.all(weights.sum(axis=1) > 0):
            raise ValueError("every network needs some training weight (a row of weights is all 0).")
        if val_weights is not None:
            val_weights = _weight_matrix(val_weights, K, n, "val_weights")
        X_u, inverse = np.unique(X, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        R = X_u.shape[0]

        def merged(wk):
            """merge_duplicates + model.Pass's normalisation, keeping every distinct row."""
            weight, target = merged_weights(inverse, wk, y, R)
            total = weight.sum()
            return (weight / total if total > 0 else weight), target

        w, t = np.empty((K, R)), np.empty((K, R))
        for k in range(K):
            w[k], t[k] = merged(weights[k])
        vw = vt = None
        has_val = np.zeros(K, dtype=bool)
        if val_weights is not None:
            vw, vt = np.zeros((K, R)), np.zeros((K, R))
            for k in range(K):
                if val_weights[k].sum() > 0:
                    vw[k], vt[k] = merged(val_weights[k])
                    has_val[k] = True
        # each network's scaler, fitted on its own training rows (Scaler.fit's min/max)
        if scale:
            if scale_rows is None:
                scale_rows = weights > 0
                if val_weights is not None:
                    scale_rows = scale_rows | (val_weights > 0)
            scale_rows = np.broadcast_to(np.asarray(scale_rows, dtype=bool), (K, n))
            data_min, data_max = np.empty((K, f)), np.empty((K, f))
            for k in range(K):
                if not scale_rows[k].any():
                    raise ValueError(f"network {k} has no rows to fit its scaler on.")
                rows = X_u[np.unique(inverse[scale_rows[k]])]
                data_min[k], data_max[k] = rows.min(axis=0), rows.max(axis=0)  # Scaler.fit
            ref_min, ref_max = _reference_scaler(data_min, data_max)
        else:                                   # X is already scaled: the identity
            data_min, data_max = np.zeros((K, f)), np.ones((K, f))
            ref_min, ref_max = np.zeros(f), np.ones(f)
        span0 = ref_max - ref_min
        span0 = np.where(span0 > 0, span0, 1.0)
        Xs0 = (X_u - ref_min) / span0          # exactly Scaler.transform for the reference
        span = data_max - data_min
        span = np.where(span > 0, span, 1.0)
        a = span0 / span                        # Xs_k = a_k * Xs_0 + c_k
        c = (ref_min - data_min) / span
        fold = bool(np.any(a != 1.0) or np.any(c != 0.0))
        XA = np.ones((f + 1, R))
        XA[:f] = Xs0.T
        XAT = np.ascontiguousarray(XA.T)
        return cls(X_u, inverse, w, t, vw, vt, has_val, data_min, data_max, ref_min, ref_max,
                   XA, XAT, a, c, fold)


def _reference_scaler(data_min, data_max):
    """Per feature, the (min, max) pair that most networks have."""
    f = data_min.shape[1]
    ref_min, ref_max = np.empty(f), np.empty(f)
    for j in range(f):
        pairs = np.stack([data_min[:, j], data_max[:, j]], axis=1)
        uniq, counts = np.unique(pairs, axis=0, return_counts=True)
        ref_min[j], ref_max[j] = uniq[np.argmax(counts)]
    return ref_min, ref_max


# ----------------------------------------------------------------------------- passes
class BatchPass:
    """Forward and backward passes of K stacked networks over the rows of a BatchData.

    Buffers are allocated once for ``K`` networks; :meth:`bind` narrows them to the
    first ``k`` networks after the batch was compacted (views, no allocation).
    """

    def __init__(self, layer_sizes, data: BatchData, K: int, activation: str = "relu"):
        self.sizes = tuple(layer_sizes)
        self.activation = activation
        self._activate = ACTIVATIONS[activation]         # model.Pass's, on (k, n, R)
        self.data = data
        self.R = data.R
        self.f = self.sizes[0]
        self.shapes = [(o, i + 1) for i, o in zip(self.sizes, self.sizes[1:])]
        self.offsets = np.cumsum([0] + [o * i for o, i in self.shapes])
        self.P = int(self.offsets[-1])
        h = self.sizes[1:-1]
        R = self.R
        self._Z = [np.empty((K, n, R)) for n in h]            # hidden activations
        self._act = [np.empty((K, n, R)) for n in h]          # activation derivatives
        self._dl = [np.empty((K, n, R)) for n in h[1:]]       # deltas of hidden layers > 1
        self._z = np.empty((K, 1, R))
        self._d = np.empty((K, 1, R))
        self._W1 = np.empty((K, h[0], self.f + 1))            # first layer, folded, contiguous
        self._G1 = np.empty((K, h[0], self.f + 1))
        self._fold_b = np.empty((K, h[0], 1))
        self._d0 = np.empty((K, h[0], R)) if len(h) > 1 else None   # deep nets: delta of layer 1
        self._Wl = [np.empty((K, o, i)) for i, o in zip(self.sizes[1:], self.sizes[2:])]
        self._buf = np.empty((K, R))
        self._sum = np.empty(K)
        self._ones = np.ones(R)
        self.grad_buf = np.empty((K, self.P))
        self.k = None

    def bind(self, theta, k, a, c, w, t):
        """Use the first ``k`` networks; ``theta`` (k, P) and the per-network arrays are
        the batch's current ones (their views are kept)."""
        self.k = k
        self.theta = theta
        self.a, self.c = a[:, None, :], c[:, None, :]          # (k, 1, f)
        self.w, self.t = w, t
        self.w3 = w[:, None, :]
        self.wt3 = (w * t)[:, None, :]
        self.Z = [b[:k] for b in self._Z]
        self.act = [b[:k] for b in self._act]
        self.dl = [b[:k] for b in self._dl]
        self.z, self.d = self._z[:k], self._d[:k]
        self.z2 = self.z[:, 0, :]
        self.W1, self.G1, self.fold_b = self._W1[:k], self._G1[:k], self._fold_b[:k]
        self.d0 = None if self._d0 is None else self._d0[:k]
        self.buf, self.sums = self._buf[:k], self._sum[:k]
        self.grad = self.grad_buf[:k]
        self.packed = self.views(theta)
        self.grads = self.views(self.grad)
        h1 = self.sizes[1]
        self.W1_flat = self.W1.reshape(k * h1, self.f + 1)
        self.G1_flat = self.G1.reshape(k * h1, self.f + 1)
        self.Z1_flat = self.Z[0].reshape(k * h1, self.R)
        self.act1_flat = self.act[0].reshape(k * h1, self.R)
        # later layers: weights (k, n_out, n_in) and biases (k, n_out, 1) as views
        self.Wl_views = [Wb[:, :, :-1] for Wb in self.packed[1:]]
        self.Wl = [b[:k] for b in self._Wl]                  # contiguous copies, each forward
        self.bl = [Wb[:, :, -1:] for Wb in self.packed[1:]]
        self.gWl = [G[:, :, :-1] for G in self.grads[1:]]
        self.gbl = [G[:, :, -1] for G in self.grads[1:]]
        self.Z_T = [Z.transpose(0, 2, 1) for Z in self.Z]
        self.W_T = [W.transpose(0, 2, 1) for W in self.Wl]

    def views(self, flat):
        k = flat.shape[0]
        return [flat[:, s:e].reshape(k, *shape)
                for s, e, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)]

    def forward(self, masks=None):
        """Logits of every network at every distinct row, (k, 1, R); with ``masks`` (one
        (k, n_units, R) array a hidden layer), dropout as ``model.Pass.forward`` does it."""
        Wb1 = self.packed[0]
        f = self.f
        if self.data.fold:
            np.multiply(Wb1[:, :, :f], self.a, out=self.W1[:, :, :f])      # W * a
            np.matmul(Wb1[:, :, :f], self.c.transpose(0, 2, 1), out=self.fold_b)  # W c
            np.add(Wb1[:, :, f:], self.fold_b, out=self.W1[:, :, f:])      # b + W c
        else:
            np.copyto(self.W1, Wb1)
        for buf, view in zip(self.Wl, self.Wl_views):
            np.copyto(buf, view)                # stacked matmul is 2x faster on contiguous
        np.matmul(self.W1_flat, self.data.XA, out=self.Z1_flat)            # one product, all K
        self._activate(self.Z[0], self.act[0])                             # as model.Pass
        if masks is not None:
            np.multiply(self.Z[0], masks[0], out=self.Z[0])
            np.multiply(self.act[0], masks[0], out=self.act[0])
        for layer in range(1, len(self.Z)):
            Z = self.Z[layer]
            np.matmul(self.Wl[layer - 1], self.Z[layer - 1], out=Z)
            np.add(Z, self.bl[layer - 1], out=Z)
            self._activate(Z, self.act[layer])
            if masks is not None:
                np.multiply(Z, masks[layer], out=Z)
                np.multiply(self.act[layer], masks[layer], out=self.act[layer])
        np.matmul(self.Wl[-1], self.Z[-1], out=self.z)
        np.add(self.z, self.bl[-1], out=self.z)
        return self.z

    def finite(self):
        """Whether every logit of every network is finite (NaN and inf propagate)."""
        return math.isfinite(float(self.z2.sum()))

    def finite_each(self):
        np.matmul(self.z2, self._ones, out=self.sums)
        return np.isfinite(self.sums)

    def losses(self, w, t, out=None):
        """Weighted-mean cross-entropy of each network for weights ``w`` and targets ``t``
        (k, R), at the logits of the last :meth:`forward` (as model.Pass.loss)."""
        z, buf = self.z2, self.buf
        np.logaddexp(0.0, z, out=buf)           # log(1 + exp(z))
        buf -= t * z                            # - t z
        return np.einsum("kr,kr->k", w, buf, out=out)

    def backward(self):
        """Gradient of each network's cross-entropy into :attr:`grad` (k, P)."""
        d = self.d
        # dLoss/dz = w sigmoid(z) - w t = w / (1 + exp(-z)) - w t. model.Pass uses the
        # tanh form, w/2 tanh(z/2) + w (1/2 - t): the same to an ulp, but NumPy's tanh
        # costs twice its exp here (7.3 against 3.2 us a network, K = 50)
        np.negative(self.z, out=d)
        np.exp(d, out=d)                        # inf for z < -709: w / inf = 0
        np.add(d, 1.0, out=d)
        np.divide(self.w3, d, out=d)
        np.subtract(d, self.wt3, out=d)
        L = len(self.Z)                         # hidden layers
        for layer in range(L, 0, -1):           # output layer first; Wl[layer-1] maps Z[layer-1]
            np.matmul(d, self.Z_T[layer - 1], out=self.gWl[layer - 1])
            np.sum(d, axis=2, out=self.gbl[layer - 1])
            if layer == 1:
                break
            below = self.dl[layer - 2]
            np.matmul(self.W_T[layer - 1], d, out=below)
            np.multiply(below, self.act[layer - 1], out=below)
            d = below
        f = self.f
        act1 = self.act[0]
        if L == 1:
            # G = w2^T d * f': scale by w2 after the product (as model.Pass does)
            np.multiply(act1, d, out=act1)
            np.matmul(self.act1_flat, self.data.XAT, out=self.G1_flat)   # one product, all K
            scale = self.W_T[0]                                            # (k, h, 1)
        else:                                   # d is the delta of hidden layer 2 here
            d0 = self.d0
            np.matmul(self.W_T[0], d, out=d0)   # W2^T d
            np.multiply(d0, act1, out=act1)     # * f'
            np.matmul(self.act1_flat, self.data.XAT, out=self.G1_flat)
            scale = None
        G1, g1 = self.G1, self.grads[0]
        if self.data.fold:                      # dW_k = a * (G Xs0^T) + c * (G 1)
            np.multiply(G1[:, :, :f], self.a, out=G1[:, :, :f])
            G1[:, :, :f] += G1[:, :, f:] * self.c
        if scale is None:
            np.copyto(g1, G1)
        else:
            np.multiply(G1, scale, out=g1)
        return self.grad


def loss_and_grad(data: BatchData, layer_sizes, theta, l2=0.0, activation="relu"):
    """Each network's ``cross-entropy + l2 / 2 * sum(W ** 2)`` and its gradient (K, P) at
    ``theta`` (K, P), through the batched passes (for the gradient check)."""
    theta = np.array(theta, dtype=np.float64)
    K = theta.shape[0]
    pas = BatchPass(layer_sizes, data, K, activation)
    pas.bind(theta, K, data.a, data.c, data.w, data.t)
    mask = np.ones(pas.P)
    for v in pas.views(mask[None]):
        v[:, :, -1] = 0.0
    l2 = np.broadcast_to(np.asarray(l2, dtype=np.float64), (K,))
    pas.forward()
    loss = pas.losses(data.w, data.t) + 0.5 * l2 * np.einsum("kp,kp->k", theta * mask, theta)
    grad = pas.backward().copy() + l2[:, None] * mask * theta
    return loss, grad


# ----------------------------------------------------------------------------- results
class BatchProgress(NamedTuple):
    """One report of :func:`train_many`, at every iteration where some network logs
    (and every ``report_every`` iterations when asked).

    ``train_loss`` and ``val_loss`` are (K,) arrays of the losses recorded at this
    iteration (cross-entropy, no L2), NaN for networks that record nothing now.
    ``done`` is the number of updates made over all networks and ``total`` the number
    planned (a stopped network counts as done), so ``done / total`` is a fraction.
    """

    iteration: int
    iterations: int
    active: int
    networks: int
    train_loss: np.ndarray
    val_loss: np.ndarray
    done: int
    total: int


@dataclasses.dataclass
class BatchResult:
    """What :func:`train_many` returns.

    results : list of training.TrainResult (None for a diverged network)
    scalers : list of model.Scaler, each fitted on its network's own rows
    stopped : list of str ("completed", "early_stopped", "cancelled", "diverged")
    errors : list of TrainingDiverged or None
    seconds : wall time of the whole batch
    """

    results: list
    scalers: list
    stopped: list
    errors: list
    seconds: float

    def __len__(self):
        return len(self.results)

    def predict_proba(self, X, k=None):
        """Probabilities of raw rows ``X`` by each network (K, n) through its own scaler
        and ``MLP.predict_proba`` (so identical weights give identical numbers)."""
        idx = range(len(self.results)) if k is None else [k]
        return np.stack([self.results[j].model.predict_proba(self.scalers[j].transform(X))
                         for j in idx])


# ----------------------------------------------------------------------------- training
def _configs(configs, K):
    if isinstance(configs, TrainConfig):
        configs = [configs] * K
    configs = list(configs)
    if len(configs) != K:
        raise ValueError(f"{len(configs)} configs for {K} networks.")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"configs must be TrainConfig, got {type(c).__name__}.")
    if len({(c.hidden, c.optimizer, c.activation) for c in configs}) > 1:
        raise ValueError("networks trained together must share hidden sizes, optimizer and activation.")
    return configs


def _cancel_mask(cancel, index):
    """(k,) bool for the active networks ``index``: an Event cancels all, a sequence
    of K events cancels each its own network."""
    if cancel is None:
        return None
    if hasattr(cancel, "is_set"):
        return np.full(len(index), bool(cancel.is_set()))
    return np.array([cancel[j] is not None and cancel[j].is_set() for j in index], dtype=bool)


def train_many(X, y, configs: TrainConfig | Sequence[TrainConfig], weights, *, val_weights=None,
               scale_rows=None, scale: bool = True,
               progress: Callable[[BatchProgress], object] | None = None, report_every: int | None = None,
               cancel=None, on_diverged: str = "raise", max_batch: int | None = None,
               threads: int = 1) -> BatchResult:
    """Train K networks together, each as ``training.train`` would train it alone.

    Parameters
    ----------
    X : (n, f) raw rows (``scale=True``) or already scaled rows (``scale=False``)
    y : (n,) labels in 0..1
    configs : TrainConfig or sequence of K TrainConfig
        Same ``hidden``, ``optimizer`` and ``activation``; seed, init, lr, schedule and
        its parameters, l2, dropout, patience, iterations and log_every may differ per
        network (with dropout, each draws ``training.train``'s masks over its own rows).
    weights : (K, n) non-negative training weight of each row for each network
        (0 = not in its training part; 1 per copy; duplicates are merged).
    val_weights : (K, n), optional
        Early-stopping / monitoring rows of each network (needed where patience > 0).
    scale_rows : (K, n) bool, optional
        Rows each network's min-max scaler is fitted on; default: the rows with a
        training or validation weight. Ignored with ``scale=False``.
    progress : callable, optional
        ``progress(BatchProgress)`` at every iteration where some network records a
        loss-curve entry (every ``log_every`` and at each network's last iteration),
        and with ``report_every`` also every this many iterations (NaN losses then
        for the networks that record nothing).
    cancel : threading.Event or sequence of K Events, optional
        Checked once per iteration; a cancelled network keeps its current weights
        (``stopped == "cancelled"``), as in ``training.train``.
    on_diverged : {"raise", "stop"}
        ``raise``: the first network that diverges raises its TrainingDiverged (the
        message of ``training.train``). ``stop``: that network is finished as
        "diverged" (result None, error kept) and the others go on.
    max_batch : int, optional
        Train at most this many networks at once (chunks run one after the other;
        the progress reports count over all of them). By default as many as keep each
        (networks, units, rows) buffer within :data:`PART_BYTES` (51 networks of 15
        units on the bundled 683 rows): larger buffers fall out of the cache, and a
        wide network would take gigabytes.
    threads : int
        Split the networks into this many parts trained at once in threads (NumPy
        and BLAS release the GIL; BLAS stays on one thread each). Each network's
        numbers are those of one batch (to rounding); progress reports come from
        one thread at a time.

    Returns
    -------
    BatchResult
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 1:
        weights = weights[None]
    K = weights.shape[0]
    configs = _configs(configs, K)
    if on_diverged not in ("raise", "stop"):
        raise ValueError("on_diverged must be 'raise' or 'stop'.")
    if report_every is not None and not (isinstance(report_every, int) and report_every >= 1):
        raise ValueError(f"report_every must be a whole number >= 1, got {report_every!r}.")
    if not (isinstance(threads, int) and threads >= 1):
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}.")
    if max_batch is None:
        max_batch = max(1, PART_BYTES // (8 * max(configs[0].hidden) * max(1, len(X))))
    if K > max_batch or (threads > 1 and K > 1):
        size = min(max_batch, -(-K // min(threads, K)))
        return _in_parts(X, y, configs, weights, val_weights, scale_rows, progress, cancel, size, threads,
                         scale=scale, report_every=report_every, on_diverged=on_diverged)
    started = time.perf_counter()
    data = BatchData.build(X, y, weights, val_weights, scale_rows, scale)
    for k, cfg in enumerate(configs):
        if cfg.patience and not data.has_val[k]:
            raise UserError("Early stopping (patience > 0) needs validation rows; "
                            "use a validation split or set patience to 0.")
    n_inputs = data.X_u.shape[1]
    cfg0 = configs[0]
    models = [MLP(n_inputs, c.hidden, c.init, c.seed, c.activation) for c in configs]
    layer_sizes = models[0].layer_sizes
    theta = np.stack([m.theta for m in models])
    mask = models[0].weight_mask
    l2 = np.array([c.l2 for c in configs])
    decay = l2[:, None] * mask if np.any(l2) else None
    T = np.array([c.iterations for c in configs])
    Tmax = int(T.max())
    # one row of rates a distinct schedule (K rows of 10 million would not fit in memory)
    schedules = [(c.schedule, c.lr, c.iterations, c.restart_period, c.restart_mult, c.inverse_decay)
                 for c in configs]
    distinct = list(dict.fromkeys(schedules))
    rates = np.zeros((len(distinct), Tmax))
    for u, c in enumerate(configs[schedules.index(key)] for key in distinct):
        rates[u, :c.iterations] = learning_rates(c)
    rate_of = np.array([distinct.index(key) for key in schedules])
    log_every = np.array([c.log_every for c in configs])
    patience = np.array([c.patience for c in configs])
    # validation rows gathered per network: (K, V) indices, weights, targets (pad weight 0)
    if data.vw is not None:
        V = max(1, int((data.vw > 0).sum(axis=1).max()))
        vidx = np.zeros((K, V), dtype=np.intp)
        vwg, vtg = np.zeros((K, V)), np.zeros((K, V))
        for k in range(K):
            rows = np.flatnonzero(data.vw[k] > 0)
            vidx[k, :rows.size] = rows
            vwg[k, :rows.size] = data.vw[k, rows]
            vtg[k, :rows.size] = data.vt[k, rows]
    else:
        vidx = vwg = vtg = None

    state = dict(index=np.arange(K), theta=theta, w=data.w, t=data.t, a=data.a, c=data.c,
                 decay=decay, rate_of=rate_of, T=T, log_every=log_every, patience=patience,
                 has_val=data.has_val, vidx=vidx, vwg=vwg, vtg=vtg,
                 best_theta=np.empty_like(theta), best_val=np.full(K, math.inf),
                 best_iter=T.copy(), any_patience=bool(np.any(patience > 0)))
    pas = BatchPass(layer_sizes, data, K, cfg0.activation)
    opt = Optimizer(cfg0.optimizer, theta.shape)
    # dropout: each network draws training.train's masks over its own merged rows (those
    # with training weight, in np.unique's order, which scaling keeps), scattered into
    # its columns of (K, n_units, R) buffers; the other columns have no weight
    draws = [dropout_masks(c, int((data.w[k] > 0).sum())) if c.dropout else None
             for k, c in enumerate(configs)]
    own_rows = [np.flatnonzero(data.w[k] > 0) for k in range(K)]
    mask_bufs = ([np.ones((K, n, data.R)) for n in layer_sizes[1:-1]]
                 if any(d is not None for d in draws) else None)

    def thinned():
        """The masked forward pass of the active networks, before their backward pass."""
        if mask_bufs is None:
            return
        index = state["index"]
        bufs = [b[:len(index)] for b in mask_bufs]
        for pos, j in enumerate(index):
            if draws[j] is None:
                for b in bufs:
                    b[pos] = 1.0
                continue
            for b, m in zip(bufs, draws[j]()):
                b[pos][:, own_rows[j]] = m
        pas.forward(bufs)

    def rebind():
        s = state
        pas.bind(s["theta"], len(s["index"]), s["a"], s["c"], s["w"], s["t"])

    rebind()
    curves = [[] for _ in range(K)]
    results, stopped_as, errors = [None] * K, [None] * K, [None] * K
    total = int(T.sum())
    done_stopped = 0
    nan_k = np.full(K, np.nan)

    def finish(pos, i, how, tl, vl, logged_now):
        """Finish the active network at position ``pos`` at iteration ``i``."""
        nonlocal done_stopped
        s = state
        j = int(s["index"][pos])
        cfg = configs[j]
        curve = curves[j]
        if not logged_now:                      # the last iteration reached
            curve.append((i, float(tl[pos]), None if not s["has_val"][pos] else float(vl[pos])))
        th = s["theta"][pos]
        best = int(s["best_iter"][pos])
        if cfg.patience and best != i:
            th = s["best_theta"][pos]
        else:
            best = i
        done_stopped += int(s["T"][pos])       # a stopped network counts as done
        if not np.all(np.isfinite(th)):
            err = diverged_error(i, cfg.lr)
            if on_diverged == "raise":
                raise err
            stopped_as[j], errors[j] = "diverged", err
            return
        model = models[j]
        np.copyto(model.theta, th)
        results[j] = TrainResult(model, curve, i, best, how, time.perf_counter() - started)
        stopped_as[j] = how

    # iterations where some network records or ends; between them, unless a network
    # watches its validation loss or cancel is set, an iteration is forward, backward, step
    events = np.zeros(Tmax + 1, dtype=bool)
    for c in configs:
        events[0:c.iterations + 1:c.log_every] = True
        events[c.iterations] = True
    ticks = np.zeros(Tmax + 1, dtype=bool)
    if progress is not None and report_every is not None:
        ticks[::report_every] = True
        events |= ticks
    events, ticks = events.tobytes(), ticks.tobytes()  # 1 byte a flag, fast to index
    per_net_cancel = cancel is not None and not hasattr(cancel, "is_set")

    def cancel_set():
        if cancel is None:
            return False
        if not per_net_cancel:
            return cancel.is_set()
        return any(cancel[j] is not None and cancel[j].is_set() for j in state["index"])

    from threadpoolctl import threadpool_limits  # BLAS on one thread, as scoring does

    # the products are small, and a second BLAS thread on a busy machine makes them
    # many times slower (K = 10: 1950 against 50 us a network-iteration, measured)
    with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(limits=1, user_api="blas"):
        for i in range(Tmax + 1):
            s = state
            k = len(s["index"])
            pas.forward()
            if not pas.finite():
                bad = ~pas.finite_each()
                tl = pas.losses(s["w"], s["t"])
                for pos in np.flatnonzero(bad):
                    j = int(s["index"][pos])
                    err = diverged_error(i, configs[j].lr, float(tl[pos]))
                    if on_diverged == "raise":
                        raise err
                    stopped_as[j], errors[j] = "diverged", err
                    done_stopped += int(s["T"][pos])
                _compact(state, np.flatnonzero(~bad), opt, rebind)
                s = state
                k = len(s["index"])
                if k == 0:
                    break
                pas.forward()                   # the buffers held the old order
            if not (events[i] or s["any_patience"] or cancel_set()):
                thinned()
                pas.backward()
                opt.step(i, rates[s["rate_of"], i:i + 1], s["theta"], pas.grad, s["decay"])
                continue
            logged = (i % s["log_every"] == 0) | (i == s["T"])
            any_logged = bool(logged.any())
            pat = s["patience"] > 0
            need_val = s["has_val"] & (logged | pat)
            vl = None
            if need_val.any():
                zv = np.take_along_axis(pas.z2, s["vidx"], axis=1)
                bufv = np.logaddexp(0.0, zv)
                bufv -= s["vtg"] * zv
                vl = np.einsum("kr,kr->k", s["vwg"], bufv)
            tl = None
            tr_rep, va_rep = nan_k.copy(), nan_k.copy()
            if any_logged:                      # record, then report (as training.train)
                tl = pas.losses(s["w"], s["t"]).copy()
                for pos in np.flatnonzero(logged):
                    j = int(s["index"][pos])
                    v = float(vl[pos]) if s["has_val"][pos] else None
                    curves[j].append((i, float(tl[pos]), v))
                    tr_rep[j] = tl[pos]
                    va_rep[j] = np.nan if v is None else v
            if progress is not None and (any_logged or ticks[i]):
                progress(BatchProgress(i, Tmax, k, K, tr_rep, va_rep, done_stopped + i * k, total))
            stop = np.zeros(k, dtype=bool)
            early = np.zeros(k, dtype=bool)
            if pat.any():                       # training.train's early-stopping rule
                improved = pat & (vl < s["best_val"])
                if improved.any():
                    np.copyto(s["best_theta"], s["theta"], where=improved[:, None])
                    s["best_val"] = np.where(improved, vl, s["best_val"])
                    s["best_iter"] = np.where(improved, i, s["best_iter"])
                early = pat & ~improved & (i - s["best_iter"] >= s["patience"])
                stop |= early
            completed = ~stop & (i == s["T"])
            stop |= completed
            cm = _cancel_mask(cancel, s["index"])
            cancelled = np.zeros(k, dtype=bool) if cm is None else ~stop & cm
            stop |= cancelled
            if stop.any():
                if tl is None:
                    tl = pas.losses(s["w"], s["t"]).copy()
                if vl is None and s["has_val"][stop].any():
                    zv = np.take_along_axis(pas.z2, s["vidx"], axis=1)
                    bufv = np.logaddexp(0.0, zv)
                    bufv -= s["vtg"] * zv
                    vl = np.einsum("kr,kr->k", s["vwg"], bufv)
                final_rep = [pos for pos in np.flatnonzero(stop) if not logged[pos]]
                if final_rep and progress is not None:   # their last entries are reported too
                    tr_rep, va_rep = nan_k.copy(), nan_k.copy()
                    for pos in final_rep:
                        j = int(s["index"][pos])
                        tr_rep[j] = tl[pos]
                        va_rep[j] = vl[pos] if s["has_val"][pos] else np.nan
                for pos in np.flatnonzero(stop):
                    how = ("early_stopped" if early[pos] else "completed" if completed[pos]
                           else "cancelled")
                    finish(pos, i, how, tl, vl, bool(logged[pos]))
                if final_rep and progress is not None:
                    left = k - int(stop.sum())
                    progress(BatchProgress(i, Tmax, left, K, tr_rep, va_rep,
                                           done_stopped + i * left, total))
            if stop.any():
                _compact(state, np.flatnonzero(~stop), opt, rebind)
                s = state
                if len(s["index"]) == 0:
                    break
                pas.forward()                   # the buffers held the old order
            thinned()
            pas.backward()
            opt.step(i, rates[s["rate_of"], i:i + 1], s["theta"], pas.grad, s["decay"])
    return BatchResult(results, [data.scaler(k) for k in range(K)], stopped_as, errors,
                       time.perf_counter() - started)


_PER_NETWORK = ("index", "theta", "w", "t", "a", "c", "decay", "rate_of", "T", "log_every",
                "patience", "has_val", "vidx", "vwg", "vtg", "best_theta", "best_val", "best_iter")


def _compact(state, keep, opt, rebind):
    """Keep only the networks at positions ``keep`` (in place at the front of each array)."""
    if len(keep) == len(state["index"]):
        return
    k = len(keep)
    for name in _PER_NETWORK:
        arr = state[name]
        if arr is None:
            continue
        if name == "theta":                     # theta keeps its buffer: views depend on it
            arr[:k] = arr[keep]
            state[name] = arr[:k]
        else:
            state[name] = arr[keep]
    state["any_patience"] = bool(np.any(state["patience"] > 0))
    opt.keep(keep)
    if k:
        rebind()


class _Either:
    """Set when the caller's cancel event (if any) or the parts' own stop is set."""

    def __init__(self, event, stop: threading.Event) -> None:
        self.event, self.stop = event, stop

    def is_set(self) -> bool:
        return self.stop.is_set() or (self.event is not None and self.event.is_set())


def _in_parts(X, y, configs, weights, val_weights, scale_rows, progress, cancel, size: int, threads: int,
              **options) -> BatchResult:
    """:func:`train_many` on parts of at most ``size`` networks, ``threads`` parts at once;
    the progress reports count over all networks, from one thread at a time."""
    started = time.perf_counter()
    K = len(configs)
    parts = [(start, min(K, start + size)) for start in range(0, K, size)]
    totals = [sum(c.iterations for c in configs[a:b]) for a, b in parts]
    done, active = [0] * len(parts), [b - a for a, b in parts]
    lock, stop = threading.Lock(), threading.Event()
    results: list = [None] * len(parts)

    def report(index: int, p: BatchProgress) -> None:
        with lock:
            done[index], active[index] = p.done, p.active
            if progress is None or stop.is_set():
                return
            losses = np.full((2, K), np.nan)
            a = parts[index][0]
            losses[:, a:a + p.networks] = p.train_loss, p.val_loss
            progress(p._replace(active=sum(active), networks=K, train_loss=losses[0], val_loss=losses[1],
                                done=sum(done), total=sum(totals)))

    def run(index: int) -> None:
        a, b = parts[index]
        if isinstance(cancel, Sequence):
            part_cancel = [_Either(event, stop) for event in cancel[a:b]]
        else:
            part_cancel = _Either(cancel, stop)
        try:
            results[index] = train_many(
                X, y, configs[a:b], weights[a:b], cancel=part_cancel,
                progress=None if progress is None else (lambda p: report(index, p)),
                val_weights=None if val_weights is None else np.asarray(val_weights)[a:b],
                scale_rows=None if scale_rows is None else np.asarray(scale_rows)[a:b], **options)
        except BaseException as exc:         # the first error stops the other parts, then is raised
            results[index] = exc
            stop.set()
        with lock:
            done[index], active[index] = totals[index], 0

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):   # for every thread, as long as any runs
        if threads == 1:                      # one part after the other, in this thread
            for index in range(len(parts)):
                run(index)
                if stop.is_set():
                    break
        for first in range(0, len(parts) if threads > 1 else 0, threads):
            workers = [threading.Thread(target=run, args=(index,), daemon=True)
                       for index in range(first, min(len(parts), first + threads))]
            for worker in workers:
                worker.start()
            try:
                for worker in workers:
                    worker.join()
            except BaseException:             # Ctrl+C while waiting: the parts stop too
                stop.set()
                raise
            if stop.is_set():
                break
    for part in results:
        if isinstance(part, BaseException):
            raise part
    out = BatchResult([], [], [], [], time.perf_counter() - started)
    for part in results:
        for name in ("results", "scalers", "stopped", "errors"):
            getattr(out, name).extend(getattr(part, name))
    return out
