"""apply_update and the event outbox: all or nothing, in order, safe across restarts and tasks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest

from bot.events import CommentRemoved, Event, FeedFailing, FeedRecovered, NewComment, NewPost
from bot.storage import Storage, StorageError
from bot.storage.records import UpdateResult
from tests.storage.conftest import START, FakeClock
from tests.storage.factories import BLOG, announce, comment, feed, post, update, write


async def _nothing_written(storage: Storage) -> bool:
    return (
        await storage.list_feeds() == []
        and await storage.count_items(BLOG) == dict.fromkeys(storage_count_keys(), 0)
        and await storage.pending_count() == 0
    )


def storage_count_keys() -> list[str]:
    return ["post", "comment", "pingback", "trackback", "removed"]


async def test_apply_update_writes_feed_items_and_events(storage: Storage) -> None:
    state = feed(etag="v1", synced_at=START)
    ids = await storage.apply_update(update(state, (post(1), comment(1))))
    assert len(ids) == 2
    assert await storage.get_feed(state.key) == state
    assert set(await storage.get_items(BLOG, ["post-1", "comment-1"])) == {"post-1", "comment-1"}
    pending = await storage.pending_events()
    assert [stored.id for stored in pending] == ids
    assert [stored.event for stored in pending] == [announce(post(1)), announce(comment(1))]
    assert all(stored.created_at == START for stored in pending)


async def test_an_update_without_events_returns_no_ids(storage: Storage) -> None:
    assert await storage.apply_update(update(entries=(comment(1),), events=())) == []
    assert await storage.pending_count() == 0
    assert await storage.get_feed(feed().key) == feed()


async def test_a_failing_event_rolls_back_the_whole_update(storage: Storage) -> None:
    unserialisable = CommentRemoved(BLOG, "comment-2", "post-1", reason=cast(str, object()))
    broken = update(
        feed(etag="v2"),
        (comment(1), comment(2)),
        events=(announce(comment(1)), unserialisable),
    )
    with pytest.raises(StorageError, match="apply update of feed 'modite:comments'"):
        await storage.apply_update(broken)
    assert await _nothing_written(storage)


async def test_a_failing_item_rolls_back_and_leaves_the_previous_state(storage: Storage) -> None:
    before = feed(etag="v1")
    await storage.apply_update(update(before, (comment(1),)))
    naive = comment(3, published=datetime(2025, 1, 1, 12, 0))  # fails after the feed upsert
    with pytest.raises(StorageError, match="naive datetime"):
        await storage.apply_update(update(feed(etag="v2"), (comment(2), naive)))
    assert await storage.get_feed(before.key) == before
    assert set(await storage.get_items(BLOG, ["comment-1", "comment-2", "comment-3"])) == {
        "comment-1"
    }
    assert await storage.pending_count() == 1


async def test_events_keep_their_order_across_updates(storage: Storage) -> None:
    first = [announce(comment(n)) for n in range(40, 0, -1)]  # deliberately not sorted by key
    failing = FeedFailing(BLOG, "modite:posts", "https://modite.example/feed", 3, "HTTP 500")
    recovered = FeedRecovered(BLOG, "modite:posts", "https://modite.example/feed", START)
    ids_a = await storage.apply_update(update(events=(*first, failing)))
    ids_b = await storage.apply_update(update(feed("modite:posts"), events=(recovered,)))
    assert ids_a == sorted(ids_a) and len(set(ids_a)) == 41
    assert ids_b[0] > ids_a[-1]
    pending = await storage.pending_events(limit=1000)
    assert [stored.event for stored in pending] == [*first, failing, recovered]
    assert [stored.id for stored in pending] == ids_a + ids_b
    assert cast(FeedRecovered, pending[-1].event).failing_since == START


async def test_pending_events_pages_with_limit_and_after_id(storage: Storage) -> None:
    ids = await storage.apply_update(update(entries=tuple(comment(n) for n in range(1, 8))))
    page1 = await storage.pending_events(limit=3)
    page2 = await storage.pending_events(limit=3, after_id=page1[-1].id)
    page3 = await storage.pending_events(limit=3, after_id=page2[-1].id)
    assert [e.id for e in page1 + page2 + page3] == ids
    assert len(page3) == 1


async def test_mark_delivered(storage: Storage, clock: FakeClock) -> None:
    ids = await storage.apply_update(update(entries=tuple(comment(n) for n in range(1, 6))))
    assert await storage.pending_count() == 5
    await storage.mark_delivered([ids[0], ids[2]])
    await storage.mark_delivered([])
    assert [e.id for e in await storage.pending_events()] == [ids[1], ids[3], ids[4]]
    assert await storage.pending_count() == 3
    clock.advance(60)
    await storage.mark_delivered([ids[0], *ids[1:]])  # re-marking is harmless
    assert await storage.pending_events() == []
    assert await storage.pending_count() == 0


async def test_mark_delivered_with_more_ids_than_one_query_takes(storage: Storage) -> None:
    ids = await storage.apply_update(
        update(entries=tuple(comment(n) for n in range(1, 1201)), events=None)
    )
    await storage.mark_delivered(ids[:1100])
    assert [e.id for e in await storage.pending_events()] == ids[1100:]


async def test_announced_posts_are_those_the_outbox_holds_a_new_post_event_of(
    storage: Storage,
) -> None:
    posts = feed(f"{BLOG}:posts", role="posts")
    await storage.apply_update(update(posts, (post(1), post(2)), events=(announce(post(2)),)))
    ids = await storage.apply_update(update(posts, (post(3), comment(1, post=1))))
    await storage.mark_delivered(ids[:1])
    await storage.enqueue_events([NewPost("other", post(1))])
    asked = [f"post-{n}" for n in range(1200)]

    assert await storage.announced_posts(BLOG, asked) == {"post-2", "post-3"}
    assert await storage.announced_posts(BLOG, ["post-3", "post-3"]) == {"post-3"}
    assert await storage.announced_posts("other", asked) == {"post-1"}
    assert await storage.announced_posts(BLOG, []) == set()


async def test_state_survives_a_restart(database_url: str, clock: FakeClock) -> None:
    state = feed(etag='"v7"', next_poll_at=datetime(2025, 3, 1, 12, 5, tzinfo=UTC), failures=1)
    async with await Storage.open(database_url, clock=clock) as storage:
        ids = await storage.apply_update(update(state, (post(1), comment(1), comment(2))))
        await storage.mark_delivered(ids[:1])
    async with await Storage.open(database_url, clock=clock) as reopened:
        assert await reopened.get_feed(state.key) == state
        assert (await reopened.count_items(BLOG))["comment"] == 2
        assert [e.id for e in await reopened.pending_events()] == ids[1:]
        more = await reopened.apply_update(update(state, (comment(3),)))
        assert more[0] > ids[-1]


async def test_event_ids_are_never_reused_after_delivery(database_url: str) -> None:
    async with await Storage.open(database_url) as storage:
        ids = await storage.apply_update(update(entries=(comment(1), comment(2))))
        await storage.mark_delivered(ids)
    async with await Storage.open(database_url) as storage:
        again = await storage.apply_update(update(entries=(comment(3),)))
    assert again[0] > ids[-1]


def _feed_update(index: int) -> UpdateResult:
    """Feeds that overlap, like a blog's comments feed and its per-post comment feeds."""
    entries = tuple(comment(n, post=n % 3) for n in range(index, index + 30))
    ordered = entries if index % 2 else tuple(reversed(entries))
    events: tuple[Event, ...] = tuple(NewComment(BLOG, entry) for entry in ordered)
    return UpdateResult(
        feed=feed(f"{BLOG}:comments:{index}", etag=f"v{index}"),
        writes=tuple(write(entry, f"h{index}") for entry in ordered),
        events=events,
    )


