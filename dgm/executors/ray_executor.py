"""The Ray executor: jobs as Ray tasks on the nodes that advertise sandbox slots.

Placement is ours: each job goes to one ready node with a free slot (the node's
`dgm_sandbox` resource, pinned with a hard node affinity), so a node is prepared before its
first job (Docker answers, the default image is there, worker processes have imported what
jobs import) and before the first job whose task names another image (that image is made
there as the head makes it); a node that cannot is named and left out instead of failing
jobs forever. Ray never retries (`max_retries=0`): a job whose node or worker process died
comes back as a "lost" `JobResult` and the scheduler decides. An agent's source goes into
Ray's object store once, not once per job.
"""

from __future__ import annotations

import collections
import dataclasses
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

from dgm.executors.base import ExecutorError, Job, JobResult, resolve, run_job, source_bytes
from dgm.executors.nodes import (
    RESOURCE,
    WARM_MODULES,
    NodeState,
    image_of,
    node_label,
    sandbox_nodes,
)

log = logging.getLogger("dgm.executors")
PREPARE = "dgm.executors.nodes:prepare_node"
REFRESH_SECONDS = 1.0  # how often the cluster's node list is read
SUSPECT_SECONDS = 30.0  # a node that lost a job gets none until Ray says it is alive or dead
SOURCES_KEPT = 64  # agent sources kept in the object store (a run's recent parents)


@ray.remote(num_cpus=0, max_retries=0, retry_exceptions=False)
def _run_remote(job: Job, source: bytes, relay: tuple | None) -> JobResult:
    from dgm.executors.proxy import RemoteGateway
    from sandbox import cleanup

    job = dataclasses.replace(job, source=source)  # Ray fetched it from the object store

    # temporary folders in this worker process's own scratch root, as the CLI does: what a
    # killed worker leaves is swept by the next dgm command on that machine
    cleanup.use_for_tempfiles()
    gateway = RemoteGateway(*relay) if relay else None
    node = node_label(socket.gethostname(), ray.get_runtime_context().get_node_id())
    return run_job(job, gateway, node)


@ray.remote(num_cpus=0, max_retries=0, retry_exceptions=False)
def _prepare_remote(fn: str, image: str | None) -> dict:
    return resolve(fn)(image)


@ray.remote(num_cpus=0, max_retries=0, retry_exceptions=False)
def _warm_remote(modules: tuple[str, ...]) -> int:
    from dgm.executors.nodes import warm

    return warm(modules)


