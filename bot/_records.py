"""``@immutable``: the frozen dataclass for records made on every poll, with a plain ``__init__``.

A frozen dataclass refuses assignment through its own ``__setattr__``, so its generated
``__init__`` sets each field through ``object.__setattr__``: about 100 ns a field where a plain
slot assignment costs 15. :class:`~bot.storage.records.FeedState` (16 fields) took 1.7 µs to make
against 0.32, and the unchanged cycle makes one per feed polled, with a
:class:`~bot.feeds.update.FeedOutcome` and a :class:`~bot.feeds.sources.base.Retrieved`
(0.87 µs frozen) or ``NotModified``, and a :class:`~bot.feeds.plan.Planned` per listing:
about 2.5 µs a poll alone. In the cycle at 1,000 feeds (~100 µs a poll; one process,
interleaved rounds), four A/B runs gave 0 to 5 µs: the machine's noise is of that size.

What stays: immutability for the type checker (``dataclass_transform(frozen_default=True)``:
mypy reports an assignment to a field as an error, and ``tests/test_records.py`` checks that
it does), equality and hashing by value as a frozen dataclass has them (``unsafe_hash``: the
fields never change), ``dataclasses.replace`` for a changed copy, slots. What goes: the
``FrozenInstanceError`` at run time; nothing assigns to these records' fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def immutable(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` without the cost of frozen construction."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
