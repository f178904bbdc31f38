"""Fetcher against a hostile HTTP server on 127.0.0.1: every failure is one clear error."""

from __future__ import annotations

import asyncio
import pickle
import random
import socket
import time
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import PollingConfig
from bot.feeds.errors import ParseError, RetrieveError, UpdateError
from bot.feeds.fetch import Fetcher, backoff_delay, parse_max_age, parse_retry_after
from bot.feeds.sources.base import NotModified, Retrieved
from tests.feeds.hostile import ETAG, LAST_MODIFIED, HostileServer, synthetic

SETTINGS = PollingConfig(
    total_timeout=timedelta(seconds=1.0),
    connect_timeout=timedelta(seconds=0.5),
    max_body_bytes=1024 * 1024,
    max_redirects=3,
    per_host_concurrency=64,
)
GOOD = synthetic("posts.rss")


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as hostile:
        yield hostile


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(SETTINGS) as client:
        yield client


async def failure(fetcher: Fetcher, url: str, **kwargs: Any) -> RetrieveError:
    with pytest.raises(RetrieveError) as caught:
        await fetcher.get(url, **kwargs)
    return caught.value


# --- success paths ----------------------------------------------------------


async def test_good_feed_and_request_headers(server: HostileServer, fetcher: Fetcher) -> None:
    result = await fetcher.get(server.url("/feed/good.rss"), params={"page": "1"})
    assert isinstance(result, Retrieved)
    assert result.bodies == (GOOD,)
    assert result.url == server.url("/feed/good.rss") + "?page=1"
    assert result.content_type == "application/rss+xml; charset=utf-8"
    (seen,) = server.seen("/feed/good.rss")
    assert seen.query == "page=1"
    assert seen.headers["User-Agent"] == SETTINGS.user_agent
    assert seen.headers["Accept-Encoding"] == "gzip, deflate"
    assert seen.headers["Accept"].startswith("application/atom+xml, application/rss+xml")
    assert "If-None-Match" not in seen.headers


@pytest.mark.parametrize("shared", [False, True], ids=["own-session", "callers-session"])
async def test_the_same_request_headers_whoever_owns_the_session(
    server: HostileServer, shared: bool
) -> None:
    """Our own session sends the usual headers itself; a caller's gets them with each request."""
    async with aiohttp.ClientSession(headers={"User-Agent": "the caller's"}) as session:
        async with Fetcher(SETTINGS, session if shared else None) as fetcher:
            await fetcher.get(server.url("/feed/good.rss"), etag=ETAG)
            await fetcher.get(server.url("/feed/good.rss"), accept="text/html")
    first, second = server.seen("/feed/good.rss")
    for seen in (first, second):
        assert seen.headers["User-Agent"] == SETTINGS.user_agent
        assert seen.headers["Accept-Encoding"] == "gzip, deflate"
    assert first.headers["Accept"].startswith("application/atom+xml, application/rss+xml")
    assert first.headers["If-None-Match"] == ETAG
    assert second.headers["Accept"] == "text/html" and "If-None-Match" not in second.headers


async def test_conditional_get(server: HostileServer, fetcher: Fetcher) -> None:
    url = server.url("/feed/conditional")
    first = await fetcher.get(url)
    assert isinstance(first, Retrieved)
    assert (first.etag, first.last_modified, first.max_age) == (ETAG, LAST_MODIFIED, 300.0)
    assert await fetcher.get(url, etag=first.etag) == NotModified(max_age=300.0)
    assert await fetcher.get(url, last_modified=first.last_modified) == NotModified(max_age=300.0)
    stale = await fetcher.get(url, etag='"v0"')
    assert isinstance(stale, Retrieved) and stale.bodies == (GOOD,)
    sent = [r.headers.get("If-None-Match") for r in server.seen("/feed/conditional")]
    assert sent == [None, ETAG, None, '"v0"']
    assert server.seen("/feed/conditional")[2].headers["If-Modified-Since"] == LAST_MODIFIED


@pytest.mark.parametrize(
    "path", ["/feed/gzip", "/feed/gzip-twice", "/feed/deflate-zlib", "/feed/deflate-raw"]
)
async def test_compressed_bodies_are_decoded(
    server: HostileServer, fetcher: Fetcher, path: str
) -> None:
    result = await fetcher.get(server.url(path))
    assert isinstance(result, Retrieved) and result.bodies == (GOOD,)


