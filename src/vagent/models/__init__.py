"""Chat models: an OpenAI-compatible client, the offline engine, and adapters."""

from __future__ import annotations

import os
from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from vagent.config import AgentConfig
from vagent.errors import ConfigError
from vagent.models.offline import OfflineEngine
from vagent.models.openai import OpenAIChatModel
from vagent.tools.base import Tool

__all__ = ["OfflineEngine", "OpenAIChatModel", "resolve_model"]


def resolve_model(
    config: AgentConfig, model: BaseChatModel | None, tools: Mapping[str, Tool]
) -> BaseChatModel:
    """The chat model an agent uses.

    A model passed in wins; it must support ``bind_tools``. Otherwise the configured
    OpenAI-compatible endpoint, or, with none configured, the offline engine.

    Raises:
        ConfigError: the model passed in cannot call tools.
    """
    if model is not None:
        return _adapt(model)
    if config.model is not None:
        key = os.environ.get(config.model.api_key_env)
        return OpenAIChatModel(
            model=config.model.model,
            base_url=config.model.base_url,
            api_key=SecretStr(key) if key else None,
            timeout=config.model.timeout_s,
            max_attempts=config.model.max_attempts,
        )
    return offline_engine(config, tools)


def offline_engine(config: AgentConfig, tools: Mapping[str, Tool]) -> OfflineEngine:
    """The offline engine, given each tool's example phrases plus the config's extras."""
    examples = {
        name: [*tool.examples, *config.tools.examples.get(name, [])] for name, tool in tools.items()
    }
    return OfflineEngine(examples=examples)


def _adapt(model: BaseChatModel) -> BaseChatModel:
    """Accept any langchain-core chat model that implements ``bind_tools``."""
    if not isinstance(model, BaseChatModel):
        raise ConfigError(
            f"model must be a langchain-core chat model, got {type(model).__name__!r}"
        )
    if type(model).bind_tools is BaseChatModel.bind_tools:
        raise ConfigError(
            f"model {type(model).__name__!r} does not support bind_tools; vagent needs tool calls"
        )
    return model
