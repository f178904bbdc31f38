"""The update pipeline for one feed, end to end: a real feed server, Fetcher, parser and database.

``FeedSite`` (a small blog on 127.0.0.1 whose posts and comments a test changes
between polls) and ``Clock`` are shared with the poller, planner and delivery tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from bot.config import AnnounceConfig, BlogConfig, PollingConfig, Settings
from bot.events import Event, FeedFailing, FeedRecovered, NewPost
from bot.feeds.errors import RetrieveError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import ParsedFeed
from bot.feeds.parse import ParserPool
from bot.feeds.sources.base import NotModified, ParseContext, Retrieved, Source
from bot.feeds.sources.feed import FeedPostsSource
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.storage import Storage
from bot.storage.engine import create_engine, normalise_url
from bot.storage.records import FeedState
from tests.localsite import LocalSite

RSS = "application/rss+xml; charset=utf-8"
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Oops</title></head><body>Not here</body></html>"
INTERVAL = timedelta(minutes=5)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- a blog on 127.0.0.1 --------------------------------------------------------------


@dataclass
class SiteComment:
    n: int
    author: str
    text: str
    published: datetime


@dataclass
class SitePost:
    n: int
    title: str
    published: datetime
    url: str | None = None  # default: <site>/p/<n>/
    comments: list[SiteComment] = field(default_factory=list)
    comment_feed: bool = True
    text: str | None = None  # default: "The text of post <n>."


@dataclass
class Load:
    """How many requests are being answered right now, and the most at once."""

    active: int = 0
    peak: int = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            self.active -= 1


@dataclass
class Request:
    path: str
    headers: CIMultiDictProxy[str]


class FeedSite(LocalSite):
    """A blog: home page ``/``, posts RSS ``/feed``, per-post comments ``/comments/<n>.rss``.

    ``validators`` turns ETag/Last-Modified (and 304 answers) on; ``failure``
    makes ``/feed`` answer ``(status, headers)``; ``html`` makes it serve a web page;
    ``comments_link`` lists the site-wide ``/comments/feed`` on the home page and
    ``home_head`` is added to its ``<head>``; every answer waits ``delay`` seconds
    and is counted in ``load`` and in the ``shared`` loads other sites count in too.
    """

    def __init__(
        self, *, validators: bool = True, title: str = "Modite", shared: Sequence[Load] = ()
    ) -> None:
        self.validators = validators
        self.title = title
        self.posts: list[SitePost] = []
        self.failure: tuple[int, dict[str, str]] | None = None
        self.html = False
        self.home_links = True
        self.comments_link = False
        self.home_head = ""
        self.delay = 0.0
        self.load = Load()
        self.shared = tuple(shared)
        self.requests: list[Request] = []
        self._comment_numbers = iter(range(1000, 100_000))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._home)
        app.router.add_get("/feed", self._feed)
        app.router.add_get("/comments/feed", self._all_comments)
        app.router.add_get("/comments/{n:\\d+}.rss", self._comments)

    def middlewares(self) -> list[Any]:
        return [self._record]

    def add_post(self, n: int, published: datetime, *, comments: int = 0, **extra: Any) -> SitePost:
        post = SitePost(n, f"Post number {n}", published, **extra)
        self.posts.append(post)
        for _ in range(comments):
            self.add_comment(post, published + timedelta(minutes=len(post.comments) + 1))
        return post

    def add_comment(self, post: SitePost, published: datetime) -> SiteComment:
        n = next(self._comment_numbers)
        comment = SiteComment(n, f"Reader {n}", f"Comment {n} on post {post.n}", published)
        post.comments.append(comment)
        return comment

    def post_guid(self, post: SitePost) -> str:
        return f"{self.base}/?p={post.n}"

    def post_url(self, post: SitePost) -> str:
        return post.url or f"{self.base}/p/{post.n}/"

    def seen(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # --- rendering ---

    def posts_rss(self) -> bytes:
        items = []
        for post in sorted(self.posts, key=lambda p: p.published, reverse=True):
            wfw = (
                f"<wfw:commentRss>{self.base}/comments/{post.n}.rss</wfw:commentRss>"
                if post.comment_feed
                else ""
            )
            items.append(
                f"<item><title>{escape(post.title)}</title>"
                f"<link>{escape(self.post_url(post))}</link>"
                f'<guid isPermaLink="false">{self.post_guid(post)}</guid>'
                f"<pubDate>{format_datetime(post.published, usegmt=True)}</pubDate>"
                f"<description>{escape(post.text or f'The text of post {post.n}.')}</description>"
                f"{wfw}</item>"
            )
        return _rss(self.title, self.base + "/", items)

    def comments_rss(self, post: SitePost | None = None) -> bytes:
        """One post's comments feed, or the site-wide one (``post`` None)."""
        posts = [post] if post is not None else self.posts
        pairs = [(p, c) for p in posts for c in p.comments]
        items = []
        for of, comment in sorted(pairs, key=lambda pair: pair[1].published, reverse=True):
            link = f"{self.post_url(of)}#comment-{comment.n}"
            items.append(
                f"<item><title>By: {comment.author}</title><link>{escape(link)}</link>"
                f"<dc:creator>{comment.author}</dc:creator>"
                f'<guid isPermaLink="false">{self.post_guid(of)}#comment-{comment.n}</guid>'
                f"<pubDate>{format_datetime(comment.published, usegmt=True)}</pubDate>"
                f"<description>{escape(comment.text)}</description></item>"
            )
        if post is None:
            return _rss(f"Comments for {self.title}", self.base + "/", items)
        return _rss(f"Comments on: {post.title}", self.post_url(post), items)

    # --- handlers ---

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(Request(request.path, request.headers))
        with contextlib.ExitStack() as counted:
            for load in (self.load, *self.shared):
                counted.enter_context(load.counting())
            if self.delay:
                await asyncio.sleep(self.delay)
            response: web.StreamResponse = await handler(request)
        return response

    async def _home(self, request: web.Request) -> web.Response:
        link = (
            f'<link rel="alternate" type="application/rss+xml" title="{self.title} Feed" '
            f'href="{self.base}/feed">'
            if self.home_links
            else ""
        )
        if self.comments_link:
            link += (
                f'<link rel="alternate" type="application/rss+xml" '
                f'title="{self.title} Comments Feed" href="{self.base}/comments/feed">'
            )
        head = f"<title>{self.title}</title>{link}{self.home_head}"
        page = f"<!DOCTYPE html><html><head>{head}</head><body/></html>"
        return web.Response(text=page, content_type="text/html")

    async def _feed(self, request: web.Request) -> web.Response:
        if self.failure is not None:
            status, headers = self.failure
            return web.Response(status=status, text=f"status {status}", headers=headers)
        if self.html:
            return web.Response(body=HTML_PAGE, content_type="text/html")
        return self._answer(request, self.posts_rss())

    async def _comments(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        post = next((p for p in self.posts if p.n == n), None)
        if post is None:
            return web.Response(status=404, text="no such post")
        return self._answer(request, self.comments_rss(post))

    async def _all_comments(self, request: web.Request) -> web.Response:
        return self._answer(request, self.comments_rss())

    def _answer(self, request: web.Request, body: bytes) -> web.Response:
        headers = {"Content-Type": RSS}
        if self.validators:
            digest = hashlib.sha256(body).hexdigest()[:16]
            etag = f'"{digest}"'
            modified = format_datetime(T0 + timedelta(seconds=int(digest[:6], 16)), usegmt=True)
            headers |= {"ETag": etag, "Last-Modified": modified}
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)


