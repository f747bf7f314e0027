"""Spend alerts on the time-skipping server: months of daily checks, one firing per crossing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from core.config import Settings
from core.temporal import start_contract_workflow
from models.terms import ContractTerms
from pricing import add_months
from store import alerts as alert_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness

MONTHS = 6


async def test_a_balance_below_alert_fires_once_as_the_commit_runs_down(
    env, harness: Harness
) -> None:
    now = await env.get_current_time()
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    with Session(harness.engine) as session:
        seed_catalog(session)
        # 60.00 a month: 1,000 gpt-4 tokens (30.00), 10,000 mini tokens (20.00), 100 GB (10.00).
        ingest(session, [
            e
            for k in range(MONTHS)
            for e in (
                event(f"gpt4-{k}", "acme", "inference", add_months(start, k), model="gpt-4",
                      tokens=1000),
                event(f"mini-{k}", "acme", "inference", add_months(start, k), model="mini",
                      tokens=10000),
                event(f"disk-{k}", "acme", "storage", add_months(start, k), gb="100"),
            )
        ])
    end = add_months(start, MONTHS)
    terms = ContractTerms.model_validate({
        "id": "runs-down", "customer_id": "acme", "rate_card_alias": "list",
        "starting_at": start.isoformat(), "ending_before": end.isoformat(),
        "commits": [{
            "id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
            "access_schedule": [{"amount": "300", "starting_at": start.isoformat(),
                                 "ending_before": end.isoformat()}],
        }],
        # The alert ends with the contract: the workflow schedules its end only once no alert
        # is watched (see the report on workflows/contract.py `_next_action`).
        "alerts": [{"id": "low", "type": "balance_below", "threshold": "100",
                    "ending_before": end.isoformat()}],
    })
    handle = await start_contract_workflow(harness.client, terms, harness.task_queue)
    details = await handle.result()
    assert details.closed_periods == MONTHS

    with Session(harness.engine) as session:
        firings = alert_store.list_firings(session, "runs-down")
    # Months 0–2 leave 120; month 3's usage to date takes it to 60, under 100. It then stays
    # under (0 from month 5 on), so the alert never re-arms: one firing in six months.
    assert [(f.crossing_key, f.payload["observed"]) for f in firings] == [("low:1", "60.00")]
    crossed = firings[0].fired_at
    assert add_months(start, 3) <= crossed < add_months(start, 3) + timedelta(days=2)

    settings = Settings(database_url=str(harness.engine.url), api_keys="k-reader:reader")
    with TestClient(create_app(settings)) as api:
        answer = api.get("/v1/contracts/runs-down/alerts",
                         headers={"Authorization": "Bearer k-reader"})
        assert answer.status_code == 200, answer.text
        (listed,) = answer.json()["data"]
        assert (listed["alert_id"], listed["type"], listed["threshold"], listed["observed"]) == (
            "low", "balance_below", "100", "60.00")
        assert (listed["crossing"], listed["cleared_at"], listed["deliveries"]) == (1, None, [])
        missing = api.get("/v1/contracts/nope/alerts",
                          headers={"Authorization": "Bearer k-reader"})
        assert missing.status_code == 404
