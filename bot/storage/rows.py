"""Records to table rows and back; the only place that knows both shapes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from bot.events import Event, event_from_json, event_to_json
from bot.feeds.models import Entry, EntryKind
from bot.storage.errors import StorageError
from bot.storage.records import FeedState, ItemWrite, KnownItem, StoredEvent


def feed_row(state: FeedState) -> dict[str, Any]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}


def feed_from_row(row: Row[Any]) -> FeedState:
    return FeedState(**row._mapping)


def item_row(write: ItemWrite, now: datetime) -> dict[str, Any]:
    """``first_seen_at`` is set here but never overwritten by the upsert (see Storage)."""
    entry = write.entry
    return {
        "blog": write.blog,
        "key": entry.key,
        "kind": entry.kind.value,
        "post_key": entry.post_key,
        "parent_key": entry.parent_key,
        "native_id": entry.native_id,
        "url": entry.url,
        "published": entry.published,
        "content_hash": write.content_hash,
        "removed": write.removed,
        "entry": entry.to_json(),
        "first_seen_at": now,
        "updated_at": now,
    }


def known_item_from_row(row: Row[Any]) -> KnownItem:
    return KnownItem(
        blog=row.blog,
        key=row.key,
        kind=EntryKind(row.kind),
        content_hash=row.content_hash,
        removed=row.removed,
        published=row.published,
        post_key=row.post_key,
        entry=Entry.from_json(row.entry),
    )


def latest_writes(writes: Iterable[ItemWrite]) -> list[ItemWrite]:
    """One write per item (the last one wins), sorted by identity.

    PostgreSQL refuses to upsert one row twice in a statement, and taking row locks in one
    global order keeps concurrent updates of overlapping feeds from deadlocking.
    """
    latest = {(write.blog, write.entry.key): write for write in writes}
    return [latest[identity] for identity in sorted(latest)]


def event_row(event: Event, now: datetime) -> dict[str, Any]:
    return {
        "blog": event.blog,
        "type": event.type,
        "payload": event_to_json(event),
        "created_at": now,
        "delivered_at": None,
    }


def stored_event_from_row(row: Row[Any]) -> StoredEvent:
    try:
        event = event_from_json(row.payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"event {row.id} ({row.type}) cannot be read back: {exc}") from exc
    return StoredEvent(id=row.id, event=event, created_at=row.created_at)
