"""The model in the server's own process: a worker transport for tests and embedding.

    create_app(settings, worker=InProcessWorker)

`InProcessWorker` drives the model with cog.sdk.worker's own `Worker` (the same loading, setup, input
conversion, output encoding and job loop as the worker process) and speaks the same protocol: every command and
event is encoded to its line of cog.sdk.protocol and decoded again, as a pipe would carry it. A sync model runs
in a thread of its own, one job at a time; an async model runs in the server's event loop. What the model prints
from its own code (that thread, or its tasks) goes to its job's logs; everything else prints as before.

What only the worker process (cog.server.process) gives: isolation (a crash, os._exit or a segfault takes the
server with it; the model shares the server's packages, sys.modules and working directory; FILE.py references
are found in `project_dir`), a cancel that interrupts a running sync prediction (here it takes effect when the
model next yields an item, or before it starts), a stuck setup that can be killed, and another interpreter
(`worker_python` is ignored). Use it where those do not matter.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import queue
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional, Set, TextIO, Union

from cog.sdk.protocol import Event, HealthcheckCommand, JobCommand, decode, encode
from cog.sdk.worker import Channel, LogStream, Worker

if TYPE_CHECKING:
    from cog.server.settings import Settings

log = logging.getLogger("cog.server")

# The LogStream of the model whose code is running here (its thread, or one of its tasks); None elsewhere.
_model_logs: contextvars.ContextVar[Optional[LogStream]] = contextvars.ContextVar("cog_model_logs", default=None)


class _RoutedStream:
    """sys.stdout/sys.stderr while in-process models run: the model's writes go to its job's logs, the rest to
    the stream that was there before."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        logs = _model_logs.get()
        return (logs if logs is not None else self.fallback).write(text)

    def flush(self) -> None:
        if _model_logs.get() is None:
            self.fallback.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)


_routing: Set["InProcessWorker"] = set()


def _route_output(worker: "InProcessWorker") -> None:
    """Make sure print() reaches the routing streams (a test runner may have swapped sys.stdout since)."""
    _routing.add(worker)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _RoutedStream):
            setattr(sys, name, _RoutedStream(stream))


def _unroute_output(worker: "InProcessWorker") -> None:
    _routing.discard(worker)
    if _routing:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _RoutedStream):
            setattr(sys, name, stream.fallback)


class _ModelThread:
    """The thread that runs the model's sync code (loading, setup, jobs), one call at a time, in order."""

    def __init__(self, logs: LogStream) -> None:
        self._calls: "queue.SimpleQueue[Optional[Callable[[], None]]]" = queue.SimpleQueue()
        self._logs = logs
        # A daemon: a model stuck in setup must not keep the server's interpreter from exiting.
        self.thread = threading.Thread(target=self._run, name="cog-model", daemon=True)
        self.thread.start()

    def submit(self, call: Callable[[], None]) -> None:
        self._calls.put(call)

    async def run(self, call: Callable[[], Any]) -> Any:
        """Run `call` in the thread and wait for what it returns."""
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[Any]" = loop.create_future()

        def attempt() -> None:
            try:
                result = call()
            except BaseException as exc:  # noqa: B902 - handed to the waiting task
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, result, None)

        self.submit(attempt)
        return await done

    def close(self) -> None:
        """The thread ends once the calls submitted so far are done."""
        self._calls.put(None)

    def _run(self) -> None:
        _model_logs.set(self._logs)
        while True:
            call = self._calls.get()
            if call is None:
                return
            try:
                call()
            except Exception:  # a bug of ours: say so, and keep the thread for the next job
                log.exception("in-process worker")


def _settle(future: "asyncio.Future[Any]", result: Any, exc: Optional[BaseException]) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class InProcessWorker:
    """A WorkerTransport (cog.server.runner) that runs the model in this process; see the module's docstring."""

    def __init__(self, settings: "Settings", on_message: Callable[[Event], None],
                 on_raw_output: Callable[[str], None]) -> None:
        self.settings = settings
        self._on_message = on_message  # on_raw_output is not needed: no process writes around the protocol
        self.exited = asyncio.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        directory = os.path.abspath(settings.project_dir)
        self._worker = Worker(Channel(self._write), settings.predict_ref, settings.train_ref, directory)
        self._thread: Optional[_ModelThread] = None
        self._context = contextvars.copy_context()  # what the model's tasks start from: its logs are set
        self._context.run(_model_logs.set, self._worker.logs)
        self._boot: Optional["asyncio.Task[None]"] = None
        self._server_context: Optional[contextvars.Context] = None  # where events are handled: not the model's

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server_context = contextvars.copy_context()
        directory = self._worker.directory
        if directory not in sys.path:  # as the worker process has its working directory: for module references
            sys.path.insert(0, directory)  # type: ignore[arg-type]
        _route_output(self)
        self._thread = _ModelThread(self._worker.logs)
        self._boot = self._context.run(self._loop.create_task, self._load_and_set_up())

    async def _load_and_set_up(self) -> None:
        assert self._thread is not None
        worker = self._worker
        if not await self._thread.run(worker.load):
            return
        if worker.is_async:
            await worker.setup_async()  # in the loop its predictions will run in, as in the worker process
        else:
            await self._thread.run(worker.setup)

    def _write(self, line: bytes) -> None:
        """The Channel's end: from the model's thread or the loop's, each event is handled in the loop, in order."""
        assert self._loop is not None
        try:
            # In the server's context, not the model's (whose prints go to its job): the runtime echoes the
            # model's log lines to stderr, which must not land in the model's logs again.
            self._loop.call_soon_threadsafe(self._deliver, line, context=self._server_context)
        except RuntimeError:  # the server's loop is closed: nobody listens any more
            pass

    def _deliver(self, line: bytes) -> None:
        if not self.exited.is_set():
            self._on_message(decode(line))

    def send(self, command: Union[JobCommand, HealthcheckCommand]) -> None:
        _route_output(self)
        command = decode(encode(command))  # what the model gets is what a pipe would have carried
        if self._worker.is_async:
            self._context.run(self._worker.start, command)
        else:
            assert self._thread is not None
            run = self._worker.run_healthcheck if command["op"] == "healthcheck" else self._worker.run_job
            self._thread.submit(lambda: run(command))

    def cancel(self, job_id: str) -> None:
        if self._worker.is_async:
            self._worker.cancel_job(job_id)
        else:  # no signal to interrupt the thread: the job stops when the model next yields, or before it starts
            self._worker.canceled.add(job_id)

    @property
    def exit_description(self) -> str:
        return "stopped"

    def busy_wait(self, seconds: float) -> None:
        """Never: the model's thread needs this one's interpreter lock to answer at all."""

    async def stop(self, grace: float = 5.0) -> None:
        """Let what was sent finish (up to `grace` seconds), then stop."""
        if self._thread is not None:
            self._thread.close()
            await asyncio.get_running_loop().run_in_executor(None, self._thread.thread.join, grace)
        tasks = [task for task in self._worker.running.values() if isinstance(task, asyncio.Future)]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self.kill()

    def kill(self) -> None:
        """Stop listening and cancel the model's tasks; a thread that is busy runs on, unheard, until it returns."""
        if self.exited.is_set():
            return
        if self._boot is not None:
            self._boot.cancel()
        for task in list(self._worker.running.values()):
            if isinstance(task, asyncio.Future):
                task.cancel()
        if self._thread is not None:
            self._thread.close()
        _unroute_output(self)
        self.exited.set()
