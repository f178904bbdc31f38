"""How a message is recognised again after a crash: its nonce and its marker.

Every message the announcer creates is part ``part`` of outbox event ``event_id``; that pair
is unique, so it makes a deterministic nonce (bot messages: Discord returns the original
message when a nonce is repeated within its dedupe window).

Sends without a nonce (webhook messages, and the bot-message fallback of
``DiscordPort.send_as_author``) are found again by a *marker*: the first
:data:`MARKER_LENGTH` characters of the message text, searched only among our messages in that
thread newer than the last one we know we sent. A lane has at most one send in flight per
thread, so anything of ours past that point is this draft or nothing; the marker only has to
tell it from other messages of ours (relayed ones, announcements), and its opening text does.
The port must keep those characters verbatim in the message (it may add text around them).
Forum posts are found by the post's link (``create_forum_post`` is idempotent by marker).
"""

from __future__ import annotations

from typing import Final

from bot.render.messages import MessageDraft

NONCE_LIMIT: Final = 25  # Discord's limit for a nonce string
MARKER_LENGTH: Final = 100


def nonce(event_id: int, part: int) -> str:
    """``gj<event>p<part>``: short, unique per message, the same on every retry."""
    value = f"gj{event_id}p{part}"
    if len(value) > NONCE_LIMIT:
        raise ValueError(f"nonce {value!r} is longer than {NONCE_LIMIT} characters")
    return value


def marker(draft: MessageDraft) -> str:
    """The opening text of a message (whitespace trimmed as Discord trims it)."""
    text = draft.content.strip()
    if not text and draft.embed is not None:
        text = draft.embed.url or draft.embed.title or ""
    return text[:MARKER_LENGTH] or draft.key


def forum_marker(draft: MessageDraft) -> str:
    """What identifies a post's forum post: the post's link, else its title, else its key."""
    if draft.embed is not None and (draft.embed.url or draft.embed.title):
        return draft.embed.url or draft.embed.title or draft.key
    return marker(draft)
