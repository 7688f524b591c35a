"""Venn-Abers intervals (bcdesktop.venn_abers): against scikit-learn's isotonic
regression, their speed, and their validity on held-out rows of the real data."""


import numpy as np
import pytest

from bcdesktop.venn_abers import VennAbers


def _direct(cal_scores, cal_labels, s):
    """(p0, p1) at one test score by two isotonic fits with the test point added."""
    from sklearn.isotonic import IsotonicRegression

    out = []
    for y in (0, 1):
        ir = IsotonicRegression(out_of_bounds="clip")
        ir.fit(np.append(cal_scores, s), np.append(cal_labels, y))
        out.append(float(ir.predict([s])[0]))
    return out


def _test_scores(cal):
    u = np.unique(cal)
    between = (u[:-1] + u[1:]) / 2
    return np.concatenate([u, between, [u[0] - 1.0, u[-1] + 1.0]])


@pytest.mark.parametrize("seed", range(40))
def test_matches_isotonic_regression_with_the_test_point_added(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    if seed % 2:
        scores = rng.integers(0, 5, n) / 4.0          # many ties
    else:
        scores = rng.random(n)
    labels = (rng.random(n) < rng.random()).astype(int)
    if seed % 5 == 0:
        labels[:] = seed % 10 // 5                     # all one class
    va = VennAbers.fit(scores, labels)
    tests = _test_scores(scores)
    p0, p1 = va.interval(tests)
    for s, a, b in zip(tests, p0, p1):
        d0, d1 = _direct(scores, labels, s)
        assert a == pytest.approx(d0, abs=1e-12)
        assert b == pytest.approx(d1, abs=1e-12)
    assert np.all(p0 <= p1)
    assert np.all((0 <= p0) & (p1 <= 1))


def test_ties_in_slope_on_coarse_scores_match_isotonic_regression():
    """Scores at one or two decimals tie often (grouped folds give duplicates one score):
    found by review, a tie once left p0 at 7/11 where the isotonic fit gives 9/14."""
    cs = np.array([0.0] * 7 + [1.0] * 3 + [2.0] * 2 + [3.0] * 8)
    cy = np.array([0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1])
    p0, p1 = VennAbers.fit(cs, cy).interval(np.array([2.0]))
    assert (p0[0], p1[0]) == pytest.approx(_direct(cs, cy, 2.0), abs=1e-12)
    assert p0[0] == pytest.approx(9 / 14, abs=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(60):
        n = int(rng.integers(20, 80))
        cal = np.round(rng.random(n), int(rng.integers(1, 3)))
        labels = (rng.random(n) < cal ** rng.uniform(0.3, 3)).astype(int)
        tests = np.concatenate([cal[:6], rng.random(3)])
        got0, got1 = VennAbers.fit(cal, labels).interval(tests)
        for s_, a, b in zip(tests, got0, got1):
            assert (a, b) == pytest.approx(_direct(cal, labels, s_), abs=1e-12)


def test_small_cases_by_hand():
    va = VennAbers.fit([0.2, 0.8], [0, 1])
    # below both: the test point pools with nothing for p0, with the 0 for p1
    assert va.interval(0.1) == (pytest.approx(0.0), pytest.approx(0.5))
    assert va.interval(0.5) == (pytest.approx(0.0), pytest.approx(1.0))
    assert va.interval(0.8) == (pytest.approx(0.5), pytest.approx(1.0))
    assert va.interval(0.9) == (pytest.approx(0.5), pytest.approx(1.0))
    # all one class: p1 = 1 / (n + 1) at the bottom, p0 = 0 everywhere
    va = VennAbers.fit([1, 2, 3], [0, 0, 0])
    p0, p1 = va.interval(np.array([0.0, 2.0, 5.0]))
    np.testing.assert_allclose(p0, 0.0)
    np.testing.assert_allclose(p1, [0.25, 1 / 3, 1.0])
    np.testing.assert_allclose(va.merged(np.array([5.0])), [0.5])


def test_interval_keeps_the_shape_of_its_input():
    rng = np.random.default_rng(0)
    va = VennAbers.fit(rng.random(50), rng.integers(0, 2, 50))
    p0, p1 = va.interval(rng.random((3, 4)))
    assert p0.shape == p1.shape == (3, 4)
    assert np.all(va.merged(rng.random(7)) <= 1.0)


def test_ties_are_pooled_and_the_arrays_round_trip():
    va = VennAbers.fit([0.3, 0.3, 0.3, 0.9], [0, 1, 1, 1])
    np.testing.assert_array_equal(va.scores, [0.3, 0.9])
    np.testing.assert_array_equal(va.counts, [3, 1])
    np.testing.assert_array_equal(va.positives, [2, 1])
    again = VennAbers(**va.to_arrays())
    np.testing.assert_array_equal(again.p0, va.p0)
    np.testing.assert_array_equal(again.p1, va.p1)
    assert repr(va) == "VennAbers(n=4, distinct scores=2, positives=3)"


@pytest.mark.parametrize("args, reason", [
    (([], []), "at least one"),
    (([0.1, 0.2], [0]), "2 scores but 1 labels"),
    (([0.1, np.nan], [0, 1]), "finite"),
    (([0.1, 0.2], [0, 2]), "0 or 1"),
])
def test_bad_calibration_pairs_are_refused(args, reason):
    with pytest.raises(ValueError, match=reason):
        VennAbers.fit(*args)


def test_bad_test_scores_are_refused():
    va = VennAbers.fit([0.1, 0.2], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        va.interval(np.array([0.5, np.nan]))


# ---------------------------------------------------------------------- validity

BINS = (0.0, 0.05, 0.5, 0.95, 1.0)   # of the merged probability


def _held_out_intervals(scorer, repeats=20):
    """(p0, p1, merged, y) of the test rows of ``repeats`` seeded splits of the real data:
    Venn-Abers fitted on 240 rows, tested on 243. ``scorer`` "logistic": a logistic
    regression fitted on the other 200 rows; "network": the default model's log-odds
    (trained on all rows, so calibration and test rows are still exchangeable)."""
    from bcdesktop.data import load_bundled

    data = load_bundled()
    X, y = data.X, data.y.astype(int)
    if scorer == "network":
        from bcdesktop.explain import logit_function
        from bcdesktop.persistence import load_default_model

        logits = logit_function(load_default_model())(X)
    out = []
    for seed in range(repeats):
        order = np.random.default_rng(seed).permutation(len(y))
        fit, cal, test = order[:200], order[200:440], order[440:]
        if scorer == "logistic":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1.0, max_iter=1000).fit(X[fit], y[fit])
            score = model.decision_function(X)
        else:
            score = logits
        va = VennAbers.fit(score[cal], y[cal])
        s = score[test]
        p0, p1 = va.interval(s)
        out.append((p0, p1, va.merged(s), y[test]))
    return tuple(np.concatenate(parts) for parts in zip(*out))


def _bin_table(p0, p1, merged, y):
    """Per bin of the merged probability: (n, mean p0, mean p1, observed rate, tolerance)."""
    rows = []
    which = np.clip(np.searchsorted(BINS, merged, side="right") - 1, 0, len(BINS) - 2)
    for k in range(len(BINS) - 1):
        sel = which == k
        n = int(sel.sum())
        if n == 0:
            continue
        lo, hi, rate = p0[sel].mean(), p1[sel].mean(), y[sel].mean()
        mid = min(max(rate, lo), hi)
        tol = 3.0 * np.sqrt(max(mid * (1 - mid), 0.01) / n) + 0.01
        rows.append((n, lo, hi, rate, tol))
    return rows


def _valid(rows):
    return all(lo - tol <= rate <= hi + tol for n, lo, hi, rate, tol in rows)


@pytest.mark.parametrize("scorer", ["logistic", "network"])
def test_observed_rates_lie_in_the_intervals_on_held_out_rows(scorer):
    p0, p1, merged, y = _held_out_intervals(scorer)
    rows = _bin_table(p0, p1, merged, y)
    for n, lo, hi, rate, tol in rows:
        print(f"{scorer}: n={n:5d}  mean interval [{lo:.3f}, {hi:.3f}]  observed {rate:.3f}  tol {tol:.3f}")
    assert sum(r[0] for r in rows) == 20 * 243
    assert len(rows) >= 3
    assert _valid(rows)
    # the check can fail: the same rows with the intervals moved by 0.15 do not pass it
    shifted = _bin_table(np.clip(p0 + 0.15, 0, 1), np.clip(p1 + 0.15, 0, 1), merged, y)
    assert not _valid(shifted)
    # and the merged probability is calibrated overall
    assert abs(merged.mean() - y.mean()) < 0.02
