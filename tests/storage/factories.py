"""Small builders for records, so tests say only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.events import Event, NewComment, NewPost
from bot.feeds.models import Entry, EntryKind
from bot.storage.records import FeedState, ItemWrite, UpdateResult

BLOG = "modite"
DAY0 = datetime(2025, 1, 1, tzinfo=UTC)


def feed(key: str = f"{BLOG}:comments", **changes: object) -> FeedState:
    values: dict[str, object] = {
        "key": key,
        "blog": BLOG,
        "url": f"https://modite.example/{key}/feed",
        "role": "comments",
    }
    values.update(changes)
    return FeedState(**values)  # type: ignore[arg-type]


def comment(n: int, *, post: int = 1, **changes: object) -> Entry:
    values: dict[str, object] = {
        "kind": EntryKind.COMMENT,
        "key": f"comment-{n}",
        "url": f"https://modite.example/p{post}/#comment-{n}",
        "author": f"Reader {n}",
        "content_html": f"<p>Comment number {n}</p>",
        "published": DAY0 + timedelta(hours=n),
        "post_key": f"post-{post}",
        "native_id": str(n),
    }
    values.update(changes)
    return Entry(**values)  # type: ignore[arg-type]


def post(n: int, **changes: object) -> Entry:
    values: dict[str, object] = {
        "kind": EntryKind.POST,
        "key": f"post-{n}",
        "url": f"https://modite.example/p{n}/",
        "title": f"Post {n}",
        "published": DAY0 + timedelta(days=n),
        "categories": ("news", "dev"),
    }
    values.update(changes)
    return Entry(**values)  # type: ignore[arg-type]


def write(entry: Entry, content_hash: str = "h1", *, removed: bool = False) -> ItemWrite:
    return ItemWrite(blog=BLOG, entry=entry, content_hash=content_hash, removed=removed)


def announce(entry: Entry) -> Event:
    return NewPost(BLOG, entry) if entry.kind is EntryKind.POST else NewComment(BLOG, entry)


def update(
    state: FeedState | None = None,
    entries: tuple[Entry, ...] = (),
    *,
    events: tuple[Event, ...] | None = None,
) -> UpdateResult:
    """Write ``entries`` and announce each of them (unless ``events`` says otherwise)."""
    return UpdateResult(
        feed=state or feed(),
        writes=tuple(write(entry) for entry in entries),
        events=tuple(announce(entry) for entry in entries) if events is None else events,
    )
