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
        self._catching_up: asyncio.Task[None] | None = None
        self._read_again = False
        # Set once the catch-up of the current gateway session has read the threads' history:
        # a live message accepted before it would move its thread's cursor past the messages
        # written while the bot was offline (never relayed then) and go to the blog first.
        self._caught_up = asyncio.Event()
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
        if self._catching_up is not None:
            self._catching_up.cancel()
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
        """Every message, even on blogs without the relay: the relay keeps its place in each
        post thread, so that turning it on later relays nothing written before."""
        if message.author.id == getattr(self.bot.user, "id", None):
            return
        if self.bot.relayer.enabled:
            await self._caught_up.wait()
        await self._safely("relay a message", self.bot.relayer.accept(chat_message(message)))

    @commands.Cog.listener()
    async def on_connect(self) -> None:
        """A new gateway session (READY; not a resume): live messages wait for its catch-up."""
        if self.bot.relayer.enabled:
            self._caught_up.clear()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Connected (again, perhaps after a while): relay what was written meanwhile."""
        if not self.bot.relayer.enabled:
            return
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up(), name="relay catch-up")
        else:  # a new session while the last one's catch-up still reads: read once more after
            self._read_again = True

    async def _catch_up(self) -> None:
        try:
            self._read_again = True
            while self._read_again:
                self._read_again = False
                await self._read_missed()
        finally:
            self._caught_up.set()

    async def _read_missed(self) -> None:
        relayer = self.bot.relayer
        try:
            todo = await relayer.catch_up_from(self._newest_message)
        except Exception:
            log.exception("could not read where to catch up")
            return
        for thread_id, after in todo:
            channel = self.bot.get_channel(thread_id)
            if not isinstance(channel, discord.Thread):
                continue
            caught = 0
            try:
                async for message in channel.history(
                    after=discord.Object(after), oldest_first=True, limit=None
                ):
                    if message.author.id != getattr(self.bot.user, "id", None):
                        await relayer.accept(chat_message(message))
                        caught += 1
            except discord.HTTPException as error:
                log.warning("could not read thread %s to catch up: %s", thread_id, error)
            except Exception:
                log.exception("catching up thread %s failed", thread_id)
            if caught:
                log.info(
                    "thread %s: %d messages written while offline looked at", thread_id, caught
                )

    def _newest_message(self, thread_id: int) -> int | None:
        """The newest message id of an active thread, from the gateway's cache."""
        channel = self.bot.get_channel(thread_id)
        return channel.last_message_id if isinstance(channel, discord.Thread) else None

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
            await self._safely("check the blog accounts", self.bot.relayer.check_accounts(blog))
            await self._safely("check held comments", self.bot.relayer.check_held(blog))

    async def _safely(self, what: str, work: object) -> None:
        """A failure here is logged; it never reaches discord.py's error handler as a traceback."""
        try:
            await work  # type: ignore[misc]
        except Exception:
            log.exception("could not %s", what)
