"""Lanes: order within a blog, independence across blogs, backoff, disabled targets, run()."""

from __future__ import annotations

import asyncio
import logging
import time as wall
from datetime import timedelta

import pytest

from bot.announce import Announcer
from bot.announce._lanes import BACKOFF_MAX, DISABLED_RETRY, backoff_delay
from bot.announce.port import PermanentDiscordError, TransientDiscordError
from bot.events import Event, NewComment, NewPingback, NewPost
from bot.storage import Storage
from tests.announce.conftest import (
    OTHER_CHANNEL,
    FakeTime,
    deliver_all,
    make_announcer,
    make_settings,
    other_blog,
)
from tests.announce.fake_port import FakePort
from tests.announce.scenario import comment, pingback, post
from tests.render.seed_thread import ALERTS_CHANNEL, ANNOUNCE_CHANNEL, blog_config

MODITE = "modite"
OTHER = "other"


def thread_events(blog: str, comments: int, *, on: int = 1) -> list[Event]:
    events: list[Event] = [NewPost(blog, post(on))]
    events += [NewComment(blog, comment(n, on=on)) for n in range(1, comments + 1)]
    return events


def thread_contents(port: FakePort, channel: int) -> list[str]:
    [thread] = port.threads(channel)
    return [m.content.split("\n")[0] for m in port.live(thread.id)]


def announcer_for_two(storage: Storage, port: FakePort, time: FakeTime) -> Announcer:
    return make_announcer(make_settings(blog_config(), other_blog()), storage, port, time)


def test_backoff_doubles_from_two_seconds_up_to_five_minutes_with_jitter() -> None:
    assert [backoff_delay(n, lambda: 0.5) for n in range(1, 6)] == [2, 4, 8, 16, 32]
    assert backoff_delay(1, lambda: 0.0) == pytest.approx(1.6)
    assert backoff_delay(1, lambda: 1.0) == pytest.approx(2.4)
    assert backoff_delay(9, lambda: 1.0) == BACKOFF_MAX
    assert backoff_delay(10_000, lambda: 0.5) == BACKOFF_MAX


async def test_a_burst_of_200_comments_arrives_complete_and_in_order(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 200))
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    started = wall.perf_counter()
    assert await announcer.deliver_pending() == 201
    elapsed = wall.perf_counter() - started
    expected = [f"Comment number {n} says hello." for n in range(1, 201)]
    assert thread_contents(port, ANNOUNCE_CHANNEL) == expected
    assert len(port.created()) == 201
    assert announcer.lane_status(MODITE).queued == 0
    assert elapsed < 30, f"200 comments took {elapsed:.1f}s"


async def test_lanes_run_concurrently_and_a_stuck_blog_does_not_hold_another(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 3) + thread_events(OTHER, 3, on=2))
    announcer = announcer_for_two(storage, port, time)
    gate = port.gate(ANNOUNCE_CHANNEL, "send_message")
    passing = asyncio.create_task(announcer.deliver_pending())
    async with asyncio.timeout(5):
        while len(port.created()) < 4:  # noqa: ASYNC110 - the fake has no event for this
            await asyncio.sleep(0.001)
    assert thread_contents(port, OTHER_CHANNEL)[-1] == "Comment number 3 says hello."
    assert port.live(ANNOUNCE_CHANNEL) == [] and announcer.lane_status(MODITE).busy
    gate.set()
    assert await passing == 8
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 3


async def test_transient_errors_back_off_that_lane_only_then_deliver_once(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 3) + thread_events(OTHER, 2, on=2))
    port.fail(
        "send_message", TransientDiscordError("503", status=503), times=3, channel=ANNOUNCE_CHANNEL
    )
    announcer = announcer_for_two(storage, port, time)
    assert await announcer.deliver_pending() == 3  # the other blog's three events
    delays = []
    for attempt in (1, 2, 3):
        status = announcer.lane_status(MODITE)
        assert status.failures == attempt and status.last_error == "503 (HTTP 503)"
        assert status.next_retry is not None
        delays.append((status.next_retry - time.now).total_seconds())
        assert await announcer.deliver_pending() == 0  # not due yet: not even tried
        assert port.call_count("send_message", ANNOUNCE_CHANNEL) == attempt
        time.now = status.next_retry
        await announcer.deliver_pending()
    assert delays == [2.0, 4.0, 8.0]
    assert announcer.lane_status(MODITE).failures == 0
    assert announcer.lane_status(MODITE).next_retry is None
    assert len(port.live(ANNOUNCE_CHANNEL)) == 1
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 3
    assert await storage.pending_counts() == {}


