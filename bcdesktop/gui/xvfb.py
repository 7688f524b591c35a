"""A private X server (Xvfb) for the GUI tests, the screenshots and the bundle benchmark.

    with Xvfb(1366, 768, dpi=96) as server:  # on a free display number, which Xvfb picks
        env["DISPLAY"] = server.name          # ":N", answering X clients by now
    with display() as name:                   # $DISPLAY when set, else a private Xvfb
        ...                                   # (DISPLAY points at it meanwhile)

No tkinter here: the frozen-build tests and the benchmark use it without the GUI.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator

WIDTH, HEIGHT, DEPTH, DPI = 1280, 1024, 24, 96  # the screen the tests and screenshots assume
START_TIMEOUT = 30.0  # seconds; Xvfb is up in well under one, even on a loaded machine


def installed() -> bool:
    return shutil.which("Xvfb") is not None


class Xvfb:
    """A running Xvfb (``-screen 0 WxHxD -dpi N``) on a display number it picked itself
    (``-displayfd``); once the constructor returns, the display answers X clients.
    ``stop()`` (or leaving the ``with`` block) ends it."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT, *, depth: int = DEPTH, dpi: int = DPI,
                 timeout: float = START_TIMEOUT):
        if not installed():
            raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
        self.screen = f"{width}x{height}x{depth}"
        self.timeout = timeout
        self._log = tempfile.TemporaryFile()  # its messages, for the error if it does not start
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", self.screen, "-dpi", str(dpi),
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(write_fd)
        try:
            deadline = time.monotonic() + timeout
            self.number = self._read_number(read_fd, deadline)
            self.name = f":{self.number}"
            while not _answers(self.number):  # -displayfd says "listening"; this says "serving"
                self._check_alive(deadline)
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)

    def __repr__(self) -> str:
        return f"Xvfb({getattr(self, 'name', '?')}, {self.screen}, pid {self.proc.pid})"

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _read_number(self, fd: int, deadline: float) -> int:
        """The display number Xvfb writes to ``fd`` once it listens (a line, ``N\\n``)."""
        text = b""
        while not text.endswith(b"\n"):
            self._check_alive(deadline)
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:
                    break
                text += chunk
        if not text.strip().isdigit():
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2)  # it closed the pipe: most likely it is exiting
            raise RuntimeError(f"Xvfb did not start (exit status {self.proc.poll()}){self._tail()}")
        return int(text)

    def _check_alive(self, deadline: float) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"Xvfb exited with status {self.proc.returncode} while starting{self._tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Xvfb ({self.screen}) did not answer within {self.timeout:g} s{self._tail()}")

    def _tail(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace").strip()
        return f":\n{text[-1500:]}" if text else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _answers(number: int) -> bool:
    """Whether display ``:number`` completes the X11 connection set-up (status byte 1)."""
    setup = struct.pack("<cxHHHHxx", b"l", 11, 0, 0, 0)  # little-endian, protocol 11.0, no auth
    for address in (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"):  # file, abstract
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2.0)
                sock.connect(address)
                sock.sendall(setup)
                if sock.recv(1) == b"\x01":
                    return True
        except OSError:
            continue
    return False


@contextlib.contextmanager
def display(dpi: int | None = None) -> Iterator[str]:
    """``$DISPLAY`` when it is set and no ``dpi`` is asked for; otherwise a private Xvfb at
    ``dpi`` (default 96) whose 1280x1024 screen grows in proportion to a higher dpi, with
    ``DISPLAY`` set to it for the duration. Yields the display name."""
    if os.environ.get("DISPLAY") and dpi is None:
        yield os.environ["DISPLAY"]
        return
    dpi = dpi or DPI
    scale = max(1.0, dpi / DPI)
    saved = os.environ.get("DISPLAY")
    with Xvfb(round(WIDTH * scale), round(HEIGHT * scale), dpi=dpi) as server:
        os.environ["DISPLAY"] = server.name
        try:
            yield server.name
        finally:
            if saved is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = saved
