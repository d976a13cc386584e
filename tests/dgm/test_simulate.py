"""The policy simulator and `dgm simulate`: landscapes, determinism, summaries, the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from dgm.policysim import FAMILIES, Landscape, SimConfig, SimulateError, report, run_all, summarise


def test_children_depend_on_their_path_not_on_the_order_of_expansion():
    a, b = Landscape("mismatch", 5, 10), Landscape("mismatch", 5, 10)
    a1, _ = a.expand(0)
    a2, _ = a.expand(a1)
    a3, _ = a.expand(0)
    b3, _ = b.expand(0)  # b makes root's first child, then its second, then the grandchild
    b4, _ = b.expand(0)
    b5, _ = b.expand(b3)
    assert (a.q[a1], a.q[a2], a.q[a3]) == (b.q[b3], b.q[b5], b.q[b4])
    assert a.evaluate(a2, 3) == b.evaluate(b5, 3)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_makes_valid_rates_and_some_invalid_children(family):
    land = Landscape(family, 1, 20)
    for i in range(200):
        land.expand(i // 3)
    q = np.array(land.q)[np.array(land.valid)]
    assert ((q > 0) & (q < 1)).all()
    # brittle: blind expansion keeps growing brittle lineages, most of whose children fail
    assert 0 < land.valid.count(False) < (170 if family == "brittle" else 100)
    rate = np.mean([land.evaluate(0, t) for t in range(20)])
    assert 0 <= rate <= 1


def test_mismatch_shortcuts_score_higher_but_parent_worse():
    land = Landscape("mismatch", 2, 5)
    for _ in range(400):
        land.expand(0)
    q, m = np.array(land.q[1:]), np.array(land.m[1:])
    valid = np.array(land.valid[1:])
    shortcut = m < land.m[0]
    assert q[valid & shortcut].mean() > q[valid & ~shortcut].mean() + 0.05


def test_run_all_is_deterministic_and_the_same_with_processes():
    cfg = SimConfig(policies=["hgm", "greedy"], landscape="rugged", budget=120, seeds=3)
    one = run_all(cfg, jobs=1)
    two = run_all(cfg, jobs=2)
    for name in cfg.policies:
        assert [r.final_q for r in one[name]] == [r.final_q for r in two[name]]
        assert [r.nodes for r in one[name]] == [r.nodes for r in two[name]]


def test_summary_regrets_and_curves():
    cfg = SimConfig(policies=list(["dgm", "hgm", "latest"]), budget=150, seeds=4)
    summary = summarise(cfg, run_all(cfg))
    json.dumps(summary)
    for p in summary["policies"].values():
        low, high = p["final_true_rate"]["ci95"]
        assert low <= p["final_true_rate"]["mean"] <= high
        assert p["regret_vs_reachable"] >= p["regret_vs_tree"] - 1e-12
        assert p["regret_vs_tree"] >= 0
        assert len(p["curve"]["mean"]) == len(summary["budget_points"])
    assert summary["budget_points"][-1] == 150


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policies": ["hgm", "bogus"]}, "unknown policy 'bogus'"),
        ({"landscape": "hilly"}, "unknown landscape 'hilly'"),
        ({"budget": 0}, "budget must be a positive integer"),
        ({"seeds": -1}, "seeds must be a positive integer"),
        ({"params": {"hgm": {"gamma": 1}}}, "unknown parameter"),
    ],
)
def test_bad_config_is_a_one_line_error(kwargs, message):
    cfg = SimConfig(**{"policies": ["hgm"], **kwargs})
    with pytest.raises(SimulateError, match=message) as err:
        cfg.check()
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from dgm.cli import main

    monkeypatch.setattr(sys, "argv", ["dgm", "simulate", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_and_plot(monkeypatch, capsys, tmp_path):
    png = tmp_path / "curve.png"
    code, out, _ = run_cli(
        monkeypatch, capsys, "--policies", "hgm,random", "--budget", "60", "--seeds", "3",
        "--jobs", "1", "--json", "--plot", str(png), "--param", "hgm.alpha=0.5",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert set(summary["policies"]) == {"hgm", "random"}
    assert summary["params"] == {"hgm": {"alpha": "0.5"}}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_table(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "--budget", "40", "--seeds", "2", "--jobs", "1")
    assert code == 0
    for name in ("dgm", "hgm", "greedy", "random", "latest", "regret"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policies", "hgm,nope"], "unknown policy 'nope'"),
        (["--landscape", "nope"], "unknown landscape 'nope'"),
        (["--budget", "ten"], "budget must be a positive integer, got 'ten'"),
        (["--seeds", "0"], "seeds must be a positive integer, got '0'"),
        (["--seeds", "1.5"], "seeds must be a positive integer"),
        (["--param", "alpha=1"], "--param wants POLICY.NAME=VALUE"),
        (["--plot", "out.pdf"], "--plot wants a .png file"),
    ],
)
def test_cli_bad_input_one_line_exit_2(monkeypatch, capsys, args, message):
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert message in err and err.strip().count("\n") == 0


def test_report_table_marks_columns():
    cfg = SimConfig(policies=["greedy"], budget=30, seeds=2)
    t = report.table(summarise(cfg, run_all(cfg)))
    assert [c.header for c in t.columns][:3] == ["policy", "final", "95 % CI"]


def test_brittle_parents_make_mostly_invalid_children():
    land = Landscape("brittle", 3, 10)
    for _ in range(600):
        land.expand(0)  # the root is sturdy: a quarter of its children turn brittle
    brittle = [i for i in range(1, len(land.q)) if land.brittle[i] and land.valid[i]]
    sturdy = [i for i in range(1, len(land.q)) if not land.brittle[i] and land.valid[i]]
    assert 0.15 < len(brittle) / (len(brittle) + len(sturdy)) < 0.35
    assert np.mean([land.q[i] for i in brittle]) > np.mean([land.q[i] for i in sturdy])
    parent = brittle[0]
    children = [land.expand(parent) for _ in range(300)]
    invalid = sum(not ok for _, ok in children) / len(children)
    assert 0.78 < invalid < 0.92  # BRITTLE_P_INVALID = 0.85
    sturdy_children = [land.expand(sturdy[0])[1] for _ in range(300)]
    assert sum(not ok for ok in sturdy_children) / 300 < 0.22  # P_INVALID = 0.15


def test_counting_invalid_children_steers_hgm_away_from_brittle_parents():
    """Labels run one policy under two parameter sets on the same landscapes: with invalid
    children counted as clade failures, hgm makes fewer of them."""
    cfg = SimConfig(
        policies=["hgm:raw", "hgm:counted"], landscape="brittle", budget=400, seeds=40,
        params={"hgm:raw": {"invalid_child_failures": 0},
                "hgm:counted": {"invalid_child_failures": 10}},
    )  # fmt: skip
    summary = summarise(cfg, run_all(cfg, jobs=1))
    raw, counted = summary["policies"]["hgm:raw"], summary["policies"]["hgm:counted"]
    assert counted["invalid_share"] < raw["invalid_share"] - 0.05
    assert summary["policies"]["hgm:raw"]["vs_first"]["mean"] == 0.0
    d = counted["vs_first"]
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]


def test_cli_labels_and_invalid_column(monkeypatch, capsys):
    code, out, _ = run_cli(
        monkeypatch, capsys, "--policies", "hgm,hgm:raw", "--param",
        "hgm:raw.invalid_child_failures=0", "--landscape", "brittle", "--budget", "60",
        "--seeds", "2", "--jobs", "1", "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert set(summary["policies"]) == {"hgm", "hgm:raw"}
    assert 0 <= summary["policies"]["hgm"]["invalid_share"] <= 1
    code, _, err = run_cli(monkeypatch, capsys, "--policies", "hgm,hgm", "--budget", "10")
    assert code == 2 and "listed twice" in err
    code, _, err = run_cli(monkeypatch, capsys, "--policies", "nope:x", "--budget", "10")
    assert code == 2 and "unknown policy 'nope:x'" in err
