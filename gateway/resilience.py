"""Per-upstream resilience: a circuit breaker (closed, open, half-open) and a retry budget. Both are
plain state in the one event loop, so they need no locks."""

import time
from collections.abc import Callable
from enum import IntEnum


class CircuitState(IntEnum):
    """The values of gateway_upstream_circuit_state."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class CircuitBreaker:
    """Opens after `threshold` failures in a row; while open, `allow()` is False until `reset_seconds`
    have passed, then lets one probe through (half-open): its success closes the circuit, its failure
    opens it for another cool-down. `on_change(state)` is told every transition."""

    def __init__(
        self,
        threshold: int,
        reset_seconds: float,
        on_change: Callable[[CircuitState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.on_change = on_change
        self.clock = clock
        self.state = CircuitState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    def allow(self) -> bool:
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.OPEN:
            if self.clock() - self.opened_at < self.reset_seconds:
                return False
            self._move(CircuitState.HALF_OPEN)
        if self.probing:  # half-open: one probe at a time
            return False
        self.probing = True
        return True

    def retry_after(self) -> int:
        """Whole seconds until the next probe may go (at least 1)."""
        return max(1, int(self.opened_at + self.reset_seconds - self.clock() + 0.999))

    def success(self) -> None:
        self.failures = 0
        self.probing = False
        if self.state is not CircuitState.CLOSED:
            self._move(CircuitState.CLOSED)

    def failure(self) -> None:
        self.probing = False
        self.failures += 1
        if self.state is CircuitState.HALF_OPEN or (
            self.state is CircuitState.CLOSED and self.failures >= self.threshold
        ):
            self.opened_at = self.clock()
            self._move(CircuitState.OPEN)

    def release(self) -> None:
        """The call ended without a verdict (the caller went away): let another probe go."""
        self.probing = False

    def _move(self, state: CircuitState) -> None:
        self.state = state
        if self.on_change:
            self.on_change(state)


class RetryBudget:
    """Every request deposits `ratio` of a retry, every retry withdraws one: retries stay below `ratio`
    of the traffic, so a failing upstream never sees more than (1 + ratio) times its load. The balance
    starts at, and never grows past, `reserve` plus what recent traffic earned up to the same again."""

    def __init__(self, ratio: float, reserve: int):
        self.ratio = ratio
        self.cap = float(reserve) * 2 if reserve else 1.0
        self.balance = float(reserve)

    def deposit(self) -> None:
        self.balance = min(self.cap, self.balance + self.ratio)

    def withdraw(self) -> bool:
        if self.balance >= 1.0 - 1e-9:  # ten deposits of 0.1 add up to a hair under 1
            self.balance -= 1.0
            return True
        return False
