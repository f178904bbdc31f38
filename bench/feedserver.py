"""A fast feed server for benchmarks: N WordPress-shaped RSS 2.0 feeds, run in its own process.

A hand-written HTTP/1.1 server on raw asyncio protocols (keep-alive, no pipelining needed),
because the server must never be what a benchmark measures: bodies and headers are rendered
once per feed version and served from memory. Feeds are spread over several loopback
addresses (127.0.0.1, 127.0.0.2, ...) so that a client's per-host limit works as it does
against real blogs, which live on many hosts.

    GET /feed/<i>/                  feed i (ETag / Last-Modified, 304 on a match)
    GET /_control/change?fraction=F&added=K&seed=S
                                    K new items on a fraction F of the feeds (JSON answer)
    GET /_control/validators?on=0|1 0: ignore If-None-Match/If-Modified-Since and send no
                                    validators (every poll gets 200 and the same body)
    GET /_control/stats             requests served, by status, and the server's CPU seconds

Run: ``python bench/feedserver.py --feeds 1000 --hosts 16``; it prints one JSON line
``{"port": ..., "hosts": [...], "pid": ...}`` on stdout when it is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

ITEMS = 20
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
PARAGRAPHS = (
    "Yeah, but it is just a blog, someone said. About this blog. My blog. We were talking "
    "about social media and I did not have a response at the time.",
    "I could not come up with anything, and later realised that this person does not even "
    "have a blog. How can you understand social media if you are not a participant?",
    "Of course you can understand it on an intellectual level. But you cannot really get it "
    "unless you have been in it. Unless you have been in it to win it, in fact.",
    "Blogging is one of the most valuable and intimate forms of social media that exists. "
    "It is akin to writing letters back in the day, <em>only faster</em>.",
    "If you do not participate, you are not a part of it. You are last year's season: "
    'obsolete, outdated, old-fashioned. <a href="https://example.org/more">Read more</a>.',
    "Gatejumpers, on the other hand, get to go wherever they want. Even into "
    "air-conditioned buildings, <strong>which matters in August</strong>.",
)
CATEGORIES = ("Blogging", "Community", "Social media", "Writing", "News", "Travel", "Food")
AUTHORS = ("Rebecca Healy", "Sam Ortiz", "Mina Park", "Jo Wright")


def item_xml(feed: int, n: int, host: str) -> str:
    """One WordPress item; deliberately no wfw:commentRss (see bench/README.md)."""
    slug = f"post-{feed}-{n}"
    link = f"http://{host}/{slug}/"
    published = format_datetime(EPOCH + timedelta(hours=n), usegmt=True)
    paragraphs = "\n".join(f"<p>{PARAGRAPHS[(n + k) % len(PARAGRAPHS)]}</p>" for k in range(4))
    categories = "".join(
        f"\n\t\t<category><![CDATA[{CATEGORIES[(n + k) % len(CATEGORIES)]}]]></category>"
        for k in range(3)
    )
    return f"""
	<item>
		<title>Post number {n} of blog {feed}</title>
		<link>{link}</link>
		<comments>{link}#comments</comments>
		<dc:creator><![CDATA[{AUTHORS[n % len(AUTHORS)]}]]></dc:creator>
		<pubDate>{published}</pubDate>{categories}
		<guid isPermaLink="false">http://{host}/?p={n}</guid>
		<description><![CDATA[{PARAGRAPHS[n % len(PARAGRAPHS)][:120]} [&#8230;]]]></description>
		<content:encoded><![CDATA[{paragraphs}]]></content:encoded>
		<slash:comments>{n % 7}</slash:comments>
	</item>"""


def feed_xml(feed: int, newest: int, host: str) -> bytes:
    """The feed as WordPress renders it: the newest 20 items, newest first."""
    items = "".join(item_xml(feed, n, host) for n in range(newest, newest - ITEMS, -1))
    built = format_datetime(EPOCH + timedelta(hours=newest), usegmt=True)
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>
<channel>
	<title>Blog {feed}</title>
	<atom:link href="http://{host}/feed/{feed}/" rel="self" type="application/rss+xml" />
	<link>http://{host}/</link>
	<description>Benchmark blog number {feed}</description>
	<lastBuildDate>{built}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.4.3</generator>{items}
</channel>
</rss>
""".encode()


@dataclass
class Rendered:
    """A feed version, ready to write: its headers (with and without validators) and body."""

    etag: str
    last_modified: str
    head: bytes
    head_plain: bytes  # without validators (validators switched off)
    body: bytes
    not_modified: bytes


class Feeds:
    """Every feed's newest item number and its rendered responses."""

    def __init__(self, count: int, hosts: list[str], port: int) -> None:
        self.hosts = hosts
        self.port = port
        self.newest = [ITEMS + (i % 5) for i in range(count)]
        self.rendered = [self._render(i) for i in range(count)]
        self.validators = True

    def host_of(self, feed: int) -> str:
        return f"{self.hosts[feed % len(self.hosts)]}:{self.port}"

    def _render(self, feed: int) -> Rendered:
        newest = self.newest[feed]
        body = feed_xml(feed, newest, self.host_of(feed))
        etag = f'"{feed}-{newest}"'
        modified = format_datetime(EPOCH + timedelta(hours=newest), usegmt=True)
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        return Rendered(
            etag=etag,
            last_modified=modified,
            head=(head + f"ETag: {etag}\r\nLast-Modified: {modified}\r\n\r\n").encode(),
            head_plain=(head + "\r\n").encode(),
            body=body,
            not_modified=(
                f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nLast-Modified: {modified}\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
        )

    def change(self, fraction: float, added: int, seed: int) -> list[int]:
        """Publish ``added`` new posts on a random ``fraction`` of the feeds."""
        count = len(self.newest)
        chosen = random.Random(seed).sample(range(count), round(count * fraction))
        for feed in chosen:
            self.newest[feed] += added
            self.rendered[feed] = self._render(feed)
        return sorted(chosen)


class FeedProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; GET only; enough for a benchmark, nothing more."""

    def __init__(self, feeds: Feeds, stats: Counter[str]) -> None:
        self.feeds = feeds
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.answer(head)

    def answer(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self.transport.writelines(self.respond(path, headers))
        if headers.get(b"connection", b"").lower() == b"close":
            self.transport.close()

    def respond(self, path: str, headers: dict[bytes, bytes]) -> tuple[bytes, ...]:
        if path.startswith("/feed/"):
            number = path[6:].rstrip("/")
            if number.isdigit() and int(number) < len(self.feeds.rendered):
                return self.feed(self.feeds.rendered[int(number)], headers)
        elif path.startswith("/_control/"):
            return (self.control(path),)
        self.stats["404"] += 1
        return (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",)

    def feed(self, rendered: Rendered, headers: dict[bytes, bytes]) -> tuple[bytes, ...]:
        if not self.feeds.validators:
            self.stats["200"] += 1
            return rendered.head_plain, rendered.body
        etag = headers.get(b"if-none-match")
        since = headers.get(b"if-modified-since")
        if (etag is not None and etag.decode("latin-1") == rendered.etag) or (
            etag is None and since is not None and since.decode("latin-1") == rendered.last_modified
        ):
            self.stats["304"] += 1
            return (rendered.not_modified,)
        self.stats["200"] += 1
        return rendered.head, rendered.body

    def control(self, path: str) -> bytes:
        split = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        answer: object
        if split.path == "/_control/change":
            changed = self.feeds.change(
                float(query.get("fraction", "0.1")),
                int(query.get("added", "2")),
                int(query.get("seed", "1")),
            )
            answer = {"changed": len(changed), "feeds": changed}
        elif split.path == "/_control/validators":
            self.feeds.validators = query.get("on", "1") != "0"
            answer = {"validators": self.feeds.validators}
        elif split.path == "/_control/stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            answer = {**self.stats, "cpu_seconds": usage.ru_utime + usage.ru_stime}
        else:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        body = json.dumps(answer).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


async def serve(count: int, host_count: int, port: int) -> None:
    hosts = [f"127.0.0.{n}" for n in range(1, host_count + 1)]
    stats: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    holder: list[Feeds] = []

    def protocol() -> FeedProtocol:
        return FeedProtocol(holder[0], stats)

    # Port 0 on the first address picks the port; the other addresses reuse it.
    first = await loop.create_server(protocol, hosts[0], port, backlog=4096)
    port = first.sockets[0].getsockname()[1]
    holder.append(Feeds(count, hosts, port))
    for host in hosts[1:]:
        await loop.create_server(protocol, host, port, backlog=4096)
    print(json.dumps({"port": port, "hosts": hosts, "pid": os.getpid()}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, required=True)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250:
        sys.exit("feedserver: --hosts must be between 1 and 250")
    try:
        asyncio.run(serve(args.feeds, args.hosts, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
