"""Chat-completions bodies and error responses, as an OpenAI-compatible endpoint sends them."""

from __future__ import annotations

from typing import Any

import httpx


def completion(
    content: str | None = "Your claim is open.",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """A chat-completions response body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model-2024",
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One tool call as the endpoint returns it."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def ok() -> httpx.Response:
    """A successful plain-text completion."""
    return httpx.Response(200, json=completion())


def failure(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    """An error response in the OpenAI error shape."""
    body = {"error": {"message": "failed", "type": "server_error", "code": None}}
    return httpx.Response(status, headers=headers, json=body)
