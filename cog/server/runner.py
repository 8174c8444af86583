"""The server side of the worker: starts the model's process, queues jobs into its slots, restarts it on crash.

A *job* is a prediction or a training; both run the same way, through the same worker.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Set

import httpx

from cog.server.files import FileInputError, download_inputs, resolve_outputs
from cog.server.metrics import Metrics
from cog.server.webhook import EVENTS, WebhookSender
from cog.sdk.signature import Signature

log = logging.getLogger("cog.server")

STARTING, READY, BUSY, SETUP_FAILED, DEFUNCT = "STARTING", "READY", "BUSY", "SETUP_FAILED", "DEFUNCT"
TERMINAL = frozenset({"succeeded", "failed", "canceled"})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Settings:
    predict_ref: str
    train_ref: Optional[str] = None
    project_dir: str = "."
    max_concurrency: int = 1
    worker_python: str = sys.executable
    setup_timeout: Optional[float] = None
    upload_url: Optional[str] = None
    webhook_auth_token: Optional[str] = None
    queue_size: int = 64  # jobs that may wait for a slot before the server answers 409
    max_body_bytes: int = 64 << 20
    max_input_file_bytes: int = 1 << 30
    # Restarts after crashes in a row (each without a job succeeding in between) before DEFUNCT.
    max_restarts: int = 3

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        env = os.environ
        values: Dict[str, Any] = {
            "predict_ref": env.get("COG_PREDICT", "predict.py:Predictor"),
            "train_ref": env.get("COG_TRAIN") or None,
            "max_concurrency": int(env.get("COG_MAX_CONCURRENCY", "1")),
            "worker_python": env.get("COG_WORKER_PYTHON") or sys.executable,
            "setup_timeout": float(env["COG_SETUP_TIMEOUT"]) if env.get("COG_SETUP_TIMEOUT") else None,
            "webhook_auth_token": env.get("WEBHOOK_AUTH_TOKEN") or None,
            "queue_size": int(env.get("COG_QUEUE_SIZE", "64")),
            "max_body_bytes": int(env.get("COG_MAX_REQUEST_BYTES", str(cls.max_body_bytes))),
            "max_input_file_bytes": int(env.get("COG_MAX_INPUT_FILE_BYTES", str(cls.max_input_file_bytes))),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Job:
    """One prediction (or training) from request to terminal state."""

    def __init__(self, kind: str, job_id: Optional[str], request: Dict[str, Any]) -> None:
        self.kind = kind  # "predict" or "train": the worker's op
        self.id = job_id or uuid.uuid4().hex
        self.input = request.get("input") or {}
        self.created_at = request.get("created_at") or now_iso()
        self.started_at: Optional[str] = None
        self.completed_at: Optional[str] = None
        self.status = "starting"
        self.output: Any = None
        self.logs: List[str] = []
        self.error: Optional[str] = None
        self.metrics: Dict[str, Any] = {}
        self.output_file_prefix: Optional[str] = request.get("output_file_prefix")
        self.webhook: Optional[WebhookSender] = None
        self.events: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()  # worker messages for this job
        self.done = asyncio.Event()
        self.listeners: List["asyncio.Queue[Any]"] = []  # server-sent-event streams
        self.cancel_requested = False
        self.in_worker = False
        self.uploaded_names: Set[str] = set()  # file names this job has put at the upload URL

    def to_json(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "logs": "".join(self.logs),
            "error": self.error,
            "metrics": self.metrics,
        }

    def emit(self, event: str, data: Any) -> None:
        for listener in self.listeners:
            listener.put_nowait((event, data))


class SetupFailed(Exception):
    pass


class WorkerProcess:
    """One running `python -m cog.sdk.worker`, with its three pipes."""

    def __init__(self, settings: Settings, on_message: Callable[[Dict[str, Any]], None],
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
        argv = [s.worker_python, "-m", "cog.sdk.worker", "--predict", s.predict_ref,
                "--fds", f"{commands_r},{events_w},{control_r}"]
        if s.train_ref:
            argv += ["--train", s.train_ref]
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

    def send(self, command: Dict[str, Any]) -> None:
        assert self._commands is not None
        self._commands.write(json.dumps(command, separators=(",", ":")).encode() + b"\n")

    def cancel(self, job_id: str) -> None:
        assert self._control is not None
        self._control.write(json.dumps({"op": "cancel", "id": job_id}).encode() + b"\n")

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
    def __init__(self, on_message: Callable[[Dict[str, Any]], None]) -> None:
        self._on_message = on_message
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            self._on_message(json.loads(line))


class Runtime:
    """Health, slots and queue, the jobs in flight, and the worker they run in."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status = STARTING
        self.setup: Dict[str, Any] = {}
        self.setup_logs: List[str] = []
        self.signature: Optional[Signature] = None
        self.train_signature: Optional[Signature] = None
        self.schema: Dict[str, Any] = {}
        self.jobs: Dict[str, Job] = {}
        self.metrics = Metrics()
        self.worker: Optional[WorkerProcess] = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self.busy = 0
        self.waiting = 0
        self._ready = asyncio.Event()
        self._background: "set[asyncio.Task[Any]]" = set()
        self._crashes_in_a_row = 0
        self._stopping = False
        self._takes_files: Dict[str, bool] = {}
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        self.spawn(self._start_worker())

    async def _start_worker(self) -> None:
        self.status = STARTING
        self._ready.clear()
        self.setup = {"started_at": now_iso(), "completed_at": None, "status": "starting", "logs": ""}
        self.setup_logs = []
        worker = WorkerProcess(self.settings, self._on_message, self._on_raw_output)
        self.worker = worker
        self._setup_result: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        try:
            await worker.start()
            exited = asyncio.ensure_future(worker.exited.wait())
            done, _ = await asyncio.wait({self._setup_result, exited}, timeout=self.settings.setup_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            exited.cancel()
            if not done:
                raise SetupFailed(f"setup did not finish within {self.settings.setup_timeout:g} seconds")
            if self._setup_result not in done:
                await worker.exited.wait()
                raise SetupFailed(f"the model's process ended during setup ({worker.exit_description})")
            message = self._setup_result.result()
            if message["type"] == "setup_failed":
                raise SetupFailed(message["error"])
        except (SetupFailed, OSError) as exc:
            worker.kill()
            self.setup_logs.append(f"{exc}\n")
            self._finish_setup("failed")
            self.status = SETUP_FAILED if self._crashes_in_a_row == 0 else DEFUNCT
            self._ready.set()  # wake the queue: waiting jobs fail now instead of hanging
            log.error("setup failed: %s", exc)
            return
        self.signature = Signature.from_json(message["signature"])
        if message["train_signature"]:
            self.train_signature = Signature.from_json(message["train_signature"])
        self.schema = message["schema"]
        if self.settings.max_concurrency > 1 and not message["is_async"]:
            log.warning("predict() is synchronous: predictions run one at a time although concurrency.max is %d; "
                        "make it `async def` to run them concurrently", self.settings.max_concurrency)
        self._takes_files = {
            kind: signature is not None and any(f.kind in ("path", "file") for f in signature.inputs)
            for kind, signature in (("predict", self.signature), ("train", self.train_signature))
        }
        self._finish_setup("succeeded")
        gc.freeze()  # what exists now lives as long as the server: keep it out of every collection's scan
        self.status = READY
        self._ready.set()
        self.spawn(self._watch(worker))

    def _finish_setup(self, status: str) -> None:
        self.setup.update(completed_at=now_iso(), status=status, logs="".join(self.setup_logs))

    async def _watch(self, worker: WorkerProcess) -> None:
        await worker.exited.wait()
        if self._stopping:
            return
        # Hold new jobs back before anything else runs: the dead worker's pipes must not get them.
        self.status = STARTING
        self._ready.clear()
        reason = f"the model's process stopped unexpectedly ({worker.exit_description})"
        for job in self.jobs.values():
            if job.in_worker:
                job.events.put_nowait({"type": "done", "status": "failed", "error": reason, "output": None})
        self._crashes_in_a_row += 1
        if self._crashes_in_a_row > self.settings.max_restarts:
            log.error("%s; it crashed %d times in a row, giving up", reason, self._crashes_in_a_row)
            self.status = DEFUNCT
            self._ready.set()  # waiting jobs fail now instead of hanging
            return
        log.error("%s; restarting it", reason)
        await self._start_worker()

    async def shutdown(self) -> None:
        """Let every job finish (and its webhooks go out), then stop the worker."""
        await asyncio.gather(*(job.done.wait() for job in list(self.jobs.values())))
        self._stopping = True
        current = asyncio.current_task()
        others = [task for task in self._background if task is not current]
        for task in others:  # what is left watches or starts the worker
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self.worker is not None:
            await self.worker.stop()
        await self.client.aclose()

    def spawn(self, coroutine: Any) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- messages from the worker -----------------------------------------------------------------------

    def _on_message(self, message: Dict[str, Any]) -> None:
        job_id = message.get("id")
        if job_id is not None:
            job = self.jobs.get(job_id)
            if job is not None:
                job.events.put_nowait(message)
        elif message["type"] == "log":
            self._on_raw_output(message["data"])
        elif not self._setup_result.done():
            self._setup_result.set_result(message)

    def _on_raw_output(self, text: str) -> None:
        running = [j for j in self.jobs.values() if j.in_worker]
        if len(running) == 1:
            running[0].events.put_nowait({"type": "log", "data": text})
        elif self.status == STARTING:
            self.setup_logs.append(text)
        else:
            sys.stderr.write(text)

    # -- jobs -------------------------------------------------------------------------------------------

    @property
    def health(self) -> str:
        if self.status == READY and self.busy >= self.settings.max_concurrency:
            return BUSY
        return self.status

    def at_capacity(self) -> bool:
        return self.busy >= self.settings.max_concurrency and self.waiting >= self.settings.queue_size

    async def until_set_up(self) -> None:
        """Wait, as a queued job does, for the first setup to end: a request that arrives early is not refused."""
        self.waiting += 1
        try:
            await self._ready.wait()
        finally:
            self.waiting -= 1

    def new_job(self, kind: str, job_id: Optional[str], request: Dict[str, Any]) -> Job:
        job = Job(kind, job_id, request)
        webhook = request.get("webhook")
        if webhook:
            events = frozenset(request.get("webhook_events_filter") or EVENTS)
            job.webhook = WebhookSender(webhook, events, job.to_json, self.client, self.settings.webhook_auth_token)
        self.jobs[job.id] = job
        return job

    async def run(self, job: Job, arguments: Dict[str, Any]) -> None:
        """Take `job` to a terminal state: fetch its files, wait for a slot, run it in the worker."""
        if job.webhook is not None:
            job.webhook.start()
        directory = tempfile.mkdtemp(prefix="cog-input-") if self._takes_files[job.kind] else None
        try:
            if directory is not None:
                signature = self.signature if job.kind == "predict" else self.train_signature
                assert signature is not None
                await download_inputs(arguments, signature, directory, self.client,
                                      self.settings.max_input_file_bytes)
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
            self.busy += 1
            try:
                await self._run_in_worker(job, arguments)
            finally:
                self.busy -= 1
                self._slots.release()
        except FileInputError as exc:
            self._finish(job, "failed", error=str(exc))
        except Exception as exc:  # a bug of ours must still end the job, or its client would wait forever
            log.exception("job %s", job.id)
            self._finish(job, "failed", error=f"internal error: {exc}")
        finally:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
            if job.webhook is None:
                self._forget(job)
            else:  # the client's answer need not wait for the webhook's retries
                self.spawn(self._send_completed(job))

    async def _send_completed(self, job: Job) -> None:
        assert job.webhook is not None
        try:
            await job.webhook.completed()
        finally:
            self._forget(job)

    def _forget(self, job: Job) -> None:
        """The job is over and so are its webhooks; shutdown waits for this."""
        del self.jobs[job.id]
        job.done.set()

    async def _run_in_worker(self, job: Job, arguments: Dict[str, Any]) -> None:
        await self._ready.wait()
        if self.status not in (READY,) or self.worker is None:
            self._finish(job, "failed", error=f"the model is not available ({self.status})")
            return
        if job.cancel_requested:
            self._finish(job, "canceled")
            return
        job.status = "processing"
        job.started_at = now_iso()
        job.in_worker = True
        self.metrics.started()
        job.emit("start", {"id": job.id, "status": job.status})
        self.worker.send({"op": job.kind, "id": job.id, "input": arguments})
        upload_url = job.output_file_prefix or self.settings.upload_url
        while True:
            message = await job.events.get()
            kind = message["type"]
            if kind == "log":
                job.logs.append(message["data"])
                job.emit("log", {"source": "stdout", "data": message["data"]})
                if job.webhook is not None:
                    job.webhook.progress("logs")
            elif kind == "output":
                value = message["value"]
                if message["files"]:
                    value = await resolve_outputs(value, upload_url, self.client, job.uploaded_names)
                if job.output is None:
                    job.output = []
                job.emit("output", {"chunk": value, "index": len(job.output)})
                job.output.append(value)
                if job.webhook is not None:
                    job.webhook.progress("output")
            else:
                break
        job.in_worker = False
        output = message["output"]
        if message.get("files"):
            try:
                output = await resolve_outputs(output, upload_url, self.client, job.uploaded_names)
            except (httpx.HTTPError, OSError) as exc:
                self._finish(job, "failed", error=f"could not return an output file: {exc}")
                return
        if message["status"] == "succeeded":
            self._crashes_in_a_row = 0
        if "predict_time" in message:
            job.metrics["predict_time"] = message["predict_time"]
        self._finish(job, message["status"], output=output, error=message.get("error"))

    def _finish(self, job: Job, status: str, output: Any = None, error: Optional[str] = None) -> None:
        # Iterator outputs have grown item by item; the worker's final list is the same values, unresolved.
        if job.output is None:
            job.output = output
        job.status = status
        job.error = error
        job.completed_at = now_iso()
        self.metrics.finished(status, job.metrics.get("predict_time"), was_started=job.started_at is not None)
        if job.listeners:
            job.emit("completed", job.to_json())

    def cancel(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        if job is None:
            return False
        job.cancel_requested = True
        if job.in_worker and self.worker is not None:
            self.worker.cancel(job_id)
        return True
