"""Value objects in and out of the pricing engine. Frozen; no IO."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from models.money import Dec, UtcDatetime
from models.terms import ContractTerms, Frozen, Product, RateCard, StringMap

ZERO = Decimal("0")

LineType = Literal["usage", "correction", "commit_purchase", "scheduled_charge", "true_up"]
InvoiceKind = Literal["usage", "scheduled", "true_up"]
LedgerKind = Literal["grant", "drawdown", "expiry", "rollover", "true_up"]


class Period(Frozen):
    """Billing period k: [start, end), anchored at the contract start."""

    index: int
    start: UtcDatetime
    end: UtcDatetime


class Catalog(Frozen):
    """What the contract is priced against: its rate card and the products the card names."""

    rate_card: RateCard
    products: tuple[Product, ...]


class UsageBucket(Frozen):
    """One database aggregate: a meter's value for (product, dimensions) over the events of one
    segment of the period (segment_start is the period start or a rate change point), and for
    sustained-use products one resource."""

    product_id: str
    dimensions: StringMap = {}
    segment_start: UtcDatetime
    quantity: Dec
    resource_id: str | None = None


class RatingInput(Frozen):
    terms: ContractTerms
    catalog: Catalog
    period: Period
    buckets: tuple[UsageBucket, ...]


class RatedLine(Frozen):
    """A usage (or correction) line before discounts: quantity, gross amount rounded once."""

    type: Literal["usage", "correction"] = "usage"
    product_id: str
    product_name: str
    dimensions: StringMap = {}
    quantity: Dec
    unit_price: Dec | None
    amount: Dec
    explanation: str
    details: dict[str, Any] = {}
    references: dict[str, Any] = {}


class Segment(Frozen):
    """One access segment of a commit or credit: what is granted, drawn, expired, rolled."""

    id: str
    source_id: str
    source_kind: Literal["commit", "credit"]
    commit_type: Literal["prepaid", "postpaid"] | None = None
    reason: str | None = None
    name: str | None = None
    priority: int = 100
    applicable_product_ids: tuple[str, ...] = ()
    applicable_product_tags: tuple[str, ...] = ()
    starting_at: UtcDatetime
    ending_before: UtcDatetime
    amount: Dec


class SegmentBalance(Frozen):
    segment_id: str
    remaining: Dec


class Incident(Frozen):
    incident_id: str
    sla_id: str
    started_at: UtcDatetime
    resolved_at: UtcDatetime | None = None


class PastPeriod(Frozen):
    """A finalized usage period, for SLA incidents that arrived after it closed."""

    period: Period
    net_by_product: dict[str, Dec]
    sla_credited: dict[str, Dec] = {}


class InvoiceInput(Frozen):
    terms: ContractTerms
    catalog: Catalog
    tax_rate: Dec
    period: Period
    usage_lines: tuple[RatedLine, ...]
    correction_lines: tuple[RatedLine, ...] = ()
    balances: tuple[SegmentBalance, ...] = ()
    discount_first_period: dict[str, int] = {}
    incidents: tuple[Incident, ...] = ()
    past_periods: tuple[PastPeriod, ...] = ()
    extra_segments: tuple[Segment, ...] = ()


class PricedLine(Frozen):
    type: LineType
    product_id: str | None
    product_name: str
    dimensions: StringMap = {}
    quantity: Dec
    unit_price: Dec | None
    amount: Dec
    discount: Dec = ZERO
    commit_applied: Dec = ZERO
    tax: Dec = ZERO
    credits_applied: Dec = ZERO
    total: Dec = ZERO
    explanation: str
    details: dict[str, Any] = {}
    references: dict[str, Any] = {}


class Totals(Frozen):
    usage: Dec
    corrections: Dec
    discounts: Dec
    commit_applied: Dec
    tax: Dec
    credits_applied: Dec
    total: Dec


class LedgerEntry(Frozen):
    key: str
    segment_id: str
    source_id: str
    kind: LedgerKind
    amount: Dec
    at: UtcDatetime
    invoice_key: str | None = None
    details: dict[str, Any] = {}


class SlaGrant(Frozen):
    sla_id: str
    period: Period
    availability: Dec
    downtime_seconds: Dec
    percent: Dec
    amount: Dec
    incident_ids: tuple[str, ...]
    segment: Segment


class PricedInvoice(Frozen):
    key: str
    kind: InvoiceKind
    currency: str
    period_start: UtcDatetime | None = None
    period_end: UtcDatetime | None = None
    issued_at: UtcDatetime
    due_at: UtcDatetime
    lines: tuple[PricedLine, ...]
    totals: Totals
    ledger: tuple[LedgerEntry, ...] = ()
    discount_first_period: dict[str, int] = {}
    sla_grants: tuple[SlaGrant, ...] = ()
