"""One error handler for every command: failures read as one short sentence."""

from __future__ import annotations

from discord.ext import commands

from cogs.errors._cog import ErrorHandler


async def setup(bot: commands.Bot) -> None:
    """Load the error handler; it takes over ``bot.tree.on_error`` until unloaded."""
    await bot.add_cog(ErrorHandler(bot))
