"""The `polyglot` image profile: the default image plus the toolchains of the polyglot
benchmark (C++, Go, Java, JavaScript, Rust), all usable with no network at test time.

Built on top of the default image in one container that has the network *at build time
only*: Debian packages with apt (Debian packages the Rust crates the exercises need, and
JUnit 5), and the JavaScript exercises' test runner from the npm registry into
`/opt/dgm-polyglot/js`. The host's CA bundle, npm user config and proxy variables are passed
in read-only for that one container, so a build works behind an intercepting proxy, and none
of them stays in the image. The container is then committed with the recipe label.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
import uuid
from pathlib import Path

from sandbox.cleanup import SYSTEM_TMP  # shared by processes, not a scratch root
from sandbox.docker_cli import docker
from sandbox.errors import ImageMissing

POLYGLOT_RECIPE = "3"
POLYGLOT_IMAGE = f"dgm-sandbox-polyglot:{POLYGLOT_RECIPE}"
GO_VERSION = "1.22"
GO_ROOT = f"/usr/lib/go-{GO_VERSION}"
# Go no longer ships its standard library compiled: the build compiles what tests use once,
# into a cache each test run copies (a few MB) instead of compiling it again.
GO_CACHE_SEED = "/opt/dgm-polyglot/go-cache"
GO_WARM_IMPORTS = (
    "bufio bytes container/heap container/list errors fmt io math math/big math/rand os "
    "reflect regexp slices sort strconv strings sync testing time unicode unicode/utf8"
)
GO_WARM_TEST = (
    "package warm\nimport (\n"
    + "".join(f'\t_ "{p}"\n' for p in GO_WARM_IMPORTS.split() if p != "testing")
    + '\t"testing"\n)\nfunc TestWarm(t *testing.T) {}\n'
)
JS_ROOT = "/opt/dgm-polyglot/js"
JS_MODULES = f"{JS_ROOT}/node_modules"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"

APT_PACKAGES = (
    "g++ make cmake libboost-date-time-dev "  # C++ (gigasecond and meetup use Boost)
    f"golang-{GO_VERSION}-go "  # from bookworm-backports: exercises use Go 1.21's `slices`
    "default-jdk-headless junit5 libassertj-core-java libandroid-json-java "  # org.json API
    "nodejs npm "
    "rustc cargo librust-rand-dev librust-anyhow-dev librust-time-dev "
    "librust-thiserror-dev librust-permutohedron-dev"  # crates of two references
)
# The devDependencies the exercises' package.json files name (test runner and transpiler).
NPM_PACKAGES = (
    "jest@29.7.0 babel-jest@29.7.0 @babel/core@7.25.2 "
    "@exercism/babel-preset-javascript@0.2.1 core-js@3.37.1"
)

# Cargo looks for `.cargo/config.toml` in every parent of the crate, so `/` serves every
# workspace: crates come from Debian's vendored registry, never from the network.
CARGO_CONFIG = """\
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
"""

BUILD_SCRIPT = f"""\
set -eu
export DEBIAN_FRONTEND=noninteractive
# bookworm-backports from the base's own mirror (deb822 or one-line sources)
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -i 's/^Suites: bookworm bookworm-updates$/& bookworm-backports/' \
    /etc/apt/sources.list.d/debian.sources
fi
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb \\(.*\\) bookworm main\\(.*\\)$/deb \\1 bookworm-backports main\\2/p' \
    /etc/apt/sources.list > /etc/apt/sources.list.d/dgm-backports.list
