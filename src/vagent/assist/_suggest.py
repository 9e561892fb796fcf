"""How the copilot reads a live call: intents by example phrases, passages, answers, arguments.

It works the way the offline engine does, so it needs no model: the caller's words are matched
to each tool's example phrases by embedding similarity, arguments are filled from what was said
and from the verified caller's profile, and answers are the best sentences of the best passage.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from vagent.assist._session import Session
from vagent.assist.models import Answer, SuggestedPassage
from vagent.config import AgentConfig
from vagent.knowledge.embed import FloatArray, get_embedder
from vagent.knowledge.store import KnowledgeBase, Passage
from vagent.models._extract import fill_arguments
from vagent.state import Citation
from vagent.tools.base import Tool, profile_facts

NOT_SUGGESTED = frozenset({"hand_off"})
"""Tools the copilot never suggests: the caller is already with a person."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")
_QUESTION_START = re.compile(
    r"^(?:what|how|when|where|why|who|which|can|could|does|do|is|are|will|would|should)\b",
    re.IGNORECASE,
)
_ANSWER_SENTENCES = 2
_SENTENCE_MARGIN = 0.12


class Reader:
    """Reads the live call for one deployment's tools and knowledge base."""

    def __init__(
        self,
        config: AgentConfig,
        tools: Mapping[str, Tool],
        knowledge: KnowledgeBase,
        *,
        tool_threshold: float,
        answer_min_score: float,
    ) -> None:
        self._config = config
        self._tools = tools
        self._knowledge = knowledge
        self._tool_threshold = tool_threshold
        self._answer_min_score = answer_min_score
        self._examples = {
            name: [*tool.examples, *config.tools.examples.get(name, [])]
            for name, tool in tools.items()
            if name not in NOT_SUGGESTED
        }
        self._vectors: dict[str, FloatArray] = {}

    async def intent(self, text: str) -> tuple[str | None, float]:
        """The tool the words ask for, if one matches well enough, and how well it matches."""
        return await asyncio.to_thread(self._match, text)

    async def passages(self, session: Session) -> list[SuggestedPassage]:
        """Passages relevant to what the caller said in their last two turns."""
        query = " ".join(session.said("caller")[:2])
        settings = self._config.knowledge
        found = await self._search(query, k=settings.passages, min_score=settings.min_score)
        return [
            SuggestedPassage(citation=_cite(p, session.turn), text=p.text, score=p.score)
            for p in found
        ]

    async def answer(self, text: str, turn: int) -> Answer | None:
        """The best passage answering the question in ``text``, or None if there is none."""
        question = question_in(text)
        if question is None:
            return None
        found = await self._search(question, k=1, min_score=self._answer_min_score)
        if not found:
            return None
        best = found[0]
        quoted = await asyncio.to_thread(_best_sentences, question, best.text)
        return Answer(text=quoted, citation=_cite(best, turn), score=best.score)

    def fill(self, tool: str, session: Session) -> tuple[dict[str, Any], list[str]]:
        """Arguments for ``tool`` from what was said (the caller's words first) and the profile.

        Returns:
            The arguments found, and the required ones still missing.
        """
        schema = self._tools[tool].spec(self._config)["function"]["parameters"]
        texts = [*session.said("caller"), *session.said("live_agent")]
        return fill_arguments(schema, texts, profile_facts(session.identity))

    def describe_missing(self, tool: str, missing: list[str]) -> str:
        """What the live agent should ask the caller for."""
        props = self._tools[tool].spec(self._config)["function"]["parameters"]["properties"]
        wanted = [str(props.get(name, {}).get("description", name)).rstrip(".") for name in missing]
        return "Ask the caller for: " + "; ".join(w[:1].lower() + w[1:] for w in wanted) + "."

    def _match(self, text: str) -> tuple[str | None, float]:
        """The best matching tool above the threshold, and its similarity."""
        if not text.strip() or not self._examples:
            return None, 0.0
        query = get_embedder().embed_one(text)
        scores = {name: float(np.max(self._vectors_of(name) @ query)) for name in self._examples}
        name = max(scores, key=lambda n: scores[n])
        return (name if scores[name] >= self._tool_threshold else None), scores[name]

    def _vectors_of(self, tool: str) -> FloatArray:
        """Embeddings of a tool's example phrases, computed once."""
        if tool not in self._vectors:
            self._vectors[tool] = get_embedder().embed(self._examples[tool])
        return self._vectors[tool]

    async def _search(self, query: str, *, k: int, min_score: float) -> list[Passage]:
        """Search the knowledge base off the event loop."""
        if not query.strip():
            return []
        return await asyncio.to_thread(self._knowledge.search, query, k=k, min_score=min_score)


def question_in(text: str) -> str | None:
    """The last sentence of ``text`` that asks something, or None."""
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]
    asked = [s for s in sentences if s.endswith("?") or _QUESTION_START.match(s)]
    return asked[-1] if asked else None


def _cite(passage: Passage, turn: int) -> Citation:
    """The citation of a passage surfaced in ``turn``."""
    return Citation.from_passage(passage, turn=turn)


def _best_sentences(question: str, text: str) -> str:
    """The passage's sentences nearly as relevant as its best one, in the passage's order."""
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]
    if len(sentences) <= 1:
        return " ".join(sentences)
    embedder = get_embedder()
    scores = embedder.embed(sentences) @ embedder.embed_one(question)
    cut = float(scores.max()) - _SENTENCE_MARGIN
    ranked = [int(i) for i in np.argsort(-scores) if scores[i] >= cut][:_ANSWER_SENTENCES]
    return " ".join(sentences[i] for i in sorted(ranked))
