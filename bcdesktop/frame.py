"""``bcdesktop.predict_frame``: a pandas DataFrame of cases scored as ``bcdesktop score``
scores a CSV file, without writing one.

    import pandas as pd, bcdesktop
    cases = pd.read_csv("cases.csv")
    scored = bcdesktop.predict_frame(cases)      # cases' columns + probability, ..., model

The result has the frame's own columns (same index, same order, every row), then the
scored file's new columns (:func:`bcdesktop.scoring.output_columns`): ``probability``,
``probability_low``, ``probability_high``, ``indeterminate``, ``prediction``,
``threshold``, ``status``, ``model`` and, with ``explain=True``, the nine
``contribution_<feature>`` columns. Columns are matched to the nine scores by the rules
the CSV reader applies to a header row (:mod:`bcdesktop.csvlayout`: aliases such as
``Clump Thickness`` / ``clump_thickness`` / ``Clump``, R's ``V1..V9``); a frame whose
columns are 0..n-1 (``pd.read_csv(path, header=None)``) is read by the rules for a
headerless file (9 columns: the scores; 11: sample id, scores, class; 10: decided on
evidence). Every cell is checked by the rule of a file's cell
(:func:`bcdesktop.schema.score_value`): a number must be a whole 1..10, a text cell is
read as a file's cell is (``"5"``, ``" 5 "``, ``"5.0"`` are 5; ``"?"``, ``""``, None, NaN
are missing). A row that cannot be scored keeps its place, with empty (NaN / None / NA)
new cells and the reason in ``status`` (``"Bare Nuclei is missing"``), as in the file;
so does a frame where no row can be scored, and an empty frame gives an empty result
with the right columns (what Dask asks for to learn the result's columns).

Types: ``probability``, ``probability_low``, ``probability_high``, ``threshold`` and the
contributions float64 at full precision (the file writes the same numbers at 6
decimals; NaN where the file's cell is empty); ``indeterminate`` pandas' nullable
``"boolean"`` (NA where the file's cell is empty); ``prediction`` (``"malignant"``,
``"benign"``, missing where the file's cell is empty), ``status`` and ``model`` text, in
the dtype this pandas gives strings (``str`` in pandas 3, ``object`` before), empty
frame or not.

Only this module imports pandas, inside :func:`predict_frame`; ``import bcdesktop``
reaches it only when ``bcdesktop.predict_frame`` is first used.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from . import csvlayout, scoring
from .errors import UserError
from .metrics import threshold_micro
from .schema import FEATURES, OK, score_reason, score_value

#: How the frame is named in a message about its columns.
_LABEL = "The data frame"
#: Rows of a headerless frame (columns 0..n-1) looked at to tell its 10 columns apart.
_EVIDENCE_ROWS = 1000


def predict_frame(df, model=None, *, threshold: float | None = None, explain: bool = False):
    """Score the cases of a pandas DataFrame: the frame with the scored file's columns added.

    Parameters
    ----------
    df : pandas.DataFrame
        One case a row; the nine score columns found by their names (see the module's
        docstring); other columns are kept and not used.
    model : ModelBundle, path or None
        The model (``persistence.load_model(path)`` for a path); None: the shipped
        default model (loaded once per process).
    threshold : float, optional
        Call malignant when probability >= threshold; the model's by default. Rounded to
        6 decimals, as ``score`` does (the ``threshold`` column).
    explain : bool
        Add the nine ``contribution_<feature>`` columns (~10 ms for each distinct score
        pattern).

    Returns
    -------
    pandas.DataFrame
        A new frame (``df`` is not changed), same index; see the module docstring.

    Raises
    ------
    UserError
        A frame without a column for each of the nine scores (or with two for one), a
        model that cannot be loaded, a bad threshold. Bad cells are not errors: their
        rows get the reason in ``status``.

    Examples
    --------
    >>> import pandas as pd, bcdesktop
    >>> cases = pd.DataFrame({"Clump Thickness": [5, 8], "Uniformity of Cell Size": [1, 10],
    ...     "Uniformity of Cell Shape": [1, 10], "Marginal Adhesion": [1, 8],
    ...     "Single Epithelial Cell Size": [2, 7], "Bare Nuclei": [1, "?"],
    ...     "Bland Chromatin": [3, 9], "Normal Nucleoli": [1, 7], "Mitoses": [1, 1]})
    >>> bcdesktop.predict_frame(cases)[["prediction", "status"]].values.tolist()
    [['benign', 'ok'], [nan, 'Bare Nuclei is missing']]
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"predict_frame takes a pandas DataFrame, got {type(df).__name__}")
    bundle = _bundle(model)
    t_micro = threshold_micro(bundle.threshold if threshold is None else threshold)
    t = t_micro / 1e6
    feature_cols = _feature_columns(df)
    X, ok, reasons = _validate(df, feature_cols)

    n = len(df)
    ok_idx = np.flatnonzero(ok)
    explainer = scoring.Explainer(bundle) if explain else None
    s = _score_in_blocks(bundle, X[ok_idx], t, explainer)

    def spread(values, fill=np.nan, dtype=np.float64):
        out = np.full(n, fill, dtype=dtype)
        if values is not None:
            out[ok_idx] = values
        return out

    flags, unknown = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    if s.indeterminate is not None:
        flags[ok_idx], unknown[ok_idx] = s.indeterminate, False
    indeterminate = pd.arrays.BooleanArray(flags, unknown)
    prediction = np.full(n, None, dtype=object)
    prediction[ok_idx] = np.where(s.called, "malignant", "benign")
    status = np.where(ok, "ok", reasons).astype(object)
    text = pd.Series(np.array(["x"], dtype=object)).dtype   # what this pandas makes of strings
    values = [spread(s.probability), spread(s.low), spread(s.high), indeterminate,
              pd.array(prediction, dtype=text), np.full(n, t), pd.array(status, dtype=text),
              pd.array(np.full(n, str(bundle.model_id), dtype=object), dtype=text)]
    if explain:
        c = np.full((n, len(FEATURES)), np.nan)
        if s.contributions is not None:
            c[ok_idx] = s.contributions
        values += list(c.T)
    names = scoring._new_column_names(df.columns, scoring.output_columns(explain))
    out = df.copy(deep=False)
    for name, column in zip(names, values):
        out.insert(len(out.columns), name, column)
    return out


