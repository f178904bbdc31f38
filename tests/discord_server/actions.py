"""State changes plus the gateway events Discord sends for them (used by REST and injection)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import payloads
from .mentions import compute_pings
from .model import (
    Attachment,
    Channel,
    ChannelType,
    Message,
    MessageFlag,
    MessageType,
    Role,
    User,
    Webhook,
    utcnow,
)
from .permissions import Permission

if TYPE_CHECKING:
    from .server import DiscordTestServer


def create_message(
    server: DiscordTestServer,
    channel: Channel,
    author: User,
    *,
    content: str = "",
    embeds: Iterable[dict[str, Any]] = (),
    components: Iterable[dict[str, Any]] = (),
    attachments: Iterable[Attachment] = (),
    allowed_mentions: dict[str, Any] | None = None,
    reference: Message | None = None,
    nonce: str | int | None = None,
    tts: bool = False,
    flags: int = 0,
    webhook: Webhook | None = None,
    username: str | None = None,
    avatar_url: str | None = None,
    message_id: int | None = None,
    type: MessageType | None = None,
    application_id: int | None = None,
    interaction_id: int | None = None,
    dispatch: bool = True,
) -> Message:
    """Store a message (unarchiving its thread like Discord does) and dispatch MESSAGE_CREATE."""
    state = server.state
    if channel.is_thread and channel.archived:
        update_thread(server, channel, archived=False)
    can_everyone = webhook is not None or bool(
        state.permissions(author.id, channel) & Permission.MENTION_EVERYONE
    )
    pings = compute_pings(
        content,
        allowed_mentions,
        roles=_roles(server, channel.guild_id),
        known_users=state.users,
        can_mention_everyone=can_everyone,
        replied_user_id=_replied_user(reference),
        author_id=author.id,
    )
    message = Message(
        id=message_id if message_id is not None else state.ids.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=author,
        content=content,
        embeds=list(embeds),
        components=list(components),
        attachments=list(attachments),
        type=type
        if type is not None
        else (MessageType.REPLY if reference else MessageType.DEFAULT),
        flags=flags,
        tts=tts,
        nonce=nonce,
        allowed_mentions=allowed_mentions,
        pings=pings,
        reference_id=reference.id if reference else None,
        reference_channel_id=reference.channel_id if reference else None,
        webhook_id=webhook.id if webhook else None,
        username=username,
        avatar_url=avatar_url,
        application_id=application_id,
        interaction_id=interaction_id,
    )
    state.store_message(message)
    if dispatch:
        server.gateway.dispatch(
            "MESSAGE_CREATE",
            payloads.message(state, message, gateway=True),
            guild_id=channel.guild_id,
        )
    server.notify()
    return message


def _roles(server: DiscordTestServer, guild_id: int | None) -> dict[int, Role]:
    """The roles mentions may name: a guild's, none in a DM."""
    return server.state.guild(guild_id).roles if guild_id is not None else {}


