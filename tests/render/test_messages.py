"""render_event for every event type, on the seed thread."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime

import pytest

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
from bot.render.limits import CONTENT_LIMIT, EMBED_TOTAL_LIMIT, WEBHOOK_USERNAME_MAX, embed_length
from bot.render.messages import EmbedDraft, MessageDraft, identicon_url, render_event
from tests.render.mention_check import live_mentions
from tests.render.seed_thread import (
    ALERTS_CHANNEL,
    ANNOUNCE_CHANNEL,
    LONG_COMMENT_INDEX,
    POST_KEY,
    POST_URL,
    PUBLISHED,
    ROLE,
    blog_config,
    seed_comment,
    seed_comments,
    seed_post,
)

TITLE = "Social media is difficult like intimacy"
BLOG = blog_config()


def texts_of(draft: MessageDraft) -> list[str]:
    """Every text a draft carries, for the no-mention check."""
    texts = [draft.content, draft.thread or "", draft.username or ""]
    embed = draft.embed or EmbedDraft()
    texts += [
        embed.title or "",
        embed.description or "",
        embed.author_name or "",
        embed.footer or "",
    ]
    texts += [text for name, value, _ in embed.fields for text in (name, value)]
    return texts


def assert_cannot_ping(draft: MessageDraft) -> None:
    for text in texts_of(draft):
        if draft.mention_role is not None and text == draft.content:
            text = text.replace(f"<@&{draft.mention_role}>", "", 1)
        assert live_mentions(text) == [], (draft.key, text)


def assert_within_limits(draft: MessageDraft) -> None:
    assert len(draft.content) <= CONTENT_LIMIT
    assert draft.thread is None or len(draft.thread) <= 100
    assert draft.username is None or 1 <= len(draft.username) <= WEBHOOK_USERNAME_MAX
    if draft.embed is not None:
        assert embed_length(draft.embed) <= EMBED_TOTAL_LIMIT


# -- posts --------------------------------------------------------------------------------
def test_new_post_is_one_announcement() -> None:
    [draft] = render_event(NewPost(blog="modite", post=seed_post()), BLOG)
    assert (draft.kind, draft.key, draft.post_key) == ("post", POST_KEY, POST_KEY)
    assert draft.channel == ANNOUNCE_CHANNEL
    assert draft.thread == TITLE
    assert draft.content == f"<@&{ROLE}>" and draft.mention_role == ROLE
    assert draft.username is None and draft.reply_to is None
    embed = draft.embed
    assert embed is not None
    assert embed.title == TITLE and embed.url == POST_URL
    assert embed.author_name == "Rebecca Healy"
    assert embed.author_url == "https://modite.example/author/rebecca/"
    assert embed.image_url == "https://modite.example/wp-content/uploads/2009/08/gate.jpg"
    assert embed.timestamp == PUBLISHED
    assert embed.fields == (("Categories", "Blogging · Community Engagement · Social media", True),)
    assert embed.footer == "modite.example"
    assert embed.description is not None
    assert embed.description.startswith(
        "“Yeah, but it’s just a blog,” someone said. About this blog."
    )
    assert 250 <= len(embed.description) <= 310 and embed.description.endswith("…")
    assert_cannot_ping(draft)
    assert_within_limits(draft)


def test_new_post_without_role_mentions_nobody() -> None:
    blog = blog_config(announce={"mention_role": None})
    [draft] = render_event(NewPost(blog="modite", post=seed_post()), blog)
    assert draft.content == "" and draft.mention_role is None


def test_new_post_title_entities_and_markdown() -> None:
    post = dataclasses.replace(seed_post(), title="Q&amp;A: why **bold** @everyone?", categories=())
    [draft] = render_event(NewPost(blog="modite", post=post), BLOG)
    assert draft.thread == "Q&A: why **bold** @\u200beveryone?"
    assert draft.embed is not None
    assert draft.embed.title == "Q&A: why \\*\\*bold\\*\\* @\u200beveryone?"
    assert draft.embed.fields == ()
    assert_cannot_ping(draft)


def test_new_post_drops_unsafe_urls() -> None:
    post = dataclasses.replace(
        seed_post(), url="javascript:alert(1)", image_url="data:image/png;base64,AAAA", title=""
    )
    [draft] = render_event(NewPost(blog="modite", post=post), BLOG)
    assert draft.embed is not None
    assert draft.embed.url is None and draft.embed.image_url is None
    assert draft.thread == "Untitled post"


# -- comments ---------------------------------------------------------------------------
def test_new_comment_goes_into_the_post_thread_as_the_commenter() -> None:
    comment = seed_comment(0)
    [draft] = render_event(NewComment(blog="modite", comment=comment), BLOG)
    assert (draft.kind, draft.key, draft.post_key) == ("comment", "comment-1", POST_KEY)
    assert draft.channel == ANNOUNCE_CHANNEL and draft.thread == TITLE
    assert draft.username == "ryanstephens"
    digest = hashlib.md5(b"ryanstephens").hexdigest()
    assert draft.avatar_url == f"https://www.gravatar.com/avatar/{digest}?d=identicon&s=128"
    assert draft.content.startswith("@ Modite – Very enjoyable read. A lot of my fellow classmates")
    assert draft.content.endswith(f"\n🔗 <{POST_URL}#comment-1>")
    assert draft.reply_to is None and draft.mention_role is None and draft.embed is None
    assert (draft.part, draft.parts) == (1, 1)


def test_reply_names_its_parent() -> None:
    [draft] = render_event(NewComment(blog="modite", comment=seed_comment(14)), BLOG)
    assert draft.username == "Rebecca (Modite)"
    assert draft.reply_to == "comment-14"


def test_profanity_keeps_its_asterisks() -> None:
    [draft] = render_event(NewComment(blog="modite", comment=seed_comment(22)), BLOG)
    assert "What the f\\*\\*k is a blog?" in draft.content


def test_long_seed_comment_is_split() -> None:
    comment = seed_comment(LONG_COMMENT_INDEX)
    drafts = render_event(NewComment(blog="modite", comment=comment), BLOG)
    assert [(d.part, d.parts) for d in drafts] == [(1, 2), (2, 2)]
    assert drafts[0].content.startswith("Well…no.\n\nHere’s the problem with blogging")
    assert drafts[0].content.endswith("\n(1/2)")
    assert drafts[1].content.endswith(f"\n(2/2)\n🔗 <{POST_URL}#comment-31>")
    assert {d.username for d in drafts} == {"commenter-31"}
    assert all(d.key == "comment-31" for d in drafts)
    for draft in drafts:
        assert_within_limits(draft)


def test_long_seed_comment_is_truncated_when_configured() -> None:
    blog = blog_config(comments={"long_comments": "truncate"})
    comment = seed_comment(LONG_COMMENT_INDEX)
    [draft] = render_event(NewComment(blog="modite", comment=comment), blog)
    assert len(draft.content) <= CONTENT_LIMIT
    assert draft.content.endswith(f"… [read the rest](<{POST_URL}#comment-31>)")


def test_every_seed_entry_renders_within_limits_and_cannot_ping() -> None:
    events: list[Event] = [NewPost(blog="modite", post=seed_post())]
    for entry in seed_comments():
        if entry.kind is EntryKind.PINGBACK:
            events.append(NewPingback(blog="modite", pingback=entry))
        else:
            events.append(NewComment(blog="modite", comment=entry))
    drafts = [d for event in events for d in render_event(event, BLOG)]
    assert len(drafts) == 1 + 36 + 1  # the long comment takes two messages
    for draft in drafts:
        assert_within_limits(draft)
        assert_cannot_ping(draft)
        assert draft.channel == ANNOUNCE_CHANNEL


def test_commenter_cannot_ping_or_impersonate() -> None:
    comment = Entry(
        kind=EntryKind.COMMENT,
        key="comment-99",
        url=f"{POST_URL}#comment-99",
        author="@everyone Discord",
        content_html=(
            "<p>@everyone @here <@123456789012345678> &lt;@!1&gt; &lt;@&amp;2&gt; &lt;#3&gt;"
            ' <a href="https://x.example/@here">@everyone</a></p>'
        ),
        post_key=POST_KEY,
        post_title="@here thread",
    )
    [draft] = render_event(NewComment(blog="modite", comment=comment), BLOG)
    assert_cannot_ping(draft)
    assert draft.username == "＠everyone Disc\u043erd"
    assert draft.thread == "@\u200bhere thread"
    assert "https://x.example/%40here" in draft.content


def test_comment_fallbacks() -> None:
    comment = Entry(
        kind=EntryKind.COMMENT,
        key="comment-7",
        content_html="<p> </p>",
        avatar_url="https://img.example/me.png",
        post_key=POST_KEY,
    )
    [draft] = render_event(NewComment(blog="modite", comment=comment), BLOG)
    assert draft.username == "Guest"
    assert draft.avatar_url == "https://img.example/me.png"
    assert draft.thread == POST_KEY  # no title known: the post key names the thread
    assert draft.content == "*(empty comment)*"


def test_unsafe_avatar_falls_back_to_identicon() -> None:
    comment = dataclasses.replace(seed_comment(1), avatar_url="javascript:x")
    [draft] = render_event(NewComment(blog="modite", comment=comment), BLOG)
    assert draft.avatar_url == identicon_url("Jun")


def test_comment_edited_is_an_edit_of_the_same_text() -> None:
    comment = seed_comment(5)
    [new] = render_event(NewComment(blog="modite", comment=comment), BLOG)
    [edit] = render_event(CommentEdited(blog="modite", comment=comment), BLOG)
    assert edit.kind == "edit"
    assert dataclasses.replace(edit, kind="comment") == new


def test_comment_removed_is_a_delete() -> None:
    event = CommentRemoved(blog="modite", key="comment-6", post_key=POST_KEY, reason="spam_filter")
    [draft] = render_event(event, BLOG)
    assert (draft.kind, draft.key, draft.post_key) == ("delete", "comment-6", POST_KEY)
    assert draft.channel == ANNOUNCE_CHANNEL
    assert draft.content == "🗑️ This comment was removed from the blog (spam\\_filter)."


# -- pingbacks ----------------------------------------------------------------------------
def test_pingback_is_one_compact_line() -> None:
    pingback = seed_comment(28)
    [draft] = render_event(NewPingback(blog="modite", pingback=pingback), BLOG)
    assert draft.kind == "pingback" and draft.key == "comment-29"
    assert draft.content == (
        "🔗 Pingback from [Ryan Stephens Marketing]"
        "(<https://ryanstephensmarketing.example/2009/09/a-post-28/>)"
    )
    assert draft.thread == TITLE and draft.username is None


def test_pingback_as_new_comment_and_trackback() -> None:
    trackback = dataclasses.replace(seed_comment(34), kind=EntryKind.TRACKBACK, url=None)
    [draft] = render_event(NewComment(blog="modite", comment=trackback), BLOG)
    assert draft.content == "🔗 Trackback from **Modite**"


def test_pingbacks_are_skipped_unless_included() -> None:
    blog = blog_config(comments={"include_pingbacks": False})
    assert render_event(NewPingback(blog="modite", pingback=seed_comment(28)), blog) == []


# -- alerts ------------------------------------------------------------------------------
def test_feed_failing_alert() -> None:
    event = FeedFailing(
        blog="modite",
        feed="modite:comments",
        url="https://modite.example/comments/feed/",
        failures=3,
        error="HTTP 503 from server @everyone",
    )
    [draft] = render_event(event, BLOG, alerts_channel=ALERTS_CHANNEL)
    assert draft.kind == "alert" and draft.channel == ALERTS_CHANNEL
    assert draft.content == (
        "⚠️ Feed **modite:comments** of blog **modite** is failing: 3 failed polls in a row.\n"
        "<https://modite.example/comments/feed/>\n"
        "Last error: HTTP 503 from server @\u200beveryone"
    )
    assert_cannot_ping(draft)


def test_feed_alerts_default_to_the_announce_channel() -> None:
    event = FeedRecovered(
        blog="modite",
        feed="modite:posts",
        url="https://modite.example/feed/",
        failing_since=datetime(2009, 8, 12, 9, 0, tzinfo=UTC),
    )
    [draft] = render_event(event, BLOG)
    assert draft.channel == ANNOUNCE_CHANNEL
    assert draft.content == (
        "✅ Feed **modite:posts** of blog **modite** has recovered"
        " (failing since <t:1250067600:f>).\n<https://modite.example/feed/>"
    )
    unknown_start = dataclasses.replace(event, failing_since=None)
    [draft] = render_event(unknown_start, BLOG)
    assert "failing since" not in draft.content


def test_event_of_another_blog_is_refused() -> None:
    with pytest.raises(ValueError, match="event of blog 'other'"):
        render_event(NewPost(blog="other", post=seed_post()), BLOG)
