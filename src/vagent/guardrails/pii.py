"""Detection of personal information in caller text, offline.

Presidio's pattern and checksum recognisers do the finding (SSN, ITIN, phone, email, card, US bank
account, ABA routing number, dates); vagent adds street addresses, phone- and card-shaped numbers
that come with a telling word, and the deployment's own identifiers (a case number, say). A light
context check of vagent's own then decides which weak matches count: Presidio's context enhancer
needs lemmas, which an engine without a language model does not give.

Presidio runs behind its no-op NLP engine: no spaCy model is loaded or downloaded, and no names,
places or organisations are found (that needs an NER model, which vagent does not ship).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

# tldextract builds its shared extractor when first imported, reading this variable then: no URLs
# means it never fetches the public suffix list and uses the snapshot it ships. The email
# recogniser below also brings an extractor of its own, so this holds even when something
# imported tldextract before vagent did.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    AbaRoutingRecognizer,
    CreditCardRecognizer,
    DateRecognizer,
    EmailRecognizer,
    PhoneRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)

from vagent.errors import ConfigError

logger = logging.getLogger(__name__)

BUILT_IN_KINDS = (
    "SSN",
    "ITIN",
    "CARD",
    "BANK_ACCOUNT",
    "ROUTING",
    "PHONE",
    "EMAIL",
    "DATE_OF_BIRTH",
    "ADDRESS",
)
"""The kinds found without configuration. Of candidates on the same characters the earlier kind
wins, and any of them wins over a deployment identifier."""

DEFAULT_THRESHOLD = 0.4
"""The lowest score reported unless a detector is given another (see :class:`PiiDetector`)."""

_BEFORE = 48
_AFTER = 16
_CONTEXT_BOOST = 0.35
_CONTEXT_FLOOR = 0.6
_IDENTIFIER_SCORE = 0.9
_OWN = "VAGENT_"
_KIND_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_CASED = re.DOTALL | re.MULTILINE
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal information found in a text."""

    kind: str
    """SSN, ITIN, PHONE, EMAIL, CARD, BANK_ACCOUNT, ROUTING, DATE_OF_BIRTH, ADDRESS, or a
    deployment identifier kind such as CASE_ID."""
    start: int
    """Offset of the first character in the text."""
    end: int
    """Offset just past the last character."""
    text: str
    """The characters found: ``text[start:end]`` of the text searched."""
    score: float
    """Confidence from 0 to 1, after the context check."""


@dataclass(frozen=True)
class _Rule:
    kind: str
    before: re.Pattern[str] | None = None
    after: re.Pattern[str] | None = None
    needs_context: bool = False


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


_PHONE_WORDS = _words(
    "phone", "telephone", "call", "cell", "cellphone", "mobile", "text", "texts", "messages",
    "reach", "fax", "tel", "desk", "contact number", "phone number", "landline", "dial",
    "dialled", "dialed", "ring", "answering", "voicemail", "whatsapp", "sms", "registered",
    "ext", "extension",
)  # fmt: skip
_PHONE_AFTER = _words("office", "fax", "mobile", "cell", "home", "work", "desk")
_CARD_WORDS = _words("card", "credit", "debit", "visa", "mastercard", "amex", "discover", "cc")

