"""Busy-polling between the server and the model's process (COG_BUSY_POLL_SECONDS): which jobs ask for it, that
the worker polls only when asked and only while waits stay short, and that the server's awake wait ends when the
model answers. Real pipes and a real worker process; what it saves is measured in
benchmarks/serving.py, not here."""

from __future__ import annotations

import asyncio
import json
import os
import select
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from cog.sdk import worker as worker_module
from cog.sdk.protocol import Event, Kind, encode
from cog.server.process import WorkerProcess
from cog.server.runner import Runtime
from cog.server.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"


# -- the worker's command reader --------------------------------------------------------------------------------


def read_all(chunks: List[List[Dict[str, Any]]], pause: float, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """The commands a _CommandReader yields for `chunks` (each written to the pipe at once, `pause` seconds
    apart), and the deadlines' budgets of the polls it made before each read."""
    polls: List[float] = []
    real_poll = worker_module.poll_readable

    def recording_poll(fd: int, deadline: float) -> None:
        polls.append(round(deadline - time.perf_counter(), 1))
        real_poll(fd, deadline)

    monkeypatch.setattr(worker_module, "poll_readable", recording_poll)
    read_end, write_end = os.pipe()

    def write() -> None:
        for chunk in chunks:
            os.write(write_end, b"".join(encode(command) for command in chunk))  # type: ignore[arg-type]
            time.sleep(pause)
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        got = [command["id"] for command in worker_module._CommandReader(read_end)]
    finally:
        writer.join()
        os.close(read_end)
    return got, polls


def job(job_id: str, busy_poll: float = 0.0) -> Dict[str, Any]:
    command: Dict[str, Any] = {"op": "predict", "id": job_id, "input": {}}
    if busy_poll:
        command["busy_poll"] = busy_poll
    return command


def test_the_reader_yields_every_command_in_order_and_ends_with_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    got, polls = read_all([[job("a"), job("b")], [job("c")]], 0.01, monkeypatch)
    assert got == ["a", "b", "c"]
    assert polls == []  # nobody asked for it


def test_a_job_asking_for_a_busy_poll_polls_before_the_next_read(monkeypatch: pytest.MonkeyPatch) -> None:
    got, polls = read_all([[job("a", 5.0)], [job("b", 5.0)], [job("c")]], 0.05, monkeypatch)
    assert got == ["a", "b", "c"]
    assert polls == [5.0, 5.0]  # after a and after b; c asked for none


def test_no_poll_while_commands_are_already_read(monkeypatch: pytest.MonkeyPatch) -> None:
    got, polls = read_all([[job("a", 5.0), job("b", 5.0)], [job("c")]], 0.05, monkeypatch)
    assert got == ["a", "b", "c"]
    assert polls == [5.0]  # b was in a's chunk: only the wait after b polls


def test_after_a_wait_that_outlasted_the_budget_the_next_wait_sleeps_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    polls: List[str] = []
    real_poll = worker_module.poll_readable
    read_end, write_end = os.pipe()
    reader = iter(worker_module._CommandReader(read_end))

    def recording_poll(fd: int, deadline: float) -> None:
        polls.append(waiting_for)
        real_poll(fd, deadline)

    def send_later(command: Dict[str, Any]) -> None:
        threading.Timer(0.3, os.write, (write_end, encode(command))).start()  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "poll_readable", recording_poll)
    try:
        os.write(write_end, encode(job("a", 0.05)))  # type: ignore[arg-type]
        waiting_for = "a"
        assert next(reader)["id"] == "a"
        send_later(job("b", 0.05))
        waiting_for = "b"
        assert next(reader)["id"] == "b"  # polled 0.05 s, then slept until b came
        send_later(job("c", 0.05))
        waiting_for = "c"
        assert next(reader)["id"] == "c"  # slept at once: the wait for b took 0.3 s
        os.write(write_end, encode(job("d", 0.05)))  # type: ignore[arg-type]
        waiting_for = "d"
        assert next(reader)["id"] == "d"  # slept at once (found d at once): the wait for c took 0.3 s
        os.write(write_end, encode(job("e")))  # type: ignore[arg-type]
        waiting_for = "e"
        assert next(reader)["id"] == "e"  # polls again: the wait for d was short
        assert polls == ["b", "e"]
    finally:
        os.close(write_end)
        os.close(read_end)


# -- the server's side --------------------------------------------------------------------------------------------


class RecordingWorker(WorkerProcess):
    """A real worker process whose commands and awake waits are recorded."""

    made: List["RecordingWorker"] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: List[Dict[str, Any]] = []
        self.busy_waits: List[float] = []
        RecordingWorker.made.append(self)

    def send(self, command: Any) -> None:
        self.commands.append(dict(command))
        super().send(command)

    def busy_wait(self, seconds: float) -> None:
        self.busy_waits.append(seconds)
        super().busy_wait(seconds)


HELLO = ("hello.py:Predictor", {"text": "you"})
SLEEPS = ("failures.py:Predictor", {"mode": "sleep", "seconds": 0.3})  # longer than the budgets below


