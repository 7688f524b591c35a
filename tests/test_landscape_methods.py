"""The loss landscape of networks with the newer hidden activations: the stacked forward
pass, the line from the initial weights and the range test use the network's own."""

import numpy as np
import pytest

from bcdesktop import landscape as L
from bcdesktop.model import MLP
from bcdesktop.training import TrainConfig, train


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 6, (n, 9)).astype(float)
    y = (X[:, :3].sum(axis=1) + rng.normal(0, 1.5, n) > 9).astype(float)
    return (X - 1) / 4, y


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize("hidden", [(6,), (3, 8)])       # a later layer wider than the first
def test_stacked_losses_are_each_networks_own(activation, hidden):
    X, y = _data()
    net = MLP(9, hidden, "he", 1, activation)
    rng = np.random.default_rng(2)
    thetas = net.theta + rng.normal(0, 0.5, (7, net.theta.size))
    thetas[0] = net.theta
    got = L.stacked_losses(net, thetas, X, y)
    for theta, loss in zip(thetas, got):
        other = MLP(9, hidden, "he", 1, activation)
        other.theta[:] = theta
        assert loss == pytest.approx(other.loss(X, y), abs=1e-12)


def test_a_tanh_models_grid_centre_and_line_are_its_training_loss():
    X, y = _data()
    result = train(X, y, TrainConfig(activation="tanh", iterations=100, lr=0.01), path_every=50)
    net = result.model
    land = L.loss_grid(net, X, y, grid=5)
    assert land.centre_loss == pytest.approx(net.loss(X, y), abs=1e-12)
    line = L.loss_line(result.path[0], net, X, y, points=5)
    start = MLP(9, (15,), "he", 0, "tanh")
    assert line.initial_loss == pytest.approx(start.loss(X, y), abs=1e-12)
    assert line.final_loss == pytest.approx(net.loss(X, y), abs=1e-12)
    assert MLP(9, (15,), "he", 0).loss(X, y) != pytest.approx(line.initial_loss, abs=1e-6)


def test_the_range_test_trains_the_configs_activation():
    X, y = _data()
    tanh = L.lr_find(X, y, TrainConfig(activation="tanh"), steps=20)
    relu = L.lr_find(X, y, TrainConfig(), steps=20)
    assert tanh.losses[0] == pytest.approx(MLP(9, (15,), "he", 0, "tanh").loss(X, y), abs=1e-12)
    assert tanh.losses[0] != pytest.approx(relu.losses[0], abs=1e-6)
