"""Errors the repositories raise. Each carries the HTTP status the API answers with, so routes
stay thin; activities turn them into non-retryable ApplicationErrors by `type`."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    status = 400
    title = "Bad request"
    type = "store_error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class AlreadyExists(StoreError):
    """Something with this id exists with a different body, or a unique name is taken."""

    status, title, type = 409, "Conflict", "already_exists"


class Missing(StoreError):
    """The request refers to something that does not exist (e.g. a rate for an unknown product)."""

    status, title, type = 422, "Unprocessable content", "missing_reference"


class NotFound(StoreError):
    status, title, type = 404, "Not found", "not_found"
