"""What the storage layer takes and gives: plain records, no SQL.

The update pipeline reads :class:`FeedState` and :class:`KnownItem`, the pure
decider returns :class:`ItemWrite` intents and events, and
:meth:`bot.storage.Storage.apply_update` writes all of them in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot._records import immutable
from bot.events import Event
from bot.feeds.models import Entry, EntryKind


@immutable
class FeedState:
    """Per-source polling state (HTTP validators, schedule, health).

    ``key`` is unique across the database, e.g. ``modite:posts``,
    ``modite:comments`` or ``modite:comments:<post key>``.
    ``synced_at`` is ``None`` until the first successful poll, which only
    records a baseline unless ``emit_on_first_poll`` is set (comment feeds of
    posts that were themselves announced as new).

    Immutable (``@immutable``: checked by the type checker; one is made for every poll).
    """

    key: str
    blog: str
    url: str
    role: str  # "posts" | "comments" | "post_comments"
    post_key: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    failing_since: datetime | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    synced_at: datetime | None = None
    emit_on_first_poll: bool = False


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What storage remembers of an entry it has seen."""

    blog: str
    key: str
    kind: EntryKind
    content_hash: str
    removed: bool
    published: datetime | None
    post_key: str | None
    entry: Entry


@dataclass(frozen=True, slots=True)
class ItemWrite:
    """Insert or replace one item (identified by ``blog`` + ``entry.key``)."""

    blog: str
    entry: Entry
    content_hash: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: Event
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """Everything one poll of one feed wants written, atomically."""

    feed: FeedState
    writes: tuple[ItemWrite, ...] = ()
    events: tuple[Event, ...] = field(default=())
