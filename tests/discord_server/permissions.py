"""Discord permission bits and the guild → channel overwrite algorithm Discord applies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntFlag


class Permission(IntFlag):
    """The permission bits the bridge can run into (values are Discord's)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38

    @classmethod
    def parse(cls, value: Permission | str | Iterable[Permission | str]) -> Permission:
        """Accept a flag, a name like "MANAGE_WEBHOOKS", or several of them."""
        if isinstance(value, Permission):
            return value
        items = [value] if isinstance(value, str) else list(value)
        result = cls(0)
        for item in items:
            if isinstance(item, Permission):
                result |= item
                continue
            try:
                result |= cls[item.upper()]
            except KeyError:
                known = ", ".join(p.name or "" for p in cls)
                raise ValueError(f"unknown permission {item!r}; known: {known}") from None
        return result


EVERYONE_DEFAULT = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CHANGE_NICKNAME
)

BOT_DEFAULT = (
    EVERYONE_DEFAULT
    | Permission.MANAGE_WEBHOOKS
    | Permission.MANAGE_THREADS
    | Permission.MANAGE_MESSAGES
    | Permission.CREATE_PRIVATE_THREADS
)

MODERATOR_DEFAULT = EVERYONE_DEFAULT | Permission.MANAGE_MESSAGES | Permission.MANAGE_THREADS

#: What each recipient of a DM may do there (Discord's implicit DM permissions): no threads,
#: no managing others' messages, no @everyone.
DM_DEFAULT = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.USE_EXTERNAL_EMOJIS
)

ALL = Permission((1 << 50) - 1)


@dataclass
class Overwrite:
    """A channel permission overwrite; type 0 targets a role, type 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def compute_permissions(
    *,
    guild_id: int,
    owner_id: int,
    user_id: int,
    member_role_ids: Iterable[int],
    role_permissions: dict[int, int],
    overwrites: Iterable[Overwrite],
) -> Permission:
    """Discord's documented algorithm: role permissions, then @everyone, role, member overwrites."""
    if user_id == owner_id:
        return ALL
    role_ids = list(member_role_ids)
    base = role_permissions.get(guild_id, 0)
    for role_id in role_ids:
        base |= role_permissions.get(role_id, 0)
    if base & Permission.ADMINISTRATOR:
        return ALL
    by_target = {(o.type, o.id): o for o in overwrites}
    everyone = by_target.get((0, guild_id))
    if everyone is not None:
        base = (base & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in role_ids:
        role_overwrite = by_target.get((0, role_id))
        if role_overwrite is not None:
            allow |= role_overwrite.allow
            deny |= role_overwrite.deny
    base = (base & ~deny) | allow
    member = by_target.get((1, user_id))
    if member is not None:
        base = (base & ~member.deny) | member.allow
    return Permission(base & ALL)
