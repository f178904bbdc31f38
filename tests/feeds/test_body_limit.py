"""The body limit: slots per host and in all, and the host name it groups feeds by."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.feeds import update
from bot.feeds.update import BodyLimit


@pytest.mark.parametrize(
    "url",
    [
        "https://Blog.Example/feed/",
        "http://user:secret@blog.example:8080/feed?x=1#top",
        "http://[::1]:8080/feed",
        "http://[2001:DB8::1]/",
        "https://blog.example",
        "https://blog.example?feed=rss2",
        "https://blog.example#x",
        "http://127.0.0.2:9/feed/3/",
        "relative/feed",
        "",
    ],
)
def test_host_is_what_urlsplit_gives(url: str) -> None:
    assert BodyLimit(1, 1).hold(url)._host == (urlsplit(url).hostname or "")


@given(
    scheme=st.sampled_from(["http", "https"]),
    user=st.sampled_from(["", "u@", "u:p@", "a@b@"]),
    host=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,20}", fullmatch=True),
    port=st.sampled_from(["", ":80", ":8080"]),
    tail=st.from_regex(
        r"(/[A-Za-z0-9._~%-]*)*(\?[A-Za-z0-9=&:@/]*)?(#[A-Za-z0-9:@/?]*)?", fullmatch=True
    ),
)
@example(scheme="http", user="", host="a", port="", tail="?b/c@d")
def test_host_agrees_with_urlsplit_on_generated_urls(
    scheme: str, user: str, host: str, port: str, tail: str
) -> None:
    url = f"{scheme}://{user}{host}{port}{tail}"
    assert BodyLimit(1, 1).hold(url)._host == (urlsplit(url).hostname or "")


async def test_the_hosts_of_feeds_are_remembered_within_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(update, "_HOSTS", {})
    monkeypatch.setattr(update, "_HOSTS_KEPT", 3)
    limit = BodyLimit(total=2, per_host=1)
    for n in range(10):
        held = limit.hold(f"http://Host{n % 5}.example/feed/{n}")
        other = limit.hold(f"http://host{n % 5}.example/other")
        await held.take()
        waiting = asyncio.ensure_future(other.take())
        await asyncio.sleep(0)
        assert not waiting.done(), "one host: one slot, whatever the URL's case"
        held.release()
        await waiting
        other.release()
        assert len(update._HOSTS) <= 3
    assert limit._total.free == 2 and len(limit._hosts) == 0


async def test_slots_are_per_host_and_in_all() -> None:
    limit = BodyLimit(total=3, per_host=2)
    a1, a2, a3 = (limit.hold(f"http://a.example/{n}") for n in range(3))
    b1, b2 = (limit.hold(f"http://B.example:81/{n}") for n in range(2))
    await a1.take()
    await a2.take()
    third_of_a = asyncio.ensure_future(a3.take())
    await b1.take()  # another host: its own slots, and the last of all
    last_of_all = asyncio.ensure_future(b2.take())
    await asyncio.sleep(0)
    assert not third_of_a.done() and not last_of_all.done()
    # a1 gives back a's slot (a3 takes it, then waits for one of all) and one of all,
    # which b2 was waiting for first: the host slot is taken first, then one of all
    a1.release()
    await asyncio.wait_for(last_of_all, 1)
    assert not third_of_a.done()
    b1.release()
    await asyncio.wait_for(third_of_a, 1)
    for held in (a2, a3, b2):
        held.release()
        held.release()  # again: a no-op
    assert len(limit._hosts) == 0


async def test_slots_taken_now_are_both_or_none() -> None:
    limit = BodyLimit(total=2, per_host=1)
    first = limit.hold("http://a.example/feed")
    assert first.take_now()
    assert not limit.hold("http://a.example/other").take_now()  # its host is busy
    second = limit.hold("http://b.example/feed")
    assert second.take_now()
    third = limit.hold("http://c.example/feed")
    assert not third.take_now()  # every slot in use: c's host slot is not kept either
    waiting = asyncio.ensure_future(third.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    first.release()
    await asyncio.wait_for(waiting, 1)
    assert not limit.hold("http://d.example/feed").take_now(), "the waiter got the slot"
    for held in (second, third):
        held.release()
    assert limit.hold("http://c.example/feed").take_now()
