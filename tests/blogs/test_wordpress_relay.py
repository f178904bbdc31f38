"""What the relay relies on, pinned against a real WordPress 6.1.

Guests through the bot's editor account with an explicit status, a linked author's
own comments under each moderation setting, finding a comment after a duplicate
409, editing and trashing, and the blog going down and coming back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.blogs import Author, BlogError, user_reason
from tests.blogs.conftest import NO_FLOOD, NO_FLOOD_PLUGIN
from tests.blogs.wordpress_helpers import BOB, ME, client, new_post
from tests.wordpress_fixtures import MakeWordPress
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress


def a_minute_ago() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


async def test_the_bot_posts_a_guest_held_or_approved_as_asked(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="admin")
    bot = client(session, blog, blog.bot)
    held = await bot.create_comment(post, "Held, please", parent=None, author=BOB, status="hold")
    blog.set_moderation(True)
    try:
        approved = await bot.create_comment(
            post, "Approved at once", parent=held.id, author=BOB, status="approved"
        )
        default = await bot.create_comment(post, "As the blog says", parent=None, author=BOB)
    finally:
        blog.set_moderation(False)

    assert (held.status, approved.status, default.status) == ("hold", "approved", "hold")
    for comment in (held, approved, default):
        assert (comment.author_name, comment.author_id) == ("Bob (via Discord)", None)
        stored = blog.comment(int(comment.id))
        assert (stored["author"], stored["user_id"]) == ("Bob (via Discord)", 0)
        assert stored["status"] == comment.status
    assert blog.comment(int(approved.id))["parent"] == int(held.id)
    assert held.content_raw == "Held, please"  # the editor reads context=edit


async def test_a_linked_author_on_someone_elses_post_under_each_setting(
    session: aiohttp.ClientSession, make_wordpress: MakeWordPress
) -> None:
    """Rebecca (author) on the admin's post: WordPress moderates her like a reader.

    Fresh blog, so that she has no approved comment yet ("previously approved").
    """
    blog = make_wordpress(seed=False)
    blog.add_mu_plugin(NO_FLOOD_PLUGIN, NO_FLOOD)
    post = new_post(blog, author="admin")
    rebecca = client(session, blog, blog.author)

    async def comment_with(moderation: int, previously_approved: int, text: str) -> str:
        blog.set_moderation(bool(moderation), previously_approved=bool(previously_approved))
        created = await rebecca.create_comment(post, text, parent=None, author=ME)
        assert (created.author_id, created.author_name) == (str(blog.author.user_id), ME.name)
        stored = blog.comment(int(created.id))
        assert (stored["user_id"], stored["status"]) == (blog.author.user_id, created.status)
        return created.status

    statuses = [
        await comment_with(0, 1, "WordPress's defaults, nothing approved yet"),
        await comment_with(1, 0, "Manual approval on"),
        await comment_with(0, 0, "No moderation at all"),
        await comment_with(0, 1, "WordPress's defaults, one approved before"),
    ]
    assert statuses == ["hold", "hold", "approved", "approved"]


async def test_a_linked_author_on_her_own_post_is_approved_even_when_moderated(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="rebecca")
    blog.set_moderation(True)
    try:
        created = await client(session, blog, blog.author).create_comment(
            post, "My own post", parent=None, author=ME
        )
    finally:
        blog.set_moderation(False)
    assert (created.status, created.author_id) == ("approved", str(blog.author.user_id))
    assert created.content_raw is None  # an author reads context=view: no content.raw


async def test_after_a_duplicate_409_the_first_comment_is_found_even_held(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """The crash case: a POST that created a comment whose answer was lost, then retried."""
    post = new_post(blog, author="admin")
    bot = client(session, blog, blog.bot)
    since = a_minute_ago()
    top = await bot.create_comment(post, "The question", parent=None, author=BOB)
    text = "<em>My</em> answer\n\nin two paragraphs"
    first = await bot.create_comment(post, text, parent=top.id, author=BOB, status="hold")

    with pytest.raises(BlogError) as caught:
        await bot.create_comment(post, text, parent=top.id, author=BOB, status="hold")
    assert (caught.value.status, caught.value.code) == (409, "comment_duplicate")

    published = await bot.comments_since(post, since)
    assert [c.id for c in published] == [top.id]
    everything = await bot.comments_since(post, since, include_held=True)
    found = [
        c
        for c in everything
        if c.content_raw == text and c.parent_id == top.id and c.author_name == BOB.name
    ]
    assert [(c.id, c.status) for c in found] == [(first.id, "hold")]
    assert len(blog.comments_of(int(post.id))) == 2  # no second copy

    other_parent = await bot.create_comment(post, text, parent=None, author=BOB)
    assert other_parent.id != first.id  # same words elsewhere in the thread are no duplicate
    await bot.delete_comment(first.id)
    again = await bot.create_comment(post, text, parent=top.id, author=BOB)
    assert again.id != first.id  # nor are the words of a trashed comment


async def test_a_linked_author_finds_her_own_held_comment_after_a_409(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="admin")
    rebecca = client(session, blog, blog.author)
    since = a_minute_ago()
    blog.set_moderation(True)
    try:
        first = await rebecca.create_comment(post, "Held words", parent=None, author=ME)
        with pytest.raises(BlogError) as caught:
            await rebecca.create_comment(post, "Held words", parent=None, author=ME)
    finally:
        blog.set_moderation(False)
    assert (first.status, caught.value.code) == ("hold", "comment_duplicate")
    mine = await rebecca.comments_since(post, since, include_held=True)
    assert [(c.id, c.status, c.author_id) for c in mine] == [
        (first.id, "hold", str(blog.author.user_id))
    ]
    assert "Held words" in mine[0].content_html
    assert await rebecca.comments_since(post, since) == []


async def test_an_authors_markup_is_filtered_so_a_retry_is_no_duplicate(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """Accounts without ``unfiltered_html`` (authors) lose tags outside kses's comment list.

    The duplicate check compares what is sent with what was stored, so after such a
    change a retried POST creates a second comment: send only allowed tags.
    """
    post = new_post(blog, author="rebecca")
    rebecca = client(session, blog, blog.author)
    first = await rebecca.create_comment(post, "<p>Kept <em>this</em></p>", parent=None, author=ME)
    stored = blog.comment(int(first.id))["content"]
    assert stored == "Kept <em>this</em>"
    second = await rebecca.create_comment(post, "<p>Kept <em>this</em></p>", parent=None, author=ME)
    assert second.id != first.id
    with pytest.raises(BlogError) as caught:
        await rebecca.create_comment(post, stored, parent=None, author=ME)
    assert caught.value.code == "comment_duplicate"


async def test_the_bot_edits_and_trashes_a_guest_comment(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="admin")
    bot = client(session, blog, blog.bot)
    created = await bot.create_comment(post, "Frist", parent=None, author=BOB)
    updated = await bot.update_comment(created.id, "First, edited")
    assert (updated.content_raw, updated.author_name, updated.status) == (
        "First, edited",
        "Bob (via Discord)",
        "approved",
    )
    assert blog.comment(int(created.id))["content"] == "First, edited"
    await bot.delete_comment(created.id)
    assert blog.comment(int(created.id))["status"] == "trash"
    assert (await bot.get_comment(created.id)).status == "trash"


async def test_a_linked_author_edits_and_trashes_her_comment_on_her_post(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="rebecca")
    rebecca = client(session, blog, blog.author)
    created = await rebecca.create_comment(post, "Typo here", parent=None, author=ME)
    updated = await rebecca.update_comment(created.id, "No typo")
    assert (updated.content_raw, updated.author_id) == ("No typo", str(blog.author.user_id))
    await rebecca.delete_comment(created.id)
    stored = blog.comment(int(created.id))
    assert (stored["status"], stored["user_id"]) == ("trash", blog.author.user_id)


async def test_on_someone_elses_post_only_the_bot_may_edit_an_authors_comment(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    """``edit_comment`` means editing the post: Rebecca cannot touch her own comment here."""
    post = new_post(blog, author="admin")
    rebecca = client(session, blog, blog.author)
    created = await rebecca.create_comment(post, "Mine", parent=None, author=ME)
    with pytest.raises(BlogError) as edit:
        await rebecca.update_comment(created.id, "Mine, edited")
    with pytest.raises(BlogError) as trash:
        await rebecca.delete_comment(created.id)
    assert (edit.value.status, edit.value.code) == (403, "rest_cannot_edit")
    assert (trash.value.status, trash.value.code) == (403, "rest_cannot_delete")

    bot = client(session, blog, blog.bot)
    await bot.update_comment(created.id, "Mine, edited by the bot")
    stored = blog.comment(int(created.id))
    assert (stored["content"], stored["user_id"]) == (
        "Mine, edited by the bot",
        blog.author.user_id,
    )
    await bot.delete_comment(created.id)
    assert blog.comment(int(created.id))["status"] == "trash"


async def test_a_blog_down_then_up_again(session: aiohttp.ClientSession, blog: WordPress) -> None:
    post = new_post(blog)
    bot = client(session, blog, blog.bot)
    before = await bot.create_comment(post, "Before the outage", parent=None, author=BOB)
    blog.stop()
    try:
        assert not blog.running
        with pytest.raises(BlogError) as caught:
            await bot.create_comment(post, "During the outage", parent=None, author=BOB)
        with pytest.raises(BlogError) as reading:
            await bot.comments_since(post, a_minute_ago(), include_held=True)
    finally:
        blog.start()
    for error in (caught.value, reading.value):
        assert (error.status, error.code, error.transient) == (None, "connection", True)
        assert user_reason(error) is None
    after = await bot.create_comment(post, "During the outage", parent=None, author=BOB)
    assert [c["id"] for c in blog.comments_of(int(post.id))] == [int(before.id), int(after.id)]
    assert (await bot.get_comment(before.id)).content_raw == "Before the outage"


async def test_author_id_and_content_raw_from_each_read(
    session: aiohttp.ClientSession, blog: WordPress
) -> None:
    post = new_post(blog, author="admin")
    bot = client(session, blog, blog.bot)
    own = await bot.create_comment(post, "  The bot's own  ", parent=None, author=Author("x"))
    assert (own.author_id, own.content_raw) == (str(blog.bot.user_id), "The bot's own")  # trimmed
    got = await bot.get_comment(own.id)
    assert (got.author_id, got.content_raw) == (own.author_id, own.content_raw)
    rebecca_view = await client(session, blog, blog.author).get_comment(own.id)
    assert (rebecca_view.author_id, rebecca_view.content_raw) == (own.author_id, None)
