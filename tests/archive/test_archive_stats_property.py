"""Property: clade stats kept incrementally equal stats rebuilt from scratch."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import OUTCOMES, Archive

# An operation: ("add", parent pick) or ("eval", node pick, outcome index).
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 1000)),
        st.tuples(st.just("eval"), st.integers(0, 1000), st.integers(0, len(OUTCOMES) - 1)),
    ),
    max_size=25,
)
COUNTER = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_incremental_stats_equal_rebuilt(ops, tmp_path: Path, seed_dir: Path):
    archive = Archive.create(tmp_path / f"run{next(COUNTER)}", seed_dir)
    count = 1
    for op in ops:
        if op[0] == "add":
            archive.add_child(op[1] % count, diff="")
            count += 1
        else:
            archive.record_evaluation(op[1] % count, "b", "t", OUTCOMES[op[2]])
    incremental = archive.all_stats()
    archive.rebuild_stats()
    assert archive.all_stats() == incremental
    assert archive.check() == []
    # The root's clade holds every trial.
    assert incremental[0][1].trials == len(archive.evaluations())
