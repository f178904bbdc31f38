"""Isso sources: parsing captured Isso answers, and polling a real Isso server.

The captured files in tests/data/isso come from ``python -m tests.isso capture``
(a seeded Isso 0.14); ``manifest.json`` maps seed indexes to Isso ids.
Isso stores a reply to a reply under the top-level comment, so the expected
parents are ``isso_parent`` (``true_parent`` differs for seed comment 15).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.feeds.errors import ParseError, RetrieveError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.feeds.parse import ParserPool
from bot.feeds.sources.base import ParseContext, Retrieved
from bot.feeds.sources.isso import (
    COMPLETE,
    IssoFeedSource,
    IssoThreadSource,
    identicon_url,
    parse_isso_feed,
    parse_isso_thread,
)
from bot.storage.records import FeedState
from tests.isso import IssoServer, SeededThread

pytestmark = pytest.mark.isso

DATA = Path(__file__).resolve().parent.parent / "data" / "isso"
MANIFEST: dict[str, Any] = json.loads((DATA / "manifest.json").read_text())
POST_KEY = "post-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def context(url: str = "http://isso.test/", post_key: str | None = POST_KEY) -> ParseContext:
    return ParseContext(
        blog="modite",
        feed_key=f"modite:comments:{post_key}",
        url=url,
        role="post_comments",
        post_key=post_key,
    )


def captured(name: str) -> Retrieved:
    return Retrieved(url=f"http://isso.test/{name}", bodies=((DATA / name).read_bytes(),))


def parse_captured(name: str, post_url: str = MANIFEST["post_url"]) -> ParsedFeed:
    return parse_isso_thread(captured(name), context(), post_key=POST_KEY, post_url=post_url)


def by_key(parsed: ParsedFeed) -> dict[str, Entry]:
    return {entry.key: entry for entry in parsed.entries}


def isso_parent_key(parent_id: int | None) -> str | None:
    return None if parent_id is None else f"isso-{parent_id}"


# --- parsing captured JSON -------------------------------------------------


def test_thread_listing_has_every_seed_comment_with_isso_parents() -> None:
    parsed = parse_captured("thread.json")
    entries = by_key(parsed)
    ids: dict[str, int] = MANIFEST["ids"]
    assert len(parsed.entries) == 32
    assert set(entries) == {f"isso-{i}" for i in ids.values()}
    for index, comment_id in ids.items():
        entry = entries[f"isso-{comment_id}"]
        assert entry.kind is EntryKind.COMMENT
        assert entry.native_id == str(comment_id)
        assert entry.parent_key == isso_parent_key(MANIFEST["isso_parent"][index]), index
        assert entry.post_key == POST_KEY
        assert entry.url == f"{MANIFEST['post_url']}#isso-{comment_id}"
        assert entry.status == "approved"
    assert parsed.window_start == COMPLETE
    assert parsed.kinds == (EntryKind.COMMENT,)
    assert parsed.warnings == ()


def test_reply_to_a_reply_is_stored_under_the_top_level_comment() -> None:
    # Seed comment 15 answers 14, which answers 13; Isso keeps it under 13.
    true_parent, isso_parent = MANIFEST["true_parent"]["15"], MANIFEST["isso_parent"]["15"]
    assert true_parent == MANIFEST["ids"]["14"]
    assert isso_parent == MANIFEST["ids"]["13"]
    entry = by_key(parse_captured("thread.json"))[f"isso-{MANIFEST['ids']['15']}"]
    assert entry.parent_key == f"isso-{isso_parent}"


def test_thread_entry_fields() -> None:
    entries = by_key(parse_captured("thread.json"))
    first = entries[f"isso-{MANIFEST['ids']['0']}"]
    assert first.author == "ryanstephens"
    assert first.content_html.startswith("<p>")
    assert first.published is not None and first.published.tzinfo is UTC
    assert first.updated is None
    assert first.avatar_url is not None and first.avatar_url.startswith(
        "https://www.gravatar.com/avatar/"
    )
    rebecca = [e for e in entries.values() if e.author == "Rebecca (Modite)"]
    assert len(rebecca) == 9 and len({e.avatar_url for e in rebecca}) == 1
    assert first.avatar_url != rebecca[0].avatar_url
    long_one = entries[f"isso-{MANIFEST['ids']['30']}"]
    assert len(long_one.content_html) > 2900
    assert any("f**k" in e.content_html for e in entries.values())


def test_parse_is_picklable_and_binds_the_post() -> None:
    source = IssoThreadSource("http://isso.test", POST_KEY, MANIFEST["uri"], MANIFEST["post_url"])
    parse = pickle.loads(pickle.dumps(source.parse))
    parsed = parse(captured("thread.json"), context(post_key=None))
    assert {e.post_key for e in parsed.entries} == {POST_KEY}
    assert parsed.entries[0].url is not None and parsed.entries[0].url.startswith(
        MANIFEST["post_url"]
    )


def test_changed_thread_edit_delete_and_placeholder() -> None:
    changed = MANIFEST["changed"]
    entries = by_key(parse_captured("thread_changed.json", changed["post_url"]))
    edited = entries[f"isso-{changed['edited']}"]
    assert edited.content_html == "<p>Edited: thank you for this post.</p>"
    assert edited.updated is not None and edited.published is not None
    assert edited.updated > edited.published
    assert f"isso-{changed['deleted_leaf']}" not in entries
    placeholder = entries[f"isso-{changed['deleted_with_replies']}"]
    assert (placeholder.status, placeholder.author, placeholder.content_html) == (
        "deleted",
        None,
        "",
    )
    replies = [e for e in entries.values() if e.parent_key == placeholder.key]
    assert len(replies) == 2 and all(e.status == "approved" for e in replies)
    added = entries[f"isso-{changed['added']}"]
    assert added.author == "Late & Co"
    assert added.content_html == "<p>A late reply &amp; &lt;b&gt;markup&lt;/b&gt;.</p>"
    assert len(entries) == 32  # 32 seeded − 1 leaf deleted + 1 added; the placeholder stays


def test_hidden_replies_make_the_listing_incomplete() -> None:
    parsed = parse_captured("thread_nested_limit_1.json")
    assert len(parsed.entries) == 31
    assert parsed.window_start is None
    assert any("nested_limit" in warning for warning in parsed.warnings)


@pytest.mark.parametrize("name", ["empty_thread.json", None])
def test_empty_thread_is_a_complete_empty_listing(name: str | None) -> None:
    retrieved = captured(name) if name else Retrieved(url="http://isso.test/?uri=/x/", bodies=())
    parsed = parse_isso_thread(retrieved, context())
    assert parsed.entries == ()
    assert parsed.window_start == COMPLETE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>nope</html>", "invalid JSON"),
        (b'{"id": null}', "'replies'"),
        (b"[1, 2]", "'replies'"),
    ],
)
def test_bad_json_is_a_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_isso_thread(Retrieved(url="http://isso.test/?uri=/x/", bodies=(body,)), context())
    assert "http://isso.test/?uri=/x/" in str(info.value)


def test_odd_items_are_skipped_with_warnings() -> None:
    body = json.dumps(
        {
            "replies": [
                "junk",
                {"id": "7"},
                {"id": 8, "created": "yesterday", "text": "<p>ok</p>", "author": None},
            ]
        }
    ).encode()
    parsed = parse_isso_thread(Retrieved(url="http://isso.test/", bodies=(body,)), context())
    assert [e.key for e in parsed.entries] == ["isso-8"]
    assert parsed.entries[0].author == "Anonymous"
    assert parsed.entries[0].published is None
    assert len(parsed.warnings) == 3


def test_gravatar_image_wins_over_identicon() -> None:
    body = json.dumps(
        {
            "replies": [
                {
                    "id": 1,
                    "created": 1.0,
                    "text": "x",
                    "hash": "abc",
                    "gravatar_image": "https://g/x.png",
                }
            ]
        }
    ).encode()
    parsed = parse_isso_thread(Retrieved(url="http://isso.test/", bodies=(body,)), context())
    assert parsed.entries[0].avatar_url == "https://g/x.png"
    assert identicon_url("abc") != identicon_url("abd")
    assert identicon_url("abc", None) is None


# --- parsing the captured Atom feed ----------------------------------------


def test_atom_feed_maps_to_the_same_comments_as_json() -> None:
    from_json = by_key(parse_captured("thread.json"))
    parsed = parse_isso_feed(
        captured("feed.atom"), context(), post_key=POST_KEY, post_url=MANIFEST["post_url"]
    )
    from_feed = by_key(parsed)
    assert set(from_feed) == set(from_json)
    for key, entry in from_feed.items():
        assert entry.kind is EntryKind.COMMENT
        assert entry.parent_key == from_json[key].parent_key, key
        assert entry.author == from_json[key].author
        # feedparser's sanitizer writes void elements XHTML-style (<br />)
        assert entry.content_html.replace("<br />", "<br>") == from_json[key].content_html
        assert entry.url == from_json[key].url
        assert entry.post_key == POST_KEY
    assert parsed.window_start is None


def test_atom_feed_shows_the_placeholder_as_deleted() -> None:
    changed = MANIFEST["changed"]
    entries = by_key(
        parse_isso_feed(
            captured("feed_changed.atom"),
            context(),
            post_key=POST_KEY,
            post_url=changed["post_url"],
        )
    )
    placeholder = entries[f"isso-{changed['deleted_with_replies']}"]
    assert (placeholder.status, placeholder.author, placeholder.content_html) == (
        "deleted",
        None,
        "",
    )
    assert f"isso-{changed['deleted_leaf']}" not in entries
    assert entries[f"isso-{changed['added']}"].author == "Late & Co"


# --- a real Isso ---------------------------------------------------------


def state_for(source: IssoThreadSource | IssoFeedSource) -> FeedState:
    return FeedState(
        key=f"modite:comments:{source.post_key}",
        blog="modite",
        url=source.isso_url,
        role="post_comments",
        post_key=source.post_key,
    )


async def poll(source: IssoThreadSource | IssoFeedSource, fetcher: Fetcher) -> dict[str, Entry]:
    retrieved = await source.retrieve(fetcher, state_for(source), NOW)
    assert isinstance(retrieved, Retrieved)
    parsed = source.parse(retrieved, context(retrieved.url, post_key=None))
    if isinstance(source, IssoThreadSource):
        assert parsed.window_start == COMPLETE
    return by_key(parsed)


def thread_source(thread: SeededThread) -> IssoThreadSource:
    return IssoThreadSource(thread.server.url, POST_KEY, thread.uri, thread.post_url)


async def test_reads_the_seeded_thread_with_parents(
    isso_thread: SeededThread, fetcher: Fetcher
) -> None:
    entries = await poll(thread_source(isso_thread), fetcher)
    assert len(entries) == 32
    for index, comment_id in isso_thread.ids.items():
        entry = entries[f"isso-{comment_id}"]
        assert entry.parent_key == isso_parent_key(isso_thread.isso_parent(index))
        assert entry.author == isso_thread.seed["comments"][index]["author"]
    nested = isso_thread.ids[15]
    assert isso_thread.true_parent(15) == isso_thread.ids[14]
    assert entries[f"isso-{nested}"].parent_key == f"isso-{isso_thread.ids[13]}"


async def test_new_edited_and_deleted_comments(isso_thread: SeededThread, fetcher: Fetcher) -> None:
    server, source = isso_thread.server, thread_source(isso_thread)
    new = server.new_comment(
        isso_thread.uri, "Late to the party, but *agreed*.", "Newcomer", parent=isso_thread.ids[4]
    )
    leaf, with_replies, edited = isso_thread.ids[33], isso_thread.ids[16], isso_thread.ids[2]
    server.edit_comment(edited, "Edited text with **bold**.")
    assert server.delete_comment(leaf) is None
    placeholder = server.delete_comment(with_replies)
    assert placeholder is not None and placeholder["mode"] == 4

    entries = await poll(source, fetcher)
    added = entries[f"isso-{new['id']}"]
    assert (added.author, added.parent_key) == ("Newcomer", f"isso-{isso_thread.ids[4]}")
    assert added.content_html == "<p>Late to the party, but <em>agreed</em>.</p>"
    changed = entries[f"isso-{edited}"]
    assert changed.content_html == "<p>Edited text with <strong>bold</strong>.</p>"
    assert (
        changed.updated is not None
        and changed.published is not None
        and changed.updated > changed.published
    )
    assert f"isso-{leaf}" not in entries
    assert entries[f"isso-{with_replies}"].status == "deleted"
    assert len(entries) == 32  # +1 new, −1 leaf; the placeholder stays

    server.delete_comment(isso_thread.ids[17])  # its last reply: Isso drops the placeholder too
    entries = await poll(source, fetcher)
    assert f"isso-{with_replies}" not in entries and f"isso-{isso_thread.ids[17]}" not in entries


async def test_thread_without_comments_is_empty_not_an_error(
    isso_server: IssoServer, fetcher: Fetcher
) -> None:
    source = IssoThreadSource(
        isso_server.url, POST_KEY, "/never-commented/", isso_server.post_url("/never-commented/")
    )
    assert await poll(source, fetcher) == {}


async def test_wrong_isso_url_is_a_retrieve_error(
    isso_server: IssoServer, fetcher: Fetcher
) -> None:
    source = IssoThreadSource(
        isso_server.url + "not-isso/", POST_KEY, "/x/", "http://blog.example/x/"
    )
    with pytest.raises(RetrieveError) as info:
        await source.retrieve(fetcher, state_for(source), NOW)
    assert info.value.status == 404


async def test_old_isso_404_for_an_empty_thread_means_empty(
    aiohttp_404_isso: str, fetcher: Fetcher
) -> None:
    source = IssoThreadSource(aiohttp_404_isso, POST_KEY, "/x/", "http://blog.example/x/")
    retrieved = await source.retrieve(fetcher, state_for(source), NOW)
    assert isinstance(retrieved, Retrieved) and retrieved.bodies == ()
    assert source.parse(retrieved, context()).window_start == COMPLETE


@pytest.fixture
async def aiohttp_404_isso() -> AsyncIterator[str]:
    """Older Isso versions answer 404 for a thread without comments; /info still works."""

    async def info(request: web.Request) -> web.Response:
        return web.json_response({"version": "0.12.2", "moderation": False})

    async def thread(request: web.Request) -> web.Response:
        return web.json_response({"message": "404 Not Found"}, status=404)

    app = web.Application()
    app.router.add_get("/info", info)
    app.router.add_get("/", thread)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


async def test_moderated_comment_appears_once_activated(
    isso_moderated_server: IssoServer, fetcher: Fetcher
) -> None:
    server = isso_moderated_server
    uri = "/moderated-post/"
    pending = server.new_comment(uri, "Please approve me.", "Waiting")
    assert pending["mode"] == 2
    source = IssoThreadSource(server.url, POST_KEY, uri, server.post_url(uri))
    assert await poll(source, fetcher) == {}
    server.activate(int(pending["id"]))
    entries = await poll(source, fetcher)
    assert list(entries) == [f"isso-{pending['id']}"]
    assert entries[f"isso-{pending['id']}"].status == "approved"


async def test_feed_source_reads_the_real_atom_feed(
    isso_thread: SeededThread, fetcher: Fetcher
) -> None:
    feed_source = IssoFeedSource(
        isso_thread.server.url, POST_KEY, isso_thread.uri, isso_thread.post_url
    )
    from_feed = await poll(feed_source, fetcher)
    from_json = await poll(thread_source(isso_thread), fetcher)
    assert set(from_feed) == set(from_json)
    assert all(from_feed[k].parent_key == from_json[k].parent_key for k in from_json)


async def test_isso_feed_etag_ignores_new_replies(
    isso_thread: SeededThread, fetcher: Fetcher
) -> None:
    """Why IssoFeedSource sends no validators: Isso's ETag names the newest top-level comment."""
    server = isso_thread.server
    first = await fetcher.get(server.url + "feed", params={"uri": isso_thread.uri})
    assert isinstance(first, Retrieved) and first.etag
    server.new_comment(isso_thread.uri, "A new reply.", "Replier", parent=isso_thread.ids[0])
    again = await fetcher.get(server.url + "feed", params={"uri": isso_thread.uri}, etag=first.etag)
    assert not isinstance(again, Retrieved), (
        "Isso fixed its feed ETag: IssoFeedSource may send validators"
    )
    feed_source = IssoFeedSource(server.url, POST_KEY, isso_thread.uri, isso_thread.post_url)
    stale_state = FeedState(
        key="k", blog="modite", url=server.url, role="post_comments", etag=first.etag
    )
    fresh = await feed_source.retrieve(fetcher, stale_state, NOW)
    assert isinstance(fresh, Retrieved) and len(fresh.bodies[0]) > len(first.bodies[0])


async def test_parse_runs_in_the_parser_pool() -> None:
    """The pipeline runs ``source.parse`` in worker processes: it must pickle and work there."""
    source = IssoThreadSource("http://isso.test", POST_KEY, MANIFEST["uri"], MANIFEST["post_url"])
    async with ParserPool(max_workers=1) as pool:
        parsed = await pool.run(source.parse, captured("thread.json"), context(post_key=None))
    assert len(parsed.entries) == 32
    assert parsed == source.parse(captured("thread.json"), context(post_key=None))


async def test_isso_latest_hides_new_top_level_comments(isso_thread: SeededThread) -> None:
    """Why there is no site-wide Isso source: /latest keeps the newest *replies*."""
    server = isso_thread.server
    newest = server.new_comment(isso_thread.uri, "The newest word.", "Last")
    latest = server.latest(3)
    assert len(latest) == 3
    assert all(comment["parent"] is not None for comment in latest)
    assert newest["id"] not in [comment["id"] for comment in latest], (
        "Isso fixed /latest: a site-wide IssoLatestSource would now be reliable"
    )
