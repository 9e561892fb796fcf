"""The offline engine: generic, deterministic decisions from the turn's messages and context."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from vagent.models.offline import CONTEXT_KEY, OfflineEngine
from vagent.testing import ScriptedModel

REFUND = {
    "type": "function",
    "function": {
        "name": "request_refund",
        "description": "Request a refund of a payment.",
        "parameters": {
            "type": "object",
            "properties": {
                "payment_id": {
                    "type": "string",
                    "pattern": "^P-\\d{4}$",
                    "description": "The payment's reference, like P-1234.",
                },
                "zip_code": {"type": "string", "pattern": "^\\d{5}$", "x-cues": ["zip"]},
                "account": {"type": "string", "pattern": "^\\d{5}$", "x-cues": ["account"]},
            },
            "required": ["payment_id"],
        },
    },
}
HAND_OFF = {
    "type": "function",
    "function": {
        "name": "hand_off",
        "description": "Transfer to a person.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
}
ENGINE = OfflineEngine(examples={"request_refund": ["I want a refund", "give me my money back"]})


def ask(*messages: BaseMessage, **context: Any) -> AIMessage:
    """The engine's answer to ``messages`` with the given turn context."""
    system = SystemMessage("prompt", additional_kwargs={CONTEXT_KEY: context})
    reply = ENGINE.bind_tools([REFUND, HAND_OFF]).invoke([system, *messages])
    assert isinstance(reply, AIMessage)
    return reply


def test_a_request_matching_a_tools_examples_calls_that_tool() -> None:
    reply = ask(HumanMessage("I'd like a refund for payment P-1234 please"))

    assert reply.tool_calls[0]["name"] == "request_refund"
    assert reply.tool_calls[0]["args"] == {"payment_id": "P-1234"}


def test_a_missing_required_argument_is_asked_for_by_its_description() -> None:
    reply = ask(HumanMessage("I want a refund"))

    assert reply.tool_calls == []
    assert "the payment's reference, like P-1234" in str(reply.content)


def test_arguments_are_filled_from_earlier_turns() -> None:
    reply = ask(
        HumanMessage("It was payment P-4321."),
        AIMessage("OK."),
        HumanMessage("Can I get my money back?"),
    )

    assert reply.tool_calls[0]["args"]["payment_id"] == "P-4321"


def test_two_values_of_the_same_shape_go_to_the_fields_their_cue_words_name() -> None:
    reply = ask(HumanMessage("Refund P-1234, my account is 11111 and my zip is 22222"))

    args = reply.tool_calls[0]["args"]
    assert (args["account"], args["zip_code"]) == ("11111", "22222")


def test_a_required_argument_comes_from_the_profile_when_not_said() -> None:
    reply = ask(HumanMessage("I want a refund"), profile={"payment_id": "P-0001"})

    assert reply.tool_calls[0]["args"] == {"payment_id": "P-0001"}


def test_a_yes_to_a_pending_action_repeats_its_exact_call() -> None:
    pending = {"tool": "request_refund", "args": {"payment_id": "P-1234"}}

    reply = ask(HumanMessage("yes"), pending=pending, confirmation="yes")

    assert reply.tool_calls[0]["args"] == {"payment_id": "P-1234"}


def test_tool_results_are_relayed_as_the_reply() -> None:
    call = AIMessage("", tool_calls=[{"name": "request_refund", "args": {}, "id": "c1"}])

    reply = ask(
        HumanMessage("refund"), call, ToolMessage("Your refund is on its way.", tool_call_id="c1")
    )

    assert reply.content == "Your refund is on its way."


def test_a_question_is_answered_from_the_best_passage_with_its_citation() -> None:
    passage = {
        "n": 1,
        "title": "Hours",
        "section": "",
        "score": 0.7,
        "cited_before": False,
        "text": "The office is open from 9 to 5 on weekdays.",
    }

    reply = ask(HumanMessage("When are you open?"), passages=[passage], query="When open?")

    assert reply.content == "The office is open from 9 to 5 on weekdays. [1]"


def test_a_long_passage_is_trimmed_to_its_most_relevant_sentences() -> None:
    filler = " ".join(f"Sentence number {i} is about parking rules downtown." for i in range(12))
    text = f"{filler} The office is open from 9 to 5 on weekdays."
    passage = {
        "n": 2,
        "title": "Info",
        "section": "",
        "score": 0.6,
        "cited_before": False,
        "text": text,
    }

    reply = ask(
        HumanMessage("When is the office open?"),
        passages=[passage],
        query="When is the office open?",
    )

    assert "open from 9 to 5" in str(reply.content)
    assert len(str(reply.content)) <= ENGINE.max_chars + 5


def test_nothing_fitting_twice_in_a_row_hands_off() -> None:
    first = ask(HumanMessage("Tell me a joke about penguins"), scope="refunds")

    second = ask(
        HumanMessage("Tell me a joke about penguins"),
        first,
        HumanMessage("Another joke then"),
        scope="refunds",
    )

    assert first.tool_calls == []
    assert "refunds" in str(first.content)
    assert second.tool_calls[0]["name"] == "hand_off"


def test_the_engine_is_deterministic() -> None:
    message = HumanMessage("I'd like a refund for payment P-1234 please")

    first, second = ask(message), ask(message)

    assert (first.content, first.tool_calls) == (second.content, second.tool_calls)


def test_the_scripted_model_records_what_it_was_sent() -> None:
    model = ScriptedModel(script=["first"])

    model.invoke([HumanMessage("hello")])

    assert [m.content for m in model.received[0]] == ["hello"]
