"""Discord's size limits, and the splitting and clamping that keep drafts inside them.

Lengths are counted in code points, as Discord's API counts them.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bot.render.mentions import neutralise_mentions

if TYPE_CHECKING:
    from bot.render.messages import EmbedDraft

__all__ = [
    "CONTENT_LIMIT",
    "EMBED_AUTHOR_NAME_LIMIT",
    "EMBED_DESCRIPTION_LIMIT",
    "EMBED_FIELD_NAME_LIMIT",
    "EMBED_FIELD_VALUE_LIMIT",
    "EMBED_FOOTER_LIMIT",
    "EMBED_MAX_FIELDS",
    "EMBED_TITLE_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "FORBIDDEN_USERNAMES",
    "FORBIDDEN_USERNAME_SUBSTRINGS",
    "THREAD_NAME_LIMIT",
    "WEBHOOK_USERNAME_FALLBACK",
    "WEBHOOK_USERNAME_MAX",
    "WEBHOOK_USERNAME_MIN",
    "SplitPart",
    "clamp_embed",
    "embed_length",
    "plan_split",
    "shorten",
    "split_message",
    "thread_name",
    "truncate_with_link",
    "webhook_username",
]

CONTENT_LIMIT: Final = 2000
EMBED_TITLE_LIMIT: Final = 256
EMBED_DESCRIPTION_LIMIT: Final = 4096
EMBED_FIELD_NAME_LIMIT: Final = 256
EMBED_FIELD_VALUE_LIMIT: Final = 1024
EMBED_FOOTER_LIMIT: Final = 2048
EMBED_AUTHOR_NAME_LIMIT: Final = 256
EMBED_TOTAL_LIMIT: Final = 6000
EMBED_MAX_FIELDS: Final = 25
THREAD_NAME_LIMIT: Final = 100
WEBHOOK_USERNAME_MIN: Final = 1
WEBHOOK_USERNAME_MAX: Final = 80
WEBHOOK_USERNAME_FALLBACK: Final = "Guest"
FORBIDDEN_USERNAMES: Final = frozenset({"everyone", "here", "system message"})
FORBIDDEN_USERNAME_SUBSTRINGS: Final = ("discord", "clyde")

ELLIPSIS: Final = "…"
EMPTY_FIELD: Final = "\u200b"  # Discord rejects empty field names and values
THREAD_NAME_FALLBACK: Final = "Untitled post"

_CLOSE_FENCE: Final = "\n```"
_MIN_BODY: Final = 16
_FENCE: Final = re.compile(r"```([\w+#-]{0,20})")  # a language name, never a whole line
_SENTENCE_END: Final = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_WHITESPACE: Final = re.compile(r"\s+")
# Cyrillic look-alikes for the letters that make Discord refuse a webhook name.
_LOOKALIKE: Final = {"discord": ("o", "\u043e", "\u041e"), "clyde": ("e", "\u0435", "\u0415")}
_FORBIDDEN_SUBSTRING: Final = re.compile("|".join(FORBIDDEN_USERNAME_SUBSTRINGS), re.IGNORECASE)


# -- cutting --------------------------------------------------------------------
def _backslash_run(text: str) -> int:
    return len(text) - len(text.rstrip("\\"))


def _hard_cut(text: str, limit: int) -> int:
    """A cut at ``limit`` nudged left so it splits no escape, CRLF, backtick run or
    combined character (by a few characters at most)."""
    cut, floor = limit, max(1, limit - 16)
    while cut > floor and (
        unicodedata.combining(text[cut])
        or text[cut] in "\u200d\ufe0f"
        or text[cut - 1] == "\u200d"
        or (text[cut - 1] == "\r" and text[cut] == "\n")
        or (text[cut - 1] == "`" and text[cut] == "`")
    ):
        cut -= 1
    if cut > 1 and _backslash_run(text[:cut]) % 2:
        cut -= 1
    return cut


def _best_cut(text: str, limit: int) -> int:
    """Where to cut ``text`` so ``text[:cut]`` fits ``limit``: paragraph, line, sentence,
    word, else hard. A boundary is only taken if it keeps at least half the room.
    """
    if len(text) <= limit:
        return len(text)
    floor = max(1, limit // 2)
    for separator in ("\n\n", "\n"):
        at = text.rfind(separator, 0, limit + len(separator))
        if at >= floor:
            return at
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1)]
    if sentence_ends and floor <= sentence_ends[-1] <= limit:
        return sentence_ends[-1]
    for at in range(limit, max(1, limit // 4) - 1, -1):
        if text[at].isspace() and text[:at].strip():
            return at
    return _hard_cut(text, limit)


def _fence_after(fence: str | None, text: str) -> str | None:
    """The code fence left open after ``text`` (its opening line), given the one open before."""
    for match in _FENCE.finditer(text):
        if fence is not None:
            fence = None
            continue
        line_ends = text[match.end() : match.end() + 1] in ("", "\n", "\r")
        fence = match.group(0) if line_ends else "```"
    return fence


# -- splitting --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SplitPart:
    """One message of a split text: a verbatim slice of it plus what the split added.

    ``reopen`` is a code fence re-opened at the start (the text was cut inside a
    code block), ``close`` a fence closed at the end, ``suffix`` the caller's
    suffix on the last part. ``render()`` gives the message content.
    """

    body: str
    number: int
    total: int
    reopen: str | None = None
    close: bool = False
    suffix: str = ""

    @property
    def label(self) -> str:
        return f"\n({self.number}/{self.total})" if self.total > 1 else ""

    def render(self) -> str:
        start = f"{self.reopen}\n" if self.reopen else ""
        end = _CLOSE_FENCE if self.close else ""
        return f"{start}{self.body}{end}{self.label}{self.suffix}"


def _pieces(text: str, budget: int, suffix_len: int) -> list[tuple[str | None, str, bool]]:
    """Cut ``text`` into ``(reopen, body, close)`` pieces whose rendering fits ``budget``."""
    pieces: list[tuple[str | None, str, bool]] = []
    fence: str | None = None
    rest = text
    while True:
        reopen_len = len(fence) + 1 if fence else 0
        if reopen_len + len(rest) + suffix_len <= budget:
            pieces.append((fence, rest, False))
            return pieces
        room = budget - reopen_len - len(_CLOSE_FENCE)
        if room < _MIN_BODY:
            raise ValueError(f"message limit too small to split into ({budget} characters)")
        # Text that fits but not with the suffix is cut before its end, so the suffix
        # goes with a last part of its own.
        cut_limit = room if len(rest) > room else len(rest) - 1
        if cut_limit < 1:
            raise ValueError(f"message limit too small to split into ({budget} characters)")
        cut = _best_cut(rest, cut_limit)
        body = rest[:cut].rstrip()
        if not body.strip():  # only whitespace before the cut: drop it and go on
            rest = rest.lstrip()
            continue
        after = _fence_after(fence, body)
        pieces.append((fence, body, after is not None))
        # Inside a code block the next line keeps its indentation.
        rest = rest[cut:].lstrip("\r\n") if after else rest[cut:].lstrip()
        fence = after


def plan_split(text: str, limit: int = CONTENT_LIMIT, *, suffix_last: str = "") -> list[SplitPart]:
    """Plan :func:`split_message`: the parts with what each took from ``text``.

    Every body is a verbatim slice of ``text``; consecutive bodies are separated
    in ``text`` by whitespace only (the split points), and the bodies in order
    cover all of ``text`` but its leading and trailing whitespace.
    """
    if len(text) + len(suffix_last) <= limit:
        return [SplitPart(text, 1, 1, suffix=suffix_last)]
    if limit - len(suffix_last) - len(_CLOSE_FENCE) - len("\n(9/9)") < _MIN_BODY:
        raise ValueError(
            f"limit {limit} leaves no room for text beside a {len(suffix_last)}-character suffix"
        )
    text = text.strip()
    digits = 1
    while True:
        label_len = len(f"\n({'9' * digits}/{'9' * digits})")
        pieces = _pieces(text, limit - label_len, len(suffix_last))
        if len(pieces) < 10**digits:
            break
        digits += 1
    total = len(pieces)
    return [
        SplitPart(body, n, total, reopen, close, suffix_last if n == total else "")
        for n, (reopen, body, close) in enumerate(pieces, start=1)
    ]


def split_message(text: str, limit: int = CONTENT_LIMIT, *, suffix_last: str = "") -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters, losing none of it.

    Cuts at a paragraph break, else a line break, a sentence end, a space, else
    anywhere. With more than one part each ends with a ``(i/n)`` line; a code
    block cut in two is closed and re-opened. ``suffix_last`` (with its own
    leading separator, e.g. ``"\\n🔗 <url>"``) ends the last part.
    """
    return [part.render() for part in plan_split(text, limit, suffix_last=suffix_last)]


