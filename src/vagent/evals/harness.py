"""A fresh deployment for every eval trial: its own state folder, backend, model and meter.

Each trial copies a knowledge store built once per deployment in the run, so cases never share
a case system, an outbox, an audit log or a conversation, and nothing is embedded twice.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import yaml  # type: ignore[import-untyped]
from langchain_core.language_models import BaseChatModel

from vagent.agent import Agent
from vagent.backends.base import CallerProfile, Case
from vagent.backends.sqlite import SQLiteBackend
from vagent.config import AgentConfig, ModelConfig, PolicyConfig, load_config
from vagent.evals.meter import Meter
from vagent.evals.schema import EvalCase, ModelStep, ScriptedCall, Tamper
from vagent.knowledge.articles import load_articles
from vagent.knowledge.store import KnowledgeBase
from vagent.models import resolve_model
from vagent.testing import ScriptedModel
from vagent.tools.builtin import BUILTIN_TOOLS

ModelSpec = str | Callable[[], BaseChatModel]
"""``offline``, ``deployment`` (the config's endpoint), a model name served at ``base_url``, or
a function returning a fresh chat model for each conversation."""


@dataclass(frozen=True)
class EngineOptions:
    """Which chat model the agent runs on in cases on the default engine."""

    model: ModelSpec = "offline"
    """See :data:`ModelSpec`."""
    base_url: str | None = None
    """The OpenAI-compatible endpoint serving ``model`` (None: api.openai.com)."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the endpoint's key."""

    @property
    def label(self) -> str:
        """The model's name for reports."""
        return self.model if isinstance(self.model, str) else "custom"


class RunCache:
    """What trials of one run share: knowledge stores, copied into each trial's state folder,
    and offline engines, copied for each trial with their example embeddings computed once."""

    def __init__(self, root: Path) -> None:
        """Build stores under ``root``."""
        self._root = root
        self._built: dict[tuple[str, str], Path] = {}
        self._engines: dict[str, BaseChatModel] = {}
        self._titles: dict[Path, dict[str, str]] = {}
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )

    async def prepared(self, config: AgentConfig) -> Path:
        """The built store for ``config``'s articles and collection."""
        articles = config.resolve(config.knowledge.articles)
        key = (str(articles), config.knowledge.collection)
        # A cache may outlive one event loop (one per pytest item), a lock may not.
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            if key not in self._built:
                path = self._root / f"store-{len(self._built)}"
                await asyncio.to_thread(
                    KnowledgeBase(path, config.knowledge.collection).ingest, articles
                )
                self._built[key] = path
        return self._built[key]

    def titles(self, config: AgentConfig) -> dict[str, str]:
        """The deployment's article titles by article id."""
        folder = config.resolve(config.knowledge.articles)
        if folder not in self._titles:
            self._titles[folder] = {a.id: a.title for a in load_articles(folder)}
        return self._titles[folder]

    def offline_engine(self, config: AgentConfig) -> BaseChatModel:
        """A fresh copy of the offline engine for ``config``'s tools."""
        key = config.tools.model_dump_json()
        if key not in self._engines:
            tools = {name: BUILTIN_TOOLS[name]() for name in config.tools.enabled}
            self._engines[key] = resolve_model(
                config.model_copy(update={"model": None}), None, tools
            )
        return self._engines[key].model_copy()


@dataclass
class Bench:
    """One trial's agent and everything the checks read afterwards."""

    agent: Agent
    config: AgentConfig
    backend: SQLiteBackend
    meter: Meter
    scripted: ScriptedModel | None
    seed: dict[str, Any]
    titles: dict[str, str]
    own_backend: SQLiteBackend | None = None

    async def close(self) -> None:
        """Close the agent and any backend the bench opened itself."""
        await self.agent.aclose()
        self.agent.close()
        if self.own_backend is not None:
            self.own_backend.close()


async def open_bench(
    case: EvalCase, config_path: Path, workdir: Path, engine: EngineOptions, cache: RunCache
) -> Bench:
    """Build the case's deployment in ``workdir``: copied store, fresh state, its own model."""
    base = load_config(config_path)
    store = await cache.prepared(base)
    config = trial_config(case, base, workdir)
    await asyncio.to_thread(shutil.copytree, store, config.state_path / "chroma")
    meter = Meter()
    model, scripted = agent_model(case, config, engine, cache)
    model.callbacks = [meter]
    seed = _seed(config)
    titles = cache.titles(config)
    if not case.setup.tamper:
        agent = Agent.from_config(config, model=model)
        return Bench(agent, config, agent.backend, meter, scripted, seed, titles)
    own = SQLiteBackend(workdir / "tampered.sqlite", seed=_seed_path(config))
    cases = TamperedCases(own, case.setup.tamper)
    agent = Agent.from_config(config, model=model, cases=cases, messenger=own)
    return Bench(agent, config, own, meter, scripted, seed, titles, own_backend=own)


