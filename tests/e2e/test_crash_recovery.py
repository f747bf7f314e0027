"""SIGKILL the worker again and again while a batch of contracts closes its past periods; after
the last restart every invoice and every ledger balance equals a clean run of the same contracts.

The clean run is the same terms and usage under another id prefix, provisioned after the last
restart, so the same stack closes it with no kill (while the killed contracts wait out the
timeouts of the activities the kills interrupted). Ids carry a fresh token because the stack is
shared by the session. CRASH_SEED=<n> repeats a run's kill timings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from core.temporal import connect
from models.messages import QUERY_DETAILS, ContractDetails, workflow_id
from pricing import add_months
from tests.e2e.test_contract_end_to_end import months_ago
from tests.factories import PRODUCTS, RATE_CARD

log = logging.getLogger(__name__)

CUSTOMERS = 6
CONTRACTS = 20
KILLS = 4
# An activity the kill interrupted is retried when its start-to-close timeout (60 s) runs out.
SETTLE_TIMEOUT = 150.0
# Fields that name the run rather than describe the bill: ids and wall-clock stamps.
VOLATILE = {"id", "contract_id", "customer_id", "finalized_at", "created_at"}


def contract_terms(prefix: str, i: int) -> dict[str, Any]:
    """Contract `i`: 6–12 months in, 12 long, each with a different mix of terms."""
    start = months_ago(6 + i % 7)
    end = add_months(start, 12)
    terms: dict[str, Any] = {
        "id": f"{prefix}-k{i}",
        "customer_id": f"{prefix}-c{i % CUSTOMERS}",
        "rate_card_alias": "list",
        "starting_at": start.isoformat(),
        "ending_before": end.isoformat(),
        "billing": {"cycle": "monthly", "usage_grace_period_hours": 0, "payment_terms_days": 30},
    }
    if i % 4 == 0:
        terms["commits"] = [{
            "id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
            "access_schedule": [{"amount": "150", "starting_at": start.isoformat(),
                                 "ending_before": end.isoformat()}],
            "invoice_schedule": [{"amount": "100", "timestamp": start.isoformat()},
                                 {"amount": "50", "timestamp": add_months(start, 2).isoformat()}],
        }]
    if i % 4 == 1 or i % 5 == 0:
        terms["discounts"] = [{"id": "ten-off", "type": "percent", "percent": "10",
                               "product_ids": ["tokens"]}]
    if i % 4 == 2 or i % 3 == 0:
        terms["overrides"] = [{
            "id": "storage-tiers", "type": "overwrite", "product_ids": ["storage"],
            "tiers": [{"up_to": "20", "unit_price": "0.10"}, {"unit_price": "0.04"}],
            "tier_mode": "graduated",
        }]
    if i % 4 == 3:
        terms["scheduled_charges"] = [{
            "id": "support", "product_id": "support", "name": "Support",
            "schedule": [{"amount": "75", "timestamp": add_months(start, 1).isoformat()},
                         {"amount": "75", "timestamp": add_months(start, 4).isoformat()}],
        }]
    if i % 6 == 5:
        terms["credits"] = [{
            "id": "welcome", "reason": "onboarding",
            "access_schedule": [{"amount": "40", "starting_at": start.isoformat(),
                                 "ending_before": add_months(start, 6).isoformat()}],
        }]
    return terms


def usage_events(prefix: str) -> list[dict[str, Any]]:
    """A few events per customer per month for the last 12 months, all in closed periods."""
    events = []
    first = months_ago(12)
    for c in range(CUSTOMERS):
        for m in range(12):
            day = add_months(first, m) + timedelta(days=2 + c, hours=m)
            for kind, event_type, properties in (
                ("g4", "inference", {"model": "gpt-4", "tokens": 100 * (c + 1) * (m + 1)}),
                ("mini", "inference", {"model": "mini", "tokens": 5000 + 250 * m}),
                ("disk", "storage", {"gb": f"{10 + 3 * c + m}.5"}),
                ("job", "analysis", {}),
            ):
                events.append({
                    "transaction_id": f"{prefix}-c{c}-m{m}-{kind}",
                    "customer_id": f"{prefix}-c{c}-prod",
                    "event_type": event_type,
                    "timestamp": day.isoformat(),
                    "properties": properties,
                })
    return events


def past_periods(terms: dict[str, Any], now: datetime) -> int:
    start = datetime.fromisoformat(terms["starting_at"])
    return sum(1 for k in range(12) if add_months(start, k + 1) <= now)


def past_scheduled(terms: dict[str, Any], now: datetime) -> int:
    stamps = {item["timestamp"]
              for listing in ("commits", "scheduled_charges")
              for element in terms.get(listing, [])
              for item in element.get("invoice_schedule") or element.get("schedule") or []}
    return sum(1 for ts in stamps if datetime.fromisoformat(ts) <= now)


def wait_written(stack: Any, prefix: str, at_least: int) -> int:
    """Invoices of contracts `prefix*` in the billing database, once there are `at_least`."""
    engine = create_engine(stack.database_url)
    query = text("SELECT count(*) FROM invoices WHERE contract_id LIKE :pattern")
    deadline = time.monotonic() + SETTLE_TIMEOUT
    try:
        while True:
            with engine.connect() as connection:
                written = int(connection.execute(query, {"pattern": f"{prefix}%"}).scalar_one())
            if written >= at_least or time.monotonic() > deadline:
                return written
            time.sleep(0.05)
    finally:
        engine.dispose()


def provision(stack: Any, prefix: str) -> list[dict[str, Any]]:
    admin, sales, ingest = stack.client("admin"), stack.client("sales"), stack.client("ingest")
    for product in PRODUCTS:
        assert admin.post("/v1/products", json=product).status_code in (200, 201)
    assert admin.post("/v1/rate-cards", json=RATE_CARD).status_code in (200, 201)
    for c in range(CUSTOMERS):
        answer = sales.post("/v1/customers", json={
            "id": f"{prefix}-c{c}", "name": f"Customer {c}", "tax_rate": "0.08" if c % 2 else "0",
            "ingest_aliases": [f"{prefix}-c{c}-prod"]})
        assert answer.status_code == 201, answer.text
    answer = ingest.post("/v1/usage", json=usage_events(prefix))
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicates"] == 0
    contracts = [contract_terms(prefix, i) for i in range(CONTRACTS)]
    for terms in contracts:
        answer = sales.post("/v1/contracts", json=terms)
        assert answer.status_code == 201, answer.text
    return contracts


def invoices_of(reader: httpx.Client, contract_id: str) -> list[dict[str, Any]]:
    answer = reader.get(f"/v1/contracts/{contract_id}/invoices")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def closed_periods(stack: Any, contract_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per contract: (periods the workflow counts as closed, activities still pending)."""
    client = await connect(stack.settings)

    async def one(contract_id: str) -> tuple[int, int]:
        handle = client.get_workflow_handle(workflow_id(contract_id))
        described = await handle.describe()
        pending = len(described.raw_description.pending_activities)
        details = await handle.query(QUERY_DETAILS, result_type=ContractDetails)
        return details.closed_periods, pending

    answers = await asyncio.gather(*(one(c) for c in contract_ids))
    return dict(zip(contract_ids, answers, strict=True))


