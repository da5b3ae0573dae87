"""Blocking forms of the async adapter, for ``litellm.completion`` called outside an event loop.

Each call runs its own event loop in a worker thread, so it also works when the caller's thread
already runs a loop (where ``asyncio.run`` would refuse).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


async def _drain() -> None:
    """Let the tasks a call left behind (a CLI being stopped) finish before its loop closes."""
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    await asyncio.gather(*pending, return_exceptions=True)


def run_in_thread(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await make()
        finally:
            await _drain()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claude-code") as pool:
        return pool.submit(asyncio.run, main()).result()


def iterate_in_thread(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    # A bounded hand-over: the producer waits for the consumer, as an async stream would.
    items: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    async def produce() -> None:
        stream = make()
        try:
            async for item in stream:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        await asyncio.sleep(0)
                if stop.is_set():
                    return
            items.put(_DONE)
        except BaseException as error:  # handed to the consumer, who raises it
            items.put(error)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            await _drain()

    worker = threading.Thread(target=asyncio.run, args=(produce(),), name="claude-code-stream", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)
