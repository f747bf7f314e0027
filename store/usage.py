"""Usage events: de-duplicated bulk ingest, the unmatched list, late-usage detection.

Ingest is one statement per batch that skips conflicting transaction ids in the database
(`ON CONFLICT DO NOTHING`), never a read-then-write, so concurrent batches that share ids store
each event exactly once. An event is billable from the moment its alias names a customer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlmodel import Session

from models.api import UsageEvent
from models.db import CustomerAliasRow, UsageEventRow
from store.aggregate import aggregate_usage

__all__ = ["InsertResult", "aggregate_usage", "insert_events", "late_event_exists",
           "list_unmatched"]


def _sqlite_ts(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage format, in UTC. Not strftime: %Y does not pad years
    below 1000, and the fixed width is what makes the text sort in time order."""
    v = value.astimezone(UTC)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}")


_PG_INSERT = """
INSERT INTO usage_events
    (transaction_id, customer_alias, event_type, timestamp, properties, ingested_at, billable_at)
SELECT u.t, u.a, u.e, u.ts, u.p::jsonb, %(now)s,
       CASE WHEN EXISTS (SELECT 1 FROM customer_aliases c WHERE c.alias = u.a)
            THEN %(now)s END
FROM unnest(%(t)s::text[], %(a)s::text[], %(e)s::text[], %(ts)s::timestamptz[], %(p)s::text[])
     AS u(t, a, e, ts, p)
ON CONFLICT (transaction_id) DO NOTHING
"""

_SQLITE_INSERT = """
INSERT INTO usage_events
    (transaction_id, customer_alias, event_type, timestamp, properties, ingested_at, billable_at)
VALUES (?, ?, ?, ?, ?, ?,
        CASE WHEN EXISTS (SELECT 1 FROM customer_aliases WHERE alias = ?) THEN ? END)
ON CONFLICT (transaction_id) DO NOTHING
"""


@dataclass(frozen=True)
class InsertResult:
    accepted: int
    duplicates: int


def _json(properties: dict[str, object]) -> str:
    return json.dumps(properties, separators=(",", ":"), ensure_ascii=False)


def insert_events(
    session: Session, events: Sequence[UsageEvent], *, now: datetime | None = None
) -> InsertResult:
    """Store a validated batch; events whose transaction_id is already stored (or appears earlier
    in the batch) are counted as duplicates and change nothing. The caller commits."""
    if not events:
        return InsertResult(accepted=0, duplicates=0)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(_PG_INSERT, {
            "now": now,
            "t": [e.transaction_id for e in events],
            "a": [e.customer_id for e in events],
            "e": [e.event_type for e in events],
            "ts": [e.timestamp for e in events],
            "p": [_json(e.properties) for e in events],
        })
    else:
        stamp = _sqlite_ts(now)
        result = connection.exec_driver_sql(_SQLITE_INSERT, [
            (e.transaction_id, e.customer_id, e.event_type,
             _sqlite_ts(e.timestamp),
             _json(e.properties), stamp, e.customer_id, stamp)
            for e in events
        ])
    accepted = result.rowcount
    return InsertResult(accepted=accepted, duplicates=len(events) - accepted)


def list_unmatched(
    session: Session, *, limit: int = 100, after: int | None = None
) -> list[UsageEventRow]:
    """Stored events whose alias matches no customer, oldest first, `after` an event id."""
    query = (
        select(UsageEventRow)
        .where(UsageEventRow.billable_at.is_(None))  # type: ignore[union-attr]
        .where(~exists().where(CustomerAliasRow.alias == UsageEventRow.customer_alias))
        .order_by(UsageEventRow.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    if after is not None:
        query = query.where(UsageEventRow.id > after)  # type: ignore[operator]
    return list(session.scalars(query))


def late_event_exists(
    session: Session,
    *,
    aliases: Sequence[str],
    event_types: Sequence[str],
    start: datetime,
    end: datetime,
    since: datetime,
) -> bool:
    """Whether any event of these aliases and types in [start, end) became billable at or after
    `since` — i.e. arrived (or was claimed by its customer) after the period was invoiced.

    Pass a `since` a little before the close *read* the period's usage: an event that became
    billable while the close ran is then re-rated, and a correction that finds no difference
    adds nothing, so erring early never bills twice while erring late would lose usage."""
    if not aliases or not event_types:
        return False
    query = select(
        exists()
        .where(UsageEventRow.customer_alias.in_(list(aliases)))  # type: ignore[attr-defined]
        .where(UsageEventRow.event_type.in_(list(event_types)))  # type: ignore[attr-defined]
        .where(UsageEventRow.timestamp >= start)
        .where(UsageEventRow.timestamp < end)
        .where(UsageEventRow.billable_at >= since)  # type: ignore[operator]
    )
    return bool(session.scalar(query))
