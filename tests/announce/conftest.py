"""Announcer fixtures: a real database (SQLite and PostgreSQL), a FakePort, and fake time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.announce import Announcer
from bot.announce.port import DiscordPort
from bot.config import BlogConfig, DiscordConfig, Settings
from bot.storage import Storage
from tests.announce.fake_port import FakePort
from tests.render.seed_thread import ALERTS_CHANNEL, ANNOUNCE_CHANNEL, blog_config

OTHER_CHANNEL = 423456789012345678
FORUM_CHANNEL = 523456789012345678
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """The announcer's clock and sleep: sleeping moves the clock instead of waiting."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def other_blog(**announce: Any) -> BlogConfig:
    return BlogConfig.model_validate(
        {
            "name": "other",
            "platform": "feed",
            "url": "https://other.example/",
            "announce": {"channel": OTHER_CHANNEL, **announce},
        }
    )


def make_settings(*blogs: BlogConfig, alerts: int | None = ALERTS_CHANNEL) -> Settings:
    return Settings(
        blogs=list(blogs or (blog_config(),)), discord=DiscordConfig(alerts_channel=alerts)
    )


_ID_RANGES = itertools.count(10_000, 1_000_000)


def make_port() -> FakePort:
    """A fake Discord with our channels; each one hands out its own ids, as snowflakes are
    unique across all of Discord (tests share one database between several fakes)."""
    port = FakePort(next_id=next(_ID_RANGES))
    for channel in (ANNOUNCE_CHANNEL, OTHER_CHANNEL, ALERTS_CHANNEL):
        port.add_channel(channel, "text")
    port.add_channel(FORUM_CHANNEL, "forum")
    return port


def make_announcer(
    settings: Settings, storage: Storage, port: DiscordPort, time: FakeTime, **options: Any
) -> Announcer:
    return Announcer(
        settings, storage, port, clock=time.clock, sleep=time.sleep, random=lambda: 0.5, **options
    )


async def deliver_all(announcer: Announcer, storage: Storage, time: FakeTime) -> int:
    """Deliver passes until every configured blog's queue is empty, jumping over backoffs."""
    blogs = [blog.name for blog in announcer.settings.blogs]
    total = 0
    for _ in range(200):
        total += await announcer.deliver_pending()
        counts = await storage.pending_counts()
        if not any(counts.get(blog) for blog in blogs):
            return total
        retries = [r for b in blogs if (r := announcer.lane_status(b).next_retry) is not None]
        if retries:
            time.now = max(time.now, min(retries))
    raise AssertionError(f"events still pending after 200 passes: {counts}")


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def port() -> FakePort:
    return make_port()


@pytest.fixture
async def storage(database_url: str, time: FakeTime) -> AsyncIterator[Storage]:
    async with await Storage.open(database_url, clock=time.clock) as opened:
        yield opened
