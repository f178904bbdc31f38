"""HTTP retrieval for every feed: one shared session, conditional GET, hard limits.

A blog we poll is not trusted: it may be slow, huge, compressed into a bomb or
redirect forever. Every request is therefore bounded in time (connect, total: a
server that stalls or drips is cut at the total), in size (raw and decompressed)
and in redirects, and every failure
becomes a :class:`~bot.feeds.errors.RetrieveError` that names the URL, so one
bad feed is recorded on that feed and never stalls or crashes the others.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import random
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp import hdrs
from yarl import URL

from bot.config import PollingConfig
from bot.feeds._deadlines import Deadlines
from bot.feeds._slots import KeyedSlots
from bot.feeds.errors import RetrieveError
from bot.feeds.sources.base import NotModified, Retrieved

DEFAULT_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({404, 410})
RETRY_AFTER_STATUSES = frozenset({429, 503})
_CHUNK = 64 * 1024
_DIGITS = re.compile(r"\d+", re.ASCII)


class Fetcher:
    """GETs feeds through one shared :class:`aiohttp.ClientSession`.

    A session passed in is used as is (the caller closes it); otherwise the
    fetcher creates one on first use with ``limit=settings.concurrency`` and
    closes it in :meth:`close`. Decompression is always done here, never by
    aiohttp, so the decompressed size can be capped.
    """

    def __init__(
        self, settings: PollingConfig, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.settings = settings
        self._session = session
        self._owns_session = session is None
        self._hosts = KeyedSlots(settings.per_host_concurrency)
        self._usual_headers = {
            "User-Agent": settings.user_agent,
            "Accept": DEFAULT_ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        total = settings.total_timeout.total_seconds()
        connect = min(settings.connect_timeout.total_seconds(), total)
        self._total = total
        # The total is ours (``Deadlines``: a timer per tick, not aiohttp's per request, ~10 µs
        # a request). No read (silence) timeout: the total bounds a stalled body too, and
        # aiohttp would re-arm a timer on every chunk received (6 µs a request).
        self._deadlines = Deadlines(total)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this fetcher created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        params: Mapping[str, str] | None = None,
        accept: str = DEFAULT_ACCEPT,
        auth: aiohttp.BasicAuth | tuple[str, str] | None = None,
    ) -> Retrieved | NotModified:
        """GET ``url`` (conditionally when validators are given).

        Returns the body of the final URL after redirects, or
        :class:`NotModified` on 304. Raises :class:`RetrieveError` on any
        failure; aiohttp exceptions never escape. ``auth`` (a ``BasicAuth`` or,
        since aiohttp 3.14 deprecates that class, a ``(login, password)``
        pair) is sent as a header and dropped on a redirect to another origin.
        """
        target = _parsed_url(url, params) if params else _checked_feed_url(url)
        # our own session sends the usual ones itself (a dict less to merge, per request)
        headers = {} if self._owns_session else dict(self._usual_headers)
        if accept != DEFAULT_ACCEPT:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if auth is not None:
            headers["Authorization"] = _authorization(auth)
        # Redirects are followed here, by hand, one host slot per hop. The total timeout runs
        # from the first hop's start (not while it waits for its slot) to the end of the last
        # body, later hops' waits for their slots included. (One coroutine with the loop, not
        # one around it: a poll awaits through each, every time data arrives.)
        hop, visited = target, [target]
        hosts, deadlines = self._hosts, self._deadlines
        watch = None
        try:
            while True:
                host = hop.host or ""
                if not hosts.take_now(host):
                    await hosts.take(host)
                if watch is None:
                    watch = deadlines.watch()
                try:
                    result = await self._hop(hop, headers)
                finally:
                    hosts.give(host)
                if not isinstance(result, URL):
                    return result
                _check_redirect(visited, result, self.settings.max_redirects)
                if result.origin() != hop.origin():
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                visited.append(result)
                hop = result
        except asyncio.CancelledError:
            if watch is not None and deadlines.expired(watch):
                raise RetrieveError(
                    url, f"timed out: the response took longer than {self._total:g}s in total"
                ) from None
            raise
        except RetrieveError as exc:
            if exc.url in (url, str(target)):
                raise
            raise RetrieveError(
                url,
                f"{exc.message} (at {exc.url}, after redirects)",
                status=exc.status,
                retry_after=exc.retry_after,
                permanent=exc.permanent,
            ) from exc
        finally:
            if watch is not None:
                deadlines.forget(watch)

    def _session_for_request(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the shared aiohttp session was closed")
            connector = aiohttp.TCPConnector(limit=self.settings.concurrency)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                headers=self._usual_headers,
            )
        return self._session

    async def _hop(self, url: URL, headers: dict[str, str]) -> Retrieved | NotModified | URL:
        """One request: a result, or the URL a redirect points to.

        The response is handled here, not in a coroutine of its own: a poll awaits through
        every coroutine between its task and the socket, each time data arrives. For the same
        reason the request is awaited as it is, not entered (``async with session.get()``
        waits for the headers inside the context manager's ``__aenter__`` coroutine); the
        response is then entered, which releases it as ``async with session.get()`` does.
        """
        session = self._session_for_request()
        try:
            response = await session.get(
                url,
                headers=headers,
                allow_redirects=False,
                auto_decompress=False,
                raise_for_status=False,
                timeout=self._timeout,
            )
            async with response:
                status = response.status
                if status in REDIRECT_STATUSES:
                    return _redirect_target(url, response)
                got = response.headers
                max_age = parse_max_age(got.get(hdrs.CACHE_CONTROL, ""))
                if status == 304:
                    return NotModified(max_age)
                if not 200 <= status < 300:
                    raise _status_error(url, response)
                limit = self.settings.max_body_bytes
                length = response.content_length
                if (
                    length is not None
                    and length <= limit
                    and got.get(hdrs.CONTENT_ENCODING, "") in ("", "identity")
                ):  # nearly every feed: aiohttp reads exactly ``length`` bytes, within the limit
                    body = await response.read()
                else:
                    body = await _read_body(url, response, limit)
                return Retrieved(  # in field order: every poll answered 200 comes here
                    str(url),
                    (body,),
                    got.get(hdrs.CONTENT_TYPE),
                    got.get(hdrs.ETAG),
                    got.get(hdrs.LAST_MODIFIED),
                    max_age,
                )
        except aiohttp.ClientError as exc:
            raise _translate(url, exc, self._timeout) from exc
        except OSError as exc:
            raise RetrieveError(str(url), f"network error: {exc.strerror or exc}") from exc


def backoff_delay(
    failures: int, base: timedelta, cap: timedelta, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with *full jitter*: uniform in [0, min(cap, base·2^(failures−1))].

    Full jitter (not decorrelated) because it needs no memory of the previous
    delay, so the function stays pure given ``rng``. ``failures <= 0`` → 0.
    """
    if failures <= 0:
        return timedelta(0)
    base_s = max(base.total_seconds(), 0.0)
    cap_s = max(cap.total_seconds(), 0.0)
    ceiling = min(cap_s, base_s * 2.0 ** min(failures - 1, 64))
    uniform = rng.uniform if rng is not None else random.uniform
    return timedelta(seconds=uniform(0.0, ceiling))


def parse_retry_after(value: str, now: datetime) -> float | None:
    """``Retry-After`` (delay-seconds or an HTTP date) → seconds from ``now``, ≥ 0.

    ``None`` when the value is neither. Naive datetimes are taken as UTC.
    """
    value = value.strip()
    if _DIGITS.fullmatch(value):
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str) -> float | None:
    """``Cache-Control`` → seconds the response stays fresh.

    ``max-age`` wins (first one); ``no-cache`` / ``no-store`` alone → 0.0
    (poll normally); nothing usable → ``None``.
    """
    if not cache_control:  # nearly every response of nearly every blog
        return None
    no_cache = False
    for directive in cache_control.split(","):
        name, _, value = directive.partition("=")
        name = name.strip().lower()
        value = value.strip().strip('"')
        if name == "max-age" and _DIGITS.fullmatch(value):
            return float(int(value))
        if name in ("no-cache", "no-store"):
            no_cache = True
    return 0.0 if no_cache else None


