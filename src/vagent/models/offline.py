"""The offline engine: a deterministic chat model that needs no endpoint.

It speaks the langchain-core chat-model interface, so the same graph runs on it as on an LLM.
It knows nothing of any deployment: it matches the caller's words to the bound tools' example
phrases by embedding similarity, fills arguments from what the caller said and from the verified
caller's profile, asks for what is missing, turns a pending confirmation into the confirmed call,
answers questions with the best sentences of the best retrieved passage (citing it), relays tool
results, and hands off when nothing fits twice in a row.

The graph passes it the turn's structured context (passages, pending action, profile) in the
system message's ``additional_kwargs`` under :data:`CONTEXT_KEY`; an LLM reads the same facts
from the prompt text instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from vagent.knowledge.embed import get_embedder
from vagent.models._extract import fill_arguments

CONTEXT_KEY = "vagent_context"
"""Key of the turn context in the system message's ``additional_kwargs``."""

_MISSED = "vagent_missed"
"""Marks the engine's "not able to help" reply, so a second miss in a row hands off."""
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")


class ContextPassage(TypedDict):
    """A retrieved passage as the engine sees it."""

    n: int
    title: str
    section: str
    text: str
    score: float
    cited_before: bool


class TurnContext(TypedDict, total=False):
    """What the graph tells the model about this turn, beyond the messages."""

    agent_name: str
    scope: str
    query: str
    passages: list[ContextPassage]
    pending: dict[str, Any] | None
    confirmation: str
    declined: str | None
    small_talk: str | None
    profile: dict[str, str]


class OfflineEngine(BaseChatModel):
    """A deterministic, generic chat model for demos, tests and endpoint outages."""

    examples: dict[str, list[str]] = Field(default_factory=dict)
    """Caller phrases per tool name."""
    tool_threshold: float = 0.55
    """Similarity above which the caller's words select a tool."""
    max_sentences: int = 3
    """Sentences quoted from a passage in an answer."""
    sentence_margin: float = 0.12
    """Sentences scoring within this of the best sentence are quoted with it."""
    max_chars: int = 400
    """Characters quoted from a passage in an answer."""

    _example_vectors: dict[str, np.ndarray] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "vagent-offline"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in any form langchain-core accepts."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = {t["function"]["name"]: t["function"] for t in kwargs.get("tools", [])}
        message = self._respond(messages, tools)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _respond(self, messages: list[BaseMessage], tools: Mapping[str, Any]) -> AIMessage:
        """Decide the next message from the conversation and the turn context."""
        ctx = _context(messages)
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(content=_tool_results(messages))
        pending = ctx.get("pending")
        if ctx.get("confirmation") == "yes" and pending and pending["tool"] in tools:
            return _call(pending["tool"], dict(pending["args"]))
        if ctx.get("declined"):
            return AIMessage(content="All right, I won't do that. Is there anything else?")
        said = _small_talk(ctx)
        if said is not None:
            return AIMessage(content=said)
        return self._act_or_answer(messages, ctx, tools)

    def _act_or_answer(
        self, messages: list[BaseMessage], ctx: TurnContext, tools: Mapping[str, Any]
    ) -> AIMessage:
        """Call the tool the caller asked for, or answer from a passage, or admit defeat."""
        texts = _caller_texts(messages)
        passages = ctx.get("passages", [])
        best = passages[0]["score"] if passages else 0.0
        tool, score = self._match_tool(texts[0] if texts else "", tools)
        if tool is not None and score >= self.tool_threshold and score >= best:
            return _tool_call_or_question(tool, tools[tool], texts, ctx.get("profile", {}))
        if passages:
            # Answer with something new rather than repeat the passage quoted last turn.
            fresh = next((p for p in passages if not p.get("cited_before")), passages[0])
            return self._answer(ctx.get("query") or texts[0], fresh)
        return _fallback(messages, ctx, tools)

    def _match_tool(self, text: str, tools: Mapping[str, Any]) -> tuple[str | None, float]:
        """The bound tool whose example phrases are most like ``text``, and how alike."""
        candidates = [name for name in tools if self.examples.get(name)]
        if not text or not candidates:
            return None, 0.0
        query = get_embedder().embed([text])[0]
        scores = {name: float(np.max(self._vectors(name) @ query)) for name in candidates}
        name = max(scores, key=lambda n: scores[n])
        return name, scores[name]

    def _vectors(self, tool: str) -> np.ndarray:
        """Embeddings of a tool's example phrases, computed once."""
        if tool not in self._example_vectors:
            self._example_vectors[tool] = get_embedder().embed(self.examples[tool])
        return self._example_vectors[tool]

    def _answer(self, query: str, passage: ContextPassage) -> AIMessage:
        """Quote the passage, or its sentences that best answer the query if it is long."""
        flat = " ".join(passage["text"].split())
        sentences = [s.strip() for s in _SENTENCE.split(flat) if s.strip()]
        if len(flat) > self.max_chars:
            scores = get_embedder().embed(sentences) @ get_embedder().embed([query])[0]
            # Keep the sentences nearly as relevant as the best one, in the passage's order.
            cut = float(scores.max()) - self.sentence_margin
            ranked = [i for i in np.argsort(-scores) if scores[i] >= cut][: self.max_sentences]
            sentences = [sentences[i] for i in sorted(ranked)]
        text = ""
        for sentence in sentences:
            if text and len(text) + len(sentence) > self.max_chars:
                break
            text = f"{text} {sentence}".strip()
        return AIMessage(content=f"{text} [{passage['n']}]")


