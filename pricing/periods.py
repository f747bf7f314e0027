"""Calendar arithmetic: months added from an anchor, and billing periods."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pricing.types import Period

Cycle = Literal["monthly", "quarterly", "annual"]
CYCLE_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "annual": 12}
INTERVAL_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
_MICROSECOND = timedelta(microseconds=1)


def add_months(dt: datetime, n: int) -> datetime:
    """dt plus n calendar months, the day clamped to the target month's length."""
    months = dt.year * 12 + dt.month - 1 + n
    year, month = divmod(months, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def month_steps(
    starting_at: datetime, ending_before: datetime, months: int
) -> tuple[tuple[datetime, datetime], ...]:
    """Windows of `months` months counted from the anchor, the last cut at ending_before."""
    windows: list[tuple[datetime, datetime]] = []
    k = 0
    start = starting_at
    while start < ending_before:
        end = min(add_months(starting_at, (k + 1) * months), ending_before)
        windows.append((start, end))
        k += 1
        start = end
    return tuple(windows)


def billing_periods(
    starting_at: datetime, ending_before: datetime, cycle: str
) -> tuple[Period, ...]:
    """The contract's billing periods, anchored at its start, the last cut at its end."""
    windows = month_steps(starting_at, ending_before, CYCLE_MONTHS[cycle])
    return tuple(Period(index=k, start=s, end=e) for k, (s, e) in enumerate(windows))


def microseconds(start: datetime, end: datetime) -> int:
    """Exact length of [start, end) in microseconds (timedelta.total_seconds is a float)."""
    return (end - start) // _MICROSECOND


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Exact length of [start, end) in hours."""
    return Decimal(microseconds(start, end)) / Decimal(3_600_000_000)
