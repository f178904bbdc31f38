"""The planner: which listings of a blog to poll, discovered once and kept in the feed rows."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import AnnounceConfig, BlogConfig, CommentsConfig
from bot.events import NewComment, NewPost
from bot.feeds.errors import UpdateError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import Entry, EntryKind
from bot.feeds.plan import (
    UNREAD,
    FeedStates,
    FollowedCache,
    Planned,
    comments_key,
    plan_comments,
    plan_posts,
    planned_comments,
    planned_posts,
    posts_key,
    read_followed_ahead,
)
from bot.feeds.sources.feed import FeedCommentsSource, FeedPostsSource
from bot.feeds.sources.isso import IssoThreadSource
from bot.feeds.sources.wordpress import WordPressCommentsSource, WordPressPostsSource
from bot.storage import Storage
from bot.storage.records import FeedState, ItemWrite, KnownItem, UpdateResult
from tests.feeds.test_update import FeedSite, feed_blog

SYNCED = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as served:
        yield served


def blog_config(**values: Any) -> BlogConfig:
    values.setdefault("name", "modite")
    values.setdefault("announce", AnnounceConfig(channel=111))
    return BlogConfig.model_validate(values)


def stored_post(
    n: int,
    published: datetime | None,
    *,
    comments_feed: str | None = None,
    url: str | None = None,
) -> Entry:
    return Entry(
        kind=EntryKind.POST,
        key=f"post-{n}",
        url=url if url is not None else f"https://blog.example/2025/{n}/post-{n}/",
        title=f"Post {n}",
        published=published,
        comments_feed=comments_feed,
    )


async def store_posts(
    storage: Storage,
    blog: BlogConfig,
    posts: list[Entry],
    removed: AbstractSet[str] = frozenset(),
    *,
    announced: AbstractSet[str] = frozenset(),
    body_hash: str | None = None,
) -> None:
    """Posts as a synced posts feed would have left them: ``announced`` ones as new."""
    state = FeedState(
        key=f"{blog.name}:posts",
        blog=blog.name,
        url="https://blog.example/feed",
        role="posts",
        synced_at=SYNCED,
        body_hash=body_hash,
    )
    writes = tuple(ItemWrite(blog.name, p, "h", removed=p.key in removed) for p in posts)
    events = tuple(NewPost(blog.name, p) for p in posts if p.key in announced)
    await storage.apply_update(UpdateResult(state, writes, events))


# --- posts listings -------------------------------------------------------------------


async def test_a_configured_posts_feed_is_used_without_discovery(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    blog = feed_blog(site)

    [planned] = await plan_posts(blog, storage, fetcher)

    assert isinstance(planned.source, FeedPostsSource)
    assert planned.source.url == planned.state.url == site.url("/feed")
    assert (planned.state.key, planned.state.role, planned.state.blog) == (
        "modite:posts",
        "posts",
        "modite",
    )
    assert await storage.get_feed("modite:posts") == planned.state
    assert site.requests == [], "nothing to discover"


async def test_feeds_are_discovered_once_from_the_home_page(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    site.comments_link = True
    blog = blog_config(platform="feed", url=site.url("/"))

    [planned] = await plan_posts(blog, storage, fetcher)

    assert planned.state.url == site.url("/feed")
    comments = await storage.get_feed("modite:comments")
    assert comments is not None and comments.url == site.url("/comments/feed")
    assert comments.role == "comments"
    assert len(site.seen("/")) == 1
    [again] = await plan_posts(blog, storage, fetcher)
    assert again.state == planned.state
    assert len(site.seen("/")) == 1, "discovered URLs are remembered in the feed rows"

    [site_wide] = await plan_comments(blog, storage, [again])
    assert isinstance(site_wide.source, FeedCommentsSource)
    assert site_wide.source.url == site.url("/comments/feed")
    assert site_wide.source.post_key is None


async def test_a_home_page_without_feeds_is_a_clear_planning_error(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    site.home_links = False
    blog = blog_config(platform="feed", url=site.url("/"))

    with pytest.raises(UpdateError) as caught:
        await plan_posts(blog, storage, fetcher)

    assert str(caught.value) == (
        f"Updating {site.url('/')} failed: "
        "no RSS or Atom feed found on the blog's home page; set posts_feed."
    )
    assert await storage.get_feed("modite:posts") is None


async def test_a_changed_posts_feed_drops_the_old_validators(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    blog = feed_blog(site)
    [planned] = await plan_posts(blog, storage, fetcher)
    await storage.save_feed(
        dataclasses.replace(
            planned.state, etag='"old"', last_modified="x", body_hash="y", synced_at=SYNCED
        )
    )
    moved = feed_blog(site, posts_feed=site.url("/feed?format=rss2"))

    [replanned] = await plan_posts(moved, storage, fetcher)

    assert replanned.state.url == site.url("/feed?format=rss2")
    stored = await storage.get_feed("modite:posts")
    assert stored == replanned.state
    assert (stored.etag, stored.last_modified, stored.body_hash) == (None, None, None)
    assert stored.synced_at == SYNCED, "what was seen stays seen: no new baseline"


async def test_a_blog_that_moved_host_is_discovered_again(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    await storage.save_feed(
        FeedState(
            key="modite:posts",
            blog="modite",
            url="http://old-host.invalid/feed",
            role="posts",
            etag='"old"',
        )
    )
    blog = blog_config(platform="feed", url=site.url("/"))

    [planned] = await plan_posts(blog, storage, fetcher)

    assert planned.state.url == site.url("/feed") and planned.state.etag is None
    assert len(site.seen("/")) == 1


# --- comment listings -----------------------------------------------------------------


async def test_per_post_comment_feeds_follow_the_newest_posts(
    storage: Storage, fetcher: Fetcher
) -> None:
    blog = blog_config(
        platform="feed",
        url="https://blog.example/",
        posts_feed="https://blog.example/feed",
        comments=CommentsConfig(follow_posts=3),
    )
    feed = "https://blog.example/{}/feed/"
    posts = [
        stored_post(1, SYNCED - timedelta(days=3), comments_feed=feed.format(1)),
        stored_post(2, SYNCED - timedelta(days=2), comments_feed=None),
        stored_post(3, SYNCED - timedelta(days=1), comments_feed=feed.format(3)),
        stored_post(4, SYNCED + timedelta(hours=1), comments_feed=feed.format(4)),
        stored_post(5, SYNCED + timedelta(hours=2), comments_feed=feed.format(5)),
    ]
    await store_posts(storage, blog, posts, removed={"post-5"}, announced={"post-4"})

    planned = await plan_comments(blog, storage, await plan_posts(blog, storage, fetcher))

    # newest three not removed: 4, 3, 2; post 2 has no comment feed
    assert [p.state.key for p in planned] == ["modite:comments:post-4", "modite:comments:post-3"]
    for p in planned:
        assert isinstance(p.source, FeedCommentsSource)
        assert p.state.role == "post_comments" and p.state.post_key == p.source.post_key
        assert p.source.url == p.state.url == feed.format(str(p.state.post_key)[len("post-") :])
    new_post, old_post = planned
    assert new_post.state.emit_on_first_poll, "announced as new: its comments are news"
    assert not old_post.state.emit_on_first_poll, "known at the baseline: its comments too"
    assert await storage.get_feed("modite:comments:post-4") == new_post.state

    await storage.save_feed(dataclasses.replace(new_post.state, etag='"kept"'))
    again = await plan_comments(blog, storage, planned)
    assert again[0].state.etag == '"kept"', "existing comment feed rows are reused"


@pytest.mark.parametrize("platform", ["feed", "isso"])
async def test_comments_are_news_for_the_posts_announced_as_new_whatever_their_dates(
    platform: str, storage_each_db: Storage, fetcher: Fetcher
) -> None:
    """The outbox decides, not dates: RSS dates have whole seconds, blogs' clocks run ahead,
    some posts have no date. A post announced (a new_post event, even delivered) was new
    since the first sync or backfilled; any other post was recorded in the baseline."""
    storage = storage_each_db
    blog = blog_config(
        platform=platform,
        url="https://blog.example/",
        posts_feed="https://blog.example/feed",
        isso_url="http://isso.example:8080/" if platform == "isso" else None,
    )
    posts = [
        stored_post(n, published, comments_feed=f"https://blog.example/{n}/feed/")
        for n, published in [
            (1, SYNCED - timedelta(days=1)),
            (2, SYNCED + timedelta(hours=1)),  # dated after the sync, yet there at it
            (3, SYNCED),  # published in the second of the sync, after it
            (4, None),
        ]
    ]
    await store_posts(storage, blog, posts, announced={"post-3", "post-4"})
    [delivered, _] = await storage.pending_events()
    await storage.mark_delivered([delivered.id])
    elsewhere = stored_post(1, SYNCED, comments_feed="https://other.example/1/feed/")
    await storage.enqueue_events(
        [
            NewPost("other", elsewhere),  # the same key, on another blog
            NewComment("modite", Entry(EntryKind.COMMENT, "c-1", post_key="post-1")),
        ]
    )

    planned = await plan_comments(blog, storage, await plan_posts(blog, storage, fetcher))

    news = {str(p.state.post_key): p.state.emit_on_first_poll for p in planned}
    assert news == {"post-1": False, "post-2": False, "post-3": True, "post-4": True}
    for p in planned:
        assert await storage.get_feed(p.state.key) == p.state


async def test_no_comment_listings_without_a_posts_listing(storage: Storage) -> None:
    blog = blog_config(platform="feed", url="https://blog.example/")
    await store_posts(
        storage, blog, [stored_post(1, SYNCED, comments_feed="https://blog.example/1/feed/")]
    )
    assert await plan_comments(blog, storage, []) == []


async def test_isso_threads_of_the_newest_posts(storage: Storage, fetcher: Fetcher) -> None:
    blog = blog_config(
        platform="isso",
        url="https://blog.example/",
        posts_feed="https://blog.example/feed",
        isso_url="http://isso.example:8080/",
    )
    await store_posts(
        storage,
        blog,
        [
            stored_post(1, SYNCED - timedelta(days=1), url="https://blog.example/2025/06/hello/"),
            stored_post(2, SYNCED - timedelta(hours=1), url=""),
        ],
    )

    [planned] = await plan_comments(blog, storage, await plan_posts(blog, storage, fetcher))

    source = planned.source
    assert isinstance(source, IssoThreadSource)
    assert source.isso_url == "http://isso.example:8080/"
    assert source.post_uri == "/2025/06/hello/"
    assert source.post_key == planned.state.post_key == "post-1"
    assert planned.state.url == "http://isso.example:8080/"
    assert planned.state.key == "modite:comments:post-1"


async def test_rows_read_ahead_are_peeked_and_others_are_unread(storage: Storage) -> None:
    await storage.save_feed(FeedState("modite:posts", "modite", "https://b/feed", "posts"))
    states = FeedStates(storage)
    assert states.peek("modite:posts") is UNREAD
    await states.read_ahead(["modite:posts", "modite:comments"])
    found = states.peek("modite:posts")
    assert isinstance(found, FeedState) and found == await states.get("modite:posts")
    assert states.peek("modite:comments") is None  # read: there is no such row


async def test_a_blog_without_comment_listings_plans_none_without_a_query_while_its_posts_stay(
    storage: Storage, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cycle of most feed blogs: planned from the rows read ahead and the cached list."""
    site = {"url": "https://blog.example/", "posts_feed": "https://blog.example/feed"}
    blog = blog_config(platform="feed", **site)
    await store_posts(storage, blog, [stored_post(1, SYNCED)], body_hash="first body")
    states, cache = FeedStates(storage), cast(FollowedCache, {})
    await states.read_ahead([posts_key(blog), comments_key(blog)])
    posts = await plan_posts(blog, storage, fetcher, states=states)
    assert await plan_comments(blog, storage, posts, states=states, followed=cache) == []
    queries: list[str] = []

    async def newest_posts(name: str, limit: int) -> list[KnownItem]:
        queries.append(name)
        return []

    async def no_reads(*_: object) -> None:
        raise AssertionError("the rows were read ahead")

    monkeypatch.setattr(storage, "newest_posts", newest_posts)
    monkeypatch.setattr(storage, "get_feed", no_reads)
    monkeypatch.setattr(storage, "get_feeds", no_reads)
    for _ in range(3):
        assert await plan_comments(blog, storage, posts, states=states, followed=cache) == []
    assert queries == []
    posts_row = await states.get(posts_key(blog))
    assert posts_row is not None
    states.remember(posts_key(blog), dataclasses.replace(posts_row, body_hash="another body"))
    assert await plan_comments(blog, storage, posts, states=states, followed=cache) == []
    assert queries == ["modite"], "a new posts body: its posts are read again"


