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
from models.terms import Amendment, ContractTerms, Frozen, RenewalTerms

WORKFLOW_NAME = "ContractWorkflow"
UPDATE_AMEND = "amend"
UPDATE_RENEW = "renew"
SIGNAL_INCIDENT = "slo_incident"
QUERY_DETAILS = "details"
QUERY_TERMS = "terms"

ContractStatus = Literal["scheduled", "active", "ended", "renewed"]


def workflow_id(contract_id: str) -> str:
    return f"contract-{contract_id}"


class ContractWorkflowInput(Frozen):
    terms: ContractTerms
    state: ContractState | None = None  # set only when the workflow continues as new


class InvoiceRef(Frozen):
    id: str
    key: str
    kind: str
    total: Dec
    period_start: UtcDatetime | None = None


class ContractState(Frozen):
    """Everything the workflow carries from one run to the next."""

    terms: ContractTerms
    status: ContractStatus = "scheduled"
    closed_periods: int = 0
    issued_invoice_keys: tuple[str, ...] = ()
    ended_segments: tuple[str, ...] = ()
    discount_first_period: dict[str, int] = {}
    amendments: dict[str, AmendmentResult] = {}
    renewed_by: str | None = None
    successor_started: bool = False
    last_invoice: InvoiceRef | None = None
    balance: Dec = Decimal("0")
    open_incidents: int = 0
    finished: bool = False


class AmendmentResult(Frozen):
    amendment_id: str
    accepted: bool = True
    applied_at: UtcDatetime


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
    last_invoice: InvoiceRef | None = None
    renewed_by: str | None = None
    renews: str | None = None
    open_incidents: int = 0
    amendments: list[str] = Field(default_factory=list)


ContractWorkflowInput.model_rebuild()
ContractState.model_rebuild()
