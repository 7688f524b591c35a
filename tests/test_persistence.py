"""Model files: round trip, atomic saves, and a clear UserError for every kind of bad file."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bcdesktop import persistence
from bcdesktop.data import FEATURES
from bcdesktop.errors import UserError
from bcdesktop.model import MLP, Scaler
from bcdesktop.persistence import ModelBundle, load_model, save_model


@pytest.fixture
def bundle():
    rng = np.random.default_rng(7)
    net = MLP(9, (15,), init="he", seed=3)
    probs = rng.random(40)
    return ModelBundle(
        network=net, scaler=Scaler(np.ones(9), np.full(9, 10.0)), threshold=0.42,
        settings={"optimizer": "adam", "lr": 0.01, "hidden": [15], "split": "stratified"},
        seed=3, metrics={"validation": {"accuracy": 0.97, "ppv": float("nan")}},
        data_sha256="ab" * 32, eval_probs=probs, eval_labels=(probs > 0.5).astype(np.int8),
        eval_kind="validation")


@pytest.fixture
def saved(bundle, tmp_path):
    path = tmp_path / "model.npz"
    save_model(bundle, path)
    return path


def _rows(n=50, seed=1):
    return np.random.default_rng(seed).integers(1, 11, size=(n, 9)).astype(np.float64)


def _rewrite(src, dst, edit, fix_checksum=True):
    """Copy a model file with ``edit(arrays, meta)`` applied, as a writer bug or a
    deliberate forgery would, with the checksum recomputed unless told otherwise."""
    arrays, meta = persistence._read(src)
    edit(arrays, meta)
    if fix_checksum:
        meta["checksum"] = persistence._checksum(arrays, meta)
    dst.write_bytes(persistence._encode(arrays, meta))
    return dst


def _expect_error(path, *fragments):
    with pytest.raises(UserError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- round trip
def test_round_trip_predicts_bit_identically(bundle, saved):
    loaded = load_model(saved)
    X = _rows()
    assert np.array_equal(loaded.predict_proba(X), bundle.predict_proba(X))
    assert np.array_equal(loaded.predict(X), bundle.predict(X))
    assert loaded.model_id == bundle.model_id and len(bundle.model_id) == 10
    assert loaded.threshold == 0.42 and loaded.seed == 3
    assert loaded.features == FEATURES
    assert loaded.settings == bundle.settings
    assert loaded.metrics == {"validation": {"accuracy": 0.97, "ppv": None}}  # NaN stored as null
    assert loaded.data_sha256 == "ab" * 32 and loaded.created_utc == bundle.created_utc
    assert loaded.created_utc.endswith("Z") and "T" in loaded.created_utc
    assert np.array_equal(loaded.eval_probs, bundle.eval_probs)
    assert np.array_equal(loaded.eval_labels, bundle.eval_labels) and loaded.eval_kind == "validation"
    for a, b in zip(loaded.network.params, bundle.network.params):
        assert np.array_equal(a, b)


def test_round_trip_without_evaluation_and_with_two_hidden_layers(tmp_path):
    b = ModelBundle(MLP(9, (6, 4), init="xavier", seed=1), Scaler(np.ones(9), np.full(9, 10.0)))
    save_model(b, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.eval_probs is None and loaded.eval_kind is None
    assert loaded.network.layer_sizes == (9, 6, 4, 1)
    assert np.array_equal(loaded.predict_proba(_rows()), b.predict_proba(_rows()))


def test_predict_uses_the_threshold_and_scaler(bundle):
    X = _rows()
    p = bundle.predict_proba(X)
    assert p.shape == (50,)
    assert np.array_equal(bundle.predict(X), (p >= 0.42).astype(np.int8))
    assert np.array_equal(bundle.predict(X, threshold=0.9), (p >= 0.9).astype(np.int8))
    # one row given as a vector; raw scores are scaled before the network
    assert bundle.predict_proba(X[0]) == pytest.approx(p[:1])
    assert np.array_equal(p, bundle.network.predict_proba((X - 1) / 9))
    with pytest.raises(ValueError):
        bundle.predict_proba(np.ones((2, 8)))


def test_with_threshold_and_id(bundle):
    other = bundle.with_threshold(0.2)
    assert other.threshold == 0.2 and bundle.threshold == 0.42
    assert other.model_id == bundle.model_id
    assert other.model_id in repr(other) and "0.2" in repr(other)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            bundle.with_threshold(bad)
    retrained = ModelBundle(MLP(9, (15,), init="he", seed=4), bundle.scaler)
    assert retrained.model_id != bundle.model_id
    rescaled = ModelBundle(bundle.network, Scaler(np.zeros(9), np.full(9, 10.0)))
    assert rescaled.model_id != bundle.model_id


# ---------------------------------------------------------------- atomic saving
def test_save_leaves_no_temporary_files_and_replaces_an_old_model(bundle, tmp_path):
    path = tmp_path / "model.npz"
    save_model(bundle, path)
    save_model(bundle.with_threshold(0.3), path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    assert load_model(path).threshold == 0.3


def test_failed_save_keeps_the_old_file(bundle, saved, monkeypatch):
    before = saved.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UserError, match="No space left"):
        save_model(bundle.with_threshold(0.3), saved)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model.npz"]
    assert load_model(saved).threshold == 0.42


def test_unserialisable_metadata_fails_before_touching_the_file(bundle, saved):
    before = saved.read_bytes()
    bad = ModelBundle(bundle.network, bundle.scaler, metrics={"x": object()})
    with pytest.raises(TypeError):
        save_model(bad, saved)
    assert saved.read_bytes() == before


def test_save_into_a_missing_folder_is_a_user_error(bundle, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        save_model(bundle, tmp_path / "nope" / "m.npz")
    with pytest.raises(UserError, match="folder"):
        save_model(bundle, tmp_path)


# ---------------------------------------------------------------- bad files
def test_missing_file_and_folder(tmp_path):
    _expect_error(tmp_path / "absent.npz", "does not exist")
    _expect_error(tmp_path, "folder")


def test_pipes_devices_and_link_loops_are_refused_without_reading(tmp_path):
    # a FIFO used to block forever in open(), /dev/zero to be read without end, and a
    # symbolic-link loop was reported as a missing file
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    _expect_error(fifo, "named pipe")
    _expect_error("/dev/zero", "device")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    _expect_error(tmp_path / "a", "leads back to itself")


def test_hand_made_archives_with_odd_members_or_metadata(tmp_path):
    # found by hand: a zip member without .npy came back as bytes (AttributeError), and
    # deeply nested JSON metadata raised RecursionError; both are now the usual UserError
    def npy(a):
        buf = io.BytesIO()
        np.save(buf, a)
        return buf.getvalue()

    def archive(name, members):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            for member, content in members.items():
                z.writestr(member, content)
        return path

    _expect_error(archive("raw.npz", {"metadata": b"{}", "W1.npy": npy(np.zeros(3))}),
                  "not NumPy arrays")
    deep = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8)
    _expect_error(archive("deep.npz", {"metadata.npy": npy(deep)}), "not readable JSON")


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_empty_npz_archive(tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path)
    _expect_error(path, "not a bcdesktop model")


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 40):
        saved.write_bytes(data[:cut])
        _expect_error(saved, "damaged or truncated")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    _expect_error(path, "not a bcdesktop model")


def test_random_bytes_after_a_zip_signature(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(5000))
    _expect_error(path, "damaged or truncated")


def test_flipped_byte_inside_the_archive(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("W1.npy")
    data[info.header_offset + 30 + len("W1.npy") + 200] ^= 0xFF  # inside W1's bytes
    saved.write_bytes(bytes(data))
    _expect_error(saved, "damaged")


def test_csv_renamed_npz(tmp_path):
    path = tmp_path / "patients.npz"
    path.write_text("1000025,5,1,1,1,2,1,3,1,1,2\n1002945,5,4,4,5,7,10,3,2,1,2\n")
    _expect_error(path, "not a bcdesktop model", "not an .npz archive")


def test_plain_npy_file(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.arange(10.0))
    _expect_error(path, "not a bcdesktop model")


class _Trap:
    """Unpickling this creates a file: proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_renamed_npz_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"W1": _Trap(marker)}))
    _expect_error(path, "not a bcdesktop model")
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # control: the trap is real when unpickled
    assert marker.exists()


