"""The database behind the feed core: feed state, the items seen, and the event outbox.

All methods are coroutines on one shared engine. Every write is one transaction; on SQLite
writes are also serialised inside the process (one writer at a time is SQLite's rule anyway,
and waiting on an asyncio lock is cheaper than waiting on the file lock).

Feed rows are kept in memory once read or written (see ``Storage.get_feeds``): a poll cycle
of thousands of feeds reads none of them from the database after the first. That assumes
this ``Storage`` is the only writer of its ``feeds`` table, as a running bot is (two bots on
one database would announce everything twice anyway); ``forget_feeds`` drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, TypeVar

import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.events import NewPost
from bot.feeds.models import EntryKind
from bot.storage import rows
from bot.storage.engine import create_engine, describe, normalise_url, write_transaction
from bot.storage.errors import StorageError, reason
from bot.storage.migrate import upgrade
from bot.storage.mirror import MirrorStore
from bot.storage.records import FeedState, KnownItem, StoredEvent, UpdateResult
from bot.storage.relays import RelayStore
from bot.storage.schema import events, feeds, items

Clock = Callable[[], datetime]

#: Bound parameters per ``IN (...)`` list: well under SQLite's and asyncpg's limits.
CHUNK = 500

#: Posts ``newest_posts_many`` reads per query at most: turning rows into items holds the
#: event loop (~30 ms per 1,000 posts), so more at once would delay everything else.
POSTS_PER_QUERY = 1000

#: Seconds a deferred schedule (see ``Storage.defer_schedule``) waits before it is written.
SCHEDULE_FLUSH_DELAY = 30.0
#: Deferred schedules written at once, in the background, when this many are waiting (a
#: write costs about a millisecond whatever its size, then a few microseconds per row).
SCHEDULE_BATCH = 2048

#: What ``defer_schedule`` keeps of a feed: next_poll_at, last_polled_at, last_success_at.
Schedule = tuple[datetime | None, datetime | None, datetime | None]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Storage(MirrorStore, RelayStore):
    """Open with ``await Storage.open(url)``; use as ``async with`` to close it at the end.

    The Discord-side queries (threads, message intents, webhooks) live in :class:`MirrorStore`,
    the relay outbox in :class:`RelayStore`.
    """

    def __init__(self, engine: AsyncEngine, url: URL, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._url = url
        self._clock = clock
        self._dialect = engine.dialect.name
        self._write_lock = asyncio.Lock() if self._dialect == "sqlite" else None
        self._upserts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], sa.Insert] = {}
        self._schedules: dict[str, Schedule] = {}
        self._writing_schedules: list[dict[str, Schedule]] = []  # taken by running flushes
        self._schedule_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._batches = True  # whether a full batch of schedules starts a write at once
        self._feed_rows: dict[str, FeedState | None] = {}  # as last read or written; None: no row
        self._feed_writes = 0  # feed writes started: a read that overlaps one is not kept

    @classmethod
    async def open(cls, url: str, *, clock: Clock = utc_now) -> Storage:
        """Connect and migrate the schema to the newest revision; raises StorageError."""
        parsed = normalise_url(url)
        engine = create_engine(parsed)
        try:
            await upgrade(engine)
        except BaseException as exc:
            await engine.dispose()
            error = _open_error(exc, parsed)
            if error is None:
                raise
            raise error from exc
        return cls(engine, parsed, clock)

    async def close(self) -> None:
        """Write the deferred schedules, then disconnect."""
        try:
            if self._schedule_timer is not None:
                self._schedule_timer.cancel()
                self._schedule_timer = None
            if self._flushing:
                await asyncio.gather(*self._flushing, return_exceptions=True)
            await self.flush_schedules()
        except StorageError as error:  # only earlier polls after the restart: not worth failing
            log.warning("%s; those feeds will be polled early after a restart", error)
        finally:
            await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The database URL with the password hidden, for logs."""
        return describe(self._url)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    # Feeds

    async def get_feed(self, key: str) -> FeedState | None:
        if key in self._feed_rows:
            return self._feed_rows[key]
        writes = self._feed_writes
        query = sa.select(feeds).where(feeds.c.key == key)
        async with self._reading(f"read feed {key!r}") as connection:
            row = (await connection.execute(query)).first()
        state = self._scheduled(rows.feed_from_row(row)) if row is not None else None
        if writes == self._feed_writes:
            self._feed_rows[key] = state
        return state

    async def list_feeds(self, blog: str | None = None) -> list[FeedState]:
        query = sa.select(feeds).order_by(feeds.c.key)
        if blog is not None:
            query = query.where(feeds.c.blog == blog)
        async with self._reading("list feeds") as connection:
            result = await connection.execute(query)
            return [self._scheduled(rows.feed_from_row(row)) for row in result]

    async def get_feeds(self, keys: Iterable[str]) -> dict[str, FeedState]:
        """The stored feeds among ``keys``, by key; unknown keys are absent.

        Rows this process read or wrote before come from memory (reading 10,000 rows costs
        ~40 µs each, about a third of an unchanged poll cycle); the others are read in one
        query per 500 and kept, absent ones as absent. A read that overlapped a feed write
        is returned but not kept, since it may predate the write.
        """
        known = self._feed_rows
        found: dict[str, FeedState] = {}
        missing = []
        for key in keys:
            if key in known:
                if (state := known[key]) is not None:
                    found[key] = state
            else:
                missing.append(key)
        if not missing:
            return found
        writes = self._feed_writes
        read: dict[str, FeedState] = {}
        for chunk in _chunks(sorted(set(missing))):
            async with self._reading(f"read {len(chunk)} feeds") as connection:
                result = await connection.execute(sa.select(feeds).where(feeds.c.key.in_(chunk)))
                for row in result:
                    read[row.key] = self._scheduled(rows.feed_from_row(row))
        if writes == self._feed_writes:
            for key in missing:
                known[key] = read.get(key)
        found.update(read)
        return found

    def forget_feeds(self) -> None:
        """Read feed rows from the database again (after another process wrote them)."""
        self._feed_rows.clear()

    async def save_feed(self, state: FeedState) -> None:
        """Insert or replace the state of one feed."""
        self._supersede(state.key)
        with self._feeds_written({state.key: state}):
            async with self._writing(f"save feed {state.key!r}") as connection:
                await connection.execute(self._upsert(feeds, ("key",)), [rows.feed_row(state)])

    async def delete_feed(self, key: str) -> None:
        self._supersede(key)
        with self._feeds_written({key: None}):
            async with self._writing(f"delete feed {key!r}") as connection:
                await connection.execute(sa.delete(feeds).where(feeds.c.key == key))

    @contextlib.contextmanager
    def _feeds_written(self, states: dict[str, FeedState | None]) -> Iterator[None]:
        """Around a write of feed rows: the rows kept in memory follow it.

        Written: kept as written. Failed (or cancelled): forgotten, read again when asked.
        """
        self._feed_writes += 1
        try:
            yield
        except BaseException:
            for key in states:
                self._feed_rows.pop(key, None)
            raise
        for key, state in states.items():
            self._feed_rows[key] = _as_read(state) if state is not None else None

    def defer_schedule(self, state: FeedState, *, was: FeedState | None = None) -> None:
        """Record a poll that changed nothing but the feed's schedule, to be written later.

        That is what most polls are (304 Not Modified): writing each at once costs a row
        write per feed and poll. They are kept here (reads of the feed see them at once)
        and written together: as soon as ``SCHEDULE_BATCH`` are waiting (in the background,
        while polling goes on), else ``SCHEDULE_FLUSH_DELAY`` seconds after the first one,
        and by :meth:`flush_schedules` and :meth:`close`. Losing them in a crash only means
        those feeds are polled earlier, which is harmless; validators, body hashes, health
        and events are never deferred (they go through :meth:`apply_update`). A later full
        write of the feed supersedes it.

        ``was``: the row ``state`` was made from by moving its schedule (``polled_again``).
        When that is the row kept here, ``state`` takes its place without a comparison of
        every field (in UTC, as a read would give it).
        """
        key = state.key
        self._schedules[key] = (state.next_poll_at, state.last_polled_at, state.last_success_at)
        self._feed_writes += 1
        known = self._feed_rows.get(key)
        if known is not None and known is was and _scheduled_in_utc(state):
            self._feed_rows[key] = state
        elif known is not None and _same_but_schedule(known, state):
            self._feed_rows[key] = _as_read(state)  # the row with this schedule
        else:  # not known, or a schedule older than the row's: the database and ``_scheduled``
            self._feed_rows.pop(key, None)
        if len(self._schedules) >= SCHEDULE_BATCH and not self._flushing and self._batches:
            self._start_flush()
        elif self._schedule_timer is None:
            loop = asyncio.get_running_loop()
            self._schedule_timer = loop.call_later(SCHEDULE_FLUSH_DELAY, self._flush_later)

    def write_schedules_soon(self) -> None:
        """Start writing the deferred schedules in the background, without waiting for it.

        For the end of a poll cycle: nothing the cycle found depends on the write, so its
        caller need not wait; :meth:`flush_schedules` and :meth:`close` do. While the
        database fails, only the timer tries again (as for a full batch).
        """
        if self._schedules and self._batches:
            self._start_flush()

    async def flush_schedules(self) -> None:
        """Write every deferred schedule now (see :meth:`defer_schedule`).

        Waits for a write already under way, then writes the rest in one transaction.
        A schedule never moves a feed's times backwards (a newer full write wins).
        """
        running = [task for task in self._flushing if task is not asyncio.current_task()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)  # they log their errors
        await self._flush_pending()

    async def _flush_pending(self) -> None:
        if self._schedule_timer is not None:
            self._schedule_timer.cancel()
            self._schedule_timer = None
        if not self._schedules:
            return
        pending, self._schedules = self._schedules, {}
        self._writing_schedules.append(pending)  # still seen by reads; superseded by writes
        try:
            async with self._writing(f"save the schedules of {len(pending)} feeds") as connection:
                await _write_schedules(connection, self._dialect, pending)
            self._batches = True
        except BaseException:
            for key, schedule in pending.items():  # kept for the next try, unless superseded
                self._schedules.setdefault(key, schedule)
            raise
        finally:
            self._writing_schedules.remove(pending)

    def _flush_later(self) -> None:
        self._schedule_timer = None
        self._start_flush()

    def _start_flush(self) -> None:
        if self._schedule_timer is not None:
            self._schedule_timer.cancel()
            self._schedule_timer = None
        task = asyncio.get_running_loop().create_task(self._flush_logged())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_logged(self) -> None:
        try:
            await self._flush_pending()
        except StorageError as error:
            log.warning("%s; will try again", error)
            self._batches = False  # until a write succeeds: only the timer tries again
            if self._schedules and self._schedule_timer is None:
                loop = asyncio.get_running_loop()
                self._schedule_timer = loop.call_later(SCHEDULE_FLUSH_DELAY, self._flush_later)

    def _supersede(self, key: str) -> None:
        """A full write of the feed is coming: its deferred schedule is out of date."""
        self._schedules.pop(key, None)
        for pending in self._writing_schedules:
            pending.pop(key, None)

    def _scheduled(self, state: FeedState) -> FeedState:
        """``state`` as read, with its deferred schedule if there is one."""
        schedule = self._schedules.get(state.key)
        for pending in reversed(self._writing_schedules):  # newest first
            schedule = schedule or pending.get(state.key)
        if schedule is None:
            return state
        next_poll, polled, success = schedule
        return dataclasses.replace(
            state, next_poll_at=next_poll, last_polled_at=polled, last_success_at=success
        )

    # Items

    async def get_items(self, blog: str, keys: Iterable[str]) -> dict[str, KnownItem]:
        """The stored items of ``blog`` among ``keys``, by key; unknown keys are absent."""
        found: dict[str, KnownItem] = {}
        async with self._reading(f"read items of blog {blog!r}") as connection:
            for chunk in _chunks(sorted(set(keys))):
                query = sa.select(items).where(items.c.blog == blog, items.c.key.in_(chunk))
                for row in await connection.execute(query):
                    found[row.key] = rows.known_item_from_row(row)
        return found

    async def items_since(
        self,
        blog: str,
        kinds: Iterable[EntryKind],
        since: datetime | None,
        *,
        post_key: str | None = None,
    ) -> list[KnownItem]:
        """Items of ``kinds`` published at or after ``since`` (all if ``None``), removed or not,
        oldest first: what a complete listing from ``since`` on should show."""
        kind_values = sorted({EntryKind(kind).value for kind in kinds})
        if not kind_values:
            return []
        query = (
            sa.select(items)
            .where(items.c.blog == blog, items.c.kind.in_(kind_values))
            .order_by(items.c.published, items.c.key)
        )
        if since is not None:
            query = query.where(items.c.published >= since)
        if post_key is not None:
            query = query.where(items.c.post_key == post_key)
        async with self._reading(f"read items of blog {blog!r}") as connection:
            result = await connection.execute(query)
            return [rows.known_item_from_row(row) for row in result]

    async def newest_posts(self, blog: str, limit: int) -> list[KnownItem]:
        """The ``limit`` newest posts not removed, newest first (undated ones last)."""
        query = sa.select(items).where(_visible_posts(blog)).order_by(*_NEWEST_FIRST).limit(limit)
        async with self._reading(f"read posts of blog {blog!r}") as connection:
            result = await connection.execute(query)
            return [rows.known_item_from_row(row) for row in result]

    async def newest_posts_many(
        self, blogs: Iterable[str], limit: int
    ) -> dict[str, list[KnownItem]]:
        """:meth:`newest_posts` of each of ``blogs`` (every one a key), many blogs per query.

        For planning the first poll cycle after a start, which would otherwise read the
        posts of thousands of blogs one query (and one pooled connection) at a time. A
        query covers up to 500 blogs and ``POSTS_PER_QUERY`` posts (``limit`` per blog).
        """
        found: dict[str, list[KnownItem]] = {blog: [] for blog in blogs}
        per_query = max(1, min(CHUNK, POSTS_PER_QUERY // max(limit, 1)))
        for chunk in _chunks(sorted(found), per_query):
            newest = sa.func.row_number().over(partition_by=items.c.blog, order_by=_NEWEST_FIRST)
            ranked = (  # keys only: ranking whole rows would sort every post's entry too
                sa.select(items.c.blog, items.c.key, newest.label("newest"))
                .where(_visible_posts(chunk))
                .subquery()
            )
            query = (
                sa.select(items)
                .join(ranked, sa.and_(items.c.blog == ranked.c.blog, items.c.key == ranked.c.key))
                .where(ranked.c.newest <= limit)
                .order_by(ranked.c.blog, ranked.c.newest)
            )
            async with self._reading(f"read posts of {len(chunk)} blogs") as connection:
                for row in await connection.execute(query):
                    found[row.blog].append(rows.known_item_from_row(row))
        return found

    async def count_items(self, blog: str) -> dict[str, int]:
        """Visible items per kind (every kind present, maybe 0) plus ``"removed"``: all removed."""
        counts = {kind.value: 0 for kind in EntryKind}
        counts["removed"] = 0
        query = (
            sa.select(items.c.kind, items.c.removed, sa.func.count())
            .where(items.c.blog == blog)
            .group_by(items.c.kind, items.c.removed)
        )
        async with self._reading(f"count items of blog {blog!r}") as connection:
            for kind, removed, count in await connection.execute(query):
                name = "removed" if removed else kind
                counts[name] = counts.get(name, 0) + count
        return counts

    # One poll's outcome

    async def apply_update(self, result: UpdateResult) -> list[int]:
        """Write the feed state, the items and the events of one poll, all or nothing.

        Returns the new event ids, in the order of ``result.events`` (which is delivery order).
        """
        now = self._clock()
        writes = [rows.item_row(write, now) for write in rows.latest_writes(result.writes)]
        new_events = [rows.event_row(event, now) for event in result.events]
        self._supersede(result.feed.key)
        with self._feeds_written({result.feed.key: result.feed}):
            async with self._writing(f"apply update of feed {result.feed.key!r}") as connection:
                feed_row = [rows.feed_row(result.feed)]
                await connection.execute(self._upsert(feeds, ("key",)), feed_row)
                if writes:
                    upsert = self._upsert(items, ("blog", "key"), keep=("first_seen_at",))
                    await connection.execute(upsert, writes)
                if not new_events:
                    return []
                insert = sa.insert(events).returning(events.c.id, sort_by_parameter_order=True)
                inserted = await connection.execute(insert, new_events)
                return list(inserted.scalars())

    async def apply_updates(self, results: Sequence[UpdateResult]) -> list[list[int]]:
        """:meth:`apply_update` for many polls in one transaction: all of them or none.

        What polling many feeds at once needs: one commit instead of one per feed. The
        result is the same as applying them one after another in this order (a later
        state of the same feed or item wins); the event ids come back per result.
        """
        if not results:
            return []
        now = self._clock()
        states = {result.feed.key: result.feed for result in results}
        feed_rows = [rows.feed_row(states[key]) for key in sorted(states)]
        for key in states:
            self._supersede(key)
        all_writes = (write for result in results for write in result.writes)
        writes = [rows.item_row(write, now) for write in rows.latest_writes(all_writes)]
        new_events = [rows.event_row(event, now) for result in results for event in result.events]
        action = f"apply updates of {len(states)} feeds"
        ids: list[int] = []
        with self._feeds_written(dict(states)):
            async with self._writing(action) as connection:
                await connection.execute(self._upsert(feeds, ("key",)), feed_rows)
                if writes:
                    upsert = self._upsert(items, ("blog", "key"), keep=("first_seen_at",))
                    await connection.execute(upsert, writes)
                if new_events:
                    insert = sa.insert(events).returning(events.c.id, sort_by_parameter_order=True)
                    ids = list((await connection.execute(insert, new_events)).scalars())
        split, start = [], 0
        for result in results:
            split.append(ids[start : start + len(result.events)])
            start += len(result.events)
        return split

    # Event outbox

    async def pending_events(
        self, limit: int = 100, after_id: int | None = None, *, blog: str | None = None
    ) -> list[StoredEvent]:
        """Undelivered events in delivery (id) order, optionally only those after ``after_id``
        and only those of ``blog``."""
        query = (
            sa.select(events)
            .where(events.c.delivered_at.is_(None))
            .order_by(events.c.id)
            .limit(limit)
        )
        if after_id is not None:
            query = query.where(events.c.id > after_id)
        if blog is not None:
            query = query.where(events.c.blog == blog)
        async with self._reading("read pending events") as connection:
            result = (await connection.execute(query)).all()
        readable, unreadable = [], []
        for row in result:
            try:
                readable.append(rows.stored_event_from_row(row))
            except StorageError as error:
                log.error("%s; set aside so that later events are not blocked", error)
                unreadable.append(row.id)
        if unreadable:  # kept in the table for inspection, but no longer pending
            await self.mark_delivered(unreadable)
            if not readable:
                return await self.pending_events(limit, after_id, blog=blog)
        return readable

    async def announced_posts(self, blog: str, keys: Iterable[str]) -> set[str]:
        """The posts among ``keys`` that ``blog``'s outbox holds a ``new_post`` event of.

        Those were announced (new since the blog's first sync, or backfilled); the others were
        recorded in a baseline. Delivered events count: the outbox keeps them.
        """
        post_key = events.c.payload[("post", "key")].as_string()
        found: set[str] = set()
        async with self._reading(f"read the posts announced on blog {blog!r}") as connection:
            for chunk in _chunks(sorted(set(keys))):
                query = sa.select(post_key).where(
                    events.c.blog == blog, events.c.type == NewPost.type, post_key.in_(chunk)
                )
                found.update(await connection.scalars(query))
        return found

    async def mark_delivered(self, ids: Sequence[int]) -> None:
        """Record delivery; ids already delivered keep their first delivery time."""
        if not ids:
            return
        now = self._clock()
        async with self._writing("mark events delivered") as connection:
            for chunk in _chunks(sorted(set(ids))):
                await connection.execute(
                    sa.update(events)
                    .where(events.c.id.in_(chunk), events.c.delivered_at.is_(None))
                    .values(delivered_at=now)
                )

    async def pending_count(self) -> int:
        query = (
            sa.select(sa.func.count()).select_from(events).where(events.c.delivered_at.is_(None))
        )
        async with self._reading("count pending events") as connection:
            return int((await connection.execute(query)).scalar_one())

    # Plumbing

    @contextlib.asynccontextmanager
    async def _reading(self, action: str) -> AsyncIterator[AsyncConnection]:
        with _translated(action):
            async with self._engine.connect() as connection:
                yield connection

    @contextlib.asynccontextmanager
    async def _writing(self, action: str) -> AsyncIterator[AsyncConnection]:
        lock = self._write_lock if self._write_lock is not None else contextlib.nullcontext()
        with _translated(action):
            async with lock, write_transaction(self._engine) as connection:
                yield connection

    def _upsert(
        self, table: sa.Table, keys: Sequence[str], *, keep: Sequence[str] = ()
    ) -> sa.Insert:
        """INSERT ... ON CONFLICT (keys) DO UPDATE every column but ``keys`` and ``keep``.

        Built once per shape (building one costs more than running it for a few rows).
        """
        shape = (table.name, tuple(keys), tuple(keep))
        statement = self._upserts.get(shape)
        if statement is None:
            statement = self._upserts[shape] = self._build_upsert(table, keys, keep)
        return statement

    def _build_upsert(self, table: sa.Table, keys: Sequence[str], keep: Sequence[str]) -> sa.Insert:
        unchanged = {*keys, *keep}
        if self._dialect == "postgresql":
            pg = postgresql.insert(table)
            pg_set = {c.name: pg.excluded[c.name] for c in table.c if c.name not in unchanged}
            return pg.on_conflict_do_update(index_elements=list(keys), set_=pg_set)
        lite = sqlite.insert(table)
        lite_set = {c.name: lite.excluded[c.name] for c in table.c if c.name not in unchanged}
        return lite.on_conflict_do_update(index_elements=list(keys), set_=lite_set)


#: The order of :meth:`Storage.newest_posts`: newest first, undated ones last.
_NEWEST_FIRST = (items.c.published.desc().nulls_last(), items.c.first_seen_at.desc(), items.c.key)


def _visible_posts(blogs: str | Sequence[str]) -> sa.ColumnElement[bool]:
    """The posts of ``blogs`` (one, or several) not removed."""
    blog = items.c.blog == blogs if isinstance(blogs, str) else items.c.blog.in_(blogs)
    return sa.and_(blog, items.c.kind == EntryKind.POST.value, ~items.c.removed)


_TIMES = (
    "next_poll_at",
    "failing_since",
    "last_polled_at",
    "last_success_at",
    "synced_at",
)


def _as_read(state: FeedState) -> FeedState:
    """``state`` as reading it back would give it: every time in UTC (usually it is already)."""
    moved = {}
    for name in _TIMES:
        value = getattr(state, name)
        if value is not None and value.tzinfo is not UTC:
            moved[name] = value.astimezone(UTC)
    return dataclasses.replace(state, **moved) if moved else state


def _scheduled_in_utc(state: FeedState) -> bool:
    """Whether the times a deferred schedule sets are in UTC already (``_as_read`` keeps them)."""
    return (
        state.next_poll_at is not None
        and state.next_poll_at.tzinfo is UTC
        and state.last_polled_at is not None
        and state.last_polled_at.tzinfo is UTC
        and (state.last_success_at is None or state.last_success_at.tzinfo is UTC)
    )


def _same_but_schedule(known: FeedState, state: FeedState) -> bool:
    """Whether ``state`` is ``known`` with a new schedule that moves it forward (or equal)."""
    if known.last_polled_at is not None and (
        state.last_polled_at is None or state.last_polled_at < known.last_polled_at
    ):
        return False
    return (
        known.etag == state.etag
        and known.last_modified == state.last_modified
        and known.body_hash == state.body_hash
        and known.failures == state.failures
        and known.last_error == state.last_error
        and known.failing_since == state.failing_since
        and known.synced_at == state.synced_at
        and known.url == state.url
        and known.role == state.role
        and known.post_key == state.post_key
        and known.blog == state.blog
        and known.emit_on_first_poll == state.emit_on_first_poll
    )


async def _write_schedules(
    connection: AsyncConnection, dialect: str, pending: dict[str, Schedule]
) -> None:
    """Write deferred schedules; a schedule never moves a row's last poll time backwards.

    This runs for every unchanged poll, so it skips SQLAlchemy's per-value processing, which
    cost more than the write itself, and uses one parameter per column or less: on SQLite
    one statement joining a JSON array of rows of ready-made time strings (the format
    SQLAlchemy stores, see ``_sqlite_time``), which SQLite works through without holding
    the GIL (binding rows one by one would take it for every row, slowing the event loop
    while the write runs in the background); before SQLite 3.33, one prepared statement
    per row. On PostgreSQL, one statement over arrays.
    """
    if dialect == "sqlite":
        rows = []
        for key, (next_poll, polled, success) in pending.items():
            at = _sqlite_time(polled)
            succeeded = at if success is polled else _sqlite_time(success)
            rows.append((key, _sqlite_time(next_poll), at, succeeded))
        if _sqlite_joins_json():
            # one parameter, one statement: SQLite works through the rows without the GIL
            await connection.exec_driver_sql(_SQLITE_SCHEDULE_UPDATE, (json.dumps(rows),))
        else:
            await connection.exec_driver_sql(
                _SQLITE_SCHEDULE_UPDATE_MANY, [(n, p, s, k, p) for k, n, p, s in rows]
            )
        return
    keys = list(pending)
    times = list(zip(*pending.values(), strict=True))  # next polls, last polls, last successes
    await connection.execute(
        _POSTGRESQL_SCHEDULE_UPDATE, {"k": keys, "n": times[0], "p": times[1], "s": times[2]}
    )


@functools.cache
def _sqlite_joins_json() -> bool:
    """Whether this SQLite has ``UPDATE ... FROM`` (3.33) and the JSON functions."""
    if sqlite3.sqlite_version_info < (3, 33, 0):
        return False
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as probe:
            probe.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.Error:
        return False
    return True


def _sqlite_time(value: datetime | None) -> str | None:
    """A time as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC, microseconds always).

    Stored times are compared as strings there, so this must match that format exactly
    (tested against rows written through SQLAlchemy).
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (give a time zone)")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"


_SQLITE_SCHEDULE_UPDATE = (
    "UPDATE feeds SET next_poll_at = json_extract(s.value, '$[1]'), "
    "last_polled_at = json_extract(s.value, '$[2]'), "
    "last_success_at = json_extract(s.value, '$[3]') "
    "FROM json_each(?) AS s "
    "WHERE feeds.key = json_extract(s.value, '$[0]') AND "
    "(feeds.last_polled_at IS NULL OR feeds.last_polled_at <= json_extract(s.value, '$[2]'))"
)
_SQLITE_SCHEDULE_UPDATE_MANY = (
    "UPDATE feeds SET next_poll_at = ?, last_polled_at = ?, last_success_at = ? "
    "WHERE key = ? AND (last_polled_at IS NULL OR last_polled_at <= ?)"
)
_POSTGRESQL_SCHEDULE_UPDATE = sa.text(
    "UPDATE feeds SET next_poll_at = u.n, last_polled_at = u.p, last_success_at = u.s "
    "FROM unnest(:k, :n, :p, :s) AS u(k, n, p, s) "
    "WHERE feeds.key = u.k AND (feeds.last_polled_at IS NULL OR feeds.last_polled_at <= u.p)"
).bindparams(
    sa.bindparam("k", type_=postgresql.ARRAY(sa.Text)),
    sa.bindparam("n", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("p", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
    sa.bindparam("s", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
)


def _open_error(exc: BaseException, url: URL) -> StorageError | None:
    """Why opening failed, in one line; ``None`` for errors that are bugs, not conditions."""
    where = describe(url)
    if isinstance(exc, OSError | TimeoutError):
        return StorageError(f"cannot open database {where}: server not reachable ({reason(exc)})")
    if isinstance(exc, CommandError):
        return StorageError(
            f"cannot migrate database {where}: {reason(exc)} "
            "(was it written by a newer Gatejumper?)"
        )
    if isinstance(exc, SQLAlchemyError):
        return StorageError(f"cannot open database {where}: {reason(exc)}")
    return None


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn driver errors into StorageError naming what we were doing."""
    try:
        yield
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StorageError(f"could not {action}: {reason(exc)}") from exc


def _chunks(values: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


__all__ = ["Clock", "Storage", "utc_now"]
