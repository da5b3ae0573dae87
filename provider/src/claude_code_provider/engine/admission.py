"""Per-login admission, shared by the runtime and the in-process provider: a bounded number of requests
in flight (one CLI process each, about 170-200 MiB), a bounded queue, and a 429 beyond that."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ClaudeCodeError, ErrorKind
from ..metrics import Metrics

_VARIABLES = {
    "max_in_flight": "CLAUDE_RUNTIME_MAX_IN_FLIGHT",
    "max_queued": "CLAUDE_RUNTIME_MAX_QUEUED",
    "queue_timeout": "CLAUDE_RUNTIME_QUEUE_TIMEOUT",
}


class AdmissionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_in_flight: int = Field(default=4, gt=0, description="requests served at once (one CLI process each)")
    max_queued: int = Field(default=16, ge=0, description="requests waiting for a slot; more get 429")
    queue_timeout: float = Field(default=30.0, gt=0, description="seconds a request may wait for a slot")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdmissionSettings:
        env = os.environ if environ is None else environ
        return cls.model_validate({field: env[var] for field, var in _VARIABLES.items() if env.get(var)})


class Admission:
    """``max_in_flight`` requests at once, at most ``max_queued`` waiting for ``queue_timeout`` seconds;
    anything beyond is turned away at once, so no more CLIs run than the machine can hold."""

    def __init__(self, settings: AdmissionSettings, metrics: Metrics) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._waiting = 0
        self._metrics = metrics

    async def enter(self) -> None:
        """Wait for a slot; ``ClaudeCodeError`` (busy, 429) when the queue is full or the wait too long."""
        if self._slots.locked() and self._waiting >= self.settings.max_queued:
            raise self._busy()
        self._waiting += 1
        self._metrics.queued.set(self._waiting)
        try:
            async with asyncio.timeout(self.settings.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy() from None
        finally:
            self._waiting -= 1
            self._metrics.queued.set(self._waiting)
        self._metrics.in_flight.inc()

    def leave(self) -> None:
        self._slots.release()
        self._metrics.in_flight.dec()

    def _busy(self) -> ClaudeCodeError:
        self._metrics.requests.labels(outcome=ErrorKind.BUSY.value).inc()
        return ClaudeCodeError(
            ErrorKind.BUSY,
            f"This login already serves {self.settings.max_in_flight} requests at once and "
            f"{self.settings.max_queued} more are waiting; retry shortly.",
            retry_after=1,
        )
