"""The window's side of the audit trail: entries written off the Tk thread, in order.

:class:`AuditRecorder` owns one writer thread and two queues. ``record(...)`` puts an
entry on the first and returns at once (an SQLite commit syncs the disk: 2-50 ms, and
another writer can hold the lock for longer, so never on the Tk loop); the thread
writes the entries one by one, in the order they were asked for, and puts each outcome
on the second, which the Tk loop drains with ``after()`` while entries are pending.
There ``done(entry_or_None)`` runs, ``<<AuditChanged>>`` fires on the window for each
entry written, and a log that cannot be written is told once (``on_problem``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from bcdesktop.audit import AuditLog, Entry

log = logging.getLogger(__name__)

AUDIT_EVENT = "<<AuditChanged>>"
_POLL_MS = 30
_STOP = object()


class AuditRecorder:
    """Writes the window's audit entries in a background thread.

    Parameters
    ----------
    root : tkinter.Misc
        The window: ``after`` polls on it, ``<<AuditChanged>>`` fires on it.
    log_ : AuditLog
    on_problem : callable(str)
        Called on the Tk loop with a sentence the first time the log cannot be written
        (and again after it could be written and then failed anew).
    """

    def __init__(self, root, log_: AuditLog, on_problem: Callable[[str], None]):
        self.root = root
        self.log = log_
        self.on_problem = on_problem
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._pending = 0
        self._after: str | None = None
        self._thread: threading.Thread | None = None
        self.last: Entry | None = None   # the latest entry this window wrote

    @property
    def enabled(self) -> bool:
        return self.log.enabled

    def set_enabled(self, enabled: bool) -> None:
        self.log.enabled = bool(enabled)

    @property
    def pending(self) -> int:
        """Entries asked for whose outcome has not reached the Tk loop yet."""
        return self._pending

    def record(self, kind: str, *, done: Callable[[Entry | None], None] | None = None, **fields) -> None:
        """Write an entry (see :meth:`bcdesktop.audit.AuditLog.record`) in the background;
        ``done(entry or None)`` runs on the Tk loop afterwards. Nothing when it is off."""
        if not self.log.enabled:
            if done is not None:
                done(None)
            return
        self._submit(("record", kind, fields, done))

    def remember_model(self, bundle, how: str) -> None:
        """Record the model as made on this installation (kept also when the trail is off)."""
        self._submit(("remember", bundle, how, None))

    def _submit(self, job) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()
        self._pending += 1
        self._jobs.put(job)
        if self._after is None:
            self._after = self.root.after(_POLL_MS, self._poll)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            what, *rest = job
            try:
                if what == "record":
                    kind, fields, done = rest
                    outcome = self.log.record(kind, **fields)
                else:
                    bundle, how, done = rest
                    self.log.remember_model(bundle, how)
                    outcome = None
            except Exception as exc:  # noqa: BLE001 - a bug here must not stop the writer
                log.exception("audit writer failed")
                outcome, done = exc, rest[-1]
            self._results.put((what, outcome, done, self.log.take_problem()))

    def _poll(self) -> None:
        self._after = None
        for _ in range(50):
            try:
                what, outcome, done, problem = self._results.get_nowait()
            except queue.Empty:
                break
            self._pending -= 1
            self._deliver(what, outcome, done, problem)
        if self._pending > 0:
            try:
                self._after = self.root.after(_POLL_MS, self._poll)
            except Exception:  # noqa: BLE001 - the window is gone
                self._after = None

    def _deliver(self, what, outcome, done, problem) -> None:
        if isinstance(outcome, Exception):
            log.error("could not write an audit entry: %s", outcome)
            outcome = None
        if problem:
            log.warning("audit trail: %s", problem)
            self.on_problem(problem)
        if isinstance(outcome, Entry):
            self.last = outcome
        if done is not None:
            done(outcome)
        if isinstance(outcome, Entry):
            try:
                self.root.event_generate(AUDIT_EVENT)
            except Exception:  # noqa: BLE001 - the window is being destroyed
                pass

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until every entry asked for is written and delivered: at close,
        so that nothing asked for is lost, and in tests."""
        import time

        deadline = time.monotonic() + timeout
        while self._pending > 0 and time.monotonic() < deadline:
            try:
                what, outcome, done, problem = self._results.get(timeout=0.05)
            except queue.Empty:
                continue
            self._pending -= 1
            self._deliver(what, outcome, done, problem)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending (at most ``timeout`` seconds), then stop the thread."""
        try:
            self.flush(timeout)
        finally:
            if self._after is not None:
                try:
                    self.root.after_cancel(self._after)
                except Exception:  # noqa: BLE001 - the window is gone
                    pass
                self._after = None
            if self._thread is not None and self._thread.is_alive():
                self._jobs.put(_STOP)
