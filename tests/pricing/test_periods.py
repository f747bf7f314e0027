from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pricing import add_months, billing_periods, round_money
from tests.pricing.builders import at

D = Decimal


@pytest.mark.parametrize(("start", "n", "expected"), [
    (at(2024, 1, 31), 1, at(2024, 2, 29)),
    (at(2024, 1, 31), 2, at(2024, 3, 31)),
    (at(2023, 1, 31), 1, at(2023, 2, 28)),
    (at(2024, 11, 30), 3, at(2025, 2, 28)),
    (at(2024, 2, 29), 12, at(2025, 2, 28)),
    (at(2024, 5, 15, 13), -5, at(2023, 12, 15, 13)),
])
def test_add_months_clamps_the_day(start: datetime, n: int, expected: datetime) -> None:
    assert add_months(start, n) == expected


def test_monthly_periods_count_from_the_anchor_not_the_previous_period() -> None:
    periods = billing_periods(at(2024, 1, 31), at(2024, 5, 1), "monthly")
    assert [(p.index, p.start, p.end) for p in periods] == [
        (0, at(2024, 1, 31), at(2024, 2, 29)),
        (1, at(2024, 2, 29), at(2024, 3, 31)),
        (2, at(2024, 3, 31), at(2024, 4, 30)),
        (3, at(2024, 4, 30), at(2024, 5, 1)),
    ]


@pytest.mark.parametrize(("cycle", "count", "last"), [
    ("monthly", 14, (at(2025, 2, 1), at(2025, 2, 15))),
    ("quarterly", 5, (at(2025, 1, 1), at(2025, 2, 15))),
    ("annual", 2, (at(2025, 1, 1), at(2025, 2, 15))),
])
def test_last_period_is_cut_at_the_contract_end(
    cycle: str, count: int, last: tuple[datetime, datetime]
) -> None:
    periods = billing_periods(at(2024), at(2025, 2, 15), cycle)
    assert len(periods) == count
    assert (periods[-1].start, periods[-1].end) == last


def test_periods_keep_utc() -> None:
    assert billing_periods(at(2024), at(2024, 2), "monthly")[0].start.tzinfo == UTC


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("1.005", "USD", "1.01"),
    ("1.0049999", "USD", "1.00"),
    ("-1.005", "USD", "-1.01"),
    ("2.5", "JPY", "3"),
    ("123456789012345678.125", "EUR", "123456789012345678.13"),
])
def test_round_money_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    result = round_money(D(amount), currency)
    assert result == D(expected)
    assert str(result) == expected
