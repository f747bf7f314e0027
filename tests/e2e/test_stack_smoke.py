"""The stack the other end-to-end tests stand on: processes up, ports answering, roles wired."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.stack import DevServer, Stack

pytestmark = pytest.mark.e2e


def test_dev_server_has_ui_and_search_attributes(temporal_dev_server: DevServer) -> None:
    assert httpx.get(temporal_dev_server.ui_url, timeout=10).status_code == 200
    listed = temporal_dev_server.cli("operator", "search-attribute", "list")
    names = {row["name"] for row in listed} if isinstance(listed, list) else set(str(listed))
    assert {"CustomerId", "ContractStatus"} <= names or "CustomerId" in str(listed)


def test_api_answers_health_and_metrics(stack: Stack) -> None:
    anonymous = stack.client(role=None)
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert "usage_events_accepted_total" in anonymous.get("/metrics").text
    stack.assert_alive()


def test_worker_restarts_and_kills(stack: Stack) -> None:
    stack.restart_worker()
    stack.kill_worker()
    stack.start_worker()
    stack.assert_alive()
