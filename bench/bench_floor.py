"""How fast float64 NumPy can train here: the floors under issue 10's two speed goals.

Issue 10 asks for one network 4x faster per iteration than the article's step, and for
the 10x5 cross-validation 8x faster than the per-fold loop, with every loss equal to
1e-10 (so float64). This benchmark measures, in one run and beside the references,
what no float64 NumPy implementation on this machine can beat:

1. The machine: a 1024 x 1024 float64 product on one thread and on two, the rate
   (multiply-adds a second) BLAS reaches here at its best.
2. One network, the article's setup (bench_training.py): the article's step,
   ``training.train``, the same training written with the fewest NumPy calls we found
   (its losses checked against the article's to 1e-10), and the loop's four matrix
   products alone, with nothing else in the loop. A bound on the speed-up is the
   article's step over each.
3. The 10x5 cross-validation at the default settings: the per-fold loop (as
   bench_cv.py), ``evaluation.cross_validate``, and its floor: the matrix products of
   its batched passes alone (50 networks in two threads of 25, BLAS on one thread
   each, as ``cross_validate`` runs them) for the same number of iterations, plus what
   ``cross_validate`` spends outside the iterations (folds, data, scoring; measured as
   a cross-validation of 1 iteration). Also the exact multiply-add count of the
   products over the two-thread peak of 1., the floor if BLAS ran these thin products
   as fast as a large square one.

A speed-up above a floor's bound needs arithmetic other than float64 NumPy (float32,
or a compiled kernel that fuses the element-wise work into the products).

    nice -n 10 python bench/bench_floor.py        # about 20 s
"""

import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cv  # noqa: E402  (the per-fold loop)
import bench_training  # noqa: E402  (the article's setup and step)

from bcdesktop import data  # noqa: E402
from bcdesktop import evaluation as E  # noqa: E402
from bcdesktop.training import TrainConfig, merge_duplicates, train  # noqa: E402

