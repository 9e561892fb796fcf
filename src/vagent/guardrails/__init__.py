"""Guardrails: screening what the caller says and checking what the agent replies."""

from vagent.guardrails.screen import Screening, classify_confirmation, screen_text

__all__ = ["Screening", "classify_confirmation", "screen_text"]
