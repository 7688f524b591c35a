"""Model file format 2: the out-of-fold evidence, the training patterns and the
recalibration travel in the file; a model without them is written as format 1,
byte for byte as before, and older files still load."""

import numpy as np
import pytest

from bcdesktop import persistence
from bcdesktop.errors import UserError
from bcdesktop.model import MLP, Scaler
from bcdesktop.outoffold import OutOfFold
from bcdesktop.persistence import ModelBundle, load_model, save_model


def _oof(n=60, repeats=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.35).astype(np.int8)
    probs = np.clip(labels * 0.7 + rng.random((repeats, n)) * 0.3, 0, 1)
    scores = rng.integers(1, 11, size=(n, 9))
    return OutOfFold(probs, labels, scores, folds=5, repeats=repeats, seed=seed,
                     grouped=True, figures={"accuracy": {"mean": 0.9, "sd": 0.02}})


@pytest.fixture
def plain():
    return ModelBundle(network=MLP(9, (15,), init="he", seed=3),
                       scaler=Scaler(np.ones(9), np.full(9, 10.0)), threshold=0.4,
                       created_utc="2026-12-02T00:00:00Z")


def test_a_model_without_the_new_parts_is_format_1(plain, tmp_path):
    assert plain.format_version == 1
    path = save_model(plain, tmp_path / "m.npz")
    arrays, meta = persistence._read(path)
    assert meta["format_version"] == 1
    assert "oof" not in meta and "recalibration" not in meta
    assert not any(name.startswith(("oof_", "train_", "recal_")) for name in arrays)
    loaded = load_model(path)
    assert loaded.oof is None and loaded.patterns is None and loaded.recalibration is None


def test_out_of_fold_evidence_round_trips(plain, tmp_path):
    oof = _oof()
    bundle = plain.with_parts(oof=oof)
    assert bundle.format_version == 2
    assert bundle.model_id != plain.model_id
    loaded = load_model(save_model(bundle, tmp_path / "m.npz"))
    assert loaded.model_id == bundle.model_id
    got = loaded.oof
    np.testing.assert_array_equal(got.probs, oof.probs)
    np.testing.assert_array_equal(got.labels, oof.labels)
    np.testing.assert_array_equal(got.scores, oof.scores)
    assert (got.folds, got.repeats, got.seed, got.grouped) == (5, 3, 0, True)
    assert got.figures == oof.figures
    mean, labels = got.pairs()
    np.testing.assert_allclose(mean, oof.probs.mean(axis=0), rtol=0, atol=1e-15)
    p, y = got.pooled()
    assert p.shape == y.shape == (3 * 60,)
    assert "60 rows x 3 repeats" in got.describe()


def test_the_stored_arrays_cannot_be_changed_in_place():
    oof = _oof()
    with pytest.raises(ValueError):
        oof.probs[0, 0] = 0.5


@pytest.mark.parametrize("edit, fragment", [
    (lambda a, m: a.update(oof_probs=a["oof_probs"][:, :-1]), "labels do not match"),
    (lambda a, m: a.update(oof_probs=a["oof_probs"] * 2), "outside 0..1"),
    (lambda a, m: a.update(oof_labels=a["oof_labels"] + 3), "other than 0 and 1"),
    (lambda a, m: a.update(oof_scores=a["oof_scores"] * 0), "whole numbers 1 to 10"),
    (lambda a, m: a.update(oof_probs=a["oof_probs"].astype(np.float32)), "float32"),
    (lambda a, m: a.pop("oof_scores"), "oof_scores is missing"),
    (lambda a, m: m["oof"].update(repeats=7), "repeats"),
    (lambda a, m: m["oof"].update(folds="ten"), "folds is not a whole number"),
    (lambda a, m: m.update(oof=[1, 2]), "not an object"),
])
def test_bad_out_of_fold_parts_are_one_plain_message(plain, tmp_path, edit, fragment):
    path = save_model(plain.with_parts(oof=_oof()), tmp_path / "m.npz")
    arrays, meta = persistence._read(path)
    edit(arrays, meta)
    meta["checksum"] = persistence._checksum(arrays, meta)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(persistence._encode(arrays, meta))
    with pytest.raises(UserError) as info:
        load_model(bad)
    text = str(info.value)
    assert fragment in text and "\n" not in text and "Traceback" not in text


def test_format_2_arrays_in_a_format_1_file_are_refused(plain, tmp_path):
    path = save_model(plain.with_parts(oof=_oof()), tmp_path / "m.npz")
    arrays, meta = persistence._read(path)
    meta["format_version"] = 1
    meta.pop("oof")
    meta["checksum"] = persistence._checksum(arrays, meta)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(persistence._encode(arrays, meta))
    with pytest.raises(UserError, match="unexpected array"):
        load_model(bad)


def test_shipped_model_of_format_1_days_still_loads(tmp_path):
    """A format-1 file as bcdesktop 0.1.0 wrote it (its bytes kept in tests/data)."""
    from pathlib import Path

    old = Path(__file__).parent / "data" / "model_format1.npz"
    bundle = load_model(old)
    assert bundle.oof is None and bundle.patterns is None and bundle.recalibration is None
    p = bundle.predict_proba(np.full(9, 5.0))
    assert p.shape == (1,) and 0.0 <= p[0] <= 1.0


def test_out_of_fold_evidence_is_bounded():
    from bcdesktop import outoffold

    n = outoffold.MAX_ROWS + 1
    with pytest.raises(ValueError, match="more than the 100,000"):
        OutOfFold(np.zeros((1, n)), np.zeros(n, dtype=np.int8), np.ones((n, 9), dtype=np.int8),
                  folds=10, repeats=1, seed=0)
