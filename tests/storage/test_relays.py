"""The relay outbox (``bot.storage.relays``) on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import dataclasses

from bot.storage import MessageIntent, PostThread, RelayRequest, Storage
from tests.storage.conftest import START, FakeClock
from tests.storage.factories import BLOG

THREAD = 900
CHANNEL = 800


def request(message_id: int = 1, **changes: object) -> RelayRequest:
    base = RelayRequest(
        blog=BLOG,
        op="create",
        dedupe_key=f"create:{message_id}",
        message_id=message_id,
        channel_id=THREAD,
        user_id=42,
        author_name="Bob (via Discord)",
        account=None,
        post_key="post-7",
        content=f"reply {message_id}",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_a_relay_is_recorded_once_and_worked_in_order(storage: Storage) -> None:
    first, new = await storage.record_relay(request(1))
    again, new_again = await storage.record_relay(request(1, content="replayed"))
    second, _ = await storage.record_relay(request(2))
    assert new and not new_again and again == first  # a gateway replay records nothing
    assert (first.status, first.attempts, first.created_at) == ("queued", 0, START)
    assert await storage.next_relay(BLOG) == first
    await storage.update_relay(first.id, status="sending")
    assert (await storage.next_relay(BLOG)) == dataclasses.replace(first, status="sending")
    await storage.update_relay(
        first.id, status="published", comment_id="11", entry_key="comment-11"
    )
    assert (await storage.next_relay(BLOG)) == second
    assert await storage.open_relay_counts() == {BLOG: 1}
    assert await storage.next_relay("other-blog") is None


async def test_edits_follow_their_message_and_the_latest_text_is_known(storage: Storage) -> None:
    created, _ = await storage.record_relay(request(5))
    await storage.record_relay(request(5, op="edit", dedupe_key="edit:5:t1", content="edited once"))
    assert await storage.latest_relay_content(5) == "edited once"
    await storage.record_relay(request(5, op="delete", dedupe_key="delete:5", content=""))
    assert await storage.latest_relay_content(5) == "edited once"
    assert await storage.relay_of_message(5) == created
    assert await storage.relay_of_message(6) is None


async def test_outcomes_to_show_and_held_comments(storage: Storage, clock: FakeClock) -> None:
    a, _ = await storage.record_relay(request(1))
    b, _ = await storage.record_relay(request(2))
    c, _ = await storage.record_relay(request(3))
    clock.advance(3)
    updated = await storage.update_relay(a.id, status="held", comment_id="1")
    assert updated.updated_at == clock.now
    await storage.update_relay(b.id, status="failed", reason="Comments are closed.")
    await storage.update_relay(c.id, status="published", comment_id="3", feedback="published")
    assert [r.id for r in await storage.relays_to_show(BLOG)] == [a.id, b.id]
    assert [r.id for r in await storage.held_relays(BLOG)] == [a.id]
    await storage.update_relay(a.id, feedback="held")
    assert [r.id for r in await storage.relays_to_show(BLOG)] == [b.id]


async def test_echo_verdicts(storage: Storage) -> None:
    row, _ = await storage.record_relay(request(1))
    assert await storage.echo_verdict(BLOG, "comment-11") == "theirs"
    await storage.update_relay(row.id, status="sending")
    assert await storage.echo_verdict(BLOG, "comment-11") == "wait"
    await storage.update_relay(row.id, status="held", comment_id="11", entry_key="comment-11")
    assert await storage.echo_verdict(BLOG, "comment-11") == "ours"
    assert await storage.echo_verdict(BLOG, "comment-12") == "theirs"
    assert await storage.echo_verdict("other-blog", "comment-11") == "theirs"
    assert await storage.owned_comments(BLOG, ["11", "12"]) == {"11"}


async def test_rate_window_counts_a_users_messages_by_their_ids(storage: Storage) -> None:
    for message_id in (10, 20, 30):
        await storage.record_relay(request(message_id))
    await storage.record_relay(request(25, user_id=99))
    assert await storage.relays_between(42, 10, 30) == 2  # 10 and 20; 30 is the one asking
    assert await storage.relays_between(42, 15, 31) == 2
    assert await storage.relays_between(99, 0, 100) == 1


async def test_threads_and_mirrored_messages_are_found_by_discord_id(storage: Storage) -> None:
    await storage.save_post_thread(PostThread(BLOG, "post-7", CHANNEL, THREAD, 555))
    assert (await storage.thread_post(THREAD)) is not None
    assert await storage.thread_post(12345) is None
    intent = MessageIntent(
        event_id=1,
        part=1,
        blog=BLOG,
        entry_key="comment-3",
        kind="comment",
        channel_id=CHANNEL,
        thread_id=THREAD,
        nonce="gj1p1",
    )
    row, _ = await storage.record_intent(intent)
    await storage.mark_sent(row.id, 777, via_webhook=True)
    mirrored = await storage.mirrored_message(777)
    assert mirrored is not None and mirrored.entry_key == "comment-3"
    assert await storage.mirrored_message(778) is None


async def test_cursors_start_with_the_thread_and_never_move_back(storage: Storage) -> None:
    await storage.save_post_thread(PostThread(BLOG, "post-7", CHANNEL, THREAD, 555))
    await storage.save_post_thread(PostThread("other-blog", "post-1", CHANNEL, 901, 556))
    assert await storage.relay_cursors([BLOG]) == {THREAD: THREAD}
    await storage.advance_cursor(BLOG, THREAD, THREAD + 50)
    await storage.advance_cursor(BLOG, THREAD, THREAD + 10)  # an older message seen late
    assert await storage.relay_cursors([BLOG, "other-blog"]) == {THREAD: THREAD + 50, 901: 901}
    await storage.save_post_thread(PostThread(BLOG, "post-7", CHANNEL, THREAD, 555))  # again
    assert (await storage.relay_cursors([BLOG]))[THREAD] == THREAD + 50
