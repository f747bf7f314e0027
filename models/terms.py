"""Contract terms and catalog: the shapes the API, workflows, activities and pricing share.

Every model is frozen and refuses unknown fields. Validation here is structural (one price per
rate, sorted tiers, non-overlapping schedules, unique ids); cross-object checks that need the
catalog (does the product exist, do currencies agree) live where the catalog is read.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from models.base import (
    ZERO_DECIMAL_CURRENCIES,
    CurrencyCode,
    Fraction,
    Frozen,
    Name,
    Percent,
    Slug,
    StringMap,
    minor_units,
)
from models.catalog import (
    DEFAULT_SUSTAINED_USE_TIERS,
    Customer,
    Meter,
    Price,
    Product,
    Rate,
    RateCard,
    SustainedUse,
    SustainedUseTier,
    Tier,
    check_tiers,
)
from models.money import Amount, UtcDatetime

__all__ = [
    "DEFAULT_SUSTAINED_USE_TIERS", "ZERO_DECIMAL_CURRENCIES", "Customer", "Frozen", "Meter",
    "Price", "Product", "Rate", "RateCard", "Slug", "StringMap", "SustainedUse",
    "SustainedUseTier", "Tier", "minor_units",
]


# --- contract elements -----------------------------------------------------------------------


class Element(Frozen):
    """An element of one of a contract's lists: an id unique within the contract, a name."""

    id: Slug
    name: Name | None = None


class Override(Element):
    product_ids: tuple[Slug, ...] = ()
    product_tags: tuple[str, ...] = ()
    dimensions: StringMap = {}
    starting_at: UtcDatetime | None = None
    ending_before: UtcDatetime | None = None
    type: Literal["overwrite", "multiplier"]
    unit_price: Amount | None = None
    tiers: tuple[Tier, ...] | None = None
    tier_mode: Literal["graduated", "volume"] | None = None
    multiplier: Amount | None = None
    priority: int = 100

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.product_ids and not self.product_tags:
            raise ValueError("an override targets product_ids and/or product_tags")
        if self.type == "multiplier":
            if self.multiplier is None or self.unit_price is not None or self.tiers is not None:
                raise ValueError("a multiplier override has a multiplier and no price")
        else:
            if self.multiplier is not None or (self.unit_price is None) == (self.tiers is None):
                raise ValueError("an overwrite override has exactly one of unit_price or tiers")
            if self.tiers is not None:
                check_tiers(self.tiers)
        _check_window(self.starting_at, self.ending_before)
        return self


class Discount(Element):
    product_ids: tuple[Slug, ...] = ()
    product_tags: tuple[str, ...] = ()
    type: Literal["percent", "amount"]
    percent: Percent | None = None
    amount: Amount | None = None
    max_amount: Amount | None = None
    priority: int = 100
    starting_at: UtcDatetime | None = None
    ending_before: UtcDatetime | None = None
    duration_periods: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type == "percent" and (self.percent is None or self.amount is not None):
            raise ValueError("a percent discount has percent and no amount")
        if self.type == "amount" and (self.amount is None or self.percent is not None):
            raise ValueError("an amount discount has amount and no percent")
        _check_window(self.starting_at, self.ending_before)
        return self

    @property
    def targets_products(self) -> bool:
        return bool(self.product_ids or self.product_tags)


class AccessItem(Frozen):
    amount: Amount
    starting_at: UtcDatetime
    ending_before: UtcDatetime

    @model_validator(mode="after")
    def _window(self) -> Self:
        _check_window(self.starting_at, self.ending_before)
        return self


class InvoiceItem(Frozen):
    amount: Amount
    timestamp: UtcDatetime


class Commit(Element):
    type: Literal["prepaid", "postpaid"]
    product_id: Slug | None = None
    applicable_product_ids: tuple[Slug, ...] = ()
    applicable_product_tags: tuple[str, ...] = ()
    priority: int = 100
    access_schedule: tuple[AccessItem, ...]
    invoice_schedule: tuple[InvoiceItem, ...] | None = None
    rollover_fraction: Fraction = Decimal("0")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.access_schedule:
            raise ValueError("a commit needs at least one access_schedule item")
        _check_non_overlapping(self.access_schedule)
        if self.type == "postpaid" and self.invoice_schedule:
            raise ValueError("a postpaid commit has no invoice_schedule; shortfalls are trued up")
        return self


class Recurrence(Frozen):
    interval: Literal["month", "quarter", "year"]
    amount: Amount
    starting_at: UtcDatetime
    ending_before: UtcDatetime

    @model_validator(mode="after")
    def _window(self) -> Self:
        _check_window(self.starting_at, self.ending_before)
        return self


