"""Small builders for posts, comments and events, and a normalised view of what Discord shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.events import (
    CommentEdited,
    CommentRemoved,
    Event,
    FeedFailing,
    FeedRecovered,
    NewComment,
    NewPingback,
    NewPost,
)
from bot.feeds.models import Entry, EntryKind
from tests.announce.fake_port import FakePort

DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
SENTENCE = "Blogging is a conversation, and a conversation needs two sides to listen. "


def long_text(paragraphs: int = 8, sentences: int = 6) -> str:
    """About 450 characters per paragraph: eight make a comment that needs two messages."""
    return "".join(f"<p>{n}: {SENTENCE * sentences}</p>" for n in range(paragraphs))


def post(n: int, *, title: str | None = None) -> Entry:
    return Entry(
        kind=EntryKind.POST,
        key=f"post-{n}",
        url=f"https://blog.example/p{n}/",
        title=title or f"Post number {n}",
        author="Rebecca",
        content_html=f"<p>The text of post {n}.</p>",
        published=DAY0 + timedelta(days=n),
    )


def comment(
    n: int,
    *,
    on: int = 1,
    parent: int | None = None,
    html: str | None = None,
    kind: EntryKind = EntryKind.COMMENT,
) -> Entry:
    return Entry(
        kind=kind,
        key=f"comment-{n}",
        url=f"https://blog.example/p{on}/#comment-{n}",
        author=f"Reader {n}",
        content_html=html if html is not None else f"<p>Comment number {n} says hello.</p>",
        published=DAY0 + timedelta(days=on, hours=n),
        post_key=f"post-{on}",
        post_url=f"https://blog.example/p{on}/",
        post_title=f"Post number {on}",
        parent_key=f"comment-{parent}" if parent is not None else None,
    )


def pingback(n: int, *, on: int = 1) -> Entry:
    return Entry(
        kind=EntryKind.PINGBACK,
        key=f"comment-{n}",
        url=f"https://elsewhere.example/{n}/",
        title=f"A page that links here ({n})",
        author="Elsewhere",
        published=DAY0 + timedelta(days=on, hours=n),
        post_key=f"post-{on}",
        post_url=f"https://blog.example/p{on}/",
        post_title=f"Post number {on}",
    )


def lifecycle(blog: str) -> list[Event]:
    """Every kind of event and step: announce, comments, a reply, a split comment, a pingback, a
    comment on a post never announced, alerts, edits that shrink and grow, a removal."""
    failing = FeedFailing(blog, f"{blog}:comments", "https://blog.example/comments/feed", 3, "500")
    return [
        NewPost(blog, post(1)),
        NewComment(blog, comment(1)),
        NewComment(blog, comment(2, parent=1)),
        NewComment(blog, comment(3, html=long_text())),
        NewPingback(blog, pingback(4)),
        NewComment(blog, comment(5, on=0)),
        failing,
        CommentEdited(blog, comment(3, html="<p>Shorter now.</p>")),
        CommentEdited(blog, comment(1, html=long_text())),
        CommentRemoved(blog, "comment-2", "post-1", "spam"),
        FeedRecovered(blog, failing.feed, failing.url, None),
    ]


def forum_lifecycle(blog: str) -> list[Event]:
    """What differs in a forum channel: the forum posts (announced and lazily opened)."""
    return [
        NewPost(blog, post(1)),
        NewComment(blog, comment(1)),
        NewComment(blog, comment(2, parent=1)),
        NewComment(blog, comment(5, on=0)),
    ]


Shown = tuple[str, str | None, str, str | None, str | None, bool]


def view(port: FakePort, *, blog: str = "") -> list[Shown]:
    """Every message ever created, in order: where, who, what, embed title, what it answers,
    whether it was deleted. Ids are left out, so runs on different fakes compare equal."""

    def place(channel_id: int) -> str:
        channel = port.channels[channel_id]
        return f"thread {channel.name}" if channel.kind == "thread" else f"#{channel_id}"

    shown: list[Shown] = []
    for message in port.created():
        reply = None
        if message.reply_to is not None:
            reply = port.messages[message.reply_to.message_id].content[:40]
        content = message.content.replace(blog, "BLOG") if blog else message.content
        title = message.embed.title if message.embed is not None else None
        shown.append(
            (place(message.channel_id), message.username, content, title, reply, message.deleted)
        )
    return shown
