"""One poll cycle of a blog: its posts listings first, then its comment listings.

Posts go first so that comments find their post already stored (and so that
per-post comment feeds of brand-new posts exist). Blogs are polled
concurrently (through a window, see ``_windowed``); a failing blog or feed
never stops the others. The feed rows a cycle needs are read in bulk up front,
under the blogs' locks, and the polls' results are written in batches, so a cycle
of thousands of unchanged feeds costs a few queries, not several per feed.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from bot.config import BlogConfig, Settings
from bot.feeds.errors import UpdateError
from bot.feeds.plan import (
    FeedStates,
    FollowedCache,
    Planned,
    comments_key,
    plan_comments,
    plan_posts,
    planned_comments,
    planned_posts,
    posts_key,
    read_followed_ahead,
)
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.storage.records import FeedState

log = logging.getLogger(__name__)

T = TypeVar("T")

ProgressCallback = Callable[[FeedOutcome], None]

# ``poll_all`` polls at most ``per_host_concurrency`` blogs of one host at once and
# ``concurrency`` in all: one blog poll per fetch slot. More would only wait for the
# slots (the body limit holds a feed's slots from its request to its store), which
# costs more than it overlaps. A window instead of every blog at once keeps memory flat
# (thousands of blogs), and a window per host means blogs queued for a slow host never
# hold the others back.

#: ``poll_all`` locks blogs and reads their feed rows this many at a time, yielding to the
#: event loop in between (10,000 blogs at once held it for tens of milliseconds).
PREPARE_CHUNK = 500


class Poller:
    """Runs poll cycles over the configured blogs through an :class:`Updater`."""

    def __init__(
        self, settings: Settings, updater: Updater, *, progress: ProgressCallback | None = None
    ) -> None:
        self.settings = settings
        self.updater = updater
        self.progress = progress
        self._locks: dict[str, asyncio.Lock] = {}
        self._hosts: dict[str, str] = {}
        self._followed: FollowedCache = {}

    async def poll_all(self, *, force: bool = False) -> list[FeedOutcome]:
        """Poll every blog once, concurrently.

        Blogs not being polled already are locked at once and their feed rows read
        in bulk; a blog whose poll is running gets polled after it, as ``poll_blog``.
        """
        blogs = self.settings.blogs
        held: set[str] = set()
        try:
            states = self._states()
            for start in range(0, len(blogs), PREPARE_CHUNK):
                if start:
                    await asyncio.sleep(0)  # thousands of blogs: let the loop breathe
                chunk = blogs[start : start + PREPARE_CHUNK]
                for blog in chunk:
                    lock = self._lock(blog)
                    if not lock.locked():
                        await lock.acquire()  # free: returns at once, without yielding
                        held.add(blog.name)
                mine = [b for b in chunk if b.name in held]
                await states.read_ahead(self._keys(mine))
                await read_followed_ahead(mine, states, self._followed)
            polling = self.settings.polling
            results = await _windowed(
                blogs,
                lambda b: (
                    self._poll(b, force, states, held)
                    if b.name in held
                    else self.poll_blog(b, force=force)
                ),
                host_of=self._host_of,
                per_host=polling.per_host_concurrency,
                total=polling.concurrency,
            )
        finally:
            for name in held:  # the blogs whose poll never started
                self._locks[name].release()
        # the cycle's unchanged polls, in one statement, while the caller goes on (a failure
        # is logged and the schedules kept for the next try; ``Storage.close`` writes them)
        self.updater.storage.write_schedules_soon()
        return [outcome for outcomes in results for outcome in outcomes]

    async def poll_blog(self, blog: BlogConfig, *, force: bool = False) -> list[FeedOutcome]:
        """Poll one blog: due posts listings, then due comment listings.

        ``force`` ignores the stored next-poll times (``--once``, resync).
        Never two polls of one blog at once: a second call waits for the first.
        """
        async with self._lock(blog):
            states = self._states()
            await states.read_ahead(self._keys([blog]))
            return await self._poll(blog, force, states)

    async def _poll(
        self, blog: BlogConfig, force: bool, states: FeedStates, held: set[str] | None = None
    ) -> list[FeedOutcome]:
        """Plan and poll the blog's listings; a blog ``poll_all`` locked (in ``held``) is
        unlocked at the end (here, not in a coroutine around this one: every await of a poll
        goes through each coroutine between its task and the socket)."""
        storage = self.updater.storage
        outcomes: list[FeedOutcome] = []
        try:
            try:
                posts = planned_posts(blog, states)  # every cycle after the first: no coroutine
                if posts is None:
                    posts = await plan_posts(blog, storage, self.updater.fetcher, states=states)
            except UpdateError as error:
                outcomes.append(await self._planning_failed(blog, error))
                return outcomes
            except Exception as error:  # e.g. a home page no parser expected: still this blog's
                log.exception("unexpected error while planning the polls of %s", blog.name)
                outcomes.append(await self._planning_failed(blog, error))
                return outcomes
            due = self._due(blog, posts, force)
            if len(due) == 1:  # the common case: polled here, not in a coroutine around it
                one = due[0]
                outcome = await self.updater.update_feed(blog, one.state, one.source)
                self._polled(one, outcome, states)
                outcomes.append(outcome)
            else:
                outcomes += await self._run(blog, due, states)
            comments = planned_comments(blog, posts, states, self._followed)
            if comments is None:
                comments = await plan_comments(
                    blog, storage, posts, states=states, followed=self._followed
                )
            if comments:
                outcomes += await self._run(blog, self._due(blog, comments, force), states)
            return outcomes
        finally:
            if held is not None:
                held.discard(blog.name)
                self._locks[blog.name].release()

    def _states(self) -> FeedStates:
        """Feed rows for one cycle; new rows are written in batches with the polls' results."""
        return FeedStates(self.updater.storage, save=self.updater.save_state)

    def _lock(self, blog: BlogConfig) -> asyncio.Lock:
        lock = self._locks.get(blog.name)
        if lock is None:
            lock = self._locks[blog.name] = asyncio.Lock()
        return lock

    def _host_of(self, blog: BlogConfig) -> str:
        host = self._hosts.get(blog.name)
        if host is None:
            host = self._hosts[blog.name] = _host_of(blog)
        return host

    def _keys(self, blogs: Sequence[BlogConfig]) -> list[str]:
        """The feed rows polling ``blogs`` will look at, as far as known before planning."""
        keys = []
        for blog in blogs:
            keys += [posts_key(blog), comments_key(blog)]
            if cached := self._followed.get(blog.name):
                keys += [comments_key(blog, post.key) for post in cached[1]]
        return keys

    def _due(self, blog: BlogConfig, planned: list[Planned], force: bool) -> list[Planned]:
        if force:
            return planned
        now = self.updater.clock()
        return [p for p in planned if self.is_due(blog, p.state, now)]

    async def _run(
        self, blog: BlogConfig, due: Sequence[Planned], states: FeedStates
    ) -> list[FeedOutcome]:
        if len(due) != 1:
            return await _every(self._one(blog, p, states) for p in due)
        one = due[0]  # no task for a single listing
        outcome = await self.updater.update_feed(blog, one.state, one.source)
        self._polled(one, outcome, states)
        return [outcome]

    async def _one(self, blog: BlogConfig, planned: Planned, states: FeedStates) -> FeedOutcome:
        outcome = await self.updater.update_feed(blog, planned.state, planned.source)
        self._polled(planned, outcome, states)
        return outcome

    def _polled(self, planned: Planned, outcome: FeedOutcome, states: FeedStates) -> None:
        states.remember(planned.state.key, outcome.state)
        if self.progress:
            self.progress(outcome)

    def is_due(self, blog: BlogConfig, state: FeedState, now: datetime) -> bool:
        """Due when its next-poll time (backoff, Retry-After, max-age) is reached.

        A healthy feed's time gets a tolerance of both jitters (its own ± and
        the job's up to +jitter·interval), so it never skips a whole interval
        because its job fired early; a failing feed waits out its backoff or
        Retry-After exactly.
        """
        if state.next_poll_at is None:
            return True
        if state.failures:
            return state.next_poll_at <= now
        interval = self.settings.interval_for(blog)
        tolerance = interval * (2 * self.settings.polling.jitter + 0.05) + timedelta(seconds=1)
        return state.next_poll_at - tolerance <= now

    async def _planning_failed(self, blog: BlogConfig, error: Exception) -> FeedOutcome:
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


