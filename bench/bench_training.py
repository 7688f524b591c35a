"""Training speed: the article's plain NumPy step vs bcdesktop's trainer vs scikit-learn.

The article's setup: the 683 complete rows of the bundled Wisconsin file, min-max
scaled, the first 500 rows for training, a 9-15-1 network (ReLU, sigmoid), the
article's initialisation with seed 1, plain full-batch gradient descent at
learning rate 0.01.

Prints microseconds per iteration of each (median of several repeats, all measured
in this one run), the speed-up of bcdesktop over the reference, and the largest
difference between their losses (must be <= 1e-10).

    python bench/bench_training.py
"""

import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from bcdesktop.model import Scaler
from bcdesktop.training import TrainConfig, train

DATA = Path(__file__).resolve().parent.parent / "data" / "breast-cancer-wisconsin.data"
LR, ITERATIONS, LOG_EVERY, REPEATS = 0.01, 3000, 100, 7


def load_article_rows():
    """Scaled first 500 complete rows: X (500, 9) and y (500,) 0/1."""
    rows = [line.strip().split(",") for line in DATA.read_text().splitlines() if line.strip()]
    table = np.array([r for r in rows if "?" not in r], dtype=np.float64)
    X, y = table[:500, 1:10], (table[:500, 10] == 4).astype(np.float64)
    return Scaler.fit(X).transform(X), y


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def _article_init(n_x, seed):
    rs = np.random.RandomState(seed)
    W1 = rs.randn(15, n_x) / np.sqrt(n_x)
    W2 = rs.randn(1, 15) / np.sqrt(15)
    return W1, np.zeros((15, 1)), W2, np.zeros((1, 1))


def reference(X, Y, lr, iterations, seed=1):
    """The article's full-batch gradient descent step, written plainly, as the article does it.

    ``X`` is (9, m) and ``Y`` (1, m) like the article. The cost is computed every
    iteration, the output's gradient goes through dLoss/dA2 and the sigmoid's
    derivative, and the gradient with respect to the inputs (dA0) is computed
    although nothing uses it. Returns the cost before each update, (iterations,).
    """
    n_x, m = X.shape
    W1, b1, W2, b2 = _article_init(n_x, seed)
    costs = np.empty(iterations)
    for i in range(iterations):
        Z1 = W1 @ X + b1
        A1 = np.maximum(Z1, 0)
        Z2 = W2 @ A1 + b2
        A2 = sigmoid(Z2)
        costs[i] = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
        dA2 = -(Y / A2 - (1 - Y) / (1 - A2))
        dZ2 = dA2 * sigmoid(Z2) * (1 - sigmoid(Z2))
        dA1 = W2.T @ dZ2
        dW2 = dZ2 @ A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dZ1 = dA1 * (Z1 > 0)
        dA0 = W1.T @ dZ1                                  # noqa: F841 (the article computes it)
        dW1 = dZ1 @ X.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        W1 = W1 - lr * dW1
        b1 = b1 - lr * db1
        W2 = W2 - lr * dW2
        b2 = b2 - lr * db2
    return costs


def lean_reference(X, Y, lr, iterations, seed=1):
    """The same step without the article's detours: dZ2 = A2 - Y, no dA0, in-place updates."""
    n_x, m = X.shape
    W1, b1, W2, b2 = _article_init(n_x, seed)
    costs = np.empty(iterations)
    for i in range(iterations):
        Z1 = W1 @ X + b1
        A1 = np.maximum(Z1, 0)
        A2 = sigmoid(W2 @ A1 + b2)
        costs[i] = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
        dZ2 = A2 - Y
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        W2 -= lr * (dZ2 @ A1.T / m)
        b2 -= lr * (np.sum(dZ2, axis=1, keepdims=True) / m)
        W1 -= lr * (dZ1 @ X.T / m)
        b1 -= lr * (np.sum(dZ1, axis=1, keepdims=True) / m)
    return costs


def ours(X, y, lr, iterations):
    config = TrainConfig(hidden=(15,), init="article", seed=1, optimizer="gd", lr=lr,
                         iterations=iterations, log_every=LOG_EVERY)
    return train(X, y, config)


def sklearn_mlp(X, y, lr, iterations):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(15,), activation="relu", solver="sgd",
                        batch_size=len(X), momentum=0.0, nesterovs_momentum=False,
                        learning_rate_init=lr, learning_rate="constant", alpha=0.0,
                        max_iter=iterations, tol=0.0, n_iter_no_change=iterations + 1,
                        shuffle=False, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def main():
    X, y = load_article_rows()
    XT, Y = X.T.copy(), y[None, :]
    ref_costs = reference(XT, Y, LR, ITERATIONS + 1)
    lean_costs = lean_reference(XT, Y, LR, ITERATIONS + 1)
    result = ours(X, y, LR, ITERATIONS)
    diff = max(abs(loss - ref_costs[i]) for i, loss, _ in result.loss_curve)
    diff_lean = np.abs(lean_costs - ref_costs).max()

    runs = {  # name: (function, iterations); each repeat times them one after the other
        "reference": (lambda: reference(XT, Y, LR, ITERATIONS), ITERATIONS),
        "lean": (lambda: lean_reference(XT, Y, LR, ITERATIONS), ITERATIONS),
        "ours": (lambda: ours(X, y, LR, ITERATIONS), ITERATIONS),
        "sklearn": (lambda: sklearn_mlp(X, y, LR, ITERATIONS // 3), ITERATIONS // 3),
    }
    times = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, (fn, iterations) in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) / iterations * 1e6)
    us = {name: statistics.median(t) for name, t in times.items()}

    print(f"Article setup: 500 training rows ({len(np.unique(X, axis=0))} distinct), 9-15-1, "
          f"plain gradient descent, lr {LR}, {ITERATIONS} iterations; "
          f"median of {REPEATS} interleaved runs")
    print(f"  reference: the article's step          {us['reference']:7.1f} us/iteration")
    print(f"  lean reference (no detours)            {us['lean']:7.1f} us/iteration")
    print(f"  bcdesktop.training.train               {us['ours']:7.1f} us/iteration")
    print(f"  scikit-learn MLPClassifier (sgd)       {us['sklearn']:7.1f} us/iteration")
    print(f"  speed-up reference / bcdesktop         {us['reference'] / us['ours']:7.2f} x")
    print(f"  speed-up lean reference / bcdesktop    {us['lean'] / us['ours']:7.2f} x")
    print(f"  max |bcdesktop loss - reference loss|  {diff:7.1e} "
          f"({len(result.loss_curve)} logged iterations, 0..{ITERATIONS})")
    print(f"  max |lean loss - reference loss|       {diff_lean:7.1e} (every iteration)")
    if diff > 1e-10:
        raise SystemExit("FAIL: the losses differ from the reference by more than 1e-10")


if __name__ == "__main__":
    main()
