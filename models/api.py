"""Request and response bodies of the catalog, usage and invoice endpoints.

Catalog bodies are the models of `models.terms` themselves; what is here is what only the HTTP
surface needs: usage events as posted, list envelopes, invoices as read, problem documents.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from models.money import MAX_FRACTION_DIGITS, Dec

MAX_EVENTS_PER_BATCH = 10_000
MAX_INTEGER_DIGITS = 18
EARLIEST_EVENT_YEAR = 1970
_DECIMAL_TEXT = re.compile(r"^-?(\d+)(?:\.(\d+))?$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- usage -----------------------------------------------------------------------------------


def _property_value(value: Any) -> str | int | bool | None:
    """A property is a string, an integer, a boolean or null. Quantities with a fraction are
    decimal strings ("0.25"): a JSON float has already lost the exact value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_INTEGER_DIGITS:
            raise ValueError(f"integers have at most {MAX_INTEGER_DIGITS} digits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError('quantities with a fraction are decimal strings such as "0.25"')
        return _property_value(int(value))
    if isinstance(value, str):
        if len(value) > 1024:
            raise ValueError("property strings have at most 1024 characters")
        match = _DECIMAL_TEXT.match(value)
        if match and (
            len(match.group(1)) > MAX_INTEGER_DIGITS
            or len(match.group(2) or "") > MAX_FRACTION_DIGITS
        ):
            raise ValueError(
                f"decimal strings have at most {MAX_INTEGER_DIGITS} integer and "
                f"{MAX_FRACTION_DIGITS} fractional digits"
            )
        return value
    raise ValueError("a property is a string, an integer, a boolean or null")


def _event_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps need a UTC offset (RFC 3339), e.g. 2025-01-01T00:00:00Z")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if value.year < EARLIEST_EVENT_YEAR:
        raise ValueError(f"usage before {EARLIEST_EVENT_YEAR} is not billable")
    return value


EventTime = Annotated[datetime, AfterValidator(_event_time)]
PropertyValue = Annotated[str | int | bool | None, BeforeValidator(_property_value)]
Text256 = Annotated[str, Field(min_length=1, max_length=256)]


class UsageEvent(Strict):
    transaction_id: Text256
    customer_id: Text256 = Field(description="Any ingest alias of the customer.")
    event_type: Text256
    timestamp: EventTime
    properties: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=128)], PropertyValue],
        Field(max_length=128),
    ] = {}


UsageBatch = Annotated[list[UsageEvent], Field(max_length=MAX_EVENTS_PER_BATCH)]


class IngestResult(Strict):
    accepted: int
    duplicates: int


class StoredEvent(Strict):
    id: int
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]
    ingested_at: datetime


class UnmatchedEvents(Strict):
    data: list[StoredEvent]
    next_after: int | None = Field(
        None, description="Pass as `after` to read the next page; null on the last page."
    )


class AttachAliases(Strict):
    aliases: Annotated[list[Text256], Field(min_length=1, max_length=1000)]


# --- invoices --------------------------------------------------------------------------------


class InvoiceLineOut(Strict):
    position: int
    type: str
    product_id: str | None
    product_name: str
    dimensions: dict[str, str]
    quantity: Dec
    unit_price: Dec | None
    amount: Dec
    discount: Dec
    commit_applied: Dec
    tax: Dec
    credits_applied: Dec
    total: Dec
    explanation: str
    details: dict[str, Any]
    references: dict[str, Any]


class InvoiceTotals(Strict):
    usage: Dec
    corrections: Dec
    discounts: Dec
    commit_applied: Dec
    tax: Dec
    credits_applied: Dec
    total: Dec


class InvoiceOut(InvoiceTotals):
    """An invoice; its totals appear both at the top level (SPEC 9) and grouped under `totals`."""

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
    finalized_at: datetime | None
    currency: str
    totals: InvoiceTotals
    lines: list[InvoiceLineOut] = []


class InvoiceList(Strict):
    data: list[InvoiceOut]


# --- errors ----------------------------------------------------------------------------------


class ProblemItem(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = None


_TITLES = {
    400: "Bad request", 401: "Missing or unknown API key", 403: "Wrong role for this endpoint",
    404: "Not found", 409: "Exists with a different body", 413: "Request body too large",
    422: "Invalid input",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem+json errors, so clients (and schemathesis) know them."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        code: {
            "description": _TITLES.get(code, "Error"),
            "model": Problem,
            "content": {"application/problem+json": {"schema": schema}},
        }
        for code in codes
    }


def decimal_or_zero(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal("0")
