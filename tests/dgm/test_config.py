"""The run configuration: defaults, TOML, overrides and one-line errors."""

from __future__ import annotations

import pytest

from dgm.errors import ConfigError
from dgm.run.config import RunConfig


def test_defaults_are_the_demo_run():
    cfg = RunConfig()
    assert (cfg.model, cfg.benchmark, cfg.subset, cfg.policy, cfg.workers) == (
        "sim",
        "humaneval",
        "small",
        "hgm",
        2,
    )
    assert cfg.budget.evals is not None


def test_toml_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('policy = "dgm"\nworkers = 3\n[budget]\nevals = 12\n[policy_params]\nk = 2\n')
    cfg = RunConfig.load(path, workers=1, **{"budget.expansions": 4, "seed": None})
    assert cfg.policy == "dgm" and cfg.workers == 1
    assert cfg.budget.evals == 12 and cfg.budget.expansions == 4
    assert cfg.policy_params == {"k": 2}


def test_frozen_form_round_trips(tmp_path):
    cfg = RunConfig.load(None, name="r1", policy="greedy", **{"budget.dollars": 2.5})
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml())
    assert RunConfig.load(path) == cfg


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("polcy = 'hgm'\n", "unknown config key 'polcy'"),
        ("workers = 'many'\n", "config key 'workers'"),
        ("[budget]\nevals = -1\n", "config key 'budget.evals'"),
        ("[budget]\nevalz = 3\n", "unknown config key 'budget.evalz'"),
        ("meta = 'sometimes'\n", "config key 'meta'"),
        ("workers = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, text, needle):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        RunConfig.load(path)
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert info.value.exit_code == 2


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        RunConfig.load(tmp_path / "nope.toml")


def test_the_documented_example_config_loads():
    from pathlib import Path

    example = Path(__file__).parents[2] / "docs" / "run.toml"
    cfg = RunConfig.load(example)
    assert cfg.name == "example" and cfg.budget.evals == 60


def test_the_documented_example_names_every_option():
    """docs/run.toml claims to show every option: each field of RunConfig and of its tables
    appears in it, set or commented out."""
    import re
    from pathlib import Path

    from pydantic import BaseModel

    text = (Path(__file__).parents[2] / "docs" / "run.toml").read_text()
    tables = {m.group(1): m.start() for m in re.finditer(r"^\[(\w+)\]", text, re.M)}
    missing = []
    for name, field in RunConfig.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            start = tables.get(name)
            if start is None:
                missing.append(f"[{name}]")
                continue
            end = min([s for s in tables.values() if s > start] or [len(text)])
            body = text[start:end]
            missing += [f"{name}.{k}" for k in kind.model_fields
                        if not re.search(rf"^#?\s*{k}\s*=", body, re.M)]  # fmt: skip
        elif name != "policy_params" and not re.search(rf"^#?\s*{name}\s*=", text, re.M):
            missing.append(name)
    assert not missing, f"docs/run.toml does not show: {missing}"
