"""Counting semaphores for the polling hot path.

Every poll of every feed takes a few slots (its host's fetch slot, the body limit's host and
total slots). ``asyncio.Semaphore`` checks ``locked()`` on each acquire, which walks its
waiters; these take a free slot with one comparison and hand a released slot straight to the
first waiter (first come, first served), so a slot is never taken by a newcomer while others
wait.
"""

from __future__ import annotations

import asyncio
import collections


class Slots:
    """``count`` slots: :meth:`take` one (waiting in line if none is free), :meth:`give` it back."""

    __slots__ = ("_count", "_free", "_waiters")

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"need at least one slot, not {count}")
        self._count = count
        self._free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def free(self) -> int:
        return self._free

    @property
    def idle(self) -> bool:
        """Nobody holds a slot and nobody waits for one."""
        return self._free == self._count and not self._waiters

    def take_now(self) -> bool:
        """Take a free slot if nobody waits for one (no coroutine: the usual case)."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # a slot was handed over just before the cancellation: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Give a slot back: to the first waiter if there is one (it holds it at once)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._free >= self._count:
            raise RuntimeError("a slot was given back that was never taken")
        self._free += 1


class KeyedSlots:
    """:class:`Slots` per key (a host name, say), each dropped again when idle."""

    __slots__ = ("_count", "_slots")

    def __init__(self, count: int) -> None:
        self._count = count
        self._slots: dict[str, Slots] = {}

    def __len__(self) -> int:
        """How many keys have slots in use or waited for."""
        return len(self._slots)

    def take_now(self, key: str) -> bool:
        """Take a free slot of ``key`` if nobody waits for one (no coroutine: the usual case)."""
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = Slots(self._count)
        if slots._free and not slots._waiters:  # ``Slots.take_now`` without a call
            slots._free -= 1
            return True
        return False

    async def take(self, key: str) -> None:
        if self.take_now(key):
            return
        slots = self._slots[key]
        try:
            await slots.take()
        except BaseException:
            self._drop_if_idle(key, slots)
            raise

    def give(self, key: str) -> None:
        slots = self._slots[key]
        if not slots._waiters and slots._free < slots._count:  # ``Slots.give``, no call
            slots._free += 1
            if slots._free == slots._count:
                del self._slots[key]  # idle
            return
        slots.give()
        self._drop_if_idle(key, slots)

    def _drop_if_idle(self, key: str, slots: Slots) -> None:
        if slots.idle and self._slots.get(key) is slots:
            del self._slots[key]
