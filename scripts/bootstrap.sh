#!/usr/bin/env bash
# Idempotent set-up shared by `make run` and `make test`: a virtual environment with the
# package installed, a Docker daemon that answers, and the sandbox image. Quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True
mkdir -p .dgm

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. Virtual environment and package (reinstalled only when pyproject.toml changes).
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
stamp=.dgm/install.stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import dgm" 2>/dev/null; then
    say "installing dgm and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install -q -e '.[test]'
    echo "$want" > "$stamp"
fi

# 2. A Docker daemon that answers.
if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
        if ! command -v dockerd >/dev/null 2>&1; then
            say "installing docker.io (apt)"
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
        fi
        if ! docker info >/dev/null 2>&1; then
            say "starting dockerd (log: .dgm/dockerd.log)"
            nohup dockerd >.dgm/dockerd.log 2>&1 &
            for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        fi
    fi
    if ! docker info >/dev/null 2>&1; then
        echo "error: no Docker daemon answers; start one (or run this as root on Debian so it can be installed and started)" >&2
        exit 1
    fi
fi

# 3. The sandbox image (built when missing or when its recipe version changed). Where no
#    image registry answers it is made with debootstrap, which root on Debian can install.
if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    if ! docker image inspect "dgm-sandbox:$(.venv/bin/python -c 'import sandbox; print(sandbox.RECIPE_VERSION)')" >/dev/null 2>&1; then
        say "installing debootstrap (apt), to build the sandbox image offline"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
fi
.venv/bin/dgm sandbox build
