"""bcdesktop.resources: bundled files from source and frozen, per-user folders, atomic writes."""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from bcdesktop import resources
from bcdesktop.errors import UserError

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
    assert target.stat().st_mode & 0o777 == 0o666 & ~resources._UMASK  # as a plain open() gives
    with pytest.raises(RuntimeError):
        with resources.atomic_writer(target) as fh:
            fh.write(b"half")
            raise RuntimeError("stopped")
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# ---------------------------------------------------------------- files shipped with the app

def test_bundled_files_are_recognised_by_identity(frozen, tmp_path):
    model = frozen / "data" / resources.DEFAULT_MODEL_FILE
    model.write_bytes(b"model")
    (frozen / "assets").mkdir()
    icon = frozen / "assets" / "bcdesktop-64.png"
    icon.write_bytes(b"png")
    assert resources.default_model_path() == model
    protected = resources.protected_paths()
    assert model.resolve() in protected and icon.resolve() in protected
    assert (REPO / "data" / resources.DATA_FILE).resolve() in protected  # the source tree's too
    (tmp_path / "sub").mkdir()
    hard = tmp_path / "hard.npz"
    os.link(model, hard)
    soft = tmp_path / "soft.npz"
    soft.symlink_to(model)
    copy = tmp_path / "copy.npz"
    copy.write_bytes(model.read_bytes())
    for path in (model, icon, hard, soft, frozen / "data" / "sub" / ".." / resources.DEFAULT_MODEL_FILE,
                 frozen / "data" / "new.csv",  # a new file inside a bundled folder: not ours to write
                 resources.bundled_data_path(), resources.default_model_path(), resources.icon_path(64)):
        assert resources.is_bundled_file(path), path
    for path in (copy, tmp_path / "missing.npz", tmp_path / "sub", frozen / "data-other.csv"):
        assert not resources.is_bundled_file(path), path


def test_the_source_tree_files_are_bundled_files():
    for path in (resources.bundled_data_path(), resources.default_model_path(),
                 resources.icon_path(16), resources.resource_path("data", "README.md")):
        assert resources.is_bundled_file(path), path
    assert not resources.is_bundled_file(REPO / "README.md")


