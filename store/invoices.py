"""Invoices and their lines. An invoice is written once (insert-if-absent, id derived from its
key) and a finalized invoice never changes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlmodel import Session

from models.db import InvoiceLineRow, InvoiceRow
from pricing.types import PricedInvoice, RatedLine
from store.engine import dialect_insert as insert_for
from store.errors import NotFound

INVOICE_STATUSES = ("draft", "finalized")


@dataclass(frozen=True)
class InvoiceLineView:
    position: int
    type: str
    product_id: str | None
    product_name: str
    dimensions: dict[str, str]
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    discount: Decimal
    commit_applied: Decimal
    tax: Decimal
    credits_applied: Decimal
    total: Decimal
    explanation: str
    details: dict[str, Any]
    references: dict[str, Any]


@dataclass(frozen=True)
class InvoiceView:
    id: str
    contract_id: str
    customer_id: str
    key: str
    kind: str
    status: str
    period_start: datetime | None
    period_end: datetime | None
    issued_at: datetime
    due_at: datetime
    currency: str
    usage: Decimal
    corrections: Decimal
    discounts: Decimal
    commit_applied: Decimal
    tax: Decimal
    credits_applied: Decimal
    total: Decimal
    finalized_at: datetime | None
    created_at: datetime
    lines: tuple[InvoiceLineView, ...] = field(default=())


def invoice_id_for(contract_id: str, key: str) -> str:
    """Deterministic, so a retried activity finds the invoice its first attempt wrote."""
    digest = hashlib.sha256(f"{contract_id}\x1f{key}".encode()).hexdigest()
    return f"inv_{digest[:24]}"


def save_invoice(
    session: Session,
    *,
    contract_id: str,
    customer_id: str,
    invoice: PricedInvoice,
    status: str = "draft",
) -> str:
    """Store the invoice and its lines unless it exists; returns the id of the stored invoice —
    the existing one, unchanged, when its key or (usage) period was already invoiced."""
    invoice_id, _ = insert_invoice(
        session, contract_id=contract_id, customer_id=customer_id, invoice=invoice, status=status
    )
    return invoice_id


def insert_invoice(
    session: Session,
    *,
    contract_id: str,
    customer_id: str,
    invoice: PricedInvoice,
    status: str = "draft",
) -> tuple[str, bool]:
    """`save_invoice`, also telling whether this call wrote it: (invoice id, inserted)."""
    if status not in INVOICE_STATUSES:
        raise ValueError(f"invoice status is one of {INVOICE_STATUSES}, not {status!r}")
    now = datetime.now(UTC)
    invoice_id = invoice_id_for(contract_id, invoice.key)
    totals = invoice.totals
    table = InvoiceRow.__table__  # type: ignore[attr-defined]
    dialect_insert = insert_for(session)
    statement = dialect_insert(table).values(
        id=invoice_id, contract_id=contract_id, customer_id=customer_id, key=invoice.key,
        kind=invoice.kind, status=status, period_start=invoice.period_start,
        period_end=invoice.period_end, issued_at=invoice.issued_at, due_at=invoice.due_at,
        currency=invoice.currency, usage=totals.usage, corrections=totals.corrections,
        discounts=totals.discounts, commit_applied=totals.commit_applied, tax=totals.tax,
        credits_applied=totals.credits_applied, total=totals.total,
        finalized_at=now if status == "finalized" else None, created_at=now,
    ).on_conflict_do_nothing().returning(table.c.id)
    # DO NOTHING on any unique key: id, (contract, key), (contract, kind, period_start).
    if session.execute(statement).first() is None:
        return _existing_id(session, contract_id, invoice), False
    if invoice.lines:
        session.execute(insert(InvoiceLineRow.__table__), [  # type: ignore[attr-defined]
            {
                "invoice_id": invoice_id, "position": position, "type": line.type,
                "product_id": line.product_id, "product_name": line.product_name,
                "dimensions": dict(line.dimensions), "quantity": line.quantity,
                "unit_price": line.unit_price, "amount": line.amount, "discount": line.discount,
                "commit_applied": line.commit_applied, "tax": line.tax,
                "credits_applied": line.credits_applied, "total": line.total,
                "explanation": line.explanation,
                "details": _json_safe(line, "details"),
                "references": _json_safe(line, "references"),
            }
            for position, line in enumerate(invoice.lines)
        ])
    return invoice_id, True


def _json_safe(line: Any, name: str) -> Any:
    # details/references may hold Decimals and datetimes: store their JSON spelling.
    return line.model_dump(mode="json", include={name})[name]


def _existing_id(session: Session, contract_id: str, invoice: PricedInvoice) -> str:
    same_key = InvoiceRow.key == invoice.key
    same_period = (InvoiceRow.kind == invoice.kind) & (
        InvoiceRow.period_start == invoice.period_start
    )
    query = select(InvoiceRow.id).where(InvoiceRow.contract_id == contract_id)
    condition = or_(same_key, same_period) if invoice.period_start is not None else same_key
    existing = session.scalars(query.where(condition).order_by(InvoiceRow.created_at)).first()
    if existing is None:  # the id itself collided: same contract and key by construction
        return invoice_id_for(contract_id, invoice.key)
    return existing


def finalize_invoice(
    session: Session, invoice_id: str, at: datetime, *, with_lines: bool = True
) -> tuple[InvoiceView, bool]:
    """Mark a draft finalized; returns (invoice, changed). Finalizing twice changes nothing."""
    table = InvoiceRow.__table__  # type: ignore[attr-defined]
    row = session.execute(
        update(table)
        .where(table.c.id == invoice_id, table.c.status == "draft")
        .values(status="finalized", finalized_at=at)
        .returning(*table.c)
    ).first()
    session.expire_all()  # an InvoiceRow loaded before the update is stale now
    if row is None:
        return get_invoice(session, invoice_id, with_lines=with_lines), False
    return _view(row, _lines(session, invoice_id) if with_lines else ()), True


def get_invoice(session: Session, invoice_id: str, *, with_lines: bool = True) -> InvoiceView:
    row = session.get(InvoiceRow, invoice_id, populate_existing=True)
    if row is None:
        raise NotFound(f"no invoice {invoice_id!r}")
    return _view(row, _lines(session, invoice_id) if with_lines else ())


def find_invoice(session: Session, contract_id: str, key: str) -> InvoiceView | None:
    row = session.scalars(
        select(InvoiceRow).where(InvoiceRow.contract_id == contract_id, InvoiceRow.key == key)
    ).first()
    return None if row is None else _view(row, _lines(session, row.id))


def list_invoices(session: Session, contract_id: str) -> list[InvoiceView]:
    """The contract's invoices without their lines, oldest first (issued_at, then key)."""
    rows = session.scalars(
        select(InvoiceRow)
        .where(InvoiceRow.contract_id == contract_id)
        .order_by(InvoiceRow.issued_at, InvoiceRow.key)  # type: ignore[arg-type]
    )
    return [_view(row, ()) for row in rows]


