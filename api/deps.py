"""Request-scoped dependencies: the database session and the Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from temporalio.client import Client

from api.errors import Unavailable
from core.config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_temporal(request: Request) -> Client:
    try:
        return await request.app.state.temporal.get()  # type: ignore[no-any-return]
    except RuntimeError as exc:
        raise Unavailable(f"Temporal is not reachable: {exc}") from exc


SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
