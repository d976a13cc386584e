"""Run policies on synthetic landscapes with the real TreeState and policy objects.

The simulator is sequential: each action is done at once, so a policy is never asked to wait.
Budget units are evaluations; an expansion costs `expand_cost` units.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dgm.policies import (
    POLICIES,
    ActionResult,
    Evaluate,
    Expand,
    PolicyError,
    TreeState,
    make_policy,
)
from dgm.policysim.landscape import FAMILIES, Landscape, SimulateError

N_CHECKPOINTS = 40


@dataclass
class RunOutcome:
    """One policy on one seeded landscape."""

    final_q: float
    best_in_tree: float
    nodes: int
    seconds: float
    curve: np.ndarray  # true rate of the current final agent at each checkpoint
    invalid: int = 0  # expansions whose child was invalid


def base_policy(label: str) -> str:
    """`hgm:raw` -> `hgm`: a label runs its policy with its own `--param`s, so one policy can
    be compared with itself under other parameters."""
    return label.split(":", 1)[0]


@dataclass
class SimConfig:
    policies: list[str]
    landscape: str = "mismatch"
    budget: int = 800
    seeds: int = 200
    first_seed: int = 0
    n_tasks: int = 60
    expand_cost: int = 1
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self) -> None:
        """Every bad input found before anything runs, as one-line SimulateErrors."""
        if not self.policies:
            raise SimulateError("no policies given")
        for name in self.policies:
            if base_policy(name) not in POLICIES:
                raise SimulateError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})")
        if len(set(self.policies)) != len(self.policies):
            raise SimulateError("a policy is listed twice (label one, e.g. hgm:raw)")
        if self.landscape not in FAMILIES:
            known = ", ".join(FAMILIES)
            raise SimulateError(f"unknown landscape '{self.landscape}' (known: {known})")
        for key in ("budget", "seeds", "n_tasks"):
            if getattr(self, key) < 1:
                raise SimulateError(f"{key} must be a positive integer")
        if self.expand_cost < 0:
            raise SimulateError("expand cost must be >= 0")
        for name, params in self.params.items():
            if name not in self.policies:
                raise SimulateError(f"parameters given for policy '{name}', which is not run")
            try:
                make_policy(base_policy(name), 0, tasks=self.tasks(), **params)
            except PolicyError as exc:
                raise SimulateError(str(exc)) from None

    def tasks(self) -> list[str]:
        return [f"t{i}" for i in range(self.n_tasks)]


def run_one(cfg: SimConfig, policy_name: str, seed: int) -> RunOutcome:
    """Drive one policy until the budget is spent (or the policy stops)."""
    started = time.perf_counter()
    tasks = cfg.tasks()
    tree = TreeState(tasks)
    land = Landscape(cfg.landscape, seed, cfg.n_tasks)
    params = cfg.params.get(policy_name, {})
    policy = make_policy(base_policy(policy_name), seed, tasks=tasks, **params)
    budget = cfg.budget
    marks = np.linspace(budget / N_CHECKPOINTS, budget, N_CHECKPOINTS)
    curve = np.zeros(N_CHECKPOINTS)
    spent, mark, invalid = 0, 0, 0
    while spent < budget:
        tree.set_budget_fraction(spent / budget)
        action = policy.next_action(tree)
        if isinstance(action, Expand):
            if spent + cfg.expand_cost > budget:
                break
            spent += cfg.expand_cost
            child, valid = land.expand(action.parent)
            node = tree.add_node(action.parent, "valid" if valid else "invalid")
            assert node == child
            invalid += not valid
            policy.tell(action, ActionResult(child=node, child_valid=valid))
        elif isinstance(action, Evaluate):
            chosen = action.tasks[: budget - spent]
            successes = {}
            for task in chosen:
                ok = land.evaluate(action.node, tree.task_index[task])
                tree.add_result(action.node, task, ok)
                successes[task] = ok
            spent += len(chosen)
            policy.tell(action, ActionResult(successes=successes))
        else:  # Wait or Stop: nothing is ever in flight here, so the run is over
            break
        if mark < N_CHECKPOINTS and spent >= marks[mark]:
            q = land.q[policy.final_agent(tree)]
            while mark < N_CHECKPOINTS and spent >= marks[mark]:
                curve[mark] = q
                mark += 1
    final_q = land.q[policy.final_agent(tree)]
    curve[mark:] = final_q
    return RunOutcome(
        final_q=final_q,
        best_in_tree=land.best_valid(),
        nodes=tree.n_nodes,
        seconds=time.perf_counter() - started,
        curve=curve,
        invalid=invalid,
    )


def run_seed(cfg: SimConfig, seed: int) -> list[RunOutcome]:
    """Every policy on one seeded landscape, in `cfg.policies` order."""
    return [run_one(cfg, name, seed) for name in cfg.policies]


def run_all(cfg: SimConfig, jobs: int = 1, progress=None) -> dict[str, list[RunOutcome]]:
    """Every policy on every seed (the same landscapes for all), in `jobs` processes;
    `progress()` is called once per seed done. Results are in seed order whatever `jobs`."""
    cfg.check()
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    by_seed: dict[int, list[RunOutcome]] = {}
    if jobs <= 1 or len(seeds) < 2:
        for seed in seeds:
            by_seed[seed] = run_seed(cfg, seed)
            if progress:
                progress()
    else:
        with ProcessPoolExecutor(min(jobs, len(seeds))) as pool:
            futures = {pool.submit(run_seed, cfg, seed): seed for seed in seeds}
            for fut in as_completed(futures):
                by_seed[futures[fut]] = fut.result()
                if progress:
                    progress()
    return {name: [by_seed[s][i] for s in seeds] for i, name in enumerate(cfg.policies)}
