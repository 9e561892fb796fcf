"""The reference scenarios, end to end on the offline engine."""

from __future__ import annotations

from vagent import Agent, Caller

ALEX = Caller(channel="chat")
MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)


async def test_alex_is_recommended_the_203k_loan_for_buying_and_repairing(agent: Agent) -> None:
    await agent.run("alex", "Which type of FHA loan is right for me?", caller=ALEX)

    reply = await agent.run("alex", "I plan to buy a house and then fix it up.")

    assert "203(k)" in reply.text
    assert [c.article_id for c in reply.citations] == ["fha-203k"]


async def test_that_loan_resolves_to_the_203k_and_the_answer_cites_its_requirements(
    agent: Agent,
) -> None:
    await agent.run("alex", "Which type of FHA loan is right for me?", caller=ALEX)
    await agent.run("alex", "I plan to buy a house and then fix it up.")

    reply = await agent.run("alex", "What are the requirements for that loan?")

    assert "580" in reply.text
    assert "3.5 percent" in reply.text
    assert [(c.article_id, c.section) for c in reply.citations] == [("fha-203k", "Requirements")]


async def test_alex_conversation_ends_resolved_in_self_service(agent: Agent) -> None:
    for text in ("Which type of FHA loan is right for me?", "Thanks, that's all."):
        await agent.run("alex", text, caller=ALEX)

    record = await agent.end("alex")

    assert record.outcome == "resolved"
    assert record.handoff is None
    assert "Choosing an FHA loan" in record.summary


async def test_michelle_case_is_not_cancelled_before_she_confirms(agent: Agent) -> None:
    reply = await agent.run("m", "I'd like to cancel my loan application.", caller=MICHELLE)

    assert "cancel case 12345" in reply.text
    assert reply.pending is not None
    assert reply.executed == []
    assert (await agent.backend.get_case("12345")).status == "open"  # type: ignore[union-attr]


async def test_michelle_case_is_cancelled_after_her_explicit_yes(agent: Agent) -> None:
    await agent.run("m", "I'd like to cancel my loan application.", caller=MICHELLE)

    reply = await agent.run("m", "Yes, please cancel it.")

    assert [a.tool for a in reply.executed] == ["cancel_case"]
    assert "cancelled" in reply.text
    assert (await agent.backend.get_case("12345")).status == "cancelled"  # type: ignore[union-attr]


async def test_a_no_keeps_the_case_open(agent: Agent) -> None:
    await agent.run("m", "I'd like to cancel my loan application.", caller=MICHELLE)

    reply = await agent.run("m", "No, don't.")

    assert reply.executed == []
    assert reply.actions[0].status == "declined"
    assert (await agent.backend.get_case("12345")).status == "open"  # type: ignore[union-attr]


async def test_michelle_gets_one_text_to_the_number_on_file_after_confirming_it(
    agent: Agent,
) -> None:
    turns = ["I'd like to cancel my loan application.", "Yes.", "Can you text me a confirmation?"]
    for text in turns:
        await agent.run("m", text, caller=MICHELLE)

    reply = await agent.run("m", "Yes, that's the right number.")

    outbox = await agent.backend.outbox()
    assert "ending in 1212" in reply.text
    assert [(m.to, "12345" in m.body) for m in outbox] == [("555-555-1212", True)]


async def test_michelle_record_says_who_what_was_done_and_the_outcome(agent: Agent) -> None:
    for text in ("I'd like to cancel my loan application.", "Yes.", "Thank you, bye."):
        await agent.run("m", text, caller=MICHELLE)

    record = await agent.end("m")

    assert record.outcome == "resolved"
    assert "verified by the IVR" in record.summary
    assert "case 12345 (FHA loan application) cancelled" in record.summary
    assert "cancel_case" in record.intents


async def test_asking_for_a_person_hands_off_in_the_same_turn(agent: Agent) -> None:
    caller = Caller(phone="555-555-0147")
    await agent.run("d", "What is the status of my application?", caller=caller)

    reply = await agent.run("d", "I'd rather talk to a person, please.")

    assert reply.handoff is not None
    assert reply.handoff.reason == "caller_request"
    assert reply.handoff.identity_status == "identified"
    assert "lookup_case" in reply.handoff.intents
    assert [p.conversation_id for p in await agent.handoffs()] == ["d"]


async def test_an_unverified_caller_can_verify_with_case_number_and_zip(agent: Agent) -> None:
    caller = Caller(phone="555-555-0147")
    await agent.run("d", "What is the status of my application?", caller=caller)

    reply = await agent.run("d", "My case number is 67890 and my zip code is 60601.")

    assert "verified" in reply.text
    assert [a.tool for a in reply.executed] == ["verify_caller"]


async def test_a_wrong_zip_does_not_verify_the_caller(agent: Agent) -> None:
    await agent.run("d", "I want to verify my identity.", caller=Caller())

    reply = await agent.run("d", "My case number is 67890 and my zip code is 11111.")

    assert reply.executed == []
    assert "don't match" in reply.text
