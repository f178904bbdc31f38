"""The WordPress REST sources against a real WordPress (Debian package, php -S, MariaDB)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import PollingConfig
from bot.feeds.errors import RetrieveError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.sources.base import NotModified, ParseContext, Retrieved
from bot.feeds.sources.wordpress import (
    COMMENTS_PER_PAGE,
    WordPressCommentsSource,
    WordPressPostsSource,
    discover_api_root,
    route_url,
)
from bot.storage.records import FeedState
from tests.wordpress_fixtures import MakeWordPress
from tests.wp import Seed, WordPress

pytestmark = pytest.mark.wordpress

# WordPress shows a smiley between spaces as an emoji (the use_smilies option)
SMILIES = {":-)": "🙂", ";)": "😉", ":)": "🙂"}
DISABLE_REST = """
add_filter('rest_authentication_errors', function () {
    return new WP_Error('rest_disabled', 'The REST API is disabled.', ['status' => 401]);
});
"""


def _state(url: str, role: str = "comments") -> FeedState:
    return FeedState(key=f"modite:{role}", blog="modite", url=url, role=role)


async def _poll(
    fetcher: Fetcher,
    source: WordPressPostsSource | WordPressCommentsSource,
    now: datetime | None = None,
) -> ParsedFeed:
    now = now or datetime.now(UTC)
    retrieved = await source.retrieve(fetcher, _state(source.api_root), now)
    assert isinstance(retrieved, Retrieved)
    context = ParseContext(
        blog="modite", feed_key="modite:x", url=source.api_root, role="comments", now=now
    )
    return source.parse(retrieved, context)


def _comments_source(wordpress: WordPress, **options: Any) -> WordPressCommentsSource:
    return WordPressCommentsSource(
        wordpress.api_root, include_pingbacks=True, auth=wordpress.bot.basic_auth(), **options
    )


def _text(content_html: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content_html)).split())


def _seed_text(paragraphs: list[str]) -> str:
    text = " ".join(" ".join(paragraphs).split())
    for smiley, emoji in SMILIES.items():
        text = re.sub(rf"(?<!\S){re.escape(smiley)}(?!\S)", emoji, text)
    return text


def _many_comments(post_id: int, count: int, start: datetime) -> list[dict[str, Any]]:
    """``count`` comments half a minute apart, for helper.php's create_comments."""
    return [
        {
            "post_id": post_id,
            "author": f"reader {n}",
            "email": f"r{n}@example.com",
            "content": f"Comment {n}",
            "date_gmt": f"{start + timedelta(seconds=30 * (n + 1)):%Y-%m-%d %H:%M:%S}",
        }
        for n in range(count)
    ]


def _by_key(parsed: ParsedFeed) -> dict[str, Entry]:
    return {entry.key: entry for entry in parsed.entries}


# --- routes (no server) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "route", "params", "expected"),
    [
        ("https://x.example/wp-json/", "wp/v2/posts", None, "https://x.example/wp-json/wp/v2/posts"),
        ("https://x.example/blog/wp-json", "/wp/v2/comments", {"page": "2"}, "https://x.example/blog/wp-json/wp/v2/comments?page=2"),
        ("https://x.example/?rest_route=/", "wp/v2/comments", {"after": "2024-01-01T00:00:00Z"},
         "https://x.example/?rest_route=/wp/v2/comments&after=2024-01-01T00:00:00Z"),
        ("https://x.example/?rest_route=/", "x", {"after": "2024-01-01T00:00:00+00:00"},
         "https://x.example/?rest_route=/x&after=2024-01-01T00:00:00%2B00:00"),
        ("https://x.example/index.php?rest_route=/", "", {"_fields": "namespaces"}, "https://x.example/index.php?rest_route=/&_fields=namespaces"),
    ],
)  # fmt: skip
def test_route_url_builds_both_root_forms(
    root: str, route: str, params: Mapping[str, str] | None, expected: str
) -> None:
    assert route_url(root, route, params) == expected


