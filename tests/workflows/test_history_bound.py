"""A thousand amendments in one period keep every run's history small."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from core.temporal import start_contract_workflow
from models.messages import QUERY_TERMS, UPDATE_AMEND, AmendInput, AmendmentResult
from models.terms import Amendment, ContractTerms
from pricing import add_months
from store import invoices as invoice_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness, run_histories

AMENDMENTS = 1_000
MAX_EVENTS = 4_096
MAX_BYTES = 2 * 1024 * 1024


async def test_a_thousand_amendments_in_one_period(env, harness: Harness) -> None:
    now = await env.get_current_time()
    t0 = datetime(now.year, now.month, 1, tzinfo=UTC)
    with Session(harness.engine) as session:
        seed_catalog(session)
        # Late in the month, so the amendments (effective now) are in force when it happens.
        ingest(
            session,
            [
                event(
                    "t",
                    "acme",
                    "inference",
                    add_months(t0, 1) - timedelta(hours=1),
                    model="gpt-4",
                    tokens=1000,
                )
            ],
        )
    terms = ContractTerms.model_validate(
        {
            "id": "busy",
            "customer_id": "acme",
            "rate_card_alias": "list",
            "starting_at": t0.isoformat(),
            "ending_before": add_months(t0, 1).isoformat(),
            "billing": {"usage_grace_period_hours": 0},
        }
    )
    handle = await start_contract_workflow(harness.client, terms, harness.task_queue)
    effective = max(await env.get_current_time(), t0).isoformat()

    async def amend(n: int) -> AmendmentResult:
        multiplier = "0.5" if n == AMENDMENTS - 1 else "1.0"
        amendment = Amendment.model_validate(
            {
                "id": f"a{n:04d}",
                "effective_at": effective,
                "overrides": [
                    {
                        "id": f"o{n:04d}",
                        "type": "multiplier",
                        "multiplier": multiplier,
                        "product_ids": ["tokens"],
                    }
                ],
            }
        )
        return await handle.execute_update(
            UPDATE_AMEND, AmendInput(amendment=amendment), result_type=AmendmentResult
        )

    for batch in range(0, AMENDMENTS, 50):
        results = await asyncio.gather(*(amend(n) for n in range(batch, batch + 50)))
        assert all(r.accepted for r in results)
    live = await harness.client.get_workflow_handle("contract-busy").query(
        QUERY_TERMS, result_type=ContractTerms
    )
    assert len(live.overrides) == AMENDMENTS
    await handle.result()

    histories = await run_histories(
        harness.client, "contract-busy", handle.first_execution_run_id or ""
    )
    runs = [(len(h.events), sum(e.ByteSize() for e in h.events)) for h in histories]
    assert len(runs) > 1, runs
    assert all(events < MAX_EVENTS and size < MAX_BYTES for events, size in runs), runs

    with Session(harness.engine) as session:
        (invoice,) = invoice_store.list_invoices(session, "busy")
    # Every amendment counted: the smallest multiplier (the last one, 0.5) priced the month.
    assert invoice.total == Decimal("15.00")