async def test_concurrent_updates_of_different_feeds(storage: Storage) -> None:
    updates = [_feed_update(index) for index in range(12)]
    for _ in range(3):
        results = await asyncio.gather(*(storage.apply_update(u) for u in updates))
        for ids in results:
            assert ids == sorted(ids) and len(ids) == 30
    all_ids = [event_id for ids in results for event_id in ids]
    assert len(set(all_ids)) == len(all_ids)
    assert len(await storage.list_feeds()) == 12
    assert (await storage.count_items(BLOG))["comment"] == 11 + 30
    assert await storage.pending_count() == 3 * 12 * 30


async def test_two_storages_on_one_database_write_concurrently(database_url: str) -> None:
    async with (
        await Storage.open(database_url) as one,
        await Storage.open(database_url) as two,
    ):
        jobs = [(one if i % 2 else two).apply_update(_feed_update(i)) for i in range(8)]
        results = await asyncio.gather(*jobs)
        assert sum(len(ids) for ids in results) == 8 * 30
        assert await one.pending_count() == await two.pending_count() == 240


async def test_an_unreadable_event_is_set_aside_and_does_not_block_the_outbox(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlalchemy as sa

    from bot.storage.schema import events

    good = announce(post(1))
    [first] = await storage.apply_update(update(feed(), events=(good,)))
    async with storage._engine.begin() as connection:  # a row written by a future version
        await connection.execute(
            sa.update(events)
            .where(events.c.id == first)
            .values(payload={"type": "from_the_future"})
        )
    [second] = await storage.apply_update(update(feed(), events=(announce(post(2)),)))
    with caplog.at_level("ERROR"):
        pending = await storage.pending_events()
    assert [stored.id for stored in pending] == [second]
    assert f"event {first} (new_post) cannot be read back" in caplog.text
    assert await storage.pending_count() == 1  # set aside, still in the table