# --- provisioning and discovery --------------------------------------------------------


def test_provisioned_wordpress_serves_rest_and_application_passwords(wordpress: WordPress) -> None:
    status, headers, body = wordpress.get("/")
    assert status == 200
    assert f'<{wordpress.url}/wp-json/>; rel="https://api.w.org/"' in headers["Link"]
    status, _, body = wordpress.get("/wp-json/wp/v2/users/me", auth=wordpress.bot)
    assert status == 200
    assert json.loads(body)["slug"] == "gatejumper"
    status, _, _ = wordpress.get("/wp-json/wp/v2/users/me")
    assert status == 401
    assert {u.role for u in wordpress.users.values()} == {"administrator", "author", "editor"}
    assert wordpress.php("return [get_option('blogname'), wp_count_comments()->approved];") == [
        "Modite",
        36,
    ]


async def test_discovery_finds_the_pretty_root(wordpress: WordPress, fetcher: Fetcher) -> None:
    assert await discover_api_root(fetcher, wordpress.url) == f"{wordpress.url}/wp-json/"


@pytest.mark.parametrize(
    ("site", "reason"),
    [
        ("modite.example", "not a blog address: expected an http:// or https:// URL"),
        ("http://127.0.0.1:1/", "could not connect to 127.0.0.1:1"),
    ],
)
async def test_discovery_without_a_blog_fails_clearly(
    fetcher: Fetcher, site: str, reason: str
) -> None:
    with pytest.raises(RetrieveError) as caught:
        await discover_api_root(fetcher, site)
    assert str(caught.value).startswith(f"Retrieving {site} failed: {reason}")


