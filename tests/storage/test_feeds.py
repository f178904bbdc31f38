"""Feed state: what the scheduler and the HTTP cache rely on between polls and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage import Storage, StorageError
from bot.storage import storage as storage_module
from bot.storage.records import FeedState, UpdateResult
from tests.storage.factories import feed

PARIS = timezone(timedelta(hours=2))


async def test_unknown_feed_is_none(storage: Storage) -> None:
    assert await storage.get_feed("modite:nothing") is None


async def test_feed_state_round_trips_with_every_field(storage: Storage) -> None:
    state = FeedState(
        key="modite:comments:post-7",
        blog="modite",
        url="https://modite.example/p7/feed/",
        role="post_comments",
        post_key="post-7",
        etag='W/"abc"',
        last_modified="Sat, 01 Mar 2025 10:00:00 GMT",
        body_hash="sha256:1234",
        next_poll_at=datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
        failures=3,
        last_error="HTTP 503 from https://modite.example/p7/feed/",
        failing_since=datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
        last_polled_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        last_success_at=datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC),
        synced_at=datetime(2025, 2, 1, tzinfo=UTC),
        emit_on_first_poll=True,
    )
    await storage.save_feed(state)
    assert await storage.get_feed(state.key) == state
    storage.forget_feeds()  # from the database, not the rows kept in memory
    assert await storage.get_feed(state.key) == state


async def test_datetimes_come_back_aware_and_in_utc(storage: Storage) -> None:
    local = datetime(2025, 6, 1, 14, 0, tzinfo=PARIS)
    await storage.save_feed(feed(next_poll_at=local, synced_at=local))
    for _ in range(2):  # kept in memory, then read from the database
        stored = await storage.get_feed(feed().key)
        assert stored is not None and stored.next_poll_at is not None
        assert stored.next_poll_at == local
        assert stored.next_poll_at.utcoffset() == timedelta(0)
        assert stored.next_poll_at.hour == 12
        storage.forget_feeds()


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    with pytest.raises(StorageError, match="naive datetime"):
        await storage.save_feed(feed(next_poll_at=datetime(2025, 1, 1, 12, 0)))
    assert await storage.get_feed(feed().key) is None


async def test_save_replaces_the_whole_state(storage: Storage) -> None:
    await storage.save_feed(feed(etag="v1", failures=2, last_error="timeout"))
    await storage.save_feed(feed(etag="v2"))
    assert await storage.get_feed(feed().key) == feed(etag="v2")


async def test_list_feeds_by_blog_in_key_order(storage: Storage) -> None:
    for key, blog in [("b:posts", "b"), ("a:posts", "a"), ("a:comments", "a")]:
        await storage.save_feed(feed(key, blog=blog))
    assert [f.key for f in await storage.list_feeds()] == ["a:comments", "a:posts", "b:posts"]
    assert [f.key for f in await storage.list_feeds("a")] == ["a:comments", "a:posts"]
    assert await storage.list_feeds("nobody") == []


async def test_delete_feed(storage: Storage) -> None:
    await storage.save_feed(feed("a:posts"))
    await storage.save_feed(feed("a:comments"))
    await storage.delete_feed("a:posts")
    await storage.delete_feed("a:never-existed")
    assert [f.key for f in await storage.list_feeds()] == ["a:comments"]


# --- deferred schedules (the write-behind of unchanged polls) ---

POLLED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def polled(at: datetime) -> FeedState:
    return polled_as(feed(), at)


def polled_as(state: FeedState, at: datetime) -> FeedState:
    return dataclasses.replace(
        state, next_poll_at=at + timedelta(minutes=5), last_polled_at=at, last_success_at=at
    )


async def test_a_deferred_schedule_is_read_at_once_and_written_on_flush(
    storage: Storage, database_url: str
) -> None:
    await storage.save_feed(feed(etag="v1"))
    storage.defer_schedule(polled(POLLED))
    expected = polled(POLLED)
    for read in (await storage.get_feed(feed().key), *await storage.list_feeds()):
        assert read is not None and read.next_poll_at == expected.next_poll_at
        assert read.etag == "v1"  # only the schedule comes from memory
    await storage.flush_schedules()
    async with await Storage.open(database_url) as other:
        stored = await other.get_feed(feed().key)
    assert stored is not None
    assert (stored.next_poll_at, stored.last_polled_at) == (expected.next_poll_at, POLLED)


async def test_closing_writes_the_deferred_schedules(database_url: str) -> None:
    async with await Storage.open(database_url) as first:
        await first.save_feed(feed())
        first.defer_schedule(polled(POLLED))
    async with await Storage.open(database_url) as second:
        stored = await second.get_feed(feed().key)
    assert stored is not None and stored.last_polled_at == POLLED


async def test_a_full_write_supersedes_a_deferred_schedule(storage: Storage) -> None:
    await storage.save_feed(feed())
    storage.defer_schedule(polled(POLLED))
    await storage.save_feed(feed(etag="v2", last_polled_at=POLLED + timedelta(minutes=5)))
    await storage.flush_schedules()
    stored = await storage.get_feed(feed().key)
    assert stored == feed(etag="v2", last_polled_at=POLLED + timedelta(minutes=5))


async def test_a_deferred_schedule_never_moves_a_feed_back(storage: Storage) -> None:
    later = POLLED + timedelta(hours=1)
    await storage.save_feed(polled(later))
    storage.defer_schedule(polled(POLLED))
    await storage.flush_schedules()
    assert await storage.get_feed(feed().key) == polled(later)


async def test_a_schedule_moved_from_the_kept_row_takes_its_place(storage: Storage) -> None:
    """``was``, the row the poll started from: the new row replaces it as it is (UTC)."""
    await storage.save_feed(feed(etag="v1"))
    kept = await storage.get_feed(feed().key)
    assert kept is not None
    moved = polled_as(kept, POLLED)
    storage.defer_schedule(moved, was=kept)
    assert await storage.get_feed(feed().key) is moved
    await storage.flush_schedules()
    assert await storage.get_feed(feed().key) == moved


async def test_a_schedule_moved_from_the_kept_row_in_another_zone_is_read_in_utc(
    storage: Storage,
) -> None:
    await storage.save_feed(feed(etag="v1"))
    kept = await storage.get_feed(feed().key)
    assert kept is not None
    elsewhere = POLLED.astimezone(timezone(timedelta(hours=2)))
    storage.defer_schedule(polled_as(kept, elsewhere), was=kept)
    read = await storage.get_feed(feed().key)
    assert read is not None and read.last_polled_at == POLLED
    assert read.last_polled_at.tzinfo is UTC and read.next_poll_at.tzinfo is UTC  # type: ignore[union-attr]


async def test_a_schedule_moved_from_an_older_row_never_moves_the_feed_back(
    storage: Storage,
) -> None:
    older = feed()
    later = POLLED + timedelta(hours=1)
    await storage.save_feed(polled(later))  # written since ``older`` was read
    storage.defer_schedule(polled_as(older, POLLED), was=older)
    await storage.flush_schedules()
    assert await storage.get_feed(feed().key) == polled(later)


@pytest.mark.parametrize(
    ("stored", "deferred", "written"),
    [
        # the same instant (whole seconds: SQLite's stored text must still compare equal)
        (POLLED, POLLED, True),
        (POLLED + timedelta(microseconds=7), POLLED + timedelta(microseconds=6), False),
        (POLLED + timedelta(microseconds=7), POLLED + timedelta(microseconds=7), True),
        # another zone, a later instant (10:30 at UTC−02:00 is 12:30 UTC)
        (POLLED, datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=-2))), True),
        # another zone, an earlier instant (13:00 at UTC+02:00 is 11:00 UTC)
        (POLLED, datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=2))), False),
    ],
)
@pytest.mark.parametrize("json_join", [True, False], ids=["json-join", "row-by-row"])
async def test_a_flushed_schedule_compares_with_rows_written_through_sqlalchemy(
    storage: Storage,
    database_url: str,
    stored: datetime,
    deferred: datetime,
    written: bool,
    json_join: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The flush writes times itself (no per-value SQLAlchemy processing): same format, order.

    On SQLite both statements are tried: the JSON join, and the one per row that SQLite
    before 3.33 gets (PostgreSQL has one statement: both runs try it).
    """
    monkeypatch.setattr(storage_module, "_sqlite_joins_json", lambda: json_join)
    await storage.save_feed(polled(stored))
    storage.defer_schedule(polled(deferred))
    await storage.flush_schedules()
    async with await Storage.open(database_url) as other:
        row = await other.get_feed(feed().key)
        due = await other.list_feeds()
    assert row is not None and due == [row]
    expected = polled(deferred) if written else polled(stored)
    assert (row.next_poll_at, row.last_polled_at, row.last_success_at) == (
        expected.next_poll_at,
        expected.last_polled_at,
        expected.last_success_at,
    )
    assert row.last_polled_at is not None and row.last_polled_at.tzinfo is UTC