# --- internals ------------------------------------------------------------


def _authorization(auth: aiohttp.BasicAuth | tuple[str, str]) -> str:
    if isinstance(auth, aiohttp.BasicAuth):
        return auth.encode()
    login, password = auth
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


@functools.lru_cache(maxsize=16_384)
def _checked_feed_url(url: str) -> URL:
    """``_parsed_url`` of a URL without extra parameters, remembered (a permanent error for
    anything but an absolute http(s) URL).

    Feeds are polled again and again, and a new URL costs more than the rest of preparing
    a request (parsing, and what aiohttp derives from it and caches on it). Errors are not
    remembered. A URL with those weighs about 0.8 KB: 10,000 feeds' take 8–9 MB. Polls go
    round every feed, so an LRU smaller than the feeds polled finds none of them: at 4,096,
    10,000 feeds cost 8–13 µs more per poll (126–131 µs against 118 at 16,384).
    """
    return _parsed_url(url, None)


def _parsed_url(url: str, params: Mapping[str, str] | None) -> URL:
    try:
        target = URL(url)
        if params:
            target = target.update_query(dict(params))
    except (TypeError, ValueError) as exc:
        raise RetrieveError(url, f"invalid URL ({exc})", permanent=True) from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise RetrieveError(
            url,
            "invalid URL: only absolute http:// or https:// URLs can be fetched",
            permanent=True,
        )
    return target.with_fragment(None)


