"""Per-route buckets and the global limit, with the headers and 429 bodies Discord sends."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Limit:
    """`requests` per `per` seconds, in fixed windows that start with the first request."""

    requests: int
    per: float


# Observed Discord numbers for bots. Route keys are "METHOD /template" like discord.py's Route.key.
DISCORD_ROUTE_LIMITS: Mapping[str, tuple[str, Limit]] = {
    "POST /channels/{channel_id}/messages": ("message-create", Limit(5, 5.0)),
    "PATCH /channels/{channel_id}/messages/{message_id}": ("message-edit", Limit(5, 5.0)),
    "DELETE /channels/{channel_id}/messages/{message_id}": ("message-delete", Limit(5, 1.0)),
    "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": (
        "reaction",
        Limit(1, 0.25),
    ),
    "DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": (
        "reaction",
        Limit(1, 0.25),
    ),
    "POST /webhooks/{webhook_id}/{webhook_token}": ("webhook-execute", Limit(5, 2.0)),
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": (
        "webhook-execute",
        Limit(5, 2.0),
    ),
    "POST /channels/{channel_id}/webhooks": ("webhook-create", Limit(1, 1.0)),
    "PATCH /channels/{channel_id}": ("channel-edit", Limit(5, 5.0)),
}


@dataclass(frozen=True)
class RateLimitConfig:
    """Which bucket each route uses, the default bucket, and the global per-token limit."""

    routes: Mapping[str, tuple[str, Limit]] = field(
        default_factory=lambda: dict(DISCORD_ROUTE_LIMITS)
    )
    default: Limit = Limit(10, 1.0)
    global_limit: Limit | None = Limit(50, 1.0)
    enabled: bool = True

    @classmethod
    def discord(cls) -> RateLimitConfig:
        """Discord's real numbers: 5 messages / 5 s per channel, 50 requests / s globally."""
        return cls()

    @classmethod
    def fast(cls, scale: float = 0.02) -> RateLimitConfig:
        """Discord's request counts, windows shrunk by `scale` (5 messages / 0.1 s by default)."""
        return cls.discord().scaled(scale)

    @classmethod
    def off(cls) -> RateLimitConfig:
        return cls(enabled=False)

    def scaled(self, factor: float) -> RateLimitConfig:
        if factor <= 0:
            raise ValueError(f"scale factor must be positive, got {factor}")

        def scale(limit: Limit) -> Limit:
            return Limit(limit.requests, limit.per * factor)

        return replace(
            self,
            routes={k: (name, scale(lim)) for k, (name, lim) in self.routes.items()},
            default=scale(self.default),
            global_limit=scale(self.global_limit) if self.global_limit else None,
        )

    def with_route(self, route: str, limit: Limit, bucket: str | None = None) -> RateLimitConfig:
        routes = dict(self.routes)
        routes[route] = (bucket or route, limit)
        return replace(self, routes=routes)

    def bucket_for(self, route: str) -> tuple[str, Limit]:
        return self.routes.get(route, (route, self.default))


@dataclass
class _Window:
    limit: Limit
    count: int = 0
    reset_at: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The outcome for one request: allowed or not, and the headers to send either way."""

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    is_global: bool = False


def bucket_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:32]


def _ceil_ms(seconds: float) -> float:
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


class RateLimiter:
    """Counts requests per (bucket, major parameters) and globally, returning Discord's headers."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global = _Window(config.global_limit or Limit(1, 1.0))

    def check_global(self, now: float | None = None) -> Verdict:
        limit = self.config.global_limit
        if not self.config.enabled or limit is None:
            return Verdict(True, {})
        now = time.monotonic() if now is None else now
        window = self._global
        if now >= window.reset_at:
            window.count, window.reset_at = 0, now + limit.per
        if window.count >= limit.requests:
            retry = _ceil_ms(window.reset_at - now)
            headers = {
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
                "Retry-After": str(math.ceil(retry)),
            }
            return Verdict(False, headers, retry, is_global=True)
        window.count += 1
        return Verdict(True, {})

    def check_route(self, route: str, major: str, now: float | None = None) -> Verdict:
        if not self.config.enabled:
            return Verdict(True, {})
        now = time.monotonic() if now is None else now
        name, limit = self.config.bucket_for(route)
        window = self._windows.setdefault((name, major), _Window(limit))
        if now >= window.reset_at:
            window.count, window.reset_at = 0, now + limit.per
        if window.count >= limit.requests:
            retry = _ceil_ms(window.reset_at - now)
            headers = self._headers(name, limit, 0, window.reset_at - now)
            headers.update({"X-RateLimit-Scope": "user", "Retry-After": str(math.ceil(retry))})
            return Verdict(False, headers, retry)
        window.count += 1
        return Verdict(
            True, self._headers(name, limit, limit.requests - window.count, window.reset_at - now)
        )

    def exhaust(self, route: str, major: str) -> None:
        """Use up a bucket as if another process sharing the token had spent it."""
        name, limit = self.config.bucket_for(route)
        now = time.monotonic()
        window = self._windows.setdefault((name, major), _Window(limit))
        if now >= window.reset_at:
            window.reset_at = now + limit.per
        window.count = limit.requests

    @staticmethod
    def _headers(name: str, limit: Limit, remaining: int, reset_after: float) -> dict[str, str]:
        reset_after = _ceil_ms(reset_after)
        return {
            "X-RateLimit-Limit": str(limit.requests),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash(name),
        }
