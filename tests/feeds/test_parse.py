"""parse_feed on hand-made and hostile feeds, and the ParserPool that runs it."""

from __future__ import annotations

import asyncio
import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import PollingConfig
from bot.feeds.errors import ParseError, RetrieveError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.parse import ParserPool, parse_feed
from bot.feeds.sources.base import ParseContext, Retrieved
from tests.feeds.hostile import HostileServer, quadratic_blowup, synthetic

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "thread.json"
RSS = "application/rss+xml; charset=utf-8"


def retrieved(
    body: bytes, content_type: str | None = RSS, url: str = "https://blog.example/feed/"
) -> Retrieved:
    return Retrieved(url=url, bodies=(body,), content_type=content_type)


def context(
    role: str = "posts", url: str = "https://blog.example/feed/", **kwargs: Any
) -> ParseContext:
    return ParseContext(blog="modite", feed_key=f"modite:{role}", url=url, role=role, **kwargs)


def parse(
    name: str, role: str = "posts", content_type: str | None = RSS, **kwargs: Any
) -> ParsedFeed:
    return parse_feed(retrieved(synthetic(name), content_type), context(role, **kwargs))


def parse_error(body: bytes, content_type: str | None = RSS, role: str = "posts") -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_feed(retrieved(body, content_type), context(role))
    assert caught.value.url == "https://blog.example/feed/"
    return caught.value


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- posts ----------------------------------------------------------------------


def test_wordpress_posts_rss() -> None:
    feed = parse("posts.rss")
    assert (feed.title, feed.link, feed.kinds, feed.warnings) == (
        "Modite",
        "https://blog.example/",
        (EntryKind.POST,),
        (),
    )
    first, second, third = feed.entries
    assert first == Entry(
        kind=EntryKind.POST,
        key="https://blog.example/?p=101",
        url="https://blog.example/2024/01/social-media/",
        title="Social media is difficult like intimacy",
        author="Rebecca Healy",
        content_html=first.content_html,
        published=utc(2024, 1, 2, 9, 30),
        categories=("Blogging", "Social media"),
        image_url="https://blog.example/wp-content/uploads/cover.jpg",
        comments_feed="https://blog.example/2024/01/social-media/feed/",
    )
    assert "<script" not in first.content_html and "alert" not in first.content_html
    assert "<p>“Yeah, but it’s just a blog,” someone said.</p>" in first.content_html
    assert second.title == "Second post & friends"
    assert second.content_html == "<p>Only a summary here.</p>"
    assert second.image_url == "https://cdn.blog.example/second.png"  # media:content first
    assert second.published == utc(2024, 1, 1, 8, 0)
    assert third.image_url == "https://cdn.blog.example/third-thumb.jpg"
    assert third.published == utc(2024, 1, 1, 4, 59, 59)  # -0500 → UTC
    assert (third.comments_feed, third.categories) == (None, ())
    assert all(e.published is not None and e.published.tzinfo is UTC for e in feed.entries)


def test_atom_posts() -> None:
    feed = parse("posts.atom", content_type="application/atom+xml")
    hello, plain = feed.entries
    assert hello.key == "tag:static.example,2024:/posts/hello"
    assert (hello.published, hello.updated) == (utc(2024, 2, 1, 11), utc(2024, 2, 3, 10))
    assert (hello.author, hello.author_url) == ("Ann Author", "https://static.example/about/")
    assert hello.categories == ("atom", "testing")
    assert hello.comments_feed == "https://comments.static.example/feed?uri=/posts/hello/"
    assert 'href="https://blog.example/posts/other/"' in hello.content_html  # resolved
    assert plain.content_html == "1 &lt; 2 &amp; 3 &gt; 2"  # type="text" escaped to HTML
    assert plain.published == plain.updated == utc(2024, 1, 15, 8)  # no <published>


