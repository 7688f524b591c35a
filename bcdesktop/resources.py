"""Where bundled files are read from and where per-user files are written.

One helper serves every way the app runs: from a source checkout (or an editable
install), from an installed wheel, and frozen by PyInstaller. Writable state
(settings, logs, matplotlib's cache) always goes to the per-user folder, never into
the bundle: :func:`is_bundled_file` / :func:`protected_paths` say which files ship
with the app, so that no writer replaces one.

:func:`atomic_writer` is the one way the app writes a file: a temporary file named
``.NAME.PID@HOST.RANDOM.SUFFIX`` beside the target, synced, then moved into place
(``os.replace``, or without ``overwrite`` a link that never replaces a file that
appeared meanwhile); it is removed on any exception, and the temporary files of
earlier writers that were killed are swept (:func:`sweep_stale_temps`).

:func:`open_regular_file` opens the files a user names for reading (a CSV, a model, the
settings) and refuses anything but a regular file (a FIFO, a device such as
``/dev/zero``) with :class:`NotAFile` before reading a byte, so none can hang the app.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import UserError
from .schema import printable

APP_NAME = "bcdesktop"
DATA_FILE = "breast-cancer-wisconsin.data"
DEFAULT_MODEL_FILE = "default_model.npz"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _roots() -> list[Path]:
    """Folders that may hold ``data/`` and ``assets/``, best first."""
    roots = []
    if is_frozen():
        roots.append(Path(sys._MEIPASS))  # type: ignore[attr-defined]
    roots.append(Path(__file__).resolve().parent.parent)  # source checkout / editable
    return roots


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("data", DATA_FILE)``.

    Looks in the bundle (frozen), the source tree, then the installed package
    ``bcdesktop._bundled`` (for ``data/``). Returns the first that exists, else the
    first candidate (so the caller's error names a sensible path).
    """
    candidates = [root.joinpath(*parts) for root in _roots()]
    if parts and parts[0] == "data":
        candidates.append(Path(__file__).resolve().parent.joinpath("_bundled", *parts[1:]))
    for path in candidates:
        if path.exists():
            return path
    return candidates[0]


def bundled_data_path() -> Path:
    """The bundled Wisconsin Breast Cancer (Original) file."""
    return resource_path("data", DATA_FILE)


def is_bundled_data(path) -> bool:
    """Whether ``path`` is the bundled data set (shown by name, not by its folder
    inside the install or the frozen bundle)."""
    try:
        return Path(path).resolve() == bundled_data_path().resolve()
    except (OSError, TypeError, ValueError):
        return False


def default_model_path() -> Path:
    """The model shipped with the app."""
    return resource_path("data", DEFAULT_MODEL_FILE)


def icon_path(size: int = 64) -> Path:
    """The app icon as a PNG of ``size`` pixels (one of :data:`ICON_SIZES`).

    For Tk: ``root.iconphoto(True, *(tk.PhotoImage(file=icon_path(n)) for n in (16, 32, 64)))``.
    """
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes are {ICON_SIZES}")
    return resource_path("assets", f"{APP_NAME}-{size}.png")


def _home() -> Path:
    """The user's home folder, which must be an existing folder given by an absolute path.

    A service account's ``HOME=/nonexistent``, ``HOME=/dev/null``, an empty or relative
    ``HOME`` is no home: OSError, so that nothing is created in its place (as root,
    ``mkdir -p`` would make ``/nonexistent``) and the callers run without per-user files.
    """
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError) as exc:  # no HOME and no passwd entry
        raise FileNotFoundError(errno.ENOENT, f"no home folder ({exc})") from None
    if not home.is_absolute():
        raise FileNotFoundError(errno.ENOENT, "no home folder (HOME is not an absolute path)", str(home))
    if not home.is_dir():
        if home.exists():
            raise NotADirectoryError(errno.ENOTDIR, "the home folder is not a folder", str(home))
        raise FileNotFoundError(errno.ENOENT, "the home folder does not exist", str(home))
    return home


