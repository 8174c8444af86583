"""Finished jobs, kept a while for GET /predictions/{id}: a client without a webhook receiver polls for them.

Bounded both ways: the last `count` jobs, each for `seconds` after it finished (COG_PREDICTION_RETENTION_COUNT,
COG_PREDICTION_RETENTION_SECONDS); whichever bound is hit first lets a job go. A job's output (data URIs
included) is kept with it, so the count bounds the memory this takes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple


class RecentJobs:
    """recent.add("a", {...}); recent.get("a") → {...} until `seconds` have passed or `count` newer jobs came."""

    def __init__(self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.seconds = seconds
        self._clock = clock
        self._jobs: "OrderedDict[str, Tuple[float, Dict[str, Any]]]" = OrderedDict()  # oldest first

    def add(self, job_id: str, job: Dict[str, Any]) -> None:
        self._jobs.pop(job_id, None)  # a PUT may run an id again: the newest is the one to show
        self._jobs[job_id] = (self._clock(), job)
        self._expire()

    def get(self, job_id: str) -> Optional[Dict[str, Any]]:
        self._expire()
        kept = self._jobs.get(job_id)
        return kept[1] if kept is not None else None

    def __len__(self) -> int:
        self._expire()
        return len(self._jobs)

    def _expire(self) -> None:
        oldest_kept = self._clock() - self.seconds
        while self._jobs:
            job_id, (finished, _) = next(iter(self._jobs.items()))
            if len(self._jobs) <= self.count and finished > oldest_kept:
                return
            del self._jobs[job_id]