async def test_followed_posts_read_ahead_in_bulk_plan_what_each_blog_alone_plans(
    storage_each_db: Storage, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_each_db
    site = {"url": "https://blog.example/", "posts_feed": "https://blog.example/feed"}
    isso = "http://isso.example:8080/"
    blogs = [
        blog_config(name="few", platform="feed", comments=CommentsConfig(follow_posts=2), **site),
        blog_config(name="feed", platform="feed", **site),
        blog_config(name="isso", platform="isso", isso_url=isso, **site),
        blog_config(name="site-wide", platform="feed", comments_feed=f"{site['url']}c", **site),
        blog_config(name="discovered", platform="feed", **site),  # a site-wide feed found
        blog_config(name="unsynced", platform="feed", **site),
    ]
    posts = [
        stored_post(n, SYNCED - timedelta(days=n), comments_feed=f"https://blog.example/{n}/c")
        for n in range(1, 6)
    ]
    posts[1] = stored_post(2, SYNCED - timedelta(days=2))  # no comment feed
    posts[2] = stored_post(3, None, url="", comments_feed="https://blog.example/3/c")
    for blog in blogs:
        body_hash = None if blog.name == "unsynced" else f"body of {blog.name}"
        await store_posts(storage, blog, posts, {"post-4"}, body_hash=body_hash)
    await storage.save_feed(FeedState("discovered:comments", "discovered", "https://c", "comments"))
    comments = FeedState("feed:elsewhere", "feed", "https://blog.example/1/c", "comments")
    comment = Entry(EntryKind.COMMENT, "c-1", post_key="post-1", published=SYNCED)
    await storage.apply_update(UpdateResult(comments, (ItemWrite("feed", comment, "h"),)))

    def planned(found: list[Planned]) -> list[tuple[FeedState, str, dict[str, object]]]:
        return [(p.state, type(p.source).__name__, vars(p.source)) for p in found]

    alone: dict[str, list[tuple[FeedState, str, dict[str, object]]]] = {}
    for blog in blogs:  # as planning did before: each blog's own query
        found = await plan_comments(blog, storage, await plan_posts(blog, storage, fetcher))
        alone[blog.name] = planned(found)
    queries: list[tuple[str, ...]] = []
    newest_posts_many, newest_posts = storage.newest_posts_many, storage.newest_posts

    async def many(names: Iterable[str], limit: int) -> dict[str, list[KnownItem]]:
        queries.append(tuple(sorted(names)))
        return await newest_posts_many(queries[-1], limit)

    async def one(blog: str, limit: int) -> list[KnownItem]:
        queries.append((f"{blog} alone",))
        return await newest_posts(blog, limit)

    monkeypatch.setattr(storage, "newest_posts_many", many)
    monkeypatch.setattr(storage, "newest_posts", one)
    states, cache = FeedStates(storage), cast(FollowedCache, {})
    await states.read_ahead(key for b in blogs for key in (posts_key(b), comments_key(b)))

    await read_followed_ahead(blogs, states, cache)

    assert sorted(queries) == [("feed", "isso"), ("few",)], "one query per follow_posts"
    for blog in blogs:
        posts_planned = await plan_posts(blog, storage, fetcher, states=states)
        found = await plan_comments(blog, storage, posts_planned, states=states, followed=cache)
        assert planned(found) == alone[blog.name], blog.name
    assert queries[2:] == [("unsynced alone",)], "no posts feed body yet: nothing to cache by"
    assert [p[0].post_key for p in alone["few"]] == ["post-1"]
    assert [p[0].post_key for p in alone["feed"]] == ["post-1", "post-5", "post-3"]
    assert [p[0].post_key for p in alone["isso"]] == ["post-1", "post-2", "post-5"]
    assert [p[0].key for p in alone["site-wide"]] == ["site-wide:comments"]
    assert [p[0].key for p in alone["discovered"]] == ["discovered:comments"]

    queries.clear()
    await read_followed_ahead(blogs, FeedStates(storage), cache)
    assert queries == [], "nothing to read for blogs already in the cache"


# --- WordPress ------------------------------------------------------------------------


@pytest.fixture
async def wordpress_home() -> AsyncIterator[TestServer]:
    """The two answers WordPress discovery reads: a home page and the REST index."""

    async def home(request: web.Request) -> web.Response:
        link = f'<link rel="https://api.w.org/" href="http://{request.host}/wp-json/">'
        return web.Response(text=f"<html><head>{link}</head></html>", content_type="text/html")

    async def index(request: web.Request) -> web.Response:
        return web.json_response({"namespaces": ["oembed/1.0", "wp/v2"]})

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/wp-json/", index)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_wordpress_uses_the_discovered_rest_root_for_posts_and_comments(
    wordpress_home: TestServer, storage: Storage, fetcher: Fetcher
) -> None:
    root = f"http://127.0.0.1:{wordpress_home.port}/"
    blog = blog_config(
        platform="wordpress",
        url=root,
        comments=CommentsConfig(include_pingbacks=True, watch_window=timedelta(days=3)),
    )

    posts = await plan_posts(blog, storage, fetcher)
    comments = await plan_comments(blog, storage, posts)

    [planned_posts], [planned_comments] = posts, comments
    assert isinstance(planned_posts.source, WordPressPostsSource)
    assert planned_posts.source.api_root == planned_posts.state.url == root + "wp-json/"
    assert isinstance(planned_comments.source, WordPressCommentsSource)
    assert planned_comments.state.key == "modite:comments"
    assert planned_comments.state.url == root + "wp-json/"
    assert (await storage.get_feed("modite:comments")) == planned_comments.state

    await wordpress_home.close()
    [again] = await plan_posts(blog, storage, fetcher)
    assert again.state.url == root + "wp-json/", "the root is discovered once"


