"""Checks of each reply against its turn's expectations, and the helpers all checks share.

Every check returns :class:`~vagent.evals.results.Mismatch` objects that say which expectation
failed, what it expected and what happened, quoting the reply or the actions involved.
"""

from __future__ import annotations

from collections.abc import Sequence

from vagent.evals.matching import compare, describe_call
from vagent.evals.results import Mismatch
from vagent.evals.schema import HandoffExpect, HandoffField, Mention, ToolCalls, TurnExpect
from vagent.state import HandoffPacket, Reply

QUOTE_CHARS = 160
"""Characters of a reply quoted in a mismatch."""


def check_turn(turn: int, expect: TurnExpect, reply: Reply) -> list[Mismatch]:
    """Mismatches of one reply against its turn's expectations."""
    found = [
        *mentions(turn, expect.must_mention, [reply.text]),
        *not_mentions(turn, expect.must_not_mention, [reply.text]),
        *_citations(turn, expect, reply),
        *_tool_calls(turn, expect, reply),
        *_handoff(turn, expect.handoff, reply),
        *_pending(turn, expect.pending, reply),
        *_similarity(turn, expect, reply),
    ]
    if not reply.text.strip() and reply.handoff is None:
        found.append(Mismatch(check="reply", turn=turn, expected="a reply", actual="nothing"))
    return found


