"""The sync client's background event loop: ``_LoopThread``.

One asyncio loop in a daemon thread runs every call of a :class:`~openresponses.Client`:
``run`` executes a coroutine there with the caller's ``contextvars`` (the current OpenTelemetry
span, for one) and waits for it; ``shutdown`` ends the calls and streams still in flight, so a
thread blocked in a call gets ``ClientClosedError`` promptly instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import threading
import weakref
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._client import ClientClosedError
from ._errors import OpenResponsesError
from ._streaming import EventStream

__all__ = ["_LoopThread"]

T = TypeVar("T")
logger = logging.getLogger("openresponses")


class _LoopThread:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine there and waits.

    It knows every call in flight, so :meth:`shutdown` can end them: a thread blocked in
    ``run`` (reading a stream, waiting for a reply) gets ``ClientClosedError`` promptly instead
    of waiting forever on a loop that has stopped.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._closing = False  # set on the loop thread once shutdown begins
        self._tasks: set[asyncio.Task[Any]] = set()  # touched on the loop thread only
        self._futures: set[concurrent.futures.Future[Any]] = set()  # callers waiting, under _lock
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()  # open streams, under _lock
        self._thread = threading.Thread(target=self._main, name="openresponses-sync", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` has begun: ``run`` refuses new work."""
        return self._closed

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` on the loop with the caller's context; raise what it raises."""
        context = contextvars.copy_context()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        async def runner() -> T:
            return await factory()

        def start() -> None:
            if not future.set_running_or_notify_cancel():
                return
            if self._closing:
                future.set_exception(_closed_error())
                return
            task = self.loop.create_task(runner(), context=context)
            tasks.append(task)
            self._tasks.add(task)

            def done(t: asyncio.Task[T]) -> None:
                self._tasks.discard(t)
                if t.cancelled():
                    # Cancelled by shutdown (or by the caller's KeyboardInterrupt, below): a
                    # concurrent future that is running cannot be cancelled, so it gets an error.
                    future.set_exception(_closed_error() if self._closing else CancelledError())
                elif (exc := t.exception()) is not None:
                    if (
                        self._closing
                        and isinstance(exc, Exception)
                        and not isinstance(exc, OpenResponsesError)
                    ):
                        # What a call cut by shutdown raised on its way out (a closed pool).
                        closed = _closed_error()
                        closed.__cause__ = exc
                        exc = closed
                    future.set_exception(exc)
                else:
                    future.set_result(t.result())

            task.add_done_callback(done)

        with self._lock:
            if self._closed:
                raise _closed_error()
            self._futures.add(future)
            self.loop.call_soon_threadsafe(start)
        try:
            return future.result()
        except BaseException:
            # KeyboardInterrupt in the caller: cancel the work on the loop too.
            if tasks and not tasks[0].done() and not self.loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self.loop.call_soon_threadsafe(tasks[0].cancel)
            raise
        finally:
            with self._lock:
                self._futures.discard(future)

    def track(self, stream: EventStream) -> None:
        """Remember an open stream, so shutdown closes it (ending its taps and spans)."""
        with self._lock:
            self._streams.add(stream)

    def shutdown(self, aclose: Callable[[], Awaitable[None]], *, grace: float = 5.0) -> None:
        """End every call in flight (their threads get ``ClientClosedError``), run ``aclose``,
        stop the loop. Bounded: after ``grace`` seconds of each step the loop is stopped anyway."""
        with self._lock:
            if self._closed:
                return
            self._closed = True

        async def finish() -> None:
            self._closing = True
            pending = [task for task in self._tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace)
            with self._lock:
                streams = list(self._streams)
            for stream in streams:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stream.aclose(), timeout=grace)
            try:
                await asyncio.wait_for(aclose(), timeout=grace)
            finally:
                await self.loop.shutdown_asyncgens()

        if threading.current_thread() is self._thread:  # closed from a callback on the loop
            self.loop.stop()
        else:
            try:
                asyncio.run_coroutine_threadsafe(finish(), self.loop).result(timeout=4 * grace)
            except Exception:
                logger.warning("closing the sync client did not finish cleanly", exc_info=True)
            finally:
                self.stop()
        # Whoever still waits (work that ignored cancellation) is told now, not never.
        with self._lock:
            waiting, self._futures = list(self._futures), set()
        for future in waiting:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(_closed_error())

    def stop(self) -> None:
        """Stop the loop and its thread (waits up to 5 s)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


def _closed_error() -> ClientClosedError:
    return ClientClosedError("The client was closed while this call was running (Client.close()).")
