"""Assembling a period's usage invoice in SPEC 6's order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from pricing.discounts import LineState, apply_discounts
from pricing.drawdown import draw
from pricing.rating import currency_of, dims_key
from pricing.rounding import exact, fmt, round_money
from pricing.segments import draw_order, expand_segments, open_at, remaining_map
from pricing.sla import sla_grants
from pricing.types import (
    InvoiceInput,
    LedgerEntry,
    PricedInvoice,
    PricedLine,
    RatedLine,
    Segment,
    SlaGrant,
    Totals,
)

ZERO = Decimal(0)


def _line_order(line: RatedLine) -> tuple[str, tuple[tuple[str, str], ...], Decimal, Decimal]:
    return (line.product_id, dims_key(line.dimensions), line.quantity, line.amount)


def _segments(data: InvoiceInput, grants: Sequence[SlaGrant]) -> list[Segment]:
    merged: dict[str, Segment] = {}
    for seg in (*expand_segments(data.terms), *data.extra_segments, *(g.segment for g in grants)):
        merged.setdefault(seg.id, seg)
    return [merged[k] for k in sorted(merged)]


@exact
def price_usage_invoice(data: InvoiceInput) -> PricedInvoice:
    """Usage invoice of one period: lines, discounts, commits, tax, SLA credits, credits."""
    terms, period = data.terms, data.period
    currency = currency_of(terms, data.catalog)
    key = f"usage:{period.start.isoformat()}"
    issued = period.end + timedelta(hours=terms.billing.usage_grace_period_hours)
    products = {p.id: p for p in data.catalog.products}
    usage_products = sorted((p for p in products.values() if p.kind == "usage"), key=lambda p: p.id)
    lines = sorted(data.usage_lines, key=_line_order) + sorted(data.correction_lines,
                                                                 key=_line_order)
    states = [LineState(line, products.get(line.product_id), line.amount) for line in lines]
    first = apply_discounts(terms.discounts, period, states, data.discount_first_period, currency)

    net_by_product: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for st in states:
        if st.line.type == "usage":
            net_by_product[st.line.product_id] += st.running
    grants = sla_grants(terms, data.catalog.products, currency, period, net_by_product,
                        data.incidents, data.past_periods)
    segments = _segments(data, grants)
    remaining = remaining_map(segments, data.balances)
    live = [s for s in segments if open_at(s, period.start)]

    postpaid = draw_order([s for s in live if s.commit_type == "postpaid"], usage_products)
    counted = draw(states, postpaid, remaining, lambda st: st.running, lambda st, s, x: None)
    prepaid = draw_order([s for s in live if s.source_kind == "commit"
                          and s.commit_type != "postpaid"], usage_products)
    drawn = draw(states, prepaid, remaining, lambda st: st.running, _record_commit)
    for st in states:
        st.tax = round_money(max(st.running, ZERO) * data.tax_rate, currency)
    credits = draw_order([s for s in live if s.source_kind == "credit"], usage_products)
    used = draw(states, credits, remaining, _gross_left, lambda st, s, x: st.credits.append((s, x)))

    priced = tuple(_priced_line(st, data.tax_rate) for st in states)
    ledger = _ledger(key, issued, segments, grants, {**counted, **drawn, **used})
    return PricedInvoice.model_construct(
        key=key, kind="usage", currency=currency, period_start=period.start,
        period_end=period.end, issued_at=issued,
        due_at=issued + timedelta(days=terms.billing.payment_terms_days),
        lines=priced, totals=totals_of(priced), ledger=ledger,
        discount_first_period=dict(sorted(first.items())), sla_grants=grants,
    )


def _record_commit(st: LineState, segment_id: str, amount: Decimal) -> None:
    st.commits.append((segment_id, amount))
    st.running -= amount


def _gross_left(st: LineState) -> Decimal:
    return max(st.running, ZERO) + st.tax - sum((x for _, x in st.credits), ZERO)


def _priced_line(st: LineState, tax_rate: Decimal) -> PricedLine:
    line = st.line
    discount = sum((x for _, x in st.discounts), ZERO)
    commit = sum((x for _, x in st.commits), ZERO)
    credit = sum((x for _, x in st.credits), ZERO)
    total = max(line.amount - discount - commit + st.tax - credit, ZERO)
    parts = [f"Amount {fmt(line.amount)}"]
    parts += [f"discount {d} −{fmt(x)}" for d, x in st.discounts]
    parts += [f"commit {s} −{fmt(x)}" for s, x in st.commits]
    parts.append(f"tax {fmt(max(st.running, ZERO))} × {fmt(tax_rate)} = {fmt(st.tax)}")
    parts += [f"credit {s} −{fmt(x)}" for s, x in st.credits]
    parts.append(f"total {fmt(total)}")
    return PricedLine.model_construct(
        type=line.type, product_id=line.product_id, product_name=line.product_name,
        dimensions=line.dimensions, quantity=line.quantity, unit_price=line.unit_price,
        amount=line.amount, discount=discount, commit_applied=commit, tax=st.tax,
        credits_applied=credit, total=total,
        explanation=f"{line.explanation}\n{'; '.join(parts)}.",
        details={
            "rating": line.details,
            "discounts": [{"id": d, "amount": fmt(x)} for d, x in st.discounts],
            "commits": [{"segment_id": s, "amount": fmt(x)} for s, x in st.commits],
            "tax": {"base": fmt(max(st.running, ZERO)), "rate": fmt(tax_rate),
                    "amount": fmt(st.tax)},
            "credits": [{"segment_id": s, "amount": fmt(x)} for s, x in st.credits],
        },
        references={
            **line.references,
            "discounts": [d for d, _ in st.discounts],
            "commit_segments": [s for s, _ in st.commits],
            "credit_segments": [s for s, _ in st.credits],
        },
    )


def totals_of(lines: Sequence[PricedLine]) -> Totals:
    """Exact sums of the lines; charges other than corrections count as `usage`."""
    def total(attr: str, types: tuple[str, ...] | None = None) -> Decimal:
        return sum((getattr(x, attr) for x in lines if types is None or x.type in types), ZERO)
    return Totals.model_construct(
        usage=total("amount", ("usage", "commit_purchase", "scheduled_charge", "true_up")),
        corrections=total("amount", ("correction",)), discounts=total("discount"),
        commit_applied=total("commit_applied"), tax=total("tax"),
        credits_applied=total("credits_applied"), total=total("total"),
    )


def _ledger(
    key: str, issued: datetime, segments: Sequence[Segment], grants: Sequence[SlaGrant],
    taken: dict[str, Decimal],
) -> tuple[LedgerEntry, ...]:
    by_id = {s.id: s for s in segments}
    entries = [
        LedgerEntry(key=f"grant:{g.segment.id}", segment_id=g.segment.id, source_id=g.sla_id,
                    kind="grant", amount=g.amount, at=g.segment.starting_at, invoice_key=key,
                    details={"reason": "sla", "period_index": g.period.index})
        for g in grants
    ]
    for seg_id in sorted(taken):
        seg = by_id[seg_id]
        entries.append(LedgerEntry(
            key=f"{key}:drawdown:{seg_id}", segment_id=seg_id, source_id=seg.source_id,
            kind="drawdown", amount=taken[seg_id], at=issued, invoice_key=key,
            details={"source_kind": seg.source_kind, "commit_type": seg.commit_type,
                     # postpaid spend is counted toward the minimum; it is still invoiced
                     "reduces_amount_due": seg.commit_type != "postpaid"},
        ))
    return tuple(entries)
