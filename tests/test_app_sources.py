"""End to end for Isso and plain-feed blogs: the real CLI, run again and again, prints only news.

The blog itself (home page, posts RSS, comment feeds) is a small aiohttp
server in the test's event loop whose content the test changes between runs;
comments of the Isso blog live in a real Isso. ``gatejumper run --dry-run
--once`` runs in a subprocess on a worker thread, so the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import pytest
from aiohttp import web

from tests.dryrun import Block, messages, parse_output, run_once
from tests.isso import SEED_THREAD, IssoServer, SeededThread, seed_email
from tests.localsite import LocalSite

SEED: dict[str, Any] = json.loads(SEED_THREAD.read_text(encoding="utf-8"))
FIRST_BATCH = 10  # seed comments that exist before the bot's first run
TITLE = SEED["post"]["title"]
NEW_TITLE = "A second post, with comments already"
NEW_POST_COMMENTS = [13, 14, 15, 16]  # 15 answers 14, which answers 13: Isso stores 13
RSS = "application/rss+xml; charset=utf-8"
_uris = itertools.count(1)


async def run_cli(config: Path) -> subprocess.CompletedProcess[str]:
    """``gatejumper run --dry-run --once`` (exit 0, no traceback) while this loop keeps serving."""
    return await asyncio.to_thread(run_once, config)


def comment_messages(blocks: list[Block]) -> list[list[Block]]:
    return [m for m in messages(blocks) if not m[0].is_post]


def seed_comments(indices: range | list[int]) -> list[dict[str, Any]]:
    """The seed's real comments among ``indices`` (pingbacks left out: Isso has none)."""
    return [SEED["comments"][i] for i in indices if SEED["comments"][i]["type"] == "comment"]


# --- the blog ------------------------------------------------------------------


@dataclass
class Post:
    number: int
    title: str
    path: str
    published: datetime
    paragraphs: list[str]


@dataclass
class Comment:
    number: int
    post: Post
    author: str
    paragraphs: list[str]
    published: datetime
    parent: int | None = None