async def test_plain_permalinks_are_discovered_and_polled(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress(pretty_permalinks=False)
    assert wordpress.seed is not None
    root = await discover_api_root(fetcher, wordpress.url)
    assert root == f"{wordpress.url}/index.php?rest_route=/"
    posts = await _poll(fetcher, WordPressPostsSource(root))
    assert [p.url for p in posts.entries] == [f"{wordpress.url}/?p={wordpress.seed.post_id}"]
    comments = await _poll(
        fetcher,
        WordPressCommentsSource(root, include_pingbacks=True, auth=wordpress.bot.basic_auth()),
    )
    assert len(comments.entries) == 36


async def test_discovery_falls_back_without_a_link_in_the_page(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress(seed=False)
    wordpress.set_option("template", "no-such-theme")  # the home page is now empty
    wordpress.set_option("stylesheet", "no-such-theme")
    _, _, page = wordpress.get("/")
    assert b"api.w.org" not in page
    assert await discover_api_root(fetcher, wordpress.url) == f"{wordpress.url}/wp-json/"
    wordpress.set_option("permalink_structure", "")
    assert await discover_api_root(fetcher, wordpress.url + "/") == f"{wordpress.url}/?rest_route=/"
    post_id = wordpress.create_post("Plain", "Body", categories=["Blogging"])
    posts = await _poll(fetcher, WordPressPostsSource(f"{wordpress.url}/?rest_route=/"))
    assert [(p.key, p.title, p.categories) for p in posts.entries] == [
        (f"post-{post_id}", "Plain", ("Blogging",))
    ]


# --- the seed through the sources ---------------------------------------------------------


async def test_posts_source_reads_the_seed_post(
    wordpress: WordPress, wordpress_seed: Seed, fetcher: Fetcher
) -> None:
    parsed = await _poll(fetcher, WordPressPostsSource(wordpress.api_root))
    assert parsed.window_start is None
    assert parsed.kinds == (EntryKind.POST,)
    [post] = parsed.entries
    assert post.key == wordpress_seed.post_key
    assert post.kind is EntryKind.POST
    assert post.title == "Social media is difficult like intimacy"
    assert post.url == wordpress_seed.post_url
    assert post.author == "Rebecca Healy"
    assert post.categories == ("Blogging", "Community Engagement", "Social media")
    assert (
        post.image_url
        == f"{wordpress.url}/wp-content/uploads/{post.published:%Y/%m}/gatejumper-featured.png"
    )
    assert "“Yeah, but it’s just a blog,” someone said." in post.content_html
    assert post.published is not None and post.published.tzinfo is UTC
    assert post.native_id == str(wordpress_seed.post_id)
    status, _, _ = wordpress.get(post.image_url.removeprefix(wordpress.url))
    assert status == 200


async def test_comments_source_reads_the_whole_seed_thread(
    wordpress: WordPress, wordpress_seed: Seed, fetcher: Fetcher
) -> None:
    now = datetime.now(UTC)
    parsed = await _poll(fetcher, _comments_source(wordpress, watch_window=timedelta(days=14)), now)
    assert parsed.window_start == now - timedelta(days=14)
    assert parsed.kinds == (EntryKind.COMMENT, EntryKind.PINGBACK, EntryKind.TRACKBACK)
    entries = _by_key(parsed)
    assert len(parsed.entries) == len(entries) == 36
    thread = wordpress_seed.thread["comments"]
    for comment in thread:
        entry = entries[wordpress_seed.comment_key(comment["index"])]
        assert entry.kind is EntryKind(comment["type"])
        assert entry.author == comment["author"]
        assert entry.post_key == wordpress_seed.post_key
        assert entry.post_url == wordpress_seed.post_url
        assert entry.url == f"{wordpress_seed.post_url}#comment-{entry.native_id}"
        expected_parent = comment["parent_index"]
        assert entry.parent_key == (
            None if expected_parent is None else wordpress_seed.comment_key(expected_parent)
        )
        assert _text(entry.content_html) == _seed_text(comment["paragraphs"]), comment["index"]
    kinds = [e.kind for e in parsed.entries]
    assert (kinds.count(EntryKind.COMMENT), kinds.count(EntryKind.PINGBACK)) == (32, 4)
    published = [e.published for e in parsed.entries if e.kind is EntryKind.COMMENT]
    assert published == sorted(published)  # type: ignore[type-var]


async def test_the_long_comment_and_asterisks_arrive_intact(
    wordpress: WordPress, wordpress_seed: Seed, fetcher: Fetcher
) -> None:
    entries = _by_key(await _poll(fetcher, _comments_source(wordpress)))
    seed_comment = max(
        wordpress_seed.thread["comments"], key=lambda c: sum(map(len, c["paragraphs"]))
    )
    long_comment = entries[wordpress_seed.comment_key(seed_comment["index"])]
    assert len(_text(long_comment.content_html)) > 2900
    assert long_comment.content_html.count("<p>") == len(seed_comment["paragraphs"])
    assert long_comment.avatar_url is not None and "s=96" in long_comment.avatar_url
    [sworn] = [e for e in entries.values() if "f**k" in e.content_html]
    assert "“What the f**k is a blog?” (Sorry for the profanity)<br />\n" in sworn.content_html


async def test_without_pingbacks_no_credentials_are_needed(
    wordpress: WordPress, fetcher: Fetcher
) -> None:
    parsed = await _poll(fetcher, WordPressCommentsSource(wordpress.api_root))
    assert parsed.kinds == (EntryKind.COMMENT,)
    assert len(parsed.entries) == 32
    assert {e.kind for e in parsed.entries} == {EntryKind.COMMENT}


async def test_pingbacks_without_credentials_fail_with_a_reason(
    wordpress: WordPress, fetcher: Fetcher
) -> None:
    source = WordPressCommentsSource(wordpress.api_root, include_pingbacks=True)
    with pytest.raises(RetrieveError) as caught:
        await source.retrieve(fetcher, _state(wordpress.api_root), datetime.now(UTC))
    assert caught.value.status == 401
    assert wordpress.api_root in str(caught.value)
    assert "user who can edit posts" in str(caught.value)


async def test_the_watch_window_limits_the_listing(
    wordpress: WordPress, wordpress_seed: Seed, fetcher: Fetcher
) -> None:
    thread = wordpress_seed.thread["comments"]
    # load_seed dates comment i at post date + 7(i+1) minutes: keep the newest ten
    post = (await _poll(fetcher, WordPressPostsSource(wordpress.api_root))).entries[0]
    assert post.published is not None
    now = datetime.now(UTC)
    window = now - (post.published + timedelta(minutes=7 * (len(thread) - 10) + 3))
    parsed = await _poll(fetcher, _comments_source(wordpress, watch_window=window), now)
    assert parsed.window_start == now - window
    assert sorted(e.key for e in parsed.entries) == sorted(
        wordpress_seed.comment_key(i) for i in range(26, 36)
    )


# --- changes on the blog ----------------------------------------------------------------


async def test_paging_lists_more_than_one_page(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress(seed=False)
    start = datetime.now(UTC) - timedelta(hours=5)
    post_id = wordpress.create_post("Busy", "A popular post", date=start)
    ids = wordpress.create_comments(_many_comments(post_id, 150, start))
    source = _comments_source(wordpress)
    retrieved = await source.retrieve(fetcher, _state(source.api_root), datetime.now(UTC))
    assert (
        len(retrieved.bodies) == 2 + 2
    )  # two pages of comments, one (empty) each of pingbacks, trackbacks
    assert len(json.loads(retrieved.bodies[0])) == COMMENTS_PER_PAGE
    parsed = await _poll(fetcher, source)
    assert [e.key for e in parsed.entries] == [f"comment-{i}" for i in ids]
    assert _text(parsed.entries[-1].content_html) == "Comment 149"


class _DeletingFetcher(Fetcher):
    """A real fetcher that deletes a comment on the blog right after its first request."""

    def __init__(self, delete: Callable[[], None]) -> None:
        super().__init__(PollingConfig())
        self.delete: Callable[[], None] | None = delete
        self.urls: list[str] = []

    async def get(self, url: str, **kwargs: Any) -> Retrieved | NotModified:
        answer = await super().get(url, **kwargs)
        self.urls.append(url)
        if self.delete is not None:
            self.delete, delete = None, self.delete
            delete()
        return answer


async def test_a_deletion_while_paging_restarts_the_listing(make_wordpress: MakeWordPress) -> None:
    wordpress = make_wordpress(seed=False)
    start = datetime.now(UTC) - timedelta(hours=5)
    post_id = wordpress.create_post("Busy", "A popular post", date=start)
    ids = wordpress.create_comments(_many_comments(post_id, 120, start))
    async with _DeletingFetcher(lambda: wordpress.delete_comment(ids[3])) as fetcher:
        parsed = await _poll(fetcher, WordPressCommentsSource(wordpress.api_root))
    assert [e.key for e in parsed.entries] == [f"comment-{i}" for i in ids if i != ids[3]]
    assert (
        sum("offset=99" in url for url in fetcher.urls) == 2
    )  # the second page was asked for twice


async def test_held_spam_trashed_and_deleted_comments_leave_the_listing(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress()
    seed = wordpress.seed
    assert seed is not None
    source = _comments_source(wordpress)
    assert wordpress.set_comment_status(seed.comment_ids[1], "hold") == "unapproved"
    assert wordpress.set_comment_status(seed.comment_ids[2], "spam") == "spam"
    assert wordpress.set_comment_status(seed.comment_ids[3], "trash") == "trash"
    wordpress.delete_comment(seed.comment_ids[28])  # a pingback
    waiting = wordpress.create_comment(seed.post_id, "New", "new@example.com", "Hi", status="hold")
    parsed = await _poll(fetcher, source)
    gone = {seed.comment_key(i) for i in (1, 2, 3, 28)}
    assert parsed.window_start is not None
    assert {e.key for e in parsed.entries} == {seed.comment_key(i) for i in range(36)} - gone
    assert f"comment-{waiting}" not in _by_key(parsed)
    assert wordpress.set_comment_status(seed.comment_ids[1], "approve") == "approved"
    assert seed.comment_key(1) in _by_key(await _poll(fetcher, source))


async def test_trackbacks_are_listed_with_pingbacks(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress(seed=False)
    post_id = wordpress.create_post(
        "Linked", "Somebody links here", date=datetime.now(UTC) - timedelta(hours=1)
    )
    reply_to = wordpress.create_comment(post_id, "Ann", "ann@example.com", "First!")
    reply = wordpress.create_comment(
        post_id, "Rebecca (Modite)", "", "Thanks", parent=reply_to, user="rebecca"
    )
    trackback = wordpress.create_comment(
        post_id,
        "Other Blog",
        "",
        "[…] a trackback […]",
        type="trackback",
        author_url="https://other.example/",
    )
    entries = _by_key(await _poll(fetcher, _comments_source(wordpress)))
    assert entries[f"comment-{trackback}"].kind is EntryKind.TRACKBACK
    assert entries[f"comment-{trackback}"].author_url == "https://other.example/"
    assert entries[f"comment-{reply}"].parent_key == f"comment-{reply_to}"
    assert entries[f"comment-{reply}"].author == "Rebecca (Modite)"
    only_comments = await _poll(fetcher, WordPressCommentsSource(wordpress.api_root))
    assert {e.key for e in only_comments.entries} == {f"comment-{reply_to}", f"comment-{reply}"}


async def test_an_edited_comment_shows_its_new_content(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress()
    seed = wordpress.seed
    assert seed is not None
    source = WordPressCommentsSource(wordpress.api_root)
    before = _by_key(await _poll(fetcher, source))[seed.comment_key(10)]
    wordpress.edit_comment(seed.comment_ids[10], "Edited: <strong>so</strong> much better now.")
    after = _by_key(await _poll(fetcher, source))[seed.comment_key(10)]
    assert before.content_html != after.content_html
    assert after.content_html == "<p>Edited: <strong>so</strong> much better now.</p>\n"
    assert (after.published, after.author, after.parent_key) == (
        before.published,
        before.author,
        before.parent_key,
    )


async def test_a_disabled_rest_api_is_reported_for_the_blog(
    make_wordpress: MakeWordPress, fetcher: Fetcher
) -> None:
    wordpress = make_wordpress(seed=False)
    wordpress.add_mu_plugin("no-rest", DISABLE_REST)
    with pytest.raises(RetrieveError) as posts_error:
        await WordPressPostsSource(wordpress.api_root).retrieve(
            fetcher, _state(wordpress.api_root), datetime.now(UTC)
        )
    assert posts_error.value.status == 401
    assert f"REST API at {wordpress.api_root} refused to list posts" in str(posts_error.value)
    with pytest.raises(RetrieveError) as comments_error:
        await WordPressCommentsSource(wordpress.api_root).retrieve(
            fetcher, _state(wordpress.api_root), datetime.now(UTC)
        )
    assert "refused to list comments" in str(comments_error.value)
    with pytest.raises(RetrieveError) as discovery_error:
        await discover_api_root(fetcher, wordpress.url)
    assert str(discovery_error.value).startswith(
        f"Retrieving {wordpress.url} failed: no WordPress REST API found"
    )
    assert "HTTP 401" in str(discovery_error.value)


async def test_a_missing_route_is_reported_as_such(wordpress: WordPress, fetcher: Fetcher) -> None:
    source = WordPressPostsSource(f"{wordpress.url}/wp-json/not-here/")
    with pytest.raises(RetrieveError) as caught:
        await source.retrieve(fetcher, _state(source.api_root), datetime.now(UTC))
    assert caught.value.status == 404
    assert caught.value.permanent
    assert "has no route for posts" in str(caught.value)
