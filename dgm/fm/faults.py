"""What a provider's failure means, how long to wait before retrying it, and redaction of
secrets from the provider's error text.

One retry policy for the whole path: the gateway's. Agents' clients do not retry provider
errors (a client retry multiplies the gateway's: 5 x 4 requests for one agent call).
"""

from __future__ import annotations

import email.utils
import os
import re
import time

import litellm

# Failures of the provider or the network, worth retrying.
TRANSIENT = (
    litellm.RateLimitError,
    litellm.APIConnectionError,
    litellm.Timeout,
    litellm.ServiceUnavailableError,
    litellm.InternalServerError,
    litellm.BadGatewayError,
)
# The provider refused the run's credentials or model: no retry helps, the run must stop.
FATAL = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError)
# The agent's request was wrong: its own fault, not retried.
AGENTS = (litellm.BadRequestError, litellm.UnprocessableEntityError)

SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
# Shapes of common API keys, redacted even when not configured here (a provider that echoes
# a key it received in a header, or another key of the same account).
KEY_SHAPES = re.compile(
    r"\b(sk|pk|rk|xai|gsk|hf|key)[-_][A-Za-z0-9_\-]{12,}|\bAIza[0-9A-Za-z_\-]{20,}"
)
REDACTED = "[redacted]"


def kind(exc: BaseException) -> str:
    """ "context", "fatal", "agent", or "transient" (anything else the provider did)."""
    if isinstance(exc, litellm.ContextWindowExceededError):
        return "context"
    if isinstance(exc, FATAL):
        return "fatal"
    if isinstance(exc, AGENTS):
        return "agent"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
        return "agent"  # another 4xx about the request itself
    return "transient"  # TRANSIENT, 5xx, or a provider reply litellm could not read


def retry_after(exc: BaseException, now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait (`Retry-After`, seconds or an HTTP date)."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
    except Exception:  # noqa: BLE001 - an odd headers object is no reason to fail
        return None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


def retry_wait(attempt: int, base: float, cap: float, asked: float | None, jitter: float) -> float:
    """Exponential back-off (`base * 2**attempt`, jittered by `jitter` in [0.5, 1]), never
    shorter than what the provider asked for, never longer than `cap`."""
    wait = base * 2**attempt * jitter
    if asked is not None:
        wait = max(wait, asked)
    return min(wait, cap)


class Redactor:
    """Removes secrets from text that leaves the host process: the values of the
    environment's key-like variables, any extra configured secrets, and key-shaped words."""

    def __init__(self, extra: list[str] | None = None, environ=None):
        env = os.environ if environ is None else environ
        found = {v for k, v in env.items() if SECRET_ENV.search(k) and len(v) >= 8}
        found |= {s for s in extra or [] if s and len(s) >= 4}
        self.secrets = sorted(found, key=len, reverse=True)  # longest first: no partial leak

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return KEY_SHAPES.sub(REDACTED, text)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, bounded."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]
