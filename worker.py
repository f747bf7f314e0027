"""Run the contract worker: `python worker.py`.

Wires the Temporal client (pydantic data converter, tracing), the database, the activities with
their dependencies, and registers the search attributes operators filter by, if missing.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.registry import contract_activities
from core.config import Settings
from core.telemetry import instrument_engine, observe_worker
from core.temporal import SEARCH_ATTRIBUTES, connect
from store.engine import make_engine
from store.migrate import upgrade
from workflows.contract import ContractWorkflow

log = structlog.get_logger("worker")

ACTIVITY_THREADS = 16


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register CustomerId and ContractStatus as keywords unless the namespace has them."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(listed.custom_attributes)
    except RPCError as exc:
        # The time-skipping test server can add search attributes but not list them.
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        log.info("registered search attributes", names=sorted(missing))


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    instrument_engine(engine)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ContractWorkflow],
        activities=contract_activities(
            engine, client, settings.task_queue, webhook_secret=settings.webhook_secret
        ),
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
    )


async def main() -> None:
    settings = Settings.from_env()
    runtime = observe_worker(settings)
    client = await connect(settings, runtime)
    await ensure_search_attributes(client, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(client, settings, executor)
        log.info(
            "worker started", task_queue=settings.task_queue, temporal=settings.temporal_address
        )
        async with worker:
            await stop.wait()
            log.info("worker stopping")


if __name__ == "__main__":
    asyncio.run(main())
