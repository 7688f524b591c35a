"""The window's log: a rotating file in the user folder, or the terminal when there is none.

Internal errors are written here with their traceback (the user is shown where the
file is, never the traceback itself).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from bcdesktop import resources

LOG_FILE = "bcdesktop.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file; when it cannot be written (an unwritable or vanished
    folder), one line on stderr says so and the log goes on to stderr, instead of a
    logging traceback at every call."""

    _bcdesktop = True
    _fallback: logging.Handler | None = None

    def emit(self, record):
        if self._fallback is not None:
            self._fallback.emit(record)
            return
        super().emit(record)

    def handleError(self, record):
        if self._fallback is None:
            exc = sys.exc_info()[1]
            reason = getattr(exc, "strerror", None) or exc
            try:
                sys.stderr.write(f"bcdesktop: cannot write the log file {self.baseFilename} ({reason}); "
                                 "logging to the terminal instead\n")
            except (OSError, ValueError, AttributeError):
                pass
            fallback = logging.StreamHandler()
            fallback.setFormatter(self.formatter)
            self._fallback = fallback
        self._fallback.emit(record)


def configure_logging(path: Path | None = None) -> Path | None:
    """Log to a rotating file in the user folder (1 MB x 3); returns the file's path,
    or None when there is no user folder (the log then goes to stderr).

    Safe to call more than once: the handler is replaced when the path changes.
    """
    logger = logging.getLogger("bcdesktop")
    logger.setLevel(logging.INFO)
    if path is None:
        try:
            path = resources.user_dir() / LOG_FILE
        except OSError as exc:
            if not any(getattr(h, "_bcdesktop_stderr", False) for h in logger.handlers):
                sys.stderr.write(f"bcdesktop: no folder for the log file ({exc.strerror or exc}); "
                                 "logging to the terminal instead\n")
                handler = logging.StreamHandler()
                handler._bcdesktop_stderr = True
                handler.setFormatter(logging.Formatter(_FORMAT))
                logger.addHandler(handler)
            return None
    path = Path(path)
    for handler in list(logger.handlers):
        if getattr(handler, "_bcdesktop", False):
            if Path(handler.baseFilename) == path.resolve():
                return path
            logger.removeHandler(handler)
            handler.close()
    handler = _LogFile(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return path
