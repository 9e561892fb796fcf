"""The fallback model: the endpoint while its breaker allows, the fallback otherwise."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from pydantic import BaseModel, Field

from vagent.errors import ModelError
from vagent.models.breaker import CircuitBreaker
from vagent.models.fallback import FALLBACK_KEY, LIMITED_MODE_NOTE, FallbackChatModel
from vagent.testing import ScriptedModel, tool_call

QUESTION = [HumanMessage("What is an FHA loan?")]


class LookupCase(BaseModel):
    """Look up a case by its id."""

    case_id: str = Field(description="The case id.")


def down(messages: list[BaseMessage]) -> AIMessage:
    """A scripted step for an endpoint that fails after its retries."""
    raise ModelError("endpoint down", model="test-model", status=503)


class Stalled(BaseChatModel):
    """A model whose async call never ends, until it is cancelled."""

    @property
    def _llm_type(self) -> str:
        return "stalled"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def wrap(
    primary: BaseChatModel,
    fallback: BaseChatModel | None = None,
    failures: int = 3,
) -> FallbackChatModel:
    """The fallback model over ``primary``, with its own breaker."""
    breaker = CircuitBreaker("test-model@http://llm.test/v1", failures=failures, cooldown_s=30)
    return FallbackChatModel(primary=primary, fallback=fallback, breaker=breaker)


async def test_a_working_endpoint_answers_unmarked_and_the_breaker_stays_closed() -> None:
    model = wrap(ScriptedModel(script=["From the endpoint."]), ScriptedModel())

    reply = await model.ainvoke(QUESTION)

    assert reply.content == "From the endpoint."
    assert FALLBACK_KEY not in reply.response_metadata
    assert model.breaker.state == "closed"


async def test_a_failed_call_is_answered_by_the_fallback_with_the_limited_mode_note() -> None:
    fallback = ScriptedModel(script=["An FHA loan is insured. [1]"])
    model = wrap(ScriptedModel(script=[down]), fallback)

    reply = await model.ainvoke(QUESTION)

    assert reply.content == f"An FHA loan is insured. [1] {LIMITED_MODE_NOTE}"
    assert reply.response_metadata[FALLBACK_KEY] == "offline"


async def test_a_fallback_tool_call_is_marked_but_gets_no_note() -> None:
    fallback = ScriptedModel(script=[tool_call("lookup_case", case_id="12345")])
    model = wrap(ScriptedModel(script=[down]), fallback)

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ""
    assert [c["name"] for c in reply.tool_calls] == ["lookup_case"]
    assert reply.response_metadata[FALLBACK_KEY] == "offline"


async def test_an_open_breaker_sends_calls_to_the_fallback_without_trying_the_endpoint() -> None:
    primary = ScriptedModel(script=[down])
    model = wrap(primary, ScriptedModel(script=["One.", "Two."]), failures=1)
    await model.ainvoke(QUESTION)

    reply = await model.ainvoke(QUESTION)

    assert reply.content == f"Two. {LIMITED_MODE_NOTE}"
    assert primary.position == 1
    assert model.breaker.state == "open"


async def test_the_rest_of_a_turn_that_fell_back_stays_on_the_fallback() -> None:
    primary = ScriptedModel(script=["From the endpoint."])
    model = wrap(primary, ScriptedModel(script=["Your case is open."]))
    earlier = AIMessage(
        "",
        tool_calls=[{"name": "lookup_case", "args": {}, "id": "c1"}],
        response_metadata={FALLBACK_KEY: "offline"},
    )

    reply = await model.ainvoke([*QUESTION, earlier, ToolMessage("Open.", tool_call_id="c1")])

    assert reply.content == f"Your case is open. {LIMITED_MODE_NOTE}"
    assert primary.position == 0


async def test_without_a_fallback_the_endpoint_error_is_raised_and_counted() -> None:
    model = wrap(ScriptedModel(script=[down]))

    with pytest.raises(ModelError, match="endpoint down"):
        await model.ainvoke(QUESTION)

    assert model.breaker.acquire() == "call"


async def test_without_a_fallback_an_open_breaker_raises_at_once() -> None:
    primary = ScriptedModel(script=[down])
    model = wrap(primary, failures=1)
    with pytest.raises(ModelError):
        await model.ainvoke(QUESTION)

    with pytest.raises(ModelError, match="circuit is open") as caught:
        await model.ainvoke(QUESTION)

    assert caught.value.model == "test-model@http://llm.test/v1"
    assert primary.position == 1


async def test_bind_tools_binds_the_tools_for_both_models() -> None:
    primary = ScriptedModel(script=[down])
    fallback = ScriptedModel(script=["Fine."])
    model = wrap(primary, fallback)

    await model.bind_tools([LookupCase]).ainvoke(QUESTION)

    assert [t["function"]["name"] for t in primary.bound_tools] == ["LookupCase"]
    assert [t["function"]["name"] for t in fallback.bound_tools] == ["LookupCase"]


def test_the_sync_call_falls_back_too() -> None:
    model = wrap(ScriptedModel(script=[down]), ScriptedModel(script=["Offline answer."]))

    reply = model.invoke(QUESTION)

    assert reply.content == f"Offline answer. {LIMITED_MODE_NOTE}"


async def test_a_cancelled_trial_call_lets_the_next_call_try_the_endpoint() -> None:
    model = wrap(Stalled(), ScriptedModel(), failures=1)
    model.breaker.clock = lambda: 0.0
    model.breaker.failed("call")
    model.breaker.clock = lambda: 30.0
    trial = asyncio.create_task(model.ainvoke(QUESTION))
    await asyncio.sleep(0)

    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert model.breaker.acquire() == "trial"
