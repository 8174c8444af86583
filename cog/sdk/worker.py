"""The model's worker process: loads the user's predictor, runs setup() once, then runs predictions.

Standard library only: this runs on the model's interpreter, inside the model's environment.

Two entry points:

    python -m cog.sdk.worker --openapi predict.py:Predictor [--train train.py:train]
        Print the model's OpenAPI schema as JSON and exit (status 1 with a one-line message on a bad
        declaration). The image build and the CLI use this; nothing is started.

    python -m cog.sdk.worker --predict REF [--train REF] --fds COMMANDS,EVENTS,CONTROL
        The runtime (cog.server.http) starts this with three pipe ends. Messages are JSON, one per line.
        COMMANDS (server -> worker): {"op": "predict"|"train", "id", "input"}
        CONTROL  (server -> worker): {"op": "cancel", "id"}; separate, so a cancel reaches a busy worker
        EVENTS   (worker -> server): {"type": "ready", "signature", "train_signature", "schema", "is_async"}
                                     {"type": "setup_failed", "error"}
                                     {"type": "log", "id", "data"}   (id null: setup or unattributed)
                                     {"type": "output", "id", "value", "files"}  (one iterator item)
                                     {"type": "done", "id", "status", "output", "error", "files", "predict_time"}
        File outputs travel as {"$cog_file": "/abs/path"}; `files` says a message holds some, so the
        server walks only those. The process's own stdout/stderr (C libraries, subprocesses, crash dumps)
        are read by the server and attributed there.
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
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from cog.sdk.predictor import BasePredictor, BaseRunner, Model
from cog.sdk.schema import openapi_schema
from cog.sdk.signature import FILE, PATH, SECRET, WEIGHTS_PARAMETER, Signature, SignatureError, signature_of
from cog.sdk.types import BaseModel, CancelationException, Path, Secret

FILE_MARKER = "$cog_file"


class LoadError(Exception):
    """The predictor reference cannot be loaded; the message says why in one line."""


# ---------------------------------------------------------------------------------------------------------
# Loading a predictor reference ("predict.py:Predictor", "train.py:train", "package.module:Name")


def load_ref(ref: str) -> Any:
    module_part, sep, attr = ref.rpartition(":")
    if not sep or not module_part or not attr:
        raise LoadError(f"{ref!r} is not a predictor reference; write it as FILE.py:NAME, e.g. predict.py:Predictor")
    if module_part.endswith(".py") or os.sep in module_part:
        path = os.path.abspath(module_part)
        if not os.path.isfile(path):
            raise LoadError(f"{module_part} does not exist in {os.getcwd()}")
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


def entry_point(obj: Any, kind: str) -> Tuple[Any, Callable[..., Any]]:
    """(instance or None, callable) for a loaded predict (kind 'predict') or train (kind 'train') target."""
    if not inspect.isclass(obj):
        if not callable(obj):
            raise LoadError(f"{obj!r} is neither a class nor a function")
        return None, obj
    if kind == "train":
        names = ["train"]
    elif issubclass(obj, (BaseRunner, Model)):
        names = ["run"]
    elif issubclass(obj, BasePredictor):
        names = ["predict"]
    else:
        names = ["predict", "run"]
    for name in names:
        if callable(getattr(obj, name, None)):
            instance = obj()
            return instance, getattr(instance, name)
    raise LoadError(f"{obj.__name__} has no {' or '.join(n + '()' for n in names)} method")


def signatures(predict_ref: str, train_ref: Optional[str]) -> Tuple[Any, Callable[..., Any], Signature, Any]:
    """Load the predictor (and trainer); return (instance, predict fn, predict signature, train target)."""
    instance, fn = entry_point(load_ref(predict_ref), "predict")
    train = None
    if train_ref:
        train_instance, train_fn = entry_point(load_ref(train_ref), "train")
        train = (train_instance, train_fn, signature_of(train_fn))
    return instance, fn, signature_of(fn), train


def print_openapi(predict_ref: str, train_ref: Optional[str]) -> int:
    try:
        _, _, predict_sig, train = signatures(predict_ref, train_ref)
    except (LoadError, SignatureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json.dump(openapi_schema(predict_sig, train[2] if train else None), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


class SchemaError(ValueError):
    """The predictor cannot be loaded or declares something unsupported; the message is one line."""


def openapi_schema_for(predict_ref: str, *, project_dir: str = ".", train_ref: Optional[str] = None,
                       python: Optional[str] = None) -> Dict[str, Any]:
    """The OpenAPI schema of a project's predictor, computed by `python` (the model's interpreter)."""
    argv = [python or sys.executable, "-m", "cog.sdk.worker", "--openapi", predict_ref]
    if train_ref:
        argv += ["--train", train_ref]
    result = subprocess.run(argv, cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise SchemaError(lines[-1].replace("error: ", "", 1) if lines else f"exit status {result.returncode}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------------
# Talking to the server


class Channel:
    """The EVENTS pipe. Writes are whole lines under a lock (user threads may log concurrently)."""

    def __init__(self, fd: int) -> None:
        self._file = open(fd, "wb", buffering=1 << 16)
        self._lock = threading.Lock()
        # A cancel signal that lands while the main thread writes here is deferred until the line is out.
        self.main_thread_writing = False
        self.deferred_cancel = False

    def send(self, message: Dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if main:
                self.main_thread_writing = True
            try:
                self._file.write(data)
                self._file.flush()
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


def input_converters(signature: Signature) -> List[Tuple[str, Callable[[Any], Any]]]:
    """Per-input conversions from the server's JSON values to what the model expects (paths, secrets)."""
    def path(v: Any) -> Any:
        return Path(v)

    def file(v: Any) -> Any:
        return open(v, "rb")

    converters = {PATH: path, FILE: file, SECRET: Secret}
    result = []
    for f in signature.inputs:
        convert = converters.get(f.kind)
        if convert is None:
            continue
        if f.array:
            result.append((f.name, lambda vs, c=convert: None if vs is None else [c(v) for v in vs]))
        else:
            result.append((f.name, lambda v, c=convert: None if v is None else c(v)))
    return result


