"""Rendered embed drafts as discord.py embeds: the one place the two meet.

bot/render builds :class:`~bot.render.messages.EmbedDraft` without knowing
discord.py; the cogs that send (announcer) or show (admin preview) them use
this conversion. The renderer already kept every part within Discord's limits.
"""

from __future__ import annotations

import discord

from bot.render.messages import EmbedDraft


def embed_from_draft(draft: EmbedDraft) -> discord.Embed:
    embed = discord.Embed(
        title=draft.title,
        url=draft.url,
        description=draft.description,
        colour=draft.color,
        timestamp=draft.timestamp,
    )
    if draft.author_name:
        embed.set_author(name=draft.author_name, url=draft.author_url)
    if draft.image_url:
        embed.set_image(url=draft.image_url)
    for name, value, inline in draft.fields:
        embed.add_field(name=name, value=value, inline=inline)
    if draft.footer:
        embed.set_footer(text=draft.footer)
    return embed