def _context(messages: Sequence[BaseMessage]) -> TurnContext:
    """The turn context from the system message, or an empty one."""
    for message in messages:
        if isinstance(message, SystemMessage):
            found = message.additional_kwargs.get(CONTEXT_KEY)
            if isinstance(found, dict):
                return TurnContext(**found)  # type: ignore[typeddict-item]
    return TurnContext()


def _caller_texts(messages: Sequence[BaseMessage]) -> list[str]:
    """What the caller said, newest first."""
    return [str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)]


def _tool_results(messages: Sequence[BaseMessage]) -> str:
    """The plain-language results of the tools run since the model last spoke."""
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, str(message.content))
    return " ".join(results)


def _small_talk(ctx: TurnContext) -> str | None:
    """A reply to a greeting, thanks or goodbye."""
    kind = ctx.get("small_talk")
    name = ctx.get("agent_name", "us")
    if kind in {"thanks", "goodbye"}:
        return f"You're welcome. Thank you for contacting {name}. Goodbye."
    if kind == "greeting":
        return f"Hello, this is {name}. I can help with {ctx.get('scope', 'your questions')}."
    return None


def _tool_call_or_question(
    name: str, spec: Mapping[str, Any], texts: Sequence[str], profile: Mapping[str, str]
) -> AIMessage:
    """Call the tool if its required arguments are known; otherwise ask for them."""
    args, missing = fill_arguments(spec.get("parameters", {}), texts, profile)
    if not missing:
        return _call(name, args)
    props = spec.get("parameters", {}).get("properties", {})
    wanted = " and ".join(_describe(field, props.get(field, {})) for field in missing)
    return AIMessage(content=f"I can help with that. Please tell me {wanted}.")


def _describe(field: str, prop: Mapping[str, Any]) -> str:
    """How to ask the caller for one argument."""
    description = str(prop.get("description", "")).rstrip(".")
    return f"{description[0].lower()}{description[1:]}" if description else field.replace("_", " ")


def _fallback(
    messages: Sequence[BaseMessage], ctx: TurnContext, tools: Mapping[str, Any]
) -> AIMessage:
    """Say what the agent can do; on a second miss in a row, hand off if that tool is bound."""
    previous = next((m for m in reversed(messages[:-1]) if isinstance(m, AIMessage)), None)
    missed_before = previous is not None and previous.additional_kwargs.get(_MISSED)
    if missed_before and "hand_off" in tools:
        return _call("hand_off", {"reason": "no_progress"})
    scope = ctx.get("scope", "questions about our programs")
    return AIMessage(
        content=(
            f"I'm sorry, I'm not able to help with that. I can help with {scope}. "
            "You can also ask to speak with a person."
        ),
        additional_kwargs={_MISSED: True},
    )


def _call(name: str, args: dict[str, Any]) -> AIMessage:
    """An AI message carrying one tool call."""
    seed = json.dumps([name, args], sort_keys=True, default=str)
    call_id = f"call_{hashlib.sha1(seed.encode()).hexdigest()[:12]}"
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])
