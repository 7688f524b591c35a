"""Background work for the GUI: a thread per job, one queue, ``after()`` polling.

Only the Tk thread touches Tk. A job's function runs in a worker thread and talks to
the window only by putting messages on a :class:`queue.Queue`; the Tk loop drains a
bounded number of messages per tick (so the window keeps repainting however fast the
worker reports) and calls the job's ``progress`` and ``done`` callbacks there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

_PROGRESS = "progress"
_DONE = "done"


class Job:
    """One piece of background work; ``cancel()`` asks it to stop.

    The function receives ``cancel`` (a :class:`threading.Event`) and is expected to
    check it; the core's long loops (training, cross-validation, loading, scoring) do.
    """

    def __init__(self, name: str, done: Callable[[bool, Any], None], progress: Callable[[Any], None] | None):
        self.name = name
        self.done = done
        self.progress = progress
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.finished = False

    def cancel(self) -> None:
        """Ask the job to stop; its ``done`` still runs, usually with ``Cancelled``."""
        self.cancel_event.set()

    def __repr__(self) -> str:
        state = "finished" if self.finished else ("cancelling" if self.cancel_event.is_set() else "running")
        return f"Job({self.name!r}, {state})"


class Worker:
    """Runs jobs in threads and delivers their messages on the Tk loop.

    Parameters
    ----------
    widget : tkinter.Misc
        Any widget of the window; its ``after`` schedules the polling.
    on_error : callable(exc)
        Called (on the Tk loop) when a ``progress`` or ``done`` callback raises.
    poll_ms : int
        Polling period while jobs are running (no timer runs when idle).
    max_messages : int
        Messages handled per tick at most.
    """

    def __init__(self, widget, on_error: Callable[[BaseException], None], *, poll_ms: int = 15, max_messages: int = 25):
        self.widget = widget
        self.on_error = on_error
        self.poll_ms = poll_ms
        self.max_messages = max_messages
        self.jobs: list[Job] = []
        self._queue: queue.Queue = queue.Queue()
        self._after_id: str | None = None
        self._closed = False

    def submit(self, fn: Callable[[Callable[[Any], None], threading.Event], Any],
               done: Callable[[bool, Any], None], progress: Callable[[Any], None] | None = None,
               *, name: str | None = None) -> Job:
        """Start ``fn(report, cancel)`` in a new thread and return its :class:`Job`.

        ``report(msg)`` may be called from the thread any number of times; each message
        reaches ``progress(msg)`` on the Tk loop, in order. When ``fn`` returns or
        raises, ``done(True, result)`` or ``done(False, exception)`` runs on the Tk loop.
        """
        if self._closed:
            raise RuntimeError("the worker has been shut down")
        job = Job(name or getattr(fn, "__name__", "job"), done, progress)
        put = self._queue.put

        def report(msg: Any) -> None:
            put((job, _PROGRESS, msg))

        def target() -> None:
            try:
                result = fn(report, job.cancel_event)
            except BaseException as exc:  # delivered to done(); nothing escapes the thread
                put((job, _DONE, (False, exc)))
            else:
                put((job, _DONE, (True, result)))

        job.thread = threading.Thread(target=target, name=f"bcdesktop-{job.name}", daemon=True)
        self.jobs.append(job)
        job.thread.start()
        self._schedule()
        return job

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def cancel_all(self) -> int:
        """Ask every running job to stop; returns how many were asked."""
        for job in self.jobs:
            job.cancel()
        return len(self.jobs)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Cancel all jobs, wait a little for their threads, stop polling."""
        self.cancel_all()
        for job in list(self.jobs):
            if job.thread is not None:
                job.thread.join(timeout)
        self._closed = True
        if self._after_id is not None:
            try:
                self.widget.after_cancel(self._after_id)
            except Exception:  # the window may already be gone
                pass
            self._after_id = None

    def _schedule(self) -> None:
        if self._after_id is None and not self._closed:
            self._after_id = self.widget.after(self.poll_ms, self._poll)

    def _poll(self) -> None:
        self._after_id = None
        for _ in range(self.max_messages):
            try:
                job, kind, payload = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == _PROGRESS:
                if job.progress is not None and not job.finished:
                    self._call(job.progress, payload)
            else:
                job.finished = True
                if job in self.jobs:
                    self.jobs.remove(job)
                self._call(job.done, *payload)
        if self.jobs or not self._queue.empty():
            self._schedule()

    def _call(self, callback: Callable, *args: Any) -> None:
        try:
            callback(*args)
        except Exception as exc:  # one failing callback must not stop the polling
            self.on_error(exc)
