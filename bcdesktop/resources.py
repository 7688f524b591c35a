"""Where bundled files are read from and where per-user files are written.

One helper serves every way the app runs: from a source checkout (or an editable
install), from an installed wheel, and frozen by PyInstaller. Writable state
(settings, logs, matplotlib's cache) always goes to the per-user folder, never into
the bundle.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

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


def user_dir() -> Path:
    """Per-user writable folder for settings and logs (created on demand).

    ``BCDESKTOP_HOME`` overrides it (tests use this). Otherwise the platform's usual
    place: ``%APPDATA%\\bcdesktop`` on Windows, ``~/Library/Application Support/bcdesktop``
    on macOS, ``$XDG_CONFIG_HOME/bcdesktop`` (default ``~/.config/bcdesktop``) elsewhere.
    """
    override = os.environ.get("BCDESKTOP_HOME")
    if override:
        path = Path(override)
    elif sys.platform.startswith("win"):
        path = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / APP_NAME
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Application Support" / APP_NAME
    else:
        path = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    """Per-user cache folder (matplotlib's font cache goes here when frozen)."""
    override = os.environ.get("BCDESKTOP_HOME")
    if override:
        path = Path(override) / "cache"
    elif sys.platform.startswith("win"):
        path = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / APP_NAME / "cache"
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Caches" / APP_NAME
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only when the ``with`` block ends normally.

    It is a temporary file in the same folder (``.NAME.*SUFFIX``), synced and moved into
    place with ``os.replace``, so a reader never sees a half-written file. When the block
    raises, the temporary file is removed and ``path`` stays as it was. Creating the
    temporary file raises ``OSError`` when the folder cannot be written to.
    """
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would,
        # or keep the mode of the file being replaced
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(data)


def configure_frozen_runtime() -> None:
    """Prepare a frozen app's process before anything else is imported.

    Called by the PyInstaller runtime hook (see ``build.spec``) and harmless from
    source, where it does nothing:

    - ``MPLCONFIGDIR`` points at ``user_cache_dir() / "matplotlib"``, so matplotlib's
      font cache is built once per user and kept, instead of in a new temporary folder
      at every start (PyInstaller's default, which the spec drops because a killed app
      leaves those folders behind and every start pays for a font scan). A value the
      user set is kept.
    - ``sys.stdout`` / ``sys.stderr`` are ``None`` in a windowed Windows build; they
      become ``os.devnull`` so that ``print`` and logging handlers cannot fail.
    """
    if not is_frozen():
        return
    if not os.environ.get("MPLCONFIGDIR"):
        mpl_dir = user_cache_dir() / "matplotlib"
        mpl_dir.mkdir(parents=True, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = str(mpl_dir)
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
