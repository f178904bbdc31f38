"""The error handler: every command failure reads as one sentence; bugs are logged once.

Slash and prefix commands run for real: discord.py against the Discord test
server, with ``cogs.errors`` loaded into a plain ``commands.Bot`` and a few
commands defined here that fail in each way a command can.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from cogs.errors._sentences import UNEXPECTED, app_command_sentence, prefix_command_sentence
from cogs.errors.user_facing import UserFacingError
from tests.discord_server import DiscordTestServer, Interaction
from tests.discord_server.model import MessageFlag

SECRET = "hunter2-token-do-not-show"
MANAGE_GUILD = 1 << 5


class Digits(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> int:
        return int(value)  # ValueError for anything else: a TransformerError


def slash_commands() -> list[app_commands.Command[Any, Any, None]]:
    """Fresh commands for each bot, so that cooldowns never leak from one test to the next."""

    @app_commands.command(name="refuse", description="Fails with a sentence")
    async def refuse(interaction: discord.Interaction[Any]) -> None:
        raise UserFacingError("That blog is paused; resume it first.")

    @app_commands.command(name="boom", description="A bug")
    async def boom(interaction: discord.Interaction[Any]) -> None:
        raise RuntimeError(f"connection string postgresql://bot:{SECRET}@db/prod")

    @app_commands.command(name="slow", description="A bug after deferring")
    async def slow(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        raise RuntimeError(SECRET)

    @app_commands.command(name="answered", description="Refuses after answering")
    async def answered(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("Working on it.", ephemeral=True)
        raise UserFacingError("The second step failed: the blog is unreachable.")

    @app_commands.command(name="once", description="Has a cooldown")
    @app_commands.checks.cooldown(1, 60)
    async def once(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("Done.", ephemeral=True)

    @app_commands.command(name="managers", description="Manage Server only")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def managers(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("Hello, manager.", ephemeral=True)

    @app_commands.command(name="hooks", description="Needs the bot to manage webhooks")
    @app_commands.checks.bot_has_permissions(manage_webhooks=True)
    async def hooks(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("Webhooks are fine.", ephemeral=True)

    @app_commands.command(name="number", description="Takes digits")
    async def number(
        interaction: discord.Interaction[Any], value: app_commands.Transform[int, Digits]
    ) -> None:
        await interaction.response.send_message(f"{value}", ephemeral=True)

    return [refuse, boom, slow, answered, once, managers, hooks, number]


@commands.command(name="add")
async def add(ctx: commands.Context[Any], a: int, b: int) -> None:
    await ctx.send(str(a + b))


@commands.command(name="crash")
async def crash(ctx: commands.Context[Any]) -> None:
    raise KeyError(SECRET)


@pytest.fixture
async def bot(
    discord_server: DiscordTestServer, discord_bot: commands.Bot
) -> AsyncIterator[commands.Bot]:
    await discord_bot.load_extension("cogs.errors")
    for command in slash_commands():
        discord_bot.tree.add_command(command)
    discord_bot.add_command(add)
    discord_bot.add_command(crash)
    await discord_bot.tree.sync()
    yield discord_bot


async def slash(
    server: DiscordTestServer, name: str, *, user: Any = None, followups: int = 0, **options: str
) -> Interaction:
    """Run ``/name`` and wait until the bot has answered it (or edited its deferral)."""
    interaction = server.inject_slash_command(
        name,
        user=user or server.world.alice,
        channel=server.world.general,
        options=[{"type": 3, "name": k, "value": v} for k, v in options.items()],
    )

    def done() -> bool:
        if not interaction.responses or len(interaction.followup_ids) < followups:
            return False
        if interaction.responses[0].type == 5:
            return server.message(interaction.original_message_id or 0).edited_at is not None
        return True

    await server.wait_until(done, timeout=5, what=f"/{name} answered")
    return interaction


def said(server: DiscordTestServer, interaction: Interaction) -> list[tuple[str, bool]]:
    """(content, ephemeral) of every message the bot sent for the interaction."""
    ids = [interaction.original_message_id, *interaction.followup_ids]
    messages = [server.message(i) for i in ids if i is not None]
    return [(m.content, bool(m.flags & MessageFlag.EPHEMERAL)) for m in messages]


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# ---- slash commands ----------------------------------------------------------------------------


async def test_user_facing_error_is_shown_as_is_and_not_logged(
    discord_server: DiscordTestServer, bot: commands.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = await slash(discord_server, "refuse")
    assert said(discord_server, interaction) == [("That blog is paused; resume it first.", True)]
    assert error_records(caplog) == []


async def test_a_bug_is_logged_once_with_its_traceback_and_never_shown(
    discord_server: DiscordTestServer, bot: commands.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = await slash(discord_server, "boom")

    assert said(discord_server, interaction) == [(UNEXPECTED, True)]
    [record] = error_records(caplog)
    assert record.name == "cogs.errors._cog" and record.exc_info is not None
    assert record.getMessage().startswith("/boom failed for user ")
    assert isinstance(record.exc_info[1], app_commands.CommandInvokeError)
    every_request = " ".join(str(r.body) for r in discord_server.requests)
    assert SECRET not in every_request and "Traceback" not in every_request


async def test_a_bug_after_deferring_replaces_the_thinking_message(
    discord_server: DiscordTestServer, bot: commands.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = await slash(discord_server, "slow")
    assert [r.type for r in interaction.responses] == [5]
    assert said(discord_server, interaction) == [(UNEXPECTED, True)]
    assert len(error_records(caplog)) == 1


async def test_a_refusal_after_answering_is_a_private_follow_up(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    interaction = await slash(discord_server, "answered", followups=1)
    assert said(discord_server, interaction) == [
        ("Working on it.", True),
        ("The second step failed: the blog is unreachable.", True),
    ]


async def test_cooldown_says_when_to_try_again(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    first = await slash(discord_server, "once")
    second = await slash(discord_server, "once")
    assert said(discord_server, first) == [("Done.", True)]
    assert said(discord_server, second) == [
        ("This command is cooling down; try again in 60 seconds.", True)
    ]


async def test_missing_permission_of_the_member(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    refused = await slash(discord_server, "managers", user=discord_server.world.bob)
    allowed = await slash(discord_server, "managers", user=discord_server.world.alice)
    assert said(discord_server, refused) == [
        ("You need the Manage Server permission to use this command.", True)
    ]
    assert said(discord_server, allowed) == [("Hello, manager.", True)]


async def test_missing_permission_of_the_bot(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    discord_server.set_permissions(discord_server.world.general, deny="MANAGE_WEBHOOKS")
    interaction = await slash(discord_server, "hooks")
    assert said(discord_server, interaction) == [
        (
            "I need the Manage Webhooks permission in this channel to do that; "
            "ask a server admin to grant it.",
            True,
        )
    ]


async def test_a_value_the_transformer_rejects(
    discord_server: DiscordTestServer, bot: commands.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = await slash(discord_server, "number", value="twelve")
    assert said(discord_server, interaction) == [
        ("“twelve” is not a valid value for that option.", True)
    ]
    assert error_records(caplog) == []


async def test_refusals_are_still_recognised_after_a_reload(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    """Reloading drops cogs.errors.* from sys.modules; commands keep raising the old class."""
    await bot.reload_extension("cogs.errors")
    interaction = await slash(discord_server, "refuse")
    assert said(discord_server, interaction) == [("That blog is paused; resume it first.", True)]


async def test_unloading_gives_the_tree_its_own_handler_back(
    discord_server: DiscordTestServer, bot: commands.Bot
) -> None:
    assert bot.tree.on_error == bot.get_cog("ErrorHandler").on_app_command_error  # type: ignore[union-attr]
    await bot.unload_extension("cogs.errors")
    assert bot.tree.on_error.__func__ is app_commands.CommandTree.on_error  # type: ignore[attr-defined]


# ---- prefix commands ---------------------------------------------------------------------------


async def bot_replies(server: DiscordTestServer, count: int) -> list[str]:
    general = server.world.general

    def replies() -> list[str] | None:
        found = [m.content for m in server.messages(general) if m.author.id == server.world.bot.id]
        return found if len(found) >= count else None

    result: list[str] = await server.wait_until(replies, what=f"{count} bot replies")
    return result


async def test_prefix_command_errors_are_sentences_and_unknown_commands_are_ignored(
    discord_server: DiscordTestServer, bot: commands.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    world = discord_server.world
    for text in ("!nosuchcommand", "!add 1", "!add 1 x", "!crash", "!add 2 3"):
        discord_server.inject_message(world.general, world.alice, text)
    replies = await bot_replies(discord_server, 4)
    assert sorted(replies) == sorted(
        [
            "The command needs a value for `b`.",
            'Converting to "int" failed for parameter "b".',
            UNEXPECTED,
            "5",
        ]
    )
    [record] = error_records(caplog)
    assert record.getMessage().startswith("!crash failed for user ")
    assert all(SECRET not in m.content for m in discord_server.messages(world.general))
    assert all(not m.pings.users for m in discord_server.messages(world.general))


# ---- the sentences themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            app_commands.MissingPermissions(["manage_guild", "manage_webhooks"]),
            "You need the Manage Server and Manage Webhooks permissions to use this command.",
        ),
        (
            app_commands.BotMissingPermissions(["embed_links", "send_messages", "attach_files"]),
            "I need the Embed Links, Send Messages and Attach Files permissions in this channel "
            "to do that; ask a server admin to grant it.",
        ),
        (
            app_commands.NoPrivateMessage(),
            "This command only works in a server, not in direct messages.",
        ),
        (
            app_commands.MissingAnyRole(["Moderator", "Editor"]),
            "You need one of these roles to use this command: Moderator, Editor.",
        ),
        (
            app_commands.CommandOnCooldown(app_commands.Cooldown(1, 60), 0.2),
            "This command is cooling down; try again in 1 second.",
        ),
        (app_commands.CheckFailure(), "You are not allowed to use this command here."),
        (
            app_commands.CommandNotFound("gatejumper", []),
            "Discord showed you an outdated version of this command; try again in a minute, "
            "after Discord refreshes its command list.",
        ),
        (UserFacingError("No such blog."), "No such blog."),
        (RuntimeError(SECRET), None),
        (app_commands.AppCommandError(SECRET), None),
    ],
)
def test_app_command_sentences(error: Exception, sentence: str | None) -> None:
    assert app_command_sentence(error) == sentence


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (commands.CheckFailure(), "You are not allowed to use this command here."),
        (
            commands.NoPrivateMessage(),
            "This command only works in a server, not in direct messages.",
        ),
        (commands.DisabledCommand(), "This command is turned off."),
        (commands.TooManyArguments(), "The command got more values than it takes."),
        (
            commands.MaxConcurrencyReached(1, commands.BucketType.guild),
            "This command is already running; try again when it has finished.",
        ),
        (
            commands.HybridCommandError(app_commands.MissingPermissions(["manage_guild"])),
            "You need the Manage Server permission to use this command.",
        ),
        (commands.CommandError(SECRET), None),
    ],
)
def test_prefix_command_sentences(error: Exception, sentence: str | None) -> None:
    assert prefix_command_sentence(error) == sentence
