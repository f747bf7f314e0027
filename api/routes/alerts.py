"""Spend alerts that fired: each firing with its payload, clearing and webhook delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import require
from api.contract_service import require_contract
from api.deps import SessionDep
from models.api import problem_responses
from store import alerts as alert_store

router = APIRouter(prefix="/v1", tags=["alerts"])


class AlertDeliveryOut(BaseModel):
    attempt: int
    status_code: int | None
    succeeded: bool
    at: datetime
    error: str | None


class AlertFiringOut(BaseModel):
    id: int
    alert_id: str
    type: str
    threshold: str | None
    observed: str
    currency: str
    crossing: int
    crossing_key: str
    crossed_at: datetime
    cleared_at: datetime | None
    delivered: bool
    payload: dict[str, Any]
    deliveries: list[AlertDeliveryOut]


class AlertFiringList(BaseModel):
    data: list[AlertFiringOut]


def firing_out(view: alert_store.FiringView) -> AlertFiringOut:
    payload = view.payload
    alert = payload.get("alert", {})
    return AlertFiringOut(
        id=view.id, alert_id=view.alert_id, type=alert.get("type", ""),
        threshold=alert.get("threshold"), observed=payload.get("observed", ""),
        currency=payload.get("currency", ""), crossing=int(payload.get("crossing", 0)),
        crossing_key=view.crossing_key, crossed_at=view.fired_at, cleared_at=view.cleared_at,
        delivered=view.delivered, payload=payload,
        deliveries=[
            AlertDeliveryOut(attempt=d.attempt, status_code=d.status_code,
                             succeeded=d.succeeded, at=d.at, error=d.error)
            for d in view.deliveries
        ],
    )


@router.get(
    "/contracts/{contract_id}/alerts",
    response_model=AlertFiringList,
    responses=problem_responses(401, 403, 404),
    dependencies=[Depends(require("reader"))],
    summary="Spend alerts that fired, oldest first, with their webhook delivery attempts",
)
def contract_alerts(contract_id: str, session: SessionDep) -> AlertFiringList:
    require_contract(session, contract_id)
    firings = alert_store.list_firings(session, contract_id)
    return AlertFiringList(data=[firing_out(view) for view in firings])
