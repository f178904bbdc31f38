"""Discord message text → WordPress comment HTML and Isso Markdown."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.relay.content import Attachment, plain_text, to_isso_markdown, to_wordpress_html

NAMES = {
    "<@123>": "@Alice",
    "<@!123>": "@Alice",
    "<@456>": "@Bob",
    "<@&55>": "@Moderator",
    "<#77>": "#general",
}
KSES_ALLOWED: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset(),
    "acronym": frozenset(),
    "b": frozenset(),
    "blockquote": frozenset({"cite"}),
    "cite": frozenset(),
    "code": frozenset(),
    "del": frozenset(),
    "em": frozenset(),
    "i": frozenset(),
    "q": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "strong": frozenset(),
}
UNRESOLVED = re.compile(r"<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>|<t:-?\d+(?::\w)?>")


class _TagAudit(HTMLParser):
    """Records every tag, attribute and nesting error in a fragment of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, set[str]]] = []
        self.stack: list[str] = []
        self.unbalanced: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name for name, _ in attrs}))
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name for name, _ in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.unbalanced.append(tag)


def audit(fragment: str) -> _TagAudit:
    parser = _TagAudit()
    parser.feed(fragment)
    parser.close()
    return parser


def assert_kses_safe(fragment: str) -> None:
    """Only tags and attributes kses lets commenters keep, properly nested."""
    result = audit(fragment)
    for tag, attrs in result.tags:
        assert tag in KSES_ALLOWED, (tag, fragment)
        assert attrs <= KSES_ALLOWED[tag], (tag, attrs, fragment)
    assert result.stack == [], fragment
    assert result.unbalanced == [], fragment


