"""The NumPy network: a min-max scaler and a small multilayer perceptron.

The network has ReLU (or Leaky-ReLU, or tanh) hidden layers and one sigmoid output unit giving the
probability that a tumour is malignant. Its loss is the (weighted) mean binary
cross-entropy, computed stably from the logits ``z``::

    loss = sum_i w_i * (log(1 + exp(z_i)) - y_i * z_i) / sum_i w_i

Weights are stored ``(n_out, n_in)`` like the article this project reproduces,
and examples are laid out as columns inside the passes (``A`` is
``(n_units, n_samples)``). Each layer's weights and bias share one packed matrix
``[W | b]`` of shape ``(n_out, n_in + 1)``, and each activation buffer carries a
last row of ones, so ``Z = W @ A + b`` is one product ``[W | b] @ [A; 1]`` and the
gradient of ``[W | b]`` is one product too. All packed matrices are views into one
flat parameter vector, which lets an optimizer update every parameter at once.

Only NumPy is imported here: this module is on the application's start-up path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import UserError

if TYPE_CHECKING:  # only for the annotations: numpy.typing is slow to import
    from numpy.typing import ArrayLike

__all__ = ["Scaler", "MLP", "Pass", "INITS", "HIDDEN_ACTIVATIONS", "LEAKY_SLOPE", "ACTIVATIONS",
           "DERIVATIVES", "n_parameters",
           "parse_hidden", "HiddenSizesError", "hidden_problem", "MAX_HIDDEN_LAYERS", "MAX_HIDDEN_UNITS",
           "MAX_PARAMETERS"]

INITS = ("article", "he", "xavier")
# The hidden units' activations a network may have; "relu" is the default and the article's.
HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh")
LEAKY_SLOPE = 0.01                       # Leaky-ReLU's slope below 0 (PyTorch's and Keras's default)
# The largest network the app trains, the one set of limits every entry point checks
# (TrainConfig, the command line's --hidden, the window's field): a typing slip fails
# at once with a line naming the limit, not after minutes or with a MemoryError.
MAX_HIDDEN_LAYERS = 5
MAX_HIDDEN_UNITS = 2_000                 # per layer
MAX_PARAMETERS = 1_000_000               # 8 MB of float64 weights, well inside a model file's limit


def n_parameters(hidden: Sequence[int], n_inputs: int = 9) -> int:
    """Weights and biases of a network with these hidden sizes and one output
    (166 for the default 9-15-1)."""
    sizes = [int(n_inputs), *(int(h) for h in hidden), 1]
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def hidden_problem(hidden: Sequence[int]) -> str | None:
    """The first limit that these hidden layer sizes (one or more positive whole numbers)
    break, as a phrase to put after a colon (no capital, no full stop), or None when they fit.

    The limits are :data:`MAX_HIDDEN_LAYERS`, :data:`MAX_HIDDEN_UNITS` a layer and
    :data:`MAX_PARAMETERS` weights and biases.
    """
    if len(hidden) > MAX_HIDDEN_LAYERS:
        return f"a network may have at most {MAX_HIDDEN_LAYERS} hidden layers; got {len(hidden)}"
    if max(hidden) > MAX_HIDDEN_UNITS:
        return (f"a network may have at most {MAX_HIDDEN_UNITS:,} units a layer; "
                f"got {max(hidden):,}")
    if (n := n_parameters(hidden)) > MAX_PARAMETERS:
        return (f"{','.join(map(str, hidden))} gives {n:,} weights, and the limit is "
                f"{MAX_PARAMETERS:,}; use smaller layers")
    return None


_LAYER_SIZE = re.compile(r"[+-]?[0-9]+")


def parse_hidden(text: str) -> tuple[int, ...]:
    """Hidden layer sizes typed by a person: ``"15"``, ``"15,8"`` or ``"16, 8"``.

    Sizes are whole numbers separated by commas (or semicolons), with spaces allowed
    around them; each is at least 1, and together they keep within
    :func:`hidden_problem`'s limits, the ones :class:`~bcdesktop.training.TrainConfig`
    enforces.

    Raises
    ------
    HiddenSizesError
        A :class:`UserError` with one plain sentence saying what is wrong, e.g. ``'abc'
        is not a whole number; give layer sizes such as 15 or 16, 8.``, and its short
        ``phrase`` (``'abc' is not a whole number``).
    """
    if not text.strip():
        raise _refusal("enter the hidden layer sizes, such as 15 or 16, 8")
    sizes: list[int] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            raise _refusal(f"'{text.strip()}' has an empty layer size", "give sizes such as 15 or 16, 8")
        if not _LAYER_SIZE.fullmatch(part):
            raise _refusal(f"'{part}' is not a whole number", "give layer sizes such as 15 or 16, 8")
        if len(part) > 40:  # int() refuses beyond 4,300 digits; so long a size is out of range
            raise _refusal(f"'{part[:20]}...' is not a layer size from 1 to {MAX_HIDDEN_UNITS:,}")
        size = int(part)
        if size < 1:
            raise _refusal(f"a hidden layer needs at least 1 unit; got {size}")
        sizes.append(size)
    problem = hidden_problem(sizes)
    if problem is not None:
        raise _refusal(problem)
    return tuple(sizes)


class HiddenSizesError(UserError):
    """:func:`parse_hidden`'s refusal: a sentence (``str(exc)``), and ``phrase``, its short
    form for a form field's inline message (lower case, no advice, no full stop)."""

    def __init__(self, phrase: str, advice: str = ""):
        sentence = phrase + (f"; {advice}" if advice else "")
        super().__init__(f"{sentence[0].upper()}{sentence[1:]}.")
        self.phrase = phrase


