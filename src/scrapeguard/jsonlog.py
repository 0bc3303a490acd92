"""Structured logs: one JSON object per line (`scrapeguard proxy --log-format json`).

Each line has `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger` and `message`; a line
about a decision (logger `scrapeguard.decisions`) also has the decision's `decision_id`,
`action`, `enforced` and `route`; a line with an exception has its traceback as `exc`.
In-process apps plug `JsonFormatter` into their own logging set-up (Django's LOGGING, Flask's
dictConfig): `{"formatters": {"json": {"()": "scrapeguard.jsonlog.JsonFormatter"}}}`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

#: Record attributes written as fields when present (set with `extra=` by the decisions log).
DECISION_FIELDS = ("decision_id", "action", "enforced", "route")
#: What `--log-format` takes.
LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in DECISION_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        # (never raises on odd values: whatever JSON cannot hold is written as its text)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str, stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    """Log to `stream` (stderr) in `log_format`: "json" (one object a line, from INFO: a line per
    refusal) or "text" (Python's default: warnings and errors as plain lines; nothing is set up)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    if log_format == "text":
        return
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]
