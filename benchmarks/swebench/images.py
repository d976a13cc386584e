"""Instance environments as Docker images, built once and cached by content hash.

Three layers, each tagged and labelled with a hash of everything that goes into it, so a
second build of the same environment is an image lookup (seconds):

1. base `dgm-swebench-base:<release>-<hash>`: a Debian root file system from `debootstrap`
   (bookworm for Python 3.11, bullseye for 3.9) with python3, venv, git, the non-root
   user; made like the default sandbox image (`sandbox.image`) and imported.
2. env `dgm-swebench-env:<repo>-<version>-<hash>`: a venv at /opt/venv with the pinned
   requirements, installed by pip in a build container that has the network, the host's CA
   bundle and the host's pip index settings (`pip config list`, PIP_* variables). The
   sandbox that later runs from it never has a network.
3. instance `dgm-swebench:<instance>-<hash>`: the repository at base_commit, installed in
   /work as the environment says, then moved to BASE_TREE (`/work-base`, root-owned,
   read-only to the sandbox user): the task's base tree (`Task.base_tree`). A sandbox mounts
   a fresh /work and seeds it from there, so the repository (with what its install wrote
   there: egg-info, a generated `_version.py`) never travels from the host.
   Bytecode of the repository, the venv and the stdlib is compiled into a read-only tree
   (PYTHONPYCACHEPREFIX, checked by source hash), so no sandbox recompiles unchanged files.

A failed step raises ImageBuildError naming the instance and the step; its log is kept.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.base import BenchmarkError
from benchmarks.swebench.dataset import EnvSpec
from sandbox.docker_cli import docker, docker_ok
from sandbox.image import _status, _trim

RECIPE = "2"  # bump to rebuild every SWE-bench image
INSTANCE_RECIPE = "3"  # bump to rebuild only the instance layer
LABEL = "dgm.swebench.hash"
BASE_PACKAGES = "python3,python3-venv,python3-dev,git,ca-certificates,patch,bash"
BUILD_PIP = "pip==23.0.1"  # the pip the verified environments used, on both releases
VENV = "/opt/venv"
BASE_TREE = "/work-base"  # the repository as installed, in every instance image
PYCACHE = "/opt/dgm-swebench/pycache"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# pip settings whose values are host paths or URLs a build container must see too
PATH_KEYS = ("cert", "client-cert", "constraint", "find-links", "index-url", "extra-index-url")


class ImageBuildError(BenchmarkError):
    """An environment image could not be built (the environment's fault): exit code 1."""

    exit_code = 1


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "dgm" / "swebench"


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr((RECIPE, *parts)).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:80]


def image_ready(tag: str, digest: str) -> bool:
    fmt = '{{index .Config.Labels "' + LABEL + '"}}'
    proc = docker(["image", "inspect", "-f", fmt, tag])
    return proc.returncode == 0 and proc.stdout.strip() == digest


def image_size(tag: str) -> int:
    proc = docker(["image", "inspect", "-f", "{{.Size}}", tag])
    return int(proc.stdout.strip() or 0) if proc.returncode == 0 else 0


