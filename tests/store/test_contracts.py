from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from models.terms import ContractTerms
from store import contracts

TERMS = ContractTerms(id="c1", customer_id="acme", rate_card_alias="std",
                      starting_at=datetime(2025, 1, 1, tzinfo=UTC),
                      ending_before=datetime(2026, 1, 1, tzinfo=UTC))


def test_projection_upserts_and_keeps_the_first_request(session: Session) -> None:
    row = contracts.save_projection(session, TERMS, status="scheduled", request=TERMS)
    assert (row.status, row.workflow_id, row.starting_at) == (
        "scheduled", "contract-c1", TERMS.starting_at)
    amended = TERMS.model_copy(update={"ending_before": datetime(2027, 1, 1, tzinfo=UTC)})
    row = contracts.save_projection(session, amended, status="active")
    session.commit()
    assert row.status == "active"
    assert row.terms["ending_before"] == "2027-01-01T00:00:00Z"
    assert row.request["ending_before"] == "2026-01-01T00:00:00Z"
    assert contracts.set_status(session, "c1", "renewed", renewed_by="c2")
    assert not contracts.set_status(session, "nope", "ended")
    row = contracts.save_projection(session, amended, status="renewed")
    assert row.renewed_by == "c2"
    assert [r.id for r in contracts.list_contracts(session, "acme")] == ["c1"]
    assert contracts.get_contract(session, "c2") is None
