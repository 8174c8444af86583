"""GET /metrics: what a Prometheus scrape reads, parsed with prometheus_client's own parser."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, Dict

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Server, wait_until

ASYNC = {"Prefer": "respond-async"}


def scrape(server: Server) -> Dict[str, float]:
    """{'name{label="value",...}': value}, labels sorted by name."""
    response = server.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_requests_are_counted_by_route_template_method_and_code(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    before = time.time()
    assert server.client.post("/predictions", json={"input": {"mode": "ok"}}).status_code == 200
    assert server.client.put("/predictions/p-1234", json={"input": {"mode": "raise"}}).status_code == 200
    assert server.client.post("/predictions", json={"input": {"mode": "nope"}}).status_code == 422
    assert server.client.post("/predictions/p-1234/cancel").status_code == 404
    assert server.client.get("/no/such/path").status_code == 404
    assert server.client.delete("/predictions").status_code == 405
    samples = scrape(server)
    after = time.time()

    def requests(endpoint: str, method: str, code: int) -> float:
        return samples[f'cog_http_requests_total{{code="{code}",endpoint="{endpoint}",method="{method}"}}']

    assert requests("/predictions", "POST", 200) == 1 and requests("/predictions", "POST", 422) == 1
    assert requests("/predictions/{job_id}", "PUT", 200) == 1  # the template, never the id
    assert requests("/predictions/{job_id}/cancel", "POST", 404) == 1
    assert requests("other", "GET", 404) == 1 and requests("/predictions", "DELETE", 405) == 1
    assert not [name for name in samples if "p-1234" in name or "/no/such" in name]
    assert samples['cog_http_request_duration_seconds_count{code="200",endpoint="/predictions",method="POST"}'] == 1
    assert samples['cog_predictions_total{status="succeeded"}'] == 1
    assert samples['cog_predictions_total{status="failed"}'] == 1
    assert samples['cog_predictions_total{status="canceled"}'] == 0  # present before the first one
    assert samples["cog_prediction_duration_seconds_count"] == 2
    assert before <= samples["cog_last_request_timestamp_seconds"] <= after
    assert samples["cog_setup_duration_seconds"] > 0
    assert samples["cog_worker_restarts_total"] == 0


def test_slots_queue_and_progress_while_predictions_run(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    idle = scrape(server)
    assert idle["cog_prediction_slots"] == 1 and idle["cog_prediction_slots_free"] == 1
    assert idle["cog_last_request_timestamp_seconds"] == 0  # probes and scrapes are not requests for work
    body = {"input": {"mode": "sleep", "seconds": 0.5}}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(server.client.post, "/predictions", json=body) for _ in range(2)]
        busy = wait_until(lambda: (lambda s: s["cog_queue_depth"] == 1 and s)(scrape(server)), what="one waiting")
        assert busy["cog_predictions_in_progress"] == 1 and busy["cog_prediction_slots_free"] == 0
        assert [f.result().json()["status"] for f in futures] == ["succeeded"] * 2
    done = scrape(server)
    assert done["cog_predictions_in_progress"] == 0 and done["cog_prediction_slots_free"] == 1
    assert done["cog_queue_depth"] == 0
