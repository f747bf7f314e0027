"""Catalog: products and rate cards (admin), customers and their ingest aliases (sales)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.auth import require
from api.deps import SessionDep
from models.api import AttachAliases, problem_responses
from models.terms import Customer, Product, RateCard
from store import catalog

router = APIRouter(prefix="/v1", tags=["catalog"])

CREATED = {200: {"description": "Already existed with an identical body"}}
ERRORS = problem_responses(401, 403, 409, 413, 422)


def _answer(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200


@router.post(
    "/products", status_code=201, response_model=Product, responses={**CREATED, **ERRORS},
    dependencies=[Depends(require("admin"))],
)
def create_product(product: Product, session: SessionDep, response: Response) -> Product:
    stored, created = catalog.create_product(session, product)
    session.commit()
    _answer(response, created)
    return stored


@router.post(
    "/rate-cards", status_code=201, response_model=RateCard, responses={**CREATED, **ERRORS},
    dependencies=[Depends(require("admin"))],
)
def create_rate_card(card: RateCard, session: SessionDep, response: Response) -> RateCard:
    stored, created = catalog.create_rate_card(session, card)
    session.commit()
    _answer(response, created)
    return stored


@router.post(
    "/customers", status_code=201, response_model=Customer, responses={**CREATED, **ERRORS},
    dependencies=[Depends(require("sales"))],
)
def create_customer(customer: Customer, session: SessionDep, response: Response) -> Customer:
    stored, created = catalog.create_customer(session, customer)
    session.commit()
    _answer(response, created)
    return stored


@router.post(
    "/customers/{customer_id}/aliases", response_model=Customer,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    dependencies=[Depends(require("sales"))],
    summary="Attach ingest aliases; stored events naming them become billable",
)
def attach_aliases(
    customer_id: Annotated[str, "customer id"], body: AttachAliases, session: SessionDep
) -> Customer:
    customer = catalog.attach_aliases(session, customer_id, body.aliases)
    session.commit()
    return customer
