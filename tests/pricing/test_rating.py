"""Rating: rate resolution, override precedence, tiers across segments, sustained use."""

from decimal import Decimal
from typing import Any

import pytest

from pricing import PricingError, correction_lines, rate_change_points
from tests.pricing.builders import at, bucket, catalog, period, rate, terms, usage_product

D = Decimal
TOKENS = usage_product("tokens", "ai", group_by=("model",))
PLAN = catalog([
    {"product_id": "tokens", "dimensions": {"model": "gpt-4"}, "unit_price": "0.03"},
    {"product_id": "tokens", "dimensions": {"model": "gpt-3.5"}, "unit_price": "0.002"},
], [TOKENS])


def _gpt(model: str, qty: int = 100_000) -> Any:
    return bucket("tokens", qty, model=model)


@pytest.mark.parametrize(("customer", "overrides", "gpt4", "gpt35"), [
    ("Startup Inc", [], "3000.00", "200.00"),
    ("Acme Corp", [{"product_ids": ["tokens"], "dimensions": {"model": "gpt-4"},
                    "type": "overwrite", "unit_price": "0.02"}], "2000.00", "200.00"),
    ("Mega Enterprise", [
        {"product_ids": ["tokens"], "dimensions": {"model": "gpt-4"}, "type": "overwrite",
         "unit_price": "0.015"},
        {"product_ids": ["tokens"], "dimensions": {"model": "gpt-3.5"}, "type": "overwrite",
         "unit_price": "0.001"},
    ], "1500.00", "100.00"),
])
def test_one_plan_three_customers(customer: str, overrides: list[dict[str, Any]], gpt4: str,
                                  gpt35: str) -> None:
    """enterprise-billing-patterns: contracts customise rates, not plans."""
    lines = rate(terms(overrides=overrides), PLAN, period(), _gpt("gpt-4"), _gpt("gpt-3.5"))
    by_model = {line.dimensions["model"]: line for line in lines}
    assert by_model["gpt-4"].amount == D(gpt4)
    assert by_model["gpt-3.5"].amount == D(gpt35)
    assert [x.dimensions["model"] for x in lines] == ["gpt-3.5", "gpt-4"]


def test_most_specific_rate_wins_and_later_start_replaces() -> None:
    cat = catalog([
        {"product_id": "tokens", "unit_price": "1"},
        {"product_id": "tokens", "dimensions": {"model": "a"}, "unit_price": "2"},
        {"product_id": "tokens", "dimensions": {"model": "a"}, "unit_price": "3",
         "starting_at": "2025-01-16T00:00:00Z"},
    ], [TOKENS])
    lines = rate(terms(), cat, period(),
                 bucket("tokens", 10, model="a"), bucket("tokens", 10, at(2025, 1, 16), model="a"),
                 bucket("tokens", 10, model="b"))
    assert [(x.dimensions["model"], x.amount, x.unit_price) for x in lines] == [
        ("a", D("50.00"), None), ("b", D("10.00"), D(1))]


def test_usage_without_any_price_is_refused_not_billed_at_zero() -> None:
    with pytest.raises(PricingError):
        rate(terms(), PLAN, period(), _gpt("gpt-5"))


BASE = catalog([{"product_id": "tokens", "unit_price": "1"}], [TOKENS])


def _ov(oid: str, kind: str, **kw: Any) -> dict[str, Any]:
    value = {"multiplier": kw.pop("m")} if kind == "multiplier" else {"unit_price": kw.pop("p")}
    return {"id": oid, "type": kind, "product_ids": kw.pop("ids", ["tokens"]), **value, **kw}


