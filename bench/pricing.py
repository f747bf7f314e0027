"""Price one period of 10,000 lines with 50 overrides, 50 discounts and 50 commit segments.

Run: .venv/bin/python bench/pricing.py  — prints lines/second and the ratio to a bare
`quantity × unit_price` Decimal loop over the same lines in the same process.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.terms import ContractTerms, Meter, Product, Rate, RateCard  # noqa: E402
from pricing import price_usage_invoice, rate_usage  # noqa: E402
from pricing.types import (  # noqa: E402
    Catalog,
    InvoiceInput,
    Period,
    RatingInput,
    UsageBucket,
)

LINES, PRODUCTS, N = 10_000, 20, 50
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 2, 1, tzinfo=UTC)


def build() -> tuple[ContractTerms, Catalog, tuple[UsageBucket, ...]]:
    """A synthetic contract: 20 products × 500 regions, every list at 50 elements."""
    products = tuple(
        Product(id=f"p{i}", name=f"Product {i}", kind="usage", tags=(f"t{i % 5}",),
                meter=Meter(event_type=f"e{i}", aggregation="sum", property="v",
                            group_by=("region",)))
        for i in range(PRODUCTS))
    rates = tuple(Rate(product_id=p.id, unit_price=Decimal(i + 1) / 1000)
                  for i, p in enumerate(products))
    catalog = Catalog(rate_card=RateCard(alias="bench", name="Bench", rates=rates),
                      products=products)
    day = timedelta(days=1)
    overrides: list[dict[str, Any]] = [
        {"id": f"o{i}", "type": "multiplier", "multiplier": f"0.{50 + i}",
         "product_tags": [f"t{i % 5}"], "starting_at": START - day * i}
        if i % 2 else
        {"id": f"o{i}", "type": "overwrite", "unit_price": f"0.00{i + 1}",
         "product_ids": [f"p{i % PRODUCTS}"], "dimensions": {"region": f"r{i}"}}
        for i in range(N)]
    discounts = [{"id": f"d{i}", "type": "percent", "percent": str(1 + i % 5),
                  **({"product_ids": [f"p{i % PRODUCTS}"]} if i % 3 else {}),
                  "max_amount": str(1000 + i)} for i in range(N)]
    commits = [{"id": f"c{i}", "type": "prepaid", "priority": i % 3,
                "applicable_product_tags": [f"t{i % 5}"] if i % 2 else [],
                "access_schedule": [{"amount": str(100 + i), "starting_at": START,
                                     "ending_before": END + day * i}]} for i in range(N)]
    terms = ContractTerms.model_validate({
        "id": "bench", "customer_id": "cust", "rate_card_alias": "bench", "starting_at": START,
        "ending_before": datetime(2026, 1, 1, tzinfo=UTC), "overrides": overrides,
        "discounts": discounts, "commits": commits})
    buckets = tuple(
        UsageBucket(product_id=f"p{i % PRODUCTS}", dimensions={"region": f"r{i // PRODUCTS}"},
                    segment_start=START, quantity=Decimal(1000 + i * 7) / 8)
        for i in range(LINES))
    return terms, catalog, buckets


def main() -> None:
    terms, catalog, buckets = build()
    period = Period(index=0, start=START, end=END)
    unit = {r.product_id: r.unit_price or Decimal(0) for r in catalog.rate_card.rates}
    pairs = [(b.quantity, unit[b.product_id]) for b in buckets]

    t0 = time.perf_counter()
    lines = rate_usage(RatingInput(terms=terms, catalog=catalog, period=period, buckets=buckets))
    t1 = time.perf_counter()
    invoice = price_usage_invoice(InvoiceInput(
        terms=terms, catalog=catalog, tax_rate=Decimal("0.1"), period=period, usage_lines=lines))
    t2 = time.perf_counter()
    baseline = sum((q * p for q, p in pairs), Decimal(0))
    t3 = time.perf_counter()

    engine, bare = t2 - t0, t3 - t2
    out = sys.stdout.write
    out(f"lines: {len(invoice.lines)}  total: {invoice.totals.total}  (bare sum {baseline:.2f})\n")
    out(f"rate_usage: {t1 - t0:.3f}s  price_usage_invoice: {t2 - t1:.3f}s\n")
    out(f"engine: {LINES / engine:,.0f} lines/s   bare loop: {LINES / bare:,.0f} lines/s   "
        f"ratio: {engine / bare:,.0f}x\n")


if __name__ == "__main__":
    main()
