"""The run configuration: one pydantic model, loaded from TOML and/or CLI flags, frozen into
the run directory at start so a resume uses exactly what the run began with."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dgm.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BudgetConfig(_Strict):
    """Limits on the run; the first one reached ends it cleanly."""

    evals: int | None = Field(100, ge=1)
    """Task evaluations (the seed's baseline evaluations count). The default, with `sim`
    and 2 workers, is the demo run of a few minutes."""
    expansions: int | None = Field(25, ge=1)
    """Self-modification attempts (valid or not): a cap that also ends a run whose children
    keep coming out invalid."""
    dollars: float | None = Field(None, gt=0)
    """FM spend in dollars, from litellm's prices (`sim` has a small documented fake price)."""
    wall_seconds: float | None = Field(None, gt=0)
    """Wall-clock seconds, summed over resumes."""


class EntryWeights(_Strict):
    """How a parent's self-modification target is chosen (defaults after the DGM paper)."""

    empty: float = Field(0.25, ge=0)
    """Weight of 'stop producing empty answers' when the parent has empty results."""
    stochasticity: float = Field(0.25, ge=0)
    """Weight of 'be consistent' when the parent got a task both right and wrong."""
    step_cap: float = Field(0.25, ge=0)
    """Weight of 'finish within the step/context cap' when a transcript hit the cap."""
    failed_task: float = Field(1.0, ge=0)
    """Weight of fixing one failed task (always possible when a task failed)."""


class RunConfig(_Strict):
    """Everything a run needs. Unknown keys are errors, named in one line."""

    name: str | None = None
    """Run name (directory under `runs_dir`); default: policy-benchmark-timestamp."""
    runs_dir: Path = Path("runs")
    """Where run directories are created."""
    benchmark: str = "humaneval"
    """Benchmark suite: humaneval, bugfix or polyglot."""
    benchmark_path: Path | None = None
    """A local checkout for suites that need one (polyglot)."""
    subset: str = "small"
    """Named task subset the run evaluates on."""
    policy: str = "hgm"
    """Selection policy: hgm, dgm, greedy, random or latest."""
    policy_params: dict[str, Any] = Field(default_factory=dict)
    """Policy parameters (e.g. alpha for hgm, k for dgm); checked by the policy."""
    model: str = "sim"
    """litellm model name; `sim` is the built-in offline simulator (not a language model)."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server, when the model needs one."""
    cost_unknown: Literal["refuse", "ignore"] = "refuse"
    """What to do with a model litellm has no price for."""
    workers: int = Field(2, ge=1, le=64)
    """Concurrent sandbox workers."""
    seed: int = 0
    """Seeds the policy, the entries and the `sim` model: same seed, same run."""
    meta: Literal["fixed", "agent"] = "fixed"
    """fixed: the loop diagnoses and the parent solves its own problem statement;
    agent: the parent's own `improve` command runs (hyperagent mode)."""
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    """Run limits."""
    on_stop: Literal["finish", "abandon"] = "finish"
    """At a budget limit: finish the work in flight, or abandon it."""
    entries: EntryWeights = Field(default_factory=EntryWeights)
    """Weights of the self-modification entries."""
    sim_fault_rate: float = Field(0.45, ge=0, le=1)
    """`sim` only: the rate of faulty answers in solve sessions."""
    sim_broken_weight: float = Field(0.15, ge=0)
    """`sim` only: the weight of each broken catalogue change in a diagnosis (good ones weigh
    0.6, harmful 0.25); raise it to exercise validation and invalid children."""
    solve_timeout: float = Field(240, gt=0)
    """Seconds an agent may take on one task."""
    self_modify_timeout: float = Field(300, gt=0)
    """Seconds an agent may take to modify itself."""
    validate_timeout: float = Field(30, gt=0)
    """Seconds for each validation step of a child (its tests, the smoke run)."""
    cache_mode: Literal["off", "record", "replay", "record_replay"] = "record"
    """FM response cache: `record` keeps every response so `dgm replay --cached` works."""
    final_eval: bool = True
    """At the end, evaluate the final agent and the seed on the whole subset (recorded,
    outside the evaluation budget) so the two scores share one denominator."""

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> RunConfig:
        """Read a TOML file (optional) and apply overrides (flags, `None` means unset)."""
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text())
            except FileNotFoundError:
                raise ConfigError(f"config file not found: {path}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        for key, value in overrides.items():
            if value is None:
                continue
            if "." in key:  # budget.evals
                head, tail = key.split(".", 1)
                data.setdefault(head, {})[tail] = value
            else:
                data[key] = value
        return cls.parse(data)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            if first["type"] == "extra_forbidden":
                raise ConfigError(f"unknown config key '{where}'") from None
            raise ConfigError(f"config key '{where}': {first['msg']}") from None

    def to_toml(self) -> str:
        """The frozen form written into the run directory."""
        return _dump_toml(self.model_dump(mode="json", exclude_none=True))


def _dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n[{name}]\n" + _dump_toml(value, prefix=f"{name}.")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    import json

    return json.dumps(str(value))
