"""Properties that hold for any input: money never appears or vanishes, order never matters."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import expand_segments, expiry_entries, grant_entries, price_usage_invoice, rate_usage
from pricing.types import PricedInvoice, RatedLine, RatingInput, SegmentBalance
from tests.pricing.builders import at, bucket, catalog, invoice_input, period, terms, usage_product

D = Decimal
PRODUCTS = [usage_product("cpu", "compute", group_by=("region",)),
            usage_product("disk", "compute", "storage", group_by=("region",)),
            usage_product("db", "database", group_by=("region",))]
CAT = catalog([{"product_id": "cpu", "unit_price": "0.0137"},
               {"product_id": "disk", "tiers": [{"up_to": "50", "unit_price": "0.3"},
                                                {"unit_price": "0.07"}], "tier_mode": "graduated"},
               {"product_id": "db", "tiers": [{"up_to": "100", "unit_price": "1.11"},
                                              {"unit_price": "0.99"}], "tier_mode": "volume"}],
              PRODUCTS)
PIDS = st.sampled_from(["cpu", "disk", "db"])
CENTS = st.integers(min_value=0, max_value=500_000).map(lambda c: D(c) / 100)
MID = at(2025, 1, 16)


@st.composite
def lines(draw: Any) -> list[RatedLine]:
    keys = draw(st.lists(st.tuples(PIDS, st.sampled_from(["eu", "us", "ap"])), unique=True,
                         max_size=6))
    return [RatedLine(product_id=p, product_name=p, dimensions={"region": r}, quantity=D(1),
                      unit_price=None, amount=draw(CENTS), explanation="") for p, r in keys]


def discount(i: int, draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["percent", "amount"]))
    value = ({"percent": str(draw(st.integers(0, 100)))} if kind == "percent"
             else {"amount": str(draw(CENTS))})
    target = draw(st.sampled_from([{}, {"product_ids": ["cpu"]}, {"product_tags": ["compute"]}]))
    cap = draw(st.one_of(st.none(), CENTS))
    return {"id": f"d{i}", "type": kind, **value, **target, "priority": draw(st.integers(1, 3)),
            **({"max_amount": str(cap)} if cap is not None else {})}


def access(draw: Any) -> list[dict[str, Any]]:
    start = draw(st.sampled_from([at(2024, 12), at(2025)]))
    return [{"amount": str(draw(CENTS)), "starting_at": start, "ending_before": at(2025, 6)}]


@st.composite
def contracts(draw: Any) -> dict[str, Any]:
    applicable = st.sampled_from([{}, {"applicable_product_tags": ["compute"]},
                                  {"applicable_product_ids": ["db"]}])
    return {
        "discounts": [discount(i, draw) for i in range(draw(st.integers(0, 4)))],
        "commits": [{"id": f"c{i}", "type": draw(st.sampled_from(["prepaid", "postpaid"])),
                     "priority": draw(st.integers(1, 2)), "access_schedule": access(draw),
                     **draw(applicable)} for i in range(draw(st.integers(0, 3)))],
        "credits": [{"id": f"k{i}", "access_schedule": access(draw), **draw(applicable)}
                    for i in range(draw(st.integers(0, 3)))],
    }


def price(lists: dict[str, Any], usage: list[RatedLine], tax: Decimal,
          used: list[Decimal]) -> tuple[PricedInvoice, Any, list[SegmentBalance]]:
    t = terms(**lists)
    segments = expand_segments(t)
    balances = [SegmentBalance(segment_id=s.id, remaining=max(s.amount - u, D(0)))
                for s, u in zip(segments, used, strict=False)]
    inv = price_usage_invoice(invoice_input(t, CAT, usage, tax_rate=tax, balances=tuple(balances)))
    return inv, segments, balances


TAX = st.sampled_from([D(0), D("0.07"), D("0.2"), D("0.0825")])
USED = st.lists(CENTS, max_size=6)


@settings(max_examples=150, deadline=None)
@given(contracts(), lines(), TAX, USED)
def test_invoice_invariants(lists: dict[str, Any], usage: list[RatedLine], tax: Decimal,
                            used: list[Decimal]) -> None:
    inv, segments, balances = price(lists, usage, tax, used)
    cent = D("0.01")
    for ln in inv.lines:
        assert ln.total >= 0
        assert 0 <= ln.discount <= ln.amount
        assert ln.commit_applied <= ln.amount - ln.discount
        assert ln.credits_applied <= ln.amount - ln.discount - ln.commit_applied + ln.tax
        assert ln.total == ln.amount - ln.discount - ln.commit_applied + ln.tax - ln.credits_applied
        for value in (ln.amount, ln.discount, ln.commit_applied, ln.tax, ln.credits_applied):
            assert value == value.quantize(cent)
    totals = inv.totals
    assert totals.total >= 0
    assert totals.total == sum((ln.total for ln in inv.lines), D(0))
    assert totals.usage + totals.corrections - totals.discounts - totals.commit_applied \
        + totals.tax - totals.credits_applied == totals.total
    # ledger identity: granted = drawn + expired + remaining, and no draw beats its balance
    start = {b.segment_id: b.remaining for b in balances}
    drawn: dict[str, Decimal] = defaultdict(Decimal)
    for e in inv.ledger:
        drawn[e.segment_id] += e.amount
    after = []
    for seg in segments:
        before = start.get(seg.id, seg.amount)
        assert drawn[seg.id] <= before
        after.append(SegmentBalance(segment_id=seg.id, remaining=before - drawn[seg.id]))
    expired = {e.segment_id: e.amount for e in expiry_entries(segments, after, at(2030))}
    granted = {g.segment_id: g for g in grant_entries(segments)}
    for seg, bal in zip(segments, after, strict=True):
        grant = granted[seg.id]
        used_before = seg.amount - start.get(seg.id, seg.amount)
        left = D(0) if seg.id in expired else bal.remaining
        assert grant.amount == used_before + drawn[seg.id] + expired.get(seg.id, D(0)) + left


@settings(max_examples=75, deadline=None)
@given(contracts(), lines(), TAX, USED, st.randoms(use_true_random=False))
def test_shuffling_input_lists_changes_nothing(lists: dict[str, Any], usage: list[RatedLine],
                                              tax: Decimal, used: list[Decimal],
                                              rnd: Any) -> None:
    first, _, _ = price(lists, usage, tax, used)
    shuffled = {k: rnd.sample(v, len(v)) for k, v in lists.items()}
    again, _, _ = price(shuffled, rnd.sample(usage, len(usage)), tax, used)
    assert first.model_dump_json() == again.model_dump_json()


QTY = st.integers(min_value=0, max_value=10**9).map(lambda q: D(q) / 1000)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(PIDS, st.sampled_from(["eu", "us"]), st.booleans(), QTY), max_size=10),
       st.randoms(use_true_random=False))
def test_rating_is_order_independent_and_rounded_once(raw: list[Any], rnd: Any) -> None:
    t = terms(overrides=[{"id": "half", "type": "multiplier", "multiplier": "0.5",
                          "product_tags": ["compute"], "starting_at": MID}])
    seen = {(p, r, late) for p, r, late, _ in raw}
    buckets = [bucket(p, str(q), MID if late else at(2025), region=r)
               for (p, r, late, q) in {(p, r, late): (p, r, late, q) for p, r, late, q in raw
                                       }.values()]
    assert len(buckets) == len(seen)
    one = rate_usage(RatingInput(terms=t, catalog=CAT, period=period(), buckets=tuple(buckets)))
    two = rate_usage(RatingInput(terms=t, catalog=CAT, period=period(),
                                 buckets=tuple(rnd.sample(buckets, len(buckets)))))
    assert [x.model_dump_json() for x in one] == [x.model_dump_json() for x in two]
    for ln in one:
        assert ln.amount == ln.amount.quantize(D("0.01"))
        assert abs(ln.amount - D(ln.details["amount_unrounded"])) <= D("0.005")
        assert ln.quantity == sum((b.quantity for b in buckets
                                   if (b.product_id, b.dimensions) == (ln.product_id,
                                                                       ln.dimensions)), D(0))