def test_image_from_enclosure_and_first_img() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><guid>a</guid><enclosure url="https://cdn.example/a.mp3" type="audio/mpeg" length="1"/>
      <enclosure url="https://cdn.example/a.webp" type="image/webp" length="1"/></item>
    <item><guid>b</guid><description>&lt;img src="data:image/png;base64,xx"&gt;
      &lt;img src="https://cdn.example/b.gif?x=1&amp;amp;y=2"&gt;</description></item>
    <item><guid>c</guid><description>no image</description></item>
    </channel></rss>"""
    images = [e.image_url for e in parse_feed(retrieved(body), context()).entries]
    assert images == ["https://cdn.example/a.webp", "https://cdn.example/b.gif?x=1&y=2", None]


def test_empty_feed_is_not_an_error() -> None:
    feed = parse("empty-channel.rss")
    assert (feed.entries, feed.warnings, feed.title) == ((), (), "Quiet")


def test_utf16_feed_with_bom() -> None:
    body = synthetic("posts.rss").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    feed = parse_feed(retrieved(body.encode("utf-16"), "application/rss+xml"), context())
    assert feed.entries[0].title == "Social media is difficult like intimacy"
    assert feed.warnings == ()


# --- identity ---------------------------------------------------------------------


def test_entries_without_id_or_link_get_deterministic_hash_keys() -> None:
    first, second = parse("no-ids.rss"), parse("no-ids.rss")
    assert first == second
    keys = [e.key for e in first.entries]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert all(k.startswith("sha256:") and len(k) == 7 + 64 for k in keys)
    assert [e.title for e in first.entries] == ["First", "Second", None]
    assert first.warnings == (f"duplicate entry {keys[0]!r} at position 4 ignored",)


def test_duplicate_ids_first_wins() -> None:
    feed = parse("duplicates.rss")
    assert [(e.key, e.title) for e in feed.entries] == [
        ("dup-1", "Original"),
        ("https://dup.example/c", "Link only"),
    ]
    assert feed.warnings == ("duplicate entry 'dup-1' at position 2 ignored",)


def test_very_long_guid_is_hashed() -> None:
    guid = "g" * 5000
    item = f"<item><guid>{guid}</guid></item>"
    body = f'<rss version="2.0"><channel><title>t</title>{item}</channel></rss>'
    (entry,) = parse_feed(retrieved(body.encode()), context()).entries
    assert entry.key.startswith("sha256:") and len(entry.key) == 71


# --- comments ----------------------------------------------------------------------


def test_wordpress_site_wide_comments() -> None:
    feed = parse("wp-comments.rss", "comments")
    jun, ryan = feed.entries
    assert feed.kinds == (EntryKind.COMMENT,)
    assert jun == Entry(
        kind=EntryKind.COMMENT,
        key="https://blog.example/?p=101#comment-57",
        url="https://blog.example/2024/01/social-media/comment-page-2/#comment-57",
        title="Comment on Social media is difficult like intimacy by Jun",
        author="Jun",
        content_html="<p>I completely understand where you’re coming from! Don’t f**k it up.</p>",
        published=utc(2024, 1, 3, 12),
        post_key="https://blog.example/?p=101",  # the post's guid in the posts feed
        post_url="https://blog.example/2024/01/social-media/",
        native_id="57",
    )
    assert (ryan.post_key, ryan.native_id, ryan.parent_key) == (
        "https://blog.example/?p=102",
        "12",
        None,
    )


def test_wordpress_post_comments_take_the_post_from_the_context() -> None:
    feed = parse(
        "wp-post-comments.rss",
        "post_comments",
        post_key="post-101",
        post_url="https://blog.example/social/",
        post_title="Social media",
    )
    assert {(e.post_key, e.post_url, e.post_title, e.parent_key) for e in feed.entries} == {
        ("post-101", "https://blog.example/social/", "Social media", None)
    }
    assert [e.native_id for e in feed.entries] == ["44", "43"]


def test_isso_atom_threading() -> None:
    feed = parse("isso.atom", "post_comments", "application/atom+xml")
    parents = {e.native_id: e.parent_key for e in feed.entries}
    assert parents == {
        "5": "tag:static.example,2018:/isso/7/1",  # parent no longer in the feed
        "4": "tag:static.example,2018:/isso/7/3",
        "3": None,
        "2": None,
    }
    assert {e.post_url for e in feed.entries} == {"https://static.example/posts/hello/"}
    assert feed.entries[2].content_html == "<p>Top-level <em>comment</em>.</p>"
    assert feed.entries[0].published == utc(2024, 3, 1, 10, 4)


def test_in_reply_to_the_post_is_not_a_parent() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
    <id>urn:feed</id><title>c</title>
    <entry><id>urn:c1</id><title>c1</title><link href="https://s.example/p/#c1"/>
      <thr:in-reply-to ref="urn:post-9" href="https://s.example/p/"/></entry>
    <entry><id>urn:c2</id><title>c2</title><link href="https://s.example/p/#c2"/>
      <thr:in-reply-to ref="urn:c1"/></entry>
    <entry><id>urn:c3</id><title>c3</title><link href="https://s.example/p/#c3"/>
      <thr:in-reply-to ref="urn:post-known" href="https://s.example/p/#top"/></entry>
    </feed>"""
    feed = parse_feed(
        retrieved(body, "application/atom+xml"),
        ParseContext(
            blog="b",
            feed_key="k",
            url="https://s.example/c",
            role="comments",
            post_key="urn:post-known",
        ),
    )
    c1, c2, c3 = feed.entries
    assert (c1.parent_key, c1.post_url) == (None, "https://s.example/p/")
    assert c2.parent_key == "urn:c1"
    assert c3.parent_key is None  # refers to the known post


