"""Matching cases (bcdesktop.patterns): tiny hand-made training sets and the real data."""

import numpy as np
import pytest

from bcdesktop.patterns import Match, TrainingPatterns, nearest_other


def _row(*head):
    """Nine scores: ``head`` then ones."""
    return list(head) + [1] * (9 - len(head))


@pytest.fixture
def tiny():
    X = np.array([_row(5), _row(5), _row(5), _row(1), _row(3, 3), _row(10, 10, 10)])
    y = np.array([0, 0, 1, 0, 1, 1])
    return TrainingPatterns.from_rows(X, y)


def test_distinct_patterns_sorted_with_their_class_counts(tiny):
    assert tiny.patterns.dtype == np.int8 and tiny.patterns.shape == (4, 9)
    assert tiny.counts.dtype == np.int64
    assert [list(p[:3]) for p in tiny.patterns] == [[1, 1, 1], [3, 3, 1], [5, 1, 1], [10, 10, 10]]
    np.testing.assert_array_equal(tiny.counts, [[1, 0], [0, 1], [2, 1], [0, 1]])
    assert tiny.n_rows == 6 and len(tiny) == 4


def test_unusual_cutoff_is_the_99th_percentile_of_nearest_other_rows(tiny):
    # the three rows of (5) are 0 from each other; (1) is 4 from (5) and from (3, 3);
    # (10, 10, 10) is 23 from (5) and from (3, 3)
    near = nearest_other(tiny.patterns, tiny.counts.sum(axis=1))
    got = {tuple(int(v) for v in p[:2]): d for p, d in zip(tiny.patterns, near)}
    assert got == {(1, 1): 4.0, (3, 3): 4.0, (5, 1): 0.0, (10, 10): 23.0}
    per_row = np.repeat(near, tiny.counts.sum(axis=1))
    assert tiny.unusual_cutoff == pytest.approx(np.percentile(per_row, 99), abs=1e-12)
    assert tiny.unusual_cutoff == pytest.approx(4 + 0.95 * 19, abs=1e-12)


def test_an_identical_pattern(tiny):
    m = tiny.match(np.array(_row(5)))
    assert (m.identical, m.identical_malignant, m.nearest_distance, m.unusual) == (3, 1, 0, False)
    assert m.sentence() == "This exact pattern occurs 3 times in the training data: 2 benign, 1 malignant."
    assert m.to_dict() == {"identical": 3, "identical_malignant": 1, "nearest_distance": 0, "unusual": False}
    assert m.nearest[0].scores == tuple(_row(5)) and m.nearest[0].distance == 0
    once = tiny.match(np.array(_row(1)))
    assert once.sentence() == "This exact pattern occurs once in the training data: 1 benign."


def test_no_identical_pattern(tiny):
    m = tiny.match(np.array(_row(3)))              # distance 2 to (1), (5) and (3, 3)
    assert m.identical == 0 and m.nearest_distance == 2
    assert {p.scores[:2] for p in m.nearest} == {(1, 1), (5, 1), (3, 3)}
    assert m.nearest_patterns == 3 and (m.nearest_benign, m.nearest_malignant) == (3, 2)
    assert m.sentence() == ("No training case has exactly these scores; the 3 nearest patterns "
                            "(distance 2) occur 5 times: 3 benign, 2 malignant.")
    one = tiny.match(np.array(_row(10, 10, 9)))
    assert one.sentence() == "No training case has exactly these scores; the nearest pattern (distance 1) is malignant."
    two = tiny.match(np.array(_row(2, 2)))
    assert two.sentence() == ("No training case has exactly these scores; the 2 nearest patterns (distance 2) "
                              "are 1 benign, 1 malignant.")


def test_unusual_flag(tiny):
    far = tiny.match(np.array([10] * 9))
    assert far.nearest_distance == 54 and far.unusual
    assert "Unusual pattern" in far.unusual_sentence()
    assert tiny.match(np.array(_row(5))).unusual_sentence() is None