def run_jobs(busy_poll: float, batches: List[int], model: tuple = HELLO) -> RecordingWorker:
    """Run batches of predictions of `model` (its ref and input; each batch's jobs at once) through a Runtime over
    a real worker process."""
    predict_ref, given = model
    settings = Settings(predict_ref=predict_ref, project_dir=str(FIXTURES), busy_poll=busy_poll)

    async def main() -> RecordingWorker:
        RecordingWorker.made.clear()
        runtime = Runtime(settings, RecordingWorker)
        runtime.start()
        await asyncio.wait_for(runtime.until_set_up(), 30)
        assert runtime.signature is not None
        number = 0
        for size in batches:
            jobs = []
            for _ in range(size):
                number += 1
                job = runtime.new_job(Kind.PREDICT, f"job-{number}", {"input": dict(given)})
                jobs.append(runtime.run(job, runtime.signature.validate(dict(given))))
            await asyncio.wait_for(asyncio.gather(*jobs), 30)
        await runtime.shutdown()
        return RecordingWorker.made[0]

    return asyncio.run(main())


def test_a_job_alone_asks_the_worker_to_stay_awake_and_the_server_waits_awake_for_it() -> None:
    worker = run_jobs(0.5, [1, 1])
    jobs = [command for command in worker.commands if command["op"] == "predict"]
    assert [command.get("busy_poll") for command in jobs] == [0.5, 0.5]
    assert worker.busy_waits == [0.5, 0.5]


def test_jobs_queued_behind_one_another_do_not_busy_poll() -> None:
    worker = run_jobs(0.05, [3], SLEEPS)
    jobs = [command for command in worker.commands if command["op"] == "predict"]
    # The first is sent before the others arrive; the second while the third waits for its slot; the last alone.
    assert [command.get("busy_poll") for command in jobs] == [0.05, None, 0.05]
    assert worker.busy_waits == [0.05]  # the first answer took longer: the third is slept for


def test_a_model_slower_than_the_budget_is_not_waited_for_awake() -> None:
    worker = run_jobs(0.05, [1, 1, 1], SLEEPS)
    jobs = [command for command in worker.commands if command["op"] == "predict"]
    assert [command.get("busy_poll") for command in jobs] == [0.05] * 3  # each ran alone: the worker may poll
    assert worker.busy_waits == [0.05]  # the server only until it learnt the model's pace


def test_zero_turns_busy_polling_off() -> None:
    worker = run_jobs(0.0, [1, 1])
    assert not any("busy_poll" in command for command in worker.commands) and worker.busy_waits == []


def test_the_servers_awake_wait_ends_when_the_worker_answers_and_leaves_the_answer_to_the_pipes_reader() -> None:
    settings = Settings(predict_ref="hello.py:Predictor", project_dir=str(FIXTURES))

    async def main() -> tuple:
        events: List[Event] = []
        ready = asyncio.get_running_loop().create_future()
        done = asyncio.get_running_loop().create_future()

        def on_message(message: Event) -> None:
            events.append(message)
            if message["type"] == "ready" and not ready.done():
                ready.set_result(None)
            if message["type"] == "done":
                done.set_result(None)

        process = WorkerProcess(settings, on_message, lambda text: None)
        await process.start()
        await asyncio.wait_for(ready, 30)
        events.clear()
        process.send({"op": "predict", "id": "p", "input": {"text": "you"}})
        started = time.perf_counter()
        process.busy_wait(30)
        waited = time.perf_counter() - started
        readable = bool(select.select([process._events_fd], [], [], 0)[0])
        taken_before_the_loop_ran = list(events)
        await asyncio.wait_for(done, 30)
        await process.stop()
        return waited, readable, taken_before_the_loop_ran, events

    waited, readable, taken, answered = asyncio.run(main())
    assert waited < 10 and readable  # it ended because the worker wrote, long before its 30 s
    assert taken == []  # what the worker wrote is the pipe transport's to read
    assert answered[-1]["type"] == "done" and answered[-1]["output"] == "hello you"
    assert [event["type"] for event in answered] == ["log", "done"]  # the model's print, then its answer


def test_an_async_model_stays_awake_only_while_no_job_runs_and_waits_stay_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Async mode, in this process over real pipes: after a job that asked, with no other job left running, the
    loop polls the command pipe before it sleeps again; not after one that did not ask, nor after a long wait."""
    polls: List[float] = []  # how long the wait before each poll's job took
    real_poll = worker_module.poll_readable
    commands_r, commands_w = os.pipe()
    control_r, control_w = os.pipe()
    events_r, events_w = os.pipe()
    worker = worker_module.Worker(worker_module.Channel.to_fd(events_w), "async_predictor.py:Predictor", None,
                                  directory=str(FIXTURES))
    monkeypatch.setattr(worker_module, "poll_readable",
                        lambda fd, deadline: (polls.append(worker._last_wait), real_poll(fd, deadline)))
    assert worker.load() and worker.is_async
    serving = threading.Thread(target=lambda: asyncio.run(worker.serve_async(commands_r, control_r)))
    serving.start()
    events = os.fdopen(events_r, "rb")

    def predict(job_id: str, busy_poll: float = 0.0) -> None:
        os.write(commands_w, encode({**job(job_id, busy_poll), "input": {"text": job_id, "delay": 0.0}}))  # type: ignore[arg-type]
        while True:
            message = json.loads(events.readline())
            if message["type"] == "done" and message["id"] == job_id:
                assert message["output"] == job_id.upper(), message
                return

    try:
        assert json.loads(events.readline())["type"] == "ready"
        predict("a", 0.05)  # polls after it: no wait before it yet
        time.sleep(0.3)
        predict("b", 0.05)  # its wait took 0.3 s: sleeps at once after it
        predict("c", 0.05)  # its wait was short: polls after it
        predict("d")  # asked for none
    finally:
        os.close(commands_w)
        serving.join(10)
        os.close(control_w)
        events.close()
    assert not serving.is_alive()
    assert len(polls) == 2 and all(wait < 0.05 for wait in polls), polls
