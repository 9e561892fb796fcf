"""Tests for the bounded conversation state and the turn log that keeps the whole record."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

import vagent.state
from vagent import Agent, AgentConfig
from vagent.state import (
    TranscriptEntry,
    distinct,
    recent_messages,
    recent_turns,
    recent_values,
)


def said(turn: int) -> TranscriptEntry:
    return TranscriptEntry(speaker="caller", text=f"turn {turn}", turn=turn)


def test_recent_turns_keeps_only_the_window_of_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vagent.state, "WINDOW_TURNS", 3)

    kept = recent_turns([said(t) for t in range(1, 6)], [said(6)])

    assert [t.turn for t in kept] == [4, 5, 6]


def test_recent_messages_start_at_a_caller_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vagent.state, "WINDOW_TURNS", 2)
    older = [
        HumanMessage("one", id="h1"),
        AIMessage("", id="a1", tool_calls=[{"name": "lookup_case", "args": {}, "id": "c1"}]),
        ToolMessage("found", tool_call_id="c1", id="t1"),
        HumanMessage("two", id="h2"),
        AIMessage("answer two", id="a2"),
    ]

    kept = recent_messages(older, [HumanMessage("three", id="h3")])

    assert [m.id for m in kept] == ["h2", "a2", "h3"]


def test_recent_values_and_distinct_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vagent.state, "WINDOW_VALUES", 2)

    assert recent_values([0.1, 0.2], [0.3]) == [0.2, 0.3]
    assert distinct(["lookup_case", "question: A"], ["lookup_case", "send_sms"]) == [
        "lookup_case",
        "question: A",
        "send_sms",
    ]


async def test_a_long_conversation_keeps_a_window_in_state_and_every_turn_in_the_record(
    fha_config: AgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vagent.state, "WINDOW_TURNS", 2)
    monkeypatch.setattr(vagent.state, "WINDOW_VALUES", 3)
    agent = Agent.from_config(fha_config)
    questions = [f"What credit score do I need for an FHA loan? ({n})" for n in range(1, 7)]

    for question in questions:
        await agent.run("long", question)
    graph = await agent._graph()
    state = (await graph.aget_state({"configurable": {"thread_id": "long"}})).values
    record = await agent.end("long")
    await agent.aclose()
    agent.close()

    assert {t.turn for t in state["transcript"]} == {5, 6}
    assert sum(isinstance(m, HumanMessage) for m in state["messages"]) == 2
    assert len(state["sentiment"]) == 3
    caller_lines = [t.text for t in record.transcript if t.speaker == "caller"]
    assert [line[-3:] for line in caller_lines] == [f"({n})" for n in range(1, 7)]
    assert len(record.sentiment) == 6
    assert record.turns == 6
    assert {c.turn for c in record.citations} == set(range(1, 7))
