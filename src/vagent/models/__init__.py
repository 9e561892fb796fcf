"""Chat models: an OpenAI-compatible client, the offline engine, the breaker and fallback
around an endpoint, and adapters."""

from __future__ import annotations

import os
from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from vagent.config import AgentConfig
from vagent.errors import ConfigError
from vagent.models.breaker import CircuitBreaker, shared_breaker
from vagent.models.fallback import FallbackChatModel
from vagent.models.offline import OfflineEngine
from vagent.models.openai import OpenAIChatModel
from vagent.tools.base import Tool

__all__ = [
    "CircuitBreaker",
    "FallbackChatModel",
    "OfflineEngine",
    "OpenAIChatModel",
    "endpoint_model",
    "resolve_model",
]


def resolve_model(
    config: AgentConfig, model: BaseChatModel | None, tools: Mapping[str, Tool]
) -> BaseChatModel:
    """The chat model an agent uses.

    A model passed in wins, as it is; it must support ``bind_tools``. Otherwise the configured
    OpenAI-compatible endpoint behind its circuit breaker, with the offline engine to fall back
    on (see :func:`endpoint_model`), or, with no endpoint configured, the offline engine.

    Raises:
        ConfigError: the model passed in cannot call tools.
    """
    if model is not None:
        return _adapt(model)
    if config.model is not None:
        return endpoint_model(config, tools)
    return offline_engine(config, tools)


def endpoint_model(config: AgentConfig, tools: Mapping[str, Tool]) -> FallbackChatModel:
    """The configured endpoint behind the process's breaker for it, with its fallback."""
    settings = config.model
    if settings is None:
        raise ConfigError("endpoint_model needs a [model] section in the config")
    key = os.environ.get(settings.api_key_env)
    primary = OpenAIChatModel(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(key) if key else None,
        timeout=settings.timeout_s,
        max_attempts=settings.max_attempts,
        budget=settings.budget_s,
    )
    breaker = shared_breaker(
        settings.base_url,
        settings.model,
        failures=settings.breaker_failures,
        cooldown_s=settings.breaker_cooldown_s,
    )
    fallback = offline_engine(config, tools) if settings.on_failure == "offline" else None
    return FallbackChatModel(primary=primary, fallback=fallback, breaker=breaker)


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
