"""The one exception a command raises to tell its user what is wrong, in a sentence.

Raise it from a command, a check or a transformer; the error handler shows its
message (ephemerally for slash commands) and logs nothing: it is not a bug.
It subclasses ``AppCommandError`` so that transformers pass it through unwrapped.

The handler recognises it by shape (:class:`Refusal`: it carries a ``sentence``), not
by class: unloading an extension drops its modules from ``sys.modules``, so after a
reload of ``cogs.errors`` other cogs still raise the class they imported before.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from discord import app_commands


@runtime_checkable
class Refusal(Protocol):
    """Any exception carrying a sentence meant for the user."""

    sentence: str


class UserFacingError(app_commands.AppCommandError):
    """A refusal or a problem the user can act on; ``str(error)`` is shown as is."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence
