"""Polls on a schedule with APScheduler 3 (AsyncIOScheduler).

One job per blog: interval from the config, first runs spread over the first
interval, jitter on every run, missed runs coalesced, never two runs of a job
at once. Per-feed backoff and Retry-After live in the stored next-poll times,
which :class:`bot.feeds.poller.Poller` checks on each run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import BlogConfig, Settings

log = logging.getLogger(__name__)

BlogJob = Callable[[BlogConfig], Awaitable[object]]


class PollScheduler:
    def __init__(self, settings: Settings, job: BlogJob) -> None:
        self.settings = settings
        self.job = job
        self._running: set[asyncio.Task[object]] = set()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self, now: datetime | None = None) -> None:
        """Add one job per blog, first runs spread evenly over their interval."""
        now = now or datetime.now(UTC)
        blogs = self.settings.blogs
        for index, blog in enumerate(blogs):
            interval = self.settings.interval_for(blog)
            first = now + timedelta(seconds=1) + interval * (index / max(len(blogs), 1))
            self.scheduler.add_job(
                self._tracked,
                IntervalTrigger(
                    seconds=interval.total_seconds(),
                    start_date=first,
                    jitter=max(1, int(interval.total_seconds() * self.settings.polling.jitter)),
                    timezone=UTC,
                ),
                args=[blog],
                id=f"poll:{blog.name}",
                name=f"poll {blog.name}",
                next_run_time=first,
            )
        self.scheduler.start()
        log.info("polling %d blogs", len(blogs))

    async def _tracked(self, blog: BlogConfig) -> object:
        """Runs the blog job, remembered so that :meth:`stop` can let it finish."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self.job(blog)
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop scheduling, let running polls finish (cancel them after ``grace`` s), shut down.

        APScheduler's own shutdown cancels running jobs; a poll cut mid-way is
        safe (its writes are one transaction) but wastes the work.
        """
        if self.scheduler.running:
            self.scheduler.pause()
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            log.info("stopping: waiting for %d blog polls to finish", len(running))
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
        self.shutdown()

    def add_job(self, job: Callable[[], Awaitable[object]], every: timedelta, name: str) -> None:
        """A periodic housekeeping job (e.g. draining the event outbox)."""
        self.scheduler.add_job(
            job, IntervalTrigger(seconds=every.total_seconds(), timezone=UTC), id=name, name=name
        )

    def next_run(self, blog: str) -> datetime | None:
        job = self.scheduler.get_job(f"poll:{blog}")
        return job.next_run_time if job else None

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
