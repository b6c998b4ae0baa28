"""Running the harness's coroutines from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, without ``repr`` of its result.

    On the way out, ``asyncio.run`` restores the SIGINT handler it installed and, through
    ``signal.getsignal`` -> ``enum`` -> a ValueError's message, formats ``repr`` of the main task,
    result included; ``reprlib`` then calls the full ``repr`` of a dataclass holding 100,000 results
    (about 3 s of CPU in a 100,000-example run). The result is handed back outside the task instead.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