def test_npz_with_a_pickled_object_array_is_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pwned"
    arrays, meta = persistence._read(saved)
    arrays["W1"] = np.array([_Trap(marker)], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, metadata=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    _expect_error(path, "pickled")
    assert not marker.exists()
    np.load(path, allow_pickle=True)["W1"]  # control: a careless loader would run it
    assert marker.exists()


def test_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones((3, 3)), bias=np.zeros(3))
    _expect_error(path, "not a bcdesktop model")


def test_metadata_that_is_not_json(saved, tmp_path):
    arrays, _ = persistence._read(saved)
    path = tmp_path / "m.npz"
    np.savez(path, metadata=np.frombuffer(b"\xff\xfe not json", np.uint8), **arrays)
    _expect_error(path, "not a bcdesktop model")


def test_wrong_format_name(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "m.npz", lambda a, m: m.update(format="someone-else"))
    _expect_error(path, "not a bcdesktop model")


def test_newer_format_version(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "m.npz",
                    lambda a, m: m.update(format_version=persistence.FORMAT_VERSION + 1))
    _expect_error(path, "newer bcdesktop", "Update bcdesktop")


def test_tampered_weights_fail_the_checksum(saved, tmp_path):
    def edit(arrays, meta):
        arrays["W2"] = arrays["W2"] * 1.01

    path = _rewrite(saved, tmp_path / "m.npz", edit, fix_checksum=False)
    _expect_error(path, "checksum")


