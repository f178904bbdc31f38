"""The ``blog`` option: autocompleted from the config, turned into its :class:`BlogConfig`."""

from __future__ import annotations

import difflib
from typing import Any

import discord
from discord import app_commands

from bot.config import BlogConfig, Settings
from cogs.admin._bridge import as_bridge
from cogs.errors.user_facing import UserFacingError

#: Discord shows at most 25 autocomplete choices.
MAX_CHOICES = 25


def find_blog(settings: Settings, name: str) -> BlogConfig:
    """The configured blog called ``name``; a sentence naming the known ones otherwise."""
    wanted = name.strip().lower()
    for blog in settings.blogs:
        if blog.name == wanted:
            return blog
    names = [blog.name for blog in settings.blogs]
    if not names:
        raise UserFacingError("No blogs are configured; add one under `blogs:` in config.yaml.")
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    shown = discord.utils.escape_markdown(discord.utils.escape_mentions(_clip(name)))
    known = ", ".join(f"`{n}`" for n in names[:MAX_CHOICES])
    more = f" and {len(names) - MAX_CHOICES} more" if len(names) > MAX_CHOICES else ""
    raise UserFacingError(f"There is no blog called “{shown}”.{hint} Known blogs: {known}{more}.")


def blog_choices(settings: Settings, current: str) -> list[app_commands.Choice[str]]:
    """Blog names starting with what was typed first, then those containing it."""
    typed = current.strip().lower()
    names = [blog.name for blog in settings.blogs]
    starts = [n for n in names if n.startswith(typed)]
    contains = [n for n in names if typed in n and n not in starts]
    return [app_commands.Choice(name=n, value=n) for n in (starts + contains)[:MAX_CHOICES]]


class BlogOption(app_commands.Transformer):
    """A string option whose value must be a configured blog's name."""

    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> BlogConfig:
        return find_blog(as_bridge(interaction.client).settings, str(value))

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], value: str
    ) -> list[app_commands.Choice[str]]:
        return blog_choices(as_bridge(interaction.client).settings, str(value))


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
