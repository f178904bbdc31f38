"""``/gatejumper status | preview | resync`` through the real discord.py and the test server.

Real parts throughout: the real ``Gatejumper`` bridge (core, scheduler, the three
cogs, the real announcer) logged in to ``tests/discord_server``, a SQLite file,
and a small local blog (aiohttp, RSS) for the blog ``modite`` next to a broken
feed (HTTP 500) for the blog ``quiet``. Only the scheduled polls are switched
off, so that the tests poll exactly when they mean to.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

import discord
import pytest
from aiohttp import web
from discord.ext import commands

from bot.announce import LaneStatus
from bot.bridge import Gatejumper
from bot.config import AnnounceConfig, BlogConfig, DiscordConfig, PollingConfig, Settings
from bot.feeds.models import EntryKind
from bot.feeds.update import FeedOutcome, Outcome
from bot.relay import RelayBacklog
from bot.storage import Storage
from bot.storage.records import FeedState
from cogs.admin._resync import Resync, summary
from cogs.admin._status import BlogStatus, blog_field, status_embed
from tests.discord_server import DiscordTestServer, Interaction, Message
from tests.discord_server.client import running
from tests.discord_server.model import MessageFlag
from tests.discord_server.state import new_token
from tests.localsite import LocalSite

EPHEMERAL = MessageFlag.EPHEMERAL
MANAGE_GUILD = 1 << 5
POST_TITLE = "Social media is difficult like intimacy"
RSS = "application/rss+xml; charset=utf-8"


# ---- a small blog: posts RSS and a site-wide comments RSS --------------------------------------


@dataclass
class LocalBlog(LocalSite):
    """A blog whose feeds the test edits; ``/broken/feed/`` always answers 500."""

    posts: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    comments: list[tuple[int, int, str, str, datetime]] = field(default_factory=list)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/feed/", self._posts)
        app.router.add_get("/comments/feed/", self._comments)
        app.router.add_get("/broken/feed/", self._broken)

    def add_post(self, number: int, title: str, text: str, published: datetime) -> None:
        self.posts.append((number, title, text, published))

    def add_comment(
        self, number: int, post: int, author: str, text: str, published: datetime
    ) -> None:
        self.comments.append((number, post, author, text, published))

    async def _posts(self, request: web.Request) -> web.Response:
        items = "".join(
            f"""<item><title>{escape(title)}</title><link>{self.base}/p/{n}/</link>
<dc:creator>Rebecca Healy</dc:creator><pubDate>{format_datetime(when)}</pubDate>
<guid isPermaLink="false">{self.base}/?p={n}</guid><category>Blogging</category>
<content:encoded>{escape(f"<p>{html.escape(text)}</p>")}</content:encoded></item>"""
            for n, title, text, when in sorted(self.posts, key=lambda p: p[3], reverse=True)
        )
        return self._rss("Modite", items)

    async def _comments(self, request: web.Request) -> web.Response:
        items = "".join(
            f"""<item><title>By: {escape(author)}</title>
<link>{self.base}/p/{post}/#comment-{n}</link><dc:creator>{escape(author)}</dc:creator>
<pubDate>{format_datetime(when)}</pubDate>
<guid isPermaLink="false">{self.base}/?p={post}#comment-{n}</guid>
<content:encoded>{escape(f"<p>{html.escape(text)}</p>")}</content:encoded></item>"""
            for n, post, author, text, when in sorted(
                self.comments, key=lambda c: c[4], reverse=True
            )
        )
        return self._rss("Comments for Modite", items)

    async def _broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="database connection lost")

    def _rss(self, title: str, items: str) -> web.Response:
        body = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{escape(title)}</title><link>{self.base}/</link><description>d</description>
{items}</channel></rss>"""
        return web.Response(body=body.encode(), headers={"Content-Type": RSS})


# ---- the bot under test ------------------------------------------------------------------------


class OperatorsBridge(Gatejumper):
    """The real bridge whose scheduled polls do nothing (commands and fixtures poll instead)."""

    async def poll_blog(self, blog: BlogConfig) -> None:
        return None


def blog_config(name: str, site: LocalBlog, channel: int, *, broken: bool = False) -> BlogConfig:
    feed = f"{site.base}/broken/feed/" if broken else f"{site.base}/feed/"
    return BlogConfig(
        name=name,
        platform="feed",
        url=site.base + "/",  # type: ignore[arg-type]
        posts_feed=feed,  # type: ignore[arg-type]
        comments_feed=None if broken else f"{site.base}/comments/feed/",  # type: ignore[arg-type]
        poll_interval=timedelta(hours=1),
        announce=AnnounceConfig(channel=channel),
    )


@pytest.fixture
async def site() -> AsyncIterator[LocalBlog]:
    now = datetime.now(UTC).replace(microsecond=0)
    async with LocalBlog() as blog:
        blog.add_post(
            101, POST_TITLE, "“Yeah, but it’s just a blog,” someone said.", now - timedelta(hours=5)
        )
        blog.add_post(100, "An older post", "Old news.", now - timedelta(days=3))
        blog.add_comment(1, 101, "Rebecca", "First!", now - timedelta(hours=4))
        blog.add_comment(
            2, 101, "Jun", "What the f**k is a blog? @everyone", now - timedelta(hours=1)
        )
        yield blog


@pytest.fixture
def settings(sqlite_url: str, site: LocalBlog, discord_server: DiscordTestServer) -> Settings:
    channel = discord_server.world.announcements.id
    return Settings(
        database=sqlite_url,
        discord=DiscordConfig(api_base=discord_server.api_base),  # type: ignore[arg-type]
        polling=PollingConfig(interval=timedelta(hours=1)),
        blogs=[
            blog_config("modite", site, channel),
            blog_config("quiet", site, channel, broken=True),
        ],
    )


@contextlib.asynccontextmanager
async def bridge(settings: Settings, server: DiscordTestServer) -> AsyncIterator[Gatejumper]:
    bot = OperatorsBridge(settings, guild_ready_timeout=0.05)
    async with running(bot, server, timeout=20.0) as ready:
        yield ready


@pytest.fixture
async def operator_bot(
    discord_server: DiscordTestServer, settings: Settings
) -> AsyncIterator[Gatejumper]:
    async with bridge(settings, discord_server) as bot:
        yield bot


@pytest.fixture
async def polled(operator_bot: Gatejumper) -> Gatejumper:
    """Both blogs polled once: modite's baseline stored, quiet's first failure recorded."""
    await operator_bot.core.poller.poll_all(force=True)
    return operator_bot


Run = Callable[..., Awaitable[Interaction]]


@pytest.fixture
def run(discord_server: DiscordTestServer, operator_bot: Gatejumper) -> Run:
    """``await run("status", blog="modite", user=bob)``: the interaction once fully answered."""

    async def invoke(
        sub: str, *, user: Any = None, followups: int = 0, **options: str
    ) -> Interaction:
        world = discord_server.world
        interaction = discord_server.inject_slash_command(
            "gatejumper",
            user=user or world.alice,
            channel=world.general,
            options=[
                {
                    "type": 1,
                    "name": sub,
                    "options": [{"type": 3, "name": k, "value": v} for k, v in options.items()],
                }
            ],
        )

        def answered() -> bool:
            if not interaction.responses or len(interaction.followup_ids) < followups:
                return False
            if interaction.responses[0].type == 5:  # deferred: wait for the edit
                original = discord_server.message(interaction.original_message_id or 0)
                return original.edited_at is not None
            return True

        await discord_server.wait_until(answered, timeout=10, what=f"/gatejumper {sub} answered")
        return interaction

    return invoke


def shown(server: DiscordTestServer, interaction: Interaction) -> list[Message]:
    """The original response and follow-ups, in order, as the test server stored them."""
    ids = [interaction.original_message_id, *interaction.followup_ids]
    return [server.message(i) for i in ids if i is not None]


def assert_private_and_silent(server: DiscordTestServer, interaction: Interaction) -> None:
    for message in shown(server, interaction):
        assert message.flags & EPHEMERAL, f"not ephemeral: {message.content!r}"
        assert message.pings.is_empty, f"pinged: {message.content!r}"
    assert server.messages(server.world.general) == [], "nothing may appear in the channel"


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)
    return value


