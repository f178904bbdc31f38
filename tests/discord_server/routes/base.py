"""The small routing layer: route tables, the per-request `Call`, the `Reply` handlers return."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from ..errors import DiscordAPIError, invalid_form
from ..model import Attachment, Channel, User
from ..permissions import Permission

if TYPE_CHECKING:
    from ..server import DiscordTestServer
    from ..state import DiscordState
    from ..world import World

Auth = Literal["bot", "none"]


@dataclass
class Call:
    """Everything a handler needs about one request, with Discord-style parsing helpers."""

    server: DiscordTestServer
    request: web.Request
    route: str
    params: dict[str, str]
    body: Any = None
    files: list[Attachment] = field(default_factory=list)

    @property
    def state(self) -> DiscordState:
        return self.server.state

    @property
    def world(self) -> World:
        return self.server.world

    @property
    def bot(self) -> User:
        return self.server.world.bot

    def id(self, name: str) -> int:
        """A snowflake path parameter; junk gives Discord's 50035 like the real API."""
        return parse_snowflake(self.params[name], (name,))

    def query(self, name: str) -> str | None:
        return self.request.query.get(name)

    def query_int(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.query(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_form(
                (name,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.'
            ) from None
        if not low <= value <= high:
            raise invalid_form(
                (name,), "NUMBER_TYPE_MAX", f"int value should be <= {high} and >= {low}."
            )
        return value

    def query_bool(self, name: str) -> bool:
        return (self.query(name) or "").lower() in ("1", "true", "yes")

    def query_snowflake(self, name: str) -> int | None:
        raw = self.query(name)
        return None if raw is None else parse_snowflake(raw, (name,))

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise invalid_form(
                (), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
        return self.body

    def bot_permissions(self, channel: Channel) -> Permission:
        return self.state.permissions(self.bot.id, channel)

    def require(self, channel: Channel, needed: Permission) -> Permission:
        """403 50001 without VIEW_CHANNEL, 403 50013 when any of `needed` is missing."""
        perms = self.bot_permissions(channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise DiscordAPIError(403, 50001, "Missing Access")
        if needed and (perms & needed) != needed:
            raise DiscordAPIError(403, 50013, "Missing Permissions")
        return perms


def parse_snowflake(raw: Any, path: tuple[str, ...]) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid_form(path, "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.') from None
    if value < 0 or value >= 1 << 64:
        raise invalid_form(path, "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
    return value


@dataclass
class Reply:
    body: Any = None
    status: int = 200

    def response(self) -> web.Response:
        if self.status == 204 or self.body is None:
            return web.Response(status=204)
        return json_response(self.body, self.status)


def json_response(body: Any, status: int = 200) -> web.Response:
    """Exactly `Content-Type: application/json`: discord.py compares the header verbatim and
    treats anything else (even with `; charset=utf-8`) as plain text."""
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


NO_CONTENT = Reply(status=204)

Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class RouteSpec:
    """One implemented endpoint; `key` matches discord.py's `Route.key` ("POST /channels/...")."""

    method: str
    path: str
    handler: Handler
    auth: Auth

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class RouteTable:
    specs: list[RouteSpec] = field(default_factory=list)

    def route(self, method: str, path: str, *, auth: Auth = "bot") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, handler, auth))
            return handler

        return register
