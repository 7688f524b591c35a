"""The shipped model is exactly what the documented command produces from the bundled data."""

import numpy as np

from bcdesktop.cli import main
from bcdesktop.persistence import load_default_model, load_model
from bcdesktop.resources import bundled_data_path, default_model_path
from bcdesktop.training import TrainConfig

# the command documented in data/README.md and README.md
COMMAND = ["train", "--data", "data/breast-cancer-wisconsin.data", "--out", "data/default_model.npz"]


def test_default_model_was_trained_with_the_current_defaults():
    shipped = load_default_model()
    assert default_model_path().name == "default_model.npz"
    for key, value in TrainConfig().to_dict().items():
        stored = shipped.settings[key]
        assert (list(stored) if isinstance(stored, (list, tuple)) else stored) == \
            (list(value) if isinstance(value, (list, tuple)) else value), key
    assert shipped.settings["split"] == "stratified"
    assert shipped.threshold == 0.5
    assert shipped.eval_kind == "validation" and len(shipped.eval_probs) == 137


def test_retraining_with_the_documented_command_reproduces_it_exactly(tmp_path, capsys):
    out = tmp_path / "retrained.npz"
    argv = list(COMMAND)
    argv[argv.index("--data") + 1] = str(bundled_data_path())
    argv[argv.index("--out") + 1] = str(out)
    assert main(argv) == 0, capsys.readouterr().err
    shipped, retrained = load_default_model(), load_model(out)
    assert shipped.model_id == retrained.model_id
    for a, b in zip(shipped.network.params, retrained.network.params, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(shipped.scaler.data_min, retrained.scaler.data_min)
    np.testing.assert_array_equal(shipped.scaler.data_max, retrained.scaler.data_max)
    np.testing.assert_array_equal(shipped.eval_probs, retrained.eval_probs)
    np.testing.assert_array_equal(shipped.eval_labels, retrained.eval_labels)
    assert shipped.threshold == retrained.threshold
    assert shipped.settings == retrained.settings
    assert shipped.metrics == retrained.metrics
    assert shipped.data_sha256 == retrained.data_sha256 == \
        "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64"
