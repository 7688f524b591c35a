"""bcdesktop.resources: bundled files from source and frozen, per-user folders, atomic writes."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

from bcdesktop import resources

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    """Pretend to run inside a PyInstaller bundle whose files live in ``tmp_path / "bundle"``."""
    bundle = tmp_path / "bundle"
    (bundle / "data").mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    return bundle


@pytest.fixture
def home(monkeypatch, tmp_path):
    path = tmp_path / "home"
    monkeypatch.setenv("BCDESKTOP_HOME", str(path))
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    return path


def test_source_checkout_finds_the_bundled_data_set():
    path = resources.bundled_data_path()
    assert path == REPO / "data" / resources.DATA_FILE
    assert len(path.read_text().splitlines()) == 699


def test_default_model_path_points_into_data():
    assert resources.default_model_path() == REPO / "data" / resources.DEFAULT_MODEL_FILE


def test_missing_resource_names_the_first_candidate():
    path = resources.resource_path("data", "no-such-file.csv")
    assert path == REPO / "data" / "no-such-file.csv"
    assert not path.exists()


@pytest.mark.parametrize("size", resources.ICON_SIZES)
def test_icon_png_has_the_size_its_name_says(size):
    raw = resources.icon_path(size).read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])  # IHDR
    assert (width, height) == (size, size)


def test_icon_of_an_unknown_size_is_refused():
    with pytest.raises(ValueError, match="no 20 px icon"):
        resources.icon_path(20)


def test_frozen_app_reads_from_the_bundle_first(frozen):
    (frozen / "data" / resources.DATA_FILE).write_text("bundled copy\n")
    assert resources.is_frozen()
    assert resources.bundled_data_path() == frozen / "data" / resources.DATA_FILE


def test_frozen_app_without_the_file_in_the_bundle_reports_the_bundle_path(frozen):
    assert resources.resource_path("assets", "nothing.png") == frozen / "assets" / "nothing.png"


def test_not_frozen_without_meipass(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert not resources.is_frozen()


def test_bcdesktop_home_holds_settings_and_cache(home):
    assert resources.user_dir() == home
    assert resources.user_cache_dir() == home / "cache"
    assert home.is_dir() and (home / "cache").is_dir()


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {"XDG_CONFIG_HOME": "{t}/xdg"}, "{t}/xdg/bcdesktop"),
    ("linux", {}, "{t}/.config/bcdesktop"),
    ("win32", {"APPDATA": "{t}/Roaming"}, "{t}/Roaming/bcdesktop"),
    ("darwin", {}, "{t}/Library/Application Support/bcdesktop"),
])
def test_user_dir_follows_the_platform(monkeypatch, tmp_path, platform, env, expected):
    for name in ("BCDESKTOP_HOME", "XDG_CONFIG_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(t=tmp_path))
    monkeypatch.setattr(sys, "platform", platform)
    assert resources.user_dir() == Path(expected.format(t=tmp_path))


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {"XDG_CACHE_HOME": "{t}/xc"}, "{t}/xc/bcdesktop"),
    ("win32", {"LOCALAPPDATA": "{t}/Local"}, "{t}/Local/bcdesktop/cache"),
    ("darwin", {}, "{t}/Library/Caches/bcdesktop"),
])
def test_user_cache_dir_follows_the_platform(monkeypatch, tmp_path, platform, env, expected):
    for name in ("BCDESKTOP_HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(t=tmp_path))
    monkeypatch.setattr(sys, "platform", platform)
    assert resources.user_cache_dir() == Path(expected.format(t=tmp_path))


def test_configure_frozen_runtime_does_nothing_from_source(home, monkeypatch):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    resources.configure_frozen_runtime()
    assert "MPLCONFIGDIR" not in os.environ
    assert not home.exists()


def test_frozen_matplotlib_cache_goes_to_the_user_cache(frozen, home):
    resources.configure_frozen_runtime()
    assert Path(os.environ["MPLCONFIGDIR"]) == home / "cache" / "matplotlib"
    assert (home / "cache" / "matplotlib").is_dir()
    assert frozen not in Path(os.environ["MPLCONFIGDIR"]).parents


def test_frozen_keeps_an_mplconfigdir_the_user_chose(frozen, home, monkeypatch, tmp_path):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))
    resources.configure_frozen_runtime()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "mine")


def test_frozen_windowed_build_gets_writable_streams(frozen, home, monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    resources.configure_frozen_runtime()
    try:
        print("no console, no crash")
        sys.stderr.write("still fine\n")
    finally:
        sys.stdout.close()
        sys.stderr.close()


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "settings.json"
    target.write_bytes(b"old")
    resources.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    target = tmp_path / "settings.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        resources.atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_atomic_writer_streams_and_a_failed_block_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with resources.atomic_writer(target, suffix=".part") as fh:
        fh.write(b"a,b\n")
        assert not target.exists()  # in place only when the block ends
        assert [p.suffix for p in tmp_path.iterdir()] == [".part"]
        fh.write(b"1,2\n")
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert target.stat().st_mode & 0o777 == 0o644
    with pytest.raises(RuntimeError):
        with resources.atomic_writer(target) as fh:
            fh.write(b"half")
            raise RuntimeError("stopped")
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
