"""Turning a quantity into priced chunks: unit price, graduated and volume tiers, sustained use."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.terms import DEFAULT_SUSTAINED_USE_TIERS, SustainedUse, Tier
from pricing.rates import EffectivePrice
from pricing.rounding import fmt

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Units billed at one unit price: a band, a slice or the whole segment."""

    quantity: Decimal
    unit_price: Decimal
    note: str

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price

    def as_detail(self) -> dict[str, str]:
        return {"quantity": fmt(self.quantity), "unit_price": fmt(self.unit_price),
                "amount": fmt(self.amount), "band": self.note}


# (lower bound, upper bound or None = open, unit price, label)
Band = tuple[Decimal, Decimal | None, Decimal, str]


def tier_bands(tiers: tuple[Tier, ...], factor: Decimal) -> list[Band]:
    """Tiers as half-open bands [low, up_to) with the price times the multiplier."""
    bands: list[Band] = []
    low = ZERO
    for tier in tiers:
        label = f"{fmt(low)}–{fmt(tier.up_to) if tier.up_to is not None else '∞'}"
        bands.append((low, tier.up_to, tier.unit_price * factor, label))
        low = tier.up_to if tier.up_to is not None else low
    return bands


def sustained_bands(su: SustainedUse | None, hourly: Decimal, period_hours: Decimal) -> list[Band]:
    """Sustained-use slices in hours; hours past the period stay in the last slice."""
    tiers = su.tiers if su is not None and su.tiers else DEFAULT_SUSTAINED_USE_TIERS
    bands: list[Band] = []
    low, low_fraction = ZERO, ZERO
    for i, tier in enumerate(tiers):
        high = None if i == len(tiers) - 1 else tier.up_to_fraction * period_hours
        label = (f"{fmt(low_fraction * 100)}–{fmt(tier.up_to_fraction * 100)}% of "
                 f"{fmt(period_hours)} h ×{fmt(tier.multiplier)}")
        bands.append((low, high, hourly * tier.multiplier, label))
        low, low_fraction = (high if high is not None else low), tier.up_to_fraction
    return bands


def graduated(position: Decimal, quantity: Decimal, bands: list[Band]) -> list[Chunk]:
    """Units [position, position+quantity) each priced in the band they fall in."""
    if quantity <= 0:
        return [Chunk(quantity, _band_at(position, bands)[2], _band_at(position, bands)[3])]
    end = position + quantity
    chunks = []
    for low, high, price, label in bands:
        inside = min(end, high if high is not None else end) - max(position, low)
        if inside > 0:
            chunks.append(Chunk(inside, price, label))
    return chunks


def _band_at(units: Decimal, bands: list[Band]) -> Band:
    # `up_to` is inclusive for the band choice: 1,000 units with up_to 1,000 stay in band one
    for band in bands:
        if band[1] is None or units <= band[1]:
            return band
    return bands[-1]


def price_segment(
    price: EffectivePrice, position: Decimal, quantity: Decimal, period_total: Decimal
) -> list[Chunk]:
    """Chunks for one segment of a line, its units starting at `position` of the period."""
    if price.unit_price is not None:
        return [Chunk(quantity, price.unit_price * price.multiplier, "unit price")]
    assert price.tiers is not None  # Price and Override validators guarantee one of the two
    bands = tier_bands(price.tiers, price.multiplier)
    if price.tier_mode == "volume":
        low, _, unit, label = _band_at(period_total, bands)
        return [Chunk(quantity, unit, f"volume band {label} (period total {fmt(period_total)})")]
    return graduated(position, quantity, bands)


def price_sustained(
    price: EffectivePrice, position: Decimal, hours: Decimal, period_hours: Decimal
) -> list[Chunk]:
    """Slices of one resource's hours in one segment at the hourly rate × slice multiplier."""
    assert price.unit_price is not None
    bands = sustained_bands(price.sustained_use, price.unit_price * price.multiplier, period_hours)
    return graduated(position, hours, bands)
