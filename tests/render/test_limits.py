"""Discord's limits: splitting without loss, truncation, names, embeds."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.limits import (
    CONTENT_LIMIT,
    EMBED_AUTHOR_NAME_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_NAME_LIMIT,
    EMBED_FIELD_VALUE_LIMIT,
    EMBED_FOOTER_LIMIT,
    EMBED_MAX_FIELDS,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    THREAD_NAME_LIMIT,
    WEBHOOK_USERNAME_MAX,
    SplitPart,
    clamp_embed,
    embed_length,
    plan_split,
    shorten,
    split_message,
    thread_name,
    truncate_with_link,
    webhook_username,
)
from bot.render.markdown import html_to_markdown
from bot.render.messages import EmbedDraft
from tests.render.seed_thread import LONG_COMMENT_INDEX, load_seed, paragraphs_html

LINK = "\n🔗 <https://modite.example/2009/08/social-media-is-difficult-like-intimacy/#comment-31>"


def long_comment_markdown() -> str:
    comment = load_seed()["comments"][LONG_COMMENT_INDEX]
    return html_to_markdown(paragraphs_html(comment["paragraphs"]))


# -- the no-loss property -----------------------------------------------------------
def assert_no_loss(text: str, parts: list[SplitPart]) -> None:
    """The property: ``text`` is W0 B1 W1 B2 … Bn Wn with every Wi whitespace only.

    The Bi are the parts' bodies (each part minus its numbering, suffix and
    the code fences the split added), so joining the bodies loses no character
    of ``text`` except whitespace at the split points and at its two ends.
    """
    if len(parts) == 1:
        assert parts[0].body == text
        return
    pos = 0
    for part in parts:
        assert part.body, "empty part"
        start = text.find(part.body, pos)
        assert start >= 0, f"part {part.number} is not a slice of the text after {pos}"
        assert text[pos:start].strip() == "", f"non-whitespace skipped before part {part.number}"
        pos = start + len(part.body)
    assert text[pos:].strip() == "", "text left over after the last part"


def assert_rendering(parts: list[SplitPart], rendered: list[str], limit: int, suffix: str) -> None:
    """Each message is reopen + body + close + (i/n) + suffix on the last, within ``limit``."""
    n = len(parts)
    assert len(rendered) == n
    for i, (part, message) in enumerate(zip(parts, rendered, strict=True), start=1):
        assert len(message) <= limit
        assert (part.number, part.total) == (i, n)
        label = f"\n({i}/{n})" if n > 1 else ""
        expected = (
            (f"{part.reopen}\n" if part.reopen else "")
            + part.body
            + ("\n```" if part.close else "")
            + label
            + (suffix if i == n else "")
        )
        assert message == expected
        if i < n:
            assert message.count("```") % 2 == 0, "a code fence left open in a middle part"


def check_split(text: str, limit: int, suffix: str = "") -> list[SplitPart]:
    parts = plan_split(text, limit, suffix_last=suffix)
    rendered = split_message(text, limit, suffix_last=suffix)
    assert_rendering(parts, rendered, limit, suffix)
    assert_no_loss(text, parts)
    return parts


def test_seed_long_comment_splits_in_two_at_a_paragraph() -> None:
    text = long_comment_markdown()
    assert len(text) > CONTENT_LIMIT
    parts = check_split(text, CONTENT_LIMIT, LINK)
    assert len(parts) == 2
    rendered = split_message(text, CONTENT_LIMIT, suffix_last=LINK)
    assert rendered[0].endswith("\n(1/2)")
    assert rendered[1].endswith("\n(2/2)" + LINK)
    assert text.startswith(parts[0].body + "\n\n")  # cut at a paragraph break
    assert text.replace("\n\n", "") == (parts[0].body + parts[1].body).replace("\n\n", "")


@pytest.mark.parametrize("limit", [300, 500, 1000, 1500])
def test_seed_long_comment_under_smaller_limits(limit: int) -> None:
    parts = check_split(long_comment_markdown(), limit, LINK)
    assert len(parts) > 1


def test_whole_text_fits_as_it_is() -> None:
    assert split_message("short", 2000, suffix_last=" [link]") == ["short [link]"]
    assert split_message("", 2000) == [""]


def test_suffix_that_does_not_fit_moves_to_a_last_part() -> None:
    text = "word " * 39 + "end."  # 199 characters
    rendered = split_message(text, 210, suffix_last=LINK)
    assert len(rendered) == 2
    assert rendered[-1].endswith(LINK)
    check_split(text, 210, LINK)


def test_split_prefers_sentences_to_words() -> None:
    text = "First sentence is here. " * 5 + "Second part goes on and on without a stop " * 3
    parts = check_split(text, 150)
    assert parts[0].body.endswith(".")


def test_split_hard_cuts_a_word_longer_than_the_limit() -> None:
    text = "x" * 500
    parts = check_split(text, 100)
    assert "".join(p.body for p in parts) == text


def test_split_never_separates_an_escape_from_its_character() -> None:
    text = "\\*" * 300
    for part in plan_split(text, 101):
        assert not re.search(r"(?<!\\)(\\\\)*\\$", part.body), part.body[-5:]
    check_split(text, 101)


def test_split_closes_and_reopens_a_code_block() -> None:
    code = "\n".join(f"    value_{i} = {i} * 2" for i in range(120))
    text = f"Look:\n\n```python\n{code}\n```\n\nDone."
    parts = check_split(text, 400)
    assert parts[0].close and not parts[0].reopen
    assert parts[1].reopen == "```python"
    assert split_message(text, 400)[1].startswith("```python\n    value_")  # indentation kept


def test_split_numbers_with_two_digits() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    parts = check_split(text, 120)
    assert len(parts) >= 10
    assert split_message(text, 120)[0].endswith(f"\n(1/{len(parts)})")


def test_split_rejects_a_limit_without_room() -> None:
    with pytest.raises(ValueError, match="no room"):
        split_message("a" * 100, 50, suffix_last="s" * 40)


TOKENS = st.sampled_from(
    [" ", "  ", "\n", "\n\n", ". ", "! ", "```py\n", "```\n", "\\", "\\*", "*", "`", "\r\n",
     "é", "e\u0301", "👍🏽", "\u200b", "x" * 150, "> quote\n", "- item\n"]
)  # fmt: skip
WORDS = st.text(alphabet="abcdefghij KLM", min_size=1, max_size=25)
TEXTS = st.lists(st.one_of(TOKENS, WORDS), min_size=10, max_size=300).map("".join)
SUFFIXES = st.sampled_from(["", LINK, " (more)"])


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, extra=st.integers(min_value=60, max_value=400), suffix=SUFFIXES)
def test_split_property_on_structured_text(text: str, extra: int, suffix: str) -> None:
    check_split(text, len(suffix) + extra, suffix)


FUZZ_TOKENS = [
    " ", "\n", "\n\n", ". ", "```py\n", "```\n", "\\*", "`", "👍🏽", "x" * 90, "word", "other",
    "> quoted\n", "- item\n", "e\u0301",
]  # fmt: skip


def test_split_property_on_seeded_long_texts() -> None:
    """Deterministic fuzz over long texts, so many-part splits are always exercised."""
    many_parts = reopened = 0
    for seed in range(150):
        rng = random.Random(seed)
        text = "".join(rng.choice(FUZZ_TOKENS) for _ in range(rng.randint(200, 900)))
        suffix = rng.choice(["", LINK])
        parts = check_split(text, len(suffix) + rng.randint(60, 700), suffix)
        many_parts += len(parts) > 2
        reopened += any(p.reopen for p in parts)
    assert many_parts > 100 and reopened > 50


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=3000), extra=st.integers(min_value=60, max_value=2000))
def test_split_property_on_any_text(text: str, extra: int) -> None:
    check_split(text, extra, "")


# -- truncation -------------------------------------------------------------------------
def test_truncate_keeps_short_text() -> None:
    assert truncate_with_link("short", 2000, "https://x.example/") == "short"


def test_truncate_seed_long_comment() -> None:
    text = long_comment_markdown()
    link = "https://modite.example/p/#comment-31"
    result = truncate_with_link(text, CONTENT_LIMIT, link)
    assert len(result) <= CONTENT_LIMIT
    assert result.endswith(f"… [read the rest](<{link}>)")
    head = result.split("… [read the rest]")[0].rstrip()
    assert text.startswith(head)
    assert len(head) > CONTENT_LIMIT // 2


def test_truncate_closes_an_open_code_block() -> None:
    text = "```\n" + "code line\n" * 100 + "```"
    result = truncate_with_link(text, 200, "https://x.example/")
    assert len(result) <= 200
    assert result.count("```") == 2
    assert result.endswith("\n```\n… [read the rest](<https://x.example/>)")


def test_truncate_without_link() -> None:
    result = truncate_with_link("word " * 100, 50, None)
    assert len(result) <= 50 and result.endswith("…")


@settings(max_examples=200, deadline=None)
@given(text=TEXTS, limit=st.integers(min_value=80, max_value=500))
def test_truncate_property(text: str, limit: int) -> None:
    result = truncate_with_link(text, limit, "https://modite.example/p/#c")
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
    else:
        head = re.sub(r"(\n```)?\n?… \[read the rest\]\(<[^>]+>\)$", "", result).rstrip()
        assert text.startswith(head)


# -- shortening and names -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four", 12, "one two…"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("ab \\* cd", 5, "ab…"),
        ("abc", 1, "a"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected


def test_thread_name_of_the_seed_title() -> None:
    title = load_seed()["post"]["title"]
    assert thread_name(title) == "Social media is difficult like intimacy"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (None, "Untitled post"),
        ("   ", "Untitled post"),
        ("Line\nbreaks\tand  spaces", "Line breaks and spaces"),
        ("Hey @everyone", "Hey @\u200beveryone"),
    ],
)
def test_thread_name(title: str | None, expected: str) -> None:
    assert thread_name(title) == expected


def test_thread_name_is_at_most_100_characters() -> None:
    name = thread_name("word " * 60)
    assert len(name) <= THREAD_NAME_LIMIT and name.endswith("…")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ryanstephens", "ryanstephens"),
        ("Rebecca (Modite)", "Rebecca (Modite)"),
        ("Discord Fan", "Disc\u043erd Fan"),
        ("CLYDE", "CLYD\u0415"),
        ("my discord and clyde", "my disc\u043erd and clyd\u0435"),
        ("", "Guest"),
        (None, "Guest"),
        ("  \u200b ", "Guest"),
        ("everyone", "Guest"),
        ("Here", "Guest"),
        ("@everyone", "＠everyone"),
        ("a\u200bb\nc", "ab c"),
        ("code```name", "code'''name"),
    ],
)
def test_webhook_username(name: str | None, expected: str) -> None:
    assert webhook_username(name) == expected


@given(st.text(max_size=200))
def test_webhook_username_is_always_acceptable(name: str) -> None:
    result = webhook_username(name)
    assert 1 <= len(result) <= WEBHOOK_USERNAME_MAX
    assert "discord" not in result.lower() and "clyde" not in result.lower()
    assert result.casefold() not in {"everyone", "here"}
    assert "@" not in result and result == result.strip()


# -- embeds -----------------------------------------------------------------------------
def huge_embed() -> EmbedDraft:
    return EmbedDraft(
        title="t" * 1000,
        description="d " * 5000,
        author_name="a" * 1000,
        footer="f" * 3000,
        fields=tuple((f"name {i} " * 50, "value " * 400, i % 2 == 0) for i in range(40)),
    )


def test_clamp_embed_enforces_every_limit() -> None:
    embed = clamp_embed(huge_embed())
    assert embed.title is not None and len(embed.title) <= EMBED_TITLE_LIMIT
    assert embed.description is not None and len(embed.description) <= EMBED_DESCRIPTION_LIMIT
    assert embed.author_name is not None and len(embed.author_name) <= EMBED_AUTHOR_NAME_LIMIT
    assert embed.footer is None or len(embed.footer) <= EMBED_FOOTER_LIMIT
    assert len(embed.fields) <= EMBED_MAX_FIELDS
    for name, value, _ in embed.fields:
        assert 0 < len(name) <= EMBED_FIELD_NAME_LIMIT
        assert 0 < len(value) <= EMBED_FIELD_VALUE_LIMIT
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT


def test_clamp_embed_gives_up_footer_then_fields_before_the_description() -> None:
    embed = EmbedDraft(
        title="Title",
        description="d" * 4096,
        footer="f" * 2000,
        fields=(("Categories", "c" * 1000, True),),
    )
    clamped = clamp_embed(embed)
    assert clamped.footer is not None and len(clamped.footer) < 2000
    assert clamped.fields == embed.fields and clamped.description == embed.description
    assert embed_length(clamped) == EMBED_TOTAL_LIMIT

    crowded = dataclasses.replace(embed, footer=None, fields=embed.fields * 6)
    clamped = clamp_embed(crowded)
    assert clamped.description == embed.description and len(clamped.fields) == 1
    assert embed_length(clamped) <= EMBED_TOTAL_LIMIT


def test_clamp_embed_fills_empty_fields_and_keeps_small_embeds() -> None:
    small = EmbedDraft(title="T", description="D", fields=(("Name", "Value", False),))
    assert clamp_embed(small) == small
    assert clamp_embed(EmbedDraft(fields=(("", "", True),))).fields == (("\u200b", "\u200b", True),)
