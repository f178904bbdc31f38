"""``poll_all``'s window: limits per host and in all, order of results, errors, cancellation."""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import pytest

from bot.config import BlogConfig
from bot.feeds.poller import _windowed


def blogs(*hosts_and_counts: tuple[str, int]) -> list[BlogConfig]:
    """Stand-ins for blogs: ``host/n`` strings (the window only passes them through)."""
    names = [f"{host}/{n}" for host, count in hosts_and_counts for n in range(count)]
    return cast(list[BlogConfig], names)


def host_of(blog: BlogConfig) -> str:
    return cast(str, blog).split("/")[0]


class Recorder:
    def __init__(self, delays: dict[str, float] | None = None) -> None:
        self.delays = delays or {}
        self.running: collections.Counter[str] = collections.Counter()
        self.most: collections.Counter[str] = collections.Counter()
        self.most_in_all = 0
        self.started: list[str] = []

    async def poll(self, blog: BlogConfig) -> str:
        name = cast(str, blog)
        host = host_of(blog)
        self.started.append(name)
        self.running[host] += 1
        self.most[host] = max(self.most[host], self.running[host])
        self.most_in_all = max(self.most_in_all, sum(self.running.values()))
        try:
            await asyncio.sleep(self.delays.get(host, 0.001))
            if name.endswith("!"):
                raise RuntimeError(f"{name} failed")
            return name.upper()
        finally:
            self.running[host] -= 1


async def test_limits_per_host_and_in_all_hold_and_every_slot_is_used() -> None:
    recorder = Recorder()
    work = blogs(("a", 30), ("b", 30), ("c", 2))
    results = await _windowed(work, recorder.poll, host_of=host_of, per_host=4, total=6)
    assert results == [cast(str, b).upper() for b in work]  # every blog, in blog order
    assert max(recorder.most.values()) <= 4
    assert recorder.most_in_all == 6
    alone = Recorder()
    await _windowed(blogs(("a", 30)), alone.poll, host_of=host_of, per_host=4, total=6)
    assert alone.most == {"a": 4}


async def test_a_slow_host_never_holds_the_others_back() -> None:
    recorder = Recorder(delays={"slow": 0.3, "fast": 0.001})
    work = blogs(("slow", 8), ("fast", 40))
    task = asyncio.ensure_future(
        _windowed(work, recorder.poll, host_of=host_of, per_host=2, total=4)
    )
    await asyncio.sleep(0.2)  # the slow host's first two polls are still running
    assert sum(1 for name in recorder.started if name.startswith("fast")) == 40
    assert sum(1 for name in recorder.started if name.startswith("slow")) == 2
    await task
    assert recorder.most["slow"] == 2


async def test_hosts_take_turns() -> None:
    recorder = Recorder()
    await _windowed(blogs(("a", 3), ("b", 3)), recorder.poll, host_of=host_of, per_host=1, total=1)
    assert [host_of(cast(BlogConfig, name)) for name in recorder.started] == list("ababab")


async def test_an_error_is_raised_after_every_poll_finished() -> None:
    recorder = Recorder()
    work = [*blogs(("a", 3)), cast(BlogConfig, "a/x!"), *blogs(("b", 5))]
    with pytest.raises(RuntimeError, match="a/x! failed"):
        await _windowed(work, recorder.poll, host_of=host_of, per_host=2, total=3)
    assert len(recorder.started) == len(work)
    assert sum(recorder.running.values()) == 0


async def test_cancelling_stops_every_poll() -> None:
    recorder = Recorder(delays={"a": 10.0})
    task: asyncio.Future[Any] = asyncio.ensure_future(
        _windowed(blogs(("a", 10)), recorder.poll, host_of=host_of, per_host=3, total=5)
    )
    await asyncio.sleep(0.05)
    assert recorder.running["a"] == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.running["a"] == 0
    assert len(recorder.started) == 3


async def test_no_blogs() -> None:
    assert await _windowed([], Recorder().poll, host_of=host_of, per_host=1, total=1) == []
