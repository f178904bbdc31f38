"""End to end: a real WordPress, the real ``Gatejumper`` (discord.py) and the Discord test server.

The bot runs as in production (scheduler, announcer cog, webhooks); the seed
thread is loaded into the blog while it runs, and the tests read what reached
"Discord": one announcement, one thread, every comment in order under its
author's name, replies pointing at their parents, nothing pinging.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.render.limits import thread_name
from bot.render.markdown import escape_markdown, html_to_markdown
from bot.render.mentions import neutralise_mentions
from bot.storage import Storage
from cogs.announcer._port import REPLY_PREFIX
from tests.cogs.gatejumper import (
    EXECUTE_WEBHOOK,
    SEED,
    between_polls,
    blog_config,
    bridge_settings,
    eventually,
    messages_settle,
    polled_once,
    running_bridge,
    text_without_parts,
)
from tests.discord_server import Channel, DiscordTestServer, Message
from tests.wp import Seed, WordPress

pytestmark = pytest.mark.wordpress

COMMENTS = [c for c in SEED["comments"] if c["type"] == "comment"]
PINGBACKS = [c for c in SEED["comments"] if c["type"] != "comment"]
LONG = max(COMMENTS, key=lambda c: sum(len(p) for p in c["paragraphs"]))
#: 32 comments (the long one in two parts) and 4 pingbacks
EXPECTED_MESSAGES = len(COMMENTS) + 1 + len(PINGBACKS)


def by_seed_index(messages: list[Message]) -> dict[int, list[Message]]:
    """The thread's messages per seed comment; fails unless comments are in seed order and
    pingbacks in seed order.

    How pingbacks interleave with comments depends on which poll saw them (the
    seed is inserted while the bot polls, and pingbacks are a separate listing),
    so only each kind's own order is fixed.
    """
    is_ping = [m.webhook_id is None and m.content.startswith("🔗 ") for m in messages]
    groups: dict[int, list[Message]] = {}
    for kind, wanted in ((False, COMMENTS), (True, PINGBACKS)):
        rest = [m for m, ping in zip(messages, is_ping, strict=True) if ping is kind]
        for seed in wanted:
            parts = 2 if seed is LONG else 1
            groups[seed["index"]], rest = rest[:parts], rest[parts:]
        assert rest == [], f"{len(rest)} unexpected messages: {[m.content[:60] for m in rest]}"
    return groups


async def one_thread(server: DiscordTestServer, parent: int) -> Channel:
    async def found() -> list[Channel]:
        return server.threads(parent)

    [thread] = await eventually(found, what="the post's thread")
    return thread


async def full_markdown(storage: Storage, seed: Seed, index: int) -> str:
    """The comment as the renderer turns it into Markdown, before any splitting."""
    item = (await storage.get_items("modite", [seed.comment_key(index)]))[seed.comment_key(index)]
    entry = item.entry
    return neutralise_mentions(
        html_to_markdown(entry.content_html, base_url=entry.url or entry.post_url)
    )


def check_comment_messages(groups: dict[int, list[Message]], guild: int, thread: int) -> None:
    for seed in SEED["comments"]:
        messages = groups[seed["index"]]
        if seed["type"] != "comment":
            [ping] = messages
            assert ping.webhook_id is None and ping.content.startswith("🔗 Pingback from ")
            assert f"/2009/10/post-{seed['index']}/" in ping.content
            continue
        assert all(m.webhook_id is not None for m in messages), seed["index"]
        assert {m.display_name for m in messages} == {_name(seed["author"])}
        assert all(m.avatar_url and m.avatar_url.startswith("http") for m in messages)
        parent = seed["parent_index"]
        first_line = messages[0].content.splitlines()[0]
        if parent is None:
            assert not first_line.startswith(REPLY_PREFIX)
            continue
        parent_author = SEED["comments"][parent]["author"]
        jump = f"https://discord.com/channels/{guild}/{thread}/{groups[parent][0].id}"
        assert first_line == f"{REPLY_PREFIX}**{escape_markdown(_name(parent_author))}** · {jump}"


def _name(author: str) -> str:
    from bot.render.limits import webhook_username

    return webhook_username(author)


async def test_the_seed_thread_is_mirrored_once_in_order_and_follows_blog_changes(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
) -> None:
    world = discord_server.world
    readers = discord_server.add_role("Blog readers", mentionable=True)
    channel = world.announcements.id
    blog = blog_config(wp, channel, mention_role=readers.id)
    settings = bridge_settings(discord_server, sqlite_url, [blog])

    async with running_bridge(settings, discord_server) as bot:
        await polled_once(bot)
        assert discord_server.messages(channel) == [], "the first poll is a baseline"
        seed = await between_polls(bot, "modite", wp.load_seed)

        thread = await one_thread(discord_server, channel)
        messages = await messages_settle(discord_server, thread.id, EXPECTED_MESSAGES)

        # the announcement: once, an embed, only the configured role pinged
        [announcement] = discord_server.messages(channel)
        assert announcement.content == readers.mention
        assert announcement.pings.roles == {readers.id}
        assert not announcement.pings.users and not announcement.pings.everyone
        [embed] = announcement.embeds
        assert embed["title"] == escape_markdown(SEED["post"]["title"])
        assert embed["url"] == seed.post_url
        assert embed["author"]["name"] == "Rebecca Healy"
        assert embed["image"]["url"].startswith(wp.url)
        categories = next(f["value"] for f in embed["fields"] if f["name"] == "Categories")
        assert all(c in categories for c in SEED["post"]["categories"])
        assert (thread.id, thread.name) == (announcement.id, thread_name(SEED["post"]["title"]))

        # every comment and pingback, in order, under its author's name, replies linked
        groups = by_seed_index(messages)
        check_comment_messages(groups, world.guild.id, thread.id)
        assert all(m.pings.is_empty for m in messages), "nothing in the thread pings"
        assert len(discord_server.webhooks(channel)) == 1
        assert len(discord_server.requests_to(EXECUTE_WEBHOOK, status=200)) == len(COMMENTS) + 1

        long_parts = [m.content for m in groups[LONG["index"]]]
        assert all(len(c) <= 2000 for c in long_parts)
        assert long_parts[-1].endswith(f"#comment-{seed.comment_ids[LONG['index']]}>")
        whole = await full_markdown(bot.core.storage, seed, LONG["index"])
        rejoined = text_without_parts([c.rsplit("\n🔗 ", 1)[0] for c in long_parts])
        assert rejoined.split() == whole.split(), "the split loses no character"
        assert any("f**k" in p for c in COMMENTS for p in c["paragraphs"])
        assert any("f\\*\\*k" in m.content for m in messages), "the asterisks survive"

        # the mappings the relay back to the blog will need
        stored_thread = await bot.core.storage.post_thread("modite", seed.post_key)
        assert stored_thread is not None and stored_thread.thread_id == thread.id
        first_key = seed.comment_key(0)
        [mapped] = await bot.core.storage.sent_messages_for("modite", first_key)
        assert mapped.message_id == groups[0][0].id

        # edits and removals on the blog
        edited, spammed, trashed = (groups[i][0] for i in (0, 1, 2))
        await asyncio.to_thread(wp.edit_comment, seed.comment_ids[0], "<p>Edited on the blog.</p>")
        await asyncio.to_thread(wp.set_comment_status, seed.comment_ids[1], "spam")
        await asyncio.to_thread(wp.set_comment_status, seed.comment_ids[2], "trash")

        async def changed() -> bool:
            return (
                discord_server.message(edited.id).content.startswith("Edited on the blog.")
                and discord_server.message(spammed.id).deleted
                and discord_server.message(trashed.id).deleted
            )

        await eventually(changed, what="the edit and the two removals")
        assert discord_server.message(edited.id).username == _name(SEED["comments"][0]["author"])
        assert len(discord_server.messages(thread.id)) == EXPECTED_MESSAGES - 2
        assert len(discord_server.messages(channel)) == 1


async def test_a_forum_channel_gets_one_forum_post_per_blog_post(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
) -> None:
    world = discord_server.world
    forum = world.forum.id
    settings = bridge_settings(discord_server, sqlite_url, [blog_config(wp, forum)])

    async with running_bridge(settings, discord_server) as bot:
        await polled_once(bot)
        seed = await asyncio.to_thread(wp.load_seed)
        post = await one_thread(discord_server, forum)
        messages = await messages_settle(discord_server, post.id, EXPECTED_MESSAGES + 1)

    starter, *comments = messages
    assert (post.name, starter.id) == (thread_name(SEED["post"]["title"]), post.id)
    assert starter.embeds[0]["url"] == seed.post_url and starter.pings.is_empty
    groups = by_seed_index(comments)
    check_comment_messages(groups, world.guild.id, post.id)
    assert [w.channel_id for w in discord_server.webhooks(forum)] == [forum]
    assert all(m.pings.is_empty for m in messages)