def load_seed() -> dict[str, Any]:
    assert SEED.is_file(), f"the seed thread is missing: expected it at {SEED}"
    seed: dict[str, Any] = json.loads(SEED.read_text())
    return seed


def seed_wordpress_rss(seed: dict[str, Any]) -> bytes:
    """The seed thread as WordPress's per-post comment RSS (pingbacks included)."""
    rss = ET.Element("rss", {"version": "2.0", "xmlns:dc": "http://purl.org/dc/elements/1.1/"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = f"Comments on: {seed['post']['title']}"
    start = datetime(2009, 5, 1, 12, tzinfo=UTC)
    for comment in seed["comments"]:
        item = ET.SubElement(channel, "item")
        cid = 100 + comment["index"]
        ET.SubElement(item, "title").text = f"By: {comment['author']}"
        ET.SubElement(item, "link").text = f"https://modite.example/social-media/#comment-{cid}"
        ET.SubElement(item, "dc:creator").text = comment["author"]
        when = start + timedelta(hours=comment["index"])
        ET.SubElement(item, "pubDate").text = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
        ET.SubElement(
            item, "guid", {"isPermaLink": "false"}
        ).text = f"https://modite.example/?p=7#comment-{cid}"
        ET.SubElement(item, "description").text = "".join(
            f"<p>{p}</p>" for p in comment["paragraphs"]
        )
    return bytes(ET.tostring(rss, encoding="utf-8", xml_declaration=True))


def seed_isso_atom(seed: dict[str, Any]) -> bytes:
    """The seed's comments (no pingbacks in Isso) as Isso's Atom feed, newest first."""
    ns = {
        "xmlns": "http://www.w3.org/2005/Atom",
        "xmlns:thr": "http://purl.org/syndication/thread/1.0",
    }
    feed = ET.Element("feed", ns)
    ET.SubElement(feed, "id").text = "tag:modite.example,2018:/isso/thread/social-media/"
    comments = [c for c in seed["comments"] if c["type"] == "comment"]
    for comment in reversed(comments):
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = f"tag:modite.example,2018:/isso/1/{comment['index'] + 1}"
        ET.SubElement(entry, "updated").text = f"2009-05-01T{comment['index'] % 24:02d}:00:00Z"
        ET.SubElement(ET.SubElement(entry, "author"), "name").text = comment["author"]
        link = f"https://modite.example/social-media/#isso-{comment['index'] + 1}"
        ET.SubElement(entry, "link", {"href": link})
        content = "".join(f"<p>{p}</p>" for p in comment["paragraphs"])
        ET.SubElement(entry, "content", {"type": "html"}).text = content
        if comment["parent_index"] is not None:
            parent = comment["parent_index"] + 1
            ET.SubElement(
                entry,
                "thr:in-reply-to",
                {
                    "ref": f"tag:modite.example,2018:/isso/1/{parent}",
                    "href": f"https://modite.example/social-media/#isso-{parent}",
                },
            )
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def test_seed_thread_as_wordpress_comment_rss() -> None:
    seed = load_seed()
    feed = parse_feed(
        retrieved(seed_wordpress_rss(seed)), context("post_comments", post_key="post-7")
    )
    assert len(feed.entries) == len(seed["comments"]) == 36
    assert feed.warnings == ()
    assert [e.native_id for e in feed.entries] == [str(100 + c["index"]) for c in seed["comments"]]
    assert {e.post_key for e in feed.entries} == {"post-7"}
    longest = max(seed["comments"], key=lambda c: sum(len(p) for p in c["paragraphs"]))
    entry = feed.entries[longest["index"]]
    assert sum(len(p) for p in longest["paragraphs"]) > 2500
    for paragraph in longest["paragraphs"]:
        assert (
            paragraph.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            in entry.content_html
        )
    assert any("f**k" in e.content_html for e in feed.entries)


def test_seed_thread_as_isso_atom_keeps_the_reply_tree() -> None:
    seed = load_seed()
    feed = parse_feed(
        retrieved(seed_isso_atom(seed), "application/atom+xml"), context("post_comments")
    )
    comments = [c for c in seed["comments"] if c["type"] == "comment"]
    assert len(feed.entries) == len(comments) == 32
    expected = {
        str(c["index"] + 1): (
            None
            if c["parent_index"] is None
            else f"tag:modite.example,2018:/isso/1/{c['parent_index'] + 1}"
        )
        for c in comments
    }
    assert {e.native_id: e.parent_key for e in feed.entries} == expected
    assert sum(1 for v in expected.values() if v is not None) == 7


# --- bad documents -------------------------------------------------------------------


def test_html_page_is_not_a_feed() -> None:
    error = parse_error(synthetic("html-page.html"), "text/html; charset=utf-8")
    assert "not a feed: the server sent an HTML page" in str(error)
    assert parse_error(synthetic("html-page.html"), None).message == (
        "not a feed: the server sent an HTML page"
    )


@pytest.mark.parametrize("name", ["truncated-early.rss", "truncated.rss"])
def test_truncated_xml(name: str) -> None:
    error = parse_error(synthetic(name))
    assert "the XML document is truncated" in str(error)
    assert "at line" in str(error)


def test_wrong_declared_encoding_that_yields_garbage() -> None:
    error = parse_error(synthetic("posts.rss"), "application/rss+xml; charset=utf-16")
    assert "not an RSS or Atom feed" in str(error)
    assert "decoded as utf-16" in str(error)


def test_recoverable_encoding_override_is_a_warning() -> None:
    feed = parse("encoding-override.rss", content_type="application/rss+xml")  # no charset
    assert [e.title for e in feed.entries] == ["Café déjà vu"]
    assert feed.warnings == (
        "encoding problem, parsed anyway: document declared as us-ascii, but parsed as utf-8",
    )


def test_feed_served_as_html_is_parsed_with_a_warning() -> None:
    feed = parse("posts.rss", content_type="text/html; charset=utf-8")
    assert len(feed.entries) == 3
    assert feed.warnings == (
        "encoding problem, parsed anyway: text/html; charset=utf-8 is not an XML media type",
    )


def test_malformed_but_complete_xml_is_parsed_leniently() -> None:
    feed = parse("malformed-amp.rss")
    assert [e.title for e in feed.entries] == ["Tom & Jerry"]
    assert feed.warnings == (
        "malformed XML, parsed leniently: not well-formed (invalid token) at line 8, column 14",
    )


@pytest.mark.parametrize(
    "body",
    [
        synthetic("billion-laughs.xml"),
        quadratic_blowup(),
        synthetic("billion-laughs.xml")
        .decode()
        .replace('"1.0"?>', '"1.0" encoding="utf-16"?>')
        .encode("utf-16"),
        b'<!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel></channel></rss>',
    ],
    ids=["billion-laughs", "quadratic-blowup", "utf16-billion-laughs", "one-line-doctype"],
)
def test_entity_declarations_are_rejected_before_parsing(body: bytes) -> None:
    started = time.monotonic()
    error = parse_error(body)
    assert "entity declarations are not allowed" in str(error)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "the body is empty"),
        (b"  \n ", "the body is empty"),
        (
            b'{"posts": []}',
            "not an RSS or Atom feed (not well-formed (invalid token) at line 2, column 0",
        ),
        (b"<?xml version='1.0'?><opml version='2.0'><body/></opml>", "not an RSS or Atom feed"),
        (b"<rss version='2.0'><channel><title>x</title>", "the XML document is truncated"),
    ],
)
def test_other_non_feeds(body: bytes, expected: str) -> None:
    assert expected in str(parse_error(body, "application/json"))


