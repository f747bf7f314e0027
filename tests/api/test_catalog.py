from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth

TOKENS = {
    "id": "llm-tokens", "name": "LLM tokens", "kind": "usage", "tags": ["ai"],
    "meter": {"event_type": "llm_call", "aggregation": "sum", "property": "tokens",
              "group_by": ["model"]},
}
SUPPORT = {"id": "support", "name": "Premium support", "kind": "fixed"}
CARD = {"alias": "std-2025", "name": "Standard", "currency": "USD",
        "rates": [{"product_id": "llm-tokens", "unit_price": "0.0021"},
                  {"product_id": "support", "unit_price": "1000"}]}


def _seed(client: TestClient) -> None:
    for product in (TOKENS, SUPPORT):
        assert client.post("/v1/products", json=product, headers=auth("admin")).status_code == 201


def test_create_product_is_idempotent_by_id(client: TestClient) -> None:
    first = client.post("/v1/products", json=TOKENS, headers=auth("admin"))
    assert first.status_code == 201
    assert first.json()["meter"]["group_by"] == ["model"]
    again = client.post("/v1/products", json=TOKENS, headers=auth("admin"))
    assert again.status_code == 200
    assert again.json() == first.json()
    changed = client.post("/v1/products", json={**TOKENS, "name": "Tokens!"}, headers=auth("admin"))
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert "llm-tokens" in changed.json()["detail"]


def test_identical_means_same_validated_body(client: TestClient) -> None:
    _seed(client)
    assert client.post("/v1/rate-cards", json=CARD, headers=auth("admin")).status_code == 201
    # "1000" and 1000 are the same price; the default currency spelled out is the same card.
    same = {**CARD, "rates": [CARD["rates"][0], {"product_id": "support", "unit_price": 1000}]}
    assert client.post("/v1/rate-cards", json=same, headers=auth("admin")).status_code == 200


def test_rate_card_for_unknown_product_is_422_naming_it(client: TestClient) -> None:
    response = client.post("/v1/rate-cards", json=CARD, headers=auth("admin"))
    assert response.status_code == 422
    body = response.json()
    assert "llm-tokens" in body["detail"]
    assert "support" in body["detail"]
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("body", "rates", 0, "product_id"), ("body", "rates", 1, "product_id")}


def test_customer_aliases_unique_across_customers(client: TestClient) -> None:
    acme = {"id": "acme", "name": "Acme", "ingest_aliases": ["acme-prod"], "tax_rate": "0.2"}
    created = client.post("/v1/customers", json=acme, headers=auth("sales"))
    assert created.status_code == 201
    assert created.json()["tax_rate"] == "0.2"
    clash = {"id": "globex", "name": "Globex", "ingest_aliases": ["acme-prod"]}
    response = client.post("/v1/customers", json=clash, headers=auth("sales"))
    assert response.status_code == 409
    assert "acme-prod" in response.json()["detail"]
    # nothing of globex was stored
    again = client.post("/v1/customers", json={**clash, "ingest_aliases": []},
                        headers=auth("sales"))
    assert again.status_code == 201
    # another customer's id is an alias too
    steal = client.post("/v1/customers/globex/aliases", json={"aliases": ["acme"]},
                        headers=auth("sales"))
    assert steal.status_code == 409


def test_attach_aliases(client: TestClient) -> None:
    client.post("/v1/customers", json={"id": "acme", "name": "Acme"}, headers=auth("sales"))
    response = client.post("/v1/customers/acme/aliases", json={"aliases": ["a1", "a2"]},
                           headers=auth("sales"))
    assert response.status_code == 200
    assert response.json()["ingest_aliases"] == ["a1", "a2"]
    again = client.post("/v1/customers/acme/aliases", json={"aliases": ["a1"]},
                        headers=auth("sales"))
    assert again.status_code == 200
    missing = client.post("/v1/customers/nobody/aliases", json={"aliases": ["x"]},
                          headers=auth("sales"))
    assert missing.status_code == 404
    # re-posting the original customer body is still "identical"
    assert client.post("/v1/customers", json={"id": "acme", "name": "Acme"},
                       headers=auth("sales")).status_code == 200


def test_unknown_fields_and_bad_amounts_are_422(client: TestClient) -> None:
    for body in (
        {**SUPPORT, "colour": "red"},
        {**TOKENS, "meter": {**TOKENS["meter"], "aggregation": "avg"}},
    ):
        response = client.post("/v1/products", json=body, headers=auth("admin"))
        assert response.status_code == 422, body
        assert response.json()["errors"]
    bad_tax = {"id": "c", "name": "C", "tax_rate": 0.2}
    assert client.post("/v1/customers", json=bad_tax, headers=auth("sales")).status_code == 422


def test_text_the_database_cannot_hold_is_422(client: TestClient) -> None:
    for name in ("a\\u0000b", "\\ud800x"):
        body = '{"id": "p", "name": "' + name + '", "kind": "fixed"}'
        response = client.post("/v1/products", content=body,
                               headers={**auth("admin"), "content-type": "application/json"})
        assert response.status_code in (201, 422), response.text
    batch = ('[{"transaction_id": "t\\u0000", "customer_id": "a", "event_type": "e",'
             ' "timestamp": "2025-01-01T00:00:00Z"}]')
    response = client.post("/v1/usage", content=batch,
                           headers={**auth("ingest"), "content-type": "application/json"})
    assert response.status_code in (200, 422)