async def test_wordpress_without_a_rest_api_fails_with_what_was_tried(
    site: FeedSite, storage: Storage, fetcher: Fetcher
) -> None:
    blog = blog_config(platform="wordpress", url=site.url("/"))

    with pytest.raises(UpdateError) as caught:
        await plan_posts(blog, storage, fetcher)

    message = str(caught.value)
    assert "no WordPress REST API found" in message
    assert site.url("/wp-json/") in message and "?rest_route=/" in message
    assert await storage.get_feed("modite:posts") is None


# --- planning without a coroutine (every cycle after a blog's first) ----------------------


def _planned(planned: list[Planned] | None) -> list[tuple[object, ...]] | None:
    """What makes a plan: each row and its source's kind and settings."""
    if planned is None:
        return None
    return [(p.state, type(p.source), vars(p.source)) for p in planned]


STEADY_BLOGS: dict[str, dict[str, Any]] = {
    "feed, posts feed set": {"platform": "feed", "posts_feed": "https://blog.example/feed"},
    "feed, discovered": {"platform": "feed"},
    "feed, site-wide comments": {
        "platform": "feed",
        "posts_feed": "https://blog.example/feed",
        "comments_feed": "https://blog.example/comments/feed",
    },
    "feed, per-post comment feeds": {
        "platform": "feed",
        "posts_feed": "https://blog.example/feed",
        "comments": CommentsConfig(follow_posts=2),
    },
    "isso": {
        "platform": "isso",
        "posts_feed": "https://blog.example/feed",
        "isso_url": "http://isso.example:8080/",
    },
    "wordpress": {"platform": "wordpress"},
}


