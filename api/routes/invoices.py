"""Invoices as stored: a contract's list (oldest first) and one invoice with its lines."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.auth import require
from api.deps import SessionDep
from api.views import LINE_MONEY_FIELDS, MONEY_FIELDS, in_minor_units
from models.api import InvoiceLineOut, InvoiceList, InvoiceOut, InvoiceTotals, problem_responses
from store import contracts as contract_store
from store import invoices as invoice_store
from store.errors import NotFound

router = APIRouter(prefix="/v1", tags=["invoices"])


def invoice_out(view: invoice_store.InvoiceView) -> InvoiceOut:
    cur = view.currency
    totals = InvoiceTotals(**in_minor_units(view, MONEY_FIELDS, cur))
    lines = [
        InvoiceLineOut(**{**vars(line), **in_minor_units(line, LINE_MONEY_FIELDS, cur)})
        for line in view.lines
    ]
    return InvoiceOut(
        id=view.id, contract_id=view.contract_id, customer_id=view.customer_id, key=view.key,
        kind=view.kind, status=view.status, period_start=view.period_start,
        period_end=view.period_end, issued_at=view.issued_at, due_at=view.due_at,
        finalized_at=view.finalized_at, currency=cur,
        totals=totals, **totals.model_dump(), lines=lines,
    )


@router.get(
    "/contracts/{contract_id}/invoices",
    response_model=InvoiceList,
    responses=problem_responses(401, 403, 404),
    dependencies=[Depends(require("reader"))],
    summary="The contract's invoices, oldest first (without lines; read one for its lines)",
)
def contract_invoices(contract_id: str, session: SessionDep) -> InvoiceList:
    invoices = invoice_store.list_invoices(session, contract_id)
    if not invoices and contract_store.get_contract(session, contract_id) is None:
        raise NotFound(f"no contract {contract_id!r}")
    return InvoiceList(data=[invoice_out(view) for view in invoices])


@router.get(
    "/invoices/{invoice_id}",
    response_model=InvoiceOut,
    responses=problem_responses(401, 403, 404),
    dependencies=[Depends(require("reader"))],
    summary="One invoice with its lines, their explanations and the totals",
)
def get_invoice(invoice_id: str, session: SessionDep) -> InvoiceOut:
    return invoice_out(invoice_store.get_invoice(session, invoice_id))
