"""The error handler cog: slash and prefix command errors become one short sentence.

Expected failures (permissions, checks, bad input, :class:`UserFacingError`) are
answered and not logged as errors; anything else is logged once, with its
traceback, and the user only reads that the operators were told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs.errors._sentences import UNEXPECTED, app_command_sentence, prefix_command_sentence

log = logging.getLogger(__name__)

TreeErrorHandler = Callable[
    [discord.Interaction[Any], app_commands.AppCommandError], Coroutine[Any, Any, None]
]
NO_PINGS = discord.AllowedMentions.none()


class ErrorHandler(commands.Cog):
    """Owns ``bot.tree.on_error`` while loaded and listens to ``on_command_error``."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._previous_tree_handler: TreeErrorHandler | None = None

    async def cog_load(self) -> None:
        self._previous_tree_handler = self.bot.tree.on_error
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        if self._previous_tree_handler is not None:
            self.bot.tree.on_error = self._previous_tree_handler  # type: ignore[method-assign]

    # -- slash commands ----------------------------------------------------------------

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Answer the interaction with a sentence; log the unexpected with its traceback."""
        sentence = app_command_sentence(error)
        if sentence is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "/%s failed for user %s in guild %s",
                command,
                interaction.user.id,
                interaction.guild_id,
                exc_info=error,
            )
            sentence = UNEXPECTED
        else:
            log.debug("/%s refused: %s", _name(interaction), sentence)
        await tell(interaction, sentence)

    # -- prefix commands ---------------------------------------------------------------

    @commands.Cog.listener()
    async def on_command_error(
        self, ctx: commands.Context[Any], error: commands.CommandError
    ) -> None:
        """Prefix (and hybrid) commands; an unknown command is ignored, not answered."""
        if isinstance(error, commands.CommandNotFound):
            return
        if ctx.command is not None and ctx.command.has_error_handler():
            return
        sentence = prefix_command_sentence(error)
        if sentence is None:
            log.error(
                "%s%s failed for user %s in guild %s",
                ctx.clean_prefix,
                ctx.command.qualified_name if ctx.command else "?",
                ctx.author.id,
                ctx.guild.id if ctx.guild else None,
                exc_info=error,
            )
            sentence = UNEXPECTED
        try:
            await ctx.send(sentence, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not tell %s about a failed command: %s", ctx.author.id, exc)


async def tell(interaction: discord.Interaction[Any], sentence: str) -> None:
    """Reply ephemerally, whatever state the interaction is in (fresh, deferred, answered)."""
    if interaction.type is discord.InteractionType.autocomplete:
        return  # autocomplete cannot show text; discord.py already logged the failure
    response = interaction.response
    try:
        if not response.is_done():
            await response.send_message(sentence, ephemeral=True, allowed_mentions=NO_PINGS)
        elif response.type is discord.InteractionResponseType.deferred_channel_message:
            await interaction.edit_original_response(content=sentence, allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(sentence, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning(
            "could not tell user %s why /%s failed: %s",
            interaction.user.id,
            _name(interaction),
            exc,
        )


def _name(interaction: discord.Interaction[Any]) -> str:
    return interaction.command.qualified_name if interaction.command else "?"