def _rss(title: str, link: str, items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>A test blog</description>{''.join(items)}</channel></rss>"
    ).encode()


class Clock:
    """The pipeline's notion of now, moved by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


class CountingParser(ParserPool):
    """The real pool, counting how often the pipeline asks it to parse."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        return await super().run(func, *args, **kwargs)


def feed_blog(site: FeedSite, name: str = "modite", **extra: Any) -> BlogConfig:
    values: dict[str, Any] = {
        "name": name,
        "platform": "feed",
        "url": site.url("/"),
        "posts_feed": site.url("/feed"),
        "announce": AnnounceConfig(channel=111),
    }
    values.update(extra)
    return BlogConfig.model_validate(values)


def settings_for(*blogs: BlogConfig, **polling: Any) -> Settings:
    return Settings(polling=PollingConfig(interval=INTERVAL, **polling), blogs=list(blogs))


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as served:
        yield served


@pytest.fixture
def parser() -> CountingParser:
    return CountingParser(mode="inline")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@dataclass
class Harness:
    """One blog's posts feed and an Updater over real parts."""

    site: FeedSite
    blog: BlogConfig
    updater: Updater
    storage: Storage
    clock: Clock
    parser: CountingParser

    @property
    def key(self) -> str:
        return f"{self.blog.name}:posts"

    async def state(self) -> FeedState:
        stored = await self.storage.get_feed(self.key)
        return stored or FeedState(
            key=self.key, blog=self.blog.name, url=str(self.blog.posts_feed), role="posts"
        )

    async def poll(self, source: Source | None = None) -> FeedOutcome:
        state = await self.state()
        return await self.updater.update_feed(
            self.blog, state, source or FeedPostsSource(state.url)
        )

    async def pending(self) -> list[Event]:
        return [stored.event for stored in await self.storage.pending_events(limit=1000)]


