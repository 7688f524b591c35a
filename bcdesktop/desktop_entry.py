"""The Linux (freedesktop.org) menu entry: ``bcdesktop install-desktop-entry`` and
``bcdesktop uninstall-desktop-entry``.

Install writes, creating the folders a fresh account does not have yet::

    DATA/icons/hicolor/NxN/apps/bcdesktop.png     for N in resources.ICON_SIZES
    DATA/applications/bcdesktop.desktop           last, so it never names a missing icon

where DATA is ``$XDG_DATA_HOME`` (default ``~/.local/share``), or ``PREFIX/share`` with
``--prefix`` (``--prefix /usr`` into a package's root, say). Every file is written
atomically (:func:`bcdesktop.resources.atomic_write_bytes`). The entry's ``Exec`` is
the absolute path of the program that runs now: the executable itself when frozen,
else the ``bcdesktop`` console script beside this Python, else ``python -m
bcdesktop``; so it works whether or not ``~/.local/bin`` is on the desktop session's
PATH. Then the menu and icon caches are refreshed when their tools are installed
(``update-desktop-database``; ``gtk-update-icon-cache`` only where an icon cache
already exists, since a stale cache would hide the new icons and none is needed).

Uninstall removes only what install wrote: the ``.desktop`` file when it carries
:data:`MARKER` (a hand-made one is kept), each icon when its bytes are the app's own
icon of that size (an icon replaced since is kept); folders stay.

No tkinter here: the commands run without a display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bcdesktop import resources
from bcdesktop.errors import UserError

APP_ID = resources.APP_NAME
DESKTOP_FILE = f"{APP_ID}.desktop"
#: A key (the spec allows ``X-`` keys) that says the file was written by install, so
#: that uninstall never removes a menu entry someone else wrote.
MARKER_KEY = "X-bcdesktop-Installed-By"
MARKER = f"{MARKER_KEY}=bcdesktop install-desktop-entry"
GROUP = "[Desktop Entry]"
#: Characters that make an Exec argument need quotes (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
REFRESH_TIMEOUT_S = 60


@dataclass
class Report:
    """What a command did: lines to print, one per file or step."""

    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)


# --------------------------------------------------------------------------- where
def data_home(prefix: str | os.PathLike | None = None) -> Path:
    """``PREFIX/share``; else ``$XDG_DATA_HOME`` when absolute (the spec ignores a relative
    one); else ``~/.local/share``."""
    if prefix is not None:
        return Path(os.path.abspath(prefix)) / "share"
    value = os.environ.get("XDG_DATA_HOME")
    if value and os.path.isabs(value):
        return Path(value)
    try:
        return resources._home() / ".local" / "share"
    except OSError as exc:
        raise UserError(f"No home folder to install the menu entry in ({resources._describe(exc)}). "
                        "Set XDG_DATA_HOME or give --prefix.") from None


def desktop_path(data: Path) -> Path:
    return data / "applications" / DESKTOP_FILE


def icon_paths(data: Path) -> dict[int, Path]:
    """Where each icon size goes in the hicolor theme."""
    return {n: data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png"
            for n in resources.ICON_SIZES}


def default_command() -> list[str]:
    """The absolute command that starts this app: the frozen executable, or the
    ``bcdesktop`` console script installed beside this Python, or ``python -m bcdesktop``.
    Paths are made absolute but links are not resolved (a virtualenv's python is one)."""
    if resources.is_frozen():
        return [os.path.abspath(sys.executable)]
    python = os.path.abspath(sys.executable)
    script = Path(python).with_name(APP_ID)
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [python, "-m", APP_ID]


# --------------------------------------------------------------------------- the Exec key
def _check_text(arg: str) -> None:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{arg!r} is not valid UTF-8, which a menu entry must be; "
                        "move the app to a folder with a plainer name.") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in arg):
        raise UserError(f"{arg!r} has a control character (a newline?), which a menu entry "
                        "cannot hold; move the app to a folder with a plainer name.")


