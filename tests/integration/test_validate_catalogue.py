"""Every change in sim's catalogue through the real validation path: the seed agent with the
change applied, checked in a real sandbox against a real gateway session. A `broken` change
must be rejected with a reason; the others must pass. This pins what the e2e run can only
show by chance (whether a run of a given length happens to draw a broken change)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dgm.evolve.validate import SMOKE_CONTEXT, validate_child
from dgm.fm import Gateway, SessionTags
from dgm.fm.sim.catalogue import apply_change, load_catalogue
from sandbox import SandboxConfig

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SEED_AGENT = Path(__file__).parents[2] / "dgm" / "seed_agent"
CHANGES = sorted(load_catalogue().values(), key=lambda c: c.id)


@pytest.fixture(scope="module")
def gateway(docker_daemon):
    gw = Gateway("sim", seed=0)
    yield gw
    gw.close()


def source(dest: Path) -> Path:
    shutil.copytree(SEED_AGENT, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
def test_validation_rejects_exactly_the_broken_changes(change, gateway, tmp_path):
    parent = source(tmp_path / "parent")
    child = source(tmp_path / "child")
    assert apply_change(change, child) == []
    tags = SessionTags(run="catalogue", node=0, task="smoke", role="solve", attempt=0)
    with gateway.session(tags, sim_context=SMOKE_CONTEXT) as fm:
        verdict = validate_child(
            parent,
            child,
            fm_session=fm,
            sandbox_config=SandboxConfig(),
            labels={"dgm.test": "catalogue"},
            timeout=15,  # a hanging change (wait_for_workspace) costs the whole timeout
        )
    if change.kind == "broken":
        assert not verdict.valid and verdict.reason, verdict
    else:
        assert verdict.valid, verdict.reason
    assert verdict.changed_files == len({e.file for e in change.edits})
