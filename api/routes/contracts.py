"""Contracts: provision (starts the workflow), read, amend, renew, preview, balances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.context import load_context, price_period
from api.auth import require
from api.contract_service import (
    call_workflow,
    check_amendment_catalog,
    check_catalog,
    check_products,
    handle_for,
    require_contract,
)
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import Conflict, Unprocessable
from api.views import balances_view, contract_view, invoice_view
from core.temporal import start_contract_workflow
from models.messages import (
    QUERY_DETAILS,
    QUERY_STATE,
    QUERY_TERMS,
    UPDATE_AMEND,
    UPDATE_RENEW,
    AmendInput,
    AmendmentResult,
    ContractDetails,
    RenewInput,
    RenewResult,
    workflow_id,
)
from models.terms import Amendment, ContractTerms, RenewalTerms
from pricing import billing_periods
from store import contracts as contract_store
from store.idempotent import same_body
from workflows.state import ContractState

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])


async def release(session: Session) -> None:
    """End the request's transaction before waiting on a workflow: the workflow's activities
    write to the same database, and SQLite lets one writer in at a time."""
    await run_in_threadpool(session.rollback)


@router.post("", status_code=201, dependencies=[Depends(require("sales"))])
async def create_contract(
    terms: ContractTerms,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Provision a contract: store its terms and start workflow `contract-<id>`."""
    if terms.renews is not None:
        raise Unprocessable(
            "renews is set by the product when a contract is renewed",
            errors=[{"loc": ["body", "renews"], "msg": "not accepted on create"}],
        )
    terms = await run_in_threadpool(check_catalog, session, terms)
    existing = await run_in_threadpool(contract_store.get_contract, session, terms.id)
    if existing is not None:
        if not same_body(existing.request, terms):
            raise Conflict(f"contract {terms.id!r} already exists with different terms")
        response.status_code = 200
    else:
        status = "active" if terms.starting_at <= datetime.now(UTC) else "scheduled"
        await run_in_threadpool(
            contract_store.save_projection, session, terms, status=status, request=terms
        )
    try:
        await start_contract_workflow(
            client,
            terms,
            settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran to its end already; the contract exists
    await run_in_threadpool(session.commit)
    row = await run_in_threadpool(require_contract, session, terms.id)
    return {"id": terms.id, "workflow_id": workflow_id(terms.id), "status": row.status}


@router.get("/{contract_id}", dependencies=[Depends(require("reader"))])
async def get_contract(
    contract_id: str, session: SessionDep, client: TemporalDep
) -> dict[str, Any]:
    """Terms, status, the current period and a balances summary."""
    row = await run_in_threadpool(require_contract, session, contract_id)
    await release(session)
    details: ContractDetails | None
    try:
        details = await handle_for(client, contract_id).query(
            QUERY_DETAILS, result_type=ContractDetails
        )
    except Exception:  # an ended workflow past retention, or Temporal away: the projection answers
        details = None
    balances = await run_in_threadpool(balances_view, session, row)
    return contract_view(row, details, balances)


@router.post("/{contract_id}/amendments", dependencies=[Depends(require("sales"))])
async def amend_contract(
    contract_id: str,
    amendment: Amendment,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
) -> AmendmentResult:
    """Apply an amendment through a workflow update: accepted, 409 or 422 at once."""
    await run_in_threadpool(require_contract, session, contract_id)
    await run_in_threadpool(check_amendment_catalog, session, amendment)
    await release(session)
    handle = handle_for(client, contract_id)
    result: AmendmentResult = await call_workflow(
        lambda: handle.execute_update(
            UPDATE_AMEND, AmendInput(amendment=amendment), result_type=AmendmentResult
        ),
        contract_id,
    )
    response.status_code = 200 if result.replayed else 201
    return result


@router.post("/{contract_id}/renewals", status_code=201, dependencies=[Depends(require("sales"))])
async def renew_contract(
    contract_id: str,
    renewal: RenewalTerms,
    session: SessionDep,
    client: TemporalDep,
) -> dict[str, Any]:
    """Renew: the successor's workflow starts now and takes the rollover at this one's end."""
    await run_in_threadpool(require_contract, session, contract_id)
    errors = await run_in_threadpool(check_products, session, renewal, ("body",))
    if errors:
        raise Unprocessable("the renewal refers to products that do not exist", errors=errors)
    await release(session)
    handle = handle_for(client, contract_id)
    result: RenewResult = await call_workflow(
        lambda: handle.execute_update(
            UPDATE_RENEW, RenewInput(renewal=renewal), result_type=RenewResult
        ),
        contract_id,
    )
    return {"id": result.successor_contract_id, **result.model_dump(mode="json")}


@router.get("/{contract_id}/invoices/draft", dependencies=[Depends(require("reader"))])
async def draft_invoice(
    contract_id: str, session: SessionDep, client: TemporalDep
) -> dict[str, Any]:
    """What the open period's close would produce if no more usage or incidents arrived."""
    await run_in_threadpool(require_contract, session, contract_id)
    await release(session)
    handle = handle_for(client, contract_id)
    terms = await call_workflow(
        lambda: handle.query(QUERY_TERMS, result_type=ContractTerms), contract_id
    )
    state = await call_workflow(
        lambda: handle.query(QUERY_STATE, result_type=ContractState), contract_id
    )
    periods = billing_periods(terms.starting_at, terms.ending_before, terms.billing.cycle)
    if state.closed_periods >= len(periods):
        raise Conflict(f"contract {contract_id!r} has no open period: every period is invoiced")
    period = periods[state.closed_periods]

    def preview() -> dict[str, Any]:
        ctx = load_context(session, terms)
        priced = price_period(
            session,
            ctx,
            period,
            extra_segments=state.sla_segments,
            discount_first_period=state.discount_first_period,
        )
        return invoice_view(priced, contract_id=contract_id, customer_id=terms.customer_id)

    return await run_in_threadpool(preview)


@router.get("/{contract_id}/balances", dependencies=[Depends(require("reader"))])
def get_balances(contract_id: str, session: SessionDep) -> dict[str, Any]:
    """Commits and credits per segment, with their ledger entries."""
    row = require_contract(session, contract_id)
    return {"data": balances_view(session, row)}
