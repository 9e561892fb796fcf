"""Delivery of handoff packets to the queue live agents work from.

A :class:`HandoffQueue` takes a :class:`~vagent.state.HandoffPacket` and delivers it. The
embedded default, :class:`RecordStoreQueue`, puts it in the agent's record store (SQLite, or
Postgres with a ``database_url``), where ``Agent.handoffs()`` reads it back. A contact center
whose routing lives elsewhere uses :class:`WebhookQueue`, which POSTs the packet as JSON::

    queue = WebhookQueue("https://acd.example.gov/handoffs", headers={"Authorization": token})
    await queue.deliver(packet)

The webhook carries an ``Idempotency-Key`` built from the conversation and the packet's time,
so a receiver that honours it files a retried delivery once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from vagent.errors import BackendError
from vagent.records import RecordStore
from vagent.state import HandoffPacket

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

_RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})


class HandoffQueue(Protocol):
    """Where handoff packets go for a live agent to take."""

    async def deliver(self, packet: HandoffPacket) -> None:
        """Deliver one packet; a repeat for the same conversation must not queue it twice.

        Raises:
            BackendError: the packet could not be delivered.
        """
        ...


class RecordStoreQueue:
    """The embedded default: the handoff table of the agent's record store."""

    def __init__(self, store: RecordStore) -> None:
        """Deliver into ``store``; a repeat for the same conversation replaces the packet."""
        self._store = store

    async def deliver(self, packet: HandoffPacket) -> None:
        """Put the packet in the store's queue."""
        await self._store.enqueue_handoff(packet)
        logger.info(
            "handoff delivered to the record store: conversation=%s", packet.conversation_id
        )


class WebhookQueue:
    """POSTs each packet as JSON to a contact center's endpoint, retrying transient failures.

    Timeouts, dropped connections, 408, 429 and 5xx answers are retried with jittered
    exponential backoff, or after the ``Retry-After`` the endpoint asks for (capped at
    ``max_wait``). Other 4xx answers are not retried.

    Args:
        url: the endpoint that receives packets.
        headers: extra headers sent with every delivery, for example authorization.
        timeout: seconds one attempt may take.
        max_attempts: attempts per packet, the first one included.
        max_wait: cap in seconds on any single wait between attempts.
        client: an ``httpx.AsyncClient`` to send with (a proxy, mutual TLS); None opens one
            per delivery.
        sleep: how to wait between attempts; tests pass a recorder instead of sleeping.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
        max_attempts: int = 4,
        max_wait: float = 30.0,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts!r}")
        self.url = url
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        self._client = client
        self._sleep = sleep

    async def deliver(self, packet: HandoffPacket) -> None:
        """POST the packet; retry transient failures.

        Raises:
            BackendError: the endpoint refused the packet, or still failed after the last
                attempt. The message names the endpoint and status, never caller data.
        """
        headers = {**self._headers, "Idempotency-Key": idempotency_key(packet)}
        body = packet.model_dump(mode="json")
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=self._wait,
                retry=retry_if_exception(_is_retryable),
                before_sleep=self._log_retry,
                sleep=self._sleep,
                reraise=True,
            ):
                with attempt:
                    await self._post(body, headers)
        except httpx.HTTPError as error:
            raise self._error(error) from None
        logger.info("handoff delivered to the webhook: conversation=%s", packet.conversation_id)

    async def _post(self, body: object, headers: dict[str, str]) -> None:
        """One attempt; raises on a transport error or a non-2xx answer."""
        if self._client is not None:
            response = await self._client.post(
                self.url, json=body, headers=headers, timeout=self._timeout
            )
        else:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self.url, json=body, headers=headers)
        response.raise_for_status()

    def _wait(self, state: RetryCallState) -> float:
        """Seconds to wait: the endpoint's Retry-After if it sent one, else jittered backoff."""
        requested = _retry_after(_failure(state))
        if requested is not None:
            return min(requested, self._max_wait)
        backoff = wait_exponential_jitter(multiplier=0.5, max=self._max_wait, jitter=0.5)
        return backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        """Log one retry: the status or error type, never the packet."""
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "handoff delivery retry: url=%s attempt=%d status=%s wait=%.1fs",
            self.url,
            state.attempt_number,
            _status_label(_failure(state)),
            wait,
        )

    def _error(self, error: httpx.HTTPError) -> BackendError:
        """The error raised to the caller of :meth:`deliver`, without caller data."""
        status = _status_label(error)
        if _is_retryable(error):
            return BackendError(
                f"handoff webhook {self.url} still failed after {self._max_attempts} attempts "
                f"(last: {status}); check that the endpoint is up, or raise max_attempts"
            )
        return BackendError(
            f"handoff webhook {self.url} refused the packet ({status}) and it was not "
            "retried; check the URL, the credentials in headers and the receiver's logs"
        )


def idempotency_key(packet: HandoffPacket) -> str:
    """The key a receiver uses to file one packet once: its conversation and creation time."""
    return f"{packet.conversation_id}:{packet.created_at.isoformat()}"


def _is_retryable(error: BaseException) -> bool:
    """Whether another attempt could succeed: timeouts, lost connections, 408, 429, 5xx."""
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        return status in _RETRYABLE_CLIENT_STATUSES or status >= 500
    return isinstance(error, httpx.TransportError)


def _failure(state: RetryCallState) -> BaseException | None:
    """The exception the last attempt raised, if any."""
    return state.outcome.exception() if state.outcome else None


def _status_label(error: BaseException | None) -> str:
    """The HTTP status of a failed attempt, or the error type when there was no answer."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _retry_after(error: BaseException | None) -> float | None:
    """Seconds the endpoint asked to wait in ``Retry-After`` (seconds or an HTTP date)."""
    if not isinstance(error, httpx.HTTPStatusError):
        return None
    value = error.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _seconds_until(value: str) -> float | None:
    """Seconds from now until an HTTP date, or None if it is not one."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
