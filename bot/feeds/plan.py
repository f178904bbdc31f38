"""Which listings to poll for a blog, by platform.

- wordpress: the REST API (posts listing, then one site-wide comments listing
  that also carries parents, pingbacks and trackbacks).
- feed: the RSS/Atom posts feed, then the site-wide comments feed when there
  is one, else the per-post comment feeds (wfw:commentRss, rel="replies") of
  the newest ``follow_posts`` posts.
- isso: the RSS/Atom posts feed, then the Isso thread of each of the newest
  ``follow_posts`` posts.

Discovered URLs are stored in the feed rows, so discovery runs once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

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


@dataclass(frozen=True, slots=True)
class Planned:
    state: FeedState
    source: Source


def blog_auth(blog: BlogConfig) -> tuple[str, str] | None:
    """The blog account's login and application password, when configured."""
    if blog.credentials is None:
        return None
    return blog.credentials.username, secret(blog.credentials.app_password_env)


def posts_key(blog: BlogConfig) -> str:
    return f"{blog.name}:posts"


def comments_key(blog: BlogConfig, post_key: str | None = None) -> str:
    return f"{blog.name}:comments" if post_key is None else f"{blog.name}:comments:{post_key}"


async def plan_posts(blog: BlogConfig, storage: Storage, fetcher: Fetcher) -> list[Planned]:
    """The blog's posts listing, discovering its URL on first use (raises UpdateError)."""
    state = await storage.get_feed(posts_key(blog))
    if blog.platform == "wordpress":
        if state is None or not _belongs_to(state.url, blog):
            root = await discover_api_root(fetcher, str(blog.url))
            state = await _saved(storage, state, posts_key(blog), blog, root, "posts")
        return [Planned(state, WordPressPostsSource(state.url, auth=blog_auth(blog)))]
    url = str(blog.posts_feed) if blog.posts_feed else None
    if url is None and state is not None and _belongs_to(state.url, blog, strict=False):
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
                storage,
                await storage.get_feed(comments_key(blog)),
                comments_key(blog),
                blog,
                comments_url,
                "comments",
            )
    if state is None or state.url != url:
        state = await _saved(storage, state, posts_key(blog), blog, url, "posts")
    return [Planned(state, FeedPostsSource(state.url))]


async def plan_comments(blog: BlogConfig, storage: Storage, posts: list[Planned]) -> list[Planned]:
    """The blog's comment listings, after its posts were polled."""
    if not posts:
        return []
    if blog.platform == "wordpress":
        root = posts[0].state.url
        state = await storage.get_feed(comments_key(blog))
        if state is None or state.url != root:
            state = await _saved(storage, state, comments_key(blog), blog, root, "comments")
        source = WordPressCommentsSource(
            root,
            include_pingbacks=blog.comments.include_pingbacks,
            watch_window=blog.comments.watch_window,
            auth=blog_auth(blog),
        )
        return [Planned(state, source)]
    if blog.platform == "feed":
        site_wide = str(blog.comments_feed) if blog.comments_feed else None
        state = await storage.get_feed(comments_key(blog))
        if site_wide is None and state is not None:
            site_wide = state.url
        if site_wide is not None:
            if state is None or state.url != site_wide:
                state = await _saved(
                    storage, state, comments_key(blog), blog, site_wide, "comments"
                )
            return [Planned(state, FeedCommentsSource(state.url))]
    return await _per_post(blog, storage)


async def _per_post(blog: BlogConfig, storage: Storage) -> list[Planned]:
    posts_state = await storage.get_feed(posts_key(blog))
    newest = await storage.newest_posts(blog.name, blog.comments.follow_posts)
    planned = []
    for post in newest:
        if post.removed or post.kind is not EntryKind.POST:
            continue
        if blog.platform == "isso":
            if not post.entry.url:
                continue
            url = str(blog.isso_url)
            source: Source = IssoThreadSource(
                url, post_key=post.key, post_uri=_path(post.entry.url), post_url=post.entry.url
            )
        elif post.entry.comments_feed:
            url = post.entry.comments_feed
            source = FeedCommentsSource(url, post_key=post.key, post_url=post.entry.url)
        else:
            continue
        key = comments_key(blog, post.key)
        state = await storage.get_feed(key)
        if state is None:
            state = FeedState(
                key=key,
                blog=blog.name,
                url=url,
                role="post_comments",
                post_key=post.key,
                emit_on_first_poll=_is_new_post(post, posts_state),
            )
            await storage.save_feed(state)
        planned.append(Planned(state, source))
    return planned


def _is_new_post(post: KnownItem, posts_state: FeedState | None) -> bool:
    """A post published after the blog's first sync was announced: all its comments are news."""
    if posts_state is None or posts_state.synced_at is None or post.published is None:
        return False
    return post.published > posts_state.synced_at


async def _saved(
    storage: Storage, state: FeedState | None, key: str, blog: BlogConfig, url: str, role: str
) -> FeedState:
    """Create the feed row, or point an existing one at a new URL (dropping its validators)."""
    if state is None:
        state = FeedState(key=key, blog=blog.name, url=url, role=role)
    else:
        state = dataclasses.replace(state, url=url, etag=None, last_modified=None, body_hash=None)
    await storage.save_feed(state)
    return state


def _belongs_to(url: str, blog: BlogConfig, *, strict: bool = True) -> bool:
    """Whether a stored URL was discovered from this blog's current ``url``."""
    site = urlsplit(str(blog.url))
    stored = urlsplit(url)
    if not strict:
        return stored.netloc == site.netloc
    return stored.netloc == site.netloc and stored.path.startswith(site.path.rstrip("/"))


def _path(url: str) -> str:
    return urlsplit(url).path or "/"
