"""bcdesktop.predict_frame: a DataFrame scored as score_csv scores the same rows as a file."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bcdesktop
from bcdesktop import persistence, predictor, schema, scoring
from bcdesktop.errors import UserError
from bcdesktop.resources import bundled_data_path
from bcdesktop.schema import FEATURES

OLD_MODEL = Path(__file__).parent / "data" / "model_format1.npz"
NUMBERS = ("probability", "probability_low", "probability_high", "threshold", *scoring.CONTRIBUTION_COLUMNS)
TEXTS = ("prediction", "status", "model")


@pytest.fixture(scope="module")
def bundle():
    return persistence.load_default_model()


def with_header(tmp_path, n=80):
    """The bundled file's first ``n`` rows with a header row, two of them made bad."""
    lines = bundled_data_path().read_text().splitlines()[:n]
    lines[2] = "77,5,1,1,1,2,abc,3,1,1,2"
    lines[5] = "78,5,1,1,1,2,1,3,1,11,4"
    path = tmp_path / "cases.csv"
    path.write_text(",".join([schema.ID_NAME, *FEATURES, schema.CLASS_NAME]) + "\n" + "\n".join(lines) + "\n")
    return path


def assert_same_as_file(frame, scored):
    """The frame's new columns hold what the scored file (read by pandas) holds, to the
    printed precision (a millionth: half of one for rounding, a benign row may be written
    one below the threshold)."""
    assert list(frame.columns) == list(scored.columns)
    assert len(frame) == len(scored)
    for name in NUMBERS:
        if name not in frame:
            continue
        a, b = frame[name].to_numpy(dtype=float), scored[name].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], atol=1e-6 + 1e-12, rtol=0, err_msg=name)
    for name in TEXTS:
        a = frame[name].astype(object).where(frame[name].notna(), "").tolist()
        b = scored[name].astype(object).where(scored[name].notna(), "").tolist()
        assert a == b, name
    flags = frame["indeterminate"].astype(object).where(frame["indeterminate"].notna(), "").tolist()
    written = scored["indeterminate"].astype(object).where(scored["indeterminate"].notna(), "")
    assert flags == [{"true": True, "false": False, True: True, False: False}.get(v, "") for v in written]


def test_a_frame_gives_the_scored_files_columns_and_values(tmp_path, bundle):
    src = with_header(tmp_path)
    scoring.score_csv(src, tmp_path / "o.csv", bundle, explain=True)
    scored = pd.read_csv(tmp_path / "o.csv")
    frame = bcdesktop.predict_frame(pd.read_csv(src), bundle, explain=True)
    assert_same_as_file(frame, scored)
    assert list(frame.columns[11:]) == [*scoring.NEW_COLUMNS, *scoring.CONTRIBUTION_COLUMNS]
    assert frame.loc[2, "status"] == "Bare Nuclei 'abc' is not a whole number"
    assert frame.loc[5, "status"] == "Mitoses = 11 is outside 1..10"
    # full precision: exactly the core's numbers
    ok = frame["status"] == "ok"
    X = frame.loc[ok, list(FEATURES)].to_numpy(dtype=float)
    np.testing.assert_array_equal(frame.loc[ok, "probability"], bundle.predict_proba(X))
    low, high = predictor.intervals(bundle, X)
    np.testing.assert_array_equal(frame.loc[ok, "probability_low"], low)
    np.testing.assert_array_equal(frame.loc[ok, "probability_high"], high)
    e = predictor.explain_case(bundle, X[0])
    np.testing.assert_allclose(frame.loc[ok, list(scoring.CONTRIBUTION_COLUMNS)].to_numpy()[0],
                               e.contributions, atol=1e-12)
    sums = frame.loc[ok, list(scoring.CONTRIBUTION_COLUMNS)].sum(axis=1) + e.base
    np.testing.assert_allclose(sums, bundle.logit(X), atol=1e-9)


def test_a_headerless_frame_is_read_as_a_headerless_file(tmp_path, bundle):
    scoring.score_csv(bundled_data_path(), tmp_path / "o.csv", bundle)
    scored = pd.read_csv(tmp_path / "o.csv")
    frame = bcdesktop.predict_frame(pd.read_csv(bundled_data_path(), header=None), bundle)
    assert list(frame.columns[:11]) == list(range(11))
    scored.columns = [*range(11), *scored.columns[11:]]
    assert_same_as_file(frame, scored)
    assert (frame["status"] != "ok").sum() == 16


def test_bad_cells_get_the_files_reasons_not_exceptions(tmp_path, bundle):
    good = {f: 1 for f in FEATURES}
    cells = ["abc", 11, 5.5, None, np.nan, "?", " 5 ", "5.0", 0, -1, True, "", "1,5", 10.0, "NA", 3]
    df = pd.DataFrame({**good, "Bare Nuclei": pd.Series(cells, dtype=object)})
    df["Mitoses"] = [2.0, 1.0, np.nan] + [1.0] * (len(cells) - 3)     # a float column with a gap
    frame = bcdesktop.predict_frame(df, bundle)
    # the same rows as a CSV file: the same statuses
    src = tmp_path / "c.csv"
    df.to_csv(src, index=False)
    scoring.score_csv(src, tmp_path / "o.csv", bundle)
    assert frame["status"].tolist() == pd.read_csv(tmp_path / "o.csv", keep_default_na=False)["status"].tolist()
    assert frame["status"].tolist() == [
        "Bare Nuclei 'abc' is not a whole number", "Bare Nuclei = 11 is outside 1..10",
        "Bare Nuclei = 5.5 is not a whole number; Mitoses is missing", "Bare Nuclei is missing",
        "Bare Nuclei is missing", "Bare Nuclei is missing", "ok", "ok", "Bare Nuclei = 0 is outside 1..10",
        "Bare Nuclei = -1 is outside 1..10", "Bare Nuclei 'True' is not a whole number",
        "Bare Nuclei is missing",
        "Bare Nuclei '1,5' is not a whole number (a decimal comma is read only in semicolon- or "
        "tab-separated files)", "ok", "Bare Nuclei is missing", "ok"]
    bad = frame["status"] != "ok"
    assert frame.loc[bad, ["probability", "probability_low", "probability_high"]].isna().all().all()
    assert frame.loc[bad, "indeterminate"].isna().all() and frame.loc[bad, "prediction"].isna().all()
    assert frame.loc[~bad, "prediction"].isin(["benign", "malignant"]).all()
    assert (frame["threshold"] == 0.5).all() and (frame["model"] == bundle.model_id).all()


