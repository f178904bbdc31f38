"""Feed bytes → :class:`ParsedFeed`, off the event loop and defended against hostile XML.

:func:`parse_feed` is pure and picklable: the pipeline runs it (and each
source's parse function) in a :class:`ParserPool`, a small process pool whose
workers are killed and replaced when a document makes them hang or die, so a
pathological feed costs one :class:`ParseError` and never wedges the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, TypeVarTuple, cast
from urllib.parse import urldefrag, urlsplit
from xml.sax import SAXParseException

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import (
    CharacterEncodingOverride,
    CharacterEncodingUnknown,
    NonXMLContentType,
)

from bot.feeds._worker import WorkerDied, WorkerProcess
from bot.feeds.errors import ParseError
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.sources.base import ParseContext, Retrieved

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

PoolMode = Literal["process", "thread", "inline"]
ROLES = ("posts", "comments", "post_comments")
_MAX_KEY_LENGTH = 1000
_ENCODING_BOZOS = (CharacterEncodingOverride, CharacterEncodingUnknown, NonXMLContentType)


# --- the parser pool --------------------------------------------------------


class ParserPool:
    """Runs pure parse functions in worker processes, with a timeout per call.

    ``mode="process"`` (default): up to ``max_workers`` processes of our own
    (:mod:`bot.feeds._worker`), each started when a parse first needs it and
    running one call at a time, with its address space capped at
    ``memory_limit`` bytes. A call that times out kills its worker; a worker
    that dies fails its call (after one retry on a fresh worker, in case it
    had died while idle); either way the next call gets a fresh one. An
    all-304 cycle parses nothing and starts no process. ``mode="thread"``
    cannot stop a runaway parse (threads cannot be killed) and
    ``mode="inline"`` (or ``inline=True``) runs on the event loop with no
    timeout: both exist for benchmarks and tests.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        mode: PoolMode = "process",
        inline: bool = False,
        memory_limit: int | None = 1 << 30,
    ) -> None:
        self.mode: PoolMode = "inline" if inline else mode
        self.max_workers = max_workers or default_workers()
        self._memory_limit = memory_limit
        self._slots = asyncio.Semaphore(self.max_workers)
        self._threads: ThreadPoolExecutor | None = None
        self._idle: list[WorkerProcess] = []
        self._workers: set[WorkerProcess] = set()
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    async def start(self) -> None:
        """Start a worker now, so the first real parse does not pay for it."""
        await self.run(_ready, timeout=60)

    def worker_pids(self) -> list[int]:
        """The parser processes running now (for measurements)."""
        return [worker.pid for worker in self._workers]

    async def run(
        self,
        func: Callable[[*Ts], T],
        *args: *Ts,
        timeout: float = 30,  # noqa: ASYNC109 (the pool kills the worker, not just the await)
        url: str | None = None,
    ) -> T:
        """``func(*args)`` in a worker; ``ParseError`` if it times out or kills the worker.

        ``url`` names the feed in errors; by default it is taken from a
        :class:`Retrieved` or :class:`ParseContext` argument.
        """
        if self._closed:
            raise RuntimeError("the parser pool is closed")
        where = url or _url_of(args)
        if self.mode == "inline":
            return _guarded(where, func, *args)
        async with self._slots:
            if self.mode == "thread":
                return await self._in_thread(where, timeout, func, *args)
            for attempt in (1, 2):
                try:
                    return await self._in_worker(where, timeout, func, *args)
                except WorkerDied:
                    if attempt == 2:
                        raise ParseError(
                            where, "the parser worker died (crashed or was killed)"
                        ) from None
        raise AssertionError("unreachable")

    async def _in_worker(
        self, where: str, seconds: float, func: Callable[[*Ts], T], *args: *Ts
    ) -> T:
        loop = asyncio.get_running_loop()
        threads = self._thread_pool()
        worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = await loop.run_in_executor(threads, WorkerProcess, self._memory_limit)
            self._workers.add(worker)
        healthy = False
        try:
            future = loop.run_in_executor(threads, worker.call, _guarded, (where, func, *args))
            future.add_done_callback(_retrieved)
            done, _ = await asyncio.wait({future}, timeout=seconds)
            if not done:
                raise ParseError(where, self._timeout_message(seconds))
            ok, value = future.result()
            healthy = True
        finally:
            if healthy and not self._closed:
                self._idle.append(worker)
            elif worker in self._workers:  # timed out, died, cancelled: its state is unknown
                self._workers.discard(worker)
                worker.process.kill()  # now: the thread waiting on it must not wait any longer
                await loop.run_in_executor(threads, worker.stop)
        if not ok:
            raise value
        return cast(T, value)

    async def _in_thread(
        self, where: str, seconds: float, func: Callable[[*Ts], T], *args: *Ts
    ) -> T:
        future = asyncio.get_running_loop().run_in_executor(
            self._thread_pool(), _guarded, where, func, *args
        )
        done, _ = await asyncio.wait({future}, timeout=seconds)
        if not done:
            future.cancel()
            raise ParseError(where, self._timeout_message(seconds))
        return future.result()

    def close(self) -> None:
        """Stop the workers; calls still running fail."""
        self._closed = True
        workers, self._workers, self._idle = self._workers, set(), []
        for worker in workers:
            worker.stop()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    def _timeout_message(self, timeout: float) -> str:
        if self.mode == "thread":
            return f"parsing took longer than {timeout:g}s (the parser thread keeps running)"
        return f"parsing took longer than {timeout:g}s; the parser worker was stopped"

    def _thread_pool(self) -> ThreadPoolExecutor:
        """Threads that parse (thread mode) or wait on the worker processes (process mode)."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="parser")
        return self._threads


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a call's outcome as seen (a timed-out call's WorkerDied is expected, not news)."""
    if not future.cancelled():
        future.exception()


