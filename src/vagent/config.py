"""The agent's configuration: a TOML file validated by pydantic when the agent is built.

Relative paths in the file are resolved against the file's own folder, so a deployment folder
can be moved or checked out anywhere.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from vagent.errors import ConfigError

TOOL_NAMES = ("verify_caller", "lookup_case", "cancel_case", "send_sms", "hand_off")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Section):
    """An OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI, vLLM, Ollama)."""

    model: str
    """The model name the endpoint serves."""
    base_url: str | None = None
    """The endpoint's base URL; None means api.openai.com."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the key; never put the key itself in the file."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Seconds one attempt may take before it is retried; never more than is left of
    ``budget_s``."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Attempts per model call, counting the first, before the call fails."""
    budget_s: float = Field(default=20.0, gt=0)
    """Seconds the model calls of one turn may take in all, retries and waits included; a
    ``Retry-After`` longer than what is left fails the call at once instead of keeping the
    caller waiting, and the turn is answered another way (``on_failure``)."""
    on_failure: Literal["offline", "hand_off"] = "offline"
    """What answers a turn whose model call failed: ``offline`` the offline engine, whose reply
    says the agent is in a limited mode and how to reach a person; ``hand_off`` hands the
    conversation to a live agent (reason ``model_unavailable``)."""
    breaker_failures: int = Field(default=3, ge=1, le=100)
    """Failed model calls in a row, across all conversations, after which the endpoint is left
    alone and every turn gets the ``on_failure`` treatment at once."""
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """Seconds the endpoint is left alone; then one trial call tests whether it is back."""


