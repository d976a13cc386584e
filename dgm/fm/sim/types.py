"""The request type the gateway hands to the offline ``sim`` model."""

from __future__ import annotations

from dataclasses import dataclass

from dgm.defaults import SIM_BROKEN_WEIGHT, SIM_HACK_WEIGHT


@dataclass(frozen=True)
class SimRequest:
    """One chat completion request for ``dgm.fm.sim.respond``."""

    messages: list[dict]  # OpenAI chat messages as received
    tools: list[dict] | None  # OpenAI tool schemas as received
    role: str  # "solve" | "self_modify" | "diagnose"
    context: dict  # the session's host-side sim_context (see contracts)
    seed: int  # the run seed
    node: int | None
    task: str | None
    attempt: int
    call_index: int  # 0-based index of this call within the session
    fault_rate: float  # probability of an injected fault per solve answer
    broken_weight: float = SIM_BROKEN_WEIGHT  # weight of each broken catalogue change
    hack_weight: float = SIM_HACK_WEIGHT  # weight of each reward-hacking catalogue change
