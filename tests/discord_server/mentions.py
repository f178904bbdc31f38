"""Who a message pings: content mentions filtered through `allowed_mentions`, like Discord does."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import FormErrors
from .model import Pings, Role

USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")
PARSE_TYPES = ("users", "roles", "everyone")


def validate_allowed_mentions(value: Any, errors: FormErrors) -> None:
    """Discord rejects unknown parse types and `parse: [users]` combined with a `users` list."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(
            ("allowed_mentions",),
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        )
        return
    parse = value.get("parse", [])
    if not isinstance(parse, list):
        errors.add(("allowed_mentions", "parse"), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    for index, item in enumerate(parse):
        if item not in PARSE_TYPES:
            errors.add(
                ("allowed_mentions", "parse", index),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {PARSE_TYPES}.",
            )
    for kind in ("users", "roles"):
        ids = value.get(kind, [])
        if kind in parse and ids:
            errors.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(ids) > 100:
            errors.add(
                ("allowed_mentions", kind),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 100 or fewer in length.",
            )


def compute_pings(
    content: str,
    allowed_mentions: Mapping[str, Any] | None,
    *,
    roles: Mapping[int, Role],
    known_users: Iterable[int],
    can_mention_everyone: bool,
    replied_user_id: int | None = None,
    author_id: int | None = None,
) -> Pings:
    """Apply Discord's rules; without `allowed_mentions` everything in the content pings."""
    known = set(known_users)
    users = [int(u) for u in USER_MENTION.findall(content) if int(u) in known]
    role_ids = [int(r) for r in ROLE_MENTION.findall(content) if int(r) in roles]
    everyone = bool(EVERYONE_MENTION.search(content)) and can_mention_everyone
    role_ids = [r for r in role_ids if roles[r].mentionable or can_mention_everyone]

    if allowed_mentions is None:
        replied = replied_user_id is not None
    else:
        parse = set(allowed_mentions.get("parse", []))
        allowed_users = {int(u) for u in allowed_mentions.get("users", [])}
        allowed_roles = {int(r) for r in allowed_mentions.get("roles", [])}
        users = [u for u in users if "users" in parse or u in allowed_users]
        role_ids = [r for r in role_ids if "roles" in parse or r in allowed_roles]
        everyone = everyone and "everyone" in parse
        replied = bool(allowed_mentions.get("replied_user", False))

    pinged = set(users)
    if replied and replied_user_id is not None and replied_user_id != author_id:
        pinged.add(replied_user_id)
    return Pings(users=frozenset(pinged), roles=frozenset(role_ids), everyone=everyone)
