"""Every role against every catalog/usage/invoice endpoint: 401 without a valid key, 403 for
the wrong role, anything but 401/403 for the right one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.auth import ALLOWED, ROLES
from tests.api.conftest import auth

ENDPOINTS = [
    ("POST", "/v1/products", "admin", {"id": "p", "name": "P", "kind": "fixed"}),
    ("POST", "/v1/rate-cards", "admin", {"alias": "r", "name": "R"}),
    ("POST", "/v1/customers", "sales", {"id": "c", "name": "C"}),
    ("POST", "/v1/customers/c/aliases", "sales", {"aliases": ["c-1"]}),
    ("POST", "/v1/usage", "ingest", []),
    ("GET", "/v1/usage/unmatched", "reader", None),
    ("GET", "/v1/contracts/x/invoices", "reader", None),
    ("GET", "/v1/invoices/inv_x", "reader", None),
]


@pytest.mark.parametrize(("method", "path", "needs", "body"), ENDPOINTS)
def test_role_matrix(client: TestClient, method: str, path: str, needs: str,
                     body: object) -> None:
    def call(headers: dict[str, str]) -> int:
        return client.request(method, path, json=body, headers=headers).status_code

    assert call({}) == 401
    assert call({"Authorization": "Basic abc"}) == 401
    assert call({"Authorization": "Bearer"}) == 401
    assert call({"Authorization": "Bearer not-a-key"}) == 401
    for role in ROLES:
        status = call(auth(role))
        if role in ALLOWED[needs]:
            assert status not in (401, 403), (role, status)
        else:
            assert status == 403, (role, status)
