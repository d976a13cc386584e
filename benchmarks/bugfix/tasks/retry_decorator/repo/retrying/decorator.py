"""The `retry` decorator. When every attempt fails, the exception of the last
attempt propagates unchanged, so callers can handle it as usual."""

import functools
import time

from retrying.policy import Backoff


def retry(times=3, on=(Exception,), backoff=None, sleep=time.sleep):
    """Call the function; on an exception listed in `on`, wait and try again, at
    most `times` retries after the first attempt."""
    policy = backoff or Backoff()

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            delays = policy.delays(times)
            for attempt in range(times + 1):
                try:
                    return func(*args, **kwargs)
                except on:
                    if attempt == times:
                        raise RuntimeError(f"{func.__name__} failed after {times} retries")
                    sleep(delays[attempt])

        return wrapper

    return decorate
