"""The assessment: what spinecds answers (the contract in ../shared/case-format.md).

The contract fields keep their names and meanings; the rest (``do_now``, ``imaging``,
``conflicts``, ``other_pathways``...) are additions that explain the answer.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AcrBlock",
    "AcrRatingOut",
    "Assessment",
    "Citable",
    "ConflictOut",
    "DiagnosisOut",
    "FollowUpOut",
    "ImagingChoice",
    "OrderReview",
    "PlanItem",
    "Question",
    "TraceEntry",
    "WarningOut",
    "build",
]

Urgency = Literal["emergency", "urgent", "routine"]
Referral = Literal["none", "spine_surgeon", "spine_surgeon_urgent", "emergency_department"]
Verdict = Literal["appropriate", "consider_alternative", "not_appropriate"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Citable(_Out):
    cite: list[str]
    seeds: list[str] = []


class AcrRatingOut(_Out):
    procedure: str
    category: str
    rating: int | None
    rrl: str | None
    rrl_dose: str | None = None


class RelatedVariant(_Out):
    topic: str
    variant: int | None
    key: str
    description: str


class AcrBlock(_Out):
    topic: str
    variant: int | None
    key: str
    description: str
    revision_year: int | None
    source: str
    ratings: list[AcrRatingOut]
    related: list[RelatedVariant] = []


class ImagingChoice(Citable):
    procedure: str
    category: str | None
    rating: int | None
    rrl: str | None
    rrl_dose: str | None
    why: str


class DiagnosisOut(Citable):
    id: str
    label: str
    rank: int
    support: Literal["strong", "moderate", "weak"]
    score: float
    base_rate: str | None = None
    for_: list[str] = []
    against: list[str] = []
    risk_factors_present: list[str] = []
    unsourced: str | None = None

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def model_dump_contract(self) -> dict[str, object]:
        data = self.model_dump()
        data["for"] = data.pop("for_")
        return data


class PlanItem(Citable):
    id: str
    phase: str
    title: str
    text: str
    duration: str | None = None
    evidence: str
    evidence_note: str | None = None
    cautions: list[str] = []
    rationale: str


class FollowUpOut(Citable):
    id: str
    kind: str
    text: str
    plain: str | None = None


class WarningOut(Citable):
    id: str
    text: str


class OrderReview(_Out):
    order: str
    category: str | None
    rating: int | None
    rrl: str | None
    verdict: Verdict
    alternatives: list[str]
    reasons: list[WarningOut]


class Question(_Out):
    id: str
    field: str
    ask: str
    would_change: str
    rules: list[str]
    priority: int


class TraceEntry(_Out):
    rule: str
    family: str
    title: str
    because: list[str]
    effect: str


class PositionOut(Citable):
    id: str
    claim: str
    applies: Literal["yes", "no", "unknown"]


class ConflictOut(_Out):
    id: str
    question: str
    followed: str | None
    why: str
    positions: list[PositionOut]


class OtherPathway(_Out):
    pathway: str
    urgency: Urgency
    rule: str


class Assessment(_Out):
    case_id: str | None
    knowledge_version: str
    urgency: Urgency
    pathway: str
    pathway_reason: str
    other_pathways: list[OtherPathway]
    do_now: list[WarningOut]
    acr: AcrBlock | None
    next_imaging: list[str]
    imaging: list[ImagingChoice]
    labs: list[str]
    referral: Referral
    differential: list[DiagnosisOut]
    plan: list[PlanItem]
    follow_up: list[FollowUpOut]
    warnings: list[WarningOut]
    order_review: OrderReview | None
    citations: list[str]
    questions: list[Question]
    conflicts: list[ConflictOut]
    context: dict[str, str | float | None]
    trace: list[TraceEntry]

    def to_json_dict(self) -> dict[str, object]:
        """The JSON form: contract names (``for`` rather than the Python-safe ``for_``)."""
        data = self.model_dump()
        data["differential"] = [d.model_dump_contract() for d in self.differential]
        return data


Model = TypeVar("Model", bound=BaseModel)


@cache
def _defaults(cls: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = {
        n: f.default
        for n, f in cls.model_fields.items()
        if f.default_factory is None and not f.is_required()
    }
    factories = {
        n: f.default_factory for n, f in cls.model_fields.items() if f.default_factory is not None
    }
    return plain, factories


def build(cls: type[Model], **values: Any) -> Model:
    """Make an output object from values the engine itself produced, without re-validating.

    Validation costs more than the whole rule evaluation; the engine's output is typed at
    its source and ``tests/test_rules.py`` re-validates whole assessments against the schema.
    This does what pydantic's ``model_construct`` does, minus its per-call bookkeeping.
    """
    plain, factories = _defaults(cls)
    data = {**plain, **{n: f() for n, f in factories.items() if n not in values}, **values}
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", data)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
