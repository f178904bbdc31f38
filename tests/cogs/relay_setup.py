"""A bridged post for the relay tests: a real WordPress post with two comments, mirrored into a
Discord thread by the running ``Gatejumper``, with the relay on.

The tests then write in that thread through the Discord test server (``inject_message``) and
read what exists on the blog straight from WordPress (``blog_comments``), not through the client
under test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot.bridge import Gatejumper
from bot.config import AuthorLink, BlogConfig, RelayConfig
from bot.storage.schema import relays
from tests.cogs.gatejumper import (
    blog_config,
    bridge_settings,
    eventually,
    messages_settle,
    polled_once,
    running_bridge,
)
from tests.discord_server import Channel, DiscordTestServer, Message, User
from tests.wp import WordPress

AUTHOR_PASSWORD_ENV = "REBECCA_APP_PASSWORD"


def relay_blog(
    wp: WordPress,
    channel: int,
    *,
    guests: str = "approved",
    authors: Mapping[int, str] | None = None,
    allowed_roles: Sequence[int] = (),
    **relay: Any,
) -> BlogConfig:
    """The blog of ``blog_config`` with the relay on; ``authors`` maps Discord user ids to
    WordPress logins whose application password is in ``REBECCA_APP_PASSWORD``."""
    base = blog_config(wp, channel, pingbacks=False)
    links = {
        user: AuthorLink(username=login, app_password_env=AUTHOR_PASSWORD_ENV)
        for user, login in (authors or {}).items()
    }
    config = RelayConfig(
        enabled=True,
        guests=guests,  # type: ignore[arg-type]
        authors=links,
        allowed_roles=list(allowed_roles),
        **relay,
    )
    return base.model_copy(update={"relay": config})


@dataclass
class BridgedPost:
    """What a relay test starts from."""

    bot: Gatejumper
    wp: WordPress
    post_id: int
    thread: Channel
    comment_ids: list[int]  # the two comments on the blog, the second answering the first
    mirrored: list[Message]  # their messages in the thread, same order
    server: DiscordTestServer = field(repr=False)

    def thread_messages(self) -> list[Message]:
        return self.server.messages(self.thread.id)

    async def blog_comments(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(blog_comments, self.wp, self.post_id)

    async def new_blog_comments(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until the post has ``count`` comments besides the two it started with."""

        async def enough() -> list[dict[str, Any]] | None:
            found = [c for c in await self.blog_comments() if c["id"] not in self.comment_ids]
            return found if len(found) >= count else None

        return await eventually(enough, timeout=timeout, what=f"{count} new blog comments")

    async def reactions(self, message: Message, *emoji: str, timeout: float = 30.0) -> Message:  # noqa: ASYNC109
        """Wait until the bot reacted to ``message`` with exactly ``emoji``."""
        bot_id = self.server.world.bot.id
        wanted = set(emoji)

        async def shown() -> Message | None:
            current = self.server.message(message.id)
            mine = {e for e, users in current.reactions.items() if bot_id in users}
            return current if mine == wanted else None

        return await eventually(shown, timeout=timeout, what=f"reactions {emoji} on {message.id}")

    def replies_to(self, message: Message) -> list[Message]:
        """The bot's replies to ``message`` in the thread."""
        return [
            m
            for m in self.thread_messages()
            if m.reference_id == message.id and m.author.id == self.server.world.bot.id
        ]

    async def replies(self, message: Message, count: int = 1) -> list[Message]:
        """Wait until the bot answered ``message`` (at least) ``count`` times; its replies."""

        async def enough() -> list[Message]:
            found = self.replies_to(message)
            return found if len(found) >= count else []

        return await eventually(enough, what=f"{count} replies to {message.id}")

    def shown(self, message: Message) -> set[str]:
        """The bot's reactions on ``message`` right now (no waiting)."""
        bot_id = self.server.world.bot.id
        current = self.server.message(message.id)
        return {e for e, users in current.reactions.items() if bot_id in users}

    async def relay_rows(self, message: Message) -> list[tuple[str, str]]:
        """``(op, status)`` of every relay outbox row of ``message``, oldest first."""
        query = (
            sa.select(relays.c.op, relays.c.status)
            .where(relays.c.message_id == message.id)
            .order_by(relays.c.id)
        )
        async with self.bot.core.storage._engine.connect() as connection:
            return [(op, status) for op, status in await connection.execute(query)]

    async def comment(self, comment_id: int) -> dict[str, Any]:
        """One comment as the blog's database holds it now, trashed too (``WordPress.comment``:
        its ``status`` is ``approved``, ``hold``, ``spam`` or ``trash``)."""
        return await asyncio.to_thread(self.wp.comment, comment_id)


def blog_comments(wp: WordPress, post_id: int) -> list[dict[str, Any]]:
    """Every comment of the post, whatever its status, read by WordPress itself, oldest first."""
    code = (
        f"return array_map(fn($c) => ['id' => (int) $c->comment_ID, "
        "'parent' => (int) $c->comment_parent, 'author' => $c->comment_author, "
        "'user_id' => (int) $c->user_id, 'content' => $c->comment_content, "
        "'status' => wp_get_comment_status($c), 'email' => $c->comment_author_email], "
        f"get_comments(['post_id' => {post_id}, 'status' => 'all', 'orderby' => 'comment_ID', "
        "'order' => 'ASC', 'type' => 'comment']));"
    )
    comments: list[dict[str, Any]] = wp.php(code)
    return comments


@contextlib.asynccontextmanager
async def bridged_post(
    wp: WordPress,
    server: DiscordTestServer,
    database: str,
    blog: BlogConfig,
    *,
    interval: float = 1.0,
) -> AsyncIterator[BridgedPost]:
    """Run the bridge; publish a post with two comments; wait until they are in Discord."""
    settings = bridge_settings(server, database, [blog], interval=interval)
    async with running_bridge(settings, server) as bot:
        await polled_once(bot)
        post_id, ids = await asyncio.to_thread(_post_with_comments, wp)
        threads = await eventually(
            lambda: _threads(server, blog.announce.channel), what="the post's thread"
        )
        thread = threads[0]
        mirrored = await messages_settle(server, thread.id, 2)
        yield BridgedPost(bot, wp, post_id, thread, ids, mirrored, server)


async def _threads(server: DiscordTestServer, channel: int) -> list[Channel]:
    return server.threads(channel)


def _post_with_comments(wp: WordPress) -> tuple[int, list[int]]:
    post_id = wp.create_post("Social media is difficult like intimacy", "<p>A post.</p>")
    first = wp.create_comment(post_id, "Dana", "dana@example.org", "<p>First comment.</p>")
    second = wp.create_comment(
        post_id, "Evan", "evan@example.org", "<p>A reply to Dana.</p>", parent=first
    )
    return post_id, [first, second]


def add_bot_member(server: DiscordTestServer, name: str) -> User:
    """Another bot (not Gatejumper) that is a member of the default guild."""
    user = server.state.add_user(name, bot=True)
    server.state.add_member(server.world.guild, user)
    return user