async def test_shared_session_is_used_and_not_closed(server: HostileServer) -> None:
    async with aiohttp.ClientSession() as session:  # auto_decompress=True by default
        async with Fetcher(SETTINGS, session) as fetcher:
            result = await fetcher.get(server.url("/feed/gzip"))
            assert isinstance(result, Retrieved) and result.bodies == (GOOD,)
        assert not session.closed


async def test_redirects_are_followed(server: HostileServer, fetcher: Fetcher) -> None:
    relative = await fetcher.get(server.url("/redirect/relative"))
    assert isinstance(relative, Retrieved) and relative.url == server.url("/feed/good.rss")
    chain = await fetcher.get(server.url("/redirect/chain/2"))  # exactly 3 redirects
    assert isinstance(chain, Retrieved) and chain.url == server.url("/feed/good.rss")
    assert chain.bodies == (GOOD,)


async def test_basic_auth(server: HostileServer, fetcher: Fetcher) -> None:
    url = server.url("/auth/feed.rss")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp 3.14 deprecates BasicAuth
        basic = aiohttp.BasicAuth("user", "pass")
    for auth in (basic, ("user", "pass")):
        ok = await fetcher.get(url, auth=auth)
        assert isinstance(ok, Retrieved) and ok.bodies == (GOOD,)
    error = await failure(fetcher, url)
    assert error.status == 401 and not error.permanent
    assert "the server answered HTTP 401 Unauthorized" in str(error)


async def test_credentials_are_not_sent_to_another_origin(
    server: HostileServer, fetcher: Fetcher
) -> None:
    error = await failure(fetcher, server.url("/redirect/cross-origin"), auth=("user", "pass"))
    assert error.status == 401
    assert "Authorization" in server.seen("/redirect/cross-origin")[0].headers
    assert "Authorization" not in server.seen("/auth/feed.rss")[0].headers


# --- hostile bodies ---------------------------------------------------------


async def test_gzip_bomb_fails_fast(server: HostileServer, fetcher: Fetcher) -> None:
    started = time.monotonic()
    error = await failure(fetcher, server.url("/feed/gzip-bomb"))
    assert "decompressed body exceeds the limit of 1048576 bytes" in str(error)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/feed/gzip-truncated", "gzip-compressed body is truncated"),
        ("/feed/gzip-corrupt", "gzip-compressed body is corrupt"),
        ("/feed/brotli", "unsupported Content-Encoding 'br'"),
    ],
)
async def test_bad_compression(
    server: HostileServer, fetcher: Fetcher, path: str, expected: str
) -> None:
    error = await failure(fetcher, server.url(path))
    assert expected in str(error)
    assert error.url == server.url(path)


async def test_huge_body_with_content_length_is_refused_up_front(
    server: HostileServer, fetcher: Fetcher
) -> None:
    started = time.monotonic()
    error = await failure(fetcher, server.url("/feed/huge"))
    assert "the body is 52428800 bytes, more than the limit of 1048576 bytes" in str(error)
    assert time.monotonic() - started < 1.0


async def test_a_body_shorter_than_its_content_length_is_an_error(
    server: HostileServer, fetcher: Fetcher
) -> None:
    error = await failure(fetcher, server.url("/feed/short"))
    assert "the response body was cut off or malformed" in str(error)


async def test_huge_chunked_body_is_cut_at_the_limit(
    server: HostileServer, fetcher: Fetcher
) -> None:
    error = await failure(fetcher, server.url("/feed/huge-chunked"))
    assert "the body exceeds the limit of 1048576 bytes" in str(error)


@pytest.mark.parametrize("every", [1.0, 0.05])  # one byte a second; never silent for long
async def test_drip_server_is_cut_at_the_total_timeout(
    server: HostileServer, fetcher: Fetcher, every: float
) -> None:
    started = time.monotonic()
    error = await failure(fetcher, server.url(f"/feed/drip?every={every}"))
    assert "timed out: the response took longer than 1s in total" in str(error)
    assert 1.0 <= time.monotonic() - started < 1.0 + 0.3


async def test_the_total_timeout_spans_every_redirect_hop(
    server: HostileServer, fetcher: Fetcher
) -> None:
    started = time.monotonic()
    error = await failure(fetcher, server.url("/redirect/slow/2"))  # 4 hops of 0.4 s each
    assert "timed out: the response took longer than 1s in total" in str(error)
    assert time.monotonic() - started < 1.0 + 0.3
    assert len(server.seen("/feed/slow")) == 0  # the 4th hop never came: 1.2 s > 1 s


