"""A parser process of our own: one call at a time over its stdin and stdout.

Why not ``multiprocessing``: its process pool costs a forkserver and a resource
tracker besides the workers, and each worker imports the main module (the whole
bot). This one is ``python -c`` importing only what the functions it runs need
(feedparser and ``bot.feeds.parse``), started when the first parse needs it.

The parent side (:class:`WorkerProcess`) is blocking: :class:`bot.feeds.parse.ParserPool`
calls it from a thread and kills the process on a timeout. Frames are an 8-byte length
and a pickle; the child imports only the standard library until a call needs more.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import IO, Any

_LENGTH = struct.Struct(">Q")
_CHILD = "from bot.feeds._worker import main; main()"


class WorkerDied(Exception):
    """The process exited (crashed, was killed) before answering."""


class WorkerProcess:
    """One parser process; :meth:`call` blocks until it answers or dies."""

    def __init__(self, memory_limit: int | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._to = self.process.stdin
        self._from = self.process.stdout
        try:
            _write(self._to, pickle.dumps((sys.path, memory_limit)))
        except OSError as exc:
            self.stop()
            raise WorkerDied(f"the parser worker did not start: {exc}") from exc

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        """``(True, func(*args))``, or ``(False, the exception it raised)``; WorkerDied."""
        try:
            _write(self._to, pickle.dumps((func, args), pickle.HIGHEST_PROTOCOL))
            frame = _read(self._from)
        except (OSError, ValueError) as exc:  # ValueError: the pipe was closed by stop()
            raise WorkerDied(str(exc)) from None
        if frame is None:
            raise WorkerDied("the parser worker exited")
        ok, value = pickle.loads(frame)
        return bool(ok), value

    def stop(self) -> None:
        """Kill the process (a parser has nothing to save) and reap it."""
        self.process.kill()
        try:
            self.process.wait(timeout=5)
        finally:
            for pipe in (self._to, self._from):  # after the exit: a reading thread saw EOF
                try:
                    pipe.close()
                except OSError:
                    pass


def _write(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = stream.read(length)
    return data if len(data) == length else None


def main() -> None:
    """The child: read calls until the parent closes our input, answer each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    setup = _read(requests)
    if setup is None:
        return
    path, memory_limit = pickle.loads(setup)
    sys.path[:] = path
    limit_memory(memory_limit)
    while (frame := _read(requests)) is not None:
        try:
            func, args = pickle.loads(frame)
            reply: tuple[bool, Any] = (True, func(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(f"cannot send the result back: {exc!r}")))
        _write(replies, data)
    os._exit(0)  # nothing to clean up; skip the interpreter's teardown


def limit_memory(limit: int | None) -> None:
    """Cap the address space so a runaway parse gets MemoryError."""
    if limit is None:
        return
    try:
        import resource
    except ImportError:  # not on Unix
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
