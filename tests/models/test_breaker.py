"""The circuit breaker's states, on a clock the tests move by hand."""

from __future__ import annotations

import logging

import pytest
from tests.models.clock import FakeClock

from vagent.models.breaker import CircuitBreaker, shared_breaker


@pytest.fixture
def clock() -> FakeClock:
    """The breaker's clock."""
    return FakeClock(500.0)


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    """A breaker that opens after 3 failures in a row for 30 seconds."""
    return CircuitBreaker("test-model@http://llm.test/v1", failures=3, cooldown_s=30, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    """Make ``times`` calls that fail."""
    for _ in range(times):
        breaker.failed(breaker.acquire() or "call")


def test_a_new_breaker_is_closed_and_lets_calls_through(breaker: CircuitBreaker) -> None:
    assert breaker.state == "closed"
    assert breaker.acquire() == "call"


def test_failures_below_the_threshold_keep_it_closed(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)

    assert breaker.state == "closed"


def test_a_success_between_failures_starts_the_count_again(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.succeeded()
    fail(breaker, 2)

    assert breaker.state == "closed"


def test_failures_in_a_row_open_it_and_it_refuses_calls(
    breaker: CircuitBreaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vagent.models.breaker"):
        fail(breaker, 3)

    assert breaker.state == "open"
    assert breaker.acquire() is None
    assert caplog.messages == [
        "model circuit opened: endpoint=test-model@http://llm.test/v1 failures=3 cooldown=30s"
    ]


def test_after_the_cooldown_one_trial_call_goes_through(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30

    assert breaker.state == "half_open"
    assert breaker.acquire() == "trial"
    assert breaker.acquire() is None


def test_a_successful_trial_closes_it(
    breaker: CircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fail(breaker, 3)
    clock.now += 30
    permit = breaker.acquire()
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="vagent.models.breaker"):
        breaker.succeeded(permit or "call")

    assert breaker.state == "closed"
    assert caplog.messages == ["model circuit closed: endpoint=test-model@http://llm.test/v1"]


def test_a_failed_trial_opens_it_for_another_cooldown(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30

    breaker.failed(breaker.acquire() or "call")
    clock.now += 29

    assert breaker.state == "open"
    assert breaker.acquire() is None


def test_an_abandoned_trial_lets_the_next_call_be_the_trial(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 30
    breaker.abandoned(breaker.acquire() or "call")

    assert breaker.acquire() == "trial"


def test_a_late_failure_while_open_neither_logs_again_nor_extends_the_cooldown(
    breaker: CircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fail(breaker, 3)
    clock.now += 20
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="vagent.models.breaker"):
        breaker.failed("call")
    clock.now += 10

    assert caplog.messages == []
    assert breaker.state == "half_open"


def test_the_same_endpoint_and_settings_share_one_breaker() -> None:
    first = shared_breaker("http://vllm:8000/v1", "llama", failures=3, cooldown_s=30)

    second = shared_breaker("http://vllm:8000/v1", "llama", failures=3, cooldown_s=30)

    assert first is second


def test_another_model_on_the_same_server_has_its_own_breaker() -> None:
    first = shared_breaker("http://vllm:8000/v1", "llama", failures=3, cooldown_s=30)

    second = shared_breaker("http://vllm:8000/v1", "mistral", failures=3, cooldown_s=30)

    assert first is not second


def test_the_endpoint_name_in_logs_leaves_out_credentials_and_query() -> None:
    breaker = shared_breaker(
        "https://user:secret@gateway.example/v1?key=abc", "gpt", failures=3, cooldown_s=30
    )

    assert breaker.endpoint == "gpt@https://gateway.example/v1"