def make_harness(
    site: FeedSite,
    storage: Storage,
    fetcher: Fetcher,
    parser: CountingParser,
    clock: Clock,
    **polling: Any,
) -> Harness:
    blog = feed_blog(site)
    settings = settings_for(blog, **polling)
    updater = Updater(settings, storage, fetcher, parser, clock=clock, rng=random.Random(7))
    return Harness(site, blog, updater, storage, clock, parser)


@pytest.fixture
def harness(
    site: FeedSite, storage: Storage, fetcher: Fetcher, parser: CountingParser, clock: Clock
) -> Harness:
    return make_harness(site, storage, fetcher, parser, clock)


@pytest.fixture
def harness_each_db(
    site: FeedSite,
    storage_each_db: Storage,
    fetcher: Fetcher,
    parser: CountingParser,
    clock: Clock,
) -> Harness:
    """The harness on a SQLite file and on PostgreSQL."""
    return make_harness(site, storage_each_db, fetcher, parser, clock)


def old(days: int) -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=days)


# --- the happy path -------------------------------------------------------------------


async def test_first_poll_is_a_baseline_that_stores_items_and_announces_nothing(
    harness_each_db: Harness,
) -> None:
    harness = harness_each_db
    for n in (1, 2, 3):
        harness.site.add_post(n, old(n))
    outcome = await harness.poll()

    assert outcome.outcome is Outcome.UPDATED and outcome.events == 0
    assert await harness.storage.pending_count() == 0
    guids = [harness.site.post_guid(p) for p in harness.site.posts]
    stored = await harness.storage.get_items("modite", guids)
    assert sorted(stored) == sorted(guids)
    assert stored[guids[0]].entry.title == "Post number 1"
    state = await harness.state()
    assert state.synced_at == harness.clock.now == state.last_success_at
    assert state.failures == 0 and state.last_error is None
    assert state.etag is not None and state.last_modified is not None and state.body_hash
    assert state.next_poll_at is not None
    spread = INTERVAL * harness.updater.settings.polling.jitter
    assert INTERVAL - spread <= state.next_poll_at - harness.clock.now <= INTERVAL + spread