# What each recogniser's entity becomes, and the words around a match that make it likelier.
# A bank account is any run of 8 to 17 digits, a routing number any 9 digits with a valid
# checksum (one in ten pass by chance), a date any date, and the phone- and card-shaped numbers
# Presidio does not take are anything: only the words around them make them personal.
_RULES: Mapping[str, _Rule] = MappingProxyType(
    {
        "US_SSN": _Rule("SSN", _words("social", "security", "ssn", "ss")),
        "US_ITIN": _Rule("ITIN", _words("itin", "taxpayer", r"tax\s+id", "tin")),
        "PHONE_NUMBER": _Rule("PHONE", _PHONE_WORDS, _PHONE_AFTER),
        f"{_OWN}PHONE_SHAPED": _Rule("PHONE", _PHONE_WORDS, _PHONE_AFTER, needs_context=True),
        "EMAIL_ADDRESS": _Rule("EMAIL", _words("email", "e-mail", "mail")),
        "CREDIT_CARD": _Rule("CARD", _CARD_WORDS),
        f"{_OWN}CARD_SHAPED": _Rule("CARD", _CARD_WORDS, needs_context=True),
        "US_BANK_NUMBER": _Rule(
            "BANK_ACCOUNT",
            _words("account", "acct", "checking", "savings", "bank", "deposit"),
            needs_context=True,
        ),
        "ABA_ROUTING_NUMBER": _Rule(
            "ROUTING", _words("routing", "aba", "rtn", "transit"), needs_context=True
        ),
        "DATE_TIME": _Rule(
            "DATE_OF_BIRTH",
            _words("born", "birth", "birthday", "birthdate", "dob", r"d\.o\.b"),
            needs_context=True,
        ),
        f"{_OWN}ADDRESS": _Rule(
            "ADDRESS", _words("live", "lives", "living", "address", "reside", "moved", "mail")
        ),
    }
)

_DIGIT_OR_AT = re.compile(r"[\d@]")

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WRITTEN_DATES = (
    Pattern("month day year", rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", 0.6),
    Pattern(
        "day month year", rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b", 0.6
    ),
)

# A street number, a capitalised name (or a numbered street) and a street suffix, as an address
# is written or transcribed; the case-sensitive name keeps "2 kids who drive" out.
_SUFFIX = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|plaza|alley|loop|pike)"
)
_NAME_WORD = r"(?:[A-Z][\w'.-]*|\d+(?i:st|nd|rd|th))"
_DIRECTION = r"(?i:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?"
_UNIT = r"(?i:apt|apartment|suite|ste|unit|#)\.?\s*#?\s*[A-Za-z0-9-]+"
_ADDRESS = (
    rf"\b\d{{1,6}}[A-Za-z]?(?:\s+{_DIRECTION})?(?:\s+{_NAME_WORD}){{1,4}}?\s+{_SUFFIX}\b\.?"
    rf"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?(?:,?\s+{_UNIT})?"
)
# Digit groups as phone numbers are written anywhere, with a country code, an area code in
# brackets and an extension; seven to fifteen digits (see _PhoneShaped).
_PHONE_SHAPE = (
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(0?\d{1,4}\)[ .-]?)?"
    r"(?:\d{1,5}(?:[ .-]\d{2,8}){0,4}|\d{6,15})(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\w)"
)
# Card numbers of lengths and prefixes Presidio's pattern leaves out (19-digit Visa, 2-series
# Mastercard, 12-digit Maestro), Luhn-checked like the rest.
_CARD_SHAPE = r"\b(?:\d{12,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?)\b"


