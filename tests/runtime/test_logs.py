"""COG_LOG_FORMAT=json: every line the server writes is one JSON object, the model's prints included, with the
prediction they belong to. A real server and worker process, so prints from the model's process count too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import wait_until


def test_json_logs_are_one_object_per_line_with_the_prediction_id(start_server: Any, tmp_path: Path) -> None:
    server = start_server("hello.py:Predictor", log=tmp_path / "log", COG_LOG_FORMAT="json",
                          COG_WEIGHTS="/nowhere/weights")
    prediction = server.client.put("/predictions/greet", json={"input": {"text": "world"}}).json()
    assert prediction["logs"] == "greeting world\n"  # the prediction's own logs are as they were
    wait_until(lambda: "greeting world" in server.output(), what="the print in the server's output")
    lines = [json.loads(line) for line in server.output().splitlines()]  # fails on any line that is not JSON
    assert all(set(line) >= {"time", "level", "prediction_id", "message", "logger"} for line in lines)
    model = [line for line in lines if line["logger"] == "cog.model"]
    assert {"level": "info", "prediction_id": "greet", "message": "greeting world", "logger": "cog.model"}.items() \
        <= next(line for line in model if line["message"] == "greeting world").items()
    setup = next(line for line in model if line["message"].startswith("loading weights"))
    assert setup["prediction_id"] is None  # printed by setup(): no prediction
    assert any(line["logger"] == "cog.server" and line["message"].startswith("serving hello.py:Predictor")
               for line in lines)


def test_an_unknown_log_format_falls_back_to_text_and_says_so(start_server: Any, tmp_path: Path) -> None:
    server = start_server("hello.py:Predictor", log=tmp_path / "log", COG_LOG_FORMAT="yaml")
    assert server.predict(text="x")["output"] == "hello x"
    assert "COG_LOG_FORMAT=yaml is not one of text, json; logging as text" in server.output()
