"""The sandbox images: python3 and git on Debian with a non-root user (the default
profile), and the same plus the polyglot benchmark's toolchains (the `polyglot` profile).

`docker build` from a slim Python base is tried first; where no image registry answers, a
Debian root file system is made with `debootstrap` (its default mirror) and imported. The
recipe version is both the tag and a label, so changing the recipe rebuilds the image. The
polyglot image is built on top of the default one (`sandbox/image_polyglot.py`).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker.errors as docker_errors

from sandbox import engine
from sandbox.cleanup import SYSTEM_TMP  # shared by processes, not a scratch root
from sandbox.docker_cli import docker, docker_ok
from sandbox.errors import ImageMissing

RECIPE_VERSION = "4"
IMAGE_REPO = "dgm-sandbox"
IMAGE_NAME = f"{IMAGE_REPO}:{RECIPE_VERSION}"
LABEL = "dgm.recipe"
PACKAGES = "python3,python-is-python3,git,ca-certificates"
ENV = {"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}

DOCKERFILE = f"""\
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git \\
 && rm -rf /var/lib/apt/lists/* \\
 && useradd -u 1000 -M -d /tmp agent \\
 && find / -xdev -perm /6000 -type f -exec chmod ug-s {{}} +
LABEL {LABEL}={RECIPE_VERSION}
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8
USER 1000
"""


PROFILES = ("default", "polyglot")


def image_ready(tag: str = IMAGE_NAME, version: str = RECIPE_VERSION) -> bool:
    """True when `tag` exists and carries the recipe label `version`."""
    try:
        config = engine.call(engine.client().inspect_image, tag)["Config"]
    except docker_errors.NotFound:
        return False
    return (config.get("Labels") or {}).get(LABEL) == version


def ensure_image(console=None, force: bool = False, profile: str = "default") -> str:
    """Return the tag of the sandbox image of `profile`, building it first when missing or
    stale. `force` rebuilds only that profile's own layer."""
    docker_ok()
    if profile == "polyglot":
        from sandbox.image_polyglot import ensure_polyglot_image

        return ensure_polyglot_image(ensure_image(console), console=console, force=force)
    if profile != "default":
        raise ImageMissing(f"unknown image profile '{profile}' (choose {', '.join(PROFILES)})")
    if not force and image_ready():
        return IMAGE_NAME
    # One build at a time on this machine: parallel test workers or runs wait for it.
    with open(SYSTEM_TMP / "dgm-sandbox-image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and image_ready():
            return IMAGE_NAME
        return _build(console)


def _build(console) -> str:
    say = console.print if console is not None else (lambda *a, **k: None)
    say(f"building the sandbox image {IMAGE_NAME} (once; about a minute)")
    start = time.monotonic()
    errors = []
    for build in (_build_from_registry, _build_with_debootstrap):
        try:
            build(console)
        except ImageMissing as exc:
            errors.append(str(exc))
            continue
        if image_ready():
            say(f"built {IMAGE_NAME} in {time.monotonic() - start:.0f} s")
            return IMAGE_NAME
    raise ImageMissing("could not build the sandbox image: " + "; ".join(errors))


def _status(console, text: str):
    if console is None:
        return _Null()
    return console.status(text)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, *a, **k):
        pass


def _run_streaming(cmd: list[str], status, label: str, stdin=None, timeout: float = 900) -> str:
    """Run `cmd`, showing its latest output line under `label`; return the output's tail."""
    proc = subprocess.Popen(
        cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        status.update(f"{label}: {line.strip()[:90]}")
        if time.monotonic() > deadline:
            proc.kill()
            break
    proc.wait()
    if proc.returncode != 0:
        raise ImageMissing(f"{cmd[0]} {cmd[1]} failed: {' / '.join(tail[-3:])[:300]}")
    return "\n".join(tail)


def _build_from_registry(console) -> None:
    """`docker build` from a slim Python base; fails fast where no registry answers."""
    with tempfile.TemporaryDirectory(prefix="dgm-image-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        with _status(console, "docker build from python:3.11-slim") as status:
            pull = docker(["pull", "python:3.11-slim"], timeout=120)
            if pull.returncode != 0:
                raise ImageMissing("no image registry answers (docker pull failed)")
            _run_streaming(["docker", "build", "-t", IMAGE_NAME, tmp], status, "docker build")


def _build_with_debootstrap(console) -> None:
    """A minimal Debian root file system from debootstrap's default mirror, imported."""
    if shutil.which("debootstrap") is None:
        raise ImageMissing("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="dgm-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        with _status(console, "debootstrap bookworm") as status:
            _run_streaming(
                ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm",
                 str(root)],
                status, "debootstrap",
            )  # fmt: skip
            _trim(root)
            changes = [f"LABEL {LABEL}={RECIPE_VERSION}", "USER 1000", "WORKDIR /tmp"]
            changes += [f"ENV {k}={v}" for k, v in ENV.items()]
            args = ["docker", "import"]
            for change in changes:
                args += ["--change", change]
            status.update("docker import")
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                _run_streaming([*args, "-", IMAGE_NAME], status, "docker import", stdin=tar.stdout)
            finally:
                tar.wait()


def _trim(root: Path) -> None:
    """Drop apt caches and docs, strip setuid/setgid bits (a second layer beside
    no-new-privileges), and add the non-root user."""
    for rel in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        target = root / rel
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o6000:
            path.chmod(path.stat().st_mode & ~0o6000)
    with open(root / "etc/passwd", "a") as f:
        f.write("agent:x:1000:1000:dgm agent:/tmp:/bin/bash\n")
    with open(root / "etc/group", "a") as f:
        f.write("agent:x:1000:\n")
