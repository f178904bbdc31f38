"""``bot.bridge`` and ``gatejumper run`` on Discord: where discord.py connects, what the bot
asks for, how it starts and stops, and what an operator reads when Discord says no."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
import yarl

from bot import app
from bot.bridge import EXTENSIONS, Gatejumper, gatejumper_intents, point_discord_at
from bot.config import AnnounceConfig, BlogConfig, DiscordConfig, PollingConfig, Settings
from tests.discord_server import (
    DiscordTestServer,
    GatewayConfig,
    Intent,
    ServerConfig,
    restore_discord_py,
    running,
)

REPO = Path(__file__).resolve().parents[1]
UNREACHABLE_BLOG = "http://127.0.0.1:9/"  # nothing listens on the discard port


def settings_for(server: DiscordTestServer, database: str, **discord: object) -> Settings:
    blog = BlogConfig(
        name="quiet",
        platform="feed",
        url=UNREACHABLE_BLOG,  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=server.world.announcements.id),
    )
    return Settings(
        database=database,
        discord=DiscordConfig(api_base=server.api_base, **discord),  # type: ignore[arg-type]
        polling=PollingConfig(interval=60),  # type: ignore[arg-type]
        blogs=[blog],
    )


@pytest.fixture
def discord_py_restored() -> Iterator[None]:
    yield
    restore_discord_py()


def test_point_discord_at_sets_discord_pys_two_settings(discord_py_restored: None) -> None:
    point_discord_at("http://127.0.0.1:5000/api/v10/", "ws://127.0.0.1:5001/gateway")
    assert discord.http.Route.BASE == "http://127.0.0.1:5000/api/v10"
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL(
        "ws://127.0.0.1:5001/gateway"
    )
    route = discord.http.Route("GET", "/users/@me")
    assert route.url == "http://127.0.0.1:5000/api/v10/users/@me"


def test_an_http_gateway_url_becomes_a_websocket_url(discord_py_restored: None) -> None:
    point_discord_at("https://proxy.example/api/v10", "https://gateway.proxy.example/")
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL(
        "wss://gateway.proxy.example/"
    )


def test_point_discord_at_refuses_another_api_version(discord_py_restored: None) -> None:
    with pytest.raises(ValueError, match="must end in /v10"):
        point_discord_at("https://proxy.example/api/v9", None)
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


def test_intents_are_guilds_guild_and_direct_messages_and_message_content() -> None:
    intents = gatejumper_intents()
    expected = (
        Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.DIRECT_MESSAGES | Intent.MESSAGE_CONTENT
    )
    assert intents.value == int(expected)


async def test_the_gateway_comes_from_gateway_bot_at_the_api_base(
    discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws://127.0.0.1:9/nowhere")
    bot = Gatejumper(settings_for(discord_server, sqlite_url), guild_ready_timeout=0.05)
    async with running(bot, discord_server, timeout=20.0):
        assert len(discord_server.requests_to("GET /gateway/bot")) == 1
        [identify] = [r for r in discord_server.gateway.log if r.kind == "identify"]
        assert identify.detail["intents"] == gatejumper_intents().value
        assert set(bot.extensions) == set(EXTENSIONS)
        assert bot.get_cog("Announcer") is not None
        assert bot.scheduler.scheduler.running
        assert discord_server.commands(), "the application commands were synced"
    assert not bot.extensions and not bot.cogs and not bot.scheduler.scheduler.running


async def test_a_configured_gateway_url_is_used_without_asking(
    discord_server: DiscordTestServer, sqlite_url: str
) -> None:
    """The config's type only takes http(s) URLs; ws(s) is what discord.py is given."""
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws://127.0.0.1:9/nowhere")
    http_form = "http://" + discord_server.gateway_url.removeprefix("ws://")
    settings = settings_for(discord_server, sqlite_url, gateway_url=http_form)
    async with running(Gatejumper(settings, guild_ready_timeout=0.05), discord_server):
        assert discord_server.requests_to("GET /gateway/bot") == []
        assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL(
            discord_server.gateway_url
        )


async def test_closing_twice_is_safe(discord_server: DiscordTestServer, sqlite_url: str) -> None:
    bot = Gatejumper(settings_for(discord_server, sqlite_url), guild_ready_timeout=0.05)
    async with running(bot, discord_server, timeout=20.0):
        await asyncio.gather(bot.close(), bot.close())
    assert bot.is_closed() and not bot.extensions


async def test_a_refused_token_is_one_clear_line_and_exit_2(
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-the-token")
    code = await app.run(settings_for(discord_server, sqlite_url), dry_run=False, once=False)
    assert code == 2
    assert capsys.readouterr().err.startswith("gatejumper: the Discord token was refused: ")


@pytest.mark.parametrize(
    "discord_server_config",
    [ServerConfig(gateway=GatewayConfig(allowed_privileged_intents=Intent(0)))],
)
async def test_message_content_intent_not_enabled_says_how_to_enable_it(
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", discord_server.token)
    code = await app.run(settings_for(discord_server, sqlite_url), dry_run=False, once=False)
    assert code == 2
    err = capsys.readouterr().err
    assert "Message Content Intent" in err and "Privileged Gateway Intents" in err
    assert "Traceback" not in err


async def test_missing_token_and_once_are_usage_errors(
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    settings = settings_for(discord_server, sqlite_url)
    assert await app.run(settings, dry_run=False, once=False) == 2
    assert "DISCORD_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("DISCORD_TOKEN", discord_server.token)
    assert await app.run(settings, dry_run=False, once=True) == 2
    assert "--once only works with --dry-run" in capsys.readouterr().err


async def test_sigterm_stops_the_running_bot_cleanly(
    discord_server: DiscordTestServer, tmp_path: Path
) -> None:
    """The real CLI in a subprocess: it logs in, syncs commands, and exits 0 on SIGTERM."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
database: sqlite:///{tmp_path / "gatejumper.db"}
discord:
  api_base: {discord_server.api_base}
blogs:
  - name: quiet
    platform: feed
    url: {UNREACHABLE_BLOG}
    announce: {{ channel: {discord_server.world.announcements.id} }}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "DISCORD_TOKEN": discord_server.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=REPO,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await discord_server.wait_for_gateway("identify", timeout=30)
        await discord_server.wait_until(
            lambda: discord_server.commands(), timeout=30, what="the command sync"
        )
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = err.decode()
    assert process.returncode == 0, text
    assert "stopping: signal received" in text
    assert "Traceback" not in text
    assert [r.kind for r in discord_server.gateway.log].count("close") == 1


async def test_an_api_base_of_another_version_is_a_usage_error(
    discord_server: DiscordTestServer,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", discord_server.token)
    settings = settings_for(discord_server, sqlite_url)
    v9 = discord_server.api_base.replace("/v10", "/v9")
    settings = settings.model_copy(
        update={"discord": DiscordConfig(api_base=v9)}  # type: ignore[arg-type]
    )
    assert await app.run(settings, dry_run=False, once=False) == 2
    assert "discord.api_base must end in /v10" in capsys.readouterr().err
    assert discord_server.requests == [], "nothing was sent anywhere"
