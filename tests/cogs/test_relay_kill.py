"""The real ``gatejumper run`` SIGKILLed while it relays Discord replies to a real WordPress,
and started again: every reply lands on the blog exactly once, in order, under the right
parent, and each Discord message shows its outcome once.

A member writes in a post's thread while the bot is killed at random points (replay a failure
with ``RELAY_KILL_SEED=<seed>``): what is written while it is dead is read from the thread's
history at the next start.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cogs.gatejumper import PASSWORD_ENV, BotProcess, eventually, process_config
from tests.cogs.relay_setup import blog_comments
from tests.discord_server import Channel, DiscordTestServer, Message
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress

REPLIES = 30
KILLS = 3
PUBLISHED = "✅"
RELAY: dict[str, str | int | bool] = {
    "enabled": True,
    "guests": "approved",
    "per_user_per_minute": 1000,
    "retry_max": "1s",
}


async def test_killed_mid_relay_and_restarted_every_reply_lands_once_in_order(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("RELAY_KILL_SEED") or random.randrange(1_000_000))
    chance = random.Random(seed)
    config = process_config(tmp_path / "config.yaml", discord_server, wp, sqlite_url, relay=RELAY)
    env = {**os.environ, "DISCORD_TOKEN": discord_server.token, PASSWORD_ENV: wp.bot.app_password}
    bot = BotProcess(config, env, tmp_path / "bot.log")
    kills: list[int] = []
    writing: asyncio.Task[list[Message]] | None = None
    started = time.monotonic()

    await bot.start(discord_server)
    try:
        await bot.wait_for_log("modite: 2 feeds polled")  # the baseline
        post_id, first_comment = await asyncio.to_thread(_post_with_a_comment, wp)
        thread, mirrored = await _mirrored(discord_server)

        async def landed() -> list[dict[str, Any]]:
            comments = await asyncio.to_thread(blog_comments, wp, post_id)
            return [c for c in comments if c["id"] != first_comment]

        writing = asyncio.create_task(_write(discord_server, thread, mirrored, chance))
        for _ in range(KILLS):
            target = min((kills[-1] if kills else 0) + chance.randint(3, 9), REPLIES - 3)

            async def reached(at_least: int = target) -> bool:
                return len(await landed()) >= at_least

            await eventually(
                reached, timeout=30, what=f"{target} relayed replies (seed {seed})", every=0.05
            )
            await asyncio.sleep(chance.random() * 0.05)
            await bot.kill()
            kills.append(len(await landed()))
            await bot.start(discord_server)
        written = await writing

        async def settled() -> bool:
            shown = all(_outcome_shown(discord_server, thread, m) for m in written)
            return shown and len(await landed()) >= REPLIES

        await _until(settled, seconds=30)  # the assertions below say what is missing
        await asyncio.sleep(1.5)  # a poll or two more: nothing posted twice, nothing echoed
        comments = await landed()
        stopped = await bot.stop()
    except BaseException:
        if writing is not None:
            writing.cancel()
        await bot.stop()
        print(f"seed {seed}, killed after {kills} comments\n{bot.log_tail()}")
        raise

    elapsed = time.monotonic() - started
    where = f"seed {seed}, killed after {kills} comments, {elapsed:.1f}s, log {bot.log_file}"
    assert [c["content"] for c in comments] == [m.content for m in written], where
    assert [c["id"] for c in comments] == sorted(c["id"] for c in comments), where
    comment_of = {m.id: c["id"] for m, c in zip(written, comments, strict=True)}
    comment_of[mirrored.id] = first_comment
    parents = [comment_of[m.reference_id] if m.reference_id else 0 for m in written]
    assert [c["parent"] for c in comments] == parents, where
    assert {c["status"] for c in comments} == {"approved"}, where
    for message, comment in zip(written, comments, strict=True):
        what = f"{message.content!r} ({where})"
        assert _bot_reactions(discord_server, message) == {PUBLISHED}, what
        links = _links(discord_server, thread, message)
        assert len(links) == 1, f"{len(links)} links to the comment of {what}"  # nonces
        assert links[0].content.endswith(f"#comment-{comment['id']}>"), what
    webhook_messages = [m for m in discord_server.messages(thread) if m.webhook_id]
    assert [m.id for m in webhook_messages] == [mirrored.id], f"nothing echoed ({where})"
    assert stopped == 0, bot.log_tail()
    assert len(kills) == KILLS
    print(f"relayed {REPLIES} replies through {KILLS} kills: {where}")


async def _until(check: Callable[[], Awaitable[bool]], *, seconds: float) -> None:
    """Wait until ``check()`` is true, or ``seconds`` went by (without failing)."""
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)


def _post_with_a_comment(wp: WordPress) -> tuple[int, int]:
    post_id = wp.create_post("A post worth answering", "<p>A post.</p>")
    comment = wp.create_comment(post_id, "Dana", "dana@example.org", "<p>First comment.</p>")
    return post_id, comment


async def _mirrored(server: DiscordTestServer) -> tuple[Channel, Message]:
    """The post's thread and the comment mirrored in it."""
    channel = server.world.announcements.id
    [thread] = await server.wait_until(
        lambda: server.threads(channel), timeout=30, what="the post's thread"
    )
    [comment] = await server.wait_until(
        lambda: [m for m in server.messages(thread) if m.webhook_id],
        timeout=30,
        what="the mirrored comment",
    )
    return thread, comment


async def _write(
    server: DiscordTestServer, thread: Channel, mirrored: Message, chance: random.Random
) -> list[Message]:
    """Bob writes ``REPLIES`` messages a few tenths of a second apart; the first answers the
    mirrored comment, about one in four answers an earlier one of his."""
    written: list[Message] = []
    for i in range(REPLIES):
        reply_to = mirrored if i == 0 else None
        if i > 0 and chance.random() < 0.25:
            reply_to = chance.choice(written)
        text = f"Reply {i:02d} from Discord"
        written.append(server.inject_message(thread, server.world.bob, text, reply_to=reply_to))
        await asyncio.sleep(chance.uniform(0.05, 0.4))
    return written


def _bot_reactions(server: DiscordTestServer, message: Message) -> set[str]:
    bot_id = server.world.bot.id
    current = server.message(message.id)
    return {emoji for emoji, users in current.reactions.items() if bot_id in users}


def _links(server: DiscordTestServer, thread: Channel, message: Message) -> list[Message]:
    """The bot's "✅ On the blog" replies to ``message``."""
    return [
        m
        for m in server.messages(thread)
        if m.reference_id == message.id
        and m.author.id == server.world.bot.id
        and m.content.startswith(f"{PUBLISHED} On the blog: ")
    ]


def _outcome_shown(server: DiscordTestServer, thread: Channel, message: Message) -> bool:
    shown = _bot_reactions(server, message) == {PUBLISHED}
    return shown and bool(_links(server, thread, message))
