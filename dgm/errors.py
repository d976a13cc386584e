"""Errors the CLI turns into one line and an exit code.

Every package has a base error with an `exit_code` class attribute: 2 for bad input (an
unknown run, node, benchmark, a bad config), 1 for the environment (no Docker daemon).
"""


class DgmError(Exception):
    """A user-facing error of the `dgm` package."""

    exit_code = 2


class ConfigError(DgmError):
    """A bad run configuration: unknown key, wrong type, unknown policy/benchmark/model."""