def with_guild(data: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
    """Event data with ``guild_id``, which Discord leaves out for DMs."""
    return {**data, "guild_id": str(guild_id)} if guild_id is not None else data


def open_dm(server: DiscordTestServer, bot: User, user: User) -> Channel:
    """The DM of the bot and ``user``, opened when needed (Discord sends bots no CHANNEL_CREATE
    for DMs: the first MESSAGE_CREATE, without ``guild_id``, is how they learn of it)."""
    channel, _ = server.state.open_dm(bot, user)
    server.notify()
    return channel


def _replied_user(reference: Message | None) -> int | None:
    if reference is None or reference.webhook_id is not None:
        return None
    return reference.author.id


def edit_message(server: DiscordTestServer, message: Message, changes: dict[str, Any]) -> Message:
    """Apply an edit body (content, embeds, components, allowed_mentions, flags); MESSAGE_UPDATE."""
    state = server.state
    if "content" in changes:
        message.edits.append(message.content)
        message.content = changes["content"] or ""
    if "embeds" in changes:
        message.embeds = list(changes["embeds"] or [])
    if "components" in changes:
        message.components = list(changes["components"] or [])
    if "flags" in changes and changes["flags"] is not None:
        keep = message.flags & ~MessageFlag.SUPPRESS_EMBEDS
        message.flags = keep | (int(changes["flags"]) & MessageFlag.SUPPRESS_EMBEDS)
    if "allowed_mentions" in changes:
        message.allowed_mentions = changes["allowed_mentions"]
    if "content" in changes or "allowed_mentions" in changes:
        message.pings = compute_pings(
            message.content,
            message.allowed_mentions,
            roles=_roles(server, message.guild_id),
            known_users=state.users,
            can_mention_everyone=False,
            author_id=message.author.id,
        )
    message.flags &= ~MessageFlag.LOADING
    message.edited_at = utcnow()
    if not message.flags & MessageFlag.EPHEMERAL:
        server.gateway.dispatch(
            "MESSAGE_UPDATE",
            payloads.message(state, message, gateway=True),
            guild_id=message.guild_id,
        )
    server.notify()
    return message


def delete_message(server: DiscordTestServer, message: Message) -> None:
    server.state.delete_message(message)
    if message.flags & MessageFlag.EPHEMERAL:
        server.notify()
        return
    server.gateway.dispatch(
        "MESSAGE_DELETE",
        with_guild(
            {"id": str(message.id), "channel_id": str(message.channel_id)}, message.guild_id
        ),
        guild_id=message.guild_id,
    )
    server.notify()


def create_thread(
    server: DiscordTestServer,
    parent: Channel,
    name: str,
    owner: User,
    *,
    starter: Message | None = None,
    thread_id: int | None = None,
    type: ChannelType = ChannelType.PUBLIC_THREAD,
    auto_archive_duration: int = 1440,
    applied_tags: Iterable[int] = (),
) -> Channel:
    """A thread from a message takes the message's id; THREAD_CREATE then the starter's update."""
    state = server.state
    if starter is not None:
        thread_id = starter.id
    thread = state.add_thread(
        parent,
        name,
        owner,
        thread_id=thread_id,
        type=type,
        auto_archive_duration=auto_archive_duration,
        applied_tags=applied_tags,
    )
    data = {**payloads.channel(thread), "newly_created": True}
    server.gateway.dispatch("THREAD_CREATE", data, guild_id=thread.guild_id)
    if starter is not None:
        starter.thread_id = thread.id
        starter.flags |= MessageFlag.HAS_THREAD
        server.gateway.dispatch(
            "MESSAGE_UPDATE",
            payloads.message(state, starter, gateway=True),
            guild_id=thread.guild_id,
        )
    server.notify()
    return thread


def update_thread(server: DiscordTestServer, thread: Channel, **changes: Any) -> Channel:
    """Change thread fields (archived, locked, name, ...) and dispatch THREAD_UPDATE."""
    for key, value in changes.items():
        if not hasattr(thread, key):
            raise AttributeError(f"threads have no field {key!r}")
        setattr(thread, key, value)
    if "archived" in changes or "locked" in changes:
        thread.archive_timestamp = utcnow()
    server.gateway.dispatch("THREAD_UPDATE", payloads.channel(thread), guild_id=thread.guild_id)
    server.notify()
    return thread


def update_channel(server: DiscordTestServer, channel: Channel) -> None:
    server.gateway.dispatch("CHANNEL_UPDATE", payloads.channel(channel), guild_id=channel.guild_id)
    server.notify()


def add_reaction(server: DiscordTestServer, message: Message, user: User, emoji: str) -> bool:
    """Record a reaction; returns False (and sends nothing) when the user had already reacted."""
    users = message.reactions.setdefault(emoji, [])
    if user.id in users:
        return False
    users.append(user.id)
    data: dict[str, Any] = {
        "user_id": str(user.id),
        "channel_id": str(message.channel_id),
        "message_id": str(message.id),
        "emoji": payloads.emoji_object(emoji),
        "burst": False,
        "burst_colors": [],
        "type": 0,
        "message_author_id": str(message.webhook_id or message.author.id),
    }
    data = with_guild(data, message.guild_id)
    if message.guild_id is not None:
        guild = server.state.guild(message.guild_id)
        if user.id in guild.members:
            data["member"] = payloads.member(guild.members[user.id])
    server.gateway.dispatch("MESSAGE_REACTION_ADD", data, guild_id=message.guild_id)
    server.notify()
    return True


def remove_reaction(server: DiscordTestServer, message: Message, user_id: int, emoji: str) -> bool:
    users = message.reactions.get(emoji, [])
    if user_id not in users:
        return False
    users.remove(user_id)
    if not users:
        del message.reactions[emoji]
    server.gateway.dispatch(
        "MESSAGE_REACTION_REMOVE",
        with_guild(
            {
                "user_id": str(user_id),
                "channel_id": str(message.channel_id),
                "message_id": str(message.id),
                "emoji": payloads.emoji_object(emoji),
                "burst": False,
                "type": 0,
            },
            message.guild_id,
        ),
        guild_id=message.guild_id,
    )
    server.notify()
    return True


def webhooks_changed(server: DiscordTestServer, channel_id: int, guild_id: int) -> None:
    server.gateway.dispatch(
        "WEBHOOKS_UPDATE",
        {"guild_id": str(guild_id), "channel_id": str(channel_id)},
        guild_id=guild_id,
    )
    server.notify()
