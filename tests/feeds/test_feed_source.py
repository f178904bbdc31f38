"""The generic feed platform: posts and comments feeds over real HTTP, and discovery.

A local aiohttp server plays a WordPress-like blog (home page, RSS posts
feed with wfw:commentRss, site-wide and per-post comment feeds), an Atom blog
(rel="replies") and serves the captured Isso Atom feed, with ETag and
Last-Modified validators so the 304 path is exercised through the real Fetcher.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.feeds.errors import RetrieveError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import EntryKind, ParsedFeed
from bot.feeds.sources.base import NotModified, ParseContext, Retrieved, Source
from bot.feeds.sources.feed import (
    FeedCommentsSource,
    FeedLink,
    FeedPostsSource,
    choose_feeds,
    discover_feeds,
    feed_links,
)
from bot.storage.records import FeedState

ISSO_FEED = Path(__file__).resolve().parent.parent / "data" / "isso" / "feed.atom"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
POST_PATH = "/2009/03/social-media-is-difficult-like-intimacy/"

# A WordPress 6 home page <head>, trimmed; {base} is the test server.
WORDPRESS_HOME = """<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>Modite &#8211; Social media, blogging and community</title>
<link rel='dns-prefetch' href='//s.w.org' />
<link rel="alternate" type="application/rss+xml" title="Modite &raquo; Feed" href="{base}/feed/" />
<link rel="alternate" type="application/rss+xml" title="Modite &raquo; Comments Feed"
  href="{base}/comments/feed/" />
<link rel='stylesheet' id='wp-block-library-css'
  href='{base}/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2' media='all' />
<script src="{base}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel="https://api.w.org/" href="{base}/wp-json/" />
<link rel="EditURI" type="application/rsd+xml" title="RSD" href="{base}/xmlrpc.php?rsd" />
<meta name="generator" content="WordPress 6.4.2" />
<link rel="alternate" type="application/json+oembed"
  href="{base}/wp-json/oembed/1.0/embed?url=%2F" />
</head>
<body class="home blog">
<a href="{base}/feed/atom/">not a link element</a>
<h2><a href="{base}{post}">Social media is difficult like intimacy</a></h2>
</body>
</html>
"""

# Comments feed listed first, relative hrefs resolved against <base>.
REORDERED_HOME = """<!doctype html><html><head>
<base href="{base}/blog/">
<LINK REL="alternate" TYPE="application/atom+xml" TITLE="Comments for Example" HREF="comments.atom">
<link rel="alternate stylesheet" type="text/css" href="dark.css" title="Dark">
<link rel="alternate" type="application/atom+xml; charset=utf-8" title="Example" href="posts.atom">
</head><body></body></html>
"""

WORDPRESS_NO_LINKS = """<!DOCTYPE html><html><head>
<meta name="generator" content="WordPress 6.4.2">
<link rel='stylesheet' href='{base}/wp/wp-content/themes/twentytwentyfour/style.css'>
</head><body><p>Theme removed the feed links.</p></body></html>
"""

PLAIN_HOME = "<!doctype html><html><head><title>Static site</title></head><body>Hi</body></html>"

POSTS_RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:wfw="http://wellformedweb.org/CommentAPI/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:atom="http://www.w3.org/2005/Atom"
  xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel>
  <title>Modite</title>
  <atom:link href="{base}/feed/" rel="self" type="application/rss+xml" />
  <link>{base}/</link>
  <description>Social media, blogging and community</description>
  <lastBuildDate>Mon, 16 Mar 2009 14:02:11 +0000</lastBuildDate>
  <item>
    <title>Social media is difficult like intimacy</title>
    <link>{base}{post}</link>
    <comments>{base}{post}#comments</comments>
    <dc:creator><![CDATA[Rebecca]]></dc:creator>
    <pubDate>Mon, 16 Mar 2009 14:02:11 +0000</pubDate>
    <category><![CDATA[Blogging]]></category>
    <category><![CDATA[Social media]]></category>
    <guid isPermaLink="false">{base}/?p=1021</guid>
    <description><![CDATA[&#8220;Yeah, but it&#8217;s just a blog.&#8221; [&#8230;]]]></description>
    <content:encoded><![CDATA[<p>&#8220;Yeah, but it&#8217;s just a blog.&#8221;</p>]]>
    </content:encoded>
    <wfw:commentRss>{base}{post}feed/</wfw:commentRss>
    <slash:comments>36</slash:comments>
  </item>
  <item>
    <title>Hello world</title>
    <link>{base}/2009/01/hello-world/</link>
    <dc:creator><![CDATA[Rebecca]]></dc:creator>
    <pubDate>Thu, 01 Jan 2009 10:00:00 +0000</pubDate>
    <guid isPermaLink="false">{base}/?p=1</guid>
    <content:encoded><![CDATA[<p>Welcome.</p>]]></content:encoded>
    <wfw:commentRss>{base}/2009/01/hello-world/feed/</wfw:commentRss>
  </item>
</channel>
</rss>
"""

