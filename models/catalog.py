"""The catalog: products with their meters, rate cards with their rates, customers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from models.base import (
    CurrencyCode,
    Fraction,
    Frozen,
    Name,
    Slug,
    StringMap,
)
from models.money import Amount, UtcDatetime


class Meter(Frozen):
    event_type: Name
    aggregation: Literal["sum", "count", "max", "unique_count"]
    property: str | None = None
    group_by: tuple[str, ...] = ()
    resource_property: str | None = None

    @model_validator(mode="after")
    def _property_matches_aggregation(self) -> Self:
        if self.aggregation == "count" and self.property is not None:
            raise ValueError("a count meter has no property")
        if self.aggregation != "count" and not self.property:
            raise ValueError(f"a {self.aggregation} meter needs a property")
        if self.resource_property and self.aggregation != "sum":
            raise ValueError("sustained use (resource_property) needs a sum meter over hours")
        return self


class Product(Frozen):
    id: Slug
    name: Name
    kind: Literal["usage", "fixed"]
    tags: tuple[str, ...] = ()
    custom_fields: StringMap = {}
    meter: Meter | None = None

    @model_validator(mode="after")
    def _meter_matches_kind(self) -> Self:
        if self.kind == "usage" and self.meter is None:
            raise ValueError("a usage product needs a meter")
        if self.kind == "fixed" and self.meter is not None:
            raise ValueError("a fixed product has no meter")
        return self


class Tier(Frozen):
    up_to: Amount | None = None
    unit_price: Amount


class SustainedUseTier(Frozen):
    up_to_fraction: Fraction
    multiplier: Amount


DEFAULT_SUSTAINED_USE_TIERS = (
    SustainedUseTier(up_to_fraction=Decimal("0.25"), multiplier=Decimal("1.0")),
    SustainedUseTier(up_to_fraction=Decimal("0.50"), multiplier=Decimal("0.8")),
    SustainedUseTier(up_to_fraction=Decimal("0.75"), multiplier=Decimal("0.6")),
    SustainedUseTier(up_to_fraction=Decimal("1.0"), multiplier=Decimal("0.4")),
)


class SustainedUse(Frozen):
    tiers: tuple[SustainedUseTier, ...] = DEFAULT_SUSTAINED_USE_TIERS

    @model_validator(mode="after")
    def _fractions_ascend_to_one(self) -> Self:
        fractions = [t.up_to_fraction for t in self.tiers]
        if not fractions or fractions != sorted(set(fractions)) or fractions[-1] != 1:
            raise ValueError("sustained-use tiers need strictly rising up_to_fraction ending at 1")
        return self


class Price(Frozen):
    """A unit price, or tiers with a mode. Exactly one of the two."""

    unit_price: Amount | None = None
    tiers: tuple[Tier, ...] | None = None
    tier_mode: Literal["graduated", "volume"] | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if (self.unit_price is None) == (self.tiers is None):
            raise ValueError("give exactly one of unit_price or tiers")
        if self.tiers is not None:
            check_tiers(self.tiers)
        elif self.tier_mode is not None:
            raise ValueError("tier_mode goes with tiers")
        return self


def check_tiers(tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise ValueError("tiers must not be empty")
    bounds = [t.up_to for t in tiers[:-1]]
    if any(b is None for b in bounds) or tiers[-1].up_to is not None:
        raise ValueError("every tier but the last needs up_to; the last has up_to null")
    limits = [b for b in bounds if b is not None]
    if limits != sorted(set(limits)) or (limits and limits[0] <= 0):
        raise ValueError("tier up_to values must rise strictly from above 0")


class Rate(Price):
    product_id: Slug
    dimensions: StringMap = {}
    starting_at: UtcDatetime | None = None
    sustained_use: SustainedUse | None = None


class RateCard(Frozen):
    alias: Slug
    name: Name
    currency: CurrencyCode = "USD"
    rates: tuple[Rate, ...] = ()

    @model_validator(mode="after")
    def _no_equally_specific_twins(self) -> Self:
        seen: set[tuple[str, tuple[tuple[str, str], ...], datetime | None]] = set()
        for rate in self.rates:
            key = (rate.product_id, tuple(sorted(rate.dimensions.items())), rate.starting_at)
            if key in seen:
                raise ValueError(
                    f"two rates for product {rate.product_id!r} match the same dimensions "
                    f"{dict(key[1])} from the same start"
                )
            seen.add(key)
        return self


class Customer(Frozen):
    id: Slug
    name: Name
    ingest_aliases: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] = ()
    tax_rate: Fraction = Decimal("0")
    custom_fields: StringMap = {}

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every alias events may name: the customer's own id is always one."""
        return tuple(dict.fromkeys((self.id, *self.ingest_aliases)))
