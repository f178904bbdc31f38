"""Typed events the feed core hands to a sink (console now, Discord later).

Events are plain frozen dataclasses with a JSON form, because they are stored
in the database outbox in the same transaction that records what was seen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from bot.feeds.models import Entry


@dataclass(frozen=True, slots=True)
class NewPost:
    type: ClassVar[str] = "new_post"
    blog: str
    post: Entry


@dataclass(frozen=True, slots=True)
class NewComment:
    """A new comment; ``comment.parent_key`` names the comment it answers."""

    type: ClassVar[str] = "new_comment"
    blog: str
    comment: Entry


@dataclass(frozen=True, slots=True)
class NewPingback:
    """A pingback or trackback (``pingback.kind`` tells which)."""

    type: ClassVar[str] = "new_pingback"
    blog: str
    pingback: Entry


@dataclass(frozen=True, slots=True)
class CommentEdited:
    type: ClassVar[str] = "comment_edited"
    blog: str
    comment: Entry


@dataclass(frozen=True, slots=True)
class CommentRemoved:
    """A comment no longer visible on the blog (unapproved, spam, trashed, deleted)."""

    type: ClassVar[str] = "comment_removed"
    blog: str
    key: str
    post_key: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class FeedFailing:
    type: ClassVar[str] = "feed_failing"
    blog: str
    feed: str
    url: str
    failures: int
    error: str


@dataclass(frozen=True, slots=True)
class FeedRecovered:
    type: ClassVar[str] = "feed_recovered"
    blog: str
    feed: str
    url: str
    failing_since: datetime | None


Event = (
    NewPost
    | NewComment
    | NewPingback
    | CommentEdited
    | CommentRemoved
    | FeedFailing
    | FeedRecovered
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        NewPost,
        NewComment,
        NewPingback,
        CommentEdited,
        CommentRemoved,
        FeedFailing,
        FeedRecovered,
    )
}


def event_to_json(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data, tagged with its ``type``."""
    data: dict[str, Any] = {"type": event.type}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Entry):
            value = value.to_json()
        elif isinstance(value, datetime):
            value = value.isoformat()
        data[f.name] = value
    return data


def event_from_json(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_json`; raises ``ValueError`` on an unknown type."""
    values = dict(data)
    kind = values.pop("type")
    try:
        cls = EVENT_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown event type {kind!r}") from None
    for f in dataclasses.fields(cls):
        value = values.get(f.name)
        if f.type == "Entry" and isinstance(value, dict):
            values[f.name] = Entry.from_json(value)
        elif f.type == "datetime | None" and isinstance(value, str):
            values[f.name] = datetime.fromisoformat(value)
    return cls(**values)