class KnowledgeConfig(_Section):
    """Where the knowledge articles live, how they are read, and how passages are found."""

    articles: Path
    """Folder of articles: Markdown with front matter (id, title, source), HTML pages, and JSON
    or JSONL records (see ``fields``)."""
    collection: str = Field(default="articles", min_length=3, max_length=63)
    """Chroma collection name."""
    chroma_url: str | None = None
    """A Chroma server every worker shares, such as ``"http://chroma.internal:8000"``; None keeps
    the passages in an embedded store under ``state_dir``. Each worker ingests ``articles`` on
    start either way; only changed articles are embedded again."""
    passages: int = Field(default=3, ge=1, le=20)
    """Passages retrieved per turn."""
    min_score: float = Field(default=0.35, ge=0.0, le=1.0)
    """Passages whose hybrid score is below this are not shown to the model; when none is left,
    the agent says it does not know and offers a person. Calibrated on the IRS Direct File
    questions against CLINC150's out-of-scope questions (docs/knowledge.md)."""
    vector_weight: float = Field(default=0.7, ge=0.0, le=1.0)
    """The cosine similarity's share of the hybrid score; BM25 has the rest (1 is vectors only,
    0 is BM25 only)."""
    language_weights: dict[str, float] = {"es": 0.3}
    """``vector_weight`` for queries in a given language; the shipped embedding model is
    English-only, so Spanish leans on BM25."""
    language: str = "en"
    """Language of articles and queries that do not show another."""
    filters: dict[str, list[str]] = {}
    """Metadata every search is restricted to, such as ``{language = ["es"]}`` or
    ``{program = ["snap", "wic"]}``; a passage matches a field if it has any of the values."""
    budget_chars: int | None = Field(default=None, ge=1)
    """Most characters of passage text a turn sees; passages past it are dropped (the best one
    is always kept). None: only ``passages`` limits them."""
    fields: dict[str, str] = {}
    """Which fields of JSON and JSONL records hold each part of an article, where they differ
    from the field of the same name, such as ``{question = "q", answer = "a", url = "link"}``;
    dotted names reach into nested objects."""

    @field_validator("language_weights")
    @classmethod
    def _weights_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        outside = {language: w for language, w in value.items() if not 0.0 <= w <= 1.0}
        if outside:
            raise ValueError(f"weights must be between 0 and 1, got {outside!r}")
        return value

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = {"program", "audience", "language", "tags", "article_id"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"cannot filter on {unknown!r}; filter on any of {sorted(known)!r}")
        return value

    @field_validator("chroma_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
            raise ValueError(f"{value!r} is not a Chroma server URL such as 'http://host:8000'")
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"records", "id", "title", "question", "answer", "url", "updated", "language"}
        known |= {"program", "audience", "tags", "effective", "expires"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown record fields {unknown!r}; known ones are {sorted(known)!r}")
        return value


class BackendConfig(_Section):
    """Where tools act. The embedded default is the SQLite demo case system and SMS outbox."""

    kind: Literal["sqlite"] = "sqlite"
    """Backend kind."""
    seed: Path | None = None
    """JSON file of demo callers and cases loaded into an empty demo database."""


class PolicyConfig(_Section):
    """Rules the policy gate enforces, whatever the model asks."""

    verified_by: list[Literal["ivr", "verify_caller"]] = ["ivr", "verify_caller"]
    """What counts as a verified caller: the IVR said so, or verify_caller matched facts on file."""
    verify_with: list[Literal["zip_code", "date_of_birth"]] = ["zip_code", "date_of_birth"]
    """Facts on file, any one of which verifies a caller together with a case number."""
    max_verify_attempts: int = Field(default=3, ge=1, le=10)
    """Failed verifications before the conversation hands off."""
    max_tool_calls_per_turn: int = Field(default=4, ge=1, le=20)
    """Tool calls the model may request in one turn."""
    max_tool_calls_per_conversation: int = Field(default=40, ge=1)
    """Tool calls the model may request in one conversation."""
    tool_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds a tool's backend call may take; past that the caller is told the outcome is not
    known and is handed to a person (the idempotency key makes a later retry safe)."""


class GuardrailsConfig(_Section):
    """Caller data protection and reply checks."""

    vault_retention_hours: float = Field(default=0.0, ge=0.0)
    """Hours the PII vault keeps a conversation's values after it ends; 0 drops them at once."""
    max_reply_chars: int = Field(default=600, ge=80)
    """Longest reply, cut at a sentence end; replies may be read aloud."""
    check_numbers: bool = True
    """Replace a reply whose numbers appear in no passage, tool result or caller turn."""


class HandoffConfig(_Section):
    """When a conversation goes to a live agent, and where the packet is delivered."""

    tier3_topics: list[str] = []
    """Phrases of complex, sensitive or emotionally charged topics that always go to a person."""
    no_progress_turns: int = Field(default=3, ge=1)
    """Consecutive turns with nothing answered or done before handing off."""
    max_refusals: int = Field(default=3, ge=1)
    """Policy refusals in one conversation before handing off."""
    sentiment_threshold: float = Field(default=-0.5, ge=-1.0, le=1.0)
    """Mean sentiment of the recent caller turns below which the conversation hands off."""
    sentiment_window: int = Field(default=3, ge=1, le=24)
    """Caller turns the sentiment mean is taken over (the checkpoint keeps the last 24)."""
    webhook_url: str | None = None
    """A contact-center platform's URL to POST each handoff packet to, besides the queue."""


class ToolsConfig(_Section):
    """Which tools exist for the model, and extra example phrases for the offline engine."""

    enabled: list[str] = list(TOOL_NAMES)
    """Tools the model may call; the others do not exist for it."""
    examples: dict[str, list[str]] = {}
    """Extra caller phrases per tool, added to the tool's own examples."""

    @field_validator("enabled")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(TOOL_NAMES))
        if unknown:
            raise ValueError(f"unknown tools {unknown!r}; known tools are {list(TOOL_NAMES)!r}")
        return value


