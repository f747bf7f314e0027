"""Small builders for pricing tests: a catalog, contract terms, periods and buckets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.terms import ContractTerms, Meter, Product, Rate, RateCard
from pricing.types import Catalog, InvoiceInput, Period, RatedLine, RatingInput, UsageBucket

D = Decimal


def at(year: int, month: int = 1, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def usage_product(pid: str, *tags: str, group_by: tuple[str, ...] = (),
                  resource: str | None = None) -> Product:
    return Product(id=pid, name=pid.title(), kind="usage", tags=tags,
                   meter=Meter(event_type=pid, aggregation="sum", property="value",
                               group_by=group_by, resource_property=resource))


def catalog(rates: list[dict[str, Any]], products: list[Product], currency: str = "USD") -> Catalog:
    card = RateCard(alias="card", name="Card", currency=currency,
                    rates=tuple(Rate.model_validate(r) for r in rates))
    return Catalog(rate_card=card, products=tuple(products))


Y2025 = datetime(2025, 1, 1, tzinfo=UTC)
FEB_2025 = datetime(2025, 2, 1, tzinfo=UTC)
Y2026 = datetime(2026, 1, 1, tzinfo=UTC)


def terms(start: datetime = Y2025, end: datetime = Y2026, **lists: Any) -> ContractTerms:
    return ContractTerms.model_validate(
        {"id": "c1", "customer_id": "cust", "rate_card_alias": "card", "starting_at": start,
         "ending_before": end, **lists})


def period(start: datetime = Y2025, end: datetime = FEB_2025, index: int = 0) -> Period:
    return Period(index=index, start=start, end=end)


def bucket(pid: str, qty: str | int, start: datetime = Y2025, resource: str | None = None,
           **dims: str) -> UsageBucket:
    return UsageBucket(product_id=pid, dimensions=dims, segment_start=start, quantity=D(qty),
                       resource_id=resource)


def rate(t: ContractTerms, cat: Catalog, p: Period, *buckets: UsageBucket) -> tuple[RatedLine, ...]:
    from pricing import rate_usage

    return rate_usage(RatingInput(terms=t, catalog=cat, period=p, buckets=buckets))


def line(pid: str, amount: str, **dims: str) -> RatedLine:
    return RatedLine(product_id=pid, product_name=pid.title(), dimensions=dims, quantity=D(1),
                     unit_price=None, amount=D(amount), explanation="test")


def invoice_input(t: ContractTerms, cat: Catalog, lines: list[RatedLine], p: Period | None = None,
                  **kw: Any) -> InvoiceInput:
    return InvoiceInput(terms=t, catalog=cat, tax_rate=kw.pop("tax_rate", D(0)),
                        period=p or period(), usage_lines=tuple(lines), **kw)
