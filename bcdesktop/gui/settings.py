"""Per-user settings: window geometry, last folders, last training settings.

Stored as JSON in :func:`bcdesktop.resources.user_dir`, written atomically. A file
that cannot be read is renamed aside (``settings.json.corrupt-<time>``) and the app
starts with defaults; :attr:`Settings.notice` then holds a sentence telling the user.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from bcdesktop import resources

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"


class Settings:
    """A small dict of JSON values with atomic saving.

    Parameters
    ----------
    path : Path
        The settings file.
    values : dict, optional
        Initial values.
    notice : str, optional
        A message for the user about how loading went (set by :meth:`load`).
    """

    def __init__(self, path: Path, values: dict[str, Any] | None = None, notice: str | None = None):
        self.path = Path(path)
        self.values: dict[str, Any] = dict(values or {})
        self.notice = notice

    def __repr__(self) -> str:
        return f"Settings({str(self.path)!r}, keys={sorted(self.values)})"

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Settings":
        """Read the settings file; a missing file gives defaults, a corrupt one is set aside."""
        path = Path(path) if path is not None else resources.user_dir() / FILE_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            log.warning("cannot read settings %s: %s", path, exc)
            return cls(path, notice=f"Could not read your settings file {path} ({exc.strerror}); using defaults.")
        try:
            values = json.loads(raw.decode("utf-8"))
            if not isinstance(values, dict):
                raise ValueError("top level is not an object")
        except (UnicodeDecodeError, ValueError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                path.replace(aside)
            except OSError:
                aside = None
            log.warning("settings file %s is corrupt (%s); moved to %s", path, exc, aside)
            where = f"; it was renamed to {aside.name}" if aside else ""
            return cls(path, notice=f"Your settings file could not be read{where}. Default settings are used.")
        return cls(path, values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a JSON-serialisable value (saved by :meth:`save`)."""
        self.values[key] = value

    def save(self) -> None:
        """Write the file atomically; failures are logged, never raised (settings are a convenience)."""
        try:
            data = json.dumps(self.values, indent=2, sort_keys=True).encode("utf-8")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            resources.atomic_write_bytes(self.path, data)
        except (OSError, TypeError, ValueError) as exc:
            log.warning("could not save settings to %s: %s", self.path, exc)