def wait_settled(stack: Any, contracts: list[dict[str, Any]], now: datetime) -> None:
    """Until every past period has a finalized invoice and no workflow has work in flight."""
    reader = stack.client("reader")
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        stack.assert_alive()
        behind = {}
        for terms in contracts:
            found = invoices_of(reader, terms["id"])
            usage = [i for i in found if i["kind"] == "usage" and i["status"] == "finalized"]
            scheduled = [i for i in found if i["kind"] == "scheduled"]
            if (len(usage), len(scheduled)) < (past_periods(terms, now),
                                                past_scheduled(terms, now)):
                behind[terms["id"]] = (len(usage), len(scheduled))
        if not behind:
            states = asyncio.run(closed_periods(stack, [t["id"] for t in contracts]))
            behind = {c: s for c, s in states.items()
                      if s != (past_periods(_by_id(contracts, c), now), 0)}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled in {SETTLE_TIMEOUT:.0f}s: {behind}")
        time.sleep(0.5)


def _by_id(contracts: list[dict[str, Any]], contract_id: str) -> dict[str, Any]:
    return next(t for t in contracts if t["id"] == contract_id)


def snapshot(stack: Any, prefix: str, contracts: list[dict[str, Any]]) -> dict[str, Any]:
    """Every invoice (with lines) and every balance, with the run's ids made neutral."""
    reader = stack.client("reader")
    result: dict[str, Any] = {}
    for terms in contracts:
        invoices = []
        for listed in invoices_of(reader, terms["id"]):
            answer = reader.get(f"/v1/invoices/{listed['id']}")
            assert answer.status_code == 200, answer.text
            invoices.append(answer.json())
        labels = {i["id"]: f"<{i['kind']}:{i['key']}>" for i in invoices}
        balances = reader.get(f"/v1/contracts/{terms['id']}/balances")
        assert balances.status_code == 200, balances.text
        text = json.dumps({"invoices": invoices, "balances": balances.json()["data"]})
        for invoice_id, label in labels.items():
            text = text.replace(invoice_id, label)
        name = terms["id"].removeprefix(f"{prefix}-")
        result[name] = _drop_volatile(json.loads(text.replace(prefix, "<run>")))
    return result


