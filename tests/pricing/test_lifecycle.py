"""Whole-contract examples: InfraX (enterprise-commit-model), Acme (enterprise-billing-patterns),
scheduled invoices, postpaid true-ups, rollover and the ledger identity."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from models.terms import Product
from pricing import (
    billing_periods,
    expand_segments,
    grant_entries,
    price_scheduled_invoice,
    price_usage_invoice,
    rollover,
    scheduled_invoice_times,
    true_up_invoice,
)
from pricing.types import LedgerEntry, SegmentBalance
from tests.pricing.builders import (
    at,
    bucket,
    catalog,
    invoice_input,
    period,
    rate,
    terms,
    usage_product,
)

D = Decimal
FIXED = [Product(id="commit", name="Prepaid commitment", kind="fixed"),
         Product(id="support", name="Professional support", kind="fixed")]
INFRAX_CAT = catalog(
    [{"product_id": "storage", "unit_price": "0.10"},
     {"product_id": "analysis", "unit_price": "2"}],
    [usage_product("storage", "storage"), usage_product("analysis", "analysis"), *FIXED])
YEARS = [("50000", 2024), ("200000", 2025), ("250000", 2026)]
INFRAX_COMMIT = {
    "id": "infrax", "name": "InfraX 3-year commit", "type": "prepaid", "product_id": "commit",
    "access_schedule": [{"amount": a, "starting_at": at(y), "ending_before": at(y + 1)}
                        for a, y in YEARS],
    "invoice_schedule": [{"amount": "250000", "timestamp": at(2024)},
                         {"amount": "250000", "timestamp": at(2026)}],
    "rollover_fraction": "0.25",
}
STORAGE_DEAL = [
    {"id": "storage-y1", "type": "multiplier", "multiplier": "0.9", "product_tags": ["storage"],
     "starting_at": at(2024)},
    {"id": "storage-y2", "type": "multiplier", "multiplier": "0.8", "product_tags": ["storage"],
     "starting_at": at(2025)},
]
UPSELL: dict[str, Any] = {
    "commits": [{"id": "upsell", "type": "prepaid", "product_id": "commit",
                 "access_schedule": [{"amount": "300000", "starting_at": at(2025),
                                      "ending_before": at(2027)}],
                 "invoice_schedule": [{"amount": "300000", "timestamp": at(2025)}],
                 "rollover_fraction": "0.25"}],
    "overrides": [{"id": "analysis-85", "type": "multiplier", "multiplier": "0.85",
                   "product_tags": ["analysis"], "starting_at": at(2025)}],
}


def infrax(amended: bool = False) -> Any:
    support = {"id": "support", "product_id": "support", "name": "Professional support",
               "schedule": [{"amount": "5000", "timestamp": at(2024, 3)}]}
    return terms(at(2024), at(2027), commits=[INFRAX_COMMIT, *(UPSELL["commits"] * amended)],
                 overrides=STORAGE_DEAL + UPSELL["overrides"] * amended,
                 scheduled_charges=[support])


def test_infrax_schedule_two_installments_and_support_in_month_three() -> None:
    t = infrax()
    assert scheduled_invoice_times(t) == (at(2024), at(2024, 3), at(2026))
    first = price_scheduled_invoice(t, INFRAX_CAT, D("0.1"), at(2024))
    (ln,) = first.lines
    assert (ln.type, ln.product_id, ln.amount, ln.tax, ln.total) == (
        "commit_purchase", "commit", D("250000.00"), D("25000.00"), D("275000.00"))
    assert (first.key, first.issued_at, first.totals.total) == (
        "scheduled:2024-01-01T00:00:00+00:00", at(2024), D("275000.00"))
    support = price_scheduled_invoice(t, INFRAX_CAT, D(0), at(2024, 3))
    assert [(x.type, x.product_name, x.amount) for x in support.lines] == [
        ("scheduled_charge", "Professional support", D("5000.00"))]
    assert [s.amount for s in expand_segments(t)] == [D(a) for a, _ in YEARS]


def test_infrax_storage_discount_year_one_then_year_two() -> None:
    t = infrax()
    (y1,) = rate(t, INFRAX_CAT, period(at(2024), at(2024, 2)), bucket("storage", 1000, at(2024)))
    (y2,) = rate(t, INFRAX_CAT, period(at(2025), at(2025, 2), 12), bucket("storage", 1000))
    assert (y1.amount, y2.amount) == (D("90.00"), D("80.00"))
    assert y2.references["overrides"] == ["storage-y2"]


def test_infrax_upsell_amendment_prices_analysis_and_draws_the_earlier_ending_segment() -> None:
    t = infrax(amended=True)
    dec_p = period(at(2024, 12), at(2025), 11)
    dec = rate(t, INFRAX_CAT, dec_p, bucket("analysis", 100, at(2024, 12)))
    jan_p = period(at(2025), at(2025, 2), 12)
    jan = rate(t, INFRAX_CAT, jan_p, bucket("analysis", 100))
    assert (dec[0].amount, jan[0].amount) == (D("200.00"), D("170.00"))
    inv = price_usage_invoice(invoice_input(t, INFRAX_CAT, list(jan), jan_p, tax_rate=D(0)))
    assert [(e.segment_id, e.amount) for e in inv.ledger] == [("infrax:1", D("170.00"))]
    assert inv.totals.total == 0


def identity(granted: LedgerEntry, entries: list[LedgerEntry], remaining: Decimal) -> bool:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        sums[e.kind] += e.amount
    return granted.amount == sums["drawdown"] + sums["expiry"] + sums["rollover"] + remaining


def test_infrax_on_time_renewal_rolls_over_25_percent_of_the_commit() -> None:
    t = infrax()
    segments = expand_segments(t)
    balances = [SegmentBalance(segment_id="infrax:0", remaining=D(0)),
                SegmentBalance(segment_id="infrax:1", remaining=D(0)),
                SegmentBalance(segment_id="infrax:2", remaining=D(200000))]
    result = rollover(t, segments, balances, at(2027), at(2028))
    (successor,) = result.commits
    assert (successor.id, successor.invoice_schedule, successor.access_schedule[0].amount) == (
        "rollover-infrax", (), D("125000.00"))
    assert [(e.key, e.kind, e.amount) for e in result.ledger] == [
        ("rollover:infrax:2", "rollover", D("125000.00")),
        ("expiry:infrax:2", "expiry", D("75000.00"))]
    drawn = LedgerEntry(key="x", segment_id="infrax:2", source_id="infrax", kind="drawdown",
                        amount=D(50000), at=at(2026, 6))
    grant = grant_entries(segments)[2]
    assert identity(grant, [drawn, *result.ledger], D(0))
    renewal = terms(at(2027), at(2028), commits=[successor.model_dump()])
    assert scheduled_invoice_times(renewal) == ()


ACME_CAT = catalog([
    {"product_id": "tokens", "dimensions": {"model": "gpt-4"}, "unit_price": "0.03"},
    {"product_id": "tokens", "dimensions": {"model": "gpt-3.5"}, "unit_price": "0.002"},
], [usage_product("tokens", "ai", group_by=("model",)), *FIXED])
ACME_LISTS = {
    "billing": {"cycle": "quarterly", "payment_terms_days": 45},
    "overrides": [{"id": "enterprise", "type": "multiplier", "multiplier": "0.5",
                   "product_tags": ["ai"]}],
    "commits": [{"id": "annual", "name": "Annual commitment", "type": "prepaid",
                 "product_id": "commit",
                 "access_schedule": [{"amount": "125000", "starting_at": at(2025),
                                      "ending_before": at(2026)}],
                 "invoice_schedule": [{"amount": "100000", "timestamp": at(2025)}]}],
}


def test_acme_full_enterprise_setup() -> None:
    t = terms(**ACME_LISTS)
    quarters = billing_periods(t.starting_at, t.ending_before, t.billing.cycle)
    assert [q.end for q in quarters] == [at(2025, 4), at(2025, 7), at(2025, 10), at(2026)]
    purchase = price_scheduled_invoice(t, ACME_CAT, D(0), at(2025))
    assert purchase.totals.total == D("100000.00")
    q1 = quarters[0]
    lines = rate(t, ACME_CAT, q1, bucket("tokens", 1_000_000, model="gpt-4"),
                 bucket("tokens", 5_000_000, model="gpt-3.5"))
    assert [x.amount for x in lines] == [D("5000.00"), D("15000.00")]
    inv = price_usage_invoice(invoice_input(t, ACME_CAT, list(lines), q1))
    assert (inv.totals.usage, inv.totals.commit_applied, inv.totals.total) == (
        D("20000.00"), D("20000.00"), D(0))
    assert inv.due_at == at(2025, 5, 17)  # closes Apr 2 (24 h grace), net-45
    assert [(e.segment_id, e.amount) for e in inv.ledger] == [("annual:0", D("20000.00"))]


def test_postpaid_shortfall_is_trued_up_at_the_segment_end() -> None:
    t = terms(commits=[{"id": "min", "type": "postpaid", "product_id": "commit",
                        "access_schedule": [{"amount": "1000", "starting_at": at(2025),
                                             "ending_before": at(2026)}]}])
    (seg,) = expand_segments(t)
    inv = true_up_invoice(t, INFRAX_CAT, D("0.1"), seg, D("700"))
    assert inv is not None
    (ln,) = inv.lines
    assert (inv.key, inv.kind, ln.type, ln.amount, ln.tax, inv.totals.total) == (
        "true_up:min:0", "true_up", "true_up", D("300.00"), D("30.00"), D("330.00"))
    assert [(e.kind, e.amount) for e in inv.ledger] == [("true_up", D("300.00"))]
    assert true_up_invoice(t, INFRAX_CAT, D("0.1"), seg, D("1000")) is None


def test_recurring_credit_expands_per_interval_from_its_start() -> None:
    every_year = {"interval": "year", "amount": "300", "starting_at": at(2025),
                  "ending_before": at(2027, 7)}
    t = terms(credits=[{"id": "yearly", "recurrence": every_year}], end=at(2028))
    assert [(s.id, s.starting_at, s.ending_before, s.amount) for s in expand_segments(t)] == [
        ("yearly:0", at(2025), at(2026), D(300)), ("yearly:1", at(2026), at(2027), D(300)),
        ("yearly:2", at(2027), at(2027, 7), D(300))]


def test_invoice_schedule_absent_bills_the_access_total_at_the_first_start() -> None:
    commit = {"id": "c", "type": "prepaid", "access_schedule": [
        {"amount": "10", "starting_at": at(2025, 6), "ending_before": at(2026)},
        {"amount": "5", "starting_at": at(2025), "ending_before": at(2025, 6)}]}
    t = terms(commits=[commit])
    assert scheduled_invoice_times(t) == (at(2025),)
    assert price_scheduled_invoice(t, INFRAX_CAT, D(0), at(2025)).totals.total == D("15.00")
