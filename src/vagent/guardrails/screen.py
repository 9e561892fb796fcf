"""Screening of caller input: requests for a person, confirmations, and small talk.

These are deterministic, language-level rules that hold for any deployment; they run before the
model sees the turn, so a request for a person is honoured in the same turn whatever the model
would have said, and a confirmation is the caller's own word, never the model's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from vagent.state import Confirmation

SmallTalk = Literal["greeting", "thanks", "goodbye"]

MAX_TURN_CHARS = 4000
"""Longest caller turn kept, in characters after cleaning; the rest is cut off. A minute of
speech is about 1000 characters, and a longer chat message is rarely one question."""

_PERSON = re.compile(
    r"\b(?:(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|the|some|your)?\s*"
    r"(?:real\s+|live\s+|actual\s+)?(?:person|human|agent|representative|rep|someone|somebody|"
    r"operator|supervisor|manager)"
    r"|(?:real|live|actual)\s+(?:person|human|agent)"
    r"|representative|operator|human\s+being"
    r"|(?:get|give|put)\s+me\s+(?:through\s+to\s+)?(?:a|an|the|some)?\s*(?:real\s+|live\s+)?"
    r"(?:person|human|agent|representative|rep|someone|somebody|operator|supervisor)"
    r"|transfer\s+me|connect\s+me\s+(?:to|with)\s+(?:a|an|the|some)?\s*"
    r"(?:person|human|agent|representative|someone))\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    # \u2019 is the typographic apostrophe phones and chat apps put in "don't".
    r"\b(?:don[\u2019']?t|do\s+not|does\s+not|doesn[\u2019']?t|did\s+not|didn[\u2019']?t|"
    r"no\s+need|never|without|rather\s+not|not\s+(?:need|want|wanting|looking))\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[.,;:!?]|\bbut\b", re.IGNORECASE)
_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|correct|right|that's right|that is right|confirm|confirmed|"
    r"please do|go ahead|do it|ok|okay|affirmative|absolutely|definitely|that's correct|"
    r"that is correct|sí|si)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^(?:no|nope|nah|don't|do not|stop|cancel that|never mind|nevermind|wait|hold on|"
    r"not now|wrong|that's wrong|that is wrong|that's not right)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\?|\b(?:no|not|don't|do not|dont|wait|hold on|stop|never ?mind|but|maybe|unless|"
    r"actually|instead|what|why|how)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"\b(?:thanks|thank you|thx|appreciate it|got it|that's all|that is all)\b", re.IGNORECASE
)
_GOODBYE = re.compile(
    r"\b(?:bye|goodbye|good bye|have a (?:good|nice) (?:day|one))\b", re.IGNORECASE
)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b[\s,.!]*$", re.IGNORECASE
)


@dataclass(frozen=True)
class Screening:
    """What screening found in one caller turn."""

    text: str
    """The cleaned text."""
    wants_person: bool = False
    """The caller asked for a person."""
    small_talk: SmallTalk | None = None
    """The turn is only a greeting, thanks or goodbye."""


def clean(text: str, *, limit: int = MAX_TURN_CHARS) -> str:
    """Normalise caller text: NFC, no control characters, single spaces, bounded length.

    Control characters, lone surrogates (what undecodable bytes become) and unassigned code
    points become spaces; invisible format characters (zero-width spaces and joiners, direction
    marks) are dropped, so a word split by one still reads as the word. Text longer than
    ``limit`` is cut at the last space before it, or at ``limit`` if there is none. Cleaning
    cleaned text changes nothing.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(_visible(ch) for ch in text)
    return _cut(" ".join(text.split()), limit)


def asks_for_person(text: str) -> bool:
    """Whether the caller asks for a person: "I'd like to talk to a person", not "I don't need
    to talk to a person".

    A request counts unless a negation comes before it in the same clause; "No, I want a
    person" and "Why can't I talk to a person?" still count.
    """
    for match in _PERSON.finditer(text):
        clause = _CLAUSE_BREAK.split(text[: match.start()])[-1]
        if not _NEGATION.search(clause):
            return True
    return False


def screen_text(text: str) -> Screening:
    """Screen one caller turn."""
    cleaned = clean(text)
    return Screening(
        text=cleaned,
        wants_person=asks_for_person(cleaned),
        small_talk=small_talk(cleaned),
    )


def small_talk(text: str) -> SmallTalk | None:
    """Whether the turn is only a greeting, thanks or goodbye (short turns only)."""
    if len(text.split()) > 8:
        return None
    if _GOODBYE.search(text):
        return "goodbye"
    if _THANKS.search(text) and not _asks_more(text):
        return "thanks"
    if _GREETING.match(text):
        return "greeting"
    return None


def classify_confirmation(text: str) -> Confirmation:
    """The caller's answer to a confirmation question: yes, no, or neither.

    Only an explicit answer counts; anything mixed or unclear is "none", which cancels the
    pending action rather than guessing.
    """
    words = clean(text).lower().strip(" .!,")
    # A yes taken back or hedged in the same breath ("yes... no, wait") is not a yes.
    yes = bool(_YES.match(words)) and not _HEDGE.search(words)
    no = bool(_NO.match(words))
    if yes == no:
        return "none"
    return "yes" if yes else "no"


def _visible(ch: str) -> str:
    """The character, a space for a control character, nothing for an invisible one."""
    category = unicodedata.category(ch)
    if category[0] != "C":
        return ch
    return "" if category == "Cf" else " "


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a space where there is one, so no word is split.

    Half a number could slip past PII masking, whose patterns match whole numbers.
    """
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    if " " not in head:
        return text[:limit]
    return head.rsplit(" ", 1)[0]


def _asks_more(text: str) -> bool:
    """Whether a turn that thanks the agent also asks for something."""
    return "?" in text or bool(re.search(r"\b(?:can|could|how|what|when|why|where)\b", text, re.I))
