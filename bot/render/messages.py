"""Feed events → message drafts: what Discord will show, without any discord.py.

A draft says where a message goes (channel, thread), who it appears to come
from (webhook username and avatar) and what it says. The Discord side turns
drafts into API calls and always sends them with ``allowed_mentions`` off
except for the announcement's role. Every text a draft carries is escaped and
has its mentions defused here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from bot.config import BlogConfig
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
from bot.render.limits import (
    CONTENT_LIMIT,
    THREAD_NAME_FALLBACK,
    clamp_embed,
    shorten,
    split_message,
    thread_name,
    truncate_with_link,
    webhook_username,
)
from bot.render.markdown import (
    escape_markdown,
    html_to_markdown,
    html_to_text,
    plain_excerpt,
    safe_url,
)
from bot.render.mentions import neutralise_mentions

__all__ = ["DraftKind", "EmbedDraft", "MessageDraft", "identicon_url", "render_event"]

DraftKind = Literal["post", "comment", "pingback", "edit", "delete", "alert"]

EXCERPT_LIMIT: Final = 300
POST_COLOR: Final = 0x21759B
EMPTY_COMMENT: Final = "*(empty comment)*"
IDENTICON_URL: Final = "https://www.gravatar.com/avatar/{digest}?d=identicon&s=128"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedDraft:
    """A Discord embed as plain data; ``fields`` are ``(name, value, inline)``."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    author_name: str | None = None
    author_url: str | None = None
    image_url: str | None = None
    timestamp: datetime | None = None
    fields: tuple[tuple[str, str, bool], ...] = ()
    footer: str | None = None
    color: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDraft:
    """One message to send, edit or delete.

    ``thread`` is the thread's name (the one to create for a post, the one a
    comment goes into) or, when the title is unknown, the post key;
    ``post_key`` always names the post, for looking the thread up. ``key`` is
    the entry the message stands for and ``reply_to`` the comment it answers.
    A long comment becomes ``parts`` drafts numbered by ``part``.
    """

    channel: int | None = None
    thread: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    content: str = ""
    embed: EmbedDraft | None = None
    reply_to: str | None = None
    mention_role: int | None = None
    kind: DraftKind
    key: str
    part: int = 1
    parts: int = 1
    post_key: str | None = None