def _redirect_target(url: URL, response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise RetrieveError(
            str(url),
            f"HTTP {response.status} redirect without a Location header",
            status=response.status,
        )
    try:
        target = url.join(URL(location)).with_fragment(None)
    except (TypeError, ValueError) as exc:
        raise RetrieveError(
            str(url), f"invalid redirect Location {location!r}", status=response.status
        ) from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise RetrieveError(
            str(url), f"redirect to a non-HTTP URL {location!r}", status=response.status
        )
    return target


def _check_redirect(visited: list[URL], target: URL, limit: int) -> None:
    if target in visited:
        chain = " → ".join(str(u) for u in [*visited[visited.index(target) :], target])
        raise RetrieveError(str(visited[0]), f"redirect loop: {chain}")
    if len(visited) > limit:
        raise RetrieveError(str(visited[0]), f"too many redirects (more than {limit})")


def _status_error(url: URL, response: aiohttp.ClientResponse) -> RetrieveError:
    """The error for a status that is neither a success, a redirect nor 304."""
    status = response.status
    if status < 400:
        return RetrieveError(
            str(url),
            f"unexpected HTTP status {status} {response.reason or ''}".rstrip(),
            status=status,
        )
    retry_after = None
    message = f"the server answered HTTP {status} {response.reason or ''}".rstrip()
    if status in RETRY_AFTER_STATUSES and "Retry-After" in response.headers:
        retry_after = parse_retry_after(response.headers["Retry-After"], datetime.now(UTC))
        if retry_after is not None:
            message += f" (retry after {retry_after:g}s)"
    return RetrieveError(
        str(url),
        message,
        status=status,
        retry_after=retry_after,
        permanent=status in PERMANENT_STATUSES,
    )


def _translate(url: URL, exc: aiohttp.ClientError, timeout: aiohttp.ClientTimeout) -> RetrieveError:
    """One readable sentence per aiohttp failure; the order of checks matters."""
    host = url.host or str(url)
    message: str
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        message = f"timed out connecting to {host} after {timeout.connect:g}s"
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        message = "timed out waiting for the server"
    elif isinstance(exc, aiohttp.ClientConnectorDNSError):
        message = f"could not resolve the host name {host}"
    elif isinstance(exc, aiohttp.ClientSSLError):
        message = f"TLS connection to {host} failed ({exc})"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error)
        message = f"could not connect to {exc.host}:{exc.port} ({reason})"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        message = "the server closed the connection before the response was complete"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        message = "the response body was cut off or malformed"
    elif isinstance(exc, aiohttp.ClientResponseError):
        message = f"invalid HTTP response ({exc.message})"
    elif isinstance(exc, aiohttp.InvalidURL):
        return RetrieveError(str(url), f"invalid URL ({exc})", permanent=True)
    else:
        message = f"request failed ({type(exc).__name__}: {exc})"
    return RetrieveError(str(url), message)