def test_at_most_five_nearest_are_listed():
    X = np.array([_row(2), _row(1, 2), _row(1, 1, 2), _row(1, 1, 1, 2), _row(1, 1, 1, 1, 2),
                  _row(1, 1, 1, 1, 1, 2), _row(1, 1, 1, 1, 1, 1, 2)])
    tp = TrainingPatterns.from_rows(X, np.zeros(7, dtype=int))
    m = tp.match(np.ones(9, dtype=int))
    assert m.nearest_patterns == 7 and len(m.nearest) == 5 and m.nearest_benign == 7


def test_backgrounds(tiny):
    rows, w = tiny.background("training")
    assert rows.dtype == np.float64 and rows.shape == (4, 9)
    np.testing.assert_array_equal(w, [1, 1, 3, 1])
    rows, w = tiny.background("benign")
    np.testing.assert_array_equal(rows[:, 0], [1, 5])
    np.testing.assert_array_equal(w, [1, 2])
    with pytest.raises(ValueError, match="'training' or 'benign'"):
        tiny.background("malignant")
    all_malignant = TrainingPatterns.from_rows(np.array([_row(4)]), np.array([1]))
    rows, w = all_malignant.background("benign")
    assert rows.shape == (0, 9) and w.shape == (0,)


def test_one_row_is_never_unusual():
    tp = TrainingPatterns.from_rows(np.array([_row(4)]), np.array([1]))
    assert tp.unusual_cutoff == float("inf")
    assert not tp.match(np.full(9, 10)).unusual


def test_arrays_round_trip(tiny):
    arrays = tiny.to_arrays()
    assert set(arrays) == {"train_patterns", "train_counts"}
    assert arrays["train_patterns"].dtype == np.int8 and arrays["train_counts"].dtype == np.int64
    again = TrainingPatterns.from_arrays(arrays["train_patterns"], arrays["train_counts"])
    np.testing.assert_array_equal(again.patterns, tiny.patterns)
    np.testing.assert_array_equal(again.counts, tiny.counts)
    assert again.unusual_cutoff == tiny.unusual_cutoff
    shuffled = TrainingPatterns.from_arrays(arrays["train_patterns"][::-1], arrays["train_counts"][::-1])
    np.testing.assert_array_equal(shuffled.patterns, tiny.patterns)
    np.testing.assert_array_equal(shuffled.counts, tiny.counts)


def _bad(**change):
    p = np.array([_row(1), _row(2)], dtype=np.int8)
    c = np.array([[1, 0], [0, 2]], dtype=np.int64)
    args = {"patterns": p, "counts": c} | change
    return args


@pytest.mark.parametrize("args, reason", [
    (_bad(patterns=np.ones((2, 8), dtype=np.int8)), "shape"),
    (_bad(patterns=np.ones((0, 9), dtype=np.int8), counts=np.ones((0, 2))), "shape"),
    (_bad(counts=np.ones((3, 2), dtype=np.int64)), "shape"),
    (_bad(patterns=np.array([_row(0), _row(2)])), "whole numbers 1..10"),
    (_bad(patterns=np.array([_row(11), _row(2)])), "whole numbers 1..10"),
    (_bad(patterns=np.array([_row(1.5), _row(2)])), "whole numbers 1..10"),
    (_bad(patterns=np.array([_row(2), _row(2)])), "twice"),
    (_bad(counts=np.array([[1, -1], [0, 2]])), ">= 0"),
    (_bad(counts=np.array([[0, 0], [0, 2]])), "no cases"),
    (_bad(counts=np.array([[0.5, 0], [0, 2]])), "whole numbers"),
    (_bad(counts=np.array([["a", "b"], ["c", "d"]])), "numbers"),
])
def test_bad_arrays_are_refused(args, reason):
    with pytest.raises(ValueError, match=reason):
        TrainingPatterns.from_arrays(**args)


def test_bad_rows_and_cases_are_refused(tiny):
    with pytest.raises(ValueError, match="shape"):
        TrainingPatterns.from_rows(np.ones((3, 8)), np.zeros(3))
    with pytest.raises(ValueError, match="0 or 1"):
        TrainingPatterns.from_rows(np.ones((2, 9)), np.array([0, 2]))
    with pytest.raises(ValueError, match="whole numbers"):
        tiny.match(np.array(_row(0)))
    with pytest.raises(ValueError, match="shape"):
        tiny.match(np.ones(8))


