"""The relay's lifecycle and its listeners: messages, edits and deletions in post threads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

import aiohttp
import discord
from discord.ext import commands

from bot.relay import BlogClients, Relayer
from cogs.announcer._port import DiscordPyPort
from cogs.relay._messages import chat_message

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS: Final = 10.0
BLOG_TIMEOUT_SECONDS: Final = 15.0


class RelayCog(commands.Cog, name="Relay"):
    """Runs :class:`bot.relay.Relayer` for as long as the cog is loaded."""

    def __init__(self, bot: Gatejumper) -> None:
        self.bot = bot
        self.port = DiscordPyPort(bot)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def cog_load(self) -> None:
        user_agent = self.bot.settings.polling.user_agent
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": user_agent},
            timeout=aiohttp.ClientTimeout(total=BLOG_TIMEOUT_SECONDS),
        )
        clients = BlogClients(self._session, self.bot.core.storage)
        self.bot.relayer = Relayer(self.bot.settings, self.bot.core.storage, clients, self.port)
        if self.bot.relayer.enabled:
            self._task = asyncio.create_task(self._run(), name="relay")

    async def cog_unload(self) -> None:
        self._stop.set()
        try:
            if self._task is not None:
                done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
                if not done:
                    log.warning(
                        "the relay did not stop in time; its call in flight is "
                        "reconciled at the next start"
                    )
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._task
        finally:
            await self.port.close()
            if self._session is not None:
                await self._session.close()

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        try:
            await self.bot.relayer.run(self._stop)
        except Exception:
            log.exception("the relay stopped on an unexpected error; restart Gatejumper")
            raise

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self.bot.relayer.enabled or message.author.id == getattr(self.bot.user, "id", None):
            return
        await self._safely("relay a message", self.bot.relayer.accept(chat_message(message)))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if not self.bot.relayer.enabled:
            return
        await self._safely("relay an edit", self.bot.relayer.edited(chat_message(payload.message)))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if self.bot.relayer.enabled:
            await self._safely("relay a deletion", self.bot.relayer.deleted(payload.message_id))

    @commands.Cog.listener()
    async def on_events_stored(self, blog: str) -> None:
        """A poll of ``blog`` finished: a held comment may have been approved meanwhile."""
        if self.bot.relayer.enabled:
            await self._safely("check held comments", self.bot.relayer.check_held(blog))

    async def _safely(self, what: str, work: object) -> None:
        """A failure here is logged; it never reaches discord.py's error handler as a traceback."""
        try:
            await work  # type: ignore[misc]
        except Exception:
            log.exception("could not %s", what)
