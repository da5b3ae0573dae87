"""Pure: an answer cut before its first stop sequence, found also when it spans several deltas."""

from __future__ import annotations


class StopText:
    """Feed the answer's deltas in order; text that could be the start of a stop sequence is held back
    until the next delta shows whether it is one."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that may be handed out now, and whether a stop sequence was reached."""
        buffer = self._held + text
        found = [at for at in (buffer.find(stop) for stop in self._stops) if at >= 0]
        if found:
            self._held = ""
            return buffer[: min(found)], True
        keep = max((n for stop in self._stops for n in range(1, len(stop)) if buffer.endswith(stop[:n])), default=0)
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep], False

    def flush(self) -> str:
        """What was held back, once the answer ended without reaching a stop sequence."""
        held, self._held = self._held, ""
        return held
