"""Every WordPress 6.1 refusal the relay turns into a sentence, provoked for real.

The codes were read in WP_REST_Comments_Controller and wp-includes/comment.php; each
test makes the real WordPress answer one and checks the sentence ``user_reason`` gives.
"""

from __future__ import annotations

from collections.abc import Awaitable

import aiohttp
import pytest

from bot.blogs import (
    Author,
    BlogComment,
    BlogError,
    PostRef,
    WordPressComments,
    rejected_reason,
    user_reason,
)
from bot.blogs import errors as sentences
from tests.blogs.conftest import NO_FLOOD, NO_FLOOD_PLUGIN
from tests.blogs.wordpress_helpers import BOB, ME, client, new_post
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress


async def refusal(call: Awaitable[BlogComment]) -> BlogError:
    """The BlogError a call ends with; it must end with one, and a permanent one."""
    with pytest.raises(BlogError) as caught:
        await call
    assert not caught.value.transient, caught.value
    return caught.value


def answer(error: BlogError) -> tuple[int | None, str | None, str | None]:
    return (error.status, error.code, user_reason(error))


async def test_comments_closed_on_the_post(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    blog.close_comments(int(post.id))
    error = await refusal(
        client(session, blog, blog.bot).create_comment(post, "Too late", parent=None, author=BOB)
    )
    assert answer(error) == (403, "rest_comment_closed", sentences.CLOSED)
    assert "closed" in str(error)


async def test_a_trashed_post(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    blog.trash_post(int(post.id))
    error = await refusal(
        client(session, blog, blog.bot).create_comment(post, "Anyone?", parent=None, author=BOB)
    )
    assert answer(error) == (403, "rest_comment_trash_post", sentences.POST_TRASHED)


async def test_a_draft_post(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = PostRef(str(blog.create_post("Not yet", "<p>Draft.</p>", status="draft")))
    error = await refusal(
        client(session, blog, blog.bot).create_comment(post, "Early", parent=None, author=BOB)
    )
    assert answer(error) == (403, "rest_comment_draft_post", sentences.POST_UNPUBLISHED)


async def test_a_private_post_the_account_cannot_read(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = PostRef(
        str(blog.create_post("Admin only", "<p>.</p>", author="admin", status="private"))
    )
    error = await refusal(
        client(session, blog, blog.author).create_comment(post, "Hello", parent=None, author=ME)
    )
    assert answer(error) == (403, "rest_cannot_read_post", sentences.POST_UNPUBLISHED)


async def test_a_post_that_does_not_exist(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    blog.php(f"return (bool) wp_delete_post({post.id}, true);")  # deleted for good
    error = await refusal(
        client(session, blog, blog.bot).create_comment(post, "Hello?", parent=None, author=BOB)
    )
    assert answer(error) == (403, "rest_comment_invalid_post_id", sentences.POST_MISSING)


async def test_the_same_comment_twice(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    bot = client(session, blog, blog.bot)
    await bot.create_comment(post, "Said once", parent=None, author=BOB)
    error = await refusal(bot.create_comment(post, "Said once", parent=None, author=BOB))
    assert answer(error) == (409, "comment_duplicate", sentences.DUPLICATE)
    assert "already said that" in error.message


@pytest.mark.parametrize("content", ["", "   \n "])
async def test_empty_content(session: aiohttp.ClientSession, blog: WordPress, content: str) -> None:
    error = await refusal(
        client(session, blog, blog.bot).create_comment(
            new_post(blog), content, parent=None, author=BOB
        )
    )
    assert answer(error) == (400, "rest_comment_content_invalid", sentences.EMPTY)


async def test_emptying_a_comment_by_an_edit(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    bot = client(session, blog, blog.bot)
    created = await bot.create_comment(new_post(blog), "Soon empty", parent=None, author=BOB)
    error = await refusal(bot.update_comment(created.id, " "))
    assert answer(error) == (400, "rest_comment_content_invalid", sentences.EMPTY)
    assert blog.comment(int(created.id))["content"] == "Soon empty"


async def test_content_longer_than_the_column(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    text = "é" * 33_000  # 66,000 bytes: the limit is 65,525 bytes (TEXT minus 10)
    error = await refusal(
        client(session, blog, blog.bot).create_comment(
            new_post(blog), text, parent=None, author=BOB
        )
    )
    assert answer(error) == (400, "comment_content_column_length", sentences.TOO_LONG)


async def test_a_guest_name_longer_than_the_column(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    long_name = Author("B" * 246 + " (via Discord)", guest=True)  # the column holds 245
    error = await refusal(
        client(session, blog, blog.bot).create_comment(
            new_post(blog), "Named at length", parent=None, author=long_name
        )
    )
    assert answer(error) == (400, "comment_author_column_length", sentences.AUTHOR_TOO_LONG)


async def test_a_guest_without_a_name(session: aiohttp.ClientSession, blog: WordPress) -> None:
    error = await refusal(
        client(session, blog, blog.bot).create_comment(
            new_post(blog), "Who am I?", parent=None, author=Author("", guest=True)
        )
    )
    assert answer(error) == (400, "rest_comment_author_data_required", sentences.NAME_REQUIRED)


async def test_an_author_commenting_twice_within_15_seconds(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """Authors are throttled (moderators are not): WordPress's flood check, as a 400."""
    post = new_post(blog, author="admin")
    rebecca = client(session, blog, blog.author)
    plugin = blog.content_dir / "mu-plugins" / f"{NO_FLOOD_PLUGIN}.php"
    plugin.unlink()
    try:
        await rebecca.create_comment(post, "First thought", parent=None, author=ME)
        error = await refusal(
            rebecca.create_comment(post, "Second thought", parent=None, author=ME)
        )
        bot = client(session, blog, blog.bot)
        await bot.create_comment(post, "Bot one", parent=None, author=BOB)
        await bot.create_comment(post, "Bot two", parent=None, author=BOB)  # not throttled
    finally:
        blog.add_mu_plugin(NO_FLOOD_PLUGIN, NO_FLOOD)
    assert answer(error) == (400, "comment_flood", sentences.TOO_FAST)
    assert error.rate_limited  # permanent by status, though the same text passes 15 s later
    assert [c["content"] for c in blog.comments_of(int(post.id))] == [
        "First thought",
        "Bot one",
        "Bot two",
    ]


async def test_an_author_asking_to_approve(session: aiohttp.ClientSession, blog: WordPress) -> None:
    error = await refusal(
        client(session, blog, blog.author).create_comment(
            new_post(blog), "Approve me", parent=None, author=BOB, status="approved"
        )
    )
    assert answer(error) == (403, "rest_comment_invalid_status", sentences.CANNOT_APPROVE)
    assert "approve" in sentences.CANNOT_APPROVE


async def test_a_refused_login(session: aiohttp.ClientSession, blog: WordPress) -> None:
    wrong = WordPressComments(session, blog.api_root, login="rebecca", app_password="x" * 24)
    error = await refusal(wrong.create_comment(new_post(blog), "Hi", parent=None, author=ME))
    assert answer(error) == (401, "rest_comment_login_required", sentences.ACCOUNT_REFUSED)
    assert "operator" in sentences.ACCOUNT_REFUSED


async def test_editing_a_comment_the_account_may_not_edit(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="admin")
    guest = await client(session, blog, blog.bot).create_comment(
        post, "The bot's guest", parent=None, author=BOB
    )
    rebecca = client(session, blog, blog.author)
    edit = await refusal(rebecca.update_comment(guest.id, "Rewritten by Rebecca"))
    assert answer(edit) == (403, "rest_cannot_edit", sentences.ACCOUNT_REFUSED)
    with pytest.raises(BlogError) as trash:
        await rebecca.delete_comment(guest.id)
    assert answer(trash.value) == (403, "rest_cannot_delete", sentences.ACCOUNT_REFUSED)
    assert blog.comment(int(guest.id))["status"] == "approved"


async def test_editing_a_comment_deleted_on_the_blog(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    bot = client(session, blog, blog.bot)
    created = await bot.create_comment(new_post(blog), "Short-lived", parent=None, author=BOB)
    blog.delete_comment(int(created.id))  # for good, not to the trash
    error = await refusal(bot.update_comment(created.id, "Edited"))
    assert answer(error) == (404, "rest_comment_invalid_id", sentences.COMMENT_GONE)
    await bot.delete_comment(created.id)  # deleting it again: done, not an error


async def test_disallowed_words_trash_a_guest_comment_without_an_error(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """The "Disallowed Comment Keys" give no error: the comment is created in the trash.

    An explicit ``status`` overrides that verdict (WordPress sets it after inserting).
    """
    post = new_post(blog)
    bot = client(session, blog, blog.bot)
    blog.set_option("disallowed_keys", "casino")
    try:
        trashed = await bot.create_comment(post, "Best casino here", parent=None, author=BOB)
        held = await bot.create_comment(
            post, "Another casino", parent=None, author=BOB, status="hold"
        )
        own = await bot.create_comment(post, "The casino, said the bot", parent=None, author=ME)
    finally:
        blog.set_option("disallowed_keys", "")
    assert (trashed.status, rejected_reason(trashed)) == ("trash", sentences.REJECTED_AS_SPAM)
    assert blog.comment(int(trashed.id))["status"] == "trash"
    assert (held.status, rejected_reason(held)) == ("hold", None)
    assert (own.status, rejected_reason(own)) == ("approved", None)  # a moderator's own


async def test_a_parent_that_does_not_exist_is_accepted(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """WordPress 6.1 does not check ``parent``: the caller must know the parent exists."""
    post = new_post(blog)
    orphan = await client(session, blog, blog.bot).create_comment(
        post, "Answering nobody", parent="999999", author=BOB
    )
    assert orphan.parent_id == "999999"
    assert blog.comment(int(orphan.id))["parent"] == 999999
