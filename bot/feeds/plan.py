"""Which listings to poll for a blog, by platform.

- wordpress: the REST API (posts listing, then one site-wide comments listing
  that also carries parents, pingbacks and trackbacks).
- feed: the RSS/Atom posts feed, then the site-wide comments feed when there
  is one, else the per-post comment feeds (wfw:commentRss, rel="replies") of
  the newest ``follow_posts`` posts.
- isso: the RSS/Atom posts feed, then the Isso thread of each of the newest
  ``follow_posts`` posts.

Discovered URLs are stored in the feed rows, so discovery runs once. Feed rows
are looked up through :class:`FeedStates`, which a poller fills in bulk ahead of a
cycle; which posts' comments are followed is remembered while the posts feed's
body stays the same (see ``plan_comments``), and read in bulk for a whole cycle after a
start (see ``read_followed_ahead``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from bot._records import immutable
from bot.config import BlogConfig, secret
from bot.feeds.errors import UpdateError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import EntryKind
from bot.feeds.sources.base import Source
from bot.feeds.sources.feed import FeedCommentsSource, FeedPostsSource, discover_feeds
from bot.feeds.sources.isso import IssoThreadSource
from bot.feeds.sources.wordpress import (
    WordPressCommentsSource,
    WordPressPostsSource,
    discover_api_root,
)
from bot.storage import Storage
from bot.storage.records import FeedState, KnownItem


@immutable
class Planned:
    state: FeedState
    source: Source


class Unread(enum.Enum):
    UNREAD = "unread"


#: What ``FeedStates.peek`` gives for a row it has not read (yet).
UNREAD: Final = Unread.UNREAD


class FeedStates:
    """The feed rows planning reads: read ahead in bulk when the caller can, else one by one.

    A poller holding the blogs' locks reads every row a cycle needs at once
    (:meth:`read_ahead`) and passes on each poll's new state (:meth:`remember`), so
    planning thousands of blogs costs a few queries instead of several per feed.
    Rows read or saved here are taken as current: use one instance per cycle. ``save``
    (``Storage.save_feed`` by default) lets a poller batch the new rows of many blogs.
    """

    def __init__(
        self, storage: Storage, *, save: Callable[[FeedState], Awaitable[None]] | None = None
    ) -> None:
        self.storage = storage
        self._save = save or storage.save_feed
        self._known: dict[str, FeedState | None] = {}

    async def read_ahead(self, keys: Iterable[str]) -> None:
        """Read the rows of ``keys`` not known yet (absent rows are remembered as absent)."""
        wanted = [key for key in dict.fromkeys(keys) if key not in self._known]
        if not wanted:
            return
        found = await self.storage.get_feeds(wanted)
        for key in wanted:
            self._known[key] = found.get(key)

    async def get(self, key: str) -> FeedState | None:
        state = self._known.get(key, UNREAD)
        if state is UNREAD:
            state = self._known[key] = await self.storage.get_feed(key)
        return state

    def peek(self, key: str) -> FeedState | Unread | None:
        """``get`` without waiting: the row when read (``None``: there is none), else ``UNREAD``.

        For planning's hot paths, where the poller has read every row ahead (a coroutine
        per lookup costs more than the lookup).
        """
        return self._known.get(key, UNREAD)

    async def get_many(self, keys: Sequence[str]) -> dict[str, FeedState]:
        await self.read_ahead(keys)
        return {key: state for key in keys if (state := self._known[key]) is not None}

    async def save(self, state: FeedState) -> None:
        await self._save(state)
        self._known[state.key] = state

    def remember(self, key: str, state: FeedState | None) -> None:
        """The state a poll stored; ``None`` if unknown (read again when asked)."""
        if state is None:
            self._known.pop(key, None)
        else:
            self._known[key] = state


@dataclass(frozen=True, slots=True)
class FollowedPost:
    """A post whose comments are polled: what planning needs of it."""

    key: str
    listing_url: str
    source: Source


#: Per blog name: (what the list was computed from, the followed posts); see ``plan_comments``.
FollowedCache = MutableMapping[str, tuple[tuple[object, ...], list[FollowedPost]]]


def blog_auth(blog: BlogConfig) -> tuple[str, str] | None:
    """The blog account's login and application password, when configured."""
    if blog.credentials is None:
        return None
    return blog.credentials.username, secret(blog.credentials.app_password_env)


