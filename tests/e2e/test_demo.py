"""`make demo` against the real stack: everything the README's five-minute tour promises exists."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scripts import demo, demo_deal
from tests.e2e.stack import Stack


def workflow_ids(stack: Stack, query: str) -> set[str]:
    """Workflows the Temporal UI would list for this query (running ones: the latest run)."""
    found = stack.temporal.cli("workflow", "list", "--query", f"{query} AND ExecutionStatus="
                               "'Running'") or []
    return {w["execution"]["workflowId"] for w in found}


def sla_credit_segments(invoice: dict[str, Any]) -> set[str]:
    return {s for line in invoice["lines"] for s in line["references"]["credit_segments"]
            if s.startswith("sla:")}


@pytest.fixture(scope="module")
def tour(stack: Stack) -> dict[str, Any]:
    argv = ["--api-url", stack.base_url, "--api-keys", stack.env["API_KEYS"], "--timeout", "150",
            "--temporal-ui", stack.temporal.ui_url]
    first = demo.run(argv)
    second = demo.run(argv)
    return {"first": first, "second": second, "now": datetime.now(UTC)}


def test_infrax_has_dozens_of_invoices_with_the_scheduled_totals(stack, tour) -> None:
    reader = stack.client("reader")
    invoices = reader.get(f"/v1/contracts/{demo_deal.INFRAX}/invoices").json()["data"]
    usage = [i for i in invoices if i["kind"] == "usage" and i["status"] == "finalized"]
    assert len(usage) == demo.expected_closes(demo_deal.T2024, demo_deal.T2027, tour["now"]) >= 30
    scheduled = [(i["issued_at"][:10], i["total"]) for i in invoices if i["kind"] == "scheduled"]
    assert scheduled == [("2024-01-01", "250000.00"), ("2024-03-01", "5000.00"),
                         ("2025-01-01", "300000.00"), ("2026-01-01", "250000.00")]
    # The prepaid commit pays storage and analysis; AI tokens are billed as used.
    assert all(Decimal(i["commit_applied"]) > 0 for i in usage)
    assert any(Decimal(i["total"]) > 0 for i in usage)


def test_the_live_amendment_is_accepted_once(stack, tour) -> None:
    assert tour["first"]["amendment"]["status"] == 201
    assert tour["second"]["amendment"]["status"] == 200
    assert tour["second"]["amendment"]["replayed"] is True
    contract = stack.client("reader").get(f"/v1/contracts/{demo_deal.INFRAX}").json()
    assert "ai-launch-10" in {d["id"] for d in contract["terms"]["discounts"]}


def test_an_sla_credit_is_applied(stack, tour) -> None:
    reader = stack.client("reader")
    draft = reader.get(f"/v1/contracts/{demo_deal.INFRAX}/invoices/draft").json()
    segments = sla_credit_segments(draft)
    assert segments, draft["totals"]
    assert Decimal(draft["credits_applied"]) > 0
    assert tour["first"]["draft_sla_segments"] == sorted(segments)


def test_nimbus_rolled_its_unused_commit_into_the_successor(stack, tour) -> None:
    reader = stack.client("reader")
    before = reader.get(f"/v1/contracts/{demo_deal.NIMBUS_2025}/balances").json()["data"]
    rolled = [e for s in before for e in s["entries"] if e["kind"] == "rollover"]
    assert len(rolled) == 1
    amount = Decimal(rolled[0]["amount"])
    assert Decimal(0) < amount <= Decimal("15000")  # 25% of the 60,000 commit at most
    after = reader.get(f"/v1/contracts/{demo_deal.NIMBUS_2026}/balances").json()["data"]
    [segment] = [s for s in after if s["segment_id"] == tour["first"]["rollover"]["segment_id"]]
    assert Decimal(segment["granted"]) == amount
    predecessor = reader.get(f"/v1/contracts/{demo_deal.NIMBUS_2025}").json()
    assert (predecessor["status"], predecessor["renewed_by"]) == ("renewed", demo_deal.NIMBUS_2026)


def test_contracts_are_findable_by_customer_and_status(stack, tour) -> None:
    assert workflow_ids(stack, 'CustomerId="customer-x"') == {f"contract-{demo_deal.INFRAX}"}
    assert workflow_ids(stack, 'CustomerId="nimbus"') == {f"contract-{demo_deal.NIMBUS_2026}"}
    active = workflow_ids(stack, 'ContractStatus="active"')
    assert {f"contract-{demo_deal.INFRAX}", f"contract-{demo_deal.NIMBUS_2026}"} <= active
    ended = stack.temporal.cli("workflow", "list", "--query",
                               'CustomerId="nimbus" AND ContractStatus="renewed"') or []
    assert f"contract-{demo_deal.NIMBUS_2025}" in {w["execution"]["workflowId"] for w in ended}


def test_running_the_demo_twice_changes_nothing(stack, tour) -> None:
    again = tour["second"]
    assert again["usage"]["accepted"] == 0
    assert again["usage"]["duplicates"] == again["usage"]["events"]
    assert again["infrax_invoices"] == tour["first"]["infrax_invoices"]
    assert again["rollover"] == tour["first"]["rollover"]