# ---- registration and permissions -------------------------------------------------------------


async def test_group_is_registered_for_server_managers_in_servers_only(
    discord_server: DiscordTestServer, operator_bot: Gatejumper
) -> None:
    [command] = discord_server.commands()
    assert command.name == "gatejumper"
    assert int(command.raw["default_member_permissions"]) == MANAGE_GUILD
    assert command.raw["contexts"] == [0], "guild only"
    assert command.raw["dm_permission"] is False
    subcommands = {o["name"]: o for o in command.options}
    assert sorted(subcommands) == ["preview", "resync", "status"]
    for name, sub in subcommands.items():
        [blog] = sub["options"]
        assert (blog["name"], blog["type"], blog["autocomplete"]) == ("blog", 3, True)
        assert blog["required"] is (name != "status")


@pytest.mark.parametrize("sub", ["status", "preview", "resync"])
async def test_member_without_manage_server_is_refused(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper, sub: str
) -> None:
    """The test server, like Discord's API, does not enforce default_permissions on
    interactions (Discord's client hides the command); the commands' own check refuses bob."""
    before = await polled.core.storage.list_feeds("modite")

    interaction = await run(sub, user=discord_server.world.bob, blog="modite")

    [response] = interaction.responses
    assert response.type == 4 and response.data["flags"] & EPHEMERAL
    assert response.data["content"] == "You need the Manage Server permission to use this command."
    assert await polled.core.storage.list_feeds("modite") == before, (
        "a refused resync polls nothing"
    )


async def test_a_role_with_manage_server_is_enough(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper
) -> None:
    managers = discord_server.add_role("Blog managers", MANAGE_GUILD)
    discord_server.set_roles(discord_server.world.bob, [managers])
    interaction = await run("status", user=discord_server.world.bob)
    [message] = shown(discord_server, interaction)
    assert message.embeds and message.embeds[0]["title"] == "Gatejumper status"


# ---- status -------------------------------------------------------------------------------------


async def test_status_shows_every_blog_with_failures_first(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper
) -> None:
    quiet_blog = polled.settings.blogs[1]
    for _ in range(2):  # three failures in a row: "failing" (failing_after=3), an alert is queued
        await polled.core.poller.poll_blog(quiet_blog, force=True)

    interaction = await run("status")

    [message] = shown(discord_server, interaction)
    assert_private_and_silent(discord_server, interaction)
    [embed] = message.embeds
    assert embed["description"] == "2 blogs · 1 failing · 1 event waiting for Discord"
    quiet, modite = embed["fields"]
    assert (quiet["name"], modite["name"]) == ("⚠️ quiet", "✅ modite")

    assert "**Platform** feed · 1 feed" in quiet["value"]
    assert "**Last poll** <t:" in quiet["value"] and "never succeeded" in quiet["value"]
    assert "**Failures** 3 times in a row on `quiet:posts`, failing since <t:" in quiet["value"]
    assert "**Last error** Retrieving http://127.0.0.1:" in quiet["value"]
    assert "HTTP 500 Internal Server Error" in quiet["value"]
    assert "**Discord queue** 1 event waiting" in quiet["value"]

    assert "**Platform** feed · 2 feeds" in modite["value"]
    assert "**Failures** none" in modite["value"]
    next_poll = polled.scheduler.next_run("modite")
    assert next_poll is not None
    assert f"**Next poll** {discord.utils.format_dt(next_poll, 'R')}" in modite["value"]
    assert "**Discord queue** 0 events waiting" in modite["value"]


