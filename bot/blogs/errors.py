"""The one error type of the blog clients, so the relay can decide: retry, or tell the user."""

from __future__ import annotations

TRANSIENT_CODES = frozenset({"connection", "timeout"})


class BlogError(Exception):
    """A blog refused or could not be reached; carries what the relay needs to decide.

    ``status`` is the HTTP status (None when no answer came), ``code`` the blog's own
    error code (WordPress ``comment_duplicate``, ``rest_comment_closed``...; ``connection``
    and ``timeout`` when no answer came), ``message`` a sentence for people. Never
    carries credentials: callers build it from the response body, not the request.
    """

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, blog: str = ""
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.blog = blog
        super().__init__(message)

    @property
    def transient(self) -> bool:
        """Worth retrying later: no answer, a timeout, 5xx or 429 (rate limited)."""
        if self.status is None:
            return self.code in TRANSIENT_CODES
        return self.status >= 500 or self.status == 429

    def __str__(self) -> str:
        where = f"{self.blog}: " if self.blog else ""
        details = ", ".join(
            part
            for part in (
                f"HTTP {self.status}" if self.status is not None else "",
                self.code or "",
            )
            if part
        )
        return f"{where}{self.message}" + (f" ({details})" if details else "")

    def __repr__(self) -> str:
        return (
            f"BlogError({self.message!r}, status={self.status!r}, code={self.code!r}, "
            f"blog={self.blog!r})"
        )
