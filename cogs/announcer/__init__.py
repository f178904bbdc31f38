"""Announces posts and relays comments into Discord (the Discord side of ``bot.announce``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.announcer._cog import AnnouncerCog

if TYPE_CHECKING:
    from bot.bridge import Gatejumper


async def setup(bot: Gatejumper) -> None:
    await bot.add_cog(AnnouncerCog(bot))
