"""``/gatejumper preview``: the newest stored post and comment, rendered as they would be sent.

Reads what the poller stored (nothing is fetched) and renders it with the same
``render_event`` the announcer uses, so the preview cannot drift from the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import discord

from bot.config import BlogConfig, Settings
from bot.events import NewComment, NewPost
from bot.feeds.models import EntryKind
from bot.render.messages import MessageDraft, render_event
from bot.storage import Storage
from bot.storage.records import KnownItem

#: Look for the newest comment among recent ones first, to avoid reading every comment.
RECENT: Final = timedelta(days=30)
_OLDEST: Final = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Preview:
    """The drafts of the newest post and the newest comment (either may be missing)."""

    blog: BlogConfig
    post: list[MessageDraft]
    comment: list[MessageDraft]


async def newest_comment(storage: Storage, blog: str, now: datetime) -> KnownItem | None:
    """The newest visible comment: among the last 30 days' first, else among all."""
    for since in (now - RECENT, None):
        found = await storage.items_since(blog, [EntryKind.COMMENT], since)
        visible = [item for item in found if not item.removed]
        if visible:
            return max(visible, key=lambda i: (i.published or _OLDEST, i.key))
    return None


async def read_preview(
    settings: Settings, storage: Storage, blog: BlogConfig, now: datetime
) -> Preview:
    posts = await storage.newest_posts(blog.name, 1)
    comment = await newest_comment(storage, blog.name, now)
    alerts = settings.discord.alerts_channel
    return Preview(
        blog=blog,
        post=render_event(NewPost(blog.name, posts[0].entry), blog, alerts_channel=alerts)
        if posts
        else [],
        comment=render_event(NewComment(blog.name, comment.entry), blog, alerts_channel=alerts)
        if comment
        else [],
    )


def post_intro(preview: Preview) -> str:
    """The first line of the preview: where the post would go, or why there is none."""
    name = preview.blog.name
    if not preview.post:
        return f"No post of **{name}** is stored yet, so there is no announcement to preview."
    channel = preview.post[0].channel
    where = f" in <#{channel}>" if channel else ""
    return f"Preview for **{name}**: the newest post, as it would be announced{where}:"


def comment_intro(preview: Preview) -> discord.Embed:
    """Shown before the comment's messages: who it appears as (name, avatar) and where."""
    name = preview.blog.name
    if not preview.comment:
        return discord.Embed(
            description=f"No comment of **{name}** is stored yet, "
            "so there is no comment to preview."
        )
    first = preview.comment[0]
    thread = discord.utils.escape_markdown(first.thread or "?")
    parts = f" in {first.parts} messages" if first.parts > 1 else ""
    reply = ", as a reply to its parent comment" if first.reply_to else ""
    embed = discord.Embed(
        description=f"The newest comment, posted{parts} in the thread “{thread}”{reply}, "
        "under this name and avatar:"
    )
    embed.set_author(name=first.username or "Gatejumper", icon_url=first.avatar_url)
    return embed
