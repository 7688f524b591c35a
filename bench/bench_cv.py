"""Cross-validation speed: the per-fold loop against the batched core (issue 10), in one run.

1. ``evaluate``'s 10x5 duplicate-aware cross-validation at the default settings: the
   per-fold loop that ``evaluation.cross_validate`` ran before the batched core (one
   ``training.train`` a fold, through ``cross_validate_with`` and
   ``network_fit_predict``, kept as the reference) against ``cross_validate`` (the 50
   folds' networks in one ``batched.train_many``, in threads by default, and on one
   thread). Runs alternate; the median wall
   time of each, the ratio, the load average during each run, and the largest
   difference of the per-fold figures and out-of-fold probabilities (same folds, same
   seed: should be ~1e-16).
2. Microseconds per network-iteration for K = 1, 10, 50, 200 networks trained
   together (the folds of repeated 10-fold CV, default settings), beside
   ``training.train`` of one network; K = 200 also in one batch (by default it goes in
   parts of 51); and parts in two threads (``train_many(threads=2)``, BLAS pinned to one thread).
3. One network in the article's setup (bench_training.py): the article's plain step,
   ``training.train`` and ``train_many`` with K = 1, and the largest loss difference.

The machine may be shared: the load average is printed, and the ratios (measured
interleaved in this one run) are the figures to compare, not the absolute times.

    nice -n 10 python bench/bench_cv.py                 # about 2-3 minutes
    nice -n 10 python bench/bench_cv.py --runs 1 --quick
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_training  # noqa: E402  (the article's setup and its plain step)

from bcdesktop import batched, data  # noqa: E402
from bcdesktop import evaluation as E  # noqa: E402
from bcdesktop.model import Scaler  # noqa: E402
from bcdesktop.training import TrainConfig, train  # noqa: E402


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def per_fold_loop(X, y, cfg):
    """The reference: one network after the other, as cross_validate did before."""
    return E.cross_validate_with(E.network_fit_predict(cfg), X, y, settings=cfg.to_dict())


def cross_validation(X, y, cfg, runs):
    print(f"\n1. 10x5 grouped CV, {cfg.optimizer} lr={cfg.lr} l2={cfg.l2} iterations={cfg.iterations} "
          f"hidden={cfg.hidden} (median of {runs})")
    runners = {"per-fold loop": lambda: per_fold_loop(X, y, cfg),
               "batched": lambda: E.cross_validate(X, y, cfg),
               "batched, 1 thread": lambda: E.cross_validate(X, y, cfg, threads=1)}
    times = {name: [] for name in runners}
    results = {}
    for run in range(runs):
        for name in (list(runners) if run % 2 == 0 else list(runners)[::-1]):
            t, results[name] = timed(runners[name])
            times[name].append(t)
            print(f"  {name:18s} {t:7.2f} s   ({load()})", flush=True)
    t_folds, _ = timed(lambda: E.cv_folds(X, y))
    old, new = results["per-fold loop"], results["batched"]
    fig = max(float(np.nanmax(np.abs(old.per_fold[m] - new.per_fold[m]))) for m in E.CV_METRICS)
    oof = float(np.abs(old.oof_all - new.oof_all).max())
    t_old, t_new = statistics.median(times["per-fold loop"]), statistics.median(times["batched"])
    t_one = statistics.median(times["batched, 1 thread"])
    print(f"  median: per-fold loop {t_old:.2f} s, batched {t_new:.2f} s: {t_old / t_new:.2f}x "
          f"(1 thread {t_one:.2f} s: {t_old / t_one:.2f}x; of which the 50 folds: {t_folds:.2f} s; "
          f"{os.cpu_count()} CPUs)")
    print(f"  moonshot, the whole CV in less than 5 sequential fits ({5 * t_old / 50:.2f} s): "
          f"{'yes' if t_new < 5 * t_old / 50 else 'no'}")
    print(f"  largest difference: per-fold figures {fig:.1e}, out-of-fold probabilities {oof:.1e}")
    print("  means: " + ", ".join(f"{m} {new.mean(m):.4f}" for m in E.CV_METRICS)
          + f" (per-fold loop: {', '.join(f'{old.mean(m):.4f}' for m in E.CV_METRICS)})")


def per_network_iteration(X, y, iterations, repeats):
    cfg = TrainConfig(iterations=iterations, log_every=iterations)
    splits = E.cv_folds(X, y, folds=10, repeats=20)
    weights, _, scale_rows = E.cv_weights(X, y, splits, cfg)
    tr = splits[0][0]
    scaler = Scaler.fit(X[tr])
    Xs = scaler.transform(X[tr])

    def one_train():
        with threadpool_limits(limits=1, user_api="blas"):
            train(Xs, y[tr], cfg)

    def many(K, max_batch=None, threads=1):
        batched.train_many(X, y, cfg, weights[:K], scale_rows=scale_rows[:K], max_batch=max_batch,
                           threads=threads)


    cases = [("training.train, one network", 1, one_train),
             ("train_many K = 1", 1, lambda: many(1)),
             ("train_many K = 10", 10, lambda: many(10)),
             ("train_many K = 50", 50, lambda: many(50)),
             ("train_many K = 200 in one batch", 200, lambda: many(200, 200)),
             ("train_many K = 200 (parts of 51, the default)", 200, lambda: many(200)),
             ("train_many K = 50, 2 threads of 25", 50, lambda: many(50, threads=2)),
             ("train_many K = 200, 2 threads (parts of 51)", 200, lambda: many(200, threads=2))]
    print(f"\n2. us per network-iteration ({iterations} iterations, default settings, "
          f"median of {repeats}; {load()})")
    us = {name: [] for name, _, _ in cases}
    for _ in range(repeats):
        for name, K, fn in cases:
            t, _ = timed(fn)
            us[name].append(t / (K * iterations) * 1e6)
    base = statistics.median(us[cases[0][0]])
    for name, _, _ in cases:
        u = statistics.median(us[name])
        print(f"  {name:44s} {u:8.1f} us   {base / u:5.2f}x training.train")
    print(f"  ({load()})")


def article(repeats):
    X, y = bench_training.load_article_rows()
    lr, T = bench_training.LR, bench_training.ITERATIONS
    cfg = TrainConfig(hidden=(15,), init="article", seed=1, optimizer="gd", lr=lr, iterations=T,
                      log_every=1)
    runs = {"the article's step": lambda: bench_training.reference(X.T, y[None], lr, T),
            "training.train": lambda: train(X, y, cfg),
            "train_many K = 1": lambda: batched.train_many(X, y, cfg, np.ones(len(y)), scale=False)}
    us = {name: [] for name in runs}
    out = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t, out[name] = timed(fn)
            us[name].append(t / T * 1e6)
    ref = statistics.median(us["the article's step"])
    print(f"\n3. one network, the article's setup ({T} iterations of gd at lr {lr}, median of {repeats}; {load()})")
    for name in runs:
        u = statistics.median(us[name])
        print(f"  {name:20s} {u:7.1f} us/iteration   {ref / u:5.2f}x the article's step")
    costs = out["the article's step"]
    for name, res in (("training.train", out["training.train"]),
                      ("train_many K = 1", out["train_many K = 1"].results[0])):
        losses = np.array([c[1] for c in res.loss_curve[:T]])
        print(f"  largest loss difference, {name} vs the article's step: {np.abs(losses - costs).max():.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each cross-validation (default 3)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the other timings (default 3)")
    ap.add_argument("--quick", action="store_true", help="500 iterations in the cross-validation")
    ap.add_argument("--skip-cv", action="store_true")
    args = ap.parse_args()
    ds = data.load_bundled()
    X, y = np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y).astype(np.int8)
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, nice {os.nice(0)}; {load()}")
    E.cv_folds(X, y, folds=10, repeats=1)      # import scikit-learn before any clock starts
    if not args.skip_cv:
        cross_validation(X, y, TrainConfig(iterations=500) if args.quick else TrainConfig(), args.runs)
    per_network_iteration(X, y, 300, args.repeats)
    article(args.repeats)


if __name__ == "__main__":
    main()
