"""One network or the mean of several: which should be the shipped default?

Cross-validates, on the bundled data and on THE SAME folds in one run (the folds of
``bcdesktop evaluate``: 10 folds x 5 repeats, stratified, identical feature vectors kept
in one fold, ``evaluation.cv_folds``):

- ``single``: today's default network, ``TrainConfig(seed=S)`` (exactly ``bcdesktop
  evaluate --seed S``: ``evaluation.cross_validate``);
- ``seeds M``: the mean probability of M networks (M = 5 and 10), each exactly the
  default settings, from seeds derived from the fold seed S, the fold number k and the
  member m alone (``SeedSequence([S, k, m])``, fixed before any result is seen); the 5
  are the first 5 of the 10;
- ``bagged 5``: the mean of 5 default networks, member m from the same seed as in
  ``seeds``, each trained on a bootstrap of the fold's training rows (its row weights
  are the bootstrap counts; bootstrap drawn from ``SeedSequence([S, k, m, 1])``);
- ``LogisticRegression`` as ``bcdesktop.baselines`` cross-validates it (C = 1, lbfgs,
  min-max scaler fitted on the fold's training rows); ``--forest`` adds the random forest.

Every network's min-max scaler is fitted on its fold's training rows only (for the
bagged networks: all the fold's training rows, so the members of one fold share one
scaler, as one model file would). The networks train with ``batched.train_many``, in
batches; BLAS on one thread.

It prints accuracy, ROC AUC, Brier, sensitivity and specificity (threshold 0.5), mean
± sd over the 50 fits, and the seconds each candidate took, for each fold seed of
``--seeds`` (default 0 1 2 3), then the mean over the seeds, the goals met (accuracy >=
0.970, AUC >= 0.996, Brier <= 0.022) and the paired differences from the single network
over the same folds (± standard error over the repeats of every seed).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bcdesktop import baselines, data, evaluation
from bcdesktop.batched import train_many
from bcdesktop.training import TrainConfig

GOALS = {"accuracy": (">=", 0.970), "roc_auc": (">=", 0.996), "brier": ("<=", 0.022)}
METRICS = ("accuracy", "roc_auc", "brier", "sensitivity", "specificity")
SHORT = {"accuracy": "acc", "roc_auc": "AUC", "brier": "Brier", "sensitivity": "sens",
         "specificity": "spec"}


def member_seed(seed: int, fold: int, member: int) -> int:
    """Network seed of member ``member`` in fit ``fold`` of the CV with fold seed ``seed``."""
    return int(np.random.SeedSequence([seed, fold, member]).generate_state(1)[0])


def bootstrap_counts(seed: int, fold: int, member: int, train_idx: np.ndarray, n: int) -> np.ndarray:
    """Row weights (n,): how often each training row is drawn in a bootstrap of them."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, fold, member, 1]))
    drawn = rng.choice(train_idx, size=train_idx.size, replace=True)
    return np.bincount(drawn, minlength=n).astype(np.float64)


