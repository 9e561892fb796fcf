"""Guardrails: the PII vault, screening of what the caller says, checks on what is said back."""

from vagent.guardrails.checks import trim, ungrounded_numbers, withhold_pii
from vagent.guardrails.detectors import CRISIS_LINE, detect_crisis, detect_injection
from vagent.guardrails.pii import PiiDetector, PiiSpan
from vagent.guardrails.screen import Screening, classify_confirmation, screen_text
from vagent.guardrails.vault import Vault, display, unmask

__all__ = [
    "CRISIS_LINE",
    "PiiDetector",
    "PiiSpan",
    "Screening",
    "Vault",
    "classify_confirmation",
    "detect_crisis",
    "detect_injection",
    "display",
    "screen_text",
    "trim",
    "ungrounded_numbers",
    "unmask",
    "withhold_pii",
]
