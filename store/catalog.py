"""Products, rate cards, customers and their ingest aliases."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.db import CustomerAliasRow, CustomerRow, ProductRow, RateCardRow, UsageEventRow
from models.terms import Customer, Product, RateCard
from pricing.types import Catalog
from store.errors import AlreadyExists, Missing, NotFound
from store.idempotent import canonical, create_once


def _now() -> datetime:
    return datetime.now(UTC)


# --- products --------------------------------------------------------------------------------


def create_product(session: Session, product: Product) -> tuple[Product, bool]:
    """Create a product by id. Returns (the stored product, created)."""
    row, created = create_once(
        session,
        ProductRow(id=product.id, kind=product.kind, body=canonical(product), created_at=_now()),
        body=product,
        stored_body=lambda r: r.body,
        what="product",
    )
    return Product.model_validate(row.body), created


def get_product(session: Session, product_id: str) -> Product | None:
    row = session.get(ProductRow, product_id)
    return None if row is None else Product.model_validate(row.body)


def get_products(session: Session, product_ids: Iterable[str]) -> dict[str, Product]:
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = session.scalars(select(ProductRow).where(ProductRow.id.in_(ids)))  # type: ignore[attr-defined]
    return {row.id: Product.model_validate(row.body) for row in rows}


# --- rate cards ------------------------------------------------------------------------------


def create_rate_card(session: Session, card: RateCard) -> tuple[RateCard, bool]:
    """Create a rate card by alias; every rate must name an existing product (else 422)."""
    wanted = sorted({rate.product_id for rate in card.rates})
    found = get_products(session, wanted)
    missing = [pid for pid in wanted if pid not in found]
    if missing:
        raise Missing(
            f"rate card {card.alias!r} prices unknown products: {', '.join(missing)}",
            errors=[
                {"loc": ["body", "rates", i, "product_id"],
                 "msg": f"unknown product {r.product_id!r}"}
                for i, r in enumerate(card.rates)
                if r.product_id in missing
            ],
        )
    row, created = create_once(
        session,
        RateCardRow(
            alias=card.alias, currency=card.currency, body=canonical(card), created_at=_now()
        ),
        body=card,
        stored_body=lambda r: r.body,
        what="rate card",
    )
    return RateCard.model_validate(row.body), created


def get_rate_card(session: Session, alias: str) -> RateCard | None:
    row = session.get(RateCardRow, alias)
    return None if row is None else RateCard.model_validate(row.body)


def get_catalog(session: Session, rate_card_alias: str) -> Catalog | None:
    """The rate card and every product it prices: what a contract is rated against."""
    card = get_rate_card(session, rate_card_alias)
    if card is None:
        return None
    products = get_products(session, (rate.product_id for rate in card.rates))
    return Catalog(rate_card=card, products=tuple(products[pid] for pid in sorted(products)))


# --- what a worker keeps -----------------------------------------------------------------------

# Products and rate cards never change once created (`create_once` refuses another body with a
# 409, and nothing updates or deletes them), so a process may keep what it read instead of
# reading it again at every close. Kept per engine — a process may open several databases
# (tests, benchmarks) — and only what was found: a missing row may be created later. Customers
# are not kept: aliases get attached to them.
_KEPT: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)
_KEPT_MAX = 4096  # entries per engine; past it the cache starts over


def _kept(session: Session) -> dict[tuple[str, str], Any]:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    kept = _KEPT.get(engine)
    if kept is None or len(kept) > _KEPT_MAX:
        kept = _KEPT[engine] = {}
    return kept


def kept_products(session: Session, product_ids: Iterable[str]) -> dict[str, Product]:
    """`get_products`, reading only the products this process has not read before."""
    kept = _kept(session)
    ids = sorted(set(product_ids))
    found = {pid: kept[("product", pid)] for pid in ids if ("product", pid) in kept}
    missing = [pid for pid in ids if pid not in found]
    if missing:
        read = get_products(session, missing)
        kept.update({("product", pid): product for pid, product in read.items()})
        found.update(read)
    return found


def kept_catalog(session: Session, rate_card_alias: str) -> Catalog | None:
    """`get_catalog`, read once per process and alias (a catalog cannot change)."""
    kept = _kept(session)
    catalog: Catalog | None = kept.get(("catalog", rate_card_alias))
    if catalog is None:
        card = get_rate_card(session, rate_card_alias)
        if card is None:
            return None
        products = kept_products(session, (rate.product_id for rate in card.rates))
        catalog = Catalog(
            rate_card=card, products=tuple(products[pid] for pid in sorted(products))
        )
        kept[("catalog", rate_card_alias)] = catalog
    return catalog


# --- customers -------------------------------------------------------------------------------


def create_customer(session: Session, customer: Customer) -> tuple[Customer, bool]:
    """Create a customer by id with its aliases (its id is always one). An alias that belongs to
    another customer is a 409 naming it."""
    row, created = create_once(
        session,
        CustomerRow(
            id=customer.id, body=canonical(customer), tax_rate=customer.tax_rate, created_at=_now()
        ),
        body=customer,
        stored_body=lambda r: r.body,
        what="customer",
    )
    if created:
        _claim_aliases(session, customer.id, customer.aliases)
    stored = get_customer(session, customer.id)
    assert stored is not None
    return stored, created


def _claim_aliases(session: Session, customer_id: str, aliases: Sequence[str]) -> list[str]:
    """Add the aliases not yet held by this customer; returns the new ones."""
    rows = session.execute(
        select(CustomerAliasRow.alias, CustomerAliasRow.customer_id).where(
            CustomerAliasRow.alias.in_(list(aliases))  # type: ignore[attr-defined]
        )
    ).all()
    owners = dict(rows)
    taken = [alias for alias in aliases if owners.get(alias, customer_id) != customer_id]
    if taken:
        raise AlreadyExists(
            f"alias {', '.join(map(repr, taken))} already belongs to another customer"
        )
    new = [alias for alias in dict.fromkeys(aliases) if alias not in owners]
    now = _now()
    try:
        with session.begin_nested():
            session.add_all(
                [CustomerAliasRow(alias=a, customer_id=customer_id, created_at=now) for a in new]
            )
    except IntegrityError as exc:  # claimed concurrently by another customer
        raise AlreadyExists(f"alias {', '.join(map(repr, new))} was just claimed") from exc
    if new:
        # Events stored before the alias was known become billable now: they are billed from the
        # next close on (as corrections if their period was already finalized).
        session.execute(
            update(UsageEventRow)
            .where(UsageEventRow.customer_alias.in_(new))  # type: ignore[attr-defined]
            .where(UsageEventRow.billable_at.is_(None))  # type: ignore[union-attr]
            .values(billable_at=now)
        )
    return new


def attach_aliases(session: Session, customer_id: str, aliases: Sequence[str]) -> Customer:
    """Give a customer more ingest aliases (idempotent) and make their stored events billable."""
    if session.get(CustomerRow, customer_id) is None:
        raise NotFound(f"customer {customer_id!r} does not exist")
    _claim_aliases(session, customer_id, aliases)
    customer = get_customer(session, customer_id)
    assert customer is not None
    return customer


def customer_aliases(session: Session, customer_id: str) -> tuple[str, ...]:
    rows = session.scalars(
        select(CustomerAliasRow.alias)
        .where(CustomerAliasRow.customer_id == customer_id)
        .order_by(CustomerAliasRow.created_at, CustomerAliasRow.alias)
    )
    return tuple(rows)


def get_customer(session: Session, customer_id: str) -> Customer | None:
    """The customer as created, with every alias attached since."""
    row = session.get(CustomerRow, customer_id)
    if row is None:
        return None
    customer = Customer.model_validate(row.body)
    aliases = tuple(a for a in customer_aliases(session, customer_id) if a != customer_id)
    return customer.model_copy(update={"ingest_aliases": tuple(dict.fromkeys(
        (*customer.ingest_aliases, *aliases)))})


def get_customer_by_alias(session: Session, alias: str) -> Customer | None:
    owner = session.scalar(
        select(CustomerAliasRow.customer_id).where(CustomerAliasRow.alias == alias)
    )
    return None if owner is None else get_customer(session, owner)