def result_from(probs: list, splits, X, y, folds: int, repeats: int, seed: int, seconds: float,
                name: str) -> evaluation.CVResult:
    """A CVResult from each fit's test-row probabilities (scored as cross_validate scores)."""
    scores = {k: np.full(len(splits), np.nan) for k in evaluation.CV_METRICS}
    oof = np.full((repeats, y.size), np.nan)
    for k, ((_tr, te), p) in enumerate(zip(splits, probs)):
        oof[k // folds, te] = p
        evaluation._score_fold(scores, k, y[te], p, 0.5)
    n_groups = int(evaluation.duplicate_groups(X).max()) + 1
    return evaluation.CVResult(scores, oof[0].copy(), y, folds, repeats, seed, True, 0.5,
                               n_groups, seconds, {"model": name}, oof)


def train_members(X, y, splits, seed: int, members: range, bagged: bool, threads: int):
    """Train member ``m`` of every fit for m in ``members`` (one train_many call);
    returns ``(probs[m][fit] of the fit's test rows, seconds)``."""
    n = y.size
    configs, weights, scale_rows = [], [], []
    for m in members:
        for k, (tr, _te) in enumerate(splits):
            configs.append(TrainConfig(seed=member_seed(seed, k, m)))
            if bagged:
                w = bootstrap_counts(seed, k, m, tr, n)
            else:
                w = np.zeros(n)
                w[tr] = 1.0
            weights.append(w)
            rows = np.zeros(n, dtype=bool)
            rows[tr] = True                  # the scaler: all the fold's training rows
            scale_rows.append(rows)
    started = time.perf_counter()
    batch = train_many(X, y, configs, np.array(weights), scale_rows=np.array(scale_rows),
                       threads=threads)
    out, j = {}, 0
    for m in members:
        out[m] = []
        for _tr, te in splits:
            out[m].append(batch.predict_proba(X[te], j)[0])
            j += 1
    seconds = time.perf_counter() - started
    bad = [s for s in batch.stopped if s != "completed"]
    if bad:
        raise SystemExit(f"{len(bad)} networks did not complete: {sorted(set(bad))}")
    return out, seconds


def spread(probs: dict, members) -> tuple[float, float, float]:
    """How much the members disagree: |p_m - mean of the members| over every test row of
    every fit and member, as (mean, 99th percentile, max)."""
    d = np.concatenate([np.abs(a - a.mean(axis=0)).ravel()
                        for a in (np.stack([probs[m][k] for m in members])
                                  for k in range(len(probs[members[0]])))])
    return float(d.mean()), float(np.quantile(d, 0.99)), float(d.max())


def mean_of(probs: dict, members) -> list:
    fits = len(next(iter(probs.values())))
    return [np.mean([probs[m][k] for m in members], axis=0) for k in range(fits)]


def run_seed(X, y, seed: int, args) -> tuple[dict, dict]:
    """Every candidate on the folds of fold seed ``seed``: ``({name: (CVResult, seconds)},
    {name: spread of its members})``."""
    splits = evaluation.cv_folds(X, y, folds=args.folds, repeats=args.repeats, seed=seed)
    out = {}
    t = time.perf_counter()
    single = evaluation.cross_validate(X, y, TrainConfig(seed=seed), folds=args.folds,
                                       repeats=args.repeats, seed=seed, threads=args.threads)
    out["single network (default)"] = (single, time.perf_counter() - t)

    def res(probs, seconds, name):
        return result_from(probs, splits, X, y, args.folds, args.repeats, seed, seconds, name), seconds

    first, s1 = train_members(X, y, splits, seed, range(0, 5), False, args.threads)
    out["mean of 5 seeds"] = res(mean_of(first, range(5)), s1, "seeds 5")
    second, s2 = train_members(X, y, splits, seed, range(5, 10), False, args.threads)
    both = {**first, **second}
    out["mean of 10 seeds"] = res(mean_of(both, range(10)), s1 + s2, "seeds 10")
    bag, s3 = train_members(X, y, splits, seed, range(0, 5), True, args.threads)
    out["bagged 5 (bootstrap rows)"] = res(mean_of(bag, range(5)), s3, "bagged 5")
    spreads = {"mean of 5 seeds": spread(first, range(5)),
               "mean of 10 seeds": spread(both, range(10)),
               "bagged 5 (bootstrap rows)": spread(bag, range(5))}
    names = ("logistic_regression",) + (("random_forest",) if args.forest else ())
    for name in names:
        t = time.perf_counter()
        cv = baselines.cross_validate_baselines(X, y, folds=args.folds, repeats=args.repeats,
                                                seed=seed, names=(name,))[name]
        out[baselines.LABELS[name]] = (cv, time.perf_counter() - t)
    # the same folds for everyone: the single network's out-of-fold rows are those of `splits`
    assert all(np.isfinite(cv.oof_all).all() for cv, _ in out.values())
    return out, spreads


def meets(values: dict) -> list:
    return [k for k, (op, goal) in GOALS.items()
            if (values[k] >= goal if op == ">=" else values[k] <= goal)]


def print_seed(seed: int, results: dict, spreads: dict, args) -> None:
    print(f"\nfold seed {seed}: {args.repeats} x {args.folds}-fold duplicate-aware CV "
          f"(the folds of `bcdesktop evaluate --seed {seed}`), mean ± sd over "
          f"{args.folds * args.repeats} fits")
    print(f"{'model':<28s} " + "  ".join(f"{k:<15s}" for k in METRICS) + "  seconds  goals")
    for name, (cv, seconds) in results.items():
        cells = "  ".join(f"{cv.mean(k):.4f} ± {cv.sd(k):.4f}" for k in METRICS)
        ok = meets({k: cv.mean(k) for k in GOALS})
        print(f"{name:<28s} {cells}  {seconds:7.1f}  {len(ok)}/3", flush=True)
    print("members' disagreement, |p_member - p_mean| over the test rows: " + "; ".join(
        f"{name} mean {a:.4f}, 99th pct {b:.4f}, max {c:.4f}" for name, (a, b, c) in spreads.items()))


def repeat_se(d: np.ndarray, groups: int) -> float:
    """Standard error of the mean of ``d`` over ``groups`` equal blocks (repeats): the
    fits of one repeat share rows, so they are not independent."""
    if groups < 2:
        return float("nan")
    means = d.reshape(groups, -1).mean(axis=1)
    return float(np.std(means, ddof=1) / np.sqrt(groups))


def summary(all_results: dict, args) -> None:
    seeds = list(all_results)
    names = list(all_results[seeds[0]])
    print(f"\naccuracy / AUC / Brier per fold seed, and mean over seeds {seeds} "
          "(goals >= 0.970 / >= 0.996 / <= 0.022)")
    head = "  ".join(f"{'seed ' + str(s):<20s}" for s in seeds)
    print(f"{'model':<28s} {head}  {'mean of the seeds':<36s}  seconds  goals met by the mean")
    for name in names:
        cells = "  ".join(f"{all_results[s][name][0].mean('accuracy'):.4f} "
                          f"{all_results[s][name][0].mean('roc_auc'):.4f} "
                          f"{all_results[s][name][0].mean('brier'):.4f}" for s in seeds)
        mean = {k: np.mean([all_results[s][name][0].mean(k) for s in seeds]) for k in METRICS}
        secs = np.mean([all_results[s][name][1] for s in seeds])
        ok = meets(mean)
        per_seed = sum(len(meets({k: all_results[s][name][0].mean(k) for k in GOALS})) == 3
                       for s in seeds)
        print(f"{name:<28s} {cells}  {mean['accuracy']:.4f} {mean['roc_auc']:.4f} "
              f"{mean['brier']:.4f} sens {mean['sensitivity']:.4f} spec {mean['specificity']:.4f}"
              f"  {secs:6.1f}  {len(ok)}/3 ({', '.join(SHORT[k] for k in ok) or 'none'}); "
              f"all 3 on {per_seed} of {len(seeds)} seeds")
    winners = [name for name in names[:4]
               if len(meets({k: np.mean([all_results[s][name][0].mean(k) for s in seeds])
                             for k in GOALS})) == 3]
    print("networks whose mean over the seeds meets all three goals: "
          + (", ".join(winners) if winners else "none"))
    base = names[0]
    groups = args.repeats * len(seeds)
    print(f"\npaired difference from the {base} over the same folds, all seeds "
          f"({len(seeds) * args.folds * args.repeats} fits; ± standard error over the "
          f"{groups} repeats)")
    for name in names[1:]:
        cells = []
        for k in METRICS:
            d = np.concatenate([all_results[s][name][0].per_fold[k]
                                - all_results[s][base][0].per_fold[k] for s in seeds])
            cells.append(f"{SHORT[k]} {np.nanmean(d):+.4f}±{repeat_se(d, groups):.4f}")
        print(f"{name:<28s} " + "  ".join(cells))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3],
                   help="fold seeds to run (default 0 1 2 3); each also seeds the single network")
    p.add_argument("--folds", type=int, default=evaluation.DEFAULT_FOLDS)
    p.add_argument("--repeats", type=int, default=evaluation.DEFAULT_REPEATS)
    p.add_argument("--threads", type=int, default=1,
                   help="train_many's parts at once (default 1: the machine is shared)")
    p.add_argument("--forest", action="store_true", help="add the random forest (200 trees)")
    args = p.parse_args(argv)
    ds = data.load_bundled()
    X, y = np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y)
    print(f"bundled data: {len(y)} rows, {int(evaluation.duplicate_groups(X).max()) + 1} "
          f"distinct feature vectors; network: {TrainConfig()}")
    started = time.perf_counter()
    all_results = {}
    for seed in args.seeds:
        all_results[seed], spreads = run_seed(X, y, seed, args)
        print_seed(seed, all_results[seed], spreads, args)
    summary(all_results, args)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
