"""Typed tools and the policy gate that decides whether they run."""

from vagent.tools.base import Tool, ToolArgs, ToolContext, ToolResult
from vagent.tools.builtin import BUILTIN_TOOLS
from vagent.tools.policy import Decision, PolicyGate

__all__ = [
    "BUILTIN_TOOLS",
    "Decision",
    "PolicyGate",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolResult",
]
