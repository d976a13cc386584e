"""The viewer's HTTP endpoints on a small real run: tree, node, logs, static files, and that
nothing outside the run directory can be read."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from dgm.views import ViewerServer
from dgm.views.api import relative_to_run


@pytest.fixture(scope="module")
def server(small_run):
    srv = ViewerServer(small_run)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(server, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_binds_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.server_address[1] > 0


def test_tree_endpoint(server):
    code, body = get(server, "/api/tree")
    tree = json.loads(body)
    assert code == 200
    assert tree["run"] == "demo"
    assert tree["id"] == [0, 1, 2, 3, 4]
    assert tree["parent"] == [None, 0, 0, 1, 1]
    assert tree["status"][2] == "invalid"
    assert tree["best"] == 3 and tree["best_path"] == [0, 1, 3]
    assert tree["successes"][3] == 3 and tree["trials"][3] == 4
    assert tree["clade"][1] == [5, 8]  # node 1 (2/3), node 3 (3/4), node 4 (0/1)


def test_node_endpoint(server):
    code, body = get(server, "/api/node/3")
    node = json.loads(body)
    assert code == 200
    assert node["parent"] == 1
    assert node["problem_statement"] == "Make node 3 better at t1."
    assert node["meta"]["diagnosis"]["weakness"] == "weakness-3"
    assert "+# change made by node 3" in node["diff"]
    assert "node 1" not in node["diff"].split("+# change made by node 3")[1]
    assert node["diff_files"] == [["agent.py", 2, 0]]
    assert sorted({e["task"] for e in node["evaluations"]}) == ["t1", "t2", "t3"]
    assert node["evaluations"][0]["log"].startswith("logs/node-3/")
    assert node["fm"]["calls"] == 4 and node["fm"]["cost"] == pytest.approx(0.04)
    assert node["meta"]["log"] == "logs/expansion-2.md"


def test_unknown_node_is_404(server):
    code, body = get(server, "/api/node/999")
    assert code == 404
    assert "no node 999" in json.loads(body)["error"]


def test_log_directory_and_file(server):
    code, body = get(server, "/api/log?path=" + quote("logs/node-3/t3-1"))
    listing = json.loads(body)
    assert code == 200 and listing["kind"] == "dir"
    assert listing["files"] == ["logs/node-3/t3-1/result.json", "logs/node-3/t3-1/transcript.md"]
    code, body = get(server, "/api/log?path=" + quote(listing["files"][1]))
    assert code == 200
    assert "outcome: empty" in json.loads(body)["text"]


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        "logs/../../demo-seed/agent.py",
        "logs/%2e%2e/%2e%2e/etc/hostname",
        "",
        "logs/no-such-file",
    ],
)
def test_paths_outside_the_run_are_404(server, path):
    code, body = get(server, "/api/log?path=" + quote(path))
    assert code == 404, body
    assert "error" in json.loads(body)


def test_a_link_out_of_the_run_is_404(server, small_run, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    link = small_run.logs / "escape.md"
    link.symlink_to(secret)
    try:
        code, body = get(server, "/api/log?path=logs/escape.md")
        assert code == 404 and b"top secret" not in body
    finally:
        link.unlink()


def test_static_files_and_nothing_else(server):
    code, body = get(server, "/")
    assert code == 200 and b"/static/app.js" in body
    code, body = get(server, "/static/app.js")
    assert code == 200 and b"/api/tree" in body
    assert get(server, "/static/../server.py")[0] == 404
    assert get(server, "/static/%2e%2e/server.py")[0] == 404
    assert get(server, "/etc/passwd")[0] == 404


def test_recorded_log_paths_map_into_the_run(small_run):
    root = small_run.root.resolve()
    assert relative_to_run(root, "runs/demo/logs/node-3/t3-1") == "logs/node-3/t3-1"
    assert relative_to_run(root, "/old/place/demo/logs/node-3") == "logs/node-3"
    assert relative_to_run(root, str(root / "logs" / "node-0")) == "logs/node-0"
    assert relative_to_run(root, "/etc/passwd") is None
    assert relative_to_run(root, "logs/../../etc") is None
    assert relative_to_run(root, None) is None


def test_replay_logs_of_a_node_are_listed_and_readable(server, small_run):
    replay = small_run.root / "replays" / "node-3" / "20260101-000000"
    (replay / "t1-0").mkdir(parents=True)
    (replay / "t1-0" / "transcript.md").write_text("# replayed\n")
    (small_run.root / "replays" / "node-3" / "stray.txt").write_text("not a replay\n")
    node = json.loads(get(server, "/api/node/3")[1])
    assert node["replays"] == ["replays/node-3/20260101-000000"]
    assert json.loads(get(server, "/api/node/2")[1])["replays"] == []
    code, body = get(server, "/api/log?path=" + quote(node["replays"][0]))
    assert code == 200
    assert json.loads(body)["files"] == ["replays/node-3/20260101-000000/t1-0/transcript.md"]
