"""Who may relay, as whom: the per-blog rules of ``relay:`` in config.yaml (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.config import BlogConfig
from bot.relay.models import ChatMessage

GUEST_SUFFIX = " (via Discord)"


@dataclass(frozen=True, slots=True)
class Linked:
    """A linked author (``relay.authors``): as their own account when its password is
    configured (``own_account``), else named after it through the blog's account."""

    username: str
    own_account: bool


@dataclass(frozen=True, slots=True)
class Guest:
    """Through the blog's own account, under ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Refused:
    """Not relayed; ``why`` is the sentence the author is shown."""

    why: str


Identity = Linked | Guest | Refused


def identity(blog: BlogConfig, message: ChatMessage) -> Identity:
    """As whom ``message`` goes to ``blog``, or why it does not."""
    relay = blog.relay
    linked = relay.authors.get(message.author_id)
    if linked is not None:
        return Linked(linked.username, own_account=linked.app_password_env is not None)
    if relay.guests == "off":
        return Refused(
            "This blog only takes replies from Discord members linked to a blog account; "
            "ask an admin to link yours, or comment on the blog itself."
        )
    if relay.allowed_roles and not set(relay.allowed_roles) & set(message.role_ids):
        return Refused(
            "Only members with an allowed role can reply to the blog from Discord; "
            "your message stays here in the thread."
        )
    return Guest(guest_name(message.author_name))


def guest_name(display_name: str) -> str:
    """The name a guest comment carries on the blog."""
    name = " ".join(display_name.split()) or "Discord member"
    return f"{name[:200]}{GUEST_SUFFIX}"


def too_long(blog: BlogConfig, message: ChatMessage) -> Refused | None:
    if len(message.content) <= blog.relay.max_length:
        return None
    return Refused(
        f"This reply is {len(message.content):,} characters long; the blog takes at most "
        f"{blog.relay.max_length:,} from Discord, so it was not posted there."
    )


def too_fast(blog: BlogConfig, recent: int) -> Refused | None:
    """``recent``: the author's messages accepted in the last minute."""
    limit = blog.relay.per_user_per_minute
    if recent < limit:
        return None
    return Refused(
        f"You are replying faster than the blog takes ({limit} per minute); "
        "this message was not posted there. Wait a moment and write again."
    )


_UNITS = ((3600, "hour"), (60, "minute"), (1, "second"))


def edit_too_late(window: timedelta) -> Refused:
    seconds = window.total_seconds()
    count, unit = next(
        (seconds / size, unit) for size, unit in _UNITS if seconds >= size or size == 1
    )
    span = f"{count:g} {unit}{'' if count == 1 else 's'}"
    return Refused(
        f"Changes made more than {span} after writing are not carried to the blog; "
        "the blog keeps the earlier version."
    )


DM_REFUSAL = Refused(
    "I only carry replies written in a blog post's thread to the blog; "
    "messages sent to me directly are not posted anywhere."
)
