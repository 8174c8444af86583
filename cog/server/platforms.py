"""The serving platforms' own contracts, in the same image and server as Cog's API, without a rebuild.

SageMaker runs `docker run IMAGE serve` and talks to port 8080: `serve` (the image has it on its PATH, see
templates/serve.sh) starts this server with `Settings.sagemaker`, which adds

    GET  /ping          200 when a prediction would run now, 503 otherwise (as /readyz)
    POST /invocations   the model's inputs as a JSON object → the output as JSON; 422 for a bad input

Vertex AI sets AIP_HTTP_PORT (the port; the server reads it), AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE, which add

    GET  $AIP_HEALTH_ROUTE   as /readyz
    POST $AIP_PREDICT_ROUTE  {"instances": [INPUTS, ...], "parameters": {...}?} → {"predictions": [OUTPUT, ...]}:
                             one prediction per instance (`parameters`, when given, are inputs of every instance
                             that it does not set itself), answered in the instances' order

A prediction that fails (or is canceled) answers 500 (503 with Retry-After when canceled by a shutdown) with
`{"detail": ERROR}`, as both platforms expect an error to be an HTTP error; Cog's own API keeps answering 200
with `"status": "failed"`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Sequence, Tuple, Union

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from cog.sdk.protocol import Status
from cog.server.responses import RequestError, json_response, parse_json, read_body
from cog.server.runner import Job
from cog.server.settings import Settings

# predict_each(request, inputs, where) → the finished jobs, in order (cog.server.app's)
PredictEach = Callable[[Request, Sequence[Any], Sequence[List[Union[str, int]]]], Awaitable[List[Job]]]
Readiness = Callable[[Request], Tuple[int, Dict[str, Any]]]


async def _body(request: Request, settings: Settings) -> Any:
    return parse_json(await read_body(request, settings.max_body_bytes))


def _outputs(jobs: List[Job]) -> List[Any]:
    """The jobs' outputs, or the HTTP error of the first that did not succeed."""
    for job in jobs:
        if job.status == Status.CANCELED:
            raise RequestError(503, f"prediction {job.id} was canceled", headers={"Retry-After": "1"})
        if job.status != Status.SUCCEEDED:
            raise RequestError(500, f"prediction {job.id} failed: {job.error}")
    return [job.output for job in jobs]


def add_routes(app: Starlette, settings: Settings, predict_each: PredictEach, readiness: Readiness) -> None:
    async def health(request: Request) -> Response:
        status, body = readiness(request)
        return json_response(body, status)

    async def invocations(request: Request) -> Response:
        jobs = await predict_each(request, [await _body(request, settings)], [["body"]])
        return json_response(_outputs(jobs)[0])

    async def vertex_predict(request: Request) -> Response:
        payload = await _body(request, settings)
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list):
            raise RequestError(422, 'the body must be {"instances": [...]}, a list of inputs', ["body", "instances"])
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise RequestError(422, "parameters must be a JSON object of inputs", ["body", "parameters"])
        inputs = [{**parameters, **i} if isinstance(i, dict) else i for i in instances]
        jobs = await predict_each(request, inputs, [["body", "instances", n] for n in range(len(inputs))])
        return json_response({"predictions": _outputs(jobs)})

    if settings.sagemaker:
        app.add_route("/ping", health, methods=["GET"])
        app.add_route("/invocations", invocations, methods=["POST"])
    if settings.vertex_health_route:
        app.add_route(settings.vertex_health_route, health, methods=["GET"])
    if settings.vertex_predict_route:
        app.add_route(settings.vertex_predict_route, vertex_predict, methods=["POST"])