async def test_a_new_item_is_exactly_one_new_post_event(harness_each_db: Harness) -> None:
    harness = harness_each_db
    harness.site.add_post(1, old(1))
    await harness.poll()
    new = harness.site.add_post(2, old(2))
    harness.clock.advance(INTERVAL)

    outcome = await harness.poll()

    assert outcome.outcome is Outcome.UPDATED and outcome.events == 1
    [event] = await harness.pending()
    assert isinstance(event, NewPost) and event.blog == "modite"
    assert event.post.key == harness.site.post_guid(new)
    assert event.post.title == "Post number 2"
    assert event.post.url == harness.site.post_url(new)
    assert event.post.comments_feed == harness.site.url("/comments/2.rss")
    harness.clock.advance(INTERVAL)
    again = await harness.poll()
    assert again.events == 0 and len(await harness.pending()) == 1, "never announced twice"


async def test_backfill_announces_the_newest_posts_on_the_first_poll(
    site: FeedSite, storage: Storage, fetcher: Fetcher, parser: CountingParser, clock: Clock
) -> None:
    for n in range(1, 6):
        site.add_post(n, old(n))
    blog = feed_blog(site, announce=AnnounceConfig(channel=111, backfill=2))
    updater = Updater(settings_for(blog), storage, fetcher, parser, clock=clock)
    state = FeedState(key="modite:posts", blog="modite", url=site.url("/feed"), role="posts")

    outcome = await updater.update_feed(blog, state, FeedPostsSource(state.url))

    events = [s.event for s in await storage.pending_events()]
    assert outcome.events == 2
    assert [e.post.title for e in events if isinstance(e, NewPost)] == [
        "Post number 4",
        "Post number 5",
    ], "the two newest, oldest first"
    assert len(await storage.get_items("modite", [site.post_guid(p) for p in site.posts])) == 5


# --- not parsing what did not change --------------------------------------------------


async def test_not_modified_sends_validators_back_and_skips_parsing(harness: Harness) -> None:
    harness.site.add_post(1, old(1))
    await harness.poll()
    first = await harness.state()
    assert harness.parser.calls == 1
    harness.clock.advance(INTERVAL)

    outcome = await harness.poll()

    assert outcome.outcome is Outcome.NOT_MODIFIED and outcome.events == 0
    assert harness.parser.calls == 1, "a 304 is never parsed"
    conditional = harness.site.seen("/feed")[-1].headers
    assert conditional["If-None-Match"] == first.etag
    assert conditional["If-Modified-Since"] == first.last_modified
    state = await harness.state()
    assert (state.etag, state.last_modified, state.body_hash) == (
        first.etag,
        first.last_modified,
        first.body_hash,
    )
    assert state.last_polled_at == harness.clock.now and state.synced_at == first.synced_at
    assert state.next_poll_at is not None and state.next_poll_at > harness.clock.now

    harness.site.add_post(2, old(2))
    harness.clock.advance(INTERVAL)
    changed = await harness.poll()
    assert changed.outcome is Outcome.UPDATED and changed.events == 1
    assert harness.parser.calls == 2
    assert (await harness.state()).etag != first.etag, "new validators saved on success"


async def test_same_body_without_validators_is_unchanged_and_not_parsed(
    storage: Storage, fetcher: Fetcher, parser: CountingParser, clock: Clock
) -> None:
    async with FeedSite(validators=False) as site:
        harness = make_harness(site, storage, fetcher, parser, clock)
        site.add_post(1, old(1))
        await harness.poll()
        harness.clock.advance(INTERVAL)

        outcome = await harness.poll()

        assert outcome.outcome is Outcome.UNCHANGED and outcome.events == 0
        assert parser.calls == 1, "an identical body is not parsed again"
        assert "If-None-Match" not in site.seen("/feed")[-1].headers
        state = await harness.state()
        assert state.etag is None and state.last_polled_at == harness.clock.now
        site.add_post(2, old(2))
        harness.clock.advance(INTERVAL)
        assert (await harness.poll()).events == 1
        assert parser.calls == 2


