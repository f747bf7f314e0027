"""SLO incidents per contract: a re-sent incident updates it; an identical re-send is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from models.db import SloIncidentRow
from pricing.types import Incident


def upsert_incident(session: Session, contract_id: str, incident: Incident, *, source: str) -> bool:
    """Store or update an incident; True when anything changed."""
    table = SloIncidentRow.__table__  # type: ignore[attr-defined]
    current = session.execute(
        select(table.c.sla_id, table.c.started_at, table.c.resolved_at).where(
            table.c.contract_id == contract_id, table.c.incident_id == incident.incident_id
        )
    ).first()
    wanted = (incident.sla_id, incident.started_at, incident.resolved_at)
    if current is not None and tuple(current) == wanted:
        return False
    values: dict[str, Any] = {
        "contract_id": contract_id,
        "incident_id": incident.incident_id,
        "sla_id": incident.sla_id,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "source": source,
        "updated_at": datetime.now(UTC),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["contract_id", "incident_id"],
            set_={
                k: statement.excluded[k]
                for k in ("sla_id", "started_at", "resolved_at", "source", "updated_at")
            },
        )
    )
    return True


def incidents_for(session: Session, contract_id: str) -> list[Incident]:
    rows = session.scalars(
        select(SloIncidentRow)
        .where(SloIncidentRow.contract_id == contract_id)  # type: ignore[arg-type]
        .order_by(SloIncidentRow.started_at, SloIncidentRow.incident_id)  # type: ignore[arg-type]
    )
    return [
        Incident(
            incident_id=r.incident_id,
            sla_id=r.sla_id,
            started_at=r.started_at,
            resolved_at=r.resolved_at,
        )
        for r in rows
    ]
