"""Errors of FM access. One base class; messages are one line."""

from __future__ import annotations


class FMError(Exception):
    """Base of every FM-access error; `exit_code` 2 means bad input (model, config)."""

    exit_code = 2
    recorded = False  # True once the gateway wrote its ledger row (a failed attempt)


class BudgetExceeded(FMError):
    """A run or session budget (dollars or calls) is spent; the call was refused. `scope` is
    "run" or "session": only the run's budget running out says nothing about the agent."""

    def __init__(self, message: str, scope: str = "run"):
        super().__init__(message)
        self.scope = scope


class CacheMiss(FMError):
    """Replay mode found no recorded response for a request."""


class ProviderError(FMError):
    """The model provider failed (after retries) or rejected the request."""

    exit_code = 1

    def __init__(self, message: str, status: int = 502, kind: str = "provider_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


class RequestError(FMError):
    """A malformed chat-completions request (bad JSON, no messages, ...)."""


class ProviderDown(ProviderError):
    """The provider, not the agent, failed: 5xx or timeouts after the gateway's retries, no
    connection, or (`fatal`) it refused the run's credentials or model. Work that hit this
    is held (a resume runs it again); a fatal one stops the run at once."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message, 503, "provider_unavailable")
        self.fatal = fatal
