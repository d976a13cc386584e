"""Property: clade stats kept incrementally (results, tampered results, invalid and
quarantined nodes) equal stats rebuilt from scratch."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import OUTCOMES, QUARANTINE_MODES, Archive, ArchiveError

# An operation: ("add", parent pick, invalid?), ("eval", node pick, outcome index),
# ("status", node pick, invalid?) or ("decide", node pick, approve?).
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 1000), st.booleans()),
        st.tuples(st.just("eval"), st.integers(0, 1000), st.integers(0, len(OUTCOMES) - 1)),
        st.tuples(st.just("status"), st.integers(0, 1000), st.booleans()),
        st.tuples(st.just("decide"), st.integers(0, 1000), st.booleans()),
    ),
    max_size=25,
)
COUNTER = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, mode=st.sampled_from(QUARANTINE_MODES))
def test_incremental_stats_equal_rebuilt(ops, mode, tmp_path: Path, seed_dir: Path):
    archive = Archive.create(tmp_path / f"run{next(COUNTER)}", seed_dir)
    archive.set_quarantine_mode(mode)
    count = 1
    for op in ops:
        if op[0] == "add":
            archive.add_child(op[1] % count, diff="", status="invalid" if op[2] else "valid")
            count += 1
        elif op[0] == "eval":
            archive.record_evaluation(op[1] % count, "b", "t", OUTCOMES[op[2]])
        elif op[0] == "status":
            archive.set_status(op[1] % count, "invalid" if op[2] else "valid")
        else:
            decide = archive.approve if op[2] else archive.reject
            with contextlib.suppress(ArchiveError):  # not waiting: refused, nothing changes
                decide(op[1] % count)
    incremental = archive.all_stats()
    archive.rebuild_stats()
    assert archive.all_stats() == incremental
    assert archive.check() == []
    # The root's clade holds every trial, every tampered one and every bad node.
    evals = archive.evaluations()
    nodes = archive.nodes()
    root = incremental[0][1]
    assert root.trials == len(evals)
    assert root.tampered == sum(e.outcome == "tampered" for e in evals)
    assert root.bad_nodes == sum(n.status == "invalid" or n.held for n in nodes)
    if mode == "off":
        assert not any(n.quarantine for n in nodes)
