"""Schemathesis against the app's own OpenAPI: no 5xx, no response outside the schema.

Bounded (25 examples per operation, both databases) so it stays in the ordinary suite. Covers
the catalog, usage and invoice operations; the contract operations need Temporal and are
fuzzed where a server runs.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import auth

MINE = (r"^/(healthz|v1/(products|rate-cards|customers.*|usage.*|invoices/.*"
        r"|contracts/\{[^}]+\}/invoices))$")


def test_no_server_error_and_responses_match_the_schema(client: TestClient) -> None:
    # `client` has run the app's lifespan (migrations, engine) on a fresh database; operations
    # are fuzzed one after another on it, as a client poking at a live API would.
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app).include(path_regex=MINE)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=auth("admin"),
                checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                        response_schema_conformance],
            )

        fuzz()