@pytest.mark.parametrize("json_join", [True, False], ids=["json-join", "row-by-row"])
async def test_a_flushed_schedule_finds_keys_with_any_characters(
    storage: Storage, database_url: str, json_join: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_module, "_sqlite_joins_json", lambda: json_join)
    keys = ['déjà:comments:https://blog.example/déjà-vu/?p=1&x="2"', "a:\\b\n'c'", "日本:posts"]
    states = [feed(key=key) for key in keys]
    await storage.apply_updates([UpdateResult(state) for state in states])
    for state in states:
        storage.defer_schedule(polled_as(state, POLLED))
    await storage.flush_schedules()
    async with await Storage.open(database_url) as other:
        stored = {state.key: state.last_polled_at for state in await other.list_feeds()}
    assert stored == dict.fromkeys(keys, POLLED)


async def test_a_full_batch_of_schedules_is_written_in_the_background(
    storage: Storage, database_url: str
) -> None:
    states = [feed(key=f"a:{n:04d}") for n in range(storage_module.SCHEDULE_BATCH)]
    await storage.apply_updates([UpdateResult(state) for state in states])
    for state in states[:-1]:
        storage.defer_schedule(polled_as(state, POLLED))
    assert not storage._flushing  # one short of a batch: waits for the timer
    storage.defer_schedule(polled_as(states[-1], POLLED))
    assert storage._flushing  # a full batch: written now, without waiting to be asked
    await asyncio.gather(*storage._flushing)
    async with await Storage.open(database_url) as other:
        stored = await other.list_feeds()
    assert {state.last_polled_at for state in stored} == {POLLED}


