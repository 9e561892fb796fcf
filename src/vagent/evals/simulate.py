"""A simulated caller: a chat model playing a persona with a goal against the agent.

The caller model sees the agent's replies as the other side of the call and answers one
message at a time; ``[DONE]`` in its message ends the call after that message is said. When
the conversation breaks because of the simulated caller, not the agent, the trial is flagged
``caller_broke`` instead of failed: the caller's model failed or ran out of script, said
nothing, or hung up while the agent was still waiting for a plain yes to an action it had
asked the caller to confirm.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import SecretStr

from vagent.evals.harness import Bench
from vagent.evals.play import Conversation, finish, snapshot, tracked_cases
from vagent.evals.schema import EvalCase, SimulatedCaller
from vagent.models.openai import OpenAIChatModel
from vagent.state import Reply
from vagent.testing import ScriptedModel

STOP = "[DONE]"
"""What the simulated caller says to end the call."""
OPENING = "(The call connects. Say what you are calling about.)"
PROMPT = """You are a member of the public contacting {agent}. {persona}
Your goal: {goal}
Speak only as the caller, one short message at a time, in plain words. Answer the agent's
questions truthfully from your persona; if asked to confirm an action you want, say "Yes."
When your goal is met, or the agent cannot help, say goodbye and end your message with {stop}."""

CallerSpec = str | Callable[[], BaseChatModel]
"""A model name (served by the OpenAI-compatible endpoint) or a factory of chat models."""


def caller_model(
    simulated: SimulatedCaller,
    spec: CallerSpec | None,
    *,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
) -> BaseChatModel | None:
    """The model that plays the caller: the case's script, the runner's, or None."""
    if simulated.script:
        return ScriptedModel(script=list(simulated.script))
    if spec is None:
        return None
    if callable(spec):
        return spec()
    key = os.environ.get(api_key_env)
    return OpenAIChatModel(model=spec, base_url=base_url, api_key=SecretStr(key) if key else None)


async def play_simulated(
    case: EvalCase, bench: Bench, conversation_id: str, model: BaseChatModel
) -> Conversation:
    """Let the simulated caller talk to the agent until it is done or out of turns."""
    simulated = case.simulated_caller
    assert simulated is not None
    tracked = tracked_cases(case, bench)
    played = Conversation(before=await snapshot(bench.backend, tracked))
    prompt = PROMPT.format(
        agent=bench.config.name, persona=simulated.persona, goal=simulated.goal, stop=STOP
    )
    history: list[BaseMessage] = [SystemMessage(prompt)]
    heard = OPENING
    for _ in range(simulated.max_turns):
        history.append(HumanMessage(heard))
        said, done, problem = await _next_message(model, history)
        if problem is not None:
            played.caller_problem = problem
            break
        history.append(AIMessage(said or STOP))
        if said:
            reply = await bench.agent.run(conversation_id, said, caller=case.caller)
            played.said.append(said)
            played.replies.append(reply)
            heard = reply.text
            if reply.handoff is not None:
                break
        if done:
            played.caller_problem = hung_up_early(played.replies)
            break
    await finish(bench, conversation_id, played, tracked)
    return played


async def _next_message(
    model: BaseChatModel, history: list[BaseMessage]
) -> tuple[str, bool, str | None]:
    """The caller's next words, whether it is done, and what went wrong with the caller."""
    try:
        message = await model.ainvoke(history)
    except Exception as exc:
        return "", True, f"the simulated caller's model failed: {exc}"
    text = str(message.content)
    done = STOP in text
    said = " ".join(text.replace(STOP, " ").split())
    if not said and not done:
        return "", False, "the simulated caller said nothing"
    return said, done, None


def hung_up_early(replies: list[Reply]) -> str | None:
    """Why ending the call now is the caller's fault, or None."""
    if not replies:
        return "the simulated caller ended the call before saying anything"
    last = replies[-1]
    if last.pending is not None:
        return (
            f"the simulated caller hung up while the agent waited for its yes to "
            f"{last.pending.rendering!r}; the action did not run because of the caller"
        )
    unclear = [a for a in last.actions if a.status == "declined" and a.reason == "not_confirmed"]
    if unclear:
        return (
            f"the simulated caller answered the agent's confirmation of {unclear[0].tool} "
            "with something other than a plain yes or no, then hung up"
        )
    return None
