"""The sink ``gatejumper run --dry-run`` uses: print the messages events would become.

Each message is a block headed by where it would go, then who it would come
from, its content as Discord would receive it, and its embed field by field.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TextIO

from bot.config import BlogConfig
from bot.events import Event
from bot.render.messages import EmbedDraft, MessageDraft, render_event

__all__ = ["ConsoleSink", "format_draft"]

log = logging.getLogger(__name__)

_INDENT = "  "


def _header(draft: MessageDraft) -> str:
    target = f"#{draft.channel}" if draft.channel is not None else "#(no channel)"
    if draft.thread:
        target += f' › {"new thread" if draft.kind == "post" else "thread"} "{draft.thread}"'
    tags: list[str] = []
    if draft.kind in ("edit", "delete"):
        tags.append(f"{draft.kind} {draft.key}")
    elif draft.kind == "alert":
        tags.append("alert")
    if draft.parts > 1:
        tags.append(f"part {draft.part}/{draft.parts}")
    return "── " + target + "".join(f" · {tag}" for tag in tags) + " ──"


def _labelled(label: str, value: str) -> list[str]:
    """``label: value`` with continuation lines aligned under the value."""
    first, *rest = value.split("\n")
    pad = " " * (len(_INDENT) + len(label) + 2)
    return [f"{_INDENT}{label}: {first}", *(pad + line for line in rest)]


def _embed_lines(embed: EmbedDraft) -> list[str]:
    lines = ["embed:"]
    author = embed.author_name or ""
    if embed.author_url:
        author = f"{author} ({embed.author_url})" if author else embed.author_url
    for label, value in (
        ("title", embed.title),
        ("url", embed.url),
        ("author", author),
        ("description", embed.description),
        ("image", embed.image_url),
    ):
        if value:
            lines += _labelled(label, value)
    for name, value, _inline in embed.fields:
        lines += _labelled(name.lower(), value)
    if embed.timestamp is not None:
        lines += _labelled("time", embed.timestamp.isoformat())
    if embed.footer:
        lines += _labelled("footer", embed.footer)
    return lines


def format_draft(draft: MessageDraft) -> str:
    """A draft as a readable, stable block of lines ending in a newline."""
    lines = [_header(draft)]
    reply = f"(reply to {draft.reply_to})" if draft.reply_to else ""
    if draft.username:
        lines.append(f"author: {draft.username}" + (f"   {reply}" if reply else ""))
    elif reply:
        lines.append(reply)
    if draft.content:
        lines += draft.content.split("\n")
    if draft.embed is not None:
        lines += _embed_lines(draft.embed)
    return "\n".join(lines) + "\n"


class ConsoleSink:
    """Print each event's drafts to a text stream (standard output by default)."""

    def __init__(
        self,
        blogs: Mapping[str, BlogConfig],
        *,
        alerts_channel: int | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.blogs = blogs
        self.alerts_channel = alerts_channel
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    async def deliver(self, event: Event) -> None:
        blog = self.blogs.get(event.blog)
        if blog is None:
            log.warning("no configuration for blog %r; %s not shown", event.blog, event.type)
            self._write(f"!! {event.type} for unknown blog {event.blog!r} skipped\n\n")
            return
        drafts = render_event(event, blog, alerts_channel=self.alerts_channel)
        if not drafts:
            self._write(f"-- {event.type} for {event.blog}: nothing to post\n\n")
            return
        self._write("".join(format_draft(draft) + "\n" for draft in drafts))

    def _write(self, text: str) -> None:
        """Write ``text`` even where the stream cannot encode it, then flush."""
        stream = self.stream
        encoding = getattr(stream, "encoding", None)
        if encoding:
            text = text.encode(encoding, "backslashreplace").decode(encoding)
        stream.write(text)
        stream.flush()
