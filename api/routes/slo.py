"""SLO breach events: one incident, or Prometheus Alertmanager's webhook (version 4)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client

from api.auth import require
from api.contract_service import handle_for
from api.deps import SessionDep
from api.errors import NotFound, Unprocessable
from models.messages import SIGNAL_INCIDENT, IncidentSignal
from models.slo import AlertmanagerPayload, SloEvent
from models.terms import ContractTerms
from pricing.types import Incident
from store import contracts as contract_store
from store import slo as slo_store

router = APIRouter(prefix="/v1/slo-events", tags=["slo"])
log = structlog.get_logger(__name__)


class IncidentRejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _store(session: Session, event: SloEvent, source: str) -> bool:
    """Check the incident against its contract and store it; True when it changed anything."""
    row = contract_store.get_contract(session, event.contract_id)
    if row is None:
        raise IncidentRejected("contract_id", f"no contract {event.contract_id!r}")
    terms = ContractTerms.model_validate(row.terms)
    if event.sla_id not in {s.id for s in terms.sla}:
        raise IncidentRejected(
            "sla_id", f"contract {event.contract_id!r} has no sla {event.sla_id!r}"
        )
    incident = Incident(
        incident_id=event.incident_id,
        sla_id=event.sla_id,
        started_at=event.started_at,
        resolved_at=event.resolved_at,
    )
    return slo_store.upsert_incident(session, event.contract_id, incident, source=source)


async def _notify(request: Request, event: SloEvent) -> None:
    """Tell the contract's workflow; the close reads incidents from the database either way, so
    an unreachable Temporal or an ended workflow loses nothing."""
    try:
        client: Client = await request.app.state.temporal.get()
        await handle_for(client, event.contract_id).signal(
            SIGNAL_INCIDENT,
            IncidentSignal(
                incident_id=event.incident_id,
                sla_id=event.sla_id,
                started_at=event.started_at,
                resolved_at=event.resolved_at,
            ),
        )
    except Exception as exc:  # noqa: BLE001 - the stored row is what counts
        log.info("incident not signalled", contract_id=event.contract_id, error=str(exc))


@router.post("", dependencies=[Depends(require("observability"))])
async def post_incident(event: SloEvent, session: SessionDep, request: Request) -> dict[str, Any]:
    """One breach event; re-sending it updates it, an identical re-send changes nothing."""
    try:
        changed = await run_in_threadpool(_store, session, event, "api")
    except IncidentRejected as exc:
        if exc.field == "contract_id":
            raise NotFound(exc.reason) from exc
        raise Unprocessable(
            exc.reason, errors=[{"loc": ["body", exc.field], "msg": exc.reason}]
        ) from exc
    await run_in_threadpool(session.commit)
    if changed:
        await _notify(request, event)
    return {"incident_id": event.incident_id, "changed": changed}


@router.post("/alertmanager", dependencies=[Depends(require("observability"))])
async def post_alertmanager(
    payload: AlertmanagerPayload, session: SessionDep, request: Request
) -> dict[str, Any]:
    """Firing alerts open incidents and resolved ones close them; alerts that name no contract
    or SLA are reported back under `rejected`, never dropped silently."""
    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    changed_events: list[SloEvent] = []
    for index, alert in enumerate(payload.alerts):
        labels = alert.labels
        missing = [name for name in ("contract_id", "sla_id") if not labels.get(name)]
        if missing:
            rejected.append(
                {
                    "index": index,
                    "fingerprint": alert.fingerprint,
                    "reason": f"missing labels: {', '.join(missing)}",
                }
            )
            continue
        event = alert.to_slo_event()
        try:
            changed = await run_in_threadpool(_store, session, event, "alertmanager")
        except IncidentRejected as exc:
            rejected.append(
                {"index": index, "fingerprint": alert.fingerprint, "reason": exc.reason}
            )
            continue
        accepted.append(
            {
                "index": index,
                "incident_id": event.incident_id,
                "status": alert.status,
                "changed": changed,
            }
        )
        if changed:
            changed_events.append(event)
    await run_in_threadpool(session.commit)
    for event in changed_events:
        await _notify(request, event)
    return {"accepted": accepted, "rejected": rejected}