class RayExecutor:
    """`workers` caps the jobs in flight. `address`: None starts a Ray instance on this
    machine with `workers` slots; "auto" or "HOST:PORT" joins a running cluster.
    `prepare` ("module:function", called as fn(image) on the node) makes a node ready for
    an image; `warm` (modules; default: what the loop's jobs import, when `prepare` is
    given) is imported by as many worker processes of each node as it may run jobs."""

    name = "ray"

    def __init__(
        self, workers: int, gateway=None, address: str | None = None, resource: str = RESOURCE,
        prepare: str | None = PREPARE, warm: tuple[str, ...] | None = None,
        on_note: Callable[[str], None] | None = None, no_node_grace: float = 120.0,
        init_options: dict[str, Any] | None = None,
    ):  # fmt: skip
        self.workers, self.resource, self.prepare = workers, resource, prepare
        self.warm = (WARM_MODULES if prepare else ()) if warm is None else tuple(warm)
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
        self.preparing: dict[Any, tuple[str, str | None, str]] = {}  # node, image, step
        self._sources: collections.OrderedDict[int, tuple[bytes, Any]] = collections.OrderedDict()
        self.images: set[str] = set()  # every image a job named so far: each node makes them
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

    def _start_preparing(self, state: NodeState, image: str | None = None) -> None:
        """Make `state` ready for `image` (None: for any job: Docker and the default image,
        and worker processes that have imported what jobs import, both at once); no job
        that needs it goes there before."""
        if image is None:
            state.status = "preparing"
            self._warm(state)
        else:
            state.images[image] = "preparing"
        if self.prepare is None:
            return self._made(state) if image is None else self._ready(state, image)
        ref = _prepare_remote.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(state.id, soft=False)
        ).remote(self.prepare, image)
        self.preparing[ref] = (state.id, image, "prepare")
        self._track(ref)

    def _warm(self, state: NodeState) -> None:
        """As many worker processes as the node will run jobs at once import what jobs
        import (seconds each: litellm) at the same time, so each in its own process."""
        state.warming = min(state.slots, self.workers) if self.warm else 0
        for _ in range(state.warming):
            ref = _warm_remote.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(state.id, soft=False)
            ).remote(self.warm)
            self.preparing[ref] = (state.id, None, "warm")
            self._track(ref)

    def _made(self, state: NodeState) -> None:
        """The node's default image is there: the images jobs named so far come next."""
        state.made = True
        for other in sorted(self.images - set(state.images)):  # a node that joins late
            self._start_preparing(state, other)
        self._ready(state, None)

    def _ready(self, state: NodeState, image: str | None) -> None:
        if image is not None:
            state.images[image] = "ready"
        elif state.status == "preparing" and state.made and state.warming == 0:
            state.status = "ready"

    def _prepared(self, ref, done) -> None:
        node_id, image, step = self.preparing.pop(ref)
        state = self.nodes[node_id]
        try:
            done.result()
        except ray.exceptions.RayTaskError as exc:
            if state.status in ("excluded", "dead"):
                return
            state.status, state.reason = "excluded", _first_line(exc.cause or exc)
            what = "run sandboxes" if image is None else f"prepare the image {image}"
            if step == "warm":
                what = "import what jobs import"
            self.on_note(f"node {state.name} cannot {what} and is left out: {state.reason}")
            return
        except ray.exceptions.RayError as exc:
            state.status, state.reason = "dead", _first_line(exc)
            return
        if step == "warm":
            state.warming -= 1
            self._ready(state, None)
        elif image is None:
            self._made(state)
        else:
            self._ready(state, image)

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
        waiting: list[tuple[Job, Future]] = []  # jobs whose image no free node has yet
        while self.pending and len(self.running) < self.workers:
            if not any(s.free > 0 for s in self.nodes.values()):
                break
            job, fut = self.pending.popleft()
            if fut.cancelled():
                continue
            node = self._place(image_of(job))
            if node is None:
                waiting.append((job, fut))
                continue
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            ref = _run_remote.options(
                resources={self.resource: 1},
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.id, soft=False),
            ).remote(
                dataclasses.replace(job, source=b""), self._source_ref(source_bytes(job)),
                (self.relay.mailbox, self.relay.gateway.model) if self.relay else None,
            )  # fmt: skip
            node.busy += 1
            node.jobs_run += 1
            self.running[ref] = (job, fut, node.id)
            self._track(ref)
        self.pending.extendleft(reversed(waiting))

    def _place(self, image: str | None) -> NodeState | None:
        """The least busy ready node with a free slot and `image`; the image is made on
        every ready node that lacks it, the first time a job names it."""
        if image is not None and image not in self.images:
            self.images.add(image)
            for state in self.nodes.values():
                if state.made and state.status not in ("excluded", "dead"):
                    self._start_preparing(state, image)
        ready = [s for s in self.nodes.values() if s.free > 0 and s.has(image)]
        return min(ready, key=lambda s: (s.busy / s.slots, s.jobs_run)) if ready else None

    def _source_ref(self, source: bytes):
        """The agent's tar in the object store, put there once (each node fetches it once)
        rather than sent with every job of an evaluation. Keyed by the object itself (held
        here, so its id stays its own): the head's job maker hands out one per agent."""
        if not source:
            return source
        kept = self._sources.get(id(source))
        if kept is None or kept[0] is not source:
            kept = self._sources[id(source)] = (source, ray.put(source))
            if len(self._sources) > SOURCES_KEPT:
                self._sources.popitem(last=False)  # a job still waiting on it keeps it alive
        self._sources.move_to_end(id(source))
        return kept[1]

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
            # "local", not None: None would join any Ray instance running on this machine
            # (found through its processes or RAY_ADDRESS), someone else's included
            ray.init(address="local", resources={resource: workers}, include_dashboard=False,
                     **quiet, **options)  # fmt: skip
        else:
            ray.init(address=address, **quiet, **options)
    except Exception as exc:  # noqa: BLE001 - Ray raises several kinds for a bad address
        raise ExecutorError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                            f"{_first_line(exc)}") from None  # fmt: skip


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
