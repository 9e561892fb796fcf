"""Checks on a reply before it is said: no one else's data, grounded numbers, a voice length.

Claims of actions that did not run are checked in the graph's ``check`` node against the tools'
declared claim patterns; these are the text-level checks it also applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vagent.guardrails.vault import Detector

_NUMBER = re.compile(r"(?<![\w<])\d+(?:[.,]\d+)*(?![\w>])")
_ALWAYS_WITHHELD = {"SSN", "ITIN", "CARD", "BANK_ACCOUNT", "ROUTING", "DATE_OF_BIRTH", "ADDRESS"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")

UNGROUNDED_REPLY = (
    "I'm not certain about that, so I won't guess. I can connect you with a person who can help."
)


def withhold_pii(text: str, detector: Detector, allowed: Iterable[str]) -> str:
    """``text`` with PII the caller should not hear replaced by "[withheld]".

    Identity numbers (SSN, card, bank) are never said in full. Phone numbers, e-mail addresses
    and case numbers are said only when ``allowed`` holds them: the caller's own, or the agency's
    contact details from the passages.
    """
    allow = {_plain(a) for a in allowed}
    out, last = [], 0
    for span in sorted(detector.find(text), key=lambda s: s.start):
        if span.kind not in _ALWAYS_WITHHELD and _plain(span.text) in allow:
            continue
        out += [text[last : span.start], "[withheld]"]
        last = span.end
    return "".join([*out, text[last:]])


def ungrounded_numbers(text: str, sources: Iterable[str]) -> list[str]:
    """Numbers in ``text`` found in none of ``sources`` (single digits pass: "one moment")."""
    known = {n for source in sources for n in _NUMBER.findall(source)}
    return [n for n in _NUMBER.findall(text) if len(n) > 1 and n not in known]


def trim(text: str, limit: int) -> str:
    """``text`` cut at the last sentence end within ``limit`` characters (voice replies)."""
    if len(text) <= limit:
        return text
    cut = [m.start() for m in _SENTENCE_END.finditer(text) if m.start() <= limit]
    return text[: cut[-1]] if cut else text[:limit].rsplit(" ", 1)[0] + "..."


def _plain(value: str) -> str:
    """A value without punctuation or case, for comparing renderings."""
    return "".join(ch for ch in value if ch.isalnum()).lower()
