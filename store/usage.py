"""Usage events: de-duplicated bulk ingest, the unmatched list, late-usage detection.

Ingest is one statement per batch that skips conflicting transaction ids in the database
(`ON CONFLICT DO NOTHING`), never a read-then-write, so concurrent batches that share ids store
each event exactly once. An event is billable from the moment its alias names a customer.

Each event also gets `numbers`: its numeric properties (JSON integers and decimal strings) in a
form its database sums exactly with no per-row parsing, so aggregation reads them directly:

- PostgreSQL: a jsonb object of JSON numbers (`{"cost": 48.123}`); jsonb numbers are `numeric`,
  exact, and `CAST(numbers -> 'cost' AS numeric)` needs no validation.
- SQLite: a JSON object of `[whole, fraction]` integer pairs, the value being
  `whole + fraction / 10**12` with `whole` = floor(value) and `0 <= fraction < 10**12`
  (`"-1.25"` is `[-2, 750000000000]`); both fit int64 (≤ 18 integer, ≤ 12 fractional digits).
  A name SQLite's JSON paths cannot reach is keyed as store.aggregate.sqlite_number_key says.

NULL when the event has no numeric property.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlmodel import Session

from models.api import UsageEvent
from models.db import CustomerAliasRow, UsageEventRow
from store.aggregate import aggregate_usage, sqlite_number_key

__all__ = ["InsertResult", "aggregate_usage", "insert_events", "late_event_exists",
           "list_unmatched", "numbers_document"]

# What aggregation counts as a number in a string: -?digits(.digits)?, ASCII digits only, within
# the ingest API's limits (≤ 18 integer and ≤ 12 fractional digits).
_DECIMAL_TEXT = re.compile(r"(-?)([0-9]{1,18})(?:\.([0-9]{1,12}))?")
_FRACTION_SCALE = 10**12


def _sqlite_ts(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage format, in UTC. Not strftime: %Y does not pad years
    below 1000, and the fixed width is what makes the text sort in time order."""
    v = value.astimezone(UTC)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}")


_PG_INSERT = """
INSERT INTO usage_events
    (transaction_id, customer_alias, event_type, timestamp, properties, numbers, ingested_at,
     billable_at)
SELECT u.t, u.a, u.e, u.ts, u.p::jsonb, u.n::jsonb, %(now)s,
       CASE WHEN EXISTS (SELECT 1 FROM customer_aliases c WHERE c.alias = u.a)
            THEN %(now)s END
FROM unnest(%(t)s::text[], %(a)s::text[], %(e)s::text[], %(ts)s::timestamptz[], %(p)s::text[],
            %(n)s::text[])
     AS u(t, a, e, ts, p, n)
ON CONFLICT (transaction_id) DO NOTHING
"""

_SQLITE_INSERT = """
INSERT INTO usage_events
    (transaction_id, customer_alias, event_type, timestamp, properties, numbers, ingested_at,
     billable_at)
VALUES (?, ?, ?, ?, ?, ?, ?,
        CASE WHEN EXISTS (SELECT 1 FROM customer_aliases WHERE alias = ?) THEN ? END)
ON CONFLICT (transaction_id) DO NOTHING
"""


@dataclass(frozen=True)
class InsertResult:
    accepted: int
    duplicates: int


def _json(properties: dict[str, object]) -> str:
    return json.dumps(properties, separators=(",", ":"), ensure_ascii=False)


def numbers_document(properties: Mapping[str, object], postgres: bool) -> str | None:
    """The `numbers` JSON text of an event with these properties (see the module docstring)."""
    entries = []
    for name, value in properties.items():
        if type(value) is int:  # not bool
            number = str(value) if postgres else f"[{value},0]"
        elif type(value) is str and (match := _DECIMAL_TEXT.fullmatch(value)):
            sign, whole_digits, fraction_digits = match.groups()
            whole = int(whole_digits)
            if postgres:  # a JSON number: int() drops leading zeros ("007"), JSON refuses them
                number = f"{sign}{whole}" + (f".{fraction_digits}" if fraction_digits else "")
            else:
                fraction = int(fraction_digits.ljust(12, "0")) if fraction_digits else 0
                if sign:
                    whole, fraction = -whole, -fraction
                    if fraction:
                        whole, fraction = whole - 1, fraction + _FRACTION_SCALE
                number = f"[{whole},{fraction}]"
        else:
            continue
        entries.append(_key(name, postgres) + number)
    return "{" + ",".join(entries) + "}" if entries else None


@functools.lru_cache(maxsize=4096)  # property names repeat from event to event
def _key(name: str, postgres: bool) -> str:
    key = name if postgres else sqlite_number_key(name)
    return json.dumps(key, ensure_ascii=False) + ":"


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
            "n": [numbers_document(e.properties, True) for e in events],
        })
    else:
        stamp = _sqlite_ts(now)
        result = connection.exec_driver_sql(_SQLITE_INSERT, [
            (e.transaction_id, e.customer_id, e.event_type,
             _sqlite_ts(e.timestamp),
             _json(e.properties), numbers_document(e.properties, False), stamp, e.customer_id,
             stamp)
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
