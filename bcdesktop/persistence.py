"""Model files: everything needed to predict, in one ``.npz`` without pickle.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays):

- ``W1``, ``b1``, ``W2``, ``b2``, ... the network, float64, ``W`` (n_out, n_in);
- ``scaler_min``, ``scaler_max`` (9,) float64, the min-max scaler;
- ``eval_probs`` (m,) float64 and ``eval_labels`` (m,) int8, the held-out
  probabilities and labels the model was judged on (absent when there are none);
- from format 2, each part only when the model has it: ``oof_probs`` (R, n),
  ``oof_labels`` (n,) and ``oof_scores`` (n, 9), the out-of-fold evidence of the
  cross-validation of the model's settings (:mod:`bcdesktop.outoffold`: the
  threshold's evidence and the interval's calibration pairs); ``train_patterns``
  (m, 9) int8 and ``train_counts`` (m, 2), the distinct score patterns of the training
  rows with their benign and malignant counts (:mod:`bcdesktop.patterns`: matching
  cases, explanation backgrounds); ``recal_params``, a recalibration
  (:mod:`bcdesktop.calibrate`) applied to every probability the model gives;
- ``metadata``, a uint8 array holding UTF-8 JSON: format name and version, feature
  names, hidden sizes, threshold, settings, seed, metrics, SHA-256 of the training
  data, app version, creation time, and a SHA-256 checksum over every array and
  the rest of the metadata.

A model with none of the format-2 parts is written as format 1, byte for byte as
bcdesktop 0.1.0 wrote it, so older bcdesktops still read it.

It is read with ``allow_pickle=False``, so a file can never run code when opened,
and written atomically. The archive is written by hand with fixed member dates, so
the same bundle always gives the same bytes, and :attr:`ModelBundle.model_id` is the
start of the SHA-256 of those bytes: any change to a file, however small, gives it a
new id.

:func:`load_model` reads the zip's own directory before NumPy touches any member and
refuses an archive with more members than a model has, members a model never holds,
or more bytes than :data:`MAX_MODEL_BYTES`. It checks everything else and raises one
:class:`~bcdesktop.errors.UserError` for a file that is missing, truncated, damaged,
from a newer bcdesktop, not a bcdesktop model at all, or whose contents make no sense.
The checksum catches accidental damage (a cut-short copy, flipped bits); it is not a
seal: anyone who edits a file can recompute it, so a file that loads is not thereby
a file bcdesktop wrote. Compare the model id with the one you were given to know
that you have the same file.

Only NumPy is imported here: ``bcdesktop predict`` and the window load models at
start-up.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import math
import os
import re
import struct
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .errors import UserError
from .model import HIDDEN_ACTIVATIONS, MLP, Scaler, n_parameters

__all__ = ["ModelBundle", "save_model", "load_model", "load_default_model",
           "FORMAT_NAME", "FORMAT_VERSION", "EVAL_KINDS", "MAX_MODEL_BYTES",
           "MAX_MODEL_MEMBERS", "MAX_HIDDEN_LAYERS", "MAX_PARAMETERS", "max_parameters",
           "n_parameters"]

FORMAT_NAME = "bcdesktop-model"
FORMAT_VERSION = 2
EVAL_KINDS = ("validation", "out-of-fold")
_FIX = "Choose a model file saved by bcdesktop, or train a new model."
# What load_model accepts, and therefore what save_model writes. A 9-15-1 network with
# its 137 validation rows is ~7 kB in 9 members.
MAX_MODEL_BYTES = 64 * 1024 * 1024  # the file, and the sum of its unpacked members
_EXTRA_MEMBERS = ("eval_probs", "eval_labels", "oof_probs", "oof_labels", "oof_scores",
                  "train_patterns", "train_counts", "recal_params")
MAX_MODEL_MEMBERS = 70              # metadata, scaler_min/max, the 8 above, W1..Wk, b1..bk
MAX_HIDDEN_LAYERS = (MAX_MODEL_MEMBERS - 3 - len(_EXTRA_MEMBERS)) // 2 - 1  # 28: k <= 29
_MEMBER_NAME = re.compile(r"(metadata|scaler_min|scaler_max|" + "|".join(_EXTRA_MEMBERS)
                          + r"|[Wb][1-9][0-9]?)")


def max_parameters() -> int:
    """The most weights and biases a model file can hold and still load: eight bytes
    each in :data:`MAX_MODEL_BYTES`, less a sixteenth kept for the array headers, the
    metadata and the held-out evaluation rows."""
    return (MAX_MODEL_BYTES - MAX_MODEL_BYTES // 16) // 8


MAX_PARAMETERS = max_parameters()  # 7,864,320


def _features() -> tuple[str, ...]:
    from .schema import FEATURES

    return tuple(FEATURES)


MAX_NOTE = 500  # characters of ModelBundle.threshold_chosen_by


def _is_note(text) -> bool:
    """One line of printable text of at most :data:`MAX_NOTE` characters."""
    return isinstance(text, str) and 0 < len(text) <= MAX_NOTE and text.isprintable()


def _is_provenance(value, depth: int = 0) -> bool:
    """A small JSON object of objects, short one-line texts, whole numbers and None."""
    if isinstance(value, dict):
        return (depth < 3 and len(value) <= 50
                and all(_is_note(k) and len(k) <= 100 and _is_provenance(v, depth + 1) for k, v in value.items()))
    if isinstance(value, str):
        return len(value) <= 300 and value.isprintable()
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def provenance_of(dataset=None) -> dict:
    """The :attr:`ModelBundle.provenance` of a model trained now on ``dataset``: this
    software's versions, and the data file's name and row counts (rejected rows by
    their first bad column, "whole row" for a row of the wrong shape)."""
    import platform

    out: dict = {"software": {"bcdesktop": __version__, "python": platform.python_version(),
                              "numpy": np.__version__, "platform": platform.platform(terse=True)[:300]}}
    if dataset is not None and getattr(dataset, "path", None) is not None:
        by_column: dict[str, int] = {}
        for r in getattr(dataset, "rejected", ()):
            key = r.column or "whole row"
            if key in by_column or len(by_column) < 40:
                by_column[key] = by_column.get(key, 0) + 1
        out["data"] = {"file": "".join(c for c in Path(dataset.path).name if c.isprintable())[:300] or "?",
                       "rows_read": int(dataset.n_read), "rows_used": int(dataset.n_usable),
                       "rows_rejected": int(dataset.n_rejected), "rejected_by_column": by_column}
    return out


def utc_now() -> str:
    """Current UTC time as ISO-8601 with a ``Z``, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(obj):
    """Plain JSON types: numpy scalars/arrays unwrapped, tuples to lists, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a model file's metadata")


@dataclasses.dataclass(frozen=True, eq=False)
class ModelBundle:
    """A trained network with everything needed to use and judge it.

    Attributes
    ----------
    network : MLP
    scaler : Scaler
        Fitted on the training rows; applied to raw 1..10 scores before the network.
    threshold : float
        Cases with probability >= threshold are called malignant; in (0, 1).
    features : tuple of str
        Names of the nine inputs, in order (``bcdesktop.schema.FEATURES``).
    settings : dict
        Training settings (``TrainConfig.to_dict()`` plus how the data were split).
    seed : int or None
    metrics : dict
        JSON-ready metrics (e.g. ``{"train": ..., "validation": ...}``).
    data_sha256 : str or None
        SHA-256 of the training data file's bytes.
    app_version : str
    created_utc : str
        ISO-8601 UTC, e.g. ``"2026-11-29T17:30:05Z"``.
    eval_probs : ndarray (m,) or None
        Probabilities on held-out rows, for choosing a threshold later.
    eval_labels : ndarray (m,) of int8 or None
    eval_kind : {"validation", "out-of-fold"} or None
    oof : outoffold.OutOfFold or None
        The out-of-fold evidence of the cross-validation of this model's settings over
        its training data (format 2; None for an older file or ``--no-calibrate``).
    patterns : patterns.TrainingPatterns or None
        The distinct score patterns of the training rows with their class counts.
    recalibration : calibrate.Recalibration or None
        Applied to the network's probability by :meth:`predict_proba`; None for none.
    threshold_chosen_by : str or None
        How :attr:`threshold` was chosen, in words (e.g. "the highest threshold with
        sensitivity >= 98% on the out-of-fold evidence"), for the patient report and the
        model card; None when nobody said (the threshold given at training).
    provenance : dict or None
        What the model was made with and from, for its model card: ``{"software":
        {"bcdesktop", "python", "numpy", "platform"}, "data": {"file", "rows_read",
        "rows_used", "rows_rejected", "rejected_by_column"}}`` (:func:`provenance_of`);
        None for a file made before it was recorded.
    source_path : Path or None
        The file :func:`load_model` read this bundle from; None for a bundle made in
        memory (just trained, or from :meth:`with_threshold`). Not part of the file
        or of :attr:`model_id`; set by :func:`load_model` only.
    """

    network: MLP
    scaler: Scaler
    threshold: float = 0.5
    features: tuple = ()
    settings: dict = dataclasses.field(default_factory=dict)
    seed: int | None = None
    metrics: dict = dataclasses.field(default_factory=dict)
    data_sha256: str | None = None
    app_version: str = __version__
    created_utc: str = dataclasses.field(default_factory=utc_now)
    eval_probs: np.ndarray | None = None
    eval_labels: np.ndarray | None = None
    eval_kind: str | None = None
    oof: object | None = None
    patterns: object | None = None
    recalibration: object | None = None
    threshold_chosen_by: str | None = None
    provenance: dict | None = None
    source_path: Path | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "features", tuple(self.features) or _features())
        set_(self, "threshold", float(self.threshold))
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if self.threshold_chosen_by is not None and not _is_note(self.threshold_chosen_by):
            raise ValueError(f"threshold_chosen_by must be one line of at most {MAX_NOTE} printable "
                             "characters")
        if self.network.n_inputs != len(self.features) or self.scaler.n_features != len(self.features):
            raise ValueError("network, scaler and feature names disagree on the number of inputs")
        if (self.eval_probs is None) != (self.eval_labels is None):
            raise ValueError("give both eval_probs and eval_labels, or neither")
        if self.eval_probs is not None:
            probs = np.asarray(self.eval_probs, dtype=np.float64).reshape(-1)
            labels = np.asarray(self.eval_labels).reshape(-1).astype(np.int8)
            if probs.shape != labels.shape:
                raise ValueError("eval_probs and eval_labels differ in length")
            set_(self, "eval_probs", probs)
            set_(self, "eval_labels", labels)
            if self.eval_kind not in EVAL_KINDS:
                raise ValueError(f"eval_kind must be one of {EVAL_KINDS}, got {self.eval_kind!r}")
        elif self.eval_kind is not None:
            raise ValueError("eval_kind given without eval_probs")

    # ------------------------------------------------------------------ use
    def _rows(self, X_raw) -> np.ndarray:
        X = np.asarray(X_raw, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"expected rows of {len(self.features)} scores, got shape {X.shape}")
        return X

    def predict_proba(self, X_raw) -> np.ndarray:
        """Probability of malignancy, shape (n,), for raw scores (n, 9) or one row (9,),
        after the model's :attr:`recalibration` when it has one.

        Raises UserError when the network gives something that is not a probability
        (NaN, from weights that overflow): such a case must never be called benign
        because ``NaN >= threshold`` is false.
        """
        return self.recalibrated(self.raw_proba(X_raw))

    def recalibrated(self, raw: np.ndarray) -> np.ndarray:
        """The network's probabilities ``raw`` (from :meth:`raw_proba`) as the model gives
        them: after its :attr:`recalibration`, if it has one."""
        return raw if self.recalibration is None else self.recalibration.apply(raw)

    def raw_proba(self, X_raw) -> np.ndarray:
        """The network's own probability, shape (n,), before any recalibration (the
        score the out-of-fold evidence and the interval are made of)."""
        with np.errstate(all="ignore"):
            p = self.network.predict_proba(self.scaler.transform(self._rows(X_raw)))
        if not np.all((p >= 0.0) & (p <= 1.0)):  # also false for NaN
            raise UserError(f"Model {self.model_id} gives no probability (not a number) for "
                            f"{'this case' if p.size == 1 else 'some of these cases'}: its weights "
                            "overflow, so the file is damaged or was not written by bcdesktop. "
                            "Use another model.")
        return p

    def predict(self, X_raw, threshold: float | None = None) -> np.ndarray:
        """Calls, shape (n,) int8: 1 malignant where probability >= threshold
        (the bundle's own threshold by default), else 0 benign."""
        t = self.threshold if threshold is None else float(threshold)
        return (self.predict_proba(X_raw) >= t).astype(np.int8)

    def logit(self, X_raw) -> np.ndarray:
        """Log-odds of :meth:`predict_proba`, shape (n,): the scale the explanation
        adds up on. Without recalibration, the network's own output unit (exact);
        with one, the log-odds of the recalibrated probability, kept within
        +-27.6 (probabilities of 1e-12 and 1 - 1e-12: isotonic recalibration can
        give exactly 0 or 1)."""
        if self.recalibration is None:
            with np.errstate(all="ignore"):
                z = self.network.logits(self.scaler.transform(self._rows(X_raw))).reshape(-1)
            if np.all(np.isfinite(z)):
                return z
        p = np.clip(self.predict_proba(X_raw), 1e-12, 1.0 - 1e-12)
        return np.log(p) - np.log1p(-p)

    def with_threshold(self, threshold: float, chosen_by: str | None = None) -> ModelBundle:
        """A copy, made in memory, that calls malignant at ``threshold``: the same
        network, but a different :attr:`model_id` when the threshold differs (the
        threshold is saved in the model file), and no :attr:`source_path`.
        ``chosen_by`` says how it was chosen (:attr:`threshold_chosen_by`); a threshold
        changed without saying how forgets the old reason."""
        if threshold == self.threshold and chosen_by is None:
            chosen_by = self.threshold_chosen_by
        return dataclasses.replace(self, threshold=threshold, threshold_chosen_by=chosen_by)

    def with_parts(self, **parts) -> ModelBundle:
        """A copy made in memory with some of ``oof``, ``patterns``, ``recalibration``
        (or any other field) replaced: a new :attr:`model_id`, no :attr:`source_path`."""
        return dataclasses.replace(self, **parts)

    @property
    def format_version(self) -> int:
        """The model file format this bundle is written in: 1 without any of the
        format-2 parts (readable by bcdesktop 0.1.0), else 2."""
        return 1 if self.oof is None and self.patterns is None and self.recalibration is None else 2

    @property
    def model_id(self) -> str:
        """Ten hex digits of the SHA-256 of the model file's bytes, so that any change
        to a file shows as a new id.

        For a bundle from :func:`load_model`, of the exact bytes read (an old file too);
        for one made in memory, of the bytes :func:`save_model` would write, so that
        saving it gives a file with this id and loading that file gives it back.
        Computed once: changing the arrays of a bundle in place does not change it.
        Raises TypeError, as :func:`save_model` would, when the metadata cannot be
        stored.
        """
        cached = self.__dict__.get("_model_id")
        if cached is None:
            cached = self.file_sha256[:10]
            object.__setattr__(self, "_model_id", cached)
        return cached

    @property
    def file_sha256(self) -> str:
        """The whole SHA-256 (64 hex digits) of the model file's bytes, of which
        :attr:`model_id` is the start: of the bytes read for a bundle from
        :func:`load_model`, else of the bytes :func:`save_model` would write."""
        cached = self.__dict__.get("_file_sha256")
        if cached is None:
            cached = hashlib.sha256(self._file_bytes()).hexdigest()
            object.__setattr__(self, "_file_sha256", cached)
        return cached

    @property
    def network_id(self) -> str:
        """Ten hex digits of a SHA-256 over the weights and the scaler only: the same
        network has the same ``network_id`` whatever its threshold, metrics or creation
        time. For code and tests that ask "is this the same network?"; users are shown
        :attr:`model_id`."""
        h = hashlib.sha256()
        for a in [*self.network.params, self.scaler.data_min, self.scaler.data_max]:
            a = np.ascontiguousarray(a, dtype="<f8")
            h.update(repr(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()[:10]

    def __repr__(self) -> str:
        ev = "none" if self.eval_kind is None else f"{self.eval_kind} n={self.eval_probs.size}"
        sizes = "-".join(map(str, self.network.layer_sizes))
        try:
            model_id = self.model_id
        except TypeError:  # metadata that cannot be saved; a repr must not fail
            model_id = "unsaveable"
        return (f"ModelBundle(id={model_id}, network={sizes}, threshold={self.threshold:g}, "
                f"created={self.created_utc}, app={self.app_version}, eval={ev})")

    # ------------------------------------------------------------ file form
    def _file_bytes(self) -> bytes:
        """What :func:`save_model` writes: the same bytes for the same bundle."""
        arrays = self._arrays()
        meta = self._metadata()
        meta["checksum"] = _checksum(arrays, meta)
        return _encode(arrays, meta)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for k, a in enumerate(self.network.params):
            arrays[f"{'W' if k % 2 == 0 else 'b'}{k // 2 + 1}"] = np.asarray(a, dtype=np.float64)
        arrays["scaler_min"] = self.scaler.data_min.astype(np.float64)
        arrays["scaler_max"] = self.scaler.data_max.astype(np.float64)
        if self.eval_probs is not None:
            arrays["eval_probs"] = self.eval_probs
            arrays["eval_labels"] = self.eval_labels
        if self.oof is not None:
            arrays.update(self.oof.to_stored()[1])
        if self.patterns is not None:
            arrays.update(self.patterns.to_arrays())
        if self.recalibration is not None:
            arrays.update(self.recalibration.to_stored()[1])
        return arrays

    def _metadata(self) -> dict:
        meta = {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "app_version": self.app_version,
            "created_utc": self.created_utc,
            "features": list(self.features),
            "hidden": list(self.network.hidden),
            "threshold": self.threshold,
            "seed": self.seed,
            "settings": self.settings,
            "metrics": self.metrics,
            "data_sha256": self.data_sha256,
            "eval_kind": self.eval_kind,
        }
        if self.network.hidden_activation != "relu":   # a relu model's file keeps its bytes
            meta["activation"] = self.network.hidden_activation
        if self.oof is not None:
            meta["oof"] = self.oof.to_stored()[0]
        if self.recalibration is not None:
            meta["recalibration"] = self.recalibration.to_stored()[0]
        if self.threshold_chosen_by is not None:       # a file without one keeps its bytes
            meta["threshold_chosen_by"] = self.threshold_chosen_by
        if self.provenance is not None:
            meta["provenance"] = self.provenance
        return _jsonable(meta)


def _checksum(arrays: dict[str, np.ndarray], meta: dict) -> str:
    """SHA-256 over every array (name, dtype, shape, bytes) and the metadata
    without its ``checksum`` entry, in a fixed order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    rest = {k: v for k, v in meta.items() if k != "checksum"}
    h.update(json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())
    return h.hexdigest()


def _id_of(data: bytes) -> str:
    """A model id: the first ten hex digits of the SHA-256 of a model file's bytes."""
    return hashlib.sha256(data).hexdigest()[:10]


def _zip_date(created_utc) -> tuple[int, int, int, int, int, int]:
    """The members' zip date: the bundle's creation time, else 1980-01-01 (a zip date
    cannot be earlier, nor later than 2107). Never the clock, so that the same bundle
    always gives the same bytes."""
    try:
        when = datetime.strptime(str(created_utc), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    if not 1980 <= when.year <= 2107:
        return (1980, 1, 1, 0, 0, 0)
    # a zip time counts seconds in twos
    return (when.year, when.month, when.day, when.hour, when.minute, when.second - when.second % 2)


def _encode(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """The file's bytes: the metadata as a uint8 JSON array, then the arrays in the
    given order, each an uncompressed ``.npy`` member of a zip that ``np.load`` reads.

    Written with :mod:`zipfile` rather than ``np.savez`` so that every field is fixed
    (date from ``meta["created_utc"]``, Unix host, mode 0644): equal inputs give equal
    bytes on any machine and at any time, which the model id relies on.
    """
    text = json.dumps(meta, sort_keys=True, indent=1, allow_nan=False).encode("utf-8")
    members = {"metadata": np.frombuffer(text, dtype=np.uint8), **arrays}
    date = _zip_date(meta.get("created_utc"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in members.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.asanyarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=date)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3           # Unix, also when written on Windows
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy.getvalue())
    return buf.getvalue()


def check_model_path(path, *, replace_shipped: bool = False) -> None:
    """Raise :class:`UserError` when a model cannot be saved at ``path``: it is a folder,
    its folder is missing or not a folder, the folder is not writable, or it is a file
    shipped with the app (``resources.is_bundled_file``: the default model every user
    starts with) unless ``replace_shipped`` (the maintainers' regeneration of it).
    ``save_model`` checks this too; call it first to fail before a long training rather
    than after."""
    from .resources import is_bundled_file

    path = Path(path)
    folder = path.parent
    if not replace_shipped and is_bundled_file(path):
        raise UserError(f"Cannot save the model to {path}: it is a file shipped with bcdesktop, "
                        "which is never written over. Choose another name or folder.")
    if path.is_dir():
        raise UserError(f"Cannot save the model to {path}: it is a folder. Give a file name "
                        f"such as {path / 'model.npz'}.")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(f"Cannot save the model to {path}: {folder} {problem}. Create the "
                        "folder or choose another one.")
    if not os.access(folder, os.W_OK):
        raise UserError(f"Cannot save the model to {path}: the folder {folder} is not "
                        "writable. Choose another folder.")


def save_model(bundle: ModelBundle, path, *, replace_shipped: bool = False) -> Path:
    """Write ``bundle`` to ``path`` atomically (a reader never sees half a file, and
    a failed save leaves any earlier file as it was). Returns the path.

    The file's SHA-256 starts with ``bundle.model_id``. Nothing is written that
    :func:`load_model` would refuse: a network with more than :func:`max_parameters`
    weights or :data:`MAX_HIDDEN_LAYERS` hidden layers, a file over
    :data:`MAX_MODEL_BYTES`, or contents that fail the loader's checks raise
    :class:`UserError` first. Metadata that cannot be stored as JSON raises TypeError.
    """
    from .resources import atomic_write_bytes

    path = Path(path)
    _check_size(bundle, path)  # before encoding what could be gigabytes
    data = bundle._file_bytes()
    try:
        _bundle(*_parse(data, path), path)  # the loader's own checks, on the bytes to write
    except _ModelFileError as exc:
        raise UserError(f"Cannot save the model to {path}: bcdesktop could not open the file "
                        f"again ({exc.problem}), so nothing was written.") from None
    check_model_path(path, replace_shipped=replace_shipped)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"Cannot save the model to {path}: {exc.strerror or exc}. Choose "
                        "another folder.") from None
    return path


def _check_size(bundle: ModelBundle, path) -> None:
    """UserError for a bundle too large for a model file, before it is encoded."""
    hidden = bundle.network.hidden
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise UserError(f"Cannot save the model to {path}: its network has {len(hidden)} hidden "
                        f"layers, and a model file holds at most {MAX_HIDDEN_LAYERS}. Train "
                        "with fewer layers.")
    n = sum(int(np.size(a)) for a in bundle.network.params)
    if n > max_parameters():
        raise UserError(f"Cannot save the model to {path}: its network has {n:,} weights, and "
                        f"a model file holds at most {max_parameters():,}. Train with fewer "
                        "hidden units.")
    n_eval = 0 if bundle.eval_probs is None else int(bundle.eval_probs.size)
    if 8 * n + 9 * n_eval > MAX_MODEL_BYTES:
        raise UserError(f"Cannot save the model to {path}: with {n_eval:,} held-out rows it "
                        f"would take more than the {MAX_MODEL_BYTES // 2**20} MB bcdesktop opens.")


# ------------------------------------------------------------------- loading
class _ModelFileError(UserError):
    """A model file refused by the loader; ``problem`` is the part after the path."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def _bad(path, problem: str, fix: str = _FIX) -> UserError:
    return _ModelFileError(f"Cannot use model file {path}: {problem}. {fix}", problem)


def _shown(name: str) -> str:
    """A member name fit for a one-line message: escaped, at most 40 characters."""
    return ascii(name[:40])[1:-1] + ("..." if len(name) > 40 else "")


# The zip records read below (APPNOTE.TXT 4.3.12, 4.3.14-16), little-endian.
_EOCD = struct.Struct("<4s4H2LH")            # End Of Central Directory, 22 bytes + comment
_EOCD64_LOCATOR = struct.Struct("<4sLQL")    # zip64 EOCD locator, 20 bytes, just before it
_EOCD64 = struct.Struct("<4sQ2H2L4Q")        # zip64 EOCD record, 56 bytes, before the locator
_CENTRAL = struct.Struct("<4s6H3L5H2L")      # one central directory entry, 46 bytes + name...


def _zip_members(raw: bytes, path) -> dict[str, int]:
    """Names and unpacked sizes of the members of the zip archive ``raw``.

    Read from the archive's End Of Central Directory record (and its zip64 form) and
    central directory, found where :mod:`zipfile` finds them, so that an archive that
    cannot be a model (more members than a model has, names a model never holds, more
    bytes unpacked than :data:`MAX_MODEL_BYTES`) is refused after reading at most
    :data:`MAX_MODEL_MEMBERS` directory entries, before ``np.load`` parses the
    directory or touches a member. (A 57 MB archive of 350,000 tiny arrays used to take
    a minute to be refused.)
    """
    damaged = "it is damaged or truncated (the archive's directory {})"
    # 1. the EOCD: the last 22 bytes when there is no comment, else the last signature
    #    in the final 64 kB (a comment is at most 65,535 bytes), where zipfile looks
    pos = len(raw) - _EOCD.size
    if pos < 0 or raw[pos:pos + 4] != b"PK\x05\x06" or raw[-2:] != b"\0\0":
        pos = raw.rfind(b"PK\x05\x06", max(0, len(raw) - _EOCD.size - (1 << 16)))
    if pos < 0 or pos + _EOCD.size > len(raw):
        raise _bad(path, damaged.format("is missing"))
    _, disk, cd_disk, _, count, cd_size, _, _ = _EOCD.unpack_from(raw, pos)
    cd_end = pos  # where the central directory ends: the EOCD, or the zip64 records
    # 2. a zip64 locator right before the EOCD replaces count, size and offset
    loc = pos - _EOCD64_LOCATOR.size
    if loc >= 0 and raw[loc:loc + 4] == b"PK\x06\x07":
        _, disk64, _, disks = _EOCD64_LOCATOR.unpack_from(raw, loc)
        rec = loc - _EOCD64.size
        if disk64 != 0 or disks > 1:
            raise _bad(path, "it is an archive split over several disks, which no bcdesktop "
                       "model is")
        if rec >= 0 and raw[rec:rec + 4] == b"PK\x06\x06":
            (_, _, _, _, disk, cd_disk, _, count, cd_size, _) = _EOCD64.unpack_from(raw, rec)
            cd_end = rec
    if count > MAX_MODEL_MEMBERS:
        raise _bad(path, f"it is not a bcdesktop model (its archive holds {count:,} members; "
                   f"a model has at most {MAX_MODEL_MEMBERS})")
    # 3. the central directory sits just before cd_end (zipfile allows for bytes
    #    prepended to the archive the same way); walk exactly ``count`` entries
    start = cd_end - cd_size
    if start < 0 or disk != 0 or cd_disk != 0:
        raise _bad(path, damaged.format("is out of place"))
    members: dict[str, int] = {}
    at = start
    for _ in range(count):
        if at + _CENTRAL.size > cd_end or raw[at:at + 4] != b"PK\x01\x02":
            raise _bad(path, damaged.format("is broken"))
        entry = _CENTRAL.unpack_from(raw, at)
        flags, size, n_name, n_extra, n_comment = entry[3], entry[9], entry[10], entry[11], entry[12]
        name_at = at + _CENTRAL.size
        at = name_at + n_name + n_extra + n_comment
        if at > cd_end:
            raise _bad(path, damaged.format("is broken"))
        name = raw[name_at:name_at + n_name].decode("utf-8" if flags & 0x800 else "cp437",
                                                    errors="replace")
        if name in members:
            raise _bad(path, f"it is damaged or was not written by bcdesktop (it holds two "
                       f"members named {_shown(name)})")
        if size == 0xFFFFFFFF:  # the size is the first value of the zip64 extra field
            size = _zip64_size(raw[name_at + n_name:name_at + n_name + n_extra])
            if size is None:
                raise _bad(path, damaged.format("is broken"))
        members[name] = size
    if at != cd_end:
        raise _bad(path, damaged.format("does not match its end record"))

    unpacked = sum(members.values())
    if unpacked > MAX_MODEL_BYTES:  # a small archive that unpacks to gigabytes
        raise _bad(path, f"it would unpack to {unpacked / 1e6:.0f} MB, far more than any "
                   "bcdesktop model")
    arrays = [name[:-4] for name in members if name.endswith(".npy")]
    if len(arrays) != len(members):
        raise _bad(path, "it is a zip archive but not a bcdesktop model (it holds files that "
                   "are not NumPy arrays)")
    if "metadata" not in arrays:
        raise _bad(path, "it is an .npz archive but not a bcdesktop model (no metadata)")
    foreign = [name for name in arrays if not _MEMBER_NAME.fullmatch(name)]
    if foreign:
        raise _bad(path, "it is damaged or was not written by bcdesktop (unexpected array "
                   f"{', '.join(map(_shown, foreign[:3]))})")
    return members


def _zip64_size(extra: bytes) -> int | None:
    """The unpacked size held in a directory entry's zip64 extra field (id 1), if any."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        if kind == 1 and length >= 8 and at + 12 <= len(extra):
            return struct.unpack_from("<Q", extra, at + 4)[0]
        at += 4 + length
    return None


def _read_bytes(path: Path) -> bytes:
    """The bytes of a model file; UserError for a file that cannot be read or is too large."""
    from .resources import NotAFile, open_regular_file

    try:
        with open_regular_file(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_MODEL_BYTES:
                raise _bad(path, f"at {size / 1e6:.0f} MB it is far too large to be a bcdesktop "
                           "model (they are a few kB)")
            raw = fh.read(MAX_MODEL_BYTES + 1)
    except FileNotFoundError:
        raise _bad(path, "the file does not exist", "Check the name and folder.") from None
    except IsADirectoryError:
        raise _bad(path, "it is a folder, not a file", "Choose the .npz file inside it.") from None
    except NotAFile as exc:
        raise _bad(path, f"it is {exc.kind}, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _bad(path, "it is a symbolic link that leads back to itself") from None
        raise _bad(path, f"it cannot be read ({exc.strerror or exc})",
                   "Check the file's permissions.") from None
    if len(raw) > MAX_MODEL_BYTES:  # grew while being read
        raise _bad(path, "it is far too large to be a bcdesktop model (they are a few kB)")
    return raw


def _parse(raw: bytes, path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of the model file bytes ``raw``; UserError for anything unreadable."""
    if not raw:
        raise _bad(path, "the file is empty (0 bytes)")
    if len(raw) > MAX_MODEL_BYTES:
        raise _bad(path, f"at {len(raw) / 1e6:.0f} MB it is far too large to be a bcdesktop "
                   "model (they are a few kB)")
    if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise _bad(path, "it is not a bcdesktop model (not an .npz archive)")
    _zip_members(raw, path)  # refuses by the directory alone, before np.load
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            unpacked = sum(info.file_size for info in npz.zip.infolist())
            if unpacked > MAX_MODEL_BYTES:  # cannot happen after _zip_members; kept as a guard
                raise _bad(path, f"it would unpack to {unpacked / 1e6:.0f} MB, far more than "
                           "any bcdesktop model")
            arrays = {name: npz[name] for name in npz.files}
        if not all(isinstance(a, np.ndarray) for a in arrays.values()):  # a member that is no .npy
            raise _bad(path, "it is a zip archive but not a bcdesktop model (it holds files that "
                       "are not NumPy arrays)")
    except UserError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _bad(path, "it holds Python objects (pickled data), which bcdesktop never "
                       "writes and will not open because they can run code") from None
        raise _bad(path, "it is damaged or truncated (an array cannot be read)") from None
    except Exception:  # noqa: BLE001 - zipfile, zlib and numpy fail in many ways on bad bytes
        raise _bad(path, "it is damaged or truncated (the archive cannot be read)") from None
    if "metadata" not in arrays:
        raise _bad(path, "it is an .npz archive but not a bcdesktop model (no metadata)")
    meta_arr = arrays.pop("metadata")
    try:
        if meta_arr.dtype != np.uint8 or meta_arr.ndim != 1:
            raise ValueError
        meta = json.loads(meta_arr.tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise _bad(path, "it is not a bcdesktop model (its metadata is not readable JSON)") from None
    return arrays, meta


def _read(path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of a model file; UserError for anything unreadable."""
    path = Path(path)
    return _parse(_read_bytes(path), path)


def _require(cond: bool, path, problem: str) -> None:
    if not cond:
        raise _bad(path, f"it is damaged or was not written by bcdesktop ({problem})")


def load_model(path) -> ModelBundle:
    """Read and check a model file.

    The bundle's :attr:`~ModelBundle.model_id` is the start of the SHA-256 of the exact
    bytes read, and its :attr:`~ModelBundle.source_path` is ``path``.

    Raises
    ------
    UserError
        One plain sentence for a missing, unreadable, empty, truncated, corrupted
        (checksum), foreign (another ``.npz``, a CSV or pickle renamed ``.npz``, an
        archive with more members or bytes than a model has) or newer-format file, or
        one whose contents fail the checks (shapes, dtypes, finite values, feature
        names, threshold in (0, 1)). A file edited with its checksum recomputed passes
        the checksum; only its new model id tells it from the original.
    """
    path = Path(path)
    raw = _read_bytes(path)
    bundle = _bundle(*_parse(raw, path), path)
    object.__setattr__(bundle, "_file_sha256", hashlib.sha256(raw).hexdigest())
    object.__setattr__(bundle, "_model_id", _id_of(raw))
    object.__setattr__(bundle, "source_path", path)
    return bundle


def _bundle(arrays: dict[str, np.ndarray], meta: dict, path) -> ModelBundle:
    """The bundle a file's arrays and metadata describe, after checking all of them."""
    if meta.get("format") != FORMAT_NAME:
        raise _bad(path, "it is an .npz archive but not a bcdesktop model")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad(path, f"its format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise UserError(f"Model file {path} was made by a newer bcdesktop (model format "
                        f"{version}; this bcdesktop {__version__} reads format {FORMAT_VERSION} "
                        "and older). Update bcdesktop to open it.")

    stored = meta.get("checksum")
    _require(isinstance(stored, str), path, "no checksum")
    try:
        actual = _checksum(arrays, meta)
    except (TypeError, ValueError):
        actual = None
    if actual != stored:
        raise _bad(path, "it is damaged: its contents do not match the checksum stored in it "
                   "(a copy or download cut short, or a failing disk, does this)")

    # The checksum holds, which rules out accidental damage only: anyone can recompute
    # it. So the content must also make sense (a writer bug or an edited file with a
    # recomputed checksum must still not reach the network).
    hidden = meta.get("hidden")
    _require(isinstance(hidden, list) and all(isinstance(h, int) and h > 0 for h in hidden),
             path, "hidden layer sizes are invalid")
    features = meta.get("features")
    expected = _features()
    if features != list(expected):
        raise _bad(path, f"its features {features!r} are not the nine Wisconsin scores "
                   f"{list(expected)!r}", "Use a model trained by bcdesktop on this data schema.")
    sizes = [len(expected), *hidden, 1]
    needed = {"scaler_min": (sizes[0],), "scaler_max": (sizes[0],)}
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        needed[f"W{k}"] = (n_out, n_in)
        needed[f"b{k}"] = (n_out,)
    for name, shape in needed.items():
        _require(name in arrays, path, f"array {name} is missing")
        a = arrays[name]
        _require(a.dtype == np.float64, path, f"array {name} is {a.dtype}, not float64")
        _require(a.shape == shape, path, f"array {name} has shape {a.shape}, expected {shape}")
        _require(bool(np.isfinite(a).all()), path, f"array {name} holds values that are not finite")
    _require(bool((arrays["scaler_max"] >= arrays["scaler_min"]).all()), path,
             "the scaler's maximum is below its minimum")
    known = {"eval_probs", "eval_labels"} | (set(_EXTRA_MEMBERS) if version >= 2 else set())
    extra = sorted(set(arrays) - set(needed) - known)
    _require(not extra, path, f"unexpected array {', '.join(extra)}")
    oof, patterns, recalibration = _format2_parts(arrays, meta, path) if version >= 2 else (None, None, None)

    threshold = meta.get("threshold")
    _require(isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
             and 0.0 < threshold < 1.0, path, f"threshold {threshold!r} is not between 0 and 1")

    eval_kind = meta.get("eval_kind")
    probs = arrays.get("eval_probs")
    labels = arrays.get("eval_labels")
    if eval_kind is None:
        _require(probs is None and labels is None, path, "evaluation arrays without their kind")
    else:
        _require(eval_kind in EVAL_KINDS, path, f"unknown evaluation kind {eval_kind!r}")
        _require(probs is not None and labels is not None, path, "evaluation arrays are missing")
        _require(probs.dtype == np.float64 and probs.ndim == 1, path, "eval_probs is not a float64 vector")
        _require(labels.dtype == np.int8 and labels.shape == probs.shape, path,
                 "eval_labels does not match eval_probs")
        _require(bool(np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()), path,
                 "eval_probs holds values outside 0..1")
        _require(bool(np.isin(labels, (0, 1)).all()), path, "eval_labels holds values other than 0 and 1")

    for key, kinds in (("settings", dict), ("metrics", dict), ("app_version", str),
                       ("created_utc", str)):
        _require(isinstance(meta.get(key), kinds), path, f"{key} is missing or of the wrong type")
    seed = meta.get("seed")
    _require(seed is None or (isinstance(seed, int) and not isinstance(seed, bool)), path, "bad seed")
    sha = meta.get("data_sha256")
    _require(sha is None or isinstance(sha, str), path, "bad data_sha256")

    chosen_by = meta.get("threshold_chosen_by")
    _require(chosen_by is None or _is_note(chosen_by), path, "the note on how the threshold was "
             "chosen is not one line of text")
    provenance = meta.get("provenance")
    _require(provenance is None or _is_provenance(provenance), path, "its provenance is not "
             "an object of short texts and counts")

    n_layers = len(sizes) - 1
    params = []
    for k in range(1, n_layers + 1):
        params += [arrays[f"W{k}"], arrays[f"b{k}"]]
    activation = meta.get("activation", "relu")      # files before it are relu models
    if activation not in HIDDEN_ACTIVATIONS:
        shown = _shown(activation) if isinstance(activation, str) else type(activation).__name__
        raise _bad(path, f"its hidden activation '{shown}' is not one this bcdesktop knows "
                   f"({', '.join(HIDDEN_ACTIVATIONS)})",
                   "It may come from a newer bcdesktop; use that version, or retrain the model.")
    network = MLP.from_params(params, activation)
    scaler = Scaler(arrays["scaler_min"], arrays["scaler_max"])
    _require(_gives_probabilities(network, scaler), path,
             "its network gives no probability (not a number) for some cases")
    return ModelBundle(
        network=network, scaler=scaler, threshold=float(threshold), features=tuple(features),
        settings=meta["settings"], seed=seed, metrics=meta["metrics"], data_sha256=sha,
        app_version=meta["app_version"], created_utc=meta["created_utc"],
        eval_probs=probs, eval_labels=labels, eval_kind=eval_kind,
        oof=oof, patterns=patterns, recalibration=recalibration, threshold_chosen_by=chosen_by,
        provenance=provenance)


def _format2_parts(arrays: dict[str, np.ndarray], meta: dict, path) -> tuple:
    """The out-of-fold evidence, training patterns and recalibration of a format-2
    file, each None when absent; a plain UserError for one that makes no sense."""
    oof = patterns = recalibration = None
    try:
        if "oof" in meta or any(name.startswith("oof_") for name in arrays):
            from .outoffold import OutOfFold

            oof = OutOfFold.from_stored(meta.get("oof"), arrays)
        if "train_patterns" in arrays or "train_counts" in arrays:
            from .patterns import TrainingPatterns

            _require("train_patterns" in arrays and "train_counts" in arrays, path,
                     "one of the training-pattern arrays is missing")
            patterns = TrainingPatterns.from_arrays(arrays["train_patterns"], arrays["train_counts"])
        if "recalibration" in meta or "recal_params" in arrays:
            from .calibrate import Recalibration

            _require("recal_params" in arrays, path, "the recalibration's parameters are missing")
            recalibration = Recalibration.from_stored(meta.get("recalibration"), arrays["recal_params"])
    except ValueError as exc:
        raise _bad(path, f"it is damaged or was not written by bcdesktop ({exc})") from None
    return oof, patterns, recalibration


def _gives_probabilities(network: MLP, scaler: Scaler) -> bool:
    """Whether the network gives a probability in [0, 1] for the lowest and highest
    scores and 512 seeded random cases (finite weights can still overflow to NaN)."""
    rng = np.random.default_rng(0)
    X = np.vstack([np.ones((1, 9)), np.full((1, 9), 10.0), rng.integers(1, 11, size=(512, 9))]).astype(np.float64)
    with np.errstate(all="ignore"):
        p = network.predict_proba(scaler.transform(X))
    return bool(np.all((p >= 0.0) & (p <= 1.0)))


def load_default_model() -> ModelBundle:
    """The model shipped with bcdesktop (``data/default_model.npz``)."""
    from .resources import default_model_path

    path = default_model_path()
    if not path.is_file():
        raise UserError(
            f"The default model is missing (looked for {path}). Reinstall bcdesktop, or "
            "create it with: bcdesktop train --data data/breast-cancer-wisconsin.data "
            "--out data/default_model.npz --replace-shipped-model")
    return load_model(path)
