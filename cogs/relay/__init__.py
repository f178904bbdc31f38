"""Relays replies written in a post's thread back to the blog (Discord side of ``bot.relay``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.relay._cog import RelayCog

if TYPE_CHECKING:
    from bot.bridge import Gatejumper


async def setup(bot: Gatejumper) -> None:
    await bot.add_cog(RelayCog(bot))
