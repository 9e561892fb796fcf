"""Screening detectors: a caller in crisis, and instructions smuggled into text.

Both are phrase lexicons over normalised text: deterministic, a fraction of a millisecond a turn,
and the same in tests as in production. They are deliberately lopsided. A mention of self-harm
hands off even when it is denied ("I'm not going to hurt myself" still earns a person and the
crisis line), while figures of speech about forms and applications ("this form is killing me")
never trigger. Injection screening reads caller turns, retrieved passages and tool results alike:
anything addressed to the agent rather than to a person is suspect.

A lexicon misses what it has not listed: paraphrases, other languages and spaced-out or
misspelt words get through. Measured on phrasings written after each round of tuning and before
being tuned on, it caught 10 to 40% of new injection attempts and 33 to 50% of new crisis
phrasings (tests/guardrails/screening_phrases.yaml keeps every round), while flagging none of
23,700 everyday requests and none of 1,030 government passages. It is one layer; the policy gate
and the reply checks are the others.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

CrisisKind = Literal["self_harm", "threat", "abuse"]
InjectionKind = Literal["override", "role", "prompt_leak", "markup", "planted", "encoded"]

CRISIS_LINE = (
    "If you are thinking about suicide or self-harm, call or text 988 (the Suicide and Crisis "
    "Lifeline), available 24/7. If you are in immediate danger, call 911."
)
"""What the agent says when it hands off a caller in crisis."""


@dataclass(frozen=True)
class CrisisSignal:
    """A sign that the caller may be in danger or may endanger someone."""

    kind: CrisisKind
    """self_harm, threat (to others) or abuse (violence or abuse at home)."""
    phrase: str
    """The words that matched, as normalised (lower case)."""
    negated: bool = False
    """The caller denied it ("I'm not going to hurt myself"); self-harm still counts."""


@dataclass(frozen=True)
class InjectionSignal:
    """A sign that a text tries to instruct the agent rather than inform it."""

    kind: InjectionKind
    """override (ignore the rules), role (become someone else), prompt_leak (reveal the
    prompt), markup (fake system or role tags), planted (a note addressed to the agent, or a
    claim the caller already agreed), encoded (an encoded instruction)."""
    phrase: str
    """The words that matched, as normalised (lower case unless the match is case-sensitive)."""


def _lexicon(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# ------------------------------------------------------------------------------------ crisis

_PEOPLE = (
    r"(?:you|you all|y'all|him|her|them|someone|somebody|anyone|anybody|everyone|everybody|"
    r"people|(?:the|that|this|those|these|your|every) (?:\w+ )?(?:staff|clerks?|workers?|"
    r"employees?|agents?|caseworkers?|people|person|one|guy|guys|lady|ladies|man|men|woman|women|"
    r"manager|supervisor|landlord|judge|officer|receptionist|bitch|bastard)|"
    r"my (?:\w+ )?(?:boss|landlord|caseworker|neighbou?r|husband|wife|ex|partner|family|kids|"
    r"children|son|daughter))"
)
# "I" and an intent, with a little room for "come down there and": the caller's own plan.
_I_INTEND = (
    r"\bi(?:'m| am|'ll| will|'d| would| could| might| swear i'?ll)?"
    r"(?: (?:going to|gonna|about to|want to|wanna|ready to|fixing to|have to|need to))?"
    r"(?: (?:really|just|seriously|literally|definitely|totally|actually))?"
    r"(?: (?:come|go|drive|get)(?: down| over| up)?(?: there| here)?(?: and| to))?"
    r"(?: find (?:you|him|her|them|that \w+)(?: and)?)?"
)
_RELATION = (
    r"(?:he|she|they|my (?:\w+'s )?(?:\w+ )?(?:husband|wife|partner|boyfriend|girlfriend|ex|"
    r"spouse|father|mother|dad|mom|stepfather|stepmother|stepdad|stepmom|parents?|son|daughter|brother|sister|"
    r"uncle|aunt|roommate|caregiver|grandson|granddaughter|fianc[eé]e?))"
)
_VIOLENT = (
    r"(?:hit|hits|hitting|beats?|beating|beat|hurts?|hurting|hurt|chok(?:e|es|ed|ing)|"
    r"strangl(?:e|es|ed|ing)|kick(?:s|ed|ing)?|punch(?:es|ed|ing)?|slap(?:s|ped|ping)?|"
    r"abus(?:e|es|ed|ing)|rap(?:e|es|ed)|assault(?:s|ed|ing)?|attack(?:s|ed|ing)?|"
    r"molest(?:s|ed|ing)?|grab(?:s|bed|bing)?|touch(?:es|ed|ing)|stab(?:s|bed|bing)?|"
    r"burn(?:s|ed|ing)?)"
)
_VICTIM = r"(?:me|us|my (?:kids|children|son|daughter|baby|mother|mom|father|dad|family))"
_INTENT = (
    r"(?:want(?:ing)?|going|gonna|wanna|about|plan(?:ning)?|try(?:ing)?|tempted|urge|"
    r"thinking (?:about|of)|thought (?:about|of)|might|may|will|'ll|could|should|would)"
)

_SELF_HARM = _lexicon(
    r"\bsuicid(?:e|al)\b",
    # "I hurt myself at work" is an injury, not a crisis; an intent or a habit makes it one.
    rf"\b{_INTENT} (?:to )?(?:just )?(?:hurt|harm|cut|kill|hang|shoot|starve|off|drown)(?:ing)? "
    r"myself\b",
    r"\b(?:kill(?:ing)?|hang(?:ing)?|shoot(?:ing)?|off(?:ing)?|harming|hurting|cutting) myself\b",
    r"\bself[- ]?harm",
    r"\bend(?:ing)? (?:my (?:own )?life|it all)\b|\btak(?:e|ing) my (?:own )?life\b",
    r"\b(?:want|wanna|going|ready|wish i could|i'd rather|i would rather) (?:to )?(?:just )?die\b",
    r"\bwish i (?:was|were|could be) dead\b",
    r"\b(?:better off|rather be) dead\b",
    r"\bbetter off (?:if i (?:was|were) (?:dead|gone)|without me)\b",
    r"\b(?:take|taking|took|swallow(?:ed)?) (?:all|a bunch|a handful|too many|a lot) "
    r"(?:of )?(?:my |the |these |those )?"
    r"(?:pills|meds|medications?|sleeping pills)\b",
    r"\bnothing (?:left )?to live for\b|\bno reason (?:left )?to live\b",
    r"\b(?:no|don't see (?:the|any)|do not see (?:the|any)|what's the|there's no) point "
    r"(?:in |of )?(?:living|going on|being alive|waking up)\b",
    r"\b(?:nobody|no one|no-one) (?:would|will|is going to|'d) (?:even )?(?:miss|care about|"
    r"notice) (?:me|if i)\b",
    r"\b(?:done|finished|through) with (?:life|living)\b",
    r"\b(?:thinking|thought) (?:about|of) ending (?:it|things|everything)\b",
    r"\b(?:goodbye|suicide) (?:letter|note)s?\b|\bwrote (?:a|my) (?:final|last) (?:letter|note)\b",
    r"\b(?:pain|suffering|it all) to (?:stop|end) (?:for good|forever|permanently)\b",
    r"\b(?:standing|sitting) on (?:the|a) (?:bridge|ledge|roof|edge)\b",
    r"\b(?:stockpil|hoard)(?:e|ed|ing) (?:up )?(?:my |the )?(?:pills|meds|medications?)\b",
    r"\b(?:won't|will not|not going to|don't think i'?ll|don't think i will) (?:still )?be alive\b",
    r"\b(?:going to|gonna|want to|wanna|ready to) (?:just )?end it\b"
    r"(?! (?:here|there|now|for|with))",
    r"\b(?:got|have|bought|found) (?:a|the) (?:rope|noose)\b",
    r"\b(?:rope|noose) (?:is )?(?:ready|tied)\b",
    r"\b(?:want|wish|wanna|going) (?:to )?(?:just )?(?:disappear|vanish) (?:forever|for good)\b",
    r"\b(?:want|wish|wanna) (?:to )?(?:just )?(?:not exist|stop existing|sleep forever|"
    r"never wake up)\b",
    r"\b(?:life|living) (?:is not|isn't|is no longer|ain't) worth (?:it|living)\b",
    r"\bnot worth living\b",
    r"\b(?:don't|do not) want to (?:live|be alive|be here anymore|wake up)\b",
    r"\bcan(?:'t|not) go on (?:living|like this|anymore)\b",
    r"\b(?:i|gonna|to|i'll|i'm) (?:\w+ )?overdos(?:e|ed|ing)\b",
    r"\bjump (?:off|from) (?:a|the|this) (?:bridge|building|roof)\b",
)
_THREAT = _lexicon(
    rf"{_I_INTEND} (?:kill|shoot|stab|murder|strangle|beat up|hurt|attack|blow up) {_PEOPLE}\b"
    # "I could shoot you an email" is an offer.
    r"(?! (?:an?|the|a quick) (?:e-?mail|text|message|note|line|copy|call))",
    r"\b(?:shoot|blow|burn) (?:up|down) (?:the|your|this|that) (?:office|building|place|agency)\b",
    r"\b(?:bring|bringing|come|coming|show up|showing up|walk in|walking in)\b[^.!?]{0,40}"
    r"\bwith (?:a|my) (?:gun|rifle|shotgun|pistol|knife|bomb|weapon)\b",
    r"\b(?:bring|bringing|brought) (?:a|my) (?:gun|rifle|shotgun|pistol|knife|bomb|weapon)\b",
    r"\bwatch your back\b",
    r"\b(?:plant|put|have) a bomb\b|\bbomb (?:the|your) (?:office|building|agency)\b",
    r"\bi know where (?:you|he|she|they|your \w+) (?:live|lives|work|works|park|parks|sleep|"
    r"sleeps)\b",
    rf"{_I_INTEND} (?:put|send) (?:you|him|her|them|someone|somebody|that \w+|\w+) in "
    r"(?:the |a )?(?:hospital|grave|ground|morgue|body bag)\b",
    r"\bgo(?:ing|ne)? postal\b",
    r"\bhunt (?:you |him |her |them |\w+ )?down\b|\btrack (?:you|him|her|them) down\b",
    r"\bi(?:'ve got| have| got|'ve) (?:a|my) (?:gun|rifle|shotgun|pistol|weapon)\b"
    r"(?! (?:license|licence|permit|safe|owner|question|registration))",
    r"\b(?:somebody|someone|people|you|y'all|they|everyone|everybody)(?: [\w ]{1,25}?)?"
    r"(?:'s|'re| is| are) (?:gonna|going to) "
    r"(?:get (?:hurt|killed|shot)|die|be dead)\b",
    r"\bpay with (?:their|your|his|her) lives?\b",
)
_ABUSE = _lexicon(
    # "My husband beat me to the mailbox" is a race.
    rf"\b{_RELATION} (?:\w+ ){{0,2}}{_VIOLENT} {_VICTIM}\b(?! to (?:the|it|a)\b)",
    rf"\b{_RELATION} (?:is going to|will|is gonna|said (?:he|she|they)'?d?) (?:\w+ )?"
    r"(?:kill|hurt) (?:me|us)\b",
    r"\bthreaten(?:s|ed|ing)? to (?:kill|hurt|beat|shoot|stab) (?:me|us|my)\b",
    rf"\b{_RELATION} (?:is|gets|has been|can be|was|becomes) (?:\w+ )?(?:violent|abusive)\b",
    r"\bdomestic (?:violence|abuse)\b",
    r"\b(?:and|then) (?:\w+ )?(?:hits|beats|chokes|strangles|slaps|kicks|punches|rapes) "
    r"(?:me|us|my kids|my children)\b",
    r"\b(?:bruises|a black eye|broken (?:arm|ribs?|nose|jaw)) (?:from|because of|where|after) "
    r"(?:him|her|them|he|she|they|my \w+)\b",
    r"\b(?:i'?m|i am|i'?ve been|i have been|being|was|been|is|are) (?:\w+ )?(?:abused|beaten|"
    r"raped|molested|sexually assaulted|trafficked)\b",
    r"\babusive (?:husband|wife|partner|boyfriend|girlfriend|ex|relationship|home|parents?|"
    r"father|mother|spouse)\b",
    rf"\b(?:afraid|scared|terrified) (?:to go home|of {_RELATION}|for my life)\b",
    r"\b(?:not|don't feel|do not feel) safe (?:at|in my) home\b",
    r"\b(?:fleeing|escaping|escape from|ran away from) (?:an? )?(?:abuse|abuser|abusive)\b",
)

_CRISIS: tuple[tuple[CrisisKind, re.Pattern[str]], ...] = (
    ("self_harm", _SELF_HARM),
    ("abuse", _ABUSE),
    ("threat", _THREAT),
)

# A denial just before the words, in the same clause: "i'm not going to kill anyone".
_NEGATION = re.compile(
    r"\b(?:not|never|no|don't|won't|wouldn't|didn't|doesn't|can't|cannot|isn't|aren't|wasn't|"
    r"weren't|shouldn't|couldn't|haven't|hasn't)\b"
)
_CLAUSE_END = re.compile(r"[.,;!?]|\bbut\b")
_NEGATION_REACH = 30


def detect_crisis(text: str) -> CrisisSignal | None:
    """Whether a caller turn suggests self-harm, a threat to others, or abuse at home.

    Self-harm and abuse count even when denied (the signal then says ``negated``): a wrong
    handoff costs a minute, a missed one may cost a life. A denied threat ("I'd never hurt
    anyone") does not count.

    Args:
        text: one caller turn.

    Returns:
        The first signal found, self-harm before abuse before threats; None if there is none.
    """
    norm = _normalise(text).lower()
    for kind, lexicon in _CRISIS:
        for match in lexicon.finditer(norm):
            negated = _negated(norm, match.start())
            # A threat spoken as "I'll ..." leaves no room for a "not" inside the match, so a
            # "not" before it belongs to another clause ("if this isn't fixed I'll ...").
            if kind == "threat" and negated and not match.group(0).startswith("i"):
                continue
            return CrisisSignal(kind=kind, phrase=match.group(0), negated=negated)
    return None


def _negated(text: str, start: int) -> bool:
    """Whether a denial precedes ``start`` within the same clause."""
    before = text[max(0, start - _NEGATION_REACH) : start]
    clauses = _CLAUSE_END.split(before)
    return _NEGATION.search(clauses[-1]) is not None


# --------------------------------------------------------------------------------- injection

_RULES = (
    r"(?:instructions?|rules|prompts?|directions|directives|guidelines|guidance|restrictions|"
    r"polic(?:y|ies)|constraints|protocols?|limits|limitations|boundaries|training)"
)
# Words that only an AI system has: whoever tells the agent to drop them is addressing it.
_MACHINERY = (
    r"(?:guardrails?|safeguards|safety (?:checks|filters|rules|settings|guidelines)|content "
    r"(?:policy|filters?)|programming|system prompt|system message|alignment|"
    r"(?:usual|normal|built-in) (?:limitations|restrictions|filters)|your filters)"
)
# "Should I ignore the instructions on the letter?" is a fair question and "ignore my previous
# instructions" takes back the caller's own; "ignore your (previous, all, system) instructions" is
# addressed to the agent.
_THEIRS = (
    r"(?:all|any|every|your|previous|prior|above|earlier|preceding|initial|original|system|"
    r"safety|default|programmed|internal|core|operating|these|those|existing|current)"
)
# The agent's own parts, and rules named as the agent's: dropping either is an attempt on it.
_AGENT_PARTS = (
    r"(?:system prompt|programming|guardrails?|safeguards|content (?:policy|filters?)|safety "
    r"(?:mode|checks?|filters?|settings|rules|guidelines)|policy gate|verification (?:gate|step|"
    r"checks?)|identity checks?|confirmation (?:step|checks?|rules))"
)
_YOUR_RULES = (
    r"(?:your|all(?: of)?(?: your| the)?|these|those|previous|prior|earlier|original|initial|usual|"
    r"normal|current|existing|any(?: of)?(?: your| the)?) (?:\w+ )?(?:instructions|rules|"
    r"guidelines|guidance|directives|restrictions|limits|limitations|constraints|protocols)"
)
# "Lift the restrictions on my card" is about the caller's account, not the agent.
_NOT_THE_CALLERS = r"(?! (?:on|for|of|to|from|in) (?:my|our|his|her|their|this|that|the)\b)"
_OVERRIDE = _lexicon(
    rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|neglect|circumvent|"
    rf"set aside|put aside|throw out|ditch|suspend|get rid of|erase|wipe|reset|"
    rf"do not follow|don't follow|stop following|break) (?!(?:\w+ ){{0,3}}?(?:my|our)\b)"
    rf"(?:\w+ ){{0,3}}?{_THEIRS}"
    rf"(?: \w+){{0,2}}? {_RULES}\b",
    rf"\b(?:ignore|disregard|forget|forget about|override|bypass|circumvent|disable|turn off|"
    rf"switch off|remove|drop) (?:all |any )?(?:of )?(?:the |your |its )?{_MACHINERY}\b",
    rf"\bwithout (?:any (?:of )?)?your (?:\w+ )?(?:{_MACHINERY}|rules|guidelines)\b",
    r"\bwithout (?:any )?(?:guardrails|censorship|content filters?|safety filters)\b",
    rf"\b(?:previous|prior|earlier|old|original|all|your) {_RULES} (?:are|is) (?:now )?(?:void|"
    r"cancel+ed|revoked|obsolete|null|invalid|no longer valid|overridden|suspended|lifted|gone)\b",
    r"\bnew (?:task|objective|goal|mission|directive|orders?)\s*:",
    r"\b(?:agents?|assistants?|you) (?:may|can|are allowed to|are permitted to) now (?:disclose|"
    r"share|reveal|give out|release)\b",
    r"\b(?:as though|as if|pretend|imagine)\b[^.!?]{0,40}\b(?:rules|polic(?:y|ies)|restrictions|"
    r"verification|confirmation|instructions|guidelines)\b[^.!?]{0,20}\b(?:don't|do not|doesn't|"
    r"does not|didn't|did not) (?:exist|apply)\b",
    r"\brepeat after me\b",
    r"\btreat (?:everything|anything|what|this|the next \w+)\b[^.!?]{0,30}\bas (?:a |an |coming "
    r"from )?(?:your )?(?:system|admin|administrator|developer|operator|instructions?|commands?)\b",
    r"\b(?:pretend|assume|act as if|imagine)\b[^.!?]{0,20}\b(?:confirmation|verification|"
    r"identity check|authentication)\b[^.!?]{0,20}\b(?:happened|done|passed|completed?|"
    r"succeeded|already)\b",
    r"\b(?:weren't|were not|wasn't|was not|aren't|are not|not) bound by\b",
    r"\bunlock (?:\w+ )?(?:admin|developer|hidden|secret|restricted|debug) (?:features|mode|access|"
    r"functions|commands)\b",
    r"\b(?:append|add|insert|prepend)\b[^.!?]{0,25}\bto your (?:\w+ )?(?:rules|instructions|prompt|"
    r"guidelines|memory|system)\b",
    r"\b(?:ai|assistant|bot|model|chatbot|version of you)\b[^.!?]{0,15}\b"
    r"(?:with no|without(?: any)?) (?:rules|restrictions|filters|limits|guardrails|policies|"
    r"policy)\b",
    r"\b(?:two|dual|alternate|second|another|evil) personas?\b",
    r"\b(?:developer|admin|system|operator|engineering|dev) (?:note|notice|message|instruction)s?"
    r"\s*[:\-]",
    r"\b(?:disable|turn off|stop|pause) (?:the |your )?(?:logging|audit(?:ing| log)?|monitoring)\b",
    rf"\byour (?:\w+ ){{0,2}}(?:{_RULES}|programming|settings|configuration) (?:have|has) "
    r"(?:just )?(?:been )?(?:changed|updated|replaced|revoked|removed|lifted|reset|overridden)\b",
    r"\b(?:safety|verification|security|identity|confirmation|content|restricted|safe) "
    r"(?:mode|checks?|steps?|filters?|gate)s? (?:is|are|has been|have been) (?:now )?(?:disabled|"
    r"off|turned off|removed|bypassed|suspended|lifted)\b",
    r"\b(?:imagine|hypothetically|suppose|supposing|pretend|let's say)\b[^.?!]{0,50}\byou\b"
    r"[^.?!]{0,30}\b(?:no|without(?: any)?) (?:rules|restrictions|polic(?:y|ies)|limits|filters|"
    r"guidelines|guardrails|instructions|programming)\b",
    r"\b(?:answer|respond|reply|speak|talk|act|operate|behave)\w* (?:\w+ ){0,3}(?:with no|"
    r"without(?: any)?) (?:restrictions|rules|filters|limits|guardrails|censorship)\b",
    r"\byou(?:'ll| will| must| should| shall|'re going to| are going to)? (?:\w+ ){0,3}"
    r"(?:whatever|everything|anything)(?: \w+){0,2} i (?:say|ask(?: for)?|tell you|command|"
    r"want)\b",
    r"\b(?:you are|you're) no longer (?:bound|restricted|limited|required|obliged|obligated)\b",
    r"\bi (?:command|order) you\b",
    rf"\b(?:ignore|ignoring|disregard|forget|scratch|bypass|override|overridden|lift(?:ed)?|"
    rf"drop|remove|ditch|lose|"
    rf"disable(?:d)?|suspend(?:ed)?|turn(?:ed)? off|switch(?:ed)? off|set aside|put aside|void|"
    rf"revoked|unlocked|don't worry about|do not worry about|never mind)\b[^.!?;]{{0,40}}"
    rf"\b(?:{_AGENT_PARTS}|{_YOUR_RULES})\b{_NOT_THE_CALLERS}",
    rf"\b(?:{_AGENT_PARTS}|{_YOUR_RULES})\b{_NOT_THE_CALLERS}[^.!?;]{{0,30}}\b(?:ignored|lifted|disabled|"
    r"suspended|turned off|switched off|void|revoked|unlocked|no longer apply|don't apply|"
    r"do not apply)\b",
    r"\b(?:real|actual|true|new|updated) instructions (?:follow|are below|below)\b",
    r"\b(?:verification|confirmation|authentication|identity check)s?\s*[:=]\s*(?:not required|"
    r"off|none|false|disabled|skip(?:ped)?|bypass(?:ed)?|done|complete|passed|true)\b",
    r"\bauthori[sz]e you to (?:skip|bypass|override|ignore|disable|release|disclose|cancel)\b",
    r"\b(?:ignore|disregard|forget) (?:all |everything )?(?:of )?(?:the |what's |what is )?"
    r"(?:above|written above|said above|you were told|you've been told|you have been told|"
    r"you know)\b",
    rf"\bregardless of (?:your|any|all|the previous|previous|prior) {_RULES}\b",
    rf"\bwhatever (?:the|your) {_RULES}(?: about [\w ]{{1,30}})? say\b",
    rf"\b(?:new|updated|revised|real|secret|hidden|override) {_RULES}\s*:",
    r"\byou (?:have|has|now have) no (?:\w+ )?(?:restrictions|filters|limits|guardrails|rules)\b",
    r"\b(?:unfiltered|uncensored|unrestricted) (?:mode|ai|assistant|model|version|responses?)\b",
    r"\b(?:system|admin|administrator|root|sudo|security) override\b",
    r"\b(?:bypass|circumvent|override|disable|turn off) (?:the |your |all |any )?(?:confirmation|"
    r"verification|identity|security|safety|policy) (?:rules|checks?|steps?|requirements?|"
    r"gate|filters?)\b",
    r"\boverride (?:the |your |all |any )?(?:system|safety|security|verification|confirmation|"
    r"policy|policies|rules|restrictions)\b",
    r"\b(?:do not|don't|never|no need to) (?:ask|wait) for (?:\w+ )?confirmation\b",
    r"\b(?:cancel|delete|close|proceed|execute|process|approve|submit|transfer|send|do it|"
    r"go ahead)\b[^.!?]{0,40}\bwithout (?:asking (?:for |the caller (?:for )?)?)?(?:any )?"
    r"confirmation\b",
    r"\b(?:do not|don't|never) (?:mention|reveal|disclose|tell (?:the )?(?:caller|user) about) "
    r"this (?:notice|note|message|instruction)",
)
_ROLE = _lexicon(
    r"\byou are now (?:in|no longer|free|unrestricted|unfiltered|jailbroken|dan|(?:a|an|the|my) "
    r"(?:\w+ )?(?:ai|assistant|model|bot|chatbot|agent|character|persona|supervisor|manager|"
    r"admin|administrator|developer|hacker|servant|slave))\b",
    r"\byour new (?:role|identity|persona|instructions?) (?:is|are)\b",
    r"\bfrom now on,? you (?:are|must|shall|will (?:be|act|respond|answer|ignore|obey)|have no)\b",
    r"\bpretend (?:that )?(?:you are|you're|to be|you have no)\b",
    r"\b(?:act|behave|respond|roleplay|role-play|role play) as (?:if you (?:are|were) )?"
    r"(?:my |a |an |the )?(?:supervisor|manager|admin|administrator|developer|system|root|"
    r"unrestricted|unfiltered|jailbroken|evil|dan)\b",
    r"\b(?:act|behave) as (?:my |a |an |the )?\w+ (?:and|to) (?:override|approve|authori[sz]e|"
    r"bypass|skip)\b",
    r"\b(?:developer|god|admin|unrestricted|jailbreak|sudo) mode\b",
    r"\b(?:you're|you are|switch(?:ing)? (?:to|into)|enter(?:ing)?|enable|activate|turn on|"
    r"go into) (?:now )?(?:in )?(?:\w+ )?(?:maintenance|debug|diagnostic|test|root|dan) mode\b",
    r"\b(?:i am|i'm|this is) your (?:\w+ )?(?:developer|creator|programmer|admin|administrator|"
    r"operator|owner|supervisor|boss|master|maker)\b",
    r"\bjailbr(?:eak|oken)\b",
    r"\b(?:you will|you'll|you shall|you must|you are going to) (?:now )?(?:act|behave|pose|"
    r"function|operate|respond) as\b",
    r"\bstop being (?:a|an|the) (?:\w+ )?(?:agent|assistant|ai|bot|chatbot|model)\b",
    r"\byour (?:only |new |sole |real )(?:job|role|task|purpose|function|goal) (?:now )?is\b",
    r"\byou(?:'re| are) (?:a|an) \w+ now\b",
    r"\b(?:you have been|you've been|you are|you're) (?:now )?(?:upgraded|reprogrammed|"
    r"reconfigured|unlocked|freed|liberated|jailbroken)\b",
    r"\b(?:override|admin|god|developer|sudo|root|jailbreak) (?:mode|session)\b",
    r"\b(?:as|i am|i'm|this is) (?:the |your |a |an )?(?:system|it|site|platform|ai) "
    r"(?:administrator|admin|developer|engineer|operator)\b(?! (?:at|for|of|in) (?:my|our|a)\b)",
    r"\bfrom the (?:vendor|company|team|people|developers?|engineers?) (?:that|who) (?:built|made|"
    r"created|trained|programmed|deployed) you\b",
    r"\bput yourself (?:in|into) (?:\w+ )?mode\b",
    r"\bdo anything now\b",
    r"\b(?:let's|lets|let us|we will|we'll) (?:do |play |start |have )?(?:a |an )?(?:little )?"
    r"(?:game|roleplay|role-play|role play|hypothetical)\b",
    r"\b(?:simulate|emulate|become) (?:a|an) (?:\w+ )?(?:ai|model|assistant|chatbot) "
    r"(?:without|with no|that has no)\b",
    r"\byou(?:'ll| will| must| shall)? (?:now )?(?:only )?obey\b",
    r"\bobey (?:only )?(?:me|my commands)\b",
)
_CASE_SENSITIVE = re.compile(
    r"\b(?:you are|you're|act as|be|become) DAN\b|\bDAN (?:mode|prompt)\b"
    r"|(?:^|\n|\. )(?:SYSTEM|ADMIN|DEVELOPER|ASSISTANT)(?: (?:OVERRIDE|PROMPT|MESSAGE|NOTE|NOTICE|"
    r"UPDATE))?\s*[:-]"
)
_PROMPT_LEAK = _lexicon(
    # "The system prompt on the website said..." is a caller's word for a screen message.
    r"\b(?:your|what(?:'s| is) the|reveal the|show (?:me )?the|print the|output the|give me the|"
    r"tell me the) (?:\w+ )?(?:system|initial|hidden|secret|developer|pre)[- ]?prompt\b",
    r"\b(?:initial|hidden|secret|developer|pre)[- ]?prompt\b",
    r"\b(?:reveal|print|output|write out|translate|dump|disclose|type out|spell out|include|"
    r"contains?|containing|summari[sz]e|paraphrase|list)\b"
    r"[^.!?]{0,40}\b(?:your (?:\w+ )?(?:instructions|configuration|config|prompt|programming)|"
    r"(?:system|hidden|secret|initial|internal) (?:prompt|text|instructions|configuration|message|"
    r"guidelines|rules))\b",
    r"\b(?:text|words|message|instructions) (?:that )?(?:came|come|was|were) (?:before|above) "
    r"(?:my|this|the)\b",
    r"\b\w+\(\s*\w*(?:prompt|instructions|config)\w*\s*\)",
    r"\b(?:hidden|secret|developer|internal) instructions\b",
    r"\byour (?:original|initial|system|internal) instructions\b",
    r"\b(?:reveal|print|repeat|output|dump|leak|recite) (?:me )?(?:all )?your (?:\w+ )?"
    r"(?:instructions|prompt|rules|guidelines|configuration)\b",
    r"\b(?:show me|tell me|give me|what (?:are|were)) (?:all )?your (?:(?:exact|original|initial|"
    r"hidden|full|complete|secret|system|internal|first) )+(?:instructions|prompt|rules|"
    r"guidelines|configuration)\b",
    r"\b(?:verbatim|word for word)\b.{0,40}\b(?:instructions|prompt)\b",
    r"\brepeat (?:the|all|everything) (?:text |words )?above\b",
    r"\b(?:output|print|reveal|dump|repeat|recite|leak|show me) (?:me )?(?:the |your )?(?:full |"
    r"entire |complete |whole |exact |original |initial )*(?:prompt|context window|system message|"
    r"initial instructions|hidden instructions)\b",
    r"\b(?:exact wording|verbatim text|full text|wording) of (?:the |your )?(?:instructions|prompt|"
    r"rules)\b|\b(?:instructions|rules|guidelines|prompt) (?:that )?your \w+ gave you\b",
    r"\b(?:prompt|instructions|rules|guidelines) you (?:were|have been|got) (?:given|"
    r"initiali[sz]ed|configured|set up|started|programmed|trained)\b",
    r"\b(?:your|the) context window\b|\beverything in your (?:context|memory|prompt)\b",
    r"\b(?:first|last|opening|next) (?:line|sentence|words?|paragraph|part)s? of your "
    r"(?:instructions|prompt|rules|guidelines)\b",
    r"\bwhat (?:were|are|have) you (?:been )?(?:told|instructed|programmed) not to\b",
)
_MARKUP = _lexicon(
    r"</?\s*(?:system|assistant|user|instructions?|im_start|im_end|sys)\s*>",
    r"<\|(?:im_start|im_end|system|assistant|user|endoftext)\|>",
    r"\[/?(?:inst|system|sys)\]",
    r"<<\s*/?sys\s*>>",
    r"<!--[^>]{0,200}?\b(?:assistant|system|ai|agent|instructions?)\b",
    r"(?:^|\n)\s*#{2,}\s*(?:system|instruction|new instructions?)\b",
    r"(?:^|\n)\s*(?:system|assistant)\s*:",
)
_PLANTED = _lexicon(
    r"\b(?:notice|note|message|instructions?|attention|reminder) (?:to|for) (?:the |any |all )?"
    r"(?:virtual agents?|ai(?: agents?| assistants?| models?)?|assistants?|language models?|"
    r"models?|bots?|chatbots?|llms?)\b",
    # "Tell me if you are a bot" is a fair question; an order that follows it is not.
    r"\bif you are an? (?:ai|llm|language model|assistant|chatbot|bot|virtual agent)"
    r"(?: [\w ]{1,30}?)?,? (?:ignore|disregard|you must|you should|then|do not|don't|follow|"
    r"cancel|send|reveal|stop|forget|obey)\b",
    r"\b(?:ai|virtual) (?:agents?|assistants?) (?:must|shall) (?:now |immediately |always )?"
    r"(?:ignore|cancel|send|text|call|reveal|disregard|tell|say|transfer|delete|approve|forward|"
    r"share|email)\b",
    r"\b(?:has|have) already (?:confirmed|agreed|consented|approved|authori[sz]ed) (?:to )?"
    r"(?:the |this )?(?:cancellation|cancel|deletion|transfer|change|request|action|it)\b",
    r"\b(?:call|invoke|run|execute|use|trigger) (?:the )?[a-z]+_[a-z_]+\b(?: (?:tool|function))?",
)
_ENCODED = _lexicon(
    r"\b(?:decode|decrypt|translate|convert) (?:this|the following|it)?\s*(?:from )?"
    r"(?:base64|base 64|rot13|rot-13|hex|binary)\b",
    r"\b(?:base64|base 64|rot13|rot-13|hex|binary)(?:[- ]encoded)? (?:instructions?|message|"
    r"command|text|prompt)\b",
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")

_INJECTION: tuple[tuple[InjectionKind, re.Pattern[str]], ...] = (
    ("markup", _MARKUP),
    ("override", _OVERRIDE),
    ("role", _ROLE),
    ("prompt_leak", _PROMPT_LEAK),
    ("planted", _PLANTED),
    ("encoded", _ENCODED),
)


def detect_injection(text: str) -> InjectionSignal | None:
    """Whether a text tries to instruct the agent: override its rules, recast it, read its prompt.

    Use it on caller turns, retrieved passages and tool results alike. Base64 runs in the text
    are decoded and screened too.

    Args:
        text: a caller turn, a passage, or a tool result.

    Returns:
        The first signal found; None if there is none.
    """
    norm = _normalise(text)
    signal = _screen(norm)
    if signal is not None:
        return signal
    # Callers do not speak base64, and passages carry it only as binary data: readable words
    # inside it are a message hidden from the screening.
    for run in _BASE64.findall(norm):
        decoded = _decode(run)
        if decoded and (len(decoded.split()) >= 3 or _screen(decoded) is not None):
            return InjectionSignal(kind="encoded", phrase=run)
    return None


def _screen(norm: str) -> InjectionSignal | None:
    """The first injection phrase in normalised text."""
    loud = _CASE_SENSITIVE.search(norm)
    if loud:
        return InjectionSignal(kind="markup", phrase=loud.group(0).strip(" .\n"))
    lower = norm.lower()
    for kind, lexicon in _INJECTION:
        match = lexicon.search(lower)
        if match:
            return InjectionSignal(kind=kind, phrase=match.group(0).strip())
    return None


def _decode(run: str) -> str | None:
    """Base64 text decoded, if it decodes to readable text."""
    try:
        raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    readable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
    return decoded if decoded and readable / len(decoded) > 0.95 else None


def _normalise(text: str) -> str:
    """NFKC, invisible characters dropped, curly quotes straightened, single spaces kept."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[ \t]+", " ", text)
