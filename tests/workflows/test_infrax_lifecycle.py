"""The InfraX deal from the enterprise-commit-model seed, run for its whole three years.

$500,000 committed over three years (50k/200k/250k of access), paid in two 250,000 instalments;
storage ×0.9 in year 1 and ×0.8 after; in year 2 an amendment adds a 300,000 commit and ×0.85 on
analysis; 5,000 of support in month 3; an on-time renewal rolls over up to 25% of each commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from api.views import balances_view
from core.temporal import start_contract_workflow
from models.messages import (
    QUERY_TERMS,
    UPDATE_AMEND,
    UPDATE_RENEW,
    AmendInput,
    AmendmentResult,
    ContractDetails,
    RenewInput,
    RenewResult,
)
from models.terms import Amendment, ContractTerms, RenewalTerms
from pricing import add_months
from store import contracts as contract_store
from store import invoices as invoice_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness, record_histories

D = Decimal


def infrax_terms(t0: datetime) -> ContractTerms:
    def iso(months: int) -> str:
        return add_months(t0, months).isoformat()

    return ContractTerms.model_validate(
        {
            "id": "infrax",
            "customer_id": "acme",
            "rate_card_alias": "list",
            "starting_at": iso(0),
            "ending_before": iso(36),
            "commits": [
                {
                    "id": "commit-500k",
                    "type": "prepaid",
                    "product_id": "commit-purchase",
                    "access_schedule": [
                        {"amount": "50000", "starting_at": iso(0), "ending_before": iso(12)},
                        {"amount": "200000", "starting_at": iso(12), "ending_before": iso(24)},
                        {"amount": "250000", "starting_at": iso(24), "ending_before": iso(36)},
                    ],
                    "invoice_schedule": [
                        {"amount": "250000", "timestamp": iso(0)},
                        {"amount": "250000", "timestamp": iso(24)},
                    ],
                    "rollover_fraction": "0.25",
                }
            ],
            "overrides": [
                {
                    "id": "storage-y1",
                    "type": "multiplier",
                    "multiplier": "0.9",
                    "product_tags": ["storage"],
                    "starting_at": iso(0),
                    "ending_before": iso(12),
                },
                {
                    "id": "storage-y2",
                    "type": "multiplier",
                    "multiplier": "0.8",
                    "product_tags": ["storage"],
                    "starting_at": iso(12),
                },
            ],
            "scheduled_charges": [
                {
                    "id": "support",
                    "product_id": "support",
                    "schedule": [{"amount": "5000", "timestamp": iso(2)}],
                }
            ],
            "custom_fields": {"sfdc_opportunity_id": "opp_id_01"},
        }
    )


def upsell(t0: datetime) -> Amendment:
    return Amendment.model_validate(
        {
            "id": "upsell-2025",
            "effective_at": add_months(t0, 12).isoformat(),
            "commits": [
                {
                    "id": "commit-300k",
                    "type": "prepaid",
                    "product_id": "commit-purchase",
                    "access_schedule": [
                        {
                            "amount": "300000",
                            "starting_at": add_months(t0, 12).isoformat(),
                            "ending_before": add_months(t0, 36).isoformat(),
                        }
                    ],
                    "invoice_schedule": [
                        {"amount": "300000", "timestamp": add_months(t0, 12).isoformat()}
                    ],
                    "rollover_fraction": "0.25",
                }
            ],
            "overrides": [
                {
                    "id": "analysis-85",
                    "type": "multiplier",
                    "multiplier": "0.85",
                    "product_tags": ["analysis"],
                }
            ],
        }
    )


def monthly_usage(t0: datetime) -> list[Any]:
    events = []
    for k in range(36):
        day = add_months(t0, k) + timedelta(days=1)
        events.append(
            event(f"disk-{k}", "acme", "storage", day, gb="30000" if k < 12 else "100000")
        )
        if k >= 12:
            events += [event(f"job-{k}-{j}", "acme", "analysis", day) for j in range(1000)]
    return events


async def test_infrax_three_years_with_upsell_and_renewal(env, harness: Harness) -> None:
    now = await env.get_current_time()
    t0 = datetime(now.year, now.month, 1, tzinfo=UTC)
    with Session(harness.engine) as session:
        seed_catalog(session)
        ingest(session, monthly_usage(t0))
    handle = await start_contract_workflow(harness.client, infrax_terms(t0), harness.task_queue)

    # A year in, before month 12 closes, sales amends the contract and renews it on time.
    await env.sleep(add_months(t0, 12) + timedelta(hours=1) - await env.get_current_time())
    amended = await handle.execute_update(
        UPDATE_AMEND, AmendInput(amendment=upsell(t0)), result_type=AmendmentResult
    )
    assert amended.amendment_id == "upsell-2025"
    assert not amended.replayed
    again = await handle.execute_update(
        UPDATE_AMEND, AmendInput(amendment=upsell(t0)), result_type=AmendmentResult
    )
    assert again.replayed
    assert again.applied_at == amended.applied_at
    renewal = RenewalTerms.model_validate(
        {"id": "renewal-1", "ending_before": add_months(t0, 48).isoformat()}
    )
    renewed = await handle.execute_update(
        UPDATE_RENEW, RenewInput(renewal=renewal), result_type=RenewResult
    )
    assert renewed.successor_contract_id == "infrax-renewal-1"

    details: ContractDetails = await handle.result()

    await record_histories(harness.client, "contract-infrax", handle.first_execution_run_id or "",

                           "infrax")
    assert details.status == "renewed"
    assert details.closed_periods == 36

    with Session(harness.engine) as session:
        invoices = invoice_store.list_invoices(session, "infrax")
        balances = {
            b["segment_id"]: b
            for b in balances_view(session, contract_store.get_contract(session, "infrax"))
        }

    scheduled = [(i.issued_at, i.total) for i in invoices if i.kind == "scheduled"]
    assert scheduled == [
        (add_months(t0, 0), D("250000.00")),
        (add_months(t0, 2), D("5000.00")),
        (add_months(t0, 12), D("300000.00")),
        (add_months(t0, 24), D("250000.00")),
    ]
    usage = [i for i in invoices if i.kind == "usage"]
    assert len(usage) == 36
    # Year 1: 30,000 GB × 0.10 × 0.9. Years 2–3: 100,000 GB × 0.10 × 0.8 + 1,000 jobs × 2.50 × 0.85.
    assert [i.usage for i in usage] == [D("2700.00")] * 12 + [D("10125.00")] * 24
    assert all(i.commit_applied == i.usage and i.total == 0 for i in usage)

    for segment_id, b in balances.items():
        granted = D(b["granted"])
        parts = D(b["drawn"]) + D(b["expired"]) + D(b["rolled_over"]) + D(b["remaining"])
        assert granted == parts, segment_id
    assert {
        k: (b["drawn"], b["expired"], b["rolled_over"], b["remaining"]) for k, b in balances.items()
    } == {
        "commit-500k:0": ("32400.00", "17600.00", "0.00", "0.00"),
        "commit-500k:1": ("121500.00", "78500.00", "0.00", "0.00"),
        "commit-500k:2": ("0.00", "125000.00", "125000.00", "0.00"),
        "commit-300k:0": ("121500.00", "103500.00", "75000.00", "0.00"),
    }

    successor = harness.client.get_workflow_handle("contract-infrax-renewal-1")
    terms: ContractTerms = await successor.query(QUERY_TERMS, result_type=ContractTerms)
    rolled = {c.id: c.access_schedule for c in terms.commits}
    assert {
        k: [(i.amount, i.starting_at, i.ending_before) for i in v] for k, v in rolled.items()
    } == {
        "rollover-commit-500k": [(D("125000.00"), add_months(t0, 36), add_months(t0, 48))],
        "rollover-commit-300k": [(D("75000.00"), add_months(t0, 36), add_months(t0, 48))],
    }
    await successor.terminate("test over")
