"""What Discord shows for each kind of event: the seed thread, forums, lazy threads, fallbacks."""

from __future__ import annotations

import logging

import pytest

from bot.events import CommentEdited, CommentRemoved, Event, NewComment, NewPingback, NewPost
from bot.feeds.models import Entry, EntryKind
from bot.render.limits import CONTENT_LIMIT, thread_name, webhook_username
from bot.render.messages import render_event
from bot.storage import Storage
from tests.announce.conftest import (
    FORUM_CHANNEL,
    FakeTime,
    deliver_all,
    make_announcer,
    make_settings,
)
from tests.announce.fake_port import FakeMessage, FakePort
from tests.announce.scenario import comment, lifecycle, long_text, pingback, post
from tests.render.seed_thread import (
    ALERTS_CHANNEL,
    ANNOUNCE_CHANNEL,
    LONG_COMMENT_INDEX,
    ROLE,
    blog_config,
    seed_comments,
    seed_post,
)

BLOG = "modite"


def seed_events() -> list[Event]:
    events: list[Event] = [NewPost(BLOG, seed_post())]
    for entry in seed_comments():
        is_comment = entry.kind is EntryKind.COMMENT
        events.append(NewComment(BLOG, entry) if is_comment else NewPingback(BLOG, entry))
    return events


def only_thread(port: FakePort, channel: int = ANNOUNCE_CHANNEL) -> int:
    [thread] = port.threads(channel)
    return thread.id


async def deliver(
    storage: Storage, port: FakePort, time: FakeTime, events: list[Event], **blog: object
) -> int:
    settings = make_settings(blog_config(**blog))
    await storage.enqueue_events(events)
    return await deliver_all(make_announcer(settings, storage, port, time), storage, time)


