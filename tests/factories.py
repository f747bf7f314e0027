"""A small catalog and helpers shared by workflow, activity and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.api import UsageEvent
from models.terms import Customer, Product, RateCard
from store import catalog, usage

PRODUCTS: list[dict[str, Any]] = [
    {
        "id": "tokens",
        "name": "Model tokens",
        "kind": "usage",
        "tags": ["ai"],
        "meter": {
            "event_type": "inference",
            "aggregation": "sum",
            "property": "tokens",
            "group_by": ["model"],
        },
    },
    {
        "id": "storage",
        "name": "Storage GB-months",
        "kind": "usage",
        "tags": ["storage"],
        "meter": {"event_type": "storage", "aggregation": "sum", "property": "gb"},
    },
    {
        "id": "analysis",
        "name": "Analysis jobs",
        "kind": "usage",
        "tags": ["analysis"],
        "meter": {"event_type": "analysis", "aggregation": "count"},
    },
    {"id": "support", "name": "Professional support", "kind": "fixed"},
    {"id": "commit-purchase", "name": "Prepaid commitment", "kind": "fixed"},
]

RATE_CARD: dict[str, Any] = {
    "alias": "list",
    "name": "List prices",
    "currency": "USD",
    "rates": [
        {"product_id": "tokens", "unit_price": "0.002"},
        {"product_id": "tokens", "dimensions": {"model": "gpt-4"}, "unit_price": "0.03"},
        {"product_id": "storage", "unit_price": "0.10"},
        {"product_id": "analysis", "unit_price": "2.50"},
    ],
}


def seed_catalog(session: Session, *, customer_id: str = "acme", tax_rate: str = "0") -> None:
    for product in PRODUCTS:
        catalog.create_product(session, Product.model_validate(product))
    catalog.create_rate_card(session, RateCard.model_validate(RATE_CARD))
    catalog.create_customer(
        session,
        Customer.model_validate(
            {"id": customer_id, "name": customer_id.title(), "tax_rate": tax_rate}
        ),
    )
    session.commit()


def event(tx: str, customer: str, event_type: str, ts: datetime, **properties: Any) -> UsageEvent:
    return UsageEvent.model_validate(
        {
            "transaction_id": tx,
            "customer_id": customer,
            "event_type": event_type,
            "timestamp": ts.isoformat(),
            "properties": properties,
        }
    )


def ingest(session: Session, events: Iterable[UsageEvent]) -> None:
    usage.insert_events(session, list(events))
    session.commit()
