"""End to end with hostile blogs: one bad feed never stops the others, and says why in one line.

One config lists a good blog, a blog whose entries have no identity (it
works: entries get content-hash keys) and one blog per way a feed can be bad.
The real CLI runs three times: the good blogs print, every bad blog gets its
own one-line error on stderr, failures are counted in storage and the
``FeedFailing`` alert is printed once, when ``failing_after`` is reached.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.storage import Storage
from bot.storage.records import FeedState
from tests.dryrun import parse_output, run_once
from tests.feeds.hostile import HostileServer, synthetic

RSS = "application/rss+xml; charset=utf-8"
RUN_SECONDS = 30  # one whole run, drip included; the drip itself would take ~40 minutes

# blog name → (path on the hostile server, what its error line must say)
BAD: dict[str, tuple[str, str]] = {
    "html": ("/feed/html", "not a feed: the server sent an HTML page"),
    "truncated": ("/feed/truncated", "the XML document is truncated"),
    "wrong-encoding": ("/feed/wrong-encoding", "not an RSS or Atom feed"),
    "laughs": ("/feed/billion-laughs", "entity declarations are not allowed"),
    "gzip-bomb": ("/feed/gzip-bomb", "the decompressed body exceeds the limit of"),
    "huge": ("/feed/huge", "the body is 52428800 bytes, more than the limit of"),
    "huge-chunked": ("/feed/huge-chunked", "the body exceeds the limit of"),
    "drip": ("/feed/drip", "timed out: the response took longer than 3s in total"),
    "loop": ("/redirect/loop-a", "redirect loop"),
    "chain": ("/redirect/chain/9", "too many redirects (more than 5)"),
    "gone-404": ("/status/404", "HTTP 404 Not Found"),
    "gone-410": ("/status/410", "HTTP 410 Gone"),
    "broken-500": ("/status/500", "HTTP 500 Internal Server Error"),
}
NO_LINKS_ERROR = "no RSS or Atom feed found on the blog's home page; set posts_feed"
GOOD_TITLES = ["Oldest good post", "Middle good post", "Newest good post"]


def good_feed(base: str) -> bytes:
    """Three posts, newest first, no comment feeds."""
    now = datetime.now(UTC).replace(microsecond=0)
    items = "".join(
        f"""<item><title>{title}</title><link>{base}/posts/{n}/</link>
<guid isPermaLink="false">{base}/?p={n}</guid><description>Body {n}</description>
<pubDate>{format_datetime(now - timedelta(days=3 - n))}</pubDate></item>"""
        for n, title in reversed(list(enumerate(GOOD_TITLES)))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<title>Good</title><link>{base}/</link><description>d</description>{items}</channel></rss>""".encode()


class GoodSite:
    """The well-behaved blogs: a good feed, a feed without ids, a home page without feed links.

    The feed without ids changes (a comment) on every request, so each
    run really parses it again and its entries' hash identities must hold.
    """

    def __init__(self) -> None:
        self.no_id_bodies: list[bytes] = []
        self._server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/good.rss", self._good)
        app.router.add_get("/no-ids.rss", self._no_ids)
        app.router.add_get("/no-links/", self._no_links)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    async def _good(self, request: web.Request) -> web.Response:
        return web.Response(body=good_feed(self.base), headers={"Content-Type": RSS})

    async def _no_ids(self, request: web.Request) -> web.Response:
        stamp = f"<!-- request {len(self.no_id_bodies) + 1} --></channel>"
        body = synthetic("no-ids.rss").replace(b"</channel>", stamp.encode())
        self.no_id_bodies.append(body)
        return web.Response(body=body, headers={"Content-Type": RSS})

    async def _no_links(self, request: web.Request) -> web.Response:
        page = "<!doctype html><html><head><title>No feeds</title></head><body>Hi</body></html>"
        return web.Response(text=page, content_type="text/html")


@pytest.fixture
async def sites() -> AsyncIterator[tuple[HostileServer, GoodSite]]:
    good = GoodSite()
    await good.start()
    try:
        async with HostileServer() as hostile:
            yield hostile, good
    finally:
        await good.close()


def write_config(path: Path, hostile: HostileServer, good: GoodSite, database: str) -> Path:
    blogs = [
        ("good", f"{good.base}/", f"{good.base}/good.rss", 2),
        ("no-ids", f"{good.base}/", f"{good.base}/no-ids.rss", 5),
        ("no-links", f"{good.base}/no-links/", None, 0),
        *((name, hostile.url("/"), hostile.url(route), 0) for name, (route, _) in BAD.items()),
    ]
    text = f"""
database: {database}
polling:
  total_timeout: 3s
  connect_timeout: 1s
  failing_after: 2
  max_body_bytes: 2097152
blogs:
"""
    for name, url, feed, backfill in blogs:
        text += f"  - name: {name}\n    platform: feed\n    url: {url}\n"
        text += f"    posts_feed: {feed}\n" if feed else ""
        text += f"    announce: {{ channel: 444, backfill: {backfill} }}\n"
    path.write_text(text, encoding="utf-8")
    return path


async def timed_run(config: Path) -> subprocess.CompletedProcess[str]:
    """One run (exit 0, no traceback on stderr), bounded in wall time, stdout traceback-free too."""
    started = time.monotonic()
    result = await asyncio.to_thread(run_once, config, None, RUN_SECONDS * 3)
    elapsed = time.monotonic() - started
    assert elapsed < RUN_SECONDS, f"the run took {elapsed:.1f}s: a slow feed held everyone up"
    assert "Traceback" not in result.stdout, result.stdout
    return result