def quote(text: str) -> str:
    """A reply, shortened for a mismatch."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 3] + "...")


def mentions(turn: int | None, wanted: Sequence[Mention], texts: Sequence[str]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for item in wanted:
        if any(mentioned(item, t) for t in texts):
            continue
        words = " or ".join(repr(o) for o in ([item] if isinstance(item, str) else item))
        found.append(
            Mismatch(
                check="must_mention",
                turn=turn,
                expected=f"the reply to mention {words}",
                actual=_said(turn, texts),
            )
        )
    return found


def not_mentions(turn: int | None, banned: Sequence[str], texts: Sequence[str]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for words in banned:
        hits = [t for t in texts if words.lower() in t.lower()]
        if hits:
            found.append(
                Mismatch(
                    check="must_not_mention",
                    turn=turn,
                    expected=f"no mention of {words!r}",
                    actual=f"the agent said {quote(hits[0])}",
                )
            )
    return found


def _said(turn: int | None, texts: Sequence[str]) -> str:
    if turn is not None:
        return f"the reply was {quote(texts[0])}"
    return f"none of the {len(texts)} replies did"


def _citations(turn: int, expect: TurnExpect, reply: Reply) -> list[Mismatch]:
    cited = [c.article_id for c in reply.citations]
    found: list[Mismatch] = []
    missing = [a for a in expect.citations if not _cited(a, cited)]
    if missing:
        found.append(
            Mismatch(
                check="citations",
                turn=turn,
                expected=f"citations of {missing!r}",
                actual=f"the reply cited {cited!r}: {quote(reply.text)}",
            )
        )
    if expect.grounded is not None and bool(cited) != expect.grounded:
        wanted = "a cited passage" if expect.grounded else "no citation"
        found.append(
            Mismatch(
                check="grounded",
                turn=turn,
                expected=wanted,
                actual=f"the reply cited {cited!r}: {quote(reply.text)}",
            )
        )
    return found


def _cited(wanted: Mention, cited: list[str]) -> bool:
    return any(a in cited for a in ([wanted] if isinstance(wanted, str) else wanted))


def _tool_calls(turn: int, expect: TurnExpect, reply: Reply) -> list[Mismatch]:
    found: list[Mismatch] = []
    for check in expect.tool_checks():
        problem = compare(check, reply.actions)
        if problem is not None:
            found.append(
                Mismatch(check="tool_calls", turn=turn, expected=describe(check), actual=problem)
            )
    return found


def describe(check: ToolCalls) -> str:
    """A tool-call check in words."""
    calls = ", ".join(describe_call(c) for c in check.expected())
    scope = []
    if check.statuses:
        scope.append(f"statuses {check.statuses}")
    if check.reasons:
        scope.append(f"reasons {check.reasons}")
    among = f" among actions with {' and '.join(scope)}" if scope else ""
    return f"[{calls}] ({check.mode}, arguments {check.args}){among}"


def handoff_problem(expected: HandoffField, packet: HandoffPacket | None) -> str | None:
    """Why the actual handoff (its packet, or None) is not the expected one."""
    if expected is None:
        return None
    if expected is False:
        return None if packet is None else f"a handoff ({packet.reason})"
    if packet is None:
        return "no handoff"
    if isinstance(expected, str) and expected != packet.reason:
        return f"a handoff for {packet.reason!r}"
    if isinstance(expected, HandoffExpect):
        return _packet_problem(expected, packet)
    return None


def _packet_problem(expected: HandoffExpect, packet: HandoffPacket) -> str | None:
    """What in the handoff packet is not as expected."""
    problems: list[str] = []
    if expected.reason is not None and expected.reason != packet.reason:
        problems.append(f"reason {packet.reason!r}")
    if expected.identity_status is not None and expected.identity_status != packet.identity_status:
        problems.append(f"identity {packet.identity_status!r}")
    if any(i not in packet.intents for i in expected.intents):
        problems.append(f"intents {packet.intents!r}")
    if not all(mentioned(m, packet.summary) for m in expected.summary_mentions):
        problems.append(f"summary {quote(packet.summary)}")
    return f"a handoff with {', '.join(problems)}" if problems else None


def handoff_wanted(expected: HandoffField) -> str:
    """The handoff expectation in words."""
    if expected is False or expected is None:
        return "no handoff"
    if expected is True:
        return "a handoff"
    if isinstance(expected, str):
        return f"a handoff for {expected!r}"
    parts = ["a handoff"]
    if expected.reason:
        parts.append(f"for {expected.reason!r}")
    if expected.identity_status:
        parts.append(f"with identity {expected.identity_status!r}")
    if expected.intents:
        parts.append(f"listing intents {expected.intents!r}")
    if expected.summary_mentions:
        parts.append(f"whose summary mentions {expected.summary_mentions!r}")
    return " ".join(parts)


def mentioned(item: Mention, text: str) -> bool:
    """Whether ``text`` contains the words (or one of the alternatives), ignoring case."""
    options = [item] if isinstance(item, str) else item
    return any(o.lower() in text.lower() for o in options)


def _handoff(turn: int, expected: HandoffField, reply: Reply) -> list[Mismatch]:
    problem = handoff_problem(expected, reply.handoff)
    if problem is None:
        return []
    actual = f"{problem}; the reply was {quote(reply.text)}"
    return [Mismatch(check="handoff", turn=turn, expected=handoff_wanted(expected), actual=actual)]


def _pending(turn: int, expected: bool | str | None, reply: Reply) -> list[Mismatch]:
    if expected is None:
        return []
    pending = reply.pending.tool if reply.pending else None
    if expected is True:
        ok, wanted = pending is not None, "an action awaiting the caller's yes"
    elif expected is False:
        ok, wanted = pending is None, "nothing awaiting the caller's yes"
    else:
        ok, wanted = pending == expected, f"{expected} awaiting the caller's yes"
    if ok:
        return []
    got = f"{pending} awaiting the caller's yes" if pending else "nothing awaiting"
    return [Mismatch(check="pending", turn=turn, expected=wanted, actual=got)]


def _similarity(turn: int, expect: TurnExpect, reply: Reply) -> list[Mismatch]:
    if expect.similar_to is None:
        return []
    score = similarity(expect.similar_to, reply.text)
    if score >= expect.min_similarity:
        return []
    return [
        Mismatch(
            check="similar_to",
            turn=turn,
            expected=f"similarity >= {expect.min_similarity:.2f} to {quote(expect.similar_to)}",
            actual=f"{score:.2f}: {quote(reply.text)}",
        )
    ]


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings (all-MiniLM-L6-v2, offline)."""
    from vagent.knowledge.embed import get_embedder

    if not a.strip() or not b.strip():
        return 1.0 if a.strip() == b.strip() else 0.0
    vectors = get_embedder().embed([a, b])
    return float(vectors[0] @ vectors[1])
