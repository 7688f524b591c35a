"""Per-user settings: window geometry, last folders, last training settings.

Stored as JSON in :func:`bcdesktop.resources.user_dir`, written atomically. Loading
never stops the app: the file is opened only when it is a regular file of at most
:data:`MAX_BYTES` (a FIFO or ``/dev/zero`` in its place is refused without reading),
and each value is checked against :data:`CHECKS`; a bad value falls back to its
default. A file that cannot be read, or holds a bad value, is renamed aside
(``settings.json.corrupt-<time>``) and :attr:`Settings.notice` holds a sentence for the
status bar saying so and where.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bcdesktop import resources

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"
MAX_BYTES = 1_000_000  # a settings file is a few hundred bytes
TEXT_SCALE_RANGE = (0.5, 3.0)


def _text_scale(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and TEXT_SCALE_RANGE[0] <= v <= TEXT_SCALE_RANGE[1])


def _geometry(v) -> bool:
    return isinstance(v, str) and re.fullmatch(r"\d{1,5}x\d{1,5}([+-]-?\d{1,5}[+-]-?\d{1,5})?", v) is not None


def _text_map(v) -> bool:
    return (isinstance(v, dict) and len(v) <= 100
            and all(isinstance(k, str) and isinstance(x, str) and len(x) <= 4096 for k, x in v.items()))


def _one_line(text: str, limit: int = 60) -> str:
    """Text for the status bar: control characters escaped, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: The keys the app keeps, and what a valid value is; anything else is dropped.
CHECKS: dict[str, Callable[[Any], bool]] = {
    "text_scale": _text_scale,
    "geometry": _geometry,
    "folders": _text_map,  # kind -> folder
    "train": _text_map,    # field -> text as typed (each field checks it again on restore)
    "intro_seen": lambda v: isinstance(v, bool),  # the first-screen note was dismissed
    "patient_background": lambda v: v in ("training", "benign"),  # what explanations compare with
    "audit": lambda v: isinstance(v, bool),  # record the audit trail (File > Record audit trail)
}


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
    writable : bool
        False when the file must not be written (there is no settings folder, or
        something that is not a file stands in its place): :meth:`save` does nothing.
    """

    def __init__(self, path: Path | None, values: dict[str, Any] | None = None, notice: str | None = None,
                 writable: bool = True):
        self.path = None if path is None else Path(path)
        self.values: dict[str, Any] = dict(values or {})
        self.notice = notice
        self.writable = writable and path is not None  # False: kept in memory for this session only

    def __repr__(self) -> str:
        return f"Settings({str(self.path) if self.path else None!r}, keys={sorted(self.values)})"

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read the settings file; a missing one gives defaults, a bad one is set aside.

        Never raises and never blocks: when even the settings folder cannot be made,
        the app runs on defaults and :attr:`notice` says that nothing will be saved.
        """
        if path is None:
            try:
                path = resources.user_dir() / FILE_NAME
            except OSError as exc:
                log.warning("no settings folder: %s", exc)
                return cls(None, notice="Your settings folder cannot be created "
                                        f"({exc.strerror or exc}); settings will not be saved this time.")
        path = Path(path)
        from bcdesktop.resources import NotAFile, open_regular_file

        try:
            with open_regular_file(path) as fh:
                raw = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return cls(path)
        except NotAFile as exc:  # a FIFO would block, /dev/zero never ends: do not read
            log.warning("settings %s is %s", path, exc.kind)
            return cls(path, notice=f"Your settings file {path} is {exc.kind}, not a file; default settings "
                                    "are used.", writable=False)
        except OSError as exc:
            log.warning("cannot read settings %s: %s", path, exc)
            return cls(path, notice=f"Could not read your settings file {path} ({exc.strerror or exc}); "
                                    "using defaults.", writable=False)
        problem = None
        values: dict[str, Any] = {}
        try:
            if len(raw) > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES:,} bytes")
            loaded = json.loads(raw.decode("utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("top level is not an object")
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: [[[[...
            why = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
            problem = f"could not be read ({_one_line(why)}); default settings are used"
        else:
            bad = [k for k, v in loaded.items() if k in CHECKS and not CHECKS[k](v)]
            values = {k: v for k, v in loaded.items() if k in CHECKS and CHECKS[k](v)}
            if bad:
                problem = (f"had values the app cannot use ({', '.join(sorted(map(_one_line, bad)))}); "
                           "their defaults are used")
        if problem is None:
            return cls(path, values)
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(aside)
        except OSError:
            aside = None
        log.warning("settings file %s: %s; moved to %s", path, problem, aside)
        where = f"; it was set aside as {aside}" if aside else ""
        return cls(path, values, notice=f"Your settings file {problem}{where}.")

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a JSON-serialisable value (saved by :meth:`save`)."""
        self.values[key] = value

    def save(self) -> None:
        """Write the file atomically; failures are logged, never raised (settings are a convenience)."""
        if not self.writable:
            return
        try:
            data = json.dumps(self.values, indent=2, sort_keys=True).encode("utf-8")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            resources.atomic_write_bytes(self.path, data)
        except (OSError, TypeError, ValueError) as exc:
            log.warning("could not save settings to %s: %s", self.path, exc)
