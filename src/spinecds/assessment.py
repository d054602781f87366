"""The assessment: what spinecds answers (the contract in ../shared/case-format.md).

The contract fields keep their names and meanings; the rest (``do_now``, ``imaging``,
``conflicts``, ``other_pathways``...) are additions that explain the answer.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "builder",
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


_Shape = tuple[dict[str, Any], dict[str, Any], Any]
_SHAPES: dict[type[BaseModel], _Shape] = {}
# BaseModel keeps these four in slots; their descriptors set them without the attribute
# lookup object.__setattr__ does on every call (a model is built ~40 times per assessment).
_SLOTS = vars(BaseModel)
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def _shape(cls: type[BaseModel]) -> _Shape:
    plain, factories = _defaults(cls)
    return plain, factories, cls.__new__  # pydantic keeps object.__new__: a C call


def build(cls: type[Model], **values: Any) -> Model:
    """Make an output object from values the engine itself produced, without re-validating.

    Validation costs more than the whole rule evaluation; the engine's output is typed at
    its source and ``tests/test_rules.py`` re-validates whole assessments against the schema.
    This does what pydantic's ``model_construct`` does, minus its per-call bookkeeping.
    The field dict keeps the same key order as ``model_construct`` (defaults first): the
    JSON follows it.
    """
    shape = _SHAPES.get(cls)
    if shape is None:  # a plain dict lookup: functools.cache costs more per call
        shape = _SHAPES[cls] = _shape(cls)
    plain, factories, new = shape
    if factories:
        data = {**plain, **{n: f() for n, f in factories.items() if n not in values}, **values}
    elif plain:
        data = {**plain, **values}
    else:
        data = values  # this call's own keyword dict: nothing else holds it
    obj: Model = new(cls)
    _set_dict(obj, data)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def builder(cls: type[Model], *names: str) -> Callable[..., Model]:
    """``builder(cls, "a", "b")(x, y)`` is ``build(cls, a=x, b=y)``, faster.

    For the few models built many times per assessment (questions, trace entries,
    diagnoses): a generated function with the field names fixed saves build()'s keyword
    packing and shape lookup. The field dict has the same keys in the same order.
    """
    plain, factories, new = _shape(cls)
    unknown = [n for n in names if n not in cls.model_fields]
    if factories or unknown or len(set(names)) != len(names):
        raise ValueError(f"builder({cls.__name__}): unsupported fields {unknown or names}")
    args = [f"a{i}" for i in range(len(names))]
    items = ", ".join(f"{n!r}: {a}" for n, a in zip(names, args, strict=True))
    source = (
        f"def make({', '.join(args)}):\n"
        "    obj = new(cls)\n"
        f"    set_dict(obj, {{{'**plain, ' if plain else ''}{items}}})\n"
        f"    set_fields_set(obj, {{{', '.join(map(repr, names))}}})\n"
        "    set_extra(obj, None)\n"
        "    set_private(obj, None)\n"
        "    return obj\n"
    )
    namespace: dict[str, Any] = {
        "__builtins__": {},
        "new": new,
        "cls": cls,
        "plain": plain,
        "set_dict": _set_dict,
        "set_fields_set": _set_fields_set,
        "set_extra": _set_extra,
        "set_private": _set_private,
    }
    exec(source, namespace)  # noqa: S102 - field names of a model, entered via repr()
    return namespace["make"]  # type: ignore[no-any-return]
