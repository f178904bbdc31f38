"""WordPress blogs through the REST API: posts and comment listings.

The REST API beats a blog's RSS for comments: it lists every approved comment
of a time window (so a comment missing from a complete listing was removed),
gives real parent ids, comment types and avatars, and pages beyond the ten
items an RSS feed shows. Roots come in two forms, ``https://x/wp-json/`` and
(plain permalinks) ``https://x/?rest_route=/``; :func:`route_url` builds
routes for both.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from yarl import URL

from bot.feeds.errors import ParseError, RetrieveError
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.sources.base import NotModified, ParseContext, ParseFunc, Retrieved

if TYPE_CHECKING:
    from bot.feeds.fetch import Fetcher
    from bot.storage.records import FeedState

API_REL = "https://api.w.org/"
JSON_ACCEPT = "application/json"
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
POSTS_EMBED = "author,wp:featuredmedia,wp:term"
COMMENTS_PER_PAGE = 100
MAX_COMMENT_PAGES = 50
PAGING_ATTEMPTS = 3
# Asked for beyond the watch window and dropped again when parsing, so a WordPress
# that reads ``after`` as local time (before 5.3) still lists the whole window.
WINDOW_MARGIN = timedelta(days=1)
PING_TYPES = ("pingback", "trackback")
_KINDS = {
    "comment": EntryKind.COMMENT,
    "pingback": EntryKind.PINGBACK,
    "trackback": EntryKind.TRACKBACK,
}
_TAG = re.compile(r"<[^>]*>")


# --- routes and discovery -------------------------------------------------------------


def route_url(api_root: str, route: str, params: Mapping[str, str] | None = None) -> str:
    """The URL of ``route`` (e.g. ``wp/v2/comments``) under either form of REST root."""
    root = URL(api_root)
    route = route.strip("/")
    if "rest_route" in root.query:
        base = root.query["rest_route"].rstrip("/")
        url = root.update_query({"rest_route": f"{base}/{route}" if route else base or "/"})
    else:
        path = root.path if root.path.endswith("/") else root.path + "/"
        url = root.with_path(path + route, keep_query=True)
    if params:
        url = url.update_query(dict(params))
    return str(url)


async def discover_api_root(fetcher: Fetcher, site_url: str) -> str:
    """Find the REST root of the WordPress at ``site_url``.

    The home page's ``<link rel="https://api.w.org/">`` wins; then ``/wp-json/``
    and ``/?rest_route=/`` are tried. Each candidate must answer with the REST
    index, so a blog whose REST API is disabled fails here with a clear error.
    """
    home = _home_url(site_url)
    tried: list[str] = []
    advertised = await _advertised_root(fetcher, site_url, tried)
    candidates = [advertised] if advertised else []
    candidates += [home + "wp-json/", home + "?rest_route=/"]
    for candidate in dict.fromkeys(candidates):
        if await _is_api_root(fetcher, candidate, tried):
            return candidate
    raise RetrieveError(
        site_url,
        "no WordPress REST API found (is the REST API disabled?); tried " + "; ".join(tried),
    )


def _home_url(site_url: str) -> str:
    try:
        url = URL(site_url).with_query(None).with_fragment(None)
    except (TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise RetrieveError(
            site_url, "not a blog address: expected an http:// or https:// URL", permanent=True
        )
    home = str(url)
    return home if home.endswith("/") else home + "/"


async def _advertised_root(fetcher: Fetcher, site_url: str, tried: list[str]) -> str | None:
    try:
        page = await fetcher.get(site_url, accept=HTML_ACCEPT)
    except RetrieveError as error:
        if error.status is None:
            raise  # unreachable (DNS, refused, timeout): other candidates on that host won't answer
        tried.append(f"{site_url}: {error.message}")
        return None
    if isinstance(page, NotModified) or not page.bodies:
        return None
    finder = _ApiLinkFinder()
    finder.feed(page.bodies[0].decode("utf-8", "replace"))
    if finder.href is None:
        tried.append(f'{site_url}: no <link rel="{API_REL}"> in the home page')
        return None
    try:
        return str(URL(page.url).join(URL(finder.href)))
    except ValueError:
        tried.append(f"{site_url}: the home page's REST API link is malformed: {finder.href!r}")
        return None


async def _is_api_root(fetcher: Fetcher, candidate: str, tried: list[str]) -> bool:
    url = route_url(candidate, "", {"_fields": "namespaces"})
    try:
        answer = await fetcher.get(url, accept=JSON_ACCEPT)
    except RetrieveError as error:
        tried.append(f"{candidate}: {error.message}")
        return False
    if isinstance(answer, NotModified):
        return False
    try:
        index = json.loads(answer.bodies[0])
    except ValueError:
        tried.append(f"{candidate}: the answer is not JSON")
        return False
    namespaces = index.get("namespaces") if isinstance(index, dict) else None
    if isinstance(namespaces, list) and "wp/v2" in namespaces:
        return True
    tried.append(f"{candidate}: no wp/v2 namespace in the answer")
    return False


class _ApiLinkFinder(HTMLParser):
    """Remembers the first ``<link rel="https://api.w.org/" href=...>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link" or self.href is not None:
            return
        values = dict(attrs)
        rels = (values.get("rel") or "").split()
        if API_REL in rels and values.get("href"):
            self.href = values["href"]