def test_a_frame_without_the_nine_columns_is_one_user_error(bundle):
    with pytest.raises(UserError) as info:
        bcdesktop.predict_frame(pd.DataFrame({"a": [1], "b": [2]}), bundle)
    assert str(info.value).startswith("The data frame's header ('a', 'b') names none of the nine")
    with pytest.raises(UserError, match="The data frame's header has no column for Mitoses"):
        bcdesktop.predict_frame(pd.DataFrame({f: [1] for f in FEATURES[:8]}), bundle)
    with pytest.raises(UserError, match="both look like Mitoses"):
        bcdesktop.predict_frame(pd.DataFrame({**{f: [1] for f in FEATURES}, "mitosis": [1]}), bundle)
    with pytest.raises(UserError, match="ambiguous"):
        bcdesktop.predict_frame(pd.DataFrame([[1] * 10] * 3), bundle)
    with pytest.raises(TypeError):
        bcdesktop.predict_frame([[1] * 9], bundle)


def test_aliases_index_extra_columns_and_the_input_kept(bundle):
    names = ["clump_thickness", "cell size", "Cell Shape", "adhesion", "epithelial size", "bare_nuclei",
             "chromatin", "nucleoli", "mitoses"]
    df = pd.DataFrame([[5, 1, 1, 1, 2, 1, 3, 1, 1], [8, 10, 10, 8, 7, 10, 9, 7, 1]], columns=names,
                      index=["b", "b"])
    df.insert(0, "Status", ["x", "y"])
    before = df.copy()
    frame = bcdesktop.predict_frame(df, bundle)
    pd.testing.assert_frame_equal(df, before)                      # the input is not changed
    assert list(frame.index) == ["b", "b"] and list(frame.columns[:10]) == list(df.columns)
    assert "status_2" in frame and frame["Status"].tolist() == ["x", "y"]
    assert frame["prediction"].tolist() == ["benign", "malignant"]


def test_an_old_model_gives_no_interval_and_no_contributions():
    old = persistence.load_model(OLD_MODEL)
    df = pd.read_csv(bundled_data_path(), header=None).iloc[:30]
    frame = bcdesktop.predict_frame(df, OLD_MODEL, explain=True)      # a path
    assert frame["probability_low"].isna().all() and frame["probability_high"].isna().all()
    assert frame["indeterminate"].isna().all()
    assert frame[list(scoring.CONTRIBUTION_COLUMNS)].isna().all().all()
    ok = frame["status"] == "ok"
    np.testing.assert_array_equal(frame.loc[ok, "probability"],
                                  old.predict_proba(df.loc[ok, 1:9].to_numpy(dtype=float)))
    assert (frame["model"] == old.model_id).all()


def test_threshold_and_default_model(bundle):
    df = pd.DataFrame([[5, 1, 1, 1, 2, 1, 3, 1, 1]], columns=list(FEATURES))
    frame = bcdesktop.predict_frame(df, threshold=0.01000049)
    assert frame["threshold"].tolist() == [0.01] and frame["prediction"].tolist() == ["malignant"]
    assert frame["model"].tolist() == [bundle.model_id]
    with pytest.raises(UserError, match="threshold"):
        bcdesktop.predict_frame(df, threshold=1.5)


def test_partitions_as_dask_map_partitions_calls_it(bundle):
    """Dask's ``ddf.map_partitions(bcdesktop.predict_frame, bundle)`` calls it on each
    partition, and first on an empty frame to learn the result's columns and types."""
    df = pd.read_csv(bundled_data_path(), header=None)
    whole = bcdesktop.predict_frame(df, bundle, explain=False)
    parts = [bcdesktop.predict_frame(part, bundle) for part in (df.iloc[k: k + 200] for k in range(0, len(df), 200))]
    pd.testing.assert_frame_equal(pd.concat(parts), whole)
    meta = bcdesktop.predict_frame(df.iloc[:0], bundle)
    assert list(meta.columns) == list(whole.columns) and meta.dtypes.equals(whole.dtypes)
    meta = bcdesktop.predict_frame(df.iloc[:0], bundle, explain=True)
    assert meta.dtypes.equals(bcdesktop.predict_frame(df.iloc[:5], bundle, explain=True).dtypes)


def test_import_bcdesktop_stays_cheap():
    code = ("import sys, bcdesktop; heavy = [m for m in ('numpy', 'pandas', 'bcdesktop.frame') "
            "if m in sys.modules]; assert not heavy, heavy; "
            "from bcdesktop import predict_frame; assert predict_frame is bcdesktop.predict_frame; "
            "assert 'predict_frame' in dir(bcdesktop); "
            "assert not hasattr(bcdesktop, 'no_such_thing'); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