def posts_key(blog: BlogConfig) -> str:
    return f"{blog.name}:posts"


def comments_key(blog: BlogConfig, post_key: str | None = None) -> str:
    return f"{blog.name}:comments" if post_key is None else f"{blog.name}:comments:{post_key}"


async def plan_posts(
    blog: BlogConfig, storage: Storage, fetcher: Fetcher, *, states: FeedStates | None = None
) -> list[Planned]:
    """The blog's posts listing, discovering its URL on first use (raises UpdateError)."""
    states = states or FeedStates(storage)
    if (planned := planned_posts(blog, states)) is not None:
        return planned
    state = await states.get(posts_key(blog))
    if blog.platform == "wordpress":
        if state is None or not _discovered(state, blog):
            root = await discover_api_root(fetcher, str(blog.url))
            state = await _saved(states, state, posts_key(blog), blog, root, "posts")
        return [Planned(state, WordPressPostsSource(state.url, auth=blog_auth(blog)))]
    url = str(blog.posts_feed) if blog.posts_feed is not None else None
    if url is None and state is not None and _discovered(state, blog, strict=False):
        url = state.url
    if url is None:
        posts_url, comments_url = await discover_feeds(fetcher, str(blog.url))
        if posts_url is None:
            raise UpdateError(
                str(blog.url), "no RSS or Atom feed found on the blog's home page; set posts_feed"
            )
        url = posts_url
        if comments_url and blog.platform == "feed" and blog.comments_feed is None:
            await _saved(
                states,
                await states.get(comments_key(blog)),
                comments_key(blog),
                blog,
                comments_url,
                "comments",
            )
    if state is None or state.url != url:
        state = await _saved(states, state, posts_key(blog), blog, url, "posts")
    return [Planned(state, FeedPostsSource(state.url))]


async def plan_comments(
    blog: BlogConfig,
    storage: Storage,
    posts: list[Planned],
    *,
    states: FeedStates | None = None,
    followed: FollowedCache | None = None,
) -> list[Planned]:
    """The blog's comment listings, after its posts were polled.

    ``followed`` (kept by the caller across cycles) saves reading the newest posts again
    while the posts feed's body is the same: posts only change when that body does.
    """
    if not posts:
        return []
    states = states or FeedStates(storage)
    if (planned := planned_comments(blog, posts, states, followed)) is not None:
        return planned
    if blog.platform == "wordpress":
        root = posts[0].state.url
        state = await states.get(comments_key(blog))
        if state is None or state.url != root:
            state = await _saved(states, state, comments_key(blog), blog, root, "comments")
        return _wordpress_comments(blog, state)
    if blog.platform == "feed":
        site_wide = str(blog.comments_feed) if blog.comments_feed is not None else None
        state = await states.get(comments_key(blog))
        if site_wide is None and state is not None:
            site_wide = state.url
        if site_wide is not None:
            if state is None or state.url != site_wide:
                state = await _saved(states, state, comments_key(blog), blog, site_wide, "comments")
            return [Planned(state, FeedCommentsSource(state.url))]
    newest = _cached_followed(blog, states.peek(posts_key(blog)), followed)
    if newest is None:
        newest = await _followed_posts(blog, states, followed)
    if not newest:  # a blog whose posts have no comment listings: every cycle, quickly
        return []
    return await _per_post(blog, states, newest)


def planned_posts(blog: BlogConfig, states: FeedStates) -> list[Planned] | None:
    """``plan_posts`` without a coroutine when it needs neither I/O nor a write: the posts row
    is known (read ahead) and holds the URL to poll. ``None``: await ``plan_posts``.

    Every cycle of every blog after its first comes here (the poller tries it first): the
    same result as ``plan_posts``, without a coroutine made and run for each.
    """
    state = states.peek(posts_key(blog))
    if state is UNREAD or state is None:
        return None
    if blog.platform == "wordpress":
        if not _discovered(state, blog):
            return None
        return [Planned(state, WordPressPostsSource(state.url, auth=blog_auth(blog)))]
    if blog.posts_feed is not None:
        if state.url != str(blog.posts_feed):
            return None
    elif not _discovered(state, blog, strict=False):
        return None
    return [Planned(state, FeedPostsSource(state.url))]


