from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from models.db import UsageEventRow
from store.engine import make_engine
from tests.api.conftest import auth

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)


def event(i: int, alias: str = "acme", **properties: object) -> dict[str, object]:
    return {"transaction_id": f"tx-{i}", "customer_id": alias, "event_type": "llm_call",
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
            "properties": properties or {"tokens": i, "model": "gpt"}}


def stored(db_url: str) -> list[UsageEventRow]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(UsageEventRow).order_by(UsageEventRow.id)))
    finally:
        engine.dispose()


def post(client: TestClient, body: object) -> object:
    return client.post("/v1/usage", json=body, headers=auth("ingest"))


def test_resent_batch_adds_nothing_and_counts_duplicates(client: TestClient, db_url: str) -> None:
    batch = [event(i) for i in range(50)]
    first = post(client, batch)
    assert first.status_code == 200
    assert first.json() == {"accepted": 50, "duplicates": 0}
    again = post(client, batch)
    assert again.json() == {"accepted": 0, "duplicates": 50}
    rows = stored(db_url)
    assert len(rows) == 50
    assert rows[7].properties == {"tokens": 7, "model": "gpt"}
    assert rows[7].timestamp == T0 + timedelta(seconds=7)


def test_duplicates_inside_one_batch_count_once(client: TestClient, db_url: str) -> None:
    response = post(client, [event(1), event(2), event(1)])
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert len(stored(db_url)) == 2


def test_one_bad_event_rejects_the_whole_batch(client: TestClient, db_url: str) -> None:
    batch = [event(i) for i in range(10)]
    batch[3] = {**batch[3], "timestamp": "yesterday"}
    batch[7] = {**batch[7], "properties": {"tokens": 1.5}}
    batch[8] = {**batch[8], "colour": "red"}
    future = datetime.now(UTC) + timedelta(minutes=6)
    response = post(client, batch)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    bad = {e["loc"][0] for e in response.json()["errors"]}
    assert bad == {3, 7, 8}
    assert stored(db_url) == []
    late = post(client, [event(1), {**event(2), "timestamp": future.isoformat()}])
    assert late.status_code == 422
    assert late.json()["errors"] == [{"loc": [1, "timestamp"],
                                      "msg": "more than 5 minutes in the future"}]
    assert stored(db_url) == []
    soon = datetime.now(UTC) + timedelta(minutes=4)
    assert post(client, [{**event(3), "timestamp": soon.isoformat()}]).status_code == 200


def test_garbage_is_422_never_5xx(client: TestClient) -> None:
    for raw in (b"", b"{", b"[1]", b'{"a": 1}', b"null", b'[{"transaction_id": null}]',
                b"[" + b"9" * 5000 + b"]", b'"x"', b"[[]]", "[\ud800]".encode("utf-8", "replace")):
        response = client.post("/v1/usage", content=raw, headers=auth("ingest"))
        assert response.status_code == 422, raw[:30]
    huge = {**event(1), "properties": {"tokens": 10**40}}
    assert post(client, [huge]).status_code == 422
    too_precise = {**event(1), "properties": {"tokens": "0.1234567890123"}}
    assert post(client, [too_precise]).status_code == 422
    assert post(client, [event(i) for i in range(10_001)]).status_code == 422


def test_batch_limit_and_empty(client: TestClient) -> None:
    assert post(client, []).json() == {"accepted": 0, "duplicates": 0}


def test_unmatched_listed_then_billable_after_alias(client: TestClient, db_url: str) -> None:
    client.post("/v1/customers", json={"id": "acme", "name": "Acme"}, headers=auth("sales"))
    post(client, [event(1, "acme"), event(2, "acme-eu"), event(3, "acme-eu"), event(4, "who")])
    listed = client.get("/v1/usage/unmatched", headers=auth("reader"))
    assert listed.status_code == 200
    assert [e["transaction_id"] for e in listed.json()["data"]] == ["tx-2", "tx-3", "tx-4"]
    page = client.get("/v1/usage/unmatched?limit=2", headers=auth("reader")).json()
    assert [e["transaction_id"] for e in page["data"]] == ["tx-2", "tx-3"]
    rest = client.get(f"/v1/usage/unmatched?limit=2&after={page['next_after']}",
                      headers=auth("reader")).json()
    assert [e["transaction_id"] for e in rest["data"]] == ["tx-4"]
    assert rest["next_after"] is None

    attached = client.post("/v1/customers/acme/aliases", json={"aliases": ["acme-eu"]},
                           headers=auth("sales"))
    assert attached.status_code == 200
    after = client.get("/v1/usage/unmatched", headers=auth("reader")).json()
    assert [e["transaction_id"] for e in after["data"]] == ["tx-4"]
    billable = {r.transaction_id: r.billable_at for r in stored(db_url)}
    assert billable["tx-1"] is not None
    assert billable["tx-2"] is not None
    assert billable["tx-2"] >= billable["tx-1"]
    assert billable["tx-4"] is None
    post(client, [event(5, "acme-eu")])
    assert {r.transaction_id: r.billable_at for r in stored(db_url)}["tx-5"] is not None


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    from api.limits import BodySizeLimit

    limited = TestClient(BodySizeLimit(client.app, limit=1000))
    response = limited.post("/v1/usage", content=b"[" + b" " * 2000 + b"]",
                            headers={**auth("ingest"), "content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(5):
            yield b" " * 400

    streamed = limited.post("/v1/usage", content=chunks(), headers=auth("ingest"))
    assert streamed.status_code == 413


def test_count_of_rows(client: TestClient, db_url: str) -> None:
    post(client, [event(i) for i in range(1000)])
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(UsageEventRow)) == 1000
    engine.dispose()
