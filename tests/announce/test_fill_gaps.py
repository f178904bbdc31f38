"""fill_gaps (behind /gatejumper resync): queue what never reached Discord, never twice."""

from __future__ import annotations

import pytest

from bot.events import Event, NewComment, NewPost
from bot.feeds.models import Entry
from bot.storage import Storage
from bot.storage.records import FeedState, ItemWrite, UpdateResult
from tests.announce.conftest import FakeTime, deliver_all, make_announcer, make_settings
from tests.announce.fake_port import FakePort
from tests.announce.scenario import comment, pingback, post
from tests.render.seed_thread import ANNOUNCE_CHANNEL, blog_config

BLOG = "modite"


async def store_items(storage: Storage, *entries: Entry, removed: tuple[str, ...] = ()) -> None:
    """What the feed core would have stored, without any events."""
    feed = FeedState(
        key=f"{BLOG}:comments", blog=BLOG, url="https://blog.example/f", role="comments"
    )
    writes = tuple(
        ItemWrite(BLOG, entry, content_hash="h", removed=entry.key in removed) for entry in entries
    )
    await storage.apply_update(UpdateResult(feed=feed, writes=writes))


def thread_lines(port: FakePort) -> list[str]:
    [thread] = port.threads(ANNOUNCE_CHANNEL)
    return [m.content.split("\n")[0] for m in port.live(thread.id)]


async def test_fill_gaps_queues_only_what_is_missing_and_never_twice(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    entries = [post(1), *(comment(n) for n in range(1, 7)), pingback(7), post(2), comment(8, on=2)]
    await store_items(storage, *entries, removed=("comment-6",))
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    shown: list[Event] = [NewPost(BLOG, post(1)), NewComment(BLOG, comment(1))]
    shown.append(NewComment(BLOG, comment(3)))
    await storage.enqueue_events(shown)
    await deliver_all(announcer, storage, time)
    await storage.enqueue_events([NewComment(BLOG, comment(5))])  # queued, not yet delivered

    assert await announcer.fill_gaps(BLOG) == 3  # comments 2 and 4, pingback 7
    assert await announcer.fill_gaps(BLOG) == 0  # they are queued now
    await deliver_all(announcer, storage, time)
    assert thread_lines(port) == [
        "Comment number 1 says hello.",
        "Comment number 3 says hello.",
        "Comment number 5 says hello.",
        "Comment number 2 says hello.",
        "Comment number 4 says hello.",
        "🔗 Pingback from [A page that links here (7)](<https://elsewhere.example/7/>)",
    ]
    assert await announcer.fill_gaps(BLOG) == 0  # all shown: nothing to fill
    assert await storage.pending_counts() == {}
    assert len(port.threads(ANNOUNCE_CHANNEL)) == 1  # post 2 was never mirrored: left alone


async def test_fill_gaps_leaves_pingbacks_out_when_the_blog_does_not_relay_them(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    await store_items(storage, post(1), comment(1), pingback(2))
    blog = blog_config(comments={"include_pingbacks": False})
    announcer = make_announcer(make_settings(blog), storage, port, time)
    await storage.enqueue_events([NewPost(BLOG, post(1))])
    await deliver_all(announcer, storage, time)
    assert await announcer.fill_gaps(BLOG) == 1
    await deliver_all(announcer, storage, time)
    assert thread_lines(port) == ["Comment number 1 says hello."]


async def test_a_comment_queued_twice_is_shown_once(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    """Even if a gap was filled while the original event was on its way, delivery skips it."""
    await store_items(storage, post(1), comment(1))
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    events: list[Event] = [NewPost(BLOG, post(1)), NewComment(BLOG, comment(1))]
    events.append(NewComment(BLOG, comment(1)))
    await storage.enqueue_events(events)
    await deliver_all(announcer, storage, time)
    assert thread_lines(port) == ["Comment number 1 says hello."]
    assert await announcer.fill_gaps(BLOG) == 0


async def test_fill_gaps_of_an_unknown_blog_is_a_clear_error(
    storage: Storage, port: FakePort, time: FakeTime
) -> None:
    announcer = make_announcer(make_settings(blog_config()), storage, port, time)
    with pytest.raises(LookupError, match="no blog named 'nope' in the config"):
        await announcer.fill_gaps("nope")
