"""What pricing a contract needs from the database, gathered in one place.

The close activity and the API's draft preview both price a period through `price_period`, so the
preview is exactly what the close would produce if nothing more arrived.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session

from models.terms import ContractTerms, Customer
from pricing import (
    billing_periods,
    correction_lines,
    expand_segments,
    price_usage_invoice,
    rate_change_points,
    rate_usage,
)
from pricing.types import (
    Catalog,
    Incident,
    InvoiceInput,
    PastPeriod,
    Period,
    PricedInvoice,
    RatedLine,
    RatingInput,
    Segment,
    SegmentBalance,
)
from store import catalog as catalog_store
from store import invoices as invoice_store
from store import ledger as ledger_store
from store import slo as slo_store
from store import usage as usage_store
from store.errors import Missing
from store.invoices import InvoiceView

# Events committed by a transaction that began before an invoice was computed can carry an
# earlier `billable_at` than the invoice's creation; looking back this far catches them. A
# re-rated period whose amounts did not change yields no correction, so the margin costs only time.
LATE_EVENT_MARGIN = timedelta(minutes=10)

# Ledger kinds that take from a segment's remaining balance.
CONSUMING = ("drawdown", "expiry", "rollover", "true_up")


@dataclass(frozen=True)
class PricingContext:
    terms: ContractTerms
    catalog: Catalog
    customer: Customer


def load_context(session: Session, terms: ContractTerms) -> PricingContext:
    """The rate card with its products, and the customer, or Missing naming what is not there.
    The catalog is read once per process (it cannot change); the customer every time."""
    catalog = catalog_store.kept_catalog(session, terms.rate_card_alias)
    if catalog is None:
        raise Missing(f"rate card {terms.rate_card_alias!r} does not exist")
    customer = catalog_store.get_customer(session, terms.customer_id)
    if customer is None:
        raise Missing(f"customer {terms.customer_id!r} does not exist")
    fixed = {c.product_id for c in terms.scheduled_charges}
    fixed |= {c.product_id for c in terms.commits if c.product_id}
    extra = catalog_store.kept_products(
        session, sorted(fixed - {p.id for p in catalog.products})
    )
    if extra:
        catalog = catalog.model_copy(update={"products": (*catalog.products, *extra.values())})
    return PricingContext(terms, catalog, customer)


def segment_balances(
    session: Session, contract_id: str, segments: list[Segment] | tuple[Segment, ...]
) -> tuple[SegmentBalance, ...]:
    """Each segment's remaining balance: its amount less everything the ledger took from it."""
    sums = ledger_store.balances(session, contract_id)
    return tuple(
        SegmentBalance(
            segment_id=s.id,
            remaining=s.amount
            - sum((sums.get(s.id, {}).get(kind, Decimal(0)) for kind in CONSUMING), Decimal(0)),
        )
        for s in segments
    )


def _periods(terms: ContractTerms) -> tuple[Period, ...]:
    return billing_periods(terms.starting_at, terms.ending_before, terms.billing.cycle)


def rate_period(session: Session, ctx: PricingContext, period: Period) -> tuple[RatedLine, ...]:
    """Aggregate the period's events in the database and rate them."""
    usage_products = [p for p in ctx.catalog.products if p.kind == "usage"]
    cuts = rate_change_points(ctx.terms, ctx.catalog, period.start, period.end)
    buckets = usage_store.aggregate_usage(
        session,
        aliases=ctx.customer.aliases,
        products=usage_products,
        start=period.start,
        end=period.end,
        cut_points=cuts,
    )
    return rate_usage(
        RatingInput(terms=ctx.terms, catalog=ctx.catalog, period=period, buckets=tuple(buckets))
    )


def invoiced_periods(
    session: Session, terms: ContractTerms, before: Period
) -> list[tuple[InvoiceView, Period]]:
    """The contract's usage invoices of periods before `before`, each with its period."""
    periods = {p.start: p for p in _periods(terms)}
    found = []
    for invoice in invoice_store.list_invoices(session, terms.id):
        period = periods.get(invoice.period_start) if invoice.kind == "usage" else None
        if period is not None and period.start < before.start:
            found.append((invoice, period))
    return found


def late_corrections(
    session: Session, ctx: PricingContext, invoiced: list[tuple[InvoiceView, Period]]
) -> tuple[RatedLine, ...]:
    """Correction lines for finalized periods that received usage after they were invoiced."""
    event_types = sorted({p.meter.event_type for p in ctx.catalog.products if p.meter is not None})
    corrections: list[RatedLine] = []
    for invoice, period in invoiced:
        if not usage_store.late_event_exists(
            session,
            aliases=ctx.customer.aliases,
            event_types=event_types,
            start=period.start,
            end=period.end,
            since=invoice.created_at - LATE_EVENT_MARGIN,
        ):
            continue
        rerated = rate_period(session, ctx, period)
        billed = invoice_store.invoiced_lines(session, ctx.terms.id, period.start)
        corrections.extend(correction_lines(rerated, billed, period))
    return tuple(corrections)


def past_sla_periods(
    session: Session,
    ctx: PricingContext,
    invoiced: list[tuple[InvoiceView, Period]],
    incidents: tuple[Incident, ...],
) -> tuple[PastPeriod, ...]:
    """Finalized periods that incidents reach, with what their invoices billed and what SLA credit
    they earned so far, so incidents that arrived after a close are credited at the next one."""
    terms = ctx.terms
    if not terms.sla or not incidents:
        return ()
    granted: dict[str, Decimal] = defaultdict(Decimal)
    for entry in ledger_store.entries_for(session, terms.id):
        if entry.kind == "grant" and entry.segment_id.startswith("sla:"):
            _, sla_id, index, *_ = entry.segment_id.split(":")
            granted[f"{sla_id}:{index}"] += entry.amount
    past: list[PastPeriod] = []
    for invoice, period in invoiced:
        if not any(i.started_at < period.end and (i.resolved_at is None
                                                  or i.resolved_at > period.start)
                   for i in incidents):
            continue
        net: dict[str, Decimal] = defaultdict(Decimal)
        for line in invoice_store.get_invoice(session, invoice.id).lines:
            if line.type == "usage" and line.product_id is not None:
                net[line.product_id] += line.amount - line.discount
        past.append(PastPeriod(
            period=period,
            net_by_product=dict(net),
            sla_credited={s.id: granted[f"{s.id}:{period.index}"] for s in terms.sla
                          if f"{s.id}:{period.index}" in granted},
        ))
    return tuple(past)


def price_period(
    session: Session,
    ctx: PricingContext,
    period: Period,
    *,
    extra_segments: tuple[Segment, ...] = (),
    discount_first_period: dict[str, int] | None = None,
) -> PricedInvoice:
    """The usage invoice of `period` as its close computes it (and the draft preview shows it)."""
    segments = (*expand_segments(ctx.terms), *extra_segments)
    incidents = tuple(slo_store.incidents_for(session, ctx.terms.id))
    invoiced = invoiced_periods(session, ctx.terms, period)
    return price_usage_invoice(
        InvoiceInput(
            terms=ctx.terms,
            catalog=ctx.catalog,
            tax_rate=ctx.customer.tax_rate,
            period=period,
            usage_lines=rate_period(session, ctx, period),
            correction_lines=late_corrections(session, ctx, invoiced),
            balances=segment_balances(session, ctx.terms.id, segments),
            discount_first_period=discount_first_period or {},
            incidents=incidents,
            past_periods=past_sla_periods(session, ctx, invoiced, incidents),
            extra_segments=extra_segments,
        )
    )
