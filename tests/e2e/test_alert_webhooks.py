"""A spend alert crosses its threshold on the real stack and reaches a webhook receiver that fails
at first: one signed delivery per crossing, every attempt recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pricing import add_months
from tests.e2e.stack import eventually
from tests.e2e.test_contract_end_to_end import (
    POLL_SECONDS,
    finalized_usage,
    months_ago,
    seed,
)


@dataclass
class Received:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers 500 to the first `failures` POSTs, then 204; keeps every request."""

    failures: int
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/billing"

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status < 300]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = 500 if len(receiver.received) < receiver.failures else 204
                    receiver.received.append(Received(status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(failures=2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), found.handler())
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_crossing_is_delivered_once_signed_after_the_receiver_recovers(
    stack, receiver: Receiver
) -> None:
    admin, sales = stack.client("admin"), stack.client("sales")
    ingest, reader = stack.client("ingest"), stack.client("reader")
    seed(admin, sales, "alert-co")
    start = months_ago(2)
    # gpt-4 at 0.03 a token: 30.00 a month against a 50.00 commit.
    events = [
        {"transaction_id": f"alert-co-{k}", "customer_id": "alert-co-prod",
         "event_type": "inference", "timestamp": add_months(start, k).replace(day=2).isoformat(),
         "properties": {"model": "gpt-4", "tokens": 1000}}
        for k in range(3)
    ]
    assert ingest.post("/v1/usage", json=events).status_code == 200
    end = add_months(start, 12)
    contract = {
        "id": "alert-co-2025", "customer_id": "alert-co", "rate_card_alias": "list",
        "starting_at": start.isoformat(), "ending_before": end.isoformat(),
        "billing": {"cycle": "monthly", "usage_grace_period_hours": 0},
        "commits": [{
            "id": "prepaid", "type": "prepaid", "product_id": "commit-purchase",
            "access_schedule": [{"amount": "50", "starting_at": start.isoformat(),
                                 "ending_before": end.isoformat()}],
        }],
        "alerts": [{"id": "low-balance", "type": "balance_below", "threshold": "25",
                    "webhook_url": receiver.url}],
    }
    answer = sales.post("/v1/contracts", json=contract)
    assert answer.status_code == 201, answer.text

    # The first check already sees 50 − 30 = 20 < 25; later months only take it to 0, so the
    # alert stays in breach: one crossing however many checks and closes run.
    eventually(receiver.accepted, POLL_SECONDS, "a delivery the receiver accepts")
    eventually(lambda: len(finalized_usage(reader, "alert-co-2025")) >= 2, POLL_SECONDS,
               "the past closes")
    time.sleep(3)  # room for a wrong second delivery to show up
    stack.assert_alive()

    assert [r.status for r in receiver.received] == [500, 500, 204]
    (accepted,) = receiver.accepted()
    assert {r.body for r in receiver.received} == {accepted.body}  # retries are byte-identical
    expected = hmac.new(b"e2e-webhook-secret", accepted.body, hashlib.sha256).hexdigest()
    assert accepted.headers["X-Signature"] == f"sha256={expected}"
    body = json.loads(accepted.body)
    assert body["contract_id"] == "alert-co-2025"
    assert body["customer_id"] == "alert-co"
    assert body["alert"] == {"id": "low-balance", "type": "balance_below", "threshold": "25"}
    assert (body["observed"], body["crossing"], body["currency"]) == ("20.00", 1, "USD")

    answer = reader.get("/v1/contracts/alert-co-2025/alerts")
    assert answer.status_code == 200, answer.text
    (firing,) = answer.json()["data"]
    assert (firing["alert_id"], firing["crossing"], firing["delivered"]) == (
        "low-balance", 1, True)
    assert firing["payload"] == body
    assert [(d["attempt"], d["status_code"], d["succeeded"]) for d in firing["deliveries"]] == [
        (1, 500, False), (2, 500, False), (3, 204, True)]
    assert reader.get("/v1/contracts/nobody/alerts").status_code == 404