async def test_a_body_hash_stored_by_an_older_version_costs_one_parse_and_no_event(
    storage: Storage, fetcher: Fetcher, parser: CountingParser, clock: Clock
) -> None:
    async with FeedSite(validators=False) as site:
        harness = make_harness(site, storage, fetcher, parser, clock)
        site.add_post(1, old(1))
        await harness.poll()
        state = await harness.state()
        assert state.body_hash is not None and state.body_hash.startswith("xxh3-128:")
        sha256 = hashlib.sha256(b"the same body, as an older version hashed it").hexdigest()
        await storage.save_feed(dataclasses.replace(state, body_hash=sha256))
        harness.clock.advance(INTERVAL)

        again = await harness.poll()

        assert again.outcome is Outcome.UPDATED and again.events == 0
        assert parser.calls == 2, "parsed once more, and nothing announced twice"
        harness.clock.advance(INTERVAL)
        assert (await harness.poll()).outcome is Outcome.UNCHANGED
        assert parser.calls == 2


def test_the_body_hash_tells_bodies_and_their_split_apart() -> None:
    def hashed(*bodies: bytes) -> str:
        return Retrieved(url="http://blog.example/feed", bodies=bodies).body_hash

    assert hashed(b"<rss/>") == hashed(b"<rss/>")
    assert hashed(b"<rss/>") != hashed(b"<rss />")
    assert hashed(b"ab", b"c") != hashed(b"a", b"bc") != hashed(b"abc")
    assert len({hashed(bytes([n]) * 28_352) for n in range(256)}) == 256


async def test_cache_control_max_age_postpones_the_next_poll(harness: Harness) -> None:
    harness.site.add_post(1, old(1))
    await harness.poll()

    async def max_age(fetcher: Fetcher, state: FeedState, now: datetime) -> NotModified:
        return NotModified(max_age=3600)

    source = FeedPostsSource(harness.site.url("/feed"))
    source.retrieve = max_age  # type: ignore[method-assign]
    await harness.poll(source)
    state = await harness.state()
    assert state.next_poll_at is not None
    assert state.next_poll_at >= harness.clock.now + timedelta(seconds=3600)


# --- failures -------------------------------------------------------------------------


async def test_failures_back_off_alert_once_and_recover_once(harness_each_db: Harness) -> None:
    harness = harness_each_db
    harness.site.add_post(1, old(1))
    await harness.poll()
    harness.site.failure = (500, {})
    failing_after = harness.updater.settings.polling.failing_after
    assert failing_after == 3

    for attempt in range(1, 6):
        harness.clock.advance(INTERVAL)
        outcome = await harness.poll()
        state = await harness.state()
        assert outcome.outcome is Outcome.FAILED
        assert state.failures == attempt
        assert state.last_error is not None and "HTTP 500" in state.last_error
        assert harness.site.url("/feed") in state.last_error
        ceiling = min(INTERVAL * 2 ** (attempt - 1), harness.updater.settings.polling.backoff_max)
        assert state.next_poll_at is not None
        assert harness.clock.now < state.next_poll_at <= harness.clock.now + ceiling
        alerts = [e for e in await harness.pending() if isinstance(e, FeedFailing)]
        assert len(alerts) == (1 if attempt >= failing_after else 0), attempt
    [alert] = alerts
    assert (alert.feed, alert.url, alert.failures) == ("modite:posts", harness.site.url("/feed"), 3)
    assert "HTTP 500" in alert.error
    failing_since = (await harness.state()).failing_since
    assert failing_since is not None

    harness.site.failure = None
    harness.site.add_post(2, old(2))
    harness.clock.advance(INTERVAL)
    outcome = await harness.poll()

    assert outcome.outcome is Outcome.UPDATED and outcome.events == 2
    events = await harness.pending()
    assert [type(e) for e in events] == [FeedFailing, FeedRecovered, NewPost]
    recovered = events[1]
    assert isinstance(recovered, FeedRecovered) and recovered.failing_since == failing_since
    state = await harness.state()
    assert (state.failures, state.last_error, state.failing_since) == (0, None, None)
    harness.clock.advance(INTERVAL)
    await harness.poll()
    assert len(await harness.pending()) == 3, "recovery is announced once"


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_respected(harness: Harness, status: int) -> None:
    harness.site.add_post(1, old(1))
    await harness.poll()
    harness.site.failure = (status, {"Retry-After": "7200"})
    harness.clock.advance(INTERVAL)

    outcome = await harness.poll()

    state = await harness.state()
    assert outcome.outcome is Outcome.FAILED
    assert state.next_poll_at is not None
    assert state.next_poll_at >= harness.clock.now + timedelta(seconds=7200)
    assert state.last_error is not None and "retry after 7200s" in state.last_error