async def test_a_refusing_channel_shows_as_disabled_until_resync_retries_it(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper
) -> None:
    """Discord refuses the announcer (no Send Messages): status says so; after the fix,
    resync retries the channel at once and the waiting alert goes out."""
    announcements = discord_server.world.announcements
    discord_server.set_permissions(announcements, deny="SEND_MESSAGES")
    for _ in range(2):  # the third failure queues a "feed failing" alert for announcements
        await run("resync", blog="quiet")
    await eventually(lambda: polled.announcer.lane_status("quiet").disabled, "quiet disabled")

    status = await run("status", blog="quiet")
    [field_] = shown(discord_server, status)[0].embeds[0]["fields"]
    assert field_["name"] == "⛔ quiet"
    assert (
        f"**Disabled** in <#{announcements.id}>: the bot lacks a permission in channel "
        f"{announcements.id}: give its role View Channel, Send Messages"
    ) in field_["value"]
    assert "**Discord queue** 1 event waiting · next retry <t:" in field_["value"]

    discord_server.set_permissions(announcements, allow="SEND_MESSAGES")
    resync = await run("resync", blog="quiet")
    [message] = shown(discord_server, resync)
    assert f"Posting to <#{announcements.id}> is retried now" in message.content

    alert = await eventually(
        lambda: [m for m in discord_server.messages(announcements) if "is failing" in m.content],
        "the alert in #announcements",
    )
    assert "Feed **quiet:posts** of blog **quiet** is failing: 3 failed polls" in alert[0].content
    await eventually(lambda: not polled.announcer.lane_status("quiet").disabled, "re-enabled")


async def test_status_before_any_poll_says_never(
    discord_server: DiscordTestServer, run: Run
) -> None:
    interaction = await run("status", blog="quiet")
    [embed] = shown(discord_server, interaction)[0].embeds
    [field_] = embed["fields"]
    assert field_["name"] == "💤 quiet"
    assert "**Platform** feed · no feeds yet" in field_["value"]
    assert "**Last poll** never" in field_["value"]


async def test_unknown_blog_is_a_sentence(discord_server: DiscordTestServer, run: Run) -> None:
    interaction = await run("preview", blog="modit")
    [response] = interaction.responses
    assert response.data["flags"] & EPHEMERAL
    assert response.data["content"] == (
        "There is no blog called “modit”. Did you mean `modite`? Known blogs: `modite`, `quiet`."
    )


async def test_status_with_many_blogs_stays_within_discords_limits(
    discord_server: DiscordTestServer, sqlite_url: str, site: LocalBlog
) -> None:
    """40 failing blogs with long errors: Discord (the test server validates like it) accepts
    the embed, and the blogs that did not fit are counted in the footer."""
    channel = discord_server.world.announcements.id
    blogs = [blog_config(f"blog-{i:02d}", site, channel) for i in range(40)]
    settings = Settings(
        database=sqlite_url,
        discord=DiscordConfig(api_base=discord_server.api_base),  # type: ignore[arg-type]
        blogs=blogs,
    )
    now = datetime.now(UTC)
    async with await Storage.open(sqlite_url) as storage:
        for blog in blogs:
            await storage.save_feed(
                FeedState(
                    key=f"{blog.name}:posts",
                    blog=blog.name,
                    url=f"{site.base}/feed/",
                    role="posts",
                    failures=7,
                    failing_since=now - timedelta(hours=2),
                    last_polled_at=now,
                    last_error="HTTP 500: " + "x" * 3000,
                )
            )
    async with bridge(settings, discord_server):
        interaction = discord_server.inject_slash_command(
            "gatejumper",
            user=discord_server.world.alice,
            channel=discord_server.world.general,
            options=[{"type": 1, "name": "status", "options": []}],
        )
        await discord_server.wait_until(lambda: interaction.acknowledged, what="status")
    [response] = interaction.responses
    [embed] = response.data["embeds"]
    assert 1 < len(embed["fields"]) < 40
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    hidden = 40 - len(embed["fields"])
    assert embed["footer"]["text"].startswith(f"…and {hidden} more blogs")
    assert len(discord.Embed.from_dict(embed)) <= 6000


def lane(**changes: Any) -> LaneStatus:
    values: dict[str, Any] = {
        "blog": "b",
        "queued": 0,
        "delivered": 0,
        "busy": False,
        "disabled": None,
        "disabled_channel": None,
        "last_error": None,
        "failures": 0,
        "next_retry": None,
    }
    return LaneStatus(**{**values, **changes})


def blog_status(name: str, **lane_changes: Any) -> BlogStatus:
    config = BlogConfig(
        name=name,
        platform="feed",
        url="https://b.example/",  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=1),
    )
    return BlogStatus(blog=config, feeds=(), next_poll=None, lane=lane(blog=name, **lane_changes))