# --- WordPress: each construct ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello world", "hello world"),
        ("**bold**", "<strong>bold</strong>"),
        ("*italic*", "<em>italic</em>"),
        ("_italic_", "<em>italic</em>"),
        ("***both***", "<strong><em>both</em></strong>"),
        ("__underline__", "underline"),
        ("~~strike~~", "<del>strike</del>"),
        ("||spoiler||", "spoiler"),
        ("`a < b`", "<code>a &lt; b</code>"),
        ("``has ` tick``", "<code>has ` tick</code>"),
        ("`**not bold**`", "<code>**not bold**</code>"),
        ("**bold _italic_**", "<strong>bold <em>italic</em></strong>"),
        ("*italic **bold***", "<em>italic <strong>bold</strong></em>"),
        ("__*under italic*__", "<em>under italic</em>"),
        ("~~**gone**~~", "<del><strong>gone</strong></del>"),
        ("~~~~x~~~~", "<del>x</del>"),
        ("****x****", "<strong>x</strong>"),
        ("**bold", "**bold"),
        ("bold**", "bold**"),
        ("*not closed", "*not closed"),
        ("* not italic*", "• not italic*"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("snake_case_name", "snake_case_name"),
        ("~single~ |pipe|", "~single~ |pipe|"),
        ("`unclosed", "`unclosed"),
        ("\\*not italic\\*", "*not italic*"),
        ("\\_\\_not underline\\_\\_", "__not underline__"),
        ("\\`not code\\`", "`not code`"),
        ("C:\\path\\file", "C:\\path\\file"),
        ("line one\nline two", "line one\nline two"),
        ("para one\n\n\n\npara two", "para one\n\npara two"),
        ("\n\n  \nlead and trail\n\n", "lead and trail"),
        ("crlf\r\nline", "crlf\nline"),
        ("# Big", "<strong>Big</strong>"),
        ("## Medium *it*", "<strong>Medium <em>it</em></strong>"),
        ("### Small", "<strong>Small</strong>"),
        ("#hashtag", "#hashtag"),
        ("#### four", "#### four"),
        ("-# small print", "small print"),
        ("- one\n- two", "• one\n• two"),
        ("* star item", "• star item"),
        ("- one\n  - nested", "• one\n&nbsp;&nbsp;• nested"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("> quoted", "<blockquote>quoted</blockquote>"),
        ("> a\n> b\nafter", "<blockquote>a\nb</blockquote>\nafter"),
        (">not a quote", "&gt;not a quote"),
        ("before\n>>> all\nof the\n\nrest", "before\n<blockquote>all\nof the\n\nrest</blockquote>"),
        ("> # quoted heading", "<blockquote><strong>quoted heading</strong></blockquote>"),
        ("```\nx = 1\n```", "<code>x = 1</code>"),
        ("```py\nif x:\n    y()\n```", "<code>if x:\n&nbsp;&nbsp;&nbsp;&nbsp;y()</code>"),
        ("```\na\n\nb\n```", "<code>a\n&nbsp;\nb</code>"),
        (
            "```\n**no** <b>markup</b> _here_\n```",
            "<code>**no** &lt;b&gt;markup&lt;/b&gt; _here_</code>",
        ),
        ("see ```inline``` here", "see \n<code>inline</code>\n here"),
        ("```py\n```", "<code>py</code>"),
        ("``````", "``````"),
        ("```never closed\n**bold**", "```never closed\n<strong>bold</strong>"),
        ("> ```\n> quoted code\n> ```", "<blockquote><code>quoted code</code></blockquote>"),
        (
            "[the post](https://blog.example/p?a=1&b=2)",
            '<a href="https://blog.example/p?a=1&amp;b=2">the post</a>',
        ),
        (
            "[**bold** link](https://x.example)",
            '<a href="https://x.example"><strong>bold</strong> link</a>',
        ),
        ("[wiki](https://w.example/A_(b))", '<a href="https://w.example/A_%28b%29">wiki</a>'),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
        ("[x](ftp://files.example)", "[x](ftp://files.example)"),
        ("[x](<https://angle.example>)", '<a href="https://angle.example">x</a>'),
        (
            "go to https://x.example/a_b_c.",
            'go to <a href="https://x.example/a_b_c">https://x.example/a_b_c</a>.',
        ),
        ("(https://x.example/p)", '(<a href="https://x.example/p">https://x.example/p</a>)'),
        ("<https://quiet.example>", '<a href="https://quiet.example">https://quiet.example</a>'),
        (
            'https://x.example/"quoted"x',
            '<a href="https://x.example/%22quoted%22x">https://x.example/"quoted"x</a>',
        ),
        ("HTTPS://LOUD.EXAMPLE", '<a href="HTTPS://LOUD.EXAMPLE">HTTPS://LOUD.EXAMPLE</a>'),
        ("ftp://not.linked", "ftp://not.linked"),
    ],
)
def test_wordpress_constructs(text: str, expected: str) -> None:
    html = to_wordpress_html(text)
    assert html == expected
    assert_kses_safe(html)