def invoiced_lines(session: Session, contract_id: str, period_start: datetime) -> list[RatedLine]:
    """What was already billed for a usage period: the usage lines of its invoice plus every
    correction line (on later invoices) whose references name that period."""
    rows = session.execute(
        select(InvoiceLineRow, InvoiceRow.kind, InvoiceRow.period_start)
        .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)  # type: ignore[arg-type]
        .where(InvoiceRow.contract_id == contract_id)
        .where(InvoiceLineRow.type.in_(("usage", "correction")))  # type: ignore[attr-defined]
        .order_by(InvoiceRow.issued_at, InvoiceRow.key, InvoiceLineRow.position)  # type: ignore[arg-type]
    ).all()
    lines = []
    for line, kind, invoice_period in rows:
        if line.type == "usage":
            belongs = kind == "usage" and invoice_period == period_start
        else:
            belongs = _period_of(line.references) == period_start
        if belongs:
            lines.append(RatedLine(
                type=line.type, product_id=line.product_id or "", product_name=line.product_name,
                dimensions=line.dimensions, quantity=line.quantity, unit_price=line.unit_price,
                amount=line.amount, explanation=line.explanation, details=line.details,
                references=line.references,
            ))
    return lines


def _period_of(references: dict[str, Any]) -> datetime | None:
    value = references.get("period_start")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _lines(session: Session, invoice_id: str) -> tuple[InvoiceLineView, ...]:
    rows = session.scalars(
        select(InvoiceLineRow)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(InvoiceLineRow.position)  # type: ignore[arg-type]
    )
    return tuple(
        InvoiceLineView(
            position=r.position, type=r.type, product_id=r.product_id,
            product_name=r.product_name, dimensions=r.dimensions, quantity=r.quantity,
            unit_price=r.unit_price, amount=r.amount, discount=r.discount,
            commit_applied=r.commit_applied, tax=r.tax, credits_applied=r.credits_applied,
            total=r.total, explanation=r.explanation, details=r.details, references=r.references,
        )
        for r in rows
    )


def _view(row: Any, lines: tuple[InvoiceLineView, ...]) -> InvoiceView:
    """From an InvoiceRow, or a row of the invoices table's columns (same names)."""
    return InvoiceView(
        id=row.id, contract_id=row.contract_id, customer_id=row.customer_id, key=row.key,
        kind=row.kind, status=row.status, period_start=row.period_start,
        period_end=row.period_end, issued_at=row.issued_at, due_at=row.due_at,
        currency=row.currency, usage=row.usage, corrections=row.corrections,
        discounts=row.discounts, commit_applied=row.commit_applied, tax=row.tax,
        credits_applied=row.credits_applied, total=row.total, finalized_at=row.finalized_at,
        created_at=row.created_at, lines=lines,
    )
