"""The announcer's lifecycle: start delivering once the bot is ready, stop cleanly on unload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from discord.ext import commands

from bot.announce import Announcer
from cogs.announcer._port import DiscordPyPort

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

log = logging.getLogger(__name__)

#: How long unloading waits for the message in flight before abandoning it (safe: the
#: intent is recorded, so the next start finds or resends it without a duplicate).
STOP_GRACE_SECONDS: Final = 10.0


class AnnouncerCog(commands.Cog, name="Announcer"):
    """Runs :class:`bot.announce.Announcer` against Discord for as long as the cog is loaded."""

    def __init__(self, bot: Gatejumper) -> None:
        self.bot = bot
        self.port = DiscordPyPort(bot, bot.core.storage)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.announcer = Announcer(self.bot.settings, self.bot.core.storage, self.port)
        self._task = asyncio.create_task(self._deliver(), name="announcer")

    async def cog_unload(self) -> None:
        self._stop.set()
        try:
            await self._stop_delivering()
        finally:
            await self.port.close()

    async def _stop_delivering(self) -> None:
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
        if not done:
            log.warning(
                "the announcer did not stop within %.0fs; abandoning its message",
                STOP_GRACE_SECONDS,
            )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _deliver(self) -> None:
        """Wait for the gateway (the port needs the guild cache), then deliver until stopped."""
        ready = asyncio.ensure_future(self.bot.wait_until_ready())
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            stopping.cancel()
        if self._stop.is_set():
            return
        try:
            await self.bot.announcer.run(self._stop)
        except Exception:
            log.exception("the announcer stopped on an unexpected error; restart Gatejumper")
            raise

    @commands.Cog.listener()
    async def on_events_stored(self, blog: str) -> None:
        """A poll of ``blog`` finished: deliver what it stored without waiting for the next tick."""
        self.bot.announcer.wake(blog)