def test_same_file_sees_through_links_and_dotdot(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x\n")
    (tmp_path / "sub").mkdir()
    os.link(a, tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to(a)
    for other in (tmp_path / "sub" / ".." / "a.csv", tmp_path / "hard.csv", tmp_path / "soft.csv"):
        assert resources.same_file(a, other)
    assert not resources.same_file(a, tmp_path / "b.csv")
    (tmp_path / "b.csv").write_text("x\n")
    assert not resources.same_file(a, tmp_path / "b.csv")


# ---------------------------------------------------------------- atomic_writer: refusals and races

def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_atomic_writer_without_overwrite_refuses_an_existing_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_bytes(b"precious")
    with pytest.raises(resources.TargetExists, match="already exists"):
        with resources.atomic_writer(target, overwrite=False) as fh:
            fh.write(b"new")
    assert target.read_bytes() == b"precious" and names(tmp_path) == ["out.csv"]
    with pytest.raises(resources.TargetExists):
        resources.atomic_write_bytes(target, b"new", overwrite=False)
    assert target.read_bytes() == b"precious" and names(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("links", ["hard links", "no hard links"])
def test_atomic_writer_without_overwrite_never_replaces_a_file_that_appeared(tmp_path, monkeypatch, links):
    if links == "no hard links":  # FAT, exFAT, some network shares: link() fails with EPERM
        def no_link(*args, **kwargs):
            raise PermissionError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "out.csv"
    with pytest.raises(resources.TargetExists, match="appeared"):
        with resources.atomic_writer(target, overwrite=False) as fh:
            fh.write(b"mine")
            target.write_bytes(b"theirs")  # another run finished first
    assert target.read_bytes() == b"theirs" and names(tmp_path) == ["out.csv"]
    # two writers of one new file: the first to finish wins, the second is told
    second = tmp_path / "second.csv"
    with pytest.raises(resources.TargetExists, match="appeared"):
        with resources.atomic_writer(second, overwrite=False) as a:
            a.write(b"A")
            with resources.atomic_writer(second, overwrite=False) as b:
                b.write(b"B")
            assert second.read_bytes() == b"B"
    assert second.read_bytes() == b"B"
    assert names(tmp_path) == ["out.csv", "second.csv"]
    # and with nothing in the way the file is written
    third = tmp_path / "third.csv"
    with resources.atomic_writer(third, overwrite=False) as fh:
        fh.write(b"ok")
    assert third.read_bytes() == b"ok" and third.stat().st_mode & 0o777 == 0o666 & ~resources._UMASK
    assert names(tmp_path) == ["out.csv", "second.csv", "third.csv"]


def test_atomic_writer_never_replaces_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    (tmp_path / "to-pipe").symlink_to(fifo)
    for target, kind in ((fifo, "named pipe"), (tmp_path / "folder", "folder"),
                         (tmp_path / "to-pipe", "named pipe")):
        with pytest.raises(UserError, match=kind):
            resources.atomic_write_bytes(target, b"data")  # overwrite=True by default
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and (tmp_path / "folder").is_dir()
    assert os.path.islink(tmp_path / "to-pipe")
    assert names(tmp_path) == ["folder", "pipe", "to-pipe"]


def test_atomic_writer_never_replaces_a_protected_file(tmp_path):
    model = tmp_path / "model.npz"
    model.write_bytes(b"model")
    os.link(model, tmp_path / "hard.npz")
    for target in (model, tmp_path / "hard.npz"):
        with pytest.raises(UserError, match="must not be replaced"):
            resources.atomic_write_bytes(target, b"csv", protect=[model])
    # a protected file linked to the target while writing is caught before the move
    target = tmp_path / "out.csv"
    with pytest.raises(UserError, match="must not be replaced"):
        with resources.atomic_writer(target, protect=[model]) as fh:
            fh.write(b"csv")
            os.link(model, target)
    assert model.read_bytes() == b"model" and names(tmp_path) == ["hard.npz", "model.npz", "out.csv"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, RuntimeError])
def test_atomic_writer_removes_its_temporary_file_on_any_exception(tmp_path, exc):
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    with pytest.raises(exc):
        with resources.atomic_writer(target, suffix=".part") as fh:
            fh.write(b"x" * 100_000)
            raise exc()
    assert target.read_bytes() == b"old" and names(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("failing", ["fsync", "replace", "link"])
def test_atomic_writer_that_cannot_finish_leaves_no_temporary(tmp_path, monkeypatch, failing):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, full)
    target = tmp_path / "out.csv"
    if failing != "link":  # (the move without overwrite is a link)
        target.write_bytes(b"old")
    with pytest.raises(OSError) as info:
        with resources.atomic_writer(target, overwrite=failing != "link") as fh:
            fh.write(b"new")
    assert info.value.errno == errno.ENOSPC
    assert names(tmp_path) == ([] if failing == "link" else ["out.csv"])
    assert failing == "link" or target.read_bytes() == b"old"


# ---------------------------------------------------------------- stale temporary files

TEMP = re.compile(r"^\.out\.csv\.(\d+)@([0-9a-f]{8})\.[A-Za-z0-9_]+\.part$")


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        try:
            os.kill(proc.pid, 0)
        except ProcessLookupError:
            return proc.pid
    pytest.skip("every exited process id was reused at once")


def test_temporary_name_holds_the_writer_pid(tmp_path):
    target = tmp_path / "out.csv"
    with resources.atomic_writer(target, suffix=".part"):
        (temp,) = [p.name for p in tmp_path.iterdir()]
    match = TEMP.match(temp)
    assert match and int(match.group(1)) == os.getpid(), temp
    assert match.group(2) == resources.host_tag()


def test_stale_temporaries_of_dead_writers_are_swept_and_nothing_else(tmp_path):
    target = tmp_path / "out.csv"
    host, dead, alive = resources.host_tag(), dead_pid(), os.getppid()
    stale = tmp_path / f".out.csv.{dead}@{host}.k2j4h5g6.part"
    kept = [
        f".out.csv.{os.getpid()}@{host}.abcdefgh.part",  # this process: alive
        f".out.csv.{alive}@{host}.abcdefgh.part",  # the parent: alive
        f".out.csv.{dead}@{'0' * 8 if host != '0' * 8 else '1' * 8}.abcdefgh.part",  # another machine
        f".out.csv.{dead}@{host}.abcdefgh.tmp",  # another writer's suffix
        f".other.csv.{dead}@{host}.abcdefgh.part",  # another target
        f".out.csv.{dead}.abcdefgh.part",  # not our pattern
        f".out.csv.{dead}@{host}.abc.def.part",
        f".out.csv.0@{host}.abcdefgh.part",  # pid 0 is not a process
        f"out.csv.{dead}@{host}.abcdefgh.part",
        "out.csv.part", ".out.csv.part",
    ]
    stale.write_bytes(b"half a file")
    for name in kept:
        (tmp_path / name).write_bytes(b"keep")
    folder = tmp_path / f".out.csv.{dead}@{host}.folder000.part"
    folder.mkdir()
    link = tmp_path / f".out.csv.{dead}@{host}.link0000.part"
    link.symlink_to(tmp_path / "out.csv.part")
    swept = []
    with resources.atomic_writer(target, suffix=".part", swept=swept) as fh:
        fh.write(b"new")
    assert swept == [stale] and not stale.exists()
    assert names(tmp_path) == sorted([*kept, folder.name, link.name, "out.csv"])
    assert resources.sweep_stale_temps(target, ".part") == []


def test_a_long_file_name_still_gets_a_temporary_and_its_sweep(tmp_path):
    target = tmp_path / ("é" * 120 + ".csv")  # 244 bytes: the temporary name is shortened
    stale = tmp_path / f".{'é' * 104}.{dead_pid()}@{resources.host_tag()}.abcdefgh.part"
    stale.write_bytes(b"")
    swept = []
    resources.atomic_write_bytes(target, b"x")
    with resources.atomic_writer(target, suffix=".part", overwrite=True, swept=swept) as fh:
        fh.write(b"y")
    assert target.read_bytes() == b"y" and swept == [stale]
    assert names(tmp_path) == [target.name]


def test_a_written_file_follows_the_umask(tmp_path, monkeypatch):
    # found by review: under umask 077 a scored file was world-readable (0644)
    monkeypatch.setattr(resources, "_UMASK", 0o077)
    target = tmp_path / "private.csv"
    resources.atomic_write_bytes(target, b"scores")
    assert target.stat().st_mode & 0o777 == 0o600


def test_an_error_closing_the_file_does_not_hide_the_error_on_its_way(tmp_path, monkeypatch):
    # found by review: on a full disk the buffered bytes fail again when the file is
    # closed, and that second OSError replaced the first error (reported as a read error)
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def write(self, b):
            return len(b)  # buffered: nothing reaches the disk yet

        def close(self):
            self.fh.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    target = tmp_path / "out.csv"
    with pytest.raises(ValueError, match="the first error"):
        with resources.atomic_writer(target) as fh:
            fh.write(b"x" * 100)
            raise ValueError("the first error")
    assert list(tmp_path.iterdir()) == []


def test_another_packages_data_folder_beside_the_package_is_not_ours(tmp_path, monkeypatch):
    # installed from a wheel, the root above bcdesktop/ is site-packages: a data/ folder
    # there belongs to some other package and must be neither walked nor protected
    site = tmp_path / "site-packages"
    (site / "data").mkdir(parents=True)
    (site / "data" / "their.csv").write_text("x")
    monkeypatch.setattr(resources, "_roots", lambda: [site])
    assert site / "data" not in resources.bundled_folders()
    assert not resources.is_bundled_file(site / "data" / "out.csv")
    (site / "data" / resources.DATA_FILE).write_text("ours")
    assert (site / "data").resolve() in resources.bundled_folders()