class PiiDetector:
    """Finds personal information in a text: built-in kinds and the deployment's identifiers.

    Built-in kinds: SSN, ITIN, PHONE (numbers valid in the US, or phone-shaped with a word like
    "call" or "mobile" around them), EMAIL, CARD (Luhn-checked), BANK_ACCOUNT and ROUTING (the
    latter checksum-checked; both only after words like "account" or "routing"), DATE_OF_BIRTH (a
    date shortly after words like "born" or "DOB"; other dates are not personal on their own) and
    ADDRESS (a street number, name and suffix, with an optional unit). Names are not found: that
    needs an NER model.

    The Presidio engine behind every detector is built once per process, on the first detector;
    a detector is cheap and safe to share between conversations.

    Args:
        identifiers: the deployment's identifier kinds and the regular expression each matches,
            e.g. ``{"CASE_ID": r"\\d{5}"}``. Matches count only as whole tokens, case-sensitively,
            and lose to a built-in kind found on the same characters.
        threshold: the lowest score reported, from 0 to 1.

    Raises:
        ConfigError: an identifier kind is not an upper-case name or repeats a built-in kind, its
            pattern does not compile or matches empty text, or the threshold is out of range.
    """

    def __init__(
        self,
        *,
        identifiers: Mapping[str, str] = MappingProxyType({}),
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"PII threshold must be between 0 and 1, got {threshold!r}")
        self._threshold = threshold
        self._identifiers: list[EntityRecognizer] = [
            _identifier_recognizer(kind, pattern) for kind, pattern in identifiers.items()
        ]
        self._identifier_patterns = [
            re.compile(_whole_token(pattern), _CASED) for pattern in identifiers.values()
        ]
        self._engine = _engine()

    def find(self, text: str) -> list[PiiSpan]:
        """Find the personal information in a text.

        Args:
            text: the text to search, typically one caller turn.

        Returns:
            The spans found, in text order and never overlapping. Of two overlapping candidates,
            one lying wholly inside the other is dropped (the longer already covers it), one on
            the same characters goes by kind (see :data:`BUILT_IN_KINDS`); otherwise the higher
            score wins, then the longer span.
        """
        if not self._may_hold_pii(text):
            return []
        results = self._engine.analyze(
            text=text, language="en", ad_hoc_recognizers=self._identifiers
        )
        results.sort(key=lambda r: (r.start, r.end))
        spans = []
        for i, result in enumerate(results):
            span = self._span(text, result, _floor(results[:i], result))
            if span is not None:
                spans.append(span)
        return _resolve(spans)

    def _may_hold_pii(self, text: str) -> bool:
        """False when nothing can match: most turns, answered without the Presidio engine.

        Every built-in kind holds a digit (a number, a date, a street number) or an ``@``; a
        deployment's identifiers are tried with their own patterns.
        """
        if _DIGIT_OR_AT.search(text):
            return True
        return any(pattern.search(text) for pattern in self._identifier_patterns)

    def _span(self, text: str, result: RecognizerResult, floor: int) -> PiiSpan | None:
        """The span a Presidio result becomes after the context check; None if it fails."""
        entity: str = result.entity_type
        start: int = result.start
        end: int = result.end
        score = float(result.score)
        if entity.startswith(_OWN + "ID_"):
            kind = entity.removeprefix(_OWN + "ID_")
            return (
                PiiSpan(kind, start, end, text[start:end], score)
                if score >= self._threshold
                else None
            )
        rule = _RULES.get(entity)
        if rule is None or not _plausible(rule.kind, text[start:end]):
            return None
        if _has_context(rule, text, floor, start, end):
            score = round(min(1.0, max(score + _CONTEXT_BOOST, _CONTEXT_FLOOR)), 2)
        elif rule.needs_context:
            return None
        if score < self._threshold:
            return None
        return PiiSpan(rule.kind, start, end, text[start:end], score)


def _floor(earlier: Sequence[RecognizerResult], result: RecognizerResult) -> int:
    """Where the context of a result may begin: after the last match of its kind before it.

    A context word speaks for the nearest match after it: in "born 3/15/1985, seen on 4/1/2025"
    only the first date is a birth date.
    """
    ends = (r.end for r in earlier if r.entity_type == result.entity_type and r.end <= result.start)
    return max(ends, default=0)


def _has_context(rule: _Rule, text: str, floor: int, start: int, end: int) -> bool:
    before = rule.before is not None and rule.before.search(
        text, max(floor, start - _BEFORE), start
    )
    after = rule.after is not None and rule.after.match(text[end : end + _AFTER].lstrip(" -:,"))
    return bool(before or after)


def _plausible(kind: str, value: str) -> bool:
    """Checks Presidio leaves out; False drops the candidate."""
    if kind == "SSN":
        # The SSA has never issued an area number in the 900s: those are ITINs or test numbers.
        return not value.startswith("9")
    if kind == "PHONE":
        return _IPV4.fullmatch(value) is None
    return True


