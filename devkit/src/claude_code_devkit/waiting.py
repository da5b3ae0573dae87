"""Bounded polling: every wait of the kit and the tests has a deadline and says what it waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str = "condition",
    interval: float = 0.2,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds pass.

    Exceptions of the `ignore` types count as "not yet" (a port not open yet, a 404 before a create);
    any other propagates at once. The last value or exception is in the TimeoutError's message.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    attempts = 0
    while True:
        attempts += 1
        try:
            value = predicate()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s ({attempts} tries) waiting for {what}; last: {last!r}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
