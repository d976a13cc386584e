"""The run's view of its model provider: a job the provider failed is held, the run pauses
with exponential back-off before trying it again, and after `provider.give_up_after` seconds
of failure (or at once, when the provider refuses the key or the model) the run stops with
everything committed kept, so `dgm run --resume` continues it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dgm.errors import DgmError
from dgm.fm import ProviderDown

if TYPE_CHECKING:
    from archive import Archive
    from dgm.protocols import RunView
    from dgm.run.config import ProviderConfig
    from dgm.run.groups import Work

STATE_KEY = "provider"


class ProviderStop(DgmError):
    """The provider refused the run or failed for too long: the run stops, resumable."""

    exit_code = 1


@dataclass
class Outage:
    since: float  # epoch seconds of the first failure
    attempts: int = 0  # jobs the provider failed since
    resume_at: float = 0.0  # monotonic time the held jobs are tried again
    held: list[Work] = field(default_factory=list)


class ProviderWatch:
    """Kept by the scheduler thread only (no locking)."""

    def __init__(self, config: ProviderConfig, archive: Archive, view: RunView | None = None):
        self.config, self.archive, self.view = config, archive, view
        self.outage: Outage | None = None

    def failed(self, job: Work, exc: ProviderDown) -> None:
        """A job was held because of `exc`: pause, or raise ProviderStop."""
        if exc.fatal:
            raise ProviderStop(f"{exc}; fix it, then continue with `dgm run --resume`")
        now = time.time()
        if self.outage is None:
            self.outage = Outage(since=now)
        outage = self.outage
        outage.attempts += 1
        outage.held.append(job)
        since = time.strftime("%H:%M:%S", time.localtime(outage.since))
        if now - outage.since >= self.config.give_up_after:
            self.archive.log_event(
                "provider_stop", {"since": outage.since, "attempts": outage.attempts}
            )
            raise ProviderStop(
                f"the model provider has failed since {since} ({outage.attempts} attempts; "
                f"last: {str(exc)[:200]}); the run is stopped, continue it with "
                "`dgm run --resume`"
            )
        pause = min(self.config.pause_max, self.config.pause_first * 2 ** (outage.attempts - 1))
        outage.resume_at = max(outage.resume_at, time.monotonic() + pause)
        status = (
            f"provider failing since {since}, {outage.attempts} attempts, next try in {pause:.0f} s"
        )
        state = {"status": status, "since": outage.since, "attempts": outage.attempts}
        self.archive.put_state(STATE_KEY, state)
        self.archive.log_event("provider_pause", {**state, "error": str(exc)[:500]})
        if self.view:
            self.view.note(f"[yellow]{status}[/yellow]")

    def pause_left(self) -> float:
        """Seconds until held jobs may run again (0 when not paused)."""
        if self.outage is None:
            return 0.0
        return max(0.0, self.outage.resume_at - time.monotonic())

    def release(self) -> list:
        """The held jobs, once the pause is over (each returned once)."""
        if self.outage is None or self.pause_left() > 0:
            return []
        jobs, self.outage.held = self.outage.held, []
        return jobs

    def answered(self) -> None:
        """A job finished without a provider failure: an outage whose held jobs are back
        in the queue is over."""
        if self.outage is None or self.outage.held:
            return
        since = self.outage.since
        self.outage = None
        self.archive.put_state(STATE_KEY, {"status": None})
        self.archive.log_event("provider_back", {"since": since, "seconds": time.time() - since})
        if self.view:
            self.view.note("[green]the provider answers again[/green]")