def error_lines(stderr: str) -> dict[str, str]:
    """Blog name → its ``gatejumper: <blog>:posts: ...`` line of the cycle report."""
    found = {}
    for line in stderr.splitlines():
        if match := re.match(r"gatejumper: ([a-z0-9-]+):posts: (.*)$", line):
            assert match.group(1) not in found, f"two error lines for {match.group(1)}"
            found[match.group(1)] = match.group(2)
    return found


def assert_errors(stderr: str, hostile: HostileServer, good: GoodSite) -> None:
    lines = error_lines(stderr)
    assert set(lines) == {*BAD, "no-links"}, stderr
    for name, (route, reason) in BAD.items():
        assert hostile.url(route) in lines[name], (name, lines[name])
        assert reason in lines[name], (name, lines[name])
    assert lines["no-links"] == f"Updating {good.base}/no-links/ failed: {NO_LINKS_ERROR}."


async def stored_feeds(database: str) -> dict[str, FeedState]:
    storage = await Storage.open(database)
    try:
        return {state.blog: state for state in await storage.list_feeds() if state.role == "posts"}
    finally:
        await storage.close()


def titles(stdout: str) -> list[str]:
    return [
        line.split("title: ", 1)[1] for line in stdout.splitlines() if line.startswith("  title: ")
    ]


async def test_bad_feeds_fail_alone_with_one_clear_line_each_and_alert_once(
    sites: tuple[HostileServer, GoodSite], sqlite_url: str, tmp_path: Path
) -> None:
    hostile, good = sites
    config = write_config(tmp_path / "config.yaml", hostile, good, sqlite_url)

    first = await timed_run(config)
    blocks = parse_output(first.stdout)
    assert all(b.is_post for b in blocks) and len(blocks) == 5, first.stdout
    printed = titles(first.stdout)
    assert [t for t in printed if "good" in t] == GOOD_TITLES[1:], "backfill 2, oldest first"
    assert [t for t in printed if "good" not in t] == ["Untitled post", "First", "Second"], (
        "the id-less items, each once (the repeated one is dropped), oldest first"
    )
    assert_errors(first.stderr, hostile, good)
    assert "duplicate entry 'sha256:" in first.stderr, "the repeated id-less item is noticed"
    feeds = await stored_feeds(sqlite_url)
    assert {name for name, state in feeds.items() if state.failures == 1} == {*BAD, "no-links"}
    assert feeds["good"].failures == feeds["no-ids"].failures == 0

    second = await timed_run(config)
    alerts = [b for b in parse_output(second.stdout) if b.tags == ["alert"]]
    assert len(alerts) == len(parse_output(second.stdout)) == len(BAD) + 1, second.stdout
    for name, (route, reason) in BAD.items():
        alert = next(a for a in alerts if f"of blog **{name}** is failing" in a.text)
        assert "2 failed polls in a row" in alert.text and reason in alert.text, alert.text
        assert f"<{hostile.url(route)}>" in alert.text, "the alert links the failing feed"
    shown = NO_LINKS_ERROR.replace("_", "\\_")  # Markdown-escaped for Discord
    assert any(shown in a.text for a in alerts), "a failed discovery alerts too"
    assert_errors(second.stderr, hostile, good)
    feeds = await stored_feeds(sqlite_url)
    for name in [*BAD, "no-links"]:
        assert feeds[name].failures == 2 and feeds[name].failing_since is not None, feeds[name]
    assert feeds["no-links"].url == f"{good.base}/no-links/"
    assert len(set(good.no_id_bodies)) == 2, "the id-less feed changed, so it was parsed again"

    third = await timed_run(config)
    assert parse_output(third.stdout) == [], "alerts once, and nothing is announced twice"
    assert_errors(third.stderr, hostile, good)
    feeds = await stored_feeds(sqlite_url)
    assert {feeds[name].failures for name in [*BAD, "no-links"]} == {3}


async def test_blog_down_during_discovery_is_discovered_once_it_is_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A failed discovery must not leave the home page stored as the blog's feed."""
    up = False

    async def home(request: web.Request) -> web.Response:
        if not up:
            return web.Response(status=503, text="down for maintenance")
        link = '<link rel="alternate" type="application/rss+xml" title="Feed" href="/good.rss">'
        return web.Response(text=f"<html><head>{link}</head></html>", content_type="text/html")

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=good_feed(base), headers={"Content-Type": RSS})

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/good.rss", feed)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
database: {sqlite_url}
blogs:
  - name: flaky
    platform: feed
    url: {base}/
    announce: {{ channel: 555, backfill: 1 }}
""",
        encoding="utf-8",
    )
    try:
        down = await timed_run(config)
        assert parse_output(down.stdout) == []
        assert error_lines(down.stderr) == {
            "flaky": f"Retrieving {base}/ failed: the server answered HTTP 503 Service Unavailable."
        }
        up = True
        back = await timed_run(config)
        assert error_lines(back.stderr) == {}, back.stderr
        assert titles(back.stdout) == ["Newest good post"]
        assert (await stored_feeds(sqlite_url))["flaky"].url == f"{base}/good.rss"
        assert parse_output((await timed_run(config)).stdout) == []
    finally:
        await server.close()
