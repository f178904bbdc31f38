"""Channel messages and reactions: create (with nonce dedupe), list, fetch, edit, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .. import actions, payloads
from ..errors import DiscordAPIError, archived_thread, dm_channel, invalid_form, unknown
from ..model import Channel, ChannelType, Message
from ..permissions import Permission
from ..validation import check_message
from .base import NO_CONTENT, Call, Reply, RouteTable

routes = RouteTable()

MAX_REACTION_EMOJI = 20
TEXT_TYPES = (
    ChannelType.GUILD_TEXT,
    ChannelType.DM,
    ChannelType.GUILD_ANNOUNCEMENT,
    ChannelType.PUBLIC_THREAD,
    ChannelType.PRIVATE_THREAD,
    ChannelType.ANNOUNCEMENT_THREAD,
)


def text_channel(call: Call, channel_id: int) -> Channel:
    channel = call.state.channel(channel_id)
    if channel.type not in TEXT_TYPES:
        raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
    return channel


def send_permission(channel: Channel) -> Permission:
    return Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES


def check_writable(call: Call, channel: Channel) -> None:
    """Locked archived threads refuse writes unless the bot may manage threads."""
    if channel.is_thread and channel.archived and channel.locked:
        if not call.bot_permissions(channel) & Permission.MANAGE_THREADS:
            raise archived_thread()


def resolve_reference(call: Call, channel: Channel, body: dict[str, Any]) -> Message | None:
    """`message_reference` must point at an existing message unless fail_if_not_exists is false."""
    ref = body.get("message_reference")
    if not ref:
        return None
    if not isinstance(ref, dict) or "message_id" not in ref:
        raise invalid_form(("message_reference",), "DICT_TYPE_CONVERT", "Invalid message reference")
    ref_channel = int(ref.get("channel_id") or channel.id)
    message = call.state.messages.get(int(ref["message_id"]))
    if message is None or message.deleted or message.channel_id != ref_channel:
        if ref.get("fail_if_not_exists", True):
            raise invalid_form(
                ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
        return None
    return message


def dropped_embeds(body: dict[str, Any], perms: Permission) -> list[dict[str, Any]]:
    """Without EMBED_LINKS Discord accepts the message but silently drops its embeds."""
    if not perms & Permission.EMBED_LINKS:
        return []
    return list(body.get("embeds") or [])


@routes.route("POST", "/channels/{channel_id}/messages")
async def create_message(call: Call) -> Reply:
    channel = text_channel(call, call.id("channel_id"))
    perms = call.require(channel, send_permission(channel))
    if call.files and not perms & Permission.ATTACH_FILES:
        raise DiscordAPIError(403, 50013, "Missing Permissions")
    body = call.json_object()
    check_message(body, has_files=bool(call.files))
    check_writable(call, channel)
    nonce = body.get("nonce")
    if nonce is not None and body.get("enforce_nonce"):
        earlier = call.state.recent_nonce(call.bot.id, str(nonce))
        if earlier is not None:
            return Reply(_replay_nonce(call, earlier))
    reference = resolve_reference(call, channel, body)
    message = actions.create_message(
        call.server,
        channel,
        call.bot,
        content=body.get("content") or "",
        embeds=dropped_embeds(body, perms),
        components=body.get("components") or [],
        attachments=call.files,
        allowed_mentions=body.get("allowed_mentions"),
        reference=reference,
        nonce=nonce,
        tts=bool(body.get("tts")),
        flags=int(body.get("flags") or 0),
    )
    if nonce is not None:
        call.state.remember_nonce(call.bot.id, str(nonce), message.id)
    return Reply({**payloads.message(call.state, message), **_nonce_field(message)})


def _replay_nonce(call: Call, message_id: int) -> dict[str, Any]:
    """Same nonce within the window: Discord returns the original (404 if it was deleted)."""
    original = call.state.messages[message_id]
    if original.deleted:
        raise unknown("Message")
    call.server.nonce_hits.append(message_id)
    return {**payloads.message(call.state, original), **_nonce_field(original)}


def _nonce_field(message: Message) -> dict[str, Any]:
    return {"nonce": message.nonce} if message.nonce is not None else {}


@routes.route("GET", "/channels/{channel_id}/messages")
async def list_messages(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    perms = call.require(channel, Permission(0))
    limit = call.query_int("limit", 50, low=1, high=100)
    if not perms & Permission.READ_MESSAGE_HISTORY:
        return Reply([])
    messages = call.state.messages_in(channel.id)
    before, after, around = (call.query_snowflake(k) for k in ("before", "after", "around"))
    if around is not None:
        older = [m for m in messages if m.id < around][-(limit // 2) :] if limit > 1 else []
        newer = [m for m in messages if m.id >= around][: limit - len(older)]
        picked = older + newer
    elif after is not None:
        picked = [m for m in messages if m.id > after][:limit]
    else:
        picked = [m for m in messages if before is None or m.id < before][-limit:]
    return Reply([payloads.message(call.state, m) for m in reversed(picked)])


@routes.route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission.READ_MESSAGE_HISTORY)
    message = call.state.message(channel.id, call.id("message_id"))
    return Reply(payloads.message(call.state, message))


@routes.route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    perms = call.require(channel, Permission(0))
    message = call.state.message(channel.id, call.id("message_id"))
    body = call.json_object()
    if message.author.id != call.bot.id or message.webhook_id is not None:
        only_flags = set(body) <= {"flags"}
        if not (only_flags and perms & Permission.MANAGE_MESSAGES):
            raise DiscordAPIError(403, 50005, "Cannot edit a message authored by another user")
    check_message(body, partial=True)
    if channel.is_thread and channel.archived:
        raise archived_thread()
    if "embeds" in body:
        body = {**body, "embeds": dropped_embeds(body, perms)}
    actions.edit_message(call.server, message, body)
    return Reply(payloads.message(call.state, message))


@routes.route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    perms = call.require(channel, Permission(0))
    message = call.state.message(channel.id, call.id("message_id"))
    own = message.author.id == call.bot.id and message.webhook_id is None
    if not own and not perms & Permission.MANAGE_MESSAGES:
        raise DiscordAPIError(403, 50013, "Missing Permissions")
    if channel.is_thread and channel.archived:
        raise archived_thread()
    actions.delete_message(call.server, message)
    return NO_CONTENT


@routes.route("POST", "/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    if channel.guild_id is None:
        raise dm_channel()
    call.require(channel, Permission.MANAGE_MESSAGES)
    ids = call.json_object().get("messages")
    if not isinstance(ids, list) or not 2 <= len(ids) <= 100:
        raise invalid_form(
            ("messages",), "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length."
        )
    found = [call.state.message(channel.id, int(i)) for i in ids]
    for message in found:
        call.state.delete_message(message)
    call.server.gateway.dispatch(
        "MESSAGE_DELETE_BULK",
        {
            "ids": [str(m.id) for m in found],
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
        },
        guild_id=channel.guild_id,
    )
    return NO_CONTENT


@routes.route("POST", "/channels/{channel_id}/typing")
async def typing(call: Call) -> Reply:
    channel = text_channel(call, call.id("channel_id"))
    call.require(channel, send_permission(channel))
    return NO_CONTENT


# ---- reactions ---------------------------------------------------------------


def emoji_key(call: Call, raw: str) -> str:
    """`name:id` for custom emoji (which must exist in the guild), the character for unicode."""
    emoji = unquote(raw)
    if ":" not in emoji:
        return emoji
    name, _, emoji_id = emoji.partition(":")
    guild_id = call.state.channel(call.id("channel_id")).guild_id
    guilds = (
        [call.state.guild(guild_id)]
        if guild_id is not None
        else [g for g in call.state.guilds.values() if call.bot.id in g.members]
    )  # in a DM, the emoji of any guild the bot is in
    if not any(e.get("id") == emoji_id for g in guilds for e in g.emojis):
        raise unknown("Emoji")
    return f"{name}:{emoji_id}"


def reaction_target(call: Call) -> tuple[Channel, Message, str]:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission.READ_MESSAGE_HISTORY)
    message = call.state.message(channel.id, call.id("message_id"))
    return channel, message, emoji_key(call, call.params["emoji"])


@routes.route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def add_reaction(call: Call) -> Reply:
    channel, message, emoji = reaction_target(call)
    if channel.is_thread and channel.archived:
        raise archived_thread()
    if emoji not in message.reactions:
        if not call.bot_permissions(channel) & Permission.ADD_REACTIONS:
            raise DiscordAPIError(403, 50013, "Missing Permissions")
        if len(message.reactions) >= MAX_REACTION_EMOJI:
            raise DiscordAPIError(400, 30010, "Maximum number of reactions reached (20)")
    actions.add_reaction(call.server, message, call.bot, emoji)
    return NO_CONTENT


@routes.route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def remove_own_reaction(call: Call) -> Reply:
    _, message, emoji = reaction_target(call)
    actions.remove_reaction(call.server, message, call.bot.id, emoji)
    return NO_CONTENT


@routes.route(
    "DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{member_id}"
)
async def remove_reaction(call: Call) -> Reply:
    channel, message, emoji = reaction_target(call)
    call.require(channel, Permission.MANAGE_MESSAGES)
    actions.remove_reaction(call.server, message, call.id("member_id"), emoji)
    return NO_CONTENT


@routes.route("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}")
async def reaction_users(call: Call) -> Reply:
    _, message, emoji = reaction_target(call)
    users = [call.state.users[u] for u in message.reactions.get(emoji, []) if u in call.state.users]
    return Reply([payloads.user(u) for u in users])


@routes.route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions")
async def clear_reactions(call: Call) -> Reply:
    channel, message = reaction_target_no_emoji(call)
    if channel.guild_id is None:
        raise dm_channel()
    call.require(channel, Permission.MANAGE_MESSAGES)
    message.reactions.clear()
    call.server.gateway.dispatch(
        "MESSAGE_REACTION_REMOVE_ALL",
        {
            "channel_id": str(channel.id),
            "message_id": str(message.id),
            "guild_id": str(channel.guild_id),
        },
        guild_id=channel.guild_id,
    )
    return NO_CONTENT


def reaction_target_no_emoji(call: Call) -> tuple[Channel, Message]:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission.READ_MESSAGE_HISTORY)
    return channel, call.state.message(channel.id, call.id("message_id"))
