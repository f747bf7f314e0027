"""SLO breach events over HTTP: single incidents and real Alertmanager (v4) webhook payloads."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.terms import ContractTerms
from store import contracts as contract_store
from store import slo as slo_store
from tests.api.conftest import auth

TERMS = ContractTerms.model_validate({
    "id": "c-sla", "customer_id": "acme", "rate_card_alias": "list",
    "starting_at": "2026-01-01T00:00:00Z", "ending_before": "2027-01-01T00:00:00Z",
    "sla": [{"id": "uptime", "credit_tiers": [{"below": "99.9", "percent": "10"}]}],
})


@pytest.fixture
def contract(client: TestClient) -> str:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        contract_store.save_projection(session, TERMS, status="active")
        session.commit()
    return TERMS.id


def stored(client: TestClient) -> list[Any]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return slo_store.incidents_for(session, "c-sla")


def alert(status: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "page", **labels},
        "annotations": {"summary": "error budget burning"},
        "startsAt": "2026-03-01T10:00:00.123Z",
        "endsAt": "2026-03-01T11:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def payload(status: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
        "status": status, "receiver": "billing", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": list(alerts),
    }


def test_firing_then_resolved_opens_and_closes_one_incident(client: TestClient, contract: str):
    labels = {"contract_id": contract, "sla_id": "uptime"}
    firing = payload("firing", alert("firing", "fp1", **labels))
    answer = client.post("/v1/slo-events/alertmanager", json=firing, headers=auth("observability"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"][0]["changed"] is True
    (incident,) = stored(client)
    assert (incident.incident_id, incident.resolved_at) == ("fp1", None)

    again = client.post("/v1/slo-events/alertmanager", json=firing, headers=auth("observability"))
    assert again.json()["accepted"][0]["changed"] is False

    resolved = payload("resolved", alert("resolved", "fp1", **labels))
    client.post("/v1/slo-events/alertmanager", json=resolved, headers=auth("observability"))
    (incident,) = stored(client)
    assert incident.resolved_at is not None
    assert incident.resolved_at.isoformat() == "2026-03-01T11:30:00+00:00"


def test_alerts_without_labels_are_reported_not_dropped(client: TestClient, contract: str):
    body = payload(
        "firing",
        alert("firing", "ok", contract_id=contract, sla_id="uptime"),
        alert("firing", "nolabels"),
        alert("firing", "ghost", contract_id="nope", sla_id="uptime"),
        alert("firing", "wrong-sla", contract_id=contract, sla_id="latency"),
    )
    answer = client.post("/v1/slo-events/alertmanager", json=body, headers=auth("observability"))
    assert answer.status_code == 200
    result = answer.json()
    assert [a["incident_id"] for a in result["accepted"]] == ["ok"]
    assert [(r["index"], r["fingerprint"]) for r in result["rejected"]] == [
        (1, "nolabels"), (2, "ghost"), (3, "wrong-sla")]
    assert "contract_id" in result["rejected"][0]["reason"]
    assert [i.incident_id for i in stored(client)] == ["ok"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(version="3"),
        lambda p: p["alerts"][0].update(startsAt="yesterday"),
        lambda p: p["alerts"][0].pop("fingerprint"),
        lambda p: p.update(unexpected=True),
    ],
    ids=["version", "timestamp", "fingerprint", "unknown-field"],
)
def test_bad_payloads_are_422_problems_and_store_nothing(client: TestClient, contract: str,
                                                         mutate: Any) -> None:
    body = payload("firing", alert("firing", "fp", contract_id=contract, sla_id="uptime"))
    mutate(body)
    answer = client.post("/v1/slo-events/alertmanager", json=body, headers=auth("observability"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"]
    assert stored(client) == []


def test_single_incident_updates_on_resend(client: TestClient, contract: str) -> None:
    event = {"incident_id": "inc-1", "contract_id": contract, "sla_id": "uptime",
             "started_at": "2026-02-03T00:00:00Z"}
    first = client.post("/v1/slo-events", json=event, headers=auth("observability"))
    assert first.status_code == 200
    assert first.json()["changed"] is True
    same = client.post("/v1/slo-events", json=event, headers=auth("observability"))
    assert same.json()["changed"] is False
    done = client.post("/v1/slo-events", json={**event, "resolved_at": "2026-02-03T02:00:00Z"},
                       headers=auth("observability"))
    assert done.json()["changed"] is True
    assert stored(client)[0].resolved_at is not None


@pytest.mark.parametrize(
    ("change", "status"),
    [({"contract_id": "nope"}, 404), ({"sla_id": "latency"}, 422),
     ({"resolved_at": "2026-02-02T00:00:00Z"}, 422)],
)
def test_single_incident_refusals(client: TestClient, contract: str, change: dict[str, str],
                                  status: int) -> None:
    event = {"incident_id": "inc-2", "contract_id": contract, "sla_id": "uptime",
             "started_at": "2026-02-03T00:00:00Z", **change}
    answer = client.post("/v1/slo-events", json=event, headers=auth("observability"))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert stored(client) == []


def test_only_observability_and_admin_may_post(client: TestClient, contract: str) -> None:
    event = {"incident_id": "inc-3", "contract_id": contract, "sla_id": "uptime",
             "started_at": "2026-02-03T00:00:00Z"}
    assert client.post("/v1/slo-events", json=event, headers=auth("sales")).status_code == 403
    assert client.post("/v1/slo-events", json=event).status_code == 401
    assert client.post("/v1/slo-events", json=event, headers=auth("admin")).status_code == 200
