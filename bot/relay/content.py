"""Discord message text → blog comment bodies (WordPress HTML, Isso Markdown).

The relay posts Discord replies back to the blog; this module turns their
Discord Markdown, mentions, custom emoji and timestamps into what each comment
API accepts, and :func:`plain_text` lets it compare a stored comment with what
it sent. Pure and O(n log n) on any input: no discord.py, no I/O, never raises.

Parsing follows Discord's rules closely but not exactly: blocks (quotes, code
fences, headings, lists) are found first, then inline formatting one line at a
time, so ``**bold**`` does not span lines. Unclosed markers stay literal.
Mentions are resolved even inside code and after a backslash: a blog reader
can do nothing with a raw ``<@id>``.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import quote

__all__ = ["Attachment", "plain_text", "to_isso_markdown", "to_wordpress_html"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to the Discord message, relayed as a link."""

    filename: str
    url: str


_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})

# --- Discord tokens: mentions, emoji, timestamps, slash commands -------------

_TOKEN: Final = re.compile(
    r"<(?:(?P<user>@!?)|(?P<role>@&)|(?P<channel>#))(?P<id>\d{1,25})>"
    r"|<(?P<animated>a?):(?P<emoji>\w+):\d{1,25}>"
    r"|<t:(?P<time>-?\d{1,20})(?::[a-zA-Z])?>"
    r"|</(?P<command>[-\w]+(?: [-\w]+){0,2}):\d{1,25}>"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _resolve_token(match: re.Match[str], names: Mapping[str, str]) -> str:
    """Readable text for one token; unknown mentions get a placeholder, never the id."""
    token = match.group(0)
    if match.group("emoji") is not None:
        return f":{match.group('emoji')}:"
    if match.group("time") is not None:
        return _timestamp(match.group("time"))
    if match.group("command") is not None:
        return f"/{match.group('command')}"
    if token in names:
        return names[token]
    ident = match.group("id")
    if match.group("user") is not None:
        other = f"<@{ident}>" if token.startswith("<@!") else f"<@!{ident}>"
        return names.get(other, "@unknown-user")
    if match.group("role") is not None:
        return "@unknown-role"
    return "#unknown-channel"


def _timestamp(seconds: str) -> str:
    """``<t:…>`` as an absolute UTC time: the blog has no reader's time zone to render into."""
    try:
        moment = _EPOCH + timedelta(seconds=int(seconds))
    except (OverflowError, ValueError):
        return "unknown-time"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _resolve_all(text: str, names: Mapping[str, str]) -> str:
    return _TOKEN.sub(lambda m: _resolve_token(m, names), text)


# --- Inline tree ---------------------------------------------------------------

_Kind = Literal["strong", "em", "underline", "strike", "spoiler"]


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Span:
    kind: _Kind
    children: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _CodeSpan:
    code: str


@dataclass(frozen=True, slots=True)
class _Link:
    url: str
    children: tuple[_Node, ...]


_Node = _Text | _Span | _CodeSpan | _Link

_MAX_DEPTH: Final = 10
_DELIMITERS: Final[dict[str, _Kind]] = {
    "**": "strong",
    "*": "em",
    "__": "underline",
    "_": "em",
    "~~": "strike",
    "||": "spoiler",
}
_TRY_AT: Final[Mapping[str, tuple[str, ...]]] = {
    "*": ("**", "*"),
    "_": ("__", "_"),
    "~": ("~~",),
    "|": ("||",),
}
_NEXT_SPECIAL: Final = re.compile(r"[*_~|`\\<\[]|https?://", re.IGNORECASE)
_RUN: Final = re.compile(r"\*+|_+|~+|\|+")
_BACKTICKS: Final = re.compile(r"`+")
_MASKED_LINK: Final = re.compile(
    r"\[([^\[\]\n]+)\]\(\s*<?(https?://[^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)>?\s*\)",
    re.IGNORECASE,
)
_ANGLE_URL: Final = re.compile(r"<(https?://[^\s<>]+)>", re.IGNORECASE)
_BARE_URL: Final = re.compile(r"""https?://[^\s<]+[^<.,:;"')\]\s]""", re.IGNORECASE)


class _InlineParser:
    """One line's inline Markdown → nodes.

    Closing delimiters are found by bisecting precomputed candidate positions,
    and nesting is capped, so no input costs more than O(n log n).
    """

    def __init__(self, line: str, names: Mapping[str, str]) -> None:
        self.line = line
        self.names = names
        self.escaped = self._escaped_positions(line)
        self.closers: dict[str, list[int]] = {d: [] for d in _DELIMITERS}
        self._find_closers()
        self.ticks: dict[int, list[int]] = {}
        for run in _BACKTICKS.finditer(line):
            self.ticks.setdefault(len(run.group(0)), []).append(run.start())

    @staticmethod
    def _escaped_positions(line: str) -> frozenset[int]:
        escaped: set[int] = set()
        i = line.find("\\")
        while 0 <= i < len(line) - 1:
            if _escapable(line[i + 1]):
                escaped.add(i + 1)
                i = line.find("\\", i + 2)
            else:
                i = line.find("\\", i + 1)
        return frozenset(escaped)

    def _find_closers(self) -> None:
        line, n = self.line, len(self.line)
        for run in _RUN.finditer(line):
            start, end = run.span()
            if start in self.escaped:
                start += 1  # only a run's first character can be backslash-escaped
            if start >= end:
                continue
            char, size = line[start], end - start
            after = line[end] if end < n else " "
            before = line[start - 1] if start > 0 else " "
            if size >= 2:
                self.closers[char * 2].append(end - 2)
            if char == "*" and size % 2 == 1 and not before.isspace():
                self.closers["*"].append(end - 1)
            if char == "_" and size % 2 == 1 and not after.isalnum():
                self.closers["_"].append(end - 1)

    def parse(self, start: int, end: int, depth: int = 0, in_link: bool = False) -> list[_Node]:
        nodes: list[_Node] = []
        text: list[str] = []
        line, i = self.line, start
        while i < end:
            special = _NEXT_SPECIAL.search(line, i, end)
            if special is None:
                text.append(line[i:end])
                break
            if special.start() > i:
                text.append(line[i : special.start()])
                i = special.start()
            found = self._at(i, end, depth, in_link)
            if found is None:
                text.append(line[i])
                i += 1
                continue
            node, i = found
            if isinstance(node, _Text):
                text.append(node.text)
                continue
            if text:
                nodes.append(_Text("".join(text)))
                text = []
            nodes.append(node)
        if text:
            nodes.append(_Text("".join(text)))
        return nodes

    def _at(self, i: int, end: int, depth: int, in_link: bool) -> tuple[_Node, int] | None:
        """The construct starting at ``line[i]``, and where it ends; None if it is literal."""
        line, char = self.line, self.line[i]
        if char == "\\":
            return self._escape(i, end)
        if char == "<":
            token = _TOKEN.match(line, i, end)
            if token is not None:
                return _Text(_resolve_token(token, self.names)), token.end()
            url = None if in_link else _ANGLE_URL.match(line, i, end)
            if url is not None:
                return _Link(url.group(1), (_Text(url.group(1)),)), url.end()
            return None
        if char == "`":
            return self._code(i, end)
        if char == "[":
            link = None if in_link else _MASKED_LINK.match(line, i, end)
            if link is None:
                return None
            children = self.parse(link.start(1), link.end(1), depth + 1, in_link=True)
            return _Link(link.group(2), tuple(children)), link.end()
        if char in "hH":
            url = None if in_link else _BARE_URL.match(line, i, end)
            if url is None:
                return None
            return _Link(url.group(0), (_Text(url.group(0)),)), url.end()
        if depth >= _MAX_DEPTH:
            return None
        for delimiter in _TRY_AT.get(char, ()):
            span = self._span(delimiter, i, end, depth, in_link)
            if span is not None:
                return span
        return None

    def _escape(self, i: int, end: int) -> tuple[_Node, int] | None:
        if i + 1 >= end or not _escapable(self.line[i + 1]):
            return None
        if self.line[i + 1] == "<":
            return _Text(""), i + 1  # a mention stays resolved even when escaped
        return _Text(self.line[i + 1]), i + 2

    def _code(self, i: int, end: int) -> tuple[_Node, int] | None:
        run = _BACKTICKS.match(self.line, i, end)
        if run is None:
            return None
        size = len(run.group(0))
        starts = self.ticks.get(size, [])
        k = bisect_left(starts, run.end() + 1)
        if k < len(starts) and starts[k] + size <= end:
            code = _resolve_all(self.line[run.end() : starts[k]], self.names)
            return _CodeSpan(code), starts[k] + size
        return _Text(run.group(0)), run.end()

    def _span(
        self, delimiter: str, i: int, end: int, depth: int, in_link: bool
    ) -> tuple[_Node, int] | None:
        line, size = self.line, len(delimiter)
        if line[i : i + size] != delimiter:
            return None
        after_open = line[i + size] if i + size < len(line) else " "
        if delimiter == "*" and after_open.isspace():
            return None
        if delimiter == "_" and i > 0 and line[i - 1].isalnum():
            return None
        content = i + size
        close = self._closer(delimiter, content + 1, end)
        if close is None:
            return None
        children = self.parse(content, close, depth + 1, in_link)
        return _Span(_DELIMITERS[delimiter], tuple(children)), close + size

    def _closer(self, delimiter: str, earliest: int, end: int) -> int | None:
        """First closing ``delimiter`` at or after ``earliest`` ending by ``end``."""
        size, line = len(delimiter), self.line
        found: int | None = None
        candidates = self.closers[delimiter]
        k = bisect_left(candidates, earliest)
        if k < len(candidates) and candidates[k] + size <= end:
            found = candidates[k]
        edge = end - size  # a nested span may close right where its parent does
        if (
            end < len(line)
            and earliest <= edge
            and (found is None or edge < found)
            and line[edge:end] == delimiter
            and not any(p in self.escaped for p in range(edge, end))
            and not (delimiter == "*" and line[edge - 1].isspace())
        ):
            found = edge
        return found


def _escapable(char: str) -> bool:
    return not (char.isalnum() or char.isspace())


def _inline(source: str, names: Mapping[str, str]) -> list[_Node]:
    if _NEXT_SPECIAL.search(source) is None:
        return [_Text(source)]
    return _unnest(_InlineParser(source, names).parse(0, len(source)), frozenset())


def _unnest(nodes: Sequence[_Node], inside: frozenset[_Kind]) -> list[_Node]:
    """Drop a span nested in one of its own kind: it adds nothing, and ``~~~~`` breaks Markdown."""
    out: list[_Node] = []
    for node in nodes:
        if isinstance(node, _Span):
            children = _unnest(node.children, inside | {node.kind})
            if node.kind in inside:
                out.extend(children)
            else:
                out.append(_Span(node.kind, tuple(children)))
        elif isinstance(node, _Link):
            out.append(_Link(node.url, tuple(_unnest(node.children, inside))))
        else:
            out.append(node)
    return out


# --- Blocks ----------------------------------------------------------------------

_LineKind = Literal["text", "heading", "subtext", "bullet", "number", "blank"]


@dataclass(frozen=True, slots=True)
class _Line:
    kind: _LineKind
    source: str
    level: int = 0
    marker: str = ""


@dataclass(frozen=True, slots=True)
class _Fence:
    language: str
    code: str


@dataclass(frozen=True, slots=True)
class _Section:
    """Consecutive blocks that are all quoted, or all not."""

    quoted: bool
    blocks: tuple[_Line | _Fence, ...]


_QUOTE_REST: Final = re.compile(r">>>(?: |$)")
_QUOTE: Final = re.compile(r"> ")
_HEADING: Final = re.compile(r"(#{1,3}) ")
_SUBTEXT: Final = re.compile(r"-# ")
_BULLET: Final = re.compile(r"( *)[-*] ")
_NUMBER: Final = re.compile(r"( *)(\d{1,9})\. ")
_LANGUAGE: Final = re.compile(r"[A-Za-z0-9_+\-.#]{1,30}")


def _sections(text: str) -> list[_Section]:
    """Split the message into quoted and unquoted runs (``>`` lines, ``>>>`` to the end)."""
    runs: list[tuple[bool, list[str]]] = []
    rest_quoted = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        quoted, body = True, line
        if not rest_quoted and (mark := _QUOTE_REST.match(line)) is not None:
            rest_quoted, body = True, line[mark.end() :]
        elif not rest_quoted and (mark := _QUOTE.match(line)) is not None:
            body = line[mark.end() :]
        elif not rest_quoted:
            quoted = False
        if runs and runs[-1][0] == quoted:
            runs[-1][1].append(body)
        else:
            runs.append((quoted, [body]))
    return [_Section(quoted, tuple(_blocks("\n".join(lines)))) for quoted, lines in runs]


def _blocks(text: str) -> list[_Line | _Fence]:
    """Code fences first (their content is verbatim), then the lines between them."""
    blocks: list[_Line | _Fence] = []
    pending = ""
    after_fence = False
    pos = 0
    while (start := text.find("```", pos)) >= 0:
        end = text.find("```", start + 3)
        if end < 0:
            break
        fence = _fence(text[start + 3 : end])
        if fence is None:
            pending += text[pos : end + 3]
        else:
            blocks.extend(_lines(pending + text[pos:start], after_fence, before_fence=True))
            blocks.append(fence)
            pending, after_fence = "", True
        pos = end + 3
    blocks.extend(_lines(pending + text[pos:], after_fence, before_fence=False))
    return blocks


def _fence(raw: str) -> _Fence | None:
    head, newline, body = raw.partition("\n")
    if newline and _LANGUAGE.fullmatch(head) and body.strip("\n"):
        return _Fence(head, body.strip("\n"))
    code = raw.strip("\n")
    return _Fence("", code) if code else None


def _lines(text: str, after_fence: bool, before_fence: bool) -> list[_Line | _Fence]:
    lines = text.split("\n")
    if after_fence and lines and not lines[0].strip():
        lines = lines[1:]
    if before_fence and lines and not lines[-1].strip():
        lines = lines[:-1]
    return [_classify(line) for line in lines]


def _classify(line: str) -> _Line:
    if not line.strip():
        return _Line("blank", "")
    if (mark := _HEADING.match(line)) and line[mark.end() :].strip():
        return _Line("heading", line[mark.end() :].strip(), len(mark.group(1)))
    if (mark := _SUBTEXT.match(line)) and line[mark.end() :].strip():
        return _Line("subtext", line[mark.end() :].strip())
    if (mark := _BULLET.match(line)) and line[mark.end() :].strip():
        return _Line("bullet", line[mark.end() :].strip(), len(mark.group(1)) // 2)
    if (mark := _NUMBER.match(line)) and line[mark.end() :].strip():
        level = len(mark.group(1)) // 2
        return _Line("number", line[mark.end() :].strip(), level, f"{mark.group(2)}.")
    return _Line("text", line)


def _list_levels(blocks: Sequence[_Line | _Fence]) -> list[int]:
    """Each block's list depth, never deeper than one below the item before it."""
    levels: list[int] = []
    previous = -1
    for block in blocks:
        if isinstance(block, _Line) and block.kind in ("bullet", "number"):
            previous = min(block.level, previous + 1)
            levels.append(previous)
        else:
            previous = -1
            levels.append(0)
    return levels


_SAFE_URL_CHARS: Final = "/:?#@!$&*+,;=%-._~"
_HTTP_URL: Final = re.compile(r"https?://\S", re.IGNORECASE)


def _clean_url(url: str) -> str:
    """Percent-encode what would break an attribute or a Markdown link destination."""
    return quote(url, safe=_SAFE_URL_CHARS, errors="ignore")


# --- WordPress -------------------------------------------------------------------


def to_wordpress_html(
    text: str,
    *,
    names: Mapping[str, str] = _NO_NAMES,
    attachments: Sequence[Attachment] = (),
) -> str:
    """Comment HTML that kses keeps intact for commenters without ``unfiltered_html``.

    Emits only ``a``, ``blockquote``, ``code``, ``del``, ``strong`` and ``em``;
    newlines stay newlines because wpautop turns them into ``<br>``/``<p>``.
    Underline and spoilers become plain text: kses allows no ``<u>`` and a blog
    cannot hide text, and ``<em>`` would claim an italic the author did not write.
    Headings become ``<strong>`` lines, lists ``•``/``1.`` lines.
    """
    parts: list[str] = []
    for section in _sections(text):
        body = _wp_blocks(section.blocks, names)
        if body:
            parts.append(f"<blockquote>{body}</blockquote>" if section.quoted else body)
    body = "\n".join(parts)
    links = [_wp_attachment(attachment) for attachment in attachments]
    return "\n\n".join(part for part in (body, "\n".join(links)) if part)


def _wp_blocks(blocks: Sequence[_Line | _Fence], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for block, level in zip(blocks, _list_levels(blocks), strict=True):
        if isinstance(block, _Fence):
            out.append(_wp_fence(block, names))
        elif block.kind == "blank":
            if out and out[-1]:
                out.append("")
        else:
            out.append(_wp_line(block, level, names))
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _wp_line(line: _Line, level: int, names: Mapping[str, str]) -> str:
    content = _wp_nodes(_inline(line.source, names))
    indent = "&nbsp;&nbsp;" * level
    if line.kind == "heading":
        return f"<strong>{content}</strong>"
    if line.kind == "bullet":
        return f"{indent}• {content}"
    if line.kind == "number":
        return f"{indent}{line.marker} {content}"
    return content


def _wp_fence(fence: _Fence, names: Mapping[str, str]) -> str:
    """``<code>`` with blank lines and indentation kept as ``&nbsp;``.

    wpautop would split a blank line into paragraphs (breaking the element) and
    HTML collapses leading spaces; ``<pre>`` is not allowed to commenters.
    """
    lines = []
    for line in _resolve_all(fence.code, names).split("\n"):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)].replace("\t", "    ")
        escaped = _escape_html(stripped)
        lines.append("&nbsp;" * len(indent) + escaped if escaped or indent else "&nbsp;")
    return "<code>" + "\n".join(lines) + "</code>"


def _wp_nodes(nodes: Sequence[_Node]) -> str:
    return "".join(_wp_node(node) for node in nodes)


_WP_TAGS: Final[Mapping[_Kind, str]] = {"strong": "strong", "em": "em", "strike": "del"}


def _wp_node(node: _Node) -> str:
    if isinstance(node, _Text):
        return _escape_html(node.text)
    if isinstance(node, _CodeSpan):
        return f"<code>{_escape_html(node.code)}</code>"
    inner = _wp_nodes(node.children)
    if isinstance(node, _Link):
        inner = inner if inner.strip() else _escape_html(node.url)
        return f'<a href="{html.escape(_clean_url(node.url))}">{inner}</a>'
    tag = _WP_TAGS.get(node.kind)
    return f"<{tag}>{inner}</{tag}>" if tag and inner.strip() else inner


def _wp_attachment(attachment: Attachment) -> str:
    name = _escape_html(attachment.filename or attachment.url)
    if not _HTTP_URL.match(attachment.url):
        return name
    return f'<a href="{html.escape(_clean_url(attachment.url))}">{name}</a>'


def _escape_html(text: str) -> str:
    return html.escape(text, quote=False)


# --- Isso --------------------------------------------------------------------------

_MD_SPECIAL: Final = re.compile(r"([\\`*_~^\[\]<>&!|#])")
_MD_LINE_START: Final = re.compile(r"(\d{1,9})(?=[.)])|(?=[-+=])")
_HARD_BREAK: Final = "  \n"


def to_isso_markdown(
    text: str,
    *,
    names: Mapping[str, str] = _NO_NAMES,
    attachments: Sequence[Attachment] = (),
) -> str:
    """CommonMark for Isso's default renderer (mistune), lines kept by hard breaks.

    Literal text is backslash-escaped, so ``<``, ``&`` and raw HTML stay text and
    ``^``/``~`` trigger no super/subscript. Underline and spoilers become plain
    text (Markdown has neither, a blog cannot hide text); headings bold lines.
    Isso's deprecated misaka renderer leaves some nested emphasis literal.
    """
    chunks: list[str] = []
    for section in _sections(text):
        body = "\n\n".join(_md_chunks(section.blocks, names))
        if body and section.quoted:
            body = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        if body:
            chunks.append(body)
    links = [_md_attachment(attachment) for attachment in attachments]
    if links:
        chunks.append(_HARD_BREAK.join(links))
    return "\n\n".join(chunks)


def _md_chunks(blocks: Sequence[_Line | _Fence], names: Mapping[str, str]) -> list[str]:
    """Paragraphs, lists and fences, each its own chunk so none runs into the next."""
    chunks: list[str] = []
    lines: list[str] = []
    kind = ""

    def flush() -> None:
        if lines:
            chunks.append((_HARD_BREAK if kind == "text" else "\n").join(lines))
            lines.clear()

    for block, level in zip(blocks, _list_levels(blocks), strict=True):
        if isinstance(block, _Fence):
            flush()
            code = _resolve_all(block.code, names)
            chunks.append(f"```{block.language}\n{code}\n```")
            continue
        if block.kind == "blank":
            flush()
            continue
        block_kind = "list" if block.kind in ("bullet", "number") else "text"
        if block_kind != kind:
            flush()
            kind = block_kind
        lines.append(_md_line(block, level, names))
    flush()
    return [chunk for chunk in chunks if chunk.strip()]


def _md_line(line: _Line, level: int, names: Mapping[str, str]) -> str:
    content = _md_line_start(_md_nodes(_inline(line.source, names)).strip())
    if line.kind == "heading":
        return _md_wrap("**", content)
    if line.kind == "bullet":
        return f"{'    ' * level}- {content}"
    if line.kind == "number":
        return f"{'    ' * level}{line.marker} {content}"
    return content


def _md_line_start(content: str) -> str:
    """Escape what would make a line a list item or a setext underline."""
    mark = _MD_LINE_START.match(content)
    if mark is None:
        return content
    return f"{mark.group(1)}\\{content[mark.end() :]}" if mark.group(1) else f"\\{content}"


def _md_nodes(nodes: Sequence[_Node]) -> str:
    return "".join(_md_node(node) for node in nodes)


_MD_MARKS: Final[Mapping[_Kind, str]] = {"strong": "**", "em": "*", "strike": "~~"}


def _md_node(node: _Node) -> str:
    if isinstance(node, _Text):
        return _md_escape(node.text)
    if isinstance(node, _CodeSpan):
        return _md_code(node.code)
    inner = _md_nodes(node.children)
    if isinstance(node, _Link):
        inner = inner if inner.strip() else _md_escape(node.url)
        return f"[{inner}]({_clean_url(node.url)})"
    mark = _MD_MARKS.get(node.kind)
    return _md_wrap(mark, inner) if mark else inner


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_wrap(mark: str, inner: str) -> str:
    """``**inner**`` with surrounding spaces moved out, as Markdown needs."""
    core = inner.strip()
    if not core:
        return inner
    start = len(inner) - len(inner.lstrip())
    return f"{inner[:start]}{mark}{core}{mark}{inner[start + len(core) :]}"


def _md_code(code: str) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    fence = "`" * (longest + 1)
    padded = code.startswith(("`", " ")) or code.endswith(("`", " "))
    return f"{fence} {code} {fence}" if padded else f"{fence}{code}{fence}"


def _md_attachment(attachment: Attachment) -> str:
    name = _md_escape(attachment.filename or attachment.url)
    if not _HTTP_URL.match(attachment.url):
        return name
    return f"[{name}]({_clean_url(attachment.url)})"


# --- Comparison ----------------------------------------------------------------


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_BREAKING_TAGS: Final = frozenset(
    {"br", "p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_TAG: Final = re.compile(r"<[^<>]*>")


def plain_text(html_or_text: str) -> str:
    """Text without tags, entities or runs of whitespace, to compare stored and sent comments."""
    collector = _TextCollector()
    try:
        collector.feed(html_or_text)
        collector.close()
        text = "".join(collector.parts)
    except Exception:  # HTMLParser is lenient; this is only a last resort
        text = html.unescape(_TAG.sub(" ", html_or_text))
    return " ".join(text.split())
