"""Drawing line amounts down from commit and credit segments in SPEC 6.4's order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal

from models.terms import Product
from pricing.discounts import LineState
from pricing.segments import applies_to
from pricing.types import Segment

ZERO = Decimal(0)


def draw(
    states: Sequence[LineState], ordered: Sequence[Segment], remaining: dict[str, Decimal],
    available: Callable[[LineState], Decimal], record: Callable[[LineState, str, Decimal], None],
) -> dict[str, Decimal]:
    """For each line in order, take from its applicable segments in draw order; returns drawn."""
    drawn: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_product: dict[str, list[Segment]] = {}
    for st in states:
        if st.product is None:
            continue
        candidates = by_product.get(st.product.id)
        if candidates is None:
            candidates = by_product[st.product.id] = _applicable(ordered, st.product)
        left = available(st)
        for seg in candidates:
            if left <= 0:
                break
            take = min(left, remaining[seg.id])
            if take <= 0:
                continue
            remaining[seg.id] -= take
            drawn[seg.id] += take
            left -= take
            record(st, seg.id, take)
    return dict(drawn)


def _applicable(ordered: Sequence[Segment], product: Product) -> list[Segment]:
    return [s for s in ordered if applies_to(s, product)]
