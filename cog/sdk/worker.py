"""The model's worker process: loads the user's predictor, runs setup() once, then runs predictions.

Standard library only: this runs on the model's interpreter, inside the model's environment.

Two entry points:

    python -m cog.sdk.worker --openapi predict.py:Predictor [--train train.py:train]
        Print the model's OpenAPI schema as JSON and exit (status 1 with a one-line message on a bad
        declaration). The image build and the CLI use this; nothing is started.

    python -m cog.sdk.worker --predict REF [--train REF] --fds COMMANDS,EVENTS,CONTROL
        The runtime (cog.server.process) starts this with three pipe ends and speaks the protocol of
        cog.sdk.protocol over them: commands and cancels in, events (ready, logs, outputs, done) out. The
        process's own stdout/stderr (C libraries, subprocesses, crash dumps) are read by the server and
        attributed there.

The runtime may also run a Worker in its own process (cog.server.inprocess, for tests and embedding): it gives
the Worker a Channel of its own and calls `load`, `setup`/`setup_async`, `run_job`/`start_job` directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import enum
import faulthandler
import gc
import importlib
import importlib.util
import inspect
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import typing
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from cog.sdk import scope
from cog.sdk.coders import Coder, JsonCoder
from cog.sdk.predictor import CONCURRENT_MAX_ATTR, DECLARED_INPUTS_ATTR, LoadError, entry_point
from cog.sdk.protocol import (
    FILE_MARKER,
    DoneEvent,
    Event,
    HealthcheckCommand,
    JobCommand,
    Kind,
    LineBuffer,
    ReadyEvent,
    Status,
    decode,
    encode,
    poll_readable,
)
from cog.sdk.schema import openapi_schema
from cog.sdk.signature import (
    DICT, FILE, PATH, SECRET, WEIGHTS_PARAMETER, Signature, SignatureError, _type_hints, _unwrap_optional,
    signature_of,
)
from cog.sdk.types import BaseModel, CancelationException, File, Path, Secret, URLFile, URLPath


# ---------------------------------------------------------------------------------------------------------
# Loading a predictor reference ("predict.py:Predictor", "train.py:train", "package.module:Name")


def load_ref(ref: str, directory: Optional[str] = None) -> Any:
    """The object `ref` names; a FILE.py is found in `directory` (default: the working directory)."""
    module_part, sep, attr = ref.rpartition(":")
    if not sep or not module_part or not attr:
        raise LoadError(f"{ref!r} is not a predictor reference; write it as FILE.py:NAME, e.g. predict.py:Predictor")
    if module_part.endswith(".py") or os.sep in module_part:
        directory = directory or os.getcwd()
        path = os.path.abspath(os.path.join(directory, module_part))
        if not os.path.isfile(path):
            raise LoadError(f"{module_part} does not exist in {directory}")
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # so pickle, dataclasses and relative lookups find it
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LoadError(f"{module_part} has no {attr!r}") from None


class Target(NamedTuple):
    """A loaded predict or train entry point: the object it belongs to (None for a function), the callable."""

    instance: Any
    fn: Callable[..., Any]
    signature: Signature


class Targets(NamedTuple):
    """What `signatures()` loads: the predictor, and the trainer when there is one."""

    predict: Target
    train: Optional[Target]


def _target(ref: str, kind: Kind, directory: Optional[str]) -> Target:
    instance, fn = entry_point(load_ref(ref, directory), kind)
    return Target(instance, fn, signature_of(fn))


def signatures(predict_ref: str, train_ref: Optional[str], directory: Optional[str] = None) -> Targets:
    """Load the predictor (and trainer) with their signatures."""
    predict = _target(predict_ref, Kind.PREDICT, directory)
    return Targets(predict, _target(train_ref, Kind.TRAIN, directory) if train_ref else None)


def _schema(targets: Targets) -> Dict[str, Any]:
    return openapi_schema(targets.predict.signature, targets.train.signature if targets.train else None)


def print_openapi(predict_ref: str, train_ref: Optional[str]) -> int:
    try:
        targets = signatures(predict_ref, train_ref)
    except (LoadError, SignatureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json.dump(_schema(targets), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------------------------------------------------
# Talking to the server


class Channel:
    """Where the events go, one encoded line per message, whole lines under a lock (user threads may log
    concurrently). `write` takes each line: the EVENTS pipe (`Channel.to_fd`), or the in-process runtime."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        # A cancel signal that lands while the main thread writes here is deferred until the line is out.
        self.main_thread_writing = False
        self.deferred_cancel = False

    @classmethod
    def to_fd(cls, fd: int) -> "Channel":
        file = open(fd, "wb", buffering=1 << 16)

        def write(data: bytes) -> None:
            file.write(data)
            file.flush()

        return cls(write)

    def send(self, message: Event) -> None:
        data = encode(message)
        main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if main:
                self.main_thread_writing = True
            try:
                self._write(data)
            finally:
                if main:
                    self.main_thread_writing = False
        if main and self.deferred_cancel:
            self.deferred_cancel = False
            raise CancelationException()


