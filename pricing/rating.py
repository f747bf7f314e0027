"""Rating a period's usage buckets into lines (SPEC 5, 7) and late-usage corrections (SPEC 9)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.terms import ContractTerms, Override, Product, Rate
from pricing.periods import hours_between
from pricing.rates import (
    EffectivePrice,
    PricingError,
    dims_match,
    overrides_for_line,
    rates_for_line,
    resolve_price,
)
from pricing.rounding import exact, fmt, round_money
from pricing.tiers import ZERO, Chunk, price_segment, price_sustained
from pricing.types import Catalog, Period, RatedLine, RatingInput, UsageBucket

DimsKey = tuple[tuple[str, str], ...]


def currency_of(terms: ContractTerms, catalog: Catalog) -> str:
    """The contract's currency; the rate card's when the contract names none."""
    return terms.currency or catalog.rate_card.currency


def dims_key(dims: Mapping[str, str]) -> DimsKey:
    """Dimensions as sorted items: the stable sort and grouping key of a line."""
    return tuple(sorted(dims.items()))


@dataclass(slots=True)
class _Segment:
    start: datetime
    price: EffectivePrice
    quantity: Decimal = ZERO
    chunks: list[Chunk] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


@exact
def rate_usage(data: RatingInput) -> tuple[RatedLine, ...]:
    """One rated line per (product, dimension values), sorted by product id then dimensions."""
    products = {p.id: p for p in data.catalog.products}
    rates_by_product: dict[str, list[Rate]] = defaultdict(list)
    for rate in data.catalog.rate_card.rates:
        rates_by_product[rate.product_id].append(rate)
    groups: dict[tuple[str, DimsKey], list[UsageBucket]] = defaultdict(list)
    for bucket in data.buckets:
        groups[(bucket.product_id, dims_key(bucket.dimensions))].append(bucket)
    period_hours = hours_between(data.period.start, data.period.end)
    # the product filter is per product, the dimension filter per line: do the costly part once
    by_product: dict[str, tuple[Override, ...]] = {}
    lines = []
    for (product_id, key), buckets in sorted(groups.items(), key=lambda kv: kv[0]):
        product = products.get(product_id)
        if product is None or product.kind != "usage":
            raise PricingError(f"usage for {product_id!r}, which is not a usage product")
        dims = dict(key)
        if product_id not in by_product:
            by_product[product_id] = overrides_for_line(data.terms.overrides, product, {})
        overrides = tuple(o for o in by_product[product_id] if dims_match(o.dimensions, dims))
        candidates = rates_for_line(rates_by_product[product_id], product_id, dims)
        lines.append(_rate_line(data, product, dims, candidates, overrides, buckets, period_hours))
    return tuple(lines)


def _rate_line(
    data: RatingInput, product: Product, dims: dict[str, str], candidates: Sequence[Rate],
    overrides: Sequence[Override], buckets: list[UsageBucket], period_hours: Decimal,
) -> RatedLine:
    by_start: dict[datetime, list[UsageBucket]] = defaultdict(list)
    for bucket in buckets:
        by_start[bucket.segment_start].append(bucket)
    if product.meter is not None and product.meter.aggregation == "max":
        by_start = _peak_segment(by_start)
    starts = sorted(by_start)
    total = sum((b.quantity for s in starts for b in by_start[s]), ZERO)
    position = ZERO
    hours_so_far: dict[str, Decimal] = defaultdict(lambda: ZERO)
    segments = []
    for start in starts:
        seg = _Segment(start, resolve_price(data.terms, product, candidates, overrides, start))
        seg_buckets = sorted(by_start[start], key=lambda b: b.resource_id or "")
        seg.quantity = sum((b.quantity for b in seg_buckets), ZERO)
        if _is_sustained(seg.price, seg_buckets):
            for b in seg_buckets:
                rid = b.resource_id or ""
                chunks = price_sustained(seg.price, hours_so_far[rid], b.quantity, period_hours)
                hours_so_far[rid] += b.quantity
                seg.chunks.extend(chunks)
                seg.resources.append({"resource_id": rid, "hours": fmt(b.quantity),
                                      "slices": [c.as_detail() for c in chunks]})
        else:
            seg.chunks = price_segment(seg.price, position, seg.quantity, total)
        position += seg.quantity
        segments.append(seg)
    return _line(data, product, dims, total, segments)


def _peak_segment(by_start: dict[datetime, list[UsageBucket]]) -> dict[datetime, list[UsageBucket]]:
    # a max meter's segments are not additive: bill the period's peak once, at the price in force
    # in the (earliest) segment that reached it
    peaks = {s: max(b.quantity for b in bs) for s, bs in by_start.items()}
    top = max(peaks.values())
    start = min(s for s, q in peaks.items() if q == top)
    peak = next(b for b in by_start[start] if b.quantity == top)
    return {start: [peak]}


def _is_sustained(price: EffectivePrice, buckets: Sequence[UsageBucket]) -> bool:
    return (price.sustained_use is not None and price.unit_price is not None
            and all(b.resource_id is not None for b in buckets))


def _line(
    data: RatingInput, product: Product, dims: dict[str, str], quantity: Decimal,
    segments: list[_Segment],
) -> RatedLine:
    currency = currency_of(data.terms, data.catalog)
    chunks = [c for s in segments for c in s.chunks]
    unrounded = sum((c.amount for c in chunks), ZERO)
    amount = round_money(unrounded, currency)
    prices = {c.unit_price for c in chunks}
    override_ids = sorted({o.id for s in segments
                           for o in (s.price.overwrite, s.price.multiplier_override) if o})
    details: dict[str, Any] = {
        "period": {"index": data.period.index, "start": data.period.start.isoformat(),
                   "end": data.period.end.isoformat()},
        "quantity": fmt(quantity),
        "segments": [_segment_detail(data.catalog, s) for s in segments],
        "amount_unrounded": fmt(unrounded), "amount": fmt(amount), "currency": currency,
    }
    return RatedLine.model_construct(
        type="usage", product_id=product.id, product_name=product.name, dimensions=dims,
        quantity=quantity, unit_price=prices.pop() if len(prices) == 1 else None, amount=amount,
        explanation=_explain(product, dims, quantity, details), details=details,
        references={"rate_card": data.catalog.rate_card.alias, "overrides": override_ids},
    )


def _rate_entry(catalog: Catalog, rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    entry: dict[str, Any] = {
        "rate_card": catalog.rate_card.alias, "product_id": rate.product_id,
        "dimensions": dict(sorted(rate.dimensions.items())),
        "starting_at": rate.starting_at.isoformat() if rate.starting_at else None,
    }
    if rate.unit_price is not None:
        entry["unit_price"] = fmt(rate.unit_price)
    else:
        entry["tiers"] = [{"up_to": fmt(t.up_to) if t.up_to is not None else None,
                           "unit_price": fmt(t.unit_price)} for t in rate.tiers or ()]
        entry["tier_mode"] = rate.tier_mode or "graduated"
    if rate.sustained_use is not None:
        entry["sustained_use"] = [
            {"up_to_fraction": fmt(t.up_to_fraction), "multiplier": fmt(t.multiplier)}
            for t in rate.sustained_use.tiers
        ]
    return entry


def _segment_detail(catalog: Catalog, seg: _Segment) -> dict[str, Any]:
    price = seg.price
    detail: dict[str, Any] = {
        "starting_at": seg.start.isoformat(), "quantity": fmt(seg.quantity),
        "rate_card_entry": _rate_entry(catalog, price.rate), "rule": price.why,
        "overwrite": price.overwrite.id if price.overwrite else None,
        "multiplier_override": price.multiplier_override.id if price.multiplier_override else None,
        "multiplier": fmt(price.multiplier),
        "chunks": [c.as_detail() for c in seg.chunks] if not seg.resources else [],
    }
    if seg.resources:
        detail["resources"] = seg.resources
    return detail


def _explain(product: Product, dims: dict[str, str], quantity: Decimal, d: dict[str, Any]) -> str:
    where = ", ".join(f"{k}={v}" for k, v in sorted(dims.items()))
    parts = [f"{product.name} ({product.id}{'; ' + where if where else ''}): "
             f"{d['quantity']} units in [{d['period']['start']}, {d['period']['end']})."]
    for seg in d["segments"]:
        entry = seg["rate_card_entry"]
        card = "no rate card entry"
        if entry:
            price = entry.get("unit_price") or f"{entry['tier_mode']} tiers {entry['tiers']}"
            card = (f"rate card {entry['rate_card']} entry {entry['product_id']} "
                    f"{entry['dimensions']} from {entry['starting_at'] or 'the start'}: {price}")
        parts.append(f"From {seg['starting_at']}: {seg['quantity']} units; {card}; {seg['rule']}.")
        for res in seg.get("resources", []):
            slices = "; ".join(_chunk_text(c) for c in res["slices"])
            parts.append(f"  resource {res['resource_id']}: {res['hours']} h: {slices}.")
        if seg["chunks"]:
            parts.append("  " + "; ".join(_chunk_text(c) for c in seg["chunks"]) + ".")
    parts.append(f"Sum {d['amount_unrounded']}, rounded half up once: "
                 f"{d['amount']} {d['currency']}.")
    return "\n".join(parts)


def _chunk_text(c: dict[str, str]) -> str:
    return f"{c['quantity']} × {c['unit_price']} = {c['amount']} [{c['band']}]"


@exact
def correction_lines(
    rerated: Sequence[RatedLine], invoiced: Sequence[RatedLine], period: Period
) -> tuple[RatedLine, ...]:
    """Late usage: re-rated minus everything already invoiced, per (product, dimensions)."""
    now: dict[tuple[str, DimsKey], RatedLine] = {(r.product_id, dims_key(r.dimensions)): r
                                                 for r in rerated}
    billed: dict[tuple[str, DimsKey], list[RatedLine]] = defaultdict(list)
    for line in invoiced:
        billed[(line.product_id, dims_key(line.dimensions))].append(line)
    lines = []
    for key in sorted(set(now) | set(billed)):
        new, old = now.get(key), billed.get(key, [])
        old_q = sum((x.quantity for x in old), ZERO)
        old_a = sum((x.amount for x in old), ZERO)
        new_q, new_a = (new.quantity, new.amount) if new else (ZERO, ZERO)
        if new_q == old_q and new_a == old_a:
            continue
        name = new.product_name if new else old[0].product_name
        ref = {"index": period.index, "start": period.start.isoformat(),
               "end": period.end.isoformat()}
        lines.append(RatedLine(
            type="correction", product_id=key[0], product_name=name, dimensions=dict(key[1]),
            quantity=new_q - old_q, unit_price=None, amount=new_a - old_a,
            explanation=(f"Late usage for period {period.index} [{ref['start']}, {ref['end']}): "
                         f"re-rated {fmt(new_q)} units = {fmt(new_a)}; already invoiced "
                         f"{fmt(old_q)} units = {fmt(old_a)}; difference {fmt(new_a - old_a)}."
                         + (f"\nRe-rating: {new.explanation}" if new else "")),
            details={"corrects_period": ref, "rerated_quantity": fmt(new_q),
                     "rerated_amount": fmt(new_a), "invoiced_quantity": fmt(old_q),
                     "invoiced_amount": fmt(old_a), "rerated": new.details if new else None},
            references={"corrects_period": ref, "period_start": ref["start"],
                        "overrides": new.references.get("overrides", []) if new else []},
        ))
    return tuple(lines)
