"""The model's interpreter, run from the host: the worker process the runtime talks to, and the schema query.

`WorkerProcess` is the runtime's transport to a model (see `WorkerTransport` in cog.server.runner): one
`python -m cog.sdk.worker --predict ...` in the model's environment, with three pipes that carry the messages of
cog.sdk.protocol. A crash or a cancel by signal stays in that process; the server restarts it.

`openapi_schema_for` asks the same interpreter for the model's OpenAPI schema (`--openapi`) and starts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from cog.errors import last_line
from cog.sdk.protocol import Event, HealthcheckCommand, JobCommand, LineBuffer, encode

if TYPE_CHECKING:
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


class WorkerProcess:
    """One running `python -m cog.sdk.worker`, with its three pipes."""

    def __init__(self, settings: "Settings", on_message: Callable[[Event], None],
                 on_raw_output: Callable[[str], None]) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_raw_output = on_raw_output
        self.process: Optional[asyncio.subprocess.Process] = None
        self._commands: Optional[asyncio.WriteTransport] = None
        self._control: Optional[asyncio.WriteTransport] = None
        self.exited = asyncio.Event()
        self._tasks: List["asyncio.Task[None]"] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        commands_r, commands_w = os.pipe()
        events_r, events_w = os.pipe()
        control_r, control_w = os.pipe()
        s = self.settings
        argv = worker_command(s.worker_python, "--predict", s.predict_ref, s.train_ref,
                              "--fds", f"{commands_r},{events_w},{control_r}")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv, cwd=s.project_dir, env=env, pass_fds=(commands_r, events_w, control_r),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C to the server's terminal is the server's to handle
            )
        finally:
            for fd in (commands_r, events_w, control_r):
                os.close(fd)
        self._commands, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(commands_w, "wb", 0))
        self._control, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(control_w, "wb", 0))
        await loop.connect_read_pipe(lambda: _LineProtocol(self._on_message), os.fdopen(events_r, "rb", 0))
        self._tasks = [asyncio.ensure_future(self._pump_output()), asyncio.ensure_future(self._wait())]

    async def _pump_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            chunk = await self.process.stdout.read(1 << 16)
            if not chunk:
                return
            self._on_raw_output(chunk.decode(errors="replace"))

    async def _wait(self) -> None:
        assert self.process is not None
        await self.process.wait()
        await self._tasks[0]  # the last words of a crash (faulthandler) before anyone hears of it
        self.exited.set()

    def send(self, command: Union[JobCommand, HealthcheckCommand]) -> None:
        assert self._commands is not None
        self._commands.write(encode(command))

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
