"""The contract workflow's input and the state it carries across continue-as-new."""

from __future__ import annotations

from decimal import Decimal

from models.messages import AmendmentResult, ContractStatus, RenewResult
from models.money import Dec, UtcDatetime
from models.terms import ContractTerms, Frozen
from pricing.types import Segment


class ContractState(Frozen):
    status: ContractStatus = "scheduled"
    closed_periods: int = 0
    issued: tuple[str, ...] = ()
    settled: tuple[str, ...] = ()
    discount_first_period: dict[str, int] = {}
    sla_segments: tuple[Segment, ...] = ()
    amendments: dict[str, AmendmentResult] = {}
    renewal: RenewResult | None = None
    awaiting_rollover: bool = False
    rolled_over: bool = False
    last_invoice_id: str | None = None
    last_invoice_total: Dec | None = None
    invoiced_total: Dec = Decimal("0")
    balance: Dec = Decimal("0")
    open_incidents: tuple[str, ...] = ()
    alerts_checked_at: UtcDatetime | None = None


class ContractWorkflowInput(Frozen):
    terms: ContractTerms
    state: ContractState | None = None
