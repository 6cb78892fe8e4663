"""The one long-lived asyncio loop every request is read on, and waiting for it from sync code.

One loop, on a daemon thread ("kagura-io") started on first use: litellm
caches its async HTTP clients per event loop, so a loop per call would leave
clients tied to closed loops. It also makes sync code work where
``asyncio.run`` cannot: in a kernel the main thread's loop is already running.

Sync callers block on a thread primitive, which SIGINT interrupts; the
``KeyboardInterrupt`` then cancels the task on the loop, which is the only way
to stop a read that waits on a silent provider (a thread blocked in a sync
read notices only at the next chunk or the read timeout).

Cutting a connection without the loop. Cancelling runs on the loop, after
whatever step it is in: litellm's first request in a process does tens of
milliseconds of pure-Python work there once the response headers are in
(pydantic models built on first use), more on a busy machine, and a Ctrl-C
in that window waited for it with the connection open (issue 20: a few in 50
CLI trials took 100-170 ms on a loaded machine). So the loop notes every
connection it opens while a request marks itself as the opener
(``Connections.opener``), and ``Connections.cut()`` shuts those sockets down
from the calling thread, at once; the provider sees the client leave, and
the read, woken by the closed socket or by the cancel that follows, unwinds
as before. A request that has ended ``release()``s its connections: kept
alive, they may serve the next request, which closing the finished stream
must not cut. A kept-alive connection that a later request reuses was opened
by an earlier one and is not cut this way; by then litellm is warm and the
cancel itself is quick. The first two costs (litellm's import, its tokenizer)
and a GIL-holding collection are kept off the loop by ``_stream``.

Exit. A process that streamed an answer used to hang at exit about one run
in five: litellm's post-call logging, left running as tasks on this loop,
imports lazily (``litellm.proxy.spend_tracking.savings``), and a daemon
thread frozen by interpreter shutdown in the middle of that import keeps the
module's import lock forever; litellm's HTTP clients' finalizers then import
on the main thread and wait on it. So ``_wind_down`` (an ``atexit`` hook)
closes half-read streams, finishes or cancels what is left on the loop and
stops it while the interpreter can still run it, then joins the thread: at
finalization nothing of ours or litellm's is running. ``tests/stress`` runs
the CLI, terminal IPython and a kernel in loops to hold it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import queue
import socket
import sys
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

STOP_GRACE = 1.0
"""Seconds a sync caller waits, after Ctrl-C, for the cancelled task to close its connection."""

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_lock = threading.Lock()


class Connections:
    """The connections one request opened, to cut from any thread without waiting for the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transports: list[asyncio.BaseTransport] = []
        self._cut = False

    @contextlib.contextmanager
    def opener(self) -> Iterator[None]:
        """Connections the I/O loop opens for the code in this block (and its tasks) are this request's."""
        token = _opener.set(self)
        try:
            yield
        finally:
            _opener.reset(token)

    def cut(self) -> None:
        """Shut down every connection opened so far, and any opened from now on (a retry's)."""
        with self._lock:
            self._cut = True
            transports, self._transports = self._transports, []
        for transport in transports:
            _shut_down(transport)

    def release(self) -> None:
        """The request is over: what it opened may serve the next one (kept alive), so is not cut."""
        with self._lock:
            self._transports = []

    def _opened(self, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            if not self._cut:
                self._transports = [t for t in self._transports if not t.is_closing()]
                self._transports.append(transport)
                return
        _shut_down(transport)


def _shut_down(transport: asyncio.BaseTransport) -> None:
    """``shutdown()`` the transport's socket: the peer sees it closed now; the loop closes the rest.

    Only ``shutdown``, never ``close``: the descriptor stays the loop's, so it
    cannot be reused under the loop's feet.
    """
    sock = transport.get_extra_info("socket")
    if sock is None or transport.is_closing():
        return
    with contextlib.suppress(OSError):  # closed meanwhile, or never connected
        sock.shutdown(socket.SHUT_RDWR)


_opener: contextvars.ContextVar[Connections | None] = contextvars.ContextVar("kagura_opener", default=None)

if sys.platform == "win32":
    _BaseLoop = asyncio.ProactorEventLoop
else:
    _BaseLoop = asyncio.SelectorEventLoop


class _IOLoop(_BaseLoop):
    """The default event loop, noting each connection for the request that opened it."""

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        transport, protocol = await super().create_connection(*args, **kwargs)
        opener = _opener.get()
        if opener is not None:
            opener._opened(transport)
        return transport, protocol


def io_loop() -> asyncio.AbstractEventLoop:
    """The loop streams and requests are read on (see the module docstring)."""
    global _loop, _thread
    with _lock:
        if _loop is None:
            loop = _IOLoop()
            _thread = threading.Thread(target=loop.run_forever, name="kagura-io", daemon=True)
            _thread.start()
            _loop = loop
        return _loop


def on_io_thread() -> bool:
    """True on the loop's own thread, where waiting for the loop would wait forever."""
    return _thread is not None and threading.current_thread() is _thread


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the I/O loop and wait for it; Ctrl-C while waiting cancels it."""
    if on_io_thread():
        coro.close()
        raise RuntimeError("a sync kagura-magic call cannot run on its own I/O loop; await the async one")
    finished = threading.Event()

    async def watched() -> T:
        try:
            return await coro
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(watched(), io_loop())
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()  # cancels the task, which closes what it had open as it unwinds
        finished.wait(STOP_GRACE)
        raise


class _Failed:
    """An exception raised on the loop, on its way to the waiting thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


class BlockingReader(Generic[T]):
    """An async generator read from sync code, one item per ``next()``, on the I/O loop.

    Nothing is read ahead: each ``next()`` asks the loop for one item and
    waits for it, so what the generator has taken from the network is what
    the caller has received, also when it stops early. ``close()`` (and
    Ctrl-C while waiting) cancels the read wherever it waits and closes the
    generator on the loop. The reader holds the generator, not its owner: an
    owner that is dropped can still ``cancel()`` it from a finalizer.
    """

    def __init__(self, items: AsyncGenerator[T, None], on_stop: Callable[[], None] | None = None) -> None:
        self._loop = io_loop()
        self._on_stop = on_stop
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._want = asyncio.Event()  # bound to the loop on first wait, set only from it
        self._done = threading.Event()
        self._closed = False
        self._task = asyncio.run_coroutine_threadsafe(self._read(items), self._loop)
        _open_readers.add(self)

    async def _read(self, items: AsyncGenerator[T, None]) -> None:
        try:
            while True:
                await self._want.wait()
                self._want.clear()
                try:
                    item: object = await items.__anext__()
                except StopAsyncIteration:
                    item = _END
                self._items.put(item)
                if item is _END:
                    return
        except asyncio.CancelledError:
            pass  # close() asked for it
        except BaseException as exc:  # raised in the waiting thread instead
            self._items.put(_Failed(exc))
        finally:
            with contextlib.suppress(BaseException):
                await items.aclose()
            self._done.set()

    def next(self) -> T:
        """The next item; ``StopIteration`` at the end or after ``close()``."""
        if self._closed:
            raise StopIteration
        if on_io_thread():
            raise RuntimeError("a sync kagura-magic stream cannot be read on its own I/O loop; use async for")
        self._loop.call_soon_threadsafe(self._want.set)
        try:
            item = self._items.get()
        except KeyboardInterrupt:
            self.close()
            raise
        if item is _END:
            self._closed = True
            raise StopIteration
        if isinstance(item, _Failed):
            self._closed = True
            raise item.error
        return cast(T, item)  # anything else is an item of the generator

    def close(self) -> None:
        """Stop reading and wait (briefly) until the generator has closed what it opened."""
        self._closed = True
        self.cancel()
        self._done.wait(STOP_GRACE)

    def cancel(self) -> None:
        """Cancel the read without waiting (``on_stop`` first); safe from any thread and from a finalizer."""
        if self._on_stop is not None:
            self._on_stop()
        self._task.cancel()


_open_readers: weakref.WeakSet[BlockingReader[Any]] = weakref.WeakSet()
EXIT_GRACE = 5.0
"""Seconds the interpreter's exit waits for the loop to wind down (an import it is in the middle of)."""


@atexit.register
def _wind_down() -> None:
    """Close half-read streams and stop the loop while the interpreter can still run it.

    A daemon thread is frozen wherever it is when the interpreter exits. If the
    loop is in the middle of an import then (litellm imports lazily in the
    logging tasks it leaves on the loop), that module's import lock is never
    released, and litellm's finalizers, which import on their way out, hang the
    exit. Tasks still pending at shutdown would also be reported on stderr,
    through logging hooks (litellm's) that fail once imports are gone.
    """
    loop, thread = _loop, _thread
    if loop is None or thread is None or not thread.is_alive():
        return
    for reader in list(_open_readers):
        reader.close()

    async def cancel_the_rest() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE)
        await loop.shutdown_asyncgens()

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(EXIT_GRACE)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(EXIT_GRACE)
