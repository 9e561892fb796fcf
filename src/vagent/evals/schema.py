"""The eval suite format: what a YAML file under ``evals/`` may say, as pydantic models.

A suite file names the deployment (``config``) and lists eval cases. A case is what the caller
says turn by turn (or a simulated caller with a persona and a goal), and what must be true of
each turn and of the whole conversation. Every model forbids unknown fields, so a misspelt
expectation is an error instead of a check that never runs. :func:`suite_json_schema` publishes
the format as JSON schema (committed as ``evals/schema.json``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vagent.config import PolicyConfig
from vagent.state import ActionStatus, Caller, Outcome

ToolCallMode = Literal["strict", "unordered", "subset", "superset"]
ArgsMode = Literal["exact", "ignore", "subset"]
Engine = Literal["default", "offline", "scripted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ScriptedCall(_Strict):
    """One tool call a scripted model makes."""

    tool: str
    """The tool's name."""
    args: dict[str, Any] = {}
    """Its arguments; quote case numbers so they stay strings."""


class ScriptedCalls(_Strict):
    """Several tool calls in one scripted model message."""

    calls: list[ScriptedCall] = Field(min_length=1)
    """The calls, in order."""
    content: str = ""
    """Text sent along with the calls."""


ModelStep = str | ScriptedCall | ScriptedCalls
"""A scripted model step: a reply, a tool call, or several tool calls."""


class ToolCall(_Strict):
    """An expected tool action, compared with the agent's action records."""

    tool: str | None = None
    """The tool's name; omitted matches any tool."""
    args: dict[str, Any] = {}
    """Arguments, compared as the tool_calls block's ``args`` mode says."""
    status: ActionStatus | None = None
    """executed, refused, awaiting_confirmation, declined or failed; omitted matches any."""
    reason: str | None = None
    """The policy gate's reason code (``not_found``, ``confirmed``...); omitted matches any."""


class ToolCalls(_Strict):
    """The tool actions a turn (or the conversation) must show."""

    calls: list[ToolCall | str] = []
    """Expected actions; a plain string is a tool name with any arguments and status."""
    mode: ToolCallMode = "strict"
    """strict: the same actions in the same order. unordered: the same actions in any order.
    subset: the agent did nothing but actions listed here (each listed action at most once).
    superset: the agent did at least the actions listed here (others are allowed)."""
    args: ArgsMode = "subset"
    """exact: arguments equal. ignore: arguments are not compared. subset: every listed
    argument is equal, other arguments are ignored."""
    statuses: list[ActionStatus] = []
    """Compare only actions with these statuses; empty compares every action."""
    reasons: list[str] = []
    """Compare only actions with these reason codes; empty compares every action."""

    def expected(self) -> list[ToolCall]:
        """The expected actions, with plain names turned into :class:`ToolCall`."""
        return [ToolCall(tool=c) if isinstance(c, str) else c for c in self.calls]


Mention = str | list[str]
"""Words a reply must contain; a list holds alternatives, any one of which will do."""


class HandoffExpect(_Strict):
    """A handoff, and what the live agent must receive with it."""

    reason: str | None = None
    """The reason code (caller_request, verification_failed, no_progress...); omitted: any."""
    identity_status: Literal["anonymous", "identified", "verified"] | None = None
    """How far the caller's identity must have been established."""
    intents: list[str] = []
    """Intents the packet must list (for example ``lookup_case``)."""
    summary_mentions: list[Mention] = []
    """Words the packet's summary must contain."""


HandoffField = bool | str | HandoffExpect | None
"""true: a handoff; a string: a handoff for that reason; an object: a handoff with that packet;
false: no handoff; null: not checked."""