async def test_an_html_page_is_a_parse_failure_with_a_clear_message(harness: Harness) -> None:
    harness.site.html = True

    outcome = await harness.poll()

    state = await harness.state()
    assert outcome.outcome is Outcome.FAILED
    assert state.last_error == (
        f"Parsing {harness.site.url('/feed')} failed: not a feed: the server sent an HTML page."
    )
    assert outcome.error == state.last_error
    assert state.failures == 1 and state.synced_at is None and state.body_hash is None
    harness.site.html = False
    harness.site.add_post(1, old(1))
    harness.clock.advance(INTERVAL)
    ok = await harness.poll()
    assert ok.outcome is Outcome.UPDATED and ok.events == 0, "the first good poll is the baseline"


class BrokenSource:
    """A source with a bug: retrieval or parsing raises something no one expected."""

    def __init__(self, where: str) -> None:
        self.where = where

    @property
    def parse(self) -> Callable[[Retrieved, ParseContext], ParsedFeed]:
        return _broken_parse

    async def retrieve(self, fetcher: Fetcher, state: FeedState, now: datetime) -> Retrieved:
        if self.where == "retrieve":
            raise RuntimeError("source bug in retrieve")
        return Retrieved(url=state.url, bodies=(b"anything",))


def _broken_parse(retrieved: Retrieved, ctx: ParseContext) -> ParsedFeed:
    raise RuntimeError("source bug in parse")


