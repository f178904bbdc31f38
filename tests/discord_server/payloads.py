"""Turns model objects into the JSON Discord sends (REST bodies and gateway dispatch data)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from .model import (
    AppCommand,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Member,
    Message,
    MessageType,
    Role,
    User,
    Webhook,
)
from .state import DiscordState

Json = dict[str, Any]


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def avatar_hash(url: str) -> str:
    """Discord turns an avatar override into an asset hash; derive a stable one from the URL."""
    return hashlib.sha1(url.encode()).hexdigest()


def user(u: User) -> Json:
    return {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "bot": u.bot,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
        "collectibles": None,
    }


def current_user(u: User) -> Json:
    return {**user(u), "mfa_enabled": False, "verified": True, "email": None, "locale": "en-US"}


def member(m: Member, *, with_user: bool = True) -> Json:
    data: Json = {
        "nick": m.nick,
        "roles": [str(r) for r in m.role_ids],
        "joined_at": iso(m.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(m.user)
    return data


def role(r: Role) -> Json:
    data: Json = {
        "id": str(r.id),
        "name": r.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": 0,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    return data


def channel(c: Channel, *, include_guild_id: bool = True) -> Json:
    """A channel or thread object; GUILD_CREATE leaves out guild_id like Discord does."""
    data: Json = {
        "id": str(c.id),
        "type": int(c.type),
        "name": c.name,
        "flags": 0,
        "parent_id": str(c.parent_id) if c.parent_id is not None else None,
        "last_message_id": str(c.last_message_id) if c.last_message_id else None,
        "rate_limit_per_user": 0,
    }
    if include_guild_id:
        data["guild_id"] = str(c.guild_id)
    if c.is_thread:
        data.update(_thread_fields(c))
        return data
    data.update(
        {
            "position": c.position,
            "permission_overwrites": [
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in c.overwrites
            ],
            "nsfw": False,
        }
    )
    if c.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM):
        data.update(
            {
                "topic": c.topic,
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
            }
        )
    if c.type == ChannelType.GUILD_FORUM:
        data.update(
            {
                "available_tags": c.available_tags,
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
                "template": "",
            }
        )
    return data


def dm_channel(state: DiscordState, c: Channel, *, viewer: int | None = None) -> Json:
    """A DM channel object: ``recipients`` are the users other than ``viewer`` (the bot)."""
    others = [state.users[u] for u in c.recipient_ids if u != viewer and u in state.users]
    return {
        "id": str(c.id),
        "type": int(c.type),
        "flags": 0,
        "last_message_id": str(c.last_message_id) if c.last_message_id else None,
        "recipients": [user(u) for u in others],
    }


def _thread_fields(c: Channel) -> Json:
    metadata: Json = {
        "archived": c.archived,
        "auto_archive_duration": c.auto_archive_duration,
        "archive_timestamp": iso(c.archive_timestamp),
        "locked": c.locked,
        "create_timestamp": iso(c.created_at),
    }
    if c.type == ChannelType.PRIVATE_THREAD:
        metadata["invitable"] = True
    return {
        "owner_id": str(c.owner_id),
        "message_count": c.message_count,
        "member_count": len(c.member_ids),
        "total_message_sent": c.total_message_sent,
        "applied_tags": [str(t) for t in c.applied_tags],
        "thread_metadata": metadata,
    }


def webhook_author(m: Message, hook: Webhook | None) -> Json:
    """Webhook messages carry a pseudo-user: the webhook id with the per-message name override."""
    avatar = avatar_hash(m.avatar_url) if m.avatar_url else (hook.avatar if hook else None)
    return {
        "id": str(m.webhook_id),
        "username": m.username or (hook.name if hook else "webhook"),
        "discriminator": "0000",
        "global_name": None,
        "avatar": avatar,
        "bot": True,
        "public_flags": 0,
        "flags": 0,
    }


def message(state: DiscordState, m: Message, *, gateway: bool = False, depth: int = 0) -> Json:
    """A message object; gateway events add guild_id and member, replies embed their target."""
    author = webhook_author(m, state.webhooks.get(m.webhook_id)) if m.webhook_id else user(m.author)
    guild = state.guilds.get(m.guild_id) if m.guild_id is not None else None
    data: Json = {
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "type": int(m.type),
        "author": author,
        "content": m.content,
        "timestamp": iso(m.created_at),
        "edited_timestamp": iso(m.edited_at),
        "tts": m.tts,
        "mention_everyone": m.pings.everyone,
        "mentions": [_mention(state, guild, uid, gateway) for uid in sorted(m.pings.users)],
        "mention_roles": [str(r) for r in sorted(m.pings.roles)],
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "size": a.size,
                "url": f"https://cdn.discordapp.com/attachments/{m.channel_id}/{a.id}/{a.filename}",
                "proxy_url": f"https://media.discordapp.net/attachments/{m.channel_id}/{a.id}/{a.filename}",
                "content_type": a.content_type,
            }
            for a in m.attachments
        ],
        "embeds": m.embeds,
        "components": m.components,
        "pinned": False,
        "flags": m.flags,
    }
    if m.reactions:
        data["reactions"] = [
            _reaction(state, emoji, users) for emoji, users in m.reactions.items() if users
        ]
    if m.webhook_id:
        data["webhook_id"] = str(m.webhook_id)
    if m.application_id:
        data["application_id"] = str(m.application_id)
    if m.position is not None:
        data["position"] = m.position
    if m.thread_id and m.thread_id in state.channels:
        data["thread"] = channel(state.channels[m.thread_id])
    if m.interaction_id and m.interaction_id in state.interactions:
        data["interaction_metadata"] = _interaction_metadata(
            state, state.interactions[m.interaction_id]
        )
    if m.reference_id is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": str(m.reference_id),
            "channel_id": str(m.reference_channel_id or m.channel_id),
        }
        if m.guild_id is not None:
            data["message_reference"]["guild_id"] = str(m.guild_id)
        if m.type == MessageType.REPLY and depth == 0:
            ref = state.messages.get(m.reference_id)
            data["referenced_message"] = (
                message(state, ref, depth=1) if ref is not None and not ref.deleted else None
            )
    if gateway:
        if m.guild_id is not None:  # a DM's events have none
            data["guild_id"] = str(m.guild_id)
        if m.nonce is not None:
            data["nonce"] = m.nonce
        if not m.webhook_id and guild is not None and m.author.id in guild.members:
            data["member"] = member(guild.members[m.author.id], with_user=False)
    return data


def _mention(state: DiscordState, guild: Guild | None, user_id: int, gateway: bool) -> Json:
    u = state.users.get(user_id)
    data: Json = (
        user(u)
        if u is not None
        else {"id": str(user_id), "username": "unknown", "discriminator": "0"}
    )
    if gateway and guild is not None and user_id in guild.members:
        data["member"] = member(guild.members[user_id], with_user=False)
    return data


def _reaction(state: DiscordState, emoji: str, users: list[int]) -> Json:
    bot_id = _bot_id(state)
    return {
        "emoji": emoji_object(emoji),
        "count": len(users),
        "count_details": {"burst": 0, "normal": len(users)},
        "me": bot_id in users,
        "me_burst": False,
        "burst_colors": [],
    }


def _bot_id(state: DiscordState) -> int | None:
    return next((u.id for u in state.users.values() if u.bot), None)


def emoji_object(emoji: str) -> Json:
    """`name:id` for custom emoji, the character itself for unicode emoji."""
    if ":" in emoji:
        name, _, emoji_id = emoji.partition(":")
        return {"id": emoji_id, "name": name, "animated": False}
    return {"id": None, "name": emoji}


def _interaction_metadata(state: DiscordState, i: Interaction) -> Json:
    return {
        "id": str(i.id),
        "type": 2,
        "name": i.command_name,
        "user": user(state.users[i.user_id]),
        "authorizing_integration_owners": {"0": str(i.guild_id)},
    }


def guild(
    state: DiscordState,
    g: Guild,
    *,
    gateway: bool = False,
    with_members: bool = True,
    member_ids: set[int] | None = None,
) -> Json:
    """REST guild object, or the full GUILD_CREATE payload when `gateway` is true."""
    data: Json = {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in g.roles.values()],
        "emojis": g.emojis,
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_members": 500000,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "nsfw": False,
        "premium_progress_bar_enabled": False,
    }
    if not gateway:
        return data
    members = [m for m in g.members.values() if member_ids is None or m.user.id in member_ids]
    data.update(
        {
            "joined_at": iso(g.created_at),
            "large": len(g.members) > 250,
            "unavailable": False,
            "member_count": len(g.members),
            "voice_states": [],
            "members": [member(m) for m in members] if with_members else [],
            "channels": [channel(c, include_guild_id=False) for c in state.guild_channels(g.id)],
            "threads": [channel(c) for c in state.active_threads(g.id)],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
    )
    return data


def webhook(state: DiscordState, w: Webhook, *, with_token: bool = True) -> Json:
    creator = state.users.get(w.creator_id)
    data: Json = {
        "id": str(w.id),
        "type": 1,
        "guild_id": str(w.guild_id),
        "channel_id": str(w.channel_id),
        "name": w.name,
        "avatar": w.avatar,
        "application_id": str(w.application_id) if w.application_id else None,
        "user": user(creator) if creator is not None else None,
    }
    if with_token:
        data["token"] = w.token
    return data


def app_command(c: AppCommand) -> Json:
    data: Json = {
        **c.raw,
        "id": str(c.id),
        "application_id": str(c.application_id),
        "name": c.name,
        "description": c.description,
        "type": c.type,
        "options": c.options,
        "version": str(c.version),
        "default_member_permissions": c.raw.get("default_member_permissions"),
        "nsfw": c.raw.get("nsfw", False),
    }
    if c.guild_id is not None:
        data["guild_id"] = str(c.guild_id)
    return data


def application(bot: User, owner: User) -> Json:
    """`GET /oauth2/applications/@me`: the bot's application, whose id equals the bot user id."""
    return {
        "id": str(bot.id),
        "name": bot.username,
        "icon": None,
        "description": "Gatejumper test application",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(owner),
        "team": None,
        "flags": 0,
        "bot": user(bot),
        "rpc_origins": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": 1,
        "tags": [],
        "redirect_uris": [],
    }
