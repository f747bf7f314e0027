"""Spend alerts (SPEC 12): which alerts are in breach at a moment, and what crossing that makes.

Everything comes in as a snapshot of the contract's money at `at`; nothing is read or stored here.
The activity records firings; this module only decides.

- balance_below: the pooled remaining balance of the prepaid commit and credit segments whose
  access window contains `at` (postpaid excluded), less what the open period's draft would draw
  from them, is strictly under the threshold. With no such segment it is not in breach.
- spend_above: the open period's spend to date (usage + corrections − discounts, before commits,
  tax and credits) is strictly over the threshold.
- projected_exhaustion: burn rate = prepaid/credit drawdown in the window
  [max(at − 30 days, history_start), at) ÷ the window's length, where each period's drawdown is
  spread evenly over the period (the open period's over [start, at)). In breach when there is a
  live segment and the balance is gone, or at + balance ÷ burn rate falls before the latest end of
  the live segments. The threshold is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from models.money import Dec, UtcDatetime, format_decimal
from models.terms import Alert, Frozen
from pricing.rounding import exact, round_money
from pricing.types import Segment, SegmentBalance

ZERO = Decimal(0)
BURN_WINDOW = timedelta(days=30)
DAY_SECONDS = 86_400

Transition = Literal["fire", "clear"]


class DrawdownSpan(Frozen):
    """What one period drew from prepaid commits and credits, spread evenly over [start, end)."""

    start: UtcDatetime
    end: UtcDatetime
    amount: Dec


class AlertSnapshot(Frozen):
    """The contract's money at `at`, as the alerts see it."""

    at: UtcDatetime
    currency: str
    segments: tuple[Segment, ...] = ()
    balances: tuple[SegmentBalance, ...] = ()
    draft_drawdown: dict[str, Dec] = {}
    period_spend: Dec = ZERO
    drawdown: tuple[DrawdownSpan, ...] = ()
    history_start: UtcDatetime


class AlertReading(Frozen):
    """One alert checked against a snapshot: in breach or not, and the value it saw."""

    alert_id: str
    type: str
    threshold: Dec | None = None
    in_breach: bool
    observed: Dec
    details: dict[str, str] = {}


class CrossingState(Frozen):
    """An alert's history: how many times it fired, and whether the last firing has cleared."""

    crossings: int = 0
    cleared: bool = True


def live_segments(segments: Iterable[Segment], at: datetime) -> list[Segment]:
    """Prepaid commit and credit segments whose access window contains `at`."""
    return [
        s
        for s in segments
        if s.commit_type != "postpaid" and s.starting_at <= at < s.ending_before
    ]


@exact
def live_balance(snapshot: AlertSnapshot) -> Decimal:
    """Remaining balance of the live segments less what the open period's draft draws from them."""
    remaining = {b.segment_id: b.remaining for b in snapshot.balances}
    return sum(
        (
            remaining.get(s.id, s.amount) - snapshot.draft_drawdown.get(s.id, ZERO)
            for s in live_segments(snapshot.segments, snapshot.at)
        ),
        ZERO,
    )


def burn_window(snapshot: AlertSnapshot) -> tuple[datetime, datetime]:
    """The window the burn rate is measured over: at most 30 days, never before history_start."""
    return max(snapshot.at - BURN_WINDOW, snapshot.history_start), snapshot.at


def burn_per_second(snapshot: AlertSnapshot) -> Fraction:
    """Drawdown per second over the burn window, exact (each span pro-rated by its overlap)."""
    start, end = burn_window(snapshot)
    window = (end - start).total_seconds()
    if window <= 0:
        return Fraction(0)
    drawn = Fraction(0)
    for span in snapshot.drawdown:
        length = (span.end - span.start).total_seconds()
        overlap = (min(span.end, end) - max(span.start, start)).total_seconds()
        if length > 0 and overlap > 0:
            drawn += Fraction(span.amount) * Fraction(overlap) / Fraction(length)
    return drawn / Fraction(window)


