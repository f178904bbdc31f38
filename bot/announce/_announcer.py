"""The announcer: the event outbox → Discord, one lane per blog, exactly once.

It owns ordering and delivery guarantees and talks to Discord only through a
:class:`~bot.announce.port.DiscordPort`, so it runs (and is tested) without discord.py.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random

from bot.announce._delivery import BlogDelivery, ChannelKinds
from bot.announce._lanes import Clock, Lane, LaneStatus, Random, Sleep, first_of
from bot.announce._targets import alert_draft, alert_nonce
from bot.announce.port import DiscordError, DiscordPort, PermanentDiscordError
from bot.config import BlogConfig, Settings
from bot.events import Event, NewComment, NewPingback
from bot.feeds.models import Entry, EntryKind
from bot.storage import Storage, StorageError
from bot.storage.storage import utc_now

log = logging.getLogger("bot.announce")


class Announcer:
    """Delivers the stored events of every configured blog to Discord.

    ``run`` is the long-lived loop; ``wake`` tells it new events were stored; ``deliver_pending``
    is one pass (tests, commands); ``fill_gaps`` re-queues comments that never made it.
    ``clock``, ``sleep`` and ``random`` are injectable so tests control time and jitter.
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        port: DiscordPort,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        random: Random = _random.random,
        poll_interval: float = 30.0,
        stop_grace: float = 5.0,
    ) -> None:
        self.settings = settings
        self._storage = storage
        self._port = port
        self._clock = clock
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._stop_grace = stop_grace
        self._blogs = {blog.name: blog for blog in settings.blogs}
        kinds = ChannelKinds(port)
        alerts = settings.discord.alerts_channel
        self._lanes = {
            blog.name: Lane(
                blog.name,
                BlogDelivery(blog, storage, port, kinds, alerts_channel=alerts),
                storage,
                clock=clock,
                random=random,
                alert=self._alert,
            )
            for blog in settings.blogs
        }
        self._fill_locks = {name: asyncio.Lock() for name in self._blogs}
        self._start_lock = asyncio.Lock()
        self._started = False

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let each lane finish its event in flight (for
        ``stop_grace`` seconds) and abandon it after that: its intent is recorded, so the next
        start completes it without duplicating anything."""
        while not self._started and not stop.is_set():
            try:
                await self._start()
            except StorageError as error:
                log.warning("cannot read the outbox (%s); trying again shortly", error)
                await first_of(stop.wait(), self._sleep(self._poll_interval))
        lanes = [
            asyncio.create_task(
                lane.run(stop, sleep=self._sleep, poll_interval=self._poll_interval),
                name=f"announce {lane.blog}",
            )
            for lane in self._lanes.values()
        ]
        try:
            await stop.wait()
            if lanes:
                await asyncio.wait(lanes, timeout=self._stop_grace)
        finally:
            for task in lanes:
                task.cancel()
            results = await asyncio.gather(*lanes, return_exceptions=True)
            for task, result in zip(lanes, results, strict=True):
                if isinstance(result, Exception):
                    log.error("%s ended with an error", task.get_name(), exc_info=result)

    def wake(self, blog: str | None = None) -> None:
        """New events were stored (for ``blog``, or any): lanes that are not backing off look."""
        for name, lane in self._lanes.items():
            if blog is None or name == blog:
                lane.woken.set()

    async def deliver_pending(self) -> int:
        """One pass: every lane that is due drains its queue, lanes concurrently, each in outbox
        order; returns the number of events delivered."""
        await self._start()
        now = self._clock()
        due = [lane for lane in self._lanes.values() if lane.due(now)]
        delivered = await asyncio.gather(*(lane.drain() for lane in due))
        return sum(delivered)

    def lane_status(self, blog: str) -> LaneStatus:
        """How ``blog``'s deliveries stand (queue length as of the lane's last look)."""
        return self._lane(blog).status()

    async def statuses(self) -> list[LaneStatus]:
        """Every blog's status, with queue lengths read from the outbox now."""
        counts = await self._storage.pending_counts()
        for name, lane in self._lanes.items():
            lane.queued = counts.get(name, 0)
        return [lane.status() for lane in self._lanes.values()]

    async def enable(self, blog: str) -> list[int]:
        """An operator fixed ``blog``'s channel: forget it was disabled and retry now.

        Returns the channels that were disabled.
        """
        lane = self._lane(blog)
        targets = await self._storage.enable_targets(blog)
        lane.enable()
        return [target.channel_id for target in targets]

    async def fill_gaps(self, blog: str) -> int:
        """Queue a new-comment event for each visible stored comment of a mirrored post that
        has no Discord message and no event waiting; returns how many were queued.

        Never duplicates: comments with a sent or pending message, or a queued event, are left
        out, and delivery skips a comment that is already shown.
        """
        config = self._blog(blog)
        async with self._fill_locks[blog]:
            queued = await self._queued_keys(blog)
            gaps = await self._storage.comments_without_message(blog)
            events = [
                _event_for(config, item.entry)
                for item in gaps
                if item.key not in queued and _relayed(config, item.entry)
            ]
            ids = await self._storage.enqueue_events(events)
        if ids:
            log.info("blog %r: %d comments missing from Discord queued again", blog, len(ids))
            self._lanes[blog].queued += len(ids)
            self.wake(blog)
        return len(ids)

    async def _start(self) -> None:
        """Once: restore disabled lanes, note the queues, warn about unconfigured blogs."""
        async with self._start_lock:
            if self._started:
                return
            for target in await self._storage.disabled_targets():
                if target.blog in self._lanes:
                    self._lanes[target.blog].restore(target)
            for name, count in (await self._storage.pending_counts()).items():
                if name in self._lanes:
                    self._lanes[name].queued = count
                else:
                    log.warning(
                        "%d undelivered events of blog %r are kept: it is not in the config",
                        count,
                        name,
                    )
            self._started = True

    async def _queued_keys(self, blog: str) -> set[str]:
        """Keys of the comments and pingbacks that have a new-entry event waiting."""
        keys: set[str] = set()
        after: int | None = None
        while batch := await self._storage.pending_events(500, after, blog=blog):
            for stored in batch:
                if isinstance(stored.event, NewComment):
                    keys.add(stored.event.comment.key)
                elif isinstance(stored.event, NewPingback):
                    keys.add(stored.event.pingback.key)
            after = batch[-1].id
        return keys

    async def _alert(self, error: PermanentDiscordError, blog: str) -> None:
        """Tell the server a channel refuses us, in the alerts channel (else the blog's channel),
        unless that is the channel refusing us."""
        config = self._blogs[blog]
        channel = self.settings.discord.alerts_channel or config.announce.channel
        if channel == error.channel_id:
            return
        draft = alert_draft(error, blog, channel)
        try:
            await self._port.send_message(
                channel, draft, nonce=alert_nonce(error.channel_id, self._clock())
            )
        except DiscordError as alert_error:
            log.warning("could not post the alert in channel %s: %s", channel, alert_error)

    def _lane(self, blog: str) -> Lane:
        try:
            return self._lanes[blog]
        except KeyError:
            raise LookupError(f"no blog named {blog!r} in the config") from None

    def _blog(self, blog: str) -> BlogConfig:
        self._lane(blog)
        return self._blogs[blog]


def _relayed(blog: BlogConfig, entry: Entry) -> bool:
    return entry.kind is EntryKind.COMMENT or blog.comments.include_pingbacks


def _event_for(blog: BlogConfig, entry: Entry) -> Event:
    if entry.kind is EntryKind.COMMENT:
        return NewComment(blog.name, entry)
    return NewPingback(blog.name, entry)
