"""From inside a real `--network none` sandbox, the stdlib client reaches the gateway through
the mounted socket directory and gets a `sim` answer; no key enters the container."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dgm.fm import Gateway, MemoryLedger, SessionTags

pytestmark = pytest.mark.docker

CLIENT = Path(__file__).resolve().parents[3] / "dgm" / "fm" / "client.py"
PROBE = """\
import json, os, sys
sys.path.insert(0, "/agent")
from fm_client import FMClient
reply = FMClient().chat([{"role": "user", "content": "Diagnose the agent."}])
print(json.dumps({
    "reply": reply,
    "env": sorted(os.environ),
    "interfaces": sorted(os.listdir("/sys/class/net")),
}))
"""


def test_client_in_a_network_none_sandbox_gets_a_sim_answer(docker_daemon, tmp_path, monkeypatch):
    from sandbox import Sandbox, SandboxConfig, ensure_image

    ensure_image()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret")  # must stay on the host
    agent = tmp_path / "agent"
    agent.mkdir()
    shutil.copyfile(CLIENT, agent / "fm_client.py")
    (agent / "probe.py").write_text(PROBE)
    ledger = MemoryLedger()
    gw = Gateway("sim", ledger=ledger, seed=1)
    tags = SessionTags(run="r", node=0, task="expansion-0", role="diagnose", attempt=0)
    try:
        with (
            gw.session(tags, sim_context={}) as s,
            Sandbox(
                SandboxConfig(memory_mb=256, pids=64),
                labels={"dgm.run": "fm-test"},
                ro_mounts={str(agent): "/agent"},
                socket_dir=s.socket_dir,
                env=s.env,
            ) as sb,
        ):
            res = sb.run(["python3", "/agent/probe.py"], timeout=60)
            assert res.exit_code == 0, res.stderr
            assert s.calls == 1
    finally:
        gw.close()
    out = json.loads(res.stdout)
    assert out["reply"]["model"] == "sim"
    assert out["reply"]["choices"][0]["message"]["content"]
    assert "OPENAI_API_KEY" not in out["env"] and not any("KEY" in k for k in out["env"])
    assert out["interfaces"] == ["lo"]
    (row,) = ledger.rows
    assert (row.role, row.task, row.error) == ("diagnose", "expansion-0", None)
