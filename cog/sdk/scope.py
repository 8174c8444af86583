"""The running prediction's scope: `cog.current_scope()`, its `record_metric` and its `context`.

    scope = cog.current_scope()
    scope.record_metric("tokens", 12)                    # the response's metrics: {"predict_time": ..., "tokens": 12}
    scope.record_metric("tokens", 3, mode="incr")        # 15
    scope.record_metric("logprobs", -0.2, mode="append")  # [-0.2]
    scope.metrics["temperature"] = 0.7                   # the same as record_metric(..., mode="replace")
    scope.context                                        # the request's `context`, e.g. {"replicate_api_token": ...}

Outside a prediction (in setup(), or in a thread the model started while several predictions run) it is a
scope that records nothing, with an empty context, as today's Cog does (v0.16 raised RuntimeError there).

Standard library only: this module runs inside the model's environment. The worker (cog.sdk.worker) makes one
Scope per job, sets it while the job runs, and sends what it recorded with the job's done event.
"""

from __future__ import annotations

import contextvars
import numbers
import warnings
from typing import Any, Dict, Iterator, MutableMapping, Optional

__all__ = ["Scope", "current_scope", "emit_metric"]

MODES = ("replace", "incr", "append")


class Metrics(MutableMapping[str, Any]):
    """A scope's metrics: a dict of JSON values, with `record(name, value, mode)`."""

    def __init__(self) -> None:
        self._values: Dict[str, Any] = {}

    def record(self, name: str, value: Any, mode: str = "replace") -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a metric's name must be a non-empty string, not {name!r}")
        if mode == "replace":
            if value is None:
                self._values.pop(name, None)
            else:
                self._values[name] = value
        elif mode == "incr":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"metric {name!r}: mode 'incr' needs a number, not {value!r}")
            current = self._values.get(name, 0)
            if isinstance(current, bool) or not isinstance(current, numbers.Real):
                raise TypeError(f"metric {name!r} holds {current!r}, which mode 'incr' cannot add to")
            self._values[name] = current + value
        elif mode == "append":
            current = self._values.get(name)
            if current is None:
                self._values[name] = [value]
            elif isinstance(current, list):
                current.append(value)
            else:
                self._values[name] = [current, value]
        else:
            raise ValueError(f"metric {name!r}: mode must be one of {', '.join(MODES)}, not {mode!r}")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.record(name, value)

    def __delitem__(self, name: str) -> None:
        del self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_json(self) -> Dict[str, Any]:
        return dict(self._values)


class Scope:
    """One prediction's scope."""

    def __init__(self, context: Optional[Dict[str, str]] = None) -> None:
        self.context: Dict[str, str] = dict(context or {})
        self.metrics = Metrics()

    def record_metric(self, name: str, value: Any, mode: str = "replace") -> None:
        """Record a metric of this prediction; it comes back in the response's `metrics`."""
        self.metrics.record(name, value, mode)


class _NoScope(Scope):
    """The scope outside a prediction: it takes every metric and keeps none."""

    def record_metric(self, name: str, value: Any, mode: str = "replace") -> None:
        pass

    @property  # type: ignore[override]
    def metrics(self) -> Metrics:
        return Metrics()  # a fresh one each time: what is written to it goes nowhere

    @metrics.setter
    def metrics(self, value: Metrics) -> None:
        pass

    @property  # type: ignore[override]
    def context(self) -> Dict[str, str]:
        return {}

    @context.setter
    def context(self, value: Dict[str, str]) -> None:
        pass


_NO_SCOPE = _NoScope()
_current: "contextvars.ContextVar[Optional[Scope]]" = contextvars.ContextVar("cog_scope", default=None)
_running: Dict[str, Scope] = {}  # job id -> its scope, while it runs (threads the model starts find it here)


def current_scope() -> Scope:
    """The scope of the prediction this code runs for; outside one, a scope that records nothing."""
    scope = _current.get()
    if scope is not None:
        return scope
    if len(_running) == 1:  # a thread the model started, with one prediction running
        for scope in list(_running.values()):
            return scope
    return _NO_SCOPE


def emit_metric(name: str, value: Any) -> None:
    """Deprecated (as in Cog): use `current_scope().record_metric(name, value)`."""
    warnings.warn("emit_metric() is deprecated; use current_scope().record_metric(name, value)",
                  DeprecationWarning, stacklevel=2)
    current_scope().record_metric(name, value)


def enter(job: str, context: Optional[Dict[str, str]]) -> Scope:
    """The worker's side: make `job`'s scope and set it in the calling context (a thread, or an async task)."""
    scope = Scope(context)
    _running[job] = scope
    _current.set(scope)
    return scope


def leave(job: str) -> None:
    _running.pop(job, None)
    _current.set(None)
