"""Shared fixtures: the FHA example deployment on a fresh state directory per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from vagent import Agent, AgentConfig, load_config
from vagent.testing import ScriptedModel

ROOT = Path(__file__).resolve().parents[1]
FHA = ROOT / "examples" / "fha_resource_center" / "agent.toml"


@pytest.fixture
def fha_config(tmp_path: Path) -> AgentConfig:
    """The FHA Resource Center config with its state in the test's own folder."""
    return load_config(FHA).model_copy(update={"state_dir": tmp_path / "state"})


@pytest.fixture
async def agent(fha_config: AgentConfig) -> AsyncIterator[Agent]:
    """The FHA agent on the offline engine."""
    built = Agent.from_config(fha_config)
    yield built
    await built.aclose()
    built.close()


ScriptedAgent = Callable[..., tuple[Agent, ScriptedModel]]


@pytest.fixture
async def scripted_agent(fha_config: AgentConfig) -> AsyncIterator[ScriptedAgent]:
    """A factory of FHA agents whose model plays the given steps; closed after the test."""
    built: list[Agent] = []

    def make(*steps: object, config: AgentConfig | None = None) -> tuple[Agent, ScriptedModel]:
        model = ScriptedModel(script=list(steps))
        built.append(Agent.from_config(config or fha_config, model=model))
        return built[-1], model

    yield make
    for agent in built:
        await agent.aclose()
        agent.close()
