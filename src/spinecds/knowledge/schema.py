"""Schema of every knowledge-base file (see ``kb/README.md``).

The models forbid unknown keys, so a misspelt key in a YAML file fails the load with
the file, the field and the allowed keys, the way medspaCy's rule loader does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AcrTopic",
    "Conflict",
    "Context",
    "Diagnosis",
    "FollowUpItem",
    "Manifest",
    "PlanStep",
    "Reference",
    "Rule",
    "RuleFile",
    "WarningItem",
]

Urgency = Literal["routine", "urgent", "emergency"]
Referral = Literal["none", "spine_surgeon", "spine_surgeon_urgent", "emergency_department"]
Verdict = Literal["appropriate", "consider_alternative", "not_appropriate"]
Family = Literal[
    "triage",
    "variants",
    "imaging",
    "imaging_adjust",
    "results",
    "management",
    "pitfalls",
    "follow_up",
    "order_review",
]
Cites = list[str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(Strict):
    version: str
    date: str
    what: str


class Manifest(Strict):
    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    changes: list[Change]
    caveats: list[str] = Field(default_factory=list)
    unsourced: list[str] = Field(default_factory=list)


class Reference(Strict):
    id: str
    authors: str | None = None
    title: str
    journal_or_publisher: str | None = None
    year: int | None = None
    pmid: str | None = None
    doi: str | None = None
    url: str | None = None
    topics: list[str] = Field(default_factory=list)
    key_findings: list[str] = Field(default_factory=list)
    evidence_level: str
    confidence: Literal["high", "medium", "low"]
    notes: str | None = None


class VocabularyFile(Strict):
    version: str
    changes: list[Change]
    terms: dict[str, dict[str, dict[str, Any]]]


class AcrRating(Strict):
    procedure: str
    category: str
    rating: int | None = None
    median: float | None = None
    soe: str | None = None
    rrl: str | None = None
    rrl_dose: str | None = None


class AcrVariant(Strict):
    key: str
    number: int | None
    description: str
    ratings: list[AcrRating]


class AcrSource(Strict):
    id: str
    title: str
    url: str | None = None


class AcrTopic(Strict):
    key: str
    topic: str
    revision_year: int | None = None
    superseded: bool = False
    source: AcrSource
    data_source: str | None = None
    references: Cites = Field(default_factory=list)
    notes: str | None = None
    variants: list[AcrVariant]


class Bands(Strict):
    value: str
    below_weeks: float | None = None
    label: str
    why: str | None = None
    cite: Cites = Field(default_factory=list)


class DerivedValue(Strict):
    value: str
    when: Any


class Derived(Strict):
    fact: str
    description: str
    values: list[DerivedValue]


class PathwayInfo(Strict):
    id: str
    default_urgency: Urgency
    description: str


class Context(Strict):
    version: str
    phases: list[Bands]
    episodes: list[Bands]
    chronic_from_weeks: float
    study_procedures: dict[str, dict[str, str]]
    macros: dict[str, Any]
    derived: list[Derived]
    pathways: list[PathwayInfo]
    verdict_by_category: dict[str, Verdict]
    cite: Cites


class RuleThen(Strict):
    pathway: str | None = None
    urgency: Urgency | None = None
    referral: Referral | None = None
    labs: list[str] = Field(default_factory=list)
    do_now: str | None = None
    acr: str | None = None
    related: list[str] = Field(default_factory=list)
    imaging: list[str] = Field(default_factory=list)
    why: str | None = None
    remove_imaging: list[str] = Field(default_factory=list)
    replace_imaging: dict[str, str] = Field(default_factory=dict)
    plan: list[str] = Field(default_factory=list)
    warn: list[str] = Field(default_factory=list)
    follow_up: list[str] = Field(default_factory=list)
    verdict: Verdict | None = None
    reason: str | None = None


class Rule(Strict):
    id: str
    title: str
    when: Any
    then: RuleThen
    cite: Cites = Field(min_length=1)
    seeds: list[str] = Field(default_factory=list)
    ask: bool | None = None
    note: str | None = None


class RuleFile(Strict):
    version: str
    family: Family
    description: str
    rules: list[Rule]


class Evidence(Strict):
    level: str
    note: str | None = None


class PlanStep(Strict):
    id: str
    phase: Literal["now", "conservative", "medicines", "interventional", "surgical"]
    title: str
    plain: str  # the step in everyday words, for the patient version
    text: str
    duration: str | None = None
    evidence: str
    evidence_note: str | None = None
    cautions: list[str] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)
    cite: Cites = Field(min_length=1)
    seeds: list[str] = Field(default_factory=list)


class PlanFile(Strict):
    version: str
    steps: list[PlanStep]


class WarningItem(Strict):
    id: str
    text: str
    cite: Cites = Field(min_length=1)
    seeds: list[str] = Field(default_factory=list)


class WarningFile(Strict):
    version: str
    warnings: list[WarningItem]


class FollowUpItem(Strict):
    id: str
    kind: Literal["reassess", "reimage", "return_sooner"]
    text: str
    plain: str | None = None
    cite: Cites = Field(min_length=1)
    seeds: list[str] = Field(default_factory=list)


class FollowUpFile(Strict):
    version: str
    items: list[FollowUpItem]


class Feature(Strict):
    when: Any
    weight: float
    text: str


class Diagnosis(Strict):
    id: str
    applies_when: Any
    prior: float
    base_rate: str | None = None
    features_for: list[Feature] = Field(default_factory=list)
    features_against: list[Feature] = Field(default_factory=list)
    risk_factors: list[str] = Field(default_factory=list)
    always_list_when: Any = None
    cite: Cites = Field(default_factory=list)
    unsourced: str | None = None  # required when `cite` is empty: say what is missing
    seeds: list[str] = Field(default_factory=list)


class DifferentialFile(Strict):
    version: str
    note: str
    diagnoses: list[Diagnosis]


class Position(Strict):
    id: str
    modality: str
    claim: str
    applies_when: Any
    seeds: list[str] = Field(default_factory=list)
    cite: Cites = Field(min_length=1)


class Conflict(Strict):
    id: str
    question: str
    positions: list[Position]


class ConflictFile(Strict):
    version: str
    conflicts: list[Conflict]