@pytest.mark.parametrize(("overrides", "prioritization", "price", "winner"), [
    ([_ov("m", "multiplier", m="0.5"), _ov("o", "overwrite", p="0.9")], "lowest", "0.9", "o"),
    ([_ov("o1", "overwrite", p="0.7", priority=2), _ov("o2", "overwrite", p="0.6", priority=1)],
     "lowest", "0.6", "o2"),
    ([_ov("tag", "overwrite", p="0.1", ids=[], product_tags=["ai"]),
      _ov("prod", "overwrite", p="0.2"),
      _ov("dims", "overwrite", p="0.3", dimensions={"model": "a"})], "lowest", "0.3", "dims"),
    ([_ov("tag", "overwrite", p="0.1", ids=[], product_tags=["ai"]),
      _ov("prod", "overwrite", p="0.2")], "lowest", "0.2", "prod"),
    ([_ov("early", "overwrite", p="0.4", starting_at="2024-06-01T00:00:00Z"),
      _ov("late", "overwrite", p="0.5", starting_at="2024-12-01T00:00:00Z")], "lowest", "0.5",
     "late"),
    ([_ov("a", "multiplier", m="0.9", priority=1), _ov("b", "multiplier", m="0.8", priority=2)],
     "lowest", "0.8", "b"),
    ([_ov("a", "multiplier", m="0.9", priority=1), _ov("b", "multiplier", m="0.8", priority=2)],
     "explicit", "0.9", "a"),
    ([_ov("other", "overwrite", p="0.1", dimensions={"model": "b"})], "lowest", "1", None),
    ([_ov("ended", "overwrite", p="0.1", ending_before="2025-01-01T00:00:00Z",
          starting_at="2024-06-01T00:00:00Z")], "lowest", "1", None),
    ([_ov("future", "overwrite", p="0.1", starting_at="2025-01-01T00:00:01Z")], "lowest", "1",
     None),
])
def test_override_precedence(overrides: list[dict[str, Any]], prioritization: str, price: str,
                             winner: str | None) -> None:
    t = terms(start=at(2024), overrides=overrides, multiplier_prioritization=prioritization)
    (line,) = rate(t, BASE, period(), bucket("tokens", 100, model="a"))
    assert line.unit_price == D(price)
    assert line.amount == D(price) * 100
    assert line.references["overrides"] == ([winner] if winner else [])
    if winner:
        assert repr(winner) in line.explanation


GRADUATED = {"product_id": "tokens", "tiers": [{"up_to": "100", "unit_price": "1"},
                                               {"unit_price": "0.5"}]}
HALF_FROM_MID = [_ov("half", "multiplier", m="0.5", starting_at="2025-01-16T00:00:00Z")]


@pytest.mark.parametrize(("mode", "expected"), [
    # segment 1: 80 in band 1 at 1; segment 2 (×0.5): 20 in band 1 at 0.5, 100 in band 2 at 0.25
    ("graduated", "115.00"),
    # period total 200 picks band 2 for both segments: 80 × 0.5 + 120 × 0.25
    ("volume", "70.00"),
])
def test_tiers_count_units_across_segments_in_time_order(mode: str, expected: str) -> None:
    cat = catalog([{**GRADUATED, "tier_mode": mode}], [TOKENS])
    t = terms(overrides=HALF_FROM_MID)
    (line,) = rate(t, cat, period(), bucket("tokens", 120, at(2025, 1, 16)), bucket("tokens", 80))
    assert line.amount == D(expected)
    assert line.quantity == 200
    assert line.unit_price is None
    assert [s["starting_at"] for s in line.details["segments"]] == [
        "2025-01-01T00:00:00+00:00", "2025-01-16T00:00:00+00:00"]


@pytest.mark.parametrize(("qty", "expected"), [("100", "100.00"), ("100.5", "50.25"),
                                                ("0", "0.00")])
def test_volume_band_up_to_is_inclusive(qty: str, expected: str) -> None:
    cat = catalog([{**GRADUATED, "tier_mode": "volume"}], [TOKENS])
    (line,) = rate(terms(), cat, period(), bucket("tokens", qty))
    assert line.amount == D(expected)


def test_line_amount_is_rounded_once_not_per_segment() -> None:
    cat = catalog([{"product_id": "tokens", "unit_price": "0.001"}], [TOKENS])
    t = terms(overrides=[_ov("x", "multiplier", m="1", starting_at="2025-01-16T00:00:00Z")])
    # 5 × 0.001 twice: per-segment rounding would give 0.01 + 0.01
    (line,) = rate(t, cat, period(), bucket("tokens", 5), bucket("tokens", 5, at(2025, 1, 16)))
    assert line.amount == D("0.01")
    assert line.details["amount_unrounded"] == "0.010"


