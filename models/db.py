"""SQLModel tables: the relational projection of the catalog, contracts, usage, invoices and ledger.

Money is exact on every database (`ExactDecimal`: NUMERIC on PostgreSQL, TEXT on SQLite) and
timestamps are stored in UTC and read back tz-aware (`UtcDateTime`). Documents (catalog bodies,
contract terms, event properties) are JSON (JSONB on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal that survives the round trip digit for digit: NUMERIC on PostgreSQL, TEXT on
    SQLite (whose NUMERIC affinity would turn it into a float)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number if dialect.name == "postgresql" else format(number, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Stored in UTC (timestamptz on PostgreSQL, fixed-width ISO text on SQLite so it sorts),
    always returned tz-aware in UTC. Naive datetimes are refused: their zone is a guess."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a tz-aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def _money(nullable: bool = False) -> Any:
    return Field(sa_type=ExactDecimal, nullable=nullable)


def _at(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_type=UtcDateTime, nullable=nullable, index=index)


def _doc(nullable: bool = False) -> Any:
    return Field(sa_type=JsonDoc, nullable=nullable)


# --- catalog ---------------------------------------------------------------------------------


class ProductRow(SQLModel, table=True):
    __tablename__ = "products"

    id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=16)
    body: dict[str, Any] = _doc()
    created_at: datetime = _at()


class RateCardRow(SQLModel, table=True):
    __tablename__ = "rate_cards"

    alias: str = Field(primary_key=True, max_length=128)
    currency: str = Field(max_length=3)
    body: dict[str, Any] = _doc()
    created_at: datetime = _at()


class CustomerRow(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=128)
    body: dict[str, Any] = _doc()
    tax_rate: Decimal = _money()
    created_at: datetime = _at()


class CustomerAliasRow(SQLModel, table=True):
    """An ingest alias: the name events use for a customer. Unique across customers."""

    __tablename__ = "customer_aliases"

    alias: str = Field(primary_key=True, max_length=256)
    customer_id: str = Field(
        sa_column=Column(String(128), ForeignKey("customers.id"), nullable=False, index=True)
    )
    created_at: datetime = _at()


# --- contracts -------------------------------------------------------------------------------


class ContractRow(SQLModel, table=True):
    """The API's projection of a contract; the workflow is the source of truth."""

    __tablename__ = "contracts"

    id: str = Field(primary_key=True, max_length=128)
    customer_id: str = Field(max_length=128, index=True)
    rate_card_alias: str = Field(max_length=128)
    status: str = Field(max_length=16)
    starting_at: datetime = _at()
    ending_before: datetime = _at()
    workflow_id: str = Field(max_length=160)
    renews: str | None = Field(default=None, max_length=128)
    renewed_by: str | None = Field(default=None, max_length=128)
    terms: dict[str, Any] = _doc()
    request: dict[str, Any] = _doc()
    created_at: datetime = _at()
    updated_at: datetime = _at()


# --- usage -----------------------------------------------------------------------------------