def _refusal(phrase: str, advice: str = "") -> HiddenSizesError:
    return HiddenSizesError(phrase, advice)


# --- activations, in place, as lookup tables (after scikit-learn's _base.py) ---
# ``ACTIVATIONS[name](Z, active)`` overwrites Z with the activation of Z and writes to
# the float array ``active`` its derivative at Z (ReLU: 1 where Z > 0, else 0).
# ``DERIVATIVES[name](active, delta)`` multiplies delta by that derivative; for every
# hidden activation this is one product, so the backward passes need not know which.
# Dropout (training only) multiplies both the activation and ``active`` by its mask.


def inplace_relu(Z: np.ndarray, active: np.ndarray) -> None:
    """Rectified linear unit ``max(Z, 0)`` in place, as ``Z * (Z > 0)``."""
    np.greater(Z, 0.0, out=active)
    np.multiply(Z, active, out=Z)


def inplace_leaky_relu(Z: np.ndarray, active: np.ndarray) -> None:
    """Leaky ReLU ``Z`` where ``Z > 0``, else ``LEAKY_SLOPE * Z``, in place; its
    derivative (1 or ``LEAKY_SLOPE``) into ``active``."""
    np.greater(Z, 0.0, out=active)
    np.multiply(active, 1.0 - LEAKY_SLOPE, out=active)
    np.add(active, LEAKY_SLOPE, out=active)
    np.multiply(Z, active, out=Z)


def inplace_tanh(Z: np.ndarray, active: np.ndarray) -> None:
    """Hyperbolic tangent in place; its derivative ``1 - tanh(Z) ** 2`` into ``active``."""
    np.tanh(Z, out=Z)
    np.multiply(Z, Z, out=active)
    np.subtract(1.0, active, out=active)


def inplace_derivative(active: np.ndarray, delta: np.ndarray) -> None:
    """``delta *= f'(Z)``, the derivative the activation wrote to ``active``."""
    np.multiply(delta, active, out=delta)


inplace_relu_derivative = inplace_derivative   # ReLU's: 1 where the unit was active, else 0


def inplace_logistic(Z: np.ndarray, active: np.ndarray | None = None) -> None:
    """Sigmoid ``1 / (1 + exp(-Z))`` in place, as ``(1 + tanh(Z / 2)) / 2``.

    The tanh form never overflows, whatever the size of ``Z``.
    """
    np.multiply(Z, 0.5, out=Z)
    np.tanh(Z, out=Z)
    np.multiply(Z, 0.5, out=Z)
    np.add(Z, 0.5, out=Z)


ACTIVATIONS: dict[str, Callable[..., None]] = {
    "relu": inplace_relu, "leaky_relu": inplace_leaky_relu, "tanh": inplace_tanh,
    "logistic": inplace_logistic}
DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    name: inplace_derivative for name in HIDDEN_ACTIVATIONS}


class Scaler:
    """Min-max scaling of each feature to 0..1, fitted on training rows only.

    Parameters
    ----------
    data_min, data_max : array-like, shape (n_features,)
        Smallest and largest value of each feature in the rows it was fitted on.
        A constant feature (min == max) is mapped to 0 instead of dividing by 0.
    """

    data_min: np.ndarray
    data_max: np.ndarray

    def __init__(self, data_min: ArrayLike, data_max: ArrayLike) -> None:
        data_min = np.array(data_min, dtype=np.float64).reshape(-1)
        data_max = np.array(data_max, dtype=np.float64).reshape(-1)
        if data_min.shape != data_max.shape:
            raise ValueError(
                f"Scaler: data_min has {data_min.size} values but data_max has {data_max.size}.")
        if not (np.all(np.isfinite(data_min)) and np.all(np.isfinite(data_max))):
            raise ValueError("Scaler: data_min and data_max must be finite numbers.")
        if np.any(data_max < data_min):
            raise ValueError("Scaler: data_max is smaller than data_min for some feature.")
        self.data_min = data_min
        self.data_max = data_max

    @classmethod
    def fit(cls, X: ArrayLike) -> Scaler:
        """Scaler fitted on the rows of ``X``, shape (n_samples, n_features)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"Scaler.fit needs a non-empty 2-D array, got shape {X.shape}.")
        return cls(X.min(axis=0), X.max(axis=0))

    @property
    def n_features(self) -> int:
        return self.data_min.size

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Scaled copy of ``X`` (n_samples, n_features): ``(X - min) / (max - min)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"Scaler expects {self.n_features} features per row, got shape {X.shape}.")
        span = self.data_max - self.data_min
        return (X - self.data_min) / np.where(span > 0, span, 1.0)

    def __repr__(self) -> str:
        return (f"Scaler(data_min={self.data_min.tolist()}, "
                f"data_max={self.data_max.tolist()})")


class MLP:
    """Multilayer perceptron: ReLU (Leaky-ReLU, tanh) hidden layers and one sigmoid output.

    Parameters
    ----------
    n_inputs : int
        Number of input features (9 for the Wisconsin scores).
    hidden : sequence of int
        Sizes of the hidden layers, e.g. ``(15,)`` or ``(16, 8)``.
    init : {"article", "he", "xavier"}
        ``article`` replays the article's legacy ``np.random.RandomState(seed)``
        stream: each layer draws ``randn(n_out, n_in) / sqrt(n_in)`` in order,
        biases 0. ``he``: normal with standard deviation ``sqrt(2 / n_in)``;
        ``xavier``: Glorot uniform on ``+-sqrt(6 / (n_in + n_out))``; both through
        ``np.random.default_rng(seed)``, biases 0.
    seed : int
        Seed of the initialisation.
    activation : {"relu", "leaky_relu", "tanh"}
        The hidden units' activation (:data:`HIDDEN_ACTIVATIONS`), kept as
        :attr:`hidden_activation`; Leaky-ReLU's slope below 0 is :data:`LEAKY_SLOPE`.

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(n_inputs, *hidden, 1)``.
    theta : ndarray, shape (n_parameters,)
        Every parameter in one flat vector; ``packed[l]`` are views into it.
    packed : list of ndarray, each (n_out, n_in + 1)
        ``[W | b]`` of each layer.
    """

    hidden_activation: str = "relu"
    out_activation: str = "logistic"
    layer_sizes: tuple[int, ...]
    init: str
    seed: int | None  # None for a network made from_params
    theta: np.ndarray
    packed: list[np.ndarray]

    def __init__(self, n_inputs: int = 9, hidden: int | Sequence[int] = (15,), init: str = "he",
                 seed: int = 0, activation: str = "relu") -> None:
        if isinstance(hidden, (int, np.integer)):
            hidden = (hidden,)
        hidden = tuple(hidden)
        if not _is_count(n_inputs):
            raise ValueError(f"n_inputs must be a positive whole number, got {n_inputs!r}.")
        if not all(_is_count(h) for h in hidden):
            raise ValueError(f"hidden layer sizes must be positive whole numbers, got {hidden!r}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}.")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {seed!r}.")
        self.hidden_activation = _check_activation(activation)
        self.layer_sizes = (int(n_inputs), *(int(h) for h in hidden), 1)
        self.init = init
        self.seed = int(seed)
        self._allocate()
        self._initialise(init, int(seed))

    def _allocate(self) -> None:
        shapes = [(n_out, n_in + 1) for n_in, n_out in zip(self.layer_sizes, self.layer_sizes[1:])]
        self.theta = np.zeros(sum(r * c for r, c in shapes))
        self.packed = _views(self.theta, shapes)

    def _initialise(self, init: str, seed: int) -> None:
        if init == "article":
            rs = np.random.RandomState(seed)
            for Wb in self.packed:
                n_in = Wb.shape[1] - 1
                Wb[:, :-1] = rs.randn(Wb.shape[0], n_in) / np.sqrt(n_in)
            return
        rng = np.random.default_rng(seed)
        for Wb in self.packed:
            n_out, n_in = Wb.shape[0], Wb.shape[1] - 1
            if init == "he":
                Wb[:, :-1] = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            else:
                limit = np.sqrt(6.0 / (n_in + n_out))
                Wb[:, :-1] = rng.uniform(-limit, limit, (n_out, n_in))

    # --- parameters -----------------------------------------------------------------

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    @property
    def params(self) -> list[np.ndarray]:
        """Copies of ``[W1, b1, W2, b2, ...]``; ``W`` is (n_out, n_in), ``b`` is (n_out,)."""
        out = []
        for Wb in self.packed:
            out += [Wb[:, :-1].copy(), Wb[:, -1].copy()]
        return out

    @property
    def weight_mask(self) -> np.ndarray:
        """(n_parameters,) 1.0 where ``theta`` holds a weight, 0.0 where a bias."""
        mask = np.ones_like(self.theta)
        for Wb in _views(mask, [Wb.shape for Wb in self.packed]):
            Wb[:, -1] = 0.0
        return mask

    @classmethod
    def from_params(cls, params: Sequence[ArrayLike], activation: str = "relu") -> MLP:
        """Network with the given ``[W1, b1, W2, b2, ...]`` (copied) and hidden ``activation``.

        Raises ValueError when the shapes do not chain into a network with one
        output, or when a value is not finite.
        """
        params = [np.asarray(p, dtype=np.float64) for p in params]
        if len(params) < 2 or len(params) % 2:
            raise ValueError(
                f"Network parameters must be pairs [W1, b1, W2, b2, ...], got {len(params)} arrays.")
        Ws, bs = params[0::2], params[1::2]
        for k, (W, b) in enumerate(zip(Ws, bs), start=1):
            if W.ndim != 2 or b.shape != (W.shape[0],) or 0 in W.shape:
                raise ValueError(
                    f"Layer {k}: weights {W.shape} and bias {b.shape} do not fit "
                    "(expected W (n_out, n_in) and b (n_out,)).")
            if k > 1 and W.shape[1] != Ws[k - 2].shape[0]:
                raise ValueError(
                    f"Layer {k} takes {W.shape[1]} inputs but layer {k - 1} has "
                    f"{Ws[k - 2].shape[0]} units.")
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise ValueError(f"Layer {k} holds values that are not finite numbers.")
        if Ws[-1].shape[0] != 1:
            raise ValueError(f"The last layer must have 1 output unit, got {Ws[-1].shape[0]}.")
        activation = _check_activation(activation)
        model = cls.__new__(cls)
        model.hidden_activation = activation
        model.layer_sizes = (Ws[0].shape[1], *(W.shape[0] for W in Ws))
        model.init, model.seed = "params", None
        model._allocate()
        for Wb, W, b in zip(model.packed, Ws, bs):
            Wb[:, :-1], Wb[:, -1] = W, b
        return model

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.theta)))

    # --- forward, loss, gradients ---------------------------------------------------

    def logits(self, X: ArrayLike) -> np.ndarray:
        """Output before the sigmoid, shape (n_samples,), for X (n_samples, n_inputs)."""
        return Pass(self, X).forward()[0].copy()

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of malignancy, shape (n_samples,), for X (n_samples, n_inputs)."""
        z = Pass(self, X).forward()
        ACTIVATIONS[self.out_activation](z)
        return z[0].copy()

    def loss(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Mean binary cross-entropy (weighted mean when ``sample_weight`` is given)."""
        p = Pass(self, X, y, sample_weight)
        p.forward()
        return p.loss()

    def loss_and_grads(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                       l2: float = 0.0) -> tuple[float, list[np.ndarray]]:
        """Loss ``cross-entropy + l2 / 2 * sum(W ** 2)`` and its gradients.

        Returns
        -------
        loss : float
        grads : list of ndarray
            ``[dW1, db1, dW2, db2, ...]`` with the shapes of :attr:`params`.
        """
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a number >= 0, got {l2!r}.")
        p = Pass(self, X, y, sample_weight)
        p.forward()
        loss = p.loss() + 0.5 * l2 * float(np.dot(self.theta * self.weight_mask, self.theta))
        p.backward()
        grad = p.grad + l2 * self.weight_mask * self.theta
        grads = []
        for G in _views(grad, [Wb.shape for Wb in self.packed]):
            grads += [G[:, :-1].copy(), G[:, -1].copy()]
        return loss, grads

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.layer_sizes))
        act = "" if self.hidden_activation == "relu" else f", activation={self.hidden_activation!r}"
        return f"MLP({sizes}, init={self.init!r}, seed={self.seed!r}{act})"


class Pass:
    """Forward and backward passes of ``model`` over fixed data, in preallocated buffers.

    The training loop builds one ``Pass`` and calls :meth:`forward`,
    :meth:`loss` and :meth:`backward` each iteration; nothing is allocated then.
    It reads the model's parameters live, so updating ``model.theta`` in place is
    seen by the next :meth:`forward`.

    Parameters
    ----------
    model : MLP
    X : array-like, shape (n_samples, n_inputs)
    y : array-like, shape (n_samples,), optional
        Targets in 0..1 (0 benign, 1 malignant; a fraction for merged rows).
    sample_weight : array-like, shape (n_samples,), optional
        Non-negative weight of each row; normalised to sum to 1.

    Attributes
    ----------
    grad : ndarray, shape (n_parameters,)
        Gradient of the cross-entropy after :meth:`backward`, laid out like
        ``model.theta``.
    """

    model: MLP
    A: list[np.ndarray]
    active: list[np.ndarray]
    z: np.ndarray
    y: np.ndarray
    w: np.ndarray
    delta: list[np.ndarray]
    grad: np.ndarray
    grads: list[np.ndarray]

    def __init__(self, model: MLP, X: ArrayLike, y: ArrayLike | None = None,
                 sample_weight: ArrayLike | None = None) -> None:
        X = _check_X(X, model.n_inputs)
        m = X.shape[0]
        self.model = model
        # Activations as columns, each with a last row of ones for the bias.
        self.A = [np.ones((n + 1, m)) for n in model.layer_sizes[:-1]]
        self.A[0][:-1] = X.T
        self.active = [np.empty((n, m)) for n in model.layer_sizes[1:-1]]
        self.z = np.empty((1, m))
        self._ones = np.ones(m)
        # The views each iteration uses, made once: ([W | b], [A_in; 1], Z_out, active)
        self._hidden = list(zip(model.packed, self.A, [A[:-1] for A in self.A[1:]], self.active))
        self._activation = ACTIVATIONS[model.hidden_activation]
        self._derivative = DERIVATIVES[model.hidden_activation]
        self._A_T = [A.T for A in self.A]
        self._W_T = [Wb[:, :-1].T for Wb in model.packed]
        if y is None:
            return
        self.y, self.w = _check_targets(y, sample_weight, m)
        # dLoss/dz = w (sigmoid(z) - y) = w/2 tanh(z/2) + w (1/2 - y)
        self._half_w = self.w / 2
        self._w_half_minus_y = self.w * (0.5 - self.y)
        self.delta = [np.empty((n, m)) for n in model.layer_sizes[1:]]
        self.grad = np.empty_like(model.theta)
        self.grads = _views(self.grad, [Wb.shape for Wb in model.packed])
        self._buf = np.empty(m)
        self._scaled_inputs = np.empty_like(self.A[0])

    def forward(self, masks: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """Logits, shape (1, n_samples): the pass's own buffer, overwritten next time.

        ``masks`` (training with dropout only): one (n_units, n_samples) array a hidden
        layer, 0 for a dropped unit and ``1 / (1 - p)`` for a kept one (inverted dropout);
        each layer's activations and derivatives are multiplied by it, so the next
        :meth:`backward` is the gradient of the thinned network.
        """
        for layer, (Wb, A_in, Z, active) in enumerate(self._hidden):
            np.matmul(Wb, A_in, out=Z)         # Z = W A + b
            self._activation(Z, active)
            if masks is not None:
                np.multiply(Z, masks[layer], out=Z)
                np.multiply(active, masks[layer], out=active)
        np.matmul(self.model.packed[-1], self.A[-1], out=self.z)
        return self.z

    def logits_finite(self) -> bool:
        """Whether every logit of the last :meth:`forward` is a finite number."""
        return math.isfinite(np.dot(self.z[0], self._ones))   # NaN and inf propagate

    def loss(self) -> float:
        """Weighted mean cross-entropy at the logits of the last :meth:`forward`."""
        z, buf = self.z[0], self._buf
        np.logaddexp(0.0, z, out=buf)          # log(1 + exp(z))
        buf -= self.y * z                       # - y z
        return float(np.dot(self.w, buf))

    def backward(self) -> np.ndarray:
        """Gradient of the cross-entropy into :attr:`grad`; needs :meth:`forward` first."""
        A_T, W_T, grads = self._A_T, self._W_T, self.grads
        delta = self.delta[-1]                  # dLoss/dz = w (sigmoid(z) - y)
        np.multiply(self.z, 0.5, out=delta)
        np.tanh(delta, out=delta)
        np.multiply(delta, self._half_w, out=delta)
        np.add(delta, self._w_half_minus_y, out=delta)
        np.matmul(delta, A_T[-1], out=grads[-1])                  # d[W | b] = delta [A; 1]^T
        if len(grads) == 2:
            # One hidden layer: with one output unit, W2^T delta is an outer product,
            #   d[W1 | b1][j, k] = w2[j] * sum_i active[j, i] * delta[i] * [X; 1][k, i],
            # so scale the inputs by delta, multiply by the ReLU derivative, and
            # scale the rows by w2 last: no (hidden, n_samples) temporary at all.
            scaled = self._scaled_inputs
            np.multiply(self.A[0], delta, out=scaled)
            np.matmul(self.active[0], scaled.T, out=grads[0])
            np.multiply(grads[0], W_T[1], out=grads[0])
            return self.grad
        for layer in range(len(grads) - 1, 0, -1):
            below = self.delta[layer - 1]                         # W^T delta * f'
            np.matmul(W_T[layer], delta, out=below)
            self._derivative(self.active[layer - 1], below)
            np.matmul(below, A_T[layer - 1], out=grads[layer - 1])
            delta = below
        return self.grad


# --- helpers -------------------------------------------------------------------------

def _views(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    views, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[start:start + size].reshape(shape))
        start += size
    return views


def _check_activation(name: object) -> str:
    if name not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, got {name!r}.")
    return str(name)


def _is_count(n: object) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0


def _check_X(X: ArrayLike, n_inputs: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(f"X must have shape (n_samples, {n_inputs}), got {X.shape}.")
    if X.shape[0] == 0:
        raise ValueError("X has no rows.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds values that are not finite numbers.")
    return X


def _check_targets(y: ArrayLike, sample_weight: ArrayLike | None,
                   m: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape != (m,):
        raise ValueError(f"y must have {m} values (one per row of X), got {y.size}.")
    if not np.all((y >= 0) & (y <= 1)):
        raise ValueError("y must hold labels 0 (benign) and 1 (malignant).")
    if sample_weight is None:
        return y, np.full(m, 1.0 / m)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (m,):
        raise ValueError(f"sample_weight must have {m} values, got {w.size}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("sample_weight must be finite, >= 0, and not all 0.")
    return y, w / w.sum()
