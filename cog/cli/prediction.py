"""A prediction from the command line: inputs from -i/--json, a runtime over HTTP, outputs to stdout and files."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

import httpx

from cog.errors import CogError, last_line
from cog.http_errors import HTTPX_ERRORS, describe_answer, http_failure
from cog.sdk.protocol import Health


# What GET /health-check says while Cog's runtime starts, runs, or has failed.
_HEALTH_STATUSES = {status.value for status in Health}

# The schema components of each kind of job, as Cog names them.
COMPONENTS = {"predictions": ("Input", "Output"), "trainings": ("TrainingInput", "TrainingOutput")}


def parse_inputs(pairs: list[str], json_input: str | None, schema: dict, *, endpoint: str = "predictions",
                 stdin=None) -> dict[str, Any]:
    """-i name=value (repeat a name for a list), -i name=@file (sent as a data URI), --json TEXT|@FILE|@-."""
    properties = _component(schema, COMPONENTS[endpoint][0]).get("properties", {}) or {}
    inputs: dict[str, Any] = {}
    if json_input is not None:
        text = _read_json_argument(json_input, stdin or sys.stdin)
        try:
            inputs = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CogError(f"--json is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(inputs, dict):
            raise CogError("--json must be a JSON object of input names and values")
    pairs = [_with_name(pair, properties) for pair in pairs]
    names = [pair.partition("=")[0] for pair in pairs]
    given_here: set[str] = set()
    for pair in pairs:
        name, separator, raw = pair.partition("=")
        if not separator or not name:
            raise CogError(f"-i {pair}: expected NAME=VALUE or NAME=@FILE")
        if properties and name not in properties:
            known = ", ".join(properties) or "none"
            raise CogError(f"-i {name}: the model has no input named {name} (inputs: {known})")
        spec = _resolved(properties.get(name, {}), schema)
        value = _file_input(raw[1:], name) if raw.startswith("@") else _convert(raw, _resolved(_item_spec(spec), schema), name)
        if spec.get("type") == "array" or names.count(name) > 1:
            # -i values replace what --json gave for the same name; repeated names make a list
            inputs[name] = [*(inputs[name] if name in given_here else []), value]
        else:
            inputs[name] = value
        given_here.add(name)
    return inputs


def _with_name(pair: str, properties: dict[str, dict]) -> str:
    """`-i @hotdog.jpg` (as the original cog took it) names the model's only input, or its only file input."""
    name = pair.partition("=")[0]
    if "=" in pair and (name in properties or not pair.startswith("@")) and name.isidentifier():
        return pair
    candidates = list(properties)
    if pair.startswith("@") and len(candidates) > 1:
        candidates = [n for n, spec in properties.items() if _item_spec(spec).get("format") == "uri"]
    if len(candidates) != 1:
        raise CogError(f"-i {pair}: say which input it is for, as NAME=VALUE (inputs: {', '.join(properties) or 'none'})")
    return f"{candidates[0]}={pair}"


