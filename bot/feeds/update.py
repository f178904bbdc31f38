"""The update pipeline for one feed: retrieve → parse → load known → decide → store.

Each stage is its own module; this one only sequences them and turns a
failure of any stage into state on that feed (``last_error``, backoff), so
one bad feed never stops the others. Only unexpected errors are logged loudly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from bot._records import immutable
from bot.config import BlogConfig, Settings
from bot.events import Event, FeedFailing, FeedRecovered
from bot.feeds._slots import KeyedSlots, Slots
from bot.feeds.decide import (
    after_failure,
    after_success,
    decide_entries,
    next_poll,
    polled_again,
)
from bot.feeds.errors import RetrieveError, UpdateError
from bot.feeds.fetch import Fetcher, backoff_delay
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.parse import ParserPool
from bot.feeds.sources.base import NotModified, ParseContext, Retrieved, Source
from bot.storage import Storage
from bot.storage.records import FeedState, UpdateResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    UPDATED = "updated"
    NOT_MODIFIED = "not modified"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@immutable
class FeedOutcome:
    """What one poll of one feed did, for progress output and status commands (immutable:
    ``@immutable``, one is made for every poll)."""

    feed: str
    outcome: Outcome
    events: int = 0
    error: str | None = None
    #: The feed's state as stored after this poll (so a poller need not read it back).
    state: FeedState | None = field(default=None, compare=False, repr=False)


class Updater:
    """Polls feeds through the pipeline and records the results atomically."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        fetcher: Fetcher,
        parser: ParserPool,
        *,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.fetcher = fetcher
        self.parser = parser
        self.clock = clock
        self.rng = rng or random.Random()
        self._failing_threads: dict[str, set[str]] = {}
        self._commits = GroupCommit(storage)
        self._bodies = BodyLimit(
            settings.polling.concurrency, settings.polling.per_host_concurrency
        )

    async def _coalesced(self, state: FeedState, events: tuple[Event, ...]) -> tuple[Event, ...]:
        """One alert per blog for its per-post comment feeds, which share one server.

        When Isso (or a blog's comment feeds) goes down, every followed post's
        feed fails: the first one to cross the threshold alerts, the others
        stay quiet, and the recovery is announced when the last one recovers.
        """
        if state.role != "post_comments" or not events:
            return events
        failing = self._failing_threads.get(state.blog)
        if failing is None:
            stored = await self.storage.list_feeds(state.blog)
            found = {f.key for f in stored if f.role == "post_comments" and f.failing_since}
            failing = self._failing_threads.setdefault(state.blog, found)
        kept: list[Event] = []
        for event in events:
            if isinstance(event, FeedFailing):
                quiet = bool(failing - {state.key})
                failing.add(state.key)
            elif isinstance(event, FeedRecovered):
                failing.discard(state.key)
                quiet = bool(failing)
            else:
                quiet = False
            if not quiet:
                kept.append(event)
        return tuple(kept)

    async def update_feed(self, blog: BlogConfig, state: FeedState, source: Source) -> FeedOutcome:
        """Poll one feed once; never raises for the feed's own failures."""
        now = self.clock()
        held = self._bodies.hold(state.url)
        try:
            if not held.take_now():
                await held.take()
            try:
                retrieved = await source.retrieve(self.fetcher, state, now)
                if isinstance(retrieved, NotModified):
                    held.release()
                    done = self._unchanged(
                        blog, state, now, retrieved.max_age, Outcome.NOT_MODIFIED
                    )
                    return done if isinstance(done, FeedOutcome) else await done
                body_hash = retrieved.body_hash  # computed once
                if state.synced_at is not None and body_hash == state.body_hash:
                    held.release()
                    validators = (retrieved.etag, retrieved.last_modified)
                    max_age = retrieved.max_age
                    del retrieved  # the body: not kept while the write waits for its batch
                    done = self._unchanged(blog, state, now, max_age, Outcome.UNCHANGED, validators)
                    return done if isinstance(done, FeedOutcome) else await done
                context = self._context(blog, state, now)
                parsed = await self.parser.run(source.parse, retrieved, context)
                return await self._store(blog, state, retrieved, body_hash, parsed, now)
            finally:
                held.release()
        except UpdateError as error:
            return await self.record_failure(blog, state, error, now)
        except Exception as error:  # an unexpected bug must still not stop the other feeds
            log.exception("unexpected error while updating %s (%s)", state.key, state.url)
            return await self.record_failure(blog, state, error, now)

    async def record_failure(
        self, blog: BlogConfig, state: FeedState, error: BaseException, now: datetime | None = None
    ) -> FeedOutcome:
        """Record a failed poll on the feed: backoff, last error, a failing alert once."""
        now = now or self.clock()
        message = str(error) if isinstance(error, UpdateError) else f"unexpected error: {error!r}"
        retry_in = backoff_delay(
            state.failures + 1,
            self.settings.interval_for(blog),
            self.settings.polling.backoff_max,
            self.rng,
        )
        if isinstance(error, RetrieveError) and error.retry_after:
            retry_in = max(retry_in, timedelta(seconds=error.retry_after))
        new_state, events = after_failure(
            state,
            now,
            message,
            retry_in=retry_in,
            failing_after=self.settings.polling.failing_after,
        )
        events = await self._coalesced(state, events)
        log.warning(
            "%s: %s (failure %d, next try in %s)",
            state.key,
            message,
            new_state.failures,
            timedelta(seconds=round(retry_in.total_seconds())),
        )
        await self._commits.apply(UpdateResult(new_state, (), events))
        return FeedOutcome(state.key, Outcome.FAILED, len(events), message, new_state)

    def _context(self, blog: BlogConfig, state: FeedState, now: datetime) -> ParseContext:
        return ParseContext(
            blog=blog.name,
            feed_key=state.key,
            url=state.url,
            role=state.role,
            post_key=state.post_key,
            now=now,
            include_pingbacks=blog.comments.include_pingbacks,
        )

    def _next(self, blog: BlogConfig, now: datetime, max_age: float | None) -> datetime:
        return next_poll(
            now,
            self.settings.interval_for(blog),
            self.settings.polling.jitter,
            self.rng,
            max_age=max_age,
        )

    def _unchanged(
        self,
        blog: BlogConfig,
        state: FeedState,
        now: datetime,
        max_age: float | None,
        outcome: Outcome,
        validators: tuple[str | None, str | None] | None = None,
    ) -> FeedOutcome | Awaitable[FeedOutcome]:
        """Nothing new: only the feed's row changes (validators, schedule, health).

        The common case, where only the schedule changes, is done here and now (a deferred
        write, see ``Storage.defer_schedule``); otherwise the write to wait for is returned.
        """
        etag, last_modified = validators or (state.etag, state.last_modified)
        next_poll_at = self._next(blog, now, max_age)
        moved = polled_again(state, now, next_poll_at, etag=etag, last_modified=last_modified)
        if moved is not None:
            self.storage.defer_schedule(moved, was=state)
            return FeedOutcome(state.key, outcome, 0, None, moved)  # in field order: most polls
        new_state, events = after_success(
            state,
            now,
            next_poll_at,
            etag=etag,
            last_modified=last_modified,
            body_hash=state.body_hash,
        )
        return self._write_unchanged(state, new_state, events, outcome)

    async def _write_unchanged(
        self, state: FeedState, new_state: FeedState, events: tuple[Event, ...], outcome: Outcome
    ) -> FeedOutcome:
        events = await self._coalesced(state, events)
        await self._commits.apply(UpdateResult(new_state, (), events))
        return FeedOutcome(state.key, outcome, len(events), state=new_state)

    async def _store(
        self,
        blog: BlogConfig,
        state: FeedState,
        retrieved: Retrieved,
        body_hash: str,
        parsed: ParsedFeed,
        now: datetime,
    ) -> FeedOutcome:
        for warning in parsed.warnings:
            log.info("%s: %s", state.key, warning)
        entries = await self._with_post_context(blog.name, parsed.entries)
        parsed = dataclasses.replace(parsed, entries=entries)
        known = await self.storage.get_items(blog.name, [e.key for e in entries])
        in_window = []
        if parsed.window_start is not None:
            scope = state.post_key if state.role == "post_comments" else None
            in_window = await self.storage.items_since(
                blog.name, parsed.kinds, parsed.window_start, post_key=scope
            )
        baseline = state.synced_at is None and not state.emit_on_first_poll
        decision = decide_entries(
            blog.name,
            parsed,
            known,
            baseline=baseline,
            backfill=blog.announce.backfill if state.role == "posts" else 0,
            include_pingbacks=blog.comments.include_pingbacks,
            in_window=in_window,
        )
        new_state, recovery = after_success(
            state,
            now,
            self._next(blog, now, retrieved.max_age),
            etag=retrieved.etag,
            last_modified=retrieved.last_modified,
            body_hash=body_hash,
        )
        events = await self._coalesced(state, recovery) + decision.events
        await self._commits.apply(UpdateResult(new_state, decision.writes, events))
        return FeedOutcome(state.key, Outcome.UPDATED, len(events), state=new_state)

    async def save_state(self, state: FeedState) -> None:
        """Store a feed's state (a new feed row, say) along with the polls' results."""
        await self._commits.apply(UpdateResult(state))

    async def _with_post_context(self, blog: str, entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
        """Give comments the title and link of their post when storage knows the post."""
        wanted = {
            e.post_key
            for e in entries
            if e.kind.is_comment_like and e.post_key and not e.post_title
        }
        if not wanted:
            return entries
        posts = await self.storage.get_items(blog, wanted)
        enriched = []
        for entry in entries:
            known_post = posts.get(entry.post_key or "")
            if entry.kind.is_comment_like and known_post and known_post.kind is EntryKind.POST:
                entry = dataclasses.replace(
                    entry,
                    post_title=entry.post_title or known_post.entry.title,
                    post_url=entry.post_url or known_post.entry.url,
                )
            enriched.append(entry)
        return tuple(enriched)


class GroupCommit:
    """Writes poll results in batches: those that arrive while a write runs go in the next one.

    Polling thousands of feeds then costs a transaction per batch instead of one per feed,
    with no added wait when polls are few (a lone result is written at once). Each caller
    returns only when its own result is stored, or raises what storing it raised: a batch
    that fails is written again one result at a time, so one bad result fails alone.
    """

    def __init__(self, storage: Storage, max_batch: int = 500) -> None:
        self.storage = storage
        self.max_batch = max_batch
        self._queue: list[tuple[UpdateResult, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def apply(self, result: UpdateResult) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((result, done))
        if self._writer is None:
            self._writer = loop.create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: len(batch)]
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    for _, done in batch:
                        done.cancel()
                    raise
        finally:
            self._writer = None
            for _, done in self._queue:  # only when cancelled: nobody will write these
                done.cancel()
            self._queue.clear()

    async def _write(self, batch: list[tuple[UpdateResult, asyncio.Future[None]]]) -> None:
        try:
            if len(batch) == 1:
                await self.storage.apply_update(batch[0][0])
            else:
                await self.storage.apply_updates([result for result, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            for result, done in batch:
                try:
                    await self.storage.apply_update(result)
                except Exception as single:
                    _settle(done, single)
                else:
                    _settle(done, None)
            return
        for _, done in batch:
            _settle(done, None)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the caller was cancelled; the write stands
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class BodyLimit:
    """At most ``total`` feeds (``per_host`` per host) between their request and their store.

    Fetching runs far ahead of parsing when many feeds changed (a first sync): without a
    limit every body would wait in memory for a parser. The host slot is taken first, as
    the fetcher does, so feeds queued for one slow host never hold slots other hosts need.
    A feed that turns out unchanged gives its slots back at once (``Held.release``).
    """

    def __init__(self, total: int, per_host: int) -> None:
        self._total = Slots(total)
        self._hosts = KeyedSlots(per_host)

    def hold(self, url: str) -> Held:
        """The slots of the feed at ``url``: ``await held.take()``, then ``held.release()``."""
        host = _HOSTS.get(url)
        if host is None:
            if len(_HOSTS) >= _HOSTS_KEPT:
                _HOSTS.clear()
            host = _HOSTS[url] = sys.intern(urlsplit(url).hostname or "")
        return Held(self, host)


class Held:
    """The slots one feed holds in a :class:`BodyLimit`."""

    __slots__ = ("_host", "_limit", "_taken")

    def __init__(self, limit: BodyLimit, host: str) -> None:
        self._limit = limit
        self._host = host
        self._taken = 0  # 1: the host slot, 2: both

    def take_now(self) -> bool:
        """Take both slots if they are free and nobody waits (no coroutine: the usual case).

        ``False``: nothing was taken, ``await take()`` instead.
        """
        limit = self._limit
        if not limit._hosts.take_now(self._host):
            return False
        if not limit._total.take_now():
            limit._hosts.give(self._host)
            return False
        self._taken = 2
        return True

    async def take(self) -> None:
        """Wait for the host's slot, then for one of all; ``release`` gives them back."""
        limit = self._limit
        await limit._hosts.take(self._host)
        self._taken = 1
        try:
            await limit._total.take()
        except BaseException:
            self.release()
            raise
        self._taken = 2

    def release(self) -> None:
        """Give the slots back now (again later is a no-op)."""
        if self._taken == 2:
            self._limit._total.give()
        if self._taken:
            self._limit._hosts.give(self._host)
        self._taken = 0


#: The host of each feed URL polled (``BodyLimit.hold``), for every poll of every feed, so
#: that a URL is parsed once: the URL strings are the feeds' own, the hosts are interned,
#: so 10,000 feeds cost about 1 MB.
_HOSTS: dict[str, str] = {}
_HOSTS_KEPT = 65_536  # then forgotten all at once: bounded, whatever URLs come and go
