"""The job policy of the runtime: health, slots and queue, jobs from request to terminal state, restarts.

A *job* is a prediction or a training; both run the same way, through the same worker. How the worker is
reached is a parameter, as a transport is to an HTTP client: `Runtime(settings, worker=...)` takes a factory of
`WorkerTransport`s, by default `WorkerProcess` (cog.server.process: the model's own process, over pipes), or
`InProcessWorker` (cog.server.inprocess: the model in this process, for tests and embedding). Both carry the
messages of cog.sdk.protocol.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import tempfile
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Set, Union

from cog.sdk.protocol import (
    TERMINAL,
    DoneEvent,
    Event,
    Health,
    HealthcheckCommand,
    HealthcheckEvent,
    JobCommand,
    Kind,
    LogEvent,
    OutputEvent,
    ReadyEvent,
    SetupFailedEvent,
    Status,
)
from cog.sdk.signature import FILE, PATH, Signature
from cog.server import tracing
from cog.server.files import FileInputError, download_inputs, resolve_outputs
from cog.server.metrics import Metrics
from cog.server.process import WorkerProcess
from cog.server.logs import echo
from cog.server.recent import RecentJobs
from cog.server.settings import Settings
from cog.server.webhook import EVENTS, WebhookSender

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cog.server")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class Job:
    """One prediction (or training) from request to terminal state."""

    def __init__(self, kind: Kind, job_id: Optional[str], request: Dict[str, Any]) -> None:
        self.kind = kind  # the worker's op
        self.id = job_id or uuid.uuid4().hex
        self.input = request.get("input") or {}
        self.context: Dict[str, str] = request.get("context") or {}  # for the model's cog.current_scope().context
        self.created_at = request.get("created_at") or now_iso()
        self.started_at: Optional[str] = None
        self.completed_at: Optional[str] = None
        self.status = Status.STARTING
        self.output: Any = None
        self.logs: List[str] = []
        self.error: Optional[str] = None
        self.metrics: Dict[str, Any] = {}
        self.output_file_prefix: Optional[str] = request.get("output_file_prefix")
        self.webhook: Optional[WebhookSender] = None
        self.events: "asyncio.Queue[JobEvent]" = asyncio.Queue()  # worker messages for this job
        self.finished = asyncio.Event()  # set in a terminal state
        self.done = asyncio.Event()  # set once its webhooks are sent too
        self.listeners: List["asyncio.Queue[Any]"] = []  # server-sent-event streams
        self.cancel_requested = False
        self.in_worker = False
        self.uploaded_names: Set[str] = set()  # file names this job has put at the upload URL
        self.span = tracing.Span({})  # its trace: the caller's context, or an exported span (Runtime.new_job)

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


JobEvent = Union[LogEvent, OutputEvent, DoneEvent]
SetupEvent = Union[ReadyEvent, SetupFailedEvent]


class WorkerTransport(Protocol):
    """How a Runtime reaches its model: started once, sent commands and cancels; its events go to the
    `on_message` it was made with, and output the model's process wrote outside them to `on_raw_output`."""

    exited: asyncio.Event  # set once the worker is gone: crashed, killed or stopped

    async def start(self) -> None: ...

    def send(self, command: JobCommand) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    @property
    def exit_description(self) -> str:  # why it exited: "exit status 3", "killed by signal SIGSEGV"
        ...

    async def stop(self, grace: float = 5.0) -> None: ...

    def kill(self) -> None: ...

    def busy_wait(self, seconds: float) -> None:
        """Wait awake until the worker has written something, or for `seconds`; or return at once."""


# Settings, on_message, on_raw_output -> a worker, not yet started. WorkerProcess is one.
WorkerFactory = Callable[[Settings, Callable[[Event], None], Callable[[str], None]], WorkerTransport]


