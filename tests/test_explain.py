"""Exact Shapley values (bcdesktop.explain): the axioms, a brute-force reference, the
bundle's fast route and the default model."""

import itertools
import math

import numpy as np
import pytest

from bcdesktop.explain import Explanation, explain_bundle, logit_function, shapley, sigmoid
from bcdesktop.model import MLP, Scaler
from bcdesktop.schema import FEATURES


def _mlp(d, hidden, seed):
    return MLP(n_inputs=d, hidden=hidden, init="he", seed=seed)


def _mlp_logits(net):
    return lambda X: net.logits(X)


def _brute_force(f, x, bg, w):
    """Shapley values by all d! orders of adding features, each coalition value computed
    row by row."""
    d = x.size
    w = np.asarray(w, dtype=float) / np.sum(w)

    def v(S):
        rows = bg.copy()
        rows[:, list(S)] = x[list(S)]
        return float(f(rows) @ w)

    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        S = []
        before = v(S)
        for i in order:
            S.append(i)
            after = v(S)
            phi[i] += after - before
            before = after
    return phi / math.factorial(d)


def test_agrees_with_brute_force_over_all_orders():
    rng = np.random.default_rng(1)
    net = _mlp(4, (6, 3), seed=3)
    x = rng.random(4)
    bg = rng.random((7, 4))
    w = rng.integers(1, 5, 7)
    e = shapley(_mlp_logits(net), x, bg, w)
    np.testing.assert_allclose(e.contributions, _brute_force(_mlp_logits(net), x, bg, w), rtol=0, atol=1e-12)
    assert e.features == ("x0", "x1", "x2", "x3")


@pytest.mark.parametrize("d", [1, 2, 5, 9, 12])
def test_efficiency(d):
    rng = np.random.default_rng(d)
    net = _mlp(d, (8,), seed=d)
    x, bg = rng.random(d), rng.random((5, d))
    e = shapley(_mlp_logits(net), x, bg)
    assert e.base + e.contributions.sum() == pytest.approx(e.value, abs=1e-9)
    assert e.value == pytest.approx(float(net.logits(x[None])[0]), abs=1e-12)
    assert e.base == pytest.approx(float(net.logits(bg).mean()), abs=1e-12)


def test_symmetry_of_features_with_the_same_role():
    # f = relu(x0 + x1 - 1) - x2: x0 and x1 are interchangeable
    net = MLP.from_params([np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([-1.0, 0.0]),
                           np.array([[2.0, -1.0]]), np.array([0.5])])
    x = np.array([2.0, 2.0, 3.0])
    bg = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.5, 0.5, 2.0]])
    e = shapley(_mlp_logits(net), x, bg, [1, 2, 3])
    assert e.contributions[0] == pytest.approx(e.contributions[1], abs=1e-12)
    assert e.contributions[0] != pytest.approx(0.0, abs=1e-3)


def test_a_feature_the_network_ignores_gets_nothing():
    net = _mlp(5, (7,), seed=2)
    net.packed[0][:, 3] = 0.0                        # no weight from feature 3
    rng = np.random.default_rng(4)
    x, bg = rng.random(5), rng.random((6, 5))
    e = shapley(_mlp_logits(net), x, bg)
    assert e.contributions[3] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.abs(np.delete(e.contributions, 3)) > 1e-6)


def test_linear_logit_gets_weight_times_distance_from_the_weighted_mean():
    rng = np.random.default_rng(5)
    coef, c = rng.normal(size=6), 0.7
    x, bg, w = rng.random(6), rng.random((9, 6)), rng.random(9)
    e = shapley(lambda X: X @ coef + c, x, bg, w)
    expected = coef * (x - (w @ bg) / w.sum())
    np.testing.assert_allclose(e.contributions, expected, rtol=0, atol=1e-12)


def test_weights_act_as_repeated_rows_and_zero_weights_drop_rows():
    rng = np.random.default_rng(6)
    net = _mlp(4, (5,), seed=1)
    x, bg = rng.random(4), rng.random((4, 4))
    counts = np.array([3, 1, 0, 2])
    weighted = shapley(_mlp_logits(net), x, bg, counts)
    repeated = shapley(_mlp_logits(net), x, np.repeat(bg, counts, axis=0))
    np.testing.assert_allclose(weighted.contributions, repeated.contributions, rtol=0, atol=1e-12)
    assert weighted.base == pytest.approx(repeated.base, abs=1e-12)


def test_chunks_give_the_same_numbers(monkeypatch):
    import bcdesktop.explain as explain

    rng = np.random.default_rng(7)
    net = _mlp(6, (5,), seed=4)
    x, bg = rng.random(6), rng.random((30, 6))
    calls = []

    def f(X):
        calls.append(X.shape[0])
        return net.logits(X)

    whole = shapley(f, x, bg)
    assert calls == [64 * 30]
    monkeypatch.setattr(explain, "CHUNK_BYTES", 8 * 6 * 30 * 5)   # 5 coalitions per call
    calls.clear()
    chunked = shapley(f, x, bg)
    assert len(calls) == 13 and sum(calls) == 64 * 30
    np.testing.assert_allclose(chunked.contributions, whole.contributions, rtol=0, atol=1e-12)


