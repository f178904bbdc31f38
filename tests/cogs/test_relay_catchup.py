"""What is written in a post's thread while the bot is offline is relayed when it is back;
what was written while the relay was off never is. And a blog reply to a relayed comment is
mirrored as a reply to the Discord message it came from."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import Credentials
from cogs.announcer._port import REPLY_PREFIX
from tests.cogs.gatejumper import bridge_settings, eventually, polled_once, running_bridge
from tests.cogs.relay_setup import AUTHOR_PASSWORD_ENV, blog_comments, bridged_post, relay_blog
from tests.discord_server import DiscordTestServer
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress


async def test_messages_written_while_offline_are_relayed_at_the_next_start(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        live = discord_server.inject_message(bridged.thread, world.bob, "Written while online")
        await bridged.new_blog_comments(1)
        await bridged.reactions(live, "✅")
    # the bot is stopped: these two are only in Discord's history
    first = discord_server.inject_message(bridged.thread, world.bob, "Written while offline")
    second = discord_server.inject_message(
        bridged.thread, world.alice, "Also offline, replying", reply_to=first
    )
    settings = bridge_settings(discord_server, sqlite_url, [blog])
    async with running_bridge(settings, discord_server):
        comments = await bridged.new_blog_comments(3)
        await bridged.reactions(first, "✅")
        await bridged.reactions(second, "✅")
    texts = [c["content"] for c in comments]
    assert texts == ["Written while online", "Written while offline", "Also offline, replying"]
    assert comments[2]["parent"] == comments[1]["id"]


async def test_turning_the_relay_on_relays_nothing_written_before(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    relayed = relay_blog(wp, world.announcements.id, guests="approved")
    off = relayed.model_copy(update={"relay": relayed.relay.model_copy(update={"enabled": False})})
    async with bridged_post(wp, discord_server, sqlite_url, off) as bridged:
        chat = discord_server.inject_message(bridged.thread, world.bob, "Just chatting here")
        await asyncio.sleep(1.0)
        assert discord_server.message(chat.id).reactions == {}
    settings = bridge_settings(discord_server, sqlite_url, [relayed])
    async with running_bridge(settings, discord_server):
        later = discord_server.inject_message(bridged.thread, world.bob, "Now for the blog")
        [comment] = await bridged.new_blog_comments(1)
        await bridged.reactions(later, "✅")
    assert comment["content"] == "Now for the blog"
    assert discord_server.message(chat.id).reactions == {}
    assert len(await asyncio.to_thread(blog_comments, wp, bridged.post_id)) == 3


async def test_a_blog_reply_to_a_relayed_comment_points_at_the_discord_message(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        question = discord_server.inject_message(bridged.thread, world.bob, "A question from chat")
        [relayed] = await bridged.new_blog_comments(1)
        await asyncio.to_thread(
            wp.create_comment,
            bridged.post_id,
            "Rebecca Healy",
            "rebecca@example.org",
            "<p>Answered on the blog.</p>",
            parent=relayed["id"],
        )

        async def answer_mirrored() -> list[str]:
            return [
                m.content
                for m in bridged.thread_messages()
                if m.webhook_id
                and m.content.endswith("Answered on the blog.") is False
                and "Answered on the blog." in m.content
            ]

        [content] = await eventually(answer_mirrored, what="the blog's answer in the thread")
    jump = f"https://discord.com/channels/{world.guild.id}/{bridged.thread.id}/{question.id}"
    assert content.splitlines()[0] == f"{REPLY_PREFIX}**Bob (via Discord)** · {jump}"


async def test_accounts_that_cannot_do_their_job_are_named_at_start(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The blog's account is an Author (cannot approve guests); a linked password is wrong."""
    world = discord_server.world
    monkeypatch.setenv("AUTHOR_AS_BOT", wp.author.app_password)
    monkeypatch.setenv(AUTHOR_PASSWORD_ENV, "wrong wrong wrong wrong")
    blog = relay_blog(
        wp, world.announcements.id, guests="approved", authors={world.alice.id: "admin"}
    )
    blog = blog.model_copy(
        update={
            "credentials": Credentials(username=wp.author.login, app_password_env="AUTHOR_AS_BOT")
        }
    )
    settings = bridge_settings(discord_server, sqlite_url, [blog])
    with caplog.at_level(logging.ERROR, logger="bot.relay"):
        async with running_bridge(settings, discord_server) as bot:
            await polled_once(bot)

            async def logged() -> list[str]:
                return [r.getMessage() for r in caplog.records if r.name == "bot.relay"]

            messages = await eventually(logged, what="the account problems in the log")
            await asyncio.sleep(0.5)
            messages = await logged()
    assert any(
        "the blog's account (Rebecca Healy) cannot moderate comments" in m
        and "held instead of approved" in m
        for m in messages
    ), messages
    assert any(
        f"the linked account of Discord user {world.alice.id} cannot log in" in m for m in messages
    ), messages
    assert not any("wrong wrong" in m for m in messages), "no password in the log"
