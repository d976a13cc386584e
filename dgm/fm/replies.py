"""Requests in, replies out: what the gateway accepts from an agent and what it sends back,
with token counts that never silently read zero."""

from __future__ import annotations

import json

import litellm

from dgm.fm.errors import RequestError
from dgm.fm.sim import provider

# Request fields forwarded to the model (and part of the cache key); others are ignored.
SAMPLING_PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "tool_choice", "parallel_tool_calls", "response_format", "presence_penalty",
    "frequency_penalty",
)  # fmt: skip


def parse_request(payload: object) -> tuple[list, list | None, dict]:
    """(messages, tools, sampling params) of a request, or RequestError."""
    if not isinstance(payload, dict):
        raise RequestError("request body must be a JSON object")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{i}] must be an object with a 'role'")
    tools = payload.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise RequestError("'tools' must be a list of objects")
    if payload.get("stream"):
        raise RequestError("streaming is not supported by the FM gateway")
    params = {k: payload[k] for k in SAMPLING_PARAMS if payload.get(k) is not None}
    return messages, tools or None, params


def usage(litellm_model: str, response: litellm.ModelResponse, messages: list,
          tools: list | None) -> tuple[int, int, bool]:  # fmt: skip
    """(prompt, completion tokens, estimated): the provider's counts, or litellm's
    tokenizer's when the reply has no usage (a call is never free because of that)."""
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    if prompt or completion:
        return prompt, completion, False
    try:
        prompt = litellm.token_counter(model=litellm_model, messages=messages,
                                       tools=tools)  # fmt: skip
    except Exception:  # noqa: BLE001 - no tokenizer for it: litellm's rough default
        prompt = provider.estimate_tokens(messages) + provider.estimate_tokens(tools)
    message = response.choices[0].message
    calls = [c.function.arguments or "" for c in (message.tool_calls or [])]
    text = (message.content or "") + "".join(calls)
    try:
        completion = litellm.token_counter(model=litellm_model, text=text) if text else 0
    except Exception:  # noqa: BLE001
        completion = provider.estimate_tokens(text) if text else 0
    return int(prompt), int(completion), True


def body(model: str, response: litellm.ModelResponse, prompt: int, completion: int,
         estimated: bool) -> bytes:  # fmt: skip
    """The OpenAI response document sent back (and cached), from litellm's response."""
    choice = response.choices[0]
    msg = choice.message
    tool_calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.function.name, "arguments": call.function.arguments},
        }
        for call in (msg.tool_calls or [])
    ]
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if estimated:
        usage["estimated"] = True  # counted by dgm: the provider sent no usage
    doc = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": msg.content,
                    "tool_calls": tool_calls or None,
                },
                "finish_reason": choice.finish_reason,
            }
        ],
        "usage": usage,
    }
    return json.dumps(doc, ensure_ascii=False).encode()
