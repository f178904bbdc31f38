"""Operator commands: ``/gatejumper status``, ``preview`` and ``resync`` (Manage Server only)."""

from __future__ import annotations

from discord.ext import commands

from cogs.admin._cog import Admin


async def setup(bot: commands.Bot) -> None:
    """Load the ``/gatejumper`` group; the bot must be the Gatejumper bridge (fails otherwise)."""
    await bot.add_cog(Admin(bot))
