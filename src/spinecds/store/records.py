"""What goes into the audit log and what comes back out: typed, frozen records.

These are the storage API's own types, apart from the SQLAlchemy rows in ``models.py``,
so callers never hold a live ORM object (no lazy loads after the session is gone).
Every time is timezone-aware; a time in another zone is converted to UTC on the way in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "INTERFACES",
    "AssessmentRecord",
    "AssessmentSummary",
    "FeedbackRecord",
    "Interface",
    "NewAssessment",
    "NewFeedback",
    "Outcome",
    "Status",
]

Interface = Literal["rest", "web", "cds-hooks", "cli", "batch"]
INTERFACES: tuple[Interface, ...] = ("rest", "web", "cds-hooks", "cli", "batch")
Status = Literal["ok", "rejected"]
Outcome = Literal["accepted", "overridden"]

# Client names and case ids come from outside (a JWT issuer, a case file): a longer one is
# cut to this length rather than refused, so an odd value never costs the audit record.
SHORT_TEXT = 200


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _cut(value: object) -> object:
    return value[:SHORT_TEXT] if isinstance(value, str) else value


class NewAssessment(_Record):
    """One assessment as an interface ran it: the case in, the result (or refusal) out.

    ``status="rejected"`` with ``error`` is a case that failed validation (a 422): it is
    logged too, with ``output=None``, so the log shows every request, not only successes.
    """

    interface: Interface
    client: str | None = None
    service: str | None = Field(None, max_length=100, description="CDS Hooks service id")
    input: dict[str, Any]
    output: dict[str, Any] | None
    status: Status = "ok"
    error: str | None = None
    knowledge_version: str = Field(max_length=100)
    case_id: str | None = None
    urgency: str | None = Field(None, max_length=40)
    pathway: str | None = Field(None, max_length=100)
    started_at: AwareDatetime
    duration_ms: float = Field(ge=0, allow_inf_nan=False)

    _to_utc = field_validator("started_at")(_utc)
    _short = field_validator("client", "case_id", mode="before")(_cut)


class AssessmentSummary(_Record):
    """A row of ``list_assessments``: everything but the (large) input and output."""

    id: str
    interface: Interface
    client: str | None
    service: str | None
    status: Status
    error: str | None
    knowledge_version: str
    case_id: str | None
    urgency: str | None
    pathway: str | None
    started_at: AwareDatetime
    duration_ms: float


class AssessmentRecord(NewAssessment):
    """A stored assessment: what was recorded plus its id."""

    id: str

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 with offset), used by ``show`` and ``export``."""
        return self.model_dump(mode="json")


class NewFeedback(_Record):
    """CDS Hooks feedback on one card: was it accepted or overridden, and why."""

    service_id: str = Field(max_length=100)
    card_uuid: str = Field(max_length=100)
    outcome: Outcome
    override_reason: dict[str, Any] | None = None
    # CDS Hooks sends ``[{"id": ...}]``; a caller may keep only the ids: both are stored as given.
    accepted_suggestions: list[Any] = Field(default_factory=list)
    outcome_at: AwareDatetime
    client: str | None = None
    raw: dict[str, Any] = Field(description="the feedback item exactly as the EHR sent it")

    _to_utc = field_validator("outcome_at")(_utc)
    _short = field_validator("client", mode="before")(_cut)


class FeedbackRecord(NewFeedback):
    """Stored feedback: what was recorded, its id and when the service received it."""

    id: str
    received_at: AwareDatetime

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
