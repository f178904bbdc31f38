"""A channel that refuses us: the one log line and the one alert that say what to fix."""

from __future__ import annotations

from datetime import datetime

from bot.announce._delivery import describe
from bot.announce.port import PermanentDiscordError
from bot.render.markdown import escape_markdown
from bot.render.messages import MessageDraft

#: Discord JSON error codes we can explain.
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013

_PERMISSIONS = (
    "View Channel, Send Messages, Send Messages in Threads, Create Public Threads, "
    "Embed Links, Read Message History, Manage Webhooks and Manage Threads "
    "(Create Posts in a forum channel)"
)


def how_to_fix(error: PermanentDiscordError, blog: str) -> str:
    """What is wrong with the channel and what the operator should change."""
    channel = error.channel_id
    if error.code == MISSING_PERMISSIONS:
        return f"the bot lacks a permission in channel {channel}: give its role {_PERMISSIONS}"
    if error.code == MISSING_ACCESS:
        return f"the bot cannot see channel {channel}: give its role View Channel there"
    if error.code == UNKNOWN_CHANNEL or error.status == 404:
        return (
            f"channel {channel} does not exist or was deleted: check blogs.{blog}.announce.channel"
            " and discord.alerts_channel in the config"
        )
    return f"Discord refuses channel {channel}: {describe(error)}"


def disabled_message(error: PermanentDiscordError, blog: str, retry_minutes: int) -> str:
    """The one error line logged when a target is disabled."""
    return (
        f"blog {blog!r}: stopped posting, {how_to_fix(error, blog)} "
        f"(Discord said: {describe(error)}). Its events are kept and retried every "
        f"{retry_minutes} minutes and at restart; once fixed, re-enable it (/gatejumper resync "
        f"{blog}) to deliver them at once."
    )


def alert_draft(error: PermanentDiscordError, blog: str, channel: int) -> MessageDraft:
    """The alert posted in the alerts channel when another channel refuses us."""
    name = escape_markdown(blog)
    content = (
        f"⛔ Gatejumper stopped posting blog **{name}**: {how_to_fix(error, blog)}. "
        "Nothing is lost: its messages are queued and go out once this is fixed."
    )
    return MessageDraft(channel=channel, content=content, kind="alert", key=f"disabled:{blog}")


def alert_nonce(channel_id: int, now: datetime) -> str:
    """A nonce for one disable alert (≤ 25 characters)."""
    return f"gjx{int(now.timestamp())}{channel_id % 10**9}"
