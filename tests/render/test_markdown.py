"""Blog HTML → Discord Markdown: a table of inputs and outputs, escaping, excerpts."""

from __future__ import annotations

import re

import pytest

from bot.render.markdown import escape_markdown, html_to_markdown, html_to_text, plain_excerpt
from tests.render.seed_thread import LONG_COMMENT_INDEX, load_seed, paragraphs_html

BASE = "https://modite.example/2009/08/post/"

CASES: list[tuple[str, str, str]] = [
    ("paragraph", "<p>Very enjoyable read.</p>", "Very enjoyable read."),
    ("paragraphs", "<p>One.</p>\n<p>Two.</p>", "One.\n\nTwo."),
    ("asterisks", "<p>What the f**k is a blog?</p>", r"What the f\*\*k is a blog?"),
    ("underscores", "<p>snake_case_name and _x_</p>", r"snake\_case\_name and \_x\_"),
    (
        "link",
        '<p>Read <a href="https://ryan.example/a_b_c/">my_post</a> now</p>',
        r"Read [my\_post](https://ryan.example/a_b_c/) now",
    ),
    (
        "link text is the url",
        '<p><a href="https://ex.example/some_path">https://ex.example/some_path</a></p>',
        "https://ex.example/some_path",
    ),
    (
        "link text is the url without scheme",
        '<p><a href="https://ex.example/">ex.example</a></p>',
        "https://ex.example/",
    ),
    (
        "relative link",
        '<p><a href="/about/">About</a></p>',
        "[About](https://modite.example/about/)",
    ),
    ("javascript link", "<p><a href=\"javascript:alert('x')\">click</a></p>", "click"),
    ("link without href", "<p><a name='top'>top</a></p>", "top"),
    (
        "link with parentheses",
        '<p><a href="https://en.example/wiki/Foo_(bar)">Foo</a></p>',
        "[Foo](https://en.example/wiki/Foo_%28bar%29)",
    ),
    (
        "image",
        '<p><img src="https://img.example/cat.png" alt="A cat"></p>',
        "[image: A cat](https://img.example/cat.png)",
    ),
    ("image without alt", '<p><img src="cat.png"></p>', f"[image]({BASE}cat.png)"),
    (
        "image inside a link",
        '<a href="https://big.example/"><img src="t.png" alt="thumb"></a>',
        "[image: thumb](https://big.example/)",
    ),
    (
        "blockquote with link",
        '<blockquote><p>As <a href="https://modite.example/x">Rebecca</a> said</p></blockquote>'
        "<p>Agreed.</p>",
        "> As [Rebecca](https://modite.example/x) said\n\nAgreed.",
    ),
    (
        "blockquote of two paragraphs",
        "<blockquote><p>First.</p>\n<p>Second.</p></blockquote>",
        "> First.\n> Second.",
    ),
    (
        "nested blockquote flattened",
        "<blockquote><p>outer</p><blockquote><p>inner</p></blockquote></blockquote>",
        "> outer\n> inner",
    ),
    ("unordered list", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
    (
        "nested lists",
        "<ul><li>one<ul><li>a <b>b</b></li><li>c<ol><li>deep</li></ol></li></ul></li>"
        "<li>two</li></ul><p>after</p>",
        "- one\n  - a **b**\n  - c\n    1. deep\n- two\n\nafter",
    ),
    (
        "ordered list with start",
        '<ol start="3"><li>three</li><li>four</li></ol>',
        "3. three\n4. four",
    ),
    (
        "inline code keeps asterisks",
        "<p>Use <code>a**b**_c</code> here.</p>",
        "Use `a**b**_c` here.",
    ),
    (
        "code block",
        '<pre><code class="language-python">x = a**2\n\n    print(_y)\n</code></pre>',
        "```python\nx = a**2\n\n    print(_y)\n```",
    ),
    (
        "code block containing a fence",
        "<pre>before\n```\nafter</pre>",
        "```\nbefore\n`\u200b``\nafter\n```",
    ),
    ("entities", "<p>&amp;lt; is &lt;b&gt; &amp; &#8220;x&#8221;</p>", "&lt; is <b> & “x”"),
    (
        "smart quotes and dashes",
        "<p>“Yeah, but it’s just a blog,” – someone</p>",
        "“Yeah, but it’s just a blog,” – someone",
    ),
    (
        "line breaks",
        "<p>line one<br>line two<br />\n  line three</p>",
        "line one\nline two\nline three",
    ),
    ("heading", "<h2>Big <em>news</em></h2><p>text</p>", "**Big *news***\n\ntext"),
    (
        "script and style dropped",
        "<p>a</p><script>alert('@everyone')</script><style>p{}</style><p>b</p>",
        "a\n\nb",
    ),
    (
        "whitespace tidied",
        "<p>  a   b  </p>\n\n<p></p><p>&nbsp;</p><div>\n\n</div><p>c\t d</p>",
        "a b\n\nc d",
    ),
    (
        "line starts escaped",
        "<p>&gt; not a quote<br># not a heading<br>- not a list<br>+ nor this<br>"
        "1. not numbered<br>-# not subtext</p>",
        "\\> not a quote\n\\# not a heading\n\\- not a list\n\\+ nor this\n"
        "1\\. not numbered\n\\-# not subtext",
    ),
    (
        "mid-line characters left alone",
        "<p>C# is fine - really. In 2009. Then &gt; that</p>",
        "C# is fine - really. In 2009. Then > that",
    ),
    (
        "inline specials escaped",
        "<p>~~no~~ ||spoiler|| [x](y) `tick` back\\slash</p>",
        r"\~\~no\~\~ \|\|spoiler\|\| \[x\](y) \`tick\` back\\slash",
    ),
    (
        "bare url in text keeps underscores",
        "<p>see https://ex.example/some_path_here and more_under</p>",
        r"see https://ex.example/some_path_here and more\_under",
    ),
    (
        "emphasis kinds",
        "<p><strong>bold</strong> <em>it</em> <u>under</u> <del>gone</del> <b>a*b</b></p>",
        r"**bold** *it* __under__ ~~gone~~ **a\*b**",
    ),
    (
        "table",
        "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>",
        "a | b\n1 | 2",
    ),
    ("spaces around inline markup", "<p>a <b> s </b> x</p>", "a **s** x"),
    ("horizontal rule", "<p>a</p><hr><p>b</p>", "a\n\n───\n\nb"),
    (
        "iframe",
        '<iframe src="https://video.example/embed/1"></iframe>',
        "https://video.example/embed/1",
    ),
    ("source newlines are spaces", "<p>one\ntwo\n   three</p>", "one two three"),
    ("quote line start inside blockquote", "<blockquote><p># tag</p></blockquote>", "> \\# tag"),
    (
        "line starts escaped inside list items",
        "<ul><li>&gt; x</li><li>1. y</li><li># z</li></ul>",
        "- \\> x\n- 1\\. y\n- \\# z",
    ),
    (
        "code block inside a quote",
        "<blockquote><pre>a\n  b</pre></blockquote>",
        "> ```\n> a\n>   b\n> ```",
    ),
    ("empty", "", ""),
    ("only whitespace", "<p> \n </p>", ""),
]


@pytest.mark.parametrize(("html", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_html_to_markdown(html: str, expected: str) -> None:
    assert html_to_markdown(html, base_url=BASE) == expected


def test_table_has_enough_rows() -> None:
    assert len(CASES) >= 25


def test_output_has_no_trailing_spaces_or_double_blank_lines() -> None:
    html = (
        "<p>a  <br>  b </p>\n\n\n<p></p>"
        "<ul><li> x <br> y </li></ul><blockquote><p> q </p></blockquote>"
    )
    text = html_to_markdown(html)
    assert text == "a\nb\n\n- x\n  y\n\n> q"
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert "\n\n\n" not in text


def test_private_use_characters_in_input_cannot_forge_escapes() -> None:
    assert html_to_markdown("<p>\ue000 x \ue010y</p>") == "x y"
    forged = '<p>&#xe020;0&#xe021; &#xe002; x <img src="a.png" alt="&#xe020;5&#xe021;"></p>'
    assert html_to_markdown(forged, base_url=BASE) == f"0 x [image: 5]({BASE}a.png)"


def test_html_nested_too_deep_becomes_plain_text() -> None:
    deep = "<div>" * 3000 + "so *deep*" + "</div>" * 3000
    assert html_to_markdown(deep) == "so \\*deep\\*"


def test_non_string_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="expects str"):
        html_to_markdown(None)  # type: ignore[arg-type]


def _expected_seed_markdown(paragraphs: list[str]) -> str:
    """What the seed text must become: inline specials escaped, lines kept, nothing else."""

    def escape(text: str) -> str:
        return re.sub(r"([\\*_~|`\[\]])", r"\\\1", text)

    return "\n\n".join(
        "\n".join(line.strip() for line in escape(p).split("\n")) for p in paragraphs
    )


def test_every_seed_comment_converts_literally() -> None:
    for comment in load_seed()["comments"]:
        converted = html_to_markdown(paragraphs_html(comment["paragraphs"]))
        assert converted == _expected_seed_markdown(comment["paragraphs"]), comment["index"]


def test_seed_asterisks_and_brackets_are_escaped() -> None:
    comments = load_seed()["comments"]
    ricardo = html_to_markdown(paragraphs_html(comments[22]["paragraphs"]))
    assert ricardo.startswith("So someone asked me: “What the f\\*\\*k is a blog?” (Sorry")
    assert "profanity)\nJust like that!" in ricardo
    pingback = html_to_markdown(paragraphs_html(comments[34]["paragraphs"]))
    assert pingback.startswith("\\[…\\] 3. Please, start a blog already.")


def test_seed_long_comment_keeps_its_paragraphs() -> None:
    comment = load_seed()["comments"][LONG_COMMENT_INDEX]
    converted = html_to_markdown(paragraphs_html(comment["paragraphs"]))
    assert 2900 < len(converted) < 3100
    assert converted.count("\n\n") == len(comment["paragraphs"]) - 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What the f**k", r"What the f\*\*k"),
        ("# Title_with *stars*", r"\# Title\_with \*stars\*"),
        ("- item\n> quote\n2. two", "\\- item\n\\> quote\n2\\. two"),
        ("see https://a.example/x_y_z_", r"see https://a.example/x_y_z_"),
        ("[masked](link)", r"\[masked\](link)"),
        ("plain words", "plain words"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_html_to_text_joins_blocks_with_spaces() -> None:
    html = "<h1>T</h1><p>a<b>b</b><br>c</p><script>x</script><ul><li>d</li></ul>"
    assert html_to_text(html) == "T ab c d"


def test_plain_excerpt_short_text_is_whole() -> None:
    assert plain_excerpt("<p>Short <em>and</em> sweet.</p>") == "Short and sweet."


def test_plain_excerpt_cuts_at_a_word_boundary() -> None:
    excerpt = plain_excerpt("<p>" + "alpha beta gamma " * 40 + "</p>", 50)
    assert len(excerpt) <= 50
    assert excerpt.endswith("…")
    words = excerpt[:-1].split(" ")
    assert all(w in {"alpha", "beta", "gamma"} for w in words)


def test_plain_excerpt_of_the_seed_post() -> None:
    post = load_seed()["post"]
    excerpt = plain_excerpt(paragraphs_html(post["paragraphs"]), 300)
    assert excerpt.startswith("“Yeah, but it’s just a blog,” someone said.")
    assert 250 <= len(excerpt) <= 300
    assert excerpt.endswith("…") and not excerpt.endswith(" …")


def test_plain_excerpt_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        plain_excerpt("<p>x</p>", 1)
