"""The update pipeline for one feed: retrieve → parse → load known → decide → store.

Each stage is its own module; this one only sequences them and turns a
failure of any stage into state on that feed (``last_error``, backoff), so
one bad feed never stops the others. Only unexpected errors are logged loudly.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.config import BlogConfig, Settings
from bot.feeds.decide import after_failure, after_success, decide_entries, next_poll
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


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one poll of one feed did, for progress output and status commands."""

    feed: str
    outcome: Outcome
    events: int = 0
    error: str | None = None


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

    async def update_feed(self, blog: BlogConfig, state: FeedState, source: Source) -> FeedOutcome:
        """Poll one feed once; never raises for the feed's own failures."""
        now = self.clock()
        try:
            retrieved = await source.retrieve(self.fetcher, state, now)
            if isinstance(retrieved, NotModified):
                return await self._unchanged(
                    blog, state, now, retrieved.max_age, Outcome.NOT_MODIFIED
                )
            if state.synced_at is not None and retrieved.body_hash == state.body_hash:
                return await self._unchanged(
                    blog, state, now, retrieved.max_age, Outcome.UNCHANGED, retrieved
                )
            parsed = await self.parser.run(source.parse, retrieved, self._context(blog, state, now))
            return await self._store(blog, state, retrieved, parsed, now)
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
        log.warning(
            "%s: %s (failure %d, next try in %s)", state.key, message, new_state.failures, retry_in
        )
        await self.storage.apply_update(UpdateResult(new_state, (), events))
        return FeedOutcome(state.key, Outcome.FAILED, len(events), message)

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

    async def _unchanged(
        self,
        blog: BlogConfig,
        state: FeedState,
        now: datetime,
        max_age: float | None,
        outcome: Outcome,
        retrieved: Retrieved | None = None,
    ) -> FeedOutcome:
        new_state, events = after_success(
            state,
            now,
            self._next(blog, now, max_age),
            etag=retrieved.etag if retrieved else state.etag,
            last_modified=retrieved.last_modified if retrieved else state.last_modified,
            body_hash=state.body_hash,
        )
        await self.storage.apply_update(UpdateResult(new_state, (), events))
        return FeedOutcome(state.key, outcome, len(events))

    async def _store(
        self,
        blog: BlogConfig,
        state: FeedState,
        retrieved: Retrieved,
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
            body_hash=retrieved.body_hash,
        )
        events = recovery + decision.events
        await self.storage.apply_update(UpdateResult(new_state, decision.writes, events))
        return FeedOutcome(state.key, Outcome.UPDATED, len(events))

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
