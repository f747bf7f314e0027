"""Which price is in force: rate card entry, winning overwrite, winning multiplier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from models.terms import ContractTerms, Override, Product, Rate, SustainedUse, Tier
from pricing.periods import microseconds
from pricing.rounding import exact, fmt
from pricing.types import Catalog

ONE = Decimal(1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PricingError(ValueError):
    """Usage that cannot be priced: no rate card entry and no overwrite for it."""


@dataclass(frozen=True, slots=True)
class EffectivePrice:
    """The price of one segment of a line, with where each part came from."""

    unit_price: Decimal | None
    tiers: tuple[Tier, ...] | None
    tier_mode: str
    multiplier: Decimal
    rate: Rate | None
    overwrite: Override | None
    multiplier_override: Override | None
    why: str
    sustained_use: SustainedUse | None


def dims_match(required: Mapping[str, str], dims: Mapping[str, str]) -> bool:
    """True when every required dimension is present in dims with the same value."""
    return all(dims.get(k) == v for k, v in required.items())


def targets_product(ids: Sequence[str], tags: Sequence[str], product: Product) -> bool:
    """True when ids/tags name the product (any match)."""
    return product.id in ids or any(t in tags for t in product.tags)


def overrides_for_line(
    overrides: Sequence[Override], product: Product, dims: Mapping[str, str]
) -> tuple[Override, ...]:
    """The overrides whose target covers the product and whose dimensions cover dims ({}: any)."""
    return tuple(
        o for o in overrides
        if targets_product(o.product_ids, o.product_tags, product)
        and (not dims or dims_match(o.dimensions, dims))
    )


def rates_for_line(
    rates: Sequence[Rate], product_id: str, dims: Mapping[str, str]
) -> tuple[Rate, ...]:
    """The rate card entries whose product and dimensions cover this line."""
    return tuple(r for r in rates if r.product_id == product_id and dims_match(r.dimensions, dims))


def rate_in_force(candidates: Sequence[Rate], at: datetime) -> Rate | None:
    """Most specific dimensions first; within one dimension set the latest start not after `at`."""
    best: Rate | None = None
    best_key: tuple[int, tuple[tuple[str, str], ...], datetime] | None = None
    for rate in candidates:
        if rate.starting_at is not None and rate.starting_at > at:
            continue
        start = rate.starting_at or datetime.min.replace(tzinfo=at.tzinfo)
        # equally specific twins are refused at creation; the sorted items only make a
        # leftover tie deterministic
        key = (len(rate.dimensions), tuple(sorted(rate.dimensions.items())), start)
        if best_key is None or _beats(key, best_key):
            best, best_key = rate, key
    return best


def _beats(
    key: tuple[int, tuple[tuple[str, str], ...], datetime],
    other: tuple[int, tuple[tuple[str, str], ...], datetime],
) -> bool:
    if key[0] != other[0]:
        return key[0] > other[0]
    if key[1] != other[1]:
        return key[1] < other[1]
    return key[2] > other[2]


def in_force(o: Override, at: datetime, contract_start: datetime) -> bool:
    """Half-open window; no start means the contract start, no end means open."""
    start = o.starting_at or contract_start
    return start <= at and (o.ending_before is None or at < o.ending_before)


def specificity(o: Override, product: Product) -> int:
    """product+dimensions (3) > product (2) > tag+dimensions (1) > tag (0)."""
    return (2 if product.id in o.product_ids else 0) + (1 if o.dimensions else 0)


def resolve_price(
    terms: ContractTerms, product: Product, candidates: Sequence[Rate],
    overrides: Sequence[Override], at: datetime,
) -> EffectivePrice:
    """The price in force at `at`: overwrite beats multiplier, else rate card × one multiplier."""
    rate = rate_in_force(candidates, at)
    live = [o for o in overrides if in_force(o, at, terms.starting_at)]
    overwrites = [o for o in live if o.type == "overwrite"]
    multipliers = [o for o in live if o.type == "multiplier"]
    su = rate.sustained_use if rate is not None and terms.sustained_use else None
    if overwrites:
        start = terms.starting_at
        win = min(overwrites, key=lambda o: (
            o.priority, -specificity(o, product), -microseconds(EPOCH, o.starting_at or start),
            o.id))
        why = (f"overwrite {win.id!r} wins (priority {win.priority}, specificity "
               f"{specificity(win, product)}, of {len(overwrites)} overwrites in force; "
               f"{len(multipliers)} multipliers ignored)")
        return EffectivePrice(win.unit_price, win.tiers, win.tier_mode or "graduated", ONE,
                              rate, win, None, why, su)
    if rate is None:
        raise PricingError(f"no rate for product {product.id!r} at {at.isoformat()}")
    mult, why = ONE, "rate card price, no override in force"
    chosen: Override | None = None
    if multipliers:
        chosen = _winning_multiplier(multipliers, terms.multiplier_prioritization)
        mult = chosen.multiplier or ONE
        rule = ("smallest multiplier" if terms.multiplier_prioritization == "lowest"
                else "lowest priority number")
        why = (f"multiplier {chosen.id!r} ×{fmt(mult)} wins ({rule} of {len(multipliers)} "
               "multipliers in force)")
    return EffectivePrice(rate.unit_price, rate.tiers, rate.tier_mode or "graduated", mult,
                          rate, None, chosen, why, su)


def _winning_multiplier(multipliers: Sequence[Override], prioritization: str) -> Override:
    if prioritization == "explicit":
        return min(multipliers, key=lambda o: (o.priority, o.multiplier or ONE, o.id))
    return min(multipliers, key=lambda o: (o.multiplier or ONE, o.priority, o.id))


@exact
def rate_change_points(
    terms: ContractTerms, catalog: Catalog, start: datetime, end: datetime
) -> tuple[datetime, ...]:
    """Sorted instants strictly inside (start, end) where a usage product's price may change."""
    usage = [p for p in catalog.products if p.kind == "usage"]
    usage_ids = {p.id for p in usage}
    points = {r.starting_at for r in catalog.rate_card.rates
              if r.product_id in usage_ids and r.starting_at is not None}
    for o in terms.overrides:
        if any(targets_product(o.product_ids, o.product_tags, p) for p in usage):
            points.update(t for t in (o.starting_at, o.ending_before) if t is not None)
    return tuple(sorted(t for t in points if start < t < end))
