"""Blog HTML → Discord Markdown, and the escaping that keeps commenters' text literal.

Markdownify does the tree walk; :class:`_DiscordConverter` adapts it to what
Discord renders. Commenter text is escaped so ``f**k`` shows its asterisks.
Characters that only matter at the start of a line (``>``, ``#``, ``-``,
``+``, ``1.``) are swapped for private-use placeholders while converting, and
escaped in a final pass once it is known which of them really start a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.element import CData, NavigableString, Tag
from markdownify import MarkdownConverter

__all__ = [
    "URL_PATTERN",
    "escape_markdown",
    "html_to_markdown",
    "html_to_text",
    "plain_excerpt",
    "safe_url",
]

URL_PATTERN: Final = re.compile(r"""https?://[^\s<]+[^<.,:;"')\]\s]""", re.IGNORECASE)
"""A bare URL as Discord autolinks it (its client's rule: trailing punctuation left out)."""

_INLINE_SPECIALS: Final = re.compile(r"([\\*_~|`\[\]])")

# Placeholders for characters that are only special at the start of a line.
_MARKS: Final = {">": "\ue000", "#": "\ue001", "-": "\ue002", "+": "\ue003", ".": "\ue004"}
_UNMARK: Final = str.maketrans({v: k for k, v in _MARKS.items()})
_MARK_ON: Final = str.maketrans(_MARKS)
_INDENT: Final = "\ue010"  # indentation that lists generate (survives line trimming)
_CELL: Final = "\ue011"  # table cell separator
_BLOCK_OPEN: Final = "\ue020"  # a fenced block, stashed away from the text passes
_BLOCK_CLOSE: Final = "\ue021"
_PRIVATE: Final = {cp: None for cp in range(0xE000, 0xE030)}

_PREFIX = rf"[ \t{_INDENT}]*(?:>[ \t]+)?[ \t{_INDENT}]*(?:(?:-|\d{{1,9}}\.)[ \t]+)?"
_LINE_MARK: Final = re.compile(rf"(?m)^({_PREFIX})([\ue000\ue001\ue002\ue003])")
_LINE_NUMBER: Final = re.compile(rf"(?m)^({_PREFIX}\d{{1,9}}){_MARKS['.']}(?=[ \t]|$)")
_LEADING_SPACE: Final = re.compile(rf"^({_INDENT}*)[ \t]+")
_INNER_SPACES: Final = re.compile(r"(?<=\S)[ \t]{2,}")
_BLOCK_TOKEN: Final = re.compile(rf"(?m)^(.*?){_BLOCK_OPEN}(\d+){_BLOCK_CLOSE}.*$")
_PLAIN_LINE_START: Final = re.compile(r"(?m)^([ \t]*)([>#+-])")
_PLAIN_LINE_NUMBER: Final = re.compile(r"(?m)^([ \t]*\d{1,9})\.(?=[ \t]|$)")
_BLANK_RUN: Final = re.compile(r"\n{3,}")
_WHITESPACE: Final = re.compile(r"\s+")
_LANGUAGE: Final = re.compile(r"^(?:language|lang)-([\w+#-]{1,30})$")
_SAFE_SCHEMES: Final = frozenset({"http", "https"})
_DROPPED_TAGS: Final = (
    "script", "style", "noscript", "template", "head", "title", "meta", "link",
    "object", "embed", "svg", "form", "button", "input", "select", "textarea",
)  # fmt: skip
_BLOCK_TAGS: Final = (
    "p", "div", "br", "li", "ul", "ol", "blockquote", "pre", "table", "tr", "td", "th",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article", "figure", "figcaption",
    "dd", "dt", "header", "footer", "aside",
)  # fmt: skip


def _escape_segments(text: str, escape: Callable[[str], str]) -> str:
    """Apply ``escape`` to everything but bare URLs, which Discord links as they are."""
    out: list[str] = []
    last = 0
    for match in URL_PATTERN.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _escape_inline(text: str) -> str:
    return _INLINE_SPECIALS.sub(r"\\\1", text)


def escape_markdown(text: str) -> str:
    """Escape plain text (a title, an excerpt, a name) so Discord shows it literally."""
    text = _escape_segments(text, _escape_inline)
    text = _PLAIN_LINE_START.sub(r"\1\\\2", text)
    return _PLAIN_LINE_NUMBER.sub(r"\1\\.", text)