COMMENTS_RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{title}</title>
  <link>{base}/</link>
  <description>Social media, blogging and community</description>
  <item>
    <title>Comment on Social media is difficult like intimacy by Gene</title>
    <link>{base}{post}#comment-514</link>
    <dc:creator><![CDATA[Gene]]></dc:creator>
    <pubDate>Tue, 17 Mar 2009 09:12:00 +0000</pubDate>
    <guid isPermaLink="false">{base}/?p=1021#comment-514</guid>
    <description><![CDATA[I get asked this all the time.]]></description>
    <content:encoded><![CDATA[<p>I get asked this all the time.</p>]]></content:encoded>
  </item>
  <item>
    <title>Comment on Social media is difficult like intimacy by Rebecca (Modite)</title>
    <link>{base}{post}#comment-515</link>
    <dc:creator><![CDATA[Rebecca (Modite)]]></dc:creator>
    <pubDate>Tue, 17 Mar 2009 10:40:00 +0000</pubDate>
    <guid isPermaLink="false">{base}/?p=1021#comment-515</guid>
    <content:encoded><![CDATA[<p>@ Gene: exactly.</p>]]></content:encoded>
  </item>
</channel>
</rss>
"""

POSTS_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
  <title>Example</title>
  <id>tag:example.test,2024:blog</id>
  <link rel="alternate" href="{base}/blog/"/>
  <updated>2024-05-02T08:00:00Z</updated>
  <entry>
    <title>An Atom post</title>
    <id>tag:example.test,2024:post-7</id>
    <link rel="alternate" href="{base}/blog/atom-post"/>
    <link rel="replies" type="application/atom+xml" thr:count="2"
      href="{base}/blog/atom-post/comments.atom"/>
    <author><name>Ann</name></author>
    <published>2024-05-01T08:00:00Z</published>
    <updated>2024-05-02T08:00:00Z</updated>
    <content type="html">&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
</feed>
"""


@dataclass
class Blog:
    """The test server's documents and what it saw."""

    base: str = ""
    documents: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def add(self, path: str, content_type: str, template: str | bytes, **values: str) -> None:
        body = (
            template
            if isinstance(template, bytes)
            else template.format(base=self.base, post=POST_PATH, **values).encode()
        )
        self.documents[path] = (content_type, body)

    def seen(self, path: str) -> list[tuple[str | None, str | None]]:
        return [(etag, since) for p, etag, since in self.requests if p == path]


BLOG = web.AppKey("blog", Blog)
LAST_MODIFIED = "Tue, 17 Mar 2009 10:40:00 GMT"
ETAG_ONLY = {"/feed/", "/blog/posts.atom"}


async def _serve(request: web.Request) -> web.StreamResponse:
    blog = request.app[BLOG]
    path = request.path
    blog.requests.append(
        (path, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"))
    )
    if path == "/broken/":
        return web.Response(status=500, text="database error")
    if path not in blog.documents:
        return web.Response(status=404, text="not found")
    content_type, body = blog.documents[path]
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {"ETag": etag} if path in ETAG_ONLY else {"Last-Modified": LAST_MODIFIED}
    if (
        request.headers.get("If-None-Match") == etag
        or request.headers.get("If-Modified-Since") == LAST_MODIFIED
    ):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})


