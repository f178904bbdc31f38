"""The relay when things go wrong, end to end: a real WordPress taken down and brought back,
the real ``Gatejumper`` on the Discord test server, and the blog read from its own database.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.config import BlogConfig
from bot.render.limits import webhook_username
from tests.cogs.gatejumper import eventually
from tests.cogs.relay_setup import BridgedPost, bridged_post, relay_blog
from tests.discord_server import DiscordTestServer, Message
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress

BACKLOG = 50
SLOW_COMMENTS = """
add_action('rest_insert_comment', function () { usleep(1000000); });
"""


def fast_relay(wp: WordPress, server: DiscordTestServer) -> BlogConfig:
    """Guests approved, retried at least every 2 s, no per-person limit in the way."""
    return relay_blog(
        wp,
        server.world.announcements.id,
        guests="approved",
        retry_max=timedelta(seconds=2),
        per_user_per_minute=BACKLOG,
    )


def write_backlog(server: DiscordTestServer, bridged: BridgedPost) -> list[Message]:
    """Alice and Bob take turns; every fifth message answers the one three before it, the
    first answers a mirrored comment."""
    world = server.world
    written: list[Message] = []
    for i in range(BACKLOG):
        reply_to = bridged.mirrored[1] if i == 0 else written[i - 3] if i % 5 == 4 else None
        written.append(
            server.inject_message(
                bridged.thread,
                world.alice if i % 2 else world.bob,
                f"Reply {i:02d}, written while the blog was down",
                reply_to=reply_to,
            )
        )
    return written


def echoes(bridged: BridgedPost) -> list[Message]:
    """Relayed comments mirrored back into the thread as webhook messages (never wanted).

    Their authors are "Bob (via Discord)"..., which a webhook shows with a look-alike letter.
    """
    relayed = {webhook_username(f"{name} (via Discord)") for name in ("Alice", "Bob")}
    return [m for m in bridged.thread_messages() if m.webhook_id and m.display_name in relayed]


async def test_a_backlog_written_while_the_blog_is_down_lands_once_in_order(
    wp: WordPress, discord_server: DiscordTestServer, database_url: str
) -> None:
    blog = fast_relay(wp, discord_server)
    async with bridged_post(wp, discord_server, database_url, blog) as bridged:
        storage = bridged.bot.core.storage
        await asyncio.to_thread(wp.stop)
        written = write_backlog(discord_server, bridged)

        async def all_queued() -> bool:
            return await storage.open_relay_counts() == {blog.name: BACKLOG}

        await eventually(all_queued, what=f"{BACKLOG} relays in the outbox")
        await asyncio.sleep(3)  # the lane meets a refused connection, and backs off
        assert all(not discord_server.message(m.id).reactions for m in written)
        await asyncio.to_thread(wp.start)

        landed = await bridged.new_blog_comments(BACKLOG, timeout=120)
        for message in written:
            await bridged.reactions(message, "✅")
        await asyncio.sleep(1.5)  # a poll or two more: nothing posted twice, nothing echoed

        landed = [c for c in await bridged.blog_comments() if c["id"] not in bridged.comment_ids]
        assert [c["content"] for c in landed] == [m.content for m in written]  # once, in order
        assert [c["id"] for c in landed] == sorted(c["id"] for c in landed)
        assert [c["parent"] for c in landed] == expected_parents(bridged, written, landed)
        assert {c["status"] for c in landed} == {"approved"}
        for message, comment in zip(written, landed, strict=True):
            [link] = await bridged.replies(message, 1)
            assert link.content == f"✅ On the blog: <{link_of(link)}>"
            assert link_of(link).endswith(f"#comment-{comment['id']}")
        assert await storage.open_relay_counts() == {}
        assert echoes(bridged) == []
        assert [m.id for m in bridged.thread_messages() if m.webhook_id] == [
            m.id for m in bridged.mirrored
        ]


def expected_parents(
    bridged: BridgedPost, written: list[Message], landed: list[dict[str, Any]]
) -> list[int]:
    comment_of = {m.id: c["id"] for m, c in zip(written, landed, strict=True)}
    comment_of[bridged.mirrored[1].id] = bridged.comment_ids[1]
    return [comment_of[m.reference_id] if m.reference_id else 0 for m in written]


def link_of(reply: Message) -> str:
    return reply.content.rpartition("<")[2].rstrip(">")


async def test_relayed_replies_are_never_mirrored_back_even_by_a_fast_poller(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    """WordPress answers each POST a second after the comment is in its database, and polls
    run every 0.2 s: they see every relayed comment before the relay knows its id."""
    wp.add_mu_plugin("gatejumper-slow-comments", SLOW_COMMENTS)
    blog = fast_relay(wp, discord_server)
    async with bridged_post(wp, discord_server, sqlite_url, blog, interval=0.2) as bridged:
        world = discord_server.world
        written = [
            discord_server.inject_message(bridged.thread, world.bob, f"Quick reply {i}")
            for i in range(4)
        ]
        for message in written:
            await bridged.reactions(message, "✅")
        await bridged.new_blog_comments(len(written))

        async def polled_after_the_last() -> bool:
            feeds = await bridged.bot.core.storage.list_feeds(blog.name)
            last = max(m.created_at for m in written)
            return all(f.last_success_at and f.last_success_at > last for f in feeds)

        await eventually(polled_after_the_last, what="polls after the last relayed reply")
        await asyncio.sleep(1.0)
        assert echoes(bridged) == []
        assert [m.id for m in bridged.thread_messages() if m.webhook_id] == [
            m.id for m in bridged.mirrored
        ]
