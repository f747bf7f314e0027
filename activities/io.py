"""One input and one result model per activity. They carry ids and terms, never invoice lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models.money import Dec, UtcDatetime
from models.terms import Amendment, Commit, ContractTerms, Frozen
from pricing.types import Period, Segment


class RecordContractInput(Frozen):
    terms: ContractTerms
    status: str
    renewed_by: str | None = None


class InvoiceRefResult(Frozen):
    invoice_id: str
    key: str
    kind: str
    total: Dec
    period_start: datetime | None = None


class ScheduledInvoiceInput(Frozen):
    terms: ContractTerms
    timestamp: UtcDatetime


class PrepareUsageInvoiceInput(Frozen):
    terms: ContractTerms
    period: Period
    extra_segments: tuple[Segment, ...] = ()
    discount_first_period: dict[str, int] = {}


class PrepareUsageInvoiceResult(Frozen):
    invoice: InvoiceRefResult
    discount_first_period: dict[str, int] = {}
    sla_segments: tuple[Segment, ...] = ()
    balance: Dec = Decimal("0")  # prepaid commit + credit left for the next period


class FinalizeInvoiceInput(Frozen):
    contract_id: str
    invoice_id: str


class SettleSegmentsInput(Frozen):
    terms: ContractTerms
    through: UtcDatetime
    extra_segments: tuple[Segment, ...] = ()
    exclude: tuple[str, ...] = ()


class SettleSegmentsResult(Frozen):
    settled: tuple[str, ...] = ()
    invoices: tuple[InvoiceRefResult, ...] = ()


class RolloverInput(Frozen):
    terms: ContractTerms
    extra_segments: tuple[Segment, ...] = ()
    successor_id: str
    successor_start: UtcDatetime
    successor_end: UtcDatetime


class RolloverResult(Frozen):
    commits: tuple[Commit, ...] = ()
    settled: tuple[str, ...] = ()


class StartSuccessorInput(Frozen):
    terms: ContractTerms


class StartSuccessorResult(Frozen):
    workflow_id: str


class SendRolloverInput(Frozen):
    successor_id: str
    from_contract_id: str
    commits: tuple[Commit, ...] = ()


class CloseWindow(Frozen):
    """A period as the workflow schedules it: when it may close."""

    period: Period
    close_at: UtcDatetime


class EvaluateAlertsInput(Frozen):
    """Check the contract's spend alerts at `at`; `period` is the open period (None once every
    period is invoiced)."""

    terms: ContractTerms
    at: UtcDatetime
    period: Period | None = None
    extra_segments: tuple[Segment, ...] = ()
    discount_first_period: dict[str, int] = {}


class EvaluateAlertsResult(Frozen):
    firing_ids: tuple[int, ...] = ()


class DeliverAlertInput(Frozen):
    contract_id: str
    firing_id: int


class RecordAmendmentInput(Frozen):
    """Bring the contract projection up to date with one amendment (not the whole terms, which
    grow with every amendment)."""

    contract_id: str
    amendment: Amendment
