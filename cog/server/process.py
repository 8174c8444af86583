"""The model's interpreter, run from the host: the worker process the runtime talks to, and the schema query.

`WorkerProcess` is the runtime's transport to a model (see `WorkerTransport` in cog.server.runner): one
`python -m cog.sdk.worker --predict ...` in the model's environment, with three pipes that carry the messages of
cog.sdk.protocol. A crash or a cancel by signal stays in that process; the server restarts it. The process may be
started before there is an event loop (`StartedWorker.spawn`; `prestarted_workers` gives the runtime a factory that
takes it on), so that the model loads while the server imports its packages.

`openapi_schema_for` asks the same interpreter for the model's OpenAPI schema (`--openapi`) and starts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Union

from cog.errors import last_line
from cog.sdk.protocol import Event, HealthcheckCommand, JobCommand, LineBuffer, encode, poll_readable

if TYPE_CHECKING:
    from cog.server.runner import WorkerFactory
    from cog.server.settings import Settings


def worker_command(python: str, mode: str, predict_ref: str, train_ref: Optional[str], *options: str) -> List[str]:
    """The worker's argv: worker_command("python", "--openapi", "predict.py:P", "train.py:t") →
    ["python", "-m", "cog.sdk.worker", "--openapi", "predict.py:P", "--train", "train.py:t"]."""
    argv = [python, "-m", "cog.sdk.worker", mode, predict_ref, *options]
    if train_ref:
        argv += ["--train", train_ref]
    return argv


class SchemaError(ValueError):
    """The predictor cannot be loaded or declares something unsupported; the message is one line."""


def openapi_schema_for(predict_ref: str, *, project_dir: str = ".", train_ref: Optional[str] = None,
                       python: Optional[str] = None) -> Dict[str, Any]:
    """The OpenAPI schema of a project's predictor, computed by `python` (the model's interpreter)."""
    argv = worker_command(python or sys.executable, "--openapi", predict_ref, train_ref)
    result = subprocess.run(argv, cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SchemaError(last_line(result.stderr, f"exit status {result.returncode}").replace("error: ", "", 1))
    return json.loads(result.stdout)  # type: ignore[no-any-return]


class StartedWorker(NamedTuple):
    """A `python -m cog.sdk.worker --predict ...` just started, and the server's ends of its pipes (file descriptors),
    which no event loop reads yet: the model loads meanwhile."""

    process: "subprocess.Popen[bytes]"
    commands: int
    events: int
    control: int

    @classmethod
    def spawn(cls, settings: "Settings") -> "StartedWorker":
        """Start the model's process; needs no event loop (the entry point starts it before it has one)."""
        commands_r, commands_w = os.pipe()
        events_r, events_w = os.pipe()
        control_r, control_w = os.pipe()
        argv = worker_command(settings.worker_python, "--predict", settings.predict_ref, settings.train_ref,
                              "--fds", f"{commands_r},{events_w},{control_r}")
        try:
            process = subprocess.Popen(
                argv, cwd=settings.project_dir, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                pass_fds=(commands_r, events_w, control_r), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C to the server's terminal is the server's to handle
            )
        except OSError:
            for fd in (commands_w, events_r, control_w):
                os.close(fd)
            raise
        finally:
            for fd in (commands_r, events_w, control_r):
                os.close(fd)
        return cls(process, commands_w, events_r, control_w)


def prestarted_workers(settings: "Settings") -> "WorkerFactory":
    """A WorkerFactory (cog.server.runner) whose first worker is started now, before the event loop and the
    server's imports, so that the model loads while they happen; each later start (a restart) starts a new one."""
    first: Union[StartedWorker, OSError, None]
    try:
        first = StartedWorker.spawn(settings)
    except OSError as exc:  # raised by the runtime's first start, which reports it as any failed start
        first = exc

    def make(settings: "Settings", on_message: Callable[[Event], None],
             on_raw_output: Callable[[str], None]) -> WorkerProcess:
        nonlocal first
        worker = WorkerProcess(settings, on_message, on_raw_output, started=first)
        first = None
        return worker

    return make


