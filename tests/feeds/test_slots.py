"""The polling hot path's semaphores: limits, order, cancellation, and keys dropped when idle."""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.feeds._slots import KeyedSlots, Slots


async def test_free_slots_are_taken_at_once_and_the_next_one_waits() -> None:
    slots = Slots(2)
    await slots.take()
    await slots.take()
    assert slots.free == 0
    waiting = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    slots.give()
    await asyncio.wait_for(waiting, 1)
    assert slots.free == 0  # handed over, not freed
    slots.give()
    slots.give()
    assert slots.idle


async def test_waiters_are_served_first_come_first_served() -> None:
    slots = Slots(1)
    await slots.take()
    order: list[int] = []

    async def one(n: int) -> None:
        await slots.take()
        order.append(n)
        slots.give()

    tasks = [asyncio.ensure_future(one(n)) for n in range(5)]
    await asyncio.sleep(0)
    newcomer_took = asyncio.ensure_future(one(99))  # arrives after them: never jumps the line
    slots.give()
    await asyncio.gather(*tasks, newcomer_took)
    assert order == [0, 1, 2, 3, 4, 99]
    assert slots.idle


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    slots = Slots(1)
    await slots.take()
    first = asyncio.ensure_future(slots.take())
    second = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    slots.give()
    await asyncio.wait_for(second, 1)  # the slot went to the one still waiting
    slots.give()
    assert slots.idle


async def test_a_slot_handed_to_a_waiter_cancelled_before_it_ran_is_passed_on() -> None:
    slots = Slots(1)
    await slots.take()
    first = asyncio.ensure_future(slots.take())
    second = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to ``first``, which has not run yet ...
    first.cancel()  # ... and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    slots.give()
    assert slots.idle


def test_giving_back_a_slot_never_taken_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        Slots(1).give()
    with pytest.raises(ValueError):
        Slots(0)


async def test_the_limit_holds_under_random_holders_and_cancellations() -> None:
    rng = random.Random(7)
    slots = Slots(3)
    holding = 0
    most = 0

    async def holder() -> None:
        nonlocal holding, most
        await slots.take()
        holding += 1
        most = max(most, holding)
        try:
            await asyncio.sleep(rng.random() / 1000)
        finally:
            holding -= 1
            slots.give()

    tasks = [asyncio.ensure_future(holder()) for _ in range(200)]
    for _ in range(40):
        await asyncio.sleep(rng.random() / 2000)
        rng.choice(tasks).cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert most == 3
    assert holding == 0
    assert slots.idle


async def test_keyed_slots_limit_each_key_and_forget_idle_keys() -> None:
    hosts = KeyedSlots(1)
    await hosts.take("a.example")
    await hosts.take("b.example")  # another key: its own slot
    waiting = asyncio.ensure_future(hosts.take("a.example"))
    await asyncio.sleep(0)
    assert not waiting.done()
    hosts.give("a.example")
    await asyncio.wait_for(waiting, 1)
    hosts.give("a.example")
    hosts.give("b.example")
    assert len(hosts) == 0


async def test_keyed_slots_forget_a_key_whose_only_waiter_was_cancelled() -> None:
    hosts = KeyedSlots(1)
    await hosts.take("a.example")
    waiting = asyncio.ensure_future(hosts.take("a.example"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(hosts) == 1  # still held
    hosts.give("a.example")
    assert len(hosts) == 0


async def test_taking_now_never_jumps_the_line() -> None:
    """``take_now`` (no coroutine) takes a free slot, and never one a waiter is owed."""
    slots = Slots(1)
    assert slots.take_now()
    assert not slots.take_now()  # none free
    waiting = asyncio.ensure_future(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to the waiter
    assert not slots.take_now()
    await asyncio.wait_for(waiting, 1)
    slots.give()
    assert slots.idle and slots.take_now()


async def test_keyed_slots_taken_now_count_like_the_others_and_go_when_idle() -> None:
    hosts = KeyedSlots(2)
    assert hosts.take_now("a.example") and hosts.take_now("a.example")
    assert not hosts.take_now("a.example")
    assert hosts.take_now("b.example")
    waiting = asyncio.ensure_future(hosts.take("a.example"))
    await asyncio.sleep(0)
    assert not waiting.done()
    hosts.give("a.example")
    await asyncio.wait_for(waiting, 1)
    assert not hosts.take_now("a.example"), "the waiter got it"
    for host in ("a.example", "a.example", "b.example"):
        hosts.give(host)
    assert len(hosts) == 0
