"""The offline `sim` model as a litellm custom provider, so it travels litellm's own path.

`sim` is not a language model: `dgm.fm.sim.respond` builds its answers from the task's
reference solution or from a catalogue of edits. The gateway passes the session's tags in
litellm's `metadata` under `SIM_METADATA_KEY`; the provider turns them into a `SimRequest`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.llms.custom_llm import CustomLLMError
from litellm.utils import custom_llm_setup

from dgm.fm.sim.types import SimRequest

SIM_PROVIDER = "sim"
SIM_LITELLM_MODEL = "sim/sim"
SIM_METADATA_KEY = "dgm_sim"

_register_lock = threading.Lock()


def is_sim(model: str) -> bool:
    """True for the run model names that mean the offline sim model."""
    return model == SIM_PROVIDER or model.startswith(SIM_PROVIDER + "/")


def litellm_model(model: str) -> str:
    """The name litellm is called with: `sim` maps to the custom provider `sim/sim`."""
    return SIM_LITELLM_MODEL if model == SIM_PROVIDER else model


def estimate_tokens(obj: object) -> int:
    """About four characters a token; sim has no tokenizer and says so by being cheap."""
    if obj is None:
        return 0
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return max(1, len(text) // 4)


class SimProvider(CustomLLM):
    """litellm handler for `sim/...` models."""

    def completion(self, model, messages, *args, optional_params=None, litellm_params=None,
                   **kwargs) -> ModelResponse:  # fmt: skip
        """Answer one chat request with `dgm.fm.sim.respond`."""
        optional_params = optional_params or {}
        meta = ((litellm_params or {}).get("metadata") or {}).get(SIM_METADATA_KEY)
        if meta is None:
            raise CustomLLMError(400, "sim is only reachable through the dgm FM gateway")
        from dgm.fm.sim import model  # late: the model's catalogue loads on first use

        tools = optional_params.get("tools")
        request = SimRequest(messages=messages, tools=tools, **meta)
        message = model.respond(request)
        tool_calls = message.get("tool_calls") or None
        response = ModelResponse(
            id=f"chatcmpl-sim-{uuid.uuid4().hex[:12]}",
            created=int(time.time()),
            model=SIM_PROVIDER,
            choices=[
                {
                    "index": 0,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                    "message": {
                        "role": "assistant",
                        "content": message.get("content"),
                        "tool_calls": tool_calls,
                    },
                }
            ],
        )
        prompt = estimate_tokens(messages) + estimate_tokens(tools)
        completion = estimate_tokens(message.get("content")) + estimate_tokens(tool_calls)
        response.usage = litellm.Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )
        return response


def register() -> None:
    """Add the sim provider to litellm once (idempotent, keeps other custom providers)."""
    with _register_lock:
        current = list(litellm.custom_provider_map or [])
        if any(entry.get("provider") == SIM_PROVIDER for entry in current):
            return
        current.append({"provider": SIM_PROVIDER, "custom_handler": SimProvider()})
        litellm.custom_provider_map = current
        custom_llm_setup()
