"""Every implemented REST endpoint, grouped by domain; `all_routes()` is what the server mounts."""

from __future__ import annotations

from .base import RouteSpec
from .channels import routes as channel_routes
from .interactions import routes as interaction_routes
from .messages import routes as message_routes
from .meta import routes as meta_routes
from .webhooks import routes as webhook_routes


def all_routes() -> list[RouteSpec]:
    """Static paths (`/users/@me`) come before templated ones so they win the match."""
    specs = [
        *meta_routes.specs,
        *channel_routes.specs,
        *message_routes.specs,
        *webhook_routes.specs,
        *interaction_routes.specs,
    ]
    return sorted(specs, key=lambda s: ("{" in s.path.rsplit("/", 1)[-1], s.path.count("{")))