def quote_exec_arg(arg: str) -> str:
    """One Exec argument, quoted when needed and with ``%`` doubled, as the string the
    key's value holds (so a backslash is written ``\\\\\\\\``: once for the quoting, once
    for the string escape)."""
    _check_text(arg)
    arg = arg.replace("%", "%%")
    if arg and not (set(arg) & _RESERVED) and arg[0] != "=":
        return arg
    inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return '"' + inner.replace("\\", "\\\\") + '"'


def exec_line(command: list[str], *args: str) -> str:
    """The Exec value: the quoted command, then ``args`` as given (field codes like ``%f``)."""
    return " ".join([*(quote_exec_arg(a) for a in command), *args])


def _unescape_string(value: str) -> str:
    """A desktop file string value's escapes: ``\\s \\n \\t \\r \\\\``."""
    out, i = [], 0
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def exec_argv(value: str, files: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The argv a desktop environment runs for an Exec value (the spec's rules): string
    escapes undone, quoted arguments unquoted, ``%f``/``%F``/``%u``/``%U`` replaced by
    ``files`` (the first, or all), ``%%`` by ``%``, other field codes dropped."""
    text = _unescape_string(value)
    words: list[tuple[str, bool]] = []  # (word, was quoted)
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        if text[i] == '"':
            i += 1
            word = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"`$\\':
                    i += 1
                word.append(text[i])
                i += 1
            if i >= n:
                raise ValueError(f"unterminated quote in Exec={value!r}")
            i += 1
            words.append(("".join(word), True))
        else:
            j = text.find(" ", i)
            j = n if j < 0 else j
            words.append((text[i:j], False))
            i = j
    argv: list[str] = []
    for word, quoted in words:
        if not quoted and word in ("%f", "%u"):
            argv += list(files[:1])
            continue
        if not quoted and word in ("%F", "%U"):
            argv += list(files)
            continue
        out, k = [], 0
        while k < len(word):
            if word[k] == "%" and k + 1 < len(word):
                if word[k + 1] == "%":
                    out.append("%")
                k += 2  # any other field code inside a word is dropped
                continue
            out.append(word[k])
            k += 1
        if out or quoted:
            argv.append("".join(out))
    return argv


def parse_entry(text: str) -> dict[str, str]:
    """The keys of a desktop file's ``[Desktop Entry]`` group (values as written)."""
    entry, in_group = {}, False
    for line in text.splitlines():
        if line.startswith("["):
            in_group = line.strip() == GROUP
        elif in_group and "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entry[key.strip()] = value.strip()
    return entry


def read_entry(path: str | os.PathLike) -> dict[str, str]:
    """:func:`parse_entry` of a file."""
    return parse_entry(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the file
def render(command: list[str]) -> str:
    """The app's desktop file (``assets/bcdesktop.desktop``) with ``Exec`` and ``TryExec``
    naming ``command`` by absolute path, and :data:`MARKER`."""
    if not os.path.isabs(command[0]):
        raise UserError(f"the menu entry needs an absolute path to the program, not '{command[0]}'")
    template = resources.resource_path("assets", DESKTOP_FILE).read_text(encoding="utf-8")
    lines, in_group, done = [], False, set()
    for line in template.splitlines():
        if line.startswith("#"):  # the template's own comments
            continue
        if line.startswith("["):
            if in_group and MARKER_KEY not in done:
                lines.append(MARKER)
                done.add(MARKER_KEY)
            in_group = line.strip() == GROUP
        elif in_group:
            key = line.partition("=")[0].strip()
            if key == "Exec":
                args = line.partition("=")[2].split()[1:]  # the template's own arguments: gui %f
                line = f"Exec={exec_line(command, *args)}"
            elif key == "TryExec":
                line = f"TryExec={_string_escape(command[0])}"
            elif key == MARKER_KEY:
                continue
            done.add(key)
        lines.append(line)
    if in_group and MARKER_KEY not in done:
        lines.append(MARKER)
    return "\n".join(lines) + "\n"


def _string_escape(text: str) -> str:
    """A plain string value (TryExec is a path, not an Exec command line)."""
    _check_text(text)
    return text.replace("\\", "\\\\")


def _ours(path: Path) -> bool:
    try:
        return read_entry(path).get(MARKER_KEY) == MARKER.partition("=")[2]
    except (OSError, UnicodeDecodeError):
        return False


def _write(path: Path, data: bytes, report: Report, what: str) -> None:
    existed = path.is_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if resources.is_bundled_file(path):
            raise UserError(f"{path} is inside the app's own files; give another --prefix.")
        resources.atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"Could not write {path} ({exc.strerror or exc}). Check that the folder "
                        "can be written to (or give --prefix), then run the command again.") from None
    report.add(f"{'replaced' if existed else 'wrote'} {path}{what}")


# --------------------------------------------------------------------------- refresh caches
def refresh_caches(data: Path, report: Report) -> None:
    """Best effort: ``update-desktop-database`` on the applications folder, and
    ``gtk-update-icon-cache`` on the hicolor folder when it already has a cache (or a
    theme index). A missing tool or a failure is one line, never an error."""
    theme = data / "icons" / "hicolor"
    steps = [(["update-desktop-database", "-q", str(data / "applications")], True),
             (["gtk-update-icon-cache", "-q", "-t", "-f", str(theme)],
              (theme / "icon-theme.cache").exists() or (theme / "index.theme").exists())]
    for cmd, wanted in steps:
        if not wanted or shutil.which(cmd[0]) is None:
            continue
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=REFRESH_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            report.add(f"note: {cmd[0]} did not run ({exc}); the menu may update at next login")
            continue
        if done.returncode == 0:
            report.add(f"ran {cmd[0]}")
        else:
            first = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
            report.add(f"note: {cmd[0]} failed ({first}); the menu may update at next login")


# --------------------------------------------------------------------------- the commands
def _linux_only(name: str) -> None:
    if sys.platform.startswith("win") or sys.platform == "darwin":
        raise UserError(f"{name} is for Linux desktops (freedesktop.org menus); on this system "
                        "make a shortcut to the executable instead.")


def install(prefix: str | os.PathLike | None = None, command: list[str] | None = None, *,
            refresh: bool = True) -> Report:
    """Write the icons and the menu entry (see the module docstring). ``command`` is the
    program the entry starts (default :func:`default_command`)."""
    _linux_only("install-desktop-entry")
    command = list(command) if command else default_command()
    text = render(command)  # checks the command before anything is written
    data = data_home(prefix)
    report = Report()
    for size, path in icon_paths(data).items():
        _write(path, resources.icon_path(size).read_bytes(), report, "")
    entry = desktop_path(data)
    _write(entry, text.encode("utf-8"), report,
           f" (Exec={parse_entry(text)['Exec']})")
    if refresh:
        refresh_caches(data, report)
    return report


def uninstall(prefix: str | os.PathLike | None = None, *, refresh: bool = True) -> Report:
    """Remove what :func:`install` wrote, and nothing else (see the module docstring)."""
    _linux_only("uninstall-desktop-entry")
    data = data_home(prefix)
    report = Report()
    entry = desktop_path(data)
    targets = [(entry, _ours(entry) if entry.is_file() and not entry.is_symlink() else False,
                "it was not written by 'bcdesktop install-desktop-entry'")]
    for size, path in icon_paths(data).items():
        try:
            same = (path.is_file() and not path.is_symlink()
                    and path.read_bytes() == resources.icon_path(size).read_bytes())
        except OSError:
            same = False
        targets.append((path, same, "it is not bcdesktop's icon"))
    removed = 0
    for path, ours, why_not in targets:
        if not os.path.lexists(path):
            continue
        if not ours:
            report.add(f"kept {path}: {why_not}")
            continue
        try:
            path.unlink()
        except OSError as exc:
            raise UserError(f"Could not remove {path} ({exc.strerror or exc}).") from None
        report.add(f"removed {path}")
        removed += 1
    if not report.lines:
        report.add(f"nothing to remove: no bcdesktop menu entry or icons under {data}")
    if removed and refresh:
        refresh_caches(data, report)
    return report
