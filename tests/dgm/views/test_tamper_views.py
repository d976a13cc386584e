"""Tamper counts and quarantine in every view: `dgm show`, `status`, `runs`, `compare`,
`tree`, and the viewer's JSON (served over real HTTP), on a small real run where node 4
tampered twice (auto: quarantined) and node 1 once (then approved by a person)."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from typer.testing import CliRunner

from archive import Archive
from dgm.cli import app
from dgm.views import ViewerServer
from tests.dgm.views.conftest import make_run

runner = CliRunner()
EVIDENCE = "3 hidden tests expected, 0 reported: the process exited early (exit 0)"


@pytest.fixture(scope="module")
def tampered_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("runs") / "tamper")
    archive = Archive.open(run.root)
    archive.record_evaluation(4, "humaneval", "t1", "tampered", reason=EVIDENCE)
    archive.record_evaluation(4, "humaneval", "t3", "tampered", reason="unittest shadowed")
    archive.record_evaluation(1, "humaneval", "t4", "tampered", reason="extra test file")
    archive.approve(1, note="checked by hand")
    return run


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_show_has_tamper_rate_quarantine_and_evidence(tampered_run):
    out = invoke("show", str(tampered_run.root), "4")
    assert "2 of 3 evaluations (tamper rate 0.67)" in out
    assert "quarantined (a tampered evaluation; `dgm approve" in out
    assert "tampered t1 (evaluation" in out and EVIDENCE in out
    out1 = invoke("show", str(tampered_run.root), "1")
    assert "1 of 4 evaluations (tamper rate 0.25)" in out1 and "approved" in out1
    root = invoke("show", str(tampered_run.root), "0")
    # the root's clade: 3 of 14 tampered; node 2 (invalid) and node 4 (held) are bad
    assert "3 of 14 evaluations (tamper rate 0.21); 2 invalid/quarantined below" in root


def test_status_and_runs_show_the_run_tamper_rate(tampered_run):
    out = invoke("status", str(tampered_run.root))
    assert "3 of 14 evaluations (tamper rate 0.21)" in out
    assert "node 4 2/3 (0.67), node 1 1/4 (0.25)" in out  # the highest rate first
    assert "quarantined" in out and "node 4" in out and "approved" in out
    assert "waiting for a decision" not in out  # auto mode: nothing waits
    runs = invoke("runs", "--runs-dir", str(tampered_run.root.parent))
    assert "3 (0.21)" in runs and "tampered" in runs


def test_final_agent_is_never_a_held_one(tmp_path):
    run = make_run(tmp_path / "best", finished=False)  # live: the policy's choice so far
    archive = Archive.open(run.root)
    archive.record_evaluation(4, "humaneval", "t1", "tampered", reason=EVIDENCE)
    for i in range(12):  # 12/14 would beat node 3's 3/4, were node 4 not held
        archive.record_evaluation(4, "humaneval", f"x{i}", "resolved")
    assert "(3/4, node 3)" in invoke("status", str(run.root))
    archive.approve(4)
    assert "(12/14, node 4)" in invoke("status", str(run.root))


def test_compare_and_tree_show_tampering(tampered_run):
    out = invoke("compare", str(tampered_run.root), "1", "4")
    assert "Tampered (all evaluations): node 1 1/4 (tamper rate 0.25), approved; " in out
    assert "node 4 2/" in out and "quarantined" in out
    tree = invoke("tree", str(tampered_run.root))
    row4 = next(line for line in tree.splitlines() if line.lstrip("└├─│ ").startswith("4 "))
    assert "tampered 2" in row4 and "quarantined" in row4


def test_viewer_json_has_tamper_counts(tampered_run):
    srv = ViewerServer(tampered_run)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(srv.url + "api/tree", timeout=10) as resp:
            tree = json.loads(resp.read())
        with urllib.request.urlopen(srv.url + "api/node/4", timeout=10) as resp:
            node = json.loads(resp.read())
    finally:
        srv.shutdown()
        srv.server_close()
    i4 = tree["id"].index(4)
    assert tree["tampered"][i4] == 2 and tree["quarantine"][i4] == "quarantined"
    assert tree["quarantine"][tree["id"].index(1)] == "approved"
    assert tree["tampered_total"] == sum(tree["tampered"]) == 3
    assert tree["tamper_rate"] == pytest.approx(3 / tree["evaluations_total"])
    assert node["tampered"] == 2 and node["quarantine"] == "quarantined"
    assert node["tamper_rate"] == pytest.approx(2 / len(node["evaluations"]))
    reasons = [e["reason"] for e in node["evaluations"] if e["outcome"] == "tampered"]
    assert reasons == [EVIDENCE, "unittest shadowed"]
    assert [d["kind"] for d in node["decisions"]] == ["quarantine"]
    assert node["decisions"][0]["evidence"] == EVIDENCE
