"""What the graph's nodes work with, and the conversation id they read from the run config."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from vagent.backends.base import CaseSystem, Messenger
from vagent.config import AgentConfig
from vagent.guardrails.vault import Vault
from vagent.knowledge.store import KnowledgeBase
from vagent.records import RecordStore
from vagent.tools.base import Tool
from vagent.tools.policy import PolicyGate


@dataclass
class Deps:
    """What the nodes work with; built once per agent."""

    config: AgentConfig
    model: BaseChatModel
    knowledge: KnowledgeBase
    tools: dict[str, Tool]
    gate: PolicyGate
    cases: CaseSystem
    messenger: Messenger
    store: RecordStore
    vault: Vault


def thread_id(config: RunnableConfig) -> str:
    """The conversation id, which is the graph's thread id."""
    return str(config["configurable"]["thread_id"])
