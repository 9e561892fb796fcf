"""Bad input through the turn API: every odd text is answered, every coding mistake is named.

One agent serves the whole module (building one takes about a second); each test and each
hypothesis example uses conversation ids of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import FHA

from vagent import Agent, Caller, ConversationError, load_config
from vagent.errors import TurnArgumentError
from vagent.guardrails.screen import MAX_TURN_CHARS, clean
from vagent.records import AuditEntry

QUESTION = "Which type of FHA loan is right for me?"
STATUS = "What is the status of case 12345?"
MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)
NOT_HEARD = "didn't catch"
VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_ids = itertools.count()


def fresh_id(prefix: str = "b") -> str:
    """A conversation id no other test or example uses."""
    return f"{prefix}-{next(_ids)}"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The FHA agent on the offline engine, shared by the module's tests."""
    state = tmp_path_factory.mktemp("bad-input") / "state"
    built = Agent.from_config(load_config(FHA).model_copy(update={"state_dir": state}))
    yield built
    built.close()


def with_history(agent: Agent) -> str:
    """A conversation with one turn that ran a tool, so it has a transcript and an audit log."""
    conversation_id = fresh_id("h")
    reply = agent.run_sync(conversation_id, STATUS, caller=MICHELLE)
    assert [a.tool for a in reply.executed] == ["lookup_case"]
    return conversation_id


def audit(agent: Agent, conversation_id: str) -> list[AuditEntry]:
    """The conversation's audit log."""
    return asyncio.run(agent.audit_log(conversation_id))


def caller_turns(agent: Agent, conversation_id: str) -> list[int]:
    """End the conversation and list the turns of its caller entries."""
    record = agent.end_sync(conversation_id)
    return [entry.turn for entry in record.transcript if entry.speaker == "caller"]


# --- text the caller sends ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", " ", " \t\n\r ", "\x00\x00", "\u200b\u200d\ufeff", "\x1b\x07\x7f", "\ud800\udfff"],
    ids=["empty", "space", "whitespace", "nul", "zero-width", "control", "surrogates"],
)
def test_text_with_nothing_to_hear_gets_asked_again_and_takes_no_turn(
    agent: Agent, text: str
) -> None:
    conversation_id = with_history(agent)

    reply = agent.run_sync(conversation_id, text)

    assert NOT_HEARD in reply.text
    assert reply.turn == 1
    assert caller_turns(agent, conversation_id) == [1]


def test_text_over_the_maximum_is_cut_at_a_word_and_still_answered(agent: Agent) -> None:
    conversation_id = fresh_id()
    text = QUESTION + " " + "loan " * 20_000

    reply = agent.run_sync(conversation_id, text)
    record = agent.end_sync(conversation_id)

    assert reply.turn == 1
    assert reply.text
    said = record.transcript[0].text
    assert len(said) <= MAX_TURN_CHARS
    assert said.startswith(QUESTION)
    assert said.endswith(" loan")


def test_a_hundred_kilobytes_without_a_space_is_cut_and_answered(agent: Agent) -> None:
    conversation_id = fresh_id()

    reply = agent.run_sync(conversation_id, "x" * 100_000)
    record = agent.end_sync(conversation_id)

    assert reply.text
    assert len(record.transcript[0].text) == MAX_TURN_CHARS


@pytest.mark.parametrize(
    "text",
    [
        "hi\x00 there, which FHA loan\x1b[31m is right?",
        "caf\udce9 loan question",
        b"caf\xe9 which loan?".decode("utf-8", errors="surrogateescape"),
        "\ud83d loan",
        "Привет, hello, 你好, مرحبا: which FHA loan?",
        "🙂🏠 which loan is right for me? 👍🏽👨‍👩‍👧",
        "\u202eWhich FHA loan is right for me?",
        "1" * 5000,
        "5 5 5 1 2 1 2 " * 300,
        "😡" * 4000,
    ],
    ids=[
        "control-chars",
        "lone-surrogate",
        "invalid-utf8",
        "half-emoji",
        "mixed-scripts",
        "emoji",
        "bidi-override",
        "long-digits",
        "spaced-digits",
        "emoji-flood",
    ],
)
def test_odd_text_is_cleaned_and_answered_without_losing_the_conversation(
    agent: Agent, text: str
) -> None:
    conversation_id = with_history(agent)
    audit_before = audit(agent, conversation_id)

    reply = agent.run_sync(conversation_id, text)
    after = agent.run_sync(conversation_id, QUESTION)

    assert reply.turn == 2
    assert reply.text
    assert after.turn == 3
    assert after.citations
    assert audit(agent, conversation_id)[: len(audit_before)] == audit_before
    assert caller_turns(agent, conversation_id) == [1, 2, 3]


def test_no_control_character_or_surrogate_reaches_the_record(agent: Agent) -> None:
    conversation_id = fresh_id()

    agent.run_sync(conversation_id, "which\x00 loan\udce9 is\u200b right\x1b for me?")
    record = agent.end_sync(conversation_id)

    said = record.transcript[0].text
    assert said == "which loan is right for me?"
    assert not any(unicodedata.category(ch).startswith("C") for ch in said)


# --- coding mistakes in the channel ---------------------------------------------------------


def test_bytes_for_text_are_refused_with_the_decode_fix(agent: Agent) -> None:
    conversation_id = with_history(agent)

    with pytest.raises(TurnArgumentError, match=r"got bytes; decode it first") as caught:
        agent.run_sync(conversation_id, b"which loan?")  # type: ignore[arg-type]

    assert isinstance(caught.value, TypeError)
    assert caught.value.conversation_id == conversation_id
    assert caller_turns(agent, conversation_id) == [1]


