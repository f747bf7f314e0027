"""Alert firings and their webhook deliveries.

A firing is keyed `{alert_id}:{n}` (its crossing number n), so a retried check finds the firing the
first attempt wrote. When the condition clears, a row keyed `{alert_id}:{n}:cleared` (event
`alert.cleared`) re-arms the alert: the next breach is crossing n + 1. Clear rows are bookkeeping;
they are shown on their firing (`cleared_at`) and never delivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from models.db import AlertDeliveryRow, AlertFiringRow
from pricing.alerts import CrossingState
from store.engine import dialect_insert

FIRED = "alert.fired"
CLEARED = "alert.cleared"


@dataclass(frozen=True)
class DeliveryView:
    attempt: int
    status_code: int | None
    at: datetime
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class FiringView:
    id: int
    contract_id: str
    alert_id: str
    crossing_key: str
    fired_at: datetime
    payload: dict[str, Any]
    cleared_at: datetime | None = None
    deliveries: list[DeliveryView] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(d.succeeded for d in self.deliveries)


def firing_key(alert_id: str, crossing: int) -> str:
    return f"{alert_id}:{crossing}"


def clear_key(alert_id: str, crossing: int) -> str:
    return f"{alert_id}:{crossing}:cleared"


def _is_firing(row: AlertFiringRow) -> bool:
    return row.payload.get("event") != CLEARED


def _rows(session: Session, contract_id: str) -> list[AlertFiringRow]:
    return list(
        session.scalars(
            select(AlertFiringRow)
            .where(AlertFiringRow.contract_id == contract_id)  # type: ignore[arg-type]
            .order_by(AlertFiringRow.id)  # type: ignore[arg-type]
        )
    )


def crossing_states(session: Session, contract_id: str) -> dict[str, CrossingState]:
    """alert id → how many times it fired and whether its last firing has cleared."""
    rows = _rows(session, contract_id)
    keys = {r.crossing_key for r in rows}
    fired: dict[str, int] = {}
    for row in rows:
        if _is_firing(row):
            fired[row.alert_id] = fired.get(row.alert_id, 0) + 1
    return {
        alert_id: CrossingState(crossings=n, cleared=clear_key(alert_id, n) in keys)
        for alert_id, n in fired.items()
    }


def _insert_once(
    session: Session,
    contract_id: str,
    alert_id: str,
    key: str,
    at: datetime,
    payload: dict[str, Any],
) -> tuple[AlertFiringRow, bool]:
    table = AlertFiringRow.__table__  # type: ignore[attr-defined]
    statement = (
        dialect_insert(session)(table)
        .values(
            contract_id=contract_id, alert_id=alert_id, crossing_key=key, fired_at=at,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["contract_id", "crossing_key"])
        .returning(table.c.id)
    )
    created = session.execute(statement).first() is not None
    row = session.scalars(
        select(AlertFiringRow).where(
            AlertFiringRow.contract_id == contract_id,  # type: ignore[arg-type]
            AlertFiringRow.crossing_key == key,  # type: ignore[arg-type]
        )
    ).one()
    return row, created


def record_firing(
    session: Session,
    contract_id: str,
    alert_id: str,
    crossing: int,
    *,
    at: datetime,
    payload: dict[str, Any],
) -> tuple[AlertFiringRow, bool]:
    """The firing of crossing `crossing`, inserted unless it exists; returns (row, created)."""
    return _insert_once(
        session, contract_id, alert_id, firing_key(alert_id, crossing), at, payload
    )


def record_clear(
    session: Session,
    contract_id: str,
    alert_id: str,
    crossing: int,
    *,
    at: datetime,
    observed: str,
) -> bool:
    """Mark crossing `crossing` as over, so the next breach is a new crossing; True if new."""
    payload = {"event": CLEARED, "alert_id": alert_id, "crossing": crossing,
               "cleared_at": at.isoformat(), "observed": observed}
    _, created = _insert_once(
        session, contract_id, alert_id, clear_key(alert_id, crossing), at, payload
    )
    return created


def get_firing(session: Session, firing_id: int) -> AlertFiringRow | None:
    row = session.get(AlertFiringRow, firing_id)
    return row if row is not None and _is_firing(row) else None


def deliveries_for(session: Session, firing_ids: Iterable[int]) -> dict[int, list[DeliveryView]]:
    ids = list(firing_ids)
    found: dict[int, list[DeliveryView]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.scalars(
        select(AlertDeliveryRow)
        .where(AlertDeliveryRow.firing_id.in_(ids))  # type: ignore[attr-defined]
        .order_by(AlertDeliveryRow.firing_id, AlertDeliveryRow.attempt)  # type: ignore[arg-type]
    )
    for row in rows:
        found[row.firing_id].append(
            DeliveryView(row.attempt, row.status_code, row.delivered_at, row.error)
        )
    return found


def is_delivered(session: Session, firing_id: int) -> bool:
    return any(d.succeeded for d in deliveries_for(session, [firing_id])[firing_id])


def record_delivery(
    session: Session,
    firing_id: int,
    *,
    status_code: int | None,
    error: str | None,
    at: datetime,
) -> AlertDeliveryRow:
    """One delivery attempt, numbered after the firing's earlier attempts."""
    last = session.scalar(
        select(func.max(AlertDeliveryRow.attempt)).where(
            AlertDeliveryRow.firing_id == firing_id  # type: ignore[arg-type]
        )
    )
    row = AlertDeliveryRow(
        firing_id=firing_id, attempt=(last or 0) + 1, status_code=status_code,
        delivered_at=at, error=error,
    )
    session.add(row)
    session.flush()
    return row


def undelivered_firings(
    session: Session, contract_id: str, alert_ids: Iterable[str], *, limit: int
) -> list[int]:
    """Ids of the firings of `alert_ids` with no successful delivery yet, oldest first."""
    wanted = set(alert_ids)
    firings = [r for r in _rows(session, contract_id) if _is_firing(r) and r.alert_id in wanted]
    deliveries = deliveries_for(session, [r.id for r in firings if r.id is not None])
    pending = [
        r.id for r in firings
        if r.id is not None and not any(d.succeeded for d in deliveries[r.id])
    ]
    return pending[:limit]


def list_firings(session: Session, contract_id: str) -> list[FiringView]:
    """The contract's firings, oldest first, each with its clearing and delivery attempts."""
    rows = _rows(session, contract_id)
    cleared = {r.crossing_key: r.fired_at for r in rows if not _is_firing(r)}
    firings = [r for r in rows if _is_firing(r) and r.id is not None]
    deliveries = deliveries_for(session, [r.id for r in firings if r.id is not None])
    views = []
    for r in firings:
        assert r.id is not None
        crossing = int(r.payload.get("crossing", 0))
        views.append(FiringView(
            id=r.id, contract_id=r.contract_id, alert_id=r.alert_id,
            crossing_key=r.crossing_key, fired_at=r.fired_at, payload=r.payload,
            cleared_at=cleared.get(clear_key(r.alert_id, crossing)),
            deliveries=deliveries[r.id],
        ))
    return views
