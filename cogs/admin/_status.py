"""``/gatejumper status``: each blog's polling and Discord delivery health, as embeds.

Blogs with problems come first, so that when there are too many blogs for
Discord's embed limits the ones cut off ("and N more") are the healthy ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import discord

from bot.announce import LaneStatus
from bot.config import BlogConfig
from bot.relay import RelayBacklog
from bot.storage.records import FeedState

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

FIELD_VALUE_LIMIT: Final = 1024
FIELD_NAME_LIMIT: Final = 256
FIELDS_PER_EMBED: Final = 25
#: Discord's 6,000 characters for all embeds of a message, less room for title and footer.
EMBED_BUDGET: Final = 5500
ERROR_LIMIT: Final = 300

OK_COLOR: Final = 0x2ECC71
WARN_COLOR: Final = 0xE67E22
BAD_COLOR: Final = 0xE74C3C


@dataclass(frozen=True, slots=True)
class BlogStatus:
    """Everything status shows about one blog, read from storage, scheduler and announcer."""

    blog: BlogConfig
    feeds: tuple[FeedState, ...]
    next_poll: datetime | None
    lane: LaneStatus
    relay: RelayBacklog | None = None

    @property
    def last_polled(self) -> datetime | None:
        return max((f.last_polled_at for f in self.feeds if f.last_polled_at), default=None)

    @property
    def last_success(self) -> datetime | None:
        return max((f.last_success_at for f in self.feeds if f.last_success_at), default=None)

    @property
    def failing(self) -> list[FeedState]:
        """Feeds whose last poll failed, the longest-failing first."""
        return sorted((f for f in self.feeds if f.failures), key=lambda f: (-f.failures, f.key))

    @property
    def severity(self) -> int:
        """2: Discord delivery disabled, 1: a feed failing, 0: fine."""
        if self.lane.disabled:
            return 2
        return 1 if self.failing else 0


async def read_status(bridge: Gatejumper, blogs: Sequence[BlogConfig]) -> list[BlogStatus]:
    """The status of ``blogs``, problems first, config order otherwise.

    Queue lengths are counted in the outbox now (``Announcer.statuses``), not remembered.
    """
    lanes = {lane.blog: lane for lane in await bridge.announcer.statuses()}
    statuses = [
        BlogStatus(
            blog=blog,
            feeds=tuple(await bridge.core.storage.list_feeds(blog.name)),
            next_poll=bridge.scheduler.next_run(blog.name),
            lane=lanes[blog.name],
            relay=await relay_backlog(bridge, blog.name),
        )
        for blog in blogs
    ]
    return sorted(statuses, key=lambda s: -s.severity)


async def relay_backlog(bridge: Gatejumper, blog: str) -> RelayBacklog | None:
    relayer = getattr(bridge, "relayer", None)
    return await relayer.backlog(blog) if relayer is not None else None


def status_embed(statuses: Sequence[BlogStatus]) -> discord.Embed:
    """One embed, one field per blog, within Discord's limits; the rest summed up in the footer."""
    failing = sum(1 for s in statuses if s.failing)
    disabled = sum(1 for s in statuses if s.lane.disabled)
    queued = sum(s.lane.queued for s in statuses)
    worst = max((s.severity for s in statuses), default=0)
    embed = discord.Embed(
        title="Gatejumper status",
        description=_summary(len(statuses), failing, disabled, queued),
        color=(OK_COLOR, WARN_COLOR, BAD_COLOR)[worst],
    )
    used = len(embed.title or "") + len(embed.description or "")
    shown = 0
    for status in statuses:
        name, value = blog_field(status)
        if shown == FIELDS_PER_EMBED or used + len(name) + len(value) > EMBED_BUDGET:
            break
        embed.add_field(name=name, value=value, inline=False)
        used += len(name) + len(value)
        shown += 1
    hidden = len(statuses) - shown
    if hidden:
        more = "blog" if hidden == 1 else "blogs"
        embed.set_footer(
            text=f"…and {hidden} more {more} (all healthy ones are last); "
            "use /gatejumper status blog:<name> to see one."
        )
    return embed