@pytest.mark.parametrize("text", [None, 42, ["which loan?"]], ids=["none", "int", "list"])
def test_text_that_is_not_a_str_is_refused_naming_the_type(agent: Agent, text: object) -> None:
    with pytest.raises(TurnArgumentError, match=rf"text must be a str, got {type(text).__name__}"):
        agent.run_sync(fresh_id(), text)  # type: ignore[arg-type]


def test_a_caller_that_is_not_a_caller_object_is_refused(agent: Agent) -> None:
    with pytest.raises(TurnArgumentError, match=r"caller must be a vagent\.Caller or None"):
        agent.run_sync(fresh_id(), QUESTION, caller={"phone": "555"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad_id", "problem"),
    [
        ("", "it is empty"),
        ("a" * 129, "it has 129 characters"),
        ("-leading", "it starts with '-'"),
        ("x/../y", "it contains '/'"),
        ("id\n2", "it contains '\\\\n'"),
        ("caf\u00e9", "it contains 'é'"),
        ("id\udce9", "it contains '\\\\udce9'"),
    ],
)
def test_a_malformed_conversation_id_names_the_problem_and_the_rule(
    agent: Agent, bad_id: str, problem: str
) -> None:
    with pytest.raises(ConversationError, match=problem) as caught:
        agent.run_sync(bad_id, QUESTION)

    assert "use 1 to 128 letters, digits or ._:@-" in str(caught.value)
    assert len(caught.value.conversation_id) <= 40


def test_a_long_conversation_id_is_cut_short_in_the_message(agent: Agent) -> None:
    with pytest.raises(ConversationError) as caught:
        agent.run_sync("a" * 5000, QUESTION)

    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("bad_id", [None, 7, b"abc"], ids=["none", "int", "bytes"])
def test_a_conversation_id_that_is_not_a_str_is_a_type_error(agent: Agent, bad_id: object) -> None:
    with pytest.raises(TurnArgumentError, match=r"conversation id must be a str"):
        agent.run_sync(bad_id, QUESTION)  # type: ignore[arg-type]


def test_ending_with_a_malformed_id_is_refused_like_a_turn(agent: Agent) -> None:
    with pytest.raises(ConversationError, match="conversation id"):
        agent.end_sync("bad id")


@pytest.mark.parametrize(
    ("live_agent", "messages", "problem"),
    [
        ("", [], "live_agent must be a non-empty str"),
        (None, [], "live_agent must be a non-empty str, got NoneType"),
        ("andy", "Hi, this is Andy.", "wrap a single message in a list"),
        ("andy", [b"Hi"], "messages must all be str"),
    ],
    ids=["empty-live-agent", "no-live-agent", "str-messages", "bytes-message"],
)
def test_resume_refuses_arguments_of_the_wrong_type(
    agent: Agent, live_agent: object, messages: object, problem: str
) -> None:
    with pytest.raises(TurnArgumentError, match=problem):
        agent.resume_sync(fresh_id(), live_agent=live_agent, messages=messages)  # type: ignore[arg-type]


def test_a_live_agents_messages_are_cleaned_into_the_record(agent: Agent) -> None:
    conversation_id = fresh_id()
    agent.run_sync(conversation_id, "I want to talk to a real person.")

    agent.resume_sync(conversation_id, live_agent="andy\x00", messages=["Hi\udce9 there", " "])
    record = agent.end_sync(conversation_id)

    assert record.live_agent == "andy"
    said = [e.text for e in record.transcript if e.speaker == "live_agent"]
    assert said == ["Hi there"]


# --- properties -------------------------------------------------------------------------------

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
ODD_CHARS = st.sampled_from(["\x00", "\x1b", "\u200b", "\u202e", "\ufeff", "\n", "\t", "🙂"])
ANY_TEXT = st.text(st.one_of(st.characters(), SURROGATES, ODD_CHARS), max_size=300)
INVISIBLE = st.text(
    st.one_of(
        st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Co"]),
        SURROGATES,
    ),
    max_size=50,
)


@PROPERTY
@given(text=ANY_TEXT)
def test_any_text_gets_a_reply_and_at_most_one_turn(agent: Agent, text: str) -> None:
    conversation_id = fresh_id("p")
    agent.run_sync(conversation_id, QUESTION)

    reply = agent.run_sync(conversation_id, text)

    heard = bool(clean(text))
    assert reply.text
    assert reply.turn == (2 if heard else 1)
    assert caller_turns(agent, conversation_id) == ([1, 2] if heard else [1])


@PROPERTY
@given(text=INVISIBLE)
def test_text_of_only_invisible_characters_is_not_heard(agent: Agent, text: str) -> None:
    reply = agent.run_sync(fresh_id("p"), text)

    assert NOT_HEARD in reply.text
    assert reply.turn == 0


@PROPERTY
@given(bad_id=st.one_of(st.text(max_size=200), st.binary(max_size=10), st.integers(), st.none()))
def test_any_conversation_id_is_taken_or_refused_with_a_conversation_error(
    agent: Agent, bad_id: object
) -> None:
    if isinstance(bad_id, str) and VALID_ID.fullmatch(bad_id):
        assert agent.run_sync(bad_id, QUESTION).conversation_id == bad_id
        return

    with pytest.raises(ConversationError, match="conversation id"):
        agent.run_sync(bad_id, QUESTION)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(text=st.one_of(ANY_TEXT, ANY_TEXT.map(lambda text: text * 40)))
def test_cleaning_is_bounded_visible_and_idempotent(text: str) -> None:
    cleaned = clean(text)

    assert len(cleaned) <= MAX_TURN_CHARS
    assert cleaned == cleaned.strip()
    assert not any(unicodedata.category(ch).startswith("C") for ch in cleaned)
    assert clean(cleaned) == cleaned