async def steady_blog(storage: Storage, fetcher: Fetcher, case: str) -> BlogConfig:
    """A blog planned once already (rows saved): what every later cycle plans from."""
    blog = blog_config(url="https://blog.example/", **STEADY_BLOGS[case])
    if blog.platform == "wordpress":  # as discovery leaves them
        for key, role in [(posts_key(blog), "posts"), (comments_key(blog), "comments")]:
            await storage.save_feed(
                FeedState(key, blog.name, "https://blog.example/wp-json/", role)
            )
    elif case == "feed, discovered":
        await storage.save_feed(
            FeedState(posts_key(blog), blog.name, "https://blog.example/index.xml", "posts")
        )
    feed = "https://blog.example/{}/feed/"
    posts = [
        stored_post(n, SYNCED - timedelta(days=n), comments_feed=feed.format(n)) for n in (1, 2)
    ]
    await store_posts(storage, blog, posts, body_hash="body")
    if case == "feed, discovered":  # store_posts wrote its own URL: the discovered one back
        await storage.save_feed(
            FeedState(
                posts_key(blog),
                blog.name,
                "https://blog.example/index.xml",
                "posts",
                body_hash="body",
                synced_at=SYNCED,
            )
        )
    await plan_comments(blog, storage, await plan_posts(blog, storage, fetcher))
    return blog