class WorkerProcess:
    """One running `python -m cog.sdk.worker`, with its three pipes; `started`: one already started, to take on."""

    def __init__(self, settings: "Settings", on_message: Callable[[Event], None],
                 on_raw_output: Callable[[str], None],
                 started: Union[StartedWorker, OSError, None] = None) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_raw_output = on_raw_output
        self._started = started
        self.process: Optional["subprocess.Popen[bytes]"] = None
        self._commands: Optional[asyncio.WriteTransport] = None
        self._control: Optional[asyncio.WriteTransport] = None
        self.exited = asyncio.Event()
        self._exit: Optional["asyncio.Task[None]"] = None
        self._events_fd: Optional[int] = None

    async def start(self) -> None:
        started = self._started
        self._started = None
        if isinstance(started, OSError):
            raise started
        if started is None:
            started = StartedWorker.spawn(self.settings)
        self.process = started.process
        loop = asyncio.get_running_loop()
        self._commands, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(started.commands, "wb", 0))
        self._control, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(started.control, "wb", 0))
        self._events_fd = started.events
        await loop.connect_read_pipe(lambda: _LineProtocol(self._on_message), os.fdopen(started.events, "rb", 0))
        output_ended = loop.create_future()
        assert started.process.stdout is not None
        await loop.connect_read_pipe(lambda: _OutputProtocol(self._on_raw_output, output_ended),
                                     started.process.stdout)
        self._exit = asyncio.ensure_future(self._wait(started.process, output_ended))

    async def _wait(self, process: "subprocess.Popen[bytes]", output_ended: "asyncio.Future[None]") -> None:
        loop = asyncio.get_running_loop()
        reaped = loop.create_future()

        def reap() -> None:  # a thread of its own, as asyncio's child watcher has, for a process it did not start
            process.wait()
            loop.call_soon_threadsafe(_resolve, reaped)

        threading.Thread(target=reap, name=f"cog-worker-{process.pid}", daemon=True).start()
        await reaped
        await output_ended  # the last words of a crash (faulthandler) before anyone hears of it
        self.exited.set()

    def send(self, command: Union[JobCommand, HealthcheckCommand]) -> None:
        assert self._commands is not None
        self._commands.write(encode(command))

    def busy_wait(self, seconds: float) -> None:
        """Wait awake until the worker has written to the events pipe, or for `seconds`: for a model that answers
        within that time, the answer finds this process awake, and the loop's next poll hands it to the pipe's
        transport at once (cog.server.settings)."""
        if self._events_fd is not None:
            poll_readable(self._events_fd, time.perf_counter() + seconds)

    def cancel(self, job_id: str) -> None:
        assert self._control is not None
        self._control.write(encode({"op": "cancel", "id": job_id}))

    @property
    def exit_description(self) -> str:
        code = self.process.returncode if self.process else None
        if code is not None and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    async def stop(self, grace: float = 5.0) -> None:
        """Close the command pipe (the worker finishes what it has and exits); kill it if it lingers."""
        for transport in (self._commands, self._control):
            if transport is not None:
                transport.close()
        if self.process is None:
            return
        if self._exit is None:  # its start was cut short (the server could not start): nothing watches it
            self.kill()
            await asyncio.get_running_loop().run_in_executor(None, self.process.wait)
            self.exited.set()
            return
        try:
            await asyncio.wait_for(self.exited.wait(), grace)
        except asyncio.TimeoutError:
            self.kill()
            await self.exited.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


class _LineProtocol(asyncio.Protocol):
    def __init__(self, on_message: Callable[[Event], None]) -> None:
        self._on_message = on_message
        self._lines = LineBuffer()

    def data_received(self, data: bytes) -> None:
        for message in self._lines.feed(data):
            self._on_message(message)


class _OutputProtocol(asyncio.Protocol):
    """What the model's process writes to its stdout and stderr, outside the protocol."""

    def __init__(self, on_output: Callable[[str], None], ended: "asyncio.Future[None]") -> None:
        self._on_output = on_output
        self._ended = ended

    def data_received(self, data: bytes) -> None:
        self._on_output(data.decode(errors="replace"))

    def connection_lost(self, exc: Optional[Exception]) -> None:
        _resolve(self._ended)


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
