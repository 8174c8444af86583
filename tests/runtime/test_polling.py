"""GET /predictions/{id}: a prediction's state while it runs and a bounded while after (cog.server.recent)."""

from __future__ import annotations

from typing import Any

import pytest

from cog.server.recent import RecentJobs

from .conftest import wait_until

ASYNC = {"Prefer": "respond-async"}


def test_a_client_without_a_webhook_polls_a_prediction_to_its_end(serve: Any) -> None:
    server = serve("async_predictor.py:Predictor")
    accepted = server.client.put("/predictions/poll-me", headers=ASYNC, json={"input": {"text": "hi", "delay": 1}})
    assert accepted.status_code == 202
    running = server.client.get("/predictions/poll-me")
    assert running.status_code == 200 and running.json()["status"] in ("starting", "processing")
    done = wait_until(lambda: (lambda p: p if p["status"] == "succeeded" else None)(
        server.client.get("/predictions/poll-me").json()), what="the prediction's end")
    assert done["output"] == "HI" and done["id"] == "poll-me" and done["logs"] == "start hi\nend hi\n"
    assert list(done) == list(accepted.json())  # the same fields as every other answer about a prediction


def test_finished_predictions_are_kept_up_to_the_retention_count(serve: Any) -> None:
    server = serve("hello.py:Predictor", retention_count=2)
    for n in range(3):
        assert server.client.put(f"/predictions/p{n}", json={"input": {"text": str(n)}}).status_code == 200
    assert server.client.get("/predictions/p0").status_code == 404
    assert [server.client.get(f"/predictions/p{n}").json()["output"] for n in (1, 2)] == ["hello 1", "hello 2"]


def test_an_unknown_id_is_a_404_that_says_what_is_kept(serve: Any) -> None:
    server = serve("hello.py:Predictor")
    missing = server.client.get("/predictions/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        "no prediction 'nope' is in flight or among the last 100 finished in 600 seconds "
        "(COG_PREDICTION_RETENTION_COUNT, COG_PREDICTION_RETENTION_SECONDS)")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("count, seconds, added_at, asked_at, kept", [
    pytest.param(3, 10, [0, 1, 2], 2, ["a", "b", "c"], id="within both bounds"),
    pytest.param(2, 10, [0, 1, 2], 2, ["b", "c"], id="beyond the count the oldest goes"),
    pytest.param(3, 10, [0, 5, 9], 10.5, ["b", "c"], id="older than the seconds goes"),
    pytest.param(3, 10, [0, 1, 2], 12.5, [], id="all expired"),
    pytest.param(0, 10, [0], 0, [], id="a count of 0 keeps none"),
])
def test_recent_jobs_keep_the_newest_within_count_and_seconds(count: int, seconds: float, added_at: list,
                                                              asked_at: float, kept: list) -> None:
    clock = Clock()
    recent = RecentJobs(count, seconds, clock)
    for job_id, at in zip("abc", added_at):
        clock.now = at
        recent.add(job_id, {"id": job_id})
    clock.now = asked_at
    assert [job_id for job_id in "abc" if recent.get(job_id) is not None] == kept
    assert len(recent) == len(kept)


def test_a_job_run_again_under_its_id_is_shown_as_its_newest_run() -> None:
    clock = Clock()
    recent = RecentJobs(2, 10, clock)
    recent.add("a", {"run": 1})
    recent.add("b", {"run": 1})
    recent.add("a", {"run": 2})
    recent.add("c", {"run": 1})  # the oldest is now b, not a
    assert recent.get("a") == {"run": 2} and recent.get("b") is None


def test_the_schema_describes_polling_and_the_probes(serve: Any) -> None:
    paths = serve("hello.py:Predictor").client.get("/openapi.json").json()["paths"]
    assert set(paths["/predictions/{prediction_id}"]) == {"put", "get"}
    assert set(paths["/predictions/{prediction_id}"]["get"]["responses"]) == {"200", "404"}
    assert all(set(paths[probe]["get"]["responses"]) == {"200", "503"} for probe in ("/livez", "/readyz"))
