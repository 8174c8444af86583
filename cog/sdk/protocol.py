"""The worker pipe: what the runtime (cog.server) and the model's worker (cog.sdk.worker) say to each other.

Standard library only, Python 3.8+: both sides import this module, the worker in the model's environment.

Three pipes, one JSON message per line (`encode` writes one, `LineBuffer` reads them back):

    COMMANDS (server -> worker)  JobCommand        {"op": "predict"|"train", "id", "input", "context"?, "busy_poll"?}
                                 HealthcheckCommand  {"op": "healthcheck", "id", "timeout"}  (only while no job runs)
    CONTROL  (server -> worker)  CancelControl     {"op": "cancel", "id"}; its own pipe, so it reaches a busy worker
    EVENTS   (worker -> server)  ReadyEvent        {"type": "ready", "signature", "train_signature", "schema",
                                                    "is_async", "concurrency_max"?, "healthcheck"?}
                                 SetupFailedEvent  {"type": "setup_failed", "error"}
                                 LogEvent          {"type": "log", "id", "data"}  (id null: setup or unattributed)
                                 OutputEvent       {"type": "output", "id", "value", "files"}  (one iterator item)
                                 DoneEvent         {"type": "done", "id", "status", "output", "error", "files",
                                                    "predict_time", "metrics"?}
                                 HealthcheckEvent  {"type": "healthcheck", "id", "error"}  (error null: healthy)

A key marked ? may be left out: `context` (the request's, a str -> str object) when the request has none,
`busy_poll` (seconds the worker may busy-wait for its next command after this job) when other jobs wait,
`concurrency_max` when predict() has no @cog.concurrent, `metrics` when the model recorded none, `healthcheck`
(true: the predictor defines healthcheck()) when it does not.

File outputs travel as {FILE_MARKER: "/abs/path"}; `files` says a message holds some, so the server walks only
those. The states below are `str` enums: they are their strings in JSON and in messages.
"""

from __future__ import annotations

import enum
import json
import os
import select
import time
from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

FILE_MARKER = "$cog_file"


class _StrEnum(str, enum.Enum):
    def __str__(self) -> str:  # f"{Health.READY}" is "READY" on every Python, as it is in JSON
        return str(self.value)


class Kind(_StrEnum):
    """What a job runs: the `op` of its command, and which of the model's functions."""

    PREDICT = "predict"
    TRAIN = "train"


class Health(_StrEnum):
    """The runtime's state, as GET /health-check shows it."""

    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    SETUP_FAILED = "SETUP_FAILED"
    DEFUNCT = "DEFUNCT"
    UNHEALTHY = "UNHEALTHY"  # set up, but the predictor's own healthcheck() failed last time it ran


class Status(_StrEnum):
    """A job's (and setup's) state: starting, processing, then one of the terminal three."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})


# -- server -> worker --------------------------------------------------------------------------------------


class _JobCommand(TypedDict):
    op: Literal["predict", "train"]
    id: str
    input: Dict[str, Any]


class JobCommand(_JobCommand, total=False):
    context: Dict[str, str]  # the request's `context`, for cog.current_scope().context
    busy_poll: float  # no other job waited: the worker may busy-wait this long for its next command (cog.sdk.worker)


class HealthcheckCommand(TypedDict):
    op: Literal["healthcheck"]
    id: str
    timeout: float  # seconds healthcheck() may take before it counts as failed


class CancelControl(TypedDict):
    op: Literal["cancel"]
    id: str


# -- worker -> server --------------------------------------------------------------------------------------


class _ReadyEvent(TypedDict):
    type: Literal["ready"]
    signature: Dict[str, Any]
    train_signature: Optional[Dict[str, Any]]
    schema: Dict[str, Any]
    is_async: bool


class ReadyEvent(_ReadyEvent, total=False):
    concurrency_max: int  # what predict()'s @cog.concurrent(max=N) says
    healthcheck: bool  # the predictor defines healthcheck(): the server asks it from time to time


class SetupFailedEvent(TypedDict):
    type: Literal["setup_failed"]
    error: str


class LogEvent(TypedDict):
    type: Literal["log"]
    id: Optional[str]
    data: str


class OutputEvent(TypedDict):
    type: Literal["output"]
    id: str
    value: Any
    files: bool


class _DoneEvent(TypedDict):
    type: Literal["done"]
    id: str
    status: str  # a terminal Status
    output: Any
    error: Optional[str]
    files: bool


class DoneEvent(_DoneEvent, total=False):
    predict_time: float  # absent when the model never ran the job (its process died under it)
    metrics: Dict[str, Any]  # what the model recorded with cog.current_scope().record_metric


class HealthcheckEvent(TypedDict):
    type: Literal["healthcheck"]
    id: str
    error: Optional[str]  # None: healthy; else why not, in one line


Command = Union[JobCommand, HealthcheckCommand, CancelControl]
Event = Union[ReadyEvent, SetupFailedEvent, LogEvent, OutputEvent, DoneEvent, HealthcheckEvent]
Message = Union[Command, Event]


# -- framing ---------------------------------------------------------------------------------------------


# Made once: json.dumps with options makes an encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode(message: Message) -> bytes:
    """One message as one line: {"op": "cancel", "id": "a"} → b'{"op":"cancel","id":"a"}\\n'."""
    return _ENCODER.encode(message).encode() + b"\n"


def decode(line: bytes) -> Any:
    """One line (its newline optional) back to the message it encodes."""
    return json.loads(line)


class LineBuffer:
    """Cuts a byte stream into messages: feed(b'{"a":1}\\n{"b"') → [{"a": 1}]; '{"b"' waits for its line's end."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> List[Any]:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        return [decode(line) for line in lines]


def poll_readable(fd: int, deadline: float) -> None:
    """Return once `fd` has data or at `deadline` (time.perf_counter()), never asleep in between: a poll, then a
    yield of the CPU to anything else runnable. Both ends' busy-poll (COG_BUSY_POLL_SECONDS): a process that waits
    so is awake when the other end writes, instead of paying its CPU's wake-up."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while not poller.poll(0) and time.perf_counter() < deadline:
        os.sched_yield()
