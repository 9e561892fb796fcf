"""Delivery of handoff packets: the record store default and the webhook with its retries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import respx

from vagent.errors import BackendError
from vagent.handoff_queue import HandoffQueue, RecordStoreQueue, WebhookQueue, idempotency_key
from vagent.records import RecordStore
from vagent.state import HandoffPacket

URL = "http://acd.test/handoffs"


@pytest.fixture
def packet() -> HandoffPacket:
    """A packet for a verified caller who asked for a person."""
    return HandoffPacket(
        conversation_id="call-42",
        reason="caller_request",
        identity_status="verified",
        identity_method="ivr",
        cases=["12345"],
        intents=["cancel_case"],
        summary="Caller verified by the IVR. Handed off: caller request.",
    )


@pytest.fixture
def waits() -> list[float]:
    """Waits between attempts, recorded instead of slept."""
    return []


@pytest.fixture
def webhook(waits: list[float]) -> WebhookQueue:
    """A webhook queue that records its waits."""

    async def record(seconds: float) -> None:
        waits.append(seconds)

    return WebhookQueue(URL, headers={"Authorization": "Bearer t"}, sleep=record)


@pytest.fixture
def endpoint() -> Iterator[respx.MockRouter]:
    """The contact center's endpoint, mocked; unmatched requests fail the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RecordStore]:
    """A record store in the test's folder."""
    built = RecordStore(tmp_path / "records.sqlite")
    yield built
    built.close()


def test_both_queues_satisfy_the_protocol(store: RecordStore, webhook: WebhookQueue) -> None:
    queues: list[HandoffQueue] = [RecordStoreQueue(store), webhook]

    assert len(queues) == 2


async def test_the_record_store_queue_puts_the_packet_where_live_agents_read_it(
    store: RecordStore, packet: HandoffPacket
) -> None:
    queue = RecordStoreQueue(store)

    await queue.deliver(packet)
    await queue.deliver(packet)

    assert await store.handoffs() == [packet]


async def test_the_webhook_posts_the_packet_json_with_an_idempotency_key(
    webhook: WebhookQueue, endpoint: respx.MockRouter, packet: HandoffPacket
) -> None:
    route = endpoint.post(URL).mock(return_value=httpx.Response(202))

    await webhook.deliver(packet)

    request = route.calls.last.request
    assert json.loads(request.content) == packet.model_dump(mode="json")
    assert request.headers["Idempotency-Key"] == f"call-42:{packet.created_at.isoformat()}"
    assert request.headers["Idempotency-Key"] == idempotency_key(packet)
    assert request.headers["Authorization"] == "Bearer t"
    assert request.headers["Content-Type"] == "application/json"


async def test_a_server_error_is_retried_until_delivery_succeeds(
    webhook: WebhookQueue, endpoint: respx.MockRouter, packet: HandoffPacket, waits: list[float]
) -> None:
    route = endpoint.post(URL).mock(
        side_effect=[httpx.Response(503), httpx.ConnectTimeout("slow"), httpx.Response(200)]
    )

    await webhook.deliver(packet)

    assert route.call_count == 3
    assert len(waits) == 2
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert keys == {idempotency_key(packet)}


async def test_a_rate_limit_waits_as_long_as_retry_after_asks_within_the_cap(
    endpoint: respx.MockRouter, packet: HandoffPacket, waits: list[float]
) -> None:
    async def record(seconds: float) -> None:
        waits.append(seconds)

    webhook = WebhookQueue(URL, max_wait=5.0, sleep=record)
    endpoint.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(429, headers={"Retry-After": "120"}),
            httpx.Response(200),
        ]
    )

    await webhook.deliver(packet)

    assert waits == [2.0, 5.0]


async def test_a_client_error_is_not_retried(
    webhook: WebhookQueue, endpoint: respx.MockRouter, packet: HandoffPacket, waits: list[float]
) -> None:
    route = endpoint.post(URL).mock(return_value=httpx.Response(400))

    with pytest.raises(BackendError, match="refused the packet") as raised:
        await webhook.deliver(packet)

    assert route.call_count == 1
    assert waits == []
    assert "HTTP 400" in str(raised.value)


async def test_exhausted_retries_raise_a_backend_error_without_caller_data(
    webhook: WebhookQueue, endpoint: respx.MockRouter, packet: HandoffPacket
) -> None:
    route = endpoint.post(URL).mock(return_value=httpx.Response(500))

    with pytest.raises(BackendError, match="after 4 attempts") as raised:
        await webhook.deliver(packet)

    assert route.call_count == 4
    message = str(raised.value)
    assert "12345" not in message
    assert "call-42" not in message
    assert packet.summary not in message


async def test_a_client_passed_in_is_used_for_every_attempt(
    endpoint: respx.MockRouter, packet: HandoffPacket, waits: list[float]
) -> None:
    async def record(seconds: float) -> None:
        waits.append(seconds)

    route = endpoint.post(URL).mock(side_effect=[httpx.Response(502), httpx.Response(204)])

    async with httpx.AsyncClient() as client:
        await WebhookQueue(URL, client=client, sleep=record).deliver(packet)

    assert route.call_count == 2


def test_a_queue_with_no_attempts_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        WebhookQueue(URL, max_attempts=0)
