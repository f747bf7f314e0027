"""Rolling unused prepaid commitment into the renewal at the predecessor's end (SPEC 10)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from models.terms import AccessItem, Commit, ContractTerms, Frozen
from pricing.rating import currency_of
from pricing.rounding import exact, fmt, round_money
from pricing.segments import remaining_map
from pricing.types import Catalog, LedgerEntry, Segment, SegmentBalance

ZERO = Decimal(0)


class RolloverResult(Frozen):
    """Commits to add to the successor and the ledger entries that close the predecessor's."""

    commits: tuple[Commit, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()


@exact
def rollover(
    terms: ContractTerms, segments: Sequence[Segment], balances: Sequence[SegmentBalance],
    successor_start: datetime, successor_end: datetime, catalog: Catalog | None = None,
) -> RolloverResult:
    """min(unused, rollover_fraction × access total) per prepaid commit; the rest expires."""
    currency = currency_of(terms, catalog) if catalog else (terms.currency or "USD")
    remaining = remaining_map(segments, balances)
    end = terms.ending_before
    commits: list[Commit] = []
    ledger: list[LedgerEntry] = []
    for commit in sorted(terms.commits, key=lambda c: c.id):
        if commit.type != "prepaid":
            continue
        # segments that ended earlier already expired at their own end
        still_open = sorted((s for s in segments if s.source_kind == "commit"
                             and s.source_id == commit.id and s.ending_before >= end
                             and s.starting_at < end and remaining[s.id] > 0),
                            key=lambda s: (s.ending_before, s.starting_at, s.id))
        unused = sum((remaining[s.id] for s in still_open), ZERO)
        access = sum((i.amount for i in commit.access_schedule), ZERO)
        allowed = round_money(commit.rollover_fraction * access, currency)
        rolled = min(unused, allowed)
        if rolled > 0:
            commits.append(_successor_commit(commit, rolled, successor_start, successor_end))
        left = rolled
        for seg in still_open:
            moved = min(left, remaining[seg.id])
            left -= moved
            note = {"rolled_into": f"rollover-{commit.id}", "unused": fmt(unused),
                    "cap": fmt(allowed), "rollover_fraction": fmt(commit.rollover_fraction)}
            if moved > 0:
                ledger.append(LedgerEntry(key=f"rollover:{seg.id}", segment_id=seg.id,
                                          source_id=commit.id, kind="rollover", amount=moved,
                                          at=end, details=note))
            if remaining[seg.id] - moved > 0:
                ledger.append(LedgerEntry(key=f"expiry:{seg.id}", segment_id=seg.id,
                                          source_id=commit.id, kind="expiry",
                                          amount=remaining[seg.id] - moved, at=end,
                                          details={**note, "breakage": True}))
    return RolloverResult(commits=tuple(commits), ledger=tuple(ledger))


def _successor_commit(commit: Commit, amount: Decimal, start: datetime, end: datetime) -> Commit:
    return Commit(
        id=f"rollover-{commit.id}", name=f"Rollover of {commit.name or commit.id}",
        type="prepaid", product_id=commit.product_id,
        applicable_product_ids=commit.applicable_product_ids,
        applicable_product_tags=commit.applicable_product_tags, priority=commit.priority,
        access_schedule=(AccessItem(amount=amount, starting_at=start, ending_before=end),),
        invoice_schedule=(),
    )