@pytest.mark.parametrize("case", list(STEADY_BLOGS))
async def test_a_steady_blog_is_planned_without_a_coroutine_as_with_one(
    case: str, storage: Storage, fetcher: Fetcher
) -> None:
    blog = await steady_blog(storage, fetcher, case)
    states, cache = FeedStates(storage), cast(FollowedCache, {})
    await states.read_ahead([posts_key(blog), comments_key(blog)])
    await read_followed_ahead([blog], states, cache)

    posts = planned_posts(blog, states)
    assert posts is not None
    assert _planned(posts) == _planned(await plan_posts(blog, storage, fetcher, states=states))
    comments = planned_comments(blog, posts, states, cache)
    assert comments is not None
    assert comments, "every case has a comment listing"
    assert _planned(comments) == _planned(
        await plan_comments(blog, storage, posts, states=states, followed=cache)
    )
    assert planned_comments(blog, [], states, cache) == []


@pytest.mark.parametrize("case", list(STEADY_BLOGS))
async def test_planning_waits_for_what_is_not_known(
    case: str, storage: Storage, fetcher: Fetcher
) -> None:
    """``None`` (await the coroutine) for a row not read, and for a cache not filled."""
    blog = await steady_blog(storage, fetcher, case)
    states = FeedStates(storage)
    assert planned_posts(blog, states) is None, "the posts row was not read"
    await states.read_ahead([posts_key(blog)])
    posts = planned_posts(blog, states)
    assert posts is not None
    if case in ("feed, site-wide comments", "wordpress"):  # a comments row of the blog's own
        assert planned_comments(blog, posts, states, {}) is None, "its comments row: not read"
        await states.read_ahead([comments_key(blog)])
        assert planned_comments(blog, posts, states, {}) is not None
    else:
        await states.read_ahead([comments_key(blog)])
        assert planned_comments(blog, posts, states, {}) is None, "no cached list of posts"
        cache = cast(FollowedCache, {})
        await plan_comments(blog, storage, posts, states=states, followed=cache)
        assert planned_comments(blog, posts, states, cache) is not None