async def test_a_webhook_send_that_landed_but_failed_is_found_not_repeated(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 2))
    port.fail("send_as_author", TransientDiscordError("timeout"), after_effect=True)
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    assert await deliver_all(announcer, storage, time) == 3
    assert thread_contents(port, ANNOUNCE_CHANNEL) == [
        "Comment number 1 says hello.",
        "Comment number 2 says hello.",
    ]
    assert port.call_count("find_sent") == 1
    [row] = await storage.sent_messages_for(MODITE, "comment-1")
    [thread] = port.threads(ANNOUNCE_CHANNEL)
    assert row.message_id == port.live(thread.id)[0].id and row.thread_id == thread.id


async def test_a_bot_message_that_landed_but_failed_is_deduplicated_by_its_nonce(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events([NewPost(MODITE, post(1)), NewPingback(MODITE, pingback(4))])
    port.fail("send_message", TransientDiscordError("502"), after_effect=True, times=2)
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    assert await deliver_all(announcer, storage, time) == 2
    assert port.call_count("send_message") == 4  # each sent twice, with the same nonce
    assert len(port.live(ANNOUNCE_CHANNEL)) == 1
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 1
    assert len(port.created()) == 2


async def test_a_refused_channel_disables_its_blog_alerts_once_and_keeps_the_events(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 2) + thread_events(OTHER, 2, on=2))
    port.forbidden.add(ANNOUNCE_CHANNEL)
    announcer = announcer_for_two(storage, port, time)
    with caplog.at_level(logging.INFO, logger="bot.announce"):
        assert await announcer.deliver_pending() == 3
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    line = error.getMessage()
    assert f"channel {ANNOUNCE_CHANNEL}" in line and "Manage Webhooks" in line
    assert "retried every 10 minutes" in line
    [alert] = port.live(ALERTS_CHANNEL)
    assert alert.content.startswith("⛔") and "modite" in alert.content
    [target] = await storage.disabled_targets()
    assert (target.channel_id, target.blog) == (ANNOUNCE_CHANNEL, MODITE)
    assert await storage.pending_counts() == {MODITE: 3}  # nothing lost
    status = announcer.lane_status(MODITE)
    assert status.disabled is not None and status.disabled_channel == ANNOUNCE_CHANNEL
    assert status.next_retry == time.now + timedelta(seconds=DISABLED_RETRY)
    assert len(thread_contents(port, OTHER_CHANNEL)) == 2  # the other blog went on

    caplog.clear()
    tries = port.call_count("send_message", ANNOUNCE_CHANNEL)
    time.advance(DISABLED_RETRY / 2)
    await announcer.deliver_pending()
    assert port.call_count("send_message", ANNOUNCE_CHANNEL) == tries  # rarely retried
    time.advance(DISABLED_RETRY / 2)
    with caplog.at_level(logging.INFO, logger="bot.announce"):
        await announcer.deliver_pending()
    assert port.call_count("send_message", ANNOUNCE_CHANNEL) == tries + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # said once only
    assert len(port.live(ALERTS_CHANNEL)) == 1

    port.forbidden.clear()
    assert await announcer.enable(MODITE) == [ANNOUNCE_CHANNEL]
    assert await announcer.deliver_pending() == 3
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 2
    status = announcer.lane_status(MODITE)
    assert status.disabled is None and status.next_retry is None and status.last_error is None
    assert await storage.disabled_targets() == []


async def test_a_disabled_blog_is_retried_at_restart_and_recovers_by_itself(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 1))
    port.forbidden.add(ANNOUNCE_CHANNEL)
    await announcer_for_two(storage, port, time).deliver_pending()
    restarted = announcer_for_two(storage, port, time)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot.announce"):
        assert await restarted.deliver_pending() == 0  # tried at once, still refused
    assert caplog.records == [] and len(port.live(ALERTS_CHANNEL)) == 1
    assert restarted.lane_status(MODITE).disabled is not None
    port.forbidden.clear()
    time.advance(DISABLED_RETRY)
    assert await restarted.deliver_pending() == 2
    assert await storage.disabled_targets() == []