async def test_the_seed_thread_arrives_once_in_order_with_its_replies(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    assert await deliver(storage, port, time, seed_events()) == 37
    [announcement] = port.live(ANNOUNCE_CHANNEL)
    post_entry = seed_post()
    assert announcement.embed is not None and announcement.embed.title == post_entry.title
    assert announcement.mention_role == ROLE and announcement.content == f"<@&{ROLE}>"
    [thread] = port.threads(ANNOUNCE_CHANNEL)
    assert thread.id == announcement.id and thread.name == thread_name(post_entry.title)
    assert thread.auto_archive == 1440

    messages = port.live(thread.id)
    comments = seed_comments()
    expected = [
        draft.content
        for entry in comments
        for draft in render_event(
            NewComment(BLOG, entry)
            if entry.kind is EntryKind.COMMENT
            else NewPingback(BLOG, entry),
            blog_config(),
        )
    ]
    assert [m.content for m in messages] == expected  # in blog order, every part
    by_key = _messages_by_comment(messages, comments)
    assert sum(1 for e in comments if e.kind is EntryKind.COMMENT) == 32
    for entry in comments:
        shown = by_key[entry.key]
        if entry.kind is not EntryKind.COMMENT:
            assert [m.via_webhook for m in shown] == [False]  # a compact bot line
            continue
        assert all(m.via_webhook and m.username == webhook_username(entry.author) for m in shown)
        first = shown[0]
        if entry.parent_key is None:
            assert first.reply_to is None
        else:
            parent = by_key[entry.parent_key][0]
            assert first.reply_to is not None
            assert (first.reply_to.channel_id, first.reply_to.message_id) == (thread.id, parent.id)
            assert first.reply_to.author == webhook_username(parent_author(comments, entry))
        assert all(m.reply_to is None for m in shown[1:])

    long_parts = by_key[comments[LONG_COMMENT_INDEX].key]
    assert len(long_parts) >= 2 and all(len(m.content) <= CONTENT_LIMIT for m in long_parts)
    assert long_parts[-1].content.endswith(f"<{comments[LONG_COMMENT_INDEX].url}>")
    assert any("f\\*\\*k" in m.content for m in messages)  # the asterisks survive, escaped


def parent_author(comments: list[Entry], entry: Entry) -> str | None:
    return next(c.author for c in comments if c.key == entry.parent_key)


def _messages_by_comment(
    messages: list[FakeMessage], comments: list[Entry]
) -> dict[str, list[FakeMessage]]:
    """Attribute the thread's messages to comments, using how many parts each renders to."""
    found: dict[str, list[FakeMessage]] = {}
    rest = list(messages)
    for entry in comments:
        event: Event = (
            NewComment(BLOG, entry) if entry.kind is EntryKind.COMMENT else NewPingback(BLOG, entry)
        )
        parts = len(render_event(event, blog_config()))
        found[entry.key], rest = rest[:parts], rest[parts:]
    assert rest == []
    return found


async def test_a_forum_channel_gets_a_forum_post_per_post(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    events: list[Event] = [
        NewPost(BLOG, post(1)),
        NewComment(BLOG, comment(1)),
        NewComment(BLOG, comment(2, parent=1)),
    ]
    await deliver(storage, port, time, events, announce={"channel": FORUM_CHANNEL})
    [forum_post] = port.threads(FORUM_CHANNEL)
    assert forum_post.name == "Post number 1"
    starter, first, reply = port.live(forum_post.id)
    assert starter.id == forum_post.id and starter.embed is not None
    assert [first.username, reply.username] == ["Reader 1", "Reader 2"]
    assert reply.reply_to is not None and reply.reply_to.message_id == first.id
    thread = await storage.post_thread(BLOG, "post-1")
    assert thread is not None and thread.is_forum and thread.thread_id == forum_post.id


async def test_comments_on_a_post_never_announced_open_a_short_thread(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    """A post older than the bot has no announcement: a one-line starter opens its thread."""
    await deliver(storage, port, time, [NewComment(BLOG, comment(1, on=7))])
    [starter] = port.live(ANNOUNCE_CHANNEL)
    assert starter.content == "💬 Comments on **Post number 7** <https://blog.example/p7/>"
    assert starter.embed is None and starter.mention_role is None
    [message] = port.live(only_thread(port))
    assert message.username == "Reader 1"
    await deliver(storage, port, time, [NewComment(BLOG, comment(2, on=7))])
    assert len(port.threads(ANNOUNCE_CHANNEL)) == 1  # the thread is reused
    assert len(port.live(only_thread(port))) == 2


async def test_a_post_is_announced_once_even_if_its_event_repeats(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    events: list[Event] = [NewPost(BLOG, post(1)), NewPost(BLOG, post(1))]
    events += [NewComment(BLOG, comment(1)), NewComment(BLOG, comment(1))]
    assert await deliver(storage, port, time, events) == 4
    assert len(port.live(ANNOUNCE_CHANNEL)) == 1
    assert len(port.live(only_thread(port))) == 1


async def test_a_comment_without_a_post_is_dropped_with_a_reason(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    orphan = Entry(kind=EntryKind.COMMENT, key="c-x", author="Ann", content_html="<p>Hi</p>")
    with caplog.at_level(logging.WARNING, logger="bot.announce"):
        assert await deliver(storage, port, time, [NewComment(BLOG, orphan)]) == 1
    assert port.created() == []
    assert "c-x names no post" in caplog.text


async def test_pingbacks_are_skipped_when_the_blog_does_not_relay_them(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    events: list[Event] = [NewPost(BLOG, post(1)), NewPingback(BLOG, pingback(4))]
    await deliver(storage, port, time, events, comments={"include_pingbacks": False})
    assert port.live(only_thread(port)) == []
    assert await storage.pending_counts() == {}


async def test_without_manage_webhooks_comments_are_bot_messages_with_an_author_line(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    port.webhooks_allowed = False
    events: list[Event] = [
        NewPost(BLOG, post(1)),
        NewComment(BLOG, comment(1)),
        CommentEdited(BLOG, comment(1, html="<p>Edited.</p>")),
    ]
    await deliver(storage, port, time, events)
    [message] = port.live(only_thread(port))
    assert not message.via_webhook and message.edits == 1
    assert message.content.startswith("Edited.")
    [row] = await storage.sent_messages_for(BLOG, "comment-1")
    assert row.via_webhook is False  # stored as it was really sent, so edits take that path


async def test_a_reply_to_a_deleted_message_is_sent_without_the_reply(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await deliver(storage, port, time, [NewPost(BLOG, post(1)), NewComment(BLOG, comment(1))])
    [parent] = port.live(only_thread(port))
    parent.deleted = True  # a moderator removed it in Discord
    await deliver(storage, port, time, [NewComment(BLOG, comment(2, parent=1))])
    [reply] = port.live(only_thread(port))
    assert reply.username == "Reader 2" and reply.reply_to is None


async def test_edits_follow_the_part_count_and_removals_delete(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    events: list[Event] = [
        NewPost(BLOG, post(1)),
        NewComment(BLOG, comment(1)),
        CommentEdited(BLOG, comment(1, html=long_text())),  # 1 part → 2
    ]
    await deliver(storage, port, time, events)
    thread = only_thread(port)
    first, second = port.live(thread)
    assert first.edits == 1 and first.content.endswith("(1/2)")
    assert second.edits == 0 and second.content.endswith("<https://blog.example/p1/#comment-1>")

    await deliver(storage, port, time, [CommentEdited(BLOG, comment(1, html="<p>Short.</p>"))])
    [only] = port.live(thread)  # 2 parts → 1: the second is deleted
    assert only.id == first.id and only.content.startswith("Short.")
    assert [m.part for m in await storage.sent_messages_for(BLOG, "comment-1")] == [1]

    await deliver(storage, port, time, [CommentEdited(BLOG, comment(1, html=long_text(12)))])
    assert port.live(thread)[0].id == first.id
    assert len(port.live(thread)) == len(await storage.sent_messages_for(BLOG, "comment-1")) > 1

    await deliver(storage, port, time, [CommentRemoved(BLOG, "comment-1", "post-1", "spam")])
    assert port.live(thread) == []
    assert await storage.sent_messages_for(BLOG, "comment-1") == []


async def test_edits_and_removals_of_messages_already_gone_are_done(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await deliver(storage, port, time, [NewPost(BLOG, post(1)), NewComment(BLOG, comment(1))])
    [message] = port.live(only_thread(port))
    message.deleted = True
    events: list[Event] = [
        CommentEdited(BLOG, comment(1, html="<p>New text</p>")),
        CommentRemoved(BLOG, "comment-1", "post-1", "trash"),
        CommentEdited(BLOG, comment(9)),  # never mirrored: nothing to edit
        CommentRemoved(BLOG, "comment-9", "post-1", "trash"),
    ]
    assert await deliver(storage, port, time, events) == 4
    assert await storage.sent_messages_for(BLOG, "comment-1") == []


async def test_feed_alerts_go_to_the_alerts_channel_or_the_announce_channel(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    failing, recovered = lifecycle(BLOG)[6], lifecycle(BLOG)[-1]
    await deliver(storage, port, time, [failing, recovered])
    warning, recovery = port.live(ALERTS_CHANNEL)
    assert warning.content.startswith("⚠️") and recovery.content.startswith("✅")
    settings = make_settings(blog_config(), alerts=None)
    await storage.enqueue_events([failing])
    await deliver_all(make_announcer(settings, storage, port, time), storage, time)
    [alert] = port.live(ANNOUNCE_CHANNEL)
    assert alert.content.startswith("⚠️") and alert.mention_role is None


async def test_an_announcement_deleted_before_its_thread_is_not_posted_again(
    storage: Storage, port: FakePort, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A moderator deleted it (say, while the bot was down): comments open a short thread."""

    def moderator_deletes_it(name: str) -> None:
        if name == "after send_message":
            for message in port.live(ANNOUNCE_CHANNEL):
                message.deleted = True

    port.hook = moderator_deletes_it
    with caplog.at_level(logging.WARNING, logger="bot.announce"):
        assert await deliver(storage, port, time, [NewPost(BLOG, post(1))]) == 1
    port.hook = None
    assert "announcement of post-1 was deleted" in caplog.text
    assert (
        port.threads(ANNOUNCE_CHANNEL) == [] and await storage.post_thread(BLOG, "post-1") is None
    )
    await deliver(storage, port, time, [NewComment(BLOG, comment(1))])
    [starter] = port.live(ANNOUNCE_CHANNEL)
    assert starter.content.startswith("💬 Comments on")
    assert [m.username for m in port.live(only_thread(port))] == ["Reader 1"]
