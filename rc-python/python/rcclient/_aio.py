"""asyncio glue for ``async for rc in client`` (the waiting itself happens in Rust)."""

from __future__ import annotations

import asyncio
from typing import Any

PENDING = object()


def _wake(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


async def anext(client: Any) -> Any:
    """The next item of ``client``: returns at once when one is buffered, otherwise waits
    on the event loop without blocking it. Cancelling the wait loses no change."""
    loop = asyncio.get_running_loop()
    while True:
        item = client._poll_ready()
        if item is not PENDING:
            return item
        future = loop.create_future()
        waiter = client._arm(loop, future)
        try:
            await future
        finally:
            waiter.cancel()


async def aenter(client: Any) -> Any:
    return client


async def aexit(client: Any) -> bool:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, client.close)
    return False
