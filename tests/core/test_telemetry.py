"""One trace per request: the HTTP server span and the SQL it ran share a trace id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from core.telemetry import build_tracer_provider, instrument_app, instrument_engine


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_request_and_its_sql_are_one_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    engine = create_engine("sqlite://", poolclass=StaticPool)
    instrument_engine(engine, provider)
    instrument_engine(engine, provider)  # twice is harmless: still one span per statement
    app = FastAPI()

    @app.get("/v1/invoices/{invoice_id}")
    def invoice(invoice_id: str, request: Request) -> dict[str, str]:
        with engine.connect() as connection:
            total = connection.execute(text("SELECT '12.50'")).scalar_one()
        return {"id": invoice_id, "total": total}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    instrument_app(app, provider)
    with TestClient(app) as client:
        assert client.get("/v1/invoices/inv-1").json() == {"id": "inv-1", "total": "12.50"}
        assert client.get("/healthz").status_code == 200

    finished = exporter.get_finished_spans()
    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    [sql] = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert "/v1/invoices/{invoice_id}" in server.name
    assert sql.attributes is not None
    assert "SELECT" in str(sql.attributes.get("db.statement"))
    assert sql.context.trace_id == server.context.trace_id
    assert {s.context.trace_id for s in finished} == {server.context.trace_id}  # healthz: none


def test_no_endpoint_means_no_exporter() -> None:
    provider = build_tracer_provider("billing-test", env={})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "billing-test"
    assert provider._active_span_processor._span_processors == ()


def test_endpoint_adds_an_otlp_exporter_without_connecting() -> None:
    provider = build_tracer_provider(
        "billing-test", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}
    )
    assert provider is not None
    [processor] = provider._active_span_processor._span_processors
    assert type(processor).__name__ == "BatchSpanProcessor"
    provider.shutdown()


def test_sdk_disabled_gives_no_provider() -> None:
    assert build_tracer_provider("billing-test", env={"OTEL_SDK_DISABLED": "true"}) is None
