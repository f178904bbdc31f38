"""IssoComments against a real Isso 0.14 server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.blogs import Author, BlogError, CommentClient, IssoComments, PostRef
from tests.isso import IssoServer, SeededThread, free_port

pytestmark = pytest.mark.isso

ANN = Author("Ann Lee (via Discord)", email="ann@example.com", guest=True)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


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
    assert (await isso.get_comment(created.id)).content_html == updated.content_html
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
    assert all(c.post_id == post.id for c in newer)
    assert await isso.comments_since(post, newer[-1].created) == []


async def test_a_comment_held_for_moderation(
    session: aiohttp.ClientSession, isso_moderated_server: IssoServer
) -> None:
    isso = client(session, isso_moderated_server)
    post = PostRef(
        "/blog-client-moderated-post/", title="A moderated post"
    )  # own thread: the server is shared
    held = await isso.create_comment(post, "Wait for me", parent=None, author=ANN)
    assert held.status == "hold"
    isso_moderated_server.activate(int(held.id))
    assert (await isso.get_comment(held.id)).status == "approved"


async def test_bad_input_and_a_missing_comment(
    session: aiohttp.ClientSession, isso_server: IssoServer
) -> None:
    isso = client(session, isso_server)
    with pytest.raises(BlogError) as caught:
        await isso.create_comment(PostRef("/empty/"), "", parent=None, author=ANN)
    assert (caught.value.status, caught.value.transient) == (400, False)
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
