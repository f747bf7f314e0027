"""Commit and credit access segments, their draw order, grants and expiries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from models.terms import AccessItem, ContractTerms, Product
from pricing.periods import INTERVAL_MONTHS, month_steps
from pricing.rates import targets_product
from pricing.rounding import exact
from pricing.types import LedgerEntry, Segment, SegmentBalance

ZERO = Decimal(0)


@exact
def expand_segments(terms: ContractTerms) -> tuple[Segment, ...]:
    """One segment per access item of every commit and credit, recurrences expanded."""
    segments: list[Segment] = []
    for commit in terms.commits:
        for i, item in enumerate(_ordered(commit.access_schedule)):
            segments.append(Segment(
                id=f"{commit.id}:{i}", source_id=commit.id, source_kind="commit",
                commit_type=commit.type, name=commit.name, priority=commit.priority,
                applicable_product_ids=commit.applicable_product_ids,
                applicable_product_tags=commit.applicable_product_tags,
                starting_at=item.starting_at, ending_before=item.ending_before, amount=item.amount,
            ))
    for credit in terms.credits:
        items = list(_ordered(credit.access_schedule))
        if credit.recurrence is not None:
            rec = credit.recurrence
            steps = month_steps(rec.starting_at, rec.ending_before, INTERVAL_MONTHS[rec.interval])
            items += [AccessItem(amount=rec.amount, starting_at=s, ending_before=e)
                      for s, e in steps]
        for i, item in enumerate(items):
            segments.append(Segment(
                id=f"{credit.id}:{i}", source_id=credit.id, source_kind="credit",
                reason=credit.reason, name=credit.name, priority=credit.priority,
                applicable_product_ids=credit.applicable_product_ids,
                applicable_product_tags=credit.applicable_product_tags,
                starting_at=item.starting_at, ending_before=item.ending_before, amount=item.amount,
            ))
    return tuple(sorted(segments, key=lambda s: (s.source_id, s.starting_at, s.id)))


def _ordered(items: Iterable[AccessItem]) -> list[AccessItem]:
    # access items never overlap, so their start orders them whatever order they were sent in
    return sorted(items, key=lambda i: i.starting_at)


def applies_to(segment: Segment, product: Product) -> bool:
    """A segment with no ids and no tags applies to every usage product."""
    if not segment.applicable_product_ids and not segment.applicable_product_tags:
        return True
    return targets_product(segment.applicable_product_ids, segment.applicable_product_tags, product)


def draw_order(
    segments: Iterable[Segment], usage_products: Sequence[Product]
) -> list[Segment]:
    """Priority, fewest applicable products, earliest end, earliest start, id (SPEC 6.4)."""
    def key(s: Segment) -> tuple[int, int, datetime, datetime, str]:
        reach = sum(1 for p in usage_products if applies_to(s, p))
        return (s.priority, reach, s.ending_before, s.starting_at, s.id)
    return sorted(segments, key=key)


def open_at(segment: Segment, at: datetime) -> bool:
    """True when `at` lies in the segment's half-open access window."""
    return segment.starting_at <= at < segment.ending_before


def remaining_map(
    segments: Iterable[Segment], balances: Iterable[SegmentBalance]
) -> dict[str, Decimal]:
    """Remaining per segment id; a segment with no recorded balance still has its full amount."""
    known = {b.segment_id: b.remaining for b in balances}
    return {s.id: known.get(s.id, s.amount) for s in segments}


def grant_entries(segments: Sequence[Segment]) -> tuple[LedgerEntry, ...]:
    """One grant entry per segment, at its start."""
    return tuple(sorted((
        LedgerEntry(key=f"grant:{s.id}", segment_id=s.id, source_id=s.source_id, kind="grant",
                    amount=s.amount, at=s.starting_at,
                    details={"source_kind": s.source_kind, "reason": s.reason})
        for s in segments), key=lambda e: (e.at, e.key)))


def expiry_entries(
    segments: Sequence[Segment], balances: Sequence[SegmentBalance], at: datetime
) -> tuple[LedgerEntry, ...]:
    """Breakage: what is left on ended prepaid and credit segments expires at their end."""
    remaining: Mapping[str, Decimal] = remaining_map(segments, balances)
    return tuple(sorted((
        LedgerEntry(key=f"expiry:{s.id}", segment_id=s.id, source_id=s.source_id, kind="expiry",
                    amount=remaining[s.id], at=s.ending_before)
        for s in segments
        # a postpaid segment's remaining is an unmet minimum: it is trued up, never expired
        if s.commit_type != "postpaid" and s.ending_before <= at and remaining[s.id] > 0
    ), key=lambda e: (e.at, e.key)))