def safe_url(url: str | None, base_url: str | None = None) -> str | None:
    """An absolute http(s) URL fit for ``[text](url)``, or ``None`` if unusable."""
    if not url or not url.strip():
        return None
    url = url.strip()
    if base_url:
        url = urljoin(base_url, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.netloc:
        return None
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url


def _unmarked(text: str) -> str:
    """Link text as the reader sees it: placeholders restored, escapes removed."""
    return re.sub(r"\\(.)", r"\1", text.translate(_UNMARK))


def _same_target(text: str, href: str) -> bool:
    def bare(url: str) -> str:
        return re.sub(r"^[a-z]+://", "", url.strip(), flags=re.IGNORECASE).rstrip("/")

    return text == href or bare(text) == bare(href)


class _DiscordConverter(MarkdownConverter):
    """Markdownify tuned to Discord: its escapes, link and quote rules; tables as plain rows."""

    def __init__(self, base_url: str | None = None) -> None:
        super().__init__(
            bullets="-",
            strong_em_symbol="*",
            heading_style="atx",
            wrap=True,
            wrap_width=None,
            escape_asterisks=False,
            escape_underscores=False,
            escape_misc=False,
            strip_pre="strip",
        )
        self.base_url = base_url
        self.blocks: list[str] = []

    # -- text -----------------------------------------------------------------
    def convert(self, html: str) -> str:
        soup = BeautifulSoup(html, "html.parser")
        for node in soup.find_all(string=True):
            if type(node) in (NavigableString, CData):
                cleaned = node.translate(_PRIVATE).replace("\xa0", " ")
                if cleaned != node:
                    node.replace_with(NavigableString(cleaned))
        for tag in soup.find_all(True):
            for name, value in tag.attrs.items():
                if isinstance(value, str):
                    tag.attrs[name] = value.translate(_PRIVATE)
        return str(self.convert_soup(soup))

    def escape(self, text: str, parent_tags: set[str]) -> str:
        if not text:
            return ""
        return _escape_segments(text, lambda part: _escape_inline(part).translate(_MARK_ON))

    # -- inline ---------------------------------------------------------------
    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, suffix = (" " if text[:1] == " " else ""), (" " if text[-1:] == " " else "")
        text = _WHITESPACE.sub(" ", text).strip()
        href = safe_url(_attr(el, "href"), self.base_url)
        if not href:
            return f"{prefix}{text}{suffix}"
        if not text or _same_target(_unmarked(text), href):
            return f"{prefix}{href}{suffix}"
        return f"{prefix}[{text}]({href}){suffix}"

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = _WHITESPACE.sub(" ", _attr(el, "alt") or "").strip()
        label = self.escape(f"image: {alt}" if alt else "image", parent_tags)
        src = safe_url(_attr(el, "src"), self.base_url)
        if "a" in parent_tags or "_inline" in parent_tags or "_noformat" in parent_tags or not src:
            return label
        return f"[{label}]({src})"

    def convert_iframe(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        src = safe_url(_attr(el, "src"), self.base_url)
        return f"\n\n{src}\n\n" if src and "_inline" not in parent_tags else ""

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return " " if "_inline" in parent_tags else "\n"

    @staticmethod
    def _wrap(markup: str, text: str, parent_tags: set[str]) -> str:
        """``text`` between ``markup`` marks, its outer spaces kept outside them."""
        if "_noformat" in parent_tags:
            return text
        if not text.strip():
            return ""
        prefix, suffix = (" " if text[:1] == " " else ""), (" " if text[-1:] == " " else "")
        return f"{prefix}{markup}{text.strip()}{markup}{suffix}"

    def convert_u(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._wrap("__", text, parent_tags)

    convert_ins = convert_u

    def convert_strike(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._wrap("~~", text, parent_tags)

    # -- blocks ---------------------------------------------------------------
    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return text
        text = _WHITESPACE.sub(" ", text).strip()
        return f"\n\n**{text}**\n\n" if text else ""

    def convert_blockquote(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        lines = [_tidy_line(line) for line in text.strip().split("\n")]
        lines = [line for line in lines if line.strip(f" \t{_INDENT}")]
        if not lines:
            return ""
        if "_inline" in parent_tags:
            return " " + " ".join(lines) + " "
        if "blockquote" in parent_tags:  # Discord does not nest quotes
            return "\n\n" + "\n".join(lines) + "\n\n"
        return "\n\n" + "\n".join("> " + line for line in lines) + "\n\n"

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = _attr(parent, "start") or ""
            first = int(start) if start.isdigit() else 1
            bullet = f"{first + len(el.find_previous_siblings('li'))}. "
        else:
            bullet = "- "
        indent = _INDENT * len(bullet)
        lines = text.split("\n")
        body = "\n".join([lines[0], *[indent + line if line else "" for line in lines[1:]]])
        return f"{bullet}{body}\n"

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        code = text.strip("\n")
        if not code.strip():
            return ""
        language = self._code_language(el) or ""
        code = code.replace("```", "`\u200b``")  # a fence inside would end the block
        self.blocks.append(f"```{language}\n{code}\n```")
        return f"\n\n{_BLOCK_OPEN}{len(self.blocks) - 1}{_BLOCK_CLOSE}\n\n"

    def convert_hr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n───\n\n"

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return _WHITESPACE.sub(" ", text).strip() + _CELL

    convert_th = convert_td

    def convert_tr(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return " | ".join(text.split(_CELL)[:-1]).strip() + "\n"

    def convert_table(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n" + text.strip() + "\n\n"

    def _drop(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return ""

    convert_script = convert_style = convert_noscript = convert_template = _drop
    convert_head = convert_title = convert_meta = convert_link = _drop
    convert_object = convert_embed = convert_svg = convert_form = _drop
    convert_button = convert_input = convert_select = convert_textarea = _drop

    @staticmethod
    def _code_language(el: Tag) -> str | None:
        for node in (el, el.find("code")):
            if isinstance(node, Tag):
                for cls in node.get_attribute_list("class"):
                    if cls and (match := _LANGUAGE.match(cls)):
                        return match.group(1)
        return None


def _attr(el: Tag, name: str) -> str | None:
    value: Any = el.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return value if isinstance(value, str) else None


def _tidy_line(line: str) -> str:
    """Trim a line's spaces, keeping list indentation (placeholders) at its start."""
    line = _INNER_SPACES.sub(" ", _LEADING_SPACE.sub(r"\1", line.rstrip()))
    return "" if not line.strip(f" \t{_INDENT}") else line


def _tidy(text: str) -> str:
    lines = [_tidy_line(line) for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")


def _escape_line_starts(text: str) -> str:
    """Escape commenter characters that would start a quote, heading or list."""
    text = _LINE_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _LINE_NUMBER.sub(lambda m: m.group(1) + "\\" + _MARKS["."], text)


def _restore_blocks(text: str, blocks: list[str]) -> str:
    def restore(match: re.Match[str]) -> str:
        quote = "> " if match.group(1).lstrip().startswith(">") else ""
        index = int(match.group(2))
        block = blocks[index] if index < len(blocks) else ""
        return "\n".join(quote + line for line in block.split("\n"))  # code keeps "> " lines

    return _BLOCK_TOKEN.sub(restore, text)


def html_to_markdown(html: str, *, base_url: str | None = None) -> str:
    """Convert blog HTML (a post or comment body) to Discord Markdown.

    ``base_url`` resolves relative links and images; links with other schemes
    than http and https (which Discord does not link) keep only their text.
    HTML nested too deeply to walk comes back as escaped plain text.
    """
    if not isinstance(html, str):
        raise TypeError(f"html_to_markdown expects str, not {type(html).__name__}")
    converter = _DiscordConverter(base_url=base_url)
    try:
        text = converter.convert(html.translate(_PRIVATE))
    except RecursionError:  # nested too deep for markdownify's tree walk: keep the words
        return escape_markdown(html_to_text(html))
    text = _escape_line_starts(_tidy(text))
    text = text.translate(_UNMARK).replace(_INDENT, " ")
    text = _restore_blocks(text, converter.blocks)
    return text.translate(_PRIVATE)


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment on one line (titles, excerpts)."""
    soup = BeautifulSoup(html.translate(_PRIVATE), "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(" ")
        tag.insert_after(" ")
    return _WHITESPACE.sub(" ", soup.get_text()).strip()


def plain_excerpt(html: str, limit: int = 300) -> str:
    """Unformatted text of ``html`` cut at a word boundary to at most ``limit`` characters."""
    if limit < 2:
        raise ValueError(f"excerpt limit must be at least 2, not {limit}")
    text = html_to_text(html)
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:–—-") + "…"