# -- shortening ---------------------------------------------------------------------
def shorten(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, ending with ``ellipsis``."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return text[:limit]
    room = limit - len(ellipsis)
    head = text[:room]
    if not text[room].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"))
        if boundary >= room // 2:
            head = head[:boundary]
    head = head.rstrip()
    if _backslash_run(head) % 2:
        head = head[:-1]
    return head + ellipsis


def truncate_with_link(text: str, limit: int, link: str | None) -> str:
    """``text`` cut to fit ``limit`` with "… [read the rest](<link>)" (the "truncate" mode).

    The angle brackets keep Discord from previewing the link.
    """
    if len(text) <= limit:
        return text
    tail = f"{ELLIPSIS} [read the rest](<{link}>)" if link else ELLIPSIS
    room = limit - len(tail) - len(_CLOSE_FENCE) - 1
    if room < 1:
        raise ValueError(f"limit {limit} leaves no room for text before {tail!r}")
    head = text[: _best_cut(text, room)].rstrip()
    if _fence_after(None, head) is not None:
        return f"{head}{_CLOSE_FENCE}\n{tail}"
    return head + (" " if head.endswith((".", "!", "?", ELLIPSIS)) else "") + tail


def _printable(text: str) -> str:
    """``text`` without control and format characters, whitespace collapsed."""
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c in "\t\n")
    return _WHITESPACE.sub(" ", text).strip()