@pytest.fixture
async def blog() -> AsyncIterator[Blog]:
    app = web.Application()
    state = Blog()
    app[BLOG] = state
    app.router.add_get("/{tail:.*}", _serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    rss, html = "application/rss+xml; charset=UTF-8", "text/html; charset=UTF-8"
    state.add("/", html, WORDPRESS_HOME)
    state.add("/feed/", rss, POSTS_RSS)
    state.add("/comments/feed/", rss, COMMENTS_RSS, title="Comments for Modite")
    state.add(
        f"{POST_PATH}feed/",
        rss,
        COMMENTS_RSS,
        title="Comments on: Social media is difficult like intimacy",
    )
    state.add("/blog/", html, REORDERED_HOME)
    state.add("/blog/posts.atom", "application/atom+xml", POSTS_ATOM)
    state.add("/blog/comments.atom", "application/atom+xml", ISSO_FEED.read_bytes())
    state.add("/wp/", html, WORDPRESS_NO_LINKS)
    state.add("/wp/feed/", rss, POSTS_RSS)
    state.add("/wp/comments/feed/", rss, COMMENTS_RSS, title="Comments for Modite")
    state.add("/wp-half/", html, WORDPRESS_NO_LINKS)
    state.add("/wp-half/feed/", rss, POSTS_RSS)
    state.add("/wp-half/comments/feed/", html, PLAIN_HOME)
    state.add("/static/", html, PLAIN_HOME)
    yield state
    await runner.cleanup()


def state_of(
    url: str,
    role: str,
    *,
    post_key: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedState:
    return FeedState(
        key=f"modite:{role}",
        blog="modite",
        url=url,
        role=role,
        post_key=post_key,
        etag=etag,
        last_modified=last_modified,
    )


async def poll(source: Source, state: FeedState, fetcher: Fetcher) -> tuple[Retrieved, ParsedFeed]:
    retrieved = await source.retrieve(fetcher, state, NOW)
    assert isinstance(retrieved, Retrieved)
    ctx = ParseContext(
        blog="modite", feed_key=state.key, url=state.url, role=state.role, post_key=state.post_key
    )
    parse = pickle.loads(pickle.dumps(source.parse))  # it must cross into the parser pool
    return retrieved, parse(retrieved, ctx)


# --- posts and comments feeds ----------------------------------------------


async def test_posts_feed_and_its_etag(blog: Blog, fetcher: Fetcher) -> None:
    url = blog.base + "/feed/"
    source = FeedPostsSource(url)
    retrieved, parsed = await poll(source, state_of(url, "posts"), fetcher)
    assert [e.kind for e in parsed.entries] == [EntryKind.POST, EntryKind.POST]
    post = parsed.entries[0]
    assert post.key == blog.base + "/?p=1021"
    assert post.url == blog.base + POST_PATH
    assert post.comments_feed == f"{blog.base}{POST_PATH}feed/"
    assert post.categories == ("Blogging", "Social media")
    assert parsed.window_start is None
    assert retrieved.etag and retrieved.last_modified is None

    again = await source.retrieve(fetcher, state_of(url, "posts", etag=retrieved.etag), NOW)
    assert isinstance(again, NotModified)
    assert blog.seen("/feed/") == [(None, None), (retrieved.etag, None)]


async def test_site_comments_feed_and_last_modified(blog: Blog, fetcher: Fetcher) -> None:
    url = blog.base + "/comments/feed/"
    source = FeedCommentsSource(url)
    retrieved, parsed = await poll(source, state_of(url, "comments"), fetcher)
    assert [e.author for e in parsed.entries] == ["Gene", "Rebecca (Modite)"]
    assert all(e.kind is EntryKind.COMMENT for e in parsed.entries)
    # WordPress comment guids are <post guid>#comment-N: the post key of the posts feed
    assert {e.post_key for e in parsed.entries} == {blog.base + "/?p=1021"}
    assert [e.native_id for e in parsed.entries] == ["514", "515"]
    assert retrieved.last_modified == LAST_MODIFIED

    again = await source.retrieve(
        fetcher, state_of(url, "comments", last_modified=LAST_MODIFIED), NOW
    )
    assert isinstance(again, NotModified)
    assert blog.seen("/comments/feed/")[-1] == (None, LAST_MODIFIED)


async def test_per_post_comments_feed_found_through_wfw_comment_rss(
    blog: Blog, fetcher: Fetcher
) -> None:
    _, posts = await poll(
        FeedPostsSource(blog.base + "/feed/"), state_of(blog.base + "/feed/", "posts"), fetcher
    )
    post = posts.entries[0]
    assert post.comments_feed is not None
    source = FeedCommentsSource(post.comments_feed, post_key=post.key, post_url=post.url)
    _, parsed = await poll(source, state_of(post.comments_feed, "post_comments"), fetcher)
    assert len(parsed.entries) == 2
    assert {(e.post_key, e.post_url) for e in parsed.entries} == {(post.key, post.url)}


async def test_atom_posts_with_replies_link_and_an_atom_comment_feed(
    blog: Blog, fetcher: Fetcher
) -> None:
    url = blog.base + "/blog/posts.atom"
    _, parsed = await poll(FeedPostsSource(url), state_of(url, "posts"), fetcher)
    (post,) = parsed.entries
    assert post.key == "tag:example.test,2024:post-7"
    assert post.comments_feed == blog.base + "/blog/atom-post/comments.atom"
    comments_url = blog.base + "/blog/comments.atom"
    _, comments = await poll(
        FeedCommentsSource(comments_url), state_of(comments_url, "comments"), fetcher
    )
    assert len(comments.entries) == 32
    replies = [e for e in comments.entries if e.parent_key]
    assert len(replies) == 7  # Isso threading via thr:in-reply-to
    assert all(e.kind is EntryKind.COMMENT for e in comments.entries)


async def test_missing_feed_is_a_permanent_retrieve_error(blog: Blog, fetcher: Fetcher) -> None:
    url = blog.base + "/no-such-feed/"
    with pytest.raises(RetrieveError) as info:
        await FeedPostsSource(url).retrieve(fetcher, state_of(url, "posts"), NOW)
    assert info.value.status == 404 and info.value.permanent


# --- discovery -------------------------------------------------------------


def test_feed_links_of_a_saved_wordpress_page() -> None:
    page = WORDPRESS_HOME.format(base="https://modite.example", post=POST_PATH)
    links, wordpress = feed_links(page, "https://modite.example/")
    assert wordpress
    assert links == [
        FeedLink("https://modite.example/feed/", "application/rss+xml", "Modite » Feed"),
        FeedLink(
            "https://modite.example/comments/feed/", "application/rss+xml", "Modite » Comments Feed"
        ),
    ]
    assert choose_feeds(links) == (
        "https://modite.example/feed/",
        "https://modite.example/comments/feed/",
    )


def test_feed_links_resolve_against_base_and_ignore_other_alternates() -> None:
    links, wordpress = feed_links(REORDERED_HOME.format(base="https://ex.test"), "https://ex.test/")
    assert not wordpress
    assert [link.href for link in links] == [
        "https://ex.test/blog/comments.atom",
        "https://ex.test/blog/posts.atom",
    ]
    assert choose_feeds(links) == (
        "https://ex.test/blog/posts.atom",
        "https://ex.test/blog/comments.atom",
    )


def test_broken_html_does_not_raise() -> None:
    links, wordpress = feed_links(
        "<html><head><link rel=alternate type='application/rss+xml' href=", "https://x.test/"
    )
    assert (links, wordpress) == ([], False)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ("/feed/", "/comments/feed/")),
        ("/blog/", ("/blog/posts.atom", "/blog/comments.atom")),
        ("/wp/", ("/wp/feed/", "/wp/comments/feed/")),  # WordPress fallback, both answer
        ("/wp-half/", ("/wp-half/feed/", None)),  # the fallback comments URL is an HTML page
        ("/static/", (None, None)),
    ],
)
async def test_discover_feeds(
    blog: Blog, fetcher: Fetcher, path: str, expected: tuple[str | None, str | None]
) -> None:
    found = await discover_feeds(fetcher, blog.base + path)
    assert found == tuple(blog.base + p if p else None for p in expected)


async def test_discover_feeds_on_an_unreachable_home_page(blog: Blog, fetcher: Fetcher) -> None:
    with pytest.raises(RetrieveError, match="HTTP 500"):
        await discover_feeds(fetcher, blog.base + "/broken/")
