"""Coalescing concurrent calls into one round trip.

Under load an HTTP worker has dozens of requests in flight, each wanting its own small Redis
call. A Coalescer gathers the calls made while the event loop is busy and sends them as one
batch when the loop next gets round to it: one round trip (and one reply to parse) for all of
them instead of one each. With a single request in flight it adds no waiting: the batch is
sent on the next loop iteration.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Optional, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(self, run: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int = 512):
        self.run = run  # takes the items, returns one result per item, in order
        self.max_batch = max_batch
        self._items: list[Item] = []
        self._futures: list[asyncio.Future] = []
        self._scheduled: Optional[asyncio.Handle] = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if len(self._items) >= self.max_batch:
            self._flush()
        elif self._scheduled is None:
            self._scheduled = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        if items:
            asyncio.ensure_future(self._deliver(items, futures))

    async def _deliver(self, items: list[Item], futures: list[asyncio.Future]) -> None:
        try:
            results = await self.run(items)
            if len(results) != len(items):
                raise RuntimeError(f"coalesced call returned {len(results)} results for {len(items)} items")
        except BaseException as exc:  # every caller sees the failure (and a cancelled one is not left hanging)
            for f in futures:
                if not f.done():
                    f.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for f, r in zip(futures, results):
            if not f.done():
                f.set_result(r)
