"""bot.config: loading config.yaml, reporting every problem with its position, secrets."""
# ruff: noqa: E501  (the tables hold exact output lines; splitting them hides what is printed)

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    CommentsConfig,
    ConfigError,
    DiscordConfig,
    PollingConfig,
    Problem,
    RelayConfig,
    SecretMissingError,
    Settings,
    load_settings,
    missing_secrets,
    parse_duration,
    redact_database_url,
    secret,
    source_of,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config.yaml"
BAD = Path(__file__).parent / "data" / "config"

MINIMAL = """\
blogs:
  - name: news
    platform: wordpress
    url: https://blog.example.org/
    announce:
      channel: 123456789012345678
"""


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """load_settings applies .env files to os.environ; keep each test's changes to itself."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={} if environ is None else environ)
    assert str(raised.value) == "\n".join(str(p) for p in raised.value.problems)
    return [str(problem) for problem in raised.value.problems]


# Bad configs: each file in tests/data/config with the exact lines reported.
CASES: dict[str, list[str]] = {
    "unknown_keys.yaml": [
        "unknown_keys.yaml:2:1: databse: unknown key 'databse' (did you mean 'database'?)",
        "unknown_keys.yaml:4:3: polling.intervall: unknown key 'intervall' (did you mean 'interval'?)",
        "unknown_keys.yaml:10:7: blogs.news.announce.chanel: unknown key 'chanel' (did you mean 'channel'?)",
        "unknown_keys.yaml:13:7: blogs.news.relay.colour: unknown key 'colour' (known keys here: "
        "enabled, allowed_roles, guests, authors, edit_window, max_length, per_user_per_minute, "
        "retry_max, give_up_after)",
    ],
    "wrong_types.yaml": [
        "wrong_types.yaml:3:18: polling.failing_after: expected a whole number, got 'three'",
        "wrong_types.yaml:4:11: polling.jitter: expected a number, got a list",
        "wrong_types.yaml:5:15: polling.user_agent: expected text, got 42",
        "wrong_types.yaml:11:16: blogs.news.announce.channel: expected a Discord ID "
        "(a whole number such as 123456789012345678), got '#general'",
        "wrong_types.yaml:12:17: blogs.news.announce.backfill: expected a whole number, got 2.5",
        "wrong_types.yaml:14:26: blogs.news.comments.include_pingbacks: "
        "expected true or false, got 'maybe'",
        "wrong_types.yaml:16:22: blogs.news.relay.allowed_roles: expected a list, "
        "got 234567890123456789",
        "wrong_types.yaml:20:15: blogs.notes.announce: expected a mapping of keys, "
        "got 123456789012345678",
        "wrong_types.yaml:21:15: blogs.notes.comments: expected a mapping of keys, got a list",
    ],
    "bad_urls.yaml": [
        "bad_urls.yaml:2:13: discord.api_base: expected an http:// or https:// URL, "
        "got 'discord.com/api'",
        "bad_urls.yaml:6:10: blogs.news.url: expected an http:// or https:// URL, "
        "got 'ftp://blog.example.org/'",
        "bad_urls.yaml:7:17: blogs.news.posts_feed: expected an http:// or https:// URL, "
        "got 'https:// nowhere'",
        "bad_urls.yaml:8:20: blogs.news.comments_feed: expected an http:// or https:// URL, "
        "got '/comments/feed/'",
    ],
    "bad_durations.yaml": [
        "bad_durations.yaml:2:13: polling.interval: expected a duration such as 30s, 5m or 1h, "
        "got '5 minutes'",
        "bad_durations.yaml:3:16: polling.backoff_max: expected a duration such as 30s, 5m or 1h, "
        "got '-1h'",
        "bad_durations.yaml:4:20: polling.connect_timeout: a duration cannot be negative, got -3",
        "bad_durations.yaml:5:18: polling.total_timeout: expected a duration such as 30s, 5m or 1h, "
        "got '1:30'",
        "bad_durations.yaml:10:20: blogs.news.poll_interval: duration is too long "
        "(at most 10 years), got inf",
        "bad_durations.yaml:14:21: blogs.news.comments.watch_window: duration is too long "
        "(at most 10 years), got '99999999d'",
        "bad_durations.yaml:16:20: blogs.news.relay.edit_window: expected a duration such as "
        "30s, 5m or 1h, got true",
    ],
    "duplicate_names.yaml": [
        "duplicate_names.yaml:10:11: blogs[2].name: blog name 'news' is already used by the blog "
        "at line 2",
        "duplicate_names.yaml:14:11: blogs[3].name: blog name 'news' is already used by the blog "
        "at line 2",
    ],
    "isso_without_url.yaml": [
        "isso_without_url.yaml:2:5: blogs.notes.isso_url: isso_url is required when platform is isso",
        "isso_without_url.yaml:10:5: blogs.more-notes.isso_url: isso_url is required when "
        "platform is isso",
        "isso_without_url.yaml:12:16: blogs.more-notes.announce.channel: must be greater than 0, "
        "got -5",
    ],
    "missing_required.yaml": [
        "missing_required.yaml:2:5: blogs.news.platform: this required key is missing",
        "missing_required.yaml:2:5: blogs.news.url: this required key is missing",
        "missing_required.yaml:4:7: blogs.news.credentials.app_password_env: "
        "this required key is missing",
        "missing_required.yaml:6:7: blogs.news.announce.channel: this required key is missing",
        "missing_required.yaml:7:5: blogs.notes.announce: this required key is missing",
    ],
    "ranges_and_choices.yaml": [
        "ranges_and_choices.yaml:1:11: database: expected a sqlite:/// or postgresql:// URL",
        "ranges_and_choices.yaml:3:11: polling.jitter: must be at most 0.5, got 0.9",
        "ranges_and_choices.yaml:4:18: polling.max_redirects: must be at most 20, got 50",
        "ranges_and_choices.yaml:5:19: polling.max_body_bytes: must be at least 1024, got 10",
        "ranges_and_choices.yaml:7:11: blogs[0].name: must be 1-40 lowercase letters, digits, "
        "'-' or '_', starting with a letter or digit, got 'My Blog'",
        "ranges_and_choices.yaml:8:15: blogs[0].platform: expected one of 'wordpress', 'isso' "
        "or 'feed', got 'blogger'",
        "ranges_and_choices.yaml:11:16: blogs[0].announce.channel: must be greater than 0, got 0",
        "ranges_and_choices.yaml:12:17: blogs[0].announce.backfill: must be at most 50, got 100",
        "ranges_and_choices.yaml:13:28: blogs[0].announce.thread_auto_archive: expected one of "
        "60, 1440, 4320 or 10080, got 30",
        "ranges_and_choices.yaml:15:22: blogs[0].comments.long_comments: expected one of 'split' "
        "or 'truncate', got 'shorten'",
        "ranges_and_choices.yaml:16:21: blogs[0].comments.follow_posts: must be at least 1, got 0",
        "ranges_and_choices.yaml:18:15: blogs[0].relay.guests: expected one of 'off', "
        "'moderated' or 'approved', got 'everyone'",
        "ranges_and_choices.yaml:19:19: blogs[0].relay.max_length: expected a whole number, got ''",
        "ranges_and_choices.yaml:21:9: blogs[0].relay.authors.not-a-user: expected a Discord ID "
        "(a whole number such as 123456789012345678), got 'not-a-user'",
        "ranges_and_choices.yaml:22:40: blogs[0].relay.authors.234567890123456789.username: "
        "must not be empty",
    ],
    "secrets_inline.yaml": [
        "secrets_inline.yaml:3:14: discord.token_env: must be the NAME of an environment variable "
        "(letters, digits, _), not the secret itself",
        "secrets_inline.yaml:10:25: blogs.news.credentials.app_password_env: must be the NAME of "
        "an environment variable (letters, digits, _), not the secret itself",
    ],
    "tags.yaml": [
        "tags.yaml:3:14: discord.token_env: YAML tags such as !env are not supported",
        "tags.yaml:4:10: polling: YAML tags such as !!python/object/apply:os.system "
        "are not supported",
        "tags.yaml:9:15: blogs.news.announce: YAML tags such as "
        "!!python/object:bot.config.AnnounceConfig are not supported",
    ],
    "merge_keys.yaml": [
        "merge_keys.yaml:18:7: blogs.notes.announce.chanel: unknown key 'chanel' "
        "(did you mean 'channel'?)",
    ],
    # Whole-file problems: no key, one line.
    "syntax_error.yaml": [
        "syntax_error.yaml:6:9: invalid YAML: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping at line 5)",
    ],
    "bad_indent.yaml": ["bad_indent.yaml:3:14: invalid YAML: mapping values are not allowed here"],
    "duplicate_key.yaml": [
        "duplicate_key.yaml:4:3: duplicate key 'interval' in the mapping that starts at line 2",
    ],
    "bad_tagged_scalar.yaml": [
        "bad_tagged_scalar.yaml:7:17: invalid YAML: cannot read 'many' as !!int"
    ],
    "empty.yaml": [
        "empty.yaml:1:1: the file is empty; see the documented config.yaml for every key"
    ],
    "comments_only.yaml": [
        "comments_only.yaml:1:1: the file is empty; see the documented config.yaml for every key",
    ],
    "top_level_list.yaml": [
        "top_level_list.yaml:1:1: the top level must be a mapping of keys (blogs:, database:, ...), "
        "not a list",
    ],
    "aliases.yaml": [
        "aliases.yaml:1:1: the file expands to more than 100000 values (YAML aliases?)"
    ],
}


def test_every_sample_has_a_case() -> None:
    assert sorted(CASES) == sorted(path.name for path in BAD.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_reports_every_problem_with_its_position(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    assert problems_of(Path(name)) == CASES[name]


def test_problems_carry_their_parts() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(BAD / "isso_without_url.yaml", environ={})
    first = raised.value.problems[0]
    assert first == Problem(
        str(BAD / "isso_without_url.yaml"),
        2,
        5,
        "blogs.notes.isso_url",
        "isso_url is required when platform is isso",
    )
    assert str(first) == f"{first.path}:2:5: blogs.notes.isso_url: {first.message}"


def test_pasted_secrets_are_never_quoted_back() -> None:
    lines = problems_of(BAD / "secrets_inline.yaml") + problems_of(BAD / "ranges_and_choices.yaml")
    text = "\n".join(lines)
    assert "pasted-token-value" not in text
    assert "abcd efgh" not in text
    assert "hunter2" not in text


def test_long_wrong_text_is_measured_not_quoted(tmp_path: Path) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl." + "x" * 38
    config = tmp_path / "config.yaml"
    config.write_text(f"polling:\n  interval: {token}\n")
    assert problems_of(config) == [
        f"{config}:2:13: polling.interval: expected a duration such as 30s, 5m or 1h, "
        f"got {len(token)} characters of text",
    ]


# Files that cannot be read at all.


def test_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: is a directory, not a config file"]


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(b"database: sqlite:///x.db\nblogs:\n  - name: caf\xe9\n")
    assert problems_of(config) == [f"{config}:3:14: the file is not valid UTF-8 text"]


def test_control_character_points_at_it(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("polling:\n  user_agent: a\x00b\n")
    assert problems_of(config) == [f"{config}:2:16: character '\\x00' is not allowed in YAML"]


def test_deep_nesting_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("polling: " + "[" * 400 + "]" * 400 + "\n")
    assert problems_of(config) == [f"{config}:1:1: the YAML is nested too deeply"]


def test_problem_without_position_names_only_the_file() -> None:
    assert str(Problem("config.yaml", 0, 0, "", "no such file")) == "config.yaml: no such file"
    assert str(Problem("c.yaml", 3, 1, "", "invalid YAML: x")) == "c.yaml:3:1: invalid YAML: x"


# Good configs.


def test_minimal_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MINIMAL)
    settings = load_settings(config, environ={})
    [blog] = settings.blogs
    assert (blog.name, blog.platform, str(blog.url)) == (
        "news",
        "wordpress",
        "https://blog.example.org/",
    )
    assert blog.announce.channel == 123456789012345678
    assert settings.polling == PollingConfig()
    assert settings.interval_for(blog) == timedelta(minutes=5)


def test_loaded_settings_compare_by_value_and_remember_their_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MINIMAL)
    first, second = load_settings(config, environ={}), load_settings(config, environ={})
    assert first == second and first is not second
    source = source_of(first)
    assert source is not None and source.path == str(config)
    assert source_of(Settings()) is None


def test_explicit_empty_mapping_is_a_config_without_blogs(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    assert load_settings(config, environ={}) == Settings()


def test_yaml_12_words_stay_text(tmp_path: Path) -> None:
    """`off` is a guests choice, not false (ruamel reads YAML 1.2); dates stay text."""
    config = tmp_path / "config.yaml"
    config.write_text(
        MINIMAL + "    relay:\n      guests: off\n    credentials:\n"
        "      username: 2024-01-01\n      app_password_env: PW\n"
    )
    [blog] = load_settings(config, environ={}).blogs
    assert blog.relay.guests == "off"
    assert blog.credentials is not None and blog.credentials.username == "2024-01-01"


@pytest.mark.parametrize(
    ("blog", "expected"),
    [
        (
            MINIMAL.replace("wordpress", "feed") + "    relay:\n      enabled: true\n",
            "config.yaml:8:16: blogs.news.relay.enabled: the relay posts through a blog's comment "
            "API: it needs platform wordpress or isso",
        ),
        (
            MINIMAL + "    relay:\n      enabled: true\n",
            "config.yaml:8:16: blogs.news.relay.enabled: the relay on a WordPress blog needs "
            "credentials (the account it posts through)",
        ),
    ],
)
def test_a_relay_it_cannot_post_through_is_a_config_problem(
    tmp_path: Path, blog: str, expected: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(blog)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    assert [str(p).removeprefix(str(tmp_path) + "/") for p in raised.value.problems] == [expected]


def test_merge_keys_share_settings(tmp_path: Path) -> None:
    text = (BAD / "merge_keys.yaml").read_text().replace("      chanel: 1\n", "")
    config = tmp_path / "config.yaml"
    config.write_text(text)
    news, notes = load_settings(config, environ={}).blogs
    assert notes.announce.channel == news.announce.channel == 123456789012345678
    assert (news.announce.backfill, notes.announce.backfill) == (2, 0)
    assert notes.relay.guests == "approved"


def test_shipped_config_is_valid_and_shows_the_defaults() -> None:
    settings = load_settings(SHIPPED, environ={})
    assert settings.database == "sqlite:///gatejumper.db"
    assert settings.discord == DiscordConfig()
    assert settings.polling == PollingConfig()
    [blog] = settings.blogs
    assert (blog.platform, str(blog.url)) == ("wordpress", "https://wordpress.org/news/")
    assert blog.credentials is None and not blog.relay.enabled
    assert blog.comments == CommentsConfig()
    assert blog.relay == RelayConfig()
    assert missing_secrets(settings, {}, need_discord=False) == []


def _model_fields(model: type) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        names.add(name)
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                names |= _model_fields(candidate)
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and hasattr(inner, "model_fields"):
                    names |= _model_fields(inner)
    return names


def test_shipped_config_documents_every_key() -> None:
    text = SHIPPED.read_text()
    keys_written = set(re.findall(r"^[ #]*-? *([a-z_]+):", text, flags=re.MULTILINE))
    assert _model_fields(Settings) - keys_written == set()
    assert "username" in keys_written and "app_password_env" in keys_written


def uncomment(text: str, first_line: str) -> str:
    """Uncomment a commented-out YAML block of config.yaml that starts at ``first_line``."""
    lines = text.splitlines()
    start = lines.index(first_line)
    prefix = first_line[: first_line.index("#") + 2]
    end = start + 1
    while end < len(lines) and lines[end].startswith(prefix + " "):
        end += 1
    block = [line.replace("# ", "", 1) for line in lines[start:end]]
    return "\n".join([*lines[:start], *block, *lines[end:]]) + "\n"


def test_shipped_examples_are_valid_when_uncommented(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    text = uncomment(text, "  # - name: notes")
    text = uncomment(text, "  # - name: field-notes")
    text = uncomment(text.replace("    credentials: null\n", ""), "    # credentials:")
    text = uncomment(text.replace("      authors: {}\n", ""), "      # authors:")
    config = tmp_path / "config.yaml"
    config.write_text(text)
    settings = load_settings(config, environ={})
    assert [(b.name, b.platform) for b in settings.blogs] == [
        ("wordpress-news", "wordpress"),
        ("notes", "isso"),
        ("field-notes", "feed"),
    ]
    assert settings.blogs[1].isso_url is not None
    assert settings.blogs[2].poll_interval == timedelta(minutes=30)
    lines = [str(p) for p in missing_secrets(settings, {}, need_discord=True)]
    where = tmp_path / ".env"
    assert [line.split(": ", 2)[1:] for line in lines] == [
        [
            "discord.token_env",
            f"environment variable DISCORD_TOKEN is not set (export it, or add it to {where})",
        ],
        [
            "blogs.wordpress-news.credentials.app_password_env",
            f"environment variable WORDPRESS_NEWS_APP_PASSWORD is not set (export it, or add it to {where})",
        ],
        [
            "blogs.wordpress-news.relay.authors.234567890123456789.app_password_env",
            f"environment variable ALICE_APP_PASSWORD is not set (export it, or add it to {where})",
        ],
    ]
    positions = [line.split(": ", 1)[0] for line in lines]
    numbered = text.splitlines()
    for position, name in zip(
        positions, ["token_env", "app_password_env", "app_password_env"], strict=True
    ):
        _, line, col = position.rsplit(":", 2)
        assert numbered[int(line) - 1][int(col) - 1 :].startswith(f"{name}:")


# Secrets.


def test_missing_secrets_only_reports_unset_or_empty(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "discord:\n  token_env: BOT_TOKEN\n"
        + MINIMAL
        + "    credentials:\n      username: bot\n      app_password_env: NEWS_PW\n"
    )
    settings = load_settings(config, environ={})
    everything = {"BOT_TOKEN": "t", "NEWS_PW": "p"}
    assert missing_secrets(settings, everything, need_discord=True) == []
    assert [str(p) for p in missing_secrets(settings, {"NEWS_PW": ""}, need_discord=False)] == [
        f"{config}:11:7: blogs.news.credentials.app_password_env: environment variable NEWS_PW "
        f"is not set (export it, or add it to {tmp_path / '.env'})"
    ]
    assert [p.key for p in missing_secrets(settings, {}, need_discord=True)] == [
        "discord.token_env",
        "blogs.news.credentials.app_password_env",
    ]


def test_default_token_variable_is_placed_on_the_file_start(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MINIMAL)
    [problem] = missing_secrets(load_settings(config, environ={}), {}, need_discord=True)
    assert (problem.line, problem.col, problem.key) == (1, 1, "discord.token_env")
    assert "DISCORD_TOKEN is not set" in problem.message


def test_missing_secrets_of_settings_built_in_code() -> None:
    [problem] = missing_secrets(Settings(), {}, need_discord=True)
    assert str(problem) == (
        "<settings>: discord.token_env: environment variable DISCORD_TOKEN is not set "
        "(export it, or add it to .env)"
    )


def test_dotenv_next_to_the_config_fills_the_environment(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(MINIMAL)
    (tmp_path / ".env").write_text("# secrets\nDISCORD_TOKEN=from-dotenv\nOTHER='quoted value'\n")
    environ = {"OTHER": "from-the-real-environment"}
    settings = load_settings(tmp_path / "config.yaml", environ=environ)
    assert environ == {"DISCORD_TOKEN": "from-dotenv", "OTHER": "from-the-real-environment"}
    assert missing_secrets(settings, environ, need_discord=True) == []


def test_dotenv_goes_to_os_environ_by_default(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(MINIMAL)
    (tmp_path / ".env").write_text("GATEJUMPER_TEST_SECRET=s3\n")
    os.environ.pop("GATEJUMPER_TEST_SECRET", None)
    load_settings(tmp_path / "config.yaml")
    assert secret("GATEJUMPER_TEST_SECRET") == "s3"


def test_dotenv_that_cannot_be_read_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(MINIMAL)
    (tmp_path / ".env").write_bytes(b"TOKEN=\xff\xfe\n")
    assert problems_of(tmp_path / "config.yaml") == [
        f"{tmp_path / '.env'}: cannot read the file: not valid UTF-8 text"
    ]


def test_secret_reads_the_environment_and_never_shows_values() -> None:
    assert secret("X", {"X": "value-1"}) == "value-1"
    for environ in ({}, {"X": ""}):
        with pytest.raises(SecretMissingError) as raised:
            secret("X", environ)
        assert str(raised.value) == "environment variable X is not set"
        assert raised.value.name == "X"


def test_settings_never_hold_secret_values(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        MINIMAL + "    credentials:\n      username: bot\n      app_password_env: NEWS_PW\n"
    )
    (tmp_path / ".env").write_text("DISCORD_TOKEN=tok-SEKRIT-4242\nNEWS_PW=pw-SEKRIT-4242\n")
    environ: dict[str, str] = {}
    settings = load_settings(tmp_path / "config.yaml", environ=environ)
    assert environ["NEWS_PW"] == "pw-SEKRIT-4242"
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.blogs)):
        assert "SEKRIT" not in text


# Helpers.


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///gatejumper.db", "sqlite:///gatejumper.db"),
        ("postgresql://gj@db/gj", "postgresql://gj@db/gj"),
        ("postgresql://gj:hunter2@db:5432/gj", "postgresql://gj:***@db:5432/gj"),
        ("postgresql://gj:p%40ss%2Fw@db/gj", "postgresql://gj:***@db/gj"),
        ("postgresql://db/gj?user=gj&password=hunter2", "postgresql://db/gj?user=gj&password=***"),
    ],
)
def test_redact_database_url(url: str, shown: str) -> None:
    assert redact_database_url(url) == shown


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1.5h", 5400), ("2d", 172800), ("500ms", 0.5), (30, 30), ("0", 0)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5 minutes", "expected a duration such as 30s, 5m or 1h"),
        (True, "expected a duration such as 30s, 5m or 1h"),
        (-1, "a duration cannot be negative"),
        (float("inf"), "duration is too long (at most 10 years)"),
        (float("nan"), "duration is too long (at most 10 years)"),
        ("1e30d", "expected a duration such as 30s, 5m or 1h"),
        ("99999999999999999999d", "duration is too long (at most 10 years)"),
    ],
)
def test_parse_duration_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(value)
