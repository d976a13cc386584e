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
