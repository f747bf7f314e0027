"""The contract endpoints over HTTP against the real processes: amend, renew, preview, balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pricing import add_months
from tests.e2e.stack import eventually
from tests.e2e.test_contract_end_to_end import POLL_SECONDS, finalized_usage, months_ago, seed

PROBLEM = "application/problem+json"


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def test_amend_renew_preview_and_balances_over_http(stack) -> None:
    admin, sales = stack.client("admin"), stack.client("sales")
    ingest, reader = stack.client("ingest"), stack.client("reader")
    seed(admin, sales, "api-co")
    start, now = months_ago(2), datetime.now(UTC)
    events = [
        {"transaction_id": f"api-co-{k}", "customer_id": "api-co", "event_type": "inference",
         "timestamp": ts.isoformat(), "properties": {"model": "gpt-4", "tokens": 1000}}
        for k, ts in enumerate([add_months(start, 0) + timedelta(days=1),
                                add_months(start, 1) + timedelta(days=1),
                                now - timedelta(minutes=1)])
    ]
    assert ingest.post("/v1/usage", json=events).json()["accepted"] == 3
    contract = {
        "id": "api-co-1", "customer_id": "api-co", "rate_card_alias": "list",
        "starting_at": start.isoformat(), "ending_before": add_months(start, 12).isoformat(),
        "billing": {"usage_grace_period_hours": 0},
        "commits": [{"id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
                     "access_schedule": [{"amount": "100", "starting_at": start.isoformat(),
                                          "ending_before": add_months(start, 12).isoformat()}],
                     "rollover_fraction": "0.5"}],
    }
    assert sales.post("/v1/contracts", json=contract).status_code == 201
    eventually(lambda: len(finalized_usage(reader, "api-co-1")) >= 2, POLL_SECONDS, "past closes")

    # Bad creates: a different body for the same id, an unknown customer, a product that is not
    # fixed as a scheduled charge, a float amount.
    problem(sales.post("/v1/contracts", json={**contract, "custom_fields": {"x": "y"}}), 409)
    problem(sales.post("/v1/contracts", json={**contract, "id": "x", "customer_id": "ghost"}), 422)
    bad_charge = {**contract, "id": "x2", "scheduled_charges": [
        {"product_id": "tokens", "schedule": [{"amount": "5", "timestamp": now.isoformat()}]}]}
    problem(sales.post("/v1/contracts", json=bad_charge), 422)
    floaty = {**contract, "id": "x3", "commits": [{**contract["commits"][0], "access_schedule": [
        {"amount": 100.5, "starting_at": start.isoformat(),
         "ending_before": add_months(start, 12).isoformat()}]}]}
    assert problem(sales.post("/v1/contracts", json=floaty), 422)["errors"]
    assert reader.get("/v1/contracts/x").status_code == 404

    url = "/v1/contracts/api-co-1/amendments"
    backdated = {"id": "backdated", "effective_at": start.isoformat(),
                 "discounts": [{"type": "percent", "percent": "5"}]}
    assert "finalized" in problem(sales.post(url, json=backdated), 409)["detail"]
    problem(sales.post(url, json={"id": "bad", "effective_at": now.isoformat(),
                                  "end": [{"id": "nothing", "at": now.isoformat()}]}), 422)
    problem(sales.post(url, json={"id": "bad2", "effective_at": now.isoformat(),
                                  "discounts": [{"type": "percent", "percent": "5",
                                                 "product_ids": ["nope"]}]}), 422)
    problem(reader.post(url, json=backdated), 403)
    problem(sales.post("/v1/contracts/ghost/amendments", json=backdated), 404)
    loyalty = {"id": "loyalty", "effective_at": add_months(start, 2).isoformat(),
               "discounts": [{"id": "ten", "type": "percent", "percent": "10"}]}
    first = sales.post(url, json=loyalty)
    assert first.status_code == 201, first.text
    assert first.json()["replayed"] is False
    again = sales.post(url, json=loyalty)
    assert again.status_code == 200
    assert again.json()["replayed"] is True

    draft = reader.get("/v1/contracts/api-co-1/invoices/draft")
    assert draft.status_code == 200, draft.text
    body = draft.json()
    assert (body["status"], body["kind"], body["period_start"][:10]) == (
        "draft", "usage", add_months(start, 2).date().isoformat())
    # 1000 gpt-4 tokens = 30.00, 10% off = 27.00; the commit's last 40.00 pays it.
    assert (body["usage"], body["discounts"], body["commit_applied"], body["total"]) == (
        "30.00", "3.00", "27.00", "0.00")

    balances = reader.get("/v1/contracts/api-co-1/balances").json()["data"]
    (segment,) = balances
    assert (segment["granted"], segment["drawn"], segment["remaining"]) == (
        "100.00", "60.00", "40.00")
    assert sum(Decimal(segment[k]) for k in ("drawn", "expired", "rolled_over", "remaining")) \
        == Decimal(segment["granted"])

    renewal = {"id": "r1", "ending_before": add_months(start, 24).isoformat()}
    renewed = sales.post("/v1/contracts/api-co-1/renewals", json=renewal)
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["id"] == "api-co-1-r1"
    assert sales.post("/v1/contracts/api-co-1/renewals", json=renewal).json()["id"] == "api-co-1-r1"
    problem(sales.post("/v1/contracts/api-co-1/renewals",
                       json={**renewal, "id": "r2"}), 409)
    successor = eventually(lambda: (r := reader.get("/v1/contracts/api-co-1-r1")).status_code
                           == 200 and r.json(), POLL_SECONDS, "the successor's projection")
    assert successor["status"] == "scheduled"
    assert successor["renews"] == "api-co-1"

    contract_view = reader.get("/v1/contracts/api-co-1").json()
    assert contract_view["status"] == "active"
    assert contract_view["renewed_by"] == "api-co-1-r1"
    assert contract_view["amendments"] == ["loyalty"]
    assert contract_view["closed_periods"] == 2
    assert contract_view["current_period"]["start"][:10] == add_months(start, 2).date().isoformat()