# --- Isso: each construct ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello world", "hello world"),
        ("**bold**", "**bold**"),
        ("*italic*", "*italic*"),
        ("_italic_", "*italic*"),
        ("***both***", "***both***"),
        ("__underline__", "underline"),
        ("~~strike~~", "~~strike~~"),
        ("||spoiler||", "spoiler"),
        ("`a < b`", "`a < b`"),
        ("``has ` tick``", "``has ` tick``"),
        ("`` `edge` ``", "``  `edge`  ``"),
        ("**bold _italic_**", "**bold *italic***"),
        ("** spaced **", "**spaced**"),
        ("~~~~x~~~~", "~~x~~"),
        ("<@1>~~~~<@1>~~~~", "@unknown-user~~@unknown-user~~"),
        ("**bold", "\\*\\*bold"),
        ("snake_case_name", "snake\\_case\\_name"),
        ("\\*not italic\\*", "\\*not italic\\*"),
        ("a < b & c > d", "a \\< b \\& c \\> d"),
        ("x^2^ and H~2~O", "x\\^2\\^ and H\\~2\\~O"),
        ("wow! [sic]", "wow\\! \\[sic\\]"),
        ("line one\nline two", "line one  \nline two"),
        ("para one\n\n\npara two", "para one\n\npara two"),
        ("# Big", "**Big**"),
        ("-# small print", "small print"),
        ("#hashtag", "\\#hashtag"),
        ("- one\n- two", "- one\n- two"),
        ("- one\n  - nested", "- one\n    - nested"),
        ("   - orphan indent", "- orphan indent"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("text\n- item\ntext", "text\n\n- item\n\ntext"),
        ("-not a list", "\\-not a list"),
        ("+ plus", "\\+ plus"),
        ("1) not a list", "1\\) not a list"),
        ("2024. A year", "2024. A year"),
        ("title\n---", "title  \n\\---"),
        ("title\n===", "title  \n\\==="),
        ("    four spaces", "four spaces"),
        ("> quoted", "> quoted"),
        ("> a\n> b\nafter", "> a  \n> b\n\nafter"),
        (">>> all\n\nrest", "> all\n>\n> rest"),
        ("```\nx = 1\n```", "```\nx = 1\n```"),
        ("```py\nif x:\n    y()\n```", "```py\nif x:\n    y()\n```"),
        ("```\n**no** <b>markup</b>\n```", "```\n**no** <b>markup</b>\n```"),
        ("see ```inline``` here", "see\n\n```\ninline\n```\n\nhere"),
        ("> ```\n> code\n> ```", "> ```\n> code\n> ```"),
        (
            "[the post](https://blog.example/p?a=1&b=2)",
            "[the post](https://blog.example/p?a=1&b=2)",
        ),
        ("[wiki](https://w.example/A_(b))", "[wiki](https://w.example/A_%28b%29)"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("https://x.example/a_b", "[https://x.example/a\\_b](https://x.example/a_b)"),
        ("<https://quiet.example>", "[https://quiet.example](https://quiet.example)"),
        ("[ ](https://blank.example)", "[https://blank.example](https://blank.example)"),
    ],
)
def test_isso_constructs(text: str, expected: str) -> None:
    assert to_isso_markdown(text) == expected


@functools.cache
def _isso_markup() -> Any:
    import isso.config as isso_config  # the test extras install Isso: never skipped
    import isso.html as isso_html

    return isso_html.Markup(isso_config.load(isso_config.default_file()))


def _isso_render(markdown: str) -> str:
    """What Isso shows, with its default configuration (mistune, hard wraps, bleach)."""
    return str(_isso_markup().render(markdown))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "**bold _italic_** ~~gone~~",
            "<p><strong>bold <em>italic</em></strong> <del>gone</del></p>",
        ),
        ("***both***", "<p><em><strong>both</strong></em></p>"),
        ("x^2^ H~2~O", "<p>x^2^ H~2~O</p>"),
        ("~~~~x~~~~ a~~~~b", "<p><del>x</del> a~~~~b</p>"),
        ("<b>not bold</b> &amp;", "<p>&lt;b&gt;not bold&lt;/b&gt; &amp;amp;</p>"),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("# Head\ntext", "<p><strong>Head</strong><br>\ntext</p>"),
        ("intro\n- a\n- b", "<p>intro</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("1) x\n-dash\ntitle\n---", "<p>1) x<br>\n-dash<br>\ntitle<br>\n---</p>"),
        ("> q1\n> q2\nafter", "<blockquote>\n<p>q1<br>\nq2</p>\n</blockquote>\n<p>after</p>"),
        (
            "```py\n<b>\n```",
            '<p></p><pre><code class="language-py">&lt;b&gt;\n</code></pre><p></p>',
        ),
        ("`a<b`", "<p><code>a&lt;b</code></p>"),
        (
            "[link](https://x.example/?a=1&b=2) snake_case",
            '<p><a href="https://x.example/?a=1&amp;b=2" rel="nofollow noopener">link</a>'
            " snake_case</p>",
        ),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ],
)
def test_isso_markdown_renders_as_meant(text: str, expected: str) -> None:
    assert _isso_render(to_isso_markdown(text)) == expected


# --- Injection ----------------------------------------------------------------------

