"""The ``/gatejumper`` command group: status, preview and resync, for server managers only.

Discord hides the group from members without Manage Server (``default_permissions``)
unless an admin changes that in the server's Integrations settings; the check on
every command refuses them anyway, so the restriction never depends on that setting.
Every answer is ephemeral and pings nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import BlogConfig
from bot.embeds import embed_from_draft
from cogs.admin._blogs import BlogOption
from cogs.admin._bridge import as_bridge
from cogs.admin._preview import comment_intro, post_intro, read_preview
from cogs.admin._resync import resync as run_resync
from cogs.admin._resync import summary
from cogs.admin._status import read_status, status_embed
from cogs.errors.user_facing import UserFacingError

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

NO_PINGS = discord.AllowedMentions.none()
operators_only = app_commands.checks.has_permissions(manage_guild=True)
Blog = app_commands.Transform[BlogConfig, BlogOption]


class Admin(commands.Cog):
    """Operator commands; see the module docstring for who may run them."""

    gatejumper = app_commands.Group(
        name="gatejumper",
        description="Gatejumper: blog ↔ Discord bridge status and repairs",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
    )

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        as_bridge(bot)  # fail at load time, not at the first command

    @property
    def bridge(self) -> Gatejumper:
        return as_bridge(self.bot)

    @gatejumper.command(name="status")
    @app_commands.describe(blog="Show only this blog")
    @operators_only
    async def status(self, interaction: discord.Interaction[Any], blog: Blog | None = None) -> None:
        """Each blog: last and next poll, failures, last error and Discord queue."""
        blogs = [blog] if blog is not None else list(self.bridge.settings.blogs)
        statuses = await read_status(self.bridge, blogs)
        await interaction.response.send_message(
            embed=status_embed(statuses), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @gatejumper.command(name="preview")
    @app_commands.describe(blog="The blog whose newest post and comment to show")
    @operators_only
    async def preview(self, interaction: discord.Interaction[Any], blog: Blog) -> None:
        """Show (only to you) how the newest post and comment look on Discord."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        bridge = self.bridge
        shown = await read_preview(bridge.settings, bridge.core.storage, blog, datetime.now(UTC))
        if not shown.post and not shown.comment:
            raise UserFacingError(
                f"Nothing of **{blog.name}** is stored yet; run `/gatejumper resync "
                f"blog:{blog.name}` to read the blog now."
            )
        intro = post_intro(shown)
        content = f"{intro}\n{shown.post[0].content}".strip() if shown.post else intro
        embeds = [embed_from_draft(d.embed) for d in shown.post if d.embed is not None]
        await interaction.edit_original_response(
            content=content, embeds=embeds, allowed_mentions=NO_PINGS
        )
        await interaction.followup.send(
            embed=comment_intro(shown), ephemeral=True, allowed_mentions=NO_PINGS
        )
        for draft in shown.comment:
            await interaction.followup.send(
                draft.content, ephemeral=True, allowed_mentions=NO_PINGS
            )

    @gatejumper.command(name="resync")
    @app_commands.describe(blog="The blog to read again now")
    @operators_only
    async def resync(self, interaction: discord.Interaction[Any], blog: Blog) -> None:
        """Read the blog now and send what Discord is missing, without duplicates."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await run_resync(self.bridge, blog)
        await interaction.edit_original_response(content=summary(result), allowed_mentions=NO_PINGS)