class Credit(Element):
    reason: Annotated[str, Field(min_length=1, max_length=64)] = "manual"
    applicable_product_ids: tuple[Slug, ...] = ()
    applicable_product_tags: tuple[str, ...] = ()
    priority: int = 100
    access_schedule: tuple[AccessItem, ...] = ()
    recurrence: Recurrence | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.access_schedule and self.recurrence is None:
            raise ValueError("a credit needs an access_schedule or a recurrence")
        _check_non_overlapping(self.access_schedule)
        return self


class ScheduledCharge(Element):
    product_id: Slug
    schedule: tuple[InvoiceItem, ...]

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.schedule:
            raise ValueError("a scheduled charge needs at least one schedule item")
        return self


class SlaTier(Frozen):
    below: Percent
    percent: Percent


class Sla(Element):
    product_ids: tuple[Slug, ...] = ()
    product_tags: tuple[str, ...] = ()
    credit_tiers: tuple[SlaTier, ...]
    ending_before: UtcDatetime | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.credit_tiers:
            raise ValueError("an sla needs credit_tiers")
        return self


class Alert(Element):
    type: Literal["balance_below", "spend_above", "projected_exhaustion"]
    threshold: Amount | None = None
    webhook_url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    ending_before: UtcDatetime | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type != "projected_exhaustion" and self.threshold is None:
            raise ValueError(f"a {self.type} alert needs a threshold")
        return self


class Billing(Frozen):
    cycle: Literal["monthly", "quarterly", "annual"] = "monthly"
    payment_terms_days: Annotated[int, Field(ge=0, le=3650)] = 30
    usage_grace_period_hours: Annotated[int, Field(ge=0, le=24 * 366)] = 24


LIST_FIELDS = (
    "overrides", "discounts", "commits", "credits", "scheduled_charges", "sla", "alerts"
)


class ContractLists(Frozen):
    overrides: tuple[Override, ...] = ()
    discounts: tuple[Discount, ...] = ()
    commits: tuple[Commit, ...] = ()
    credits: tuple[Credit, ...] = ()
    scheduled_charges: tuple[ScheduledCharge, ...] = ()
    sla: tuple[Sla, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _number_elements(cls, data: Any) -> Any:
        """Elements sent without an id get `<list>-<index>` (in an amendment
        `<amendment>-<list>-<index>`), so a re-sent body is identical."""
        if isinstance(data, dict):
            data = dict(data)
            named = cls is Amendment and isinstance(data.get("id"), str)
            prefix = f"{data['id']}-" if named else ""
            for field in LIST_FIELDS:
                items = data.get(field)
                if isinstance(items, list | tuple):
                    data[field] = [
                        {"id": f"{prefix}{field}-{i}", **item}
                        if isinstance(item, dict) and "id" not in item
                        else item
                        for i, item in enumerate(items)
                    ]
        return data

    def element_ids(self) -> list[str]:
        return [e.id for field in LIST_FIELDS for e in getattr(self, field)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        duplicates = sorted(i for i, n in Counter(self.element_ids()).items() if n > 1)
        if duplicates:
            raise ValueError(f"element ids must be unique within the contract: {duplicates}")
        return self


class RenewalTerms(ContractLists):
    """The successor's terms; it starts where the predecessor ends."""

    id: Slug
    contract_id: Slug | None = None
    ending_before: UtcDatetime
    rate_card_alias: Slug | None = None
    billing: Billing | None = None
    multiplier_prioritization: Literal["lowest", "explicit"] | None = None
    sustained_use: bool | None = None
    custom_fields: StringMap = {}


class ContractTerms(ContractLists):
    id: Slug
    customer_id: Slug
    rate_card_alias: Slug
    currency: CurrencyCode | None = None
    starting_at: UtcDatetime
    ending_before: UtcDatetime
    billing: Billing = Billing()
    multiplier_prioritization: Literal["lowest", "explicit"] = "lowest"
    sustained_use: bool = True
    renewal: RenewalTerms | None = None
    custom_fields: StringMap = {}
    renews: Slug | None = None

    @model_validator(mode="after")
    def _term(self) -> Self:
        _check_window(self.starting_at, self.ending_before)
        if self.renewal is not None and self.renewal.ending_before <= self.ending_before:
            raise ValueError("the renewal must end after this contract ends")
        return self


class EndItem(Frozen):
    id: Slug
    at: UtcDatetime


class Amendment(ContractLists):
    id: Slug
    effective_at: UtcDatetime
    end: tuple[EndItem, ...] = ()


# --- checks ----------------------------------------------------------------------------------


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError("ending_before must be after starting_at")


def _check_non_overlapping(items: tuple[AccessItem, ...]) -> None:
    ordered = sorted(items, key=lambda i: i.starting_at)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if later.starting_at < earlier.ending_before:
            raise ValueError("access_schedule items must not overlap")