def _base(variable: str, *default: str) -> Path:
    """``$variable`` when it is an absolute path (the XDG rule: a relative one is ignored),
    else ``_home() / default``."""
    value = os.environ.get(variable)
    if value and os.path.isabs(value):
        return Path(value)
    return _home().joinpath(*default)


def _make_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_dir() -> Path:
    """Per-user writable folder for settings and logs (created on demand).

    ``BCDESKTOP_HOME`` overrides it (tests use this). Otherwise the platform's usual
    place: ``%APPDATA%\\bcdesktop`` on Windows, ``~/Library/Application Support/bcdesktop``
    on macOS, ``$XDG_CONFIG_HOME/bcdesktop`` (default ``~/.config/bcdesktop``) elsewhere.

    Raises OSError when the folder cannot be made, also when there is no home folder
    to put it in (``HOME=/nonexistent`` or ``/dev/null``: see :func:`_home`); the
    callers then keep settings in memory and log to stderr.
    """
    override = os.environ.get("BCDESKTOP_HOME")
    if override:
        return _make_dir(Path(override))
    if sys.platform.startswith("win"):
        return _make_dir(_base("APPDATA", "AppData", "Roaming") / APP_NAME)
    if sys.platform == "darwin":
        return _make_dir(_home() / "Library" / "Application Support" / APP_NAME)
    return _make_dir(_base("XDG_CONFIG_HOME", ".config") / APP_NAME)


def user_cache_dir() -> Path:
    """Per-user cache folder (matplotlib's font cache goes here when frozen); OSError
    when it cannot be made, as :func:`user_dir`."""
    override = os.environ.get("BCDESKTOP_HOME")
    if override:
        return _make_dir(Path(override) / "cache")
    if sys.platform.startswith("win"):
        return _make_dir(_base("LOCALAPPDATA", "AppData", "Local") / APP_NAME / "cache")
    if sys.platform == "darwin":
        return _make_dir(_home() / "Library" / "Caches" / APP_NAME)
    return _make_dir(_base("XDG_CACHE_HOME", ".cache") / APP_NAME)


# --------------------------------------------------------------------------- shipped files

def bundled_folders() -> list[Path]:
    """The folders whose files ship with the app: ``data/`` and ``assets/`` of every
    place :func:`resource_path` looks in (the frozen bundle, the source tree) that hold
    this app's files, and the installed ``bcdesktop/_bundled`` (existing or not); resolved."""
    # Only folders that hold this app's own files: installed from a wheel, the root
    # above the package is site-packages, whose data/ or assets/ belong to others.
    marks = {"data": (DATA_FILE, DEFAULT_MODEL_FILE), "assets": (f"{APP_NAME}-64.png", f"{APP_NAME}.desktop")}
    folders = [root / name for root in _roots() for name in ("data", "assets")
               if any((root / name / mark).exists() for mark in marks[name])]
    folders.append(Path(__file__).resolve().parent / "_bundled")
    return list(dict.fromkeys(Path(os.path.realpath(f)) for f in folders))


def protected_paths() -> list[Path]:
    """Every file shipped with the app (the data set, the default model, the icons...):
    everything under :func:`bundled_folders`, resolved. Nothing the app writes may
    replace one of them (see :func:`is_bundled_file`)."""
    files = []
    for folder in bundled_folders():
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            files += [Path(dirpath) / name for name in sorted(filenames)]
    return files


