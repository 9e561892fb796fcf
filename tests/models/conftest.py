"""Fixtures for the model tests: closed breakers for every test, and a misbehaving endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.models.chat_server import ChatServer

from vagent.models.breaker import forget_shared_breakers


@pytest.fixture(autouse=True)
def closed_breakers() -> Iterator[None]:
    """Forget the breakers other tests opened, and the ones this test opens."""
    forget_shared_breakers()
    yield
    forget_shared_breakers()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A chat-completions server on 127.0.0.1 that answers as the test scripts it."""
    server = ChatServer()
    server.start()
    yield server
    server.stop()
