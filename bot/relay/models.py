"""What the relay sees of Discord, and what it asks of it (no discord import here).

The cog ``cogs.relay`` turns discord.py messages into :class:`ChatMessage` and implements
:class:`FeedbackPort`; the errors it raises are the announcer's (:mod:`bot.announce.port`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal, Protocol

from bot.relay.content import Attachment

__all__ = ["Attachment", "ChatMessage", "FeedbackPort", "Verdict"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A Discord message as the relay needs it.

    ``channel_id`` is where it was written (a post's thread, another channel, a DM);
    ``guild_id`` is ``None`` in a DM. ``automated`` covers bots, webhooks (our own mirrored
    comments among them) and system messages: they are never relayed. ``names`` maps the
    message's mention tokens (``<@123>``, ``<@&5>``, ``<#9>``) to readable names.
    ``edited_at`` is set on an edit.
    """

    message_id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    content: str
    created_at: datetime
    automated: bool = False
    role_ids: tuple[int, ...] = ()
    reply_to: int | None = None
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    attachments: tuple[Attachment, ...] = ()
    edited_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the relay made of a message: ``accepted`` (queued for the blog), ``refused`` (the
    author was told why) or ``ignored`` (not ours to relay: a bot, another channel...)."""

    outcome: Literal["accepted", "refused", "ignored"]
    why: str = ""
    relay_id: int | None = None


class FeedbackPort(Protocol):
    """How the relay shows outcomes in Discord. Reactions are idempotent; ``reply`` is a bot
    message answering ``message_id`` (no pings), deduplicated by ``nonce``.

    Raises :class:`~bot.announce.port.MessageGone` when the message was deleted, and the
    announcer port's transient/permanent errors otherwise.
    """

    async def react(self, channel_id: int, message_id: int, emoji: str) -> None: ...

    async def unreact(self, channel_id: int, message_id: int, emoji: str) -> None: ...

    async def reply(self, channel_id: int, message_id: int, text: str, *, nonce: str) -> None: ...