async def test_a_stalled_body_is_cut_at_the_total_timeout(
    server: HostileServer, fetcher: Fetcher
) -> None:
    started = time.monotonic()
    error = await failure(fetcher, server.url("/feed/stall"))
    assert "timed out: the response took longer than 1s in total" in str(error)
    assert 1.0 <= time.monotonic() - started < 1.0 + 0.3


# --- redirects and statuses --------------------------------------------------


async def test_redirect_loop(server: HostileServer, fetcher: Fetcher) -> None:
    error = await failure(fetcher, server.url("/redirect/loop-a"))
    assert "redirect loop:" in str(error)
    assert "/redirect/loop-b → " in str(error)


async def test_too_many_redirects(server: HostileServer, fetcher: Fetcher) -> None:
    error = await failure(fetcher, server.url("/redirect/chain/3"))  # 4 redirects
    assert "too many redirects (more than 3)" in str(error)
    assert len(server.seen("/redirect/chain/0")) == 1  # its redirect is the 4th: not followed
    assert server.seen("/feed/good.rss") == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/redirect/no-location", "HTTP 302 redirect without a Location header"),
        ("/redirect/to-ftp", "redirect to a non-HTTP URL 'ftp://127.0.0.1/feed'"),
    ],
)
async def test_bad_redirects(
    server: HostileServer, fetcher: Fetcher, path: str, expected: str
) -> None:
    error = await failure(fetcher, server.url(path))
    assert expected in str(error)


async def test_error_after_redirect_names_both_urls(
    server: HostileServer, fetcher: Fetcher
) -> None:
    error = await failure(fetcher, server.url("/redirect/to-404"))
    assert error.url == server.url("/redirect/to-404")
    assert error.status == 404 and error.permanent
    assert f"(at {server.url('/status/404')}, after redirects)" in str(error)


@pytest.mark.parametrize(
    ("code", "permanent", "reason"),
    [(404, True, "Not Found"), (410, True, "Gone"), (500, False, "Internal Server Error")],
)
async def test_error_statuses(
    server: HostileServer, fetcher: Fetcher, code: int, permanent: bool, reason: str
) -> None:
    url = server.url(f"/status/{code}")
    error = await failure(fetcher, url)
    assert (error.status, error.permanent, error.retry_after) == (code, permanent, None)
    assert str(error) == f"Retrieving {url} failed: the server answered HTTP {code} {reason}."


@pytest.mark.parametrize(("code", "reason"), [(300, "Multiple Choices"), (305, "Use Proxy")])
async def test_a_status_neither_success_redirect_nor_error_fails_the_poll(
    server: HostileServer, fetcher: Fetcher, code: int, reason: str
) -> None:
    url = server.url(f"/status/{code}")
    error = await failure(fetcher, url)
    assert (error.status, error.permanent) == (code, False)
    assert str(error) == f"Retrieving {url} failed: unexpected HTTP status {code} {reason}."


async def test_retry_after(server: HostileServer, fetcher: Fetcher) -> None:
    limited = await failure(fetcher, server.url("/status/429"))
    assert (limited.status, limited.retry_after) == (429, 120.0)
    assert "retry after 120s" in str(limited)
    unavailable = await failure(fetcher, server.url("/status/503"))
    assert unavailable.status == 503
    assert unavailable.retry_after is not None and 590 <= unavailable.retry_after <= 600


# --- network failures and bad URLs -------------------------------------------


async def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await failure(fetcher, f"http://127.0.0.1:{port}/feed")
    assert f"could not connect to 127.0.0.1:{port}" in str(error)
    assert not error.permanent


