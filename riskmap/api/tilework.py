"""Tile work off the event loop, done once however many requests want it, in a few threads of its own.

Under 200 map readers an edit used to wait behind them: when the data version moved, every reader's request of
that moment took a thread of the shared pool to bring the same map up to date (one at a time, behind one lock),
and after an invalidation every reader of a tile rendered the same tile again. The pool (40 threads) was full of
requests waiting on each other, and the edit's own steps queued for a thread behind them.

Here a map update and a tile render are each done by one task, which the requests that need the same result
await (an asyncio future holds no thread), and they run in a pool bounded by `TILE_THREADS`: drawing is Python
and numpy under one GIL, so more threads than that only make each render and every write slower. The shared
pool stays free for writes. A request joining an update that began before its own version check waits for
one more if that update's result is older than the version the request saw: never a stale map.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import anyio.to_thread

TILE_THREADS = 4


class TileWork:
    """The tasks in flight of one app's tile service, per event loop (a test client may run several loops)."""

    def __init__(self, threads: int = TILE_THREADS):
        self.threads = threads
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.started = 0             # tasks started (the rest of the requests joined one)

    def _flights(self) -> tuple[anyio.CapacityLimiter, dict]:
        loop = asyncio.get_running_loop()
        found = self._loops.get(loop)
        if found is None:
            found = self._loops[loop] = (anyio.CapacityLimiter(self.threads), {})
        return found

    async def run(self, slot: Hashable, work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)` in the tile threads, or the result of the task already doing it for `slot`."""
        limiter, flights = self._flights()
        task = flights.get(slot)
        if task is None:
            task = asyncio.ensure_future(anyio.to_thread.run_sync(work, *args, limiter=limiter))
            flights[slot] = task
            self.started += 1
            task.add_done_callback(lambda done: flights.pop(slot, None) if flights.get(slot) is done else None)
        # a request that goes away leaves the work to the others
        return await asyncio.shield(task)

    async def update(self, service: Any, ent_id: int, name: str, version: int) -> Any:
        """The enterprise's map (TileData) at `version` or newer: one update at a time per enterprise, shared."""
        while True:
            data = await self.run(("update", ent_id), _update, service, ent_id, name)
            if data.version >= version:
                return data
            # that update began before `version` was committed: another, after it, sees it

    async def render(self, service: Any, key: Any, data: Any, view: Any) -> bytes:
        """A tile that was not in the cache, made once for all who ask for it at `data`'s version."""
        return await self.run(("render", key, data.version), service.render, key, data, view)


def _update(service: Any, ent_id: int, name: str) -> Any:
    """The map brought up to date, then the tiles readers were looking at that it dropped drawn again, in one
    task: its waiters find them in the cache (see TileService.redraw)."""
    data = service.update(ent_id, name)
    service.redraw(ent_id)
    return data