@dataclass
class BlogServer(LocalSite):
    """A blog's home page, posts RSS and comment RSS feeds (site-wide and per post)."""

    per_post_feeds: bool = True
    posts: list[Post] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._home)
        app.router.add_get("/feed/", self._posts_feed)
        app.router.add_get("/comments/feed/", self._site_comments)
        app.router.add_get("/comments/{number:\\d+}.rss", self._post_comments)

    def post_url(self, post: Post) -> str:
        return self.base + post.path

    def post_guid(self, post: Post) -> str:
        return f"{self.base}/?p={post.number}"

    def comment_guid(self, comment: Comment) -> str:
        return f"{self.post_guid(comment.post)}#comment-{comment.number}"

    def add_post(self, title: str, path: str, published: datetime) -> Post:
        post = Post(len(self.posts) + 1, title, path, published, SEED["post"]["paragraphs"])
        self.posts.append(post)
        return post

    def add_seed_comments(
        self, post: Post, indices: range | list[int], start: datetime, ids: dict[int, int]
    ) -> None:
        """Seed comments as feed comments, one minute apart, with their real parents."""
        for seed in seed_comments(indices):
            number = 1000 + len(self.comments)
            parent = seed["parent_index"]
            self.comments.append(
                Comment(
                    number,
                    post,
                    seed["author"],
                    seed["paragraphs"],
                    start + timedelta(minutes=len(self.comments)),
                    ids[parent] if parent is not None else None,
                )
            )
            ids[seed["index"]] = number

    # --- pages ---------------------------------------------------------------

    async def _home(self, request: web.Request) -> web.Response:
        self.hits["home"] += 1
        page = f"""<!doctype html><html><head><title>Local blog</title>
<link rel="alternate" type="application/rss+xml" title="Local blog &raquo; Feed" href="/feed/">
<link rel="alternate" type="application/rss+xml" title="Local blog &raquo; Comments Feed"
  href="{self.base}/comments/feed/">
</head><body><h1>Local blog</h1></body></html>"""
        return web.Response(text=page, content_type="text/html")

    async def _posts_feed(self, request: web.Request) -> web.Response:
        self.hits["posts"] += 1
        items = "".join(self._post_item(p) for p in sorted(self.posts, key=lambda p: -p.number))
        return self._rss("Local blog", items)

    async def _site_comments(self, request: web.Request) -> web.Response:
        self.hits["site comments"] += 1
        return self._rss("Comments for Local blog", self._comment_items(self.comments))

    async def _post_comments(self, request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        self.hits[f"post {number} comments"] += 1
        mine = [c for c in self.comments if c.post.number == number]
        return self._rss(f"Comments on post {number}", self._comment_items(mine))

    def _rss(self, title: str, items: str) -> web.Response:
        body = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
  xmlns:thr="http://purl.org/syndication/thread/1.0">
<channel><title>{escape(title)}</title><link>{self.base}/</link><description>d</description>
{items}</channel></rss>"""
        return web.Response(body=body.encode(), headers={"Content-Type": RSS})

    def _post_item(self, post: Post) -> str:
        comments = ""
        if self.per_post_feeds:
            comments = f"<wfw:commentRss>{self.base}/comments/{post.number}.rss</wfw:commentRss>"
        content = "".join(f"<p>{html.escape(p)}</p>" for p in post.paragraphs)
        return f"""<item><title>{escape(post.title)}</title><link>{self.post_url(post)}</link>
<dc:creator>Rebecca Healy</dc:creator><pubDate>{format_datetime(post.published)}</pubDate>
<guid isPermaLink="false">{self.post_guid(post)}</guid><category>Blogging</category>
<content:encoded>{escape(content)}</content:encoded>{comments}</item>
"""

    def _comment_items(self, comments: list[Comment]) -> str:
        """Newest first, as WordPress lists them; replies name their parent (RFC 4685)."""
        by_number = {c.number: c for c in self.comments}
        items = []
        for comment in sorted(comments, key=lambda c: c.published, reverse=True):
            content = "".join(f"<p>{html.escape(p)}</p>" for p in comment.paragraphs)
            reply = ""
            if comment.parent is not None:
                parent = by_number[comment.parent]
                ref = quoteattr(self.comment_guid(parent))
                href = quoteattr(f"{self.post_url(parent.post)}#comment-{parent.number}")
                reply = f'<thr:in-reply-to ref={ref} href={href} type="text/html"/>'
            items.append(
                f"""<item><title>By: {escape(comment.author)}</title>
<link>{self.post_url(comment.post)}#comment-{comment.number}</link>
<dc:creator>{escape(comment.author)}</dc:creator>
<pubDate>{format_datetime(comment.published)}</pubDate>
<guid isPermaLink="false">{self.comment_guid(comment)}</guid>
<content:encoded>{escape(content)}</content:encoded>{reply}</item>
"""
            )
        return "".join(items)


@pytest.fixture
async def blog() -> AsyncIterator[BlogServer]:
    async with BlogServer() as server:
        yield server


# --- Isso ------------------------------------------------------------------------


def add_isso_comments(
    isso: IssoServer, uri: str, indices: range | list[int], ids: dict[int, int]
) -> None:
    """Post seed comments to Isso in page order, each under its real parent's Isso id."""
    for seed in seed_comments(indices):
        parent = seed["parent_index"]
        created = isso.new_comment(
            uri,
            "\n\n".join(seed["paragraphs"]),
            seed["author"],
            email=seed_email(seed["author"]),
            parent=ids[parent] if parent is not None else None,
        )
        ids[seed["index"]] = int(created["id"])


def isso_config(path: Path, blog: BlogServer, isso: IssoServer, database: str) -> Path:
    path.write_text(
        f"""
database: {database}
blogs:
  - name: issoblog
    platform: isso
    url: {blog.base}/
    posts_feed: {blog.base}/feed/
    isso_url: {isso.url}
    announce: {{ channel: 222 }}
""",
        encoding="utf-8",
    )
    return path


def assert_isso_comments(
    printed: list[list[Block]], indices: list[int], thread: SeededThread, title: str
) -> None:
    """Each message is the expected seed comment, in order, answering Isso's stored parent."""
    assert [m[-1].comment_id for m in printed] == [str(thread.ids[i]) for i in indices]
    for message, index in zip(printed, indices, strict=True):
        assert message[0].author == SEED["comments"][index]["author"], index
        parent = thread.isso_parent(index)
        expected = f"isso-{parent}" if parent is not None else None
        assert all(part.reply_to == expected for part in message), (index, message[0].reply_to)
        assert f'thread "{title}"' in message[0].header, message[0].header


@pytest.mark.isso
async def test_isso_blog_prints_only_new_comments_then_new_posts_edits_and_deletions(
    blog: BlogServer, isso_server: IssoServer, database_url: str, tmp_path: Path
) -> None:
    number = next(_uris)
    uri = f"/2009/03/social-media-is-difficult-like-intimacy-e2e-{number}/"
    post = blog.add_post(TITLE, uri, datetime.now(UTC) - timedelta(days=1))
    ids: dict[int, int] = {}
    add_isso_comments(isso_server, uri, range(FIRST_BATCH), ids)
    config = isso_config(tmp_path / "config.yaml", blog, isso_server, database_url)
    thread = SeededThread(isso_server, uri, blog.post_url(post), SEED, ids, {})

    assert parse_output((await run_cli(config)).stdout) == [], "the first run is a baseline"

    add_isso_comments(isso_server, uri, range(FIRST_BATCH, len(SEED["comments"])), ids)
    second = await run_cli(config)
    printed = comment_messages(parse_output(second.stdout))
    expected = [c["index"] for c in seed_comments(range(FIRST_BATCH, len(SEED["comments"])))]
    assert len(printed) == len(expected) == 22, second.stdout
    assert_isso_comments(printed, expected, thread, TITLE)
    assert any(thread.true_parent(i) != thread.isso_parent(i) for i in expected), (
        "a flattened reply"
    )
    assert all(f"{blog.post_url(post)}#isso-" in m[-1].text for m in printed), "links the post page"
    long_index = max(expected, key=lambda i: len("\n\n".join(SEED["comments"][i]["paragraphs"])))
    long_message = next(m for m in printed if m[-1].comment_id == str(ids[long_index]))
    assert [b.part for b in long_message] == [(1, 2), (2, 2)]

    assert parse_output((await run_cli(config)).stdout) == [], "nothing is announced twice"

    # A new post appears with comments already on it: the post, then all of them.
    # Its feed link has a raw non-ASCII path; the browser's location.pathname, which
    # Isso's embed script uses as the thread's uri, is percent-encoded.
    new_path = f"/2026/01/déjà-vu-e2e-{number}/"
    new_uri = quote(new_path)
    blog.add_post(NEW_TITLE, new_path, datetime.now(UTC))
    new_ids: dict[int, int] = {}
    add_isso_comments(isso_server, new_uri, NEW_POST_COMMENTS, new_ids)
    new_thread = SeededThread(isso_server, new_uri, blog.base + new_uri, SEED, new_ids, {})
    blocks = parse_output((await run_cli(config)).stdout)
    assert blocks[0].is_post and NEW_TITLE in blocks[0].text, blocks[:1]
    assert f'new thread "{NEW_TITLE}"' in blocks[0].header
    assert_isso_comments(comment_messages(blocks), NEW_POST_COMMENTS, new_thread, NEW_TITLE)
    assert new_thread.isso_parent(15) == new_ids[13] != new_thread.true_parent(15)

    # Edits and deletions on Isso: one message each.
    isso_server.edit_comment(ids[11], "Edited on Isso: I take that back.")
    isso_server.delete_comment(ids[10])  # a leaf: it disappears from the listing
    isso_server.delete_comment(ids[13])  # has replies: Isso keeps a placeholder
    changes = parse_output((await run_cli(config)).stdout)
    tags = sorted(tag for block in changes for tag in block.tags)
    assert tags == sorted(
        [f"edit isso-{ids[11]}", f"delete isso-{ids[10]}", f"delete isso-{ids[13]}"]
    )
    edited = next(b for b in changes if b.tags[0].startswith("edit"))
    assert "Edited on Isso: I take that back." in edited.text
    assert edited.author == SEED["comments"][11]["author"]

    assert parse_output((await run_cli(config)).stdout) == [], "changes are announced once"


# --- plain feeds -----------------------------------------------------------------


def feed_config(path: Path, blog: BlogServer, database: str, *, discover: bool) -> Path:
    feeds = "" if discover else f"\n    posts_feed: {blog.base}/feed/"
    path.write_text(
        f"""
database: {database}
blogs:
  - name: plainblog
    platform: feed
    url: {blog.base}/{feeds}
    announce: {{ channel: 333 }}
""",
        encoding="utf-8",
    )
    return path


def assert_feed_comments(
    printed: list[list[Block]],
    indices: list[int],
    blog: BlogServer,
    ids: dict[int, int],
    title: str,
) -> None:
    """Each message is the expected seed comment, in order, answering its real parent's guid."""
    assert [m[-1].comment_id for m in printed] == [str(ids[i]) for i in indices]
    by_number = {c.number: c for c in blog.comments}
    for message, index in zip(printed, indices, strict=True):
        assert message[0].author == SEED["comments"][index]["author"], index
        parent = SEED["comments"][index]["parent_index"]
        expected = blog.comment_guid(by_number[ids[parent]]) if parent is not None else None
        assert all(part.reply_to == expected for part in message), (index, message[0].reply_to)
        assert f'thread "{title}"' in message[0].header, message[0].header


@pytest.mark.parametrize("discover", [False, True], ids=["per-post-feeds", "discovered-site-wide"])
async def test_feed_blog_prints_only_new_comments_and_new_posts(
    blog: BlogServer, sqlite_url: str, tmp_path: Path, discover: bool
) -> None:
    """Per-post wfw:commentRss feeds, or posts and site-wide comments feeds found on the home page.

    The site-wide variant sets only ``url``: discovery reads the home page's links once.
    """
    blog.per_post_feeds = not discover
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    post = blog.add_post(TITLE, "/2024/01/social-media/", start)
    ids: dict[int, int] = {}
    blog.add_seed_comments(post, range(FIRST_BATCH), start, ids)
    config = feed_config(tmp_path / "config.yaml", blog, sqlite_url, discover=discover)

    assert parse_output((await run_cli(config)).stdout) == [], "the first run is a baseline"

    blog.add_seed_comments(post, range(FIRST_BATCH, len(SEED["comments"])), start, ids)
    second = await run_cli(config)
    printed = comment_messages(parse_output(second.stdout))
    expected = [c["index"] for c in seed_comments(range(FIRST_BATCH, len(SEED["comments"])))]
    assert len(printed) == len(expected), second.stdout
    assert_feed_comments(printed, expected, blog, ids, TITLE)
    assert "f\\*\\*k" in second.stdout, "Markdown in comments is escaped"

    assert parse_output((await run_cli(config)).stdout) == [], "nothing is announced twice"

    new_post = blog.add_post(NEW_TITLE, "/2026/01/second/", datetime.now(UTC))
    new_ids: dict[int, int] = {}
    blog.add_seed_comments(
        new_post, NEW_POST_COMMENTS, datetime.now(UTC) - timedelta(hours=1), new_ids
    )
    blocks = parse_output((await run_cli(config)).stdout)
    assert blocks[0].is_post and NEW_TITLE in blocks[0].text, blocks[:1]
    assert "categories: Blogging" in blocks[0].text
    assert_feed_comments(comment_messages(blocks), NEW_POST_COMMENTS, blog, new_ids, NEW_TITLE)

    if discover:
        assert blog.hits["home"] == 1, "discovery runs once; the found URLs are stored"
        assert blog.hits["site comments"] == 4 and not any("post " in k for k in blog.hits)
    else:
        assert blog.hits["home"] == 0 and blog.hits["site comments"] == 0
        assert blog.hits["post 1 comments"] == 4 and blog.hits["post 2 comments"] == 1
