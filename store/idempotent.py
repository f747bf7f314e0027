"""Create-by-id, idempotently: identical body → the existing row, different body → 409.

Bodies are compared as the canonical JSON of the *validated* model, so key order, `1` vs `"1"`
for an amount, or an omitted default do not count as a difference.

Usage (e.g. the contracts route)::

    row, created = create_once(
        session,
        ContractRow(id=terms.id, ..., request=canonical(terms)),
        body=terms,
        stored_body=lambda row: row.request,
        what="contract",
    )
    session.commit()
    return JSONResponse(..., status_code=201 if created else 200)

On a different body it raises `store.errors.AlreadyExists` (409). A concurrent create of the same
id is caught by the primary key and resolved the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from store.errors import AlreadyExists

Row = TypeVar("Row", bound=SQLModel)


def canonical(model: BaseModel) -> dict[str, Any]:
    """The JSON document of a validated model, as stored and compared."""
    return model.model_dump(mode="json")


def canonical_text(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_body(stored: Any, body: BaseModel) -> bool:
    return canonical_text(stored) == canonical_text(canonical(body))


def create_once(
    session: Session,
    row: Row,
    *,
    body: BaseModel,
    stored_body: Callable[[Row], Any],
    what: str,
) -> tuple[Row, bool]:
    """Insert `row` unless a row with its primary key exists. Returns (row, created)."""
    model = type(row)
    key = inspect(model).primary_key_from_instance(row)  # type: ignore[union-attr]
    existing = session.get(model, key[0] if len(key) == 1 else tuple(key))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(row)
            return row, True
        except IntegrityError:
            existing = session.get(model, key[0] if len(key) == 1 else tuple(key))
            if existing is None:
                raise
    if same_body(stored_body(existing), body):
        return existing, False
    raise AlreadyExists(f"{what} {key[0]!r} already exists with a different body")