async def test_planning_waits_when_a_row_is_to_be_written(
    storage: Storage, fetcher: Fetcher
) -> None:
    """A new URL in the configuration, a blog never planned, a followed post without its row."""
    blog = await steady_blog(storage, fetcher, "feed, site-wide comments")
    states = FeedStates(storage)
    await states.read_ahead([posts_key(blog), comments_key(blog), "other:posts"])
    moved = blog.model_copy(update={"posts_feed": "https://blog.example/new-feed"})
    assert planned_posts(moved, states) is None
    never = blog_config(name="other", platform="feed", url="https://other.example/")
    assert planned_posts(never, states) is None
    posts = planned_posts(blog, states)
    assert posts is not None
    comments_moved = blog.model_copy(update={"comments_feed": "https://blog.example/c2"})
    assert planned_comments(comments_moved, posts, states, {}) is None


async def test_planning_waits_for_a_followed_post_without_its_row(
    storage: Storage, fetcher: Fetcher
) -> None:
    blog = await steady_blog(storage, fetcher, "feed, per-post comment feeds")
    states, cache = FeedStates(storage), cast(FollowedCache, {})
    await states.read_ahead([posts_key(blog), comments_key(blog)])
    await read_followed_ahead([blog], states, cache)
    posts = planned_posts(blog, states)
    assert posts is not None and planned_comments(blog, posts, states, cache) is not None
    states.remember(comments_key(blog, "post-1"), None)  # as if its row were not read
    assert planned_comments(blog, posts, states, cache) is None


async def test_planning_waits_for_the_rows_of_newly_followed_posts(
    storage: Storage, fetcher: Fetcher
) -> None:
    """Followed posts whose comment listings have no row yet (read: there is none)."""
    blog = blog_config(**STEADY_BLOGS["feed, per-post comment feeds"], url="https://blog.example/")
    feed = "https://blog.example/{}/feed/"
    await store_posts(
        storage, blog, [stored_post(1, SYNCED, comments_feed=feed.format(1))], body_hash="body"
    )
    states, cache = FeedStates(storage), cast(FollowedCache, {})
    await states.read_ahead([posts_key(blog), comments_key(blog)])
    await read_followed_ahead([blog], states, cache)
    assert states.peek(comments_key(blog, "post-1")) is None, "read ahead: no row"
    posts = planned_posts(blog, states)
    assert posts is not None
    assert planned_comments(blog, posts, states, cache) is None
    [planned] = await plan_comments(blog, storage, posts, states=states, followed=cache)
    assert await storage.get_feed(comments_key(blog, "post-1")) == planned.state
    assert _planned(planned_comments(blog, posts, states, cache)) == _planned([planned])