def is_bundled_file(path) -> bool:
    """Whether ``path`` is one of the files shipped with the app, or lies in one of
    their folders: compared by identity, so a symbolic link, a ``..`` detour or a hard
    link elsewhere to a shipped file counts too. A path in a bundled folder counts even
    when no file is there yet (the app writes nothing into its own install)."""
    try:
        real = os.path.normcase(os.path.realpath(path))
    except (OSError, TypeError, ValueError):
        return False
    for folder in bundled_folders():
        top = os.path.normcase(str(folder))
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return True
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return False
    for shipped in protected_paths():
        with contextlib.suppress(OSError):
            other = os.stat(shipped)
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links and ``..`` are
    resolved, or two names (e.g. hard links) of one existing file."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable: not provably the same file
        return False


# --------------------------------------------------------------------------- reading files

class NotAFile(OSError):
    """The path names something that is not a regular file: a pipe, a device, a socket."""

    def __init__(self, path, kind: str):
        super().__init__(printable(f"{path} is {kind}, not a file"))
        self.kind = kind


def file_kind(mode: int) -> str:
    """What a non-regular file is, for a message: ``"a device"``, ``"a named pipe (FIFO)"``..."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular_file(path: str | os.PathLike):
    """Open a regular file for binary reading, refusing anything else before reading.

    A FIFO is opened without blocking and a device such as ``/dev/zero`` is refused, so
    neither can hang the app. Raises the ``open`` errors (``FileNotFoundError``,
    ``PermissionError``, ``IsADirectoryError``, ``OSError`` with ``errno.ELOOP`` for a
    symbolic-link loop) or :class:`NotAFile`.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise NotAFile(path, file_kind(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# --------------------------------------------------------------------------- atomic writes

class TargetExists(UserError):
    """An atomic write that may not replace a file found one at its target."""

    def __init__(self, path, appeared: bool = False):
        self.path = Path(path)
        self.appeared = appeared
        when = ("appeared while this file was being written (another program or run wrote it "
                "first); it was kept as it is" if appeared else "already exists")
        super().__init__(f"{path} {when}. Choose another name, or allow replacing it.")


#: ``os.link`` errors that mean "no hard links on this file system" (FAT, exFAT, some
#: network shares), where :func:`atomic_writer` claims the name with ``O_EXCL`` instead.
_NO_LINKS = {getattr(errno, name) for name in ("EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP",
                                                "ENOSYS", "EMLINK", "EXDEV", "EINVAL")
             if hasattr(errno, name)}


@functools.lru_cache(maxsize=1)
def host_tag() -> str:
    """8 hex digits naming this machine in temporary file names, so a sweep never takes
    a process id of another machine (a shared network folder) for one of ours."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _temp_stem(name: str) -> str:
    """NAME as the temporary file names it: shortened so that the whole temporary name
    stays within the 255 bytes most file systems allow."""
    room = 255 - len(".." + "9" * 10 + "@" + "h" * 8 + ".") - 8 - 16  # any PID, 8 random, a suffix
    while len(os.fsencode(name)) > room and name:
        name = name[:-1]
    return name


def _temp_prefix(name: str) -> str:
    """``.NAME.PID@HOST.``: mkstemp adds the random part and the suffix."""
    return f".{_temp_stem(name)}.{os.getpid()}@{host_tag()}."


def _temp_pattern(path: Path, suffix: str) -> re.Pattern:
    """The names :func:`atomic_writer` gives the temporary files of ``path``, any PID."""
    return re.compile(rf"\.{re.escape(_temp_stem(path.name))}\.([0-9]{{1,10}})@([0-9a-f]{{8}})"
                      rf"\.[A-Za-z0-9_]+{re.escape(suffix)}")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (True whenever unsure)."""
    if pid <= 0 or pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        try:
            import ctypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
            if not handle:
                return ctypes.get_last_error() != 87  # ERROR_INVALID_PARAMETER: no such process
            try:
                code = ctypes.c_ulong()
                if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                    return True
                return code.value == 259  # STILL_ACTIVE
            finally:
                kernel32.CloseHandle(handle)
        except Exception:  # pragma: no cover - no ctypes, or an unexpected answer
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: alive, another user's
        return True
    return True


def sweep_stale_temps(path: str | os.PathLike, suffix: str = ".tmp") -> list[Path]:
    """Remove the temporary files :func:`atomic_writer` left for ``path`` in earlier
    runs that were killed (``kill -9``, a power cut) before they could clean up.

    Only regular files named exactly as the writer names them
    (``.NAME.PID@HOST.RANDOM SUFFIX``), written on this machine by a process that no
    longer exists, are removed; anything else is left alone. Returns what was removed.
    """
    path = Path(path)
    pattern = _temp_pattern(path, suffix)
    host = host_tag()
    swept = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return swept
    for entry in sorted(entries, key=lambda e: e.name):
        match = pattern.fullmatch(entry.name)
        if match is None or match.group(2) != host or _pid_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        swept.append(path.parent / entry.name)
    return swept


def _check_target(path: Path, overwrite: bool, protect, appeared: bool = False) -> None:
    """UserError unless ``path`` may become the written file: never a protected file,
    never something that is not a regular file, and not an existing file unless
    ``overwrite``."""
    for other in protect:
        if same_file(path, other):
            raise UserError(f"{path} is the same file as {other}, which must not be replaced. "
                            "Choose another name.")
    try:
        st = os.stat(path)
    except OSError:  # missing, a dangling link, a link loop: nothing to protect there
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            kind = "a folder"
        else:
            kind = file_kind(st.st_mode)
        raise UserError(f"{path} is {kind}, not a file, and was left as it is. Give a file name.")
    if not overwrite and os.path.lexists(path):
        raise TargetExists(path, appeared=appeared)


def _move_new(tmp: str, path: Path) -> None:
    """Move ``tmp`` to ``path``, which must not exist: a file that appears there
    meanwhile is never replaced (``TargetExists``)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise TargetExists(path, appeared=True) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        _claim_and_replace(tmp, path)
    else:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _claim_and_replace(tmp: str, path: Path) -> None:
    """Without hard links: create ``path`` exclusively (so a file that appeared is
    seen), then move ``tmp`` over that empty placeholder."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        raise TargetExists(path, appeared=True) from None
    try:
        claimed = os.fstat(fd)
        os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # remove the placeholder, if it is still ours
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == (claimed.st_dev, claimed.st_ino):
                os.unlink(path)
        raise


def _read_umask() -> int:
    """The process's umask (read once, at import: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, suffix: str = ".tmp", *, overwrite: bool = True,
                  protect=(), swept: list | None = None) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only when the ``with`` block ends normally.

    It is a temporary file in the same folder, ``.NAME.PID@HOST.RANDOM SUFFIX``,
    synced and moved into place, so a reader never sees a half-written file. When the
    block raises anything (``KeyboardInterrupt``, ``SystemExit`` and the CLI's
    SIGTERM/SIGHUP exception included), the temporary file is removed and ``path``
    stays as it was. Temporary files of earlier writers of ``path`` that were killed
    are swept first (:func:`sweep_stale_temps`).

    Parameters
    ----------
    overwrite : bool
        Replace an existing file (``os.replace``). When False, an existing ``path`` is
        refused at the start, and a file that appears there while writing is never
        replaced: the final move is ``os.link`` (or, where the file system has no hard
        links, an ``O_EXCL`` create of the name); both raise :class:`TargetExists`.
    protect : iterable of paths
        Files that must never be replaced (the input being read, the model in use):
        ``path`` naming one of them (:func:`same_file`) is a UserError, checked at the
        start and again just before the move.
    swept : list, optional
        Extended with the stale temporary files removed.

    Raises
    ------
    UserError
        ``path`` is protected or is not a regular file (a folder, a pipe, a device;
        never replaced, even with ``overwrite``); :class:`TargetExists`.
    OSError
        The folder cannot be written to, or writing, syncing or moving failed (e.g.
        ``ENOSPC``); the temporary file is gone.
    """
    import tempfile

    path = Path(path)
    protect = tuple(protect)
    _check_target(path, overwrite, protect)
    removed = sweep_stale_temps(path, suffix)
    if swept is not None:
        swept.extend(removed)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=suffix, dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        # (0666 less the umask: a umask of 077 keeps patients' scores private), or keep
        # the mode of the file being replaced
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777 if overwrite and path.exists() else 0o666 & ~_UMASK)
        fh = os.fdopen(fd, "wb")
        try:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            # closing flushes what is buffered, which fails again on a full disk: that
            # second error must not replace the one already on its way
            with contextlib.suppress(OSError):
                fh.close()
            raise
        fh.close()
        _check_target(path, overwrite, protect, appeared=True)
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_new(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True,
                       protect=()) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, overwrite=overwrite, protect=protect) as fh:
        fh.write(data)