def default_workers() -> int:
    """One parser process per core beyond the event loop's, at most two; at least one."""
    return max(1, min(2, (os.cpu_count() or 1) - 1))


def _ready() -> bool:
    return True


def _guarded(where: str, func: Callable[[*Ts], T], *args: *Ts) -> T:
    """Call ``func``, turning exhaustion (memory, recursion) into a ParseError."""
    try:
        return func(*args)
    except MemoryError:
        raise ParseError(where, "parsing ran out of memory") from None
    except RecursionError:
        raise ParseError(where, "the document is nested too deeply") from None


def _url_of(args: Sequence[object]) -> str:
    for arg in args:
        if isinstance(arg, Retrieved | ParseContext):
            return arg.url
    return "<unknown feed>"


# --- parse_feed -------------------------------------------------------------


def parse_feed(retrieved: Retrieved, ctx: ParseContext) -> ParsedFeed:
    """Parse one RSS/Atom retrieval into entries for ``ctx.role``.

    ``posts`` → posts; ``comments`` / ``post_comments`` → comments (WordPress
    comment RSS, Isso Atom, any feed with RFC 4685 threading). Raises
    :class:`ParseError` when the body is not a usable feed; minor problems
    become ``ParsedFeed.warnings``.
    """
    url = ctx.url or retrieved.url
    if ctx.role not in ROLES:
        raise ParseError(url, f"unknown feed role {ctx.role!r} (expected one of {ROLES})")
    if len(retrieved.bodies) != 1:
        raise ParseError(url, f"expected one body, got {len(retrieved.bodies)}")
    body = retrieved.bodies[0]
    if not body.strip():
        raise ParseError(url, "the body is empty")
    headers = {"content-location": retrieved.url}
    if retrieved.content_type:
        headers["content-type"] = retrieved.content_type
    utf8 = _as_utf8(body, headers)
    _reject_entity_declarations(url, body, utf8)
    result = _feedparser(url, body, headers)
    warnings = _check_result(url, result, utf8, retrieved.content_type)
    entries, duplicates = _entries(result, ctx)
    if duplicates:
        warnings.extend(duplicates)
    kind = EntryKind.POST if ctx.role == "posts" else EntryKind.COMMENT
    feed = result.get("feed") or {}
    return ParsedFeed(
        entries=tuple(entries),
        title=feed.get("title") or None,
        link=feed.get("link") or None,
        kinds=(kind,),
        warnings=tuple(warnings),
    )


