"""Model files: round trip, atomic saves, and a clear UserError for every kind of bad file."""

import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bcdesktop import persistence
from bcdesktop.errors import UserError
from bcdesktop.model import MLP, Scaler
from bcdesktop.persistence import ModelBundle, load_model, save_model
from bcdesktop.schema import FEATURES


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


@pytest.fixture
def np_load_calls(monkeypatch):
    """Replace np.load by a trap that records its calls: a test asserting the list is
    empty proves a file was refused before NumPy parsed the archive (rather than by
    timing the refusal)."""
    calls = []

    def trap(*args, **kwargs):
        calls.append(args)
        raise AssertionError("np.load was called")

    monkeypatch.setattr(np, "load", trap)
    return calls


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


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
    # The id is the hash of the model file, and the threshold is saved in the file, so
    # another threshold is another id (it used to hash the weights and scaler only, and
    # an edited threshold went unseen). The network itself is the same.
    assert other.model_id != bundle.model_id
    assert other.network_id == bundle.network_id
    assert bundle.with_threshold(0.42).model_id == bundle.model_id  # same content, same id
    assert other.model_id in repr(other) and "0.2" in repr(other)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            bundle.with_threshold(bad)
    retrained = ModelBundle(MLP(9, (15,), init="he", seed=4), bundle.scaler)
    assert retrained.model_id != bundle.model_id
    rescaled = ModelBundle(bundle.network, Scaler(np.zeros(9), np.full(9, 10.0)))
    assert rescaled.model_id != bundle.model_id


