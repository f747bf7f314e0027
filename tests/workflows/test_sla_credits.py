"""SLA credits at each close, from incidents stored by the API, on the time-skipping server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from core.temporal import start_contract_workflow
from models.terms import ContractTerms
from pricing import add_months
from pricing.types import Incident
from store import invoices as invoice_store
from store import slo as slo_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness, record_histories

D = Decimal
TIERS = [{"below": "99.9", "percent": "10"}, {"below": "99.0", "percent": "25"},
         {"below": "95.0", "percent": "100"}]


def incident(ident: str, start: datetime, hours: float | None) -> Incident:
    end = None if hours is None else start + timedelta(hours=hours)
    return Incident(incident_id=ident, sla_id="uptime", started_at=start, resolved_at=end)


async def test_sla_credits_per_tier_across_boundaries_and_after_finalization(
    env, harness: Harness
) -> None:
    now = await env.get_current_time()
    t0 = datetime(now.year, now.month, 1, tzinfo=UTC)

    def month(k: int) -> datetime:
        return add_months(t0, k)

    with Session(harness.engine) as session:
        seed_catalog(session)
        ingest(session, [event(f"u{k}", "acme", "inference", month(k) + timedelta(days=3),
                               model="gpt-4", tokens=1000) for k in range(7)])
        for item in (
            incident("one-hour", month(0) + timedelta(days=5), 1),            # ≈99.86%: 10%
            incident("half-day", month(1) + timedelta(days=5), 12),           # ≈98.3%: 25%
            incident("overlap", month(1) + timedelta(days=5, hours=6), 2),    # inside the half day
            incident("boundary", month(3) - timedelta(hours=24), 48),         # 24 h each side: 25%
            incident("total-outage", month(6), None),                         # open: 0% → 100%
        ):
            slo_store.upsert_incident(session, "sla-co", item, source="test")
        session.commit()
    terms = ContractTerms.model_validate({
        "id": "sla-co", "customer_id": "acme", "rate_card_alias": "list",
        "starting_at": t0.isoformat(), "ending_before": month(7).isoformat(),
        "billing": {"usage_grace_period_hours": 0},
        "sla": [{"id": "uptime", "product_ids": ["tokens"], "credit_tiers": TIERS}],
    })
    handle = await start_contract_workflow(harness.client, terms, harness.task_queue)

    # After month 4 is invoiced, an incident for it arrives: it is credited at month 5's close.
    await env.sleep(month(5) + timedelta(hours=1) - await env.get_current_time())
    with Session(harness.engine) as session:
        slo_store.upsert_incident(session, "sla-co",
                                  incident("late", month(4) + timedelta(days=2), 1),
                                  source="test")
        session.commit()
    await handle.result()
    await record_histories(harness.client, "contract-sla-co", handle.first_execution_run_id or "",
                           "sla-credits")

    with Session(harness.engine) as session:
        usage = [i for i in invoice_store.list_invoices(session, "sla-co") if i.kind == "usage"]
        lines = invoice_store.get_invoice(session, usage[5].id).lines
    assert [i.usage for i in usage] == [D("30.00")] * 7
    # 10% of 30.00; 25%; 25% on both sides of the boundary; nothing; the late 10% for month 4
    # lands on month 5; the open outage takes all of month 6.
    assert [i.credits_applied for i in usage] == [
        D("3.00"), D("7.50"), D("7.50"), D("7.50"), D("0"), D("3.00"), D("30.00")]
    assert [i.total for i in usage] == [
        D("27.00"), D("22.50"), D("22.50"), D("22.50"), D("30.00"), D("27.00"), D("0.00")]
    assert any("sla:uptime:4" in str(line.details) + str(line.references) for line in lines)
