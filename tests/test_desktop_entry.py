"""``bcdesktop install-desktop-entry`` / ``uninstall-desktop-entry`` (bcdesktop.desktop_entry).

Everything goes to a temporary ``XDG_DATA_HOME`` (or ``--prefix``); the cache tools are
replaced by recording fakes on PATH unless a test runs the real ones. The written file
is checked with ``desktop-file-validate`` when it is installed (apt-get install
desktop-file-utils), else parsed.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bcdesktop import desktop_entry, resources
from bcdesktop.errors import UserError

REPO = Path(__file__).resolve().parent.parent
SIZES = resources.ICON_SIZES


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """A fresh account's XDG_DATA_HOME: not even the folder exists yet."""
    path = tmp_path / "fresh" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture
def fake_tools(tmp_path, monkeypatch) -> Path:
    """update-desktop-database and gtk-update-icon-cache that only record their arguments."""
    bin_dir, log = tmp_path / "bin", tmp_path / "tools.log"
    bin_dir.mkdir()
    for name in ("update-desktop-database", "gtk-update-icon-cache"):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def validate(path: Path) -> None:
    """desktop-file-validate when installed; the parse below in any case."""
    tool = shutil.which("desktop-file-validate")
    if tool:
        done = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"))
    entry = parser["Desktop Entry"]
    for key in ("Type", "Name", "Exec", "TryExec", "Icon"):
        assert entry.get(key), key
    assert entry["Type"] == "Application" and entry["Icon"] == "bcdesktop"


def exec_of(path: Path, files=()) -> list[str]:
    return desktop_entry.exec_argv(desktop_entry.read_entry(path)["Exec"], files)


# ------------------------------------------------------------------ install
def test_install_on_a_fresh_account_creates_the_folders_and_an_absolute_exec(data, fake_tools):
    umask = os.umask(0o022)
    os.umask(umask)
    report = desktop_entry.install()
    entry = data / "applications" / "bcdesktop.desktop"
    validate(entry)
    argv = exec_of(entry, ["/data/patients.csv"])
    assert argv == [*desktop_entry.default_command(), "gui", "/data/patients.csv"]
    assert os.path.isabs(argv[0]) and os.access(argv[0], os.X_OK)
    assert desktop_entry.read_entry(entry)["TryExec"] == argv[0]
    assert entry.read_text(encoding="utf-8").startswith("[Desktop Entry]\n")  # not the template's comments
    for n in SIZES:
        icon = data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "bcdesktop.png"
        assert icon.read_bytes() == (REPO / "assets" / f"bcdesktop-{n}.png").read_bytes()
        assert stat.S_IMODE(icon.stat().st_mode) == 0o666 & ~umask  # readable, as a plain copy is
        assert f"wrote {icon}" in report.lines
    assert report.lines[len(SIZES)].startswith(f"wrote {entry} (Exec=")  # the entry comes last
    # the menu cache is refreshed; the icon cache is not made where there was none
    assert fake_tools.read_text().splitlines() == [f"update-desktop-database -q {data / 'applications'}"]
    assert not [p for p in data.rglob("*") if p.name.startswith(".")], "a temporary file was left"


def test_the_entry_keeps_the_shipped_entrys_keys(data, fake_tools):
    desktop_entry.install()
    shipped = desktop_entry.read_entry(REPO / "assets" / "bcdesktop.desktop")
    written = desktop_entry.read_entry(data / "applications" / "bcdesktop.desktop")
    assert {k: v for k, v in written.items() if k not in ("Exec", "TryExec", desktop_entry.MARKER_KEY)} \
        == {k: v for k, v in shipped.items() if k not in ("Exec", "TryExec")}
    assert shipped["Exec"].split()[1:] == ["gui", "%f"] == written["Exec"].split()[-2:]


def test_the_default_command_from_source_is_this_pythons_console_script_or_module(monkeypatch, tmp_path):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.setattr(sys, "executable", str(python))
    assert desktop_entry.default_command() == [str(python), "-m", "bcdesktop"]
    script = python.with_name("bcdesktop")
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert desktop_entry.default_command() == [str(script)]


