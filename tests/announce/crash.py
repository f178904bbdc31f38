"""Simulated crashes: a numbered checkpoint before and after every write and every Discord call.

A run with ``crash_at=None`` counts the checkpoints; a run with ``crash_at=k`` raises
:class:`Crash` (a BaseException, like a kill: no ``except Exception`` in the code catches it) at
the k-th. The FakePort keeps its messages across the crash, as Discord would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from bot.storage import Storage

#: Storage methods that write: a crash just before or after each is a distinct state.
WRITES = frozenset(
    {
        "record_intent",
        "mark_sent",
        "mark_failed",
        "note_error",
        "mark_deleted",
        "save_post_thread",
        "mark_delivered",
        "disable_target",
        "enable_targets",
    }
)


class Crash(BaseException):
    """The process died here."""


class Checkpoints:
    """Counts checkpoints and crashes at one of them."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.passed: list[str] = []

    def __call__(self, name: str) -> None:
        self.passed.append(name)
        if len(self.passed) == self.crash_at:
            raise Crash(name)

    @property
    def count(self) -> int:
        return len(self.passed)


class HookedStorage:
    """A Storage whose writes pass checkpoints before and after (everything else as is)."""

    def __init__(self, inner: Storage, hook: Callable[[str], None]) -> None:
        self._inner = inner
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in WRITES:
            return attribute
        method = cast(Callable[..., Awaitable[Any]], attribute)

        async def hooked(*args: Any, **kwargs: Any) -> Any:
            self._hook(f"before {name}")
            result = await method(*args, **kwargs)
            self._hook(f"after {name}")
            return result

        return hooked


def hooked(storage: Storage, checkpoints: Checkpoints) -> Storage:
    return cast(Storage, HookedStorage(storage, checkpoints))