def test_unknown_role_and_body_count() -> None:
    with pytest.raises(ParseError, match="unknown feed role 'tags'"):
        parse_feed(retrieved(synthetic("posts.rss")), context("tags"))
    with pytest.raises(ParseError, match="expected one body, got 2"):
        parse_feed(Retrieved("https://b.example/f", (b"a", b"b")), context())


# --- the parser pool --------------------------------------------------------------------


def sleep_then(seconds: float, value: str) -> str:
    time.sleep(seconds)
    return value


def die() -> None:
    os._exit(3)


def hog(size: int) -> int:
    return len(bytearray(size))


def fail(url: str) -> None:
    raise ParseError(url, "the source says no")


@pytest.fixture
def pool() -> Iterator[ParserPool]:
    with_pool = ParserPool(max_workers=2)
    yield with_pool
    with_pool.close()


async def test_process_pool_matches_inline_parse(pool: ParserPool) -> None:
    args = (retrieved(synthetic("posts.rss")), context())
    in_worker = await pool.run(parse_feed, *args)
    inline = await ParserPool(inline=True).run(parse_feed, *args)
    assert in_worker == inline == parse_feed(*args)
    assert len(in_worker.entries) == 3


async def test_parse_error_crosses_the_process_boundary(pool: ParserPool) -> None:
    with pytest.raises(ParseError) as caught:
        await pool.run(fail, "https://b.example/f")
    assert str(caught.value) == "Parsing https://b.example/f failed: the source says no."
    with pytest.raises(ParseError, match="not a feed: the server sent an HTML page"):
        await pool.run(parse_feed, retrieved(synthetic("html-page.html")), context())


