"""The gatejumper command line (bot.__main__): exit codes, messages, hand-over to bot.app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bot
from bot.__main__ import main

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config.yaml"
BAD = Path(__file__).parent / "data" / "config"
SHIPPED_SUMMARY = (
    "config.yaml: OK — 1 blog (wordpress-news: wordpress), database sqlite:///gatejumper.db"
)

TWO_BLOGS = """\
database: postgresql://gatejumper:hunter2@127.0.0.1:5432/gatejumper
discord:
  token_env: MY_BOT_TOKEN
blogs:
  - name: news
    platform: wordpress
    url: https://news.example.org/
    credentials: {username: bot, app_password_env: NEWS_APP_PASSWORD}
    announce: {channel: 123456789012345678}
  - name: notes
    platform: isso
    url: https://notes.example.org/
    isso_url: https://comments.notes.example.org/
    announce: {channel: 123456789012345678}
"""


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No token from the developer's shell; .env files loaded by a test stay in that test."""
    saved = dict(os.environ)
    for name in ("DISCORD_TOKEN", "MY_BOT_TOKEN", "NEWS_APP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory holding a copy of the shipped config.yaml, and no .env."""
    shutil.copy(SHIPPED, tmp_path / "config.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class FakeApp:
    """Stands in for bot.app (the lead's module) to observe what the CLI hands over."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.result: int | BaseException = 0
        module = types.ModuleType("bot.app")
        module.run = self._record("run")  # type: ignore[attr-defined]
        module.preview = self._record("preview")  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "bot.app", module)
        monkeypatch.setattr(bot, "app", module, raising=False)

    def _record(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> int:
            self.calls.append((name, args, kwargs))
            if isinstance(self.result, BaseException):
                raise self.result
            return self.result

        return call


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FakeApp:
    return FakeApp(monkeypatch)


# check-config


def test_shipped_config_passes_dry_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out == SHIPPED_SUMMARY + "\n"
    assert err == ""


def test_check_config_wants_the_token_without_dry_run(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "config.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == (
        "config.yaml:44:3: discord.token_env: environment variable DISCORD_TOKEN is not set "
        "(export it, or add it to .env)"
    )
    assert "export DISCORD_TOKEN=..." in err


def test_check_config_with_token_from_dotenv(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / ".env").write_text("DISCORD_TOKEN=tok-from-dotenv\n")
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == SHIPPED_SUMMARY + "\n"


def test_summary_lists_blogs_and_masks_the_database_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "two.yaml").write_text(TWO_BLOGS)
    monkeypatch.setenv("MY_BOT_TOKEN", "t")
    monkeypatch.setenv("NEWS_APP_PASSWORD", "p")
    assert main(["check-config", str(tmp_path / "two.yaml")]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"{tmp_path / 'two.yaml'}: OK — 2 blogs (news: wordpress, notes: isso), "
        "database postgresql://gatejumper:***@127.0.0.1:5432/gatejumper\n"
    )
    assert "hunter2" not in out + err


def test_dry_run_still_checks_blog_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "two.yaml").write_text(TWO_BLOGS)
    assert main(["check-config", str(tmp_path / "two.yaml"), "--dry-run"]) == 2
    _, err = capsys.readouterr()
    assert err == (
        f"{tmp_path / 'two.yaml'}:8:34: blogs.news.credentials.app_password_env: environment "
        f"variable NEWS_APP_PASSWORD is not set (export it, or add it to {tmp_path / '.env'})\n"
    )


def test_bad_config_prints_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD)
    assert main(["check-config", "duplicate_names.yaml", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "duplicate_names.yaml:10:11: blogs[2].name: blog name 'news' is already used by the "
        "blog at line 2",
        "duplicate_names.yaml:14:11: blogs[3].name: blog name 'news' is already used by the "
        "blog at line 2",
    ]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("syntax_error.yaml", "syntax_error.yaml:6:9: invalid YAML: expected ',' or '}', but got"),
        ("empty.yaml", "empty.yaml:1:1: the file is empty"),
        ("top_level_list.yaml", "top_level_list.yaml:1:1: the top level must be a mapping"),
        ("does-not-exist.yaml", "does-not-exist.yaml: no such file"),
    ],
)
def test_unusable_files_exit_2_with_one_clear_line(
    name: str, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD)
    assert main(["check-config", name, "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(line)
    assert "Traceback" not in err


def test_secret_values_never_appear_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "two.yaml").write_text(TWO_BLOGS)
    (tmp_path / ".env").write_text("MY_BOT_TOKEN=tok-SEKRIT-4242\n")
    monkeypatch.setenv("NEWS_APP_PASSWORD", "pw-SEKRIT-4242")
    assert main(["check-config", str(tmp_path / "two.yaml"), "-v"]) == 0
    (tmp_path / "broken.yaml").write_text(TWO_BLOGS.replace("isso_url", "iso_url"))
    assert main(["check-config", str(tmp_path / "broken.yaml"), "-v"]) == 2
    out, err = capsys.readouterr()
    assert "OK — 2 blogs" in out and "iso_url" in err
    assert "SEKRIT" not in out + err


# run


def test_run_without_token_explains_how_to_give_it(
    tmp_path: Path, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "two.yaml").write_text(TWO_BLOGS)
    os.environ["NEWS_APP_PASSWORD"] = "p"
    assert main(["run", "--config", str(tmp_path / "two.yaml")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{tmp_path / 'two.yaml'}:3:3: discord.token_env: environment variable MY_BOT_TOKEN is "
        f"not set (export it, or add it to {tmp_path / '.env'})",
        "gatejumper: the Discord bot token is missing: run `export MY_BOT_TOKEN=...`, or put the "
        f"line MY_BOT_TOKEN=... in {tmp_path / '.env'} (keep that file out of git), or use "
        "--dry-run to work without Discord",
    ]
    assert app.calls == []


def test_run_with_bad_config_exits_2_before_starting(
    monkeypatch: pytest.MonkeyPatch, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BAD)
    assert main(["run", "--config", "isso_without_url.yaml", "--dry-run"]) == 2
    assert capsys.readouterr().err.count("isso_url is required") == 2
    assert app.calls == []


def test_run_hands_settings_to_the_app(workdir: Path, app: FakeApp) -> None:
    app.result = 3
    assert main(["run", "--dry-run", "--once"]) == 3
    [(name, args, kwargs)] = app.calls
    assert name == "run"
    assert [blog.name for blog in args[0].blogs] == ["wordpress-news"]
    assert kwargs == {"dry_run": True, "once": True, "config_path": Path("config.yaml")}


def test_run_with_token_goes_ahead(workdir: Path, app: FakeApp) -> None:
    os.environ["DISCORD_TOKEN"] = "t"
    assert main(["run", "--config", "config.yaml"]) == 0
    assert app.calls[0][2] == {"dry_run": False, "once": False, "config_path": Path("config.yaml")}


def test_unexpected_error_is_one_line_and_exit_1(
    workdir: Path, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    app.result = RuntimeError("database is locked\n(more detail)")
    assert main(["run", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err == "gatejumper: error: RuntimeError: database is locked (more detail)\n"


def test_verbose_shows_the_traceback(
    workdir: Path, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    app.result = RuntimeError("boom")
    assert main(["run", "--dry-run", "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.endswith("gatejumper: error: RuntimeError: boom\n")


def test_interrupt_exits_130_quietly(
    workdir: Path, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    app.result = KeyboardInterrupt()
    assert main(["run", "--dry-run"]) == 130
    assert capsys.readouterr() == ("", "")


# preview and usage


def test_preview_hands_url_and_limit_to_the_app(app: FakeApp) -> None:
    assert main(["preview", "https://blog.example.org/feed/", "--limit", "7"]) == 0
    assert app.calls == [("preview", ("https://blog.example.org/feed/",), {"limit": 7})]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["preview", "blog.example.org"], "expected an http:// or https:// URL"),
        (
            ["preview", "https://x.example/", "--limit", "0"],
            "expected a whole number of at least 1",
        ),
        (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert app.calls == []


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "check-config" in err and "preview" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gatejumper {bot.__version__}\n"


# The real entry point, in a child process.


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "PYTHONPATH"}}


def test_python_m_bot_check_config_on_the_shipped_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "config.yaml", "--dry-run"],
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, SHIPPED_SUMMARY + "\n", "")


def test_python_m_bot_reports_problems_without_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(BAD / "wrong_types.yaml")],
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 9
    assert lines[0] == (
        f"{BAD / 'wrong_types.yaml'}:3:18: polling.failing_after: expected a whole number, "
        "got 'three'"
    )
    assert "Traceback" not in done.stderr