class OutputEncoder:
    """Turns a model's output into JSON values; remembers whether it met files."""

    def __init__(self) -> None:
        self.files = False

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
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


# ---------------------------------------------------------------------------------------------------------
# The prediction loop


class Worker:
    def __init__(self, channel: Channel, control_fd: int, predict_ref: str, train_ref: Optional[str]) -> None:
        self.channel = channel
        self.control_fd = control_fd
        self.predict_ref = predict_ref
        self.train_ref = train_ref
        self.running: Dict[str, Any] = {}  # job id -> asyncio task (async) or True (sync)
        self.canceled: set = set()
        self.logs = LogStream(channel, self.running)
        self.in_user_code = False  # sync mode: cancel signals raise only inside the model's code
        self.targets: Dict[str, Tuple[Callable[..., Any], Signature, List[Tuple[str, Callable[[Any], Any]]]]] = {}
        self.setups: List[Callable[..., Any]] = []
        self.is_async = False
        self.ready_message: Dict[str, Any] = {}

    # -- setup ------------------------------------------------------------------------------------------

    def load(self) -> bool:
        """Import the model and read its signatures; False (after telling the server) if that fails."""
        try:
            instance, fn, predict_sig, train = signatures(self.predict_ref, self.train_ref)
        except (LoadError, SignatureError) as exc:
            self.channel.send({"type": "setup_failed", "error": str(exc)})
            return False
        except BaseException as exc:  # e.g. an import error in the model's module
            return self._setup_failed(exc)
        self.targets["predict"] = (fn, predict_sig, input_converters(predict_sig))
        instances = [instance]
        if train is not None:
            self.targets["train"] = (train[1], train[2], input_converters(train[2]))
            instances.append(train[0])
        self.setups = [obj.setup for obj in instances if obj is not None and callable(getattr(obj, "setup", None))]
        self.is_async = any(_is_async(fn) for fn, _, _ in self.targets.values())
        self.ready_message = {
            "type": "ready",
            "signature": predict_sig.to_json(),
            "train_signature": train[2].to_json() if train else None,
            "schema": openapi_schema(predict_sig, train[2] if train else None),
            "is_async": self.is_async,
        }
        return True

    def _call_setups(self) -> Iterator[Any]:
        """Call each setup(); yield what an async one returns, for the caller to await in its loop."""
        for setup in self.setups:
            kwargs = {}
            if WEIGHTS_PARAMETER in inspect.signature(setup).parameters:
                weights = os.environ.get("COG_WEIGHTS")
                kwargs[WEIGHTS_PARAMETER] = Path(weights) if weights and os.path.exists(weights) else weights
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
        self.channel.send({"type": "setup_failed", "error": f"setup failed: {error_text(exc)}"})
        return False

    def _ready(self) -> bool:
        self.logs.flush_job(None)
        self.channel.send(self.ready_message)
        gc.freeze()  # the loaded model stays for good: spare it from every garbage collection's scan
        return True

    # -- sync mode: one job at a time in the main thread, cancel by signal --------------------------------

    def serve_sync(self, commands: io.BufferedReader) -> None:
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        threading.Thread(target=self._read_control, daemon=True).start()
        for line in commands:
            command = json.loads(line)
            job = command["id"]
            self.running[job] = True
            current_job.set(job)
            try:
                self.channel.send(self._run_sync(command))
            finally:
                current_job.set(None)
                del self.running[job]
                self.canceled.discard(job)

    def _read_control(self) -> None:
        with open(self.control_fd, "rb") as control:
            for line in control:
                job = json.loads(line)["id"]
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

    def _run_sync(self, command: Dict[str, Any]) -> Dict[str, Any]:
        job = command["id"]
        fn, _, converters = self.targets[command["op"]]
        started = time.perf_counter()
        encoder = OutputEncoder()
        try:
            kwargs = self._arguments(command["input"], converters)
            self._enter_user_code(job)
            try:
                result = fn(**kwargs)
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
            return self._done(job, "succeeded", started, output=output, files=encoder.files)
        except CancelationException:
            return self._done(job, "canceled", started)
        except BaseException as exc:  # the model's own error: report it on this job, keep serving
            return self._failed(job, exc, started)

    # -- async mode: an event loop; jobs are tasks, cancel is task.cancel() --------------------------------

    async def serve_async(self, commands_fd: int) -> int:
        if not await self.setup_async():
            return 1
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        commands = _LineReader(commands_fd, lambda line: self._start_task(json.loads(line)), finished)
        control = _LineReader(self.control_fd, lambda line: self._cancel_task(json.loads(line)["id"]), None)
        loop.add_reader(commands_fd, commands.on_readable)
        loop.add_reader(self.control_fd, control.on_readable)
        await finished
        if self.running:
            await asyncio.wait(list(self.running.values()))
        return 0

    def _start_task(self, command: Dict[str, Any]) -> None:
        job = command["id"]
        self.running[job] = asyncio.ensure_future(self._run_async(command))

    def _cancel_task(self, job: str) -> None:
        task = self.running.get(job)
        if task is not None:
            task.cancel()

    async def _run_async(self, command: Dict[str, Any]) -> None:
        job = command["id"]
        current_job.set(job)
        fn, _, converters = self.targets[command["op"]]
        started = time.perf_counter()
        encoder = OutputEncoder()
        try:
            kwargs = self._arguments(command["input"], converters)
            result = fn(**kwargs)
            if inspect.isasyncgen(result):
                output = [self._send_item(job, item) async for item in result]
            elif inspect.isgenerator(result):
                output = [self._send_item(job, item) for item in result]
            else:
                output = encoder.encode(await result if inspect.isawaitable(result) else result)
            message = self._done(job, "succeeded", started, output=output, files=encoder.files)
        except (asyncio.CancelledError, CancelationException):
            message = self._done(job, "canceled", started)
        except BaseException as exc:  # the model's own error: report it on this job, keep serving
            message = self._failed(job, exc, started)
        finally:
            del self.running[job]
        self.channel.send(message)

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

    def _failed(self, job: str, exc: BaseException, started: float) -> Dict[str, Any]:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return self._done(job, "failed", started, error=error_text(exc))

    def _done(self, job: str, status: str, started: float, *, output: Any = None, error: Optional[str] = None,
              files: bool = False) -> Dict[str, Any]:
        self.logs.flush_job(job)
        return {"type": "done", "id": job, "status": status, "output": output, "error": error,
                "files": files, "predict_time": time.perf_counter() - started}


class _LineReader:
    """Non-blocking newline-delimited reader for an event loop's add_reader."""

    def __init__(self, fd: int, on_line: Callable[[bytes], None], at_eof: Optional["asyncio.Future[None]"]) -> None:
        self._fd = fd
        self._on_line = on_line
        self._at_eof = at_eof
        self._buffer = b""
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
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            self._on_line(line)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def serve(predict_ref: str, train_ref: Optional[str], fds: str) -> int:
    commands_fd, events_fd, control_fd = (int(x) for x in fds.split(","))
    faulthandler.enable()  # a segfault in native code leaves a traceback in the prediction's logs
    channel = Channel(events_fd)
    worker = Worker(channel, control_fd, predict_ref, train_ref)
    sys.stdout = sys.stderr = worker.logs  # type: ignore[assignment]
    if not worker.load():
        return 1
    if worker.is_async:
        return asyncio.run(worker.serve_async(commands_fd))
    if not worker.setup():
        return 1
    with open(commands_fd, "rb") as commands:
        worker.serve_sync(commands)
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
