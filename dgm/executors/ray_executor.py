"""The Ray executor: jobs as Ray tasks on the nodes that advertise sandbox slots.

Placement is ours: each job goes to one ready node with a free slot (the node's
`dgm_sandbox` resource, pinned with a hard node affinity), so a node is prepared before its
first job (Docker answers, the image is there) and a node that cannot sandbox is named and
left out instead of failing jobs forever. Ray never retries (`max_retries=0`): a job whose
node or worker process died comes back as a "lost" `JobResult` and the scheduler decides.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from dgm.executors.base import ExecutorError, Job, JobResult, resolve, run_job
from dgm.executors.nodes import RESOURCE, NodeState, node_label, sandbox_nodes

log = logging.getLogger("dgm.executors")
PREPARE = "dgm.executors.nodes:prepare_node"
REFRESH_SECONDS = 1.0  # how often the cluster's node list is read
SUSPECT_SECONDS = 30.0  # a node that lost a job gets none until Ray says it is alive or dead


@ray.remote(num_cpus=0, max_retries=0, retry_exceptions=False)
def _run_remote(job: Job, relay: tuple | None) -> JobResult:
    from dgm.executors.proxy import RemoteGateway
    from sandbox import cleanup

    # temporary folders in this worker process's own scratch root, as the CLI does: what a
    # killed worker leaves is swept by the next dgm command on that machine
    cleanup.use_for_tempfiles()
    gateway = RemoteGateway(*relay) if relay else None
    node = node_label(socket.gethostname(), ray.get_runtime_context().get_node_id())
    return run_job(job, gateway, node)


@ray.remote(num_cpus=0, max_retries=0, retry_exceptions=False)
def _prepare_remote(fn: str, profile: str) -> dict:
    return resolve(fn)(profile)


class RayExecutor:
    """`workers` caps the jobs in flight. `address`: None starts a Ray instance on this
    machine with `workers` slots; "auto" or "HOST:PORT" joins a running cluster."""

    name = "ray"

    def __init__(
        self, workers: int, gateway=None, address: str | None = None, resource: str = RESOURCE,
        prepare: str | None = PREPARE, profile: str = "default",
        on_note: Callable[[str], None] | None = None, no_node_grace: float = 120.0,
        init_options: dict[str, Any] | None = None,
    ):  # fmt: skip
        self.workers, self.resource, self.prepare = workers, resource, prepare
        self.profile = profile
        self.on_note = on_note or (lambda text: log.warning("%s", text))
        self.no_node_grace = no_node_grace
        self.owns_ray = False
        if not ray.is_initialized():
            _connect(address, workers, resource, init_options or {})
            self.owns_ray = True
        self.relay = None
        if gateway is not None:
            from dgm.executors.relay import HeadRelay

            self.relay = HeadRelay(gateway, threads=max(16, 4 * workers))
        self.nodes: dict[str, NodeState] = {}
        self.pending: collections.deque[tuple[Job, Future]] = collections.deque()
        self.running: dict[Any, tuple[Job, Future, str]] = {}
        self.preparing: dict[Any, str] = {}
        self._lock = threading.RLock()
        self._done: queue.Queue = queue.Queue()
        self._closing = self._closed = False
        self._last_refresh = 0.0
        self._no_node_since: float | None = None
        self._refresh(force=True)
        self._thread = threading.Thread(target=self._watch, name="dgm-ray-executor", daemon=True)
        self._thread.start()

    # -- the Executor surface ----------------------------------------------------------------
    def submit(self, job: Job) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._closing:
                raise ExecutorError("the Ray executor is shut down")
            self.pending.append((job, fut))
            self._dispatch()
        return fut

    def cancel(self, future: Future) -> bool:
        with self._lock:
            if future.cancel():
                return True
            for ref, (_, fut, _) in self.running.items():
                if fut is future:
                    ray.cancel(ref, force=True)  # its containers end with the worker process
                    return True
        return False

    def shutdown(self, cancel: bool = False) -> None:
        """Wait for the jobs in flight (or cancel them), stop the FM relay, and stop Ray when
        this executor started it (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = self._closing = True
            if cancel:
                while self.pending:
                    self.pending.popleft()[1].cancel()
                for ref in list(self.running):
                    ray.cancel(ref, force=True)
        while True:
            with self._lock:
                if not self.running and not self.pending:
                    break
            time.sleep(0.05)
        self._thread.join(timeout=10)
        if self.relay is not None:
            self.relay.close()
        if self.owns_ray:
            ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(cancel=exc[0] is not None)

    def in_flight(self) -> int:
        with self._lock:
            return len(self.running)

    # -- nodes -------------------------------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_refresh < REFRESH_SECONDS:
            return
        self._last_refresh = now
        alive = sandbox_nodes(ray.nodes(), self.resource)
        with self._lock:
            for node_id, info in alive.items():
                if node_id not in self.nodes:
                    state = NodeState(node_id, info["name"], info["slots"])
                    self.nodes[node_id] = state
                    self._start_preparing(state)
            for state in self.nodes.values():
                if state.id not in alive and state.status not in ("dead", "excluded"):
                    state.status = "dead"
                    self.on_note(f"node {state.name} left the cluster")
                elif state.status == "suspect" and now - state.since > SUSPECT_SECONDS:
                    state.status = "ready"  # still alive after a while: a worker crashed
            live = ("new", "preparing", "ready", "suspect")
            usable = any(s.status in live for s in self.nodes.values())
            if usable or not self.pending:
                self._no_node_since = None
            elif self._no_node_since is None:
                self._no_node_since = now
            elif now - self._no_node_since > self.no_node_grace:
                self._fail_pending(self._why_no_node())

    def _start_preparing(self, state: NodeState) -> None:
        if self.prepare is None:
            state.status = "ready"
            return
        state.status = "preparing"
        ref = _prepare_remote.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(state.id, soft=False)
        ).remote(self.prepare, self.profile)
        self.preparing[ref] = state.id
        self._track(ref)

    def _prepared(self, ref, done) -> None:
        state = self.nodes[self.preparing.pop(ref)]
        try:
            done.result()
        except ray.exceptions.RayTaskError as exc:
            state.status, state.reason = "excluded", _first_line(exc.cause or exc)
            self.on_note(f"node {state.name} cannot run sandboxes and is left out: "
                         f"{state.reason}")  # fmt: skip
            return
        except ray.exceptions.RayError as exc:
            state.status, state.reason = "dead", _first_line(exc)
            return
        if state.status == "preparing":
            state.status = "ready"

    def _why_no_node(self) -> str:
        left = [f"{s.name}: {s.reason or s.status}" for s in self.nodes.values()]
        where = "; ".join(left) if left else f"no node advertises the '{self.resource}' resource"
        return f"no node of the Ray cluster can run sandboxes ({where})"

    def _fail_pending(self, message: str) -> None:
        while self.pending:
            _, fut = self.pending.popleft()
            if fut.set_running_or_notify_cancel():
                fut.set_exception(ExecutorError(message))

    # -- placing and collecting jobs ---------------------------------------------------------
    def _dispatch(self) -> None:
        while self.pending and len(self.running) < self.workers:
            ready = [s for s in self.nodes.values() if s.free > 0]
            if not ready:
                return
            node = min(ready, key=lambda s: (s.busy / s.slots, s.jobs_run))
            job, fut = self.pending.popleft()
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            ref = _run_remote.options(
                resources={self.resource: 1},
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.id, soft=False),
            ).remote(job, (self.relay.mailbox, self.relay.gateway.model) if self.relay else None)
            node.busy += 1
            node.jobs_run += 1
            self.running[ref] = (job, fut, node.id)
            self._track(ref)

    def _track(self, ref) -> None:
        """Hand `ref` to the watcher the moment Ray resolves it (no polling: a job's slot is
        refilled as soon as it ends)."""
        ref.future().add_done_callback(lambda fut, ref=ref: self._done.put((ref, fut)))

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self.running and not self.pending:
                    return
            self._refresh()
            try:
                items = [self._done.get(timeout=0.25)]
            except queue.Empty:
                items = []
            while not self._done.empty():
                items.append(self._done.get_nowait())
            with self._lock:
                for ref, fut in items:
                    if ref in self.preparing:
                        self._prepared(ref, fut)
                    elif ref in self.running:
                        self._finished(ref, fut)
                if self._closing and not self.running:
                    self._fail_pending("the Ray executor is shut down")
                self._dispatch()

    def _finished(self, ref, done) -> None:
        job, fut, node_id = self.running.pop(ref)
        node = self.nodes[node_id]
        node.busy -= 1
        try:
            fut.set_result(done.result())
        except ray.exceptions.RayTaskError as exc:
            # the job's own exception (an environment fault, a held job): the caller's to sort
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            fut.set_exception(cause)
        except ray.exceptions.RayError as exc:  # the node or worker died: nothing is known
            if node.status == "ready":  # likely dying: no new job there until Ray knows
                node.status, node.since = "suspect", time.monotonic()
            fut.set_result(JobResult(job.key, "lost", node=node.name, reason=_first_line(exc)))


def _connect(address: str | None, workers: int, resource: str, options: dict) -> None:
    quiet = {"log_to_driver": False, "configure_logging": False}
    try:
        if address in (None, "", "local"):
            # as many CPUs as slots at least: Ray keeps that many idle worker processes warm,
            # and a job that must wait for a new worker process pays its start-up
            options.setdefault("num_cpus", max(workers, os.cpu_count() or 1))
            ray.init(resources={resource: workers}, include_dashboard=False, **quiet, **options)
        else:
            ray.init(address=address, **quiet, **options)
    except Exception as exc:  # noqa: BLE001 - Ray raises several kinds for a bad address
        raise ExecutorError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                            f"{_first_line(exc)}") from None  # fmt: skip


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
