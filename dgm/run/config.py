"""The run configuration: one pydantic model, loaded from TOML and/or CLI flags, frozen into
the run directory at start so a resume uses exactly what the run began with."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dgm.defaults import RUNS_DIR, SIM_BROKEN_WEIGHT, SIM_FAULT_RATE, SIM_HACK_WEIGHT
from dgm.errors import ConfigError

if TYPE_CHECKING:
    from dgm.fm import Gateway
    from dgm.protocols import Ledger


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
    calls: int | None = Field(None, ge=1)
    """FM calls answered by the model (cache hits and failed attempts are free)."""
    tokens: int | None = Field(None, ge=1)
    """FM tokens, prompt and completion (counted by litellm where a reply has no usage): the
    budget to use with a model litellm has no price for."""
    session_calls: int | None = Field(150, ge=1)
    """FM calls one session (one agent on one task, one self-modification) may make; past it
    the agent gets a 402 and the job is its own failure."""
    session_tokens: int | None = Field(3_000_000, ge=1)
    """FM tokens one session may spend."""
    session_dollars: float | None = Field(2.0, gt=0)
    """FM dollars one session may spend (priced models)."""
    smoke_calls: int = Field(10, ge=1)
    """FM calls a child's smoke run may make: a child that calls the model in a loop ends
    there instead of spending until the validation timeout."""


class ProviderConfig(_Strict):
    """The model provider: per-call limits, one retry policy, and what a run does when the
    provider keeps failing (its work is held, the run pauses, then stops resumably)."""

    call_timeout: float = Field(120, gt=0)
    """Seconds one provider request may take. Validation's smoke run gets at least this
    plus `validate_timeout`, so a slow model does not invalidate a correct child."""
    retries: int = Field(4, ge=0, le=20)
    """Retries of a transient provider failure (5xx, 429, timeout, no connection), in the
    gateway only; agents' clients do not retry on top."""
    retry_backoff: float = Field(1.0, ge=0)
    """First wait between retries in seconds, doubled each time; `Retry-After` wins."""
    max_retry_wait: float = Field(60, ge=0)
    """The longest single wait between retries, whatever `Retry-After` asks."""
    pause_first: float = Field(30, ge=0)
    """When a job is held because the provider failed, the run pauses this long before
    trying again, doubling up to `pause_max`."""
    pause_max: float = Field(600, ge=0)
    """The longest pause."""
    give_up_after: float = Field(3600, gt=0)
    """Seconds of provider failure (no call answered) after which the run stops cleanly;
    `dgm run --resume` continues it."""
    session_connections: int = Field(8, ge=1, le=256)
    """Open connections one session's socket accepts; more get a 429."""
    max_request_mb: float = Field(4.0, gt=0, le=256)
    """The largest request body an agent may send, in MB (413 beyond)."""


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
    runs_dir: Path = RUNS_DIR
    """Where run directories are created."""
    benchmark: str = "humaneval"
    """Benchmark suite: humaneval, bugfix or polyglot."""
    benchmark_path: Path | None = None
    """A local checkout for suites that need one (polyglot); in a config file, a relative
    path is read relative to the file."""
    languages: list[str] | None = None
    """The languages of a multi-language suite to use (polyglot: cpp, go, java, javascript,
    python, rust); default: every language the checkout holds."""
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
    executor: Literal["local", "ray"] = "local"
    """Where the jobs run: `local` threads on this machine, or `ray` tasks on the nodes of a
    Ray cluster that advertise the `dgm_sandbox` resource (needs `pip install 'dgm[ray]'`;
    README, "Running on several machines"). The archive, the ledger, the logs and the FM
    keys stay on this machine either way."""
    ray_address: str | None = None
    """With `executor = "ray"`: "auto" or HOST:PORT of a running cluster; unset starts a Ray
    instance on this machine with `workers` sandbox slots."""
    seed: int = 0
    """Seeds the policy, the entries and the `sim` model: same seed, same run."""
    meta: Literal["fixed", "agent"] = "fixed"
    """fixed: the loop diagnoses and the parent solves its own problem statement;
    agent: the parent's own `improve` command runs (hyperagent mode)."""
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    """Run limits."""
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    """Provider timeouts, retries, pauses and the socket's limits."""
    on_stop: Literal["finish", "abandon"] = "finish"
    """At a budget limit: finish the work in flight, or abandon it. Work that fits the
    evaluation or expansion budget always lands first (a resume never redoes it twice)."""
    entries: EntryWeights = Field(default_factory=EntryWeights)
    """Weights of the self-modification entries."""
    sim_fault_rate: float = Field(SIM_FAULT_RATE, ge=0, le=1)
    """`sim` only: the rate of faulty answers in solve sessions."""
    sim_broken_weight: float = Field(SIM_BROKEN_WEIGHT, ge=0)
    """`sim` only: the weight of each broken catalogue change in a diagnosis (good ones weigh
    0.6, harmful 0.25); raise it to exercise validation and invalid children."""
    sim_hack_weight: float = Field(SIM_HACK_WEIGHT, ge=0)
    """`sim` only: the weight of each reward-hacking catalogue change (a child that fakes
    success when its check fails); raise it to see tamper evidence and the quarantine."""
    solve_timeout: float = Field(240, gt=0)
    """Seconds an agent may take on one task."""
    self_modify_timeout: float = Field(300, gt=0)
    """Seconds an agent may take to modify itself."""
    validate_timeout: float = Field(30, gt=0)
    """Seconds for each validation step of a child (compiling, its tests); the smoke run,
    which waits for the model, gets this plus `provider.call_timeout`."""
    cache_mode: Literal["off", "record", "replay", "record_replay"] = "record"
    """FM response cache: `record` keeps every response so `dgm replay --cached` works."""
    quarantine: Literal["off", "auto", "manual"] = "auto"
    """What a `tampered` evaluation (an attempt on the grader) does to its node: `auto` takes
    it out of the parents (and the evaluations and the final choice) at once; `manual` holds
    it the same way until a person runs `dgm approve RUN NODE` (a parent again) or `dgm reject
    RUN NODE` (out for good), while the run goes on with other nodes; `off` counts it as a
    failure only. Every decision is an event in the archive."""
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
            # A path in a config file means the same wherever the command runs from.
            where = data.get("benchmark_path")
            if isinstance(where, str) and where and not Path(where).expanduser().is_absolute():
                data["benchmark_path"] = str((Path(path).parent / where).resolve())
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

    def benchmark_options(self) -> dict[str, Any]:
        """Keyword arguments of `benchmarks.get_benchmark` beyond the name."""
        options: dict[str, Any] = {}
        if self.benchmark_path is not None:
            options["path"] = self.benchmark_path
        if self.languages:
            options["languages"] = list(self.languages)
        return options

    def smoke_timeout(self) -> float:
        """The smoke run's time limit: the agent's own start-up time plus one full call to a
        slow provider (a correct child must not be invalidated by the provider's speed). The
        offline `sim` answers at once: a hanging child must not cost it a provider's wait."""
        if self.model == "sim" or self.model.startswith("sim/"):
            return self.validate_timeout
        return self.validate_timeout + self.provider.call_timeout

    def gateway(self, ledger: Ledger | None, **overrides: Any) -> Gateway:
        """The run's FM gateway: the one place a `Gateway` is built from a config (the run,
        `dgm eval`, replays). `overrides` replace any keyword (a replay's cache mode)."""
        from dgm.fm import Gateway  # late: the FM stack (litellm) is heavy to import

        return Gateway(**{"ledger": ledger, **self.gateway_options(), **overrides})

    def gateway_options(self) -> dict[str, Any]:
        """Keyword arguments of `dgm.fm.Gateway` from this config (model, budgets, provider)."""
        from dgm.fm import Budget

        b, p = self.budget, self.provider
        return {
            "model": self.model,
            "api_base": self.api_base,
            "budget": Budget(
                dollars=b.dollars, calls=b.calls, tokens=b.tokens,
                session_dollars=b.session_dollars, session_calls=b.session_calls,
                session_tokens=b.session_tokens,
            ),
            "seed": self.seed,
            "cost_unknown": self.cost_unknown,
            "sim_fault_rate": self.sim_fault_rate,
            "sim_broken_weight": self.sim_broken_weight,
            "sim_hack_weight": self.sim_hack_weight,
            "timeout": p.call_timeout,
            "retries": p.retries,
            "backoff": p.retry_backoff,
            "max_retry_wait": p.max_retry_wait,
            "session_connections": p.session_connections,
            "max_request_bytes": int(p.max_request_mb * 1024 * 1024),
        }  # fmt: skip

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
