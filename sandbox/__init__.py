"""Docker sandboxes: the image, sessions with limits, safe file transfer and clean-up.

Imports nothing of dgm, archive or benchmarks.
"""

from sandbox.cleanup import remove_orphans
from sandbox.config import FM_DIR, OUTDIR, TMPDIR, UID, WORKDIR, SandboxConfig
from sandbox.errors import (
    DockerUnavailable,
    ImageMissing,
    LimitExceeded,
    SandboxError,
    SandboxTimeout,
)
from sandbox.image import IMAGE_NAME, RECIPE_VERSION, ensure_image, image_ready
from sandbox.session import RunResult, Sandbox, wait_for_removals

__all__ = [
    "FM_DIR",
    "IMAGE_NAME",
    "OUTDIR",
    "RECIPE_VERSION",
    "TMPDIR",
    "UID",
    "WORKDIR",
    "DockerUnavailable",
    "ImageMissing",
    "LimitExceeded",
    "RunResult",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxTimeout",
    "ensure_image",
    "image_ready",
    "remove_orphans",
    "wait_for_removals",
]
