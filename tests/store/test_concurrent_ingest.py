"""Concurrent batches sharing transaction ids store each event exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from models.api import UsageEvent
from models.db import UsageEventRow
from store.usage import insert_events

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def batch(first: int, size: int) -> list[UsageEvent]:
    return [UsageEvent(transaction_id=f"tx-{i}", customer_id="acme", event_type="call",
                       timestamp=T0 + timedelta(seconds=i), properties={"n": i})
            for i in range(first, first + size)]


def test_overlapping_batches_from_many_threads(engine: Engine) -> None:
    # 8 writers, each batch overlapping its neighbours by half: 0-199, 100-299, ...
    batches = [batch(k * 100, 200) for k in range(8)] * 2

    def write(events: list[UsageEvent]) -> int:
        with Session(engine) as session:
            result = insert_events(session, events)
            session.commit()
            return result.accepted

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = list(pool.map(write, batches))
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(UsageEventRow))
        distinct = session.scalar(select(func.count(func.distinct(UsageEventRow.transaction_id))))
    assert stored == distinct == 900
    assert sum(accepted) == 900