def test_real_data():
    from bcdesktop.data import load_bundled

    data = load_bundled()
    tp = TrainingPatterns.from_rows(data.X, data.y)
    assert tp.n_rows == 683 and len(tp) == len(np.unique(data.X, axis=0))
    np.testing.assert_array_equal(tp.counts.sum(axis=0), [np.sum(data.y == 0), np.sum(data.y == 1)])
    # brute force: each row's nearest other row
    D = np.abs(data.X[:, None, :] - data.X[None, :, :]).sum(axis=2)
    np.fill_diagonal(D, np.inf)
    assert tp.unusual_cutoff == pytest.approx(np.percentile(D.min(axis=1), 99), abs=1e-9)
    # every training row matches itself, so none is unusual
    for x, label in zip(data.X[:100], data.y[:100]):
        m = tp.match(x.astype(int))
        assert m.identical >= 1 and m.nearest_distance == 0 and not m.unusual
        assert m.identical_malignant >= label
    rows, w = tp.background("training")
    assert w.sum() == 683 and rows.shape == (len(tp), 9)
    rows, w = tp.background("benign")
    assert w.sum() == np.sum(data.y == 0)
    again = TrainingPatterns.from_arrays(**{k.split("_")[1]: v for k, v in tp.to_arrays().items()})
    assert again.unusual_cutoff == tp.unusual_cutoff
    assert isinstance(tp.match(np.full(9, 7)), Match)
    assert "449 patterns of 683 rows" in repr(tp)


def test_nearest_other_in_chunks_is_the_same(monkeypatch):
    import bcdesktop.patterns as patterns

    rng = np.random.default_rng(3)
    p = np.unique(rng.integers(1, 11, (300, 9)), axis=0)
    totals = rng.integers(1, 3, len(p))
    whole = nearest_other(p, totals)
    monkeypatch.setattr(patterns, "_CHUNK_CELLS", 9 * len(p) * 7)     # 7 rows at a time
    np.testing.assert_array_equal(nearest_other(p, totals), whole)
    assert np.all(whole[totals > 1] == 0) and np.all(whole[totals == 1] > 0)


def test_a_model_file_cannot_make_the_loader_or_a_match_do_unbounded_work():
    """Found by review: 100,000 patterns in a 2.5 MB file hung predict (an O(m^2) cutoff
    at load). Patterns are capped, counts bounded, and the cutoff computed when first
    needed, from a seeded sample above EXACT_CUTOFF_PATTERNS."""
    from bcdesktop import patterns as P

    rng = np.random.default_rng(3)
    many = np.unique(rng.integers(1, 11, size=(P.MAX_PATTERNS + 500, 9)), axis=0)[: P.MAX_PATTERNS + 1]
    with pytest.raises(ValueError, match="more than the 20,000"):
        TrainingPatterns.from_arrays(many, np.ones((many.shape[0], 2), dtype=np.int64))
    with pytest.raises(ValueError, match="at most"):
        TrainingPatterns.from_arrays(many[:3], np.full((3, 2), 2**62, dtype=np.int64))
    some = many[:3000]
    tp = TrainingPatterns.from_arrays(some, np.ones((3000, 2), dtype=np.int64))
    assert tp._cutoff is None  # loading computed nothing quadratic
    assert tp.unusual_cutoff == 0.0  # every pattern occurs twice (1 + 1): distance 0
    single = TrainingPatterns.from_arrays(some, np.tile([[1, 0]], (3000, 1)))
    a = single.unusual_cutoff
    assert a == TrainingPatterns.from_arrays(some, np.tile([[1, 0]], (3000, 1))).unusual_cutoff  # seeded
    exact = float(np.percentile(P.nearest_other(single.patterns, np.ones(3000)), P.UNUSUAL_PERCENTILE))
    assert abs(a - exact) <= 2  # a sample of 2,000 of 3,000 patterns estimates it closely
