"""The Docker SDK client behind the container life cycle: one per process, shared by threads,
remade after a fork; a daemon that is missing or goes away is a one-line DockerUnavailable;
a refused create or start removes what it made and says why in one line."""

from __future__ import annotations

import http.server
import json
import multiprocessing
import os
import socketserver
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import (
    DockerUnavailable,
    Sandbox,
    SandboxConfig,
    SandboxError,
    cleanup,
    engine,
    remove_orphans,
)
from tests.sandbox.helpers import containers_of


class _FakeDaemon(http.server.BaseHTTPRequestHandler):
    """Answers `GET /version` as a daemon would, and nothing else: enough for a client."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        body = json.dumps({"ApiVersion": "1.43", "Version": "fake"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # http.server wants a (host, port) client address
        conn, _ = self.socket.accept()
        return conn, ("local", 0)


@pytest.fixture
def fresh_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's client forgotten for the test (and the real one restored after it)."""
    monkeypatch.setattr(engine, "_client", None)
    monkeypatch.setattr(engine, "_client_pid", None)
    yield


def test_no_daemon_is_one_line(
    fresh_client: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody.sock")
    with pytest.raises(DockerUnavailable) as err:
        Sandbox(SandboxConfig()).start()
    assert "no Docker daemon answers" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_daemon_that_goes_away_is_one_line(
    fresh_client: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sock = tmp_path / "fake.sock"
    server = _UnixServer(str(sock), _FakeDaemon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    try:
        engine.client()  # it answered once
    finally:
        server.shutdown()
        server.server_close()
        sock.unlink()
    with pytest.raises(DockerUnavailable) as err:
        cleanup.list_containers()
    assert "stopped answering" in str(err.value) and "\n" not in str(err.value)


def _other_pid_client(queue) -> None:
    queue.put(engine.client() is not None and engine._client_pid == os.getpid())


@pytest.mark.docker
def test_one_client_per_process_shared_by_threads(image: str, run_id: str) -> None:
    first = engine.client()
    made = engine.made
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: engine.client(), range(16)))
    assert all(c is first for c in clients)

    def session(_: int) -> int:
        with Sandbox(SandboxConfig(background_removal=True), labels={"dgm.run": run_id}) as sb:
            return sb.run(["true"]).exit_code

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(session, range(6))) == [0] * 6
    from sandbox import wait_for_removals

    wait_for_removals()
    assert engine.made == made, "sessions made a client of their own"
    assert containers_of(run_id) == []
    # A forked child must not share the parent's sockets: it makes its own client.
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_other_pid_client, args=(queue,))
    child.start()
    assert queue.get(timeout=60) is True
    child.join(60)
    assert engine._client_pid == os.getpid() and engine.client() is first


@pytest.mark.docker
def test_a_refused_create_is_one_line_and_leaves_nothing(image: str, run_id: str) -> None:
    """The daemon refuses the container (a bind-mount source that is gone): one line, and
    nothing of it is left."""
    missing = f"/nonexistent-{run_id}"
    sb = Sandbox(SandboxConfig(), labels={"dgm.run": run_id}, ro_mounts={missing: "/data"})
    with pytest.raises(SandboxError) as err:
        sb.start()
    assert str(err.value).startswith("could not start a sandbox:")
    assert "\n" not in str(err.value)
    assert containers_of(run_id) == []


@pytest.mark.docker
def test_many_removals_at_once_all_finish(image: str, run_id: str) -> None:
    """Several containers, running and never started, removed in one call (in parallel)."""
    api = engine.client()
    labels = {"dgm.run": run_id, "dgm.sandbox": "1"}
    for i in range(6):
        made = api.create_container(image, ["sleep", "60"], labels=labels)
        if i % 2:
            api.start(made)
    assert len(containers_of(run_id)) == 6
    assert remove_orphans(run_id) == 6
    assert containers_of(run_id) == []
