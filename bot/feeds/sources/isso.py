"""Isso comment server sources: one post's thread as JSON, or its Atom feed.

The JSON listing (``GET /?uri=<post path>``) returns the whole thread, so it
is a complete listing and removals can be inferred from it. Isso keeps one
nesting level: a reply to a reply is stored with the top-level comment as its
``parent``, so that is the parent we report. A deleted comment that still has
replies stays in the listing as a placeholder (``mode`` 4) and is reported
with status ``deleted``.

The Atom feed (``GET /feed?uri=``, on when ``[rss] base`` is set) is for
operators who only expose feeds; entries get the same ``isso-<id>`` keys.
Its ETag names the newest top-level comment only, so new replies and edits
would be answered 304: the feed source never sends validators.

There is no site-wide source: Isso's ``/latest?limit=N`` sorts replies after
all top-level comments, so a new top-level comment is missing from it as soon
as the site has N replies.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.feeds.errors import ParseError, RetrieveError
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.parse import parse_feed
from bot.feeds.sources.base import NotModified, ParseContext, ParseFunc, Retrieved

if TYPE_CHECKING:
    from bot.feeds.fetch import Fetcher
    from bot.storage.records import FeedState

# Isso's own widget draws identicons in the browser from the author hash; for
# Discord we need a URL, so Gravatar draws one from a digest of that hash.
IDENTICON_URL = "https://www.gravatar.com/avatar/{digest}?d=identicon&f=y&s=80"
ANONYMOUS = "Anonymous"
COMPLETE = datetime.min.replace(tzinfo=UTC)
MODE_STATUS = {1: "approved", 2: "pending", 4: "deleted"}
_ISSO_ID = re.compile(r"(?:#isso-|/)(\d+)$")
_TAGS = re.compile(r"<[^>]*>")


def isso_key(comment_id: int | str) -> str:
    return f"isso-{comment_id}"


def comment_url(post_url: str | None, comment_id: int | str) -> str | None:
    """Where the comment is shown: the post page with Isso's ``#isso-<id>`` anchor."""
    if not post_url:
        return None
    return f"{post_url.split('#', 1)[0]}#isso-{comment_id}"


def identicon_url(author_hash: str | None, template: str | None = IDENTICON_URL) -> str | None:
    if not author_hash or not template:
        return None
    digest = hashlib.md5(author_hash.encode(), usedforsecurity=False).hexdigest()
    return template.format(digest=digest, hash=author_hash)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


def _plain(value: Any) -> str | None:
    """Isso stores author and website HTML-escaped; entries carry plain text."""
    return html.unescape(value) if isinstance(value, str) and value else None


# --- JSON thread listing ---------------------------------------------------


