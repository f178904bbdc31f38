"""Poll cycles over whole blogs: posts before comments, baselines, failures kept per blog.

Blogs here are real: a feed blog (``FeedSite``, posts RSS with per-post
wfw:commentRss feeds), a WordPress (``make_wordpress``), an Isso server with a
posts RSS served locally, and blogs that cannot be reached or discovered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from bot.config import AnnounceConfig, BlogConfig, CommentsConfig, PollingConfig, Settings
from bot.events import Event, FeedFailing, NewComment, NewPost
from bot.feeds import poller as poller_module
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import ParserPool
from bot.feeds.poller import Poller, summarise
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.storage import Storage
from bot.storage.records import FeedState
from tests.feeds.test_update import INTERVAL, Clock, FeedSite, Load, feed_blog
from tests.isso import IssoServer, SeededThread
from tests.wp import WordPress

JITTER = 0.1


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))


class Run:
    """A poller over real parts, and what it reported."""

    def __init__(
        self, settings: Settings, storage: Storage, fetcher: Fetcher, clock: Clock
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.reported: list[FeedOutcome] = []
        updater = Updater(
            settings,
            storage,
            fetcher,
            ParserPool(mode="inline"),
            clock=clock,
            rng=random.Random(3),
        )
        self.poller = Poller(settings, updater, progress=self.reported.append)
        self._seen_events = 0

    def blog(self, name: str) -> BlogConfig:
        return next(b for b in self.settings.blogs if b.name == name)

    async def new_events(self) -> list[Event]:
        """Events added to the outbox since the last call, in delivery order."""
        stored = await self.storage.pending_events(limit=10_000)
        fresh = [s.event for s in stored[self._seen_events :]]
        self._seen_events = len(stored)
        return fresh


def make_settings(*blogs: BlogConfig, **polling: Any) -> Settings:
    polling.setdefault("jitter", JITTER)
    return Settings(polling=PollingConfig(interval=INTERVAL, **polling), blogs=list(blogs))


def of_blog(events: list[Event], blog: str) -> list[Event]:
    return [e for e in events if e.blog == blog]


# --- one feed blog, cycle by cycle ----------------------------------------------------


async def test_posts_first_and_comments_of_new_posts_are_news(
    storage_each_db: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    storage = storage_each_db
    async with FeedSite() as site:
        start = clock.now
        first = site.add_post(1, start - timedelta(days=2), comments=2)
        site.add_post(2, start - timedelta(days=1), comments=1)
        run = Run(make_settings(feed_blog(site)), storage, fetcher, clock)

        baseline = await run.poller.poll_blog(run.blog("modite"), force=True)

        assert baseline[0].feed == "modite:posts", "the posts listing goes first"
        assert sorted(o.feed for o in baseline[1:]) == sorted(
            f"modite:comments:{site.post_guid(p)}" for p in site.posts
        )
        assert all(o.outcome is Outcome.UPDATED and o.events == 0 for o in baseline)
        assert sorted(run.reported, key=lambda o: o.feed) == sorted(baseline, key=lambda o: o.feed)
        assert await run.new_events() == []
        comment_keys = [
            f"{site.post_guid(p)}#comment-{c.n}" for p in site.posts for c in p.comments
        ]
        assert len(await storage.get_items("modite", comment_keys)) == 3

        late = site.add_comment(first, start + timedelta(minutes=30))
        third = site.add_post(3, start + timedelta(hours=1), comments=2)
        clock.advance(timedelta(hours=2))

        second = await run.poller.poll_blog(run.blog("modite"), force=True)

        assert second[0].feed == "modite:posts" and second[0].events == 1
        events = await run.new_events()
        assert isinstance(events[0], NewPost) and events[0].post.title == "Post number 3"
        comments = events[1:]
        assert all(isinstance(e, NewComment) for e in comments)
        keyed = {e.comment.key: e.comment for e in comments if isinstance(e, NewComment)}
        expected = [f"{site.post_guid(first)}#comment-{late.n}"] + [
            f"{site.post_guid(third)}#comment-{c.n}" for c in third.comments
        ]
        assert sorted(keyed) == sorted(expected), "existing comments of a new post are news"
        assert len(comments) == 3
        for comment in keyed.values():
            post = first if comment.key.startswith(site.post_guid(first) + "#") else third
            assert comment.post_key == site.post_guid(post)
            assert comment.post_title == post.title, "comments get their post's title"
        third_order = [e.comment.key for e in comments if isinstance(e, NewComment)]
        third_order = [k for k in third_order if k.startswith(site.post_guid(third) + "#")]
        assert third_order == expected[1:], "oldest first within a feed"
        state = await storage.get_feed(f"modite:comments:{site.post_guid(third)}")
        assert state is not None and state.emit_on_first_poll
        known = await storage.get_feed(f"modite:comments:{site.post_guid(first)}")
        assert known is not None and not known.emit_on_first_poll

        clock.advance(INTERVAL)
        await run.poller.poll_blog(run.blog("modite"), force=True)
        assert await run.new_events() == [], "nothing is announced twice"


async def test_a_post_published_in_the_second_of_the_first_sync_has_its_comments_announced(
    storage_each_db: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    """RSS dates have whole seconds and the sync time has microseconds: dates cannot tell."""
    storage = storage_each_db
    async with FeedSite() as site:
        second = clock.now
        site.add_post(1, second - timedelta(days=1), comments=1)
        clock.advance(timedelta(microseconds=400_000))
        run = Run(make_settings(feed_blog(site)), storage, fetcher, clock)
        await run.poller.poll_blog(run.blog("modite"), force=True)
        assert await run.new_events() == []
        posts = await storage.get_feed("modite:posts")
        assert posts is not None and posts.synced_at == clock.now

        late = site.add_post(2, second, comments=2)  # written after the sync, dated its second
        clock.advance(INTERVAL)
        await run.poller.poll_blog(run.blog("modite"), force=True)

        events = await run.new_events()
        assert [type(e) for e in events] == [NewPost, NewComment, NewComment]
        assert isinstance(events[0], NewPost) and events[0].post.key == site.post_guid(late)
        assert [e.comment.key for e in events if isinstance(e, NewComment)] == [
            f"{site.post_guid(late)}#comment-{c.n}" for c in late.comments
        ], "the comments of a post announced as new are news"


async def test_comments_of_posts_there_at_the_first_sync_stay_a_baseline_whatever_their_dates(
    storage_each_db: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    """Posts dated after the first sync (the blog's clock runs ahead) were still there at it:
    their comments are old, whether the post is followed at once or only later."""
    storage = storage_each_db
    async with FeedSite() as site:
        followed_later = site.add_post(1, clock.now + timedelta(seconds=2), comments=2)
        site.add_post(2, clock.now + timedelta(seconds=3), comments=1)
        one = feed_blog(site, comments=CommentsConfig(follow_posts=1))
        run = Run(make_settings(one), storage, fetcher, clock)

        first = await run.poller.poll_blog(run.blog("modite"), force=True)

        assert len(first) == 2, "the posts feed, then the newest post's comments"
        assert await run.new_events() == [], "the first sync is a baseline"

        clock.advance(INTERVAL)
        two = feed_blog(site, comments=CommentsConfig(follow_posts=2))
        run = Run(make_settings(two), storage, fetcher, clock)
        await run.poller.poll_blog(run.blog("modite"), force=True)

        state = await storage.get_feed(f"modite:comments:{site.post_guid(followed_later)}")
        assert state is not None and state.synced_at == clock.now
        assert await run.new_events() == [], "followed later, still there at the first sync"

        reply = site.add_comment(followed_later, clock.now)
        clock.advance(INTERVAL)
        await run.poller.poll_blog(run.blog("modite"), force=True)
        [event] = await run.new_events()
        assert isinstance(event, NewComment)
        assert event.comment.key == f"{site.post_guid(followed_later)}#comment-{reply.n}"


async def test_a_backfilled_post_is_announced_with_the_comments_it_has(
    storage_each_db: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    """Its thread shows its comments, as a resync would fill them in; other posts' stay old."""
    storage = storage_each_db
    async with FeedSite() as site:
        site.add_post(1, clock.now - timedelta(days=2), comments=1)
        newest = site.add_post(2, clock.now - timedelta(days=1), comments=2)
        blog = feed_blog(site, announce=AnnounceConfig(channel=111, backfill=1))
        run = Run(make_settings(blog), storage, fetcher, clock)

        await run.poller.poll_blog(run.blog("modite"), force=True)

        events = await run.new_events()
        assert [type(e) for e in events] == [NewPost, NewComment, NewComment]
        assert isinstance(events[0], NewPost) and events[0].post.key == site.post_guid(newest)
        assert [e.comment.key for e in events if isinstance(e, NewComment)] == [
            f"{site.post_guid(newest)}#comment-{c.n}" for c in newest.comments
        ]


async def test_the_first_cycle_after_a_restart_reads_the_followed_posts_in_bulk(
    database_url: str, fetcher: Fetcher, clock: Clock
) -> None:
    """A query per ``follow_posts`` value, not per blog (thousands of blogs took seconds);
    the same comment feeds are polled, and a blog whose posts feed changes in that cycle
    follows its new post at once."""
    statements: list[str] = []

    def record(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    async with FeedSite() as one, FeedSite() as other:
        for site in (one, other):
            site.add_post(1, clock.now - timedelta(days=3), comments=1)
            site.add_post(2, clock.now - timedelta(days=2), comment_feed=False)
            site.add_post(3, clock.now - timedelta(days=1))
        blogs = [
            feed_blog(one, "one"),
            feed_blog(one, "newest", comments=CommentsConfig(follow_posts=1)),
            feed_blog(other, "other"),
        ]
        async with await Storage.open(database_url) as storage:
            run = Run(make_settings(*blogs), storage, fetcher, clock)
            synced = await run.poller.poll_all(force=True)
        new = other.add_post(4, clock.now - timedelta(hours=1))
        clock.advance(INTERVAL)

        async with await Storage.open(database_url) as storage:  # the bot restarted
            sa.event.listen(storage._engine.sync_engine, "before_cursor_execute", record)
            run = Run(make_settings(*blogs), storage, fetcher, clock)
            polled = await run.poller.poll_all(force=True)

        one_1, _, one_3 = (one.post_guid(p) for p in one.posts[:3])
        other_1, _, other_3 = (other.post_guid(p) for p in other.posts[:3])
        followed = [f"one:comments:{one_1}", f"one:comments:{one_3}", f"newest:comments:{one_3}"]
        followed += [f"other:comments:{other_1}", f"other:comments:{other_3}"]
        assert {o.feed for o in synced} == {"one:posts", "newest:posts", "other:posts", *followed}
        assert {o.feed: o.outcome for o in polled} == {
            **{o.feed: Outcome.NOT_MODIFIED for o in synced},
            "other:posts": Outcome.UPDATED,
            f"other:comments:{other.post_guid(new)}": Outcome.UPDATED,
        }
    bulk = [s for s in statements if "row_number" in s.lower()]
    alone = [s for s in statements if "FROM items" in s and "LIMIT" in s and s not in bulk]
    assert (len(bulk), len(alone)) == (2, 1), "one per follow_posts; then the changed blog's"


async def test_a_steady_cycle_plans_every_blog_without_a_coroutine(
    database_url: str, fetcher: Fetcher, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a blog's rows exist and its followed posts are cached, its listings are planned
    by ``planned_posts``/``planned_comments``: the coroutines are for what needs I/O."""
    async with FeedSite() as site:
        site.add_post(1, clock.now - timedelta(days=2), comments=1)
        site.add_post(2, clock.now - timedelta(days=1))
        blogs = [feed_blog(site, "one"), feed_blog(site, "two")]
        async with await Storage.open(database_url) as storage:
            run = Run(make_settings(*blogs), storage, fetcher, clock)
            synced = await run.poller.poll_all(force=True)

            async def no_coroutine(*_: object, **__: object) -> None:
                raise AssertionError("planned with a coroutine")

            monkeypatch.setattr(poller_module, "plan_posts", no_coroutine)
            monkeypatch.setattr(poller_module, "plan_comments", no_coroutine)
            for _ in range(2):
                clock.advance(INTERVAL)
                polled = await run.poller.poll_all(force=True)
                assert {o.feed: o.outcome for o in polled} == {
                    o.feed: Outcome.NOT_MODIFIED for o in synced
                }
            assert len(synced) == 6, "two blogs: posts and two posts' comment feeds each"


# --- several real blogs at once -------------------------------------------------------


def _free_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _wordpress_blog(wp: WordPress) -> BlogConfig:
    return BlogConfig(
        name="wp",
        platform="wordpress",
        url=wp.url,  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=222),
    )


def _isso_blog(site: FeedSite, isso: IssoServer) -> BlogConfig:
    return BlogConfig(
        name="isso",
        platform="isso",
        url=site.url("/"),  # type: ignore[arg-type]
        posts_feed=site.url("/feed"),  # type: ignore[arg-type]
        isso_url=isso.url,  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=333),
    )


def _broken_blogs(nofeed: FeedSite, hostile: FeedSite) -> list[BlogConfig]:
    def blog(name: str, url: str) -> BlogConfig:
        return BlogConfig(
            name=name,
            platform="feed",
            url=url,  # type: ignore[arg-type]
            announce=AnnounceConfig(channel=444),
        )

    return [
        blog("down", _free_port_url()),
        blog("nofeed", nofeed.url("/")),
        blog("hostile", hostile.url("/")),
    ]


@pytest.mark.wordpress
@pytest.mark.isso
async def test_poll_all_over_real_blogs_with_broken_ones_among_them(
    make_wordpress: Callable[..., WordPress],
    isso_thread: SeededThread,
    storage: Storage,
    fetcher: Fetcher,
    clock: Clock,
) -> None:
    isso = isso_thread.server
    wp = make_wordpress(seed=False)
    real_now = datetime.now(UTC)
    wp_post = wp.create_post(
        "Hello from WordPress", "<p>Body</p>", date=real_now - timedelta(days=1)
    )
    wp.create_comment(wp_post, "Ann", "ann@example.com", "<p>First!</p>")
    async with (
        FeedSite() as blog_site,
        FeedSite() as isso_site,
        FeedSite() as nofeed,
        FeedSite() as hostile,
    ):
        blog_site.add_post(1, clock.now - timedelta(days=1), comments=2)
        isso_site.add_post(
            1, clock.now - timedelta(days=1), url=isso_thread.post_url, comment_feed=False
        )
        nofeed.home_links = False
        hostile.home_links = False
        hostile.home_head = '<link rel="alternate" type="application/rss+xml" href="http://[oops/">'
        blogs = [
            feed_blog(blog_site),
            _wordpress_blog(wp),
            _isso_blog(isso_site, isso),
            *_broken_blogs(nofeed, hostile),
        ]
        run = Run(make_settings(*blogs), storage, fetcher, clock)

        outcomes = await run.poller.poll_all(force=True)

        by_feed = {o.feed: o for o in outcomes}
        assert await run.new_events() == [], "every blog's first cycle is a baseline"
        for good in ("modite:posts", "wp:posts", "wp:comments", "isso:posts"):
            assert by_feed[good].outcome is Outcome.UPDATED, by_feed[good]
        isso_feed = f"isso:comments:{isso_site.post_guid(isso_site.posts[0])}"
        assert by_feed[isso_feed].outcome is Outcome.UPDATED
        counts = await storage.count_items("isso")
        assert (counts["post"], counts["comment"]) == (1, 32)
        assert (await storage.count_items("wp"))["comment"] == 1
        assert (await storage.count_items("modite"))["comment"] == 2
        problems = {
            "down": "could not connect to",
            "nofeed": "no RSS or Atom feed found on the blog's home page",
            "hostile": "no RSS or Atom feed found on the blog's home page",
        }
        for name, problem in problems.items():
            outcome = by_feed[f"{name}:posts"]
            assert outcome.outcome is Outcome.FAILED and problem in (outcome.error or "")
            state = await storage.get_feed(f"{name}:posts")
            assert state is not None and state.failures == 1
            assert state.last_error == outcome.error and state.next_poll_at is not None
        assert "3 failed" in summarise(outcomes)

        # Something new on each good blog.
        reply_to = isso_thread.ids[0]
        reply = isso.new_comment(isso_thread.uri, "A late reply", "Late", parent=reply_to)
        new_uri = isso_thread.uri.rstrip("/") + "-sequel/"
        first_on_new = isso.new_comment(new_uri, "Before the bot saw the post", "Early")
        isso_site.add_post(
            2, clock.now + timedelta(hours=1), url=isso.post_url(new_uri), comment_feed=False
        )
        wp.create_comment(wp_post, "Bob", "bob@example.com", "<p>Second</p>")
        wp.create_post("Second WordPress post", "<p>More</p>")
        clock.advance(timedelta(hours=2))

        await run.poller.poll_all(force=True)

        events = await run.new_events()
        isso_events = of_blog(events, "isso")
        assert [type(e) for e in isso_events] == [NewPost, NewComment, NewComment]
        assert isinstance(isso_events[0], NewPost) and isso_events[0].post.url == isso.post_url(
            new_uri
        )
        comments = {e.comment.key: e.comment for e in isso_events if isinstance(e, NewComment)}
        assert set(comments) == {f"isso-{reply['id']}", f"isso-{first_on_new['id']}"}
        assert comments[f"isso-{reply['id']}"].parent_key == f"isso-{reply_to}"
        assert comments[f"isso-{first_on_new['id']}"].post_title == "Post number 2"
        wp_events = of_blog(events, "wp")
        assert [type(e) for e in wp_events] == [NewPost, NewComment]
        assert (
            isinstance(wp_events[0], NewPost) and wp_events[0].post.title == "Second WordPress post"
        )
        assert isinstance(wp_events[1], NewComment) and wp_events[1].comment.author == "Bob"
        assert of_blog(events, "modite") == []
        assert {e.blog for e in events} == {"isso", "wp"}
        for name, problem in problems.items():
            state = await storage.get_feed(f"{name}:posts")
            assert state is not None and state.failures == 2
            assert problem in (state.last_error or ""), "discovery is tried again"


async def test_a_blog_that_keeps_failing_discovery_alerts_once(
    storage: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    down = BlogConfig(
        name="down",
        platform="feed",
        url=_free_port_url(),  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=1),
    )
    run = Run(make_settings(down, failing_after=2), storage, fetcher, clock)
    for _ in range(4):
        await run.poller.poll_blog(down, force=True)
        clock.advance(INTERVAL)
    [alert] = await run.new_events()
    assert isinstance(alert, FeedFailing)
    assert (alert.feed, alert.failures) == ("down:posts", 2)
    assert "could not connect to" in alert.error


# --- what is due ----------------------------------------------------------------------


NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
TOLERANCE = INTERVAL * (2 * JITTER + 0.05) + timedelta(seconds=1)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("next_poll_at", "failures", "due"),
    [
        (None, 0, True),
        (None, 2, True),
        (NOW - timedelta(days=1), 0, True),
        (NOW, 0, True),
        (NOW + TOLERANCE, 0, True),
        (NOW + TOLERANCE + SECOND, 0, False),
        (NOW + INTERVAL, 0, False),
        (NOW + timedelta(hours=2), 0, False),
        (NOW, 1, True),
        (NOW + SECOND, 1, False),  # backoff and Retry-After are waited out exactly
        (NOW - SECOND, 3, True),
    ],
)
def test_is_due_honours_next_poll_at_with_the_jitter_tolerance(
    next_poll_at: datetime | None, failures: int, due: bool
) -> None:
    blog = BlogConfig(
        name="modite",
        platform="feed",
        url="https://blog.example/",  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=1),
    )
    settings = make_settings(blog)
    poller = Poller(settings, cast(Updater, None))  # is_due needs only the settings
    state = FeedState(
        key="modite:posts",
        blog="modite",
        url="u",
        role="posts",
        next_poll_at=next_poll_at,
        failures=failures,
    )
    assert poller.is_due(blog, state, NOW) is due


async def test_only_due_feeds_are_polled_unless_forced(
    storage: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    async with FeedSite() as healthy, FeedSite() as limited:
        for site in (healthy, limited):
            site.add_post(1, clock.now - timedelta(days=1), comment_feed=False)
        blogs = [feed_blog(healthy, "healthy"), feed_blog(limited, "limited")]
        run = Run(make_settings(*blogs), storage, fetcher, clock)
        await run.poller.poll_all()
        assert (len(healthy.seen("/feed")), len(limited.seen("/feed"))) == (1, 1)

        limited.failure = (429, {"Retry-After": "7200"})
        clock.advance(timedelta(seconds=10))
        assert await run.poller.poll_all() == [], "nothing is due yet"
        assert await run.poller.poll_blog(run.blog("limited"), force=True) != []
        assert len(limited.seen("/feed")) == 2, "force ignores next_poll_at"

        clock.advance(INTERVAL)
        outcomes = await run.poller.poll_all()
        assert [o.feed for o in outcomes] == ["healthy:posts"], "Retry-After still holds"
        assert len(healthy.seen("/feed")) == 2

        clock.advance(timedelta(seconds=7200))
        limited.failure = None
        outcomes = await run.poller.poll_all()
        assert sorted(o.feed for o in outcomes) == ["healthy:posts", "limited:posts"]


async def test_a_cycle_returns_while_its_unchanged_polls_are_written_and_they_land(
    sqlite_url: str, fetcher: Fetcher, clock: Clock
) -> None:
    async with FeedSite() as site, await Storage.open(sqlite_url) as storage:
        site.add_post(1, clock.now - timedelta(days=1), comment_feed=False)
        run = Run(make_settings(feed_blog(site)), storage, fetcher, clock)
        await run.poller.poll_all()
        clock.advance(INTERVAL)
        outcomes = await run.poller.poll_all()
        assert [o.outcome for o in outcomes] == [Outcome.NOT_MODIFIED]
        assert storage._flushing, "the schedule is being written, the cycle did not wait"
        await asyncio.gather(*storage._flushing)
        async with await Storage.open(sqlite_url) as other:
            written = await other.get_feed("modite:posts")
    assert written is not None and outcomes[0].state is not None
    assert written.last_polled_at == clock.now
    assert written.next_poll_at == outcomes[0].state.next_poll_at


async def test_a_healthy_feed_is_due_at_every_scheduled_run(
    storage: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    """Runs fire at start + k·interval + [0, jitter] (APScheduler); none may find the feed early."""
    async with FeedSite(validators=False) as site:
        site.add_post(1, clock.now - timedelta(days=1), comment_feed=False)
        run = Run(make_settings(feed_blog(site)), storage, fetcher, clock)
        start = clock.now
        late = timedelta(seconds=max(1, int(INTERVAL.total_seconds() * JITTER)))
        for cycle in range(30):
            clock.now = start + INTERVAL * cycle + (late if cycle % 2 == 0 else timedelta(0))
            outcomes = await run.poller.poll_blog(run.blog("modite"))
            assert [o.feed for o in outcomes] == ["modite:posts"], f"run {cycle} skipped"


# --- never two polls of one blog at once ----------------------------------------------


async def test_two_polls_of_one_blog_never_overlap_but_blogs_do(
    storage: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    both = Load()
    async with FeedSite(shared=[both]) as one, FeedSite(shared=[both]) as other:
        for site in (one, other):
            site.add_post(1, clock.now - timedelta(days=1), comment_feed=False)
            site.delay = 0.2
        blogs = feed_blog(one, "one"), feed_blog(other, "other")
        run = Run(make_settings(*blogs), storage, fetcher, clock)

        first, second = await asyncio.gather(
            run.poller.poll_blog(run.blog("one"), force=True),
            run.poller.poll_blog(run.blog("one"), force=True),
        )

        assert one.load.peak == 1, "the second poll of a blog waits for the first"
        assert [o.outcome for o in (*first, *second)] == [Outcome.UPDATED, Outcome.NOT_MODIFIED]
        assert "If-None-Match" in one.seen("/feed")[1].headers, "it saw the first one's result"

        await asyncio.gather(
            run.poller.poll_all(force=True),
            run.poller.poll_blog(run.blog("one"), force=True),
            run.poller.poll_all(force=True),
        )

        assert (len(one.seen("/feed")), len(other.seen("/feed"))) == (5, 2), "every poll ran"
        assert (one.load.peak, other.load.peak) == (1, 1), "one at a time per blog, all ways"
        assert both.peak == 2, "different blogs are polled at the same time"


async def test_poll_all_prepares_many_blogs_in_chunks_letting_the_loop_run(
    storage: Storage, fetcher: Fetcher, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "PREPARE_CHUNK", 2)
    async with FeedSite() as site:
        site.add_post(1, clock.now - timedelta(days=1), comment_feed=False)
        blogs = [feed_blog(site, f"b{n}") for n in range(5)]
        run = Run(make_settings(*blogs), storage, fetcher, clock)
        ticks = 0
        prepared_at: list[tuple[int, list[str]]] = []  # (ticks, blogs) per chunk prepared
        keys = run.poller._keys

        def recording_keys(chunk: Sequence[BlogConfig]) -> list[str]:
            prepared_at.append((ticks, [blog.name for blog in chunk]))
            return keys(chunk)

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        monkeypatch.setattr(run.poller, "_keys", recording_keys)
        ticking = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        outcomes = await run.poller.poll_all(force=True)
        ticking.cancel()

        assert sorted(o.feed for o in outcomes) == sorted(f"b{n}:posts" for n in range(5))
        assert [names for _, names in prepared_at] == [["b0", "b1"], ["b2", "b3"], ["b4"]]
        moments = [at for at, _ in prepared_at]
        assert moments == sorted(set(moments)), "other tasks ran between the chunks"


class StorageGoneUpdater(Updater):
    """Fails one feed the way a lost database would: update_feed itself raises."""

    async def update_feed(self, blog: BlogConfig, state: FeedState, source: Any) -> FeedOutcome:
        if state.key.endswith("?p=1"):
            raise RuntimeError("the database went away")
        return await super().update_feed(blog, state, source)


async def test_an_error_escaping_one_feed_leaves_no_poll_running(
    storage: Storage, fetcher: Fetcher, clock: Clock
) -> None:
    async with FeedSite() as site:
        site.add_post(1, clock.now - timedelta(days=2))
        site.add_post(2, clock.now - timedelta(days=1))
        settings = make_settings(feed_blog(site))
        updater = StorageGoneUpdater(
            settings, storage, fetcher, ParserPool(mode="inline"), clock=clock
        )
        poller = Poller(settings, updater)
        site.delay = 0.3

        with pytest.raises(RuntimeError, match="the database went away"):
            await poller.poll_blog(settings.blogs[0], force=True)

        other = await storage.get_feed(f"modite:comments:{site.post_guid(site.posts[1])}")
        assert other is not None and other.last_success_at == clock.now, (
            "the other comment feed was polled to the end before the error surfaced"
        )