def identicon_url(name: str) -> str:
    """A stable generated avatar for a commenter without one.

    Gravatar's ``d=identicon`` serves a geometric pattern derived from the hash
    when no account matches it; hashing the lowercased name (we have no email)
    gives each commenter their own pattern and never anyone's real photo.
    """
    digest = hashlib.md5(name.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return IDENTICON_URL.format(digest=digest)


def _safe_text(text: str) -> str:
    """Plain text made literal for Discord Markdown, mentions defused."""
    return neutralise_mentions(escape_markdown(text))


def _thread_for(entry: Entry) -> str | None:
    if entry.post_title and html_to_text(entry.post_title):
        return thread_name(html_to_text(entry.post_title))
    return entry.post_key


def _site_label(blog: BlogConfig) -> str:
    return urlsplit(str(blog.url)).hostname or blog.name


# -- posts ------------------------------------------------------------------------
def _post_draft(post: Entry, blog: BlogConfig) -> MessageDraft:
    title = html_to_text(post.title or "") or THREAD_NAME_FALLBACK
    categories = " · ".join(c for c in (html_to_text(c) for c in post.categories) if c)
    description = plain_excerpt(post.content_html, EXCERPT_LIMIT)
    embed = EmbedDraft(
        title=_safe_text(title),
        url=safe_url(post.url),
        description=_safe_text(description) or None,
        author_name=neutralise_mentions(html_to_text(post.author)) if post.author else None,
        author_url=safe_url(post.author_url),
        image_url=safe_url(post.image_url),
        timestamp=post.published or post.updated,
        fields=(("Categories", _safe_text(categories), True),) if categories else (),
        footer=neutralise_mentions(_site_label(blog)),
        color=POST_COLOR,
    )
    role = blog.announce.mention_role
    return MessageDraft(
        channel=blog.announce.channel,
        thread=thread_name(title),
        content=f"<@&{role}>" if role else "",
        embed=clamp_embed(embed),
        mention_role=role,
        kind="post",
        key=post.key,
        post_key=post.key,
    )


# -- comments -----------------------------------------------------------------------
def _comment_contents(comment: Entry, blog: BlogConfig) -> list[str]:
    """The comment's Markdown with its link, split or truncated to fit a message."""
    text = html_to_markdown(comment.content_html, base_url=comment.url or comment.post_url)
    text = neutralise_mentions(text)
    link = safe_url(comment.url)
    suffix = f"\n🔗 <{link}>" if link else ""
    if not text:
        return [suffix.strip() or EMPTY_COMMENT]
    if len(text) + len(suffix) <= CONTENT_LIMIT:
        return [text + suffix]
    if blog.comments.long_comments == "truncate":
        return [truncate_with_link(text, CONTENT_LIMIT, link)]
    return split_message(text, CONTENT_LIMIT, suffix_last=suffix)


def _comment_drafts(comment: Entry, blog: BlogConfig, kind: DraftKind) -> list[MessageDraft]:
    contents = _comment_contents(comment, blog)
    avatar = safe_url(comment.avatar_url) or identicon_url(comment.author or comment.key)
    return [
        MessageDraft(
            channel=blog.announce.channel,
            thread=_thread_for(comment),
            username=webhook_username(comment.author),
            avatar_url=avatar,
            content=content,
            reply_to=comment.parent_key,
            kind=kind,
            key=comment.key,
            part=number,
            parts=len(contents),
            post_key=comment.post_key,
        )
        for number, content in enumerate(contents, start=1)
    ]


def _pingback_drafts(pingback: Entry, blog: BlogConfig) -> list[MessageDraft]:
    """One compact line; none at all when the blog does not relay pingbacks."""
    if not blog.comments.include_pingbacks:
        return []
    label = "Trackback" if pingback.kind is EntryKind.TRACKBACK else "Pingback"
    url = safe_url(pingback.author_url) or safe_url(pingback.url)  # the linking page first
    source = (
        html_to_text(pingback.title or "")
        or html_to_text(pingback.author or "")
        or (urlsplit(url).hostname if url else None)
        or "an unknown site"
    )
    source = _safe_text(shorten(source, 200))
    link = f"[{source}](<{url}>)" if url else f"**{source}**"
    return [
        MessageDraft(
            channel=blog.announce.channel,
            thread=_thread_for(pingback),
            content=f"🔗 {label} from {neutralise_mentions(link)}",
            kind="pingback",
            key=pingback.key,
            post_key=pingback.post_key,
        )
    ]


def _removal_draft(event: CommentRemoved, blog: BlogConfig) -> MessageDraft:
    return MessageDraft(
        channel=blog.announce.channel,
        thread=event.post_key,
        content=f"🗑️ This comment was removed from the blog ({_safe_text(event.reason)}).",
        kind="delete",
        key=event.key,
        post_key=event.post_key,
    )


# -- alerts ---------------------------------------------------------------------------
def _alert_text(event: FeedFailing | FeedRecovered) -> str:
    where = f"Feed **{_safe_text(event.feed)}** of blog **{_safe_text(event.blog)}**"
    url = safe_url(event.url)
    link = f"<{url}>" if url else _safe_text(event.url)
    if isinstance(event, FeedFailing):
        polls = "poll" if event.failures == 1 else "polls"
        error = _safe_text(shorten(event.error, 1500))
        return (
            f"⚠️ {where} is failing: {event.failures} failed {polls} in a row.\n"
            f"{link}\nLast error: {error}"
        )
    since = ""
    if event.failing_since is not None:
        moment = event.failing_since
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        since = f" (failing since <t:{int(moment.timestamp())}:f>)"
    return f"✅ {where} has recovered{since}.\n{link}"


def _alert_draft(
    event: FeedFailing | FeedRecovered, blog: BlogConfig, alerts_channel: int | None
) -> MessageDraft:
    return MessageDraft(
        channel=alerts_channel or blog.announce.channel,
        content=shorten(_alert_text(event), CONTENT_LIMIT),
        kind="alert",
        key=f"{event.type}:{event.feed}",
    )


def render_event(
    event: Event, blog: BlogConfig, *, alerts_channel: int | None = None
) -> list[MessageDraft]:
    """The messages ``event`` becomes on Discord (none for a pingback the blog skips).

    ``blog`` is the configuration of ``event.blog``; alerts go to
    ``alerts_channel``, else to the blog's announcement channel.
    """
    if event.blog != blog.name:
        raise ValueError(f"event of blog {event.blog!r} rendered with the config of {blog.name!r}")
    match event:
        case NewPost():
            return [_post_draft(event.post, blog)]
        case NewComment() if event.comment.kind in (EntryKind.PINGBACK, EntryKind.TRACKBACK):
            return _pingback_drafts(event.comment, blog)
        case NewComment():
            return _comment_drafts(event.comment, blog, "comment")
        case NewPingback():
            return _pingback_drafts(event.pingback, blog)
        case CommentEdited():
            return _comment_drafts(event.comment, blog, "edit")
        case CommentRemoved():
            return [_removal_draft(event, blog)]
        case FeedFailing() | FeedRecovered():
            return [_alert_draft(event, blog, alerts_channel)]
    raise TypeError(f"cannot render {type(event).__name__}")
