"""Follow-up questions: "what are the requirements for that loan?" made searchable.

A follow-up names its subject only by pointing back at it ("that loan", "this program", "it",
"ese préstamo"). Searched alone, such words find nothing in particular. :func:`contextual_query`
adds the title of the article the conversation was about, so the search sees the subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vagent.knowledge.lexical import fold

# A demonstrative that points back ("that loan", "those", "ese programa", "lo mismo"), but not
# "that is" or "that's", which usually close a turn ("that's all"). "it" and "them" point back
# only as the object of a request ("apply for it", "what does it cost").
_REFERS_BACK = re.compile(
    r"\b(?:that|this|those|these|the same|ese|esa|esos|esas|eso|este|esta|estos|estas|esto"
    r"|lo mismo|la misma|el mismo)\b(?!\s*(?:is|was|'s|\u2019s)\b)"
    r"|\b(?:for|about|on|of|with|to|get|need|qualify|apply|use|cost|does)"
    r"\s+(?:it|them)\b",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def refers_back(text: str) -> bool:
    """Whether the text points back at something said before ("that loan", "apply for it").

    Args:
        text: what the caller said.

    Returns:
        True if the text holds a demonstrative or an object pronoun that needs context.
    """
    return _REFERS_BACK.search(text) is not None


def contextual_query(
    text: str,
    *,
    previous_reply: str = "",
    cited_titles: Sequence[str] = (),
    titles: Sequence[str] = (),
) -> str:
    """The search query for a caller's turn, with the subject of a follow-up spelled out.

    When the text points back ("that loan") and names no article itself, the title of the
    article that the previous reply named is added (the longest, if it named several, as the
    most specific); failing that, the title of the last article cited. Matching ignores case,
    accents and spacing.

    Args:
        text: what the caller said this turn.
        previous_reply: the agent's last reply, if any.
        cited_titles: titles of the articles cited so far in the conversation, oldest first.
        titles: the titles of every article in the knowledge base.

    Returns:
        ``text``, or ``text`` followed by the title it refers to.
    """
    if not refers_back(text) or _named(text, titles):
        return text
    topic = _named(previous_reply, titles) or (cited_titles[-1] if cited_titles else "")
    return f"{text} {topic}" if topic else text


def _named(text: str, titles: Sequence[str]) -> str:
    """The longest title that appears in the text, or ''."""
    haystack = _normal(text)
    named = [title for title in titles if title.strip() and _normal(title) in haystack]
    return max(named, key=len, default="")


def _normal(text: str) -> str:
    """Text as matched: folded and with single spaces."""
    return _SPACE.sub(" ", fold(text)).strip()
