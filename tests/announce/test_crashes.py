"""Exactly once across crashes: kill the announcer at every step boundary, restart, compare.

A reference run of a full lifecycle (announcement, comments, a reply, a split comment, a
pingback, a lazily opened thread, alerts, edits that change the part count, a removal) counts
the checkpoints: before and after every storage write and every Discord call. Then, for each
checkpoint k, a fresh blog runs the same lifecycle, dies at k, and a fresh announcer (new
storage connection in the realistic test) finishes it. Discord must end up showing exactly
what the reference shows: nothing lost, nothing twice, in the same order.
"""

from __future__ import annotations

import asyncio
import time as wall

import pytest

from bot.announce import Announcer
from bot.config import BlogConfig
from bot.storage import Storage
from tests.announce.conftest import (
    FORUM_CHANNEL,
    FakeTime,
    deliver_all,
    make_announcer,
    make_port,
    make_settings,
)
from tests.announce.crash import Checkpoints, Crash, hooked
from tests.announce.fake_port import FakePort
from tests.announce.scenario import Shown, forum_lifecycle, lifecycle, post, view
from tests.render.seed_thread import ANNOUNCE_CHANNEL, blog_config


def blog_named(name: str, channel: int) -> BlogConfig:
    return blog_config(name=name, announce={"channel": channel})


async def run_lifecycle(
    storage: Storage, time: FakeTime, name: str, channel: int, crash_at: int | None
) -> tuple[FakePort, Checkpoints]:
    """Enqueue the lifecycle for blog ``name`` and deliver it, dying at ``crash_at``.

    In a forum channel only the forum-specific part of it runs (the rest is the same).
    """
    settings = make_settings(blog_named(name, channel))
    port = make_port()
    checkpoints = Checkpoints(crash_at)
    port.hook = checkpoints
    events = lifecycle(name) if channel != FORUM_CHANNEL else forum_lifecycle(name)
    port.event_ids = await storage.enqueue_events(events)
    announcer = make_announcer(settings, hooked(storage, checkpoints), port, time)
    if crash_at is None:
        await deliver_all(announcer, storage, time)
    else:
        with pytest.raises(Crash):
            await deliver_all(announcer, storage, time)
    port.hook = None
    return port, checkpoints


async def finish(storage: Storage, time: FakeTime, name: str, channel: int, port: FakePort) -> None:
    """A fresh announcer completes what the crashed one left; no intent stays unresolved."""
    announcer = make_announcer(make_settings(blog_named(name, channel)), storage, port, time)
    await deliver_all(announcer, storage, time)
    assert name not in await storage.pending_counts()
    for event_id in port.event_ids:
        for intent in await storage.message_intents(event_id):
            assert intent.status in ("sent", "deleted"), intent


@pytest.mark.parametrize("channel", [ANNOUNCE_CHANNEL, FORUM_CHANNEL], ids=["text", "forum"])
async def test_a_crash_at_any_step_loses_and_duplicates_nothing(
    storage: Storage, time: FakeTime, channel: int
) -> None:
    reference_port, reference = await run_lifecycle(storage, time, "reference", channel, None)
    expected: list[Shown] = view(reference_port, blog="reference")
    expected_steps = {
        "before record_intent",
        "before send_as_author",
        "before mark_sent",
        "before mark_delivered",
        "before save_post_thread",
    }
    if channel == ANNOUNCE_CHANNEL:
        expected_steps |= {"before send_message", "before start_thread", "before edit"}
        expected_steps |= {"before delete", "before mark_deleted"}
    else:
        expected_steps |= {"before create_forum_post"}
    assert expected_steps <= set(reference.passed)
    started = wall.perf_counter()
    # "after X" leaves the same state as the "before Y" that follows it (the fake's "after"
    # of a call is after its effect, like "before" the mark_sent that would record it).
    crash_points = [k for k, name in enumerate(reference.passed, 1) if name.startswith("before")]
    for k in crash_points:
        name = f"crash{k}"
        port, checkpoints = await run_lifecycle(storage, time, name, channel, k)
        crashed_at = checkpoints.passed[-1]
        await finish(storage, time, name, channel, port)
        assert view(port, blog=name) == expected, f"crash at checkpoint {k} ({crashed_at})"
    assert len(crash_points) >= (50 if channel == ANNOUNCE_CHANNEL else 20)
    assert wall.perf_counter() - started < 120


async def test_a_crash_then_a_new_process_on_the_same_database(
    database_url: str, time: FakeTime
) -> None:
    """The realistic variant at the three classic points: each restart opens a new engine."""
    async with await Storage.open(database_url, clock=time.clock) as storage:
        reference_port, reference = await run_lifecycle(
            storage, time, "ref", ANNOUNCE_CHANNEL, None
        )
    expected = view(reference_port, blog="ref")
    points = {
        name: reference.passed.index(name) + 1
        for name in ("after record_intent", "after send_as_author", "after mark_sent")
    }
    for point, k in points.items():
        name = f"restart{k}"
        async with await Storage.open(database_url, clock=time.clock) as storage:
            port, _ = await run_lifecycle(storage, time, name, ANNOUNCE_CHANNEL, k)
        async with await Storage.open(database_url, clock=time.clock) as storage:
            await finish(storage, time, name, ANNOUNCE_CHANNEL, port)
        assert view(port, blog=name) == expected, point


async def test_stopping_mid_send_abandons_it_safely(storage: Storage, time: FakeTime) -> None:
    """run() returns promptly on stop even while a send hangs; the next start finishes it."""
    settings = make_settings(blog_config())
    port = make_port()
    port.event_ids = await storage.enqueue_events(lifecycle("modite")[:3])
    announcer = Announcer(settings, storage, port, poll_interval=0.01, stop_grace=0.05)
    gate = port.gate(ANNOUNCE_CHANNEL, "send_message")  # the announcement hangs
    stop = asyncio.Event()
    task = asyncio.create_task(announcer.run(stop))
    async with asyncio.timeout(2):
        while port.call_count("send_message") == 0:  # noqa: ASYNC110 - the fake has no event
            await asyncio.sleep(0.001)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert port.created() == []
    [intent] = await storage.message_intents(port.event_ids[0])
    assert intent.status == "pending"
    gate.set()
    await finish(storage, time, "modite", ANNOUNCE_CHANNEL, port)
    assert [m.embed.title if m.embed else None for m in port.live(ANNOUNCE_CHANNEL)] == [
        post(1).title
    ]
    [thread] = port.threads(ANNOUNCE_CHANNEL)
    assert len(port.live(thread.id)) == 2


async def test_a_send_that_landed_but_was_cancelled_is_adopted(
    storage: Storage, time: FakeTime
) -> None:
    """Cancelled after Discord created the webhook message: the restart finds it by marker."""
    settings = make_settings(blog_config())
    port = make_port()
    port.event_ids = await storage.enqueue_events(lifecycle("modite")[:2])
    announcer = make_announcer(settings, storage, port, time)

    def cancel_after_webhook_send(name: str) -> None:
        if name == "after send_as_author":
            raise asyncio.CancelledError

    port.hook = cancel_after_webhook_send
    with pytest.raises(asyncio.CancelledError):
        await announcer.deliver_pending()
    port.hook = None
    [thread] = port.threads(ANNOUNCE_CHANNEL)
    assert len(port.live(thread.id)) == 1
    await finish(storage, time, "modite", ANNOUNCE_CHANNEL, port)
    assert len(port.live(thread.id)) == 1
    assert port.call_count("find_sent") == 1
    assert port.call_count("send_as_author") == 1
