"""Product and total discounts on usage and correction lines (SPEC 6.2-6.3), pre-tax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from models.terms import Discount, Product
from pricing.rates import targets_product
from pricing.rounding import quantum, round_money
from pricing.types import Period, RatedLine

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(slots=True)
class LineState:
    """A line on its way through discounts, commits, tax and credits; `running` is what is left."""

    line: RatedLine
    product: Product | None
    running: Decimal
    discounts: list[tuple[str, Decimal]] = field(default_factory=list)
    commits: list[tuple[str, Decimal]] = field(default_factory=list)
    tax: Decimal = ZERO
    credits: list[tuple[str, Decimal]] = field(default_factory=list)


def discount_active(discount: Discount, period: Period, first_period: dict[str, int]) -> bool:
    """Window on the period start, then duration counted from the first period it reduced."""
    if discount.starting_at is not None and period.start < discount.starting_at:
        return False
    if discount.ending_before is not None and period.start >= discount.ending_before:
        return False
    first = first_period.get(discount.id)
    if discount.duration_periods is not None and first is not None:
        return first <= period.index < first + discount.duration_periods
    return True


def apply_discounts(
    discounts: Sequence[Discount], period: Period, states: Sequence[LineState],
    first_period: dict[str, int], currency: str,
) -> dict[str, int]:
    """Apply every active discount in order; returns the updated first-period map."""
    updated = dict(first_period)
    ordered = sorted(discounts, key=lambda d: (d.priority, d.id))
    # product discounts all come before total discounts, whatever their priorities
    for discount in [d for d in ordered if d.targets_products] + [
        d for d in ordered if not d.targets_products
    ]:
        if not discount_active(discount, period, first_period):
            continue
        if discount.targets_products:
            used = _product_discount(discount, states, currency)
        else:
            used = _total_discount(discount, states, currency)
        if used > 0 and discount.id not in updated:
            updated[discount.id] = period.index
    return updated


def _cap(discount: Discount, currency: str) -> Decimal | None:
    return None if discount.max_amount is None else round_money(discount.max_amount, currency)


def _product_discount(discount: Discount, states: Sequence[LineState], currency: str) -> Decimal:
    cap = _cap(discount, currency)
    fixed = round_money(discount.amount, currency) if discount.amount is not None else None
    used = ZERO
    eligible: dict[str, bool] = {}
    for st in states:
        if st.product is None or st.running <= 0:
            continue
        pid = st.product.id
        if pid not in eligible:
            eligible[pid] = targets_product(discount.product_ids, discount.product_tags, st.product)
        if not eligible[pid]:
            continue
        if fixed is not None:
            off = min(fixed - used, st.running)
        else:
            off = min(round_money(st.running * (discount.percent or ZERO) / HUNDRED, currency),
                      st.running)
        if cap is not None:
            off = min(off, cap - used)
        if off <= 0:
            continue
        st.running -= off
        st.discounts.append((discount.id, off))
        used += off
    return used


def _total_discount(discount: Discount, states: Sequence[LineState], currency: str) -> Decimal:
    base = sum((max(st.running, ZERO) for st in states), ZERO)
    if discount.amount is not None:
        off = round_money(discount.amount, currency)
    else:
        off = round_money(base * (discount.percent or ZERO) / HUNDRED, currency)
    cap = _cap(discount, currency)
    off = min(off, base, cap if cap is not None else off)
    if off <= 0:
        return ZERO
    shares = allocate(off, [max(st.running, ZERO) for st in states], currency)
    for st, share in zip(states, shares, strict=True):
        if share > 0:
            st.running -= share
            st.discounts.append((discount.id, share))
    return off


def allocate(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `amount` pro rata to weights, largest remainder to the minor unit, ties earlier."""
    unit = quantum(currency)
    units = int(amount / unit)
    w = [int(x / unit) for x in weights]
    total = sum(w)
    if total == 0:
        return [ZERO for _ in weights]
    shares = [units * x // total for x in w]
    leftover = units - sum(shares)
    by_remainder = sorted(range(len(w)), key=lambda i: (-(units * w[i] % total), i))
    for i in by_remainder[:leftover]:
        shares[i] += 1
    return [Decimal(s) * unit for s in shares]
