"""The FakePort behaves like Discord where the announcer relies on it, and the identities fit."""

from __future__ import annotations

import pytest

from bot.announce._identity import MARKER_LENGTH, NONCE_LIMIT, forum_marker, marker, nonce
from bot.announce.port import MessageGone, PermanentDiscordError, ReplyTarget, Sent
from bot.render.messages import EmbedDraft, MessageDraft
from tests.announce.conftest import FORUM_CHANNEL, make_port
from tests.render.seed_thread import ANNOUNCE_CHANNEL

THREAD_NAME = "A thread"


def draft(content: str = "hello", **changes: object) -> MessageDraft:
    values: dict[str, object] = {"content": content, "kind": "comment", "key": "c-1"}
    values.update(changes)
    return MessageDraft(**values)  # type: ignore[arg-type]


def test_nonces_are_deterministic_short_and_distinct() -> None:
    assert nonce(42, 1) == nonce(42, 1) == "gj42p1"
    assert nonce(42, 1) != nonce(42, 2) != nonce(421, 2)
    assert len(nonce(2**63 - 1, 999)) <= NONCE_LIMIT
    with pytest.raises(ValueError, match="longer than 25"):
        nonce(2**63 - 1, 10_000)


def test_the_marker_is_the_opening_text_and_a_forum_post_is_found_by_its_link() -> None:
    long = draft("  " + "x" * 150 + "  ")
    assert marker(long) == "x" * MARKER_LENGTH
    assert (
        marker(draft("short\n🔗 <https://b.example/#c-1>")) == "short\n🔗 <https://b.example/#c-1>"
    )
    announcement = draft("", embed=EmbedDraft(title="Title", url="https://b.example/p/"))
    assert marker(announcement) == forum_marker(announcement) == "https://b.example/p/"
    assert forum_marker(draft("<@&1>", embed=EmbedDraft(title="T"))) == "T"


async def test_a_repeated_nonce_returns_the_original_bot_message() -> None:
    port = make_port()
    first = await port.send_message(ANNOUNCE_CHANNEL, draft(), nonce="gj1p1")
    again = await port.send_message(ANNOUNCE_CHANNEL, draft("other"), nonce="gj1p1")
    assert first == again and len(port.created()) == 1
    assert (await port.send_message(ANNOUNCE_CHANNEL, draft(), nonce="gj1p2")) != first


async def test_webhook_messages_are_never_deduplicated_and_are_found_by_marker() -> None:
    port = make_port()
    starter = await port.send_message(ANNOUNCE_CHANNEL, draft(), nonce="n")
    thread = await port.start_thread(ANNOUNCE_CHANNEL, starter.message_id, THREAD_NAME, 60)
    assert thread == starter.message_id
    assert await port.start_thread(ANNOUNCE_CHANNEL, starter.message_id, "again", 60) == thread
    as_ann = draft("same text", username="Ann")
    one = await port.send_as_author(ANNOUNCE_CHANNEL, thread, as_ann)
    two = await port.send_as_author(ANNOUNCE_CHANNEL, thread, as_ann)
    assert one != two and one.via_webhook
    assert await port.find_sent(thread, "same text") == one
    assert await port.find_sent(thread, "same text", after=one.message_id) == two
    assert await port.find_sent(thread, "same text", after=two.message_id) is None


async def test_forum_posts_are_found_again_by_their_marker() -> None:
    port = make_port()
    post = draft("", embed=EmbedDraft(title="T", url="https://b.example/p/"), kind="post")
    first = await port.create_forum_post(
        FORUM_CHANNEL, "T", post, marker="https://b.example/p/", auto_archive=60
    )
    again = await port.create_forum_post(
        FORUM_CHANNEL, "T", post, marker="https://b.example/p/", auto_archive=60
    )
    assert first == again == Sent(first.channel_id, first.channel_id, False)
    assert len(port.threads(FORUM_CHANNEL)) == 1


async def test_refusals_and_missing_messages_raise_the_port_errors() -> None:
    port = make_port()
    with pytest.raises(PermanentDiscordError) as unknown:
        await port.send_message(999, draft(), nonce="n")
    assert (unknown.value.channel_id, unknown.value.code) == (999, 10003)
    port.forbidden.add(ANNOUNCE_CHANNEL)
    with pytest.raises(PermanentDiscordError) as refused:
        await port.send_message(ANNOUNCE_CHANNEL, draft(), nonce="n")
    assert (refused.value.channel_id, refused.value.code) == (ANNOUNCE_CHANNEL, 50013)
    port.forbidden.clear()
    sent = await port.send_message(ANNOUNCE_CHANNEL, draft(), nonce="n")
    await port.delete(sent, ANNOUNCE_CHANNEL)
    with pytest.raises(MessageGone):
        await port.edit(sent, ANNOUNCE_CHANNEL, draft())
    with pytest.raises(MessageGone):
        await port.send_message(
            ANNOUNCE_CHANNEL,
            draft(),
            nonce="m",
            reply_to=ReplyTarget(ANNOUNCE_CHANNEL, sent.message_id, None),
        )
