"""PollScheduler on a real AsyncIOScheduler, one-second interval: a few seconds of wall time."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AnnounceConfig, BlogConfig, PollingConfig, Settings
from bot.feeds.schedule import PollScheduler

INTERVAL = timedelta(seconds=1)
FIRST_RUN = 2.05  # longer than interval + the scheduler's 1 s jitter: the next firing must skip
LATER_RUNS = 0.2


def blog(name: str) -> BlogConfig:
    return BlogConfig(
        name=name,
        platform="feed",
        url=f"https://{name}.example/",  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=1),
    )


def settings(*names: str) -> Settings:
    return Settings(
        polling=PollingConfig(interval=INTERVAL, jitter=0.1), blogs=[blog(n) for n in names]
    )


@dataclass
class Recorder:
    """The blog job: slow on its first run, and keeping count of what ran when."""

    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    names: tuple[str, ...] = ()
    all_ran_twice: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, blog: BlogConfig) -> None:
        name = blog.name
        self.starts[name].append(asyncio.get_running_loop().time())
        if self.ran_twice(self.names):
            self.all_ran_twice.set()
        self.active[name] += 1
        self.peak[name] = max(self.peak[name], self.active[name])
        try:
            await asyncio.sleep(FIRST_RUN if len(self.starts[name]) == 1 else LATER_RUNS)
        finally:
            self.active[name] -= 1

    def ran_twice(self, names: tuple[str, ...]) -> bool:
        return all(len(self.starts[n]) >= 2 for n in names)


async def test_each_blog_runs_repeatedly_spread_out_and_never_twice_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    names = ("alpha", "beta")
    recorder = Recorder(names=names)
    housekeeping: list[float] = []

    async def drain() -> None:
        housekeeping.append(asyncio.get_running_loop().time())

    scheduler = PollScheduler(settings(*names), recorder.run)
    now = datetime.now(UTC)
    caplog.set_level(logging.WARNING, logger="apscheduler")
    scheduler.add_job(drain, timedelta(seconds=0.25), "drain")
    scheduler.start(now)
    try:
        assert scheduler.next_run("alpha") == now + timedelta(seconds=1)
        assert scheduler.next_run("beta") == now + timedelta(seconds=1.5), "spread over an interval"
        assert scheduler.next_run("gamma") is None
        await asyncio.wait_for(recorder.all_ran_twice.wait(), 8)
    finally:
        scheduler.shutdown()

    assert recorder.ran_twice(names), dict(recorder.starts)
    assert dict(recorder.peak) == {"alpha": 1, "beta": 1}, "never two runs of a blog at once"
    skipped = [r.getMessage() for r in caplog.records if "maximum number" in r.getMessage()]
    assert any("poll alpha" in m for m in skipped) and any("poll beta" in m for m in skipped), (
        "a firing during a slow run was skipped rather than run alongside it"
    )
    alpha, beta = recorder.starts["alpha"][0], recorder.starts["beta"][0]
    assert 0.3 <= beta - alpha <= 0.7, "first runs are spread over the interval"
    for name in names:
        first, second = recorder.starts[name][:2]
        assert second - first >= FIRST_RUN, "the second run waited for the first"
    assert len(housekeeping) >= 3, "housekeeping jobs repeat on their own period"

    stopped = {n: len(recorder.starts[n]) for n in names}
    chores = len(housekeeping)
    await asyncio.sleep(1.0)
    assert not scheduler.scheduler.running
    assert {n: len(recorder.starts[n]) for n in names} == stopped, "shutdown stops the polling"
    assert len(housekeeping) == chores


async def test_shutdown_is_safe_before_start_and_twice() -> None:
    scheduler = PollScheduler(settings("alpha"), Recorder().run)
    scheduler.shutdown()
    scheduler.start()
    assert scheduler.scheduler.running
    scheduler.shutdown()
    await asyncio.sleep(0)
    assert not scheduler.scheduler.running
    scheduler.shutdown()


async def test_shutdown_cancels_a_run_in_progress() -> None:
    """Pinned because callers rely on it: to let a poll finish, pause and wait before shutdown."""
    started = asyncio.Event()
    ends: list[str] = []

    async def job(blog: BlogConfig) -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        ends.append("finished")

    scheduler = PollScheduler(settings("alpha"), job)
    scheduler.start(datetime.now(UTC) - timedelta(seconds=1))  # first run due now
    await asyncio.wait_for(started.wait(), 5)
    scheduler.shutdown()
    await asyncio.sleep(0.1)
    assert ends == ["cancelled"]


@pytest.mark.parametrize(
    ("work", "grace", "expected"), [(0.3, 5.0, "finished"), (10, 0.2, "cancelled")]
)
async def test_stop_lets_a_running_poll_finish_within_the_grace(
    work: float, grace: float, expected: str
) -> None:
    started = asyncio.Event()
    ends: list[str] = []

    async def job(blog: BlogConfig) -> None:
        started.set()
        try:
            await asyncio.sleep(work)
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        ends.append("finished")

    scheduler = PollScheduler(settings("alpha"), job)
    scheduler.start(datetime.now(UTC) - timedelta(seconds=1))
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop(grace=grace)
    await asyncio.sleep(0.05)
    assert ends == [expected]
    assert not scheduler.scheduler.running