VM = usage_product("vm", "compute", resource="instance_id")
VM_CARD = catalog([{"product_id": "vm", "unit_price": "0.10", "sustained_use": {}}], [VM])
APRIL = period(at(2025, 4), at(2025, 5))  # 720 hours


@pytest.mark.parametrize(("hours", "expected"), [
    ("720", "50.40"),  # the whole month: 0.25+0.20+0.15+0.10 = 70% of 72.00
    ("432", "36.72"),  # 60%: 180×1 + 180×0.8 + 72×0.6 = 367.2 h at list
    ("144", "14.40"),  # 20%: all in the first slice
])
def test_sustained_use_vm_fractions_of_a_month(hours: str, expected: str) -> None:
    (line,) = rate(terms(), VM_CARD, APRIL, bucket("vm", hours, at(2025, 4), resource="vm-1"))
    assert line.amount == D(expected)
    assert "resource vm-1" in line.explanation


def test_sustained_use_prices_each_resource_and_rounds_the_line_once() -> None:
    buckets = [bucket("vm", h, at(2025, 4), resource=r)
               for r, h in (("a", "720"), ("b", "432"), ("c", "144"))]
    (line,) = rate(terms(), VM_CARD, APRIL, *buckets)
    assert line.amount == D("101.52")
    assert line.quantity == 1296


def test_sustained_use_hours_continue_across_a_rate_change() -> None:
    t = terms(overrides=[_ov("cut", "multiplier", m="0.5", ids=["vm"],
                             starting_at="2025-04-16T00:00:00Z")])
    # 360 h before (slices 1-2 at 0.10), 360 h after at 0.05 (slices 3-4)
    (line,) = rate(t, VM_CARD, APRIL, bucket("vm", 360, at(2025, 4), resource="a"),
                   bucket("vm", 360, at(2025, 4, 16), resource="a"))
    assert line.amount == D("18.00") + D("14.40") + D("5.40") + D("3.60")


def test_sustained_use_can_be_switched_off_by_contract() -> None:
    (line,) = rate(terms(sustained_use=False), VM_CARD, APRIL,
                   bucket("vm", 720, at(2025, 4), resource="a"))
    assert line.amount == D("72.00")
    assert line.unit_price == D("0.10")


def test_rate_change_points_inside_the_window_only() -> None:
    cat = catalog([
        {"product_id": "tokens", "unit_price": "1"},
        {"product_id": "tokens", "unit_price": "2", "starting_at": "2025-01-10T00:00:00Z"},
        {"product_id": "tokens", "unit_price": "3", "starting_at": "2025-03-01T00:00:00Z"},
    ], [TOKENS])
    t = terms(overrides=[
        _ov("a", "multiplier", m="0.5", starting_at="2025-01-20T00:00:00Z",
            ending_before="2025-01-25T00:00:00Z"),
        _ov("b", "multiplier", m="0.5", starting_at="2025-01-01T00:00:00Z"),
        _ov("other", "multiplier", m="0.5", ids=["nothing"], starting_at="2025-01-05T00:00:00Z"),
    ])
    assert rate_change_points(t, cat, at(2025), at(2025, 2)) == (
        at(2025, 1, 10), at(2025, 1, 20), at(2025, 1, 25))


def test_correction_lines_bill_the_difference_from_everything_invoiced() -> None:
    cat = catalog([{**GRADUATED, "tier_mode": "graduated"}], [TOKENS])
    p = period()
    (original,) = rate(terms(), cat, p, bucket("tokens", 90))
    (first_fix,) = correction_lines(rate(terms(), cat, p, bucket("tokens", 100)), [original], p)
    assert (first_fix.type, first_fix.quantity, first_fix.amount) == ("correction", 10, D("10.00"))
    (rerated,) = rate(terms(), cat, p, bucket("tokens", 140))
    (second_fix,) = correction_lines([rerated], [original, first_fix], p)
    assert (second_fix.quantity, second_fix.amount) == (40, D("20.00"))
    assert second_fix.references["corrects_period"]["index"] == 0
    assert correction_lines([rerated], [original, first_fix, second_fix], p) == ()
