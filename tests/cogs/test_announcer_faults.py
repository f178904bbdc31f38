"""Faults while a real ``Gatejumper`` relays a 200-comment burst from a real WordPress.

Rate limits, server errors (including ones that lose the response after the
message was made), gateway drops, the bot killed at arbitrary points and a
channel that refuses the bot: nothing is lost, nothing is duplicated, order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.bridge import Gatejumper
from bot.config import Settings
from tests.cogs.gatejumper import (
    CREATE_MESSAGE,
    EXECUTE_WEBHOOK,
    PASSWORD_ENV,
    BotProcess,
    blog_config,
    bridge_settings,
    eventually,
    polled_once,
    process_config,
    running_bridge,
)
from tests.discord_server import DiscordTestServer, Message, Permission
from tests.discord_server.client import running
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress

BURST = 200
log = logging.getLogger(__name__)


def burst_comments(post_id: int, count: int, start: datetime) -> list[dict[str, Any]]:
    """``count`` comments by a few people, one second apart, all already published."""
    people = ["Ann", "Bo", "Cy", "Di"]
    return [
        {
            "post_id": post_id,
            "author": people[i % len(people)],
            "email": f"{people[i % len(people)].lower()}@example.com",
            "url": "",
            "content": f"<p>Burst comment {i:03d}</p>",
            "parent": 0,
            "date_gmt": (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S"),
            "type": "comment",
            "status": "approved",
            "user": None,
        }
        for i in range(count)
    ]


def burst_numbers(messages: list[Message]) -> list[int]:
    """The burst comments in the order Discord shows them (duplicates show up twice)."""
    return [
        int(m.content.split()[2])
        for m in messages
        if m.webhook_id is not None and m.content.startswith("Burst comment ")
    ]


async def announced_post(
    bot: Gatejumper, wp: WordPress, server: DiscordTestServer, channel: int
) -> tuple[int, int]:
    """Publish a post after the baseline and wait for its thread; returns (post id, thread id)."""
    await polled_once(bot)
    published = datetime.now(UTC) - timedelta(hours=1)
    post_id = await asyncio.to_thread(
        wp.create_post, "A post that gets busy", "<p>Talk.</p>", date=published
    )

    async def thread() -> int | None:
        threads = server.threads(channel)
        return threads[0].id if threads else None

    return post_id, await eventually(thread, what="the post's thread")


async def all_relayed(server: DiscordTestServer, thread: int, timeout: float = 90.0) -> list[int]:  # noqa: ASYNC109
    async def done() -> list[int] | None:
        numbers = burst_numbers(server.messages(thread))
        return numbers if len(set(numbers)) >= BURST else None

    await eventually(done, timeout=timeout, what=f"{BURST} relayed comments", every=0.25)
    await asyncio.sleep(2.5)  # a moment for any duplicate to show up
    return burst_numbers(server.messages(thread))


async def inject_faults_during(server: DiscordTestServer, thread: int) -> list[str]:
    """At points through the burst: a 429 storm, lost responses, 5xx, gateway drops."""
    plan: list[tuple[int, str, Callable[[], Any]]] = [
        (5, "429 storm", lambda: server.faults.rate_limit_next(EXECUTE_WEBHOOK, times=4)),
        (
            30,
            "500 after the message was made",
            lambda: server.faults.fail_next(EXECUTE_WEBHOOK, status=500, after_commit=True),
        ),
        (60, "gateway close 4000", lambda: server.gateway.drop(4000)),
        (90, "502 before handling", lambda: server.faults.fail_next(EXECUTE_WEBHOOK, status=502)),
        (120, "gateway TCP drop", lambda: server.gateway.drop(None)),
        (
            150,
            "global 429",
            lambda: server.faults.rate_limit_next(EXECUTE_WEBHOOK, times=2, is_global=True),
        ),
        (
            170,
            "503 after the message was made",
            lambda: server.faults.fail_next(EXECUTE_WEBHOOK, status=503, after_commit=True),
        ),
    ]
    done: list[str] = []
    for threshold, name, action in plan:
        await server.wait_until(
            lambda t=threshold: len(burst_numbers(server.messages(thread))) >= t,
            timeout=90,
            what=f"{threshold} comments relayed before '{name}'",
        )
        action()
        done.append(name)
    return done


async def test_a_200_comment_burst_survives_rate_limits_server_errors_and_gateway_drops(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
) -> None:
    channel = discord_server.world.announcements.id
    settings = bridge_settings(discord_server, sqlite_url, [blog_config(wp, channel)])

    async with running_bridge(settings, discord_server) as bot:
        post_id, thread = await announced_post(bot, wp, discord_server, channel)
        faults = asyncio.create_task(inject_faults_during(discord_server, thread))
        started = asyncio.get_running_loop().time()
        comments = burst_comments(post_id, BURST, datetime.now(UTC) - timedelta(minutes=30))
        await asyncio.to_thread(wp.create_comments, comments)
        numbers = await all_relayed(discord_server, thread)
        elapsed = asyncio.get_running_loop().time() - started
        injected = await faults

    assert numbers == list(range(BURST)), "every comment once, in order"
    assert len(injected) == 7
    statuses = [r.status for r in discord_server.requests_to(EXECUTE_WEBHOOK)]
    assert statuses.count(429) >= 6 and statuses.count(500) == 1 and statuses.count(503) == 1
    assert statuses.count(502) == 1
    assert [r.kind for r in discord_server.gateway.log].count("resume") >= 2
    assert all(m.pings.is_empty for m in discord_server.messages(thread))
    log.info("200-comment burst with faults relayed in %.1fs", elapsed)


@contextlib.asynccontextmanager
async def killable_bridge(
    settings: Settings, server: DiscordTestServer
) -> AsyncIterator[Gatejumper]:
    bot = Gatejumper(settings, guild_ready_timeout=0.05)
    async with running(bot, server, timeout=20.0) as ready:
        yield ready


async def kill(bot: Gatejumper) -> None:
    """Like a crash: the announcer is cancelled wherever it is (mid-request, mid-transaction),
    then the bot goes away without letting anything finish."""
    cog = bot.get_cog("Announcer")
    assert cog is not None
    task = cog._task  # type: ignore[attr-defined]
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await bot.close()


async def test_killed_at_random_points_during_a_burst_and_restarted_loses_and_duplicates_nothing(
    make_wordpress: Callable[..., WordPress],
    discord_server: DiscordTestServer,
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    wp = make_wordpress(seed=False)
    channel = discord_server.world.announcements.id
    config = process_config(tmp_path / "config.yaml", discord_server, wp, sqlite_url)
    env = {**os.environ, "DISCORD_TOKEN": discord_server.token, PASSWORD_ENV: wp.bot.app_password}
    bot = BotProcess(config, env, tmp_path / "bot.log")
    kills: list[int] = []

    def relayed() -> int:
        return len(burst_numbers(discord_server.messages(thread)))

    await bot.start(discord_server)
    try:
        await bot.wait_for_log("modite: 2 feeds polled")  # the baseline
        published = datetime.now(UTC) - timedelta(hours=1)
        post_id = await asyncio.to_thread(
            wp.create_post, "A post that gets busy", "<p>Talk.</p>", date=published
        )
        [thread_channel] = await discord_server.wait_until(
            lambda: discord_server.threads(channel), timeout=30, what="the post's thread"
        )
        thread = thread_channel.id
        comments = burst_comments(post_id, BURST, datetime.now(UTC) - timedelta(minutes=30))
        await asyncio.to_thread(wp.create_comments, comments)
        for _ in range(3):
            target = min(relayed() + chance.randint(5, 50), BURST - 5)
            await discord_server.wait_until(
                lambda t=target: relayed() >= t,
                timeout=60,
                what=f"{target} comments before the kill (seed {seed})",
            )
            await asyncio.sleep(chance.random() * 0.05)
            await bot.kill()
            kills.append(relayed())
            await bot.start(discord_server)
        numbers = await all_relayed(discord_server, thread)
        stopped = await bot.stop()
    except BaseException:
        await bot.stop()
        print(bot.log_tail())
        raise

    where = f"seed {seed}, killed after {kills} messages"
    assert numbers == list(range(BURST)), f"every comment once, in order ({where})"
    assert stopped == 0, bot.log_tail()
    assert len(discord_server.threads(channel)) == 1
    assert len(discord_server.messages(channel)) == 1, "the post was announced once"
    assert len(discord_server.webhooks(channel)) == 1, "the stored webhook was reused"


async def test_killed_between_intent_and_stored_message_adopts_instead_of_resending(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
) -> None:
    """The message exists in Discord but the response was lost, and then the bot died."""
    channel = discord_server.world.announcements.id
    settings = bridge_settings(discord_server, sqlite_url, [blog_config(wp, channel)])

    async with killable_bridge(settings, discord_server) as bot:
        await polled_once(bot)
        discord_server.faults.fail_next(CREATE_MESSAGE, status=503, after_commit=True)
        published = datetime.now(UTC) - timedelta(hours=1)
        post_id = await asyncio.to_thread(wp.create_post, "Lost", "<p>x</p>", date=published)
        await discord_server.wait_for_request(CREATE_MESSAGE, status=503, timeout=30)
        await kill(bot)
    assert len(discord_server.messages(channel)) == 1 and not discord_server.threads(channel)

    async with killable_bridge(settings, discord_server) as bot:
        [announcement] = discord_server.messages(channel)

        async def thread() -> int | None:
            threads = discord_server.threads(channel)
            return threads[0].id if threads else None

        thread_id = await eventually(thread, what="the thread on the adopted announcement")
        assert thread_id == announcement.id
        assert discord_server.nonce_hits == [announcement.id], "resent with its nonce"

        discord_server.faults.fail_next(EXECUTE_WEBHOOK, status=500, after_commit=True)
        start = datetime.now(UTC) - timedelta(minutes=30)
        [first] = await asyncio.to_thread(wp.create_comments, burst_comments(post_id, 1, start))
        await discord_server.wait_for_request(EXECUTE_WEBHOOK, status=500, timeout=30)
        await kill(bot)
    [relayed] = discord_server.messages(thread_id)
    assert burst_numbers([relayed]) == [0]

    async with killable_bridge(settings, discord_server) as bot:
        later = burst_comments(post_id, 2, start)[1:]
        await asyncio.to_thread(wp.create_comments, later)

        async def second() -> list[int] | None:
            numbers = burst_numbers(discord_server.messages(thread_id))
            return numbers if len(numbers) >= 2 else None

        await eventually(second, what="the next comment")
        await asyncio.sleep(1.0)
        [mapped] = await bot.core.storage.sent_messages_for("modite", f"comment-{first}")

    assert mapped.message_id == relayed.id, "the message of the lost response was adopted"
    assert burst_numbers(discord_server.messages(thread_id)) == [0, 1]
    assert len(discord_server.requests_to(EXECUTE_WEBHOOK, status=200)) == 1


async def test_a_channel_that_refuses_the_bot_disables_only_its_blog_with_one_alert(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = discord_server.world
    alerts = discord_server.add_channel("gatejumper-alerts")
    discord_server.set_permissions(world.announcements, deny=Permission.SEND_MESSAGES)
    refused = blog_config(wp, world.announcements.id, name="modite")
    working = blog_config(wp, world.general.id, name="mirror")
    settings = bridge_settings(
        discord_server, sqlite_url, [refused, working], alerts_channel=alerts.id
    )
    caplog.set_level(logging.INFO)

    async with running_bridge(settings, discord_server) as bot:
        await polled_once(bot, "modite")
        await polled_once(bot, "mirror")
        published = datetime.now(UTC) - timedelta(hours=1)
        post_id = await asyncio.to_thread(wp.create_post, "Two blogs", "<p>x</p>", date=published)
        start = datetime.now(UTC) - timedelta(minutes=30)
        await asyncio.to_thread(wp.create_comments, burst_comments(post_id, 5, start))

        async def mirrored() -> list[int] | None:
            threads = discord_server.threads(world.general)
            if not threads:
                return None
            numbers = burst_numbers(discord_server.messages(threads[0]))
            return numbers if len(numbers) >= 5 else None

        assert await eventually(mirrored, what="the other blog's comments") == [0, 1, 2, 3, 4]
        await asyncio.sleep(2.5)  # more polls: still one alert, still nothing in the channel
        status = bot.announcer.lane_status("modite")
        targets = await bot.core.storage.disabled_targets("modite")

    assert status.disabled is not None and status.disabled_channel == world.announcements.id
    assert bot.announcer.lane_status("mirror").disabled is None
    assert [t.channel_id for t in targets] == [world.announcements.id]
    assert discord_server.messages(world.announcements) == []
    [alert] = discord_server.messages(alerts)
    assert "modite" in alert.content and alert.pings.is_empty
    errors = [
        r for r in caplog.records if r.levelno >= logging.ERROR and "modite" in r.getMessage()
    ]
    assert len(errors) == 1 and "Send Messages" in errors[0].getMessage()