INJECTIONS = [
    "<script>alert(1)</script>",
    "<b>bold?</b>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "<a href='javascript:alert(1)'>x</a>",
    "&lt;script&gt; &amp; &#60;",
    "<!-- comment --> <![CDATA[x]]>",
    "**<i>nested</i>**",
    '[<b>x</b>](https://x.example/"onmouseover=alert(1))',
    "`<script>` and ```\n<script>\n```",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_wordpress_escapes_user_html(text: str) -> None:
    html = to_wordpress_html(text)
    assert_kses_safe(html)
    assert "<script" not in html
    assert "<img" not in html and "<svg" not in html and "<i>" not in html and "<b>" not in html
    assert all(name == "href" for _, attrs in audit(html).tags for name in attrs)
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', html))


@pytest.mark.parametrize("text", INJECTIONS)
def test_isso_escapes_user_html(text: str) -> None:
    rendered = _isso_render(to_isso_markdown(text))
    tags = {tag for tag, _ in audit(rendered).tags}
    assert tags <= {"p", "strong", "em", "code", "pre", "a", "br"}, rendered
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', rendered))


def test_html_text_survives_as_text() -> None:
    assert to_wordpress_html("<b>hi</b> & bye") == "&lt;b&gt;hi&lt;/b&gt; &amp; bye"
    assert plain_text(to_wordpress_html("<b>hi</b> & bye")) == "<b>hi</b> & bye"


def test_attribute_quotes_cannot_break_out() -> None:
    html = to_wordpress_html('https://x.example/a"onclick="b')
    assert 'href="https://x.example/a%22onclick=%22b"' in html
    assert audit(html).tags == [("a", {"href"})]


# --- Mentions, emoji, timestamps ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi <@123>", "hi @Alice"),
        ("hi <@!123>", "hi @Alice"),
        ("hi <@!456>", "hi @Bob"),
        ("ask <@&55>", "ask @Moderator"),
        ("in <#77>", "in #general"),
        ("hi <@999>", "hi @unknown-user"),
        ("hi <@!999>", "hi @unknown-user"),
        ("ask <@&999>", "ask @unknown-role"),
        ("in <#999>", "in #unknown-channel"),
        ("@everyone and @here", "@everyone and @here"),
        ("<@123><@456>", "@Alice@Bob"),
        ("**<@123>**", "<strong>@Alice</strong>"),
        ("\\<@123>", "@Alice"),
        ("`<@123>`", "<code>@Alice</code>"),
        ("```\nping <@123> in <#999>\n```", "<code>ping @Alice in #unknown-channel</code>"),
        ("[<@123>](https://x.example)", '<a href="https://x.example">@Alice</a>'),
        ("<@abc> <@> <#x>", "&lt;@abc&gt; &lt;@&gt; &lt;#x&gt;"),
        ("nice <:blob:123456>", "nice :blob:"),
        ("<a:party_parrot:99>!", ":party_parrot:!"),
        ("<:blob:123456><:blob:123456>", ":blob::blob:"),
        ("run </deploy staging:42>", "run /deploy staging"),
        ("at <t:1700000000>", "at 2023-11-14 22:13 UTC"),
        ("at <t:1700000000:R>", "at 2023-11-14 22:13 UTC"),
        ("at <t:1700000000:d>", "at 2023-11-14 22:13 UTC"),
        ("at <t:0:F>", "at 1970-01-01 00:00 UTC"),
        ("at <t:-86400>", "at 1969-12-31 00:00 UTC"),
        ("at <t:99999999999999999999>", "at unknown-time"),
    ],
)
def test_tokens_wordpress(text: str, expected: str) -> None:
    html = to_wordpress_html(text, names=NAMES)
    assert html == expected
    assert not UNRESOLVED.search(plain_text(html))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi <@123> in <#77>", "hi @Alice in \\#general"),
        ("hi <@999> <@&999>", "hi @unknown-user @unknown-role"),
        ("<:thumbs_up:1>", ":thumbs\\_up:"),
        ("`<@123>`", "`@Alice`"),
        ("at <t:1700000000:R>", "at 2023-11-14 22:13 UTC"),
    ],
)
def test_tokens_isso(text: str, expected: str) -> None:
    assert to_isso_markdown(text, names=NAMES) == expected


