"""Tests for reading a request for a person out of the caller's words."""

from __future__ import annotations

import pytest

from vagent import Agent
from vagent.guardrails.screen import asks_for_person


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a person?",
        "representative",
        "Transfer me, please.",
        "Why can't I talk to a person?",
        "No, I want to talk to a person.",
        "I don't understand, let me talk to a real person.",
        "I don't get it but I want an operator.",
    ],
)
def test_a_request_for_a_person_is_heard(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to talk to a person.",
        "No need to speak with an agent, thanks.",
        "I do not need a representative.",
        "I'd rather not talk to a human, just tell me the rate.",
        "Don't transfer me to an operator.",
        "I don\u2019t want a live agent.",
    ],
)
def test_a_person_turned_down_in_the_same_breath_is_not_a_request(text: str) -> None:
    assert not asks_for_person(text)


async def test_a_caller_who_declines_a_person_is_not_handed_off(agent: Agent) -> None:
    reply = await agent.run("no-person", "I don't need a person, what is an FHA loan?")

    assert reply.handoff is None