def _summary(blogs: int, failing: int, disabled: int, queued: int) -> str:
    if not blogs:
        return "No blogs are configured; add one under `blogs:` in config.yaml."
    parts = [f"{blogs} {'blog' if blogs == 1 else 'blogs'}"]
    parts.append(f"{failing} failing" if failing else "no feed failing")
    if disabled:
        parts.append(f"{disabled} with Discord delivery disabled")
    parts.append(f"{queued} {'event' if queued == 1 else 'events'} waiting for Discord")
    return " · ".join(parts)


def blog_field(status: BlogStatus) -> tuple[str, str]:
    """The field of one blog: its name with a health mark, and a few labelled lines."""
    icon = ("✅", "⚠️", "⛔")[status.severity] if status.feeds else "💤"
    name = _clip(f"{icon} {status.blog.name}", FIELD_NAME_LIMIT)
    lines = [
        _platform_line(status),
        _last_poll_line(status),
        f"**Next poll** {_when(status.next_poll, 'not scheduled')}",
        *_failure_lines(status),
        *_lane_lines(status.lane),
        *_relay_lines(status.relay),
    ]
    return name, _clip("\n".join(lines), FIELD_VALUE_LIMIT)


def _platform_line(status: BlogStatus) -> str:
    count = len(status.feeds)
    feeds = f"{count} {'feed' if count == 1 else 'feeds'}" if count else "no feeds yet"
    return f"**Platform** {status.blog.platform} · {feeds}"


def _last_poll_line(status: BlogStatus) -> str:
    polled, success = status.last_polled, status.last_success
    line = f"**Last poll** {_when(polled, 'never')}"
    if polled is not None and success is None:
        line += " · never succeeded"
    elif success is not None and success != polled:
        line += f" · last success {_when(success, 'never')}"
    return line


def _failure_lines(status: BlogStatus) -> list[str]:
    failing = status.failing
    if not failing:
        return ["**Failures** none"]
    worst = failing[0]
    times = "time" if worst.failures == 1 else "times"
    line = f"**Failures** {worst.failures} {times} in a row on `{_code(worst.key)}`"
    if worst.failing_since is not None:
        line += f", failing since {_when(worst.failing_since, '?')}"
    if len(failing) > 1:
        line += f" (+{len(failing) - 1} more failing)"
    lines = [line]
    if worst.last_error:
        lines.append(f"**Last error** {_text(worst.last_error)}")
    return lines


def _lane_lines(lane: LaneStatus) -> list[str]:
    waiting = "event" if lane.queued == 1 else "events"
    line = f"**Discord queue** {lane.queued} {waiting} waiting"
    if lane.failures:
        line += f" · {lane.failures} failed {'try' if lane.failures == 1 else 'tries'} in a row"
    if lane.next_retry is not None:
        line += f" · next retry {_when(lane.next_retry, 'soon')}"
    lines = [line]
    if lane.disabled:
        where = f" in <#{lane.disabled_channel}>" if lane.disabled_channel else ""
        lines.append(f"**Disabled**{where}: {_text(lane.disabled)}")
    if lane.last_error and lane.last_error != lane.disabled:
        lines.append(f"**Last Discord error** {_text(lane.last_error)}")
    return lines


def _relay_lines(relay: RelayBacklog | None) -> list[str]:
    if relay is None:
        return []
    waiting = "reply" if relay.waiting == 1 else "replies"
    line = f"**Relay to the blog** {relay.waiting} {waiting} waiting"
    if relay.next_retry is not None:
        line += f" · next try {_when(relay.next_retry, 'soon')}"
    lines = [line]
    if relay.last_error:
        lines.append(f"**Last blog error** {_text(relay.last_error)}")
    return lines


def _when(moment: datetime | None, missing: str) -> str:
    """A Discord timestamp every reader sees in their own time zone ("3 minutes ago")."""
    return discord.utils.format_dt(moment, "R") if moment is not None else missing


def _text(text: str) -> str:
    """Untrusted text (error messages quote servers) shown literally, short, pinging nobody."""
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(" ".join(text.split())))
    return _clip(text, ERROR_LIMIT)


def _code(text: str) -> str:
    return text.replace("`", "ˋ")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
