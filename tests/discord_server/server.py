"""`DiscordTestServer`: the fake Discord (REST under /api/v10 + gateway) and its test-facing API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, web

from . import actions, payloads
from .errors import DiscordAPIError
from .faults import Faults
from .gateway import Gateway, GatewayConfig, GatewayRecord
from .model import (
    AppCommand,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
    Webhook,
)
from .permissions import BOT_DEFAULT, Permission
from .ratelimits import RateLimitConfig, RateLimiter
from .routes import all_routes
from .routes.base import Call, RouteSpec, json_response
from .state import DiscordState, new_token
from .world import World, build_default_world

log = logging.getLogger("tests.discord_server")

API_PREFIX = "/api/v10"
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


@dataclass
class ServerConfig:
    """Everything tunable about one server; the defaults suit fast tests."""

    token: str = "gatejumper-test-token.not-a-real-secret"
    bot_name: str = "Gatejumper"
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig.fast)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    nonce_window: float = 300.0

    @classmethod
    def realistic(cls) -> ServerConfig:
        """Discord's real rate limits and heartbeat interval."""
        return cls(rate_limits=RateLimitConfig.discord())


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request as the server saw it; `at`/`finished` are `time.monotonic()` values."""

    at: float
    finished: float
    wall: float
    method: str
    path: str
    route: str | None
    query: dict[str, str]
    body: Any
    status: int
    code: int | None
    fault: str | None
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        code = f" code={self.code}" if self.code is not None else ""
        fault = f" [{self.fault}]" if self.fault else ""
        return f"{self.method} {self.path} → {self.status}{code}{fault}"


class DiscordTestServer:
    """A wire-level Discord for the real discord.py client, bound to 127.0.0.1 on a free port."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.token = self.config.token
        self.state = DiscordState(nonce_window=self.config.nonce_window)
        self.world: World = build_default_world(self.state, bot_name=self.config.bot_name)
        self.application_id = self.world.bot.id
        self.limiter = RateLimiter(self.config.rate_limits)
        self.gateway = Gateway(self, self.config.gateway)
        self.routes: list[RouteSpec] = all_routes()
        self.faults = Faults(known_routes=self.route_keys)
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        self.nonce_hits: list[int] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------

    async def start(self) -> DiscordTestServer:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        for spec in self.routes:
            app.router.add_route(spec.method, API_PREFIX + spec.path, self._endpoint(spec))
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("fake Discord listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordTestServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What discord.py's `Route.BASE` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    def route_keys(self) -> list[str]:
        """Every implemented endpoint as "METHOD /path/{param}" (the keys faults accept)."""
        return [spec.key for spec in self.routes]

    # ---- REST plumbing ------------------------------------------------------

    def _endpoint(self, spec: RouteSpec) -> Callable[[web.Request], Any]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            return await self._serve(spec, request)

        return endpoint

    async def _serve(self, spec: RouteSpec, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        headers: dict[str, str] = {"Via": "1.1 google"}
        fault_note: str | None = None
        body: Any = None
        try:
            latency = self.faults.take("latency", spec.key)
            if latency is not None:
                await asyncio.sleep(latency.seconds)
            self._authenticate(spec, request)
            self._rate_limit(spec, request, headers)
            storm = self.faults.take("rate_limit", spec.key)
            if storm is not None:
                fault_note = "injected 429"
                raise _TooManyRequests(storm.retry_after, storm.is_global)
            failure = self.faults.take("status", spec.key)
            if failure is not None:
                fault_note = f"injected {failure.status} before handling"
                return self._finish(
                    spec, request, started, headers, None, _server_error(failure.status), fault_note
                )
            call = await self._call(spec, request)
            body = call.body
            reply = await spec.handler(call)
            late = self.faults.take("status", spec.key, after_commit=True)
            if late is not None:
                fault_note = f"injected {late.status} after the work was done"
                return self._finish(
                    spec, request, started, headers, body, _server_error(late.status), fault_note
                )
            return self._finish(spec, request, started, headers, body, reply.response(), None)
        except _TooManyRequests as exc:
            return self._finish(
                spec, request, started, headers, body, exc.response(headers), fault_note
            )
        except DiscordAPIError as exc:
            response = json_response(exc.body(), status=exc.status)
            return self._finish(
                spec, request, started, headers, body, response, fault_note, exc.code
            )
        except Exception:
            self.internal_errors.append(traceback.format_exc())
            log.exception("test server bug while handling %s %s", request.method, request.path)
            response = json_response(
                {"message": "500: Internal Server Error", "code": 0}, status=500
            )
            return self._finish(spec, request, started, headers, body, response, "server bug")

    def _authenticate(self, spec: RouteSpec, request: web.Request) -> None:
        if spec.auth == "bot" and request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordAPIError(401, 0, "401: Unauthorized")

    def _rate_limit(self, spec: RouteSpec, request: web.Request, headers: dict[str, str]) -> None:
        if spec.auth == "bot":
            verdict = self.limiter.check_global()
            if not verdict.allowed:
                headers.update(verdict.headers)
                raise _TooManyRequests(verdict.retry_after, True)
        major = "+".join(request.match_info.get(k, "") for k in MAJOR_PARAMETERS)
        verdict = self.limiter.check_route(spec.key, major)
        headers.update(verdict.headers)
        if not verdict.allowed:
            raise _TooManyRequests(verdict.retry_after, False)

    async def _call(self, spec: RouteSpec, request: web.Request) -> Call:
        call = Call(self, request, spec.key, dict(request.match_info))
        if request.method in ("GET", "DELETE") or not request.can_read_body:
            return call
        if request.content_type.startswith("multipart/"):
            call.body, call.files = await self._multipart(request)
            return call
        text = await request.text()
        if text.strip():
            try:
                call.body = json.loads(text)
            except ValueError:
                raise DiscordAPIError(
                    400, 50109, "The request body contains invalid JSON."
                ) from None
        return call

    async def _multipart(self, request: web.Request) -> tuple[Any, list[Attachment]]:
        """discord.py uploads files as multipart: `payload_json` plus `files[n]` parts."""
        body: Any = None
        files: list[Attachment] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data.decode())
            elif part.filename:
                files.append(
                    Attachment(
                        self.state.ids.next(),
                        part.filename,
                        bytes(data),
                        part.headers.get("Content-Type"),
                    )
                )
        return body, files

    def _finish(
        self,
        spec: RouteSpec | None,
        request: web.Request,
        started: float,
        headers: dict[str, str],
        body: Any,
        response: web.Response,
        fault: str | None,
        code: int | None = None,
    ) -> web.Response:
        response.headers.update(headers)
        record = RecordedRequest(
            at=started,
            finished=time.monotonic(),
            wall=time.time(),
            method=request.method,
            path=request.path,
            route=spec.key if spec else None,
            query=dict(request.query),
            body=body,
            status=response.status,
            code=code,
            fault=fault,
            headers={
                k: v
                for k, v in response.headers.items()
                if k.lower().startswith(("x-ratelimit", "retry"))
            },
        )
        self.requests.append(record)
        if spec is None:
            self.unknown_routes.append(record)
        self.notify()
        return response

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        log.warning(
            "UNIMPLEMENTED Discord route %s %s — add it in tests/discord_server/routes/",
            request.method,
            request.path,
        )
        response = json_response({"message": "404: Not Found", "code": 0}, status=404)
        return self._finish(
            None,
            request,
            time.monotonic(),
            {"Via": "1.1 google"},
            None,
            response,
            "unimplemented route",
            0,
        )

    # ---- waiting ------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything blocked in `wait_until`; called on every state change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self,
        predicate: Callable[[], Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> Any:
        """Wait for `predicate()` to become truthy and return its value; fail with context."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = "\n  ".join(str(r) for r in self.requests[-10:])
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}; last requests:\n  {recent}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_for_request(
        self,
        route: str,
        *,
        status: int | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until `route` has been requested `count` times (with `status`, if given)."""

        def matching() -> list[RecordedRequest] | None:
            hits = self.requests_to(route, status=status)
            return hits if len(hits) >= count else None

        found: list[RecordedRequest] = await self.wait_until(
            matching, timeout=timeout, what=f"{count}x {route} (status={status})"
        )
        return found

    async def wait_for_gateway(
        self,
        kind: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[GatewayRecord]:
        """Wait for gateway log entries such as "identify", "resume", "close"."""

        def matching() -> list[GatewayRecord] | None:
            hits = [r for r in self.gateway.log if r.kind == kind]
            return hits if len(hits) >= count else None

        found: list[GatewayRecord] = await self.wait_until(
            matching, timeout=timeout, what=f"{count}x gateway {kind}"
        )
        return found

    # ---- reading state --------------------------------------------------------

    def requests_to(self, route: str, *, status: int | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.route == route and (status is None or r.status == status)
        ]

    def channel(self, channel: Channel | int) -> Channel:
        return self.state.channel(_id(channel))

    def messages(self, channel: Channel | int, *, include_deleted: bool = False) -> list[Message]:
        """Messages of a channel or thread in the order Discord shows them."""
        return self.state.messages_in(_id(channel), include_deleted=include_deleted)

    def message(self, message_id: int) -> Message:
        return self.state.messages[message_id]

    def threads(self, parent: Channel | int) -> list[Channel]:
        return self.state.threads_of(_id(parent))

    def webhooks(self, channel: Channel | int) -> list[Webhook]:
        return self.state.webhooks_of(_id(channel))

    def commands(self, guild: int | None = None) -> list[AppCommand]:
        return [c for c in self.state.commands.values() if c.guild_id == guild]

    # ---- building and injecting ---------------------------------------------

    def add_channel(
        self,
        name: str,
        type: ChannelType = ChannelType.GUILD_TEXT,
        *,
        parent: Channel | None = None,
        tags: Iterable[str] = (),
        guild: Guild | None = None,
    ) -> Channel:
        """A new channel in the default guild, or in ``guild`` (CHANNEL_CREATE is sent to
        connected clients)."""
        channel = self.state.add_channel(
            guild or self.world.guild, name, type, parent=parent, available_tags=tags
        )
        self.gateway.dispatch(
            "CHANNEL_CREATE", payloads.channel(channel), guild_id=channel.guild_id
        )
        return channel

    def add_guild(
        self, name: str, *, owner: User | None = None, members: Iterable[User] = ()
    ) -> Guild:
        """Another guild the bot is a member of (with its managed role and a #general), as when
        it is invited there: connected clients get GUILD_CREATE. ``owner`` defaults to alice."""
        state, bot = self.state, self.world.bot
        guild = state.add_guild(name, owner=owner or self.world.alice)
        role = state.add_role(guild, bot.username, BOT_DEFAULT, bot_id=bot.id)
        state.add_member(guild, bot, [role])
        for user in members:
            state.add_member(guild, user)
        state.add_channel(guild, "general")
        self.gateway.guild_joined(guild)
        self.notify()
        return guild

    def add_member(self, username: str, *, roles: Iterable[Role] = ()) -> Member:
        user = self.state.add_user(username)
        member = self.state.add_member(self.world.guild, user, roles)
        data = {**payloads.member(member), "guild_id": str(self.world.guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_ADD", data, guild_id=self.world.guild.id)
        return member

    def set_roles(self, user: User | int, roles: Iterable[Role]) -> Member:
        """Replace a member's roles (GUILD_MEMBER_UPDATE), e.g. to make a human a moderator."""
        member = self.state.member(self.world.guild.id, _id(user))
        member.role_ids = [r.id for r in roles]
        data = {**payloads.member(member), "guild_id": str(self.world.guild.id)}
        self.gateway.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=self.world.guild.id)
        self.notify()
        return member

    def add_role(
        self, name: str, permissions: Permission | int = 0, *, mentionable: bool = False
    ) -> Role:
        role = self.state.add_role(self.world.guild, name, permissions, mentionable=mentionable)
        self.gateway.dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(self.world.guild.id), "role": payloads.role(role)},
            guild_id=self.world.guild.id,
        )
        return role

    def set_permissions(
        self,
        channel: Channel | int,
        *,
        deny: Permission | str | Iterable[Permission | str] = (),
        allow: Permission | str | Iterable[Permission | str] = (),
        target: User | Role | None = None,
    ) -> None:
        """Add a channel overwrite (for the bot's member by default) and send CHANNEL_UPDATE,
        so discord.py's `permissions_for` and the server agree."""
        ch = self.channel(channel)
        target = target or self.world.bot
        kind = 1 if isinstance(target, User) else 0
        self.state.set_overwrite(
            ch,
            target.id,
            kind,
            allow=int(Permission.parse(allow)),
            deny=int(Permission.parse(deny)),
        )
        actions.update_channel(self, ch)

    def exhaust_bucket(self, route: str, **major: int | str) -> None:
        """Spend a route's bucket as if another client sharing the token had, e.g.
        `exhaust_bucket("POST /channels/{channel_id}/messages", channel_id=...)`."""
        if route not in self.route_keys():
            raise ValueError(f"unknown route key {route!r}")
        unknown = set(major) - set(MAJOR_PARAMETERS)
        if unknown:
            raise ValueError(f"major parameters are {MAJOR_PARAMETERS}, got {sorted(unknown)}")
        self.limiter.exhaust(route, "+".join(str(major.get(k, "")) for k in MAJOR_PARAMETERS))

    def inject_message(
        self,
        channel: Channel | int,
        author: User | int,
        content: str = "",
        *,
        reply_to: Message | int | None = None,
        embeds: Iterable[dict[str, Any]] = (),
        mention_author: bool = True,
    ) -> Message:
        """A human posts a message (MESSAGE_CREATE is dispatched); mentions in `content` ping."""
        ch = self.channel(channel)
        user = self.state.user(_id(author))
        reference = (
            self.state.message(_ref_channel(self, reply_to, ch), _id(reply_to))
            if reply_to
            else None
        )
        allowed = (
            None
            if mention_author
            else {"parse": ["users", "roles", "everyone"], "replied_user": False}
        )
        return actions.create_message(
            self,
            ch,
            user,
            content=content,
            embeds=embeds,
            reference=reference,
            allowed_mentions=allowed,
        )

    def inject_dm(
        self,
        author: User | int,
        content: str = "",
        *,
        reply_to: Message | int | None = None,
    ) -> Message:
        """A human writes to the bot directly: their DM with it is opened when needed, then
        MESSAGE_CREATE without ``guild_id`` (only sessions with DIRECT_MESSAGES get it)."""
        user = self.state.user(_id(author))
        channel = actions.open_dm(self, self.world.bot, user)
        return self.inject_message(channel, user, content, reply_to=reply_to)

    def dm_channel(self, user: User | int) -> Channel | None:
        """The bot's DM with ``user``, if one was opened (by ``inject_dm`` or the bot)."""
        return self.state.dm_between(self.world.bot, self.state.user(_id(user)))

    def inject_edit(self, message: Message | int, content: str) -> Message:
        """A human edits their message (MESSAGE_UPDATE)."""
        return actions.edit_message(self, self.message(_id(message)), {"content": content})

    def inject_delete(self, message: Message | int) -> None:
        """A human (or a moderator) deletes a message (MESSAGE_DELETE)."""
        actions.delete_message(self, self.message(_id(message)))

    def inject_reaction(self, message: Message | int, user: User | int, emoji: str) -> bool:
        """A human reacts (MESSAGE_REACTION_ADD); custom emoji are written "name:id"."""
        return actions.add_reaction(
            self, self.message(_id(message)), self.state.user(_id(user)), emoji
        )

    def inject_thread(
        self,
        parent: Channel | int,
        name: str,
        owner: User | int,
        *,
        starter: Message | int | None = None,
    ) -> Channel:
        """A human starts a thread, optionally from a message (THREAD_CREATE)."""
        start = self.message(_id(starter)) if starter is not None else None
        return actions.create_thread(
            self, self.channel(parent), name, self.state.user(_id(owner)), starter=start
        )

    def archive_thread(self, thread: Channel | int, *, locked: bool = False) -> Channel:
        """Discord (or a moderator) archives a thread (THREAD_UPDATE)."""
        return actions.update_thread(self, self.channel(thread), archived=True, locked=locked)

    def inject_slash_command(
        self,
        name: str,
        *,
        user: User | int,
        channel: Channel | int,
        options: Iterable[dict[str, Any]] = (),
        require_registered: bool = True,
    ) -> Interaction:
        """A human runs `/name` (INTERACTION_CREATE); the bot's callbacks land on the result."""
        ch = self.channel(channel)
        if ch.guild_id is None:
            raise ValueError("the test server has slash commands in guild channels only")
        command = next(
            (
                c
                for c in self.state.commands.values()
                if c.name == name and c.guild_id in (None, ch.guild_id)
            ),
            None,
        )
        if command is None and require_registered:
            known = sorted(c.name for c in self.state.commands.values()) or ["none"]
            raise ValueError(
                f"/{name} is not registered (did the bot sync its tree?); "
                f"registered: {', '.join(known)}"
            )
        member = self.state.member(ch.guild_id, _id(user))
        interaction = Interaction(
            id=self.state.ids.next(),
            token=new_token(160),
            application_id=self.application_id,
            command_name=name,
            command_id=command.id if command else self.state.ids.next(),
            user_id=member.user.id,
            guild_id=ch.guild_id,
            channel_id=ch.id,
            options=list(options),
        )
        self.state.interactions[interaction.id] = interaction
        data = self._interaction_payload(interaction, member, ch)
        if command is not None and command.guild_id is not None:
            data["data"]["guild_id"] = str(command.guild_id)
        self.gateway.dispatch("INTERACTION_CREATE", data, guild_id=ch.guild_id)
        return interaction

    def _interaction_payload(
        self, i: Interaction, member: Member, channel: Channel
    ) -> dict[str, Any]:
        perms = int(self.state.permissions(member.user.id, channel))
        return {
            "id": str(i.id),
            "application_id": str(i.application_id),
            "type": 2,
            "data": {
                "id": str(i.command_id),
                "name": i.command_name,
                "type": 1,
                "options": i.options,
            },
            "guild_id": str(i.guild_id),
            "guild": {"id": str(i.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": payloads.channel(channel),
            "member": {**payloads.member(member), "permissions": str(perms)},
            "token": i.token,
            "version": 1,
            "app_permissions": str(int(self.state.permissions(self.world.bot.id, channel))),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(i.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }


class _TooManyRequests(Exception):
    """Internal signal: answer with Discord's 429 body and Retry-After."""

    def __init__(self, retry_after: float, is_global: bool) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.is_global = is_global

    def response(self, headers: dict[str, str]) -> web.Response:
        body = {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }
        if not self.is_global:
            body["code"] = 0
        headers["Retry-After"] = str(max(1, int(-(-self.retry_after // 1))))
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
            headers["X-RateLimit-Scope"] = "global"
        else:
            headers.setdefault("X-RateLimit-Scope", "user")
        return json_response(body, status=429)


def _server_error(status: int) -> web.Response:
    """Discord answers 500 with JSON; 502/503/504 come from Cloudflare as HTML."""
    if status == 500:
        return json_response({"message": "500: Internal Server Error", "code": 0}, status=500)
    if status >= 500:
        return web.Response(
            status=status, text=f"<html><h1>{status} error</h1></html>", content_type="text/html"
        )
    return json_response({"message": f"{status}: injected error", "code": 0}, status=status)


def _id(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    return int(obj.id)


def _ref_channel(server: DiscordTestServer, reply_to: Message | int, channel: Channel) -> int:
    if isinstance(reply_to, Message):
        return reply_to.channel_id
    message = server.state.messages.get(reply_to)
    return message.channel_id if message else channel.id
