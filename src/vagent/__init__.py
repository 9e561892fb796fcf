"""vagent: virtual agents, live-agent assist and transcript evals for government contact centers.

Build an agent from a deployment's config and take caller turns::

    from vagent import Agent, Caller

    agent = Agent.from_config("examples/fha_resource_center/agent.toml")
    reply = agent.run_sync("call-1", "Which FHA loan fits me?", caller=Caller(channel="chat"))
"""

from vagent.agent import Agent
from vagent.config import AgentConfig, load_config
from vagent.errors import (
    BackendError,
    ConfigError,
    ConversationError,
    KnowledgeError,
    ModelError,
    TurnArgumentError,
    VagentError,
)
from vagent.state import (
    ActionRecord,
    Caller,
    Citation,
    ConversationRecord,
    HandoffPacket,
    PendingAction,
    Reply,
)

__all__ = [
    "ActionRecord",
    "Agent",
    "AgentConfig",
    "BackendError",
    "Caller",
    "Citation",
    "ConfigError",
    "ConversationError",
    "ConversationRecord",
    "HandoffPacket",
    "KnowledgeError",
    "ModelError",
    "PendingAction",
    "Reply",
    "TurnArgumentError",
    "VagentError",
    "load_config",
]

__version__ = "0.1.0"