class AgentConfig(_Section):
    """One deployment of the virtual agent."""

    name: str
    """The agent's name, as the caller hears it."""
    scope: str
    """One sentence on what the agent can help with; said when a request is out of scope."""
    state_dir: Path = Path(".vagent")
    """Folder for conversation state, audit log, records and the embedded stores."""
    database_url: str | None = None
    """A ``postgresql://`` URL for everything workers must share: conversation checkpoints, the
    PII vault, the audit log, records and handoff queue (``pip install 'vagent[postgres]'``).
    Add ``?options=-csearch_path%3DNAME`` to keep them in schema NAME, created if missing. None
    keeps them in SQLite files under ``state_dir``."""
    case_id_pattern: str = r"[A-Z0-9-]{4,20}"
    """Regular expression a case number must match in full."""
    model: ModelConfig | None = None
    """The chat endpoint; absent means the deterministic offline engine."""
    knowledge: KnowledgeConfig
    backend: BackendConfig = BackendConfig()
    policy: PolicyConfig = PolicyConfig()
    tools: ToolsConfig = ToolsConfig()
    guardrails: GuardrailsConfig = GuardrailsConfig()
    handoff: HandoffConfig = HandoffConfig()
    base_dir: Path = Field(default=Path("."), exclude=True)
    """Folder that relative paths are resolved against (the config file's folder)."""

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            # Only the scheme is shown: the rest of a URL may hold a password.
            scheme = value.split("://", 1)[0] if "://" in value else "(none)"
            raise ValueError(f"a URL of scheme {scheme!r} is not a postgresql:// URL")
        return value

    @field_validator("case_id_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    def resolve(self, path: Path) -> Path:
        """Return ``path`` resolved against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def state_path(self) -> Path:
        """The resolved state directory."""
        return self.resolve(self.state_dir)


def load_config(source: str | Path | AgentConfig | dict[str, object]) -> AgentConfig:
    """Load and validate an agent configuration.

    Args:
        source: a path to a TOML file, an already built ``AgentConfig``, or a dict of the same
            shape as the TOML file (relative paths then resolve against the current folder).

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, or does not match the schema;
            the message names each wrong key by its path (``knowledge.passages``), what it
            should be, and what was found.
    """
    if isinstance(source, AgentConfig):
        return source
    if isinstance(source, dict):
        return _validate(source, origin="<dict>", base_dir=Path.cwd())
    if not isinstance(source, str | Path):
        raise ConfigError(
            f"cannot load a config from {type(source).__name__}; "
            "pass the agent.toml path, an AgentConfig or a dict"
        )
    path = Path(source)
    return _validate(_read_toml(path), origin=str(path), base_dir=path.resolve().parent)


def _read_toml(path: Path) -> dict[str, object]:
    """The parsed TOML file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {str(path)!r}; pass the agent.toml path"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {exc.strerror}; pass a readable agent.toml"
        ) from None


def _validate(data: dict[str, object], *, origin: str, base_dir: Path) -> AgentConfig:
    """Validate a parsed config, turning pydantic's errors into one readable ConfigError."""
    try:
        return AgentConfig.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems = "".join(f"\n  {_problem(err)}" for err in exc.errors())
        raise ConfigError(
            f"config {origin!r} is invalid; fix these keys and build the agent again:{problems}"
        ) from None


# What each pydantic type error expects, in the words of the TOML file.
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "an array",
    "dict": "a table",
    "model": "a table",
    "path": "a path (a string)",
}
_TOML_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    list: "array",
    dict: "table",
}


def _problem(err: ErrorDetails) -> str:
    """One line of a config error: the key's path, what is wrong, and what was found."""
    where = _key_path(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key{_suggestion(err['loc'])}"
    if kind == "missing":
        return f"{where}: required key is missing"
    expected = _EXPECTED.get(kind.removesuffix("_type").removesuffix("_parsing"))
    if expected is not None and kind.endswith(("_type", "_parsing")):
        return f"{where}: expected {expected}, got {_found(err['input'])}"
    if kind in ("value_error", "assertion_error"):
        # Our own validators already name the offending value and the fix.
        return f"{where}: {err['msg'].removeprefix('Value error, ')}"
    return f"{where}: {err['msg']}, got {_found(err['input'])}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key_path(loc: tuple[int | str, ...]) -> str:
    """A key's path as written about a TOML file: ``policy.verified_by[0]``."""
    path = ""
    for part in loc:
        if isinstance(part, int) and path:
            path += f"[{part}]"
        else:
            path += f".{_key(part)}" if path else _key(part)
    return path or "(the top level)"


def _key(part: int | str) -> str:
    """One key as written in TOML: bare when it can be, quoted (and escaped) otherwise."""
    text = str(part)
    return text if _BARE_KEY.fullmatch(text) else json.dumps(text)


def _suggestion(loc: tuple[int | str, ...]) -> str:
    """The known key closest to an unknown one, or the known keys of its table."""
    known = _known_keys(loc[:-1])
    if not known:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; the known keys here are {', '.join(known)}"


def _known_keys(table: tuple[int | str, ...]) -> list[str]:
    """The keys a table of the config may have; empty if ``table`` is not one of its tables."""
    model: type[BaseModel] = AgentConfig
    for part in table:
        field = model.model_fields.get(str(part))
        section = _table_type(field.annotation) if field is not None else None
        if section is None:
            return []
        model = section
    return sorted(name for name, field in model.model_fields.items() if not field.exclude)


def _table_type(annotation: object) -> type[BaseModel] | None:
    """The config section a field holds, if it holds one (``ModelConfig | None`` does)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _found(value: object) -> str:
    """A found value for a message: its repr, cut short, and its TOML type."""
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:36] + "..."
    kind = next((name for t, name in _TOML_TYPES.items() if isinstance(value, t)), None)
    return f"{shown} ({kind or type(value).__name__})"