def parse_isso_thread(
    retrieved: Retrieved,
    ctx: ParseContext,
    *,
    post_key: str | None = None,
    post_url: str | None = None,
    avatar_template: str | None = IDENTICON_URL,
) -> ParsedFeed:
    """Isso's ``GET /?uri=`` JSON → the post's comments (a complete listing).

    No body means Isso answered 404 for a thread without comments: empty.
    """
    post_key = ctx.post_key or post_key
    post_url = ctx.post_url or post_url
    if not retrieved.bodies or not retrieved.bodies[0].strip():
        return ParsedFeed((), link=post_url, window_start=COMPLETE, kinds=(EntryKind.COMMENT,))
    try:
        data = json.loads(retrieved.bodies[0])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(retrieved.url, f"Isso answered with invalid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("replies"), list):
        raise ParseError(retrieved.url, "Isso answered JSON without a 'replies' list")
    warnings: list[str] = []
    entries: list[Entry] = []
    complete = not data.get("hidden_replies")
    for comment in _walk(data["replies"], warnings):
        complete = complete and not comment.get("hidden_replies")
        entry = _comment_entry(comment, ctx, post_key, post_url, avatar_template, warnings)
        if entry is not None:
            entries.append(entry)
    if not complete:
        warnings.append("Isso left replies out (limit/nested_limit): removals are not inferred")
    return ParsedFeed(
        tuple(entries),
        link=post_url,
        window_start=COMPLETE if complete else None,
        kinds=(EntryKind.COMMENT,),
        warnings=tuple(warnings),
    )


def _walk(replies: list[Any], warnings: list[str]) -> list[dict[str, Any]]:
    """Top-level comments and their replies, flattened in listing order."""
    flat: list[dict[str, Any]] = []
    for comment in replies:
        if not isinstance(comment, dict):
            warnings.append(f"skipped a listing item that is not an object: {comment!r:.60}")
            continue
        flat.append(comment)
        nested = comment.get("replies")
        if isinstance(nested, list):
            flat.extend(_walk(nested, warnings))
    return flat


def _comment_entry(
    comment: dict[str, Any],
    ctx: ParseContext,
    post_key: str | None,
    post_url: str | None,
    avatar_template: str | None,
    warnings: list[str],
) -> Entry | None:
    comment_id = _int(comment.get("id"))
    if comment_id is None:
        warnings.append(f"skipped a comment without a numeric id: {comment.get('id')!r:.40}")
        return None
    created = _timestamp(comment.get("created"))
    if created is None:
        warnings.append(f"comment {comment_id} has no valid 'created' time")
    parent = _int(comment.get("parent"))
    entry = Entry(
        kind=EntryKind.COMMENT,
        key=isso_key(comment_id),
        native_id=str(comment_id),
        url=comment_url(post_url, comment_id),
        author=_plain(comment.get("author")) or ANONYMOUS,
        author_url=_plain(comment.get("website")),
        avatar_url=_avatar(comment, avatar_template),
        content_html=str(comment.get("text") or ""),
        published=created,
        updated=_timestamp(comment.get("modified")),
        post_key=post_key,
        post_url=post_url,
        post_title=ctx.post_title,
        parent_key=isso_key(parent) if parent is not None else None,
        status=MODE_STATUS.get(comment.get("mode", 1), f"mode-{comment.get('mode')}"),
    )
    return _as_placeholder(entry) if entry.status == "deleted" else entry


def _as_placeholder(entry: Entry) -> Entry:
    """A deleted comment kept for its replies: nothing of it is shown any more."""
    return dataclasses.replace(
        entry, author=None, author_url=None, avatar_url=None, content_html="", status="deleted"
    )


def _avatar(comment: dict[str, Any], template: str | None) -> str | None:
    """Isso's Gravatar URL when ``[general] gravatar`` is on, else an identicon."""
    gravatar = comment.get("gravatar_image")
    if isinstance(gravatar, str) and gravatar:
        return gravatar
    author_hash = comment.get("hash")
    return identicon_url(author_hash if isinstance(author_hash, str) else None, template)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- Atom feed -------------------------------------------------------------


def parse_isso_feed(
    retrieved: Retrieved,
    ctx: ParseContext,
    *,
    post_key: str | None = None,
    post_url: str | None = None,
) -> ParsedFeed:
    """Isso's per-thread Atom feed → the same ``isso-<id>`` comments as the JSON.

    The feed holds at most ``[rss] limit`` comments, so removals are not inferred.
    Isso writes local time with a ``Z``: run Isso with ``TZ=UTC`` for true times.
    """
    ctx = dataclasses.replace(
        ctx, post_key=ctx.post_key or post_key, post_url=ctx.post_url or post_url
    )
    parsed = parse_feed(retrieved, ctx)
    warnings = list(parsed.warnings)
    entries = []
    for entry in parsed.entries:
        mapped = _feed_entry(entry, ctx, warnings)
        if mapped is not None:
            entries.append(mapped)
    return dataclasses.replace(
        parsed,
        entries=tuple(entries),
        window_start=None,
        kinds=(EntryKind.COMMENT,),
        warnings=tuple(warnings),
    )


def _feed_entry(entry: Entry, ctx: ParseContext, warnings: list[str]) -> Entry | None:
    comment_id = _isso_id(entry.url) or _isso_id(entry.native_id) or _isso_id(entry.key)
    if comment_id is None:
        warnings.append(f"skipped a feed entry that is not an Isso comment: {entry.key!r:.60}")
        return None
    parent_id = _isso_id(entry.parent_key)
    deleted = not _TAGS.sub("", entry.content_html).strip() and not entry.author
    mapped = dataclasses.replace(
        entry,
        kind=EntryKind.COMMENT,
        key=isso_key(comment_id),
        native_id=comment_id,
        url=comment_url(ctx.post_url, comment_id) or entry.url,
        title=None,  # "Comment #N"; the JSON has no title, and titles count as content
        # Isso writes its already-escaped author into <name>: it arrives escaped once more
        author=_plain(entry.author) or ANONYMOUS,
        parent_key=isso_key(parent_id) if parent_id else None,
        post_key=ctx.post_key or entry.post_key,
        post_url=ctx.post_url or entry.post_url,
    )
    return _as_placeholder(mapped) if deleted else mapped


def _isso_id(value: str | None) -> str | None:
    """The comment id from ``…#isso-12``, ``tag:host,2018:/isso/1/12`` or ``isso-12``."""
    if not value:
        return None
    if value.startswith("isso-") and value[5:].isdigit():
        return value[5:]
    match = _ISSO_ID.search(value)
    return match.group(1) if match else None


# --- sources ---------------------------------------------------------------


class IssoThreadSource:
    """The comments of one post from Isso's JSON API (complete listing)."""

    def __init__(
        self,
        isso_url: str,
        post_key: str,
        post_uri: str,
        post_url: str,
        *,
        nested_limit: int | None = None,
        avatar_template: str | None = IDENTICON_URL,
    ) -> None:
        self.isso_url = isso_url.rstrip("/") + "/"
        self.post_key = post_key
        self.post_uri = post_uri
        self.post_url = post_url
        self.nested_limit = nested_limit
        self.avatar_template = avatar_template

    @property
    def parse(self) -> ParseFunc:
        return functools.partial(
            parse_isso_thread,
            post_key=self.post_key,
            post_url=self.post_url,
            avatar_template=self.avatar_template,
        )

    @property
    def params(self) -> dict[str, str]:
        params = {"uri": self.post_uri}
        if self.nested_limit is not None:
            params["nested_limit"] = str(self.nested_limit)
        return params

    async def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Retrieved | NotModified:
        try:
            return await fetcher.get(
                self.isso_url,
                params=self.params,
                accept="application/json",
                etag=state.etag,
                last_modified=state.last_modified,
            )
        except RetrieveError as error:
            if error.status == 404 and await is_isso(fetcher, self.isso_url):
                return Retrieved(url=error.url, bodies=(), content_type="application/json")
            raise


class IssoFeedSource:
    """The comments of one post from Isso's Atom feed (newest ``[rss] limit`` only)."""

    def __init__(self, isso_url: str, post_key: str, post_uri: str, post_url: str) -> None:
        self.isso_url = isso_url.rstrip("/") + "/"
        self.post_key = post_key
        self.post_uri = post_uri
        self.post_url = post_url

    @property
    def parse(self) -> ParseFunc:
        return functools.partial(parse_isso_feed, post_key=self.post_key, post_url=self.post_url)

    async def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Retrieved | NotModified:
        return await fetcher.get(
            self.isso_url + "feed",
            params={"uri": self.post_uri},
            accept="application/atom+xml, application/xml;q=0.9, */*;q=0.1",
        )


async def is_isso(fetcher: Fetcher, isso_url: str) -> bool:
    """Whether ``isso_url`` is an Isso server (its ``/info`` names a version).

    Lets a 404 on a thread mean "no comments yet" and not "wrong URL".
    """
    try:
        info = await fetcher.get(isso_url.rstrip("/") + "/info", accept="application/json")
    except RetrieveError:
        return False
    if isinstance(info, NotModified) or not info.bodies:
        return False
    try:
        data = json.loads(info.bodies[0])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("version"), str)