class Builder:
    """Builds (or finds) the images of instances; `console` shows progress (Rich)."""

    def __init__(self, console=None, logs: Path | None = None):
        self.console = console
        self.logs = logs or cache_dir() / "logs"
        self.built: list[tuple[str, float]] = []  # (tag, seconds) of images built here

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False)

    # -- layers --------------------------------------------------------------------------
    def base(self, release: str, iid: str) -> str:
        digest = _hash("base", release, BASE_PACKAGES)
        tag = f"dgm-swebench-base:{release}-{digest[:12]}"
        if image_ready(tag, digest):
            return tag
        if shutil.which("debootstrap") is None:
            raise ImageBuildError(f"{iid}: step base: debootstrap is not installed")
        start = time.monotonic()
        self._fresh_log(iid, "base")
        with tempfile.TemporaryDirectory(prefix="dgm-swebench-rootfs-") as tmp:
            root = Path(tmp) / "rootfs"
            cmd = ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", release,
                   str(root)]  # fmt: skip
            self._step(iid, "base", f"debootstrap {release}", cmd)
            _trim(root)
            changes = [f"LABEL {LABEL}={digest}", "USER 1000", "WORKDIR /tmp",
                       "ENV HOME=/tmp", "ENV LANG=C.UTF-8"]  # fmt: skip
            args = ["docker", "import"]
            for change in changes:
                args += ["--change", change]
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                self._step(iid, "base", "docker import", [*args, "-", tag], stdin=tar.stdout)
            finally:
                tar.wait()
        self.built.append((tag, time.monotonic() - start))
        return tag

    def env(self, record: dict, spec: EnvSpec) -> str:
        iid = record["instance_id"]
        base = self.base(spec.release, iid)
        key = spec.env_key(record["repo"], str(record.get("version")))
        digest = _hash("env", base, key, BUILD_PIP)
        tag = f"dgm-swebench-env:{_slug(record['repo'])}-{_slug(str(record.get('version')))}-{digest[:12]}"  # noqa: E501
        if image_ready(tag, digest):
            return tag
        self._fresh_log(iid, "requirements")
        pins = " ".join(shlex.quote(p) for p in spec.pip)
        pre = "".join(f"{cmd}; " for cmd in spec.pre_install)  # as root, with the network
        script = (
            f"set -e; {pre}python3 -m venv {VENV}; "
            f"{VENV}/bin/python -m pip install -q {BUILD_PIP}; "
            + (f"{VENV}/bin/python -m pip install {pins}" if pins else "true")
        )
        self._container_step(iid, "requirements", base, tag, digest, script)
        return tag

    def instance(self, record: dict, spec: EnvSpec, files: dict[str, bytes], modes: dict) -> str:
        """The instance's image, built with the layers under it when missing. One build at a
        time on a machine (parallel test workers and runs wait), then checked again."""
        docker_ok()  # no daemon: the sandbox's one-line error, not a failed inspect
        lock_path = cache_dir() / "build.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._instance(record, spec, files, modes)

    def _instance(self, record: dict, spec: EnvSpec, files: dict[str, bytes], modes) -> str:
        iid = record["instance_id"]
        env = self.env(record, spec)
        content = hashlib.sha256()
        for rel in sorted(files):
            content.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
        digest = _hash("instance", INSTANCE_RECIPE, env, spec.install, content.hexdigest())
        tag = f"dgm-swebench:{_slug(iid)}-{digest[:12]}"
        if image_ready(tag, digest):
            return tag
        self._fresh_log(iid, "install")
        archive = _tar_bytes(files, modes)
        # The install runs with the venv active, in /work (an editable install points there,
        # where every sandbox seeds its workspace from BASE_TREE).
        script = (
            "set -e; mkdir -p /work /opt/dgm-swebench; tar -x -C /work; cd /work; "
            f"unset PYTHONDONTWRITEBYTECODE; export VIRTUAL_ENV={VENV}; "
            f"{spec.install or 'true'}; "
            # Bytecode of the base files, checked by source hash (not mtime, which a copy into
            # a sandbox changes), in a read-only tree outside /work: every sandbox skips
            # compiling what the agent did not change (sympy: 6 s of each test run). With a
            # prefix Python reads no __pycache__, so the venv and the stdlib go there too.
            f"PYTHONPYCACHEPREFIX={PYCACHE} python -m compileall -q -j 0 "
            "--invalidation-mode checked-hash /work /opt/venv/lib /usr/lib/python3* "
            "> /dev/null 2>&1 || true; "
            "find /work -name __pycache__ -type d -prune -exec rm -rf {} +; "
            f"cd /; mv /work {BASE_TREE}; mkdir -m 755 /work; "
            f"chown -R 0:0 {BASE_TREE}; chmod -R go-w {BASE_TREE}"
        )
        self._container_step(iid, "install", env, tag, digest, script, stdin=archive)
        self._drop_stale(tag)
        return tag

    def _drop_stale(self, tag: str) -> None:
        """Remove this instance's images of older recipes or contents (disk is finite)."""
        repo, _, current = tag.partition(":")
        prefix = current[: current.rfind("-") + 1]
        listed = docker(["images", repo, "--format", "{{.Tag}}"]).stdout.split()
        stale = [f"{repo}:{t}" for t in listed if t.startswith(prefix) and t != current]
        if stale:
            docker(["rmi", *stale])

    # -- steps ---------------------------------------------------------------------------
    def _log(self, iid: str, step: str) -> Path:
        return self.logs / f"{_slug(iid)}-{step}.log"

    def _fresh_log(self, iid: str, step: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._log(iid, step).write_text("")

    def _container_step(self, iid, step, parent, tag, digest, script, stdin: bytes | None = None):
        """Run `script` as root in a build container of `parent` (with the network and the
        host's pip settings), then commit it as `tag`."""
        start = time.monotonic()
        name = f"dgm-swebench-build-{uuid.uuid4().hex[:10]}"
        args = ["docker", "run", "--name", name, "--user", "0", "--label", "dgm.swebench.build=1"]
        args += ["-i"] if stdin is not None else []
        for key, value in pip_settings().items():
            args += ["--env", f"{key}={value}"]
        for host in host_paths():
            args += ["--mount", f"type=bind,source={host},target={host},readonly"]
        args += [parent, "bash", "-c", script]
        try:
            self._step(iid, step, f"{step} in {parent}", args, stdin_bytes=stdin)
            changes = [f"LABEL {LABEL}={digest}", "USER 1000", "WORKDIR /tmp",
                       f"ENV PATH={PATH}", f"ENV VIRTUAL_ENV={VENV}",
                       f"ENV PYTHONPYCACHEPREFIX={PYCACHE}"]  # fmt: skip
            commit = ["docker", "commit"]
            for change in changes:
                commit += ["--change", change]
            self._step(iid, step, "docker commit", [*commit, name, tag])
        finally:
            docker(["rm", "-f", name])
        self.built.append((tag, time.monotonic() - start))

    def _step(self, iid, step, label, cmd, stdin=None, stdin_bytes=None) -> None:
        """Run one build command, its latest line as progress; keep its whole log."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self._log(iid, step)
        with open(log, "a") as out, _status(self.console, f"{iid}: {label}") as status:
            out.write(f"$ {shlex.join(cmd)[:2000]}\n")
            out.flush()
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE if stdin_bytes is not None else stdin,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            if stdin_bytes is not None:
                assert proc.stdin is not None
                try:
                    proc.stdin.write(stdin_bytes)
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            assert proc.stdout is not None
            tail = ""
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                out.write(line)
                tail = line.strip() or tail
                status.update(f"{iid}: {label}: {tail[:90]}")
            code = proc.wait()
        if code != 0:
            raise ImageBuildError(
                f"{iid}: image build step '{step}' failed ({label}, exit {code}): "
                f"{tail[:200]} (log: {log})"
            )


def pip_settings() -> dict[str, str]:
    """PIP_* settings for a build container: the host's environment and `pip config list`,
    with the CA bundle mounted at the same path."""
    settings: dict[str, str] = {}
    proc = subprocess.run(
        ["python3", "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    )
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        match = re.match(r"^[\w:.-]*?\.([\w-]+)='(.*)'$", line.strip())
        if match:
            settings["PIP_" + match[1].upper().replace("-", "_")] = match[2]
    settings.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    if Path(CA_BUNDLE).is_file():
        settings.setdefault("PIP_CERT", CA_BUNDLE)
        settings["SSL_CERT_FILE"] = settings["REQUESTS_CA_BUNDLE"] = settings["PIP_CERT"]
    return settings


def host_paths() -> list[str]:
    """Host files and directories the pip settings name (mounted read-only, same path)."""
    found: set[str] = set()
    for key, value in pip_settings().items():
        if key.startswith("PIP_") and key[4:].lower().replace("_", "-") not in PATH_KEYS:
            continue
        for word in value.split():
            path = Path(word.removeprefix("file://"))
            if word.startswith("file://") and "index-url" in key.lower().replace("_", "-"):
                path = path.parent  # a local index's links point beside its simple/ tree
            if path.is_absolute() and path.exists():
                found.add(str(path.resolve()))
    if Path(CA_BUNDLE).is_file():
        found.add(CA_BUNDLE)
    return sorted(found)


def _tar_bytes(files: dict[str, bytes], modes: dict[str, int]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in sorted(files):
            info = tarfile.TarInfo(rel)
            info.size = len(files[rel])
            info.mode = modes.get(rel, 0o644)
            info.mtime = 946684800  # fixed: the same files give the same archive
            tar.addfile(info, io.BytesIO(files[rel]))
    return buf.getvalue()