def fill_the_disk_for_schedules(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, writing the deferred schedules fails (other writes go through)."""
    writing = storage._writing

    @contextlib.asynccontextmanager
    async def full_disk(action: str) -> AsyncIterator[AsyncConnection]:
        if "schedules" in action:
            raise StorageError("could not save the schedules: the disk is full")
        async with writing(action) as connection:
            yield connection

    monkeypatch.setattr(storage, "_writing", full_disk)


async def test_writing_schedules_soon_starts_the_write_without_waiting_for_it(
    storage: Storage, database_url: str
) -> None:
    await storage.save_feed(feed())
    storage.write_schedules_soon()
    assert not storage._flushing  # nothing deferred: nothing to write
    storage.defer_schedule(polled(POLLED))
    storage.write_schedules_soon()
    assert len(storage._flushing) == 1 and storage._schedule_timer is None
    await asyncio.gather(*storage._flushing)
    async with await Storage.open(database_url) as other:
        stored = await other.get_feed(feed().key)
    assert stored is not None and stored.last_polled_at == POLLED


async def test_writing_schedules_soon_leaves_a_failing_database_to_the_timer(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.save_feed(feed())
    fill_the_disk_for_schedules(storage, monkeypatch)
    storage.defer_schedule(polled(POLLED))
    storage.write_schedules_soon()
    await asyncio.gather(*storage._flushing)
    assert "the disk is full; will try again" in caplog.text
    storage.write_schedules_soon()
    assert not storage._flushing and storage._schedule_timer is not None  # the timer's turn
    monkeypatch.undo()
    await storage.flush_schedules()
    assert await storage.get_feed(feed().key) == polled(POLLED)


async def test_a_failed_batch_write_leaves_later_ones_to_the_timer_and_loses_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    batch = storage_module.SCHEDULE_BATCH
    states = [feed(key=f"a:{n:04d}") for n in range(batch + 1)]
    await storage.apply_updates([UpdateResult(state) for state in states])
    fill_the_disk_for_schedules(storage, monkeypatch)
    for state in states[:batch]:
        storage.defer_schedule(polled_as(state, POLLED))
    await asyncio.gather(*storage._flushing)
    assert "the disk is full; will try again" in caplog.text
    storage.defer_schedule(polled_as(states[-1], POLLED))
    assert not storage._flushing  # no write per poll while the database fails
    monkeypatch.undo()
    await storage.flush_schedules()
    assert {state.last_polled_at for state in await storage.list_feeds()} == {POLLED}
    for state in states[:batch]:  # written again: batches start writes at once again
        storage.defer_schedule(polled_as(state, POLLED + timedelta(minutes=5)))
    assert storage._flushing


async def test_schedules_being_written_are_seen_and_a_full_write_supersedes_them(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.save_feed(feed())
    storage.defer_schedule(polled(POLLED))
    gate = asyncio.Event()
    writing = storage._writing

    @contextlib.asynccontextmanager
    async def failing_flush(action: str) -> AsyncIterator[AsyncConnection]:
        if "schedules" in action:  # the flush waits for the test, then fails
            await gate.wait()
            raise StorageError("could not save the schedules: the disk is full")
        async with writing(action) as connection:
            yield connection

    monkeypatch.setattr(storage, "_writing", failing_flush)
    flushing = asyncio.ensure_future(storage.flush_schedules())
    await asyncio.sleep(0)
    assert await storage.get_feed(feed().key) == polled(POLLED)  # seen while being written
    newer = polled(POLLED + timedelta(minutes=5))
    await storage.save_feed(newer)
    gate.set()
    with pytest.raises(StorageError):
        await flushing
    monkeypatch.undo()
    await storage.flush_schedules()  # the superseded schedule was not kept for a retry
    assert await storage.get_feed(feed().key) == newer


@contextlib.asynccontextmanager
async def no_database(action: str) -> AsyncIterator[AsyncConnection]:
    raise AssertionError(f"read the database to {action}")
    yield  # pragma: no cover


async def test_feed_rows_are_read_once_then_kept_present_or_absent(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.save_feed(feed())
    storage.forget_feeds()
    keys = [feed().key, "modite:absent"]
    first = await storage.get_feeds(keys)
    monkeypatch.setattr(storage, "_reading", no_database)
    assert await storage.get_feeds(keys) == first == {feed().key: feed()}
    assert await storage.get_feed("modite:absent") is None
    storage.defer_schedule(polled(POLLED))  # the common poll: kept as the read would see it
    assert await storage.get_feeds(keys) == {feed().key: polled(POLLED)}


async def test_writes_update_the_kept_rows_and_a_failed_one_forgets_them(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.save_feed(feed(etag="v1"))
    await storage.get_feeds([feed().key, "modite:other"])
    await storage.save_feed(feed(key="modite:other", etag="o1"))
    await storage.apply_updates([UpdateResult(feed(etag="v2"))])
    assert await storage.get_feeds([feed().key, "modite:other"]) == {
        feed().key: feed(etag="v2"),
        "modite:other": feed(key="modite:other", etag="o1"),
    }
    writing = storage._writing

    @contextlib.asynccontextmanager
    async def failing(action: str) -> AsyncIterator[AsyncConnection]:
        async with writing(action) as connection:
            yield connection
            raise StorageError("could not write: the disk is full")  # rolled back

    monkeypatch.setattr(storage, "_writing", failing)
    with pytest.raises(StorageError):
        await storage.apply_update(UpdateResult(feed(etag="v3")))
    monkeypatch.undo()
    assert await storage.get_feed(feed().key) == feed(etag="v2")  # read again: not v3
    await storage.delete_feed(feed().key)
    assert await storage.get_feed(feed().key) is None


async def test_a_read_that_overlaps_a_write_is_not_kept(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.save_feed(feed(etag="v1"))
    storage.forget_feeds()
    gate = asyncio.Event()
    reading = storage._reading

    @contextlib.asynccontextmanager
    async def slow(action: str) -> AsyncIterator[AsyncConnection]:
        async with reading(action) as connection:
            yield connection
            await gate.wait()  # the rows are read; a write lands before the read ends

    monkeypatch.setattr(storage, "_reading", slow)
    read = asyncio.ensure_future(storage.get_feeds([feed().key]))
    await asyncio.sleep(0.05)
    monkeypatch.undo()
    await storage.save_feed(feed(etag="v2"))
    gate.set()
    assert await read == {feed().key: feed(etag="v1")}  # what it read, but not kept
    assert await storage.get_feed(feed().key) == feed(etag="v2")
