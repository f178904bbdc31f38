"""discord.py messages → :class:`bot.relay.ChatMessage` (mentions resolved to readable names)."""

from __future__ import annotations

import discord

from bot.relay import ChatMessage
from bot.relay.content import Attachment


def chat_message(message: discord.Message) -> ChatMessage:
    """What the relay needs of ``message``; names come from its resolved mentions and the cache."""
    author = message.author
    guild = message.guild
    roles = tuple(
        role.id for role in getattr(author, "roles", ()) if guild and role != guild.default_role
    )
    reference = message.reference
    reply_to = (
        reference.message_id
        if reference is not None and reference.channel_id == message.channel.id
        else None
    )
    return ChatMessage(
        message_id=message.id,
        channel_id=message.channel.id,
        guild_id=guild.id if guild is not None else None,
        author_id=author.id,
        author_name=author.display_name,
        content=message.content,
        created_at=message.created_at,
        automated=author.bot or message.webhook_id is not None or message.is_system(),
        role_ids=roles,
        reply_to=reply_to,
        names=mention_names(message),
        attachments=tuple(Attachment(a.filename, a.url) for a in message.attachments),
        edited_at=message.edited_at,
    )


def mention_names(message: discord.Message) -> dict[str, str]:
    """``<@id>``, ``<@!id>``, ``<@&id>`` and ``<#id>`` tokens → ``@Name`` / ``#channel``."""
    names: dict[str, str] = {}
    for user in message.mentions:
        names[f"<@{user.id}>"] = names[f"<@!{user.id}>"] = f"@{user.display_name}"
    guild = message.guild
    for role in message.role_mentions:
        names[f"<@&{role.id}>"] = f"@{role.name}"
    for channel_id in message.raw_channel_mentions:
        channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if channel is not None:
            names[f"<#{channel_id}>"] = f"#{channel.name}"
    if guild is not None:
        for role_id in message.raw_role_mentions:
            cached = guild.get_role(role_id)
            if cached is not None:
                names.setdefault(f"<@&{role_id}>", f"@{cached.name}")
    return names