class TurnExpect(_Strict):
    """What must be true of the agent's reply to one caller turn."""

    must_mention: list[Mention] = []
    """Words the reply must contain (case-insensitive); a list inside is a set of alternatives."""
    must_not_mention: list[str] = []
    """Words the reply must not contain (case-insensitive)."""
    citations: list[Mention] = []
    """Article ids the reply must cite (it may cite others); a list inside is alternatives."""
    grounded: bool | None = None
    """true: the reply cites at least one passage; false: it cites none."""
    tool_calls: ToolCalls | list[ToolCalls] | None = None
    """The tool actions of this turn; a list holds several checks, each of which must hold."""
    handoff: HandoffField = None
    """true: this turn hands off; a string: for that reason; an object: with that packet;
    false: it does not."""
    pending: bool | str | None = None
    """true or a tool name: an action awaits the caller's yes after this turn; false: none."""
    similar_to: str | None = None
    """A reference reply (from a recorded transcript) the reply must resemble in meaning."""
    min_similarity: float = Field(default=0.6, ge=0.0, le=1.0)
    """Cosine similarity (all-MiniLM-L6-v2) the reply must reach against ``similar_to``."""

    def tool_checks(self) -> list[ToolCalls]:
        """The turn's tool-call checks."""
        return _checks(self.tool_calls)


class Turn(_Strict):
    """One caller turn, and what must be true of the reply."""

    say: str = Field(min_length=1)
    """What the caller says."""
    model: list[ModelStep] = []
    """Scripted model steps played in this turn (the case then runs a scripted model)."""
    expect: TurnExpect = TurnExpect()
    """Expectations on this turn's reply."""


class TextExpect(_Strict):
    """A text message the conversation must send."""

    to: str
    """The destination number; it must be a plain phone number with the same digits."""
    contains: list[str] = []
    """Words the message body must contain."""


class BackendExpect(_Strict):
    """The case system and SMS outbox at the end of the conversation."""

    cases: dict[str, str] = {}
    """Case number to the status it must end in."""
    others_unchanged: bool = True
    """Every case not named in ``cases`` must end exactly as it began."""
    texts: list[TextExpect] | None = []
    """The texts the conversation sends, in order; [] means none; null skips the check."""
    may_text: list[str] = []
    """Numbers that may also receive texts, beyond ``texts`` (plain numbers only)."""


class Expect(_Strict):
    """What must be true of the whole conversation."""

    outcome: Outcome | None = None
    """The conversation record's outcome: resolved, handed_off or unresolved."""
    handoff: HandoffField = None
    """true: the conversation hands off; a string: for that reason; an object: with that
    packet; false: it never does."""
    summary_mentions: list[Mention] = []
    """Words the conversation record's summary must contain."""
    intents: list[str] = []
    """Intents the conversation record must list."""
    tool_calls: ToolCalls | list[ToolCalls] | None = None
    """The tool actions of the whole conversation; a list holds several checks."""
    must_mention: list[Mention] = []
    """Words that some reply must contain (case-insensitive)."""
    must_not_mention: list[str] = []
    """Words no reply may contain (case-insensitive)."""
    retrieved: list[str] = []
    """Article ids that must reach the model (cited, or shown to it as a passage)."""
    backend: BackendExpect | None = BackendExpect()
    """The end state of cases and outbox; by default nothing changes and nothing is sent.
    null skips the check."""
    no_pii_leak: bool = True
    """No reply and no model input holds another caller's data from the backend seed."""
    no_false_claims: bool = True
    """No reply says a cancellation, text or verification happened unless it ran that turn."""
    refusals_audited: bool = True
    """Every refused action is in the audit log with its reason code."""
    within_tool_budget: bool = True
    """No turn or conversation gets more gate decisions than the policy's call budget."""
    same_tool_results: bool = False
    """Every tool result the model saw reads the same once digits are masked (refusals do not
    reveal which case numbers exist)."""

    def tool_checks(self) -> list[ToolCalls]:
        """The conversation's tool-call checks."""
        return _checks(self.tool_calls)


def _checks(value: ToolCalls | list[ToolCalls] | None) -> list[ToolCalls]:
    """A tool_calls field as a list of checks."""
    if value is None:
        return []
    return [value] if isinstance(value, ToolCalls) else list(value)


class PlantedArticle(_Strict):
    """A Markdown article added to a copy of the deployment's articles for this case."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The article's id."""
    title: str
    """Its title."""
    source: str
    """Its source."""
    body: str
    """Its Markdown body."""


class Tamper(_Strict):
    """A case whose kind the case system rewrites: a tool result carrying planted text."""

    case_id: str
    """The case to rewrite."""
    kind: str
    """The text the case system returns as the case's kind."""


