"""An in-memory Discord behind :class:`bot.announce.port.DiscordPort`, faithful where it matters.

- bot messages are deduplicated by nonce (Discord's ``enforce_nonce``): a repeated nonce
  returns the original message; webhook messages have no nonce and are never deduplicated;
- a thread started on a message has that message's id; a forum post's starter message has the
  post's id; ``start_thread`` and ``create_forum_post`` return what already exists;
- unknown channels and forbidden ones raise :class:`PermanentDiscordError`, missing messages
  :class:`MessageGone`; content over 2,000 characters or a bad webhook name is refused;
- faults are programmable per method, before the effect (nothing happened) or after it (it
  happened on Discord, but the caller sees an error); ``hook`` is called before and after
  every call (crash tests raise from it); ``gate`` holds calls to a channel until released.

It is not a mock of discord.py: the real discord.py runs against tests/discord_server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.announce.port import (
    ChannelKind,
    DiscordError,
    MessageGone,
    PermanentDiscordError,
    ReplyTarget,
    Sent,
)
from bot.render.limits import CONTENT_LIMIT, THREAD_NAME_LIMIT, WEBHOOK_USERNAME_MAX
from bot.render.messages import EmbedDraft, MessageDraft

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_PERMISSIONS = 50013

Hook = Callable[[str], None]
_T = TypeVar("_T")


@dataclass
class FakeMessage:
    id: int
    channel_id: int  # the channel or thread it is in
    content: str
    embed: EmbedDraft | None
    via_webhook: bool
    username: str | None = None  # the webhook name; None for the bot's own messages
    avatar_url: str | None = None
    nonce: str | None = None
    reply_to: ReplyTarget | None = None
    mention_role: int | None = None
    edits: int = 0
    deleted: bool = False

    @property
    def text(self) -> str:
        """Everything a search for our text looks at: content and embed texts."""
        parts = [self.content]
        if self.embed is not None:
            parts += [self.embed.title or "", self.embed.url or "", self.embed.description or ""]
        return "\n".join(parts)


@dataclass
class FakeChannel:
    id: int
    kind: ChannelKind
    parent: int | None = None  # for threads
    name: str | None = None
    auto_archive: int | None = None
    archived: bool = False
    reopened: int = 0


@dataclass
class Fault:
    method: str
    error: DiscordError
    times: int = 1
    after_effect: bool = False
    channel: int | None = None


@dataclass
class FakePort:
    """See the module docstring. Ids are increasing snowflake-like integers."""

    next_id: int = 10_000
    webhooks_allowed: bool = True
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    messages: dict[int, FakeMessage] = field(default_factory=dict)
    nonces: dict[str, int] = field(default_factory=dict)
    forbidden: set[int] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    gates: dict[tuple[int, str | None], asyncio.Event] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    hook: Hook | None = None
    event_ids: list[int] = field(default_factory=list)  # what a test queued, for its checks

    # Setting up

    def add_channel(self, channel_id: int, kind: ChannelKind = "text") -> None:
        self.channels[channel_id] = FakeChannel(channel_id, kind)

    def fail(
        self,
        method: str,
        error: DiscordError,
        *,
        times: int = 1,
        after_effect: bool = False,
        channel: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (to ``channel``, if given) raise."""
        self.faults.append(Fault(method, error, times, after_effect, channel))

    def gate(self, channel_id: int, method: str | None = None) -> asyncio.Event:
        """Hold calls (of ``method``, or all) touching ``channel_id`` until the event is set."""
        return self.gates.setdefault((channel_id, method), asyncio.Event())

    # Reading the state

    def live(self, channel_id: int) -> list[FakeMessage]:
        """Messages in a channel or thread now, oldest first."""
        return sorted(
            (m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted),
            key=lambda m: m.id,
        )

    def created(self) -> list[FakeMessage]:
        """Every message ever created, deleted ones included, oldest first."""
        return sorted(self.messages.values(), key=lambda m: m.id)

    def threads(self, parent: int) -> list[FakeChannel]:
        return sorted((c for c in self.channels.values() if c.parent == parent), key=lambda c: c.id)

    def call_count(self, method: str, channel: int | None = None) -> int:
        return sum(1 for m, c in self.calls if m == method and (channel is None or c == channel))

    # DiscordPort

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        await self._enter("channel_kind", channel_id)
        kind = self._channel(channel_id).kind
        return await self._leave("channel_kind", channel_id, kind)

    async def send_message(
        self,
        channel_id: int,
        draft: MessageDraft,
        *,
        nonce: str,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        await self._enter("send_message", channel_id)
        self._writable(channel_id)
        assert len(nonce) <= 25, nonce
        if nonce in self.nonces:
            original = self.messages[self.nonces[nonce]]
            sent = Sent(original.channel_id, original.id, False)
            return await self._leave("send_message", channel_id, sent)
        self._check_draft(draft)
        if reply_to is not None:
            self._replied_to(reply_to)
        self._reopen(channel_id)
        message = self._create(channel_id, draft, via_webhook=False, nonce=nonce, reply=reply_to)
        self.nonces[nonce] = message.id
        sent = Sent(channel_id, message.id, False)
        return await self._leave("send_message", channel_id, sent)

    async def start_thread(
        self, channel_id: int, message_id: int, name: str, auto_archive: int
    ) -> int:
        await self._enter("start_thread", channel_id)
        self._writable(channel_id)
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise MessageGone("Unknown Message", status=404, code=UNKNOWN_MESSAGE)
        assert 1 <= len(name) <= THREAD_NAME_LIMIT, name
        if message_id not in self.channels:
            self.channels[message_id] = FakeChannel(
                message_id, "thread", channel_id, name, auto_archive
            )
        return await self._leave("start_thread", channel_id, message_id)

    async def create_forum_post(
        self, forum_id: int, name: str, draft: MessageDraft, *, marker: str, auto_archive: int
    ) -> Sent:
        await self._enter("create_forum_post", forum_id)
        self._writable(forum_id)
        assert self._channel(forum_id).kind == "forum"
        for thread in self.threads(forum_id):
            starter = self.messages.get(thread.id)
            if starter is not None and marker in starter.text:
                return await self._leave(
                    "create_forum_post", forum_id, Sent(thread.id, thread.id, False)
                )
        self._check_draft(draft)
        assert 1 <= len(name) <= THREAD_NAME_LIMIT, name
        thread_id = self._new_id()
        self.channels[thread_id] = FakeChannel(thread_id, "thread", forum_id, name, auto_archive)
        self._create(thread_id, draft, via_webhook=False, nonce=None, reply=None, at=thread_id)
        return await self._leave("create_forum_post", forum_id, Sent(thread_id, thread_id, False))

    async def send_as_author(
        self,
        parent_id: int,
        thread_id: int,
        draft: MessageDraft,
        *,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        await self._enter("send_as_author", thread_id)
        self._writable(parent_id)
        thread = self._channel(thread_id)
        if thread.parent != parent_id:
            raise PermanentDiscordError(
                "Unknown Channel", channel_id=thread_id, status=404, code=UNKNOWN_CHANNEL
            )
        self._check_draft(draft)
        assert draft.username and len(draft.username) <= WEBHOOK_USERNAME_MAX, draft.username
        assert "discord" not in draft.username.lower(), draft.username
        if reply_to is not None:
            self._replied_to(reply_to)
        self._reopen(thread_id)
        if self.webhooks_allowed:
            message = self._create(thread_id, draft, via_webhook=True, nonce=None, reply=reply_to)
        else:  # the fallback: a bot message with an author line, no nonce
            fallback = MessageDraft(
                content=f"**{draft.username}**\n{draft.content}", kind=draft.kind, key=draft.key
            )
            message = self._create(
                thread_id, fallback, via_webhook=False, nonce=None, reply=reply_to
            )
        sent = Sent(thread_id, message.id, message.via_webhook)
        return await self._leave("send_as_author", thread_id, sent)

    async def find_sent(
        self, thread_id: int, marker: str, *, after: int | None = None
    ) -> Sent | None:
        await self._enter("find_sent", thread_id)
        self._channel(thread_id)
        found = next(
            (
                Sent(m.channel_id, m.id, m.via_webhook)
                for m in self.live(thread_id)
                if (after is None or m.id > after) and marker in m.text
            ),
            None,
        )
        return await self._leave("find_sent", thread_id, found)

    async def edit(self, sent: Sent, parent_id: int, draft: MessageDraft) -> None:
        await self._enter("edit", sent.channel_id)
        message = self._existing(sent, parent_id)
        self._check_draft(draft)
        message.content = draft.content
        message.embed = draft.embed
        message.edits += 1
        await self._leave("edit", sent.channel_id, None)

    async def delete(self, sent: Sent, parent_id: int) -> None:
        await self._enter("delete", sent.channel_id)
        self._existing(sent, parent_id).deleted = True
        await self._leave("delete", sent.channel_id, None)

    # Plumbing

    async def _enter(self, method: str, channel: int) -> None:
        self.calls.append((method, channel))
        if self.hook is not None:
            self.hook(f"before {method}")
        for key in ((channel, None), (channel, method)):
            gate = self.gates.get(key)
            if gate is not None:
                await gate.wait()
        await asyncio.sleep(0)  # a real call gives other tasks a turn
        self._maybe_fail(method, channel, after_effect=False)

    async def _leave(self, method: str, channel: int, result: _T) -> _T:
        self._maybe_fail(method, channel, after_effect=True)
        if self.hook is not None:
            self.hook(f"after {method}")
        return result

    def _maybe_fail(self, method: str, channel: int, *, after_effect: bool) -> None:
        for fault in self.faults:
            if (
                fault.method == method
                and fault.after_effect == after_effect
                and fault.times > 0
                and fault.channel in (None, channel)
            ):
                fault.times -= 1
                raise fault.error

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _channel(self, channel_id: int) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise PermanentDiscordError(
                "Unknown Channel", channel_id=channel_id, status=404, code=UNKNOWN_CHANNEL
            )
        return channel

    def _writable(self, channel_id: int) -> None:
        channel = self._channel(channel_id)
        for target in (channel.id, channel.parent):
            if target in self.forbidden:
                raise PermanentDiscordError(
                    "Missing Permissions", channel_id=target, status=403, code=MISSING_PERMISSIONS
                )

    def _reopen(self, channel_id: int) -> None:
        channel = self._channel(channel_id)
        if channel.archived:
            channel.archived = False
            channel.reopened += 1

    def _replied_to(self, reply: ReplyTarget) -> None:
        target = self.messages.get(reply.message_id)
        if target is None or target.deleted or target.channel_id != reply.channel_id:
            raise MessageGone("Unknown message to reply to", status=400, code=UNKNOWN_MESSAGE)

    def _existing(self, sent: Sent, parent_id: int) -> FakeMessage:
        message = self.messages.get(sent.message_id)
        if message is None or message.deleted:
            raise MessageGone("Unknown Message", status=404, code=UNKNOWN_MESSAGE)
        assert message.channel_id == sent.channel_id, (message, sent)
        assert message.via_webhook == sent.via_webhook, (message, sent)
        where = self._channel(message.channel_id)
        assert parent_id in (where.id, where.parent), (parent_id, where)
        return message

    @staticmethod
    def _check_draft(draft: MessageDraft) -> None:
        if len(draft.content) > CONTENT_LIMIT:
            raise PermanentDiscordError(
                f"content is {len(draft.content)} characters", channel_id=0, status=400, code=50035
            )

    def _create(
        self,
        channel_id: int,
        draft: MessageDraft,
        *,
        via_webhook: bool,
        nonce: str | None,
        reply: ReplyTarget | None,
        at: int | None = None,
    ) -> FakeMessage:
        message = FakeMessage(
            id=at if at is not None else self._new_id(),
            channel_id=channel_id,
            content=draft.content,
            embed=draft.embed,
            via_webhook=via_webhook,
            username=draft.username if via_webhook else None,
            avatar_url=draft.avatar_url if via_webhook else None,
            nonce=nonce,
            reply_to=reply,
            mention_role=draft.mention_role,
        )
        self.messages[message.id] = message
        return message
