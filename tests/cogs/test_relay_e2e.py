"""End to end: replies written in Discord become real comments on a real WordPress.

The real ``Gatejumper`` (discord.py against the Discord test server) mirrors a post and its
comments into a thread; people then write in that thread, and the tests read the blog's own
database for what the relay made of it.
"""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.blogs.errors import CLOSED, DUPLICATE, POST_TRASHED
from tests.cogs.gatejumper import eventually
from tests.cogs.relay_setup import (
    AUTHOR_PASSWORD_ENV,
    BridgedPost,
    add_bot_member,
    bridged_post,
    relay_blog,
)
from tests.discord_server import DiscordTestServer, Message
from tests.wp import WordPress

pytestmark = pytest.mark.wordpress


async def test_replies_become_comments_under_the_right_parent_and_are_not_echoed(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        dana, evan = bridged.mirrored
        top = discord_server.inject_message(bridged.thread, world.bob, "Hello from **Discord**")
        to_mirrored = discord_server.inject_message(
            bridged.thread, world.bob, "Replying to Evan", reply_to=evan
        )
        [first, second] = await bridged.new_blog_comments(2)
        to_relayed = discord_server.inject_message(
            bridged.thread, world.alice, "Replying to Bob's relayed reply", reply_to=top
        )
        [_, _, third] = await bridged.new_blog_comments(3)

        assert (first["parent"], first["author"], first["status"]) == (
            0,
            "Bob (via Discord)",
            "approved",
        )
        assert first["content"] == "Hello from <strong>Discord</strong>"
        assert second["parent"] == bridged.comment_ids[1]
        assert (third["parent"], third["author"]) == (first["id"], "Alice (via Discord)")

        for message in (top, to_mirrored, to_relayed):  # ✅ and the link reply, each
            await bridged.reactions(message, "✅")
            await bridged.replies(message, 1)
        [link] = bridged.replies_to(top)
        assert link.content.endswith(f"#comment-{first['id']}>") and link.pings.is_empty

        # polls go on: the three comments are on the blog, but never mirrored back
        before = len(bridged.thread_messages())
        await bridged.bot.core.poller.poll_blog(blog)
        await asyncio.sleep(2.5)
        assert len(bridged.thread_messages()) == before
        webhook_messages = [m.id for m in bridged.thread_messages() if m.webhook_id]
        assert webhook_messages == [dana.id, evan.id], "only the blog's own comments mirrored"
        assert dana.id in {m.id for m in bridged.thread_messages()}


async def test_linked_author_posts_as_their_account_guest_is_held_and_others_are_refused(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(AUTHOR_PASSWORD_ENV, wp.author.app_password)
    world = discord_server.world
    readers = discord_server.add_role("Readers")
    discord_server.set_roles(world.bob, [readers])
    carol = discord_server.add_member("carol").user
    blog = relay_blog(
        wp,
        world.announcements.id,
        guests="moderated",
        authors={world.alice.id: "rebecca"},
        allowed_roles=[readers.id],
    )
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        by_alice = discord_server.inject_message(bridged.thread, world.alice, "Thanks, all of you")
        by_bob = discord_server.inject_message(bridged.thread, world.bob, "A guest's two cents")
        by_carol = [
            discord_server.inject_message(bridged.thread, carol, text)
            for text in ("Can I join in?", "Hello? Anyone?")
        ]
        [as_author, as_guest] = await bridged.new_blog_comments(2)

        assert (as_author["user_id"], as_author["author"], as_author["status"]) == (
            wp.author.user_id,
            wp.author.display_name,
            "approved",
        )
        assert as_author["content"] == "Thanks, all of you"
        assert (as_guest["author"], as_guest["user_id"], as_guest["content"]) == (
            "Bob (via Discord)",
            0,  # a guest, not the bot's account
            "A guest's two cents",
        )
        assert (await bridged.comment(as_guest["id"]))["status"] == "hold"
        await bridged.reactions(by_alice, "✅")
        await bridged.reactions(by_bob, "⏳")
        assert not bridged.replies_to(by_bob)
        for message in by_carol:
            await bridged.reactions(message, "❌")
        [refusal] = bridged.replies_to(by_carol[0])
        assert refusal.content.startswith("❌ Only members with an allowed role")
        assert refusal.pings.is_empty

        # a moderator approves the guest's comment on the blog: the next poll turns ⏳ into ✅
        await asyncio.to_thread(wp.set_comment_status, as_guest["id"], "approve")
        await bridged.reactions(by_bob, "✅")
        [link] = await bridged.replies(by_bob)
        assert _is_link_reply(link, as_guest["id"])

        # a comment written on the blog after the approval is mirrored; the relayed one is not
        later = await asyncio.to_thread(
            wp.create_comment, bridged.post_id, "Fay", "fay@example.org", "<p>Later on.</p>"
        )
        await eventually(lambda: _mirrored(bridged, "Later on."), what=f"comment {later} mirrored")
        assert not await _mirrored(bridged, "two cents")
        assert not await _mirrored(bridged, "all of you")
        assert [c["id"] for c in await bridged.blog_comments()] == [
            *bridged.comment_ids,
            as_author["id"],
            as_guest["id"],
            later,
        ]
        assert not bridged.replies_to(by_carol[1])  # told once per person per hour
        for message in by_carol:
            assert await bridged.relay_rows(message) == []


async def test_guests_off_refuses_members_but_not_linked_authors(
    wp: WordPress,
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(AUTHOR_PASSWORD_ENV, wp.author.app_password)
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="off", authors={world.alice.id: "rebecca"})
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        by_bob = discord_server.inject_message(bridged.thread, world.bob, "May I?")
        by_alice = discord_server.inject_message(bridged.thread, world.alice, "Author here")

        await bridged.reactions(by_bob, "❌")
        [refusal] = await bridged.replies(by_bob)
        assert refusal.content.startswith(
            "❌ This blog only takes replies from Discord members linked to a blog account"
        )
        await bridged.reactions(by_alice, "✅")
        [comment] = await bridged.new_blog_comments(1)
        assert (comment["user_id"], comment["content"]) == (wp.author.user_id, "Author here")
        assert len(await bridged.blog_comments()) == 3
        assert await bridged.relay_rows(by_bob) == []


async def test_permanent_failures_get_a_cross_and_one_sentence(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        said = "I will say this only once."
        first = discord_server.inject_message(bridged.thread, world.bob, said)
        await bridged.reactions(first, "✅")
        again = discord_server.inject_message(bridged.thread, world.bob, said)
        await bridged.reactions(again, "❌")
        assert [m.content for m in await bridged.replies(again)] == [f"❌ {DUPLICATE}"]

        await asyncio.to_thread(wp.close_comments, bridged.post_id)
        closed = discord_server.inject_message(bridged.thread, world.bob, "Still open?")
        await bridged.reactions(closed, "❌")
        assert [m.content for m in await bridged.replies(closed)] == [f"❌ {CLOSED}"]

        await asyncio.to_thread(wp.trash_post, bridged.post_id)
        trashed = discord_server.inject_message(bridged.thread, world.bob, "Where did it go?")
        await bridged.reactions(trashed, "❌")
        assert [m.content for m in await bridged.replies(trashed)] == [f"❌ {POST_TRASHED}"]

        # WordPress trashed the post's comments with it: read them all, whatever their status
        comments = await asyncio.to_thread(wp.comments_of, bridged.post_id)
        assert [c["content"] for c in comments[2:]] == [said]
        for message in (again, closed, trashed):
            assert await bridged.relay_rows(message) == [("create", "failed")]


async def test_edits_and_deletions_follow_the_discord_message(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        message = discord_server.inject_message(bridged.thread, world.bob, "First thoughts")
        [comment] = await bridged.new_blog_comments(1)
        await bridged.reactions(message, "✅")

        discord_server.inject_edit(message, "First thoughts")  # the same text: an embed came
        discord_server.inject_edit(message, "Second, *better* thoughts")

        async def edited() -> bool:
            now = await bridged.comment(comment["id"])
            return bool(now["content"] == "Second, <em>better</em> thoughts")

        await eventually(edited, what="the edit on the blog")
        edit_rows = [("create", "published"), ("edit", "done")]

        async def edit_recorded() -> bool:  # recorded right after the blog answered
            return await bridged.relay_rows(message) == edit_rows

        await eventually(edit_recorded, what="the edit recorded as done")

        discord_server.inject_delete(message)

        async def trashed() -> bool:
            return bool((await bridged.comment(comment["id"]))["status"] == "trash")

        await eventually(trashed, what="the comment in the trash")
        [link] = await bridged.replies(message, 1)
        assert _is_link_reply(link, comment["id"])
        delete_rows = [("create", "deleted"), ("edit", "done"), ("delete", "done")]

        async def delete_recorded() -> bool:
            return await bridged.relay_rows(message) == delete_rows

        await eventually(delete_recorded, what="the deletion recorded as done")


async def test_an_edit_after_the_window_keeps_the_blog_text_and_says_so(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    window = timedelta(seconds=1)
    blog = relay_blog(wp, world.announcements.id, guests="approved", edit_window=window)
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        message = discord_server.inject_message(bridged.thread, world.bob, "Set in stone")
        [comment] = await bridged.new_blog_comments(1)
        await bridged.reactions(message, "✅")
        late = message.created_at + window - datetime.now(UTC)
        await asyncio.sleep(max(late.total_seconds(), 0) + 0.1)

        discord_server.inject_edit(message, "Too late to change")
        [_, notice] = await bridged.replies(message, 2)
        assert notice.content == (
            "❌ Changes made more than 1 second after writing are not carried to the blog; "
            "the blog keeps the earlier version."
        )
        assert bridged.shown(message) == {"✅"}  # the comment itself is still on the blog
        discord_server.inject_delete(message)  # too late as well: the comment stays
        after = discord_server.inject_message(bridged.thread, world.bob, "Moving on")
        await bridged.reactions(after, "✅")

        kept = await bridged.comment(comment["id"])
        assert (kept["content"], kept["status"]) == ("Set in stone", "approved")
        assert await bridged.relay_rows(message) == [("create", "published")]


async def test_mentions_emoji_code_and_a_long_text_arrive_readable(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved", max_length=4000)
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        head = (
            f"Thanks <@{world.alice.id}>, cc <@&{world.moderator_role.id}>, "
            f"see <#{world.general.id}> <:blobwave:123456789012345678>\n"
            "```\n<script>alert('hi')</script> **not bold**\n```\n"
        )
        body = " ".join(f"w{n}" for n in range(2000))[: 4000 - len(head)].rstrip()
        text = head + body + "z" * (4000 - len(head + body))
        message = discord_server.inject_message(bridged.thread, world.bob, text)
        too_long = discord_server.inject_message(bridged.thread, world.bob, text + "!")

        [comment] = await bridged.new_blog_comments(1)
        await bridged.reactions(message, "✅")
        await bridged.reactions(too_long, "❌")
        [refusal] = await bridged.replies(too_long)
        assert refusal.content.startswith("❌ This reply is 4,001 characters long")

        html_body = comment["content"]
        assert html_body.startswith("Thanks @Alice, cc @Moderator, see #general :blobwave:\n")
        assert "<script>" not in html_body and "<strong>" not in html_body
        code = re.search(r"<code>(.*?)</code>", html_body, re.DOTALL)
        assert code is not None
        assert html.unescape(code.group(1)).strip() == "<script>alert('hi')</script> **not bold**"
        visible = html.unescape(re.sub(r"<[^>]+>", " ", html_body)).split()
        expected = "Thanks @Alice, cc @Moderator, see #general :blobwave:".split()
        expected += ["<script>alert('hi')</script>", "**not", "bold**"]
        assert visible == expected + text.removeprefix(head).split()
        assert len(await bridged.blog_comments()) == 3


async def test_bots_webhooks_and_other_channels_are_never_relayed(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved")
    robot = add_bot_member(discord_server, "Otherbot")
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        from_bot = discord_server.inject_message(bridged.thread, robot, "Beep, a bot speaks")
        elsewhere = discord_server.inject_message(world.general, world.bob, "Not in a thread")
        # the messages above were handled before this one (the relay takes them in order)
        human = discord_server.inject_message(bridged.thread, world.bob, "A human speaks")

        await bridged.reactions(human, "✅")
        [comment] = await bridged.new_blog_comments(1)
        assert comment["content"] == "A human speaks"
        assert len(await bridged.blog_comments()) == 3
        assert all(m.webhook_id for m in bridged.mirrored)
        for ignored in (from_bot, elsewhere, *bridged.mirrored):
            assert await bridged.relay_rows(ignored) == []
            assert not bridged.shown(ignored)
            assert not bridged.replies_to(ignored)
        assert [m.id for m in discord_server.messages(world.general)] == [elsewhere.id]


async def test_a_member_writing_too_fast_is_refused_past_the_limit(
    wp: WordPress, discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    world = discord_server.world
    blog = relay_blog(wp, world.announcements.id, guests="approved", per_user_per_minute=2)
    async with bridged_post(wp, discord_server, sqlite_url, blog) as bridged:
        sent = [
            discord_server.inject_message(bridged.thread, world.bob, f"Quick reply {n}")
            for n in (1, 2, 3)
        ]
        other = discord_server.inject_message(bridged.thread, world.alice, "Someone else")

        await bridged.reactions(sent[2], "❌")
        [refusal] = await bridged.replies(sent[2])
        assert refusal.content == (
            "❌ You are replying faster than the blog takes (2 per minute); "
            "this message was not posted there. Wait a moment and write again."
        )
        comments = await bridged.new_blog_comments(3)
        assert [c["content"] for c in comments] == [
            "Quick reply 1",
            "Quick reply 2",
            "Someone else",
        ]
        for message in (*sent[:2], other):
            await bridged.reactions(message, "✅")
        assert len(await bridged.blog_comments()) == 5
        assert await bridged.relay_rows(sent[2]) == []


async def _mirrored(bridged: BridgedPost, text: str) -> bool:
    """Whether a webhook message in the thread (a mirrored blog comment) contains ``text``."""
    return any(m.webhook_id and text in m.content for m in bridged.thread_messages())


def _is_link_reply(reply: Message, comment_id: int) -> bool:
    return reply.content.startswith("✅ On the blog: <http") and reply.content.endswith(
        f"#comment-{comment_id}>"
    )