@exact
def evaluate_alert(alert: Alert, snapshot: AlertSnapshot) -> AlertReading:
    """Whether `alert` is in breach at the snapshot's moment, with the value it observed."""
    balance = live_balance(snapshot)
    if alert.type == "balance_below":
        assert alert.threshold is not None
        # With no segment open there is no balance to watch: an expiry is not a spend.
        live = bool(live_segments(snapshot.segments, snapshot.at))
        return _reading(alert, live and balance < alert.threshold, balance)
    if alert.type == "spend_above":
        assert alert.threshold is not None
        spend = snapshot.period_spend
        return _reading(alert, spend > alert.threshold, spend)
    return _projected_exhaustion(alert, snapshot, balance)


def evaluate_alerts(alerts: Sequence[Alert], snapshot: AlertSnapshot) -> tuple[AlertReading, ...]:
    """Readings of the alerts still in force at the snapshot's moment, in the terms' order."""
    return tuple(
        evaluate_alert(a, snapshot)
        for a in alerts
        if a.ending_before is None or a.ending_before > snapshot.at
    )


def next_transition(in_breach: bool, state: CrossingState) -> Transition | None:
    """A new breach fires once; a breach that ends re-arms the alert; anything else is quiet."""
    if in_breach and state.cleared:
        return "fire"
    if not in_breach and not state.cleared:
        return "clear"
    return None


def firing_payload(
    reading: AlertReading,
    *,
    contract_id: str,
    customer_id: str,
    currency: str,
    crossing: int,
    crossed_at: datetime,
) -> dict[str, Any]:
    """The firing as recorded and as POSTed to the webhook: JSON-ready, amounts as strings."""
    return {
        "event": "alert.fired",
        "contract_id": contract_id,
        "customer_id": customer_id,
        "alert": {
            "id": reading.alert_id,
            "type": reading.type,
            "threshold": None if reading.threshold is None else format_decimal(reading.threshold),
        },
        "observed": format_decimal(reading.observed),
        "details": dict(reading.details),
        "crossing": crossing,
        "crossed_at": crossed_at.isoformat(),
        "currency": currency,
    }


def _reading(
    alert: Alert, in_breach: bool, observed: Decimal, details: dict[str, str] | None = None
) -> AlertReading:
    return AlertReading(
        alert_id=alert.id,
        type=alert.type,
        threshold=alert.threshold,
        in_breach=in_breach,
        observed=observed,
        details=details or {},
    )


def _projected_exhaustion(
    alert: Alert, snapshot: AlertSnapshot, balance: Decimal
) -> AlertReading:
    live = live_segments(snapshot.segments, snapshot.at)
    rate = burn_per_second(snapshot)
    start, _ = burn_window(snapshot)
    details = {
        "balance": format_decimal(balance),
        "burn_rate_per_day": format_decimal(
            round_money(_decimal(rate * DAY_SECONDS), snapshot.currency)
        ),
        "burn_window_start": start.isoformat(),
    }
    if not live:
        return _reading(alert, False, balance, details)
    ends_at = max(s.ending_before for s in live)
    details["segments_end_at"] = ends_at.isoformat()
    if balance <= 0:
        details["exhausts_at"] = snapshot.at.isoformat()
        return _reading(alert, True, balance, details)
    if rate <= 0:
        return _reading(alert, False, balance, details)
    seconds_left = Fraction(balance) / rate
    in_breach = seconds_left < Fraction((ends_at - snapshot.at).total_seconds())
    horizon = datetime.max.replace(tzinfo=snapshot.at.tzinfo) - snapshot.at
    if seconds_left < Fraction(horizon.total_seconds()):
        exhausts_at = snapshot.at + timedelta(seconds=int(seconds_left))
        details["exhausts_at"] = exhausts_at.isoformat()
    return _reading(alert, in_breach, balance, details)


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)
