"""Log set-up: structlog once, through the stdlib, so every library's lines share one format.

Our code logs with `structlog.get_logger()`; Temporal, uvicorn, SQLAlchemy and warnings log through
the stdlib. Both end in one handler whose `ProcessorFormatter` renders JSON (`LOG_FORMAT=json`,
for machines) or aligned console lines (`console`, for people). Context bound with
`structlog.contextvars.bind_contextvars(contract_id=..., workflow_id=..., invoice_id=...)` appears
on every line, including the stdlib ones logged inside that context.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import sys
import uuid
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

# uvicorn installs its own handlers on these; we take them over so they use ours.
_TAKEN_OVER = ("uvicorn", "uvicorn.error", "uvicorn.access")
_QUIETER = {"sqlalchemy.engine": logging.WARNING, "httpx": logging.WARNING}


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Send structlog and stdlib logging to one stderr handler; calling again replaces it."""
    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _lift_temporal_ids],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderer(fmt),
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _TAKEN_OVER:
        taken = logging.getLogger(name)
        taken.handlers.clear()
        taken.propagate = True
    for name, floor in _QUIETER.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    logging.captureWarnings(True)


_HANDLER_NAME = "contract-billing"


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(fmt: str) -> list[Processor]:
    if fmt.lower() == "json":
        return [
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(default=_jsonable),
        ]
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]


def _add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Put the current OpenTelemetry trace on the line, so logs and traces join up."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _lift_temporal_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Temporal's workflow/activity loggers put their ids in a nested extra; surface the ids we
    search logs by under the same keys our own code binds. Drop what only a terminal wants."""
    event.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate of the message
    for extra in ("temporal_workflow", "temporal_activity"):
        details = event.get(extra)
        if isinstance(details, dict) and "workflow_id" in details:
            event.setdefault("workflow_id", details["workflow_id"])
    return event


def _jsonable(value: Any) -> Any:
    # Money is Decimal everywhere; a log line shows it exactly, as a string, never as a float.
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return repr(value)
