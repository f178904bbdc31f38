"""The real, unpatched discord.py against the wire-level fake Discord in tests/discord_server."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import time
import zlib

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_server import (
    DiscordTestServer,
    EventRecorder,
    GatewayConfig,
    Intent,
    Permission,
    ServerConfig,
    bot_intents,
    make_bot,
    running,
)

pytest_plugins = ["tests.discord_server.fixtures"]

CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"


def text_channel(bot: commands.Bot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel), f"{channel_id} is {channel!r}"
    return channel


def expected_compression() -> str:
    """discord.py asks for zstd-stream when zstandard (or 3.14's compression.zstd) imports."""
    for module in ("zstandard", "compression.zstd"):
        try:
            if importlib.util.find_spec(module) is not None:
                return "zstd-stream"
        except ModuleNotFoundError:
            continue
    return "zlib-stream"


def statuses(server: DiscordTestServer, route: str) -> list[int]:
    return [r.status for r in server.requests_to(route)]


# ---- login, READY, GUILD_CREATE -------------------------------------------------------


async def test_bot_logs_in_and_caches_the_guild(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    assert discord_bot.user is not None and discord_bot.user.id == world.bot.id
    assert discord_bot.application_id == discord_server.application_id
    guild = discord_bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == world.guild.name
    assert {c.name for c in guild.channels} == {"Blog", "announcements", "general", "comments"}
    assert isinstance(guild.get_channel(world.forum.id), discord.ForumChannel)
    assert {m.name for m in guild.members} == {"Gatejumper", "alice", "bob"}
    alice = guild.get_member(world.alice.id)
    assert alice is not None and alice.get_role(world.moderator_role.id) is not None

    login = [r.route for r in discord_server.requests]
    assert login[:2] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    connect, identify = discord_server.gateway.log[:2]
    compress = expected_compression()
    assert connect.detail["query"] == {"v": "10", "encoding": "json", "compress": compress}
    assert identify.detail["intents"] & Intent.MESSAGE_CONTENT


async def test_bad_token_is_a_login_failure(discord_server: DiscordTestServer) -> None:
    bot = make_bot()
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()
    assert [(r.route, r.status) for r in discord_server.requests] == [("GET /users/@me", 401)]


async def test_auto_sharded_bot_finds_the_gateway_through_rest(
    discord_server: DiscordTestServer,
) -> None:
    sharded = commands.AutoShardedBot(
        command_prefix="!", intents=bot_intents(), guild_ready_timeout=0.05
    )
    async with running(sharded, discord_server) as bot:
        assert bot.get_guild(discord_server.world.guild.id) is not None
    assert "GET /gateway/bot" in [r.route for r in discord_server.requests]


async def test_guild_rest_routes(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    guild = await discord_bot.fetch_guild(world.guild.id)
    channels = await guild.fetch_channels()
    member = await guild.fetch_member(world.bob.id)
    assert guild.name == world.guild.name and guild.owner_id == world.alice.id
    assert {c.id for c in channels} == {
        world.category.id,
        world.announcements.id,
        world.general.id,
        world.forum.id,
    }
    assert member.name == "bob" and member.roles == [guild.default_role]


# ---- receiving human messages --------------------------------------------------------


async def test_injected_human_messages_reach_on_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    seen = EventRecorder(discord_bot, "message")
    first = discord_server.inject_message(world.announcements, world.alice, "Great post!")
    discord_server.inject_message(
        world.announcements, world.bob, f"{world.bot.mention} agreed", reply_to=first
    )

    got = await seen.wait_for("message", 2)
    assert [m.content for m in got] == ["Great post!", f"{world.bot.mention} agreed"]
    assert got[0].author.id == world.alice.id and isinstance(got[0].author, discord.Member)
    assert got[0].author.get_role(world.moderator_role.id) is not None
    assert got[1].reference is not None and got[1].reference.message_id == first.id
    assert discord_bot.user in got[1].mentions


async def test_role_changes_and_human_threads_reach_the_bot(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    seen = EventRecorder(discord_bot, "member_update", "thread_create")
    discord_server.set_roles(world.bob, [world.moderator_role])
    starter = discord_server.inject_message(world.general, world.bob, "let's discuss")
    discord_server.inject_thread(world.general, "discussion", world.bob, starter=starter)

    await seen.wait_for("member_update")
    [thread] = await seen.wait_for("thread_create")
    guild = discord_bot.get_guild(world.guild.id)
    member = guild.get_member(world.bob.id) if guild else None
    assert member is not None and member.get_role(world.moderator_role.id) is not None
    assert (thread.id, thread.owner_id, thread.parent_id) == (
        starter.id,
        world.bob.id,
        world.general.id,
    )


async def test_without_message_content_intent_content_is_blank_unless_mentioned(
    discord_server: DiscordTestServer,
) -> None:
    world = discord_server.world
    intents = discord.Intents.default()
    async with running(make_bot(intents=intents), discord_server) as bot:
        seen = EventRecorder(bot, "message")
        discord_server.inject_message(world.general, world.alice, "hidden from the bot")
        discord_server.inject_message(world.general, world.alice, f"{world.bot.mention} visible")
        got = await seen.wait_for("message", 2)
    assert [m.content for m in got] == ["", f"{world.bot.mention} visible"]


@pytest.mark.parametrize(
    "discord_server_config",
    [ServerConfig(gateway=GatewayConfig(allowed_privileged_intents=Intent(0)))],
)
async def test_privileged_intent_not_enabled_closes_with_4014(
    discord_server: DiscordTestServer,
) -> None:
    with pytest.raises(RuntimeError) as failure:
        async with running(make_bot(), discord_server):
            pass
    assert isinstance(failure.value.__cause__, discord.PrivilegedIntentsRequired)
    assert [r.detail["code"] for r in discord_server.gateway.log if r.kind == "close"] == [4014]


# ---- sending, nonce, edits, deletes ---------------------------------------------------


async def test_repeated_nonce_returns_the_original_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    first = await channel.send("New post: Hello", nonce="post-42")
    again = await channel.send("New post: Hello", nonce="post-42")

    assert again.id == first.id
    assert [m.content for m in discord_server.messages(channel.id)] == ["New post: Hello"]
    assert discord_server.nonce_hits == [first.id]
    bodies = [r.body for r in discord_server.requests_to(CREATE_MESSAGE)]
    assert all(b["nonce"] == "post-42" and b["enforce_nonce"] is True for b in bodies)


async def test_lost_response_is_retried_without_a_duplicate(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    """The message is stored, the 500 is sent anyway; discord.py retries with the same nonce."""
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    discord_server.faults.fail_next(CREATE_MESSAGE, status=500, after_commit=True)

    sent = await channel.send("exactly once")

    assert statuses(discord_server, CREATE_MESSAGE) == [500, 200]
    assert [m.id for m in discord_server.messages(channel.id)] == [sent.id]


async def test_allowed_mentions_are_recorded_and_nothing_pings(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    channel = text_channel(discord_bot, world.announcements.id)
    quiet = await channel.send(f"{world.alice.mention} @everyone {world.moderator_role.mention}")
    loud = await channel.send(
        f"{world.alice.mention} hi", allowed_mentions=discord.AllowedMentions(users=True)
    )

    stored_quiet = discord_server.message(quiet.id)
    assert stored_quiet.allowed_mentions == {"parse": []}
    assert stored_quiet.pings.is_empty
    assert discord_server.message(loud.id).pings.users == {world.alice.id}


async def test_edit_and_delete_a_bot_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    seen = EventRecorder(discord_bot, "raw_message_edit", "raw_message_delete")
    message = await channel.send("draft")
    edited = await message.edit(content="final")
    await edited.delete()

    stored = discord_server.message(message.id)
    assert (stored.content, stored.edits, stored.deleted) == ("final", ["draft"], True)
    assert discord_server.messages(channel.id) == []
    await seen.wait_for("raw_message_delete")
    assert seen.first_args("raw_message_edit")[0].message_id == message.id


async def test_editing_someone_elses_message_is_50005(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    human = discord_server.inject_message(world.general, world.alice, "mine")
    channel = text_channel(discord_bot, world.general.id)
    with pytest.raises(discord.Forbidden) as failure:
        await channel.get_partial_message(human.id).edit(content="hijacked")
    assert failure.value.code == 50005
    assert discord_server.message(human.id).content == "mine"


async def test_history_is_newest_first(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    for n in range(5):
        discord_server.inject_message(world.general, world.bob, f"m{n}")
    channel = text_channel(discord_bot, world.general.id)
    assert [m.content async for m in channel.history(limit=3)] == ["m4", "m3", "m2"]
    assert [m.content async for m in channel.history(limit=10, oldest_first=True)][:2] == [
        "m0",
        "m1",
    ]


async def test_files_are_uploaded_as_multipart(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.general.id)
    sent = await channel.send("see attached", file=discord.File(io.BytesIO(b"hello"), "note.txt"))
    [stored] = discord_server.messages(channel.id)
    assert [(a.filename, a.data) for a in stored.attachments] == [("note.txt", b"hello")]
    assert sent.attachments[0].filename == "note.txt" and sent.attachments[0].size == 5


# ---- validation errors --------------------------------------------------------------


async def test_2001_characters_is_rejected_with_50035(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    with pytest.raises(discord.HTTPException) as failure:
        await channel.send("x" * 2001)
    assert (failure.value.status, failure.value.code) == (400, 50035)
    assert "content" in failure.value.text and "2000 or fewer" in failure.value.text
    assert statuses(discord_server, CREATE_MESSAGE) == [400]
    assert discord_server.messages(channel.id) == []
    await channel.send("x" * 2000)
    assert len(discord_server.messages(channel.id)[0].content) == 2000


async def test_embed_limits_are_enforced(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    crowded = discord.Embed(title="t")
    for n in range(26):
        crowded.add_field(name=f"f{n}", value="v")
    huge = [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)]

    with pytest.raises(discord.HTTPException) as too_many_fields:
        await channel.send(embed=crowded)
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(embeds=huge)

    assert too_many_fields.value.code == 50035 and "embeds.0.fields" in too_many_fields.value.text
    assert too_big.value.code == 50035 and "6000" in too_big.value.text


async def test_unknown_channel_and_message_codes(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.general.id)
    with pytest.raises(discord.NotFound) as no_message:
        await channel.fetch_message(123456789012345678)
    with pytest.raises(discord.NotFound) as no_channel:
        await discord_bot.fetch_channel(123456789012345678)
    assert (no_message.value.code, no_channel.value.code) == (10008, 10003)


async def test_unknown_route_is_a_discord_shaped_404_and_logged(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    route = discord.http.Route(
        "GET", "/guilds/{guild_id}/bans", guild_id=discord_server.world.guild.id
    )
    with pytest.raises(discord.NotFound) as failure:
        await discord_bot.http.request(route)
    assert failure.value.code == 0 and failure.value.text == "404: Not Found"
    assert [r.path for r in discord_server.unknown_routes] == [
        f"/api/v10/guilds/{discord_server.world.guild.id}/bans"
    ]
    discord_server.unknown_routes.clear()  # the fixture fails tests that hit unknown routes


# ---- permissions --------------------------------------------------------------------


async def test_missing_manage_webhooks_is_50013_and_discord_py_sees_it(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    discord_server.set_permissions(world.announcements, deny="MANAGE_WEBHOOKS")
    channel = text_channel(discord_bot, world.announcements.id)
    await discord_server.wait_until(
        lambda: not channel.permissions_for(channel.guild.me).manage_webhooks,
        what="CHANNEL_UPDATE to reach the bot",
    )
    with pytest.raises(discord.Forbidden) as failure:
        await channel.create_webhook(name="Gatejumper relay")
    assert failure.value.code == 50013
    assert discord_server.webhooks(channel.id) == []


async def test_without_send_messages_sending_is_forbidden(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    discord_server.set_permissions(world.general, deny=Permission.SEND_MESSAGES)
    with pytest.raises(discord.Forbidden) as failure:
        await text_channel(discord_bot, world.general.id).send("hi")
    assert failure.value.code == 50013


# ---- threads, forum, webhooks -----------------------------------------------------------


async def test_thread_from_a_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    seen = EventRecorder(discord_bot, "thread_create")
    post = await channel.send("New post: Hello world")
    thread = await post.create_thread(name="Comments: Hello world", auto_archive_duration=10080)

    assert thread.id == post.id
    stored = discord_server.threads(channel.id)
    assert [(t.id, t.name, t.auto_archive_duration) for t in stored] == [
        (post.id, "Comments: Hello world", 10080)
    ]
    assert discord_server.message(post.id).thread_id == thread.id
    await seen.wait_for("thread_create")
    assert isinstance(discord_bot.get_channel(thread.id), discord.Thread)
    with pytest.raises(discord.HTTPException) as twice:
        await post.create_thread(name="again")
    assert twice.value.code == 160004


async def test_thread_name_over_100_chars_is_50035(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    post = await text_channel(discord_bot, discord_server.world.announcements.id).send("post")
    with pytest.raises(discord.HTTPException) as failure:
        await post.create_thread(name="n" * 101)
    assert failure.value.code == 50035 and "name" in failure.value.text


async def test_webhook_posts_into_a_thread_with_a_custom_identity(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    channel = text_channel(discord_bot, world.announcements.id)
    seen = EventRecorder(discord_bot, "message")
    post = await channel.send("New post")
    thread = await post.create_thread(name="Comments")
    webhook = await channel.create_webhook(name="Gatejumper relay")

    relayed = await webhook.send(
        f"{world.alice.mention} @everyone first!",
        username="Carol (blog comment)",
        avatar_url="https://blog.example/avatars/carol.png",
        thread=thread,
        wait=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )

    stored = discord_server.messages(thread.id)
    assert [(m.id, m.username, m.avatar_url, m.webhook_id) for m in stored] == [
        (relayed.id, "Carol (blog comment)", "https://blog.example/avatars/carol.png", webhook.id)
    ]
    assert stored[0].pings.is_empty
    assert relayed.author.name == "Carol (blog comment)" and relayed.webhook_id == webhook.id
    request = discord_server.requests_to(EXECUTE_WEBHOOK)[0]
    assert request.query == {"wait": "1", "with_components": "0", "thread_id": str(thread.id)}
    echoed = await seen.wait_for("message", 2)
    assert echoed[1].webhook_id == webhook.id and echoed[1].channel.id == thread.id


async def test_webhook_retry_after_a_lost_response_duplicates_the_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    """Execute-webhook has no nonce: discord.py retries the 5xx and Discord posts twice.
    The relay has to detect this itself (e.g. look for its own marker before re-sending)."""
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    webhook = await channel.create_webhook(name="relay")
    discord_server.faults.fail_next(EXECUTE_WEBHOOK, status=500, after_commit=True)

    await webhook.send("relayed comment", username="Frank", wait=True)

    assert statuses(discord_server, EXECUTE_WEBHOOK) == [500, 200]
    assert [m.content for m in discord_server.messages(channel.id)] == ["relayed comment"] * 2


async def test_webhook_message_edit_and_delete_need_the_thread_id(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    thread = await (await channel.send("post")).create_thread(name="Comments")
    webhook = await channel.create_webhook(name="relay")
    sent = await webhook.send("v1", username="Dan", thread=thread, wait=True)

    with pytest.raises(discord.NotFound) as without_thread:
        await webhook.edit_message(sent.id, content="v2")
    await webhook.edit_message(sent.id, content="v2", thread=thread)
    assert discord_server.message(sent.id).content == "v2"
    await webhook.delete_message(sent.id, thread=thread)

    assert without_thread.value.code == 10008
    assert discord_server.messages(thread.id) == []


async def test_webhook_username_containing_discord_is_50035(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    webhook = await channel.create_webhook(name="relay")
    with pytest.raises(discord.HTTPException) as failure:
        await webhook.send("hi", username="Discord Staff", wait=True)
    assert failure.value.code == 50035 and "username" in failure.value.text
    with pytest.raises(discord.HTTPException) as bad_name:
        await channel.create_webhook(name="clyde")
    assert bad_name.value.code == 50035


async def test_forum_post_creates_thread_and_starter_message(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    forum = discord_bot.get_channel(discord_server.world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    post_tag = next(t for t in forum.available_tags if t.name == "post")
    created = await forum.create_thread(
        name="Hello world", content="https://blog.example/hello", applied_tags=[post_tag]
    )

    assert created.thread.id == created.message.id
    stored_thread = discord_server.channel(created.thread.id)
    assert (stored_thread.parent_id, stored_thread.applied_tags) == (forum.id, [post_tag.id])
    assert [m.content for m in discord_server.messages(created.thread.id)] == [
        "https://blog.example/hello"
    ]


async def test_webhook_into_a_forum_needs_a_thread_name(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    forum = discord_bot.get_channel(discord_server.world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    webhook = await forum.create_webhook(name="relay")
    with pytest.raises(discord.HTTPException) as failure:
        await webhook.send("no thread", wait=True)
    post = await webhook.send("first comment", thread_name="Hello world", username="Eve", wait=True)

    assert failure.value.code == 220001
    [thread] = discord_server.threads(forum.id)
    assert (thread.id, thread.name) == (post.id, "Hello world")
    assert [m.username for m in discord_server.messages(thread.id)] == ["Eve"]


async def test_archive_then_post_unarchives(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    thread = await (await channel.send("post")).create_thread(name="Comments")
    seen = EventRecorder(discord_bot, "thread_update", "thread_join")
    await thread.edit(archived=True)
    assert discord_server.channel(thread.id).archived

    await thread.send("a late comment")

    assert not discord_server.channel(thread.id).archived
    # discord.py drops archived threads from its cache, so the unarchive arrives as a "join".
    [(_, archived)] = seen.events["thread_update"]
    [rejoined] = await seen.wait_for("thread_join")
    assert (archived.archived, rejoined.id, rejoined.archived) == (True, thread.id, False)
    assert [r.body for r in discord_server.requests_to("PATCH /channels/{channel_id}")] == [
        {"archived": True}
    ]


async def test_human_reply_in_thread_and_reactions(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    channel = text_channel(discord_bot, world.announcements.id)
    thread = await (await channel.send("post")).create_thread(name="Comments")
    relay = await thread.send("comment relayed from the blog")
    seen = EventRecorder(discord_bot, "message", "raw_reaction_add")

    discord_server.inject_message(thread.id, world.alice, "a human reply", reply_to=relay.id)
    discord_server.inject_reaction(relay.id, world.bob, "👍")
    await relay.add_reaction("✅")

    await discord_server.wait_until(
        lambda: any(m.author.id == world.alice.id for m in seen.first_args("message")),
        what="alice's reply to reach on_message",
    )
    reply = next(m for m in seen.first_args("message") if m.author.id == world.alice.id)
    assert reply.channel.id == thread.id and reply.reference.message_id == relay.id
    reactions = await seen.wait_for("raw_reaction_add", 2)
    assert {(r.user_id, str(r.emoji)) for r in reactions} == {
        (world.bob.id, "👍"),
        (world.bot.id, "✅"),
    }
    assert discord_server.message(relay.id).reactions == {
        "👍": [world.bob.id],
        "✅": [world.bot.id],
    }


# ---- direct messages and other guilds ------------------------------------------------


async def test_a_dm_from_a_human_reaches_the_bot_which_answers_and_reacts_there(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    seen = EventRecorder(discord_bot, "message", "raw_reaction_add")
    dm = discord_server.inject_dm(world.bob, "hello bot")

    [message] = await seen.wait_for("message")
    assert message.guild is None and isinstance(message.channel, discord.DMChannel)
    assert message.channel.id == dm.channel_id and message.author.id == world.bob.id
    assert message.content == "hello bot" and dm.guild_id is None
    assert discord_server.dm_channel(world.bob) == discord_server.channel(dm.channel_id)
    assert not [d for d in discord_server.gateway.dispatched if d.event == "CHANNEL_CREATE"]

    answer = await message.channel.send("hello human", reference=message)
    await message.add_reaction("✅")
    await answer.edit(content="hello again")
    [_, ours] = await seen.wait_for("message", 2)
    assert ours.guild is None and ours.author.id == world.bot.id
    await seen.wait_for("raw_reaction_add")
    stored = discord_server.messages(dm.channel_id)
    assert [m.content for m in stored] == ["hello bot", "hello again"]
    assert stored[1].reference_id == dm.id and stored[0].reactions == {"✅": [world.bot.id]}
    second = discord_server.inject_dm(world.bob, "still me")
    assert second.channel_id == dm.channel_id, "one DM channel per pair of users"

    await answer.delete()
    assert [m.content for m in discord_server.messages(dm.channel_id)] == ["hello bot", "still me"]
    with pytest.raises(discord.HTTPException) as guild_only:
        await discord_bot.http.delete_messages(dm.channel_id, [dm.id, second.id])
    assert guild_only.value.code == 50003


async def test_the_bot_opens_a_dm_itself(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    alice = await discord_bot.fetch_user(world.alice.id)
    channel = await alice.create_dm()
    await channel.send("a word in private")

    dm = discord_server.dm_channel(world.alice)
    assert dm is not None and dm.id == channel.id and dm.guild_id is None
    assert [m.content for m in discord_server.messages(dm)] == ["a word in private"]
    fetched = await discord_bot.fetch_channel(dm.id)
    assert isinstance(fetched, discord.DMChannel) and fetched.recipient is not None
    assert fetched.recipient.id == world.alice.id
    assert discord_server.inject_dm(world.alice, "hi").channel_id == dm.id


async def test_without_the_direct_messages_intent_dms_are_not_dispatched(
    discord_server: DiscordTestServer,
) -> None:
    world = discord_server.world
    intents = bot_intents()
    intents.dm_messages = False
    async with running(make_bot(intents=intents), discord_server) as bot:
        seen = EventRecorder(bot, "message")
        discord_server.inject_dm(world.bob, "not for you")
        discord_server.inject_message(world.general, world.bob, "in the guild")
        [message] = await seen.wait_for("message")
        await asyncio.sleep(0.2)
    assert message.content == "in the guild" and len(seen.first_args("message")) == 1
    assert [
        d.data["content"] for d in discord_server.gateway.dispatched if d.event == "MESSAGE_CREATE"
    ] == ["in the guild"]


async def test_another_guild_the_bot_joins_reaches_it(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    world = discord_server.world
    seen = EventRecorder(discord_bot, "guild_join", "message")
    other = discord_server.add_guild("Another Guild", members=[world.bob])
    [joined] = await seen.wait_for("guild_join")
    assert joined.id == other.id and {c.name for c in joined.channels} == {"general"}
    assert {g.id for g in discord_bot.guilds} == {world.guild.id, other.id}

    lobby = discord_server.add_channel("lobby", guild=other)
    await discord_server.wait_until(lambda: joined.get_channel(lobby.id), what="CHANNEL_CREATE")
    discord_server.inject_message(lobby, world.bob, "over here")
    [message] = await seen.wait_for("message")
    assert message.guild is not None and message.guild.id == other.id
    assert isinstance(message.author, discord.Member) and message.channel.id == lobby.id
    await message.channel.send("seen")
    assert [m.content for m in discord_server.messages(lobby)] == ["over here", "seen"]


# ---- slash commands -----------------------------------------------------------------


async def test_slash_command_round_trip(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    @app_commands.command(name="ping", description="Check the bridge")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    discord_bot.tree.add_command(ping)
    synced = await discord_bot.tree.sync()
    assert [c.name for c in synced] == ["ping"] == [c.name for c in discord_server.commands()]

    interaction = discord_server.inject_slash_command(
        "ping", user=discord_server.world.alice, channel=discord_server.world.general
    )
    await discord_server.wait_until(
        lambda: interaction.acknowledged, what="the interaction callback"
    )

    [response] = interaction.responses
    assert (response.type, response.data["content"]) == (4, "pong")
    assert [m.content for m in discord_server.messages(discord_server.world.general)] == ["pong"]


async def test_deferred_slash_command_edits_original_and_follows_up(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    @app_commands.command(name="relay", description="Relay status")
    async def relay(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="3 comments relayed")
        await interaction.followup.send("details", ephemeral=True)

    guild = discord.Object(discord_server.world.guild.id)
    discord_bot.tree.add_command(relay, guild=guild)
    await discord_bot.tree.sync(guild=guild)
    assert [c.name for c in discord_server.commands(guild=guild.id)] == ["relay"]

    interaction = discord_server.inject_slash_command(
        "relay", user=discord_server.world.bob, channel=discord_server.world.general
    )
    await discord_server.wait_until(lambda: interaction.followup_ids, what="the follow-up")

    assert [r.type for r in interaction.responses] == [5]
    original = discord_server.message(interaction.original_message_id or 0)
    assert (original.content, original.edited_at is not None) == ("3 comments relayed", True)
    visible = [m.content for m in discord_server.messages(discord_server.world.general)]
    assert visible == ["3 comments relayed"]
    assert discord_server.message(interaction.followup_ids[0]).content == "details"


# ---- rate limits and server errors -----------------------------------------------------


async def test_rate_limit_headers_look_like_discords(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    await text_channel(discord_bot, discord_server.world.general.id).send("one")
    headers = discord_server.requests_to(CREATE_MESSAGE)[0].headers
    assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "4"
    # the 0.1 s window, rounded up to the millisecond as Discord's headers are
    assert float(headers["X-RateLimit-Reset-After"]) <= 0.1 + 0.002
    assert float(headers["X-RateLimit-Reset"]) > time.time() - 1
    assert len(headers["X-RateLimit-Bucket"]) == 32


async def test_429_storm_is_waited_out(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.general.id)
    discord_server.faults.rate_limit_next(CREATE_MESSAGE, times=2, retry_after=0.2)

    started = time.monotonic()
    sent = await channel.send("patience")

    assert time.monotonic() - started >= 0.4
    assert statuses(discord_server, CREATE_MESSAGE) == [429, 429, 200]
    assert [m.id for m in discord_server.messages(channel.id)] == [sent.id]


async def test_global_429_blocks_and_recovers(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    discord_server.faults.rate_limit_next(None, times=1, retry_after=0.2, is_global=True)
    await text_channel(discord_bot, discord_server.world.general.id).send("after the global limit")
    first = discord_server.requests[-2]
    assert (first.status, first.headers.get("X-RateLimit-Global")) == (429, "true")
    assert discord_server.requests[-1].status == 200


async def test_bucket_spent_by_someone_else_gives_a_real_429(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    channel = text_channel(discord_bot, discord_server.world.general.id)
    discord_server.exhaust_bucket(CREATE_MESSAGE, channel_id=channel.id)
    await channel.send("waited for the bucket")
    limited, ok = discord_server.requests_to(CREATE_MESSAGE)
    assert (limited.status, ok.status) == (429, 200)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert ok.at - limited.at >= float(limited.headers["X-RateLimit-Reset-After"]) - 0.01


async def test_500_is_retried_and_503_is_not(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    """discord.py retries 500/502/504 (after 1 s) but raises on 503; webhooks retry every 5xx."""
    channel = text_channel(discord_bot, discord_server.world.general.id)
    discord_server.faults.fail_next(CREATE_MESSAGE, status=500)
    await channel.send("second try")
    discord_server.faults.fail_next(CREATE_MESSAGE, status=503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("no retry")

    assert statuses(discord_server, CREATE_MESSAGE) == [500, 200, 503]
    assert [m.content for m in discord_server.messages(channel.id)] == ["second try"]


async def test_latency_fault_delays_requests(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    discord_server.faults.add_latency(0.3, route=CREATE_MESSAGE, times=1)
    started = time.monotonic()
    await text_channel(discord_bot, discord_server.world.general.id).send("slow")
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("discord_server_config", [ServerConfig.realistic()])
async def test_discords_real_5_per_5s_channel_limit(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    """Ten concurrent sends: discord.py reads the headers and waits, so Discord never says 429.

    The send that empties a bucket only returns after the bucket resets (discord.py sleeps
    inside the limiter), so ten sends take two full windows: ~10 s.
    """
    channel = text_channel(discord_bot, discord_server.world.announcements.id)
    started = time.monotonic()
    await asyncio.gather(*(channel.send(f"post {n}") for n in range(10)))
    elapsed = time.monotonic() - started

    requests = discord_server.requests_to(CREATE_MESSAGE)
    assert [r.status for r in requests] == [200] * 10
    assert [r.headers["X-RateLimit-Remaining"] for r in requests] == ["4", "3", "2", "1", "0"] * 2
    assert requests[4].at - requests[0].at < 0.5
    assert 4.9 <= requests[5].at - requests[0].at < 6
    assert 9.5 <= elapsed < 12, elapsed
    assert {m.content for m in discord_server.messages(channel.id)} == {
        f"post {n}" for n in range(10)
    }


# ---- gateway faults -------------------------------------------------------------------


@pytest.mark.parametrize("close_code", [4000, None], ids=["close-4000", "tcp-drop"])
async def test_gateway_drop_resumes_without_missing_messages(
    discord_server: DiscordTestServer, discord_bot: commands.Bot, close_code: int | None
) -> None:
    world = discord_server.world
    seen = EventRecorder(discord_bot, "message", "resumed")
    assert discord_server.gateway.drop(close_code) == 1
    for n in range(3):
        discord_server.inject_message(world.general, world.alice, f"while away {n}")

    await seen.wait_for("resumed")
    got = await seen.wait_for("message", 3)

    assert [m.content for m in got] == [f"while away {n}" for n in range(3)]
    [resume] = [r for r in discord_server.gateway.log if r.kind == "resume"]
    assert resume.detail["events"] == ["MESSAGE_CREATE"] * 3
    assert [r.kind for r in discord_server.gateway.log].count("identify") == 1
    connects = [r.detail["path"] for r in discord_server.gateway.log if r.kind == "connect"]
    assert connects == ["/gateway", "/resume-gateway"]


async def test_reconnect_opcode_resumes(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> None:
    seen = EventRecorder(discord_bot, "resumed")
    discord_server.gateway.send_reconnect()
    await seen.wait_for("resumed")
    assert [r.kind for r in discord_server.gateway.log].count("resume") == 1


class NoIdentifyDelayBot(commands.Bot):
    """discord.py sleeps 5 s before every re-IDENTIFY; this public hook is how to skip it."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_invalid_session_forces_a_fresh_identify(discord_server: DiscordTestServer) -> None:
    async with running(make_bot(NoIdentifyDelayBot), discord_server) as bot:
        discord_server.gateway.invalidate_sessions(resumable=False)
        await discord_server.wait_for_gateway("identify", count=2)
        await discord_server.wait_until(bot.is_ready, what="READY after re-identify")
        seen = EventRecorder(bot, "message")
        discord_server.inject_message(
            discord_server.world.general, discord_server.world.bob, "here"
        )
        assert [m.content for m in await seen.wait_for("message")] == ["here"]
    closes = [r.detail["code"] for r in discord_server.gateway.log if r.kind == "close"]
    assert closes[0] == 1000


@pytest.mark.parametrize(
    "discord_server_config", [ServerConfig(gateway=GatewayConfig(heartbeat_interval_ms=100))]
)
async def test_unacked_heartbeats_make_the_client_reconnect(
    discord_server: DiscordTestServer,
) -> None:
    async with running(make_bot(heartbeat_timeout=0.5), discord_server) as bot:
        seen = EventRecorder(bot, "resumed")
        discord_server.gateway.set_heartbeat_acks(False)
        await discord_server.wait_for_gateway("close", timeout=5)
        discord_server.gateway.set_heartbeat_acks(True)
        await seen.wait_for("resumed", timeout=5)
    assert [r.kind for r in discord_server.gateway.log].count("identify") == 1


# ---- the raw protocol, without discord.py -------------------------------------------------


async def test_plain_json_gateway_and_unknown_session_resume(
    discord_server: DiscordTestServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(discord_server.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json(timeout=2)
            await ws.send_json({"op": 1, "d": None})
            ack = await ws.receive_json(timeout=2)
            await ws.send_json(
                {"op": 6, "d": {"token": discord_server.token, "session_id": "nope", "seq": 3}}
            )
            invalid = await ws.receive_json(timeout=2)
            await ws.send_json(
                {"op": 2, "d": {"token": discord_server.token, "intents": 513, "properties": {}}}
            )
            ready = await ws.receive_json(timeout=2)
            guild_create = await ws.receive_json(timeout=2)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41_250
    assert ack == {"op": 11}
    assert invalid == {"op": 9, "d": False}
    assert (ready["t"], ready["s"], guild_create["t"], guild_create["s"]) == (
        "READY",
        1,
        "GUILD_CREATE",
        2,
    )
    assert ready["d"]["resume_gateway_url"] == discord_server.resume_gateway_url
    assert [m["user"]["username"] for m in guild_create["d"]["members"]] == ["Gatejumper"]


async def test_zlib_stream_frames_are_sync_flushed(discord_server: DiscordTestServer) -> None:
    async with aiohttp.ClientSession() as http:
        url = discord_server.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        async with http.ws_connect(url) as ws:
            frame = await ws.receive_bytes(timeout=2)
    assert frame.endswith(b"\x00\x00\xff\xff")
    assert json.loads(zlib.decompressobj().decompress(frame))["op"] == 10


async def test_invalid_form_body_shape(discord_server: DiscordTestServer) -> None:
    channel_id = discord_server.world.general.id
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{discord_server.api_base}/channels/{channel_id}/messages",
            json={"content": "x" * 2001, "embeds": [{"fields": [{"name": "", "value": "v"}]}]},
            headers={"Authorization": f"Bot {discord_server.token}"},
        )
        body = await response.json()
    assert response.status == 400 and response.headers["Content-Type"] == "application/json"
    assert body == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            },
            "embeds": {
                "0": {
                    "fields": {
                        "0": {
                            "name": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_BAD_LENGTH",
                                        "message": "Must be between 1 and 256 in length.",
                                    }
                                ]
                            }
                        }
                    }
                }
            },
        },
    }
