"""Invoices are written once; the ledger keeps each key once; balances sum exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.db import InvoiceLineRow, InvoiceRow
from pricing.types import LedgerEntry, PricedInvoice, PricedLine, Totals
from store import invoices, ledger

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
D = Decimal


def line(amount: str, *, type_: str = "usage", period: datetime | None = None,
         product: str = "tok") -> PricedLine:
    return PricedLine(
        type=type_, product_id=product, product_name="Tokens", dimensions={"model": "gpt"},
        quantity=D("1000.5"), unit_price=D("0.0021"), amount=D(amount), tax=D("0.10"),
        total=D(amount) + D("0.10"), explanation=f"1000.5 × 0.0021 = {amount}",
        details={"rate": D("0.0021")},
        references={"period_start": period.isoformat()} if period else {},
    )


def invoice(key: str, start: datetime, end: datetime, *lines: PricedLine,
            kind: str = "usage") -> PricedInvoice:
    usage = sum((item.amount for item in lines), D(0))
    return PricedInvoice(
        key=key, kind=kind, currency="USD", period_start=start, period_end=end,
        issued_at=end, due_at=end + timedelta(days=30), lines=lines,
        totals=Totals(usage=usage, corrections=D(0), discounts=D(0), commit_applied=D(0),
                      tax=D("0.10"), credits_applied=D(0), total=usage + D("0.10")),
    )


def test_save_is_idempotent_and_exact(session: Session) -> None:
    jan = invoice("usage-2025-01", JAN, FEB, line("2.10"), line("0.000000000001"))
    first = invoices.save_invoice(session, contract_id="c1", customer_id="acme", invoice=jan)
    session.commit()
    again = invoices.save_invoice(session, contract_id="c1", customer_id="acme", invoice=jan)
    assert again == first
    assert first == invoices.invoice_id_for("c1", "usage-2025-01")
    assert session.scalar(select(func.count()).select_from(InvoiceLineRow)) == 2
    stored = invoices.get_invoice(session, first)
    assert stored.usage == D("2.100000000001")
    assert stored.lines[0].details == {"rate": "0.0021"}
    assert stored.lines[1].amount == D("0.000000000001")
    assert stored.period_start == JAN
    assert stored.status == "draft"


def test_one_usage_invoice_per_period(session: Session) -> None:
    jan = invoice("usage-2025-01", JAN, FEB, line("2.10"))
    first = invoices.save_invoice(session, contract_id="c1", customer_id="acme", invoice=jan)
    other_key = jan.model_copy(update={"key": "usage-2025-01-retry", "lines": ()})
    assert invoices.save_invoice(
        session, contract_id="c1", customer_id="acme", invoice=other_key) == first
    assert session.scalar(select(func.count()).select_from(InvoiceRow)) == 1
    nested = session.begin_nested()
    session.add(InvoiceRow(
            id="inv_x", contract_id="c1", customer_id="acme", key="k2", kind="usage",
            status="draft", period_start=JAN, period_end=FEB, issued_at=FEB, due_at=FEB,
            currency="USD", usage=D(0), corrections=D(0), discounts=D(0), commit_applied=D(0),
            tax=D(0), credits_applied=D(0), total=D(0), created_at=FEB))
    with pytest.raises(IntegrityError):  # the constraint itself holds
        session.flush()
    nested.rollback()


def test_finalized_invoice_never_changes(session: Session) -> None:
    jan = invoice("usage-2025-01", JAN, FEB, line("2.10"))
    invoice_id = invoices.save_invoice(session, contract_id="c1", customer_id="acme",
                                       invoice=jan, status="draft")
    view, changed = invoices.finalize_invoice(session, invoice_id, at=FEB)
    assert changed
    assert view.status == "finalized"
    view, changed = invoices.finalize_invoice(session, invoice_id, at=MAR)
    assert not changed
    assert view.finalized_at == FEB
    bigger = invoice("usage-2025-01", JAN, FEB, line("99.00"))
    invoices.save_invoice(session, contract_id="c1", customer_id="acme", invoice=bigger,
                          status="finalized")
    assert invoices.get_invoice(session, invoice_id).usage == D("2.10")


def test_list_and_invoiced_lines(session: Session) -> None:
    feb = invoice("usage-2025-02", FEB, MAR, line("5.00"),
                  line("0.42", type_="correction", period=JAN))
    jan = invoice("usage-2025-01", JAN, FEB, line("2.10"))
    for priced in (feb, jan):
        invoices.save_invoice(session, contract_id="c1", customer_id="acme", invoice=priced)
    invoices.save_invoice(session, contract_id="c2", customer_id="acme", invoice=jan)
    assert [v.key for v in invoices.list_invoices(session, "c1")] == [
        "usage-2025-01", "usage-2025-02"]
    billed = invoices.invoiced_lines(session, "c1", JAN)
    assert [(b.type, b.amount) for b in billed] == [("usage", D("2.10")),
                                                    ("correction", D("0.42"))]
    assert [b.amount for b in invoices.invoiced_lines(session, "c1", FEB)] == [D("5.00")]
    assert invoices.find_invoice(session, "c1", "usage-2025-02") is not None
    assert invoices.find_invoice(session, "c1", "nope") is None


def test_ledger_keys_once_and_balances(session: Session) -> None:
    entries = [
        LedgerEntry(key="grant-s1", segment_id="s1", source_id="commit-1", kind="grant",
                    amount=D("1000.00"), at=JAN),
        LedgerEntry(key="draw-s1-jan", segment_id="s1", source_id="commit-1", kind="drawdown",
                    amount=D("0.10"), at=FEB, invoice_key="usage-2025-01"),
        LedgerEntry(key="draw-s1-feb", segment_id="s1", source_id="commit-1", kind="drawdown",
                    amount=D("0.20"), at=MAR),
    ]
    assert ledger.add_entries(session, "c1", entries) == 3
    assert ledger.add_entries(session, "c1", entries) == 0
    assert ledger.add_entries(session, "c2", entries[:1]) == 1
    session.commit()
    assert ledger.balances(session, "c1") == {"s1": {"grant": D("1000.00"),
                                                     "drawdown": D("0.30")}}
    rows = ledger.entries_for(session, "c1")
    assert [r.key for r in rows] == ["grant-s1", "draw-s1-jan", "draw-s1-feb"]
    assert rows[1].invoice_id == invoices.invoice_id_for("c1", "usage-2025-01")
    assert rows[0].at == JAN
