"""Fixtures shared by the feed-pipeline tests: real storage and a real fetcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import PollingConfig
from bot.feeds.fetch import Fetcher
from bot.storage import Storage


@pytest.fixture
async def storage(sqlite_url: str) -> AsyncIterator[Storage]:
    """SQLite: for what does not depend on the database (``storage_each_db`` for what does)."""
    async with await Storage.open(sqlite_url) as opened:
        yield opened


@pytest.fixture
async def storage_each_db(database_url: str) -> AsyncIterator[Storage]:
    """The same tests on a SQLite file and on PostgreSQL."""
    async with await Storage.open(database_url) as opened:
        yield opened


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(PollingConfig()) as opened:
        yield opened
