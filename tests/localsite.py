"""A web site on 127.0.0.1 for one test; subclasses say which routes it has."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalSite:
    """``async with`` serves it on an ephemeral loopback port; ``base``/``url`` address it."""

    _server: TestServer | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def middlewares(self) -> list[web.types.Middleware]:  # type: ignore[name-defined]
        return []

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=self.middlewares())
        self.add_routes(app)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base(self) -> str:
        assert self._server is not None and self._server.port is not None
        return f"http://127.0.0.1:{self._server.port}"

    def url(self, path: str) -> str:
        return self.base + path