@pytest.mark.parametrize(
    ("names", "expected_wp", "expected_isso"),
    [
        ({"<@1>": "@<b>Eve</b>"}, "@&lt;b&gt;Eve&lt;/b&gt;", "@\\<b\\>Eve\\</b\\>"),
        ({"<@1>": "@**Star**"}, "@**Star**", "@\\*\\*Star\\*\\*"),
        ({"<@1>": "@__init__"}, "@__init__", "@\\_\\_init\\_\\_"),
    ],
)
def test_display_names_are_literal_text(
    names: dict[str, str], expected_wp: str, expected_isso: str
) -> None:
    assert to_wordpress_html("<@1>", names=names) == expected_wp
    assert to_isso_markdown("<@1>", names=names) == expected_isso


def test_names_are_optional() -> None:
    text = "<@1> <@&2> <#3>"
    expected = "@unknown-user @unknown-role #unknown-channel"
    assert to_wordpress_html(text) == expected
    assert to_isso_markdown(text) == expected.replace("#", "\\#")
    assert to_wordpress_html(text, names={}) == expected


# --- Attachments ------------------------------------------------------------------

CDN = "https://cdn.discordapp.com/attachments/1/2/my photo.png?ex=65&is=66&hm=ab"


@pytest.mark.parametrize(
    ("text", "attachments", "expected"),
    [
        (
            "look",
            [Attachment("photo.png", "https://cdn.example/photo.png")],
            'look\n\n<a href="https://cdn.example/photo.png">photo.png</a>',
        ),
        (
            "",
            [
                Attachment("a.txt", "https://cdn.example/a.txt"),
                Attachment("b.txt", "https://cdn.example/b"),
            ],
            '<a href="https://cdn.example/a.txt">a.txt</a>\n<a href="https://cdn.example/b">b.txt</a>',
        ),
        (
            "",
            [Attachment("my photo.png", CDN)],
            '<a href="https://cdn.discordapp.com/attachments/1/2/my%20photo.png?ex=65&amp;is=66&amp;hm=ab">'
            "my photo.png</a>",
        ),
        (
            "",
            [Attachment("<b>x</b>.png", 'https://cdn.example/"x".png')],
            '<a href="https://cdn.example/%22x%22.png">&lt;b&gt;x&lt;/b&gt;.png</a>',
        ),
        ("", [Attachment("evil.html", "javascript:alert(1)")], "evil.html"),
    ],
)
def test_attachments_wordpress(text: str, attachments: list[Attachment], expected: str) -> None:
    html = to_wordpress_html(text, attachments=attachments)
    assert html == expected
    assert_kses_safe(html)


@pytest.mark.parametrize(
    ("text", "attachments", "expected"),
    [
        (
            "look",
            [Attachment("photo_1.png", "https://cdn.example/photo_1.png")],
            "look\n\n[photo\\_1.png](https://cdn.example/photo_1.png)",
        ),
        (
            "",
            [Attachment("a", "https://c.example/a"), Attachment("b", "https://c.example/(b)")],
            "[a](https://c.example/a)  \n[b](https://c.example/%28b%29)",
        ),
        (
            "",
            [Attachment("my photo.png", CDN)],
            "[my photo.png](https://cdn.discordapp.com/attachments/1/2/my%20photo.png?ex=65&is=66&hm=ab)",
        ),
        ("", [Attachment("evil", "javascript:alert(1)")], "evil"),
    ],
)
def test_attachments_isso(text: str, attachments: list[Attachment], expected: str) -> None:
    assert to_isso_markdown(text, attachments=attachments) == expected


def test_attachment_is_frozen_value() -> None:
    attachment = Attachment("a.png", "https://x.example/a.png")
    assert attachment == Attachment("a.png", "https://x.example/a.png")
    with pytest.raises(AttributeError):
        attachment.url = "https://evil.example"  # type: ignore[misc]


# --- A realistic message ----------------------------------------------------------

REALISTIC = (
    "Thanks <@123>! <:blob:1> Agreed with <@&55> in <#77> — the **fix** is in *this* "
    "snippet (see https://blog.example/post_1?ref=discord):\n"
    "```python\n"
    "def relay(comment: str) -> str:\n"
    "    return comment.replace('<', '&lt;')  # <@456>\n"
    "```\n"
    "> Is it __really__ that simple?\n"
    "Yes, since <t:1700000000:R>. ||Spoiler: it was not.||\n\n"
    + "Long text. " * 300
    + "\n- point one\n- point two"
)


