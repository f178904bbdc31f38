"""IssoComments against a real Isso 0.14 server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.blogs import Author, BlogError, CommentClient, IssoComments, PostRef, user_reason
from bot.blogs import errors as sentences
from tests.isso import IssoError, IssoServer, SeededThread, free_port

pytestmark = pytest.mark.isso

ANN = Author("Ann Lee (via Discord)", email="ann@example.com", guest=True)
EDIT_WINDOW_SECONDS = 2


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> IssoServer:
    try:
        return IssoServer.start(tmp_path_factory.mktemp(name), **options)
    except IssoError as exc:
        pytest.fail(f"could not start Isso (run scripts/isso.sh): {exc}", pytrace=False)


@pytest.fixture(scope="module")
def short_window_isso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssoServer]:
    """An Isso whose edit cookies live 2 s (sites use 15 min)."""
    server = _start(tmp_path_factory, "isso-short", max_age=f"{EDIT_WINDOW_SECONDS}s")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded_isso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssoServer]:
    """An Isso with its spam guard on, as sites run it; one test uses it."""
    server = _start(tmp_path_factory, "isso-guarded", guard=True)
    yield server
    server.stop()


def client(session: aiohttp.ClientSession, server: IssoServer) -> IssoComments:
    return IssoComments(session, server.url, blog_url=server.blog_url)


async def test_it_is_a_comment_client(
    session: aiohttp.ClientSession, isso_server: IssoServer
) -> None:
    assert isinstance(client(session, isso_server), CommentClient)


async def test_create_a_comment_and_a_reply(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    isso = client(session, isso_thread.server)
    post = PostRef(isso_thread.uri)
    top = await isso.create_comment(post, "Hello *there*", parent=None, author=ANN)
    reply = await isso.create_comment(post, "A reply", parent=top.id, author=ANN)

    assert (top.post_id, top.parent_id, top.status) == (post.id, None, "approved")
    assert top.author_name == "Ann Lee (via Discord)"
    assert "<em>there</em>" in top.content_html  # Isso renders the Markdown
    assert (top.content_raw, top.author_id) == ("Hello *there*", None)
    assert top.link == f"{isso_thread.post_url}#isso-{top.id}"
    assert abs(top.created - datetime.now(UTC)) < timedelta(minutes=5)
    assert reply.parent_id == top.id
    listed = isso_thread.server.thread(isso_thread.uri)["replies"]
    assert any(str(c["id"]) == top.id and c["replies"][0]["text"] for c in listed)


async def test_a_reply_to_a_seed_reply_lands_under_its_top_level_comment(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    index = next(i for i in isso_thread.ids if isso_thread.true_parent(i) is not None)
    isso = client(session, isso_thread.server)
    reply = await isso.create_comment(
        PostRef(isso_thread.uri), "Deep", parent=str(isso_thread.ids[index]), author=ANN
    )
    assert reply.parent_id == str(isso_thread.isso_parent(index))


async def test_update_get_and_delete_with_the_edit_cookie(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    isso = client(session, isso_thread.server)
    created = await isso.create_comment(PostRef(isso_thread.uri), "Before", parent=None, author=ANN)
    first_cookie = isso.export_cookies()[created.id]

    updated = await isso.update_comment(created.id, "After **the** edit")
    assert "<strong>the</strong>" in updated.content_html
    assert isso.export_cookies()[created.id] != first_cookie  # re-signed for the new text
    assert updated.content_raw == "After **the** edit"
    got = await isso.get_comment(created.id)
    assert (got.content_html, got.content_raw) == (updated.content_html, "After **the** edit")
    twice = await isso.update_comment(created.id, "Edited twice")
    assert "Edited twice" in twice.content_html

    await isso.delete_comment(created.id)
    assert created.id not in isso.export_cookies()
    ids = [str(c["id"]) for c in isso_thread.server.thread(isso_thread.uri)["replies"]]
    assert created.id not in ids


async def test_cookies_survive_a_restart_through_export_and_import(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    before = client(session, isso_thread.server)
    created = await before.create_comment(PostRef(isso_thread.uri), "Kept", parent=None, author=ANN)
    saved = before.export_cookies()

    after = client(session, isso_thread.server)
    with pytest.raises(BlogError) as caught:
        await after.update_comment(created.id, "No cookie yet")
    assert (caught.value.code, caught.value.transient) == ("no_cookie", False)
    after.import_cookies(saved)
    assert "Edited later" in (await after.update_comment(created.id, "Edited later")).content_html
    assert saved[created.id] not in repr(after)


async def test_someone_elses_comment_cannot_be_edited(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    isso = client(session, isso_thread.server)
    seed_id = str(isso_thread.ids[0])
    mine = await isso.create_comment(PostRef(isso_thread.uri), "Mine", parent=None, author=ANN)
    isso.import_cookies({seed_id: isso.export_cookies()[mine.id]})
    with pytest.raises(BlogError) as caught:
        await isso.update_comment(seed_id, "Hijacked")
    assert (caught.value.status, caught.value.transient) == (403, False)
    assert "cookie" in caught.value.message
    assert caught.value.code == "isso_cookie_refused"
    assert user_reason(caught.value) == sentences.EDIT_WINDOW
    seed = isso_thread.server.thread(isso_thread.uri)["replies"][0]
    assert "Hijacked" not in seed["text"]


async def test_comments_since(session: aiohttp.ClientSession, isso_thread: SeededThread) -> None:
    isso = client(session, isso_thread.server)
    post = PostRef(isso_thread.uri)
    seeded = await isso.comments_since(post, datetime(2000, 1, 1, tzinfo=UTC))
    assert len(seeded) == len(isso_thread.ids)
    since = max(c.created for c in seeded)
    top = await isso.create_comment(post, "New top", parent=None, author=ANN)
    under_old = await isso.create_comment(
        post, "New reply to an old comment", parent=str(isso_thread.ids[0]), author=ANN
    )

    newer = await isso.comments_since(post, since)
    assert [c.id for c in newer] == [top.id, under_old.id]
    assert [c.content_raw for c in newer] == ["New top", "New reply to an old comment"]
    assert await isso.comments_since(post, since, include_held=True) == newer
    assert all(c.post_id == post.id for c in newer)
    assert await isso.comments_since(post, newer[-1].created) == []


async def test_a_comment_held_for_moderation(
    session: aiohttp.ClientSession, isso_moderated_server: IssoServer
) -> None:
    isso = client(session, isso_moderated_server)
    post = PostRef(
        "/blog-client-moderated-post/", title="A moderated post"
    )  # own thread: the server is shared
    since = datetime.now(UTC) - timedelta(minutes=1)
    held = await isso.create_comment(post, "Wait for me", parent=None, author=ANN)
    assert held.status == "hold"
    # Isso lists held comments to nobody: include_held finds published ones only
    assert await isso.comments_since(post, since, include_held=True) == []
    assert (await isso.get_comment(held.id)).status == "hold"  # the cookie holder may look
    isso_moderated_server.activate(int(held.id))
    assert (await isso.get_comment(held.id)).status == "approved"
    listed = await isso.comments_since(post, since, include_held=True)
    assert [(c.id, c.content_raw) for c in listed] == [(held.id, "Wait for me")]


async def test_bad_input_and_a_missing_comment(
    session: aiohttp.ClientSession, isso_server: IssoServer
) -> None:
    isso = client(session, isso_server)
    with pytest.raises(BlogError) as caught:
        await isso.create_comment(PostRef("/empty/"), "", parent=None, author=ANN)
    assert (caught.value.status, caught.value.transient) == (400, False)
    assert (caught.value.code, user_reason(caught.value)) == (
        "isso_invalid",
        sentences.INVALID_TEXT,
    )
    with pytest.raises(BlogError, match="not an Isso comment id"):
        await isso.get_comment("1/../../admin")


async def test_isso_down_is_transient(session: aiohttp.ClientSession) -> None:
    isso = IssoComments(session, f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(BlogError) as caught:
        await isso.create_comment(PostRef("/p/"), "Hi", parent=None, author=ANN)
    assert (caught.value.status, caught.value.code, caught.value.transient) == (
        None,
        "connection",
        True,
    )


async def test_a_reply_edited_and_deleted_with_its_cookie(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    isso = client(session, isso_thread.server)
    parent = str(isso_thread.ids[0])
    reply = await isso.create_comment(
        PostRef(isso_thread.uri), "Answer from Discord", parent=parent, author=ANN
    )
    assert reply.parent_id == parent
    edited = await isso.update_comment(reply.id, "Answer from Discord, edited")
    assert (edited.parent_id, edited.content_raw) == (parent, "Answer from Discord, edited")
    await isso.delete_comment(reply.id)
    top = next(
        c for c in isso_thread.server.thread(isso_thread.uri)["replies"] if str(c["id"]) == parent
    )
    assert reply.id not in [str(r["id"]) for r in top["replies"]]


async def test_a_reply_to_a_missing_parent_becomes_top_level(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    orphan = await client(session, isso_thread.server).create_comment(
        PostRef(isso_thread.uri), "Whom do I answer?", parent="999999", author=ANN
    )
    assert orphan.parent_id is None


async def test_a_comment_deleted_elsewhere(
    session: aiohttp.ClientSession, isso_thread: SeededThread
) -> None:
    """Isso answers 500 to a valid cookie of a deleted comment; the client makes it a 404."""
    isso = client(session, isso_thread.server)
    created = await isso.create_comment(
        PostRef(isso_thread.uri), "Soon gone", parent=None, author=ANN
    )
    isso_thread.server.cookies[int(created.id)] = isso.export_cookies()[created.id]
    isso_thread.server.delete_comment(int(created.id))  # the same cookie, used elsewhere

    with pytest.raises(BlogError) as caught:
        await isso.update_comment(created.id, "Edit of nothing")
    assert (caught.value.status, caught.value.code) == (404, "isso_not_found")
    assert user_reason(caught.value) == sentences.COMMENT_GONE
    await isso.delete_comment(created.id)  # gone already: done
    assert created.id not in isso.export_cookies()


async def test_a_missing_comment_is_not_found(
    session: aiohttp.ClientSession, isso_server: IssoServer
) -> None:
    isso = client(session, isso_server)
    isso.import_cookies({"999999": "whatever"})
    with pytest.raises(BlogError) as caught:
        await isso.get_comment("999999")
    assert (caught.value.status, caught.value.code) == (404, "isso_not_found")
    assert user_reason(caught.value) == sentences.COMMENT_GONE


async def test_an_expired_edit_window(
    session: aiohttp.ClientSession, short_window_isso: IssoServer
) -> None:
    isso = client(session, short_window_isso)
    created = await isso.create_comment(
        PostRef("/edit-window/", title="Edit window"), "Quick, edit me", parent=None, author=ANN
    )
    await asyncio.sleep(EDIT_WINDOW_SECONDS + 1.5)
    with pytest.raises(BlogError) as caught:
        await isso.update_comment(created.id, "Too late")
    assert (caught.value.status, caught.value.code) == (403, "isso_cookie_refused")
    assert not caught.value.transient
    assert user_reason(caught.value) == sentences.EDIT_WINDOW
    with pytest.raises(BlogError) as trash:
        await isso.delete_comment(created.id)
    assert user_reason(trash.value) == sentences.EDIT_WINDOW


async def test_the_guard_refusals(session: aiohttp.ClientSession, guarded_isso: IssoServer) -> None:
    """Isso's guard (on by default on real sites) judges by address: the relay's alone.

    No reply to one's own comment while it is editable; 2 comments a minute.
    """
    isso = client(session, guarded_isso)
    post = PostRef("/guarded/", title="Guarded")
    top = await isso.create_comment(post, "The relay's comment", parent=None, author=ANN)
    with pytest.raises(BlogError) as own_reply:
        await isso.create_comment(post, "Answering it", parent=top.id, author=ANN)
    await isso.create_comment(post, "Another top-level one", parent=None, author=ANN)
    with pytest.raises(BlogError) as third:
        await isso.create_comment(post, "A third in a minute", parent=None, author=ANN)

    guard = own_reply.value
    assert (guard.status, guard.code, guard.transient, guard.rate_limited) == (
        403,
        "isso_guard",
        False,
        False,
    )
    assert "edit time frame is still open" in guard.message
    assert user_reason(guard) == sentences.SPAM_GUARD
    limit = third.value
    assert (limit.status, limit.code, limit.transient, limit.rate_limited) == (
        403,
        "isso_ratelimit",
        False,
        True,
    )
    assert "ratelimit exceeded" in limit.message
    assert user_reason(limit) == sentences.TOO_FAST