def _drop_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_drop_volatile(v) for v in value]
    return value


def assert_once_each(contracts: list[dict[str, Any]], shot: dict[str, Any], now: datetime,
                     prefix: str) -> None:
    for terms in contracts:
        invoices = shot[terms["id"].removeprefix(f"{prefix}-")]["invoices"]
        usage = [i["period_start"] for i in invoices if i["kind"] == "usage"]
        start = datetime.fromisoformat(terms["starting_at"])
        expected = [add_months(start, k) for k in range(past_periods(terms, now))]
        assert [datetime.fromisoformat(p) for p in usage] == expected, terms["id"]
        keys = [i["key"] for i in invoices]
        assert len(keys) == len(set(keys)), f"{terms['id']}: an invoice key twice: {keys}"
        scheduled = [i for i in invoices if i["kind"] == "scheduled"]
        assert len(scheduled) == past_scheduled(terms, now), terms["id"]
        assert all(i["status"] == "finalized" for i in invoices), terms["id"]


def test_invoices_survive_sigkills_during_a_close_storm(stack) -> None:
    token = uuid.uuid4().hex[:6]
    seed = int(os.environ.get("CRASH_SEED", random.SystemRandom().randrange(2**32)))
    log.warning("crash test seed %s (CRASH_SEED=%s to repeat), ids *-%s", seed, seed, token)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    crashed, clean = f"crash-{token}", f"clean-{token}"

    began = time.monotonic()
    crash_contracts = provision(stack, crashed)
    total = sum(past_periods(t, now) + past_scheduled(t, now) for t in crash_contracts)
    # Kill when the batch has written a random share of its invoices, so every kill lands while
    # closes are running; the restart itself takes a few seconds, hence the low shares.
    for kill, share in enumerate(sorted(rng.uniform(0.02, 0.6) for _ in range(KILLS))):
        written = wait_written(stack, f"{crashed}-", int(share * total))
        time.sleep(rng.uniform(0.0, 0.3))
        log.warning("kill %d: SIGKILL at %d of %d invoices written", kill + 1, written, total)
        stack.kill_worker()
        time.sleep(rng.uniform(0.0, 1.0))
        stack.start_worker()
    # The worker lives from here on, so the same contracts provisioned now close cleanly, while
    # the killed ones wait out the timeouts of the activities the kills interrupted.
    clean_contracts = provision(stack, clean)
    wait_settled(stack, clean_contracts, now)
    log.warning("clean run settled after %.1fs", time.monotonic() - began)
    wait_settled(stack, crash_contracts, now)
    log.warning("killed run settled after %.1fs", time.monotonic() - began)

    expected = snapshot(stack, clean, clean_contracts)
    got = snapshot(stack, crashed, crash_contracts)
    assert_once_each(clean_contracts, expected, now, clean)
    assert_once_each(crash_contracts, got, now, crashed)
    for name in expected:
        assert got[name] == expected[name], f"{name} differs from the clean run (seed {seed})"
    assert got.keys() == expected.keys()