def test_realistic_message_wordpress() -> None:
    html = to_wordpress_html(
        REALISTIC, names=NAMES, attachments=[Attachment("log.txt", "https://cdn.example/log.txt")]
    )
    assert_kses_safe(html)
    assert html.startswith("Thanks @Alice! :blob: Agreed with @Moderator in #general — the ")
    assert "<strong>fix</strong> is in <em>this</em> snippet" in html
    assert (
        '(see <a href="https://blog.example/post_1?ref=discord">'
        "https://blog.example/post_1?ref=discord</a>):" in html
    )
    assert (
        "<code>def relay(comment: str) -&gt; str:\n"
        "&nbsp;&nbsp;&nbsp;&nbsp;return comment.replace('&lt;', '&amp;lt;')  # @Bob</code>" in html
    )
    assert "<blockquote>Is it really that simple?</blockquote>" in html
    assert "Yes, since 2023-11-14 22:13 UTC. Spoiler: it was not." in html
    assert "• point one\n• point two" in html
    assert html.endswith('\n\n<a href="https://cdn.example/log.txt">log.txt</a>')
    assert plain_text(html).count("Long text.") == 300
    assert not UNRESOLVED.search(plain_text(html))


def test_realistic_message_isso() -> None:
    markdown = to_isso_markdown(REALISTIC, names=NAMES)
    assert "the **fix** is in *this* snippet" in markdown
    assert "```python\ndef relay(comment: str) -> str:\n" in markdown
    assert "return comment.replace('<', '&lt;')  # @Bob\n```" in markdown
    assert "\n\n> Is it really that simple?\n\n" in markdown
    assert "Spoiler: it was not." in markdown
    assert markdown.endswith("\n\n- point one\n- point two")
    assert not UNRESOLVED.search(markdown.replace("\\", ""))
    rendered = _isso_render(markdown)
    assert '<pre><code class="language-python">def relay' in rendered
    assert "<li>point two</li>" in rendered


def test_message_full_of_tokens_resolves_every_one() -> None:
    text = " ".join(["<@123> <@!999> <@&55> <#77> <:e:1> <a:f:2> <t:1700000000:t>"] * 200)
    for output in (to_wordpress_html(text, names=NAMES), to_isso_markdown(text, names=NAMES)):
        assert not UNRESOLVED.search(output.replace("\\", ""))
        assert output.count("@Alice") == 200
        assert output.count("2023-11-14 22:13 UTC") == 200


# --- Pathological input finishes -----------------------------------------------------

PATHOLOGICAL = [
    "*" * 20000 + "a",
    "<" * 20000 + "a",
    "_" * 20000 + "a",
    "`" * 20000 + "a",
    "[" * 20000 + "a",
    "~~" * 10000 + "a",
    "||a" * 7000,
    "**a " * 5000,
    "*a _b " * 4000,
    "\\" * 20000 + "a",
    "https://" * 5000 + "a",
    "> " * 10000 + "a",
    ">>> " * 5000 + "a",
    "```" * 5000 + "a",
    "```\n" * 5000 + "a",
    "[a](" * 5000 + "a",
    "[a](https://x.example/" + "(" * 20000 + "a",
    "<@" * 10000 + "a",
    "<t:" * 10000 + "a",
    "# " * 10000 + "a",
    "- " * 10000 + "a",
    "1. " * 10000 + "a",
    " " * 20000 + "a",
    "\n" * 20000 + "a",
    "**" + "__" * 10000 + "a",
    "a" * 50000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=lambda text: repr(text[:12]))
def test_pathological_input_finishes(text: str) -> None:
    html = to_wordpress_html(text)
    markdown = to_isso_markdown(text)
    assert_kses_safe(html)
    assert "a" in plain_text(html)
    assert "a" in markdown


