"""Close results: what a close returned to its workflow, kept beside the invoice it wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from models.db import CloseRecordRow

_TABLE = CloseRecordRow.__table__  # type: ignore[attr-defined]


def get_result(session: Session, contract_id: str, key: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = session.execute(
        select(_TABLE.c.result).where(_TABLE.c.contract_id == contract_id, _TABLE.c.key == key)
    ).scalar()
    return result


def save_result(session: Session, contract_id: str, key: str, result: dict[str, Any]) -> None:
    """Written in the close's own transaction, so it exists exactly when the invoice does. A
    second result for the same close is refused by the (contract_id, key) unique constraint."""
    session.execute(
        insert(_TABLE).values(
            contract_id=contract_id, key=key, result=result, created_at=datetime.now(UTC)
        )
    )