fi
apt-get update
apt-get install -y --no-install-recommends {APT_PACKAGES}
mkdir -p {JS_ROOT} /.cargo
cat > /.cargo/config.toml <<'CARGO'
{CARGO_CONFIG}CARGO
cd {JS_ROOT}
echo '{{"name": "dgm-polyglot-js", "private": true}}' > package.json
npm install --no-audit --no-fund --no-update-notifier {NPM_PACKAGES}
node {JS_MODULES}/jest/bin/jest.js --version
javac -version
export PATH={GO_ROOT}/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off
mkdir -p /tmp/gowarm {GO_CACHE_SEED}
cd /tmp/gowarm
printf 'module warm\\ngo 1.18\\n' > go.mod
printf 'package warm\\n' > warm.go
cat > warm_test.go <<'GO'
{GO_WARM_TEST}GO
GOCACHE={GO_CACHE_SEED} GOPATH=/tmp/gopath CGO_ENABLED=0 go test -count=1 .
GOCACHE={GO_CACHE_SEED} GOPATH=/tmp/gopath CGO_ENABLED=0 go vet .
du -sh {GO_CACHE_SEED}
chmod -R a+rX {GO_CACHE_SEED}
cd /
go version
cargo --version
g++ --version | head -1
rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* /usr/share/man/* \\
  /tmp/npm-cache /root/.npm
find / -xdev -perm /6000 -type f -exec chmod ug-s {{}} +
echo dgm-polyglot-build-done
"""

ENV = {
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "LANG": "C.UTF-8",
    "CARGO_HOME": "/tmp/cargo",
    "GOPATH": "/tmp/go",
    "GOCACHE": "/tmp/go-cache",
    "GOFLAGS": "-mod=mod",
    "GOTOOLCHAIN": "local",
    "PATH": f"{GO_ROOT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "GOPROXY": "off",
    "CGO_ENABLED": "0",
    "NODE_PATH": JS_MODULES,
}


def polyglot_ready(tag: str = POLYGLOT_IMAGE) -> bool:
    from sandbox.image import image_ready

    return image_ready(tag, f"polyglot-{POLYGLOT_RECIPE}")


def ensure_polyglot_image(base: str, console=None, force: bool = False) -> str:
    """Return the polyglot image's tag, building it on `base` when missing or stale."""
    if not force and polyglot_ready():
        return POLYGLOT_IMAGE
    lock_path = SYSTEM_TMP / "dgm-sandbox-polyglot-image.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and polyglot_ready():
            return POLYGLOT_IMAGE
        return _build(base, console)


def _build(base: str, console) -> str:
    from sandbox.image import LABEL, _run_streaming, _status

    say = console.print if console is not None else (lambda *a, **k: None)
    say(f"building the polyglot sandbox image {POLYGLOT_IMAGE} (once; about 10 minutes)")
    start = time.monotonic()
    name = f"dgm-polyglot-build-{uuid.uuid4().hex[:8]}"
    args = ["docker", "run", "--name", name, "--user", "0", "--workdir", "/", "-i"]
    args += ["-e", "npm_config_cache=/tmp/npm-cache", "-e", "HOME=/root"]
    if Path(HOST_CA).is_file():
        args += ["-v", f"{HOST_CA}:/run/dgm-host-ca.crt:ro"]
        args += ["-e", "npm_config_cafile=/run/dgm-host-ca.crt"]
        args += ["-e", "NODE_EXTRA_CA_CERTS=/run/dgm-host-ca.crt"]
    npmrc = Path(os.environ.get("NPM_CONFIG_USERCONFIG", "~/.npmrc")).expanduser()
    if npmrc.is_file():
        args += ["-v", f"{npmrc}:/run/dgm-host-npmrc:ro"]
        args += ["-e", "npm_config_userconfig=/run/dgm-host-npmrc"]
    for var in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        if os.environ.get(var):
            args += ["-e", f"{var}={os.environ[var]}"]
    args += [base, "sh", "-s"]
    try:
        with (
            _status(console, "polyglot image: apt-get and npm install") as status,
            tempfile.TemporaryFile() as script,
        ):
            script.write(BUILD_SCRIPT.encode())
            script.seek(0)
            tail = _run_streaming(args, status, "polyglot build", stdin=script, timeout=3600)
            if "dgm-polyglot-build-done" not in tail:
                raise ImageMissing("the polyglot image build did not finish")
            status.update("docker commit")
            changes = [f"LABEL {LABEL}=polyglot-{POLYGLOT_RECIPE}", "USER 1000", "WORKDIR /tmp"]
            changes += [f"ENV {k}={v}" for k, v in ENV.items()]
            commit = ["commit"]
            for change in changes:
                commit += ["--change", change]
            proc = docker([*commit, name, POLYGLOT_IMAGE], timeout=900)
            if proc.returncode != 0:
                raise ImageMissing(f"docker commit failed: {proc.stderr.strip()[:300]}")
    finally:
        docker(["rm", "-f", name], timeout=120)
    if not polyglot_ready():
        raise ImageMissing(f"built {POLYGLOT_IMAGE} but its recipe label is missing")
    size = docker(["image", "inspect", "-f", "{{.Size}}", POLYGLOT_IMAGE]).stdout.strip()
    mb = int(size) / 1e6 if size.isdigit() else 0
    say(f"built {POLYGLOT_IMAGE} in {time.monotonic() - start:.0f} s ({mb:.0f} MB)")
    return POLYGLOT_IMAGE


__all__ = ["JS_MODULES", "POLYGLOT_IMAGE", "ensure_polyglot_image", "polyglot_ready"]