current_job: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("current_job", default=None)


class LogStream(io.TextIOBase):
    """sys.stdout/sys.stderr replacement: sends whole lines to the server, tagged with the running job."""

    def __init__(self, channel: Channel, running: Dict[str, Any]) -> None:
        self._channel = channel
        self._running = running
        self._pending: Dict[Optional[str], str] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def _job(self) -> Optional[str]:
        job = current_job.get()
        if job is None and len(self._running) == 1:  # a thread the model started, with one job running
            job = next(iter(self._running))
        return job

    def write(self, text: str) -> int:
        job = self._job()
        with self._lock:
            buffered = self._pending.get(job, "") + text
            cut = max(buffered.rfind("\n"), buffered.rfind("\r")) + 1  # "\r": progress bars redraw a line
            self._pending[job] = buffered[cut:]
        if cut:
            self._channel.send({"type": "log", "id": job, "data": buffered[:cut]})
        return len(text)

    def flush_job(self, job: Optional[str]) -> None:
        with self._lock:
            rest = self._pending.pop(job, "")
        if rest:
            self._channel.send({"type": "log", "id": job, "data": rest})

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------------
# Values in and out


def input_converters(signature: Signature,
                     fn: Optional[Callable[..., Any]] = None) -> List[Tuple[str, Callable[[Any], Any]]]:
    """Per-input conversions from the server's JSON values to what the model expects (paths, secrets, the
    values of a coder's type: `fn`'s annotations say which)."""
    def path(v: Any) -> Any:
        return Path(v)

    def file(v: Any) -> Any:
        return open(v, "rb")

    converters = {PATH: path, FILE: file, SECRET: Secret}
    types = _input_types(fn) if fn is not None and any(f.kind == DICT for f in signature.inputs) else {}
    result = []
    for f in signature.inputs:
        convert = converters.get(f.kind)
        if f.kind == DICT:
            convert = _decoder(types.get(f.name))
        if convert is None:
            continue
        if f.array:
            result.append((f.name, lambda vs, c=convert: None if vs is None else [c(v) for v in vs]))
        else:
            result.append((f.name, lambda v, c=convert: None if v is None else c(v)))
    return result


def _input_types(fn: Callable[..., Any]) -> Dict[str, Any]:
    declared = getattr(fn, DECLARED_INPUTS_ATTR, None)
    if declared is not None:
        return {d.name: d.type for d in declared}
    try:
        return _type_hints(fn)
    except SignatureError:
        return {}


def _decoder(annotation: Any) -> Optional[Callable[[Any], Any]]:
    """coder.decode for an input of a coder's type (a dataclass, a set, ...); None for a JSON object as it is."""
    if annotation is None:
        return None
    tp, _ = _unwrap_optional(annotation)
    if typing.get_origin(tp) in (list, List):
        tp = (typing.get_args(tp) or (dict,))[0]
    coder = Coder.lookup(tp)
    return None if coder is None or isinstance(coder, JsonCoder) else coder.decode


