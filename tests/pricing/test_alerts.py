"""Spend alerts at and around their thresholds: pure, no clock, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from models.terms import Alert
from pricing.alerts import (
    AlertSnapshot,
    CrossingState,
    DrawdownSpan,
    burn_per_second,
    evaluate_alert,
    evaluate_alerts,
    firing_payload,
    live_balance,
    next_transition,
)
from pricing.types import Segment, SegmentBalance

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def segment(seg_id: str, amount: str, *, kind: str = "commit", commit_type: str | None = "prepaid",
            start: datetime = START, end: datetime = END) -> Segment:
    return Segment(id=seg_id, source_id=seg_id.split(":")[0], source_kind=kind,
                   commit_type=commit_type if kind == "commit" else None,
                   starting_at=start, ending_before=end, amount=D(amount))


def snapshot(**changes: Any) -> AlertSnapshot:
    base: dict[str, Any] = {
        "at": datetime(2025, 3, 16, tzinfo=UTC),
        "currency": "USD",
        "segments": (segment("prepaid:0", "1000"),),
        "balances": (SegmentBalance(segment_id="prepaid:0", remaining=D("600")),),
        "history_start": START,
    }
    return AlertSnapshot(**(base | changes))


def alert(type_: str, threshold: str | None = None, **extra: Any) -> Alert:
    return Alert.model_validate({"id": "a1", "type": type_, "threshold": threshold, **extra})


# --- balance_below ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "draft", "in_breach", "observed"),
    [
        ("500", "99.99", False, "500.01"),
        ("500", "100", False, "500"),  # at the threshold is not under it
        ("500", "100.01", True, "499.99"),
        ("500", "0", False, "600"),
        ("500", "600", True, "0"),
    ],
)
def test_balance_below_counts_the_open_periods_draft(
    threshold: str, draft: str, in_breach: bool, observed: str
) -> None:
    reading = evaluate_alert(
        alert("balance_below", threshold), snapshot(draft_drawdown={"prepaid:0": D(draft)})
    )
    assert reading.in_breach is in_breach
    assert reading.observed == D(observed)


def test_balance_pools_live_commits_and_credits_but_not_postpaid_or_other_windows() -> None:
    later = datetime(2025, 7, 1, tzinfo=UTC)
    snap = snapshot(
        segments=(
            segment("prepaid:0", "1000"),
            segment("promo:0", "50", kind="credit"),
            segment("minimum:0", "5000", commit_type="postpaid"),
            segment("prepaid:1", "1000", start=later),  # not yet accessible
            segment("old:0", "70", end=datetime(2025, 3, 1, tzinfo=UTC)),  # already ended
        ),
        balances=(SegmentBalance(segment_id="prepaid:0", remaining=D("600")),),
    )
    # promo has no ledger entries yet: its whole amount remains
    assert live_balance(snap) == D("650")


def test_balance_below_watches_nothing_when_no_segment_is_open() -> None:
    ended = segment("prepaid:0", "1000", end=datetime(2025, 3, 1, tzinfo=UTC))
    reading = evaluate_alert(alert("balance_below", "1"), snapshot(segments=(ended,)))
    assert (reading.in_breach, reading.observed) == (False, D("0"))
    assert not evaluate_alert(alert("balance_below", "1"), snapshot(segments=())).in_breach


# --- spend_above -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "in_breach"),
    [("999.99", False), ("1000", False), ("1000.00", False), ("1000.01", True), ("0", False)],
)
def test_spend_above_is_strictly_over(spend: str, in_breach: bool) -> None:
    reading = evaluate_alert(alert("spend_above", "1000"), snapshot(period_spend=D(spend)))
    assert reading.in_breach is in_breach
    assert reading.observed == D(spend)


# --- projected_exhaustion --------------------------------------------------------------------

AT = datetime(2025, 12, 1, tzinfo=UTC)  # 31 days before the segment ends


def burning(balance: str, drawn_per_month: str, **changes: Any) -> AlertSnapshot:
    """A whole 30-day window of drawdown at `drawn_per_month`, `balance` left at AT."""
    return snapshot(
        at=AT,
        balances=(SegmentBalance(segment_id="prepaid:0", remaining=D(balance)),),
        drawdown=(DrawdownSpan(start=AT - timedelta(days=30), end=AT, amount=D(drawn_per_month)),),
        **changes,
    )


@pytest.mark.parametrize(
    ("balance", "in_breach"),
    [
        ("309.99", True),  # 31 days at 10.00 a day would need 310.00
        ("310", False),  # runs out exactly as the segment ends: not before it
        ("310.01", False),
    ],
)
def test_projected_exhaustion_at_the_segment_end(balance: str, in_breach: bool) -> None:
    reading = evaluate_alert(alert("projected_exhaustion"), burning(balance, "300"))
    assert reading.in_breach is in_breach
    assert reading.details["burn_rate_per_day"] == "10.00"
    assert reading.details["segments_end_at"] == END.isoformat()


def test_projected_exhaustion_reports_when() -> None:
    reading = evaluate_alert(alert("projected_exhaustion"), burning("100", "300"))
    assert reading.details["exhausts_at"] == (AT + timedelta(days=10)).isoformat()


def test_no_burn_never_exhausts_and_an_empty_balance_is_exhausted() -> None:
    assert not evaluate_alert(alert("projected_exhaustion"), burning("5", "0")).in_breach
    assert evaluate_alert(alert("projected_exhaustion"), burning("0", "0")).in_breach
    nothing_live = burning("0", "300", segments=())
    assert not evaluate_alert(alert("projected_exhaustion"), nothing_live).in_breach


def test_burn_rate_prorates_periods_by_their_overlap_with_the_window() -> None:
    # A 62-day period drew 620 (10 a day); only its last 30 days are in the window.
    long = DrawdownSpan(start=AT - timedelta(days=62), end=AT, amount=D("620"))
    assert burn_per_second(snapshot(at=AT, drawdown=(long,))) * 86_400 == 10
    # The open period's draft: 5 days in, 50 drawn.
    open_ = DrawdownSpan(start=AT - timedelta(days=5), end=AT, amount=D("50"))
    assert burn_per_second(snapshot(at=AT, drawdown=(open_,))) * 86_400 == Fraction(50, 30)


def test_burn_window_starts_no_earlier_than_the_contract() -> None:
    at = START + timedelta(days=5)
    span = DrawdownSpan(start=START, end=at, amount=D("50"))
    snap = snapshot(at=at, drawdown=(span,), history_start=START)
    assert burn_per_second(snap) * 86_400 == 10
    assert burn_per_second(snapshot(at=START, history_start=START)) == 0


# --- which alerts, and crossings -------------------------------------------------------------


def test_ended_alerts_are_not_evaluated() -> None:
    at = datetime(2025, 3, 16, tzinfo=UTC)
    alerts = [
        Alert(id="ended", type="spend_above", threshold=D(1), ending_before=at),
        Alert(id="later", type="spend_above", threshold=D(1), ending_before=at + timedelta(1)),
        Alert(id="open", type="spend_above", threshold=D(1)),
    ]
    readings = evaluate_alerts(alerts, snapshot(at=at))
    assert [r.alert_id for r in readings] == ["later", "open"]


@pytest.mark.parametrize(
    ("in_breach", "state", "step"),
    [
        (True, CrossingState(), "fire"),
        (True, CrossingState(crossings=1, cleared=False), None),  # still the same crossing
        (False, CrossingState(crossings=1, cleared=False), "clear"),  # re-arms
        (True, CrossingState(crossings=1, cleared=True), "fire"),  # the second crossing
        (False, CrossingState(), None),
    ],
)
def test_fires_once_per_crossing(in_breach: bool, state: CrossingState, step: str | None) -> None:
    assert next_transition(in_breach, state) == step


def test_payload_carries_amounts_as_strings() -> None:
    reading = evaluate_alert(alert("balance_below", "500.00"),
                             snapshot(draft_drawdown={"prepaid:0": D("150.50")}))
    at = datetime(2025, 3, 16, 12, tzinfo=UTC)
    payload = firing_payload(reading, contract_id="c1", customer_id="acme", currency="USD",
                             crossing=2, crossed_at=at)
    assert payload == {
        "event": "alert.fired", "contract_id": "c1", "customer_id": "acme",
        "alert": {"id": "a1", "type": "balance_below", "threshold": "500.00"},
        "observed": "449.50", "details": {}, "crossing": 2,
        "crossed_at": "2025-03-16T12:00:00+00:00", "currency": "USD",
    }
