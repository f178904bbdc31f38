"""How the relay's outcomes look in Discord: ✅ and the comment's link, ⏳ while held, ❌ and
the reason; refusals explained once per person and reason per hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from bot.announce.port import DiscordError, MessageGone
from bot.relay._policy import Refused
from bot.relay.models import ChatMessage, FeedbackPort, Verdict
from bot.storage import Relay, Storage

log = logging.getLogger("bot.relay")

PUBLISHED: Final = "✅"
HELD: Final = "⏳"
FAILED: Final = "❌"
NOTICE_EVERY: Final = timedelta(hours=1)
NOTICES_KEPT: Final = 1000


class Feedback:
    """Shows outcomes recorded in the relay outbox (``relays.feedback`` remembers the last one
    shown, so a crash only repeats an idempotent reaction or a reply Discord dedupes by nonce)."""

    def __init__(self, storage: Storage, port: FeedbackPort, clock: Callable[[], datetime]) -> None:
        self._storage = storage
        self._port = port
        self._clock = clock
        self._showing: dict[str, asyncio.Lock] = {}
        self._noticed: dict[tuple[int, str], datetime] = {}

    async def refuse(
        self, message: ChatMessage, refusal: Refused, *, react: bool = True
    ) -> Verdict:
        """❌ on the message, and the reason once per person and reason per hour."""
        with contextlib.suppress(DiscordError):
            if react:
                await self._port.react(message.channel_id, message.message_id, FAILED)
            key = (message.author_id, refusal.why)
            now = self._clock()
            if len(self._noticed) > NOTICES_KEPT:  # forget those older than an hour
                self._noticed = {k: t for k, t in self._noticed.items() if now - t < NOTICE_EVERY}
            last = self._noticed.get(key)
            if last is None or now - last >= NOTICE_EVERY:
                self._noticed[key] = now
                nonce = f"gjn{message.message_id % 10**18}"
                await self._port.reply(
                    message.channel_id, message.message_id, f"{FAILED} {refusal.why}", nonce=nonce
                )
        return Verdict("refused", refusal.why)

    async def show_outcomes(self, blog: str) -> None:
        """Show every outcome of ``blog`` not shown yet, oldest first; stops at the first
        Discord refuses (tried again at the next call)."""
        async with self._showing.setdefault(blog, asyncio.Lock()):
            await self._show_each(blog)

    async def _show_each(self, blog: str) -> None:
        for row in await self._storage.relays_to_show(blog):
            try:
                await self._show(row)
            except MessageGone:
                pass
            except DiscordError as error:
                log.info(
                    "%s: could not show the outcome of message %s yet: %s",
                    blog,
                    row.message_id,
                    error,
                )
                return
            await self._storage.update_relay(row.id, feedback=row.status)

    async def _show(self, row: Relay) -> None:
        where, message = row.channel_id, row.message_id
        if row.status == "failed":
            if row.op == "create":
                await self._port.react(where, message, FAILED)
            await self._port.reply(where, message, f"{FAILED} {row.reason}", nonce=f"gjf{row.id}")
            return
        if row.op != "create":
            return
        if row.status == "held":
            await self._port.react(where, message, HELD)
            return
        if row.feedback == "held":
            await self._port.unreact(where, message, HELD)
        await self._port.react(where, message, PUBLISHED)
        if row.link:
            text = f"{PUBLISHED} On the blog: <{row.link}>"
            await self._port.reply(where, message, text, nonce=f"gjp{row.id}")
