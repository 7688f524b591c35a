"""Loss-landscape grid speed (issue 12) against single losses in a Python loop.

The default model (9-15-1) on the 683 bundled rows (449 distinct, merged as training
merges them), filter-normalised random directions. For 21, 51 and 101 points a side,
interleaved, ``--repeats`` times each:

- ``grid``: :func:`bcdesktop.landscape.loss_grid`, every point through one stacked
  forward pass (chunks of ``landscape.CHUNK_BYTES``);
- ``loop``: the same points' losses one at a time, ``MLP.loss`` calls in a Python loop
  (on the merged rows, weights set in place), on a sample of at most ``--loop-points``
  points, scaled to the grid's count (the loop's time is linear in the points);
- ``lean loop``: the same with one preallocated ``Pass`` (what ``MLP.loss`` builds
  each call), the fastest one-point-at-a-time loop;
- ``one pass``: one forward pass and loss of the data (the floor a point costs alone).

It prints the medians, the grid's microseconds a point, the loop / grid speed-up, the
largest difference between the grid's and the loop's losses (the run fails above
1e-12), and the machine's load average before and after. Goal: 51 x 51 under 1 s.

    python bench/bench_landscape.py [--repeats 5] [--loop-points 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-points", type=int, default=400)
    parser.add_argument("--sides", type=int, nargs="+", default=[21, 51, 101])
    args = parser.parse_args(argv)

    from bcdesktop import landscape as L
    from bcdesktop.data import load_bundled
    from bcdesktop.model import MLP, Pass
    from bcdesktop.persistence import load_default_model

    load_before = os.getloadavg()
    bundle = load_default_model()
    ds = load_bundled()
    X, y = bundle.scaler.transform(ds.X), ds.y
    rows = L.Rows(X, y)
    model = bundle.network
    vectors = L.random_directions(model, 0)
    net = MLP.from_params(model.params)
    p = Pass(net, rows.X, rows.y, rows.w)

    def one_pass() -> float:
        p.forward()
        return p.loss()

    print(f"default model {bundle.model_id} ({'-'.join(map(str, model.layer_sizes))}), {rows.n} rows "
          f"({rows.m} distinct), chunks of {L.CHUNK_BYTES / 2**20:g} MB; load average "
          f"{', '.join(f'{x:.2f}' for x in load_before)} on {os.cpu_count()} CPUs")
    L.loss_grid(model, rows, grid=11)                       # warm up
    times: dict[tuple[str, int], list[float]] = {}
    worst = 0.0
    rng = np.random.default_rng(0)
    for _ in range(args.repeats):
        for side in args.sides:
            t = time.perf_counter()
            land = L.loss_grid(model, rows, grid=side)
            times.setdefault(("grid", side), []).append(time.perf_counter() - t)
            # the loop, on a sample of the same points
            n = side * side
            pick = rng.choice(n, size=min(n, args.loop_points), replace=False)
            A, B = np.meshgrid(land.alphas, land.betas)
            a, b = A.ravel()[pick], B.ravel()[pick]
            for kind in ("loop", "lean"):
                looped = np.empty(len(pick))
                t = time.perf_counter()
                for k in range(len(pick)):
                    net.theta[:] = model.theta + a[k] * vectors[0] + b[k] * vectors[1]
                    looped[k] = one_pass() if kind == "lean" else net.loss(rows.X, rows.y, rows.w)
                times.setdefault((kind, side), []).append((time.perf_counter() - t) * n / len(pick))
                worst = max(worst, float(np.abs(looped - land.losses.ravel()[pick]).max()))
        net.theta[:] = model.theta
        t = time.perf_counter()
        for _ in range(200):
            one_pass()
        times.setdefault(("pass", 0), []).append((time.perf_counter() - t) / 200)
    single = statistics.median(times[("pass", 0)])
    print(f"one forward pass and loss of the data: {single * 1e6:.0f} us")
    print(f"{'side':>5} {'points':>7} {'grid s':>8} {'us/point':>9} {'loop s':>8} {'loop/grid':>9} "
          f"{'lean s':>8} {'lean/grid':>9} {'grid/(points x pass)':>21}")
    for side in args.sides:
        g = statistics.median(times[("grid", side)])
        lp = statistics.median(times[("loop", side)])
        lean = statistics.median(times[("lean", side)])
        n = side * side
        print(f"{side:>5} {n:>7,} {g:8.3f} {g / n * 1e6:9.1f} {lp:8.3f} {lp / g:8.1f}x "
              f"{lean:8.3f} {lean / g:8.1f}x {g / (n * single):21.3f}")
    load_after = os.getloadavg()
    print(f"largest |grid - loop| loss: {worst:.2e}; load average after "
          f"{', '.join(f'{x:.2f}' for x in load_after)}")
    if worst > 1e-12:
        print("FAIL: the grid and the loop disagree by more than 1e-12", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
