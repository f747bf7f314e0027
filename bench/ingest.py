# ruff: noqa: T201  (a benchmark reports on stdout)
"""Ingest benchmark: POST /v1/usage over real HTTP vs a raw batched INSERT, per backend.

    .venv/bin/python -m bench.ingest [--events 100000] [--batch 1000] [--clients 4]
                                     [--backends postgresql,sqlite]

For each backend: a raw batched insert of the events into usage_events (one transaction per
batch, from this process) is timed; the table is emptied; the same events are posted in batches
to the API (uvicorn in a subprocess on a free port) by a few concurrent clients; then the whole
set is re-sent, which must add no rows and report every event as a duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, text

from bench.common import fresh_database
from models.db import UsageEventRow
from store.engine import make_engine
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-ingest-key"


def make_events(count: int) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(days=20)
    return [
        {"transaction_id": f"bench-{i:09d}", "customer_id": f"cust-{i % 50}",
         "event_type": "llm_call", "timestamp": (start + timedelta(seconds=i)).isoformat(),
         "properties": {"tokens": 100 + i % 900, "model": ("gpt", "claude")[i % 2],
                        "cost": f"0.{i % 1000:03d}"}}
        for i in range(count)
    ]


def raw_insert(url: str, batches: list[list[dict[str, object]]]) -> float:
    """The baseline: the same rows, batched INSERTs through SQLAlchemy Core, no validation."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    rows = [[{"transaction_id": e["transaction_id"], "customer_alias": e["customer_id"],
              "event_type": e["event_type"],
              "timestamp": datetime.fromisoformat(str(e["timestamp"])),
              "properties": e["properties"], "ingested_at": now} for e in b] for b in batches]
    table = UsageEventRow.__table__  # type: ignore[attr-defined]
    began = time.perf_counter()
    for chunk in rows:
        with engine.begin() as conn:
            conn.execute(insert(table), chunk)
    elapsed = time.perf_counter() - began
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM usage_events"))
    engine.dispose()
    return elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "API_KEYS": f"{KEY}:ingest",
           "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the API did not start")


def post_all(base: str, bodies: list[bytes], clients: int) -> tuple[float, int, int]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        def post(body: bytes) -> dict[str, int]:
            response = client.post("/v1/usage", content=body)
            response.raise_for_status()
            return dict(response.json())

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - began
    return elapsed, sum(r["accepted"] for r in results), sum(r["duplicates"] for r in results)


def count_rows(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(UsageEventRow)).scalar_one())
    engine.dispose()
    return count


def run(backend: str, events: list[dict[str, object]], batch: int, clients: int) -> None:
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    bodies = [json.dumps(b).encode() for b in batches]
    with fresh_database(backend) as url:
        upgrade(make_engine(url))
        raw = raw_insert(url, batches)
        process, base = start_api(url)
        try:
            post_all(base, bodies[:2], 1)  # warm up (connections, caches): 2 batches
            with make_engine(url).begin() as conn:
                conn.execute(text("DELETE FROM usage_events"))
            api, accepted, duplicates = post_all(base, bodies, clients)
            stored = count_rows(url)
            resend, re_accepted, re_duplicates = post_all(base, bodies, clients)
            after = count_rows(url)
        finally:
            process.terminate()
            process.wait(timeout=10)
    n = len(events)
    print(f"{backend:10s} raw insert   {n / raw:>10,.0f} events/s  ({raw:.2f} s)")
    print(f"{backend:10s} API (HTTP)   {n / api:>10,.0f} events/s  ({api:.2f} s, {clients} "
          f"clients, batches of {batch})  ratio to raw {raw / api:.2f}")
    print(f"{backend:10s} accepted {accepted:,}, duplicates {duplicates:,}, rows {stored:,}")
    print(f"{backend:10s} re-send: accepted {re_accepted:,}, duplicates {re_duplicates:,}, "
          f"rows {after:,} ({n / resend:,.0f} events/s)")
    if not (accepted == stored == after == n and re_accepted == 0 and re_duplicates == n):
        raise SystemExit(f"{backend}: the re-send changed something or events were lost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    events = make_events(args.events)
    for backend in args.backends.split(","):
        run(backend, events, args.batch, args.clients)


if __name__ == "__main__":
    main()