REPEATS = 5


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_time(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ------------------------------------------------------------------ 1. the machine
def peak_rate(threads: int, n: int = 1024) -> float:
    """Multiply-adds a second of an n x n float64 product on ``threads`` BLAS threads."""
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(a, b, out=c)
        return n ** 3 / min(median_time(lambda: np.matmul(a, b, out=c)) for _ in range(2))


# ------------------------------------------------------------------ 2. one network
def fewest_calls(X, y, lr, T, log_every=100):
    """The article's training (its init, seed 1, plain gd) with as few NumPy calls as we
    could: merged rows, packed [W | b], np.dot into contiguous buffers, ReLU as a max
    against a zero array (NumPy's max against a scalar is 3x slower here), the mask as
    bytes copied to float. Returns the logged losses (iteration, loss)."""
    Xm, t, w = merge_duplicates(X, y, None)
    w = w / w.sum()
    m = len(Xm)
    W1, _, W2, _ = bench_training._article_init(X.shape[1], 1)
    theta = np.zeros(15 * 10 + 16)
    P1, P2 = theta[:150].reshape(15, 10), theta[150:].reshape(1, 16)
    P1[:, :9], P2[:, :15] = W1, W2
    grad = np.empty_like(theta)
    g1, g2 = grad[:150].reshape(15, 10), grad[150:].reshape(1, 16)
    A0 = np.ones((10, m))
    A0[:9] = Xm.T
    A0T = np.ascontiguousarray(A0.T)
    A1 = np.ones((16, m))
    Z = A1[:15]
    act, on, zeros = np.empty((15, m)), np.empty((15, m), dtype=bool), np.zeros((15, m))
    z, d, S = np.empty((1, m)), np.empty((1, m)), np.empty((m, 10))
    dT, w2 = d.reshape(m, 1), P2[0, :15].reshape(15, 1)
    half_w, c, ones, buf = w / 2, w * (0.5 - t), np.ones(m), np.empty(m)
    losses = []
    for i in range(T + 1):
        np.dot(P1, A0, out=Z)
        np.greater(Z, zeros, out=on)
        np.maximum(Z, zeros, out=Z)
        np.dot(P2, A1, out=z)
        if not np.isfinite(np.dot(z[0], ones)):
            raise FloatingPointError(f"diverged at iteration {i}")
        if i % log_every == 0 or i == T:
            np.logaddexp(0.0, z[0], out=buf)
            buf -= t * z[0]
            losses.append((i, float(np.dot(w, buf))))
        if i == T:
            break
        np.multiply(z, 0.5, out=d)              # dLoss/dz = w/2 tanh(z/2) + w (1/2 - t)
        np.tanh(d, out=d)
        np.multiply(d, half_w, out=d)
        np.add(d, c, out=d)
        np.dot(d, A1.T, out=g2)
        np.multiply(A0T, dT, out=S)
        np.copyto(act, on.view(np.uint8))
        np.dot(act, S, out=g1)
        np.multiply(g1, w2, out=g1)
        np.multiply(grad, lr, out=grad)
        np.subtract(theta, grad, out=theta)
    return losses


def products_only(X, y, T, dtype=np.float64):
    """The four matrix products of one iteration of the merged, packed network, alone."""
    m = len(np.unique(X, axis=0))
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.random(shape).astype(dtype)

    P1, P2, A0, A1, Z = rand(15, 10), rand(1, 16), rand(10, m), rand(16, m), rand(15, m)
    z, d, S, act, g1, g2 = rand(1, m), rand(1, m), rand(m, 10), rand(15, m), rand(15, 10), rand(1, 16)
    for _ in range(T):
        np.dot(P1, A0, out=Z)
        np.dot(P2, A1, out=z)
        np.dot(d, A1.T, out=g2)
        np.dot(act, S, out=g1)


def one_network():
    X, y = bench_training.load_article_rows()
    XT, Y = X.T.copy(), y[None, :]
    lr, T = bench_training.LR, bench_training.ITERATIONS
    cfg = TrainConfig(hidden=(15,), init="article", seed=1, optimizer="gd", lr=lr, iterations=T,
                      log_every=100)
    costs = bench_training.reference(XT, Y, lr, T + 1)
    diff = max(abs(loss - costs[i]) for i, loss in fewest_calls(X, y, lr, T))
    runs = {"the article's step (reference)": lambda: bench_training.reference(XT, Y, lr, T),
            "training.train": lambda: train(X, y, cfg),
            "fewest NumPy calls": lambda: fewest_calls(X, y, lr, T),
            "the four products alone": lambda: products_only(X, y, T),
            "the same in float32 (for scale)": lambda: products_only(X, y, T, np.float32)}
    us = {name: [] for name in runs}
    for _ in range(REPEATS):                    # interleaved
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            us[name].append((time.perf_counter() - t0) / T * 1e6)
    us = {name: statistics.median(v) for name, v in us.items()}
    ref = us["the article's step (reference)"]
    print(f"\n2. One network, the article's setup ({T} iterations, median of {REPEATS} interleaved; {load()})")
    for name, u in us.items():
        print(f"  {name:32s} {u:6.1f} us/iteration   reference / this {ref / u:5.2f}x")
    print(f"  the goal, 4x, needs {ref / 4:.1f} us/iteration; fewest-calls losses vs the article's: "
          f"{diff:.1e} (must be <= 1e-10)")
    if diff > 1e-10:
        raise SystemExit("FAIL: the fewest-calls loop does not train the article's network")


# ------------------------------------------------------------------ 3. cross-validation
def batched_products(K, R, h, f, iterations, threads, dtype=np.float64):
    """The products of train_many's passes (forward, backward) for K networks of one
    hidden layer on R rows, in ``threads`` parts at once, BLAS on one thread each."""
    per = -(-K // threads)

    def part():
        rng = np.random.default_rng(0)

        def rand(*shape):
            return rng.random(shape).astype(dtype)

        W1, XA, XAT, Z1, G1 = rand(per * h, f + 1), rand(f + 1, R), rand(R, f + 1), rand(per * h, R), \
            rand(per * h, f + 1)
        W2, Z, d, z, gW2 = rand(per, 1, h), rand(per, h, R), rand(per, 1, R), rand(per, 1, R), rand(per, 1, h)
        Z_T = Z.transpose(0, 2, 1)
        for _ in range(iterations):
            np.matmul(W1, XA, out=Z1)           # first layer of every network: one product
            np.matmul(W2, Z, out=z)
            np.matmul(d, Z_T, out=gW2)
            np.matmul(Z1, XAT, out=G1)          # its gradient: one product

    with threadpool_limits(limits=1, user_api="blas"):
        workers = [threading.Thread(target=part) for _ in range(threads)]
        t0 = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - t0


def cross_validation(peak2):
    ds = data.load_bundled()
    X, y = np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y).astype(np.int8)
    E.cv_folds(X, y, folds=10, repeats=1)      # scikit-learn imported before any clock
    cfg = TrainConfig()
    K, T, h, f = 50, cfg.iterations, cfg.hidden[0], X.shape[1]
    R = len(np.unique(X, axis=0))
    t_loop = median_time(lambda: bench_cv.per_fold_loop(X, y, cfg), 3)
    t_cv = median_time(lambda: E.cross_validate(X, y, cfg), 3)
    t_rest = median_time(lambda: E.cross_validate(X, y, TrainConfig(iterations=1)), 3)
    t_products = statistics.median(batched_products(K, R, h, f, T, 2) for _ in range(3))
    t_single = statistics.median(batched_products(K, R, h, f, T, 2, np.float32) for _ in range(3))
    macs = K * T * R * (h * (f + 1) * 2 + h * 2)   # per iteration: Z1, G1, z, dW2
    t_peak = macs / peak2
    print(f"\n3. 10x5 cross-validation, default settings ({cfg.optimizer}, {T} iterations, {K} networks "
          f"of {f}-{h}-1 on {R} distinct rows; median of 3; {load()})")
    rows = [("per-fold loop (the reference)", t_loop),
            ("cross_validate (batched, 2 threads)", t_cv),
            ("floor: its products alone + the rest", t_products + t_rest),
            ("floor: the products at the 2-thread peak + the rest", t_peak + t_rest),
            ("for scale: the products in float32 + the rest", t_single + t_rest)]
    for name, t in rows:
        print(f"  {name:52s} {t:6.2f} s   reference / this {t_loop / t:5.2f}x")
    print(f"  (the products alone {t_products:.2f} s, {macs / 1e9:.1f} G multiply-adds; the rest of "
          f"cross_validate {t_rest:.2f} s)")
    print(f"  the goal, 8x, needs {t_loop / 8:.2f} s")


def main() -> None:
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, nice {os.nice(0)}; {load()}")
    peak1, peak2 = peak_rate(1), peak_rate(2)
    print(f"\n1. 1024 x 1024 float64 product: {peak1 / 1e9:.1f} G multiply-adds/s on one BLAS thread, "
          f"{peak2 / 1e9:.1f} on two")
    one_network()
    cross_validation(peak2)


if __name__ == "__main__":
    main()
