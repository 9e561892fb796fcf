"""The conversation graph: every node and edge, in one place.

One invocation handles one caller turn::

    caller text -> screen -> retrieve -> respond -+-> act -> respond ...
                     |                            +-> check -> reply (-> hand_off if stuck)
                     |                            +-> hand_off -> await_live_agent (interrupt)
                     +--(crisis, a person, tier 3, falling mood)--> hand_off

and ``agent.end`` invokes it once more, straight to ``wrap_up``, which writes the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from vagent._acting import requested_calls
from vagent._nodes import Nodes
from vagent.state import ConversationState


def build_graph(nodes: Nodes) -> StateGraph[ConversationState]:
    """The uncompiled graph over ``nodes``; the agent compiles it with its checkpointer."""
    graph = StateGraph(ConversationState)
    graph.add_node("screen", nodes.screen)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("respond", nodes.respond)
    graph.add_node("act", nodes.act)
    graph.add_node("check", nodes.check)
    graph.add_node("hand_off", nodes.hand_off)
    graph.add_node("await_live_agent", nodes.await_live_agent)
    graph.add_node("wrap_up", nodes.wrap_up)

    graph.add_conditional_edges(START, begin)
    graph.add_conditional_edges("screen", after_screen)
    graph.add_edge("retrieve", "respond")
    graph.add_conditional_edges("respond", after_respond)
    graph.add_conditional_edges("act", _after_act(nodes))
    graph.add_conditional_edges("check", after_check)
    graph.add_conditional_edges("hand_off", after_hand_off)
    graph.add_edge("await_live_agent", END)
    graph.add_edge("wrap_up", END)
    return graph


def begin(state: ConversationState) -> Literal["screen", "wrap_up"]:
    """A caller turn starts at screen; the end of the conversation goes to wrap_up."""
    return "wrap_up" if state.get("ending") else "screen"


def after_screen(state: ConversationState) -> Literal["retrieve", "hand_off"]:
    """Straight to a person when the caller asked for one or is already waiting for one."""
    if state.get("handoff_reason") or state.get("handoff") is not None:
        return "hand_off"
    return "retrieve"


def after_respond(state: ConversationState) -> Literal["act", "check", "hand_off"]:
    """Tool calls go to the gate; a failed model goes to a person; words go to the check."""
    if state.get("handoff_reason"):
        return "hand_off"
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and requested_calls(last):
        return "act"
    return "check"


def after_check(state: ConversationState) -> Literal["hand_off", "__end__"]:
    """The reply is said; a turn that ran out of progress or patience goes on to a person."""
    return "hand_off" if state.get("handoff_reason") else "__end__"


def after_hand_off(state: ConversationState) -> Literal["await_live_agent", "__end__"]:
    """A new handoff waits for a live agent; a caller already waiting just hears so."""
    fresh = state.get("handoff_turn") == state.get("turn") and not state.get("live_agent")
    return "await_live_agent" if fresh else "__end__"


def _after_act(nodes: Nodes) -> Callable[[ConversationState], str]:
    """The routing after act, bounded by the per-turn tool call limit."""
    limit = nodes.deps.config.policy.max_tool_calls_per_turn

    def after_act(state: ConversationState) -> Literal["respond", "check", "hand_off"]:
        """Back to the model with the results, unless a tool handed off or the budget is spent."""
        if state.get("handoff_reason"):
            return "hand_off"
        if state.get("tool_calls_turn", 0) > limit:
            return "check"
        return "respond"

    return after_act
