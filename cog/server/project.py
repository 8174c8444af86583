"""The project's cog.yaml as the runtime reads it when it is started without COG_PREDICT, as Cog's server does:
`python -m cog.server.http` in a project directory serves the model cog.yaml names.

Only what serving needs is read: `predict:` (or today's alias `run:`, or the original dialect's
`model: "FILE.py:NAME"`; today's `model:` is a registry repository and names no predictor), `train:` and
`concurrency.max`. The build has checked the rest. PyYAML is imported only here, so a server started with
COG_PREDICT (every image's) never pays for it; the server's own environment need not have it: without PyYAML,
these few keys are read with a small reader of top-level `key: value` lines.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

CONFIG_FILE = "cog.yaml"
_PREDICTOR_FORM = re.compile(r"\.py(?::|$)")  # the original dialect's model: "model.py:Model"


class ProjectError(Exception):
    """cog.yaml cannot say what to serve; the message is one line."""


@dataclass(frozen=True)
class Project:
    predict_ref: str
    train_ref: Optional[str] = None
    max_concurrency: Optional[int] = None


def read_project(directory: str) -> Optional[Project]:
    """What the cog.yaml in `directory` says to serve; None when there is no cog.yaml."""
    path = os.path.join(directory, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None
    data = _load(text, path)
    predict = data.get("predict") or data.get("run")
    model = data.get("model")
    if not predict and isinstance(model, str) and _PREDICTOR_FORM.search(model.strip()):
        predict = model
    if not predict:
        raise ProjectError(f"Can't run predictions: 'predict' option not found in {path}; add "
                           "`predict: \"predict.py:Predictor\"` there, or set COG_PREDICT")
    train = data.get("train")
    concurrency = data.get("concurrency")
    max_concurrency = concurrency.get("max") if isinstance(concurrency, dict) else None
    for key, value in (("predict", predict), ("train", train)):
        if value is not None and not isinstance(value, str):
            raise ProjectError(f"{path}: `{key}` must be a reference like \"{key}.py:NAME\", not {value!r}")
    if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
                                        or max_concurrency < 1):
        raise ProjectError(f"{path}: `concurrency.max` must be a whole number of at least 1, not {max_concurrency!r}")
    return Project(predict.strip(), train.strip() if train else None, max_concurrency)


def _load(text: str, path: str) -> Dict[str, Any]:
    try:
        import yaml
    except ImportError:
        return read_top_level(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ProjectError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: cog.yaml must be a mapping of keys, like predict: \"predict.py:Predictor\"")
    return data


_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w-]*)\s*:(?:\s+(?P<value>.*?))?\s*$")


def read_top_level(text: str) -> Dict[str, Any]:
    """The scalar top-level keys of a YAML mapping, and `concurrency.max` (block or flow style): what serving
    needs, without PyYAML. `predict: "predict.py:Predictor"  # comment` → {"predict": "predict.py:Predictor"}."""
    data: Dict[str, Any] = {}
    parent: Optional[str] = None
    for raw in text.splitlines():
        line = _without_comment(raw)
        if not line.strip() or line.lstrip().startswith("-"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, value = match.group("key"), match.group("value")
        if not match.group("indent"):
            parent = key
            if value is None:
                data[key] = {}
            elif value.startswith("{") and value.endswith("}"):
                data[key] = {k.strip(): _scalar(v) for k, _, v in
                             (item.partition(":") for item in value[1:-1].split(",") if ":" in item)}
            else:
                data[key] = _scalar(value)
        elif parent is not None and isinstance(data.get(parent), dict) and value is not None:
            data[parent][key] = _scalar(value)
    return data


def _without_comment(line: str) -> str:
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _scalar(value: str) -> Any:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        if value[0] == '"':
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                pass
        return value[1:-1]
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if value in ("null", "~", ""):
        return None
    return value