class OutputEncoder:
    """Turns a model's output into JSON values; remembers whether it met files."""

    def __init__(self) -> None:
        self.files = False

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, URLPath):  # as in Cog: its URL, not its content
            return value.source
        if isinstance(value, URLFile):
            return value.url
        if isinstance(value, os.PathLike):
            self.files = True
            return {FILE_MARKER: os.path.abspath(os.fspath(value))}
        if isinstance(value, (list, tuple)):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.encode(v) for k, v in value.items()}
        if isinstance(value, Secret):
            return value.get_secret_value()
        if isinstance(value, BaseModel):
            return self.encode(value.to_dict())
        if hasattr(value, "model_dump"):  # pydantic 2
            return self.encode({k: getattr(value, k) for k in type(value).model_fields})
        if hasattr(value, "__fields__") and hasattr(value, "dict"):  # pydantic 1
            return self.encode({k: getattr(value, k) for k in value.__fields__})
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.encode({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        if isinstance(value, enum.Enum):
            return self.encode(value.value)
        if isinstance(value, io.IOBase):
            return self.encode(_save_stream(value))
        coder = Coder.lookup(type(value))  # a set, or a type of the model's own coder
        if coder is not None:
            return self.encode(coder.encode(value))
        raise TypeError(f"the model returned a {type(value).__name__}, which cannot be sent as JSON")


def _save_stream(stream: io.IOBase) -> Path:
    name = os.path.basename(getattr(stream, "name", "") or "output")
    directory = tempfile.mkdtemp(prefix="cog-output-")
    path = Path(directory, name)
    data = stream.read()
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the cog package: not the model's code


def _in_model_code(exc: BaseException) -> Optional[str]:
    """FILE:LINE of the model's code where `exc` arose (the last frame outside cog and Python's own machinery), as
    the working directory names it; None when there is none."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{_shown(exc.filename)}:{exc.lineno}"
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith((_SDK_DIR + os.sep, "<")) and frame.lineno]
    return f"{_shown(frames[-1].filename)}:{frames[-1].lineno}" if frames else None


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


# ---------------------------------------------------------------------------------------------------------
# The prediction loop


class Runnable(NamedTuple):
    """What the worker calls for one kind of job: the function, its signature, its inputs' conversions."""

    fn: Callable[..., Any]
    signature: Signature
    converters: List[Tuple[str, Callable[[Any], Any]]]

    @classmethod
    def of(cls, target: Target) -> "Runnable":
        return cls(target.fn, target.signature, input_converters(target.signature, target.fn))


class Worker:
    """One model: `load`, then `setup` (or `setup_async`), then jobs, each answered with a done event.

    Sync mode runs one job at a time in the calling thread (`run_job`); a cancel is a signal (`serve_sync`) or,
    without one, takes effect when the model next yields. Async mode runs jobs as tasks of an event loop
    (`start_job`); a cancel is task.cancel() (`cancel_job`).
    """

    def __init__(self, channel: Channel, predict_ref: str, train_ref: Optional[str],
                 directory: Optional[str] = None) -> None:
        self.channel = channel
        self.predict_ref = predict_ref
        self.train_ref = train_ref
        self.directory = directory  # where FILE.py references are found (default: the working directory)
        self.running: Dict[str, Any] = {}  # job id -> asyncio task (async) or True (sync)
        self.canceled: Set[str] = set()
        self.logs = LogStream(channel, self.running)
        self.in_user_code = False  # sync mode: cancel signals raise only inside the model's code
        self.targets: Dict[str, Runnable] = {}  # by Kind
        self.setups: List[Callable[..., Any]] = []
        self.is_async = False
        self.ready_message: Optional[ReadyEvent] = None
        self.healthcheck: Optional[Callable[[], Any]] = None  # the predictor's own healthcheck(), if any
        # Async mode's busy-poll: the command pipe, since when no job runs, and how long the last wait took.
        self._commands_fd: Optional[int] = None
        self._idle_since: Optional[float] = None
        self._last_wait = 0.0

    # -- setup ------------------------------------------------------------------------------------------

    def load(self) -> bool:
        """Import the model and read its signatures; False (after telling the server) if that fails."""
        try:
            targets = signatures(self.predict_ref, self.train_ref, self.directory)
            instances = [target.instance for target in targets if target is not None]
            self.setups = [obj.setup for obj in instances if obj is not None and callable(getattr(obj, "setup", None))]
            for setup in self.setups:
                _check_setup_arguments(setup)
        except (LoadError, SignatureError) as exc:
            self.channel.send({"type": "setup_failed", "error": str(exc)})
            return False
        except BaseException as exc:  # e.g. an import error in the model's module
            return self._setup_failed(exc)
        self.targets[Kind.PREDICT] = Runnable.of(targets.predict)
        if targets.train is not None:
            self.targets[Kind.TRAIN] = Runnable.of(targets.train)
        self.is_async = any(_is_async(runnable.fn) for runnable in self.targets.values())
        self.ready_message = {
            "type": "ready",
            "signature": targets.predict.signature.to_json(),
            "train_signature": targets.train.signature.to_json() if targets.train else None,
            "schema": _schema(targets),
            "is_async": self.is_async,
        }
        concurrency_max = getattr(targets.predict.fn, CONCURRENT_MAX_ATTR, None)  # @cog.concurrent(max=N)
        if isinstance(concurrency_max, int):
            self.ready_message["concurrency_max"] = concurrency_max
        healthcheck = getattr(targets.predict.instance, "healthcheck", None)
        if callable(healthcheck):
            self.healthcheck = healthcheck
            self.ready_message["healthcheck"] = True
        return True

    def _call_setups(self) -> Iterator[Any]:
        """Call each setup(); yield what an async one returns, for the caller to await in its loop."""
        for setup in self.setups:
            kwargs = {}
            if WEIGHTS_PARAMETER in inspect.signature(setup).parameters:
                kwargs[WEIGHTS_PARAMETER] = weights_argument(setup)
            result = setup(**kwargs)
            if inspect.isawaitable(result):
                yield result

    def setup(self) -> bool:
        try:
            for pending in self._call_setups():  # an async setup() of a sync predictor: a loop of its own
                asyncio.run(_await(pending))
        except BaseException as exc:
            return self._setup_failed(exc)
        return self._ready()

    async def setup_async(self) -> bool:
        try:
            for pending in self._call_setups():  # in the loop the predictions will run in
                await pending
        except BaseException as exc:
            return self._setup_failed(exc)
        return self._ready()

    def _setup_failed(self, exc: BaseException) -> bool:
        traceback.print_exception(type(exc), exc, exc.__traceback__)  # into the setup logs
        self.logs.flush_job(None)
        where = _in_model_code(exc)
        self.channel.send({"type": "setup_failed", "error": f"setup failed: {where + ': ' if where else ''}{error_text(exc)}"})
        return False

    def _ready(self) -> bool:
        assert self.ready_message is not None
        self.logs.flush_job(None)
        self.channel.send(self.ready_message)
        gc.freeze()  # the loaded model stays for good: spare it from every garbage collection's scan
        return True

    # -- sync mode: one job at a time in the main thread, cancel by signal --------------------------------

    def serve_sync(self, commands_fd: int, control_fd: int) -> None:
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        threading.Thread(target=self._read_control, args=(control_fd,), daemon=True).start()
        for command in _CommandReader(commands_fd):
            if command["op"] == "healthcheck":
                self.run_healthcheck(command)
            else:
                self.run_job(command)

    def run_job(self, command: JobCommand) -> None:
        """Run one job in this thread and send its done event."""
        job = command["id"]
        self.running[job] = True
        current_job.set(job)
        scope.enter(job, command.get("context"))
        try:
            self.channel.send(self._run_sync(command))
        finally:
            scope.leave(job)
            current_job.set(None)
            del self.running[job]
            self.canceled.discard(job)

    def run_healthcheck(self, command: HealthcheckCommand) -> None:
        """Call healthcheck() in a thread of its own, so that one that hangs holds this loop `timeout` seconds at
        most, and send what it says."""
        outcome: List[Optional[str]] = [_timed_out(command["timeout"])]

        def check() -> None:
            try:
                result = self.healthcheck() if self.healthcheck is not None else True
                if inspect.isawaitable(result):  # an async healthcheck() of a sync predictor
                    result = asyncio.run(_await(result))
                outcome[0] = _healthcheck_error(result)
            except BaseException as exc:  # the model's own error: unhealthy, not a crash
                outcome[0] = _raised(exc)

        thread = threading.Thread(target=check, name="cog-healthcheck", daemon=True)
        thread.start()
        thread.join(command["timeout"])
        self.channel.send({"type": "healthcheck", "id": command["id"], "error": outcome[0]})

    def _read_control(self, control_fd: int) -> None:
        with open(control_fd, "rb") as control:
            for line in control:
                job = decode(line)["id"]
                self.canceled.add(job)
                if job in self.running:
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)  # type: ignore[arg-type]

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if not (self.in_user_code and current_job.get() in self.canceled):
            return
        if self.channel.main_thread_writing:  # the model is printing: finish the line, then raise
            self.channel.deferred_cancel = True
        else:
            raise CancelationException()

    def _enter_user_code(self, job: str) -> None:
        if job in self.canceled:
            raise CancelationException()
        self.in_user_code = True

    def _run_sync(self, command: JobCommand) -> DoneEvent:
        job = command["id"]
        target = self.targets[command["op"]]
        started = time.perf_counter()
        encoder = OutputEncoder()
        try:
            kwargs = self._arguments(command["input"], target.converters)
            self._enter_user_code(job)
            try:
                result = target.fn(**kwargs)
            finally:
                self.in_user_code = False
            if inspect.isgenerator(result):
                output = []
                while True:
                    self._enter_user_code(job)
                    try:
                        item = next(result)
                    except StopIteration:
                        break
                    finally:
                        self.in_user_code = False
                    output.append(self._send_item(job, item))
            else:
                output = encoder.encode(result)
            return self._done(job, Status.SUCCEEDED, started, output=output, files=encoder.files)
        except CancelationException:
            return self._done(job, Status.CANCELED, started)
        except BaseException as exc:  # the model's own error: report it on this job, keep serving
            return self._failed(job, exc, started)

    # -- async mode: an event loop; jobs are tasks, cancel is task.cancel() --------------------------------

    async def serve_async(self, commands_fd: int, control_fd: int) -> int:
        if not await self.setup_async():
            return 1
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        self._commands_fd = commands_fd
        commands = _LineReader(commands_fd, self.start, finished)
        control = _LineReader(control_fd, lambda message: self.cancel_job(message["id"]), None)
        loop.add_reader(commands_fd, commands.on_readable)
        loop.add_reader(control_fd, control.on_readable)
        await finished
        if self.running:
            await asyncio.wait(list(self.running.values()))
        return 0

    def start(self, command: Any) -> None:
        """A command of the pipe, in async mode: a job or a healthcheck, each a task of the running loop."""
        if self._idle_since is not None:
            self._last_wait, self._idle_since = time.perf_counter() - self._idle_since, None
        if command["op"] == "healthcheck":
            asyncio.ensure_future(self._healthcheck_async(command))
        else:
            self.start_job(command)

    async def _healthcheck_async(self, command: HealthcheckCommand) -> None:
        try:
            assert self.healthcheck is not None
            if _is_async(self.healthcheck):
                result = await asyncio.wait_for(self.healthcheck(), command["timeout"])
            else:  # a sync healthcheck() must not block the predictions' loop
                loop = asyncio.get_running_loop()
                result = await asyncio.wait_for(loop.run_in_executor(None, self.healthcheck), command["timeout"])
            error = _healthcheck_error(result)
        except asyncio.TimeoutError:
            error = _timed_out(command["timeout"])
        except Exception as exc:  # the model's own error: unhealthy, not a crash
            error = _raised(exc)
        self.channel.send({"type": "healthcheck", "id": command["id"], "error": error})

    def start_job(self, command: JobCommand) -> None:
        """Start one job as a task of the running loop; it sends its done event when it ends."""
        job = command["id"]
        self.running[job] = asyncio.ensure_future(self._run_async(command))

    def cancel_job(self, job: str) -> None:
        task = self.running.get(job)
        if task is not None:
            task.cancel()

    async def _run_async(self, command: JobCommand) -> None:
        job = command["id"]
        current_job.set(job)
        scope.enter(job, command.get("context"))  # in this task's own context
        target = self.targets[command["op"]]
        started = time.perf_counter()
        encoder = OutputEncoder()
        try:
            kwargs = self._arguments(command["input"], target.converters)
            result = target.fn(**kwargs)
            if inspect.isasyncgen(result):
                output = [self._send_item(job, item) async for item in result]
            elif inspect.isgenerator(result):
                output = [self._send_item(job, item) for item in result]
            else:
                output = encoder.encode(await result if inspect.isawaitable(result) else result)
            message = self._done(job, Status.SUCCEEDED, started, output=output, files=encoder.files)
        except (asyncio.CancelledError, CancelationException):
            message = self._done(job, Status.CANCELED, started)
        except BaseException as exc:  # the model's own error: report it on this job, keep serving
            message = self._failed(job, exc, started)
        finally:
            scope.leave(job)
            del self.running[job]
        self.channel.send(message)
        if not self.running:
            self._stay_awake(float(command.get("busy_poll") or 0))

    def _stay_awake(self, budget: float) -> None:
        """Async mode's busy-poll (as _CommandReader's in sync mode), once no job runs: wait awake up to `budget`
        seconds for the next command, unless the last wait outlasted the budget. It blocks the loop, which has
        nothing to run meanwhile."""
        idle_since = time.perf_counter()
        if budget and self._last_wait <= budget and self._commands_fd is not None:
            poll_readable(self._commands_fd, idle_since + budget)
        self._idle_since = idle_since

    # -- shared -----------------------------------------------------------------------------------------

    @staticmethod
    def _arguments(payload: Dict[str, Any], converters: List[Tuple[str, Callable[[Any], Any]]]) -> Dict[str, Any]:
        for name, convert in converters:
            if name in payload:
                payload[name] = convert(payload[name])
        return payload

    def _send_item(self, job: str, item: Any) -> Any:
        encoder = OutputEncoder()
        value = encoder.encode(item)
        self.logs.flush_job(job)
        self.channel.send({"type": "output", "id": job, "value": value, "files": encoder.files})
        return value

    def _failed(self, job: str, exc: BaseException, started: float) -> DoneEvent:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return self._done(job, Status.FAILED, started, error=error_text(exc))

    def _done(self, job: str, status: Status, started: float, *, output: Any = None, error: Optional[str] = None,
              files: bool = False) -> DoneEvent:
        predict_time = time.perf_counter() - started
        metrics = _recorded_metrics(job)
        self.logs.flush_job(job)
        message: DoneEvent = {"type": "done", "id": job, "status": status, "output": output, "error": error,
                              "files": files, "predict_time": predict_time}
        if metrics:
            message["metrics"] = metrics
        return message


def _recorded_metrics(job: str) -> Dict[str, Any]:
    """What the job recorded with cog.current_scope(); a value JSON cannot carry is left out, with a log line."""
    recorded = scope._running.get(job)
    if recorded is None or not recorded.metrics:
        return {}
    metrics = {}
    for name, value in recorded.metrics.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            print(f"cog: metric {name!r} is a {type(value).__name__}, which cannot be sent as JSON; left out",
                  file=sys.stderr)
            continue
        metrics[name] = value
    return metrics


def weights_argument(setup: Callable[..., Any]) -> Any:
    """What setup(weights=...) gets, by its annotation as Cog decides it: COG_WEIGHTS (or ./weights, for a Path
    or File annotation, when that is unset and exists) as a str, an open file or a cog.Path (a URLFile or
    URLPath for a URL, read on first use); unannotated or Weights: a cog.Path when it names an existing file,
    else the string; None when there is none."""
    try:
        annotation = typing.get_type_hints(setup).get(WEIGHTS_PARAMETER)
    except Exception:  # an annotation that does not resolve: take it as none
        annotation = None
    tp, _ = _unwrap_optional(annotation) if annotation is not None else (None, False)
    wants_path = inspect.isclass(tp) and issubclass(tp, os.PathLike)
    wants_file = tp is File or (inspect.isclass(tp) and issubclass(tp, io.IOBase))
    weights = os.environ.get("COG_WEIGHTS")
    if not weights:
        if (wants_path or wants_file) and os.path.exists("weights"):
            weights = "weights"
        else:
            return None
    is_url = weights.startswith(("http://", "https://", "data:"))
    if tp is str:
        return weights
    if wants_file:
        return URLFile(weights) if is_url else open(weights, "rb")
    if wants_path:
        return URLPath(weights) if is_url else Path(weights)
    return Path(weights) if not is_url and os.path.exists(weights) else weights


class _LineReader:
    """Non-blocking reader of messages for an event loop's add_reader."""

    def __init__(self, fd: int, on_message: Callable[[Any], None], at_eof: Optional["asyncio.Future[None]"]) -> None:
        self._fd = fd
        self._on_message = on_message
        self._at_eof = at_eof
        self._lines = LineBuffer()
        os.set_blocking(fd, False)

    def on_readable(self) -> None:
        try:
            chunk = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            asyncio.get_running_loop().remove_reader(self._fd)
            if self._at_eof is not None and not self._at_eof.done():
                self._at_eof.set_result(None)
            return
        for message in self._lines.feed(chunk):
            self._on_message(message)


class _CommandReader:
    """The sync worker's commands, one message per line of the pipe (blocking reads).

    After a job the server sent with `busy_poll` (no other job was waiting), the next read first busy-waits up to
    that many seconds for the next command, yielding the CPU to anything else runnable: a client sending request
    after request then finds this process awake. Waking a sleeping process costs the wake-up of its CPU, which in
    a VM is an interprocessor interrupt and an exit to the hypervisor: tens of microseconds each way, the most of
    a trivial prediction's time in the hop from the server. When the last wait outlasted the budget (requests
    come seldom), the next one sleeps at once instead."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lines = LineBuffer()

    def __iter__(self) -> Iterator[Any]:
        pending: List[Any] = []
        budget = 0.0  # this wait's busy-poll
        waited = 0.0  # how long the last wait took
        while True:
            if not pending:
                started = time.perf_counter()
                if budget and waited <= budget:
                    poll_readable(self._fd, started + budget)
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    return
                waited = time.perf_counter() - started
                pending = self._lines.feed(chunk)
                continue
            command = pending.pop(0)
            budget = float(command.get("busy_poll") or 0) if not pending else 0.0
            yield command


def _check_setup_arguments(setup: Callable[..., Any]) -> None:
    """A LoadError when setup() takes parameters that cog cannot fill: all but `weights`, *args, **kwargs and those
    with defaults."""
    try:
        parameters = inspect.signature(setup).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    unknown = [p.name for p in parameters
               if p.name != WEIGHTS_PARAMETER and p.default is inspect.Parameter.empty and p.kind not in variadic]
    if unknown:
        owner = type(getattr(setup, "__self__", setup)).__name__
        raise LoadError(f"{owner}.setup() takes {', '.join(unknown)}, which nothing gives it; setup() may take "
                        f"weights alone (or arguments with defaults)")


def _healthcheck_error(result: Any) -> Optional[str]:
    """What healthcheck() returned, as Cog reads it: False is unhealthy, anything else (True, None) healthy."""
    return "healthcheck() returned False" if result is False else None


def _raised(exc: BaseException) -> str:
    return f"healthcheck() raised {type(exc).__name__}: {error_text(exc)}"


def _timed_out(timeout: float) -> str:
    return f"healthcheck() did not return within {timeout:g} seconds"


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def serve(predict_ref: str, train_ref: Optional[str], fds: str) -> int:
    commands_fd, events_fd, control_fd = (int(x) for x in fds.split(","))
    faulthandler.enable()  # a segfault in native code leaves a traceback in the prediction's logs
    worker = Worker(Channel.to_fd(events_fd), predict_ref, train_ref)
    sys.stdout = sys.stderr = worker.logs  # type: ignore[assignment]
    if not worker.load():
        return 1
    if worker.is_async:
        return asyncio.run(worker.serve_async(commands_fd, control_fd))
    if not worker.setup():
        return 1
    worker.serve_sync(commands_fd, control_fd)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cog.sdk.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--openapi", metavar="REF", help="print the OpenAPI schema of this predictor and exit")
    parser.add_argument("--predict", metavar="REF", help="serve this predictor over --fds")
    parser.add_argument("--train", metavar="REF", help="the training function or class, if any")
    parser.add_argument("--fds", help="COMMANDS,EVENTS,CONTROL pipe file descriptors")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    if args.openapi:
        return print_openapi(args.openapi, args.train)
    if not (args.predict and args.fds):
        parser.error("give --openapi REF, or --predict REF with --fds")
    return serve(args.predict, args.train, args.fds)


if __name__ == "__main__":
    sys.exit(main())
