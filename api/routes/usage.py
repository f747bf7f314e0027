"""Usage ingest (JSON arrays of up to 10,000 events) and the list of unmatched events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.deps import SessionDep
from api.errors import Unprocessable, validation_errors
from core import metrics
from models.api import (
    MAX_EVENTS_PER_BATCH,
    IngestResult,
    StoredEvent,
    UnmatchedEvents,
    UsageBatch,
    UsageEvent,
    problem_responses,
)
from store import usage

router = APIRouter(prefix="/v1", tags=["usage"])

FUTURE_TOLERANCE = timedelta(minutes=5)
_BATCH = TypeAdapter(UsageBatch)


def _batch_schema() -> dict[str, Any]:
    event = UsageEvent.model_json_schema()
    return {"type": "array", "maxItems": MAX_EVENTS_PER_BATCH, "items": event}


def parse_batch(raw: bytes, now: datetime) -> list[UsageEvent]:
    """Validate the whole batch; every bad event is named by its index, or nothing is stored."""
    try:
        events = _BATCH.validate_json(raw)
    except ValidationError as exc:
        errors = validation_errors(exc.errors(include_url=False, include_context=False))
        raise Unprocessable(_summary(errors), errors=errors) from None
    horizon = now + FUTURE_TOLERANCE
    errors = [
        {"loc": [i, "timestamp"], "msg": "more than 5 minutes in the future"}
        for i, event in enumerate(events)
        if event.timestamp > horizon
    ]
    if errors:
        raise Unprocessable(_summary(errors), errors=errors)
    return events


def _summary(errors: list[dict[str, Any]]) -> str:
    indexes = sorted({e["loc"][0] for e in errors if e["loc"] and isinstance(e["loc"][0], int)})
    head = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    if indexes:
        return f"{len(indexes)} invalid event(s), nothing stored: {head}"
    return f"the batch is not a JSON array of events, nothing stored: {head}"


@router.post(
    "/usage",
    response_model=IngestResult,
    responses=problem_responses(401, 403, 413, 422),
    dependencies=[Depends(require("ingest"))],
    openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": _batch_schema()}}}},
    summary="Ingest a batch of usage events (validated whole, de-duplicated by transaction_id)",
)
async def ingest_usage(request: Request, session: SessionDep) -> IngestResult:
    raw = await request.body()
    # Validating 10,000 events and writing them is blocking work: off the event loop.
    return await run_in_threadpool(ingest, session, raw)


def ingest(session: Session, raw: bytes) -> IngestResult:
    events = parse_batch(raw, datetime.now(UTC))
    result = usage.insert_events(session, events)
    session.commit()
    metrics.record_usage_ingested(result.accepted, result.duplicates)
    return IngestResult(accepted=result.accepted, duplicates=result.duplicates)


@router.get(
    "/usage/unmatched",
    response_model=UnmatchedEvents,
    responses=problem_responses(401, 403, 422),
    dependencies=[Depends(require("reader"))],
    summary="Stored events whose alias matches no customer (attach the alias to bill them)",
)
def unmatched_usage(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> UnmatchedEvents:
    rows = usage.list_unmatched(session, limit=limit, after=after)
    data = [
        StoredEvent(
            id=row.id or 0, transaction_id=row.transaction_id, customer_id=row.customer_alias,
            event_type=row.event_type, timestamp=row.timestamp, properties=row.properties,
            ingested_at=row.ingested_at,
        )
        for row in rows
    ]
    return UnmatchedEvents(data=data, next_after=data[-1].id if len(data) == limit else None)
