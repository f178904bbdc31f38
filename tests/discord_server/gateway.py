"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay.

Every dispatch is stored in its session's sequence buffer before it is written to the socket, so a
client that RESUMEs with its last `seq` receives exactly the events it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntFlag
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads

if TYPE_CHECKING:
    from .model import Guild
    from .server import DiscordTestServer

log = logging.getLogger("tests.discord_server.gateway")


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent(IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


PRIVILEGED = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT
ALL_INTENTS = Intent(sum(Intent))

EVENT_INTENTS: dict[str, Intent] = {
    "CHANNEL_CREATE": Intent.GUILDS,
    "CHANNEL_UPDATE": Intent.GUILDS,
    "CHANNEL_DELETE": Intent.GUILDS,
    "THREAD_CREATE": Intent.GUILDS,
    "THREAD_UPDATE": Intent.GUILDS,
    "THREAD_DELETE": Intent.GUILDS,
    "THREAD_LIST_SYNC": Intent.GUILDS,
    "THREAD_MEMBER_UPDATE": Intent.GUILDS,
    "GUILD_ROLE_CREATE": Intent.GUILDS,
    "GUILD_ROLE_UPDATE": Intent.GUILDS,
    "GUILD_MEMBER_ADD": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intent.GUILD_MEMBERS,
    "WEBHOOKS_UPDATE": Intent.GUILD_WEBHOOKS,
    "MESSAGE_CREATE": Intent.GUILD_MESSAGES,
    "MESSAGE_UPDATE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": Intent.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_ALL": Intent.GUILD_MESSAGE_REACTIONS,
    "TYPING_START": Intent.GUILD_MESSAGE_TYPING,
}

#: The same events in a DM (dispatched without a guild) need the direct-message intents.
DM_EVENT_INTENTS: dict[str, Intent] = {
    "MESSAGE_CREATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_UPDATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_DELETE": Intent.DIRECT_MESSAGES,
    "CHANNEL_PINS_UPDATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intent.DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_ALL": Intent.DIRECT_MESSAGE_REACTIONS,
    "TYPING_START": Intent.DIRECT_MESSAGE_TYPING,
}

CONTENT_FIELDS = ("content", "embeds", "attachments", "components", "poll")


@dataclass
class GatewayConfig:
    """Knobs for the gateway; Discord's real heartbeat interval is 41250 ms."""

    heartbeat_interval_ms: int = 41_250
    buffer_size: int = 2_000
    allowed_privileged_intents: Intent = PRIVILEGED


@dataclass(frozen=True)
class GatewayRecord:
    """One entry of the gateway log (connect, identify, resume, close, drop, ...)."""

    at: float
    kind: str
    session_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Dispatch:
    """One dispatched event as a session saw it."""

    at: float
    session_id: str
    seq: int
    event: str
    data: dict[str, Any]


class UnsupportedCompression(Exception):
    pass


def make_compressor(kind: str | None) -> Callable[[str], bytes] | None:
    """Transport compression: one stream per connection, each message flushed on its own."""
    if kind is None:
        return None
    if kind == "zlib-stream":
        context = zlib.compressobj()

        def zlib_stream(text: str) -> bytes:
            return context.compress(text.encode()) + context.flush(zlib.Z_SYNC_FLUSH)

        return zlib_stream
    if kind == "zstd-stream":
        return _zstd_compressor()
    raise UnsupportedCompression(f"compress={kind!r} is not supported")


def _zstd_compressor() -> Callable[[str], bytes]:
    """zstd-stream, available when discord.py could ask for it (zstandard or compression.zstd)."""
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        try:
            zstd: Any = importlib.import_module("compression.zstd")
        except ImportError:
            raise UnsupportedCompression(
                "zstd-stream needs zstandard or compression.zstd"
            ) from None
        compressor = zstd.ZstdCompressor()

        def stdlib_stream(text: str) -> bytes:
            data: bytes = compressor.compress(text.encode(), mode=zstd.ZstdCompressor.FLUSH_BLOCK)
            return data

        return stdlib_stream
    stream = zstandard.ZstdCompressor().compressobj()

    def zstandard_stream(text: str) -> bytes:
        data: bytes = stream.compress(text.encode()) + stream.flush(
            zstandard.COMPRESSOBJ_FLUSH_BLOCK
        )
        return data

    return zstandard_stream


@dataclass
class Session:
    """A gateway session: survives its connection so a RESUME can replay what was missed."""

    id: str
    user_id: int
    intents: Intent
    shard: tuple[int, int]
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    connection: Connection | None = None
    resumable: bool = True

    def wants(self, event: str, guild_id: int | None) -> bool:
        """Subscribed by intent, and this shard's guild; DM events go to shard 0 only."""
        in_dm = guild_id is None and event in DM_EVENT_INTENTS
        intent = DM_EVENT_INTENTS[event] if in_dm else EVENT_INTENTS.get(event)
        if intent is not None and not self.intents & intent:
            return False
        shard_id, shard_count = self.shard
        if in_dm:
            return shard_id == 0
        return guild_id is None or (guild_id >> 22) % shard_count == shard_id


@dataclass
class _Close:
    code: int
    reason: str


class Connection:
    """One websocket: a writer task drains the outbox so frames go out in dispatch order."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, compress: str | None
    ) -> None:
        self.ws = ws
        self.request = request
        self.compress = compress
        self.compressor = make_compressor(compress)
        self.session: Session | None = None
        self.outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self.ack_heartbeats = True
        self.closing = False
        self.close_sent: int | None = None
        self.heartbeats = 0
        self.writer = asyncio.create_task(self._write_loop())

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.put_nowait(frame)

    def close(self, code: int, reason: str = "") -> None:
        """Close after the frames already queued have been written."""
        self.closing = True
        self.close_sent = code
        self.outbox.put_nowait(_Close(code, reason))

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def _write_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            if isinstance(item, _Close):
                await self.ws.close(code=item.code, message=item.reason.encode())
                return
            text = json.dumps(item, separators=(",", ":"))
            try:
                if self.compressor is None:
                    await self.ws.send_str(text)
                else:
                    await self.ws.send_bytes(self.compressor(text))
            except (ConnectionError, RuntimeError):
                return


class Gateway:
    """All sessions and connections, plus the fault switches tests use (drop, reconnect, ...)."""

    def __init__(self, server: DiscordTestServer, config: GatewayConfig) -> None:
        self.server = server
        self.config = config
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.log: list[GatewayRecord] = []
        self.dispatched: list[Dispatch] = []
        self.ack_heartbeats = True
        self.heartbeats_received = 0

    # ---- test controls ---------------------------------------------------

    def drop(self, code: int | None = 4000) -> int:
        """Cut every live connection: close with `code`, or drop TCP when `code` is None.

        Sessions are detached immediately, so events dispatched after this call are only
        buffered and must come back through RESUME. Returns how many connections were cut.
        """
        dropped = 0
        for conn in list(self.connections):
            self._detach(conn)
            self._record("drop", conn.session.id if conn.session else None, {"code": code})
            if code is None:
                conn.abort()
            else:
                conn.close(code, "test server dropped the connection")
            dropped += 1
        return dropped

    def send_reconnect(self) -> int:
        """Send op 7 RECONNECT: the client must reconnect and RESUME."""
        for conn in self.connections:
            conn.send({"op": Op.RECONNECT, "d": None})
            self._detach(conn)
        return len(self.connections)

    def invalidate_sessions(self, *, resumable: bool = False) -> int:
        """Send op 9 INVALID_SESSION; non-resumable sessions are forgotten, forcing IDENTIFY."""
        count = 0
        for conn in list(self.connections):
            if conn.session is None:
                continue
            if not resumable:
                conn.session.resumable = False
            conn.send({"op": Op.INVALID_SESSION, "d": resumable})
            self._record("invalid_session", conn.session.id, {"resumable": resumable})
            self._detach(conn)
            count += 1
        return count

    def set_heartbeat_acks(self, enabled: bool) -> None:
        """Stop (or resume) answering heartbeats, to make the client see a zombie connection."""
        self.ack_heartbeats = enabled
        for conn in self.connections:
            conn.ack_heartbeats = enabled

    async def close_all(self) -> None:
        for conn in list(self.connections):
            conn.close(1001, "test server shutting down")
        for conn in list(self.connections):
            try:
                await asyncio.wait_for(asyncio.shield(conn.writer), timeout=1.0)
            except (TimeoutError, asyncio.CancelledError):
                conn.abort()
                conn.writer.cancel()

    # ---- dispatching -----------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None = None) -> None:
        """Send an event to every session that subscribed to it (intents, shard)."""
        for session in self.sessions.values():
            if session.resumable and session.wants(event, guild_id):
                self._dispatch_to(session, event, self._shape_for(session, event, data))

    def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": Op.DISPATCH, "s": session.seq, "t": event, "d": data}
        session.buffer.append(frame)
        while len(session.buffer) > self.config.buffer_size:
            session.buffer.popleft()
        self.dispatched.append(Dispatch(time.monotonic(), session.id, session.seq, event, data))
        if session.connection is not None:
            session.connection.send(frame)
        self.server.notify()

    @staticmethod
    def _shape_for(session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT, Discord blanks content unless it is from or mentions the bot."""
        if (
            event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            or session.intents & Intent.MESSAGE_CONTENT
        ):
            return data
        author = data.get("author", {}).get("id")
        mentioned = any(m.get("id") == str(session.user_id) for m in data.get("mentions", []))
        if author == str(session.user_id) or mentioned or "guild_id" not in data:
            return data
        shaped = dict(data)
        for key in CONTENT_FIELDS:
            if key in shaped:
                shaped[key] = "" if key == "content" else []
        return shaped

    # ---- websocket handling ----------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False)
        await ws.prepare(request)
        query = dict(request.query)
        self._record("connect", None, {"path": request.path, "query": query})
        problem = self._check_query(query)
        try:
            conn = Connection(ws, request, None if problem else query.get("compress"))
        except UnsupportedCompression as exc:
            problem = str(exc)
            conn = Connection(ws, request, None)
        self.connections.append(conn)
        conn.ack_heartbeats = self.ack_heartbeats
        try:
            if problem is not None:
                conn.close(4000 if "compress" in problem else 4012, problem)
            else:
                conn.send(
                    {"op": Op.HELLO, "d": {"heartbeat_interval": self.config.heartbeat_interval_ms}}
                )
                await self._read_loop(conn)
        finally:
            await self._forget(conn)
        return ws

    @staticmethod
    def _check_query(query: dict[str, str]) -> str | None:
        if query.get("v") not in (None, "10"):
            return f"Invalid API version {query.get('v')!r}; the test server speaks v10"
        if query.get("encoding", "json") != "json":
            return f"encoding={query['encoding']!r} is not supported; use json"
        if query.get("compress") not in (None, "zlib-stream", "zstd-stream"):
            return f"compress={query['compress']!r} is not supported"
        return None

    async def _read_loop(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode()
            try:
                frame = json.loads(raw)
                op = frame["op"]
            except (ValueError, KeyError, TypeError):
                conn.close(4002, "Decode error")
                return
            if not await self._on_frame(conn, op, frame.get("d")):
                return

    async def _forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        session = conn.session
        code = conn.ws.close_code
        if session is not None and session.connection is conn:
            session.connection = None
            if code in (1000, 1001) and conn.close_sent is None:
                session.resumable = False
        if conn.closing and not conn.writer.done():
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(asyncio.shield(conn.writer), timeout=2.0)
        if not conn.writer.done():
            conn.writer.cancel()
        by = "server" if conn.close_sent is not None else "client"
        code = conn.close_sent if conn.close_sent is not None else conn.ws.close_code
        self._record("close", session.id if session else None, {"code": code, "by": by})

    async def _on_frame(self, conn: Connection, op: int, data: Any) -> bool:
        """Handle one client frame; returns False when the connection must end."""
        if op == Op.HEARTBEAT:
            conn.heartbeats += 1
            self.heartbeats_received += 1
            if conn.ack_heartbeats:
                conn.send({"op": Op.HEARTBEAT_ACK})
            return True
        if op == Op.IDENTIFY:
            return self._identify(conn, data)
        if op == Op.RESUME:
            return self._resume(conn, data)
        if conn.session is None:
            conn.close(4003, "Not authenticated.")
            return False
        if op == Op.REQUEST_GUILD_MEMBERS:
            self._member_chunk(conn.session, data)
            return True
        if op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
            self._record("ignored_op", conn.session.id, {"op": op})
            return True
        conn.close(4001, "Unknown opcode.")
        return False

    def _identify(self, conn: Connection, data: Any) -> bool:
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return False
        data = data if isinstance(data, dict) else {}
        if data.get("token") != self.server.token:
            conn.close(4004, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~ALL_INTENTS:
            conn.close(4013, "Invalid intent(s).")
            return False
        if intents & PRIVILEGED & ~self.config.allowed_privileged_intents:
            conn.close(4014, "Disallowed intent(s).")
            return False
        shard_id, shard_count = data.get("shard", [0, 1])
        if not 0 <= shard_id < shard_count:
            conn.close(4010, "Invalid shard.")
            return False
        session = Session(
            id=secrets.token_hex(16),
            user_id=self.server.world.bot.id,
            intents=Intent(intents),
            shard=(shard_id, shard_count),
        )
        self.sessions[session.id] = session
        self._attach(conn, session)
        self._record("identify", session.id, {"intents": intents, "shard": [shard_id, shard_count]})
        self._send_ready(session)
        return True

    def _send_ready(self, session: Session) -> None:
        state = self.server.state
        guilds = [
            g
            for g in state.guilds.values()
            if session.user_id in g.members and session.wants("GUILD_CREATE", g.id)
        ]
        self._dispatch_to(
            session,
            "READY",
            {
                "v": 10,
                "user": payloads.current_user(self.server.world.bot),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.server.resume_gateway_url,
                "shard": list(session.shard),
                "application": {"id": str(self.server.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "user_settings": {},
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
            },
        )
        for guild in guilds:
            self._guild_create(session, guild)

    def guild_joined(self, guild: Guild) -> None:
        """GUILD_CREATE to every live session, as when the bot is added to a guild."""
        for session in self.sessions.values():
            joined = session.user_id in guild.members
            if joined and session.resumable and session.wants("GUILD_CREATE", guild.id):
                self._guild_create(session, guild, joined=True)

    def _guild_create(self, session: Session, guild: Guild, *, joined: bool = False) -> None:
        """The full guild; without GUILD_MEMBERS its member list holds the bot alone. A guild
        just joined has no ``unavailable`` field (discord.py's cue for on_guild_join)."""
        members = None if session.intents & Intent.GUILD_MEMBERS else {session.user_id}
        data = payloads.guild(self.server.state, guild, gateway=True, member_ids=members)
        if joined:
            del data["unavailable"]
        self._dispatch_to(session, "GUILD_CREATE", data)

    def _resume(self, conn: Connection, data: Any) -> bool:
        data = data if isinstance(data, dict) else {}
        if data.get("token") != self.server.token:
            conn.close(4004, "Authentication failed.")
            return False
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if session is None or not session.resumable or not self._can_replay(session, seq):
            self._record("invalid_session", data.get("session_id"), {"seq": seq, "on": "resume"})
            conn.send({"op": Op.INVALID_SESSION, "d": False})
            return True
        assert isinstance(seq, int)
        if session.connection is not None and session.connection is not conn:
            old = session.connection
            self._detach(old)
            old.close(4000, "session resumed elsewhere")
        missed = [frame for frame in session.buffer if frame["s"] > seq]
        self._attach(conn, session)
        for frame in missed:
            conn.send(frame)
        self._record(
            "resume",
            session.id,
            {"seq": seq, "replayed": len(missed), "events": [f["t"] for f in missed]},
        )
        self._dispatch_to(session, "RESUMED", {})
        return True

    @staticmethod
    def _can_replay(session: Session, seq: Any) -> bool:
        if not isinstance(seq, int) or seq > session.seq:
            return False
        oldest = session.buffer[0]["s"] if session.buffer else session.seq + 1
        return seq >= oldest - 1

    def _member_chunk(self, session: Session, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        guild = self.server.state.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.user.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": [payloads.member(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _attach(self, conn: Connection, session: Session) -> None:
        conn.session = session
        session.connection = conn

    @staticmethod
    def _detach(conn: Connection) -> None:
        if conn.session is not None and conn.session.connection is conn:
            conn.session.connection = None

    def _record(self, kind: str, session_id: str | None, detail: dict[str, Any]) -> None:
        self.log.append(GatewayRecord(time.monotonic(), kind, session_id, detail))
        log.debug("gateway %s session=%s %s", kind, session_id, detail)
        self.server.notify()
