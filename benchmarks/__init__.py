"""Coding benchmarks: the `Benchmark` protocol, task suites and clean-room grading."""

from benchmarks.base import (
    CHECK_HEADING,
    Benchmark,
    BenchmarkError,
    GradeResult,
    Outcome,
    Task,
)

__all__ = ["CHECK_HEADING", "Benchmark", "BenchmarkError", "GradeResult", "Outcome", "Task"]
