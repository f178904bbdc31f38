"""Blog HTML and feed events → Discord message drafts (escaping, splitting, limits).

No discord.py here: the Discord side turns :class:`MessageDraft` into API calls.
"""

from bot.render.limits import split_message, thread_name, truncate_with_link, webhook_username
from bot.render.markdown import escape_markdown, html_to_markdown, plain_excerpt
from bot.render.mentions import neutralise_mentions
from bot.render.messages import EmbedDraft, MessageDraft, render_event

__all__ = [
    "EmbedDraft",
    "MessageDraft",
    "escape_markdown",
    "html_to_markdown",
    "neutralise_mentions",
    "plain_excerpt",
    "render_event",
    "split_message",
    "thread_name",
    "truncate_with_link",
    "webhook_username",
]
