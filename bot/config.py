"""config.yaml + environment secrets → validated, typed settings.

The models here are the single description of the configuration: the shipped
``config.yaml`` documents every key, ``gatejumper check-config`` validates a
file against these models and reports problems as ``PATH:LINE:COL: key: message``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import weakref
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import (
    AnyHttpUrl,
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_MAX_DURATION_SECONDS = 10 * 366 * 86400


def parse_duration(value: object) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1.5h"``, ``"2d"`` or a number of seconds → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        return _seconds(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return _seconds(float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError("expected a duration such as 30s, 5m or 1h")


def _seconds(seconds: float) -> timedelta:
    """Seconds → timedelta, refusing what timedelta cannot hold or a schedule cannot use."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if not math.isfinite(seconds) or seconds > _MAX_DURATION_SECONDS:
        raise ValueError("duration is too long (at most 10 years)")
    return timedelta(seconds=seconds)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: f"{d.total_seconds():g}s", return_type=str),
]
GatewayUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["wss", "ws", "https", "http"])]
Snowflake = Annotated[int, Field(gt=0, lt=2**64)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class FieldProblem(ValueError):
    """A check made on a whole model that belongs to one field (``loc`` relative to the model).

    Reports then point at that field instead of at the model as a whole.
    """

    def __init__(self, message: str, *, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


ISSO_URL_REQUIRED = "isso_url is required when platform is isso"
RELAY_NEEDS_API = (
    "the relay posts through a blog's comment API: it needs platform wordpress or isso"
)
RELAY_NEEDS_CREDENTIALS = (
    "the relay on a WordPress blog needs credentials (the account it posts through)"
)


def duplicate_name_message(name: str, first: str) -> str:
    return f"blog name {name!r} is already used by the blog at {first}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordConfig(_Model):
    token_env: EnvName = "DISCORD_TOKEN"
    api_base: AnyHttpUrl = AnyHttpUrl("https://discord.com/api/v10")
    gateway_url: GatewayUrl | None = None
    alerts_channel: Snowflake | None = None


class PollingConfig(_Model):
    """Defaults for every blog and limits of the shared HTTP client."""

    interval: Duration = timedelta(minutes=5)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    failing_after: int = Field(default=3, ge=1)
    backoff_max: Duration = timedelta(hours=6)
    connect_timeout: Duration = timedelta(seconds=10)
    total_timeout: Duration = timedelta(seconds=30)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=4, ge=1, le=64)
    concurrency: int = Field(default=64, ge=1, le=1024)
    user_agent: str = "Gatejumper/0.1 (+https://github.com/gatejumper/gatejumper)"


class Credentials(_Model):
    username: str = Field(min_length=1)
    app_password_env: EnvName


class AnnounceConfig(_Model):
    channel: Snowflake
    mention_role: Snowflake | None = None
    backfill: int = Field(default=0, ge=0, le=50)
    thread_auto_archive: Literal[60, 1440, 4320, 10080] = 1440


class CommentsConfig(_Model):
    include_pingbacks: bool = False
    follow_posts: int = Field(default=20, ge=1, le=500)
    watch_window: Duration = timedelta(days=14)
    long_comments: Literal["split", "truncate"] = "split"


class AuthorLink(_Model):
    username: str = Field(min_length=1)
    app_password_env: EnvName | None = None


class RelayConfig(_Model):
    enabled: bool = False
    allowed_roles: list[Snowflake] = Field(default_factory=list)
    guests: Literal["off", "moderated", "approved"] = "moderated"
    authors: dict[Snowflake, AuthorLink] = Field(default_factory=dict)
    edit_window: Duration = timedelta(hours=24)
    max_length: int = Field(default=4000, ge=1, le=65525)
    per_user_per_minute: int = Field(default=5, ge=1)
    retry_max: Duration = timedelta(minutes=1)
    give_up_after: Duration = timedelta(days=1)


class BlogConfig(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    platform: Literal["wordpress", "isso", "feed"]
    url: AnyHttpUrl
    posts_feed: AnyHttpUrl | None = None
    comments_feed: AnyHttpUrl | None = None
    isso_url: AnyHttpUrl | None = None
    poll_interval: Duration | None = None
    credentials: Credentials | None = None
    announce: AnnounceConfig
    comments: CommentsConfig = CommentsConfig()
    relay: RelayConfig = RelayConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> BlogConfig:
        if self.platform == "isso" and self.isso_url is None:
            raise FieldProblem(ISSO_URL_REQUIRED, loc=("isso_url",))
        if self.relay.enabled and self.platform == "feed":
            raise FieldProblem(RELAY_NEEDS_API, loc=("relay", "enabled"))
        if self.relay.enabled and self.platform == "wordpress" and self.credentials is None:
            raise FieldProblem(RELAY_NEEDS_CREDENTIALS, loc=("relay", "enabled"))
        return self

    @model_validator(mode="after")
    def _share_equal_parts(self) -> BlogConfig:
        """Blogs whose announce, comments or relay settings are equal share one object.

        Thousands of blogs mostly repeat the same few settings, and a validated copy
        per blog costs about a kilobyte (measured in bench/). The models are frozen.
        """
        if len(_SHARED) > _SHARED_MAX:
            _SHARED.clear()
        for name in ("announce", "comments", "relay"):
            part: BaseModel = getattr(self, name)
            kept = _SHARED.setdefault((name, repr(part)), part)
            if kept is not part:
                object.__setattr__(self, name, kept)  # frozen: past pydantic's guard
        return self


#: Sub-settings shared between blogs, by their repr (see ``BlogConfig._share_equal_parts``).
_SHARED: dict[tuple[str, str], BaseModel] = {}
_SHARED_MAX = 4096


class Settings(_Model):
    database: str = "sqlite:///gatejumper.db"
    discord: DiscordConfig = DiscordConfig()
    polling: PollingConfig = PollingConfig()
    blogs: list[BlogConfig] = Field(default_factory=list)

    @field_validator("database")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _unique_blog_names(self) -> Settings:
        first: dict[str, int] = {}
        for index, blog in enumerate(self.blogs):
            if blog.name in first:
                message = duplicate_name_message(blog.name, f"blogs[{first[blog.name]}]")
                raise FieldProblem(message, loc=("blogs", index, "name"))
            first[blog.name] = index
        return self

    def interval_for(self, blog: BlogConfig) -> timedelta:
        return blog.poll_interval or self.polling.interval


# Loading ---------------------------------------------------------------------
#
# A problem's ``key`` is the dotted path to the value in the file. A blog is
# named by its ``name`` when that name is valid and unique (``blogs.news.url``),
# otherwise by its position (``blogs[2].url``); list items are ``[index]``.

Loc = tuple[str | int, ...]
Position = tuple[int, int]  # 0-based line, column, as ruamel.yaml records them

_MAX_NODES = 100_000
_MAX_DEPTH = 64
_BLOG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PLAIN_TAGS = {None, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_SNOWFLAKE_KEYS = {"channel", "mention_role", "alerts_channel", "allowed_roles", "authors"}
_ECHO_LIMIT = 40


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config file, with 1-based ``line`` and ``col``.

    ``line`` 0 means the problem concerns the file as a whole (it cannot be read).
    """

    path: str
    line: int
    col: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class SecretMissingError(LookupError):
    """A secret's environment variable is unset or empty (the message names it, never a value)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


@dataclass(frozen=True, slots=True)
class _Spot:
    key: Position | None
    value: Position


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where every key and value of a loaded file sits, to point problems at them."""

    path: str
    spots: Mapping[Loc, _Spot]
    lists: frozenset[Loc]
    blog_labels: Mapping[int, str]

    def problem(self, loc: Loc, message: str, *, at: Literal["key", "value", "parent"]) -> Problem:
        """A problem about ``loc``, placed on its key, its value or its parent mapping."""
        line, col = self._position(loc, at)
        return Problem(self.path, line + 1, col + 1, self.key(loc), message)

    def key(self, loc: Loc) -> str:
        text = ""
        for depth, part in enumerate(loc):
            if loc[:1] == ("blogs",) and depth == 1 and isinstance(part, int):
                label = self.blog_labels.get(part)
                text += f".{label}" if label else f"[{part}]"
            elif isinstance(part, int) and loc[:depth] in self.lists:
                text += f"[{part}]"
            else:
                text += f".{part}"
        return text.lstrip(".")

    def _position(self, loc: Loc, at: str) -> Position:
        spot = self.spots.get(loc)
        if spot is not None and at == "key" and spot.key is not None:
            return spot.key
        if spot is not None and at == "value":
            return spot.value
        prefix = loc[:-1] if at == "parent" else loc
        while prefix not in self.spots and prefix:
            prefix = prefix[:-1]
        found = self.spots.get(prefix)
        return found.value if found else (-1, -1)  # → line 0: no position known


# Settings → the file they came from, for positions in later checks. A side table
# rather than a private attribute, so that equal settings still compare equal.
_SOURCES: dict[int, ConfigSource] = {}


def source_of(settings: Settings) -> ConfigSource | None:
    """Where ``settings`` were loaded from; None for settings built in code."""
    return _SOURCES.get(id(settings))


# Reading the file -------------------------------------------------------------


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps dates as text and gives every bad scalar a position."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, LookupError, TypeError) as exc:
            tag = _short_tag(getattr(node.tag, "value", node.tag))
            value = _quote(node.value) if isinstance(node.value, str) else "this value"
            message = f"cannot read {value} as {tag}"
            raise ConstructorError(None, None, message, node.start_mark) from exc


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


def _read_text(path: Path) -> str:
    shown = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(shown, 0, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(shown, 0, 0, "", "is a directory, not a config file")]) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([Problem(shown, 0, 0, "", f"cannot read the file: {reason}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = Problem(shown, line, col, "", "the file is not valid UTF-8 text")
        raise ConfigError([problem]) from None


def _parse_yaml(text: str, shown: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(exc, shown)]) from None
    except ReaderError as exc:
        position = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        message = f"character {character!r} is not allowed in YAML"
        raise ConfigError([Problem(shown, line, col, "", message)]) from None
    except RecursionError:
        raise ConfigError([Problem(shown, 1, 1, "", "the YAML is nested too deeply")]) from None
    except YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError([Problem(shown, 1, 1, "", f"invalid YAML: {first_line}")]) from None


_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*?)" with value')


def _syntax_problem(exc: MarkedYAMLError, shown: str) -> Problem:
    """One line for a YAML error: ruamel's problem, where it started, never the values."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = " ".join(str(exc.problem or "").split())
    if isinstance(exc, DuplicateKeyError) and exc.context_mark is not None:
        found = _DUPLICATE_KEY.search(problem)
        name = repr(found.group(1)) if found else "key"
        return Problem(
            shown,
            line,
            col,
            "",
            f"duplicate key {name} in the mapping that starts at line {exc.context_mark.line + 1}",
        )
    context = " ".join(str(exc.context or "").split())
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        problem += f" ({context} at line {exc.context_mark.line + 1})"
    return Problem(shown, line, col, "", f"invalid YAML: {problem or 'syntax error'}")


class _Flattener:
    """ruamel.yaml's round-trip tree → plain data, recording where every key and value sits.

    Plain data keeps pydantic's inputs and messages free of ruamel types; tags,
    odd keys, alias loops and alias bombs become problems instead of surprises.
    """

    def __init__(self) -> None:
        self.spots: dict[Loc, _Spot] = {}
        self.lists: set[Loc] = set()
        self.issues: list[tuple[Loc, str, Literal["key", "value"]]] = []
        self.rejected: set[Loc] = set()
        self._nodes = 0
        self._open: set[int] = set()

    def root(self, tree: Any) -> Any:
        lc = getattr(tree, "lc", None)
        self.spots[()] = _Spot(None, (lc.line, lc.col) if lc is not None else (0, 0))
        return self.convert(tree, ())

    def convert(self, node: Any, loc: Loc) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            raise _TooLarge
        tag = getattr(getattr(node, "tag", None), "value", None)
        if isinstance(node, TaggedScalar) and tag == "tag:yaml.org,2002:str":
            return str(node.value)
        if tag not in _PLAIN_TAGS:
            return self.reject(loc, f"YAML tags such as {_short_tag(tag)} are not supported")
        if not isinstance(node, dict | list):
            return _plain_scalar(node)
        if id(node) in self._open:
            return self.reject(loc, "this YAML alias refers to a mapping or list that contains it")
        if len(loc) > _MAX_DEPTH:
            return self.reject(loc, "the YAML is nested too deeply")
        self._open.add(id(node))
        try:
            return self.mapping(node, loc) if isinstance(node, dict) else self.sequence(node, loc)
        finally:
            self._open.discard(id(node))

    def mapping(self, node: dict[Any, Any], loc: Loc) -> dict[str | int, Any]:
        result: dict[str | int, Any] = {}
        start = self.spots[loc].value
        for key, value in node.items():
            key_at, value_at = _key_value_positions(node, key, start)
            if isinstance(key, bool) or not isinstance(key, str | int):
                self.spots[(*loc, str(key))] = _Spot(key_at, key_at)
                self.issues.append(
                    ((*loc, str(key)), f"a key must be a name, not {_kind(key)}", "key")
                )
                continue
            plain_key = int(key) if isinstance(key, int) else str(key)
            child = (*loc, plain_key)
            self.spots[child] = _Spot(key_at, key_at if value is None else value_at)
            result[plain_key] = self.convert(value, child)
        return result

    def sequence(self, node: list[Any], loc: Loc) -> list[Any]:
        self.lists.add(loc)
        result: list[Any] = []
        lc = getattr(node, "lc", None)
        for index, item in enumerate(node):
            try:
                at: Position = tuple(lc.item(index)) if lc is not None else self.spots[loc].value
            except (KeyError, TypeError, AttributeError):
                at = self.spots[loc].value
            self.spots[(*loc, index)] = _Spot(None, at)
            result.append(self.convert(item, (*loc, index)))
        return result

    def reject(self, loc: Loc, message: str) -> None:
        self.issues.append((loc, message, "value"))
        self.rejected.add(loc)
        return None


class _TooLarge(Exception):
    """The file expands to more nodes than any real config has (usually an alias bomb)."""


def _key_value_positions(node: Any, key: Any, fallback: Position) -> tuple[Position, Position]:
    """Positions of one mapping entry; merged (``<<``) entries fall back to the mapping's."""
    try:
        line_col = node.lc
        key_line, key_col = line_col.key(key)
        value_line, value_col = line_col.value(key)
        return (key_line, key_col), (value_line, value_col)
    except (KeyError, TypeError, AttributeError):
        return fallback, fallback


def _plain_scalar(node: Any) -> Any:
    """ruamel's scalar subclasses (ScalarInt, ScalarFloat, ...) → the plain built-in types."""
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _short_tag(tag: str | None) -> str:
    text = str(tag)
    return (
        "!!" + text.removeprefix("tag:yaml.org,2002:") if text.startswith("tag:yaml.org") else text
    )


def _kind(value: Any) -> str:
    """A few words for the type of a value, as an operator would say it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple | set | frozenset):
        return "a list"
    return f"a {type(value).__name__} value"


# Validating --------------------------------------------------------------------


def load_settings(path: Path, *, environ: MutableMapping[str, str] | None = None) -> Settings:
    """Read and validate a config file; raise :class:`ConfigError` listing every problem.

    The ``.env`` next to the file is applied to ``environ`` (``os.environ`` by
    default) without overriding variables already set, so secrets can be found
    later with :func:`secret` and checked with :func:`missing_secrets`.
    """
    path = Path(path)
    shown = str(path)
    text = _read_text(path)
    problems = load_dotenv_file(path, environ)
    try:
        tree = _parse_yaml(text, shown)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from None
    if tree is None:
        message = "the file is empty; see the documented config.yaml for every key"
        raise ConfigError([*problems, Problem(shown, 1, 1, "", message)])
    if not isinstance(tree, dict):
        message = (
            f"the top level must be a mapping of keys (blogs:, database:, ...), not {_kind(tree)}"
        )
        raise ConfigError([*problems, Problem(shown, 1, 1, "", message)])
    flattener = _Flattener()
    try:
        raw = flattener.root(tree)
    except _TooLarge:
        message = f"the file expands to more than {_MAX_NODES} values (YAML aliases?)"
        raise ConfigError([*problems, Problem(shown, 1, 1, "", message)]) from None
    source = _source_for(shown, raw, flattener)
    problems += [source.problem(loc, message, at=at) for loc, message, at in flattener.issues]
    checked = _cross_check(raw, source)
    problems += [source.problem(loc, message, at="value") for loc, message in checked]
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        checked_locs = {loc for loc, _ in checked}
        problems += _validation_problems(exc, source, flattener.rejected, checked_locs)
    else:
        _SOURCES[id(settings)] = source
        weakref.finalize(settings, _SOURCES.pop, id(settings), None)
    if problems:
        raise ConfigError(sorted(set(problems), key=lambda p: (p.line, p.col, p.key, p.message)))
    return settings


def _source_for(shown: str, raw: dict[str | int, Any], flattener: _Flattener) -> ConfigSource:
    blogs = raw.get("blogs")
    names = (
        [b.get("name") if isinstance(b, dict) else None for b in blogs]
        if isinstance(blogs, list)
        else []
    )
    labels = {
        index: name
        for index, name in enumerate(names)
        if isinstance(name, str) and _BLOG_NAME.match(name) and names.count(name) == 1
    }
    return ConfigSource(shown, flattener.spots, frozenset(flattener.lists), labels)


def _cross_check(raw: dict[str | int, Any], source: ConfigSource) -> list[tuple[Loc, str]]:
    """Checks spanning several keys, made on the raw data so they run even when other keys are bad.

    (The model validators make the same checks, but pydantic skips them as soon
    as any field of the model is invalid.)
    """
    blogs = raw.get("blogs")
    if not isinstance(blogs, list):
        return []
    issues: list[tuple[Loc, str]] = []
    first: dict[str, int] = {}
    for index, blog in enumerate(blogs):
        if not isinstance(blog, dict):
            continue
        name = blog.get("name")
        if isinstance(name, str) and name in first:
            line = source.problem(("blogs", first[name], "name"), "", at="value").line
            issues.append((("blogs", index, "name"), duplicate_name_message(name, f"line {line}")))
        elif isinstance(name, str):
            first[name] = index
        if blog.get("platform") == "isso" and blog.get("isso_url") is None:
            issues.append((("blogs", index, "isso_url"), ISSO_URL_REQUIRED))
        relay = blog.get("relay")
        if isinstance(relay, dict) and relay.get("enabled") is True:
            if blog.get("platform") == "feed":
                issues.append((("blogs", index, "relay", "enabled"), RELAY_NEEDS_API))
            elif blog.get("platform") == "wordpress" and blog.get("credentials") is None:
                issues.append((("blogs", index, "relay", "enabled"), RELAY_NEEDS_CREDENTIALS))
    return issues


def _validation_problems(
    exc: ValidationError, source: ConfigSource, rejected: set[Loc], checked: set[Loc]
) -> list[Problem]:
    """Pydantic's errors as problems, leaving out what the reading and the cross-checks reported."""
    problems = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc = (*loc, *cause.loc)
            if loc in checked:
                continue
        at: Literal["key", "value", "parent"] = "value"
        if loc and loc[-1] == "[key]":
            loc, at = loc[:-1], "key"
        elif error["type"] == "missing":
            at = "parent"
        elif error["type"] in {"extra_forbidden", "invalid_key"}:
            at = "key"
        under_rejected = any(loc[:depth] in rejected for depth in range(1, len(loc) + 1))
        if under_rejected and error["type"] not in {"extra_forbidden", "invalid_key"}:
            continue
        problems.append(source.problem(loc, _sentence(error, loc), at=at))
    return problems


def _sentence(error: ErrorDetails, loc: Loc) -> str:
    """One pydantic error as a sentence for an operator, quoting the bad value when harmless."""
    kind, ctx = error["type"], error.get("ctx") or {}
    cause = ctx.get("error")
    if kind == "missing":
        return "this required key is missing"
    if kind in {"extra_forbidden", "invalid_key"}:
        return _unknown_key(loc)
    if isinstance(cause, FieldProblem):
        return str(cause)
    if _is_secret_name(loc) and kind == "string_pattern_mismatch":
        return (
            "must be the NAME of an environment variable (letters, digits, _), "
            "not the secret itself"
        )
    if kind in {"int_type", "int_parsing", "int_from_float"} and _is_snowflake(loc):
        text = "expected a Discord ID (a whole number such as 123456789012345678)"
    elif kind in _TYPE_SENTENCES:
        text = _TYPE_SENTENCES[kind]
    elif kind in _BOUND_SENTENCES:
        name, template = _BOUND_SENTENCES[kind]
        text = template.format(ctx.get(name))
    elif kind == "literal_error":
        text = f"expected one of {ctx.get('expected')}"
    elif kind == "string_pattern_mismatch" and loc[-1:] == ("name",):
        text = "must be 1-40 lowercase letters, digits, '-' or '_', starting with a letter or digit"
    elif kind.startswith("url_"):
        text = "expected an http:// or https:// URL"
    elif kind in {"value_error", "assertion_error"}:
        text = str(cause) if cause is not None else error["msg"]
    else:
        text = error["msg"][:1].lower() + error["msg"][1:]
    quiet = _is_secret_name(loc) or loc == ("database",) or kind == "string_too_short"
    shown = None if quiet else _quote(error.get("input"))
    return f"{text}, got {shown}" if shown else text


_TYPE_SENTENCES = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "list_type": "expected a list",
    "string_too_short": "must not be empty",
}
_BOUND_SENTENCES = {
    "greater_than": ("gt", "must be greater than {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than": ("lt", "must be less than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "string_too_long": ("max_length", "must be at most {} characters long"),
}


def _unknown_key(loc: Loc) -> str:
    name = str(loc[-1])
    known = _fields_at(loc[:-1])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {name!r} (did you mean {close[0]!r}?)"
    if known:
        return f"unknown key {name!r} (known keys here: {', '.join(known)})"
    return f"unknown key {name!r}"


def _fields_at(loc: Loc) -> list[str]:
    """Field names of the model found at ``loc`` (for suggestions); [] if there is none."""
    annotation: Any = Settings
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` → ``X``."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation


def _is_secret_name(loc: Loc) -> bool:
    return bool(loc) and str(loc[-1]).endswith("_env")


def _is_snowflake(loc: Loc) -> bool:
    return any(part in _SNOWFLAKE_KEYS for part in loc[-2:] if isinstance(part, str))


def _quote(value: Any) -> str | None:
    """A wrong value as the operator wrote it; long text is only measured (may be a secret)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= _ECHO_LIMIT else f"{len(value)} characters of text"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _kind(value)


# Secrets -----------------------------------------------------------------------


def load_dotenv_file(
    config_path: Path, environ: MutableMapping[str, str] | None = None
) -> list[Problem]:
    """Apply the ``.env`` next to the config to ``environ``; variables already set win.

    Returns problems (an unreadable file); the values themselves are never reported.
    """
    env_file = Path(config_path).parent / ".env"
    target = os.environ if environ is None else environ
    if not env_file.is_file():
        return []
    try:
        values = dotenv_values(env_file)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not valid UTF-8 text"
        return [Problem(str(env_file), 0, 0, "", f"cannot read the file: {reason}")]
    for name, value in values.items():
        if value is not None and name not in target:
            target[name] = value
    return []


def missing_secrets(
    settings: Settings, environ: Mapping[str, str], *, need_discord: bool
) -> list[Problem]:
    """One problem per ``*_env`` key whose variable is unset or empty, placed on that key."""
    source = source_of(settings) or ConfigSource("<settings>", {}, frozenset(), {})
    wanted: list[tuple[Loc, str]] = []
    if need_discord:
        wanted.append((("discord", "token_env"), settings.discord.token_env))
    for index, blog in enumerate(settings.blogs):
        if blog.credentials is not None:
            wanted.append(
                (
                    ("blogs", index, "credentials", "app_password_env"),
                    blog.credentials.app_password_env,
                )
            )
        for user, author in blog.relay.authors.items():
            if author.app_password_env is not None:
                loc = ("blogs", index, "relay", "authors", user, "app_password_env")
                wanted.append((loc, author.app_password_env))
    where = f"{Path(source.path).parent / '.env'}" if source.spots else ".env"
    return [
        source.problem(
            loc,
            f"environment variable {name} is not set (export it, or add it to {where})",
            at="key",
        )
        for loc, name in wanted
        if not environ.get(name)
    ]


def secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A secret's value from the environment; :class:`SecretMissingError` if unset or empty."""
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise SecretMissingError(name)
    return value


def redact_database_url(url: str) -> str:
    """The database URL with any password replaced by ``***``, fit for logs and output."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        parts, has_password = None, "@" in url
    if parts is not None and has_password:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        url = urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    elif has_password:
        url = re.sub(r"(://[^/@:]*:).*@", r"\1***@", url)
    return re.sub(r"(?i)([?&](?:password|pass|pwd)=)[^&]*", r"\1***", url)
