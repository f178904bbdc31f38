"""The fetcher's shared total timeouts: cut within a tick of the total, cancellations kept apart."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.feeds._deadlines import Deadlines


async def watched(deadlines: Deadlines, work: asyncio.Future[None] | float) -> str:
    """Run ``work`` (a future to wait for, or seconds to sleep) watched as the fetcher does."""
    watch = deadlines.watch()
    try:
        if isinstance(work, float):
            await asyncio.sleep(work)
        else:
            await work
        return "done"
    except asyncio.CancelledError:
        if deadlines.expired(watch):
            raise TimeoutError from None
        raise
    finally:
        deadlines.forget(watch)


async def test_a_request_is_cut_between_its_total_and_one_tick_later() -> None:
    deadlines = Deadlines(0.2)  # tick: 0.01 s
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await watched(deadlines, 5.0)
    assert 0.2 <= time.monotonic() - started < 0.2 + 0.1
    assert len(deadlines) == 0


async def test_requests_that_end_in_time_are_not_cut_and_not_kept() -> None:
    deadlines = Deadlines(0.2)
    results = await asyncio.gather(*(watched(deadlines, 0.01 * (n % 5)) for n in range(200)))
    assert results == ["done"] * 200
    assert len(deadlines) == 0
    await asyncio.sleep(0.3)  # the ticks' timers fire and find nobody to cancel


async def test_only_the_late_ones_of_many_concurrent_requests_are_cut() -> None:
    deadlines = Deadlines(0.2)
    results = await asyncio.gather(
        *(watched(deadlines, 0.05 if n % 2 else 1.0) for n in range(40)), return_exceptions=True
    )
    assert [type(r).__name__ for r in results] == ["TimeoutError", "str"] * 20
    assert len(deadlines) == 0


async def test_a_cut_swallowed_below_the_watcher_is_not_kept() -> None:
    deadlines = Deadlines(0.05)

    async def stubborn() -> None:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            pass  # below the watcher, which never sees the cut

    async def request() -> None:
        watch = deadlines.watch()
        try:
            await stubborn()
        finally:
            deadlines.forget(watch)

    await asyncio.ensure_future(request())
    assert len(deadlines) == 0


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    deadlines = Deadlines(5.0)
    task = asyncio.ensure_future(watched(deadlines, 10.0))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_a_cancellation_from_outside_at_the_deadline_is_not_swallowed() -> None:
    deadlines = Deadlines(0.05)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(watched(deadlines, never))
    await asyncio.sleep(0)
    (tick,) = deadlines._due
    deadlines._expire(tick)  # the deadline cancels the task, then the caller does too
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_task_already_cancelling_still_gets_its_timeout() -> None:
    """A request made while cleaning up after a cancellation is cut like any other."""
    deadlines = Deadlines(0.1)

    async def cleaning_up() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # cancelling() stays 1 while it cleans up
        try:
            return await watched(deadlines, 2.0)
        except TimeoutError:
            return "timed out"

    task = asyncio.ensure_future(cleaning_up())
    await asyncio.sleep(0.01)
    task.cancel()
    assert await task == "timed out"


def test_each_event_loop_gets_its_own_timers() -> None:
    deadlines = Deadlines(1.0)  # ticks of 50 ms
    assert asyncio.run(watched(deadlines, 0.0)) == "done"  # its tick's timer: on that loop
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # same tick, another loop: a timer of its own
        asyncio.run(watched(deadlines, 5.0))
    assert time.monotonic() - started < 1.0 + 0.2


def test_a_deadline_needs_a_task_and_a_positive_total() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Deadlines(0)
    deadlines = Deadlines(1.0)
    loop = asyncio.new_event_loop()
    errors: list[str] = []

    def outside_any_task() -> None:
        try:
            deadlines.watch()
        except RuntimeError as error:
            errors.append(str(error))
        loop.stop()

    loop.call_soon(outside_any_task)
    loop.run_forever()
    loop.close()
    assert errors == ["a deadline needs a task to cancel"]


async def test_the_running_loop_is_looked_up_once_per_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's ``get_running_loop`` makes a system call (getpid): not one per request."""
    calls: list[asyncio.AbstractEventLoop] = []
    running = asyncio.get_running_loop

    def counted() -> asyncio.AbstractEventLoop:
        calls.append(running())
        return calls[-1]

    monkeypatch.setattr(asyncio, "get_running_loop", counted)
    deadlines = Deadlines(1.0)
    assert await asyncio.gather(*(watched(deadlines, 0.0) for _ in range(50))) == ["done"] * 50
    assert len(calls) == 1
