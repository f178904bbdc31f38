"""The one error type storage raises, with a one-line reason fit for a CLI or a log."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, StatementError


class StorageError(Exception):
    """The database could not be opened, read or written; the message says which and why."""


def reason(exc: BaseException) -> str:
    """The first line of what the driver said, without SQL, parameters or doc links."""
    inner: BaseException = exc
    if isinstance(exc, DBAPIError | StatementError) and exc.orig is not None:
        inner = exc.orig
    text = str(inner).strip() or ("timed out" if isinstance(inner, TimeoutError) else "")
    text = text or type(inner).__name__
    line = text.splitlines()[0].strip()
    if line.startswith("<class '") and ">: " in line:
        # The asyncpg adapter prefixes "<class 'asyncpg...Error'>: ".
        line = line.split(">: ", 1)[1]
    return line
