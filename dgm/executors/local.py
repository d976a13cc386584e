"""The local executor: a thread pool on the head, as the loop always ran its jobs."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from dgm.executors.base import Job, run_job


class LocalExecutor:
    """Jobs run in `workers` threads of this process with the run's own gateway."""

    name = "local"

    def __init__(self, workers: int, gateway=None):
        self.workers, self.gateway = workers, gateway
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dgm-worker")

    def submit(self, job: Job) -> Future:
        return self._pool.submit(run_job, job, self.gateway, "local")

    def cancel(self, future: Future) -> bool:
        return future.cancel()  # a running thread cannot be stopped; its sandbox can

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(cancel=exc[0] is not None)
