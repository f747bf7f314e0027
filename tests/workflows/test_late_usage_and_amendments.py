"""Late usage becomes a correction on the next invoice; amendments cannot touch invoiced periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.temporal import start_contract_workflow
from models.messages import UPDATE_AMEND, AmendInput, AmendmentResult
from models.terms import Amendment, ContractTerms
from pricing import add_months
from store import invoices as invoice_store
from tests.factories import event, ingest, seed_catalog
from tests.workflows.conftest import Harness, record_histories

D = Decimal


async def amend(handle, body: dict) -> AmendmentResult:
    return await handle.execute_update(
        UPDATE_AMEND, AmendInput(amendment=Amendment.model_validate(body)),
        result_type=AmendmentResult)


def cause_type(exc: WorkflowUpdateFailedError) -> str | None:
    cause = exc.cause
    return cause.type if isinstance(cause, ApplicationError) else None


async def test_late_usage_is_corrected_and_backdated_amendments_refused(env, harness: Harness):
    now = await env.get_current_time()
    t0 = datetime(now.year, now.month, 1, tzinfo=UTC)

    def month(k: int) -> datetime:
        return add_months(t0, k)

    with Session(harness.engine) as session:
        seed_catalog(session)
        ingest(session, [event(f"m{k}", "acme", "inference", month(k) + timedelta(days=2),
                               model="gpt-4", tokens=1000) for k in range(3)])
    terms = ContractTerms.model_validate({
        "id": "late", "customer_id": "acme", "rate_card_alias": "list",
        "starting_at": t0.isoformat(), "ending_before": month(3).isoformat(),
        "billing": {"usage_grace_period_hours": 0},
        "discounts": [{"id": "launch", "type": "percent", "percent": "50",
                       "ending_before": month(1).isoformat()}],
    })
    handle = await start_contract_workflow(harness.client, terms, harness.task_queue)
    await env.sleep(month(1) + timedelta(hours=1) - await env.get_current_time())

    # Month 0 is invoiced; 500 more tokens for it arrive now.
    with Session(harness.engine) as session:
        ingest(session, [event("m0-late", "acme", "inference", month(0) + timedelta(days=9),
                               model="gpt-4", tokens=500)])

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await amend(handle, {"id": "backdated", "effective_at": month(0).isoformat(),
                             "discounts": [{"type": "percent", "percent": "5"}]})
    assert cause_type(refused.value) == "Conflict"
    with pytest.raises(WorkflowUpdateFailedError) as invalid:
        await amend(handle, {"id": "bad-end", "effective_at": month(1).isoformat(),
                             "end": [{"id": "no-such-thing", "at": month(2).isoformat()}]})
    assert cause_type(invalid.value) == "Invalid"
    accepted = await amend(handle, {"id": "loyalty", "effective_at": month(1).isoformat(),
                                    "discounts": [{"type": "percent", "percent": "10"}]})
    assert accepted.accepted
    await handle.result()
    await record_histories(harness.client, "contract-late", handle.first_execution_run_id or "",
                           "late-usage-amendments")

    with Session(harness.engine) as session:
        usage = [i for i in invoice_store.list_invoices(session, "late") if i.kind == "usage"]
        month1 = invoice_store.get_invoice(session, usage[1].id)
    # Month 0: 30.00 at 50% off. Month 1: 30.00 + the late 15.00 (rated at its own time, with no
    # launch discount because that is month 0's), both 10% off under the amendment.
    assert [(i.usage, i.corrections, i.discounts, i.total) for i in usage] == [
        (D("30.00"), D("0"), D("15.00"), D("15.00")),
        (D("30.00"), D("15.00"), D("4.50"), D("40.50")),
        (D("30.00"), D("0"), D("3.00"), D("27.00")),
    ]
    correction = [line for line in month1.lines if line.type == "correction"]
    assert [(c.product_id, c.quantity, c.amount) for c in correction] == [
        ("tokens", D("500"), D("15.00"))]
