"""Reading recorded transcripts (JSON, CSV, vagent records) into replay cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import ROOT

from vagent.evals import EvalSuiteError
from vagent.evals.transcripts import caller_turns, read_transcripts, replay_cases

CSV = """conversation_id,speaker,text,tools,phone,ivr_authenticated,channel
c1,caller,I'd like to cancel my loan application.,,555-555-1212,true,voice
c1,agent,Do you want me to cancel case 12345?,cancel_case:awaiting_confirmation,,,
c1,caller,Yes.,,,,
c1,agent,Done.,cancel_case:executed,,,
c1,agent,Anything else?,,,,
c1,caller,Can I talk to a person?,,,,
c1,agent,Connecting you now.,,,,
c1,live_agent,"Hi, this is Andy.",,,,
c1,caller,Thanks Andy.,,,,
"""


def test_a_csv_transcript_becomes_caller_turns_with_the_recorded_replies(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8")

    [transcript] = read_transcripts(path)
    turns = caller_turns(transcript)

    assert transcript.caller.phone == "555-555-1212"
    assert transcript.caller.ivr_authenticated is True
    assert [t.say for t in turns] == [
        "I'd like to cancel my loan application.",
        "Yes.",
        "Can I talk to a person?",
    ]
    assert turns[1].reply == "Done. Anything else?"
    assert [(a.tool, a.status) for a in turns[1].actions] == [("cancel_case", "executed")]


def test_the_replay_stops_where_a_live_agent_took_over(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8")

    [case] = replay_cases([path])

    assert case.id == "replay-c1"
    assert [t.say for t in case.turns][-1] == "Can I talk to a person?"
    assert case.expect.backend is None


def test_a_vagent_conversation_record_can_be_replayed(tmp_path: Path) -> None:
    record = {
        "conversation_id": "call-42",
        "outcome": "resolved",
        "transcript": [
            {"speaker": "caller", "text": "Cancel my application.", "turn": 1},
            {"speaker": "agent", "text": "Cancel case 12345?", "turn": 1},
        ],
        "actions": [
            {"tool": "cancel_case", "args": {}, "status": "awaiting_confirmation", "turn": 1}
        ],
        "handoff": None,
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")

    [case] = replay_cases([path])
    check = case.turns[0].expect.tool_checks()[0]

    assert case.turns[0].expect.similar_to == "Cancel case 12345?"
    assert [(c.tool, c.status) for c in check.expected()] == [
        ("cancel_case", "awaiting_confirmation")
    ]


def test_a_csv_without_the_required_columns_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,who,said\n1,caller,hi\n", encoding="utf-8")

    with pytest.raises(EvalSuiteError, match=r"bad\.csv.*lacks \['conversation_id', 'speaker'"):
        read_transcripts(path)


def test_the_shipped_pilot_transcripts_are_read() -> None:
    files = sorted((ROOT / "evals/fha/transcripts").iterdir())

    cases = replay_cases(files)

    assert {c.id for c in cases} == {"replay-pilot-0388", "replay-pilot-0391", "replay-pilot-0412"}
