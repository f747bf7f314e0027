"""Inputs and results of the contract workflow's run, updates, signals and queries.

The API and the worker both speak these through the pydantic data converter. Each message is one
model so fields can be added without breaking running workflows; they carry ids, not invoice lines.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from models.money import Dec, UtcDatetime
from models.terms import Amendment, Commit, Frozen, RenewalTerms

WORKFLOW_NAME = "ContractWorkflow"
UPDATE_AMEND = "amend"
UPDATE_RENEW = "renew"
SIGNAL_INCIDENT = "slo_incident"
QUERY_DETAILS = "details"
QUERY_TERMS = "terms"
QUERY_STATE = "state"
SIGNAL_ROLLOVER = "rollover"

ContractStatus = Literal["scheduled", "active", "ended", "renewed"]


def workflow_id(contract_id: str) -> str:
    return f"contract-{contract_id}"


class AmendmentResult(Frozen):
    amendment_id: str
    accepted: bool = True
    applied_at: UtcDatetime
    replayed: bool = False  # true when the same id was sent before: nothing changed this time


class AmendInput(Frozen):
    amendment: Amendment


class RenewInput(Frozen):
    renewal: RenewalTerms


class RenewResult(Frozen):
    renewal_id: str
    successor_contract_id: str
    successor_workflow_id: str
    starting_at: UtcDatetime
    ending_before: UtcDatetime


class IncidentSignal(Frozen):
    incident_id: str
    sla_id: str
    started_at: UtcDatetime
    resolved_at: UtcDatetime | None = None


class ContractDetails(Frozen):
    """What `GET /v1/contracts/{id}` and the Temporal UI show of a running contract."""

    contract_id: str
    status: ContractStatus
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    closed_periods: int = 0
    balance: Dec = Decimal("0")
    last_invoice_id: str | None = None
    last_invoice_total: Dec | None = None
    renewed_by: str | None = None
    renews: str | None = None
    open_incidents: int = 0
    amendments: list[str] = Field(default_factory=list)


class RolloverSignal(Frozen):
    """From a predecessor at its end: the prepaid commitment that rolls into this contract."""

    from_contract_id: str
    commits: tuple[Commit, ...] = ()
