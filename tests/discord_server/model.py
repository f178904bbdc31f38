"""The server's world: plain dataclasses that tests read to assert what reached "Discord"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .permissions import Overwrite


class ChannelType(IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15

    @property
    def is_thread(self) -> bool:
        return self in (
            ChannelType.ANNOUNCEMENT_THREAD,
            ChannelType.PUBLIC_THREAD,
            ChannelType.PRIVATE_THREAD,
        )


class MessageType(IntEnum):
    DEFAULT = 0
    THREAD_CREATED = 18
    REPLY = 19
    CHAT_INPUT_COMMAND = 20


class MessageFlag:
    """Message flag bits the server sets or accepts."""

    SUPPRESS_EMBEDS = 1 << 2
    HAS_THREAD = 1 << 5
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    avatar: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=utcnow)


@dataclass
class Channel:
    """A guild channel, a thread, or a DM (``guild_id`` None, ``recipient_ids`` its two users);
    thread-only fields are ignored for other types."""

    id: int
    guild_id: int | None
    type: ChannelType
    name: str
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    last_message_id: int | None = None
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: dt.datetime = field(default_factory=utcnow)
    created_at: dt.datetime = field(default_factory=utcnow)
    message_count: int = 0
    total_message_sent: int = 0
    member_ids: set[int] = field(default_factory=set)
    applied_tags: list[int] = field(default_factory=list)
    # DMs
    recipient_ids: list[int] = field(default_factory=list)

    @property
    def is_thread(self) -> bool:
        return self.type.is_thread

    @property
    def is_dm(self) -> bool:
        return self.type == ChannelType.DM

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(frozen=True)
class Pings:
    """Who a message actually notified after Discord applied `allowed_mentions`."""

    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()
    everyone: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.users or self.roles or self.everyone)


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Message:
    """A stored message; `pings` and `allowed_mentions` let tests assert nothing pinged."""

    id: int
    channel_id: int
    guild_id: int | None  # None in a DM
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    type: MessageType = MessageType.DEFAULT
    flags: int = 0
    tts: bool = False
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    pings: Pings = field(default_factory=Pings)
    reference_id: int | None = None
    reference_channel_id: int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    username: str | None = None
    avatar_url: str | None = None
    thread_id: int | None = None
    reactions: dict[str, list[int]] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    edited_at: dt.datetime | None = None
    deleted: bool = False
    position: int | None = None
    edits: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        """The name shown in Discord: the webhook override when there is one."""
        return self.username or self.author.global_name or self.author.username


@dataclass
class Webhook:
    id: int
    token: str
    guild_id: int
    channel_id: int
    name: str
    creator_id: int
    avatar: str | None = None
    application_id: int | None = None
    deleted: bool = False


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    emojis: list[dict[str, Any]] = field(default_factory=list)
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass
class AppCommand:
    id: int
    application_id: int
    name: str
    description: str
    type: int = 1
    guild_id: int | None = None
    options: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    version: int = 1


@dataclass
class InteractionResponse:
    """One callback the bot sent for an interaction (type 4 message, 5 deferred, ...)."""

    type: int
    data: dict[str, Any]
    message_id: int | None


@dataclass
class Interaction:
    id: int
    token: str
    application_id: int
    command_name: str
    command_id: int
    user_id: int
    guild_id: int
    channel_id: int
    options: list[dict[str, Any]] = field(default_factory=list)
    responses: list[InteractionResponse] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.responses)