def planned_comments(
    blog: BlogConfig, posts: list[Planned], states: FeedStates, followed: FollowedCache | None
) -> list[Planned] | None:
    """``plan_comments`` without a coroutine when the rows it needs are known and none is to be
    written, and a blog that follows its newest posts has their list cached. ``None``: await
    ``plan_comments``."""
    if not posts:
        return []
    if blog.platform == "wordpress":
        state = states.peek(comments_key(blog))
        root = posts[0].state.url
        if state is UNREAD or state is None or state.url != root:
            return None
        return _wordpress_comments(blog, state)
    if blog.platform == "feed":
        state = states.peek(comments_key(blog))
        if state is UNREAD:
            return None
        site_wide = str(blog.comments_feed) if blog.comments_feed is not None else None
        if site_wide is None and state is not None:
            site_wide = state.url
        if site_wide is not None:
            if state is None or state.url != site_wide:
                return None
            return [Planned(state, FeedCommentsSource(state.url))]
    newest = _cached_followed(blog, states.peek(posts_key(blog)), followed)
    if newest is None:
        return None
    planned = []
    for post in newest:
        post_state = states.peek(comments_key(blog, post.key))
        if post_state is UNREAD or post_state is None:  # a new listing: a row to write
            return None
        planned.append(Planned(post_state, post.source))
    return planned


def _wordpress_comments(blog: BlogConfig, state: FeedState) -> list[Planned]:
    """The site-wide comments listing of a WordPress blog whose row holds its API root."""
    source = WordPressCommentsSource(
        state.url,
        include_pingbacks=blog.comments.include_pingbacks,
        watch_window=blog.comments.watch_window,
        auth=blog_auth(blog),
    )
    return [Planned(state, source)]


async def _per_post(
    blog: BlogConfig, states: FeedStates, followed: list[FollowedPost]
) -> list[Planned]:
    """The comment listing of each followed post. A new one emits on its first poll when its
    post was announced (new since the first sync, or backfilled), else it records a baseline:
    the outbox tells, as dates cannot (RSS dates have whole seconds, some posts have none)."""
    known = await states.get_many([comments_key(blog, post.key) for post in followed])
    unplanned = [post.key for post in followed if comments_key(blog, post.key) not in known]
    announced = await states.storage.announced_posts(blog.name, unplanned) if unplanned else set()
    planned = []
    for post in followed:
        key = comments_key(blog, post.key)
        state = known.get(key)
        if state is None:
            state = FeedState(
                key=key,
                blog=blog.name,
                url=post.listing_url,
                role="post_comments",
                post_key=post.key,
                emit_on_first_poll=post.key in announced,
            )
            await states.save(state)
        planned.append(Planned(state, post.source))
    return planned


async def read_followed_ahead(
    blogs: Iterable[BlogConfig], states: FeedStates, cache: FollowedCache
) -> None:
    """Fill ``cache`` for the ``blogs`` that follow their newest posts and have no list in it.

    The first cycle after a start would otherwise read their posts one query per blog.
    Call it under the blogs' locks, with their posts and comments rows known to ``states``.
    The entries are checked like any other (``_followed_posts``): a blog whose posts feed
    changes in the cycle gets its list computed again after its posts are stored. The
    rows of the followed posts' comment listings are read ahead too.
    """
    wanted: dict[int, dict[str, tuple[BlogConfig, tuple[object, ...]]]] = {}
    for blog in blogs:
        if blog.name in cache or not await _follows_posts(blog, states):
            continue
        made_from = _made_from(blog, await states.get(posts_key(blog)))
        if made_from is not None:
            wanted.setdefault(blog.comments.follow_posts, {})[blog.name] = (blog, made_from)
    keys = []
    for count, of_blogs in wanted.items():
        newest = await states.storage.newest_posts_many(of_blogs, count)
        for name, (blog, made_from) in of_blogs.items():
            followed = _followed(blog, newest[name])
            cache[name] = (made_from, followed)
            keys += [comments_key(blog, post.key) for post in followed]
    await states.read_ahead(keys)