async def _windowed(
    blogs: Sequence[BlogConfig],
    poll: Callable[[BlogConfig], Coroutine[Any, Any, T]],
    *,
    host_of: Callable[[BlogConfig], str],
    per_host: int,
    total: int,
) -> list[T]:
    """``poll(blog)`` for every blog, at most ``per_host`` of one host and ``total`` at once.

    Hosts take turns. Like ``_every``: results in blog order, and the first error (in
    blog order) raised once every poll has finished.
    """
    loop = asyncio.get_running_loop()
    waiting: dict[str, collections.deque[int]] = {}
    for index, blog in enumerate(blogs):
        waiting.setdefault(host_of(blog), collections.deque()).append(index)
    ready = collections.deque(waiting)  # hosts that may start a poll now
    running = dict.fromkeys(waiting, 0)
    outcomes: list[T | BaseException | None] = [None] * len(blogs)
    tasks: set[asyncio.Task[T]] = set()
    finished: asyncio.Future[None] = loop.create_future()
    left = len(blogs)

    def start_more() -> None:
        while ready and len(tasks) < total:
            host = ready.popleft()
            index = waiting[host].popleft()
            running[host] += 1
            task = loop.create_task(poll(blogs[index]))
            tasks.add(task)
            task.add_done_callback(functools.partial(done, host, index))
            if waiting[host] and running[host] < per_host:
                ready.append(host)

    def done(host: str, index: int, task: asyncio.Task[T]) -> None:
        nonlocal left
        tasks.discard(task)
        outcomes[index] = task.exception() if not task.cancelled() else asyncio.CancelledError()
        if outcomes[index] is None:
            outcomes[index] = task.result()
        running[host] -= 1
        if waiting[host] and running[host] == per_host - 1:
            ready.append(host)  # it was full
        left -= 1
        if left == 0 and not finished.done():
            finished.set_result(None)
        elif not finished.done():
            start_more()

    if not blogs:
        return []
    start_more()
    try:
        await finished
    except BaseException:
        ready.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(list[T], outcomes)


def _host_of(blog: BlogConfig) -> str:
    return urlsplit(str(blog.posts_feed or blog.url)).hostname or ""


async def _every(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """``gather`` that lets every one finish before raising the first error.

    Plain ``gather`` would leave the others running unawaited, after the blog's
    lock is released (so two polls of one blog could overlap after all).
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


def summarise(outcomes: Sequence[FeedOutcome]) -> str:
    """One line for stderr: how a cycle went."""
    counts = {o: sum(1 for x in outcomes if x.outcome is o) for o in Outcome}
    events = sum(x.events for x in outcomes)
    parts = [f"{len(outcomes)} feeds polled", f"{events} events"]
    parts += [f"{n} {o.value}" for o, n in counts.items() if n]
    return ", ".join(parts)
