"""Readable errors for eval files that do not match their format: the file, the case id, the
field, and the value found.

Where a field accepts several shapes (a model step is text, a tool call or several calls),
pydantic reports a failure for every shape; only the shape that came closest is reported.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from vagent.errors import VagentError

SHOWN = 5
"""Problems quoted in one error."""
_BUILTIN_TAGS = frozenset({"str", "int", "float", "bool", "none"})


class EvalSuiteError(VagentError):
    """An eval suite file is missing, unreadable or does not match the format."""


def validation_problem(path: Any, exc: ValidationError, data: Any) -> EvalSuiteError:
    """One error naming the file and each problem's place, for ``exc`` raised on ``data``."""
    located = _closest(exc.errors(), data)
    problems = "; ".join(
        f"{where}: {err['msg']} (got {_short(err.get('input'))})" for where, err in located[:SHOWN]
    )
    more = f" (and {len(located) - SHOWN} more)" if len(located) > SHOWN else ""
    return EvalSuiteError(
        f"eval suite {str(path)!r} is invalid: {problems}{more}; "
        "see evals/README.md or `vagent eval --schema` for the format"
    )


def _closest(errors: list[ErrorDetails], data: Any) -> list[tuple[str, ErrorDetails]]:
    """Each error with its place, keeping at each union only the closest shape's errors."""
    walked = [(_walk(err["loc"], data), err) for err in errors]
    scores: dict[tuple[str, str], int] = {}
    for (_, union, shape), err in walked:
        if union is not None and shape is not None:
            # A wrong type says least about what was meant; other errors are nearer misses.
            weight = 5 if err["type"].endswith("_type") else 1
            scores[union, shape] = scores.get((union, shape), 0) + weight
    best: dict[str, str] = {}
    for (union, shape), score in scores.items():
        if union not in best or score < scores[union, best[union]]:
            best[union] = shape
    return [
        (where, err)
        for (where, union, shape), err in walked
        if union is None or best.get(union) == shape
    ]


def _walk(loc: tuple[int | str, ...], data: Any) -> tuple[str, str | None, str | None]:
    """The readable place (``cases[3] (id 'foo').turns[0]``), and the first union passed
    through with the shape tried there."""
    parts: list[str] = []
    node = data
    union: str | None = None
    shape: str | None = None
    for part in loc:
        if isinstance(part, str) and _is_shape(part):
            if union is None:
                union, shape = "".join(parts), part
            continue
        node = node[part] if _indexable(node, part) else None
        parts.append(_label(part, node, first=not parts))
    return "".join(parts) or "the file", union, shape


def _label(part: int | str, node: Any, *, first: bool) -> str:
    if isinstance(part, str):
        return part if first else f".{part}"
    label = f"[{part}]"
    if isinstance(node, dict) and "id" in node:
        label += f" (id {node['id']!r})"
    return label


def _is_shape(part: str) -> bool:
    """Whether a location part names a shape pydantic tried (a class, a type), not a field."""
    return part[:1].isupper() or not part.isidentifier() or part in _BUILTIN_TAGS


def _indexable(node: Any, part: int | str) -> bool:
    if isinstance(node, list) and isinstance(part, int):
        return 0 <= part < len(node)
    return isinstance(node, dict) and part in node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