def _bundle(net, scaler):
    from bcdesktop.persistence import ModelBundle
    return ModelBundle(network=net, scaler=scaler)


@pytest.mark.parametrize("hidden", [(15,), (8, 4)])
def test_the_bundle_route_equals_the_hybrid_rows(hidden):
    rng = np.random.default_rng(8)
    net = _mlp(9, hidden, seed=5)
    scaler = Scaler(np.ones(9), np.r_[np.full(8, 10.0), 1.0])      # one constant feature
    bundle = _bundle(net, scaler)
    bg = rng.integers(1, 11, (40, 9)).astype(float)
    w = rng.integers(0, 4, 40)
    w[0] = 1
    x = rng.integers(1, 11, 9).astype(float)
    fast = explain_bundle(bundle, x, bg, w)
    slow = shapley(logit_function(bundle), x, bg, w)
    np.testing.assert_allclose(fast.contributions, slow.contributions, rtol=0, atol=1e-10)
    assert fast.base == pytest.approx(slow.base, abs=1e-10)
    assert fast.value == pytest.approx(slow.value, abs=1e-10)
    assert fast.features == FEATURES


def test_default_model_adds_up_to_its_probability():
    from bcdesktop.data import load_bundled
    from bcdesktop.persistence import load_default_model

    bundle = load_default_model()
    data = load_bundled()
    bg, counts = np.unique(data.X, axis=0, return_counts=True)
    for x in (data.X[0], data.X[np.argmax(data.y)], np.full(9, 10.0), np.ones(9)):
        e = explain_bundle(bundle, x, bg, counts)
        p = float(bundle.predict_proba(x)[0])
        assert e.base + e.contributions.sum() == pytest.approx(e.value, abs=1e-9)
        assert sigmoid(e.value) == pytest.approx(p, abs=1e-12)
        assert e.base == pytest.approx(float(np.average(logit_function(bundle)(bg), weights=counts)), abs=1e-9)
        steps = e.probability_steps()
        assert steps[0].before == pytest.approx(sigmoid(e.base), abs=1e-15)
        assert steps[-1].after == pytest.approx(p, abs=1e-9)
        assert all(a.after == b.before for a, b in zip(steps, steps[1:]))
        sizes = [abs(s.contribution) for s in steps]
        assert sizes == sorted(sizes, reverse=True)
        assert sorted(s.index for s in steps) == list(range(9))


def test_explanation_to_dict_and_repr():
    e = Explanation(base=-1.0, contributions=np.arange(9) - 4.0, value=-1.0, x=np.arange(1, 10))
    d = e.to_dict()
    assert d["scale"] == "log-odds" and d["base"] == -1.0
    assert list(d["contributions"]) == list(FEATURES)
    assert d["contributions"]["Mitoses"] == 4.0
    assert "Mitoses=+4.000" in repr(e)
    with pytest.raises(ValueError):
        e.contributions[0] = 1.0


@pytest.mark.parametrize("kwargs, reason", [
    ({"x": np.ones(13)}, "x must be one row"),
    ({"background": np.ones((3, 8))}, "background must have shape"),
    ({"background": np.ones((0, 9))}, "background must have shape"),
    ({"weights": np.ones(2)}, "weights must have shape"),
    ({"weights": -np.ones(3)}, "weights must be >= 0"),
    ({"weights": np.zeros(3)}, "not all zero"),
    ({"x": np.r_[np.nan, np.ones(8)]}, "finite"),
])
def test_bad_inputs_are_refused(kwargs, reason):
    args = {"x": np.ones(9), "background": np.ones((3, 9)), "weights": None} | kwargs
    with pytest.raises(ValueError, match=reason):
        shapley(lambda X: X.sum(axis=1), **args)


def test_a_bad_logit_function_is_refused():
    with pytest.raises(ValueError, match="shape"):
        shapley(lambda X: X, np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        shapley(lambda X: np.full(X.shape[0], np.nan), np.ones(3), np.zeros((2, 3)))


def test_a_recalibrated_bundle_is_explained_on_its_own_log_odds():
    class Recalibrated:                        # a stand-in: only what explain_bundle reads
        network = MLP(9, (6,), seed=2)
        scaler = Scaler(np.ones(9), np.full(9, 10.0))
        features = FEATURES
        recalibration = object()

        def logit(self, X):
            return 0.5 * self.network.logits(self.scaler.transform(X)) - 1.0

    bundle = Recalibrated()
    rng = np.random.default_rng(9)
    bg, x = rng.integers(1, 11, (12, 9)).astype(float), np.full(9, 4.0)
    e = explain_bundle(bundle, x, bg)
    assert e.value == pytest.approx(float(bundle.logit(x[None])[0]), abs=1e-12)
    plain = shapley(logit_function(bundle), x, bg)
    np.testing.assert_allclose(e.contributions, 0.5 * plain.contributions, rtol=0, atol=1e-12)