def _score_in_blocks(bundle, X: np.ndarray, t: float, explainer) -> scoring.RowScores:
    """:func:`bcdesktop.scoring.score_rows` on blocks of ``scoring.DEFAULT_CHUNKSIZE``
    rows (the network's buffers stay small), joined; BLAS on one thread meanwhile."""
    step = scoring.DEFAULT_CHUNKSIZE
    with scoring._one_blas_thread():       # as score_csv: thin products, a busy machine
        if X.shape[0] <= step:
            return scoring.score_rows(bundle, X, t, explainer)
        parts = [scoring.score_rows(bundle, X[k: k + step], t, explainer) for k in range(0, X.shape[0], step)]

    def join(name):
        got = [getattr(p, name) for p in parts]
        return None if got[0] is None else np.concatenate(got)

    return scoring.RowScores(**{name: join(name) for name in ("probability", "called", "low", "high",
                                                               "indeterminate", "contributions")})


def _bundle(model):
    from .persistence import ModelBundle, load_model

    if model is None:
        return _default_model()
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    if isinstance(model, ModelBundle) or hasattr(model, "predict_proba"):
        return model
    raise TypeError(f"model must be a ModelBundle, a path or None, got {type(model).__name__}")


@lru_cache(maxsize=1)
def _default_model():
    from .persistence import load_default_model

    return load_default_model()


def _feature_columns(df) -> tuple[int, ...]:
    """Positions of the nine score columns, by :mod:`bcdesktop.csvlayout`'s rules."""
    columns = list(df.columns)
    try:
        if columns and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns) \
                and [int(c) for c in columns] == list(range(len(columns))):
            head = df.iloc[:_EVIDENCE_ROWS]
            rows = [(i + 1, [_text(v) for v in row]) for i, row in enumerate(head.itertuples(index=False))]
            _, feature_cols, _, _ = csvlayout._headerless_roles(_LABEL, rows, len(columns), ".")
        else:
            _, feature_cols, _, _, _ = csvlayout._header_roles(_LABEL, [str(c).strip() for c in columns])
    except UserError as exc:
        message = str(exc).replace(f"{_LABEL}: the header row", f"{_LABEL}'s header")
        raise UserError(message.replace("(line ", "(row ")) from None
    return tuple(feature_cols)


def _text(value) -> str:
    """A cell as the text a file would hold: '' for None/NaN/NA, a whole float without
    its '.0', a string stripped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v != v:
            return ""
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover
        pass
    return str(value).strip()


def _validate(df, feature_cols):
    """``X`` (n, 9) float64 (NaN where unusable), ``ok`` (n,), ``reasons`` (n,) object:
    each score column's cells by :func:`bcdesktop.schema.score_value`, each distinct
    cell once; reasons joined by ``"; "`` in feature order, as a file's row gets them."""
    import pandas as pd

    n = len(df)
    X = np.full((n, len(FEATURES)), np.nan)
    codes = np.zeros((n, len(FEATURES)), dtype=np.int8)
    texts: dict[tuple[int, int], tuple[float, str]] = {}
    for j, col in enumerate(feature_cols):
        series = df.iloc[:, col]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            v = series.to_numpy(dtype=np.float64, na_value=np.nan)
            plain = np.isfinite(v) & (v == np.rint(v)) & (v >= 1) & (v <= 10)
        else:
            v = np.full(n, np.nan)
            plain = np.zeros(n, dtype=bool)
        X[plain, j] = v[plain]
        rest = np.flatnonzero(~plain)
        if rest.size == 0:
            continue
        cells = series.to_numpy(dtype=object)[rest]
        keys, uniques = pd.factorize(pd.Series(cells, dtype=object), use_na_sentinel=True)
        checked = [score_value(_text(u)) + (_text(u),) for u in uniques]
        missing = score_value("") + ("",)
        for k, i in zip(keys.tolist(), rest.tolist()):
            value, code, text = checked[k] if k >= 0 else missing
            if code == OK:
                X[i, j] = value
            else:
                codes[i, j] = code
                texts[i, j] = (value, text)
    bad = codes != OK
    X[bad] = np.nan
    ok = ~bad.any(axis=1)
    reasons = np.full(n, "", dtype=object)
    for i in np.flatnonzero(~ok).tolist():
        reasons[i] = "; ".join(score_reason(FEATURES[j], int(codes[i, j]), *texts[i, j])
                               for j in np.flatnonzero(bad[i]).tolist())
    return X, ok, reasons
