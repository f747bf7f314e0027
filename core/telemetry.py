"""Tracing: one trace from an API call through the workflow to its activities and their SQL.

The API and the worker each call `configure_tracing` once at start. Spans always get trace ids
(so logs carry `trace_id` and Temporal headers carry the context from API to workflow), but they
leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; the
standard `OTEL_*` variables (service name, resource attributes, sampler, headers) are honoured by
the SDK itself. Nothing here may stop a process from starting: a broken exporter is logged, not
raised.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.engine import Engine
from temporalio.runtime import Runtime

from core.config import Settings
from core.logging import configure_logging
from core.metrics import (
    mount_metrics,
    start_worker_metrics,
    temporal_metrics_bind,
    temporal_runtime,
    worker_metrics_port,
)

log = structlog.get_logger(__name__)

# Health probes and scrapes would drown the traces that matter.
EXCLUDED_URLS = "/healthz,/metrics"

_instrumented_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def build_tracer_provider(
    service_name: str, env: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """A provider for this process, exporting over OTLP/gRPC only when an endpoint is set;
    None when `OTEL_SDK_DISABLED=true`."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    # OTEL_SERVICE_NAME, when set, wins over the name the code gives.
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        except Exception:  # a bad endpoint or header must not keep billing from starting
            log.warning("otlp exporter not started; spans stay in-process", exc_info=True)
    return provider


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Install the process-wide tracer provider once; later calls return the one installed."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = build_tracer_provider(service_name)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def instrument_app(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """A server span per request (health checks and /metrics excluded)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        return
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, excluded_urls=EXCLUDED_URLS
    )


def instrument_engine(engine: Engine, tracer_provider: TracerProvider | None = None) -> None:
    """A client span per SQL statement on this engine; calling twice for one engine is a no-op.

    SQLAlchemyInstrumentor.instrument() works once per process and also patches create_engine
    globally; the API, the worker and tests each build their own engines, so we attach the
    instrumentation's per-engine tracer directly instead.
    """
    if engine in _instrumented_engines:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter

    name = "opentelemetry.instrumentation.sqlalchemy"
    tracer = trace.get_tracer(name, __version__, tracer_provider)
    connections: Any = get_meter(name).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer, engine, connections)  # type: ignore[no-untyped-call]
    _instrumented_engines.add(engine)


def observe_api(app: FastAPI, settings: Settings) -> None:
    """Logs, traces and /metrics for the API; the engine its lifespan opens gets SQL spans."""
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("contract-billing-api")
    instrument_app(app)
    mount_metrics(app)
    opened = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_sql_spans(app: FastAPI) -> AsyncIterator[Any]:
        async with opened(app) as state:
            engine = getattr(app.state, "engine", None)
            if isinstance(engine, Engine):
                instrument_engine(engine)
            yield state

    app.router.lifespan_context = lifespan_with_sql_spans


def observe_worker(settings: Settings) -> Runtime:
    """Logs, traces and both metrics endpoints for the worker; returns the Temporal runtime to
    pass to `Client.connect(runtime=...)`. Instrument the worker's engine with
    `instrument_engine` once it is built."""
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("contract-billing-worker")
    start_worker_metrics(worker_metrics_port())
    return temporal_runtime(temporal_metrics_bind())
