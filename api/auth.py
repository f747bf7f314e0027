"""Bearer keys with roles (SPEC section 13). Keys are compared in constant time, never logged."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from api.errors import Forbidden, Unauthorized

Role = Literal["admin", "sales", "reader", "ingest", "observability"]
ROLES: tuple[Role, ...] = ("admin", "sales", "reader", "ingest", "observability")

# Who may call an endpoint that asks for a role: admin may do everything; readers may be reader,
# sales or admin.
ALLOWED: dict[Role, frozenset[str]] = {
    "admin": frozenset({"admin"}),
    "sales": frozenset({"sales", "admin"}),
    "reader": frozenset({"reader", "sales", "admin"}),
    "ingest": frozenset({"ingest", "admin"}),
    "observability": frozenset({"observability", "admin"}),
}


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: str  # a short, non-secret handle for logs: the key's position in API_KEYS


def parse_api_keys(spec: str) -> list[tuple[str, Role]]:
    """`key:role,key:role` → pairs. Malformed entries are a start-up error, not a silent skip."""
    pairs: list[tuple[str, Role]] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        key, sep, role = entry.rpartition(":")
        if not sep or not key or role not in ROLES:
            raise ValueError(
                f"API_KEYS entry #{len(pairs) + 1} is not key:role with role in {ROLES}"
            )
        pairs.append((key, role))  # type: ignore[arg-type]
    return pairs


class KeyRing:
    def __init__(self, pairs: list[tuple[str, Role]]) -> None:
        self._pairs = [(key.encode(), role) for key, role in pairs]

    def authenticate(self, presented: str) -> Principal | None:
        candidate = presented.encode()
        found: Principal | None = None
        for index, (key, role) in enumerate(self._pairs):
            # Every key is compared so the time taken does not reveal which one matched.
            if hmac.compare_digest(key, candidate) and found is None:
                found = Principal(role=role, key_id=f"key{index + 1}")
        return found


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing Authorization: Bearer <key>",
                           headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("malformed Authorization header; expected Bearer <key>",
                           headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def require(role: Role) -> Callable[[Request], Principal]:
    """A dependency that admits the roles allowed to act as `role`."""

    def dependency(request: Request) -> Principal:
        keyring: KeyRing = request.app.state.keyring
        principal = keyring.authenticate(bearer_token(request))
        if principal is None:
            raise Unauthorized("unknown API key", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in ALLOWED[role]:
            raise Forbidden(f"this endpoint needs the {role} role")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
