"""Amendment and renewal rules on contract terms (pure, no Temporal)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.terms import Amendment, ContractTerms, RenewalTerms
from pricing.amendments import (
    AmendmentConflict,
    AmendmentInvalid,
    apply_amendment,
    check_amendment,
    successor_terms,
)


def at(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


TERMS = ContractTerms.model_validate(
    {
        "id": "infrax",
        "customer_id": "cust",
        "rate_card_alias": "list",
        "starting_at": "2024-01-01T00:00:00Z",
        "ending_before": "2027-01-01T00:00:00Z",
        "overrides": [
            {
                "id": "storage-y1",
                "type": "multiplier",
                "multiplier": "0.9",
                "product_tags": ["storage"],
                "starting_at": "2024-01-01T00:00:00Z",
                "ending_before": "2025-01-01T00:00:00Z",
            }
        ],
        "discounts": [{"id": "promo", "type": "percent", "percent": "10"}],
        "credits": [
            {
                "id": "onboarding",
                "reason": "onboarding",
                "access_schedule": [
                    {
                        "amount": "300",
                        "starting_at": "2024-01-01T00:00:00Z",
                        "ending_before": "2024-04-01T00:00:00Z",
                    },
                    {
                        "amount": "300",
                        "starting_at": "2024-04-01T00:00:00Z",
                        "ending_before": "2024-07-01T00:00:00Z",
                    },
                ],
            }
        ],
        "alerts": [{"id": "low", "type": "balance_below", "threshold": "5000"}],
    }
)


def amendment(**fields: object) -> Amendment:
    return Amendment.model_validate({"id": "a1", "effective_at": "2025-01-01T00:00:00Z", **fields})


def test_additions_are_appended_and_start_at_the_effective_instant() -> None:
    amended = apply_amendment(
        TERMS,
        amendment(
            overrides=[{"type": "multiplier", "multiplier": "0.85", "product_tags": ["analysis"]}]
        ),
    )
    added = amended.overrides[-1]
    assert added.id == "a1-overrides-0"
    assert added.starting_at == at(2025, 1)
    assert added.multiplier == Decimal("0.85")
    assert amended.overrides[0] == TERMS.overrides[0]


def test_end_cuts_a_discount_and_drops_an_alert_window() -> None:
    amended = apply_amendment(
        TERMS,
        amendment(
            end=[
                {"id": "promo", "at": "2025-03-01T00:00:00Z"},
                {"id": "low", "at": "2025-02-01T00:00:00Z"},
            ]
        ),
    )
    assert amended.discounts[0].ending_before == at(2025, 3)
    assert amended.alerts[0].ending_before == at(2025, 2)


def test_ending_a_credit_withdraws_later_access_and_cuts_the_spanning_item() -> None:
    amended = apply_amendment(
        TERMS.model_copy(update={"starting_at": at(2024, 1)}),
        Amendment.model_validate(
            {
                "id": "a2",
                "effective_at": "2024-02-15T00:00:00Z",
                "end": [{"id": "onboarding", "at": "2024-02-15T00:00:00Z"}],
            }
        ),
    )
    (item,) = amended.credits[0].access_schedule
    assert (item.starting_at, item.ending_before, item.amount) == (
        at(2024, 1),
        at(2024, 2, 15),
        Decimal("300"),
    )


@pytest.mark.parametrize(
    ("fields", "locked_until", "error"),
    [
        (
            {"discounts": [{"id": "promo", "type": "percent", "percent": "5"}]},
            at(2024, 1),
            AmendmentInvalid,
        ),
        ({"end": [{"id": "nope", "at": "2025-02-01T00:00:00Z"}]}, at(2024, 1), AmendmentInvalid),
        ({}, at(2025, 2), AmendmentConflict),
        ({"end": [{"id": "promo", "at": "2024-06-01T00:00:00Z"}]}, at(2024, 12), AmendmentConflict),
        (
            {
                "overrides": [
                    {
                        "type": "overwrite",
                        "unit_price": "1",
                        "product_ids": ["x"],
                        "starting_at": "2024-11-01T00:00:00Z",
                    }
                ]
            },
            at(2024, 12),
            AmendmentConflict,
        ),
    ],
    ids=[
        "duplicate-id",
        "unknown-end",
        "effective-in-finalized",
        "end-in-finalized",
        "override-backdated",
    ],
)
def test_check_refuses(fields: dict[str, object], locked_until: datetime, error: type) -> None:
    with pytest.raises(error):
        check_amendment(TERMS, amendment(**fields), locked_until)


def test_check_accepts_an_amendment_in_the_open_period() -> None:
    check_amendment(TERMS, amendment(discounts=[{"type": "percent", "percent": "5"}]), at(2025, 1))


def test_successor_starts_where_the_predecessor_ends() -> None:
    successor = successor_terms(
        TERMS, RenewalTerms.model_validate({"id": "r1", "ending_before": "2030-01-01T00:00:00Z"})
    )
    assert successor.id == "infrax-r1"
    assert successor.renews == "infrax"
    assert (successor.starting_at, successor.ending_before) == (at(2027, 1), at(2030, 1))
    assert successor.rate_card_alias == "list"
    assert successor.customer_id == "cust"
