"""Structured JSON logs, one object per line, carrying the ids of the work in progress."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# Ids of the current unit of work (HTTP request or consumed event); every log line carries them.
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("icr_log_context")

# uvicorn adds an ANSI-coloured copy of each message; JSON logs keep the plain one.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def current_context() -> dict[str, str]:
    return dict(_context.get({}))


@contextlib.contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Adds ids (request_id, event_id, trace_id, ...) to every log line inside the block."""
    merged = {**_context.get({}), **{k: v for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get({}),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every failed connection attempt at ERROR while a broker is down; the
    # readiness endpoint already reports that, so keep its noise at WARNING.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn turns its access log off (`--no-access-log`) by leaving that logger without
    # handlers and not propagating; keep that choice, and send it to our handler only when on.
    access = logging.getLogger("uvicorn.access")
    enabled = bool(access.handlers) or access.propagate
    access.handlers[:] = []
    access.propagate = enabled
