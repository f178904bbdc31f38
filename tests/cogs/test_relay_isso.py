"""End to end: replies written in Discord become real comments on a real Isso.

The blog is a small local site (home page, posts RSS) whose comments live in a real Isso; the
real ``Gatejumper`` mirrors the post's comment into a thread, people write there through the
Discord test server, and the tests read Isso's own API (``GET /?uri=``), not the client under
test. Isso keeps one nesting level: a reply to a reply is stored under the top-level comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.bridge import Gatejumper
from bot.config import AnnounceConfig, BlogConfig, RelayConfig, Settings
from tests.cogs.gatejumper import (
    bridge_settings,
    eventually,
    messages_settle,
    polled_once,
    running_bridge,
)
from tests.discord_server import Channel, DiscordTestServer, Message
from tests.isso import IssoServer
from tests.test_app_sources import BlogServer

pytestmark = pytest.mark.isso

BLOG = "issoblog"
_posts = itertools.count(1)


def isso_relay_blog(site: BlogServer, isso: IssoServer, channel: int) -> BlogConfig:
    return BlogConfig(
        name=BLOG,
        platform="isso",
        url=site.base + "/",  # type: ignore[arg-type]
        posts_feed=site.base + "/feed/",  # type: ignore[arg-type]
        isso_url=isso.url,  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=channel),
        relay=RelayConfig(enabled=True, guests="approved"),
    )


@dataclass
class BridgedIssoPost:
    """A post of the local blog, its Isso thread ``uri`` with Dana's comment, mirrored."""

    settings: Settings
    site: BlogServer
    isso: IssoServer
    uri: str
    dana: int  # Isso id of the seeded comment
    thread: Channel
    mirrored: Message  # Dana's comment in the thread
    server: DiscordTestServer = field(repr=False)

    def comments(self) -> list[dict[str, Any]]:
        """Every comment of the thread as Isso lists it (Markdown text), flattened."""
        listing = self.isso.thread(self.uri, plain=1)
        return [c for top in listing["replies"] for c in (top, *top.get("replies", []))]

    async def new_comments(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until the thread has ``count`` comments besides Dana's, oldest first."""

        async def enough() -> list[dict[str, Any]] | None:
            found = [c for c in await asyncio.to_thread(self.comments) if c["id"] != self.dana]
            return sorted(found, key=lambda c: c["id"]) if len(found) >= count else None

        return await eventually(enough, timeout=timeout, what=f"{count} new Isso comments")

    async def comment(self, comment_id: int) -> dict[str, Any] | None:
        found = await asyncio.to_thread(self.comments)
        return next((c for c in found if c["id"] == comment_id), None)

    async def reactions(self, message: Message, *emoji: str) -> None:
        bot_id = self.server.world.bot.id

        async def shown() -> bool:
            current = self.server.message(message.id)
            return {e for e, users in current.reactions.items() if bot_id in users} == set(emoji)

        await eventually(shown, timeout=20.0, what=f"reactions {emoji} on {message.id}")

    def replies_to(self, message: Message) -> list[Message]:
        bot_id = self.server.world.bot.id
        return [
            m
            for m in self.server.messages(self.thread.id)
            if m.reference_id == message.id and m.author.id == bot_id
        ]


@pytest.fixture
async def site() -> AsyncIterator[BlogServer]:
    async with BlogServer() as server:
        yield server


@contextlib.asynccontextmanager
async def bridged_isso_post(
    site: BlogServer, isso: IssoServer, server: DiscordTestServer, database: str
) -> AsyncIterator[tuple[Gatejumper, BridgedIssoPost]]:
    """Run the bridge; publish a post with Dana's comment on Isso; wait until it is mirrored."""
    blog = isso_relay_blog(site, isso, server.world.announcements.id)
    settings = bridge_settings(server, database, [blog])
    async with running_bridge(settings, server) as bot:
        await polled_once(bot, BLOG)
        number = next(_posts)
        path = f"/2026/12/relay-from-discord-{number}-{datetime.now(UTC).timestamp():.0f}/"
        site.add_post("Replies from Discord", path, datetime.now(UTC))
        dana = isso.new_comment(path, "First comment, on Isso.", "Dana", title="Replies")

        async def threads() -> list[Channel]:
            return server.threads(blog.announce.channel)

        [thread] = await eventually(threads, timeout=20.0, what="the post's thread")
        [mirrored] = await messages_settle(server, thread.id, 1, timeout=20.0)
        post = BridgedIssoPost(settings, site, isso, path, dana["id"], thread, mirrored, server)
        yield bot, post


async def test_replies_become_isso_comments_under_the_right_parent_and_are_not_echoed(
    site: BlogServer, isso_server: IssoServer, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    async with bridged_isso_post(site, isso_server, discord_server, sqlite_url) as (bot, post):
        assert "First comment, on Isso." in post.mirrored.content + str(post.mirrored.embeds)
        top = discord_server.inject_message(
            post.thread, world.bob, f"Hello from **Discord**, {world.alice.mention} <b>&"
        )
        to_dana = discord_server.inject_message(
            post.thread, world.bob, "Replying to Dana", reply_to=post.mirrored
        )
        [first, second] = await post.new_comments(2)
        to_relayed = discord_server.inject_message(
            post.thread, world.alice, "Replying to Bob's relayed reply", reply_to=top
        )
        to_reply = discord_server.inject_message(
            post.thread, world.alice, "Replying to Bob's answer to Dana", reply_to=to_dana
        )
        [_, _, third, fourth] = await post.new_comments(4)

        assert (first["parent"], first["author"], first["mode"]) == (None, "Bob (via Discord)", 1)
        assert first["text"] == r"Hello from **Discord**, @Alice \<b\>\&"
        assert (second["parent"], second["author"]) == (post.dana, "Bob (via Discord)")
        assert second["text"] == "Replying to Dana"
        assert (third["parent"], third["author"]) == (first["id"], "Alice (via Discord)")
        assert fourth["parent"] == post.dana, "Isso keeps one level: under the top-level comment"
        rendered = isso_server.thread(post.uri)["replies"]
        [html] = [c["text"] for c in rendered if c["id"] == first["id"]]
        assert "<strong>Discord</strong>" in html and "&lt;b&gt;" in html

        for message in (top, to_dana, to_relayed, to_reply):  # ✅ and the link reply, each
            await post.reactions(message, "✅")

            async def linked(m: Message = message) -> list[Message]:
                return post.replies_to(m)

            await eventually(linked, timeout=20.0, what="the link reply")
        [link] = post.replies_to(top)
        assert link.content.endswith(f"{post.uri}#isso-{first['id']}>") and link.pings.is_empty

        # polls go on: the three comments are on Isso, but never mirrored back
        before = len(discord_server.messages(post.thread))
        await bot.core.poller.poll_blog(post.settings.blogs[0])
        await asyncio.sleep(2.5)
        after = discord_server.messages(post.thread)
        assert len(after) == before
        assert [m.id for m in after if m.webhook_id] == [post.mirrored.id], "no echo"


async def test_edits_survive_a_restart_and_a_deletion_removes_the_isso_comment(
    site: BlogServer, isso_server: IssoServer, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    async with bridged_isso_post(site, isso_server, discord_server, sqlite_url) as (bot, post):
        message = discord_server.inject_message(post.thread, world.bob, "A first draft")
        [created] = await post.new_comments(1)
        await post.reactions(message, "✅")
        discord_server.inject_edit(message, "A *second* draft")

        async def text_is(wanted: str) -> bool:
            comment = await post.comment(created["id"])
            return comment is not None and comment["text"] == wanted

        await eventually(lambda: text_is("A *second* draft"), timeout=20.0, what="the first edit")
        in_thread = {m.id for m in discord_server.messages(post.thread)}

    # a new bot on the same database: the edit cookie comes back from relays.edit_token
    async with running_bridge(post.settings, discord_server) as bot:
        discord_server.inject_edit(message, "A ~~third~~ final draft")
        await eventually(
            lambda: text_is("A ~~third~~ final draft"), timeout=20.0, what="the edit after restart"
        )
        comment = await post.comment(created["id"])
        assert comment is not None and comment["author"] == "Bob (via Discord)"

        discord_server.inject_delete(message)

        async def gone() -> bool:
            return await post.comment(created["id"]) is None

        await eventually(gone, timeout=20.0, what="the comment deleted from Isso")
        assert [c["id"] for c in await asyncio.to_thread(post.comments)] == [post.dana]
        await bot.core.poller.poll_blog(post.settings.blogs[0])
        await asyncio.sleep(1.5)
        # neither the edits nor the deletion came back as mirrored messages
        assert {m.id for m in discord_server.messages(post.thread)} == in_thread - {message.id}


async def test_an_unknown_outcome_is_adopted_not_posted_twice_even_two_levels_deep(
    site: BlogServer, isso_server: IssoServer, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    async with bridged_isso_post(site, isso_server, discord_server, sqlite_url) as (bot, post):
        to_dana = discord_server.inject_message(
            post.thread, world.bob, "Bob answers Dana", reply_to=post.mirrored
        )
        await post.reactions(to_dana, "✅")
        deeper = discord_server.inject_message(
            post.thread, world.alice, "Alice answers Bob", reply_to=to_dana
        )
        await post.reactions(deeper, "✅")
        [_, created] = await post.new_comments(2)
        assert (created["text"], created["parent"]) == ("Alice answers Bob", post.dana)

        # as if the process died after Isso stored the comment, before the outbox learnt its id
        storage = bot.core.storage
        row = await storage.relay_of_message(deeper.id)
        assert row is not None and row.comment_id == str(created["id"])
        await storage.update_relay(row.id, status="sending", comment_id=None, entry_key=None)
        bot.relayer.wake(BLOG)

        async def settled() -> bool:
            again = await storage.relay_of_message(deeper.id)
            return again is not None and again.status == "published"

        await eventually(settled, timeout=15.0, what="the row reconciled")
        again = await storage.relay_of_message(deeper.id)
        assert again is not None and again.comment_id == str(created["id"])
        texts = [c["text"] for c in await asyncio.to_thread(post.comments)]
        assert texts.count("Alice answers Bob") == 1
