"""Sandbox errors: one line each, with the exit code the CLI should use."""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every sandbox failure. The environment is at fault: exit code 1."""

    exit_code = 1


class DockerUnavailable(SandboxError):
    """No Docker daemon answers."""


class ImageMissing(SandboxError):
    """The sandbox image is not built and could not be built."""


class SandboxTimeout(SandboxError):
    """A container did not start or a transfer did not finish in time."""


class LimitExceeded(SandboxError):
    """A transfer exceeded a configured size limit."""
