"""``gatejumper preview URL``: what a feed (or a page that links one) would announce.

A local aiohttp server serves an RSS feed, an Atom feed, HTML pages with and
without a feed link, and bad answers. Most cases call :func:`bot.app.preview`
in-process; the real CLI runs in a subprocess too, for exit codes and streams.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from bot.app import preview
from tests.dryrun import ROOT, Block, parse_output
from tests.feeds.hostile import ATOM, RSS, synthetic

POSTS = ["One", "Two", "Three", "Four"]  # oldest first


def rss(base: str) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    items = "".join(
        f"""<item><title>Post {title}</title><link>{base}/posts/{n}/</link>
<guid isPermaLink="false">{base}/?p={n}</guid><category>Cat {title}</category>
<description>&lt;p&gt;Body of post {title} with &lt;b&gt;@everyone&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>{format_datetime(now - timedelta(days=len(POSTS) - n))}</pubDate></item>"""
        for n, title in enumerate(POSTS)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<title>Local</title><link>{base}/</link><description>d</description>{items}</channel></rss>""".encode()


# Feeds list newest first; without dates, that order is all there is to go by.
UNDATED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Undated</title>
<link>https://undated.example/</link><description>d</description>
<item><title>Newest</title><guid>u3</guid></item>
<item><title>Middle</title><guid>u2</guid></item>
<item><title>Oldest</title><guid>u1</guid></item>
</channel></rss>"""


class Site:
    """The local web server the previews read."""

    def __init__(self) -> None:
        self.server: TestServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def app(self) -> web.Application:
        app = web.Application()

        async def feed(request: web.Request) -> web.Response:
            return web.Response(body=rss(self.base), headers={"Content-Type": RSS})

        def static(body: bytes, content_type: str) -> Handler:
            async def handler(request: web.Request) -> web.Response:
                return web.Response(body=body, headers={"Content-Type": content_type})

            return handler

        home = b"""<!doctype html><html><head><title>Static blog</title>
<link rel="alternate" type="application/atom+xml" title="Static Blog" href="feeds/atom.xml">
</head><body>Welcome</body></html>"""
        html = "text/html; charset=utf-8"
        app.router.add_get("/feed.rss", feed)
        app.router.add_get("/blog/feeds/atom.xml", static(synthetic("posts.atom"), ATOM))
        app.router.add_get("/blog/", static(home, html))
        app.router.add_get("/plain/", static(synthetic("html-page.html"), html))
        app.router.add_get("/laughs.rss", static(synthetic("billion-laughs.xml"), RSS))
        app.router.add_get("/empty.rss", static(synthetic("empty-channel.rss"), RSS))
        app.router.add_get("/undated.rss", static(UNDATED, RSS))
        return app


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    site = Site()
    site.server = TestServer(site.app(), host="127.0.0.1")
    await site.server.start_server()
    yield site
    await site.server.close()


async def show(url: str, limit: int = 3) -> tuple[int, list[Block], str]:
    """preview() in-process: exit code, printed messages, the printed text."""
    out = io.StringIO()
    code = await preview(url, limit=limit, stream=out)
    return code, parse_output(out.getvalue()), out.getvalue()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "preview", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_rss_feed_shows_the_newest_posts_oldest_first(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, blocks, text = await show(site.url("/feed.rss"), limit=2)
    assert code == 0
    assert [b.header for b in blocks] == [
        '#1 › new thread "Post Three"',
        '#1 › new thread "Post Four"',
    ]
    assert f"url: {site.base}/posts/3/" in blocks[1].text
    assert "categories: Cat Four" in blocks[1].text
    assert "@everyone" not in text, "mentions are defused"
    assert "description: Body of post Four with @\u200beveryone" in blocks[1].text
    assert capsys.readouterr().err == ""


async def test_atom_feed(site: Site) -> None:
    code, blocks, _ = await show(site.url("/blog/feeds/atom.xml"))
    assert code == 0
    assert [b.is_post for b in blocks] == [True, True]
    hello = blocks[-1]
    assert "title: Hello Atom" in hello.text
    assert "author: Ann Author (https://static.example/about/)" in hello.text
    assert "categories: atom · testing" in hello.text
    assert "time: 2024-02-01T11:00:00+00:00" in hello.text


async def test_undated_entries_keep_the_feed_order(site: Site) -> None:
    code, blocks, _ = await show(site.url("/undated.rss"), limit=2)
    assert code == 0
    assert [b.header.split('"')[1] for b in blocks] == ["Middle", "Newest"]


async def test_html_page_that_links_a_feed_is_followed(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, blocks, _ = await show(site.url("/blog/"))
    assert code == 0
    assert [b.header.split('"')[1] for b in blocks] == ["Plain text summary only", "Hello Atom"]
    err = capsys.readouterr().err
    assert f"using the feed {site.url('/blog/feeds/atom.xml')} found on that page" in err


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.rss", "the server answered HTTP 404 Not Found"),
        ("/plain/", "not a feed: the server sent an HTML page"),
        ("/laughs.rss", "entity declarations are not allowed"),
        ("/empty.rss", "has no entries"),
    ],
    ids=["404", "html-without-feed-link", "billion-laughs", "no-entries"],
)
async def test_bad_urls_fail_with_one_clear_line(
    site: Site, capsys: pytest.CaptureFixture[str], path: str, reason: str
) -> None:
    code, blocks, text = await show(site.url(path))
    assert (code, blocks, text) == (1, [], "")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gatejumper: "), err
    assert reason in err[0] and site.url(path) in err[0], err


async def test_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed/"
    assert await preview(url, stream=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert f"Retrieving {url} failed: could not connect to 127.0.0.1" in err


async def test_the_real_cli(site: Site) -> None:
    """``python -m bot preview`` in a subprocess: stdout has the messages, stderr the notes."""
    found = await asyncio.to_thread(cli, site.url("/blog/"), "--limit", "1")
    assert found.returncode == 0, found.stderr
    assert [b.header for b in parse_output(found.stdout)] == ['#1 › new thread "Hello Atom"']
    assert "using the feed" in found.stderr and "Traceback" not in found.stderr

    missing = await asyncio.to_thread(cli, site.url("/missing.rss"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert "Traceback" not in missing.stderr
    notes = [line for line in missing.stderr.splitlines() if line.startswith("gatejumper: ")]
    assert notes == [
        f"gatejumper: Retrieving {site.url('/missing.rss')} failed: "
        "the server answered HTTP 404 Not Found."
    ]
