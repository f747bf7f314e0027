"""aggregate_usage: exact sums, dimensions, segments, max/count/unique_count, resources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from models.api import UsageEvent
from models.terms import Meter, Product
from store.usage import aggregate_usage, insert_events

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 2, 1, tzinfo=UTC)
CUT = datetime(2025, 1, 16, tzinfo=UTC)


def product(pid: str, aggregation: str, prop: str | None = None, group_by: tuple[str, ...] = (),
            resource: str | None = None, event_type: str = "call") -> Product:
    return Product(id=pid, name=pid, kind="usage", meter=Meter(
        event_type=event_type, aggregation=aggregation, property=prop, group_by=group_by,
        resource_property=resource))


def store(session: Session, *events: tuple[str, datetime, dict[str, object]],
          alias: str = "acme", event_type: str = "call") -> None:
    batch = [
        UsageEvent(transaction_id=f"tx-{i}-{tx}", customer_id=alias, event_type=event_type,
                   timestamp=at, properties=props)
        for i, (tx, at, props) in enumerate(events)
    ]
    insert_events(session, batch)
    session.commit()


def day(n: int, hour: int = 0) -> datetime:
    return START + timedelta(days=n - 1, hours=hour)


def buckets(session: Session, *products: Product, cuts: tuple[datetime, ...] = (),
            aliases: tuple[str, ...] = ("acme",)) -> list[tuple[object, ...]]:
    result = aggregate_usage(session, aliases=aliases, products=products, start=START, end=END,
                             cut_points=cuts)
    return [(b.product_id, b.dimensions, b.segment_start, b.quantity, b.resource_id)
            for b in result]


def test_sums_are_exact_decimals(session: Session) -> None:
    values = ["0.1", "0.2", 3, "0.000000000001", "-0.05", "123456789012345678", "-1.5",
              "999999999999.999999999999"]
    store(session, *[(f"e{i}", day(2), {"tokens": v}) for i, v in enumerate(values)])
    [(_, _, _, quantity, _)] = buckets(session, product("tok", "sum", "tokens"))
    assert quantity == sum(Decimal(str(v)) for v in values)
    assert str(quantity) == "123457789012345679.75"


def test_many_fractions_stay_exact(session: Session) -> None:
    store(session, *[(f"e{i}", day(3), {"gb": "0.333333333333"}) for i in range(3000)])
    [(_, _, _, quantity, _)] = buckets(session, product("gb", "sum", "gb"))
    assert quantity == Decimal("999.999999999")


def test_dimensions_group_and_missing_property_is_left_out(session: Session) -> None:
    store(session,
          ("a", day(1), {"tokens": 10, "model": "gpt", "region": "eu"}),
          ("b", day(2), {"tokens": 5, "model": "gpt", "region": "eu"}),
          ("c", day(2), {"tokens": 7, "model": "claude", "region": "us"}),
          ("d", day(3), {"tokens": 1, "region": "us"}),
          ("e", day(3), {"model": "gpt", "region": "eu"}))  # no value: not in a sum
    rows = buckets(session, product("tok", "sum", "tokens", ("model", "region")))
    assert rows == [
        ("tok", {"model": "claude", "region": "us"}, START, Decimal(7), None),
        ("tok", {"model": "gpt", "region": "eu"}, START, Decimal(15), None),
        ("tok", {"region": "us"}, START, Decimal(1), None),
    ]


def test_segments_split_at_cut_points(session: Session) -> None:
    store(session,
          ("a", day(1), {"n": 1}), ("b", CUT - timedelta(microseconds=1), {"n": 2}),
          ("c", CUT, {"n": 4}), ("d", day(31, 23), {"n": 8}), ("e", END, {"n": 100}),
          ("f", START - timedelta(seconds=1), {"n": 1000}))
    late_cut = datetime(2025, 1, 20, tzinfo=UTC)
    outside = datetime(2025, 3, 1, tzinfo=UTC)
    rows = buckets(session, product("n", "sum", "n"), cuts=(late_cut, CUT, outside, START))
    assert rows == [("n", {}, START, Decimal(3), None), ("n", {}, CUT, Decimal(4), None),
                    ("n", {}, late_cut, Decimal(8), None)]


def test_count_max_unique(session: Session) -> None:
    store(session,
          ("a", day(1), {"seats": "12.5", "user": "ann"}),
          ("b", day(2), {"seats": 12, "user": "bob"}),
          ("c", day(3), {"seats": "12.50000000001", "user": "ann"}),
          ("d", day(4), {"seats": "gpt", "user": 7}),
          ("e", day(5), {}))
    rows = buckets(
        session,
        product("calls", "count"),
        product("peak", "max", "seats"),
        product("users", "unique_count", "user"),
    )
    assert rows == [
        ("calls", {}, START, Decimal(5), None),
        ("peak", {}, START, Decimal("12.50000000001"), None),
        ("users", {}, START, Decimal(3), None),
    ]


@pytest.mark.parametrize(("values", "expected"), [
    (["-3", "-1.25", "-1.5"], "-1.25"),
    ([-7, "-0.000000000001"], "-0.000000000001"),
    (["0", "-1"], "0"),
    (["999999999999999999", "999999999999999998.999999999999"], "999999999999999999"),
])
def test_max_is_exact_with_negatives(session: Session, values: list[object], expected: str) -> None:
    store(session, *[(f"e{i}", day(1), {"v": v}) for i, v in enumerate(values)])
    [(_, _, _, quantity, _)] = buckets(session, product("v", "max", "v"))
    assert quantity == Decimal(expected)


def test_resources_for_sustained_use(session: Session) -> None:
    store(session,
          ("a", day(1), {"hours": 24, "instance_id": "i-1", "size": "large"}),
          ("b", day(2), {"hours": "12.5", "instance_id": "i-1", "size": "large"}),
          ("c", day(2), {"hours": 3, "instance_id": "i-2", "size": "large"}))
    rows = buckets(session, product("vm", "sum", "hours", ("size",), resource="instance_id"))
    assert rows == [("vm", {"size": "large"}, START, Decimal("36.5"), "i-1"),
                    ("vm", {"size": "large"}, START, Decimal(3), "i-2")]


def test_only_the_customers_aliases_and_the_meters_event_type(session: Session) -> None:
    store(session, ("a", day(1), {"n": 1}), alias="acme")
    store(session, ("b", day(1), {"n": 2}), alias="acme-eu")
    store(session, ("c", day(1), {"n": 4}), alias="globex")
    store(session, ("d", day(1), {"n": 8}), alias="acme", event_type="other")
    rows = buckets(session, product("n", "sum", "n"), aliases=("acme", "acme-eu"))
    assert rows == [("n", {}, START, Decimal(3), None)]
    assert buckets(session, product("n", "sum", "n"), aliases=()) == []


def test_two_products_on_one_event_type(session: Session) -> None:
    store(session, ("a", day(1), {"in": 10, "out": "2.5", "model": "m"}),
          ("b", day(1), {"in": 5, "out": "0.5", "model": "m"}))
    rows = buckets(session, product("in", "sum", "in", ("model",)), product("out", "sum", "out"))
    assert rows == [("in", {"model": "m"}, START, Decimal(15), None),
                    ("out", {}, START, Decimal(3), None)]


NOT_NUMBERS: list[object] = ["gpt", True, False, None, "1e5", " 5", "5 ", "5\n", "+5", "1.", ".5",
                             "1.2.3", "--1", "0x10", "\u0663", "", "-", "1,5"]


def test_numbers_of_every_shape_sum_exactly_in_one_group(session: Session) -> None:
    numbers: list[object] = ["0.000000000001", "123456789012345678", "-0.5", "-7", -3, 12, 0,
                             "007", "-000.250000000000", "0.999999999999", "-999999999999.5"]
    store(session, *[(f"n{i}", day(1), {"v": v, "m": "x"}) for i, v in enumerate(numbers)],
          *[(f"o{i}", day(2), {"v": v, "m": "x"}) for i, v in enumerate(NOT_NUMBERS)])
    rows = buckets(session, product("v", "sum", "v", ("m",)), product("n", "count"))
    expected = sum(Decimal(str(v)) for v in numbers)
    assert rows == [("n", {}, START, Decimal(len(numbers) + len(NOT_NUMBERS)), None),
                    ("v", {"m": "x"}, START, expected, None)]
    assert str(rows[1][3]) == "123455789012345687.75"


def test_a_group_without_any_number_yields_no_bucket(session: Session) -> None:
    store(session, *[(f"o{i}", day(1), {"v": v, "m": "words"}) for i, v in enumerate(NOT_NUMBERS)],
          ("n", day(1), {"v": "2.5", "m": "nums"}))
    for aggregation in ("sum", "max"):
        assert buckets(session, product("v", aggregation, "v", ("m",))) == [
            ("v", {"m": "nums"}, START, Decimal("2.5"), None)]
    assert buckets(session, product("v", "sum", "v")) == [("v", {}, START, Decimal("2.5"), None)]


@pytest.mark.parametrize(("values", "expected"), [
    (["-0.5", "-0.25"], "-0.25"),
    (["-2", "-1.999999999999"], "-1.999999999999"),
    ([5, "4.999999999999", "gpt"], "5"),
    (["-999999999999999999.999999999999", "-999999999999999999"], "-999999999999999999"),
    (["0.000000000001", 0, "-0.000000000001"], "0.000000000001"),
])
def test_max_over_mixed_signs_and_ints(session: Session, values: list[object],
                                       expected: str) -> None:
    store(session, *[(f"e{i}", day(1), {"v": v}) for i, v in enumerate(values)])
    assert buckets(session, product("v", "max", "v")) == [("v", {}, START, Decimal(expected), None)]


def test_sums_beyond_64_bits_stay_exact(session: Session) -> None:
    """Whole parts over 2**63 in total (SQLite's sum() refuses to overflow: summed in halves)."""
    big = ["999999999999999999.999999999999"] * 12 + ["-999999999999999999.5", 1]
    store(session, *[(f"e{i}", day(1), {"v": v}) for i, v in enumerate(big)])
    rows = buckets(session, product("v", "sum", "v"), product("n", "count"))
    assert rows == [("n", {}, START, Decimal(len(big)), None),
                    ("v", {}, START, Decimal("11000000000000000001.499999999988"), None)]


def test_many_negative_fractions_sum_exactly(session: Session) -> None:
    store(session, *[(f"e{i}", day(1 + i % 28), {"v": "-0.333333333333" if i % 2 else 2})
                     for i in range(2001)])
    [(_, _, _, quantity, _)] = buckets(session, product("v", "sum", "v"))
    assert quantity == Decimal("-0.333333333333") * 1000 + 2 * 1001


def test_property_names_with_dots_and_quotes(session: Session) -> None:
    names = ["gpu.hours", 'say "hi"', "~7e", "7e", "a\\b[0]", "zeit/stunden", "$.x"]
    store(session, ("a", day(1), dict.fromkeys(names, "1.5")),
          ("b", day(1), {name: k for k, name in enumerate(names)}))
    assert buckets(session, *[product(f"p{k}", "sum", name) for k, name in enumerate(names)]) \
        == [(f"p{k}", {}, START, Decimal("1.5") + k, None) for k in range(len(names))]


def test_count_without_events_and_without_keys_yields_nothing(session: Session) -> None:
    store(session, ("a", day(1), {"n": 1}), event_type="other")
    assert buckets(session, product("calls", "count"), product("n", "sum", "n"),
                   product("u", "unique_count", "n")) == []


def test_many_products_and_segments(session: Session) -> None:
    """More branches than one statement holds on SQLite (30 products × 8 segments)."""
    cuts = tuple(day(1 + 4 * k) for k in range(1, 8))
    store(session, *[(f"e{d}", day(d, 12), {"n": d, "m": "x"}) for d in range(1, 32)])
    products = [product(f"p{k:02d}", "sum", "n", ("m",)) for k in range(30)]
    rows = buckets(session, *products, cuts=cuts)
    starts = [START, *cuts]
    ends = [*cuts, END]
    expected = [sum(d for d in range(1, 32) if s <= day(d, 12) < e)
                for s, e in zip(starts, ends, strict=True)]
    assert rows == [(p.id, {"m": "x"}, s, Decimal(q), None)
                    for p in products for s, q in zip(starts, expected, strict=True)]


def test_dimension_values_keep_their_json_type(session: Session) -> None:
    store(session, ("a", day(1), {"n": 1, "tier": 1}), ("b", day(1), {"n": 2, "tier": "1"}),
          ("c", day(1), {"n": 4, "tier": True}), ("d", day(1), {"n": 8, "tier": "true"}),
          ("e", day(1), {"n": 16, "tier": None}), ("f", day(1), {"n": 32, "tier": "gold"}))
    rows = buckets(session, product("n", "sum", "n", ("tier",)))
    assert sorted((r[1].get("tier", "-"), r[3]) for r in rows) == [
        ("-", Decimal(16)), ("1", Decimal(1)), ("1", Decimal(2)), ("gold", Decimal(32)),
        ("true", Decimal(4)), ("true", Decimal(8))]