async def _follows_posts(blog: BlogConfig, states: FeedStates) -> bool:
    """Whether ``plan_comments`` polls comment listings of the blog's newest posts."""
    if blog.platform == "isso":
        return True
    if blog.platform != "feed" or blog.comments_feed is not None:
        return False
    return await states.get(comments_key(blog)) is None


async def _followed_posts(
    blog: BlogConfig, states: FeedStates, cache: FollowedCache | None
) -> list[FollowedPost]:
    """The newest ``follow_posts`` posts that have a comment listing, from ``cache`` if valid."""
    posts_state = await states.get(posts_key(blog))
    cached = _cached_followed(blog, posts_state, cache)
    if cached is not None:
        return cached
    made_from = _made_from(blog, posts_state)
    newest = await states.storage.newest_posts(blog.name, blog.comments.follow_posts)
    followed = _followed(blog, newest)
    if cache is not None and made_from is not None:
        cache[blog.name] = (made_from, followed)
    return followed


def _cached_followed(
    blog: BlogConfig, posts_state: FeedState | Unread | None, cache: FollowedCache | None
) -> list[FollowedPost] | None:
    """The blog's followed posts from ``cache`` while it is valid, else ``None``."""
    if cache is None or posts_state is UNREAD:
        return None
    cached = cache.get(blog.name)
    if cached is None:
        return None
    made_from = _made_from(blog, posts_state)
    return cached[1] if made_from is not None and cached[0] == made_from else None


def _made_from(blog: BlogConfig, posts_state: FeedState | None) -> tuple[object, ...] | None:
    """What the blog's followed posts depend on, to validate a cached list; ``None``: no
    posts feed body yet, nothing to cache by."""
    if posts_state is None or posts_state.body_hash is None:
        return None
    return (posts_state.body_hash, blog.comments.follow_posts, blog.platform, str(blog.isso_url))


def _followed(blog: BlogConfig, newest: Iterable[KnownItem]) -> list[FollowedPost]:
    """The posts among ``newest`` that have a comment listing, and their sources."""
    followed = []
    for post in newest:
        if post.removed or post.kind is not EntryKind.POST:
            continue
        if blog.platform == "isso":
            if not post.entry.url:
                continue
            url = str(blog.isso_url)
            source: Source = IssoThreadSource(
                url,
                post_key=post.key,
                post_uri=isso_thread_uri(post.entry.url),
                post_url=post.entry.url,
            )
        elif post.entry.comments_feed:
            url = post.entry.comments_feed
            source = FeedCommentsSource(url, post_key=post.key, post_url=post.entry.url)
        else:
            continue
        followed.append(FollowedPost(post.key, url, source))
    return followed


async def _saved(
    states: FeedStates, state: FeedState | None, key: str, blog: BlogConfig, url: str, role: str
) -> FeedState:
    """Create the feed row, or point an existing one at a new URL (dropping its validators)."""
    if state is None:
        state = FeedState(key=key, blog=blog.name, url=url, role=role)
    else:
        state = dataclasses.replace(state, url=url, etag=None, last_modified=None, body_hash=None)
    await states.save(state)
    return state


def _discovered(state: FeedState, blog: BlogConfig, *, strict: bool = True) -> bool:
    """Whether the stored posts row holds a URL discovery found for this blog.

    A failed discovery leaves the blog's own address in the row (to count the
    failures): that is no feed, so discovery must run again next time.
    """
    return state.url != str(blog.url) and _belongs_to(state.url, blog, strict=strict)


def _belongs_to(url: str, blog: BlogConfig, *, strict: bool = True) -> bool:
    """Whether a stored URL was discovered from this blog's current ``url``."""
    site = urlsplit(str(blog.url))
    stored = urlsplit(url)
    if not strict:
        return stored.netloc == site.netloc
    return stored.netloc == site.netloc and stored.path.startswith(site.path.rstrip("/"))


# What a browser leaves as is in ``location.pathname`` (the WHATWG path percent-encode set).
_PATH_SAFE = "/!$%&'()*+,;=:@[]\\^|~"


def isso_thread_uri(url: str) -> str:
    """The post's Isso thread ``uri``: its path as the embed script sends it.

    Isso's script uses ``location.pathname``, which browsers percent-encode,
    while feeds may write a link's path raw (``/déjà-vu/``); escapes already
    there are kept.
    """
    return quote(urlsplit(url).path or "/", safe=_PATH_SAFE)