def test_status_embed_caps_fields_at_25() -> None:
    """Short fields: the 25-field limit binds before the size budget."""
    embed = status_embed([blog_status(f"b{i}") for i in range(30)])
    assert len(embed.fields) == 25
    assert embed.footer.text is not None and embed.footer.text.startswith("…and 5 more blogs")


def test_transient_discord_trouble_is_shown_with_the_next_retry() -> None:
    retry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    _, value = blog_field(
        blog_status(
            "b",
            queued=3,
            failures=2,
            next_retry=retry,
            last_error="503 <@&123456789012345678> **x**",
        )
    )
    assert (
        f"**Discord queue** 3 events waiting · 2 failed tries in a row · next retry "
        f"<t:{int(retry.timestamp())}:R>"
    ) in value
    assert "**Last Discord error** 503 <@\u200b&123456789012345678> \\*\\*x\\*\\*" in value


def test_a_relay_waiting_for_the_blog_is_shown_with_its_error() -> None:
    retry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    backlog = RelayBacklog(
        waiting=50, last_error="cannot reach the blog: refused", next_retry=retry
    )
    status = dataclasses.replace(blog_status("b"), relay=backlog)
    _, value = blog_field(status)
    assert (
        f"**Relay to the blog** 50 replies waiting · next try <t:{int(retry.timestamp())}:R>"
        in value
    )
    assert "**Last blog error** cannot reach the blog: refused" in value
    _, quiet = blog_field(blog_status("b"))
    assert "Relay" not in quiet  # a blog without the relay says nothing of it


# ---- preview ------------------------------------------------------------------------------------


async def test_preview_shows_the_newest_post_and_comment_privately(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper, site: LocalBlog
) -> None:
    interaction = await run("preview", blog="modite", followups=2)

    assert [r.type for r in interaction.responses] == [5], "deferred, then edited"
    post, intro, comment = shown(discord_server, interaction)
    assert_private_and_silent(discord_server, interaction)

    channel = discord_server.world.announcements.id
    assert post.content == (
        f"Preview for **modite**: the newest post, as it would be announced in <#{channel}>:"
    )
    [embed] = post.embeds
    assert embed["title"] == POST_TITLE and embed["url"] == f"{site.base}/p/101/"
    assert embed["author"]["name"] == "Rebecca Healy"
    assert embed["fields"] == [{"name": "Categories", "value": "Blogging", "inline": True}]

    [who] = intro.embeds
    assert who["author"]["name"] == "Jun"
    assert who["author"]["icon_url"].startswith("https://www.gravatar.com/avatar/")
    assert f"in the thread “{POST_TITLE}”" in who["description"]

    assert comment.content.startswith("What the f\\*\\*k is a blog?")
    assert f"<{site.base}/p/101/#comment-2>" in comment.content
    for message in (post, intro, comment):
        assert message.allowed_mentions == {"parse": []}


async def test_preview_of_a_blog_with_nothing_stored(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper
) -> None:
    interaction = await run("preview", blog="quiet")
    [message] = shown(discord_server, interaction)
    assert message.content == (
        "Nothing of **quiet** is stored yet; run `/gatejumper resync blog:quiet` "
        "to read the blog now."
    )
    assert message.flags & EPHEMERAL


# ---- resync -------------------------------------------------------------------------------------


