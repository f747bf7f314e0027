"""What a contract has to do next, and when: pure functions of its terms and state, so the
workflow's schedule can be read (and tested) apart from the Temporal plumbing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.terms import ContractTerms
from pricing import billing_periods, expand_segments, scheduled_invoice_times
from pricing.types import Period, Segment
from workflows.state import ContractState

ALERT_INTERVAL = timedelta(days=1)
ORDER = ("activate", "scheduled", "close", "settle", "alerts", "end")


@dataclass(frozen=True)
class Action:
    """The next thing the contract has to do, and when."""

    due: datetime
    kind: str
    period: Period | None = None
    timestamp: datetime | None = None


def contract_periods(terms: ContractTerms) -> tuple[Period, ...]:
    return billing_periods(terms.starting_at, terms.ending_before, terms.billing.cycle)


def contract_segments(terms: ContractTerms, state: ContractState) -> list[Segment]:
    """Every commit and credit segment, SLA credits granted at earlier closes included."""
    return [*expand_segments(terms), *state.sla_segments]


def scheduled_key(timestamp: datetime) -> str:
    return f"scheduled:{timestamp.isoformat()}"


def watched_alerts(terms: ContractTerms, now: datetime) -> bool:
    return any(a.ending_before is None or a.ending_before > now for a in terms.alerts)


def unsettled(terms: ContractTerms, state: ContractState, through: datetime) -> bool:
    """Segments that ended by `through` (before the contract's own end) and await settlement."""
    return any(
        s.id not in state.settled
        and s.ending_before <= through
        and s.ending_before < terms.ending_before
        for s in contract_segments(terms, state)
    )


def next_action(terms: ContractTerms, state: ContractState, now: datetime) -> Action | None:
    """The earliest due action; ties go activate → scheduled → close → settle → alerts → end.
    None when only a signal can move the contract on (a successor awaiting its rollover)."""
    candidates: list[Action] = []
    if state.status == "scheduled":
        candidates.append(Action(terms.starting_at, "activate"))
    for ts in scheduled_invoice_times(terms):
        if scheduled_key(ts) not in state.issued:
            candidates.append(Action(ts, "scheduled", timestamp=ts))
            break
    periods = contract_periods(terms)
    if state.closed_periods < len(periods) and not state.awaiting_rollover:
        period = periods[state.closed_periods]
        grace = timedelta(hours=terms.billing.usage_grace_period_hours)
        candidates.append(Action(period.end + grace, "close", period=period))
    closed_through = periods[state.closed_periods - 1].end if state.closed_periods else None
    if closed_through is not None and unsettled(terms, state, closed_through):
        candidates.append(Action(closed_through, "settle", timestamp=closed_through))
    if state.closed_periods == len(periods) and not candidates and not state.rolled_over:
        candidates.append(Action(terms.ending_before, "end"))
    # Alert checks run while there is an open period; they never hold up the end.
    if state.status == "active" and state.closed_periods < len(periods):
        if watched_alerts(terms, now):
            checked = state.alerts_checked_at or terms.starting_at
            candidates.append(Action(checked + ALERT_INTERVAL, "alerts"))
    return min(candidates, key=lambda a: (a.due, ORDER.index(a.kind)), default=None)


def locked_until(terms: ContractTerms, state: ContractState, closing: bool) -> datetime:
    """Periods that closed, or are closing now, can no longer change."""
    periods = contract_periods(terms)
    locked = state.closed_periods + (1 if closing else 0)
    return periods[locked - 1].end if locked else terms.starting_at
