"""`dgm export --graph`: the lineage of a real small run as GraphML and JSON node-link, read
back with networkx; the agent-source form of `dgm export` unchanged; wrong uses fail in one
line."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from archive import Archive
from dgm.cli import app
from dgm.views.graph import read_graph

runner = CliRunner()
GRAPHML_TYPES = {"string", "int", "long", "float", "double", "boolean"}


def export(*args: str) -> str:
    result = runner.invoke(app, ["export", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.mark.parametrize("suffix", [".graphml", ".json"])
def test_graph_has_every_node_edge_and_attribute(small_run, tmp_path, suffix):
    path = tmp_path / f"lineage{suffix}"
    out = export(str(small_run.root), "--graph", str(path))
    assert "exported 5 nodes and 4 edges" in out
    g = read_graph(path)
    archive = Archive.open(small_run.root)
    assert isinstance(g, nx.DiGraph)
    assert sorted(g.nodes) == [0, 1, 2, 3, 4]
    assert sorted(g.edges) == [(0, 1), (0, 2), (1, 3), (1, 4)]
    assert g.graph["final_agent"] == 3 and g.graph["run"] == "demo"
    three = g.nodes[3]
    assert (three["own_successes"], three["own_trials"], three["evaluations"]) == (3, 4, 4)
    assert three["own_score"] == pytest.approx(0.75)
    assert (three["clade_successes"], three["clade_trials"]) == (3, 4)
    assert three["status"] == "valid" and three["parent"] == 1 and three["is_final_agent"] is True
    assert three["commit"] == archive.node(3).commit
    assert three["created_unix"] == pytest.approx(archive.node(3).created)
    assert three["created"].startswith("20") and three["tampered"] == 0
    assert (three["files_changed"], three["lines_added"], three["lines_removed"]) == (1, 2, 0)
    assert g.nodes[1]["clade_trials"] == 3 + 4 + 1 and g.nodes[1]["is_final_agent"] is False
    assert g.nodes[2]["status"] == "invalid" and "own_score" not in g.nodes[2]  # no results
    assert "parent" not in g.nodes[0]  # the root: left out, never None
    for _, attrs in g.nodes(data=True):
        assert all(type(v) in (str, int, float, bool) for v in attrs.values()), attrs


def test_graphml_declares_plain_types(small_run, tmp_path):
    path = tmp_path / "lineage.graphml"
    export(str(small_run.root), "--graph", str(path))
    keys = ET.parse(path).getroot().findall("{http://graphml.graphdrawing.org/xmlns}key")
    types = {k.get("attr.name"): k.get("attr.type") for k in keys}
    assert {"status", "own_score", "clade_score", "tampered", "commit"} <= set(types)
    assert (types["own_score"], types["is_final_agent"]) == ("double", "boolean")
    assert set(types.values()) <= GRAPHML_TYPES, types


def test_quarantine_and_tampering_are_attributes(tmp_path):
    from tests.dgm.views.conftest import make_run

    run = make_run(tmp_path / "held")
    Archive.open(run.root).record_evaluation(4, "humaneval", "t1", "tampered", reason="x")
    path = tmp_path / "held.graphml"
    export(str(run.root), "--graph", str(path))
    g = read_graph(path)
    assert g.nodes[4]["quarantine"] == "quarantined" and g.nodes[4]["tampered"] == 1
    assert g.nodes[1]["clade_tampered"] == 1 and g.nodes[1]["bad_below"] == 1
    assert "quarantine" not in g.nodes[3]


def test_the_source_form_is_unchanged(small_run, tmp_path):
    out = export(str(small_run.root), "3", str(tmp_path / "agent"))
    assert "exported node 3" in out
    assert "change made by node 3" in (tmp_path / "agent" / "agent.py").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--graph", "{tmp}/lineage.txt"], "needs a file ending in .graphml or .json"),
        (["3", "{tmp}/src", "--graph", "{tmp}/g.json"], "either NODE DEST"),
        (["3"], "give NODE DEST"),
        (["--graph", "{tmp}"], "ending in .graphml or .json"),
    ],
)
def test_wrong_uses_are_one_line_and_exit_2(small_run, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "dgm", "export", str(small_run.root), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("error:") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(Path(tmp_path).iterdir())  # nothing written


def test_help_shows_both_forms():
    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "RUN NODE DEST" in result.output and "--graph" in result.output
    assert ".graphml" in result.output and ".json" in result.output
