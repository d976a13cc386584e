"""The suite registry: names, options, one-line errors."""

from __future__ import annotations

import pytest

import benchmarks
from benchmarks import BENCHMARKS, Benchmark, BenchmarkError, get_benchmark


def test_names_cover_the_suites():
    assert {"humaneval", "bugfix", "polyglot"} <= set(BENCHMARKS)


def test_humaneval_is_a_benchmark():
    suite = get_benchmark("humaneval")
    assert isinstance(suite, Benchmark)
    assert suite.name == "humaneval"


def test_unknown_name_is_one_line_exit_2():
    with pytest.raises(BenchmarkError) as info:
        get_benchmark("nope")
    assert "unknown benchmark 'nope'" in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_option_is_refused():
    with pytest.raises(BenchmarkError, match="takes no option 'path'"):
        get_benchmark("humaneval", path="/tmp")


def test_public_names_are_exported():
    for name in benchmarks.__all__:
        assert hasattr(benchmarks, name)
