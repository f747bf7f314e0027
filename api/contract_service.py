"""What the contract endpoints do besides HTTP: check terms against the catalog, drive the workflow.

Temporal's errors are translated here into problem types, so routes stay thin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Conflict, NotFound, Unavailable, Unprocessable
from models.messages import workflow_id
from models.terms import Amendment, ContractLists, ContractTerms
from store import catalog as catalog_store
from store import contracts as contract_store

T = TypeVar("T")


def check_catalog(session: Session, terms: ContractTerms) -> ContractTerms:
    """The terms with their currency settled, or Unprocessable naming every broken reference."""
    errors: list[dict[str, Any]] = []
    if catalog_store.get_customer(session, terms.customer_id) is None:
        errors.append({"loc": ["body", "customer_id"], "msg": f"no customer {terms.customer_id!r}"})
    currency = terms.currency
    card = catalog_store.get_rate_card(session, terms.rate_card_alias)
    if card is None:
        errors.append(
            {"loc": ["body", "rate_card_alias"], "msg": f"no rate card {terms.rate_card_alias!r}"}
        )
    else:
        if currency is not None and currency != card.currency:
            errors.append(
                {
                    "loc": ["body", "currency"],
                    "msg": f"rate card {card.alias!r} is in {card.currency}, not {currency}",
                }
            )
        currency = card.currency
    errors += check_products(session, terms, ("body",))
    if terms.renewal is not None:
        errors += check_products(session, terms.renewal, ("body", "renewal"))
    if errors:
        raise Unprocessable("the contract refers to things that do not exist", errors=errors)
    return terms.model_copy(update={"currency": currency})


def check_products(
    session: Session, lists: ContractLists, loc: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Errors for products named by a contract's lists that the catalog does not have."""
    wanted: list[tuple[tuple[Any, ...], str, str | None]] = []
    for field in ("overrides", "discounts", "sla"):
        for i, e in enumerate(getattr(lists, field)):
            wanted += [((*loc, field, i, "product_ids"), p, None) for p in e.product_ids]
    for field in ("commits", "credits"):
        for i, e in enumerate(getattr(lists, field)):
            wanted += [
                ((*loc, field, i, "applicable_product_ids"), p, None)
                for p in e.applicable_product_ids
            ]
    for i, c in enumerate(lists.commits):
        if c.product_id:
            wanted.append(((*loc, "commits", i, "product_id"), c.product_id, "fixed"))
    for i, s in enumerate(lists.scheduled_charges):
        wanted.append(((*loc, "scheduled_charges", i, "product_id"), s.product_id, "fixed"))
    found = catalog_store.get_products(session, sorted({w[1] for w in wanted}))
    errors = []
    for where, product_id, kind in wanted:
        product = found.get(product_id)
        if product is None:
            errors.append({"loc": list(where), "msg": f"no product {product_id!r}"})
        elif kind is not None and product.kind != kind:
            errors.append({"loc": list(where), "msg": f"product {product_id!r} is not {kind}"})
    return errors


def check_amendment_catalog(session: Session, amendment: Amendment) -> None:
    errors = check_products(session, amendment, ("body",))
    if errors:
        raise Unprocessable("the amendment refers to products that do not exist", errors=errors)


def require_contract(session: Session, contract_id: str) -> Any:
    row = contract_store.get_contract(session, contract_id)
    if row is None:
        raise NotFound(f"no contract {contract_id!r}")
    return row


def handle_for(client: Client, contract_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id(contract_id))


async def call_workflow(call: Callable[[], Awaitable[T]], contract_id: str) -> T:
    """Run a workflow update or query, turning Temporal's failures into HTTP problems."""
    try:
        return await call()
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.cause
        message = cause.message if cause is not None else str(exc)
        if cause is not None and cause.type == "Conflict":
            raise Conflict(message) from exc
        raise Unprocessable(message) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict(
                f"contract {contract_id!r} has no running workflow (it has ended): {exc.message}"
            ) from exc
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise Unavailable(f"Temporal did not answer: {exc.message}") from exc
        raise
