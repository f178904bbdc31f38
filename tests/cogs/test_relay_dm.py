"""End to end: what the relay does with messages written outside a post's thread.

A DM to the bot is refused with one short explanation per hour, in the DM; a message in a
channel of another guild, or in a plain channel of this one, is none of the relay's business.
Neither ever reaches the blog. To know the bot has handled such a message, each test then
writes in the post's thread (a *sentinel*): the relay takes messages strictly in arrival order,
so once the sentinel is ✅ everything written before it has been decided.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.cogs.gatejumper import eventually
from tests.cogs.relay_setup import BridgedPost, bridged_post, relay_blog
from tests.discord_server import DiscordTestServer, Message
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress


async def sentinel(bridged: BridgedPost, server: DiscordTestServer) -> dict[str, object]:
    """Write in the thread; wait until it is ✅ and on the blog; return its blog comment."""
    message = server.inject_message(bridged.thread, server.world.alice, "The sentinel reply")
    await bridged.reactions(message, "✅")
    [comment] = await bridged.new_blog_comments(1)
    return comment


def bot_messages(server: DiscordTestServer, channel_id: int) -> list[Message]:
    return [m for m in server.messages(channel_id) if m.author.id == server.world.bot.id]


async def test_a_dm_gets_one_explanation_an_hour_and_nothing_reaches_the_blog(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        first = discord_server.inject_dm(world.bob, "Could you put this on the blog?")
        dm = first.channel_id

        async def answered() -> list[Message]:
            return bot_messages(discord_server, dm)

        [answer] = await eventually(answered, timeout=10.0, what="the bot's answer in the DM")
        assert answer.reference_id == first.id and answer.pings.is_empty
        assert answer.content.startswith("❌ ") and "thread" in answer.content
        assert len(answer.content) < 300

        second = discord_server.inject_dm(world.bob, "Hello? Please post it.")
        comment = await sentinel(bridged, discord_server)
        await asyncio.sleep(0.5)

        assert bot_messages(discord_server, dm) == [answer], "one explanation per hour"
        assert [m.id for m in discord_server.messages(dm)] == [first.id, answer.id, second.id]
        assert comment["content"] == "The sentinel reply"
        bot_id = world.bot.id
        for dm_message in (first, second):  # the ❌ on each, the sentence only once
            assert discord_server.message(dm_message.id).reactions == {"❌": [bot_id]}
        texts = [c["content"] for c in await bridged.blog_comments()]
        assert len(texts) == 3 and not [t for t in texts if "blog?" in t or "Hello" in t]


async def test_messages_outside_post_threads_are_ignored_even_in_another_guild(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        other = discord_server.add_guild("Another Guild", members=[world.bob])
        [elsewhere] = discord_server.state.guild_channels(other.id)

        async def joined() -> bool:
            return bridged.bot.get_channel(elsewhere.id) is not None

        await eventually(joined, timeout=10.0, what="the bot to see the other guild")
        outside = [
            discord_server.inject_message(elsewhere, world.bob, "Post this on the blog, please"),
            discord_server.inject_message(world.general, world.bob, "And this one too"),
        ]
        comment = await sentinel(bridged, discord_server)
        await asyncio.sleep(0.5)

        for message in outside:
            current = discord_server.message(message.id)
            assert current.reactions == {}, f"reacted in channel {message.channel_id}"
            assert bot_messages(discord_server, message.channel_id) == []
        assert discord_server.dm_channel(world.bob) is None
        assert comment["content"] == "The sentinel reply"
        assert [c["id"] for c in await bridged.blog_comments()] == [
            *bridged.comment_ids,
            comment["id"],
        ]
