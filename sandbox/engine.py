"""The container life cycle over the Docker SDK: one API client per process, one-line errors.

One `docker.APIClient` serves every thread of a process (its requests session keeps no
per-request state Docker uses: no cookies, no auth on these endpoints; urllib3's pool is
thread-safe); a forked child makes its own, since a socket shared across a fork mixes
replies. The pool holds up to `POOL_SIZE` idle connections so parallel workers reuse theirs
instead of reconnecting. A daemon that does not answer (at first use or later) raises
`DockerUnavailable`; the daemon's own refusals stay `docker.errors.APIError`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions

from sandbox.errors import DockerUnavailable

POOL_SIZE = 32  # idle connections kept: more than a run's parallel workers and removers
TIMEOUT = 120  # seconds any one API call may take (a create under heavy load takes seconds)
REMOVERS = 8  # parallel removals of one call
FIRST_TIMEOUT = 20  # seconds the first call (the API version) may take: a hung daemon
T = TypeVar("T")

_client: docker.APIClient | None = None
_client_pid: int | None = None
_lock = threading.Lock()
made = 0  # clients made by this process (a test pins that they are reused)


def client() -> docker.APIClient:
    """This process's API client, made (and the daemon's API version asked) on first use."""
    global _client, _client_pid, made
    with _lock:
        if _client is not None and _client_pid == os.getpid():
            return _client
        with unavailable_as_one_line():
            try:
                made_now = docker.APIClient(
                    timeout=FIRST_TIMEOUT,
                    max_pool_size=POOL_SIZE,
                    **docker.utils.kwargs_from_env(),
                )
            except docker.errors.DockerException:  # no socket, or nobody listens on it
                where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
                raise DockerUnavailable(
                    f"no Docker daemon answers at {where}; start one (`make setup` does, as "
                    "root on Debian)"
                ) from None
        made_now.timeout = TIMEOUT  # every later request's read timeout
        _client, _client_pid = made_now, os.getpid()
        made += 1
        return _client


def _forget_in_child() -> None:
    """A forked child starts without the parent's client (and with a free lock: another
    thread may have held it at the fork)."""
    global _client, _client_pid, _lock
    _client, _client_pid, _lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


@contextmanager
def unavailable_as_one_line() -> Iterator[None]:
    """Turn a daemon that stopped answering (refused, reset, timed out) into DockerUnavailable."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        reason = _first_line(exc)
        raise DockerUnavailable(f"the Docker daemon stopped answering: {reason}") from None


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` (an APIClient method) with the daemon's absence as one line."""
    with unavailable_as_one_line():
        return fn(*args, **kwargs)


def running(name: str) -> bool:
    """Whether the container exists and runs."""
    try:
        state = call(client().inspect_container, name)["State"]
    except docker.errors.NotFound:
        return False
    return bool(state.get("Running"))


def exists(name: str) -> bool:
    """Whether the daemon still knows the container (in any state, "removing" too)."""
    try:
        call(client().inspect_container, name)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError:
        return True  # another refusal: assume it is still there
    return True


def remove_and_wait(names: list[str], patience: float = 60.0) -> bool:
    """Force-remove the containers and return once the daemon no longer knows them: true once
    every one is gone, false when `patience` ran out. A removal the daemon had already begun
    (a `--rm` container whose runner just exited: 409 Conflict) is awaited with the API's
    `wait?condition=removed` instead of polling."""
    deadline = time.monotonic() + patience
    if len(names) <= 1:
        return all(_remove_one(name, deadline) for name in names)
    # In parallel, as `docker rm -f A B ...` does: killing and unmounting takes the daemon
    # about 0.1 s per running container.
    with ThreadPoolExecutor(min(len(names), REMOVERS), "dgm-docker-rm") as pool:
        return all(list(pool.map(lambda name: _remove_one(name, deadline), names)))


def _remove_one(name: str, deadline: float) -> bool:
    api = client()
    while True:
        try:
            call(api.remove_container, name, force=True)
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            pass  # removal in progress, or it failed: wait for the end, then try again
        left = deadline - time.monotonic()
        if left <= 0:
            return not exists(name)
        try:
            api.wait(name, timeout=max(1.0, min(left, 10.0)), condition="removed")
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            time.sleep(0.05)  # the wait was refused: try the removal again
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            # Still there when the wait timed out (the daemon sends its headers at once, so
            # this is a ConnectionError mid-body, not a ReadTimeout). A daemon that went away
            # shows at the next removal, as DockerUnavailable.
            pass


def list_labelled(label: str) -> list[dict]:
    """Every container (running or not) carrying `label` (`key` or `key=value`), as the
    API's summaries (`Id`, `Labels`, `State`, ...)."""
    return call(client().containers, all=True, filters={"label": label})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
