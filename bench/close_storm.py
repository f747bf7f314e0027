# ruff: noqa: T201  (a benchmark reports on stdout)
"""Close storm: N contracts whose first period closes at the same instant, on an embedded dev
server, against the same number of one-no-op-activity workflows on the same server in the same run.

    .venv/bin/python -m bench.close_storm [--contracts 1000] [--backend sqlite|postgresql]

Each contract is a month-long first period with usage from its own customer, a 10% discount on
tokens and a prepaid commit drawn down by the close. All N are started and activated, then sleep
on a timer that fires for all of them at one instant; the close rate is N over the time from that
instant to the last usage invoice finalized. The baseline workflows sleep to a common instant too
and then run one no-op activity; their rate is N over the time to the last no-op run. The
worker is the one worker.py builds (same options, activities and thread pool), in this process,
so the peak RSS printed is the worker's (with the benchmark's own small bookkeeping).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session
from temporalio.client import Client

from bench import _noop
from bench._stack import (
    connect_when_ready,
    contract_worker,
    current_rss_mb,
    dev_server,
    like_contract_worker,
    peak_rss_mb,
    scratch_dir,
)
from bench.common import fresh_database
from core.config import Settings
from core.logging import configure_logging
from core.temporal import start_contract_workflow
from models.api import UsageEvent
from models.db import ContractRow, InvoiceRow
from models.terms import ContractTerms, Customer, Product, RateCard
from pricing import add_months
from store import catalog, usage
from store.engine import make_engine
from store.migrate import upgrade
from tests.factories import PRODUCTS, RATE_CARD

STARTS_IN_FLIGHT = 64
POLL_SECONDS = 0.2


def seed(engine: Engine, n: int, start: datetime) -> None:
    """The catalog, one customer per contract, and a few events each in the first period."""
    with Session(engine) as session:
        for product in PRODUCTS:
            catalog.create_product(session, Product.model_validate(product))
        catalog.create_rate_card(session, RateCard.model_validate(RATE_CARD))
        events = []
        for i in range(n):
            catalog.create_customer(session, Customer(id=f"cust-{i}", name=f"Customer {i}"))
            at = start + timedelta(hours=1 + i % 500)
            for kind, event_type, properties in (
                ("g4", "inference", {"model": "gpt-4", "tokens": 1000 + i}),
                ("mini", "inference", {"model": "mini", "tokens": 20000}),
                ("disk", "storage", {"gb": "42.5"}),
            ):
                events.append(UsageEvent.model_validate({
                    "transaction_id": f"tx-{i}-{kind}", "customer_id": f"cust-{i}",
                    "event_type": event_type, "timestamp": at.isoformat(),
                    "properties": properties,
                }))
        usage.insert_events(session, events, now=start + timedelta(days=1))
        session.commit()


def contract(i: int, start: datetime) -> ContractTerms:
    end = add_months(start, 12)
    return ContractTerms.model_validate({
        "id": f"storm-{i}", "customer_id": f"cust-{i}", "rate_card_alias": "list",
        "starting_at": start.isoformat(), "ending_before": end.isoformat(),
        "billing": {"cycle": "monthly", "usage_grace_period_hours": 0},
        "discounts": [{"id": "ten-off", "type": "percent", "percent": "10",
                       "product_ids": ["tokens"]}],
        "commits": [{
            "id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
            "access_schedule": [{"amount": "500", "starting_at": start.isoformat(),
                                 "ending_before": end.isoformat()}],
        }],
    })


async def bounded(coros: list, limit: int = STARTS_IN_FLIGHT) -> None:  # type: ignore[type-arg]
    gate = asyncio.Semaphore(limit)

    async def one(coro):  # type: ignore[no-untyped-def]
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


async def wait_for(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout:.0f}s")
        await asyncio.sleep(POLL_SECONDS)


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def count(engine: Engine, statement) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return int(session.execute(statement).scalar_one())


async def close_storm(client: Client, settings: Settings, engine: Engine, n: int,
                      lead: float, timeout: float) -> dict[str, float]:
    close_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    start = add_months(close_at, -1)
    assert add_months(start, 1) == close_at, "pick a lead that does not cross a month's end"
    seed(engine, n, start)
    active = select(func.count()).select_from(ContractRow).where(ContractRow.status == "active")
    finalized = (
        select(func.count()).select_from(InvoiceRow)
        .where(InvoiceRow.kind == "usage", InvoiceRow.status == "finalized")
    )
    async with contract_worker(client, settings):
        began = time.monotonic()
        await bounded([
            start_contract_workflow(client, contract(i, start), settings.task_queue)
            for i in range(n)
        ])
        await wait_for(lambda: count(engine, active) == n, "contracts active", timeout)
        started_s = time.monotonic() - began
        slack = (close_at - datetime.now(UTC)).total_seconds()
        print(f"started and activated {n} contracts in {started_s:.1f}s; "
              f"{slack:.1f}s to spare before the close")
        if slack < 1:
            raise SystemExit("the contracts were not all asleep at the close: raise --lead")
        await sleep_until(close_at)
        await wait_for(lambda: count(engine, finalized) == n, "usage invoices", timeout)
        with Session(engine) as session:
            last = session.execute(
                select(func.max(InvoiceRow.finalized_at)).where(InvoiceRow.kind == "usage")
            ).scalar_one()
            totals = session.execute(
                select(func.count(), func.sum(InvoiceRow.commit_applied))
                .where(InvoiceRow.kind == "usage")
            ).one()
        seconds = (last.replace(tzinfo=UTC) - close_at).total_seconds()
        print(f"{n} usage invoices finalized {seconds:.2f}s after the close instant "
              f"(commit drawn: {Decimal(totals[1] or 0):.2f})")
        rss_now = current_rss_mb()
    return {"close_s": seconds, "start_s": started_s, "rss_cached": rss_now,
            "rss_peak": peak_rss_mb()}


async def noop_storm(client: Client, n: int, lead: float, timeout: float) -> float:
    run_at = datetime.now(UTC) + timedelta(seconds=lead)
    _noop.RAN_AT.clear()
    async with like_contract_worker(client, "noop", [_noop.NoopAtInstant], [_noop.noop]):
        await bounded([
            client.start_workflow(
                _noop.NoopAtInstant.run, run_at, id=f"noop-{i}", task_queue="noop"
            )
            for i in range(n)
        ])
        if datetime.now(UTC) >= run_at:
            raise SystemExit("the no-op workflows were not all asleep at the instant: raise --lead")
        await sleep_until(run_at)
        await wait_for(lambda: len(_noop.RAN_AT) == n, "no-op activities", timeout)
    return max(_noop.RAN_AT) - run_at.timestamp()


async def main(args: argparse.Namespace) -> None:
    configure_logging(args.log_level, "console")
    n = args.contracts
    lead = args.lead if args.lead is not None else 15 + 0.12 * n
    with scratch_dir() as scratch, fresh_database(args.backend) as database_url:
        workdir = Path(scratch)
        engine = make_engine(database_url)
        upgrade(engine)
        async with dev_server(workdir) as address:
            settings = Settings(database_url=database_url, temporal_address=address,
                                task_queue="contracts")
            client = await connect_when_ready(settings)
            print(f"close storm: {n} contracts on {address}, database {engine.dialect.name}")
            closes = await close_storm(client, settings, engine, n, lead, args.timeout)
            noop_s = await noop_storm(client, n, max(5.0, closes["start_s"] + 5), args.timeout)
        engine.dispose()
    close_rate, noop_rate = n / closes["close_s"], n / noop_s
    print(f"closes/s            {close_rate:8.1f}   ({n} in {closes['close_s']:.2f}s)")
    print(f"no-op workflows/s   {noop_rate:8.1f}   ({n} in {noop_s:.2f}s)")
    print(f"ratio               {close_rate / noop_rate:8.2f}   (aim >= 0.5)")
    print(f"worker RSS with {n} cached contract workflows {closes['rss_cached']:.0f} MB; "
          f"peak {closes['rss_peak']:.0f} MB (aim < 500 MB)")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="a temp SQLite file, or a throw-away schema in BENCH_POSTGRES_URL")
    parser.add_argument("--lead", type=float, default=None,
                        help="seconds from now to the close instant (default 15 + 0.12 × N)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