async def test_a_hanging_parse_is_killed_and_the_pool_recovers(pool: ParserPool) -> None:
    await pool.start()
    started = time.monotonic()
    with pytest.raises(ParseError) as caught:
        await pool.run(sleep_then, 30.0, "never", timeout=0.5, url="https://slow.example/feed")
    assert time.monotonic() - started < 2.0
    assert caught.value.url == "https://slow.example/feed"
    assert "parsing took longer than 0.5s; the parser worker was stopped" in str(caught.value)
    assert await pool.run(sleep_then, 0.0, "alive") == "alive"


async def test_innocent_parses_survive_a_killed_pool(pool: ParserPool) -> None:
    await pool.start()
    hanging = pool.run(sleep_then, 30.0, "never", timeout=0.5)
    innocent = pool.run(sleep_then, 0.7, "innocent", timeout=5)
    results = await asyncio.gather(hanging, innocent, return_exceptions=True)
    assert isinstance(results[0], ParseError)
    assert results[1] == "innocent"  # killed with the pool, retried once


async def test_a_dying_worker_is_a_parse_error(pool: ParserPool) -> None:
    with pytest.raises(ParseError, match="the parser worker died"):
        await pool.run(die, url="https://crash.example/feed")
    assert await pool.run(sleep_then, 0.0, "alive") == "alive"


async def test_memory_is_capped_in_workers() -> None:
    with_pool = ParserPool(max_workers=1, memory_limit=512 * 1024 * 1024)
    try:
        with pytest.raises(ParseError, match="parsing ran out of memory"):
            await with_pool.run(hog, 1024 * 1024 * 1024, url="https://hog.example/feed")
        assert await with_pool.run(hog, 1024) == 1024
    finally:
        with_pool.close()


