"""Close results: what a close returned to its workflow, kept beside the invoice it wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.db import CloseRecordRow


def get_result(session: Session, contract_id: str, key: str) -> dict[str, Any] | None:
    row = session.scalars(
        select(CloseRecordRow).where(
            CloseRecordRow.contract_id == contract_id,  # type: ignore[arg-type]
            CloseRecordRow.key == key,  # type: ignore[arg-type]
        )
    ).first()
    return None if row is None else row.result


def save_result(session: Session, contract_id: str, key: str, result: dict[str, Any]) -> None:
    """Written in the close's own transaction, so it exists exactly when the invoice does."""
    session.add(
        CloseRecordRow(
            contract_id=contract_id, key=key, result=result, created_at=datetime.now(UTC)
        )
    )
    session.flush()