class _BodyError(Exception):
    """A body limit or encoding problem; turned into a RetrieveError by the caller."""


async def _read_body(url: URL, response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Stream a compressed body, or one of unknown length, counting raw and decompressed
    bytes against ``limit`` (``Fetcher._hop`` reads the others itself).
    """
    length = response.content_length
    if length is not None and length > limit:
        raise RetrieveError(
            str(url), f"the body is {length} bytes, more than the limit of {limit} bytes"
        )
    encoding = response.headers.get("Content-Encoding", "")
    try:
        decoder = _Decoder.for_encoding(encoding, limit)
        body = bytearray()
        received = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            received += len(chunk)
            if received > limit:
                raise _BodyError(f"the body exceeds the limit of {limit} bytes")
            body += decoder.feed(chunk)
        body += decoder.finish()
    except _BodyError as exc:
        raise RetrieveError(str(url), str(exc)) from None
    return bytes(body)


class _Decoder:
    """Incremental gzip/deflate inflater that refuses to grow beyond ``limit``.

    zlib's ``max_length`` stops inflation one byte past the limit, so a bomb
    costs at most ``limit`` bytes of memory and milliseconds of CPU.
    """

    def __init__(self, name: str, wbits: int | None, limit: int) -> None:
        self._name = name
        self._wbits = wbits
        self._limit = limit
        self._inflater: zlib._Decompress | None = None
        self._pending = b""
        self._started = False
        self.size = 0

    @classmethod
    def for_encoding(cls, header: str, limit: int) -> _Decoder:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if not codings:
            return cls("identity", 0, limit)
        if codings in (["gzip"], ["x-gzip"]):
            return cls("gzip", 16 + zlib.MAX_WBITS, limit)
        if codings == ["deflate"]:
            return cls("deflate", None, limit)
        raise _BodyError(f"unsupported Content-Encoding {header!r}")

    def feed(self, data: bytes) -> bytes:
        if self._wbits == 0:
            return data
        try:
            return self._inflate(data)
        except zlib.error as exc:
            raise _BodyError(f"the {self._name}-compressed body is corrupt ({exc})") from None

    def finish(self) -> bytes:
        if self._wbits == 0:
            return b""
        if self._pending or (self._inflater is not None and not self._inflater.eof):
            raise _BodyError(f"the {self._name}-compressed body is truncated")
        return b""

    def _inflate(self, data: bytes) -> bytes:
        output = bytearray()
        while data:
            if self._inflater is None:
                if self._started and self._name == "gzip" and not data.strip(b"\0"):
                    break  # zero padding after the last gzip member
                if self._wbits is None:
                    data = self._pending + data
                    if len(data) < 2:
                        self._pending = data
                        break
                    self._pending = b""
                    self._wbits = zlib.MAX_WBITS if _is_zlib_header(data) else -zlib.MAX_WBITS
                self._inflater = zlib.decompressobj(self._wbits)
                self._started = True
            chunk = self._inflater.decompress(data, self._limit - self.size + 1)
            self.size += len(chunk)
            if self.size > self._limit:
                raise _BodyError(f"the decompressed body exceeds the limit of {self._limit} bytes")
            output += chunk
            if self._inflater.eof:
                data = self._inflater.unused_data
                if self._name != "gzip":
                    break  # deflate has one stream; ignore trailing bytes
                self._inflater = None
            else:
                data = self._inflater.unconsumed_tail
        return bytes(output)


def _is_zlib_header(data: bytes) -> bool:
    return (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