def trial_config(case: EvalCase, base: AgentConfig, workdir: Path) -> AgentConfig:
    """The deployment's config on ``workdir``, with the case's policy and planted articles."""
    config = base.model_copy(update={"state_dir": workdir / "state"})
    if case.setup.policy:
        merged = {**config.policy.model_dump(), **case.setup.policy}
        config = config.model_copy(update={"policy": PolicyConfig.model_validate(merged)})
    if not case.setup.articles:
        return config
    articles = workdir / "articles"
    shutil.copytree(config.resolve(config.knowledge.articles), articles)
    for planted in case.setup.articles:
        front = yaml.safe_dump({"id": planted.id, "title": planted.title, "source": planted.source})
        (articles / f"{planted.id}.md").write_text(f"---\n{front}---\n{planted.body}\n", "utf-8")
    knowledge = config.knowledge.model_copy(update={"articles": articles})
    return config.model_copy(update={"knowledge": knowledge})


def agent_model(
    case: EvalCase, config: AgentConfig, engine: EngineOptions, cache: RunCache
) -> tuple[BaseChatModel, ScriptedModel | None]:
    """The chat model the case's agent runs on, and the scripted model if it is one."""
    if case.engine == "scripted":
        script = [scripted_step(s) for turn in case.steps() for s in turn]
        scripted = ScriptedModel(script=script)
        return scripted, scripted
    if case.engine == "offline" or engine.model == "offline":
        return cache.offline_engine(config), None
    tools = {name: BUILTIN_TOOLS[name]() for name in config.tools.enabled}
    if callable(engine.model):
        return engine.model(), None
    # An eval scores the endpoint: a failed call hands off (and fails the case) rather than
    # being answered quietly by the offline engine.
    if engine.model == "deployment":
        endpoint = config.model
    else:
        endpoint = ModelConfig(
            model=engine.model, base_url=engine.base_url, api_key_env=engine.api_key_env
        )
    if endpoint is not None:
        endpoint = endpoint.model_copy(update={"on_failure": "hand_off"})
    return resolve_model(config.model_copy(update={"model": endpoint}), None, tools), None


def scripted_step(step: ModelStep) -> Any:
    """A case's model step in the form :class:`ScriptedModel` plays."""
    if isinstance(step, str):
        return step
    if isinstance(step, ScriptedCall):
        return {"tool": step.tool, "args": dict(step.args)}
    calls = [{"tool": c.tool, "args": dict(c.args)} for c in step.calls]
    return {"calls": calls, "content": step.content}


class TamperedCases:
    """The demo case system, with some cases' kind rewritten: planted text in tool results."""

    def __init__(self, inner: SQLiteBackend, tamper: list[Tamper]) -> None:
        """Wrap ``inner``; ``tamper`` says which kinds to rewrite."""
        self.inner = inner
        self.kinds = {t.case_id: t.kind for t in tamper}

    async def find_caller(self, phone: str) -> CallerProfile | None:
        """As the inner case system."""
        return await self.inner.find_caller(phone)

    async def verify(self, case_id: str, facts: dict[str, str]) -> CallerProfile | None:
        """As the inner case system."""
        return await self.inner.verify(case_id, facts)

    async def get_case(self, case_id: str) -> Case | None:
        """The case, with its kind rewritten if tampered."""
        return self._rewrite(await self.inner.get_case(case_id))

    async def cases_of(self, caller_id: str) -> list[Case]:
        """The caller's cases, rewritten."""
        return [c for c in map(self._rewrite, await self.inner.cases_of(caller_id)) if c]

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        """Cancel through the inner case system."""
        return await self.inner.cancel_case(case_id, idempotency_key=idempotency_key)

    def _rewrite(self, case: Case | None) -> Case | None:
        if case is None or case.case_id not in self.kinds:
            return case
        return case.model_copy(update={"kind": self.kinds[case.case_id]})


def _seed_path(config: AgentConfig) -> Path | None:
    return config.resolve(config.backend.seed) if config.backend.seed else None


def _seed(config: AgentConfig) -> dict[str, Any]:
    """The demo backend's seed data (callers and cases), or nothing."""
    path = _seed_path(config)
    if path is None:
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
