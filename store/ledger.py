"""Ledger entries: every grant, drawdown, expiry, true-up and rollover, once per key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from models.db import LedgerEntryRow
from pricing.types import LedgerEntry
from store.engine import dialect_insert as insert_for
from store.invoices import invoice_id_for


def add_entries(
    session: Session,
    contract_id: str,
    entries: Sequence[LedgerEntry],
    invoice_id: str | None = None,
) -> int:
    """Insert the entries whose key is new for the contract; returns how many were new.
    An entry without `invoice_id` is linked to the invoice its `invoice_key` names."""
    if not entries:
        return 0
    table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
    dialect_insert = insert_for(session)
    rows = [
        {
            "contract_id": contract_id, "key": e.key, "segment_id": e.segment_id,
            "source_id": e.source_id, "kind": e.kind, "amount": e.amount, "at": e.at,
            "invoice_id": invoice_id or (
                invoice_id_for(contract_id, e.invoice_key) if e.invoice_key else None
            ),
            "details": e.model_dump(mode="json", include={"details"})["details"],
        }
        for e in entries
    ]
    first: dict[str, dict[str, object]] = {}
    for row in rows:  # a key given twice is written once, as it is first given
        first.setdefault(row["key"], row)
    rows = list(first.values())
    statement = (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["contract_id", "key"])
        .returning(table.c.id)
    )
    # One statement (an executemany that the drivers send as multi-row INSERTs); RETURNING
    # names exactly the rows that were new, on both drivers.
    return len(session.execute(statement, rows).all())


def entries_for(session: Session, contract_id: str) -> list[LedgerEntryRow]:
    """The contract's entries in the order they happened."""
    return list(session.scalars(
        select(LedgerEntryRow)
        .where(LedgerEntryRow.contract_id == contract_id)
        .order_by(LedgerEntryRow.at, LedgerEntryRow.id)  # type: ignore[arg-type]
    ))


def balances(session: Session, contract_id: str) -> dict[str, dict[str, Decimal]]:
    """segment id → kind → summed amount (summed exactly, in Python, on both databases)."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = session.execute(
        select(LedgerEntryRow.segment_id, LedgerEntryRow.kind, LedgerEntryRow.amount)
        .where(LedgerEntryRow.contract_id == contract_id)
    )
    for segment_id, kind, amount in rows:
        sums[segment_id][kind] += amount
    return {segment: dict(kinds) for segment, kinds in sums.items()}
