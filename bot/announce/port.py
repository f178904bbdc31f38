"""What the announcer core needs from Discord, as a protocol (no discord import).

The core (``bot.announce``) owns ordering and exactly-once delivery; the cog
``cogs.announcer`` implements this protocol with discord.py and maps its
exceptions onto the two error kinds below. Tests use the real discord.py
against the wire-level test server; small unit tests may use a fake port.

Facts of Discord that shape it:
- bot messages accept a ``nonce`` with ``enforce_nonce``: resending with the
  same nonce within a few minutes returns the original message;
- webhook executes have no nonce and cannot be replies, so a webhook send
  whose outcome is unknown is reconciled by looking for its ``marker`` (the
  first 100 characters of the draft's text, stored with the intent) among our
  messages after the last one we know we sent in that thread: a blog sends one
  message at a time, so the only unresolved message there is the one sought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.render.messages import MessageDraft

ChannelKind = Literal["text", "forum", "thread", "other"]


class DiscordError(Exception):
    """A Discord call failed; ``code`` is Discord's JSON error code when known."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class TransientDiscordError(DiscordError):
    """Worth retrying with backoff: 5xx, timeouts, lasting rate limits, not connected."""


class PermanentDiscordError(DiscordError):
    """Retrying will not help until an operator acts: missing permission, unknown channel.

    ``channel_id`` is the target to disable.
    """

    def __init__(
        self, message: str, *, channel_id: int, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.channel_id = channel_id


class MessageGone(DiscordError):
    """The message to edit or delete no longer exists (10008): nothing left to do."""


@dataclass(frozen=True, slots=True)
class Sent:
    """Where a message ended up."""

    channel_id: int  # the channel or thread it is in
    message_id: int
    via_webhook: bool


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """The Discord message that carries the parent comment, and who wrote that comment."""

    channel_id: int
    message_id: int
    author: str | None


class DiscordPort(Protocol):
    async def channel_kind(self, channel_id: int) -> ChannelKind:
        """Raises PermanentDiscordError for an unknown or invisible channel."""
        ...

    async def send_message(
        self,
        channel_id: int,
        draft: MessageDraft,
        *,
        nonce: str,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        """A bot message (announcements, alerts, fallback comments); deduplicated by ``nonce``.

        ``draft.mention_role`` is the only mention allowed to ping.
        """
        ...

    async def start_thread(
        self, channel_id: int, message_id: int, name: str, auto_archive: int
    ) -> int:
        """A thread on an announcement; returns the existing one if the message already has one."""
        ...

    async def create_forum_post(
        self, forum_id: int, name: str, draft: MessageDraft, *, marker: str, auto_archive: int
    ) -> Sent:
        """A forum post (thread + starter message); returns an existing post carrying ``marker``."""
        ...

    async def send_as_author(
        self,
        parent_id: int,
        thread_id: int,
        draft: MessageDraft,
        *,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        """A message under the draft's name and avatar (a webhook of ``parent_id``) in the thread.

        Without Manage Webhooks it falls back to a bot message with an author
        line (logged once). Reopens the thread if it is archived.
        """
        ...

    async def find_sent(
        self, thread_id: int, marker: str, *, after: int | None = None
    ) -> Sent | None:
        """Our message in ``thread_id`` after message ``after`` whose text has ``marker``."""
        ...

    async def edit(self, sent: Sent, parent_id: int, draft: MessageDraft) -> None:
        """Edit a message we sent (through the webhook when it was sent through one)."""
        ...

    async def delete(self, sent: Sent, parent_id: int) -> None: ...