# --- sources ----------------------------------------------------------------------------


class WordPressPostsSource:
    """The newest published posts, with author, featured image and categories embedded."""

    def __init__(
        self, api_root: str, *, per_page: int = 20, auth: tuple[str, str] | None = None
    ) -> None:
        self.api_root = api_root
        self.per_page = min(max(per_page, 1), 100)
        self.auth = auth

    @property
    def url(self) -> str:
        params = {
            "per_page": str(self.per_page),
            "orderby": "date",
            "order": "desc",
            "_embed": POSTS_EMBED,
        }
        return route_url(self.api_root, "wp/v2/posts", params)

    @property
    def parse(self) -> ParseFunc:
        return parse_posts

    async def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Retrieved | NotModified:
        try:
            return await fetcher.get(
                self.url,
                etag=state.etag,
                last_modified=state.last_modified,
                accept=JSON_ACCEPT,
                auth=self.auth,
            )
        except RetrieveError as error:
            raise _explained(error, self.api_root, "posts") from error


class WordPressCommentsSource:
    """Every approved comment of the watch window, oldest first, all pages.

    The REST API lists only ``type=comment`` by default, and other types need
    a user who can edit posts; with ``include_pingbacks`` the pingbacks and
    trackbacks are listed too, which needs ``auth``. ``post_id`` narrows the
    listing to one post.
    """

    def __init__(
        self,
        api_root: str,
        *,
        include_pingbacks: bool = False,
        watch_window: timedelta = timedelta(days=14),
        auth: tuple[str, str] | None = None,
        post_id: int | None = None,
    ) -> None:
        self.api_root = api_root
        self.include_pingbacks = include_pingbacks
        self.watch_window = watch_window
        self.auth = auth
        self.post_id = post_id

    @property
    def types(self) -> tuple[str, ...]:
        return ("comment", *PING_TYPES) if self.include_pingbacks else ("comment",)

    @property
    def parse(self) -> ParseFunc:
        return functools.partial(
            parse_comments, watch_window=self.watch_window, include_pingbacks=self.include_pingbacks
        )

    def listing_url(self, comment_type: str, after: datetime, offset: int = 0) -> str:
        params = {
            "type": comment_type,
            "after": after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orderby": "date_gmt",
            "order": "asc",
            "per_page": str(COMMENTS_PER_PAGE),
        }
        if self.post_id is not None:
            params["post"] = str(self.post_id)
        if offset:
            params["offset"] = str(offset)
        return route_url(self.api_root, "wp/v2/comments", params)

    async def retrieve(self, fetcher: Fetcher, state: FeedState, now: datetime) -> Retrieved:
        after = now - self.watch_window - WINDOW_MARGIN
        bodies: list[bytes] = []
        for comment_type in self.types:
            bodies += await self._all_pages(fetcher, comment_type, after)
        return Retrieved(
            url=self.listing_url("comment", after), bodies=tuple(bodies), content_type=JSON_ACCEPT
        )

    async def _all_pages(self, fetcher: Fetcher, comment_type: str, after: datetime) -> list[bytes]:
        """Page with one item of overlap; if the overlap moved, the listing changed: start over.

        A comment removed between two pages would otherwise shift an unseen one
        onto a page already read, and its absence would look like a removal.
        """
        for _ in range(PAGING_ATTEMPTS):
            pages = await self._pages_once(fetcher, comment_type, after)
            if pages is not None:
                return pages
        url = self.listing_url(comment_type, after)
        raise RetrieveError(url, "the comment listing kept changing while it was paged; will retry")

    async def _pages_once(
        self, fetcher: Fetcher, comment_type: str, after: datetime
    ) -> list[bytes] | None:
        pages: list[bytes] = []
        offset = 0
        last_id: object = None
        while len(pages) < MAX_COMMENT_PAGES:
            url = self.listing_url(comment_type, after, offset)
            body = await self._get(fetcher, url, comment_type)
            items = decode_listing(body, url, self.api_root)
            if last_id is not None and (not items or _item_id(items[0]) != last_id):
                return None
            pages.append(body)
            if len(items) < COMMENTS_PER_PAGE:
                return pages
            last_id = _item_id(items[-1])
            offset += COMMENTS_PER_PAGE - 1
        raise RetrieveError(
            self.listing_url(comment_type, after),
            f"more than {MAX_COMMENT_PAGES * (COMMENTS_PER_PAGE - 1)} comments in the "
            "watch window; shorten comments.watch_window",
            permanent=True,
        )

    async def _get(self, fetcher: Fetcher, url: str, comment_type: str) -> bytes:
        try:
            answer = await fetcher.get(url, accept=JSON_ACCEPT, auth=self.auth)
        except RetrieveError as error:
            raise _explained(error, self.api_root, f"{comment_type}s") from error
        if isinstance(answer, NotModified):  # we send no validators; a broken cache might
            raise RetrieveError(
                url, "the server answered 304 Not Modified to an unconditional request"
            )
        return answer.bodies[0]