def _resolve(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans in text order (see :meth:`PiiDetector.find`)."""
    outer = [s for s in spans if not any(_inside(s, other) for other in spans)]
    chosen: list[PiiSpan] = []
    for span in sorted(outer, key=lambda s: (-s.score, s.start - s.end, _rank(s))):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _inside(span: PiiSpan, other: PiiSpan) -> bool:
    """Whether ``span`` lies within ``other``; on the same characters, whether it ranks lower."""
    if span is other or span.start < other.start or span.end > other.end:
        return False
    if (span.start, span.end) != (other.start, other.end):
        return True
    return (_rank(other) < _rank(span)) or (
        _rank(other) == _rank(span) and other.score > span.score
    )


def _rank(span: PiiSpan) -> int:
    """Built-in kinds in their order, then the deployment's identifiers."""
    return BUILT_IN_KINDS.index(span.kind) if span.kind in BUILT_IN_KINDS else len(BUILT_IN_KINDS)


def _identifier_recognizer(kind: str, pattern: str) -> PatternRecognizer:
    """A recogniser for one deployment identifier kind; raises ConfigError if it is unusable."""
    if not _KIND_NAME.fullmatch(kind) or kind in BUILT_IN_KINDS:
        raise ConfigError(
            f"PII identifier kind {kind!r} must be an upper-case name like 'CASE_ID' and not one "
            f"of the built-in kinds ({', '.join(BUILT_IN_KINDS)})"
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"PII identifier {kind} has an invalid pattern {pattern!r}: {exc}"
        ) from exc
    if compiled.fullmatch(""):
        raise ConfigError(
            f"PII identifier {kind} has a pattern that matches empty text: {pattern!r}"
        )
    return PatternRecognizer(
        supported_entity=f"{_OWN}ID_{kind}",
        name=f"vagent identifier {kind}",
        patterns=[Pattern(kind, _whole_token(pattern), _IDENTIFIER_SCORE)],
        global_regex_flags=_CASED,
    )


def _whole_token(pattern: str) -> str:
    """An identifier pattern matching whole tokens only."""
    # A five-digit case number is not the start of a ZIP+4 or of a longer number.
    return rf"(?<![\w-])(?:{pattern})(?![\w-])"


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recogniser, checking domains against tldextract's bundled list only."""

    _extractor = tldextract.TLDExtract(
        cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
    )

    def validate_result(self, pattern_text: str) -> bool:
        return self._extractor(pattern_text).fqdn != ""


class _PhoneShaped(PatternRecognizer):
    """Digit groups shaped like a phone number, valid or not in any region."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=f"{_OWN}PHONE_SHAPED",
            name="vagent phone-shaped number",
            patterns=[Pattern("phone shape", _PHONE_SHAPE, 0.3)],
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return not 7 <= sum(ch.isdigit() for ch in pattern_text) <= 15


class _NoContextEnhancer(ContextAwareEnhancer):
    """Leaves scores alone: the context check is vagent's, on characters rather than lemmas."""

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0.0,
            min_score_with_context_similarity=0.0,
            context_prefix_count=0,
            context_suffix_count=0,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


def _recognizers() -> list[EntityRecognizer]:
    return [
        UsSsnRecognizer(),
        UsItinRecognizer(),
        PhoneRecognizer(supported_regions=("US",)),
        _PhoneShaped(),
        _OfflineEmailRecognizer(),
        CreditCardRecognizer(),
        CreditCardRecognizer(
            supported_entity=f"{_OWN}CARD_SHAPED",
            name="vagent card-shaped number",
            patterns=[Pattern("card shape", _CARD_SHAPE, 0.3)],
        ),
        UsBankRecognizer(),
        AbaRoutingRecognizer(),
        DateRecognizer(patterns=[*DateRecognizer.PATTERNS, *_WRITTEN_DATES]),
        PatternRecognizer(
            supported_entity=f"{_OWN}ADDRESS",
            name="vagent street address",
            patterns=[Pattern("street address", _ADDRESS, 0.5)],
            global_regex_flags=_CASED,
        ),
    ]


@cache
def _engine() -> AnalyzerEngine:
    """The process's one Presidio engine, built and warmed on first use."""
    registry = RecognizerRegistry(supported_languages=["en"])
    recognizers = _recognizers()
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
        context_aware_enhancer=_NoContextEnhancer(),
    )
    # The first email and phone checks load the suffix list and phone metadata: pay here.
    engine.analyze(text="Call 202-555-0143 or write to a.b@example.com.", language="en")
    logger.debug("pii engine ready: recognizers=%d", len(recognizers))
    return engine
