"""Parsing what a real WordPress served for the seed thread (tests/data/wordpress/, no server).

The files come from ``scripts/wordpress/capture.py``: WordPress 6.1 (Debian), the
seed post on 2009-09-21 13:05 UTC, comment *i* seven minutes apart from it.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.feeds.errors import ParseError
from bot.feeds.models import EntryKind, ParsedFeed
from bot.feeds.sources.base import ParseContext, Retrieved
from bot.feeds.sources.wordpress import WordPressCommentsSource, parse_comments, parse_posts
from tests.wp import SEED_THREAD

DATA = Path(__file__).resolve().parents[1] / "data" / "wordpress"
SITE = "https://modite.example"
POST_URL = f"{SITE}/2009/09/social-media-is-difficult-like-intimacy/"
SEED_START = datetime(2009, 9, 21, 13, 5, tzinfo=UTC)
REST_COMMENT_FILES = ("rest-comments.json", "rest-pingbacks.json", "rest-trackbacks.json")


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((DATA / "captured.json").read_text(encoding="utf-8"))
    return manifest


@pytest.fixture(scope="module")
def thread() -> dict[str, Any]:
    if not SEED_THREAD.exists():
        pytest.fail(f"seed thread missing: expected {SEED_THREAD} (../shared/seed/thread.json)")
    data: dict[str, Any] = json.loads(SEED_THREAD.read_text(encoding="utf-8"))
    return data


def _retrieved(*names: str) -> Retrieved:
    bodies = tuple((DATA / name).read_bytes() for name in names)
    return Retrieved(
        url=f"{SITE}/wp-json/wp/v2/comments", bodies=bodies, content_type="application/json"
    )


def _context(now: datetime | None = None) -> ParseContext:
    return ParseContext(
        blog="modite", feed_key="modite:comments", url=f"{SITE}/wp-json/", role="comments", now=now
    )


def _comments(
    now: datetime, window: timedelta = timedelta(days=14), pingbacks: bool = True
) -> ParsedFeed:
    return parse_comments(
        _retrieved(*REST_COMMENT_FILES),
        _context(now),
        watch_window=window,
        include_pingbacks=pingbacks,
    )


def test_the_capture_holds_the_whole_seed(captured: dict[str, Any], thread: dict[str, Any]) -> None:
    assert len(captured["seed"]["comment_ids"]) == len(thread["comments"]) == 36
    for name, meta in captured.items():
        if name != "seed":
            assert meta["status"] == 200
            assert (DATA / name).stat().st_size > 0
    assert "127.0.0.1" not in "".join(p.read_text(encoding="utf-8") for p in DATA.iterdir())


def test_posts_parse_into_one_post_with_embeds() -> None:
    body = (DATA / "rest-posts.json").read_bytes()
    parsed = parse_posts(Retrieved(url=f"{SITE}/wp-json/wp/v2/posts", bodies=(body,)), _context())
    assert parsed.window_start is None
    assert parsed.kinds == (EntryKind.POST,)
    [post] = parsed.entries
    assert post.kind is EntryKind.POST
    assert post.key == "post-4"
    assert post.native_id == "4"
    assert post.title == "Social media is difficult like intimacy"
    assert post.url == POST_URL
    assert post.author == "Rebecca Healy"
    assert post.author_url == f"{SITE}/author/rebecca/"
    assert post.categories == ("Blogging", "Community Engagement", "Social media")
    assert post.image_url == f"{SITE}/wp-content/uploads/2009/09/gatejumper-featured.png"
    assert post.published == post.updated == SEED_START
    assert post.content_html.startswith("<p>“Yeah, but it’s just a blog,” someone said.")
    assert post.content_html.rstrip().endswith("[&hellip;]</p>")
    assert post.status == "publish"


def test_title_entities_are_decoded_and_tags_dropped() -> None:
    item = json.loads((DATA / "rest-posts.json").read_bytes())[0]
    item["title"]["rendered"] = "Q&amp;A: <em>Why</em> &#8220;blog&#8221;?"
    item["_embedded"]["wp:term"][0][0]["name"] = "Tips &amp; Tricks"
    body = json.dumps([item]).encode()
    [post] = parse_posts(Retrieved(url=SITE, bodies=(body,)), _context()).entries
    assert post.title == "Q&A: Why “blog”?"
    assert post.categories[0] == "Tips & Tricks"


def test_comments_parse_into_the_seed_thread(
    captured: dict[str, Any], thread: dict[str, Any]
) -> None:
    now = SEED_START + timedelta(days=1)
    parsed = _comments(now)
    assert parsed.window_start == now - timedelta(days=14)
    assert parsed.kinds == (EntryKind.COMMENT, EntryKind.PINGBACK, EntryKind.TRACKBACK)
    ids = {int(index): f"comment-{i}" for index, i in captured["seed"]["comment_ids"].items()}
    entries = {entry.key: entry for entry in parsed.entries}
    assert len(entries) == len(parsed.entries) == 36
    for comment in thread["comments"]:
        entry = entries[ids[comment["index"]]]
        assert entry.kind is EntryKind(comment["type"])
        assert entry.author == comment["author"]
        parent = comment["parent_index"]
        assert entry.parent_key == (None if parent is None else ids[parent])
        assert entry.post_key == "post-4"
        assert entry.post_url == POST_URL
        assert entry.url == f"{POST_URL}#comment-{entry.native_id}"
        assert entry.published == SEED_START + timedelta(minutes=7 * (comment["index"] + 1))
        assert entry.status == "approved"
    reply = entries[ids[14]]
    assert (reply.author, reply.parent_key) == ("Rebecca (Modite)", ids[13])
    assert reply.avatar_url is not None and reply.avatar_url.endswith("?s=96&d=mm&r=g")
    pingback = entries[ids[28]]
    assert pingback.kind is EntryKind.PINGBACK
    assert pingback.author_url == "https://ryan-stephens-marketing.example/2009/10/post-28/"
    assert pingback.content_html.startswith("<p>[…] Social Media is Difficult Like Intimacy")


def test_the_long_comment_and_asterisks_survive(thread: dict[str, Any]) -> None:
    entries = _comments(SEED_START + timedelta(days=1)).entries
    longest = max(entries, key=lambda e: len(e.content_html))
    assert len(longest.content_html) > 2900
    assert longest.content_html.count("<p>") == 6
    [sworn] = [e for e in entries if "f**k" in e.content_html]
    assert "“What the f**k is a blog?” (Sorry for the profanity)<br />\n" in sworn.content_html


def test_without_pingbacks_only_comments_are_listed() -> None:
    parsed = _comments(SEED_START + timedelta(days=1), pingbacks=False)
    assert parsed.kinds == (EntryKind.COMMENT,)
    assert len(parsed.entries) == 32
    assert {e.kind for e in parsed.entries} == {EntryKind.COMMENT}


@pytest.mark.parametrize(
    ("window_start", "expected"),
    [
        (SEED_START, 36),
        (SEED_START + timedelta(minutes=7 * 26), 11),  # comment 25, at +182 min, is the first kept
        (SEED_START + timedelta(minutes=7 * 26 + 1), 10),
        (SEED_START + timedelta(days=2), 0),
    ],
)
def test_comments_before_the_window_are_left_out(window_start: datetime, expected: int) -> None:
    now = datetime(2009, 10, 5, tzinfo=UTC)
    parsed = _comments(now, window=now - window_start)
    assert parsed.window_start == window_start
    assert len(parsed.entries) == expected
    assert all(e.published is not None and e.published >= window_start for e in parsed.entries)


def test_without_a_clock_the_listing_claims_no_window() -> None:
    parsed = parse_comments(_retrieved(*REST_COMMENT_FILES), _context(None), include_pingbacks=True)
    assert parsed.window_start is None
    assert len(parsed.entries) == 36


def test_overlapping_pages_give_each_comment_once() -> None:
    items = json.loads((DATA / "rest-comments.json").read_bytes())
    pages = (json.dumps(items[:20]).encode(), json.dumps(items[19:]).encode())
    parsed = parse_comments(
        Retrieved(url=SITE, bodies=pages), _context(SEED_START + timedelta(days=1))
    )
    assert [e.key for e in parsed.entries] == [f"comment-{item['id']}" for item in items]


def test_the_bound_parse_function_pickles_for_the_parser_pool() -> None:
    source = WordPressCommentsSource(
        f"{SITE}/wp-json/", include_pingbacks=True, watch_window=timedelta(days=3)
    )
    parse = pickle.loads(pickle.dumps(source.parse))
    parsed = parse(_retrieved(*REST_COMMENT_FILES), _context(SEED_START + timedelta(days=1)))
    assert parsed.window_start == SEED_START - timedelta(days=2)
    assert len(parsed.entries) == 36
    assert pickle.loads(pickle.dumps(parsed)) == parsed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((DATA / "home.html").read_bytes(), "answered with something that is not JSON"),
        (b'{"code":"rest_no_route","message":"No route was found matching the URL.",'
         b'"data":{"status":404}}', "answered with an error: rest_no_route: No route was found"),
        (b'{"name": "Modite"}', "did not answer with a list"),
    ],
)  # fmt: skip
def test_unusable_answers_are_parse_errors_naming_the_blog(body: bytes, message: str) -> None:
    retrieved = Retrieved(url=f"{SITE}/wp-json/wp/v2/comments", bodies=(body,))
    for parse in (parse_posts, parse_comments):
        with pytest.raises(ParseError) as caught:
            parse(retrieved, _context(SEED_START))
        assert message in str(caught.value)
        assert f"modite ({SITE}/wp-json/)" in str(caught.value)
        assert str(caught.value).startswith(f"Parsing {SITE}/wp-json/wp/v2/comments failed")


def test_items_without_an_id_are_skipped_with_a_warning() -> None:
    body = json.dumps([{"title": "no id"}, "junk"]).encode()
    parsed = parse_posts(Retrieved(url=SITE, bodies=(body,)), _context())
    assert parsed.entries == ()
    assert len(parsed.warnings) == 2


def test_the_captured_feeds_hold_the_seed_for_feed_parsers() -> None:
    comments = feedparser.parse((DATA / "comments-rss.xml").read_bytes())
    assert not comments.bozo
    assert len(comments.entries) == 36
    assert any("f**k" in e.content[0].value for e in comments.entries)
    post_comments = feedparser.parse((DATA / "post-comments-rss.xml").read_bytes())
    assert len(post_comments.entries) == 36
    for name in ("posts-rss.xml", "posts-atom.xml"):
        posts = feedparser.parse((DATA / name).read_bytes())
        assert [e.title for e in posts.entries] == ["Social media is difficult like intimacy"]
        assert posts.entries[0].link == POST_URL
