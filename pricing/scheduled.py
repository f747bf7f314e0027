"""Scheduled invoices (commit purchases, scheduled charges) and postpaid true-ups (SPEC 8)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from models.terms import Commit, ContractTerms, InvoiceItem
from pricing.invoice import totals_of
from pricing.rating import currency_of
from pricing.rounding import exact, fmt, round_money
from pricing.types import Catalog, LedgerEntry, LineType, PricedInvoice, PricedLine, Segment

ONE = Decimal(1)


def invoice_items(commit: Commit) -> tuple[InvoiceItem, ...]:
    """A prepaid commit's invoice items; absent schedule: the access total at its first start."""
    if commit.type != "prepaid":
        return ()
    if commit.invoice_schedule is not None:
        return commit.invoice_schedule
    first = min(i.starting_at for i in commit.access_schedule)
    total = sum((i.amount for i in commit.access_schedule), Decimal(0))
    return (InvoiceItem(amount=total, timestamp=first),)


def scheduled_invoice_times(terms: ContractTerms) -> tuple[datetime, ...]:
    """Every instant that carries a commit invoice item or a scheduled charge item."""
    times = {i.timestamp for c in terms.commits for i in invoice_items(c)}
    times |= {i.timestamp for c in terms.scheduled_charges for i in c.schedule}
    return tuple(sorted(times))


def _product_name(catalog: Catalog, product_id: str | None) -> str | None:
    return next((p.name for p in catalog.products if p.id == product_id), None)


def _charge_line(
    line_type: LineType, product_id: str | None, name: str, amount: Decimal, tax_rate: Decimal,
    currency: str, explanation: str, references: dict[str, str],
) -> PricedLine:
    amount = round_money(amount, currency)
    tax = round_money(amount * tax_rate, currency)
    return PricedLine(
        type=line_type, product_id=product_id, product_name=name, quantity=ONE,
        unit_price=amount, amount=amount, tax=tax, total=amount + tax,
        explanation=f"{explanation}; tax {fmt(amount)} × {fmt(tax_rate)} = {fmt(tax)}; "
                    f"total {fmt(amount + tax)}. Never discounted.",
        details={"tax": {"base": fmt(amount), "rate": fmt(tax_rate), "amount": fmt(tax)}},
        references=references,
    )


@exact
def price_scheduled_invoice(
    terms: ContractTerms, catalog: Catalog, tax_rate: Decimal, timestamp: datetime
) -> PricedInvoice:
    """The scheduled invoice at `timestamp`: commit purchases and scheduled charges, taxed."""
    currency = currency_of(terms, catalog)
    lines: list[PricedLine] = []
    for commit in sorted(terms.commits, key=lambda c: c.id):
        for n, item in enumerate(invoice_items(commit)):
            if item.timestamp == timestamp:
                name = commit.name or _product_name(catalog, commit.product_id) or commit.id
                lines.append(_charge_line(
                    "commit_purchase", commit.product_id, name, item.amount, tax_rate, currency,
                    f"Prepaid commitment {commit.id} purchase, invoice item {n} at "
                    f"{timestamp.isoformat()}: {fmt(item.amount)}",
                    {"commit_id": commit.id, "invoice_item": str(n)},
                ))
    for charge in sorted(terms.scheduled_charges, key=lambda c: c.id):
        for n, item in enumerate(charge.schedule):
            if item.timestamp == timestamp:
                name = charge.name or _product_name(catalog, charge.product_id) or charge.id
                lines.append(_charge_line(
                    "scheduled_charge", charge.product_id, name, item.amount, tax_rate, currency,
                    f"Scheduled charge {charge.id}, item {n} at {timestamp.isoformat()}: "
                    f"{fmt(item.amount)}",
                    {"scheduled_charge_id": charge.id, "schedule_item": str(n)},
                ))
    return PricedInvoice(
        key=f"scheduled:{timestamp.isoformat()}", kind="scheduled", currency=currency,
        issued_at=timestamp, due_at=timestamp + timedelta(days=terms.billing.payment_terms_days),
        lines=tuple(lines), totals=totals_of(lines),
    )


@exact
def true_up_invoice(
    terms: ContractTerms, catalog: Catalog, tax_rate: Decimal, segment: Segment,
    spend_counted: Decimal,
) -> PricedInvoice | None:
    """The postpaid shortfall at the segment's end, or None when the minimum was met."""
    currency = currency_of(terms, catalog)
    shortfall = round_money(segment.amount - spend_counted, currency)
    if shortfall <= 0:
        return None
    commit = next((c for c in terms.commits if c.id == segment.source_id), None)
    product_id = commit.product_id if commit else None
    name = segment.name or _product_name(catalog, product_id) or segment.source_id
    key = f"true_up:{segment.id}"
    issued = segment.ending_before
    line = _charge_line(
        "true_up", product_id, name, shortfall, tax_rate, currency,
        f"Minimum spend {fmt(segment.amount)} over [{segment.starting_at.isoformat()}, "
        f"{issued.isoformat()}) of commitment {segment.source_id}; eligible spend counted "
        f"{fmt(spend_counted)}; shortfall {fmt(shortfall)}",
        {"commit_id": segment.source_id, "segment_id": segment.id},
    )
    entry = LedgerEntry(key=key, segment_id=segment.id, source_id=segment.source_id,
                        kind="true_up", amount=shortfall, at=issued, invoice_key=key,
                        details={"minimum": fmt(segment.amount), "spend": fmt(spend_counted)})
    return PricedInvoice(
        key=key, kind="true_up", currency=currency, period_start=segment.starting_at,
        period_end=issued, issued_at=issued,
        due_at=issued + timedelta(days=terms.billing.payment_terms_days),
        lines=(line,), totals=totals_of([line]), ledger=(entry,),
    )
