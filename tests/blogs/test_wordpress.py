"""WordPressComments against a real WordPress 6.1 (Debian package, MariaDB, ``php -S``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.blogs import Author, BlogError, CommentClient, WordPressComments, user_reason
from bot.blogs.errors import ACCOUNT_REFUSED, CANNOT_APPROVE
from tests.blogs.wordpress_helpers import GUEST, ME, client, new_post
from tests.wp import WordPress, free_port

pytestmark = pytest.mark.wordpress


def comment_user_id(blog: WordPress, comment_id: str) -> int:
    return int(blog.php(f"return (int) get_comment({int(comment_id)})->user_id;"))


async def test_it_is_a_comment_client(session: aiohttp.ClientSession, blog: WordPress) -> None:
    assert isinstance(client(session, blog, blog.author), CommentClient)


async def test_a_linked_author_comments_and_replies_as_herself(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog)
    rebecca = client(session, blog, blog.author)
    top = await rebecca.create_comment(post, "<p>First answer</p>", parent=None, author=ME)
    reply = await rebecca.create_comment(post, "A reply", parent=top.id, author=ME)

    assert (top.post_id, top.parent_id, top.author_name) == (post.id, None, "Rebecca Healy")
    assert top.status == "approved"  # the post's author: approved at once
    assert "First answer" in top.content_html
    assert top.link is not None and top.link.endswith(f"#comment-{top.id}")
    assert abs(top.created - datetime.now(UTC)) < timedelta(minutes=5)
    assert reply.parent_id == top.id
    assert comment_user_id(blog, top.id) == blog.author.user_id


async def test_the_plain_rest_route_root_works_too(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog)
    plain = client(session, blog, blog.author, root=f"{blog.url}/?rest_route=/")
    created = await plain.create_comment(post, "Through rest_route", parent=None, author=ME)
    assert (await plain.get_comment(created.id)).content_html == created.content_html


async def test_a_guest_relayed_by_the_bot_keeps_the_guest_name(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog)
    bot = client(session, blog, blog.bot)
    blog.set_option("comment_moderation", 1)  # "comments must be manually approved"
    try:
        held = await bot.create_comment(post, "Guest words", parent=None, author=GUEST)
        approved = await bot.create_comment(
            post, "Guest words, approved", parent=held.id, author=GUEST, status="approved"
        )
        own = await bot.create_comment(post, "The bot itself", parent=None, author=ME)
    finally:
        blog.set_option("comment_moderation", 0)

    assert held.author_name == "Ann Lee (via Discord)"
    assert comment_user_id(blog, held.id) == 0  # author_name unlinks it from the account
    assert held.status == "hold"  # moderated like an anonymous comment
    assert own.status == "approved"  # the account's own: it may moderate
    assert own.author_name == "Gatejumper Bot"  # guest=False ignores Author.name
    assert approved.status == "approved"
    assert approved.parent_id == held.id


async def test_a_guest_without_an_email_gets_a_placeholder_address(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    blog.set_option("require_name_email", 1)
    created = await client(session, blog, blog.bot).create_comment(
        new_post(blog), "No email", parent=None, author=Author("Bo (via Discord)", guest=True)
    )
    assert created.author_name == "Bo (via Discord)"
    email = blog.php(f"return get_comment({int(created.id)})->comment_author_email;")
    assert email == "noreply@gatejumper.invalid"


async def test_an_account_that_cannot_moderate_still_sets_author_name_but_not_status(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog)
    rebecca = client(session, blog, blog.author)
    guest = await rebecca.create_comment(post, "Named by an author", parent=None, author=GUEST)
    assert guest.author_name == GUEST.name
    with pytest.raises(BlogError) as caught:
        await rebecca.create_comment(
            post, "Trying to approve", parent=None, author=GUEST, status="approved"
        )
    assert caught.value.code == "rest_comment_invalid_status"
    assert caught.value.status == 403
    assert not caught.value.transient
    assert user_reason(caught.value) == CANNOT_APPROVE


async def test_update_get_and_trash(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    rebecca = client(session, blog, blog.author)
    created = await rebecca.create_comment(post, "Before", parent=None, author=ME)

    updated = await rebecca.update_comment(created.id, "After the edit")
    assert "After the edit" in updated.content_html
    assert "After the edit" in (await rebecca.get_comment(created.id)).content_html

    await rebecca.delete_comment(created.id)
    assert blog.php(f"return wp_get_comment_status({int(created.id)});") == "trash"
    await rebecca.delete_comment(created.id)  # already trashed: done, not an error


async def test_comments_since_lists_only_newer_approved_comments(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    blog.create_comment(int(post.id), "Old Timer", "old@example.com", "Old", date=hour_ago)
    bot = client(session, blog, blog.bot)
    first = await bot.create_comment(post, "New one", parent=None, author=Author("Bot"))
    held = await bot.create_comment(post, "Held", parent=None, author=GUEST, status="hold")

    since = await bot.comments_since(post, hour_ago + timedelta(minutes=30))
    assert [c.id for c in since] == [first.id]
    assert held.status == "hold"
    everything = await bot.comments_since(post, hour_ago - timedelta(minutes=1))
    assert [c.author_name for c in everything] == ["Old Timer", "Gatejumper Bot"]


async def test_a_wrong_password_is_permanent_and_not_leaked(
    session: aiohttp.ClientSession, blog: WordPress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "abcd EFGH ijkl MNOP qrst UVWX"
    wrong = WordPressComments(session, blog.api_root, login="rebecca", app_password=secret)
    with pytest.raises(BlogError) as caught:
        await wrong.create_comment(new_post(blog), "Hi", parent=None, author=ME)
    error = caught.value
    assert error.status == 401
    # WordPress 6.1 treats the request as anonymous: "you must be logged in to comment"
    assert error.code == "rest_comment_login_required"
    assert not error.transient
    assert user_reason(error) == ACCOUNT_REFUSED
    for text in (str(error), repr(error), repr(wrong), str(vars(error))):
        assert secret not in text
        assert "YWJj" not in text  # nor its Basic-auth encoding
    assert secret not in repr(wrong) and "rebecca" in repr(wrong)
    assert secret not in caplog.text


async def test_check_account_tells_who_may_moderate(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    rebecca = await client(session, blog, blog.author).check_account()
    bot = await client(session, blog, blog.bot).check_account()
    assert (rebecca.user_id, rebecca.name, rebecca.can_moderate) == (
        blog.author.user_id,
        "Rebecca Healy",
        False,
    )
    assert (bot.name, bot.can_moderate) == ("Gatejumper Bot", True)
    wrong = WordPressComments(session, blog.api_root, login="rebecca", app_password="x" * 24)
    with pytest.raises(BlogError) as caught:
        await wrong.check_account()
    assert (caught.value.status, caught.value.transient) == (401, False)


async def test_a_blog_that_is_down_is_transient(session: aiohttp.ClientSession) -> None:
    down = WordPressComments(
        session, f"http://127.0.0.1:{free_port()}/wp-json/", login="a", app_password="secret-pw"
    )
    with pytest.raises(BlogError) as caught:
        await down.get_comment("1")
    assert (caught.value.status, caught.value.code) == (None, "connection")
    assert caught.value.transient
    assert user_reason(caught.value) is None  # the relay retries; no sentence yet
    assert "secret-pw" not in str(caught.value)


async def test_a_timeout_is_transient(session: aiohttp.ClientSession) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    slow = WordPressComments(
        session, f"http://127.0.0.1:{port}/wp-json/", login="a", app_password="pw", timeout=0.3
    )
    try:
        with pytest.raises(BlogError) as caught:
            await slow.get_comment("1")
    finally:
        server.close()
    assert (caught.value.code, caught.value.transient) == ("timeout", True)
    assert user_reason(caught.value) is None


async def test_server_errors_and_rate_limits_are_transient(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    answers = iter([(503, "<h1>Service Unavailable</h1>"), (429, '{"code":"too_many"}')])

    async def handler(request: web.Request) -> web.Response:
        status, body = next(answers)
        return web.Response(status=status, text=body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    flaky = WordPressComments(
        session, f"http://127.0.0.1:{port}/wp-json/", login="a", app_password="pw"
    )
    try:
        errors = []
        for _ in range(2):
            with pytest.raises(BlogError) as caught:
                await flaky.get_comment("1")
            errors.append(caught.value)
    finally:
        await runner.cleanup()
    assert [(e.status, e.code, e.transient) for e in errors] == [
        (503, None, True),
        (429, "too_many", True),
    ]
    assert errors[0].message == "Service Unavailable"
    assert [user_reason(e) for e in errors] == [None, None]
