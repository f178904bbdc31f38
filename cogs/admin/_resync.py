"""``/gatejumper resync``: poll a blog now, re-queue what never reached Discord, wake delivery.

Safe to repeat: the poll only stores what is new, and ``fill_gaps`` never
re-queues a comment that already has a Discord message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.config import BlogConfig
from bot.feeds.update import FeedOutcome, Outcome

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

ERROR_LIMIT = 200
SHOWN_FAILURES = 3


@dataclass(frozen=True, slots=True)
class Resync:
    blog: str
    outcomes: tuple[FeedOutcome, ...]
    gaps: int
    enabled: tuple[int, ...] = ()

    @property
    def events(self) -> int:
        return sum(o.events for o in self.outcomes)

    @property
    def failures(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if o.outcome is Outcome.FAILED]


async def resync(bridge: Gatejumper, blog: BlogConfig) -> Resync:
    """Force-poll every feed of ``blog``, retry its disabled channels (the operator has
    presumably fixed them), re-queue missing comments and wake the announcer."""
    outcomes = await bridge.core.poller.poll_blog(blog, force=True)
    enabled = await bridge.announcer.enable(blog.name)
    gaps = await bridge.announcer.fill_gaps(blog.name)
    bridge.announcer.wake(blog.name)
    return Resync(blog.name, tuple(outcomes), gaps, tuple(enabled))


def summary(result: Resync) -> str:
    """A sentence or two: what was polled, found and re-queued, and what failed."""
    polled = _count(len(result.outcomes), "feed")
    found = _count(result.events, "new event")
    gaps = _count(result.gaps, "missing comment")
    text = (
        f"Resynced **{result.blog}**: polled {polled}, found {found} "
        f"and re-queued {gaps} for Discord."
    )
    if result.enabled:
        channels = ", ".join(f"<#{channel}>" for channel in result.enabled)
        text += f" Posting to {channels} is retried now; /gatejumper status shows if it works."
    failures = result.failures
    if failures:
        text += " " + _failures(failures)
    return text


def _failures(failures: Sequence[FeedOutcome]) -> str:
    shown = "; ".join(
        f"`{o.feed.replace('`', 'ˋ')}`: {_text(o.error or 'unknown error')}"
        for o in failures[:SHOWN_FAILURES]
    )
    more = f" (and {len(failures) - SHOWN_FAILURES} more)" if len(failures) > SHOWN_FAILURES else ""
    verb = "feed failed" if len(failures) == 1 else "feeds failed"
    return f"{len(failures)} {verb}: {shown}{more}."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _text(text: str) -> str:
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(" ".join(text.split())))
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"
