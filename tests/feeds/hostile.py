"""A hostile feed server on 127.0.0.1: one route per way a blog can misbehave.

Use it as ``async with HostileServer() as server: server.url("/feed/good.rss")``
(each test module wraps it in a small fixture). Big bodies are streamed in
64 KiB chunks and never held in memory; slow routes stop when the server stops.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler
from multidict import CIMultiDictProxy

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
HUGE_BYTES = 50 * 1024 * 1024
BOMB_BYTES = 10 * 1024 * 1024
ETAG = '"v1-good"'
LAST_MODIFIED = "Tue, 02 Jan 2024 09:30:00 GMT"
_CHUNK = 64 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """10 MiB of zeros, gzip-compressed to about 10 KB (built once per session)."""
    return gzip.compress(bytes(BOMB_BYTES), 9)


def synthetic(name: str) -> bytes:
    """The bytes of one hand-made feed in tests/data/synthetic."""
    return (SYNTHETIC / name).read_bytes()


def quadratic_blowup(entity_size: int = 100_000, references: int = 20_000) -> bytes:
    """One big entity referenced many times: ~180 KB that expands to gigabytes."""
    head = f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"x" * entity_size}">\n]>\n'
    item = f"<item><title>{'&a;' * references}</title><guid>q</guid></item>"
    channel = f"<channel><title>t</title><link>https://q.example/</link>{item}</channel>"
    return (head + f'<rss version="2.0">{channel}</rss>').encode()


@dataclass
class Seen:
    """One request as the server saw it."""

    path: str
    query: str
    headers: CIMultiDictProxy[str]


@dataclass
class HostileServer:
    """The aiohttp app, its request log and a stop signal for the slow routes."""

    requests: list[Seen] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    _server: TestServer | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Self:
        self._server = TestServer(self._app(), host="127.0.0.1")
        await self._server.start_server(shutdown_timeout=0.5)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        if self._server is not None:
            await self._server.close()

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.port is not None
        return self._server.port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # --- routes ---------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        good = synthetic("posts.rss")
        r = app.router
        r.add_get("/feed/good.rss", _static(good, RSS))
        r.add_get("/feed/good.atom", _static(synthetic("posts.atom"), ATOM))
        r.add_get("/feed/no-ids.rss", _static(synthetic("no-ids.rss"), RSS))
        r.add_get("/feed/isso.atom", _static(synthetic("isso.atom"), ATOM))
        r.add_get("/feed/wp-comments.rss", _static(synthetic("wp-comments.rss"), RSS))
        r.add_get("/feed/html", _static(synthetic("html-page.html"), "text/html; charset=utf-8"))
        r.add_get("/feed/truncated", _static(synthetic("truncated-early.rss"), RSS))
        r.add_get("/feed/wrong-encoding", _static(good, "application/rss+xml; charset=utf-16"))
        r.add_get(
            "/feed/encoding-override",
            _static(synthetic("encoding-override.rss"), "application/rss+xml"),
        )
        r.add_get("/feed/billion-laughs", _static(synthetic("billion-laughs.xml"), RSS))
        r.add_get("/feed/quadratic-blowup", _static(quadratic_blowup(), RSS))
        r.add_get("/feed/gzip", _static(gzip.compress(good), RSS, encoding="gzip"))
        two_members = gzip.compress(good[:500]) + gzip.compress(good[500:])
        r.add_get("/feed/gzip-twice", _static(two_members, RSS, encoding="gzip"))
        r.add_get("/feed/deflate-zlib", _static(zlib.compress(good), RSS, encoding="deflate"))
        r.add_get("/feed/deflate-raw", _static(_raw_deflate(good), RSS, encoding="deflate"))
        r.add_get("/feed/gzip-bomb", _static(gzip_bomb(), RSS, encoding="gzip"))
        r.add_get("/feed/gzip-truncated", _static(gzip.compress(good)[:300], RSS, encoding="gzip"))
        r.add_get("/feed/gzip-corrupt", _static(b"this is not gzip at all", RSS, encoding="gzip"))
        r.add_get("/feed/brotli", _static(b"\x8b\x00\x80", RSS, encoding="br"))
        r.add_get("/feed/huge", self._huge)
        r.add_get("/feed/huge-chunked", self._huge)
        r.add_get("/feed/drip", self._drip)
        r.add_get("/feed/stall", self._stall)
        r.add_get("/feed/short", self._short)
        r.add_get("/feed/slow", self._slow)
        r.add_get("/feed/conditional", self._conditional)
        r.add_get("/redirect/loop-a", _redirect("/redirect/loop-b"))
        r.add_get("/redirect/loop-b", _redirect("/redirect/loop-a"))
        r.add_get("/redirect/chain/{n:\\d+}", self._chain)
        r.add_get("/redirect/slow/{n:\\d+}", self._slow_chain)
        r.add_get("/redirect/relative", _redirect("../feed/good.rss", 301))
        r.add_get("/redirect/to-404", _redirect("/status/404", 307))
        r.add_get("/redirect/no-location", self._no_location)
        r.add_get("/redirect/cross-origin", self._cross_origin)
        r.add_get("/redirect/to-ftp", _redirect("ftp://127.0.0.1/feed", 302))
        r.add_get("/status/{code:\\d+}", self._status)
        r.add_get("/auth/feed.rss", self._auth)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(Seen(request.path, request.query_string, request.headers))
        self.active[request.path] = self.active.get(request.path, 0) + 1
        self.peak[request.path] = max(self.peak.get(request.path, 0), self.active[request.path])
        try:
            return await handler(request)
        finally:
            self.active[request.path] -= 1

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """50 MB of feed-ish bytes, with or without Content-Length, streamed."""
        response = web.StreamResponse(headers={"Content-Type": RSS})
        if not request.path.endswith("chunked"):
            response.content_length = HUGE_BYTES
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"<!-- padding -->" * (_CHUNK // 16)
        for _ in range(HUGE_BYTES // len(chunk)):
            if self._stopping.is_set():
                break
            await response.write(chunk)
        return response

    async def _short(self, request: web.Request) -> web.StreamResponse:
        """Declares 5,000 bytes, sends 500, closes the connection."""
        response = web.StreamResponse(headers={"Content-Type": RSS})
        response.content_length = 5000
        await response.prepare(request)
        await response.write(synthetic("posts.rss")[:500])
        assert request.transport is not None
        request.transport.close()
        return response

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then one byte every ``every`` seconds (default 1)."""
        every = float(request.query.get("every", "1"))
        response = web.StreamResponse(headers={"Content-Type": RSS})
        await response.prepare(request)
        for byte in synthetic("posts.rss"):
            await response.write(bytes([byte]))
            if await self._stopped_within(every):
                break
        return response

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        """Headers, then silence: only a timeout ends this."""
        response = web.StreamResponse(headers={"Content-Type": RSS})
        await response.prepare(request)
        await response.write(b"<?xml")
        await self._stopped_within(60)
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        await self._stopped_within(float(request.query.get("delay", "0.3")))
        return web.Response(body=synthetic("posts.rss"), headers={"Content-Type": RSS})

    async def _conditional(self, request: web.Request) -> web.Response:
        """ETag + Last-Modified; 304 when either validator matches."""
        headers = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, "Cache-Control": "max-age=300"}
        if (
            request.headers.get("If-None-Match") == ETAG
            or request.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            return web.Response(status=304, headers=headers)
        return web.Response(body=synthetic("posts.rss"), headers={**headers, "Content-Type": RSS})

    async def _chain(self, request: web.Request) -> web.Response:
        """``/redirect/chain/N`` → N−1 → … → 0 → the good feed; odd hops are relative."""
        n = int(request.match_info["n"])
        if n == 0:
            raise web.HTTPFound("/feed/good.rss")
        location = f"{n - 1}" if n % 2 else f"/redirect/chain/{n - 1}"
        raise web.HTTPFound(location)

    async def _slow_chain(self, request: web.Request) -> web.Response:
        """``/redirect/slow/N`` → … → 0 → ``/feed/slow``, each hop answering after 0.4 s."""
        n = int(request.match_info["n"])
        await self._stopped_within(0.4)
        raise web.HTTPFound(f"/redirect/slow/{n - 1}" if n else "/feed/slow?delay=0.4")

    async def _cross_origin(self, request: web.Request) -> web.Response:
        """To the auth route via ``localhost``: another origin, so credentials must go."""
        location = f"http://localhost:{request.url.port}/auth/feed.rss"
        return web.Response(status=302, headers={"Location": location})

    async def _no_location(self, request: web.Request) -> web.Response:
        return web.Response(status=302)

    async def _status(self, request: web.Request) -> web.Response:
        status = int(request.match_info["code"])
        headers = {}
        if status == 429:
            headers["Retry-After"] = "120"
        if status == 503:
            headers["Retry-After"] = format_datetime(
                datetime.now(UTC) + timedelta(seconds=600), usegmt=True
            )
        return web.Response(status=status, text=f"status {status}", headers=headers)

    async def _auth(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Basic dXNlcjpwYXNz":  # user:pass
            return web.Response(status=401, text="who are you?")
        return web.Response(body=synthetic("posts.rss"), headers={"Content-Type": RSS})

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True


def _static(body: bytes, content_type: str, encoding: str | None = None) -> Handler:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    return handler


def _redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()
