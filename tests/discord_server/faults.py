"""Injectable REST faults: 5xx for the next N requests, 429 storms, latency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "rate_limit", "latency"]


@dataclass
class Fault:
    """One queued fault; `times=None` means until cleared."""

    kind: FaultKind
    route: str | None
    times: int | None
    status: int = 500
    after_commit: bool = False
    retry_after: float = 0.1
    is_global: bool = False
    seconds: float = 0.0
    fired: int = 0

    def matches(self, route: str | None) -> bool:
        return self.route is None or self.route == route

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Faults:
    """Queue of faults consulted by the server for every REST request."""

    known_routes: Callable[[], Iterable[str]] = field(default=lambda: ())
    queued: list[Fault] = field(default_factory=list)

    def fail_next(
        self, route: str | None, *, status: int = 500, times: int = 1, after_commit: bool = False
    ) -> Fault:
        """The next `times` requests to `route` get `status`; with `after_commit` the work is done
        first and only the response is lost (what makes a retry dangerous)."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        return self._add(Fault("status", route, times, status=status, after_commit=after_commit))

    def rate_limit_next(
        self,
        route: str | None,
        *,
        times: int = 1,
        retry_after: float = 0.1,
        is_global: bool = False,
    ) -> Fault:
        """A 429 storm: the next `times` requests to `route` are rejected with `retry_after`."""
        return self._add(
            Fault(
                "rate_limit", route, times, status=429, retry_after=retry_after, is_global=is_global
            )
        )

    def add_latency(
        self, seconds: float, *, route: str | None = None, times: int | None = None
    ) -> Fault:
        """Delay matching requests by `seconds` before they are handled."""
        return self._add(Fault("latency", route, times, seconds=seconds))

    def clear(self) -> None:
        self.queued.clear()

    def take(
        self, kind: FaultKind, route: str | None, *, after_commit: bool = False
    ) -> Fault | None:
        """Consume one matching fault of `kind`, if any is queued."""
        for fault in self.queued:
            if fault.kind != kind or not fault.matches(route) or fault.exhausted:
                continue
            if kind == "status" and fault.after_commit != after_commit:
                continue
            fault.fired += 1
            if fault.exhausted:
                self.queued.remove(fault)
            return fault
        return None

    def _add(self, fault: Fault) -> Fault:
        known = set(self.known_routes())
        if fault.route is not None and known and fault.route not in known:
            choices = "\n  ".join(sorted(known))
            raise ValueError(f"unknown route key {fault.route!r}; known routes:\n  {choices}")
        self.queued.append(fault)
        return fault
