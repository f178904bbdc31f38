"""The generic platform: plain RSS/Atom feeds, and finding them from a home page.

A posts feed and a site-wide comments feed are polled with conditional GET.
Per-post comment feeds (``wfw:commentRss``, Atom ``rel="replies"``) use the
same source with the post they belong to. Feeds show only the newest items, so
removals are never inferred from them (``parse_feed`` leaves ``window_start``).
"""

from __future__ import annotations

import dataclasses
import functools
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from bot.feeds.errors import RetrieveError
from bot.feeds.models import ParsedFeed
from bot.feeds.parse import parse_feed
from bot.feeds.sources.base import NotModified, ParseContext, ParseFunc, Retrieved

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from datetime import datetime

    from bot.feeds.fetch import Fetcher
    from bot.storage.records import FeedState

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


class FeedPostsSource:
    """A blog's posts feed (RSS or Atom)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def parse(self) -> ParseFunc:
        return parse_feed

    def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Awaitable[Retrieved | NotModified]:
        return fetcher.get(self.url, etag=state.etag, last_modified=state.last_modified)


def parse_comments_feed(
    retrieved: Retrieved,
    ctx: ParseContext,
    *,
    post_key: str | None = None,
    post_url: str | None = None,
) -> ParsedFeed:
    """``parse_feed`` for a comments feed, with the post it belongs to if it is per-post."""
    ctx = dataclasses.replace(
        ctx, post_key=ctx.post_key or post_key, post_url=ctx.post_url or post_url
    )
    return parse_feed(retrieved, ctx)


class FeedCommentsSource:
    """A site-wide comments feed, or one post's (``post_key`` / ``post_url`` given)."""

    def __init__(self, url: str, post_key: str | None = None, post_url: str | None = None) -> None:
        self.url = url
        self.post_key = post_key
        self.post_url = post_url

    @property
    def parse(self) -> ParseFunc:
        if self.post_key is None and self.post_url is None:
            return parse_comments_feed
        return functools.partial(
            parse_comments_feed, post_key=self.post_key, post_url=self.post_url
        )

    def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Awaitable[Retrieved | NotModified]:
        return fetcher.get(self.url, etag=state.etag, last_modified=state.last_modified)


# --- discovery -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class FeedLink:
    href: str
    type: str
    title: str


class _FeedLinks(HTMLParser):
    """``<link rel="alternate" type="application/rss+xml|atom+xml">`` and ``<base>`` of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[FeedLink] = []
        self.base: str | None = None
        self.wordpress = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "link":
            self._link(values)
        elif tag == "meta" and values.get("name", "").lower() == "generator":
            self.wordpress = self.wordpress or values.get("content", "").lower().startswith(
                "wordpress"
            )
        if any("/wp-content/" in value or "/wp-includes/" in value for value in values.values()):
            self.wordpress = True

    def _link(self, values: dict[str, str]) -> None:
        rels = values.get("rel", "").lower().split()
        if "https://api.w.org/" in rels:
            self.wordpress = True
        kind = values.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES and values.get("href", "").strip():
            self.links.append(
                FeedLink(values["href"].strip(), kind, values.get("title", "").strip())
            )


def feed_links(page: str, page_url: str) -> tuple[list[FeedLink], bool]:
    """The page's feed links (absolute URLs, page order) and whether it looks like WordPress."""
    parser = _FeedLinks()
    parser.feed(page)
    parser.close()
    base = _joined(page_url, parser.base) or page_url if parser.base else page_url
    links = []
    for link in parser.links:
        href = _joined(base, link.href)
        if href is not None:  # a malformed href (e.g. "http://[oops/") is skipped, not fatal
            links.append(dataclasses.replace(link, href=href))
    return links, parser.wordpress


def _joined(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def choose_feeds(links: list[FeedLink]) -> tuple[str | None, str | None]:
    """Posts feed = first link whose title does not mention comments; comments = first that does."""
    posts = next((link.href for link in links if "comment" not in link.title.lower()), None)
    comments = next((link.href for link in links if "comment" in link.title.lower()), None)
    return posts, comments


async def discover_feeds(fetcher: Fetcher, site_url: str) -> tuple[str | None, str | None]:
    """Find a site's posts and comments feeds from its home page.

    Falls back to WordPress' ``feed/`` and ``comments/feed/`` when the page is
    WordPress-like but does not list them (only if they answer). Raises
    :class:`~bot.feeds.errors.RetrieveError` when the home page cannot be read.
    """
    page = await fetcher.get(site_url, accept=HTML_ACCEPT)
    if isinstance(page, NotModified) or not page.bodies:
        return None, None
    text = page.bodies[0].decode(_charset(page.content_type), errors="replace")
    links, wordpress = feed_links(text, page.url or site_url)
    posts, comments = choose_feeds(links)
    if wordpress:
        root = (page.url or site_url).split("?", 1)[0].split("#", 1)[0]
        root = root if root.endswith("/") else root + "/"
        posts = posts or await _answers(fetcher, urljoin(root, "feed/"))
        comments = comments or await _answers(fetcher, urljoin(root, "comments/feed/"))
    return posts, comments


async def _answers(fetcher: Fetcher, url: str) -> str | None:
    """``url`` if it serves something that looks like a feed, else None."""
    try:
        result = await fetcher.get(url)
    except RetrieveError:
        return None
    if isinstance(result, NotModified):
        return url
    head = result.bodies[0][:2048].lower() if result.bodies else b""
    return url if any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf")) else None


def _charset(content_type: str | None) -> str:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            candidate = value.strip("\"' ")
            try:
                "".encode(candidate)
            except LookupError:
                break
            return candidate
    return "utf-8"
