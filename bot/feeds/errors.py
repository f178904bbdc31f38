"""Why updating one feed failed: a small hierarchy, like reader's.

The pipeline records ``str(error)`` on the feed and moves on, so every error
reads as one sentence that names the URL. Errors cross the parser-pool process
boundary, hence the explicit ``__reduce__``.
"""

from __future__ import annotations

from typing import Any


class UpdateError(Exception):
    """Updating one feed failed; ``url`` says which, ``message`` says why."""

    _action = "Updating"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(url, message)
        self.url = url
        self.message = message

    def __str__(self) -> str:
        message = self.message.rstrip(".")
        return f"{self._action} {self.url} failed: {message}."

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url, self.message), self.__dict__)


class RetrieveError(UpdateError):
    """The HTTP request failed: network, timeout, status, size or redirects.

    ``permanent`` marks answers that retrying will not fix (404, 410, an
    invalid URL); ``retry_after`` is the server's ``Retry-After`` in seconds.
    """

    _action = "Retrieving"

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(url, message)
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent


class ParseError(UpdateError):
    """The body was retrieved but is not a usable feed (or parsing it failed)."""

    _action = "Parsing"