# --- plain_text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<p>Hello <strong>world</strong></p>\n<p>again</p>", "Hello world again"),
        ("a<br />b<br>c", "a b c"),
        ("<blockquote><p>q</p></blockquote><p>x</p>", "q x"),
        ("Fish &amp; chips &lt;3 &#8217; &nbsp;x", "Fish & chips <3 ’ x"),
        ("  spaced \n\t out  ", "spaced out"),
        ("plain text", "plain text"),
        ('<a href="https://x.example" rel="nofollow">link</a>', "link"),
        ("<code>x = 1\n&nbsp;\ny</code>", "x = 1 y"),
        ("unclosed <b", "unclosed <b"),
        ("", ""),
    ],
)
def test_plain_text(given: str, expected: str) -> None:
    assert plain_text(given) == expected


def test_plain_text_matches_what_wordpress_would_store() -> None:
    sent = to_wordpress_html("**Hi** <@123>\n\nsee `x`", names=NAMES)
    stored = "<p><strong>Hi</strong> @Alice</p>\n<p>see <code>x</code></p>\n"
    assert plain_text(sent) == plain_text(stored) == "Hi @Alice see x"


# --- Properties -------------------------------------------------------------------------

FRAGMENTS = [
    "<@123>", "<@!9>", "<@&55>", "<#77>", "<#1>", "<:e:1>", "<a:f_g:2>", "<t:1700000000:R>",
    "<t:", "<@", "<", ">", "&", "**", "*", "__", "_", "~~", "||", "`", "```", "```py\n",
    "\\", "[", "](", ")", "](https://x.example/a_b)", "https://x.example/(p)", "<https://y.example>",
    "\n", "\n\n", "> ", ">>> ", "# ", "-# ", "- ", "  * ", "1. ", " ", "word", "@everyone",
    '"', "'", "<b>", "</b>", "<script>", "&amp;", "\r\n", "\x00", "é",
]  # fmt: skip
discord_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40).map(
    "".join
) | st.text(max_size=200)
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(text=discord_text, filename=st.text(max_size=10), url=st.text(max_size=20))
def test_never_raises(text: str, filename: str, url: str) -> None:
    attachments = [Attachment(filename, url), Attachment(filename, "https://x.example/" + url)]
    html = to_wordpress_html(text, names=NAMES, attachments=attachments)
    markdown = to_isso_markdown(text, names=NAMES, attachments=attachments)
    assert isinstance(plain_text(html), str)
    assert isinstance(plain_text(markdown), str)
    assert isinstance(plain_text(text), str)


@PROPERTY
@given(text=discord_text)
def test_wordpress_output_only_has_kses_tags(text: str) -> None:
    assert_kses_safe(to_wordpress_html(text, names=NAMES))


@PROPERTY
@given(text=discord_text)
def test_no_unresolved_tokens(text: str) -> None:
    assert not UNRESOLVED.search(plain_text(to_wordpress_html(text, names=NAMES)))
    assert not UNRESOLVED.search(plain_text(to_wordpress_html(text)))
    assert not UNRESOLVED.search(to_isso_markdown(text, names=NAMES).replace("\\", ""))


@PROPERTY
@given(text=discord_text)
def test_isso_markdown_has_no_raw_html(text: str) -> None:
    markdown = to_isso_markdown(text, names=NAMES)
    code_and_urls = r"```[^\n]*\n.*?\n```|(`+).+?\1|\]\([^\s()]*\)"
    outside_code = re.sub(code_and_urls, "", markdown, flags=re.DOTALL)
    assert not re.search(r"(?<!\\)<", outside_code)
    assert not re.search(r"(?<!\\)&", outside_code)


ISSO_TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "a", "blockquote", "ul", "ol", "li"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=discord_text)
def test_isso_renders_only_markup_we_meant(text: str) -> None:
    """No sub/superscript, headings, rules, tables or images sneak in through Markdown."""
    rendered = _isso_render(to_isso_markdown(text, names=NAMES))
    assert {tag for tag, _ in audit(rendered).tags} <= ISSO_TAGS, rendered


words = st.lists(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), min_size=1, max_size=60)
separators = st.sampled_from([" ", "\n", "\n\n", "  "])


@PROPERTY
@given(words=words, data=st.data())
def test_plain_words_survive(words: list[str], data: st.DataObject) -> None:
    text = words[0] + "".join(data.draw(separators) + word for word in words[1:])
    assert plain_text(to_wordpress_html(text)).split() == words
    assert to_isso_markdown(text).split() == words