async def test_thread_and_inline_modes() -> None:
    threads = ParserPool(mode="thread", max_workers=1)
    try:
        assert await threads.run(sleep_then, 0.0, "t") == "t"
        with pytest.raises(ParseError, match="the parser thread keeps running"):
            await threads.run(sleep_then, 0.3, "late", timeout=0.05)
    finally:
        threads.close()
    inline = ParserPool(inline=True)
    assert inline.mode == "inline"
    assert await inline.run(sleep_then, 0.0, "i") == "i"
    inline.close()
    with pytest.raises(RuntimeError, match="closed"):
        await inline.run(sleep_then, 0.0, "i")


# --- fetch + parse against the hostile server, all at once ---------------------------------


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as hostile:
        yield hostile


async def test_hostile_feeds_fail_alone_and_the_good_feed_is_not_delayed(
    server: HostileServer, pool: ParserPool
) -> None:
    settings = PollingConfig(
        total_timeout=timedelta(seconds=1.0),
        connect_timeout=timedelta(seconds=0.5),
        max_body_bytes=1024 * 1024,
        per_host_concurrency=64,
    )
    expected: dict[str, tuple[type[Exception], str]] = {
        "/feed/html": (ParseError, "the server sent an HTML page"),
        "/feed/truncated": (ParseError, "the XML document is truncated"),
        "/feed/wrong-encoding": (ParseError, "decoded as utf-16"),
        "/feed/billion-laughs": (ParseError, "entity declarations are not allowed"),
        "/feed/quadratic-blowup": (ParseError, "entity declarations are not allowed"),
        "/feed/gzip-bomb": (RetrieveError, "decompressed body exceeds"),
        "/feed/huge-chunked": (RetrieveError, "the body exceeds the limit"),
        "/feed/drip": (RetrieveError, "timed out"),
        "/redirect/loop-a": (RetrieveError, "redirect loop"),
        "/status/410": (RetrieveError, "HTTP 410 Gone"),
    }
    await pool.start()
    started = time.monotonic()
    finished: dict[str, float] = {}

    async def update(fetcher: Fetcher, path: str) -> ParsedFeed | Exception:
        try:
            got = await fetcher.get(server.url(path))
            assert isinstance(got, Retrieved)
            return await pool.run(parse_feed, got, context(url=server.url(path)))
        except (RetrieveError, ParseError) as error:
            return error
        finally:
            finished[path] = time.monotonic() - started

    async with Fetcher(settings) as fetcher:
        paths = ["/feed/good.rss", "/feed/no-ids.rss", *expected]
        results = dict(
            zip(paths, await asyncio.gather(*(update(fetcher, p) for p in paths)), strict=True)
        )
    good = results["/feed/good.rss"]
    assert isinstance(good, ParsedFeed) and len(good.entries) == 3
    no_ids = results["/feed/no-ids.rss"]
    assert isinstance(no_ids, ParsedFeed) and no_ids == parse(
        "no-ids.rss", url=server.url("/feed/no-ids.rss")
    )
    for path, (kind, message) in expected.items():
        error = results[path]
        assert isinstance(error, kind), (path, error)
        assert message in str(error), (path, str(error))
        assert server.url(path) in str(error)
    assert finished["/feed/good.rss"] < 0.75
    assert finished["/feed/drip"] > finished["/feed/good.rss"] + 0.3


async def test_workers_start_when_a_parse_needs_them_and_stop_on_close() -> None:
    lazy = ParserPool(max_workers=2)
    try:
        assert lazy.worker_pids() == []  # an all-304 cycle parses nothing: no process at all
        assert await lazy.run(sleep_then, 0.0, "one") == "one"
        assert await lazy.run(sleep_then, 0.0, "two") == "two"
        pids = lazy.worker_pids()
        assert len(pids) == 1  # calls one after another reuse the idle worker
    finally:
        lazy.close()
    assert lazy.worker_pids() == []
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pids[0], 0)
