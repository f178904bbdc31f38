"""The default guild every test starts with: a blog-ish server with a bot, two humans, a forum."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Channel, ChannelType, Guild, Role, User
from .permissions import BOT_DEFAULT, MODERATOR_DEFAULT
from .state import DiscordState


@dataclass(frozen=True)
class World:
    """Handles on the default objects so tests need no id bookkeeping."""

    bot: User
    alice: User
    bob: User
    guild: Guild
    bot_role: Role
    moderator_role: Role
    category: Channel
    announcements: Channel
    general: Channel
    forum: Channel

    @property
    def everyone_role_id(self) -> int:
        return self.guild.id


def build_default_world(state: DiscordState, *, bot_name: str = "Gatejumper") -> World:
    """alice owns the guild and moderates, bob is a plain member, the bot has its managed role."""
    bot = state.add_user(bot_name, bot=True)
    alice = state.add_user("alice", global_name="Alice")
    bob = state.add_user("bob", global_name="Bob")
    guild = state.add_guild("Gatejumper Test Guild", owner=alice)
    bot_role = state.add_role(guild, bot_name, BOT_DEFAULT, bot_id=bot.id)
    moderator = state.add_role(guild, "Moderator", MODERATOR_DEFAULT, mentionable=True)
    state.guild(guild.id).members[alice.id].role_ids.append(moderator.id)
    state.add_member(guild, bot, [bot_role])
    state.add_member(guild, bob)
    category = state.add_channel(guild, "Blog", ChannelType.GUILD_CATEGORY)
    announcements = state.add_channel(
        guild, "announcements", parent=category, topic="New posts from the blog"
    )
    general = state.add_channel(guild, "general", parent=category)
    forum = state.add_channel(
        guild,
        "comments",
        ChannelType.GUILD_FORUM,
        parent=category,
        available_tags=("post", "comment"),
    )
    return World(
        bot=bot,
        alice=alice,
        bob=bob,
        guild=guild,
        bot_role=bot_role,
        moderator_role=moderator,
        category=category,
        announcements=announcements,
        general=general,
        forum=forum,
    )
