"""Limits of one sandbox and the container layout every sandbox shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

WORKDIR = "/work"  # the writable workspace (a sized tmpfs)
OUTDIR = "/out"  # writable, for logs the host copies out
TMPDIR = "/tmp"  # sized tmpfs; also HOME
FM_DIR = "/fm"  # the FM gateway's socket directory, read-only
UID = 1000  # the non-root user every command runs as


class SandboxConfig(BaseModel):
    """Resource limits of one sandbox. The defaults suit one agent on one coding task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int = Field(1024, gt=16)
    """Memory limit of the whole container (tmpfs contents count against it); no swap."""
    cpus: float = Field(1.0, gt=0)
    """CPU share, in cores."""
    pids: int = Field(256, gt=8)
    """Most processes and threads alive at once: holds fork bombs."""
    tmpfs_mb: int = Field(256, gt=0)
    """Size of /tmp."""
    workspace_mb: int = Field(512, gt=0)
    """Size of the /work workspace."""
    out_mb: int = Field(64, gt=0)
    """Size of /out."""
    command_timeout: float = Field(120, gt=0)
    """Default time limit of one command, in seconds."""
    session_timeout: float = Field(1800, gt=0)
    """Lifetime of the container: it ends itself after this, even if the host process dies."""
    output_limit: int = Field(64_000, gt=100)
    """Characters of stdout and of stderr kept per command (head and tail)."""
    output_kill: int = Field(64 * 1024 * 1024, gt=0)
    """Bytes of output after which a command is killed: nobody reads gigabytes."""
    transfer_limit_mb: int = Field(512, gt=0)
    """Largest directory copied in or out."""
    background_removal: bool = False
    """Remove the container in a background thread when the session ends, so the caller
    goes on at once (a run's workers do; removal is still awaited at exit)."""
    image: str | None = None
    """Image to run; None means the built-in sandbox image."""
