"""usage_events.numbers: the numeric properties as ingest writes them, and the 0003 backfill."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, bindparam, text
from sqlmodel import Session

from models.db import UtcDateTime
from models.terms import Meter, Product
from store.engine import make_engine
from store.migrate import upgrade
from store.usage import aggregate_usage, numbers_document

START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("value", "postgres", "sqlite"), [
    (3, "3", [3, 0]),
    (-3, "-3", [-3, 0]),
    ("123456789012345678", "123456789012345678", [123456789012345678, 0]),
    ("0.000000000001", "0.000000000001", [0, 1]),
    ("-1.25", "-1.25", [-2, 750000000000]),
    ("-0.000000000001", "-0.000000000001", [-1, 999999999999]),
    ("007.50", "7.50", [7, 500000000000]),
    ("-0", "-0", [0, 0]),
    ("-999999999999999999.999999999999", "-999999999999999999.999999999999",
     [-1000000000000000000, 1]),
])
def test_numbers_are_exact(value: object, postgres: str, sqlite: list[int]) -> None:
    pg = json.loads(numbers_document({"v": value}, True) or "", parse_float=Decimal)
    assert pg == {"v": Decimal(postgres)}
    assert json.loads(numbers_document({"v": value}, False) or "") == {"v": sqlite}
    whole, fraction = sqlite
    assert Decimal(f"{whole * 10**12 + fraction}E-12") == Decimal(str(value))


@pytest.mark.parametrize("value", [
    "gpt", True, False, None, "1e5", " 5", "5\n", "+5", "1.", ".5", "--1", "\u0663", "",
    "1" * 19, "0." + "1" * 13,
])
def test_other_values_are_not_numbers(value: object) -> None:
    assert numbers_document({"v": value}, True) is None
    assert numbers_document({"v": value}, False) is None


def test_only_numeric_properties_are_kept() -> None:
    document = numbers_document({"model": "gpt", "tokens": 5, "cost": "0.5", "ok": True}, True)
    assert document == '{"tokens":5,"cost":0.5}'


def test_migration_backfills_events_stored_before_it(db_url: str) -> None:
    engine: Engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        postgres = engine.dialect.name == "postgresql"
        props = [{"cost": "1.5", "model": "a"}, {"cost": 2, "model": "a"},
                 {"cost": "-0.000000000001", "model": "b"}, {"cost": "n/a", "model": "b"},
                 {"model": "b"}]
        insert = text(
            "INSERT INTO usage_events (transaction_id, customer_alias, event_type, timestamp,"
            " properties, ingested_at) VALUES (:t, 'acme', 'call', :ts,"
            f" {'CAST(:p AS jsonb)' if postgres else ':p'}, :ts)"
        ).bindparams(bindparam("ts", type_=UtcDateTime()))
        with engine.begin() as connection:
            connection.execute(insert, [{"t": f"t{i}", "ts": START, "p": json.dumps(p)}
                                        for i, p in enumerate(props)])
        upgrade(engine)
        product = Product(id="cost", name="cost", kind="usage", meter=Meter(
            event_type="call", aggregation="sum", property="cost", group_by=("model",)))
        with Session(engine) as session:
            result = aggregate_usage(session, aliases=["acme"], products=[product], start=START,
                                     end=datetime(2025, 2, 1, tzinfo=UTC), cut_points=[])
        assert [(b.dimensions, b.quantity) for b in result] == [
            ({"model": "a"}, Decimal("3.5")), ({"model": "b"}, Decimal("-0.000000000001"))]
    finally:
        engine.dispose()
