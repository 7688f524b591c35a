"""Time of one exact Shapley explanation (bcdesktop.explain) of the default model.

    python bench/bench_explain.py [--repeats 20]

For each background (the training rows as distinct patterns with their counts, and the
benign rows only), on a few real cases, one after the other in each repeat:

- **explain_bundle**: the route the app takes (the first layer's input of every
  coalition x background row by one addition each, in cache-sized chunks, no BLAS);
- **shapley (hybrid rows)**: the general route, ``logit_fn`` on all 2^9 x b hybrid rows;
- **reference**: one plain ``bundle.predict_proba`` call on the same 512 x b rows
  (made before the clock starts): what evaluating the hybrid rows costs at least.

Prints the median over the repeats in ms, each route's ratio to the reference, the
largest difference between the two routes' contributions, and the machine's load
(``os.getloadavg``) before and after. Goal: under 50 ms per explanation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bcdesktop.data import load_bundled  # noqa: E402
from bcdesktop.explain import _coalitions, explain_bundle, logit_function, shapley  # noqa: E402
from bcdesktop.patterns import TrainingPatterns  # noqa: E402
from bcdesktop.persistence import load_default_model  # noqa: E402

GOAL_MS = 50.0


def _ms(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t) * 1000.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    bundle = load_default_model()
    data = load_bundled()
    patterns = TrainingPatterns.from_rows(data.X, data.y)
    cases = [data.X[0], data.X[int(np.argmax(data.y))], np.full(9, 5.0)]
    members, _ = _coalitions(9)
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    ok = True
    for kind in ("training", "benign"):
        bg, w = patterns.background(kind)
        hybrid = np.where(members[:, None, :], cases[0], bg[None, :, :]).reshape(-1, 9)
        fast, slow, ref = [], [], []
        worst = 0.0
        explain_bundle(bundle, cases[0], bg, w)           # warm up
        for _ in range(args.repeats):
            for x in cases:
                fast.append(_ms(explain_bundle, bundle, x, bg, w))
                slow.append(_ms(shapley, logit_function(bundle), x, bg, w))
                ref.append(_ms(bundle.predict_proba, hybrid))
        for x in cases:
            a = explain_bundle(bundle, x, bg, w).contributions
            b = shapley(logit_function(bundle), x, bg, w).contributions
            worst = max(worst, float(np.abs(a - b).max()))
        f, s, r = (statistics.median(t) for t in (fast, slow, ref))
        ok &= f < GOAL_MS
        print(f"\nbackground {kind}: {bg.shape[0]} distinct rows ({int(w.sum())} cases), "
              f"{512 * bg.shape[0]} hybrid rows; median of {len(fast)} explanations")
        print(f"  explain_bundle           {f:7.2f} ms  {f / r:5.2f}x reference   "
              f"({'under' if f < GOAL_MS else 'OVER'} the {GOAL_MS:g} ms goal)")
        print(f"  shapley (hybrid rows)    {s:7.2f} ms  {s / r:5.2f}x reference")
        print(f"  reference predict_proba  {r:7.2f} ms  (one call on the 512 x b rows)")
        print(f"  largest difference between the routes: {worst:.1e}")
    # the interval: fitted once a model load (on its 683 calibration pairs), looked up a
    # batch chunk at a time; the reference is one predict_proba of the chunk's rows
    from bcdesktop.venn_abers import VennAbers

    scores, labels = bundle.oof.pairs()
    rng = np.random.default_rng(1)
    big = rng.random(5000)
    big_y = (rng.random(5000) < big).astype(int)
    chunk = rng.integers(1, 11, size=(50_000, 9)).astype(np.float64)
    fit683 = statistics.median(_ms(VennAbers.fit, scores, labels) for _ in range(args.repeats))
    fit5000 = statistics.median(_ms(VennAbers.fit, big, big_y) for _ in range(args.repeats))
    va = VennAbers.fit(scores, labels)
    s = bundle.raw_proba(chunk)
    look = statistics.median(_ms(va.interval, s) for _ in range(args.repeats))
    ref = statistics.median(_ms(bundle.predict_proba, chunk) for _ in range(args.repeats))
    print(f"\nVenn-Abers, median of {args.repeats}:")
    print(f"  fit on the model's {scores.size} pairs   {fit683:7.2f} ms")
    print(f"  fit on 5,000 random pairs        {fit5000:7.2f} ms")
    print(f"  interval of 50,000 scores        {look:7.2f} ms  {look / ref:5.2f}x predict_proba of the "
          f"same rows ({ref:.2f} ms)")
    print(f"\nload after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
