"""A lane per blog: its events go out strictly one after another, in outbox order.

A transient error stops the lane and retries it later (exponential backoff with jitter); a
channel that refuses us disables the lane until it is fixed (retried rarely, and at once when
re-enabled). Either way the events stay in the outbox, so nothing is lost, and other lanes go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.announce._delivery import BlogDelivery, describe
from bot.announce._targets import disabled_message, how_to_fix
from bot.announce.port import DiscordError, PermanentDiscordError, TransientDiscordError
from bot.storage import DisabledTarget, Storage, StorageError

log = logging.getLogger("bot.announce")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]
Alert = Callable[[PermanentDiscordError, str], Awaitable[None]]

BACKOFF_BASE: Final = 2.0
BACKOFF_MAX: Final = 300.0
BACKOFF_JITTER: Final = 0.2
DISABLED_RETRY: Final = 600.0
BATCH: Final = 100


def backoff_delay(failures: int, random: Random) -> float:
    """Seconds before retry number ``failures``: 2, 4, 8 … capped at 5 minutes, ±20 % jitter."""
    exponent = min(max(failures - 1, 0), 16)
    delay = min(BACKOFF_MAX, BACKOFF_BASE * float(2**exponent))
    return min(BACKOFF_MAX, delay * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random()))


@dataclass(frozen=True, slots=True)
class LaneStatus:
    """How one blog's deliveries stand, for ``/gatejumper status``.

    ``queued`` is the number of undelivered events as of the lane's last look at the outbox;
    ``disabled`` says why and ``disabled_channel`` which channel refused us; ``failures``
    counts transient failures in a row; ``next_retry`` is when a stopped lane tries again.
    """

    blog: str
    queued: int
    delivered: int
    busy: bool
    disabled: str | None
    disabled_channel: int | None
    last_error: str | None
    failures: int
    next_retry: datetime | None


class Lane:
    """Delivers the events of one blog; see the module docstring."""

    def __init__(
        self,
        blog: str,
        delivery: BlogDelivery,
        storage: Storage,
        *,
        clock: Clock,
        random: Random,
        alert: Alert,
    ) -> None:
        self.blog = blog
        self.woken = asyncio.Event()
        self.queued = 0
        self.delivered = 0
        self.failures = 0
        self.last_error: str | None = None
        self.disabled: str | None = None
        self.disabled_channel: int | None = None
        self.next_retry: datetime | None = None
        self._delivery = delivery
        self._storage = storage
        self._clock = clock
        self._random = random
        self._alert = alert
        self._lock = asyncio.Lock()

    def status(self) -> LaneStatus:
        return LaneStatus(
            blog=self.blog,
            queued=self.queued,
            delivered=self.delivered,
            busy=self._lock.locked(),
            disabled=self.disabled,
            disabled_channel=self.disabled_channel,
            last_error=self.last_error,
            failures=self.failures,
            next_retry=self.next_retry,
        )

    def due(self, now: datetime) -> bool:
        return self.next_retry is None or now >= self.next_retry

    def restore(self, target: DisabledTarget) -> None:
        """Start disabled as recorded, but due at once: a restart is a chance to retry."""
        self.disabled = target.reason
        self.disabled_channel = target.channel_id

    def enable(self) -> None:
        """Retry now (an operator fixed the channel); the lane is re-enabled once it works."""
        self.next_retry = None
        self.woken.set()

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Deliver pending events until none are left, one fails or ``stop`` is set; returns
        how many went out."""
        async with self._lock:
            self.woken.clear()
            delivered = 0
            try:
                while batch := await self._storage.pending_events(BATCH, blog=self.blog):
                    self.queued = len(batch) if len(batch) < BATCH else max(self.queued, BATCH)
                    for stored in batch:
                        if stop is not None and stop.is_set():
                            return delivered
                        try:
                            await self._delivery.deliver(stored)
                        except DiscordError as error:
                            if not rejected(error):
                                raise
                            log.error(
                                "blog %r: Discord rejected event %d (%s) and always will: %s; "
                                "skipped",
                                self.blog,
                                stored.id,
                                stored.event.type,
                                describe(error),
                            )
                        await self._storage.mark_delivered([stored.id])
                        delivered += 1
                        self.delivered += 1
                        self.failures = 0  # backoff escalates only over failures in a row
                        self.queued = max(self.queued - 1, 0)
            except PermanentDiscordError as error:
                await self._disable(error)
            except DiscordError as error:
                self._back_off(describe(error))
            except StorageError as error:
                self._back_off(str(error))
            except Exception as error:
                log.exception("blog %r: delivering an event failed unexpectedly", self.blog)
                self._back_off(f"{type(error).__name__}: {error}")
            else:
                await self._recovered()
            return delivered

    async def run(self, stop: asyncio.Event, *, sleep: Sleep, poll_interval: float) -> None:
        """Drain whenever woken or every ``poll_interval`` seconds, honouring retry times."""
        while not stop.is_set():
            if self.due(self._clock()):
                await self.drain(stop)
            delay = poll_interval
            if self.next_retry is not None:
                self.woken.clear()  # a wake does not shorten a backoff; enable() does
                delay = max(0.0, (self.next_retry - self._clock()).total_seconds())
            await first_of(stop.wait(), self.woken.wait(), sleep(delay))

    def _back_off(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        delay = backoff_delay(self.failures, self._random)
        self.next_retry = self._clock() + timedelta(seconds=delay)
        log.warning(
            "blog %r: Discord delivery failed (%s); retry %d in %.0f s",
            self.blog,
            error,
            self.failures,
            delay,
        )

    async def _disable(self, error: PermanentDiscordError) -> None:
        reason = how_to_fix(error, self.blog)
        try:
            new = await self._storage.disable_target(error.channel_id, self.blog, reason)
        except StorageError as storage_error:
            self._back_off(str(storage_error))
            return
        self.disabled = reason
        self.disabled_channel = error.channel_id
        self.last_error = describe(error)
        self.next_retry = self._clock() + timedelta(seconds=DISABLED_RETRY)
        if new:
            log.error(disabled_message(error, self.blog, int(DISABLED_RETRY // 60)))
            await self._alert(error, self.blog)
        else:
            log.info("blog %r: channel %s still refuses us", self.blog, error.channel_id)

    async def _recovered(self) -> None:
        if self.disabled is not None:
            try:
                await self._storage.enable_targets(self.blog)
            except StorageError as error:
                self._back_off(str(error))
                return
            log.info(
                "blog %r: channel %s accepts our messages again", self.blog, self.disabled_channel
            )
        self.disabled = None
        self.disabled_channel = None
        self.failures = 0
        self.last_error = None
        self.next_retry = None


def rejected(error: DiscordError) -> bool:
    """Discord refused the payload itself (400: invalid form body): resending cannot help."""
    return error.status == 400 and not isinstance(
        error, PermanentDiscordError | TransientDiscordError
    )


async def first_of(*waits: Awaitable[object]) -> None:
    """Wait until one of ``waits`` is done, then cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