def thread_name(title: str | None) -> str:
    """A thread name (≤ 100 characters, one line, mentions defused) for a post title."""
    name = shorten(neutralise_mentions(_printable(title or "")), THREAD_NAME_LIMIT)
    return name or THREAD_NAME_FALLBACK


def _lookalike(match: re.Match[str]) -> str:
    word = match.group(0)
    plain, lower, upper = _LOOKALIKE[word.lower()]
    return word.replace(plain, lower).replace(plain.upper(), upper)


def webhook_username(name: str | None) -> str:
    """A name Discord accepts for a webhook message (1–80 characters).

    "discord"/"clyde" get a Cyrillic look-alike letter, ``@`` becomes a
    full-width ``＠``, and an empty or reserved name ("everyone", "here")
    becomes ``"Guest"``.
    """
    cleaned = _printable(name or "").replace("@", "＠").replace("```", "'''")
    cleaned = _FORBIDDEN_SUBSTRING.sub(_lookalike, cleaned)
    cleaned = shorten(cleaned, WEBHOOK_USERNAME_MAX)
    if len(cleaned) < WEBHOOK_USERNAME_MIN or cleaned.casefold() in FORBIDDEN_USERNAMES:
        return WEBHOOK_USERNAME_FALLBACK
    return cleaned


# -- embeds ---------------------------------------------------------------------------
def embed_length(embed: EmbedDraft) -> int:
    """What Discord counts against the 6000-character embed total."""
    texts = (embed.title, embed.description, embed.author_name, embed.footer)
    return sum(len(t or "") for t in texts) + sum(len(n) + len(v) for n, v, _ in embed.fields)


def _fit(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return shorten(text, limit) if limit > len(ELLIPSIS) else None


def clamp_embed(embed: EmbedDraft) -> EmbedDraft:
    """``embed`` cut down to every Discord limit, the 6000-character total included.

    Over the total, the least important text gives way first: the footer,
    then trailing fields, then the description, the title and the author name.
    """
    fields = tuple(
        (
            shorten(name, EMBED_FIELD_NAME_LIMIT) or EMPTY_FIELD,
            shorten(value, EMBED_FIELD_VALUE_LIMIT) or EMPTY_FIELD,
            inline,
        )
        for name, value, inline in embed.fields[:EMBED_MAX_FIELDS]
    )
    embed = dataclasses.replace(
        embed,
        title=_fit(embed.title, EMBED_TITLE_LIMIT),
        description=_fit(embed.description, EMBED_DESCRIPTION_LIMIT),
        author_name=_fit(embed.author_name, EMBED_AUTHOR_NAME_LIMIT),
        footer=_fit(embed.footer, EMBED_FOOTER_LIMIT),
        fields=fields,
    )
    embed = _shrink_text(embed, "footer")
    while embed.fields and embed_length(embed) > EMBED_TOTAL_LIMIT:
        embed = dataclasses.replace(embed, fields=embed.fields[:-1])
    for name in ("description", "title", "author_name"):
        embed = _shrink_text(embed, name)
    return embed


def _shrink_text(embed: EmbedDraft, name: str) -> EmbedDraft:
    """Shorten one text attribute by what the embed exceeds the total by."""
    excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    value: str | None = getattr(embed, name)
    if excess <= 0 or value is None:
        return embed
    shrunk = _fit(value, len(value) - excess)
    if name == "description":
        return dataclasses.replace(embed, description=shrunk)
    if name == "footer":
        return dataclasses.replace(embed, footer=shrunk)
    if name == "title":
        return dataclasses.replace(embed, title=shrunk)
    return dataclasses.replace(embed, author_name=shrunk)
