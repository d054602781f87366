"""The case: what a caller hands in (see ../shared/case-format.md).

Parsing happens in two steps so that every mistake gets a precise message:

1. ``CaseIn`` (pydantic) checks the *shape*: types, ranges, unknown keys.
2. :func:`parse_case` checks every *term* against the knowledge-base vocabulary and
   normalises what needs it (time since surgery in weeks, spinal levels as ``C5-C6``).

Findings are three-valued: ``True`` present, ``False`` looked for and absent, missing
(or ``null``) unknown. Unknown is never read as absent anywhere downstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from spinecds.errors import CaseError, FieldProblem, nearest
from spinecds.knowledge.vocabulary import Vocabulary

__all__ = ["Case", "Imaging", "Surgery", "Treatment", "parse_case"]

WEEKS_PER_MONTH = 52.0 / 12.0
WEEKS_PER_YEAR = 52.0

Region = Literal["cervical", "thoracic", "lumbar"]
# Strict: a finding is true or false (or a number for motor_grade); "yes", 1 or "t" are not
# silently read as present, and true is never read as the number 1.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
FindingValue = StrictBool | Number | None

_VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_VERTEBRA_INDEX = {v: i for i, v in enumerate(_VERTEBRAE)}
# An en dash is accepted too: notes pasted from word processors use it.
_LEVEL = re.compile(r"^\s*([CTLS])\s*(\d{1,2})\s*[-/–]\s*([CTLS])?\s*(\d{1,2})\s*$", re.IGNORECASE)  # noqa: RUF001
_REGION_OF_LETTER = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "lumbar"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TimeAgo(_Strict):
    weeks_ago: Number | None = Field(default=None, ge=0, le=5200)
    months_ago: Number | None = Field(default=None, ge=0, le=1200)
    years_ago: Number | None = Field(default=None, ge=0, le=100)

    def weeks(self) -> float | None:
        if self.weeks_ago is not None:
            return float(self.weeks_ago)
        if self.months_ago is not None:
            return float(self.months_ago) * WEEKS_PER_MONTH
        if self.years_ago is not None:
            return float(self.years_ago) * WEEKS_PER_YEAR
        return None

    def given(self) -> list[str]:
        return [k for k in ("weeks_ago", "months_ago", "years_ago") if getattr(self, k) is not None]


class SurgeryIn(_TimeAgo):
    procedure: str
    levels: list[str] = Field(default_factory=list)


class ImagingIn(_TimeAgo):
    study: str
    region: Region
    findings: dict[str, StrictBool | None] = Field(default_factory=dict)


class TreatmentIn(_Strict):
    treatment: str
    weeks: Number = Field(default=0, ge=0, le=5200)


class CaseIn(_Strict):
    """The shape of a case, before its terms are checked against the vocabulary."""

    id: str | None = None
    age: Number | None = Field(default=None, ge=0, le=120)
    sex: Literal["female", "male", "other", "unknown"] | None = None
    surgeries: list[SurgeryIn]
    complaint: list[str] = Field(min_length=1)
    symptom_weeks: Number | None = Field(default=None, ge=0, le=5200)
    course: Literal["new", "increasing", "stable", "improving"] | None = None
    findings: dict[str, FindingValue] = Field(default_factory=dict)
    imaging: list[ImagingIn] = Field(default_factory=list)
    treatments: list[TreatmentIn] = Field(default_factory=list)
    proposed_order: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # YAML reads `id: 17` as a number; an id is a label, so keep it as text.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )


@dataclass(frozen=True, slots=True)
class Surgery:
    procedure: str
    region: str
    levels: tuple[str, ...]
    weeks_ago: float | None


@dataclass(frozen=True, slots=True)
class Imaging:
    study: str
    region: str
    weeks_ago: float | None
    findings: Mapping[str, bool]


@dataclass(frozen=True, slots=True)
class Treatment:
    treatment: str
    weeks: float


@dataclass(frozen=True, slots=True)
class Case:
    """A validated, normalised case. Findings hold only what is known (present or absent)."""

    id: str | None
    age: float | None
    sex: str | None
    surgeries: tuple[Surgery, ...]
    complaint: frozenset[str]
    symptom_weeks: float | None
    course: str | None
    findings: Mapping[str, bool | float]
    imaging: tuple[Imaging, ...]
    treatments: tuple[Treatment, ...]
    proposed_order: str | None


def parse_case(data: Any, vocab: Vocabulary, procedures: Mapping[str, str] | None = None) -> Case:
    """Validate raw case data (a mapping from YAML or JSON) and normalise it.

    ``procedures`` maps lower-cased ACR procedure names to their exact spelling, so a
    proposed order can be checked; without it the order is taken as given.
    Raises :class:`CaseError` listing every problem found, each naming its field.
    """
    if not isinstance(data, Mapping):
        raise CaseError(
            "A case must be a mapping of fields (YAML or JSON object).",
            [
                FieldProblem(
                    "case", f"got {type(data).__name__}", "start from ../shared/case-format.md"
                )
            ],
        )
    try:
        raw = CaseIn.model_validate(dict(data))
    except ValidationError as exc:
        shape = _shape_problems(exc)
        reported = {p.field for p in shape}
        shape += [p for p in _raw_term_problems(data, vocab) if p.field not in reported]
        raise CaseError("The case does not fit the case format.", shape) from None
    problems: list[FieldProblem] = []
    case = _normalise(raw, vocab, procedures, problems)
    if problems:
        raise CaseError("The case uses terms or values spinecds cannot accept.", problems)
    return case


def _normalise(
    raw: CaseIn,
    vocab: Vocabulary,
    procedures: Mapping[str, str] | None,
    problems: list[FieldProblem],
) -> Case:
    surgeries = tuple(
        s for i, item in enumerate(raw.surgeries) if (s := _surgery(i, item, vocab, problems))
    )
    for term in raw.complaint:
        _check_term(vocab, "complaint", term, "complaint", problems)
    findings = _findings(raw.findings, vocab, problems)
    imaging = tuple(
        img for i, item in enumerate(raw.imaging) if (img := _imaging(i, item, vocab, problems))
    )
    treatments = []
    for i, t in enumerate(raw.treatments):
        if _check_term(vocab, "treatment", t.treatment, f"treatments[{i}].treatment", problems):
            treatments.append(Treatment(t.treatment, float(t.weeks)))
    order = _order(raw.proposed_order, procedures, problems)
    return Case(
        id=raw.id,
        age=raw.age,
        sex=raw.sex,
        surgeries=surgeries,
        complaint=frozenset(raw.complaint),
        symptom_weeks=raw.symptom_weeks,
        course=raw.course,
        findings=findings,
        imaging=imaging,
        treatments=tuple(treatments),
        proposed_order=order,
    )


def _check_term(
    vocab: Vocabulary, kind: str, term: str, where: str, problems: list[FieldProblem]
) -> bool:
    if vocab.has(kind, term):
        return True
    problems.append(
        FieldProblem(
            where,
            f"unknown {kind.replace('_', ' ')} {term!r}.",
            f"use a term from `spinecds vocab {kind}`.",
            nearest(term, vocab.ids(kind)),
        )
    )
    return False


def _time(where: str, item: _TimeAgo, problems: list[FieldProblem]) -> float | None:
    given = item.given()
    if len(given) > 1:
        problems.append(
            FieldProblem(
                where,
                f"gives {' and '.join(given)}; give only one of weeks_ago, months_ago, years_ago.",
                "keep the most precise one.",
            )
        )
    return item.weeks()


def _surgery(
    index: int, item: SurgeryIn, vocab: Vocabulary, problems: list[FieldProblem]
) -> Surgery | None:
    where = f"surgeries[{index}]"
    if not _check_term(vocab, "procedure", item.procedure, f"{where}.procedure", problems):
        return None
    region = str(vocab.attr("procedure", item.procedure, "region"))
    levels: list[str] = []
    for j, text in enumerate(item.levels):
        levels.extend(_levels(text, f"{where}.levels[{j}]", region, problems))
    unique = tuple(dict.fromkeys(levels))
    return Surgery(item.procedure, region, unique, _time(where, item, problems))


def _levels(text: str, where: str, region: str, problems: list[FieldProblem]) -> list[str]:
    """``C5-6``, ``C5/6`` and ``C5-C6`` all mean the motion segment ``C5-C6``.

    A span such as ``C5-C7`` is two segments and is expanded to ``C5-C6, C6-C7``.
    """
    match = _LEVEL.match(str(text))
    fix = "write a spinal level such as C5-C6 (vertebrae C1-C7, T1-T12, L1-L5, S1)."
    if not match:
        problems.append(FieldProblem(where, f"{text!r} is not a spinal level.", fix))
        return []
    letter, first, letter2, second = match.groups()
    upper = f"{(letter2 or letter).upper()}{int(second)}"
    lower = f"{letter.upper()}{int(first)}"
    if lower not in _VERTEBRA_INDEX or upper not in _VERTEBRA_INDEX:
        bad = lower if lower not in _VERTEBRA_INDEX else upper
        problems.append(FieldProblem(where, f"{text!r}: there is no vertebra {bad}.", fix))
        return []
    a, b = _VERTEBRA_INDEX[lower], _VERTEBRA_INDEX[upper]
    if b == a:
        problems.append(FieldProblem(where, f"{text!r} names one vertebra, not a segment.", fix))
        return []
    if b < a:
        problems.append(FieldProblem(where, f"{text!r}: the upper vertebra must come first.", fix))
        return []
    segments = [f"{_VERTEBRAE[i]}-{_VERTEBRAE[i + 1]}" for i in range(a, b)]
    regions = {_REGION_OF_LETTER[s[0]] for seg in segments for s in seg.split("-")}
    if region not in regions:
        problems.append(
            FieldProblem(
                where,
                f"{text!r} is not a {region} level, but the procedure is a {region} operation.",
                "check the level or the procedure.",
            )
        )
        return []
    return segments


def _findings(
    raw: Mapping[str, bool | float | None], vocab: Vocabulary, problems: list[FieldProblem]
) -> dict[str, bool | float]:
    known: dict[str, bool | float] = {}
    for name, value in raw.items():
        where = f"findings.{name}"
        if not _check_term(vocab, "finding", name, where, problems):
            continue
        if value is None:  # explicitly unknown: leave it out
            continue
        if vocab.attr("finding", name, "type") == "number":
            low = float(vocab.attr("finding", name, "min") or 0)
            high = float(vocab.attr("finding", name, "max") or 0)
            fix = f"give the MRC grade of the weakest muscle, a number from {low:g} to {high:g}."
            if isinstance(value, bool):
                problems.append(FieldProblem(where, "must be a number, not true/false.", fix))
                continue
            if not low <= value <= high:
                problems.append(FieldProblem(where, f"{value:g} is outside {low:g}-{high:g}.", fix))
                continue
            known[name] = float(value)
        elif isinstance(value, bool):
            known[name] = value
        else:
            problems.append(
                FieldProblem(
                    where,
                    f"must be true (present) or false (absent), not {value!r}.",
                    "leave the finding out when it is unknown.",
                )
            )
    return known


def _imaging(
    index: int, item: ImagingIn, vocab: Vocabulary, problems: list[FieldProblem]
) -> Imaging | None:
    where = f"imaging[{index}]"
    ok = _check_term(vocab, "study", item.study, f"{where}.study", problems)
    findings: dict[str, bool] = {}
    for name, value in item.findings.items():
        if _check_term(vocab, "imaging_finding", name, f"{where}.findings.{name}", problems):
            if value is not None:
                findings[name] = value
    weeks = _time(where, item, problems)
    return Imaging(item.study, item.region, weeks, findings) if ok else None


def _order(
    order: str | None, procedures: Mapping[str, str] | None, problems: list[FieldProblem]
) -> str | None:
    if order is None or procedures is None:
        return order
    exact = procedures.get(" ".join(order.split()).lower())
    if exact is None:
        problems.append(
            FieldProblem(
                "proposed_order",
                f"{order!r} is not an ACR procedure name.",
                "name the order as the ACR tables do (see `spinecds kb procedures`).",
                nearest(order, procedures.values()),
            )
        )
    return exact


_FIX_BY_ERROR = {
    "missing": "add it (see ../shared/case-format.md).",
    "too_short": "give at least one entry.",
    "greater_than_equal": "use a value that is not negative.",
    "less_than_equal": "use a realistic value.",
    "finite_number": "give a finite number.",
    "bool_type": "write true (present) or false (absent); leave an unknown finding out.",
    "float_type": "give a number.",
    "int_type": "give a whole number.",
    "string_type": "give text.",
    "list_type": "give a list, e.g. [neck_pain].",
    "dict_type": "give a mapping of name: value.",
    "model_type": "give a mapping of fields.",
    "literal_error": "use one of the listed values.",
}
_UNION_TAGS = {"bool", "float", "int", "str", "function-after[_id_as_text(), str]"}


def _shape_problems(exc: ValidationError) -> list[FieldProblem]:
    problems: dict[str, FieldProblem] = {}
    for err in exc.errors():
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and (p in _UNION_TAGS or "[" in p))
        )
        where = _path(loc)
        if where in problems:
            continue  # one problem per field: a union reports each of its members
        kind = err["type"]
        if kind == "extra_forbidden":
            field_name = str(loc[-1])
            problems[where] = FieldProblem(
                where,
                "is not a field of the case format.",
                "remove it or correct its name (see ../shared/case-format.md).",
                nearest(field_name, _allowed_keys(loc[:-1])),
            )
        elif kind == "missing":
            fix = (
                "give [] for a patient with no spine operation."
                if where == "surgeries"
                else _FIX_BY_ERROR[kind]
            )
            problems[where] = FieldProblem(where, "is required.", fix)
        elif where.startswith("findings.") or ".findings." in where:
            problems[where] = FieldProblem(
                where,
                f"must be true (present) or false (absent), not {err.get('input')!r}.",
                "leave the finding out when it is unknown.",
            )
        else:
            fix = _FIX_BY_ERROR.get(kind, "see ../shared/case-format.md for this field.")
            if kind == "literal_error":
                fix = f"use one of: {err.get('ctx', {}).get('expected', '')}."
            problems[where] = FieldProblem(where, f"{err['msg']} (got {err.get('input')!r}).", fix)
    return list(problems.values())


def _raw_term_problems(data: Mapping[str, Any], vocab: Vocabulary) -> list[FieldProblem]:
    """Vocabulary checks on a case whose shape failed, so every problem is reported at once."""
    problems: list[FieldProblem] = []

    def each(key: str) -> list[tuple[int, Mapping[str, Any]]]:
        items = data.get(key)
        return (
            [(i, x) for i, x in enumerate(items) if isinstance(x, Mapping)]
            if isinstance(items, list)
            else []
        )

    complaint = data.get("complaint")
    for term in complaint if isinstance(complaint, list) else []:
        if isinstance(term, str):
            _check_term(vocab, "complaint", term, "complaint", problems)
    findings = data.get("findings")
    for name in findings if isinstance(findings, Mapping) else []:
        _check_term(vocab, "finding", str(name), f"findings.{name}", problems)
    for i, item in each("surgeries"):
        if isinstance(item.get("procedure"), str):
            _check_term(
                vocab, "procedure", item["procedure"], f"surgeries[{i}].procedure", problems
            )
    for i, item in each("imaging"):
        if isinstance(item.get("study"), str):
            _check_term(vocab, "study", item["study"], f"imaging[{i}].study", problems)
        for name in item.get("findings") or {}:
            _check_term(
                vocab, "imaging_finding", str(name), f"imaging[{i}].findings.{name}", problems
            )
    for i, item in each("treatments"):
        if isinstance(item.get("treatment"), str):
            _check_term(
                vocab, "treatment", item["treatment"], f"treatments[{i}].treatment", problems
            )
    return problems


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(parent: tuple[int | str, ...]) -> list[str]:
    names = [p for p in parent if isinstance(p, str)]
    model: type[BaseModel] = CaseIn
    if names and names[0] == "surgeries":
        model = SurgeryIn
    elif names and names[0] == "imaging":
        model = ImagingIn
    elif names and names[0] == "treatments":
        model = TreatmentIn
    return list(model.model_fields)
