"""The contract workflow on the time-skipping server: a year of closes in seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session

from core.temporal import start_contract_workflow
from models.messages import ContractDetails
from models.terms import ContractTerms
from pricing import add_months
from store import invoices as invoice_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness, record_histories


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


async def test_a_twelve_month_contract_closes_every_month_with_drawdown(
    env, harness: Harness
) -> None:
    start = month_start(await env.get_current_time())
    with Session(harness.engine) as session:
        seed_catalog(session)
        ingest(
            session,
            [
                e
                for k in range(12)
                for e in (
                    event(
                        f"gpt4-{k}",
                        "acme",
                        "inference",
                        add_months(start, k),
                        model="gpt-4",
                        tokens=1000,
                    ),
                    event(
                        f"mini-{k}",
                        "acme",
                        "inference",
                        add_months(start, k),
                        model="mini",
                        tokens=10000,
                    ),
                    event(f"disk-{k}", "acme", "storage", add_months(start, k), gb="100"),
                )
            ],
        )
    terms = ContractTerms.model_validate(
        {
            "id": "year",
            "customer_id": "acme",
            "rate_card_alias": "list",
            "starting_at": start.isoformat(),
            "ending_before": add_months(start, 12).isoformat(),
            "commits": [
                {
                    "id": "prepaid",
                    "type": "prepaid",
                    "product_id": "commit-purchase",
                    "access_schedule": [
                        {
                            "amount": "300",
                            "starting_at": start.isoformat(),
                            "ending_before": add_months(start, 12).isoformat(),
                        }
                    ],
                }
            ],
        }
    )
    handle = await start_contract_workflow(harness.client, terms, harness.task_queue)
    details: ContractDetails = await handle.result()
    await record_histories(harness.client, "contract-year", handle.first_execution_run_id or "",
                           "twelve-months")

    assert details.status == "ended"
    assert details.closed_periods == 12
    with Session(harness.engine) as session:
        invoices = invoice_store.list_invoices(session, "year")
    usage = [i for i in invoices if i.kind == "usage"]
    scheduled = [i for i in invoices if i.kind == "scheduled"]
    assert [i.total for i in scheduled] == [Decimal("300.00")]
    assert len(usage) == 12
    assert all(i.status == "finalized" for i in invoices)
    # 60.00 a month (30.00 gpt-4 + 20.00 mini + 10.00 storage); the 300 commit pays five months.
    assert [i.usage for i in usage] == [Decimal("60.00")] * 12
    assert [i.commit_applied for i in usage] == [Decimal("60.00")] * 5 + [Decimal("0")] * 7
    assert [i.total for i in usage] == [Decimal("0.00")] * 5 + [Decimal("60.00")] * 7
    assert [i.period_start for i in usage] == [add_months(start, k) for k in range(12)]
