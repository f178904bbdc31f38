"""Storage fixtures: every storage test runs on a real SQLite file and a real PostgreSQL db."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import Storage
from tests._db import database_url, postgres_url, sqlite_url  # noqa: F401

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Storage's notion of now, moved by the test."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def storage(database_url: str, clock: FakeClock) -> AsyncIterator[Storage]:  # noqa: F811
    async with await Storage.open(database_url, clock=clock) as opened:
        yield opened
