"""A contract keyed in late, run by the real dev server, worker and API as separate processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from pricing import add_months
from tests.e2e.stack import eventually
from tests.factories import PRODUCTS, RATE_CARD

POLL_SECONDS = 90


def months_ago(n: int) -> datetime:
    now = datetime.now(UTC)
    return add_months(datetime(now.year, now.month, 1, tzinfo=UTC), -n)


def seed(admin: httpx.Client, sales: httpx.Client, customer: str) -> None:
    for product in PRODUCTS:
        assert admin.post("/v1/products", json=product).status_code in (200, 201)
    assert admin.post("/v1/rate-cards", json=RATE_CARD).status_code in (200, 201)
    answer = sales.post("/v1/customers", json={"id": customer, "name": customer.title(),
                                               "ingest_aliases": [f"{customer}-prod"]})
    assert answer.status_code == 201, answer.text


def finalized_usage(reader: httpx.Client, contract_id: str) -> list[dict[str, Any]]:
    answer = reader.get(f"/v1/contracts/{contract_id}/invoices")
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json()["data"]
            if i["kind"] == "usage" and i["status"] == "finalized"]


def test_three_past_months_are_invoiced_once_even_across_a_worker_restart(stack) -> None:
    admin, sales = stack.client("admin"), stack.client("sales")
    ingest, reader = stack.client("ingest"), stack.client("reader")
    seed(admin, sales, "late-co")
    start = months_ago(3)
    events = [
        {"transaction_id": f"late-co-{k}-{kind}", "customer_id": "late-co-prod",
         "event_type": event_type, "timestamp": add_months(start, k).replace(day=2).isoformat(),
         "properties": properties}
        for k in range(3)
        for kind, event_type, properties in (
            ("gpt4", "inference", {"model": "gpt-4", "tokens": 1000 * (k + 1)}),
            ("disk", "storage", {"gb": "12.5"}),
        )
    ]
    answer = ingest.post("/v1/usage", json=events)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 6, "duplicates": 0}

    contract = {
        "id": "late-co-2025", "customer_id": "late-co", "rate_card_alias": "list",
        "starting_at": start.isoformat(), "ending_before": add_months(start, 12).isoformat(),
        "billing": {"cycle": "monthly", "usage_grace_period_hours": 0, "payment_terms_days": 45},
    }
    answer = sales.post("/v1/contracts", json=contract)
    assert answer.status_code == 201, answer.text
    assert answer.json()["workflow_id"] == "contract-late-co-2025"

    invoices = eventually(lambda: (found := finalized_usage(reader, "late-co-2025"))
                          and len(found) >= 3 and found, POLL_SECONDS, "three finalized invoices")
    # gpt-4 at 0.03 a token: 30.00, 60.00, 90.00; storage 12.5 GB at 0.10: 1.25 each month.
    assert [i["totals"]["total"] for i in invoices] == ["31.25", "61.25", "91.25"]
    assert [i["period_start"][:10] for i in invoices] == [
        add_months(start, k).date().isoformat() for k in range(3)]
    one = reader.get(f"/v1/invoices/{invoices[1]['id']}").json()
    assert {(line["product_id"], line["amount"]) for line in one["lines"]} == {
        ("tokens", "60.00"), ("storage", "1.25")}

    stack.restart_worker()
    time.sleep(3)
    again = finalized_usage(reader, "late-co-2025")
    assert [(i["id"], i["totals"]["total"]) for i in again] == [
        (i["id"], i["totals"]["total"]) for i in invoices]

    # Re-posting the same contract finds it; the same batch again adds nothing.
    assert sales.post("/v1/contracts", json=contract).status_code == 200
    assert ingest.post("/v1/usage", json=events).json() == {"accepted": 0, "duplicates": 6}
