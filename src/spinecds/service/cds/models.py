"""CDS Hooks 2.0 request bodies. Real clients send more than the specification lists,
so unknown fields are kept, never refused; what we rely on is checked strictly."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FeedbackItem", "FeedbackRequest", "FhirAuthorization", "HookRequest"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FhirAuthorization(_Open):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookRequest(_Open):
    """Field names are the specification's (camelCase)."""

    hook: str = Field(description="patient-view, order-select or order-sign")
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = Field(None, max_length=2000)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class Coding(_Open):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class OverrideReason(_Open):
    reason: Coding | None = None
    userComment: str | None = Field(None, max_length=4000)


class AcceptedSuggestion(_Open):
    id: str


class FeedbackItem(_Open):
    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] = Field(default_factory=list)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime


class FeedbackRequest(_Open):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)