async def test_resync_reads_the_blog_now_and_fills_gaps_without_duplicates(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper, site: LocalBlog
) -> None:
    """A new comment on a baseline post: resync finds it and the announcer opens the post's
    thread for it; the next resync re-queues the two older comments that thread lacks; a third
    one finds nothing to add, and every comment ends up in the thread exactly once."""
    announcements = discord_server.world.announcements
    site.add_comment(3, 101, "Lu", "A new comment since the last poll.", datetime.now(UTC))

    first = await run("resync", blog="modite")

    assert [r.type for r in first.responses] == [5], "deferred, then edited"
    assert_private_and_silent(discord_server, first)
    assert shown(discord_server, first)[0].content == (
        "Resynced **modite**: polled 2 feeds, found 1 new event "
        "and re-queued 0 missing comments for Discord."
    )
    [stored] = await polled.core.storage.items_since(
        "modite", [EntryKind.COMMENT], datetime.now(UTC) - timedelta(minutes=5)
    )
    assert stored.entry.author == "Lu"
    [thread] = await eventually(lambda: discord_server.threads(announcements), "the post's thread")
    await eventually(lambda: discord_server.messages(thread), "Lu's comment in the thread")

    second = await run("resync", blog="modite")
    third = await run("resync", blog="modite")

    assert [shown(discord_server, r)[0].content for r in (second, third)] == [
        "Resynced **modite**: polled 2 feeds, found 0 new events "
        "and re-queued 2 missing comments for Discord.",
        "Resynced **modite**: polled 2 feeds, found 0 new events "
        "and re-queued 0 missing comments for Discord.",
    ]
    await eventually(lambda: len(discord_server.messages(thread)) >= 3, "the re-queued comments")
    await asyncio.sleep(0.5)  # a duplicate would arrive now
    names = sorted(m.display_name for m in discord_server.messages(thread))
    assert names == ["Jun", "Lu", "Rebecca"]


async def test_resync_reports_failing_feeds(
    discord_server: DiscordTestServer, run: Run, polled: Gatejumper
) -> None:
    interaction = await run("resync", blog="quiet")
    [message] = shown(discord_server, interaction)
    assert message.content.startswith(
        "Resynced **quiet**: polled 1 feed, found 0 new events "
        "and re-queued 0 missing comments for Discord. 1 feed failed: `quiet:posts`: Retrieving "
    )
    assert message.content.endswith("HTTP 500 Internal Server Error..")


def test_resync_summary_counts_gaps_and_retried_channels() -> None:
    outcomes = (
        FeedOutcome("m:posts", Outcome.UNCHANGED),
        FeedOutcome("m:comments", Outcome.UPDATED, events=1),
    )
    assert summary(Resync("m", outcomes, gaps=1, enabled=(5, 6))) == (
        "Resynced **m**: polled 2 feeds, found 1 new event and re-queued 1 missing comment "
        "for Discord. Posting to <#5>, <#6> is retried now; /gatejumper status shows if it works."
    )


# ---- autocomplete -------------------------------------------------------------------------------


async def test_blog_option_autocompletes_configured_names(
    discord_server: DiscordTestServer, operator_bot: Gatejumper
) -> None:
    """The test server has no autocomplete injector: build Discord's payload (type 4) from the
    one it makes for a slash command and dispatch it on the gateway."""
    world = discord_server.world
    [command] = discord_server.commands()
    typed = Interaction(
        id=discord_server.state.ids.next(),
        token=new_token(160),
        application_id=discord_server.application_id,
        command_name="gatejumper",
        command_id=command.id,
        user_id=world.alice.id,
        guild_id=world.guild.id,
        channel_id=world.general.id,
        options=[
            {
                "type": 1,
                "name": "preview",
                "options": [{"type": 3, "name": "blog", "value": "qu", "focused": True}],
            }
        ],
    )
    discord_server.state.interactions[typed.id] = typed
    member = discord_server.state.member(world.guild.id, world.alice.id)
    payload = discord_server._interaction_payload(typed, member, world.general)
    payload["type"] = 4
    discord_server.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=world.guild.id)
    await discord_server.wait_until(lambda: typed.acknowledged, what="the autocomplete answer")
    [response] = typed.responses
    assert response.type == 8
    assert response.data["choices"] == [{"name": "quiet", "value": "quiet"}]


# ---- loading ----------------------------------------------------------------------------------


async def test_loading_into_a_bot_that_is_not_the_bridge_fails_with_a_sentence(
    discord_bot: commands.Bot,
) -> None:
    with pytest.raises(commands.ExtensionFailed) as failed:
        await discord_bot.load_extension("cogs.admin")
    assert str(failed.value.original) == (
        "cogs.admin needs the Gatejumper bot (bot.bridge.Gatejumper) with its settings, core, "
        "announcer, scheduler set up before the extension loads (load cogs.announcer first); "
        "missing: settings, core, announcer, scheduler"
    )
    assert discord_bot.tree.get_command("gatejumper") is None