def test_the_frozen_command_is_the_executable(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/bcdesktop/bcdesktop")
    assert desktop_entry.default_command() == ["/opt/bcdesktop/bcdesktop"]


def test_xdg_data_home_defaults_to_local_share_and_a_relative_one_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"
    assert desktop_entry.data_home(tmp_path / "pkg" / "usr") == tmp_path / "pkg" / "usr" / "share"


@pytest.mark.parametrize("folder", ["My Apps", "it's", 'a"b', "c$d", "e`f", "g\\h", "50%", "~x", "a;b&c|d"])
def test_any_folder_name_survives_the_exec_quoting(data, fake_tools, tmp_path, folder):
    program = str(tmp_path / folder / "bcdesktop")
    desktop_entry.install(command=[program], refresh=False)
    entry = data / "applications" / "bcdesktop.desktop"
    validate(entry)
    assert exec_of(entry) == [program, "gui"]
    assert exec_of(entry, ["/x y.csv"]) == [program, "gui", "/x y.csv"]
    assert desktop_entry._unescape_string(desktop_entry.read_entry(entry)["TryExec"]) == program


@pytest.mark.parametrize("command", [["relative/bcdesktop"], ["/opt/new\nline/bcdesktop"],
                                     ["/opt/\udcff/bcdesktop"]], ids=["relative", "newline", "not-utf8"])
def test_a_program_path_no_menu_entry_can_hold_is_refused_before_anything_is_written(data, command):
    with pytest.raises(UserError):
        desktop_entry.install(command=command, refresh=False)
    assert not data.exists()


def test_reinstall_replaces_a_hand_copied_entry(data, fake_tools):
    """The README's old steps copied assets/bcdesktop.desktop (Exec=bcdesktop): replaced."""
    entry = data / "applications" / "bcdesktop.desktop"
    entry.parent.mkdir(parents=True)
    shutil.copy(REPO / "assets" / "bcdesktop.desktop", entry)
    report = desktop_entry.install(refresh=False)
    assert any(line.startswith(f"replaced {entry}") for line in report.lines)
    assert os.path.isabs(exec_of(entry)[0])
    assert desktop_entry.install(refresh=False).lines == [
        line.replace("wrote", "replaced", 1) for line in report.lines if "replaced" in line or "wrote" in line]


def test_an_icon_cache_that_exists_is_refreshed(data, fake_tools):
    theme = data / "icons" / "hicolor"
    theme.mkdir(parents=True)
    (theme / "icon-theme.cache").write_bytes(b"")
    desktop_entry.install()
    assert f"gtk-update-icon-cache -q -t -f {theme}" in fake_tools.read_text().splitlines()


def test_a_failing_cache_tool_is_a_note_not_an_error(data, fake_tools):
    tool = fake_tools.parent / "bin" / "update-desktop-database"
    tool.write_text("#!/bin/sh\necho 'cannot do that' >&2\nexit 3\n")
    report = desktop_entry.install()
    assert report.lines[-1].startswith("note: update-desktop-database failed (cannot do that)")


def test_the_real_cache_tools_accept_the_install(data):
    if not shutil.which("update-desktop-database"):
        pytest.skip("update-desktop-database is not installed (apt-get install desktop-file-utils)")
    report = desktop_entry.install()
    assert "ran update-desktop-database" in report.lines
    cache = (data / "applications" / "mimeinfo.cache").read_text(encoding="utf-8")
    assert "text/csv=bcdesktop.desktop;" in cache


# ------------------------------------------------------------------ uninstall
def test_uninstall_removes_only_what_install_wrote(data, fake_tools):
    desktop_entry.install(refresh=False)
    apps = data / "applications"
    other = apps / "other.desktop"
    other.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=/bin/true\n")
    changed = data / "icons" / "hicolor" / "48x48" / "apps" / "bcdesktop.png"
    changed.write_bytes(b"someone else's icon")
    neighbour = changed.with_name("other.png")
    neighbour.write_bytes(b"png")
    report = desktop_entry.uninstall()
    assert not (apps / "bcdesktop.desktop").exists()
    assert other.exists() and neighbour.exists() and changed.read_bytes() == b"someone else's icon"
    assert f"kept {changed}: it is not bcdesktop's icon" in report.lines
    left = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.png"))
    assert left == ["icons/hicolor/48x48/apps/bcdesktop.png", "icons/hicolor/48x48/apps/other.png"]
    assert sum(line.startswith("removed ") for line in report.lines) == len(SIZES)  # 7 icons + the entry
    assert f"update-desktop-database -q {apps}" in fake_tools.read_text()


def test_uninstall_keeps_a_menu_entry_it_did_not_write(data, fake_tools):
    entry = data / "applications" / "bcdesktop.desktop"
    entry.parent.mkdir(parents=True)
    shutil.copy(REPO / "assets" / "bcdesktop.desktop", entry)
    report = desktop_entry.uninstall()
    assert entry.exists()
    assert report.lines == [f"kept {entry}: it was not written by 'bcdesktop install-desktop-entry'"]
    assert not fake_tools.exists()  # nothing removed, nothing to refresh


def test_uninstall_with_nothing_installed_says_so(data):
    assert desktop_entry.uninstall().lines == [
        f"nothing to remove: no bcdesktop menu entry or icons under {data}"]


# ------------------------------------------------------------------ the commands
def run_cli(args, env_update: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_update}
    return subprocess.run([sys.executable, "-m", "bcdesktop", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)


def test_the_commands_install_a_working_entry_and_remove_it(tmp_path, fake_tools):
    data = tmp_path / "xdg"
    env = {"XDG_DATA_HOME": str(data), "PATH": os.environ["PATH"]}
    done = run_cli(["install-desktop-entry"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    entry = data / "applications" / "bcdesktop.desktop"
    assert done.stdout.splitlines()[len(SIZES)].startswith(f"wrote {entry} (Exec=")
    validate(entry)
    argv = exec_of(entry)
    assert argv[-1] == "gui"
    started = subprocess.run([*argv[:-1], "--version"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
    assert started.stdout.strip().startswith("bcdesktop "), started.stderr
    done = run_cli(["uninstall-desktop-entry", "--no-cache-update"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(data.rglob("bcdesktop*"))


def test_install_with_prefix_and_exec_for_a_package(tmp_path, fake_tools):
    root = tmp_path / "pkg"
    done = run_cli(["install-desktop-entry", "--prefix", str(root / "usr"), "--exec",
                    "/opt/bcdesktop/bcdesktop", "--no-cache-update"], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    entry = root / "usr" / "share" / "applications" / "bcdesktop.desktop"
    assert exec_of(entry) == ["/opt/bcdesktop/bcdesktop", "gui"]
    assert (root / "usr" / "share" / "icons" / "hicolor" / "512x512" / "apps" / "bcdesktop.png").is_file()
    assert not fake_tools.exists()
    assert sorted(p.name for p in (root / "usr" / "share" / "applications").iterdir()) == ["bcdesktop.desktop"]


@pytest.mark.parametrize("args, env", [
    (["install-desktop-entry", "--prefix", "/dev/null"], {}),
    (["install-desktop-entry", "--exec", "bcdesktop"], {}),
    (["install-desktop-entry"], {"HOME": "/dev/null", "XDG_DATA_HOME": ""}),
    (["uninstall-desktop-entry"], {"HOME": "/nonexistent", "XDG_DATA_HOME": ""}),
], ids=["unwritable", "relative-exec", "no-home", "no-home-uninstall"])
def test_what_a_user_can_fix_is_one_line(tmp_path, args, env):
    done = run_cli(args, {"XDG_DATA_HOME": str(tmp_path / "xdg"), **env}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert not Path("/nonexistent").exists()


def test_the_module_needs_no_display_toolkit(tmp_path):
    script = ("import json, sys; from bcdesktop import desktop_entry, cli; "
              f"desktop_entry.install({str(tmp_path / 'p')!r}, refresh=False); "
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tkinter', '_tkinter', 'matplotlib'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
