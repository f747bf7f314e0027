"""docker-compose.yml can't run here (no Docker engine), so its structure is checked instead:
the services, their health checks and start order, and that every environment variable the
code reads reaches the API and the worker. The variables are found by scanning the source, so
a new one in code fails this test until compose wires it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# What runs inside the containers; scripts/ and tests/ are development tools.
RUNTIME_SOURCES = [
    "api", "activities", "core", "migrations", "models", "pricing", "store", "workflows",
    "worker.py",
]  # fmt: skip
# os.environ["X"], os.environ.get("X"), os.getenv("X"), env.get("X"), environ.setdefault("X", ...)
ENV_READ = re.compile(
    r"\b(?:environ|getenv|env)\b(?:\s*\.\s*(?:get|setdefault|pop))?\s*[\(\[]\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)


def env_vars_read_by_code() -> set[str]:
    found: set[str] = set()
    for source in RUNTIME_SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            found |= set(ENV_READ.findall(file.read_text()))
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_the_scanner_sees_the_settings() -> None:
    # If this fails the scanner has gone blind, and the wiring test below would prove nothing.
    assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "API_KEYS", "LOG_FORMAT"} <= env_vars_read_by_code()
    assert {"WORKER_METRICS_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"} <= env_vars_read_by_code()


def test_services_present(services: dict[str, Any]) -> None:
    assert {"postgresql", "temporal", "temporal-ui", "api", "worker"} <= set(services)


@pytest.mark.parametrize("name", ["postgresql", "temporal", "temporal-ui", "api", "worker"])
def test_every_service_has_a_healthcheck(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"], f"{name}: empty healthcheck"
    assert "interval" in check


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("temporal", {"postgresql"}),
        ("temporal-ui", {"temporal"}),
        ("api", {"postgresql", "temporal"}),
        ("worker", {"postgresql", "temporal"}),
    ],
)
def test_start_order_waits_for_health(services: dict[str, Any], name: str, needs: set[str]) -> None:
    depends = services[name]["depends_on"]
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
    for dependency in needs:
        assert depends[dependency]["condition"] == "service_healthy", (name, dependency)


def test_postgres_healthcheck_uses_pg_isready(services: dict[str, Any]) -> None:
    assert "pg_isready" in " ".join(services["postgresql"]["healthcheck"]["test"])


def test_temporal_runs_on_postgres(services: dict[str, Any]) -> None:
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/auto-setup:")
    assert temporal["environment"]["DB"].startswith("postgres")
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgresql"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_images_build_from_the_dockerfile(services: dict[str, Any], name: str) -> None:
    assert services[name]["build"] in (".", {"context": "."})
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M), "runs as root"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_every_variable_the_code_reads_is_wired(services: dict[str, Any], name: str) -> None:
    wired = set(services[name]["environment"])
    missing = env_vars_read_by_code() - wired
    assert not missing, f"{name} lacks {sorted(missing)} in docker-compose.yml"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_points_at_the_compose_services(services: dict[str, Any], name: str) -> None:
    env = services[name]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgresql:5432/" in env["DATABASE_URL"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["LOG_FORMAT"] == "json"


def test_workers_scale_out(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "replicas" in worker["deploy"]
    # A fixed name or host port would stop a second replica from starting.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["python", "worker.py"]


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    undocumented = {name for name in env_vars_read_by_code() if f"`{name}`" not in readme}
    assert not undocumented, f"README.md configuration table lacks {sorted(undocumented)}"
