"""Where the server's log lines and the model's prints go: human-readable on stderr (the default), or with
COG_LOG_FORMAT=json one JSON object per line on stdout, for log collectors:

    {"time": "2026-12-01T12:00:00.123456+00:00", "level": "info", "prediction_id": "ab12", "message": "step 1",
     "logger": "cog.model"}

`logger` is `cog.model` for what the model printed (`prediction_id` null when no prediction was running: setup),
`cog.server` for the server's own lines. Levels are `COG_LOG_LEVEL`'s names; what the model prints is `info`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Optional

FORMATS = ("text", "json")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
          "error": logging.ERROR}

log = logging.getLogger("cog.server")
_model = logging.getLogger("cog.model")
_json = False  # set once by configure(): whether the model's prints go out as JSON lines


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "prediction_id": getattr(record, "prediction_id", None),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_level() -> int:
    """COG_LOG_LEVEL (debug, info, warning, error; default info): how much of its own the server logs."""
    return LEVELS.get(os.environ.get("COG_LOG_LEVEL", "").strip().lower(), logging.INFO)


def configure() -> None:
    """Set the server's logging up from COG_LOG_LEVEL and COG_LOG_FORMAT; say so when either is not understood."""
    global _json
    level = log_level()
    chosen = os.environ.get("COG_LOG_FORMAT", "").strip().lower() or "text"
    _json = chosen == "json"
    if _json:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level, handlers=[handler], force=True)
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cog").setLevel(level)
    _model.setLevel(logging.INFO)  # the model's prints show whatever COG_LOG_LEVEL says, as in text format
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))  # one line per webhook request is noise
    level_name = os.environ.get("COG_LOG_LEVEL", "").strip().lower()
    if level_name and level_name not in LEVELS:
        log.warning("COG_LOG_LEVEL=%s is not one of debug, info, warning, error; logging at info", level_name)
    if chosen not in FORMATS:
        log.warning("COG_LOG_FORMAT=%s is not one of %s; logging as text", chosen, ", ".join(FORMATS))


def echo(text: str, prediction_id: Optional[str] = None) -> None:
    """What the model prints, as it arrives (so `docker logs` and `cog predict`, which follows the container's
    log, show it), besides its job's logs: on stderr as it was printed, or one JSON line per printed line."""
    if _json:
        for line in text.replace("\r", "\n").splitlines():  # "\r": progress bars redraw a line
            if line.strip():
                _model.info(line, extra={"prediction_id": prediction_id})
        return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: the job's logs still have it
        pass
