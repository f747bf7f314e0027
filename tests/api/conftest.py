"""An app per test on its own database, and a key per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import ROLES
from api.main import create_app
from core.config import Settings

KEYS = {role: f"test-key-{role}" for role in ROLES}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture
def app(db_url: str) -> FastAPI:
    return create_app(
        Settings(database_url=db_url, api_keys=",".join(f"{k}:{r}" for r, k in KEYS.items()))
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