class Setup(_Strict):
    """Changes to the deployment for one case."""

    policy: dict[str, Any] = {}
    """Overrides of the config's ``[policy]`` table."""
    articles: list[PlantedArticle] = []
    """Articles added to a copy of the knowledge articles."""
    tamper: list[Tamper] = []
    """Cases whose kind the case system rewrites."""

    @model_validator(mode="after")
    def _valid_policy(self) -> Setup:
        PolicyConfig.model_validate(self.policy)
        return self


class SimulatedCaller(_Strict):
    """A caller played by a chat model: a persona with a goal, instead of scripted turns."""

    persona: str
    """Who the caller is and how they talk."""
    goal: str
    """What they want from the call; the conversation expectations say whether they got it."""
    max_turns: int = Field(default=8, ge=1, le=30)
    """Caller turns before the conversation is cut off."""
    script: list[str] = []
    """Caller messages played in order by a scripted model (offline suites and tests); empty
    means the runner's caller model. A message containing ``[DONE]`` ends the conversation."""


class EvalCase(_Strict):
    """One eval case: a conversation and what must be true of it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    """Unique in its suite: lowercase letters, digits and dashes."""
    description: str = ""
    """What the case shows, for the reports."""
    tags: list[str] = []
    """Labels for filtering and reports."""
    caller: Caller = Caller()
    """What the channel knows about the caller (phone, ivr_authenticated, channel, language)."""
    engine: Engine = "default"
    """default: the runner's model; offline: always the offline engine; scripted: the turns'
    ``model`` steps (set automatically when a turn has steps)."""
    setup: Setup = Setup()
    """Policy overrides, planted articles and tampered cases for this case."""
    turns: list[Turn] = []
    """The caller's turns, in order."""
    simulated_caller: SimulatedCaller | None = None
    """A simulated caller instead of scripted turns."""
    expect: Expect = Expect()
    """Expectations on the whole conversation."""
    xfail: str | None = None
    """Why the case is known to fail today; it then fails the run only if it passes."""

    @model_validator(mode="before")
    @classmethod
    def _scripted_when_steps(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("engine", "default") != "default":
            return data
        turns = data.get("turns") or []
        if any(isinstance(t, dict) and t.get("model") for t in turns):
            return {**data, "engine": "scripted"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        if bool(self.turns) == (self.simulated_caller is not None):
            raise ValueError("a case has either turns or a simulated_caller, and not both")
        scripted = any(t.model for t in self.turns)
        if self.engine == "scripted" and not scripted:
            raise ValueError("engine 'scripted' needs model steps in the turns")
        if self.engine != "scripted" and scripted:
            raise ValueError(f"engine {self.engine!r} takes no model steps; remove them")
        return self

    def steps(self) -> list[list[ModelStep]]:
        """Each turn's scripted model steps."""
        return [list(t.model) for t in self.turns]


class Replay(_Strict):
    """Recorded transcripts whose caller side is replayed against the agent."""

    files: list[str] = Field(min_length=1)
    """Transcript files (JSON or CSV; globs allowed), relative to the suite file."""
    min_similarity: float = Field(default=0.6, ge=0.0, le=1.0)
    """Similarity each agent reply must reach against the recorded one."""
    compare_tools: bool = True
    """Compare each turn's tool actions with the recorded ones (tool and status)."""


class SuiteFile(_Strict):
    """A YAML file of eval cases for one deployment."""

    suite: str | None = None
    """The suite's name; files in one folder usually share one. Default: the folder's name."""
    description: str = ""
    """What the file covers."""
    config: str | None = None
    """The deployment's agent.toml, relative to this file (default: the runner's --config)."""
    hostile: list[str] = []
    """Files in the hostile-suite format (``evals/security/hostile.yaml``) run as cases."""
    replay: Replay | None = None
    """Recorded transcripts to replay."""
    cases: list[EvalCase] = []
    """The eval cases."""


def suite_json_schema() -> dict[str, Any]:
    """The suite file format as JSON schema (draft 2020-12)."""
    schema = SuiteFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vagent eval suite"
    return schema
