"""Items: what was seen, for deduplication, edit detection and removal detection."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.feeds.models import Entry, EntryKind
from bot.storage import Storage
from bot.storage.records import ItemWrite, KnownItem, UpdateResult
from bot.storage.schema import items
from tests.storage.conftest import FakeClock
from tests.storage.factories import BLOG, DAY0, comment, feed, post, update, write


async def _seen_times(storage: Storage, key: str) -> tuple[datetime, datetime]:
    query = sa.select(items.c.first_seen_at, items.c.updated_at).where(items.c.key == key)
    async with storage._engine.connect() as connection:
        first_seen, updated = (await connection.execute(query)).one()
    return first_seen, updated


async def test_items_round_trip_with_their_entry(storage: Storage) -> None:
    entries = (post(1), comment(1, parent_key="comment-0", avatar_url="https://gravatar/x"))
    await storage.apply_update(update(entries=entries))
    known = await storage.get_items(BLOG, ["post-1", "comment-1", "comment-404"])
    assert set(known) == {"post-1", "comment-1"}
    remembered = known["comment-1"]
    assert remembered.entry == entries[1]
    assert (remembered.kind, remembered.post_key, remembered.removed) == (
        EntryKind.COMMENT,
        "post-1",
        False,
    )
    assert remembered.published == entries[1].published
    assert known["post-1"].entry.categories == ("news", "dev")


async def test_items_are_per_blog(storage: Storage) -> None:
    await storage.apply_update(update(entries=(comment(1),)))
    assert await storage.get_items("another-blog", ["comment-1"]) == {}


async def test_upsert_keeps_first_seen_and_moves_updated(
    storage: Storage, clock: FakeClock
) -> None:
    first = clock.now
    await storage.apply_update(update(entries=(comment(1),)))
    later = clock.advance(3600)
    edited = comment(1, content_html="<p>Edited</p>")
    await storage.apply_update(UpdateResult(feed=feed(), writes=(write(edited, "h2"),)))
    known = (await storage.get_items(BLOG, ["comment-1"]))["comment-1"]
    assert (known.content_hash, known.entry.content_html) == ("h2", "<p>Edited</p>")
    assert await _seen_times(storage, "comment-1") == (first, later)


async def test_removal_is_recorded_and_reversible(storage: Storage) -> None:
    await storage.apply_update(update(entries=(comment(1),)))
    await storage.apply_update(UpdateResult(feed(), writes=(write(comment(1), removed=True),)))
    assert (await storage.get_items(BLOG, ["comment-1"]))["comment-1"].removed
    await storage.apply_update(UpdateResult(feed(), writes=(write(comment(1)),)))
    assert not (await storage.get_items(BLOG, ["comment-1"]))["comment-1"].removed


async def test_duplicate_writes_in_one_update_last_one_wins(storage: Storage) -> None:
    writes = (write(comment(1), "old"), write(comment(2)), write(comment(1), "new"))
    await storage.apply_update(UpdateResult(feed=feed(), writes=writes))
    known = await storage.get_items(BLOG, ["comment-1", "comment-2"])
    assert known["comment-1"].content_hash == "new"
    assert len(known) == 2


async def test_get_items_with_more_keys_than_one_query_takes(storage: Storage) -> None:
    entries = tuple(comment(n) for n in range(1, 1301))
    await storage.apply_update(update(entries=entries, events=()))
    wanted = [f"comment-{n}" for n in range(1, 1401)]  # 100 unknown ones too
    known = await storage.get_items(BLOG, iter(wanted))
    assert len(known) == 1300
    assert known["comment-1300"].entry == entries[-1]


async def test_items_since_filters_by_kind_window_and_post(storage: Storage) -> None:
    entries = (
        post(1),
        comment(1, post=1),
        comment(2, post=2),
        comment(3, post=1, kind=EntryKind.PINGBACK),
        comment(4, post=1, published=None),
        comment(5, post=1),
    )
    await storage.apply_update(update(entries=entries))
    await storage.apply_update(UpdateResult(feed(), writes=(write(entries[5], removed=True),)))
    comment_like = (EntryKind.COMMENT, EntryKind.PINGBACK)

    def keys(found: list[KnownItem]) -> list[str]:
        return [item.key for item in found]

    every = await storage.items_since(BLOG, comment_like, None)
    assert sorted(keys(every)) == ["comment-1", "comment-2", "comment-3", "comment-4", "comment-5"]
    window = await storage.items_since(BLOG, comment_like, DAY0 + timedelta(hours=2))
    assert keys(window) == ["comment-2", "comment-3", "comment-5"]  # oldest first, removed too
    assert [item.removed for item in window] == [False, False, True]
    on_post = await storage.items_since(BLOG, [EntryKind.COMMENT], DAY0, post_key="post-1")
    assert keys(on_post) == ["comment-1", "comment-5"]
    assert await storage.items_since(BLOG, [], None) == []
    assert keys(await storage.items_since(BLOG, ["post"], None)) == ["post-1"]  # type: ignore[list-item]


async def test_newest_posts_newest_first_without_removed(
    storage: Storage, clock: FakeClock
) -> None:
    await storage.apply_update(update(entries=(post(1), post(3), post(2))))
    clock.advance(60)
    await storage.apply_update(update(entries=(post(4, published=None), post(5), comment(9))))
    await storage.apply_update(UpdateResult(feed(), writes=(write(post(5), removed=True),)))
    newest = await storage.newest_posts(BLOG, 10)
    assert [item.key for item in newest] == ["post-3", "post-2", "post-1", "post-4"]
    assert [item.key for item in await storage.newest_posts(BLOG, 2)] == ["post-3", "post-2"]
    assert await storage.newest_posts("another-blog", 5) == []


async def test_newest_posts_many_is_newest_posts_of_each_blog(
    storage: Storage, clock: FakeClock
) -> None:
    def on(blog: str, entry: Entry, *, removed: bool = False) -> ItemWrite:
        return dataclasses.replace(write(entry, removed=removed), blog=blog)

    same_day = DAY0 + timedelta(days=9)
    first = [on("one", post(n)) for n in range(1, 8)] + [
        on("one", post(8, published=same_day)),
        on("one", post(9, published=same_day)),
        on("one", post(10, published=None)),
        on("one", post(11), removed=True),
        on("one", comment(1, published=DAY0 + timedelta(days=30))),
        on("one", comment(2, kind=EntryKind.PINGBACK, published=DAY0 + timedelta(days=31))),
        on("two", post(3)),
        on("two", post(4, published=None)),
        on("two", comment(3)),
        on("only-removed", post(1), removed=True),
        on("only-comments", comment(1)),
    ]
    await storage.apply_update(UpdateResult(feed(), writes=tuple(first)))
    clock.advance(60)  # seen later: first among equal dates
    later = [on("one", post(12, published=same_day)), on("one", post(13, published=None))]
    await storage.apply_update(UpdateResult(feed(), writes=tuple(later)))
    await storage.apply_update(UpdateResult(feed(), writes=(on("one", post(7), removed=True),)))
    blogs = ["one", "two", "only-removed", "only-comments", "unknown"]

    for limit in (1, 3, 5, 50, 500):  # 500: two blogs per query (POSTS_PER_QUERY)
        many = await storage.newest_posts_many(iter(blogs), limit)
        assert many == {blog: await storage.newest_posts(blog, limit) for blog in blogs}
    assert [item.key for item in many["one"]] == [
        "post-12", "post-8", "post-9", "post-6", "post-5", "post-4", "post-3", "post-2",
        "post-1", "post-13", "post-10",
    ]  # fmt: skip
    assert [item.key for item in (await storage.newest_posts_many(blogs, 3))["one"]] == [
        "post-12", "post-8", "post-9",
    ]  # fmt: skip
    assert await storage.newest_posts_many([], 5) == {}
    assert await storage.newest_posts_many(["one"], 0) == {
        "one": await storage.newest_posts("one", 0)
    }


async def test_newest_posts_many_of_more_blogs_than_one_query_takes(storage: Storage) -> None:
    blogs = [f"blog-{n:04}" for n in range(1201)]
    writes = [dataclasses.replace(write(post(n)), blog=blog) for blog in blogs for n in (1, 2)]
    await storage.apply_update(UpdateResult(feed(), writes=tuple(writes)))

    many = await storage.newest_posts_many(reversed(blogs), 1)

    assert list(many) == blogs[::-1], "every blog asked, in the order asked"
    assert {blog: [item.key for item in found] for blog, found in many.items()} == {
        blog: ["post-2"] for blog in blogs
    }


async def test_count_items_by_kind(storage: Storage) -> None:
    entries = (post(1), post(2), comment(1), comment(2), comment(3, kind=EntryKind.TRACKBACK))
    await storage.apply_update(update(entries=entries))
    await storage.apply_update(UpdateResult(feed(), writes=(write(comment(2), removed=True),)))
    assert await storage.count_items(BLOG) == {
        "post": 2,
        "comment": 1,
        "pingback": 0,
        "trackback": 1,
        "removed": 1,
    }
    assert (await storage.count_items("another-blog"))["comment"] == 0
