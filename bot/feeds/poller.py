"""One poll cycle of a blog: its posts listings first, then its comment listings.

Posts go first so that comments find their post already stored (and so that
per-post comment feeds of brand-new posts exist). Blogs are polled
concurrently; a failing blog or feed never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.config import BlogConfig, Settings
from bot.feeds.errors import UpdateError
from bot.feeds.plan import Planned, plan_comments, plan_posts
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.storage.records import FeedState

log = logging.getLogger(__name__)

ProgressCallback = Callable[[FeedOutcome], None]


class Poller:
    """Runs poll cycles over the configured blogs through an :class:`Updater`."""

    def __init__(
        self, settings: Settings, updater: Updater, *, progress: ProgressCallback | None = None
    ) -> None:
        self.settings = settings
        self.updater = updater
        self.progress = progress
        self._locks: dict[str, asyncio.Lock] = {}

    async def poll_all(self, *, force: bool = False) -> list[FeedOutcome]:
        """Poll every blog once, concurrently."""
        results = await asyncio.gather(
            *(self.poll_blog(b, force=force) for b in self.settings.blogs)
        )
        return [outcome for outcomes in results for outcome in outcomes]

    async def poll_blog(self, blog: BlogConfig, *, force: bool = False) -> list[FeedOutcome]:
        """Poll one blog: due posts listings, then due comment listings.

        ``force`` ignores the stored next-poll times (``--once``, resync).
        Never two polls of one blog at once: a second call waits for the first.
        """
        lock = self._locks.setdefault(blog.name, asyncio.Lock())
        async with lock:
            outcomes: list[FeedOutcome] = []
            try:
                posts = await plan_posts(blog, self.updater.storage, self.updater.fetcher)
            except UpdateError as error:
                outcomes.append(await self._planning_failed(blog, error))
                return outcomes
            outcomes += await self._run(blog, posts, force)
            comments = await plan_comments(blog, self.updater.storage, posts)
            outcomes += await self._run(blog, comments, force)
            return outcomes

    async def _run(
        self, blog: BlogConfig, planned: Sequence[Planned], force: bool
    ) -> list[FeedOutcome]:
        now = self.updater.clock()
        due = [p for p in planned if force or self.is_due(blog, p.state, now)]
        outcomes = await asyncio.gather(*(self._one(blog, p) for p in due))
        return list(outcomes)

    async def _one(self, blog: BlogConfig, planned: Planned) -> FeedOutcome:
        outcome = await self.updater.update_feed(blog, planned.state, planned.source)
        if self.progress:
            self.progress(outcome)
        return outcome

    def is_due(self, blog: BlogConfig, state: FeedState, now: datetime) -> bool:
        """Due when its next-poll time (backoff, Retry-After, max-age) is reached.

        A tolerance of the scheduler's jitter keeps a healthy feed from
        skipping a whole interval because its job fired slightly early.
        """
        if state.next_poll_at is None:
            return True
        interval = self.settings.interval_for(blog)
        tolerance = interval * (self.settings.polling.jitter + 0.05) + timedelta(seconds=1)
        return state.next_poll_at - tolerance <= now

    async def _planning_failed(self, blog: BlogConfig, error: UpdateError) -> FeedOutcome:
        """Discovery failed: record it on the blog's posts feed so status and alerts see it."""
        storage = self.updater.storage
        key = f"{blog.name}:posts"
        state = await storage.get_feed(key) or FeedState(
            key=key, blog=blog.name, url=str(blog.url), role="posts"
        )
        outcome = await self.updater.record_failure(blog, state, error)
        if self.progress:
            self.progress(outcome)
        return outcome


def summarise(outcomes: Sequence[FeedOutcome]) -> str:
    """One line for stderr: how a cycle went."""
    counts = {o: sum(1 for x in outcomes if x.outcome is o) for o in Outcome}
    events = sum(x.events for x in outcomes)
    parts = [f"{len(outcomes)} feeds polled", f"{events} events"]
    parts += [f"{n} {o.value}" for o, n in counts.items() if n]
    return ", ".join(parts)
