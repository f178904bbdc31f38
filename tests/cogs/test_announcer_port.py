"""``DiscordPyPort`` method by method: the real discord.py against the wire-level test server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from discord.ext import commands

from bot.announce.port import (
    MessageGone,
    PermanentDiscordError,
    ReplyTarget,
    Sent,
    TransientDiscordError,
)
from bot.render.messages import EmbedDraft, MessageDraft
from bot.storage import Storage
from cogs.announcer._port import REPLY_PREFIX, DiscordPyPort
from tests.discord_server import DiscordTestServer, Permission

CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"
CREATE_WEBHOOK = "POST /channels/{channel_id}/webhooks"
LIST_WEBHOOKS = "GET /channels/{channel_id}/webhooks"
START_THREAD = "POST /channels/{channel_id}/messages/{message_id}/threads"
FORUM_POST = "POST /channels/{channel_id}/threads"
EDIT_CHANNEL = "PATCH /channels/{channel_id}"
LINK = "https://blog.example/2009/10/hello/#comment-{}"


@pytest.fixture
async def storage(sqlite_url: str) -> AsyncIterator[Storage]:
    async with await Storage.open(sqlite_url) as opened:
        yield opened


@pytest.fixture
async def ports(
    discord_bot: commands.Bot, storage: Storage
) -> AsyncIterator[Callable[..., DiscordPyPort]]:
    """Makes ports (a second one stands for the bot after a restart); closes them at the end."""
    made: list[DiscordPyPort] = []

    def make(*, stored: bool = True) -> DiscordPyPort:
        made.append(DiscordPyPort(discord_bot, storage if stored else None))
        return made[-1]

    yield make
    for port in made:
        await port.close()


@pytest.fixture
def port(ports: Callable[..., DiscordPyPort]) -> DiscordPyPort:
    return ports()


def comment(number: int, text: str = "Nice post.", **fields: object) -> MessageDraft:
    values: dict[str, object] = {
        "username": "Carol",
        "avatar_url": "https://blog.example/avatars/carol.png",
        "content": f"{text}\n🔗 <{LINK.format(number)}>",
        "kind": "comment",
        "key": f"comment-{number}",
        "post_key": "post-1",
    }
    values.update(fields)
    return MessageDraft(**values)  # type: ignore[arg-type]


def post(title: str = "Hello", **fields: object) -> MessageDraft:
    embed = EmbedDraft(
        title=title,
        url="https://blog.example/2009/10/hello/",
        description="The first words…",
        author_name="Rebecca",
        fields=(("Categories", "Blogging", True),),
        footer="blog.example",
    )
    values: dict[str, object] = {"embed": embed, "kind": "post", "key": "post-1", "thread": title}
    values.update(fields)
    return MessageDraft(**values)  # type: ignore[arg-type]


async def announcement_thread(
    port: DiscordPyPort, server: DiscordTestServer, nonce: str = "gj-post-1"
) -> tuple[Sent, int]:
    channel = server.world.announcements.id
    sent = await port.send_message(channel, post(), nonce=nonce)
    thread = await port.start_thread(channel, sent.message_id, "Hello", 1440)
    return sent, thread


# ---- channels, bot messages ------------------------------------------------------------


async def test_channel_kinds(port: DiscordPyPort, discord_server: DiscordTestServer) -> None:
    world = discord_server.world
    _, thread = await announcement_thread(port, discord_server)
    assert await port.channel_kind(world.announcements.id) == "text"
    assert await port.channel_kind(world.forum.id) == "forum"
    assert await port.channel_kind(thread) == "thread"
    assert await port.channel_kind(world.category.id) == "other"
    with pytest.raises(PermanentDiscordError) as unknown:
        await port.channel_kind(4242424242424242)
    assert (unknown.value.channel_id, unknown.value.code) == (4242424242424242, 10003)


async def test_send_message_is_deduplicated_by_nonce_and_pings_only_the_role(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    readers = discord_server.add_role("Blog readers", mentionable=True)
    draft = post(
        content=f"<@&{readers.id}> {world.moderator_role.mention} {world.alice.mention} @everyone",
        mention_role=readers.id,
    )

    first = await port.send_message(world.announcements.id, draft, nonce="gj-post-1")
    again = await port.send_message(world.announcements.id, draft, nonce="gj-post-1")

    assert first == again == Sent(world.announcements.id, first.message_id, via_webhook=False)
    [stored] = discord_server.messages(world.announcements)
    assert discord_server.nonce_hits == [first.message_id]
    assert (stored.pings.roles, stored.pings.users, stored.pings.everyone) == (
        {readers.id},
        frozenset(),
        False,
    )
    [embed] = stored.embeds
    assert (embed["title"], embed["url"], embed["author"]["name"]) == (
        "Hello",
        "https://blog.example/2009/10/hello/",
        "Rebecca",
    )
    assert embed["fields"] == [{"name": "Categories", "value": "Blogging", "inline": True}]
    bodies = [r.body for r in discord_server.requests_to(CREATE_MESSAGE)]
    assert all(b["nonce"] == "gj-post-1" and b["enforce_nonce"] is True for b in bodies)


async def test_send_message_replies_without_pinging(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    human = discord_server.inject_message(world.general, world.alice, "parent")
    target = ReplyTarget(world.general.id, human.id, "Alice")
    sent = await port.send_message(
        world.general.id, comment(1, kind="pingback"), nonce="gj-1", reply_to=target
    )
    stored = discord_server.message(sent.message_id)
    assert stored.reference_id == human.id
    assert stored.pings.is_empty


async def test_lost_response_is_retried_by_discord_py_without_a_duplicate(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    discord_server.faults.fail_next(CREATE_MESSAGE, status=500, after_commit=True)
    sent = await port.send_message(world.announcements.id, post(), nonce="gj-post-1")
    assert [m.id for m in discord_server.messages(world.announcements)] == [sent.message_id]


async def test_503_and_a_hanging_discord_are_transient(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    discord_server.faults.fail_next(CREATE_MESSAGE, status=503)
    with pytest.raises(TransientDiscordError) as unavailable:
        await port.send_message(world.announcements.id, post(), nonce="gj-post-1")
    assert unavailable.value.status == 503

    # A GET: the test server counts a client hanging up on a request body as its own bug.
    _, thread = await announcement_thread(port, discord_server, nonce="gj-post-0")
    port.call_timeout = 0.2
    discord_server.faults.add_latency(1.0, route="GET /channels/{channel_id}/messages", times=1)
    with pytest.raises(TransientDiscordError) as slow:
        await port.find_sent(thread, "anything")
    assert "TimeoutError" in str(slow.value)

    port.call_timeout = 5.0
    discord_server.faults.rate_limit_next(CREATE_MESSAGE, times=2, retry_after=0.05)
    sent = await port.send_message(world.announcements.id, post(), nonce="gj-post-1")
    assert [m.id for m in discord_server.messages(world.announcements)][-1] == sent.message_id
    assert len(discord_server.messages(world.announcements)) == 2


async def test_missing_permission_and_unknown_channel_are_permanent(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    discord_server.set_permissions(world.general, deny=Permission.SEND_MESSAGES)
    with pytest.raises(PermanentDiscordError) as forbidden:
        await port.send_message(world.general.id, post(), nonce="gj-post-1")
    assert (forbidden.value.channel_id, forbidden.value.status, forbidden.value.code) == (
        world.general.id,
        403,
        50013,
    )
    assert "Send Messages" in str(forbidden.value)

    discord_server.set_permissions(world.announcements, deny=Permission.VIEW_CHANNEL)
    with pytest.raises(PermanentDiscordError) as hidden:
        await port.send_message(world.announcements.id, post(), nonce="gj-post-1")
    assert hidden.value.code == 50001

    with pytest.raises(PermanentDiscordError) as unknown:
        await port.send_message(4242424242424242, post(), nonce="gj-post-1")
    assert (unknown.value.channel_id, unknown.value.status, unknown.value.code) == (
        4242424242424242,
        404,
        10003,
    )


async def test_a_closed_client_is_transient(
    port: DiscordPyPort, discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    await discord_bot.close()
    with pytest.raises(TransientDiscordError, match="not connected"):
        await port.send_message(discord_server.world.announcements.id, post(), nonce="gj-1")


# ---- threads and forum posts ---------------------------------------------------------------


async def test_start_thread_returns_the_existing_thread(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    sent, thread = await announcement_thread(port, discord_server)
    again = await port.start_thread(world.announcements.id, sent.message_id, "Hello", 1440)

    assert again == thread == sent.message_id
    [stored] = discord_server.threads(world.announcements)
    assert (stored.name, stored.auto_archive_duration) == ("Hello", 1440)
    assert [r.code for r in discord_server.requests_to(START_THREAD)] == [None, 160004]


async def test_forum_post_is_not_made_twice(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    forum = discord_server.world.forum.id
    marker = "https://blog.example/2009/10/hello/"
    first = await port.create_forum_post(forum, "Hello", post(), marker=marker, auto_archive=4320)
    again = await port.create_forum_post(forum, "Hello", post(), marker=marker, auto_archive=4320)
    other = await port.create_forum_post(
        forum,
        "Hello",
        post(embed=EmbedDraft(title="Hello", url="https://blog.example/2010/01/hello/")),
        marker="https://blog.example/2010/01/hello/",
        auto_archive=4320,
    )

    assert first == again and first.channel_id == first.message_id
    assert other.channel_id != first.channel_id
    threads = discord_server.threads(forum)
    assert [(t.name, t.auto_archive_duration) for t in threads] == [("Hello", 4320)] * 2
    assert len(discord_server.requests_to(FORUM_POST)) == 2
    [starter] = discord_server.messages(first.channel_id)
    assert starter.embeds[0]["url"] == marker and starter.pings.is_empty


async def test_forum_post_in_a_text_channel_is_permanent(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.general.id
    with pytest.raises(PermanentDiscordError, match="not a forum") as failure:
        await port.create_forum_post(channel, "Hello", post(), marker="x", auto_archive=60)
    assert failure.value.channel_id == channel


# ---- comments through the webhook ------------------------------------------------------------


async def test_comments_go_through_one_reused_webhook_with_the_authors_identity(
    ports: Callable[..., DiscordPyPort], discord_server: DiscordTestServer, storage: Storage
) -> None:
    port = ports()
    world = discord_server.world
    channel = world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    first = await port.send_as_author(
        channel, thread, comment(1, f"{world.alice.mention} @everyone what the f\\*\\*k")
    )
    target = ReplyTarget(thread, first.message_id, "Carol")
    reply = await port.send_as_author(
        channel, thread, comment(2, "Agreed.", username="Dan"), reply_to=target
    )

    [webhook] = discord_server.webhooks(channel)
    assert len(discord_server.requests_to(CREATE_WEBHOOK)) == 1
    stored = discord_server.messages(thread)
    assert [(m.username, m.webhook_id) for m in stored] == [
        ("Carol", webhook.id),
        ("Dan", webhook.id),
    ]
    assert all(m.pings.is_empty for m in stored)
    assert stored[0].avatar_url == "https://blog.example/avatars/carol.png"
    assert "f\\*\\*k" in stored[0].content
    jump = f"https://discord.com/channels/{world.guild.id}/{thread}/{first.message_id}"
    assert stored[1].content.splitlines() == [
        f"{REPLY_PREFIX}**Carol** · {jump}",
        "Agreed.",
        f"🔗 <{LINK.format(2)}>",
    ]
    assert reply == Sent(thread, stored[1].id, via_webhook=True)
    saved = await storage.get_webhook(channel)
    assert saved is not None and saved.webhook_id == webhook.id

    lookups = len(discord_server.requests_to(LIST_WEBHOOKS))
    restarted = ports()
    await restarted.send_as_author(channel, thread, comment(3))
    assert len(discord_server.requests_to(CREATE_WEBHOOK)) == 1
    assert len(discord_server.requests_to(LIST_WEBHOOKS)) == lookups, "the stored one is used"
    assert len(discord_server.messages(thread)) == 3


async def test_without_storage_the_webhook_is_found_again_by_name(
    ports: Callable[..., DiscordPyPort], discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    port = ports(stored=False)
    _, thread = await announcement_thread(port, discord_server)
    await port.send_as_author(channel, thread, comment(1))
    await ports(stored=False).send_as_author(channel, thread, comment(2))

    assert len(discord_server.webhooks(channel)) == 1
    assert len(discord_server.requests_to(CREATE_WEBHOOK)) == 1


async def test_a_deleted_webhook_is_recreated_once(
    port: DiscordPyPort, discord_server: DiscordTestServer, storage: Storage
) -> None:
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    await port.send_as_author(channel, thread, comment(1))
    [old] = discord_server.webhooks(channel)
    old.deleted = True

    sent = await port.send_as_author(channel, thread, comment(2))

    [new] = discord_server.webhooks(channel)
    assert new.id != old.id
    assert discord_server.message(sent.message_id).webhook_id == new.id
    saved = await storage.get_webhook(channel)
    assert saved is not None and saved.webhook_id == new.id
    assert [r.code for r in discord_server.requests_to(EXECUTE_WEBHOOK)] == [None, 10015, None]


async def test_without_manage_webhooks_comments_are_bot_replies_and_one_warning(
    port: DiscordPyPort, discord_server: DiscordTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    world = discord_server.world
    channel = world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    discord_server.set_permissions(world.announcements, deny=Permission.MANAGE_WEBHOOKS)
    await discord_server.wait_until(
        lambda: (
            not port.bot.get_channel(channel)
            .permissions_for(  # type: ignore[union-attr]
                port.bot.get_channel(channel).guild.me  # type: ignore[union-attr]
            )
            .manage_webhooks
        ),
        what="CHANNEL_UPDATE to reach the bot",
    )
    caplog.set_level(logging.WARNING, logger="cogs.announcer._port")

    first = await port.send_as_author(channel, thread, comment(1, username="Car*ol"))
    target = ReplyTarget(thread, first.message_id, "Car*ol")
    reply = await port.send_as_author(
        channel, thread, comment(2, "Agreed.", username="Dan"), reply_to=target
    )
    again = await port.send_as_author(
        channel, thread, comment(2, "Agreed.", username="Dan"), reply_to=target
    )

    assert again == reply, "the fallback has a deterministic nonce"
    assert discord_server.webhooks(channel) == []
    stored = discord_server.messages(thread)
    assert [m.content.splitlines()[0] for m in stored] == [
        "**Car\\*ol** (comment on the blog):",
        "**Dan** (comment on the blog):",
    ]
    assert stored[1].reference_id == first.message_id and stored[1].webhook_id is None
    assert all(m.pings.is_empty for m in stored)
    warnings = [r for r in caplog.records if "Manage Webhooks" in r.getMessage()]
    assert len(warnings) == 1 and str(channel) in warnings[0].getMessage()


async def test_a_lost_webhook_response_is_not_retried_blindly(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    """discord.py would retry the 500 and post twice; the port reports it and find_sent adopts."""
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    discord_server.faults.fail_next(EXECUTE_WEBHOOK, status=500, after_commit=True)
    with pytest.raises(TransientDiscordError, match="outcome unknown") as lost:
        await port.send_as_author(channel, thread, comment(1))
    assert lost.value.status == 500

    [posted] = discord_server.messages(thread)
    assert await port.find_sent(thread, "Nice post.", after=thread) == Sent(
        thread, posted.id, via_webhook=True
    )
    assert [r.status for r in discord_server.requests_to(EXECUTE_WEBHOOK)] == [500]


async def test_a_locked_archived_thread_is_reopened(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    discord_server.archive_thread(thread, locked=True)

    sent = await port.send_as_author(channel, thread, comment(1))

    assert not discord_server.channel(thread).archived
    assert [r.body for r in discord_server.requests_to(EDIT_CHANNEL)] == [{"archived": False}]
    assert [m.id for m in discord_server.messages(thread)] == [sent.message_id]


async def test_a_reply_line_never_pushes_a_message_past_2000_characters(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    parent = await port.send_as_author(channel, thread, comment(1))
    link_line = f"\n🔗 <{LINK.format(2)}>"
    draft = comment(2, ("word " * 400)[: 2000 - len(link_line)])
    assert len(draft.content) == 2000

    sent = await port.send_as_author(
        channel, thread, draft, reply_to=ReplyTarget(thread, parent.message_id, "Carol")
    )

    content = discord_server.message(sent.message_id).content
    assert len(content) <= 2000
    assert content.startswith(REPLY_PREFIX) and content.endswith(f"🔗 <{LINK.format(2)}>")
    assert "…" in content


# ---- finding, editing and deleting ---------------------------------------------------------------


async def test_find_sent_sees_only_our_messages_after_the_given_one(
    ports: Callable[..., DiscordPyPort], discord_server: DiscordTestServer
) -> None:
    port = ports()
    world = discord_server.world
    channel = world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    first = await port.send_as_author(channel, thread, comment(1))
    discord_server.inject_message(thread, world.alice, f"see {LINK.format(2)}")
    second = await port.send_as_author(channel, thread, comment(2))
    pingback = await port.send_message(thread, comment(3, kind="pingback"), nonce="gj-3")

    assert await port.find_sent(thread, LINK.format(1)) == first
    assert await port.find_sent(thread, LINK.format(1), after=first.message_id) is None
    assert await port.find_sent(thread, LINK.format(2), after=first.message_id) == second
    assert await port.find_sent(thread, LINK.format(3), after=second.message_id) == pingback
    restarted = ports()
    assert await restarted.find_sent(thread, LINK.format(2)) == second


async def test_edit_and_delete_webhook_and_bot_messages(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    world = discord_server.world
    channel = world.announcements.id
    announcement, thread = await announcement_thread(port, discord_server)
    parent = await port.send_as_author(channel, thread, comment(1))
    reply = await port.send_as_author(
        channel, thread, comment(2), reply_to=ReplyTarget(thread, parent.message_id, "Carol")
    )

    await port.edit(reply, channel, comment(2, "Edited on the blog.", kind="edit"))
    await port.edit(announcement, channel, post("Hello again"))

    lines = discord_server.message(reply.message_id).content.splitlines()
    assert lines[0].startswith(REPLY_PREFIX), "the reply line survives the edit"
    assert lines[1:] == ["Edited on the blog.", f"🔗 <{LINK.format(2)}>"]
    assert discord_server.message(announcement.message_id).embeds[0]["title"] == "Hello again"

    await port.delete(reply, channel)
    assert [m.id for m in discord_server.messages(thread)] == [parent.message_id]
    with pytest.raises(MessageGone):
        await port.delete(reply, channel)
    with pytest.raises(MessageGone):
        await port.edit(reply, channel, comment(2, kind="edit"))


async def test_edit_and_delete_in_an_archived_thread_reopen_it(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    sent = await port.send_as_author(channel, thread, comment(1))
    pingback = await port.send_message(thread, comment(2, kind="pingback"), nonce="gj-2")
    discord_server.archive_thread(thread)

    await port.edit(sent, channel, comment(1, "Edited.", kind="edit"))
    discord_server.archive_thread(thread)
    await port.delete(pingback, channel)

    assert discord_server.message(sent.message_id).content.startswith("Edited.")
    assert [m.id for m in discord_server.messages(thread)] == [sent.message_id]
    assert not discord_server.channel(thread).archived


async def test_a_deleted_thread_is_permanent_for_the_channel(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    with pytest.raises(PermanentDiscordError) as failure:
        await port.send_as_author(channel, 4242424242424242, comment(1))
    assert failure.value.code == 10003


async def test_concurrent_first_comments_make_one_webhook(
    port: DiscordPyPort, discord_server: DiscordTestServer
) -> None:
    channel = discord_server.world.announcements.id
    _, thread = await announcement_thread(port, discord_server)
    await asyncio.gather(*(port.send_as_author(channel, thread, comment(n)) for n in range(5)))
    assert len(discord_server.webhooks(channel)) == 1
    assert len(discord_server.messages(thread)) == 5