class Runtime:
    """Health, slots and queue, the jobs in flight, and the worker they run in."""

    def __init__(self, settings: Settings, worker: WorkerFactory = WorkerProcess,
                 metrics: Optional[Metrics] = None) -> None:
        self.settings = settings
        self._new_worker = worker
        self.status = Health.STARTING
        self.setup: Dict[str, Any] = {}
        self.setup_logs: List[str] = []
        self.signature: Optional[Signature] = None
        self.train_signature: Optional[Signature] = None
        self.schema: Dict[str, Any] = {}
        self.jobs: Dict[str, Job] = {}
        self.metrics = metrics or Metrics()
        self.tracer = tracing.from_env()
        self.worker: Optional[WorkerTransport] = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self.busy = 0
        self.waiting = 0
        self._ready = asyncio.Event()
        self._background: "set[asyncio.Task[Any]]" = set()
        self._crashes_in_a_row = 0
        self._stopping = False
        self._takes_files: Dict[Kind, bool] = {}
        self._concurrency_taken = False
        self.draining = False  # shutting down: no new jobs; the ones in flight finish (cog.server.drain)
        self.recent = RecentJobs(settings.retention_count, settings.retention_seconds)
        self.healthcheck_error: Optional[str] = None  # why the predictor's healthcheck() last failed
        self._healthchecks: Dict[str, "asyncio.Future[Optional[str]]"] = {}
        self._client: Optional[httpx.AsyncClient] = None
        self._last_answer = 0.0  # seconds from the last job's command to the worker's last word on it (its done)

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client of file inputs, uploads and webhooks, made on first use: a model that needs none of
        them never imports httpx."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        return self._client

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        self.spawn(self._start_worker())

    async def _start_worker(self) -> None:
        self.status = Health.STARTING
        self._ready.clear()
        self.setup = {"started_at": now_iso(), "completed_at": None, "status": Status.STARTING, "logs": ""}
        self._setup_started = time.monotonic()
        setup_span = self.tracer.start("setup", {})
        self.setup_logs = []
        worker = self._new_worker(self.settings, self._on_message, self._on_raw_output)
        self.worker = worker
        self._setup_result: "asyncio.Future[SetupEvent]" = asyncio.get_running_loop().create_future()
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
            outcome = self._setup_result.result()
            if outcome["type"] == "setup_failed":
                raise SetupFailed(outcome["error"])
            message: ReadyEvent = outcome
        except (SetupFailed, OSError) as exc:
            worker.kill()
            self.setup_logs.append(f"{exc}\n")
            self._finish_setup(Status.FAILED)
            setup_span.end(error=str(exc))
            self.status = Health.SETUP_FAILED if self._crashes_in_a_row == 0 else Health.DEFUNCT
            self._ready.set()  # wake the queue: waiting jobs fail now instead of hanging
            log.error("setup failed: %s", str(exc).removeprefix("setup failed: "))  # the worker's words say it too
            return
        self.signature = Signature.from_json(message["signature"])
        if message["train_signature"]:
            self.train_signature = Signature.from_json(message["train_signature"])
        self.schema = message["schema"]
        self._take_concurrency(message.get("concurrency_max"))
        if self.settings.max_concurrency > 1 and not message["is_async"]:
            log.warning("predict() is synchronous: predictions run one at a time although concurrency.max is %d; "
                        "make it `async def` to run them concurrently", self.settings.max_concurrency)
        self._takes_files = {
            kind: signature is not None and any(f.kind in (PATH, FILE) for f in signature.inputs)
            for kind, signature in ((Kind.PREDICT, self.signature), (Kind.TRAIN, self.train_signature))
        }
        self._finish_setup(Status.SUCCEEDED)
        setup_span.end()
        gc.freeze()  # what exists now lives as long as the server: keep it out of every collection's scan
        self.status = Health.READY
        self.healthcheck_error = None
        self._ready.set()
        self.spawn(self._watch(worker))
        if message.get("healthcheck"):
            self.spawn(self._check_health(worker))

    def _take_concurrency(self, declared: Optional[int]) -> None:
        """predict()'s @cog.concurrent(max=N) raises the slots when the settings (cog.yaml's concurrency.max, or
        COG_MAX_CONCURRENCY) leave them at 1."""
        if not declared or declared <= 1 or self.settings.max_concurrency != 1 or self._concurrency_taken:
            return
        self._concurrency_taken = True
        for _ in range(declared - 1):
            self._slots.release()
        self.settings.max_concurrency = declared

    def _finish_setup(self, status: Status) -> None:
        self.setup.update(completed_at=now_iso(), status=status, logs="".join(self.setup_logs))
        self.metrics.setup_finished(time.monotonic() - self._setup_started)

    async def _check_health(self, worker: WorkerTransport) -> None:
        """Call the predictor's healthcheck() every `healthcheck_interval` seconds while the worker lives and no
        job runs (as Cog does: a busy model is not disturbed), and keep what it said."""
        number = 0
        while not worker.exited.is_set():
            if self.busy == 0 and self.status == Health.READY:
                number += 1
                check_id = f"healthcheck-{number}"
                answer = asyncio.get_running_loop().create_future()
                self._healthchecks[check_id] = answer
                command: HealthcheckCommand = {"op": "healthcheck", "id": check_id,
                                               "timeout": self.settings.healthcheck_timeout}
                worker.send(command)
                try:  # the worker enforces the timeout; this one covers a worker that cannot answer at all
                    error = await asyncio.wait_for(answer, self.settings.healthcheck_timeout + 5)
                except asyncio.TimeoutError:
                    error = "the model's process did not answer the healthcheck"
                finally:
                    self._healthchecks.pop(check_id, None)
                if error != self.healthcheck_error:
                    if error:
                        log.warning("the model is unhealthy: %s", error)
                    else:
                        log.info("the model is healthy again")
                self.healthcheck_error = error
            await asyncio.sleep(self.settings.healthcheck_interval)

    async def _watch(self, worker: WorkerTransport) -> None:
        await worker.exited.wait()
        if self._stopping:
            return
        # Hold new jobs back before anything else runs: the dead worker's pipes must not get them.
        self.status = Health.STARTING
        self._ready.clear()
        reason = f"the model's process stopped unexpectedly ({worker.exit_description})"
        for job in self.jobs.values():
            if job.in_worker:  # no predict_time: the model never finished it
                job.events.put_nowait({"type": "done", "id": job.id, "status": Status.FAILED, "output": None,
                                       "error": reason, "files": False})
        self._crashes_in_a_row += 1
        if self._crashes_in_a_row > self.settings.max_restarts:
            log.error("%s; it crashed %d times in a row, giving up", reason, self._crashes_in_a_row)
            self.status = Health.DEFUNCT
            self._ready.set()  # waiting jobs fail now instead of hanging
            return
        log.error("%s; restarting it", reason)
        self.metrics.worker_restarted()
        await self._start_worker()

    async def shutdown(self) -> None:
        """Let every job finish (and its webhooks go out), then stop the worker. After a drain, which has waited
        as long as its grace allows, what is left is not waited for."""
        if not self.draining:
            await asyncio.gather(*(job.done.wait() for job in list(self.jobs.values())))
        self._stopping = True
        current = asyncio.current_task()
        others = [task for task in self._background if task is not current]
        for task in others:  # what is left watches or starts the worker
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self.worker is not None:
            await self.worker.stop()
        if self._client is not None:
            await self._client.aclose()
        self.tracer.shutdown()

    def spawn(self, coroutine: Any) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- messages from the worker -----------------------------------------------------------------------

    def _on_message(self, message: Any) -> None:  # an Event
        if message["type"] == "log":
            echo(message["data"], message.get("id"))
        elif message["type"] == "healthcheck":
            self._on_healthcheck(message)
            return
        job_id = message.get("id")
        if job_id is not None:
            job = self.jobs.get(job_id)
            if job is not None:
                job.events.put_nowait(message)
        elif message["type"] == "log":
            self._attribute(message["data"])
        elif not self._setup_result.done():
            self._setup_result.set_result(message)

    def _on_healthcheck(self, message: HealthcheckEvent) -> None:
        answer = self._healthchecks.get(message["id"])
        if answer is not None and not answer.done():
            answer.set_result(message["error"])

    def _on_raw_output(self, text: str) -> None:
        """What the model's process wrote outside the protocol (C libraries, subprocesses, crash dumps)."""
        job = self._attribute(text)
        echo(text, job.id if job is not None else None)

    def _attribute(self, text: str) -> Optional[Job]:
        """Output that names no job: the one job in the worker's (returned), or setup's while it runs."""
        running = [j for j in self.jobs.values() if j.in_worker]
        if len(running) == 1:
            running[0].events.put_nowait({"type": "log", "id": running[0].id, "data": text})
            return running[0]
        if self.status == Health.STARTING:
            self.setup_logs.append(text)
        return None

    # -- jobs -------------------------------------------------------------------------------------------

    @property
    def health(self) -> Health:
        if self.status == Health.READY and self.healthcheck_error is not None:
            return Health.UNHEALTHY
        if self.status == Health.READY and self.busy >= self.settings.max_concurrency:
            return Health.BUSY
        return self.status

    def find(self, job_id: str) -> Optional[Dict[str, Any]]:
        """The job with this id as GET /predictions/{id} shows it: in flight, or finished not long ago."""
        job = self.jobs.get(job_id)
        return job.to_json() if job is not None else self.recent.get(job_id)

    def at_capacity(self, arriving: int = 1) -> bool:
        """Whether `arriving` more jobs would overflow the queue (all slots are busy and the queue is full)."""
        return self.busy >= self.settings.max_concurrency and self.waiting + arriving > self.settings.queue_size

    async def until_set_up(self) -> None:
        """Wait, as a queued job does, for the first setup to end: a request that arrives early is not refused."""
        self.waiting += 1
        try:
            await self._ready.wait()
        finally:
            self.waiting -= 1

    def signature_of(self, kind: Kind) -> Optional[Signature]:
        """What a job of `kind` takes: the predictor's inputs, or the trainer's (None: the model has no train)."""
        return self.signature if kind == Kind.PREDICT else self.train_signature

    def new_job(self, kind: Kind, job_id: Optional[str], request: Dict[str, Any],
                trace: Optional[Dict[str, str]] = None) -> Job:
        """A job for `request`; `trace` is the request's W3C trace context (cog.server.tracing.incoming)."""
        job = Job(kind, job_id, request)
        signature = self.signature_of(kind)
        if signature is not None:
            job.input = signature.redacted(job.input)
        self.metrics.job_requested()
        job.span = self.tracer.start("training" if kind == Kind.TRAIN else "prediction", trace or {}, server=True,
                                     job_id=job.id)
        webhook = request.get("webhook")
        if webhook:
            events = frozenset(request.get("webhook_events_filter") or EVENTS)
            job.webhook = WebhookSender(webhook, events, job.to_json, self.client, self.settings.webhook_auth_token,
                                        span=job.span)
        self.jobs[job.id] = job
        return job

    async def run(self, job: Job, arguments: Dict[str, Any]) -> None:
        """Take `job` to a terminal state: fetch its files, wait for a slot, run it in the worker."""
        if job.webhook is not None:
            job.webhook.start()
        directory = tempfile.mkdtemp(prefix="cog-input-") if self._takes_files[job.kind] else None
        try:
            if directory is not None:
                signature = self.signature_of(job.kind)
                assert signature is not None
                with job.span.child("download inputs"):
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
            self._finish(job, Status.FAILED, error=str(exc))
        except Exception as exc:  # a bug of ours must still end the job, or its client would wait forever
            log.exception("job %s", job.id)
            self._finish(job, Status.FAILED, error=f"internal error: {exc}")
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
        """The job is over and so are its webhooks; shutdown waits for this. Polling still finds it a while."""
        del self.jobs[job.id]
        self.recent.add(job.id, job.to_json())
        job.done.set()

    def in_flight(self) -> List[Job]:
        """The jobs not yet in a terminal state (those done but for their webhooks are not)."""
        return [job for job in self.jobs.values() if job.status not in TERMINAL]

    async def _run_in_worker(self, job: Job, arguments: Dict[str, Any]) -> None:
        await self._ready.wait()
        if self.status not in (Health.READY,) or self.worker is None:
            self._finish(job, Status.FAILED, error=f"the model is not available ({self.status})")
            return
        if job.cancel_requested:
            self._finish(job, Status.CANCELED)
            return
        job.status = Status.PROCESSING
        job.started_at = now_iso()
        job.in_worker = True
        self.metrics.started()
        job.emit("start", {"id": job.id, "status": job.status})
        command: JobCommand = {"op": job.kind, "id": job.id, "input": arguments}
        if job.context:
            command["context"] = job.context
        # Alone in the worker with none queued: the worker may stay awake for the next job, and when the model's
        # last answer came within the busy-poll, this loop waits awake for this one (cog.server.settings).
        busy_poll = self.settings.busy_poll if self.busy == 1 and self.waiting == 0 else 0.0
        if busy_poll:
            command["busy_poll"] = busy_poll
        sent = time.perf_counter()
        self.worker.send(command)
        if busy_poll and self._last_answer <= busy_poll:
            self.worker.busy_wait(busy_poll)
        upload_url = job.output_file_prefix or self.settings.upload_url
        while True:
            message = await job.events.get()
            self._last_answer = time.perf_counter() - sent
            if message["type"] == "log":
                self._on_log(job, message)
            elif message["type"] == "output":
                await self._on_output(job, message, upload_url)
            else:
                break
        job.in_worker = False
        await self._complete(job, message, upload_url)

    def _on_log(self, job: Job, message: LogEvent) -> None:
        job.logs.append(message["data"])
        job.emit("log", {"source": "stdout", "data": message["data"]})
        if job.webhook is not None:
            job.webhook.progress("logs")

    async def _on_output(self, job: Job, message: OutputEvent, upload_url: Optional[str]) -> None:
        value = message["value"]
        if message["files"]:
            with job.span.child("upload output"):
                value = await resolve_outputs(value, upload_url, self.client, job.uploaded_names)
        if job.output is None:
            job.output = []
        job.emit("output", {"chunk": value, "index": len(job.output)})
        job.output.append(value)
        if job.webhook is not None:
            job.webhook.progress("output")

    async def _complete(self, job: Job, message: DoneEvent, upload_url: Optional[str]) -> None:
        output = message["output"]
        if message.get("files"):
            import httpx  # for its errors; the client it makes below imports it anyway

            try:
                with job.span.child("upload output"):
                    output = await resolve_outputs(output, upload_url, self.client, job.uploaded_names)
            except (httpx.HTTPError, OSError) as exc:
                self._finish(job, Status.FAILED, error=f"could not return an output file: {exc}")
                return
        status = Status(message["status"])
        if status == Status.SUCCEEDED:
            self._crashes_in_a_row = 0
        if "predict_time" in message:
            job.metrics["predict_time"] = message["predict_time"]
        for name, value in (message.get("metrics") or {}).items():  # the model's own; predict_time is ours
            job.metrics.setdefault(name, value)
        self._finish(job, status, output=output, error=message.get("error"))

    def _finish(self, job: Job, status: Status, output: Any = None, error: Optional[str] = None) -> None:
        # Iterator outputs have grown item by item; the worker's final list is the same values, unresolved.
        if job.output is None:
            job.output = output
        job.status = status
        job.error = error
        job.completed_at = now_iso()
        job.finished.set()
        self.metrics.finished(status, job.metrics.get("predict_time"), was_started=job.started_at is not None)
        job.span.end(error=error if status == Status.FAILED else None, status=status)
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
