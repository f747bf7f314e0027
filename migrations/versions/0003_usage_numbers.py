"""usage numbers: each event's numeric properties in a form its database sums exactly

Adds usage_events.numbers (see store.usage: JSON numbers in jsonb on PostgreSQL, [whole,
fraction] integer pairs on SQLite) and fills it for the events already stored, in id order and
in batches, with the same function ingest uses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.db import JsonDoc
from store.usage import numbers_document

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("numbers", JsonDoc, nullable=True))
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    read = sa.text(
        "SELECT id, CAST(properties AS text) FROM usage_events WHERE id > :after"
        " ORDER BY id LIMIT :limit"
    )
    write = sa.text(
        "UPDATE usage_events SET numbers = CAST(:numbers AS jsonb) WHERE id = :id" if postgres
        else "UPDATE usage_events SET numbers = :numbers WHERE id = :id"
    )
    after = 0
    while rows := connection.execute(read, {"after": after, "limit": _BATCH}).all():
        updates = [
            {"id": row_id, "numbers": numbers}
            for row_id, properties in rows
            if (numbers := numbers_document(json.loads(properties), postgres)) is not None
        ]
        if updates:
            connection.execute(write, updates)
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_column("numbers")