def _as_utf8(body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes feedparser will actually parse (it re-encodes to UTF-8 first)."""
    try:
        converted: bytes = convert_to_utf8(dict(headers), body, {})
    except Exception:  # feedparser internals: fall back to the raw bytes
        return body
    return converted


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _reject_entity_declarations(url: str, body: bytes, utf8: bytes) -> None:
    """Refuse DTD entities before parsing: cheap, and the only complete defence.

    feedparser's lenient fallback parser expands "safe" entities itself, so a
    quadratic-blowup document (one big entity referenced many times) costs
    gigabytes and minutes even though expat's own limit trips.
    """
    for data in (utf8, body, *_wide_decodings(body)):
        if _DOCTYPE.search(data) and _ENTITY.search(data):
            raise ParseError(
                url, "entity declarations are not allowed (possible entity-expansion attack)"
            )


def _wide_decodings(body: bytes) -> list[bytes]:
    """UTF-16/32 readings of a body with NUL bytes, whatever its headers claim."""
    if b"\0" not in body[:1024]:
        return []
    codecs = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    return [body.decode(codec, "ignore").encode("utf-8", "ignore") for codec in codecs]


def _feedparser(url: str, body: bytes, headers: dict[str, str]) -> Any:
    try:
        return feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise ParseError(url, f"feedparser failed ({type(exc).__name__}: {exc})") from exc


def _check_result(url: str, result: Any, utf8: bytes, content_type: str | None) -> list[str]:
    """Raise ParseError for a body that is not a feed; return warnings for the rest."""
    problem = result.get("bozo_exception") if result.get("bozo") else None
    encoding = result.get("encoding") or "unknown"
    if not result.get("version"):
        if _looks_like_html(utf8, content_type):
            raise ParseError(url, "not a feed: the server sent an HTML page")
        detail = f" ({_describe(problem)}; decoded as {encoding})" if problem else ""
        raise ParseError(url, f"not an RSS or Atom feed{detail}")
    if problem is None:
        return []
    if isinstance(problem, _ENCODING_BOZOS):
        if not result.get("entries") and isinstance(problem, CharacterEncodingUnknown):
            raise ParseError(url, f"unreadable text encoding ({problem})")
        return [f"encoding problem, parsed anyway: {problem}"]
    if _is_truncated(utf8):
        raise ParseError(url, f"the XML document is truncated ({_describe(problem)})")
    if not result.get("entries"):
        raise ParseError(url, f"malformed XML with no entries ({_describe(problem)})")
    return [f"malformed XML, parsed leniently: {_describe(problem)}"]


def _describe(problem: object) -> str:
    if isinstance(problem, SAXParseException):
        return (
            f"{problem.getMessage()} at line {problem.getLineNumber()}, "
            f"column {problem.getColumnNumber()}"
        )
    return str(problem) or type(problem).__name__


def _looks_like_html(utf8: bytes, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in ("text/html",):
        return True
    head = utf8[:2048].lower()
    return b"<!doctype html" in head or b"<html" in head


_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_TRAILER = rb"(?:\s|<!--.*?-->|<\?.*?\?>)*\Z"


def _is_truncated(utf8: bytes) -> bool:
    """True unless the document ends with the closing tag of its root element."""
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", utf8[:4096], flags=re.DOTALL)
    root = _ROOT.search(body)
    if root is None:
        return True
    closing = rb"</\s*" + re.escape(root.group(1)) + rb"\s*>" + _TRAILER
    return re.search(closing, utf8[-4096:], re.DOTALL) is None


# --- entries ----------------------------------------------------------------


def _entries(result: Any, ctx: ParseContext) -> tuple[list[Entry], list[str]]:
    """Map feedparser entries; the first entry with a given key wins."""
    feed = result.get("feed") or {}
    raws = list(result.get("entries") or [])
    ids = {str(raw.get("id")).strip() for raw in raws if raw.get("id")}
    post_refs = {r for r in (ctx.post_key, ctx.post_url, feed.get("id"), feed.get("link")) if r}
    seen: set[str] = set()
    entries: list[Entry] = []
    warnings: list[str] = []
    for position, raw in enumerate(raws, start=1):
        key = entry_key(raw)
        if key in seen:
            warnings.append(f"duplicate entry {key!r} at position {position} ignored")
            continue
        seen.add(key)
        if ctx.role == "posts":
            entries.append(_post(raw, key))
        else:
            entries.append(_comment(raw, key, ctx, ids - {key}, post_refs))
    return entries, warnings


def entry_key(raw: dict[str, Any]) -> str:
    """guid/id, else link, else a sha256 of (title, content, published): deterministic."""
    for name in ("id", "link"):
        value = str(raw.get(name) or "").strip()
        if value:
            return value if len(value) <= _MAX_KEY_LENGTH else _hash_key([value])
    return _hash_key([raw.get("title") or "", _content(raw), _date_text(raw)])


def _hash_key(parts: list[str]) -> str:
    data = json.dumps(parts, ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _date_text(raw: dict[str, Any]) -> str:
    return str(dict.get(raw, "published") or dict.get(raw, "updated") or "")


def _post(raw: dict[str, Any], key: str) -> Entry:
    content = _content(raw)
    published, updated = _dates(raw)
    return Entry(
        kind=EntryKind.POST,
        key=key,
        url=_text(raw.get("link")),
        title=_text(raw.get("title")),
        author=_author(raw),
        author_url=_author_url(raw),
        content_html=content,
        published=published,
        updated=updated,
        categories=_categories(raw),
        image_url=_image(raw, content),
        comments_feed=_comments_feed(raw),
    )


def _comment(
    raw: dict[str, Any], key: str, ctx: ParseContext, other_ids: set[str], post_refs: set[str]
) -> Entry:
    link = _text(raw.get("link"))
    published, updated = _dates(raw)
    post_key, post_url = _post_of_comment(raw, link)
    parent_key = None
    reply = raw.get("thr_in-reply-to") or {}
    ref = _text(reply.get("ref"))
    if ref:
        if _is_comment_ref(ref, _text(reply.get("href")), other_ids, post_refs, post_url):
            parent_key = ref
        else:
            post_key = ref
            post_url = _page(_text(reply.get("href"))) or post_url
    return Entry(
        kind=EntryKind.COMMENT,
        key=key,
        url=link,
        title=_text(raw.get("title")),
        author=_author(raw),
        author_url=_author_url(raw),
        content_html=_content(raw),
        published=published,
        updated=updated,
        post_key=ctx.post_key or post_key,
        post_url=ctx.post_url or post_url,
        post_title=ctx.post_title,
        parent_key=parent_key,
        native_id=_native_id(link),
    )


def _post_of_comment(raw: dict[str, Any], link: str | None) -> tuple[str | None, str | None]:
    """(post key, post URL) from the comment itself.

    WordPress comment guids are ``<post guid>#comment-<id>``, so dropping the
    fragment gives the post's key in the posts feed; otherwise the comment
    link's page (WordPress ``/comment-page-N/`` removed) stands for the post.
    """
    post_url = _page(link)
    guid = _text(raw.get("id"))
    if guid and "#" in guid:
        return urldefrag(guid).url, post_url
    if link and "#" in link:
        return post_url, post_url
    return None, post_url


_COMMENT_PAGE = re.compile(r"/comment-page-\d+/?$")


def _page(link: str | None) -> str | None:
    if not link:
        return None
    page = urldefrag(link).url
    return _COMMENT_PAGE.sub("/", page) or None


def _is_comment_ref(
    ref: str, href: str | None, other_ids: set[str], post_refs: set[str], post_url: str | None
) -> bool:
    """Does an RFC 4685 ``in-reply-to`` point at another comment (not the post)?"""
    if ref in other_ids:
        return True
    if ref in post_refs or (post_url is not None and ref == post_url):
        return False
    if href:
        return bool(urlsplit(href).fragment)
    return True


_NATIVE_ID = re.compile(r"(?:comment|isso)-(\d+)$")


def _native_id(link: str | None) -> str | None:
    if not link:
        return None
    match = _NATIVE_ID.search(urldefrag(link).fragment)
    return match.group(1) if match else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _content(raw: dict[str, Any]) -> str:
    """content:encoded / Atom content (HTML preferred), else the summary, as HTML."""
    contents = list(raw.get("content") or [])
    html_like = [c for c in contents if "html" in str(c.get("type", ""))]
    chosen = (html_like or contents or [None])[0]
    if chosen is not None:
        value = str(chosen.get("value") or "")
        return value if "html" in str(chosen.get("type", "text/html")) else html.escape(value)
    summary = raw.get("summary_detail") or {}
    value = str(raw.get("summary") or "")
    if summary and "html" not in str(summary.get("type", "text/html")):
        return html.escape(value)
    return value


def _dates(raw: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(published, updated) in UTC; Atom entries without <published> use <updated>."""
    # dict.get: FeedParserDict maps a missing "updated" to "published" (with a warning).
    updated = _utc(dict.get(raw, "updated_parsed"))
    published = _utc(dict.get(raw, "published_parsed")) or updated
    return published, updated


def _utc(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _author(raw: dict[str, Any]) -> str | None:
    detail = raw.get("author_detail") or {}
    return _text(detail.get("name")) or _text(raw.get("author"))


def _author_url(raw: dict[str, Any]) -> str | None:
    detail = raw.get("author_detail") or {}
    return _http_url(detail.get("href"))


def _categories(raw: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for tag in raw.get("tags") or []:
        name = _text(tag.get("term")) or _text(tag.get("label"))
        if name and name not in names:
            names.append(name)
    return tuple(names)


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _image(raw: dict[str, Any], content_html: str) -> str | None:
    """media:content, media:thumbnail, an image enclosure, then the first <img>."""
    for media in raw.get("media_content") or []:
        url = _http_url(media.get("url"))
        kind = str(media.get("medium") or media.get("type") or "")
        if url and (kind == "image" or kind.startswith("image/") or _is_image_path(url, kind)):
            return url
    for thumbnail in raw.get("media_thumbnail") or []:
        if url := _http_url(thumbnail.get("url")):
            return url
    for link in raw.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            if url := _http_url(link.get("href")):
                return url
    for match in _IMG_SRC.finditer(content_html):
        if url := _http_url(html.unescape(match.group(1))):
            return url
    return None


def _is_image_path(url: str, kind: str) -> bool:
    return not kind and urlsplit(url).path.lower().endswith(_IMAGE_SUFFIXES)


def _http_url(value: object) -> str | None:
    text = _text(value)
    if text and urlsplit(text).scheme in ("http", "https"):
        return text
    return None


_FEED_TYPES = ("application/atom+xml", "application/rss+xml")


def _comments_feed(raw: dict[str, Any]) -> str | None:
    """wfw:commentRss, else an Atom ``<link rel="replies">`` of a feed type."""
    if url := _http_url(raw.get("wfw_commentrss")):
        return url
    for link in raw.get("links") or []:
        if link.get("rel") == "replies" and link.get("type") in _FEED_TYPES:
            if url := _http_url(link.get("href")):
                return url
    return None
