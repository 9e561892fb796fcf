"""A circuit breaker for a chat endpoint, shared by every conversation of the process.

Closed, calls go to the endpoint. After ``failures`` failed calls in a row it opens: for
``cooldown_s`` seconds no call reaches the endpoint, so no caller waits out a timeout on a
server that is down. Then it lets one trial call through (half-open): success closes it, failure
opens it again for another cooldown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]
Permit = Literal["call", "trial"]
"""Leave to call the endpoint: an ordinary call, or the one trial call of a half-open breaker."""

_shared: dict[tuple[str, int, float], CircuitBreaker] = {}
_shared_lock = threading.Lock()


class CircuitBreaker:
    """Counts an endpoint's failed calls in a row and stops calling it while it is down.

    Thread-safe: agents on several event loops of one process may share it.

    Example:
        >>> breaker = CircuitBreaker("llama3.1@vllm:8000", failures=3, cooldown_s=30)
        >>> permit = breaker.acquire()
        >>> permit  # call the endpoint, then report breaker.succeeded(permit) or failed(permit)
        'call'
    """

    def __init__(
        self,
        endpoint: str,
        *,
        failures: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A closed breaker.

        Args:
            endpoint: the endpoint's name in log lines, without credentials.
            failures: failed calls in a row that open the breaker.
            cooldown_s: seconds the breaker stays open before a trial call.
            clock: monotonic seconds; tests pass a fake one to move time.
        """
        self.endpoint = endpoint
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        """Monotonic seconds; tests swap in a fake clock to move time."""
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failed_in_row = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open``, or ``half_open`` once the cooldown is over."""
        with self._lock:
            return self._current()

    def acquire(self) -> Permit | None:
        """Whether this call may go to the endpoint: ``"call"``, ``"trial"`` or None.

        In half-open state one trial call at a time gets through. A caller given a permit
        reports the outcome with :meth:`succeeded`, :meth:`failed` or :meth:`abandoned`.
        """
        with self._lock:
            state = self._current()
            if state == "closed":
                return "call"
            if state == "open" or self._trial_running:
                return None
            self._trial_running = True
            return "trial"

    def succeeded(self, permit: Permit = "call") -> None:
        """Record a call that worked; the endpoint is up, so the breaker closes."""
        with self._lock:
            recovered = self._state != "closed"
            self._state = "closed"
            self._failed_in_row = 0
            if permit == "trial":
                self._trial_running = False
        if recovered:
            logger.info("model circuit closed: endpoint=%s", self.endpoint)

    def failed(self, permit: Permit = "call") -> None:
        """Record a call that failed after its retries; enough in a row, or a failed trial,
        open the breaker."""
        with self._lock:
            self._failed_in_row += 1
            if permit == "trial":
                self._trial_running = False
            tripped = self._state == "closed" and self._failed_in_row >= self.failures
            if not tripped and permit != "trial":
                return
            self._state = "open"
            self._opened_at = self.clock()
        logger.warning(
            "model circuit opened: endpoint=%s failures=%d cooldown=%.0fs",
            self.endpoint,
            self._failed_in_row,
            self.cooldown_s,
        )

    def abandoned(self, permit: Permit = "call") -> None:
        """Record a call cancelled before it ended, so a lost trial never blocks the next."""
        if permit != "trial":
            return
        with self._lock:
            self._trial_running = False

    def _current(self) -> BreakerState:
        """The state now, moving from open to half-open once the cooldown is over."""
        cooled = self.clock() - self._opened_at >= self.cooldown_s
        if self._state == "open" and cooled:
            self._state = "half_open"
        return self._state


def shared_breaker(
    base_url: str | None, model: str, *, failures: int, cooldown_s: float
) -> CircuitBreaker:
    """The process's breaker for one endpoint and model, made on first use.

    Agents built from the same settings share it, so one conversation's failures spare the
    others the wait. Different breaker settings get a breaker of their own.
    """
    endpoint = f"{model}@{_without_credentials(base_url or 'https://api.openai.com/v1')}"
    key = (endpoint, failures, cooldown_s)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = CircuitBreaker(endpoint, failures=failures, cooldown_s=cooldown_s)
        return _shared[key]


def forget_shared_breakers() -> None:
    """Drop every shared breaker, so the next agent starts closed; for tests and reloads."""
    with _shared_lock:
        _shared.clear()


def _without_credentials(url: str) -> str:
    """The URL without a user name, password, query or fragment, fit for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