def test_tampered_threshold_fails_the_checksum(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "m.npz", lambda a, m: m.update(threshold=0.01),
                    fix_checksum=False)
    _expect_error(path, "checksum")


@pytest.mark.parametrize("edit, fragment", [
    (lambda a, m: a.pop("b2"), "array b2 is missing"),
    (lambda a, m: a.update(W1=np.zeros((14, 9))), "array W1 has shape (14, 9)"),
    (lambda a, m: a.update(W1=a["W1"].astype(np.float32)), "float32"),
    (lambda a, m: a["W1"].__setitem__((0, 0), np.nan), "not finite"),
    (lambda a, m: a["scaler_max"].__setitem__(2, np.inf), "not finite"),
    (lambda a, m: a.update(extra=np.ones(3)), "unexpected array extra"),
    (lambda a, m: m.update(hidden=[16]), "shape"),
    (lambda a, m: m.update(threshold=1.0), "threshold"),
    (lambda a, m: m.update(threshold="0.5"), "threshold"),
    (lambda a, m: m.update(eval_kind="training"), "evaluation kind"),
    (lambda a, m: a.update(eval_probs=a["eval_probs"] + 2), "outside 0..1"),
    (lambda a, m: a.update(eval_labels=a["eval_labels"][:-1]), "eval_labels"),
    (lambda a, m: m.pop("settings"), "settings"),
])
def test_content_checks_behind_a_valid_checksum(saved, tmp_path, edit, fragment):
    path = _rewrite(saved, tmp_path / "m.npz", edit)
    _expect_error(path, "damaged or was changed", fragment)


def test_feature_names_changed(saved, tmp_path):
    def edit(arrays, meta):
        meta["features"] = meta["features"][::-1]

    path = _rewrite(saved, tmp_path / "m.npz", edit)
    _expect_error(path, "not the nine Wisconsin scores")


# ---------------------------------------------------------------- default model, start-up cost
def test_missing_default_model_says_how_to_make_it(tmp_path, monkeypatch):
    import bcdesktop.resources

    monkeypatch.setattr(bcdesktop.resources, "default_model_path", lambda: tmp_path / "none.npz")
    with pytest.raises(UserError, match="bcdesktop train --data"):
        persistence.load_default_model()


def test_default_model_loads_through_resources(saved, monkeypatch):
    import bcdesktop.resources

    monkeypatch.setattr(bcdesktop.resources, "default_model_path", lambda: saved)
    assert persistence.load_default_model().model_id == load_model(saved).model_id


def test_loading_imports_neither_pandas_nor_sklearn(saved):
    code = ("import sys; from bcdesktop.persistence import load_model; "
            f"load_model({str(saved)!r}).predict_proba([[5] * 9]); "
            "print(sorted(m for m in ('pandas', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_oversized_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "MAX_MODEL_BYTES", 1000)
    path = tmp_path / "big.npz"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 5000)
    with pytest.raises(UserError, match="far too large"):
        load_model(path)


def test_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W1.npy", b"\0" * (persistence.MAX_MODEL_BYTES + 1))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserError, match="unpack"):
        load_model(path)


def test_check_model_path_is_what_save_checks(bundle, tmp_path):
    from bcdesktop.persistence import check_model_path

    check_model_path(tmp_path / "m.npz")  # a writable folder: no error
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    for path, words in ((tmp_path, "it is a folder"), (notes / "m.npz", "is not a folder"),
                        (tmp_path / "nope" / "m.npz", "does not exist")):
        with pytest.raises(UserError, match=words):
            check_model_path(path)
        with pytest.raises(UserError, match=words):
            save_model(bundle, path)
    assert not list(tmp_path.glob("*.npz*"))