def _explained(error: RetrieveError, api_root: str, what: str) -> RetrieveError:
    """Say what a 401/403/404 from the REST API most likely means for this blog."""
    if error.status in (401, 403):
        hint = (
            f"the WordPress REST API at {api_root} refused to list {what} (HTTP {error.status}): "
            "a plugin may restrict the REST API, or the credentials are wrong"
        )
        if what in ("pingbacks", "trackbacks"):
            hint += "; listing pingbacks needs the credentials of a user who can edit posts"
        return RetrieveError(error.url, hint, status=error.status, permanent=True)
    if error.status == 404:
        return RetrieveError(
            error.url,
            f"the WordPress REST API at {api_root} has no route for {what} (HTTP 404): "
            "the REST API is disabled or the API root is wrong",
            status=404,
            permanent=True,
        )
    return error


def decode_listing(body: bytes, url: str, blog: str) -> list[Any]:
    """The JSON array of one listing page; anything else is a ParseError naming the blog."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ParseError(
            url,
            f"the WordPress REST API of {blog} answered with something that is not JSON "
            "(a security plugin, cache or login page in the way?)",
        ) from None
    if isinstance(data, dict) and "code" in data:
        message = _plain(str(data.get("message", "")))
        raise ParseError(
            url,
            f"the WordPress REST API of {blog} answered with an error: {data['code']}: {message}",
        )
    if not isinstance(data, list):
        raise ParseError(url, f"the WordPress REST API of {blog} did not answer with a list")
    return data


def _item_id(item: object) -> object:
    return item.get("id") if isinstance(item, dict) else None


# --- parsing (pure, picklable) ------------------------------------------------------------


def parse_posts(retrieved: Retrieved, ctx: ParseContext) -> ParsedFeed:
    """REST posts (``_embed``-ed) → post entries, newest first as listed."""
    warnings: list[str] = []
    entries: list[Entry] = []
    for item in _items(retrieved, ctx):
        entry = _post_entry(item) if isinstance(item, dict) else None
        if entry is None:
            warnings.append(f"skipped a post without an id in {retrieved.url}")
            continue
        entries.append(entry)
    return ParsedFeed(entries=tuple(entries), kinds=(EntryKind.POST,), warnings=tuple(warnings))


def parse_comments(
    retrieved: Retrieved,
    ctx: ParseContext,
    *,
    watch_window: timedelta = timedelta(days=14),
    include_pingbacks: bool = False,
) -> ParsedFeed:
    """REST comments (all pages, all types) → one complete listing of the watch window."""
    window_start = ctx.now - watch_window if ctx.now is not None else None
    kinds = (
        (EntryKind.COMMENT, EntryKind.PINGBACK, EntryKind.TRACKBACK)
        if include_pingbacks
        else (EntryKind.COMMENT,)
    )
    warnings: list[str] = []
    entries: dict[str, Entry] = {}
    for item in _items(retrieved, ctx):
        entry = _comment_entry(item) if isinstance(item, dict) else None
        if entry is None:
            warnings.append(f"skipped a comment without an id in {retrieved.url}")
            continue
        if entry.kind not in kinds:
            continue
        if (
            window_start is not None
            and entry.published is not None
            and entry.published < window_start
        ):
            continue
        entries.setdefault(entry.key, entry)
    return ParsedFeed(
        entries=tuple(entries.values()),
        window_start=window_start,
        kinds=kinds,
        warnings=tuple(warnings),
    )


def _items(retrieved: Retrieved, ctx: ParseContext) -> Iterable[Any]:
    blog = f"{ctx.blog} ({ctx.url})" if ctx.blog else ctx.url
    for body in retrieved.bodies:
        yield from decode_listing(body, retrieved.url, blog)


def _post_entry(item: Mapping[str, Any]) -> Entry | None:
    post_id = item.get("id")
    if not isinstance(post_id, int):
        return None
    embedded = item.get("_embedded") or {}
    author = _first(embedded.get("author"))
    media = _first(embedded.get("wp:featuredmedia"))
    return Entry(
        kind=EntryKind.POST,
        key=f"post-{post_id}",
        url=_str(item.get("link")),
        title=_plain(_rendered(item.get("title"))),
        author=_str(author.get("name")),
        author_url=_str(author.get("link")),
        avatar_url=_largest_avatar(author.get("avatar_urls")),
        content_html=_rendered(item.get("excerpt")),
        published=_utc(item.get("date_gmt")),
        updated=_utc(item.get("modified_gmt")),
        categories=_category_names(embedded.get("wp:term")),
        image_url=_str(media.get("source_url")),
        native_id=str(post_id),
        status=_str(item.get("status")) or "publish",
    )


def _comment_entry(item: Mapping[str, Any]) -> Entry | None:
    comment_id = item.get("id")
    if not isinstance(comment_id, int):
        return None
    parent = item.get("parent")
    post = item.get("post")
    link = _str(item.get("link"))
    return Entry(
        kind=_KINDS.get(str(item.get("type") or "comment"), EntryKind.COMMENT),
        key=f"comment-{comment_id}",
        url=link,
        author=_str(item.get("author_name")),
        author_url=_str(item.get("author_url")),
        avatar_url=_largest_avatar(item.get("author_avatar_urls")),
        content_html=_rendered(item.get("content")),
        published=_utc(item.get("date_gmt")),
        post_key=f"post-{post}" if isinstance(post, int) and post else None,
        post_url=link.split("#", 1)[0] if link else None,
        parent_key=f"comment-{parent}" if isinstance(parent, int) and parent else None,
        native_id=str(comment_id),
        status=_str(item.get("status")) or "approved",
    )


def _first(value: object) -> Mapping[str, Any]:
    """The first embedded object, or {} (embeds are lists; errors are objects with a code)."""
    if isinstance(value, list) and value and isinstance(value[0], dict) and "code" not in value[0]:
        return value[0]
    return {}


def _category_names(term_lists: object) -> tuple[str, ...]:
    if not isinstance(term_lists, list):
        return ()
    names = []
    for terms in term_lists:
        for term in terms if isinstance(terms, list) else ():
            if isinstance(term, dict) and term.get("taxonomy") == "category" and term.get("name"):
                names.append(html.unescape(str(term["name"])))
    return tuple(names)


def _largest_avatar(urls: object) -> str | None:
    if not isinstance(urls, dict):
        return None
    sized = [
        (int(size), url)
        for size, url in urls.items()
        if str(size).isdigit() and isinstance(url, str)
    ]
    return max(sized)[1] if sized else None


def _rendered(field: object) -> str:
    if isinstance(field, dict):
        return str(field.get("rendered") or "")
    return str(field) if isinstance(field, str) else ""


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).strip()


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _utc(value: object) -> datetime | None:
    """REST ``*_gmt`` fields are UTC without an offset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
