"""Usage invoice assembly: discounts, commits, tax, credits (SPEC 6; discounts-and-credits)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from pricing import expand_segments, expiry_entries, price_usage_invoice
from pricing.discounts import allocate
from pricing.types import PricedInvoice, SegmentBalance
from tests.pricing.builders import at, catalog, invoice_input, line, period, terms, usage_product

D = Decimal
PRODUCTS = [usage_product("cpu", "compute"), usage_product("disk", "compute", "storage"),
            usage_product("edge-db", "database")]
CAT = catalog([{"product_id": p.id, "unit_price": "1"} for p in PRODUCTS], PRODUCTS)


def invoice(lines: list[Any], **kw: Any) -> PricedInvoice:
    lists = {k: kw.pop(k) for k in ("discounts", "commits", "credits", "sla", "billing")
             if k in kw}
    return price_usage_invoice(invoice_input(terms(**lists), CAT, lines, **kw))


def by_product(inv: PricedInvoice) -> dict[str, Any]:
    return {ln.product_id: ln for ln in inv.lines}


def pct(did: str, percent: str, *targets: str, **kw: Any) -> dict[str, Any]:
    return {"id": did, "type": "percent", "percent": percent, "product_ids": list(targets), **kw}


def test_five_percent_off_a_product_then_ten_percent_off_the_total() -> None:
    inv = invoice([line("cpu", "1000"), line("disk", "500")],
                  discounts=[pct("total", "10"), pct("cpu5", "5", "cpu")])
    lines = by_product(inv)
    assert lines["cpu"].total == D("855.00")  # 1000 × 0.95 × 0.90
    assert lines["disk"].total == D("450.00")
    assert inv.totals.discounts == D("195.00")
    assert lines["cpu"].details["discounts"] == [{"id": "cpu5", "amount": "50.00"},
                                                 {"id": "total", "amount": "95.00"}]


def test_twenty_percent_off_a_category_capped_at_200_a_month() -> None:
    cap = {"id": "cat", "type": "percent", "percent": "20", "product_tags": ["compute"],
           "max_amount": "200"}
    inv = invoice([line("cpu", "600"), line("disk", "700"), line("edge-db", "100")],
                  discounts=[cap])
    lines = by_product(inv)
    # lines fill the cap in line order: cpu 120, then disk only 80 of its 140
    assert (lines["cpu"].discount, lines["disk"].discount, lines["edge-db"].discount) == (
        D("120.00"), D("80.00"), D(0))
    assert inv.totals.total == D("1200.00")


def test_ten_percent_off_everything_plus_a_credit() -> None:
    credit = {"id": "welcome", "reason": "promotional", "access_schedule": [
        {"amount": "50", "starting_at": at(2025), "ending_before": at(2026)}]}
    inv = invoice([line("cpu", "1000")], discounts=[pct("all", "10")], credits=[credit])
    assert (inv.totals.discounts, inv.totals.credits_applied, inv.totals.total) == (
        D("100.00"), D("50"), D("850.00"))


def test_25_percent_off_cpu_plus_a_500_three_month_credit_400_already_used() -> None:
    credit = {"id": "org", "applicable_product_ids": ["cpu"], "access_schedule": [
        {"amount": "500", "starting_at": at(2025), "ending_before": at(2025, 4)}]}
    used_400 = (SegmentBalance(segment_id="org:0", remaining=D(100)),)
    inv = invoice([line("cpu", "800"), line("disk", "300")], discounts=[pct("cpu25", "25", "cpu")],
                  credits=[credit], balances=used_400)
    lines = by_product(inv)
    assert (lines["cpu"].discount, lines["cpu"].credits_applied, lines["cpu"].total) == (
        D("200.00"), D(100), D("500.00"))
    assert lines["disk"].credits_applied == 0
    (entry,) = inv.ledger
    assert (entry.key, entry.kind, entry.amount) == (
        "usage:2025-01-01T00:00:00+00:00:drawdown:org:0", "drawdown", D(100))


def test_discounts_are_pre_tax_and_credits_post_tax() -> None:
    credit = {"id": "big", "access_schedule": [
        {"amount": "2000", "starting_at": at(2025), "ending_before": at(2026)}]}
    inv = invoice([line("cpu", "1000")], discounts=[pct("all", "10")], credits=[credit],
                  tax_rate=D("0.1"))
    (ln,) = inv.lines
    assert (ln.discount, ln.tax, ln.credits_applied, ln.total) == (
        D("100.00"), D("90.00"), D("990.00"), D(0))


def test_a_credit_carries_over_until_it_expires() -> None:
    credit = {"id": "c3", "access_schedule": [
        {"amount": "300", "starting_at": at(2025), "ending_before": at(2025, 4)}]}
    jan = invoice([line("cpu", "100")], credits=[credit])
    assert jan.ledger[0].amount == 100
    feb = invoice([line("cpu", "150")], credits=[credit], p=period(at(2025, 2), at(2025, 3), 1),
                  balances=(SegmentBalance(segment_id="c3:0", remaining=D(200)),))
    assert feb.totals.credits_applied == 150
    apr = invoice([line("cpu", "10")], credits=[credit], p=period(at(2025, 4), at(2025, 5), 3),
                  balances=(SegmentBalance(segment_id="c3:0", remaining=D(50)),))
    assert apr.totals.credits_applied == 0
    assert apr.ledger == ()
    (expiry,) = expiry_entries(expand_segments(terms(credits=[credit])),
                               [SegmentBalance(segment_id="c3:0", remaining=D(50))], at(2025, 4))
    assert (expiry.key, expiry.amount, expiry.at) == ("expiry:c3:0", D(50), at(2025, 4))


@pytest.mark.parametrize(("amount", "weights", "expected"), [
    ("1.00", ["1", "1", "1"], ["0.34", "0.33", "0.33"]),  # tie → earlier line
    ("0.02", ["1", "1", "1"], ["0.01", "0.01", "0.00"]),
    ("10.00", ["30", "10", "0"], ["7.50", "2.50", "0.00"]),
    ("0.05", ["0.01", "0.02", "0.07"], ["0.01", "0.01", "0.03"]),
])
def test_total_discount_allocation_by_largest_remainder(amount: str, weights: list[str],
                                                        expected: list[str]) -> None:
    shares = allocate(D(amount), [D(w) for w in weights], "USD")
    assert shares == [D(e) for e in expected]
    assert sum(shares) == D(amount)


def test_fixed_amount_discounts_never_exceed_their_base() -> None:
    inv = invoice([line("cpu", "30"), line("disk", "20")],
                  discounts=[{"id": "p", "type": "amount", "amount": "40", "product_ids": ["cpu"]},
                             {"id": "t", "type": "amount", "amount": "100"}])
    lines = by_product(inv)
    assert (lines["cpu"].discount, lines["disk"].discount, inv.totals.total) == (
        D(30), D(20), D(0))


@pytest.mark.parametrize(("first", "index", "applies"), [
    ({}, 5, True), ({"d": 2}, 3, True), ({"d": 2}, 4, False), ({"d": 2}, 1, False),
])
def test_duration_counts_from_the_first_period_it_reduced(first: dict[str, int], index: int,
                                                          applies: bool) -> None:
    start = at(2025, 1 + index)
    inv = invoice([line("cpu", "100")], p=period(start, start + timedelta(days=28), index),
                  discounts=[pct("d", "10", duration_periods=2)], discount_first_period=first)
    assert inv.totals.discounts == (D(10) if applies else 0)
    assert inv.discount_first_period == (first or {"d": index})


def test_discount_window_is_on_the_period_start() -> None:
    window = pct("w", "10", starting_at=at(2025, 2), ending_before=at(2025, 3))
    jan = invoice([line("cpu", "100")], discounts=[window])
    feb = invoice([line("cpu", "100")], discounts=[window], p=period(at(2025, 2), at(2025, 3), 1))
    assert (jan.totals.discounts, feb.totals.discounts) == (0, 10)


def _commit(cid: str, amount: str, **kw: Any) -> dict[str, Any]:
    start, end = kw.pop("starting_at", at(2025)), kw.pop("ending_before", at(2026))
    return {"id": cid, "type": kw.pop("type", "prepaid"), "access_schedule": [
        {"amount": amount, "starting_at": start, "ending_before": end}], **kw}


@pytest.mark.parametrize(("commits", "order"), [
    ([_commit("b", "10", priority=1), _commit("a", "10", priority=2)], ["b:0", "a:0"]),
    ([_commit("wide", "10"), _commit("narrow", "10", applicable_product_tags=["compute"])],
     ["narrow:0", "wide:0"]),
    ([_commit("late", "10"), _commit("soon", "10", ending_before=at(2025, 6))],
     ["soon:0", "late:0"]),
    ([_commit("new", "10", starting_at=at(2025, 1, 1)),
      _commit("old", "10", starting_at=at(2024, 6))], ["old:0", "new:0"]),
    ([_commit("y", "10"), _commit("x", "10")], ["x:0", "y:0"]),
])
def test_commit_draw_order(commits: list[dict[str, Any]], order: list[str]) -> None:
    inv = invoice([line("cpu", "15")], commits=commits)
    (ln,) = inv.lines
    assert ln.references["commit_segments"] == order
    assert (ln.commit_applied, ln.total) == (D(15), D(0))
    assert {e.segment_id: e.amount for e in inv.ledger} == {order[0]: D(10), order[1]: D(5)}


def test_commit_draws_pre_tax_and_only_for_its_products() -> None:
    inv = invoice([line("cpu", "100"), line("edge-db", "100")], tax_rate=D("0.2"),
                  commits=[_commit("compute", "150", applicable_product_tags=["compute"])])
    lines = by_product(inv)
    assert (lines["cpu"].commit_applied, lines["cpu"].tax, lines["cpu"].total) == (
        D(100), D(0), D(0))
    assert (lines["edge-db"].tax, lines["edge-db"].total) == (D("20.00"), D("120.00"))


def test_a_commit_segment_pays_only_for_periods_starting_in_its_window() -> None:
    later = _commit("next", "100", starting_at=at(2025, 1, 2))
    inv = invoice([line("cpu", "100")], commits=[later])
    assert inv.totals.commit_applied == 0


def test_postpaid_spend_is_counted_but_still_invoiced() -> None:
    inv = invoice([line("cpu", "100"), line("disk", "50")], discounts=[pct("t", "10")],
                  commits=[_commit("min", "1000", type="postpaid")])
    assert inv.totals.total == D("135.00")
    (entry,) = inv.ledger
    assert (entry.segment_id, entry.amount, entry.details["reduces_amount_due"]) == (
        "min:0", D("135.00"), False)


def test_totals_are_exact_sums_and_never_negative() -> None:
    inv = invoice([line("cpu", "100"), line("disk", "-40")], tax_rate=D("0.1"))
    assert inv.totals.usage == D(60)
    assert [ln.total for ln in inv.lines] == [D("110.00"), D(0)]
    assert inv.totals.total == D("110.00")


def test_invoice_key_close_instant_and_payment_terms() -> None:
    inv = invoice([line("cpu", "1")], billing={"cycle": "monthly", "payment_terms_days": 45,
                                               "usage_grace_period_hours": 24})
    assert inv.key == "usage:2025-01-01T00:00:00+00:00"
    assert inv.issued_at == at(2025, 2, 2)
    assert inv.due_at == at(2025, 2, 2) + timedelta(days=45)
