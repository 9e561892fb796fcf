"""Converting between LangChain messages and the chat-completions wire format."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import tool_call
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
)

from vagent.models._retry import BadResponse

UNPARSABLE = "unparsable_arguments"
"""The one argument of a tool call whose arguments could not be read; no tool declares it, so
the policy gate refuses the call as ``invalid_arguments``."""

_TOOL_CHOICE_KEYWORDS = frozenset({"auto", "none", "required"})


def checked_completion(response: object) -> ChatCompletion:
    """The completion, if the body has the shape of one with a message to read.

    Raises:
        BadResponse: the SDK decoded something else, such as a proxy's HTML page.
    """
    if not isinstance(response, ChatCompletion):
        raise BadResponse(f"the body is a {type(response).__name__}, not a completion")
    choices = response.choices
    if not isinstance(choices, list) or not choices:
        raise BadResponse("the completion has no choices")
    if not isinstance(choices[0].message, ChatCompletionMessage):
        raise BadResponse("the completion's first choice has no message")
    return response


def to_openai_tool_choice(tool_choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """Map LangChain's tool_choice conventions onto the chat-completions values."""
    if tool_choice is None or isinstance(tool_choice, dict):
        return tool_choice
    if tool_choice == "any":
        return "required"
    if tool_choice in _TOOL_CHOICE_KEYWORDS:
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


def to_openai_message(message: BaseMessage) -> dict[str, Any]:
    """Convert one LangChain message to a chat-completions message."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text(message)}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _text(message)}
    if isinstance(message, AIMessage):
        return _to_openai_assistant_message(message)
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": _text(message)}
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": _text(message)}
    raise TypeError(
        f"Cannot send a message of type {type(message).__name__!r} to a chat-completions "
        "endpoint; use SystemMessage, HumanMessage, AIMessage, ToolMessage or ChatMessage."
    )


def _text(message: BaseMessage) -> str:
    """The message's text as a plain str, whether its content is a str or blocks."""
    return str(message.text)


def _to_openai_assistant_message(message: AIMessage) -> dict[str, Any]:
    """Convert an AIMessage, keeping its tool calls so tool replies can refer to them."""
    calls = [
        _to_openai_tool_call(call["id"], call["name"], json.dumps(call["args"]))
        for call in message.tool_calls
    ]
    calls += [
        _to_openai_tool_call(call["id"], call["name"], call["args"])
        for call in message.invalid_tool_calls
    ]
    if not calls:
        return {"role": "assistant", "content": _text(message)}
    return {"role": "assistant", "content": _text(message) or None, "tool_calls": calls}


def _to_openai_tool_call(
    call_id: str | None, name: str | None, arguments: str | None
) -> dict[str, Any]:
    """One assistant tool call in chat-completions form."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments or ""},
    }


def to_ai_message(message: ChatCompletionMessage) -> AIMessage:
    """Convert the SDK's reply message.

    A tool call whose arguments cannot be read is passed on, not dropped, with its raw text as
    the single argument :data:`UNPARSABLE`: the policy gate refuses it as ``invalid_arguments``,
    the model hears why, and the endpoint gets an answer to every call id it made, without which
    it rejects the next request of the conversation.
    """
    calls = [_to_tool_call(call) for call in message.tool_calls or []]
    return AIMessage(content=message.content or "", tool_calls=calls)


def _to_tool_call(call: object) -> ToolCall:
    """One tool call of the reply, with its arguments parsed when they can be."""
    if not isinstance(call, ChatCompletionMessageFunctionToolCall):
        # Custom (free-text) tools are never bound, so such a call cannot be run.
        name = getattr(getattr(call, "custom", None), "name", None)
        return tool_call(name=str(name or ""), args={UNPARSABLE: ""}, id=getattr(call, "id", None))
    name, arguments = call.function.name, call.function.arguments
    args = _parse_arguments(arguments)
    if args is None:
        return tool_call(name=name, args={UNPARSABLE: arguments}, id=call.id)
    return tool_call(name=name, args=args, id=call.id)


def _parse_arguments(arguments: str | None) -> dict[str, Any] | None:
    """Tool-call arguments as a dict, or None if they are not a JSON object."""
    try:
        args = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return None
    return args if isinstance(args, dict) else None


def usage(response: ChatCompletion) -> UsageMetadata | None:
    """Token counts in LangChain's shape, when the endpoint reports them."""
    if response.usage is None:
        return None
    return UsageMetadata(
        input_tokens=response.usage.prompt_tokens,
        output_tokens=response.usage.completion_tokens,
        total_tokens=response.usage.total_tokens,
    )