class UsageEventRow(SQLModel, table=True):
    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_alias_type_ts", "customer_alias", "event_type", "timestamp"),
        # Only the few events no customer claims yet: what GET /v1/usage/unmatched pages through.
        Index(
            "ix_usage_events_unmatched", "id",
            postgresql_where=text("billable_at IS NULL"), sqlite_where=text("billable_at IS NULL"),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    transaction_id: str = Field(max_length=256, unique=True)
    customer_alias: str = Field(max_length=256)
    event_type: str = Field(max_length=256)
    timestamp: datetime = _at()
    properties: dict[str, Any] = _doc()
    # The numeric properties again, written at ingest in a form each database sums exactly
    # without per-row validation (store.usage.numbers_document); NULL when there are none.
    numbers: dict[str, Any] | None = _doc(nullable=True)
    ingested_at: datetime = _at()
    # Set when the alias names a customer (at ingest, or when the alias is attached later): the
    # moment the event became billable, which is what "late" is measured against.
    billable_at: datetime | None = _at(nullable=True)


# --- invoices and ledger ---------------------------------------------------------------------


class InvoiceRow(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("contract_id", "key", name="uq_invoices_contract_key"),
        # One usage invoice per contract and period (NULL period_start never collides).
        UniqueConstraint("contract_id", "kind", "period_start", name="uq_invoices_contract_period"),
    )

    id: str = Field(primary_key=True, max_length=64)
    contract_id: str = Field(max_length=128, index=True)
    customer_id: str = Field(max_length=128, index=True)
    key: str = Field(max_length=256)
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)
    period_start: datetime | None = _at(nullable=True)
    period_end: datetime | None = _at(nullable=True)
    issued_at: datetime = _at()
    due_at: datetime = _at()
    currency: str = Field(max_length=3)
    usage: Decimal = _money()
    corrections: Decimal = _money()
    discounts: Decimal = _money()
    commit_applied: Decimal = _money()
    tax: Decimal = _money()
    credits_applied: Decimal = _money()
    total: Decimal = _money()
    finalized_at: datetime | None = _at(nullable=True)
    created_at: datetime = _at()


class InvoiceLineRow(SQLModel, table=True):
    __tablename__ = "invoice_lines"

    invoice_id: str = Field(
        sa_column=Column(String(64), ForeignKey("invoices.id"), primary_key=True)
    )
    position: int = Field(primary_key=True)
    type: str = Field(max_length=32)
    product_id: str | None = Field(default=None, max_length=128)
    product_name: str = Field(max_length=256)
    dimensions: dict[str, Any] = _doc()
    quantity: Decimal = _money()
    unit_price: Decimal | None = _money(nullable=True)
    amount: Decimal = _money()
    discount: Decimal = _money()
    commit_applied: Decimal = _money()
    tax: Decimal = _money()
    credits_applied: Decimal = _money()
    total: Decimal = _money()
    explanation: str = Field(sa_type=Text)
    details: dict[str, Any] = _doc()
    references: dict[str, Any] = _doc()


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("contract_id", "key", name="uq_ledger_contract_key"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    contract_id: str = Field(max_length=128, index=True)
    key: str = Field(max_length=256)
    segment_id: str = Field(max_length=256)
    source_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    amount: Decimal = _money()
    at: datetime = _at()
    invoice_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = _doc()


# --- SLO incidents and alerts ----------------------------------------------------------------


class SloIncidentRow(SQLModel, table=True):
    __tablename__ = "slo_incidents"
    __table_args__ = (
        UniqueConstraint("contract_id", "incident_id", name="uq_slo_incidents_contract_incident"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=128, index=True)
    incident_id: str = Field(max_length=256)
    sla_id: str = Field(max_length=128)
    started_at: datetime = _at()
    resolved_at: datetime | None = _at(nullable=True)
    source: str = Field(max_length=32)
    updated_at: datetime = _at()


class AlertFiringRow(SQLModel, table=True):
    __tablename__ = "alert_firings"
    __table_args__ = (
        UniqueConstraint("contract_id", "crossing_key", name="uq_alert_firings_contract_crossing"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=128, index=True)
    alert_id: str = Field(max_length=128)
    crossing_key: str = Field(max_length=256)
    fired_at: datetime = _at()
    payload: dict[str, Any] = _doc()


class AlertDeliveryRow(SQLModel, table=True):
    __tablename__ = "alert_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    firing_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alert_firings.id"), nullable=False, index=True)
    )
    attempt: int
    status_code: int | None = None
    delivered_at: datetime = _at()
    error: str | None = Field(default=None, sa_type=Text)


# --- workflow step results -------------------------------------------------------------------


class CloseRecordRow(SQLModel, table=True):
    """What a close returned to its workflow, so a retried close returns the same answer."""

    __tablename__ = "close_records"
    __table_args__ = (UniqueConstraint("contract_id", "key", name="uq_close_records_contract_key"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=128)
    key: str = Field(max_length=256)
    result: dict[str, Any] = _doc()
    created_at: datetime = _at()