def configure_frozen_runtime() -> None:
    """Prepare a frozen app's process before anything else is imported.

    Called by the PyInstaller runtime hook (see ``build.spec``) and harmless from
    source, where it does nothing. It never raises: a failure here would end every
    command, ``--version`` included, with a traceback before the app could say why.

    - ``sys.stdout`` / ``sys.stderr`` are ``None`` in a windowed Windows build; they
      become ``os.devnull`` so that ``print`` and logging handlers cannot fail.
    - ``MPLCONFIGDIR`` points at ``user_cache_dir() / "matplotlib"``, so matplotlib's
      font cache is built once per user and kept, instead of in a new temporary folder
      at every start (PyInstaller's default, which the spec drops because a killed app
      leaves those folders behind and every start pays for a font scan). A value the
      user set is kept.
    - Without a writable per-user folder (``HOME=/dev/null``, a service account's
      ``HOME=/nonexistent``, a read-only home) the app runs anyway: one line on stderr
      says so, settings stay in memory and the log goes to stderr (the GUI copes with
      :func:`user_dir` raising), and matplotlib's cache goes to a temporary folder that
      is removed when the app ends (:func:`_temporary_mplconfigdir`).
    """
    if not is_frozen():
        return
    try:
        for name in ("stdout", "stderr"):
            if getattr(sys, name) is None:
                setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    except Exception:  # pragma: no cover - no os.devnull: print() will fail later, not here
        pass
    if os.environ.get("MPLCONFIGDIR"):
        return
    try:
        mpl_dir = _make_dir(user_cache_dir() / "matplotlib")
        if not os.access(mpl_dir, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable", str(mpl_dir))
        os.environ["MPLCONFIGDIR"] = str(mpl_dir)
        return
    except Exception as exc:  # OSError mostly; anything else must not stop the app either
        problem = _describe(exc)
    temporary = _temporary_mplconfigdir()
    where = "in a temporary folder" if temporary else "wherever matplotlib finds room"
    try:
        user_dir()
    except Exception:
        notice = (f"no writable per-user folder ({problem}); settings are not saved this time "
                  f"and matplotlib's cache is {where}")
    else:  # only the cache folder is unusable (XDG_CACHE_HOME read-only, say)
        notice = f"no writable cache folder ({problem}); matplotlib's cache is {where} this time"
    try:
        sys.stderr.write(f"bcdesktop: {notice}\n")
    except Exception:  # pragma: no cover - a closed or broken stderr
        pass


def _describe(exc: BaseException) -> str:
    """One line for an exception: ``PATH: reason`` for an OSError that names its file."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _temporary_mplconfigdir() -> str | None:
    """Point ``MPLCONFIGDIR`` at a new private temporary folder, removed at exit (a
    ``kill -9`` leaves it, as matplotlib's own fallback would). None when not even the
    temp directory can be written: matplotlib then tries its own fallback."""
    import atexit
    import shutil
    import tempfile

    try:
        path = tempfile.mkdtemp(prefix=f"{APP_NAME}-matplotlib-")
    except Exception:
        return None
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = path
    return path
