# ruff: noqa: T201  (a benchmark reports on stdout)
"""Aggregation benchmark: aggregate_usage over one contract's period of 1,000,000 events vs a
plain SQL GROUP BY over the same rows, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.aggregate [--events 1000000] [--backends postgresql,sqlite]

The meter sums a decimal-string property (`cost`, exact) grouped by `model`, with one rate
change point inside the period (two segments). Both sides read the same 1,000,000 rows through
the (alias, type, time) index; what each computes:

- aggregate_usage: the exact sum per (segment, model) from `usage_events.numbers`, written at
  ingest (PostgreSQL: `SUM(CAST(numbers -> 'cost' AS numeric))`, grouped by a CASE giving the
  segment and the model's JSON text; SQLite: the integer sums of the stored whole and 10^-12
  fraction parts, one GROUP BY model's JSON per segment's time range), then decoded in Python.
- plain GROUP BY: one sum per model over the whole period, no segments, straight from
  `properties` the quickest way each database offers: `CAST(->> AS numeric)` on PostgreSQL
  (which would fail on a non-numeric value rather than leave it out) and the decimal text summed
  as REAL on SQLite (*not* exact).

The load time includes writing `numbers` at ingest.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from bench.common import fresh_database
from models.api import UsageEvent
from models.terms import Meter, Product
from store.engine import make_engine
from store.migrate import upgrade
from store.usage import aggregate_usage, insert_events

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 2, 1, tzinfo=UTC)
CUT = datetime(2025, 1, 16, tzinfo=UTC)
PRODUCT = Product(id="cost", name="Cost", kind="usage", meter=Meter(
    event_type="llm_call", aggregation="sum", property="cost", group_by=("model",)))

PLAIN = {
    "postgresql": "SELECT properties ->> 'model', SUM(CAST(properties ->> 'cost' AS numeric))"
                  " FROM usage_events WHERE customer_alias = 'acme' AND event_type = 'llm_call'"
                  " AND timestamp >= :start AND timestamp < :end GROUP BY 1",
    "sqlite": "SELECT properties ->> 'model', SUM(properties ->> 'cost')"
              " FROM usage_events WHERE customer_alias = 'acme' AND event_type = 'llm_call'"
              " AND timestamp >= :start AND timestamp < :end GROUP BY 1",
}


def load(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    step = (END - START) / count
    batch = 20_000
    for first in range(0, count, batch):
        events = [
            UsageEvent(transaction_id=f"agg-{i}", customer_id="acme", event_type="llm_call",
                       timestamp=START + step * i,
                       properties={"cost": f"{i % 97}.{i % 1000:03d}", "tokens": i % 1000,
                                   "model": ("gpt", "claude", "llama")[i % 3]})
            for i in range(first, min(first + batch, count))
        ]
        with Session(engine) as session:
            insert_events(session, events)
            session.commit()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def best_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times)


def run(backend: str, count: int) -> None:
    with fresh_database(backend) as url:
        began = time.perf_counter()
        load(url, count)
        loaded = time.perf_counter() - began
        engine = make_engine(url)
        with Session(engine) as session:
            def ours() -> list[object]:
                return list(aggregate_usage(session, aliases=["acme"], products=[PRODUCT],
                                            start=START, end=END, cut_points=[CUT]))

            def plain() -> list[object]:
                start, end = (START, END) if backend == "postgresql" else (
                    START.strftime("%Y-%m-%d %H:%M:%S.%f"), END.strftime("%Y-%m-%d %H:%M:%S.%f"))
                return list(session.execute(text(PLAIN[backend]), {"start": start, "end": end}))

            ours(), plain()  # warm the cache
            t_ours, t_plain = best_of(3, ours), best_of(3, plain)
            buckets = ours()
        engine.dispose()
    print(f"{backend:10s} {count:,} events loaded in {loaded:.1f} s")
    print(f"{backend:10s} aggregate_usage {t_ours:.3f} s ({len(buckets)} buckets)   plain GROUP BY "
          f"{t_plain:.3f} s   ratio {t_ours / t_plain:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend, args.events)


if __name__ == "__main__":
    main()
