"""The polyglot benchmark (Aider's, from Exercism's tracks) in all six of its languages."""

from benchmarks.polyglot.suite import PolyglotBenchmark

__all__ = ["PolyglotBenchmark"]
