"""Filling tool arguments from what the caller said, for the offline engine."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_WINDOW = 32
"""Characters before a value searched for the words that name it ("my ZIP is ...")."""


def fill_arguments(
    schema: Mapping[str, Any], texts: Sequence[str], profile: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Fill a tool's arguments from caller texts (newest first) and the caller's profile.

    Args:
        schema: the tool's JSON schema for its parameters.
        texts: what the caller said, newest first.
        profile: facts on file for the verified caller, by argument name or ``x-profile`` key.

    Returns:
        The arguments found, and the names of required arguments still missing.
    """
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    cues = {name: [c.lower() for c in prop.get("x-cues", [])] for name, prop in props.items()}
    args: dict[str, Any] = {}
    for name, prop in props.items():
        value = _from_texts(name, prop, texts, cues)
        if value is None and name in required:
            value = profile.get(prop.get("x-profile", name))
        if value is not None:
            args[name] = value
    return args, [n for n in props if n in required and n not in args]


def _from_texts(
    name: str, prop: Mapping[str, Any], texts: Sequence[str], cues: Mapping[str, list[str]]
) -> Any:
    """The first value for one argument found in the texts, newest text first."""
    options = _enum(prop)
    for text in texts:
        if options:
            found = next((o for o in options if o.replace("_", " ") in text.lower()), None)
        else:
            found = _pattern_value(name, prop, text, cues)
        if found is not None:
            return found
    return None


def _enum(prop: Mapping[str, Any]) -> list[str]:
    """The allowed values of an enum argument (pydantic puts Literal choices in ``enum``)."""
    return [str(v) for v in _first(prop, "enum") or []]


def _first(prop: Mapping[str, Any], key: str) -> Any:
    """``prop[key]``, or the first one inside ``anyOf`` (how optional fields are written)."""
    if key in prop:
        return prop[key]
    return next((p[key] for p in prop.get("anyOf", []) if key in p), None)


def _pattern_value(
    name: str, prop: Mapping[str, Any], text: str, cues: Mapping[str, list[str]]
) -> str | None:
    """A value matching the argument's pattern, preferring one introduced by its own cue words."""
    pattern = _bare(_first(prop, "pattern"))
    if pattern is None and "x-entity" not in prop:
        return None
    # The vault shows the model placeholders for caller data, and they fill arguments as they
    # are: the gate checks the real value behind one against the pattern after unmasking.
    kind = prop.get("x-entity", "[A-Z][A-Z_]*?")
    pattern = rf"<{kind}_\d+>" + (f"|{pattern}" if pattern else "")
    own = cues.get(name, [])
    others = [c for n, words in cues.items() if n != name for c in words if c not in own]
    unclaimed: str | None = None
    for match in re.finditer(rf"(?<![\w-])(?:{pattern})(?![\w-])", text, re.IGNORECASE):
        before = text[max(0, match.start() - _WINDOW) : match.start()].lower()
        if any(c in before for c in own):
            return match.group(0)
        if unclaimed is None and not any(c in before for c in others):
            unclaimed = match.group(0)
    return unclaimed


def _bare(pattern: object) -> str | None:
    """A JSON-schema pattern without its anchors, for searching inside text."""
    if not isinstance(pattern, str):
        return None
    return pattern.removeprefix("^").removesuffix("$")