class _NoDNS(AbstractResolver):
    """A resolver that knows no names: DNS failure without touching the network."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


async def test_dns_failure() -> None:
    connector = aiohttp.TCPConnector(resolver=_NoDNS())
    async with aiohttp.ClientSession(connector=connector) as session:
        fetcher = Fetcher(SETTINGS, session)
        error = await failure(fetcher, "http://blog.invalid/feed")
    assert "could not resolve the host name blog.invalid" in str(error)


@pytest.mark.parametrize("url", ["ftp://blog.example/feed", "not a url", "http://", "/feed/"])
async def test_invalid_urls_are_permanent_errors(fetcher: Fetcher, url: str) -> None:
    error = await failure(fetcher, url)
    assert error.permanent and error.url == url
    assert "invalid URL" in str(error)


# --- concurrency ---------------------------------------------------------------


async def test_per_host_limit(server: HostileServer) -> None:
    settings = SETTINGS.model_copy(update={"per_host_concurrency": 1})
    async with Fetcher(settings) as fetcher:
        slow = server.url("/feed/slow?delay=0.2")
        results = await asyncio.gather(*(fetcher.get(slow) for _ in range(3)))
        assert all(isinstance(r, Retrieved) for r in results)
        assert server.peak["/feed/slow"] == 1
        other_host = server.url("/feed/slow?delay=0.2", host="localhost")
        await asyncio.gather(fetcher.get(slow), fetcher.get(other_host))
        assert server.peak["/feed/slow"] == 2


async def test_one_bad_feed_does_not_delay_a_good_one(
    server: HostileServer, fetcher: Fetcher
) -> None:
    """Every hostile route at once plus the good feed: the good one is done first."""
    hostile = [
        "/feed/drip",
        "/feed/drip?every=0.05",
        "/feed/stall",
        "/feed/huge",
        "/feed/huge-chunked",
        "/feed/gzip-bomb",
        "/redirect/loop-a",
        "/redirect/chain/9",
        "/status/404",
        "/status/410",
        "/status/500",
        "/status/429",
        "/status/503",
    ]
    started = time.monotonic()
    finished: dict[str, float] = {}

    async def timed(path: str) -> Retrieved | NotModified | RetrieveError:
        try:
            return await fetcher.get(server.url(path))
        except RetrieveError as error:
            return error
        finally:
            finished[path] = time.monotonic() - started

    results = await asyncio.gather(timed("/feed/good.rss"), *(timed(p) for p in hostile))
    good, *bad = results
    assert isinstance(good, Retrieved) and good.bodies == (GOOD,)
    assert all(isinstance(r, RetrieveError) for r in bad), bad
    assert finished["/feed/good.rss"] < 0.5
    assert finished["/feed/drip"] > finished["/feed/good.rss"] + 0.3  # drip still running
    assert max(finished.values()) < 1.0 + 1.0


# --- helpers ---------------------------------------------------------------------


def test_errors_read_as_one_sentence_and_pickle() -> None:
    error = RetrieveError("https://b.example/feed", "boom.", status=503, retry_after=5.0)
    assert str(error) == "Retrieving https://b.example/feed failed: boom."
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.url, copy.message, copy.status, copy.retry_after, copy.permanent) == (
        "https://b.example/feed",
        "boom.",
        503,
        5.0,
        False,
    )
    assert isinstance(ParseError("u", "m"), UpdateError)
    assert str(ParseError("u", "bad")) == "Parsing u failed: bad."
    assert str(UpdateError("u", "bad")) == "Updating u failed: bad."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 03 Jan 2024 12:01:00 GMT", 60.0),
        ("Wed, 03 Jan 2024 11:00:00 GMT", 0.0),  # in the past
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    now = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ('max-age="90"', 90.0),
        ("MAX-AGE=5", 5.0),
        ("no-cache", 0.0),
        ("no-store, max-age=30", 30.0),
        ("max-age=-1", None),
        ("public", None),
        ("", None),
    ],
)
def test_parse_max_age(value: str, expected: float | None) -> None:
    assert parse_max_age(value) == expected


def test_backoff_delay_full_jitter() -> None:
    base, cap = timedelta(minutes=1), timedelta(minutes=10)
    assert backoff_delay(0, base, cap, random.Random(1)) == timedelta(0)
    for failures, ceiling in [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (500, 600)]:
        delays = [backoff_delay(failures, base, cap, random.Random(s)) for s in range(200)]
        assert all(timedelta(0) <= d <= timedelta(seconds=ceiling) for d in delays)
        assert max(delays) > timedelta(seconds=ceiling * 0.9)  # jitter spans the range
    same = [backoff_delay(3, base, cap, random.Random(7)) for _ in range(2)]
    assert same[0] == same[1]  # pure given the rng


async def test_every_outcome_gives_its_connection_back(server: HostileServer) -> None:
    """With one connection in all, each request after another only goes out when the one
    before released its connection: whatever it ended with (body, 304, error status, redirect,
    a body refused or cut while read)."""
    one = SETTINGS.model_copy(update={"concurrency": 1})
    async with Fetcher(one) as fetcher:
        for path, etag in [
            ("/feed/good.rss", None),
            ("/feed/conditional", ETAG),
            ("/status/404", None),
            ("/redirect/relative", None),
            ("/feed/huge", None),
            ("/feed/gzip-bomb", None),
            ("/status/500", None),
            ("/feed/good.rss", None),
        ]:
            async with asyncio.timeout(5):
                try:
                    await fetcher.get(server.url(path), etag=etag)
                except RetrieveError:
                    pass
    assert len(server.seen("/feed/good.rss")) == 3, "the redirect's target too"
    assert len(server.requests) == 9
