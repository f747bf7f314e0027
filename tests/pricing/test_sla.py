"""SLA availability and credits (SPEC 11)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from models.terms import SlaTier
from pricing import availability, price_usage_invoice, sla_credit_percent
from pricing.types import Incident, PastPeriod
from tests.pricing.builders import at, catalog, invoice_input, line, period, terms, usage_product

D = Decimal
APRIL = period(at(2025, 4), at(2025, 5), 3)  # 30 days = 2,592,000 s
TIERS = (SlaTier(below=D("99.9"), percent=D(10)), SlaTier(below=D("99.0"), percent=D(25)),
         SlaTier(below=D("95.0"), percent=D(100)))


def down(iid: str, start: datetime, seconds: int | None) -> Incident:
    end = None if seconds is None else start + timedelta(seconds=seconds)
    return Incident(incident_id=iid, sla_id="api", started_at=start, resolved_at=end)


@pytest.mark.parametrize(("incidents", "expected", "percent"), [
    ([], "100", "0"),
    ([down("a", at(2025, 4, 10), 2592)], "99.9", "0"),  # exactly at the bound: not below it
    ([down("a", at(2025, 4, 10), 2593)], "99.89996141975308641975", "10"),
    # overlapping incidents count once
    ([down("a", at(2025, 4, 10), 25920), down("b", at(2025, 4, 10, 1), 3600)], "99", "10"),
    # clipped to the period: only the April half of a 2-day outage counts
    ([down("a", at(2025, 3, 31), 2 * 86400)], "96.666666666666666666666", "25"),
    ([down("a", at(2025, 4, 1), None)], "0", "100"),  # unresolved: down until the end
])
def test_availability_and_tier(incidents: list[Incident], expected: str, percent: str) -> None:
    value = availability(incidents, APRIL.start, APRIL.end)
    # non-terminating values carry 80 significant digits; compare their leading ones
    assert str(value)[:len(expected)] == expected
    assert len(str(value)) == len(expected) or len(value.as_tuple().digits) == 80
    assert sla_credit_percent(TIERS, value) == D(percent)


PRODUCTS = [usage_product("api", "serving"), usage_product("batch")]
CAT = catalog([{"product_id": p.id, "unit_price": "1"} for p in PRODUCTS], PRODUCTS)
SLA = {"id": "api", "product_tags": ["serving"], "credit_tiers": [t.model_dump() for t in TIERS]}


def test_sla_credit_is_granted_and_applied_on_the_same_invoice() -> None:
    t = terms(sla=[SLA], discounts=[{"id": "d", "type": "percent", "percent": "10"}])
    inv = price_usage_invoice(invoice_input(
        t, CAT, [line("api", "1000"), line("batch", "500")], APRIL,
        incidents=(down("x", at(2025, 4, 2), 30 * 864),)))  # 1% down → 99 → 10%
    (grant,) = inv.sla_grants
    assert (grant.percent, grant.amount, grant.segment.id, grant.incident_ids) == (
        D(10), D("90.00"), "sla:api:3", ("x",))
    assert grant.availability == D(99)
    assert grant.downtime_seconds == D(25920)
    assert (grant.segment.reason, grant.segment.ending_before) == ("sla", t.ending_before)
    assert inv.totals.credits_applied == D("90.00")
    assert inv.totals.total == D("1350.00") - D("90.00")
    assert [(e.kind, e.key) for e in inv.ledger] == [
        ("grant", "grant:sla:api:3"),
        ("drawdown", "usage:2025-04-01T00:00:00+00:00:drawdown:sla:api:3")]


def test_late_incident_tops_up_a_finalized_period_at_the_next_close() -> None:
    march = period(at(2025, 3), at(2025, 3, 31), 2)  # 30 days too
    past = PastPeriod(period=march, net_by_product={"api": D(1000), "batch": D(500)},
                      sla_credited={"api": D(100)})
    inv = price_usage_invoice(invoice_input(
        terms(sla=[SLA]), CAT, [line("api", "10")], APRIL,
        incidents=(down("late", at(2025, 3, 2), 2 * 25920),), past_periods=(past,)))
    (grant,) = inv.sla_grants
    # 98% in March → 25% of 1000 = 250, of which 100 was already credited
    assert (grant.period.index, grant.percent, grant.amount) == (2, D(25), D(150))
    assert grant.segment.id == "sla:api:2:late:250.00"
    assert grant.segment.starting_at == APRIL.start
    assert inv.totals.credits_applied == D(10)