async def test_no_alert_is_posted_in_the_channel_that_refuses_us(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(OTHER, 1, on=2))
    port.forbidden.add(OTHER_CHANNEL)
    settings = make_settings(other_blog(), alerts=None)
    await make_announcer(settings, storage, port, time).deliver_pending()
    assert port.created() == []
    [target] = await storage.disabled_targets(OTHER)
    assert target.channel_id == OTHER_CHANNEL


async def test_an_unknown_channel_explains_which_config_key_to_check(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.enqueue_events(thread_events(OTHER, 1, on=2))
    del port.channels[OTHER_CHANNEL]
    with caplog.at_level(logging.ERROR, logger="bot.announce"):
        await announcer_for_two(storage, port, time).deliver_pending()
    assert "check blogs.other.announce.channel" in caplog.text
    [alert] = port.live(ALERTS_CHANNEL)
    assert "does not exist" in alert.content


async def test_events_of_a_blog_not_in_the_config_are_kept(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.enqueue_events(thread_events("ghost", 2))
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    with caplog.at_level(logging.WARNING, logger="bot.announce"):
        assert await announcer.deliver_pending() == 0
    assert "3 undelivered events of blog 'ghost' are kept" in caplog.text
    assert await storage.pending_counts() == {"ghost": 3}
    with pytest.raises(LookupError, match="no blog named 'ghost'"):
        announcer.lane_status("ghost")


async def test_statuses_read_the_queue_lengths(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    announcer = announcer_for_two(storage, port, time)
    await storage.enqueue_events(thread_events(OTHER, 4, on=2))
    [modite, other] = await announcer.statuses()
    assert (modite.blog, modite.queued, other.blog, other.queued) == (MODITE, 0, OTHER, 5)
    await announcer.deliver_pending()
    assert announcer.lane_status(OTHER).queued == 0
    assert announcer.lane_status(OTHER).delivered == 5


async def test_run_delivers_when_woken_and_returns_promptly_when_stopped(
    storage: Storage, port: FakePort
) -> None:
    """Real time here: a long poll interval, so only wake() can explain a quick delivery."""
    announcer = Announcer(make_settings(blog_config()), storage, port, poll_interval=600)
    stop = asyncio.Event()
    task = asyncio.create_task(announcer.run(stop))
    await asyncio.sleep(0.05)
    await storage.enqueue_events(thread_events(MODITE, 2))
    announcer.wake()
    async with asyncio.timeout(5):
        while len(port.created()) < 3:  # noqa: ASYNC110 - the fake has no event for this
            await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 2


async def test_run_backs_off_on_transient_errors_and_carries_on(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 1))
    port.fail("send_as_author", TransientDiscordError("gateway down"), times=2)
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    stop = asyncio.Event()
    task = asyncio.create_task(announcer.run(stop))
    async with asyncio.timeout(5):
        while len(port.created()) < 2:  # noqa: ASYNC110 - the fake has no event for this
            await asyncio.sleep(0.001)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert time.slept[:2] == [2.0, 4.0]  # the backoff, slept through the injected sleep
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 1


async def test_permanent_errors_name_the_channel_in_the_status(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await storage.enqueue_events(thread_events(MODITE, 1))
    port.fail(
        "start_thread",
        PermanentDiscordError("Missing Access", channel_id=ANNOUNCE_CHANNEL, code=50001),
    )
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    await announcer.deliver_pending()
    status = announcer.lane_status(MODITE)
    assert status.disabled is not None and "cannot see channel" in status.disabled
    assert status.last_error == "Missing Access (code 50001)"
    time.advance(DISABLED_RETRY)
    assert await announcer.deliver_pending() == 2
    assert len(port.live(ANNOUNCE_CHANNEL)) == 1  # the announcement was not sent twice


async def test_a_payload_discord_rejects_is_skipped_with_an_error_not_retried_forever(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.announce.port import DiscordError

    await storage.enqueue_events(thread_events(MODITE, 3))
    port.fail("send_as_author", DiscordError("Invalid Form Body", status=400, code=50035))
    announcer = announcer_for_two(storage, port, time)
    with caplog.at_level(logging.ERROR):
        assert await announcer.deliver_pending() == 4
    assert "rejected event" in caplog.text and "skipped" in caplog.text
    assert len(thread_contents(port, ANNOUNCE_CHANNEL)) == 2  # the rejected comment is missing
    assert announcer.lane_status(MODITE).failures == 0
    assert await storage.pending_counts() == {}
