"""SLO breach events as they arrive: one incident, or Alertmanager's webhook payload (v4)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from models.money import UtcDatetime
from models.terms import Frozen, Slug

Label = Annotated[str, Field(max_length=1024)]


class SloEvent(Frozen):
    incident_id: Annotated[str, Field(min_length=1, max_length=256)]
    contract_id: Slug
    sla_id: Slug
    started_at: UtcDatetime
    resolved_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _resolved_after_start(self) -> Self:
        if self.resolved_at is not None and self.resolved_at <= self.started_at:
            raise ValueError("resolved_at must be after started_at")
        return self


class AlertmanagerAlert(Frozen):
    status: Literal["firing", "resolved"]
    labels: dict[Annotated[str, Field(max_length=256)], Label] = {}
    annotations: dict[Annotated[str, Field(max_length=256)], Label] = {}
    startsAt: UtcDatetime  # noqa: N815 - Alertmanager's own field names
    endsAt: UtcDatetime | None = None  # noqa: N815
    generatorURL: Annotated[str, Field(max_length=4096)] | None = None  # noqa: N815
    fingerprint: Annotated[str, Field(min_length=1, max_length=256)]

    def to_slo_event(self) -> SloEvent:
        """Labels name the contract and SLA; the fingerprint is the incident id. A firing alert's
        endsAt is only Alertmanager's expiry guess, so the incident stays open until resolved."""
        resolved = self.endsAt if self.status == "resolved" else None
        return SloEvent(
            incident_id=self.fingerprint,
            contract_id=self.labels["contract_id"],
            sla_id=self.labels["sla_id"],
            started_at=self.startsAt,
            resolved_at=resolved,
        )


class AlertmanagerPayload(Frozen):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    alerts: Annotated[tuple[AlertmanagerAlert, ...], Field(max_length=10_000)]
    groupKey: Annotated[str, Field(max_length=4096)] | None = None  # noqa: N815
    truncatedAlerts: int | None = None  # noqa: N815
    receiver: Annotated[str, Field(max_length=1024)] | None = None
    groupLabels: dict[str, Label] = {}  # noqa: N815
    commonLabels: dict[str, Label] = {}  # noqa: N815
    commonAnnotations: dict[str, Label] = {}  # noqa: N815
    externalURL: Annotated[str, Field(max_length=4096)] | None = None  # noqa: N815
