"""The contract projection the API reads: terms as amended, status, renewal links.

The workflow is the source of truth; activities write this projection after each change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from models.db import ContractRow
from models.messages import workflow_id
from models.terms import ContractTerms
from store.idempotent import canonical


def save_projection(
    session: Session,
    terms: ContractTerms,
    *,
    status: str,
    request: ContractTerms | None = None,
    renewed_by: str | None = None,
) -> ContractRow:
    """Insert or update the contract's row in one statement (safe under concurrent writers).
    `request` (the body as first posted) is kept from the first insert; `renewed_by` is only
    ever set, never cleared."""
    now = datetime.now(UTC)
    table = ContractRow.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "id": terms.id,
        "customer_id": terms.customer_id,
        "rate_card_alias": terms.rate_card_alias,
        "status": status,
        "starting_at": terms.starting_at,
        "ending_before": terms.ending_before,
        "workflow_id": workflow_id(terms.id),
        "renews": terms.renews,
        "renewed_by": renewed_by,
        "terms": canonical(terms),
        "request": canonical(request or terms),
        "created_at": now,
        "updated_at": now,
    }
    insert = pg_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**values)
    changes = {
        "status": statement.excluded.status,
        "terms": statement.excluded.terms,
        "ending_before": statement.excluded.ending_before,
        "updated_at": statement.excluded.updated_at,
    }
    if renewed_by is not None:
        changes["renewed_by"] = statement.excluded.renewed_by
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes))
    row = session.get(ContractRow, terms.id, populate_existing=True)
    assert row is not None
    return row


def set_status(
    session: Session, contract_id: str, status: str, *, renewed_by: str | None = None
) -> bool:
    """Returns False when there is no such contract."""
    changes: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
    if renewed_by is not None:
        changes["renewed_by"] = renewed_by
    result = session.execute(
        update(ContractRow)
        .where(ContractRow.id == contract_id)  # type: ignore[arg-type]
        .values(**changes)
        .returning(ContractRow.id)  # type: ignore[arg-type]
    )
    found = result.first() is not None
    session.expire_all()
    return found


def get_contract(session: Session, contract_id: str) -> ContractRow | None:
    return session.get(ContractRow, contract_id)


def list_contracts(session: Session, customer_id: str) -> list[ContractRow]:
    query = (
        select(ContractRow)
        .where(ContractRow.customer_id == customer_id)
        .order_by(ContractRow.starting_at, ContractRow.id)  # type: ignore[arg-type]
    )
    return list(session.scalars(query))