def _read_json_argument(argument: str, stdin) -> str:
    if argument in ("@-", "-"):
        return stdin.read()
    if argument.startswith("@"):
        try:
            return Path(argument[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CogError(f"--json {argument}: {exc.strerror}") from None
    return argument


def _component(schema: dict, name: str) -> dict:
    return schema.get("components", {}).get("schemas", {}).get(name, {})


def _item_spec(spec: dict) -> dict:
    return spec.get("items", {}) if spec.get("type") == "array" else spec


def _resolved(spec: dict, schema: dict) -> dict:
    """An input's schema with `$ref`s and `allOf` folded in: choices are enums behind `allOf: [{$ref: ...}]`."""
    spec = dict(spec)
    for part in spec.pop("allOf", []):
        spec = {**_resolved(part, schema), **spec}
    reference = spec.pop("$ref", None)
    if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
        spec = {**_resolved(_component(schema, reference.rsplit("/", 1)[1]), schema), **spec}
    return spec


def _convert(raw: str, spec: dict, name: str) -> Any:
    kind = spec.get("type") or _enum_type(spec.get("enum"))
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise CogError(f"-i {name}={raw}: {name} is a{'n integer' if kind == 'integer' else ' number'}") from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise CogError(f"-i {name}={raw}: {name} is true or false")
    if kind == "object":  # dict, TypedDict and Opaque inputs: -i 'config={"steps": 3}'
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CogError(f"-i {name}=...: {name} is a JSON object, and this is not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(value, dict):
            raise CogError(f"-i {name}=...: {name} is a JSON object, not {type(value).__name__}")
        return value
    return raw


def _enum_type(choices: Any) -> str | None:
    """The JSON type all of an enum's choices share, e.g. "integer" for [1, 2, 3]."""
    if not choices:
        return None
    kinds = {"boolean" if isinstance(c, bool) else "integer" if isinstance(c, int) else "number" if isinstance(c, float)
             else "string" for c in choices}
    return kinds.pop() if len(kinds) == 1 else None


def _file_input(path: str, name: str) -> str:
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CogError(f"-i {name}=@{path}: {exc.strerror or 'cannot be read'}") from None
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# --- checking inputs before anything is built or started ----------------------------------------------


class StdinOnce:
    """Standard input read once however often `--json @-` is parsed (before the build, and after it)."""

    def __init__(self, stream) -> None:
        self._stream, self._text = stream, None

    def read(self) -> str:
        if self._text is None:
            self._text = self._stream.read()
        return self._text


@dataclass(frozen=True)
class EarlyInputs:
    """Inputs checked before the build, against the schema that was known then."""

    schema: dict
    inputs: dict[str, Any]


def check_inputs_early(pairs: list[str], json_input: str | None, *, endpoint: str, stdin, project=None,
                       image: str | None = None, env: dict[str, str] | None = None) -> EarlyInputs | None:
    """`cog predict`/`cog train`'s inputs checked before anything is built or started, by the rules of the
    runtime itself (the Signature's `validate`, as the server runs it), with the message the runtime would give:
    a typo costs no build. None when the model's schema is not known yet; the runtime checks them then.

    The schema is known from the project's source when the static reader decides it (byte-identical to the
    runtime's, cog.compiler.static_schema), else from the `run.cog.openapi_schema` label of the image that will
    run: `image` itself, or the project's image when its labels say that this cog built it from this very code
    (run.cog.code_digest). A label is not trusted with `-e` variables: the runtime reads the schema anew with them."""
    known = _known_signature(project, image, endpoint, use_labels=not env)
    if known is None:
        return None
    schema, signature = known
    inputs = parse_inputs(pairs, json_input, schema, endpoint=endpoint, stdin=stdin)
    from cog.sdk.signature import InputError

    try:
        signature.validate(inputs)
    except InputError as exc:  # what the server answers with 422, as `Runtime.predict` says it
        raise CogError(f"the model refused the input: input.{exc.field}: {exc.message}") from None
    return EarlyInputs(schema, inputs)


def inputs_for(early: EarlyInputs | None, pairs: list[str], json_input: str | None, schema: dict, *,
               endpoint: str, stdin) -> dict[str, Any]:
    """The inputs for the runtime's `schema`: those checked early when it is the schema they were checked against."""
    if early is not None and early.schema.get("components") == schema.get("components"):
        return early.inputs
    return parse_inputs(pairs, json_input, schema, endpoint=endpoint, stdin=stdin)


def _known_signature(project, image: str | None, endpoint: str, *, use_labels: bool):
    """(schema, the Signature of the endpoint's inputs) known without building, or None."""
    from cog.compiler.static_schema import CannotDecide, signature_from_schema

    if project is not None:
        from cog.images.model_source import project_signatures

        config = project.config
        try:
            signatures = project_signatures(project.directory, config.predict, config.train,
                                            python_version=config.python_version)
        except CannotDecide:
            pass
        else:
            signature = signatures.predict if endpoint == "predictions" else signatures.train
            return (signatures.openapi_schema(), signature) if signature is not None else None
    if not use_labels:
        return None
    try:
        schema = _labelled_schema(project, image)
    except Exception:  # no engine, no image, a label that is not JSON: nothing is known
        return None
    signature = signature_from_schema(schema, COMPONENTS[endpoint][0]) if schema else None
    return (schema, signature) if signature is not None else None


def _labelled_schema(project, image: str | None) -> dict | None:
    """The schema label of `image` when this cog built it, or of the project's image when this cog built it from
    the code here now; None otherwise."""
    from cog._version import __version__
    from cog.config.model import completed_config
    from cog.images import docker
    from cog.images.builder import LABEL_SCHEMA, LABEL_VERSION, default_image_name
    from cog.images.context import project_files, weight_files
    from cog.images.model_source import LABEL_CODE_DIGEST, code_digest

    if project is not None:
        config = project.config
        image = config.image or default_image_name(project.directory)
        if "gpu" in config.variants and docker.gpu_available() and "cpu" in config.variants:
            image = f"{image}-gpu"  # the image `cog predict` runs here (cog.cli.images.build_for_run)
        if not docker.image_exists(image):
            return None
    labels = docker.image_labels(image)
    if labels.get(LABEL_VERSION) != __version__:
        return None  # another cog's runtime: its rules may not be this one's
    if project is not None:
        files = project_files(project.directory)
        code = sorted(set(files) - set(weight_files(project.directory, files)))
        if labels.get(LABEL_CODE_DIGEST) != code_digest(project.directory, code, completed_config(project.config)):
            return None
    return _declared_order(json.loads(labels[LABEL_SCHEMA])) if LABEL_SCHEMA in labels else None


def _declared_order(schema: dict) -> dict:
    """A schema label is written with sorted keys: the inputs back in the model's order (x-order), as it serves them."""
    for component in schema.get("components", {}).get("schemas", {}).values():
        properties = component.get("properties") if isinstance(component, dict) else None
        if isinstance(properties, dict) and all(isinstance(p, dict) and "x-order" in p for p in properties.values()):
            component["properties"] = dict(sorted(properties.items(), key=lambda item: item[1]["x-order"]))
    return schema


# --- talking to a runtime ----------------------------------------------------------------------------


@dataclass
class Runtime:
    """A running prediction server at `url`."""

    url: str
    client: httpx.Client

    @classmethod
    def at(cls, url: str) -> "Runtime":
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        try:
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number from 0 to 65535
            valid = False
        if not valid:
            raise CogError(f"{url} is not the URL of a model server; expected http://HOST:PORT")
        return cls(url=url.rstrip("/"), client=httpx.Client(timeout=httpx.Timeout(None, connect=5.0)))

    def wait_until_ready(self, timeout: float, alive: Callable[[], str | None] = lambda: None,
                         unreachable_after: float | None = None, logs_streamed: bool = False) -> None:
        """Poll /health-check until READY; `alive` returns why the server is gone (a container's logs), if it is.
        A server that should already be up (--url) is given up on after `unreachable_after` seconds of no answer.
        A failed setup is one error line; its logs are shown before it unless they already streamed by."""
        start = time.monotonic()
        deadline = start + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            gone = alive()
            if gone is not None:
                raise CogError(f"the model server stopped before it was ready: {gone}")
            try:
                answer = self.client.get(f"{self.url}/health-check", timeout=2.0)
            except HTTPX_ERRORS as exc:
                if unreachable_after is not None and last == "no answer" and time.monotonic() - start > unreachable_after:
                    raise CogError(f"cannot reach a model server at {self.url} ({http_failure(exc)}); check --url, "
                                   f"and that the model's server runs there") from None
                time.sleep(0.1)
                continue
            health = _json_or_none(answer)
            if not isinstance(health, dict) or health.get("status") not in _HEALTH_STATUSES:
                # Something answers, but not as Cog's runtime does: say what, once it has had time to start.
                if unreachable_after is not None and time.monotonic() - start > unreachable_after:
                    raise CogError(f"what answers at {self.url} is not a Cog model server (GET /health-check "
                                   f"answered {describe_answer(answer)}); check --url") from None
                time.sleep(0.1)
                continue
            status = health.get("status")
            if status in ("READY", "BUSY", "UNHEALTHY"):  # UNHEALTHY: its healthcheck() fails, predictions run
                return
            if status in ("SETUP_FAILED", "DEFUNCT"):
                logs = (health.get("setup") or {}).get("logs") or ""
                if not logs_streamed:
                    from cog.cli import output

                    for line in logs.strip().splitlines()[-20:-1]:
                        output.container_log(line)
                raise CogError(f"the model's setup failed: {last_line(logs, status)}")
            last = status or last
            time.sleep(0.1)
        raise CogError(f"the model server was not ready after {timeout:.0f} s (status: {last})")

    def schema(self) -> dict:
        try:
            answer = self.client.get(f"{self.url}/openapi.json")
        except HTTPX_ERRORS as exc:
            raise CogError(f"the model server at {self.url} stopped answering ({http_failure(exc)}) when asked for "
                           f"its schema") from None
        schema = _json_or_none(answer)
        if not answer.is_success or not isinstance(schema, dict):
            raise CogError(f"the model server at {self.url} did not give its schema (GET /openapi.json answered "
                           f"{describe_answer(answer)})")
        return schema

    def predict(self, inputs: dict, *, endpoint: str = "predictions", context: dict | None = None) -> dict:
        """The finished prediction's JSON, whatever its status; a refused request is a CogError."""
        request: dict = {"input": inputs}
        if context:
            request["context"] = context
        try:
            response = self.client.post(f"{self.url}/{endpoint}", json=request)
        except HTTPX_ERRORS as exc:
            noun = "training" if endpoint == "trainings" else "prediction"
            raise CogError(f"the model server at {self.url} stopped answering during the {noun} "
                           f"({http_failure(exc)}); it may have run out of memory or been stopped") from None
        body = _json_or_none(response)
        if response.status_code == 422 or (response.status_code >= 400 and body is not None):
            raise CogError(f"the model refused the input: {_detail(body) or response.text.strip()}")
        if response.status_code >= 400 or not isinstance(body, dict):
            raise CogError(f"the model server at {self.url} did not answer the {endpoint[:-1]} as Cog's runtime does "
                           f"(POST /{endpoint} answered {describe_answer(response)})")
        return body


def replicate_context() -> dict:
    """--use-replicate-token: REPLICATE_API_TOKEN from here, in the request's context, as Cog sends it."""
    import os

    token = os.environ.get("REPLICATE_API_TOKEN")
    if not token:
        raise CogError("--use-replicate-token: REPLICATE_API_TOKEN is not set in this environment")
    return {"replicate_api_token": token}


def _json_or_none(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body) -> str | None:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail:
            location = ".".join(str(part) for part in item.get("loc", []) if part not in ("body",))
            parts.append(f"{location}: {item.get('msg')}" if location else str(item.get("msg")))
        return "; ".join(parts)
    return detail if isinstance(detail, str) else None


# --- outputs ---------------------------------------------------------------------------------------


def write_result(result: dict, schema: dict, destination: Path | None, *, envelope: bool,
                 endpoint: str = "predictions", echo: Callable[[str], None] | None = None) -> int:
    """Say what a finished prediction gave, as Cog's CLI does; returns the exit code.

    Without --json: the output alone (files written, text or JSON printed or written to -o); a failure is an error.
    With --json: Cog's envelope {"status", "output", "error"}, printed or written to -o, files written beside it."""
    from cog.cli import output as say

    echo = echo or (lambda text: sys.stdout.write(text + "\n"))
    status = result.get("status")
    value = result.get("output")
    noun = "training" if endpoint == "trainings" else "prediction"
    if not envelope:
        if status != "succeeded":
            raise CogError(f"the {noun} {status}: {result.get('error') or 'no error message'}")
        if value is None:
            say.warning("No output generated")
            return 0
        for path in write_output(value, schema, destination, echo, endpoint=endpoint):
            say.info(f"Written output to: {path}")
        return 0
    json_destination = destination
    files_destination = None
    if destination is not None:
        if destination.suffix != ".json":
            say.warning(f"--output value does not have a .json suffix: {destination}")
        files_destination = destination.with_suffix("") if destination.suffix == ".json" else destination
    if status == "succeeded" and value is not None and _file_output(value, schema, endpoint):
        paths = [str(path) for path in _save_files(value, files_destination)]
        value = paths if isinstance(value, list) else paths[0]
    text = go_json({"status": status, "output": value, "error": result.get("error") or ""}, sort_keys=False)
    if json_destination is None:
        echo(text)
    else:
        _write(json_destination, (text + "\n").encode())
        say.info(f"Written output to: {json_destination}")
    return 0 if status == "succeeded" else 1


def write_output(output: Any, schema: dict, destination: Path | None, echo: Callable[[str], None], *,
                 endpoint: str = "predictions") -> list[Path]:
    """Files to output.<ext> (or -o PATH; a list to output.0.<ext>, output.1.<ext>...); text and JSON to stdout, or
    to -o PATH; returns the paths written."""
    if _file_output(output, schema, endpoint):
        return _save_files(output, destination)
    output_schema = _component(schema, COMPONENTS[endpoint][1])
    if isinstance(output, list) and output_schema.get("x-cog-array-display") == "concatenate":
        text = "".join(str(item) for item in output)
    else:
        text = output if isinstance(output, str) else go_json(output)
    if destination is None:
        echo(text)
        return []
    _write(destination, text.encode())
    return [destination]


def _file_output(output: Any, schema: dict, endpoint: str) -> bool:
    output_schema = _component(schema, COMPONENTS[endpoint][1])
    file_output = output_schema.get("format") == "uri" or output_schema.get("items", {}).get("format") == "uri"
    if isinstance(output, str):
        return file_output or output.startswith("data:")
    return isinstance(output, list) and bool(output) and (file_output or all(_is_data_uri(item) for item in output))


def _save_files(output: Any, destination: Path | None) -> list[Path]:
    if isinstance(output, list):
        return [_save_file(item, destination, index) for index, item in enumerate(output)]
    return [_save_file(output, destination, None)]


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """JSON as Cog's CLI (Go's encoding/json, then json.Indent) prints it: two-space indent, keys sorted, numbers as
    float64 (20.0 → 20, 1e21 → 1e+21), <, > and & escaped. `go_json({"b": 20.0, "a": "<"})` →
    '{\n  "a": "\\u003c",\n  "b": 20\n}'. Go sorts the keys of a map but not of a struct (Cog's envelope is one):
    sort_keys=False keeps the top level's order."""
    if isinstance(value, dict) and not sort_keys:
        return _go_object(list(value), value, "")
    return _go_json(value, "")


def _go_json(value: Any, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, dict):
        return _go_object(sorted(value, key=str), value, indent)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{_go_json(item, inner)}" for item in value) + f"\n{indent}]"
    if isinstance(value, str):
        return _go_string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return _go_number(float(value))
    return _go_string(str(value))


def _go_object(keys: list, value: dict, indent: str) -> str:
    if not keys:
        return "{}"
    inner = indent + "  "
    items = [f"{inner}{_go_string(str(key))}: {_go_json(value[key], inner)}" for key in keys]
    return "{\n" + ",\n".join(items) + f"\n{indent}}}"


_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _go_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_GO_ESCAPES)


def _go_number(number: float) -> str:
    """float64 as Go writes it: the shortest digits that read back, fixed-point unless tiny or huge."""
    from decimal import Decimal

    if number != 0 and not 1e-6 <= abs(number) < 1e21:
        mantissa, _, exponent = repr(number).partition("e")
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0') or '0'}"
    return format(Decimal(repr(number)).normalize(), "f")


def _is_data_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def _save_file(value: str, destination: Path | None, index: int | None) -> Path:
    data, mime = _fetch(value)
    extension = mimetypes.guess_extension(mime or "") or ""
    if destination is not None and destination.is_dir():
        destination = destination / "output"
    if destination is None:
        path = Path(f"output{'' if index is None else f'.{index}'}{extension}")
    elif index is None:
        path = destination
    else:
        path = destination.with_name(f"{destination.stem}.{index}{destination.suffix or extension}")
    _write(path, data)
    return path


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CogError(f"cannot write the output to {path}: {exc.strerror or exc}") from None


def _fetch(value: str) -> tuple[bytes, str | None]:
    if value.startswith("data:"):
        header, _, payload = value[5:].partition(",")
        mime = header.split(";")[0] or None
        try:
            data = base64.b64decode(payload) if header.endswith(";base64") else unquote_to_bytes(payload)
        except binascii.Error:
            raise CogError("the model returned a malformed data URI") from None
        return data, mime
    try:
        response = httpx.get(value, follow_redirects=True, timeout=60)
    except HTTPX_ERRORS as exc:
        raise CogError(f"could not fetch the output file {value} ({http_failure(exc)})") from None
    if not response.is_success:
        raise CogError(f"could not fetch the output file {value}: it answered {describe_answer(response)}")
    return response.content, response.headers.get("content-type", "").split(";")[0] or None
