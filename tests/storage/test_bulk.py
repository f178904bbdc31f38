"""Bulk reads and writes for polling many feeds: the same answers as the one-at-a-time methods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import cast

import pytest

from bot.events import CommentRemoved, FeedRecovered, NewComment
from bot.storage import Storage, StorageError
from bot.storage.records import UpdateResult
from tests.storage.conftest import START
from tests.storage.factories import BLOG, announce, comment, feed, post, update, write


async def test_get_feeds_answers_like_get_feed_for_each_key(storage: Storage) -> None:
    states = [feed(f"{BLOG}:comments:{n}", etag=f'"{n}"', failures=n % 3) for n in range(1, 1200)]
    await storage.apply_updates([UpdateResult(state) for state in states])
    keys = [state.key for state in states[::7]] + ["missing:posts", states[0].key]
    found = await storage.get_feeds(keys)
    assert set(found) == {state.key for state in states[::7]}, "absent keys are left out"
    for key, state in found.items():
        assert state == await storage.get_feed(key)
    assert await storage.get_feeds([]) == {}


async def test_apply_updates_equals_applying_them_in_order(storage: Storage) -> None:
    first = feed(etag='"v1"')
    results = [
        update(first, (post(1), comment(1))),
        update(feed("other:posts", blog="other"), ()),
        UpdateResult(
            feed=dataclasses.replace(first, etag='"v2"'),
            writes=(write(comment(1), "edited"), write(comment(2))),
            events=(announce(comment(2)),),
        ),
    ]
    ids = await storage.apply_updates(results)

    assert [len(batch) for batch in ids] == [2, 0, 1]
    flat = [event_id for batch in ids for event_id in batch]
    assert flat == sorted(flat)
    pending = await storage.pending_events()
    assert [stored.id for stored in pending] == flat
    assert [stored.event for stored in pending] == [
        announce(post(1)),
        announce(comment(1)),
        announce(comment(2)),
    ]
    assert await storage.get_feed(first.key) == dataclasses.replace(first, etag='"v2"')
    assert await storage.get_feed("other:posts") == results[1].feed
    stored = await storage.get_items(BLOG, ["post-1", "comment-1", "comment-2"])
    assert stored["comment-1"].content_hash == "edited", "a later write of an item wins"
    assert set(stored) == {"post-1", "comment-1", "comment-2"}
    assert await storage.apply_updates([]) == []


async def test_a_failing_result_rolls_back_the_whole_batch(storage: Storage) -> None:
    unserialisable = CommentRemoved(BLOG, "comment-2", "post-1", reason=cast(str, object()))
    good = update(feed(f"{BLOG}:comments:1"), (comment(1),))
    bad = update(feed(f"{BLOG}:comments:2"), (comment(2),), events=(unserialisable,))
    with pytest.raises(StorageError, match="apply updates of 2 feeds"):
        await storage.apply_updates([good, bad])
    assert await storage.list_feeds() == []
    assert await storage.get_items(BLOG, ["comment-1", "comment-2"]) == {}
    assert await storage.pending_count() == 0


async def test_apply_updates_of_many_feeds_with_recovery_events(storage: Storage) -> None:
    since = datetime(2025, 2, 1, tzinfo=UTC)
    results = [
        UpdateResult(
            feed(f"{BLOG}:comments:{n}", last_success_at=START),
            events=(FeedRecovered(BLOG, f"{BLOG}:comments:{n}", "https://x/feed", since),)
            if n % 100 == 0
            else (),
        )
        for n in range(700)
    ]
    ids = await storage.apply_updates(results)
    assert sum(len(batch) for batch in ids) == 7
    assert [bool(batch) for batch in ids] == [n % 100 == 0 for n in range(700)]
    assert len(await storage.list_feeds()) == 700


async def test_new_comment_events_keep_their_payload_in_a_batch(storage: Storage) -> None:
    event = NewComment(BLOG, comment(7))
    [ids] = await storage.apply_updates([update(feed(), (comment(7),), events=(event,))])
    [stored] = await storage.pending_events()
    assert stored.id == ids[0] and stored.event == event
