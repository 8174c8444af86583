"""The OpenAPI document of a model's HTTP API, computed from its Signature(s) in the shape Cog produces.

Standard library only, so the schema can be computed in the model's environment
(`python -m cog.sdk.worker --openapi predict.py:Predictor`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Optional

from cog._version import __version__
from cog.sdk.predictor import OPENAPI, Constraints
from cog.sdk.signature import (
    ANY, BOOL, DICT, FILE, FLOAT, INT, OBJECT, PATH, SECRET, STR, InputField, OutputType, Signature,
)

STATUSES = ["starting", "processing", "succeeded", "canceled", "failed"]
WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]
JOB_ID_PATTERN = "^[^/]+$"  # a job's id is one path segment of its URL


def _title(name: str) -> str:
    return name.replace("_", " ").title()


def _kind_schema(kind: str) -> Dict[str, Any]:
    return {
        STR: {"type": "string"},
        INT: {"type": "integer"},
        FLOAT: {"type": "number"},
        BOOL: {"type": "boolean"},
        PATH: {"type": "string", "format": "uri"},
        FILE: {"type": "string", "format": "uri"},
        SECRET: {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
        DICT: {"type": "object"},
        ANY: {},
    }[kind]


def _input_property(f: InputField, enums: Dict[str, Any]) -> Dict[str, Any]:
    if f.choices is not None:
        # Cog names an enum component after its parameter and refers to it with allOf.
        enums[f.name] = {"title": f.name, "description": "An enumeration.", "enum": f.choices,
                         **_kind_schema(f.kind)}
        item: Dict[str, Any] = {"allOf": [{"$ref": f"#/components/schemas/{f.name}"}]}
    else:
        item = _kind_schema(f.kind)
    # Cog leaves the title off properties that refer to an enum component.
    prop: Dict[str, Any] = {} if f.choices is not None and not f.array else {"title": _title(f.name)}
    if f.array:
        prop.update({"type": "array", "items": item})
    else:
        prop.update(item)
    if f.accepts_null:
        prop["nullable"] = True
    if f.description is not None:
        prop["description"] = f.description
    if not f.required and f.default is not None:
        prop["default"] = f.default
    for constraint in fields(Constraints):
        value = getattr(f, constraint.name)
        if OPENAPI in constraint.metadata and value is not None:
            prop[constraint.metadata[OPENAPI]] = value
    prop["x-order"] = f.order
    return prop


def input_schema(signature: Signature, title: str, enums: Dict[str, Any]) -> Dict[str, Any]:
    schema: Dict[str, Any] = {
        "title": title,
        "type": "object",
        "properties": {f.name: _input_property(f, enums) for f in signature.inputs},
        "additionalProperties": False,  # an input the model does not take is refused (422), not ignored
    }
    required = [f.name for f in signature.inputs if f.required]
    if required:
        schema["required"] = required
    return schema


def output_schema(output: OutputType, title: Optional[str] = "Output") -> Dict[str, Any]:
    if output.kind == OBJECT:
        item: Dict[str, Any] = {
            "type": "object",
            "properties": {
                name: {"title": _title(name), **output_schema(t, title=None)} for name, t in output.properties.items()
            },
        }
        if output.required:
            item["required"] = output.required
    else:
        item = _kind_schema(output.kind)
    schema: Dict[str, Any] = {} if title is None else {"title": title}
    if output.array or output.iterator:
        schema.update({"type": "array", "items": item})
        if output.iterator:
            schema["x-cog-array-type"] = "iterator"
        if output.concatenate:
            schema["x-cog-array-display"] = "concatenate"
    else:
        schema.update(item)
    if output.nullable:
        schema["nullable"] = True
    return schema


def _ref(name: str) -> Dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(schema: Dict[str, Any], description: str = "Successful Response") -> Dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _job_schemas(noun: str, input_name: str, output_name: str, input_required: bool) -> Dict[str, Dict[str, Any]]:
    """PredictionRequest/PredictionResponse (or the Training twins); `input` is required when some input is.
    Every field but `input` may be null, which means the same as leaving it out."""
    timestamp = {"type": "string", "format": "date-time"}
    request: Dict[str, Any] = {
        "title": f"{noun}Request",
        "type": "object",
        "properties": {
            "id": {"title": "Id", "type": "string", "pattern": "^[^/]*$", "nullable": True},
            "created_at": {"title": "Created At", **timestamp, "nullable": True},
            "input": _ref(input_name),
            "webhook": {"title": "Webhook", "type": "string", "format": "uri", "pattern": "^https?://",
                        "minLength": 1, "maxLength": 65536, "nullable": True},
            "webhook_events_filter": {"type": "array", "items": _ref("WebhookEvent"), "default": WEBHOOK_EVENTS,
                                      "nullable": True},
            "output_file_prefix": {"title": "Output File Prefix", "type": "string", "nullable": True},
            # Numbers are taken as their text, as Cog's pydantic takes them.
            "context": {"title": "Context", "type": "object", "nullable": True,
                        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
        },
    }
    if input_required:
        request["required"] = ["input"]
    response = {
        "title": f"{noun}Response",
        "type": "object",
        "properties": {
            "id": {"title": "Id", "type": "string"},
            "created_at": {"title": "Created At", **timestamp},
            "started_at": {"title": "Started At", **timestamp, "nullable": True},
            "completed_at": {"title": "Completed At", **timestamp, "nullable": True},
            "status": _ref("Status"),
            # The input as it was sent, not the input schema: a Secret is writeOnly there, and masked here.
            "input": {"title": "Input", "type": "object"},
            "output": {"allOf": [_ref(output_name)], "nullable": True},
            "logs": {"title": "Logs", "type": "string", "default": ""},
            "error": {"title": "Error", "type": "string", "nullable": True},
            "metrics": {"title": "Metrics", "type": "object"},
        },
    }
    return {f"{noun}Request": request, f"{noun}Response": response}


def _error(description: str, **headers: str) -> Dict[str, Any]:
    """An error answer: {"detail": "one line"}, with `headers` (name: description) declared."""
    response = _json_response(_ref("Error"), description)
    if headers:
        response["headers"] = {name: {"description": text, "schema": {"type": "integer"}}
                               for name, text in headers.items()}
    return response


def _job_paths(collection: str, noun: str, input_required: bool) -> Dict[str, Any]:
    body = {"content": {"application/json": {"schema": _ref(f"{noun}Request")}}, "required": input_required}
    responses = {
        "200": _json_response(_ref(f"{noun}Response")),
        "202": _json_response(_ref(f"{noun}Response"), "Accepted: the job runs in the background"),
        "409": _error("The queue is full (retry after Retry-After seconds), or a job with this id is in flight",
                      **{"Retry-After": "seconds to wait, when the queue is full"}),
        "413": _error("The request body is larger than the server's limit"),
        "422": _json_response(_ref("HTTPValidationError"), "Validation Error"),
        "503": _error("Setup failed or the model's process is gone: the model cannot run jobs"),
    }
    prefer = {"name": "prefer", "in": "header", "required": False, "schema": {"title": "Prefer", "type": "string"}}
    job_id = {"name": f"{noun.lower()}_id", "in": "path", "required": True,
              "schema": {"title": f"{noun} ID", "type": "string", "pattern": JOB_ID_PATTERN}}
    return {
        f"/{collection}": {"post": {
            "summary": noun, "operationId": f"{collection}_post", "parameters": [prefer],
            "requestBody": body, "responses": responses,
        }},
        f"/{collection}/{{{noun.lower()}_id}}": {"put": {
            "summary": f"{noun} (idempotent)", "operationId": f"{collection}_idempotent_put",
            "parameters": [job_id, prefer], "requestBody": body, "responses": responses,
        }, "get": {
            "summary": f"Poll {noun}", "operationId": f"{collection}_get", "parameters": [job_id],
            "responses": {"200": _json_response(_ref(f"{noun}Response")),
                          "404": _json_response({}, "Not Found: not in flight, nor finished recently")},
        }},
        f"/{collection}/{{{noun.lower()}_id}}/cancel": {"post": {
            "summary": f"Cancel {noun}", "operationId": f"{collection}_cancel_post", "parameters": [job_id],
            "responses": {"200": _json_response({}), "404": _error(f"No {noun.lower()} with this id is in flight")},
        }},
    }


def _probe_path(summary: str, operation: str, unavailable: str) -> Dict[str, Any]:
    probe = {"type": "object", "required": ["status"],
             "properties": {"status": {"type": "string"}, "detail": {"type": "string"}}}
    return {"get": {"summary": summary, "operationId": operation,
                    "responses": {"200": _json_response(probe), "503": _json_response(probe, unavailable)}}}


def openapi_schema(predict: Signature, train: Optional[Signature] = None) -> Dict[str, Any]:
    enums: Dict[str, Any] = {}
    schemas: Dict[str, Any] = {
        "Input": input_schema(predict, "Input", enums),
        "Output": output_schema(predict.output),
        **_job_schemas("Prediction", "Input", "Output", predict.requires_input),
        "Status": {"title": "Status", "description": "An enumeration.", "type": "string", "enum": STATUSES},
        "WebhookEvent": {"title": "WebhookEvent", "description": "An enumeration.", "type": "string",
                         "enum": WEBHOOK_EVENTS},
        "ValidationError": {
            "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {"title": "Location", "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
            },
        },
        "Error": {
            "title": "Error", "type": "object", "required": ["detail"],
            "properties": {"detail": {"title": "Detail", "type": "string"}},
        },
        "HTTPValidationError": {
            "title": "HTTPValidationError", "type": "object",
            "properties": {"detail": {"title": "Detail", "type": "array", "items": _ref("ValidationError")}},
        },
    }
    paths: Dict[str, Any] = {
        "/": {"get": {"summary": "Root", "operationId": "root_get", "responses": {"200": _json_response({})}}},
        "/health-check": {"get": {"summary": "Healthcheck", "operationId": "healthcheck_get",
                                  "responses": {"200": _json_response({})}}},
        "/shutdown": {"post": {"summary": "Shutdown", "operationId": "shutdown_post",
                               "responses": {"200": _json_response({})}}},
        "/livez": _probe_path("Liveness", "livez_get", "DEFUNCT: the worker is not restarted again"),
        "/readyz": _probe_path("Readiness", "readyz_get", "Not ready: setting up, failed, unhealthy or draining"),
        **_job_paths("predictions", "Prediction", predict.requires_input),
    }
    if train is not None:
        schemas["TrainingInput"] = input_schema(train, "TrainingInput", enums)
        schemas["TrainingOutput"] = output_schema(train.output, "TrainingOutput")
        schemas.update(_job_schemas("Training", "TrainingInput", "TrainingOutput", train.requires_input))
        paths.update(_job_paths("trainings", "Training", train.requires_input))
    schemas.update(enums)
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }
