"""The FastAPI application: validate, authorise, start/update/signal workflows, read projections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.auth import KeyRing, parse_api_keys
from api.limits import BodySizeLimit
from api.routes import alerts, catalog, contracts, invoices, slo, usage
from core.config import Settings, admin_key_file
from core.telemetry import observe_api
from core.temporal import LazyClient
from store.engine import make_engine
from store.migrate import upgrade


def keyring_for(settings: Settings) -> KeyRing:
    spec = settings.api_keys
    if not spec and admin_key_file().exists():
        spec = f"{admin_key_file().read_text().strip()}:admin"
    return KeyRing(parse_api_keys(spec))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        app.state.engine = engine
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Contract billing",
        version="0.1.0",
        summary="Enterprise contracts as durable Temporal workflows: usage, invoices, credits.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keyring = keyring_for(settings)
    app.state.temporal = LazyClient(settings)
    errors.install(app)
    app.add_middleware(BodySizeLimit)  # 413 before an oversized body is read
    # Observability (core/telemetry.py): one log format, request and SQL spans, GET /metrics.
    observe_api(app, settings)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (catalog, contracts, usage, invoices, slo, alerts):
        app.include_router(module.router)
    return app


app = create_app()