@pytest.mark.parametrize("where", ["retrieve", "parse"])
async def test_an_unexpected_error_in_a_source_is_recorded_not_raised(
    harness: Harness, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.feeds.update"):
        outcome = await harness.poll(BrokenSource(where))

    state = await harness.state()
    assert outcome.outcome is Outcome.FAILED
    assert state.last_error == f"unexpected error: RuntimeError('source bug in {where}')"
    assert state.failures == 1 and state.next_poll_at is not None
    loud = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(loud) == 1 and loud[0].exc_info is not None, "unexpected errors are loud, once"


# --- atomicity ------------------------------------------------------------------------


async def _sql(database_url: str, *statements: str) -> None:
    engine = create_engine(normalise_url(database_url))
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def _fail_event_inserts(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER fail_events BEFORE INSERT ON events "
            "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END"
        ]
    return [
        "CREATE FUNCTION fail_events() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk full (test)'; END $$",
        "CREATE TRIGGER fail_events BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION fail_events()",
    ]


def _allow_event_inserts(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return ["DROP TRIGGER fail_events"]
    return ["DROP TRIGGER fail_events ON events", "DROP FUNCTION fail_events()"]


async def test_items_and_events_are_written_together_or_not_at_all(
    harness_each_db: Harness, database_url: str
) -> None:
    harness = harness_each_db
    harness.site.add_post(1, old(1))
    await harness.poll()
    synced = await harness.state()
    new = harness.site.add_post(2, old(2))
    await _sql(database_url, *_fail_event_inserts(harness.storage.dialect))
    harness.clock.advance(INTERVAL)

    crashed = await harness.poll()

    assert crashed.outcome is Outcome.FAILED
    assert crashed.error is not None and "disk full (test)" in crashed.error
    assert await harness.storage.get_items("modite", [harness.site.post_guid(new)]) == {}
    assert await harness.storage.pending_count() == 0
    state = await harness.state()
    assert (state.body_hash, state.etag) == (synced.body_hash, synced.etag), (
        "the validators of the lost poll were not kept, so it is fetched and parsed again"
    )

    await _sql(database_url, *_allow_event_inserts(harness.storage.dialect))
    harness.clock.advance(INTERVAL)
    retried = await harness.poll()

    assert retried.outcome is Outcome.UPDATED and retried.events == 1
    [event] = await harness.pending()
    assert isinstance(event, NewPost) and event.post.key == harness.site.post_guid(new)
    assert await harness.storage.get_items("modite", [harness.site.post_guid(new)])


# --- the real process pool ------------------------------------------------------------


async def test_the_pipeline_over_the_real_process_pool(
    site: FeedSite, sqlite_url: str, fetcher: Fetcher, clock: Clock
) -> None:
    pool = CountingParser()
    assert pool.mode == "process"
    storage = await Storage.open(sqlite_url)
    try:
        harness = make_harness(site, storage, fetcher, pool, clock)
        site.add_post(1, old(1))
        assert (await harness.poll()).events == 0
        site.add_post(2, old(2))
        clock.advance(INTERVAL)
        outcome = await harness.poll()
        broken = await harness.updater.update_feed(
            harness.blog,
            FeedState(key="modite:broken", blog="modite", url=site.url("/feed"), role="posts"),
            BrokenSource("parse"),
        )
        [event] = await harness.pending()
    finally:
        pool.close()
        await storage.close()
    assert outcome.outcome is Outcome.UPDATED and outcome.events == 1
    assert isinstance(event, NewPost) and event.post.title == "Post number 2"
    assert broken.outcome is Outcome.FAILED
    assert broken.error == "unexpected error: RuntimeError('source bug in parse')"
    assert pool.calls == 3


class CommentServer:
    """Per-post comment listings served by one server (like Isso) that can be down."""

    def __init__(self) -> None:
        self.down = True

    @property
    def parse(self) -> Callable[[Retrieved, ParseContext], ParsedFeed]:
        return _broken_parse

    async def retrieve(self, fetcher: Fetcher, state: FeedState, now: datetime) -> NotModified:
        if self.down:
            raise RetrieveError(state.url, "could not connect to the comment server")
        return NotModified()


async def test_per_post_comment_feeds_of_one_blog_alert_once_and_recover_once(
    harness: Harness,
) -> None:
    server = CommentServer()
    threads = [
        FeedState(
            key=f"modite:comments:post-{n}",
            blog="modite",
            url=f"http://isso.example/?uri=/post-{n}/",
            role="post_comments",
            post_key=f"post-{n}",
            synced_at=T0,
        )
        for n in range(1, 6)
    ]

    async def poll_every_thread() -> None:
        harness.clock.advance(INTERVAL)
        for thread in threads:
            state = await harness.storage.get_feed(thread.key) or thread
            await harness.updater.update_feed(harness.blog, state, server)

    for _ in range(harness.updater.settings.polling.failing_after + 2):
        await poll_every_thread()
    failing = [e for e in await harness.pending() if isinstance(e, FeedFailing)]
    assert [e.feed for e in failing] == ["modite:comments:post-1"], "one alert for the server"
    stored = [await harness.storage.get_feed(t.key) for t in threads]
    assert all(s is not None and s.failing_since is not None for s in stored), "all recorded"

    server.down = False
    await poll_every_thread()
    recovered = [e for e in await harness.pending() if isinstance(e, FeedRecovered)]
    assert [e.feed for e in recovered] == ["modite:comments:post-5"], "when the last recovers"
