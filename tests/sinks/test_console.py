"""The dry-run console sink prints each event's messages as stable, readable blocks."""

from __future__ import annotations

import dataclasses
import io
import logging

import pytest

from bot.events import CommentEdited, FeedFailing, NewComment, NewPingback, NewPost
from bot.sinks import Sink
from bot.sinks.console import ConsoleSink
from tests.render.seed_thread import (
    ALERTS_CHANNEL,
    LONG_COMMENT_INDEX,
    POST_URL,
    ROLE,
    blog_config,
    seed_comment,
    seed_post,
)

HEADER = '── #123456789012345678 › thread "Social media is difficult like intimacy" ──'


class CountingStream(io.StringIO):
    """A text stream that records how often it was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def make_sink(stream: io.StringIO, **blog: object) -> ConsoleSink:
    return ConsoleSink(
        {"modite": blog_config(**blog)}, alerts_channel=ALERTS_CHANNEL, stream=stream
    )


def test_console_sink_is_a_sink() -> None:
    assert isinstance(make_sink(io.StringIO()), Sink)


async def test_new_post_block() -> None:
    stream = CountingStream()
    await make_sink(stream).deliver(NewPost(blog="modite", post=seed_post()))
    lines = stream.getvalue().split("\n")
    assert lines[0] == (
        '── #123456789012345678 › new thread "Social media is difficult like intimacy" ──'
    )
    assert lines[1] == f"<@&{ROLE}>"
    assert lines[2] == "embed:"
    assert lines[3] == "  title: Social media is difficult like intimacy"
    assert lines[4] == f"  url: {POST_URL}"
    assert lines[5] == "  author: Rebecca Healy (https://modite.example/author/rebecca/)"
    assert lines[6].startswith("  description: “Yeah, but it’s just a blog,” someone said.")
    assert lines[6].endswith("…")
    assert lines[7] == "  image: https://modite.example/wp-content/uploads/2009/08/gate.jpg"
    assert lines[8] == "  categories: Blogging · Community Engagement · Social media"
    assert lines[9] == "  time: 2009-08-12T09:00:00+00:00"
    assert lines[10] == "  footer: modite.example"
    assert lines[11:] == ["", ""]  # the block ends with an empty line
    assert stream.flushes == 1


async def test_new_comment_block() -> None:
    stream = CountingStream()
    await make_sink(stream).deliver(NewComment(blog="modite", comment=seed_comment(14)))
    lines = stream.getvalue().split("\n")
    assert lines[0] == HEADER
    assert lines[1] == "author: Rebecca (Modite)   (reply to comment-14)"
    assert lines[2].startswith("@ Gene – I love your comment. You should make that comment")
    assert lines[2].endswith("Anyway, thank you for such a great comment.")
    assert lines[3] == ""
    assert lines[4] == "@ Jessica – what?! Jessica! Keep it clean! ;)"
    assert lines[5] == f"🔗 <{POST_URL}#comment-15>"
    assert lines[6:] == ["", ""]
    assert stream.flushes == 1


async def test_split_comment_prints_one_block_per_part() -> None:
    stream = io.StringIO()
    await make_sink(stream).deliver(
        NewComment(blog="modite", comment=seed_comment(LONG_COMMENT_INDEX))
    )
    blocks = stream.getvalue().split("\n\n── ")
    assert len(blocks) == 2
    assert blocks[0].split("\n")[0] == HEADER[:-3] + " · part 1/2 ──"
    assert ("── " + blocks[1]).split("\n")[0] == HEADER[:-3] + " · part 2/2 ──"
    assert blocks[0].endswith("\n(1/2)")
    assert blocks[1].endswith(f"(2/2)\n🔗 <{POST_URL}#comment-31>\n\n")


async def test_other_kinds_are_tagged_in_the_header() -> None:
    stream = io.StringIO()
    sink = make_sink(stream)
    await sink.deliver(CommentEdited(blog="modite", comment=seed_comment(9)))
    await sink.deliver(NewPingback(blog="modite", pingback=seed_comment(28)))
    await sink.deliver(
        FeedFailing(blog="modite", feed="modite:posts", url="https://modite.example/feed/",
                    failures=2, error="timeout")
    )  # fmt: skip
    lines = stream.getvalue().split("\n")
    assert lines[0] == HEADER[:-3] + " · edit comment-10 ──"
    assert lines[1] == "author: Dan Schawbel"
    pingback = lines.index(HEADER)
    assert lines[pingback + 1].startswith("🔗 Pingback from [Ryan Stephens Marketing](<https://")
    alert = lines.index("── #223456789012345678 · alert ──")
    assert lines[alert + 1].startswith("⚠️ Feed **modite:posts** of blog **modite** is failing: 2")


async def test_skipped_and_unknown_events_say_so(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    sink = make_sink(stream, comments={"include_pingbacks": False})
    await sink.deliver(NewPingback(blog="modite", pingback=seed_comment(28)))
    with caplog.at_level(logging.WARNING):
        await sink.deliver(NewPost(blog="elsewhere", post=seed_post()))
    assert stream.getvalue() == (
        "-- new_pingback for modite: nothing to post\n\n"
        "!! new_post for unknown blog 'elsewhere' skipped\n\n"
    )
    assert "no configuration for blog 'elsewhere'" in caplog.text


async def test_output_survives_a_stream_that_cannot_encode_it() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    await ConsoleSink({"modite": blog_config()}, stream=stream).deliver(
        NewComment(blog="modite", comment=seed_comment(0))
    )
    text = raw.getvalue().decode("ascii")
    assert text.startswith("\\u2500\\u2500 #123456789012345678")
    assert "@ Modite \\u2013 Very enjoyable read." in text


async def test_lone_surrogates_do_not_break_utf8_output() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    comment = dataclasses.replace(seed_comment(10), content_html="<p>bad \udc80 byte</p>")
    await ConsoleSink({"modite": blog_config()}, stream=stream).deliver(
        NewComment(blog="modite", comment=comment)
    )
    assert "bad \\udc80 byte" in raw.getvalue().decode("utf-8")


async def test_default_stream_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    await ConsoleSink({"modite": blog_config()}).deliver(
        NewComment(blog="modite", comment=seed_comment(10))
    )
    out = capsys.readouterr().out
    assert out.startswith(HEADER + "\nauthor: Nicole\nIt’s such a treat when you blog. (nudge)\n")
