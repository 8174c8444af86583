"""Prediction counters in the Prometheus text exposition format (GET /metrics).

Four series do not justify a dependency on prometheus_client, which the server venv would have to carry.
"""

from __future__ import annotations

import bisect
from typing import Dict, List, Optional

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self) -> None:
        self.by_status: Dict[str, int] = {}
        self.in_progress = 0
        self._bucket_counts: List[int] = [0] * (len(DURATION_BUCKETS) + 1)
        self._duration_sum = 0.0
        self._duration_count = 0

    def started(self) -> None:
        self.in_progress += 1

    def finished(self, status: str, seconds: Optional[float], *, was_started: bool) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if was_started:
            self.in_progress -= 1
        if seconds is not None:
            self._bucket_counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
            self._duration_sum += seconds
            self._duration_count += 1

    def render(self, queue_depth: int, slots: int) -> str:
        lines = [
            "# HELP cog_predictions_total Predictions that reached a terminal state, by status.",
            "# TYPE cog_predictions_total counter",
        ]
        for status in sorted(self.by_status):
            lines.append(f'cog_predictions_total{{status="{status}"}} {self.by_status[status]}')
        lines += [
            "# HELP cog_prediction_duration_seconds Time the model spent on each prediction.",
            "# TYPE cog_prediction_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(DURATION_BUCKETS + (float("inf"),), self._bucket_counts):
            cumulative += count
            label = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'cog_prediction_duration_seconds_bucket{{le="{label}"}} {cumulative}')
        lines.append(f"cog_prediction_duration_seconds_sum {self._duration_sum}")
        lines.append(f"cog_prediction_duration_seconds_count {self._duration_count}")
        gauges = [
            ("cog_queue_depth", "Predictions waiting for a free slot.", queue_depth),
            ("cog_predictions_in_progress", "Predictions running in the model.", self.in_progress),
            ("cog_prediction_slots", "Predictions the model may run at once.", slots),
        ]
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"