def _sha10(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def test_model_id_is_the_hash_of_the_file_and_saving_is_deterministic(bundle, tmp_path, monkeypatch):
    # np.savez-style writers stamp members with the clock; two saves at different
    # times must still give the same bytes, whose hash starts with the id
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    save_model(bundle, first)
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    save_model(bundle, second)
    monkeypatch.undo()
    assert first.read_bytes() == second.read_bytes()
    assert _sha10(first) == bundle.model_id == load_model(first).model_id
    with zipfile.ZipFile(first) as zf:  # the members carry the bundle's creation time
        *date, second = (int(x) for x in bundle.created_utc[:19].replace("T", "-")
                         .replace(":", "-").split("-"))
        date = (*date, second - second % 2)  # zip times count seconds in twos
        assert {info.date_time for info in zf.infolist()} == {date}


def test_odd_creation_times_still_save_deterministically(tmp_path):
    net, scaler = MLP(9, (3,), seed=0), Scaler(np.ones(9), np.full(9, 10.0))
    for created in ("1970-01-01T00:00:00Z", "sometime", "2200-01-01T00:00:00Z"):
        b = ModelBundle(net, scaler, created_utc=created)
        save_model(b, tmp_path / "m.npz")
        assert _sha10(tmp_path / "m.npz") == b.model_id
        loaded = load_model(tmp_path / "m.npz")
        assert loaded.model_id == b.model_id and loaded.created_utc == created
        with zipfile.ZipFile(tmp_path / "m.npz") as zf:
            assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_an_edited_file_with_a_recomputed_checksum_shows_a_new_id(bundle, saved, tmp_path):
    # found by review: the checksum is an unkeyed SHA-256, so a forged file loads; what
    # the user can see is that its id is not the id of the model they were given
    edits = {"threshold": lambda a, m: m.update(threshold=0.01),
             "weights": lambda a, m: a.update(W2=a["W2"] * 1.01),
             "metrics": lambda a, m: m["metrics"]["validation"].update(accuracy=1.0)}
    ids = {load_model(saved).model_id}
    for name, edit in edits.items():
        forged = load_model(_rewrite(saved, tmp_path / f"{name}.npz", edit))
        assert forged.model_id == _sha10(tmp_path / f"{name}.npz")
        ids.add(forged.model_id)
    assert len(ids) == 1 + len(edits)
    assert bundle.model_id == load_model(saved).model_id


def test_a_file_written_by_np_savez_still_loads_with_the_hash_of_its_bytes(bundle, saved, tmp_path):
    arrays, meta = persistence._read(saved)
    old = tmp_path / "old.npz"
    np.savez(old, metadata=np.frombuffer(json.dumps(meta, sort_keys=True, indent=1).encode(),
                                         np.uint8), **arrays)
    assert old.read_bytes() != saved.read_bytes()
    loaded = load_model(old)
    assert loaded.model_id == _sha10(old) != bundle.model_id
    assert np.array_equal(loaded.predict_proba(_rows()), bundle.predict_proba(_rows()))
    assert loaded.network_id == bundle.network_id
    default = persistence.load_default_model()  # the shipped model, whatever wrote it
    from bcdesktop.resources import default_model_path
    assert default.model_id == _sha10(default_model_path())


def test_source_path_is_the_file_read_and_no_part_of_the_file(bundle, saved, tmp_path):
    assert bundle.source_path is None
    loaded = load_model(saved)
    assert loaded.source_path == saved
    assert loaded.with_threshold(0.3).source_path is None  # a new model, not that file
    assert loaded.with_threshold(0.42).model_id == loaded.model_id
    copy = tmp_path / "copy.npz"
    save_model(loaded, copy)
    assert copy.read_bytes() == saved.read_bytes()  # the path is not written
    assert load_model(copy).source_path == copy and load_model(copy).model_id == loaded.model_id
    assert "source_path" not in repr(loaded)


def test_model_id_is_computed_once(bundle, monkeypatch):
    calls = []
    encode = persistence._encode
    monkeypatch.setattr(persistence, "_encode", lambda *a: calls.append(1) or encode(*a))
    assert bundle.model_id == bundle.model_id and repr(bundle).count(bundle.model_id) == 1
    assert len(calls) == 1


def test_repr_of_a_bundle_that_cannot_be_saved_does_not_fail(bundle):
    bad = ModelBundle(bundle.network, bundle.scaler, metrics={"x": object()})
    assert "unsaveable" in repr(bad)
    with pytest.raises(TypeError):
        _ = bad.model_id


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
    message = _expect_error(path, "damaged", "checksum")
    # the checksum catches accidental damage; it cannot tell a deliberate change, so the
    # message must not claim to (it said "damaged or changed after saving")
    assert "changed" not in message


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
    # "not written by bcdesktop", not "changed by hand": a checksum anyone can recompute
    # proves nothing about who changed a file
    _expect_error(path, "damaged or was not written by bcdesktop", fragment)


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


def test_zip_bomb_is_refused_before_unpacking(tmp_path, np_load_calls):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W1.npy", b"\0" * (persistence.MAX_MODEL_BYTES + 1))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserError, match="unpack"):
        load_model(path)
    assert np_load_calls == []  # refused by the sizes in the zip's directory


# ---------------------------------------------------------------- the zip's directory
def _many_members_zip(n: int, size64: int | None = None) -> bytes:
    """A valid zip64 archive of ``n`` empty members, built with struct because
    zipfile takes ~8 s to write 350,000 members (this takes ~0.5 s). With ``size64``
    each directory entry claims that unpacked size in a zip64 extra field."""
    size, extra = (0, b"") if size64 is None else (0xFFFFFFFF, struct.pack("<2HQ", 1, 8, size64))
    local = struct.Struct("<4s5H3L2H")
    central = struct.Struct("<4s6H3L5H2L")
    headers, entries, offset = [], [], 0
    for i in range(n):
        name = b"a%06d.npy" % i
        header = local.pack(b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
        entries.append(central.pack(b"PK\x01\x02", 45, 45, 0, 0, 0, 0x21, 0, 0, size,
                                    len(name), len(extra), 0, 0, 0, 0, offset) + name + extra)
        headers.append(header)
        offset += len(header)
    directory = b"".join(entries)
    end64_at = offset + len(directory)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(directory), offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end64_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return b"".join(headers) + directory + end64 + locator + end


def test_archive_of_350000_tiny_members_is_refused_from_its_directory(tmp_path, np_load_calls):
    # found by review: a 57 MB file of 350,000 tiny arrays was refused only after
    # 49-110 s (np.load parsed every entry), with the window frozen
    path = tmp_path / "many.npz"
    data = _many_members_zip(350_000)
    assert len(data) < persistence.MAX_MODEL_BYTES  # so the size check does not catch it
    path.write_bytes(data)
    _expect_error(path, "not a bcdesktop model", "350,000 members", f"at most {persistence.MAX_MODEL_MEMBERS}")
    assert np_load_calls == []


def test_sizes_in_zip64_extra_fields_are_read(tmp_path, np_load_calls):
    path = tmp_path / "big.npz"
    path.write_bytes(_many_members_zip(1, size64=5 * 2**30))
    _expect_error(path, "unpack to 5369 MB")
    path.write_bytes(_many_members_zip(1, size64=10))  # small: on to the next check
    _expect_error(path, "no metadata")
    assert np_load_calls == []


def test_one_member_over_the_limit_is_refused_even_with_our_names(bundle, tmp_path, np_load_calls):
    arrays, meta = bundle._arrays(), bundle._metadata()
    members = {"metadata": np.frombuffer(json.dumps(meta).encode(), np.uint8),
               "scaler_min": arrays["scaler_min"], "scaler_max": arrays["scaler_max"],
               **{name: np.zeros(1) for name in persistence._EXTRA_MEMBERS}}
    for k in range(1, 31):  # 11 + 60 = 71 members, every name one a model could have
        members[f"W{k}"], members[f"b{k}"] = np.zeros((1, 1)), np.zeros(1)
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, a in members.items():
            zf.writestr(f"{name}.npy", _npy(a))
    assert len(members) == persistence.MAX_MODEL_MEMBERS + 1
    _expect_error(path, "71 members", f"at most {persistence.MAX_MODEL_MEMBERS}")
    assert np_load_calls == []


def test_a_directory_that_understates_its_count_is_refused(tmp_path, np_load_calls):
    # zipfile walks the directory by its size in bytes, not by the count: a count of 3
    # over 1000 entries must not let the entries through
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(1000):
            zf.writestr(f"W{i % 90 + 1}_{i}.npy", b"")
    data = bytearray(buf.getvalue())
    data[-12:-8] = struct.pack("<2H", 3, 3)  # the EOCD's two member counts
    path = tmp_path / "lying.npz"
    path.write_bytes(bytes(data))
    _expect_error(path, "damaged or truncated", "directory")
    assert np_load_calls == []


@pytest.mark.parametrize("names, fragment", [
    (["metadata.npy", "W1.npy", "evil.npy"], "unexpected array evil"),
    (["metadata.npy", "../W1.npy"], "unexpected array ../W1"),
    (["metadata.npy", "W1.npy\nsecond line"], "not NumPy arrays"),
    (["metadata.npy", "W1\n.npy"], "unexpected array W1\\n"),
    (["metadata.npy", "W" + "1" * 5000 + ".npy"], "unexpected array W1111"),
    (["metadata.npy", "W1.npy", "W1.npy"], "two members named W1.npy"),
    (["W1.npy", "b1.npy"], "no metadata"),
])
def test_members_a_model_never_holds_are_refused_before_np_load(tmp_path, np_load_calls,
                                                                names, fragment):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        for name in names:
            zf.writestr(name, _npy(np.zeros(2)))
    message = _expect_error(path, fragment)
    assert len(message) < 300
    assert np_load_calls == []


def test_model_files_pass_the_directory_check(saved, tmp_path):
    members = persistence._zip_members(saved.read_bytes(), saved)
    assert set(members) == {"metadata.npy", "W1.npy", "b1.npy", "W2.npy", "b2.npy",
                            "scaler_min.npy", "scaler_max.npy", "eval_probs.npy", "eval_labels.npy"}
    with zipfile.ZipFile(saved) as zf:
        assert members == {i.filename: i.file_size for i in zf.infolist()}
    # an archive with a comment still has its directory found, as zipfile finds it
    data = bytearray(saved.read_bytes())
    data[-2:] = struct.pack("<H", 5)
    path = tmp_path / "comment.npz"
    path.write_bytes(bytes(data) + b"hello")
    assert load_model(path).network_id == load_model(saved).network_id


def test_limits_say_what_the_loader_accepts():
    assert persistence.MAX_PARAMETERS == persistence.max_parameters() == 7_864_320
    assert 8 * persistence.MAX_PARAMETERS < persistence.MAX_MODEL_BYTES
    assert persistence.n_parameters((15,)) == 166 and persistence.n_parameters((6, 4)) == 93
    assert persistence.n_parameters((800_000,)) > persistence.MAX_PARAMETERS
    # a network with MAX_HIDDEN_LAYERS hidden layers fills at most MAX_MODEL_MEMBERS members
    fixed = 3 + len(persistence._EXTRA_MEMBERS)  # metadata, the scaler, every optional part
    assert fixed + 2 * (persistence.MAX_HIDDEN_LAYERS + 1) <= persistence.MAX_MODEL_MEMBERS
    assert fixed + 2 * (persistence.MAX_HIDDEN_LAYERS + 2) > persistence.MAX_MODEL_MEMBERS


def test_hidden_800000_is_refused_before_anything_is_written(tmp_path):
    # found by review: `train --hidden 800000` wrote a 70 MB model that predict refused
    big = ModelBundle(MLP(9, (800_000,), init="xavier", seed=0), Scaler(np.ones(9), np.full(9, 10.0)))
    path = tmp_path / "big.npz"
    with pytest.raises(UserError, match="at most 7,864,320") as info:
        save_model(big, path)
    assert "\n" not in str(info.value) and "fewer hidden units" in str(info.value)
    assert not list(tmp_path.iterdir())


def test_too_many_layers_for_a_model_file(tmp_path):
    scaler = Scaler(np.ones(9), np.full(9, 10.0))
    deepest = ModelBundle(MLP(9, (2,) * persistence.MAX_HIDDEN_LAYERS, seed=0), scaler,
                          eval_probs=[0.5], eval_labels=[1], eval_kind="validation")
    save_model(deepest, tmp_path / "ok.npz")  # every member a model can have: it loads
    assert load_model(tmp_path / "ok.npz").network.hidden == (2,) * persistence.MAX_HIDDEN_LAYERS
    deeper = ModelBundle(MLP(9, (2,) * (persistence.MAX_HIDDEN_LAYERS + 1), seed=0), scaler)
    with pytest.raises(UserError, match="at most 28"):
        save_model(deeper, tmp_path / "deep.npz")
    assert sorted(os.listdir(tmp_path)) == ["ok.npz"]


def test_whatever_save_writes_load_reads(tmp_path, monkeypatch):
    # with a small limit, networks just under and over it: save refuses (writing
    # nothing), or the file it wrote loads; never a file the loader refuses
    monkeypatch.setattr(persistence, "MAX_MODEL_BYTES", 40_000)
    scaler = Scaler(np.ones(9), np.full(9, 10.0))
    outcomes = set()
    for hidden, n_eval in [(h, 40) for h in range(380, 440, 4)] + [(100, 3000), (100, 3500)]:
        rng = np.random.default_rng(hidden)
        b = ModelBundle(MLP(9, (hidden,), seed=0), scaler, eval_probs=rng.random(n_eval),
                        eval_labels=rng.integers(0, 2, n_eval), eval_kind="validation")
        path = tmp_path / f"m{hidden}-{n_eval}.npz"
        try:
            save_model(b, path)
        except UserError as exc:
            assert not path.exists() and "\n" not in str(exc)
            outcomes.add("refused")
        else:
            assert load_model(path).model_id == b.model_id
            outcomes.add("saved")
    assert outcomes == {"refused", "saved"}


def test_save_refuses_contents_the_loader_would_refuse(bundle, tmp_path):
    bad = ModelBundle(bundle.network, bundle.scaler, eval_probs=[0.2, 1.5], eval_labels=[0, 1],
                      eval_kind="validation")  # a bundle accepts it; the loader does not
    with pytest.raises(UserError, match="outside 0..1") as info:
        save_model(bad, tmp_path / "m.npz")
    assert "nothing was written" in str(info.value)
    assert not list(tmp_path.iterdir())


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


def _overflowing(arrays, meta):
    """Finite weights whose products overflow: +-1.7e308 in alternate columns of W1."""
    W1 = arrays["W1"].copy()
    W1[:, ::2], W1[:, 1::2] = 1.7e308, -1.7e308
    arrays["W1"] = W1


def test_a_network_that_gives_nan_is_refused_at_load(saved, tmp_path):
    # found by review: such a file loaded, and predict called its NaN "benign"
    path = _rewrite(saved, tmp_path / "m.npz", _overflowing)
    _expect_error(path, "damaged or was not written by bcdesktop", "gives no probability")


def test_a_bundle_whose_network_gives_nan_never_calls_a_case(bundle):
    import dataclasses

    from bcdesktop.model import MLP

    params = [p.copy() for p in bundle.network.params]
    params[0][:, ::2], params[0][:, 1::2] = 1.7e308, -1.7e308
    broken = dataclasses.replace(bundle, network=MLP.from_params(params))
    with pytest.raises(UserError, match="gives no probability"):
        broken.predict_proba(_rows(3))
    with pytest.raises(UserError, match="gives no probability"):
        broken.predict(_rows(1))
