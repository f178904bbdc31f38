"""The in-memory store: guilds, channels, messages, webhooks, with Discord's lookups."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import errors
from .model import (
    AppCommand,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
    Webhook,
)
from .permissions import DM_DEFAULT, EVERYONE_DEFAULT, Overwrite, Permission, compute_permissions
from .snowflake import SnowflakeFactory

NONCE_WINDOW_SECONDS = 300.0


def new_token(length: int = 68) -> str:
    """A webhook/interaction token long enough for discord.py's `Webhook.from_url` pattern."""
    return secrets.token_urlsafe(length)[:length]


@dataclass
class _NonceEntry:
    message_id: int
    at: float


@dataclass
class DiscordState:
    """All objects the fake Discord knows about; lookups raise Discord's 404 errors."""

    ids: SnowflakeFactory = field(default_factory=SnowflakeFactory)
    users: dict[int, User] = field(default_factory=dict)
    guilds: dict[int, Guild] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    channel_log: dict[int, list[int]] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    commands: dict[int, AppCommand] = field(default_factory=dict)
    interactions: dict[int, Interaction] = field(default_factory=dict)
    nonce_window: float = NONCE_WINDOW_SECONDS
    _nonces: dict[tuple[int, str], _NonceEntry] = field(default_factory=dict)

    # ---- building the world -------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(id=self.ids.next(), username=username, bot=bot, global_name=global_name)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: User) -> Guild:
        guild = Guild(id=self.ids.next(), name=name, owner_id=owner.id)
        guild.roles[guild.id] = Role(
            id=guild.id, name="@everyone", permissions=int(EVERYONE_DEFAULT)
        )
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        return guild

    def add_role(
        self,
        guild: Guild,
        name: str,
        permissions: Permission | int,
        *,
        mentionable: bool = False,
        bot_id: int | None = None,
    ) -> Role:
        role = Role(
            id=self.ids.next(),
            name=name,
            permissions=int(permissions),
            position=len(guild.roles),
            mentionable=mentionable,
            managed=bot_id is not None,
            bot_id=bot_id,
        )
        guild.roles[role.id] = role
        return role

    def add_member(self, guild: Guild, user: User, roles: Iterable[Role] = ()) -> Member:
        member = Member(user=user, role_ids=[r.id for r in roles])
        guild.members[user.id] = member
        return member

    def add_channel(
        self,
        guild: Guild,
        name: str,
        type: ChannelType = ChannelType.GUILD_TEXT,
        *,
        parent: Channel | None = None,
        topic: str | None = None,
        available_tags: Iterable[str] = (),
    ) -> Channel:
        position = sum(1 for c in self.channels.values() if c.guild_id == guild.id)
        channel = Channel(
            id=self.ids.next(),
            guild_id=guild.id,
            type=type,
            name=name,
            position=position,
            parent_id=parent.id if parent else None,
            topic=topic,
            available_tags=[
                {
                    "id": str(self.ids.next()),
                    "name": tag,
                    "moderated": False,
                    "emoji_id": None,
                    "emoji_name": None,
                }
                for tag in available_tags
            ],
        )
        self.channels[channel.id] = channel
        self.channel_log[channel.id] = []
        return channel

    def add_thread(
        self,
        parent: Channel,
        name: str,
        owner: User,
        *,
        thread_id: int | None = None,
        type: ChannelType = ChannelType.PUBLIC_THREAD,
        auto_archive_duration: int = 1440,
        applied_tags: Iterable[int] = (),
    ) -> Channel:
        """Create a thread; threads started from a message reuse the message id, as on Discord."""
        thread = Channel(
            id=thread_id if thread_id is not None else self.ids.next(),
            guild_id=parent.guild_id,
            type=type,
            name=name,
            parent_id=parent.id,
            owner_id=owner.id,
            auto_archive_duration=auto_archive_duration,
            member_ids={owner.id},
            applied_tags=list(applied_tags),
        )
        self.channels[thread.id] = thread
        self.channel_log[thread.id] = []
        return thread

    def dm_between(self, first: User, second: User) -> Channel | None:
        """The DM channel of these two users, if one was opened."""
        wanted = {first.id, second.id}
        return next(
            (c for c in self.channels.values() if c.is_dm and set(c.recipient_ids) == wanted),
            None,
        )

    def open_dm(self, first: User, second: User) -> tuple[Channel, bool]:
        """The DM channel of two users, created when needed (as Discord does, one per pair);
        returns it and whether it is new."""
        found = self.dm_between(first, second)
        if found is not None:
            return found, False
        channel = Channel(
            id=self.ids.next(),
            guild_id=None,
            type=ChannelType.DM,
            name="",
            recipient_ids=[first.id, second.id],
        )
        self.channels[channel.id] = channel
        self.channel_log[channel.id] = []
        return channel, True

    def store_message(self, message: Message) -> Message:
        """Append a message to its channel and bump the counters Discord keeps."""
        self.messages[message.id] = message
        self.channel_log.setdefault(message.channel_id, []).append(message.id)
        channel = self.channels[message.channel_id]
        channel.last_message_id = message.id
        if channel.is_thread:
            message.position = channel.total_message_sent
            channel.message_count += 1
            channel.total_message_sent += 1
        return message

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        channel = self.channels.get(message.channel_id)
        if channel is not None and channel.is_thread:
            channel.message_count = max(0, channel.message_count - 1)

    def add_webhook(
        self, channel: Channel, name: str, creator: User, avatar: str | None = None
    ) -> Webhook:
        if channel.guild_id is None:
            raise errors.dm_channel()
        webhook = Webhook(
            id=self.ids.next(),
            token=new_token(),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            name=name,
            creator_id=creator.id,
            avatar=avatar,
        )
        self.webhooks[webhook.id] = webhook
        return webhook

    # ---- nonces -------------------------------------------------------------

    def recent_nonce(self, author_id: int, nonce: str) -> int | None:
        """The message id created with this nonce in the last few minutes, if any."""
        entry = self._nonces.get((author_id, nonce))
        if entry is None or time.monotonic() - entry.at > self.nonce_window:
            return None
        return entry.message_id

    def remember_nonce(self, author_id: int, nonce: str, message_id: int) -> None:
        self._nonces[(author_id, nonce)] = _NonceEntry(message_id, time.monotonic())

    # ---- lookups (raise Discord's errors) -----------------------------------

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise errors.unknown("Guild") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise errors.unknown("Channel") from None

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise errors.unknown("User") from None

    def member(self, guild_id: int, user_id: int) -> Member:
        try:
            return self.guild(guild_id).members[user_id]
        except KeyError:
            raise errors.unknown("Member") from None

    def message(self, channel_id: int, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise errors.unknown("Message")
        return message

    def webhook(self, webhook_id: int) -> Webhook:
        webhook = self.webhooks.get(webhook_id)
        if webhook is None or webhook.deleted:
            raise errors.unknown("Webhook")
        return webhook

    def parent_of(self, channel: Channel) -> Channel:
        """The channel whose permissions apply: a thread's parent, or the channel itself."""
        if channel.is_thread and channel.parent_id is not None:
            return self.channels[channel.parent_id]
        return channel

    def permissions(self, user_id: int, channel: Channel) -> Permission:
        if channel.guild_id is None:
            return DM_DEFAULT if user_id in channel.recipient_ids else Permission(0)
        guild = self.guild(channel.guild_id)
        member = guild.members.get(user_id)
        if member is None:
            return Permission(0)
        source = self.parent_of(channel)
        perms = compute_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            user_id=user_id,
            member_role_ids=member.role_ids,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
            overwrites=source.overwrites,
        )
        if not perms & Permission.VIEW_CHANNEL:
            return Permission(0)
        return perms

    def guild_permissions(self, guild_id: int, user_id: int) -> Permission:
        """Permissions from roles alone, as for guild-wide endpoints."""
        guild = self.guild(guild_id)
        member = guild.members.get(user_id)
        if member is None:
            return Permission(0)
        return compute_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            user_id=user_id,
            member_role_ids=member.role_ids,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
            overwrites=(),
        )

    def set_overwrite(
        self, channel: Channel, target_id: int, target_type: int, *, allow: int = 0, deny: int = 0
    ) -> Overwrite:
        for overwrite in channel.overwrites:
            if overwrite.id == target_id and overwrite.type == target_type:
                overwrite.allow, overwrite.deny = allow, deny
                return overwrite
        overwrite = Overwrite(id=target_id, type=target_type, allow=allow, deny=deny)
        channel.overwrites.append(overwrite)
        return overwrite

    # ---- reading ------------------------------------------------------------

    def messages_in(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        """Messages of a channel or thread in creation order."""
        found = (self.messages[i] for i in self.channel_log.get(channel_id, []))
        return [m for m in found if include_deleted or not m.deleted]

    def threads_of(self, parent_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread and c.parent_id == parent_id]

    def guild_channels(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id and not c.is_thread]

    def active_threads(self, guild_id: int) -> list[Channel]:
        return [
            c
            for c in self.channels.values()
            if c.guild_id == guild_id and c.is_thread and not c.archived
        ]

    def webhooks_of(self, channel_id: int) -> list[Webhook]:
        return [w for w in self.webhooks.values() if w.channel_id == channel_id and not w.deleted]
