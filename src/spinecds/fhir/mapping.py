"""FHIR R4 resources of one patient -> a case dict for ``spinecds.parse_case``.

    mapped = case_from_resources(bundle_or_resources, today=date(2026, 11, 21), kb=kb)
    case = parse_case(mapped.case, kb.vocabulary, kb.procedures)

The service validates every resource against the R4 models first; a trusted bulk export may
skip that (``validate=False``) for speed: the mapping itself reads the same JSON either way.
Every resource is either used (and named in ``provenance``) or reported in ``unmapped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from spinecds.fhir.builder import CaseBuilder, ImagingRecord
from spinecds.fhir.concepts import Lexicon, lexicon
from spinecds.fhir.findings import (
    LabResult,
    apply_labs,
    read_allergy,
    read_condition,
    read_device,
    read_observation,
)
from spinecds.fhir.imaging import read_report
from spinecds.fhir.operations import HeldOperation, read_procedure, settle_held
from spinecds.fhir.r4 import problems_of
from spinecds.fhir.resources import Json, flatten, moment, ref_id, ref_of
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["MappedCase", "case_from_resources"]

_SEXES = {"male", "female", "other", "unknown"}
# Reference fields naming the patient, by resource type.
_SUBJECT = {"Device": "patient", "AllergyIntolerance": "patient"}


@dataclass
class MappedCase:
    case: dict[str, Any]
    provenance: dict[str, list[str]]
    unmapped: list[str]
    patient_id: str | None
    # Diagnoses on record (differential ids) that a case cannot carry, with their sources.
    diagnoses: dict[str, list[str]] = field(default_factory=dict)


def case_from_resources(
    resources: Iterable[Any],
    *,
    today: date,
    kb: KnowledgeBase,
    validate: bool = True,
    procedures_complete: bool = False,
) -> MappedCase:
    """Map one patient's resources (or Bundles of them) to a case.

    ``procedures_complete``: the resources hold every spine operation the patient had (a
    synthetic export), so finding none means never operated (``surgeries: []``). Otherwise
    no operation on record leaves ``surgeries`` out: silence is not a history.
    """
    lex = lexicon(kb)
    b = CaseBuilder(today)
    by_type = _sorted(resources, b, validate)
    _patient(b, by_type.get("Patient", []), today)
    by_type = _own(b, by_type)
    held: list[HeldOperation] = []
    for res in by_type.get("Procedure", []):
        read_procedure(lex, b, res, held)
    settle_held(lex, b, held)
    reports: dict[str, ImagingRecord] = {}
    for res in by_type.get("DiagnosticReport", []):
        record = read_report(lex, b, res)
        if record is not None and res.get("id"):
            reports[str(res["id"])] = record
    for res in by_type.get("Condition", []):
        read_condition(lex, b, res, reports)
    for res in by_type.get("ServiceRequest", []):
        _order_reasons(lex, b, res, reports)
    labs: list[LabResult] = []
    for res in by_type.get("Observation", []):
        read_observation(lex, b, res, labs)
    apply_labs(b, labs)
    _each(by_type, "AllergyIntolerance", lambda r: read_allergy(lex, b, r))
    _each(by_type, "Device", lambda r: read_device(lex, b, r))
    _others(b, by_type)
    case, provenance = b.build(kb.vocabulary, procedures_complete)
    return MappedCase(case, provenance, b.notes, b.patient_id, b.diagnoses)


def _each(by_type: Mapping[str, list[Json]], name: str, read: Callable[[Json], None]) -> None:
    for res in by_type.get(name, []):
        read(res)


_READ = {
    "Patient",
    "Procedure",
    "DiagnosticReport",
    "Condition",
    "ServiceRequest",
    "Observation",
    "AllergyIntolerance",
    "Device",
}


def _sorted(resources: Iterable[Any], b: CaseBuilder, validate: bool) -> dict[str, list[Json]]:
    """Resources by type, each once (the same resource may come in prefetch and context)."""
    seen: set[str] = set()
    by_type: dict[str, list[Json]] = {}
    for res in flatten(resources, b.notes):
        key = ref_of(res)
        if res.get("id") and key in seen:
            continue
        seen.add(key)
        if validate and res["resourceType"] in _READ:
            problems = problems_of(res)
            if problems:
                b.notes.append(f"{key} is not valid FHIR R4 and was not read: {problems[0]}")
                continue
        by_type.setdefault(res["resourceType"], []).append(res)
    return by_type


def _patient(b: CaseBuilder, patients: list[Json], today: date) -> None:
    if not patients:
        return
    res = patients[0]
    ref = ref_of(res)
    b.patient_id = str(res["id"]) if res.get("id") else None
    for other in patients[1:]:
        b.notes.append(f"{ref_of(other)}: a second patient; only {ref} is read")
    born = moment(res.get("birthDate"))
    if born is not None and born.day > today:
        b.notes.append(f"{ref}: birthDate {born.text} is after today; age unknown")
    elif born is not None:
        years = (
            today.year - born.day.year - ((today.month, today.day) < (born.day.month, born.day.day))
        )
        b.age = (years, ref)
        if born.precision != "day":
            b.notes.append(f"{ref}: birthDate {born.text}; age counted from its first day")
    gender = res.get("gender")
    if gender in _SEXES:
        b.sex = (str(gender), ref)


def _own(b: CaseBuilder, by_type: dict[str, list[Json]]) -> dict[str, list[Json]]:
    """Drop resources about another patient than the one being mapped."""
    if b.patient_id is None:
        subjects = {
            ref_id(r.get(_SUBJECT.get(t, "subject")), "Patient")
            for t, items in by_type.items()
            for r in items
        } - {None}
        if len(subjects) == 1:
            b.patient_id = subjects.pop()
    if b.patient_id is None:
        return by_type
    kept: dict[str, list[Json]] = {}
    for name, items in by_type.items():
        for res in items:
            subject = ref_id(res.get(_SUBJECT.get(name, "subject")), "Patient")
            if name != "Patient" and subject is not None and subject != b.patient_id:
                b.notes.append(
                    f"{ref_of(res)} is about Patient/{subject}, not Patient/{b.patient_id}"
                )
                continue
            kept.setdefault(name, []).append(res)
    return kept


def _order_reasons(
    lex: Lexicon, b: CaseBuilder, res: Json, reports: dict[str, ImagingRecord]
) -> None:
    """An order's coded reasons (reasonCode) are read like active Conditions."""
    for i, reason in enumerate(res.get("reasonCode") or []):
        as_condition = {
            "resourceType": "ServiceRequest",
            "id": f"{res.get('id') or '?'}.reasonCode[{i}]",
            "code": reason,
        }
        read_condition(lex, b, as_condition, reports)


def _others(b: CaseBuilder, by_type: Mapping[str, list[Json]]) -> None:
    counts = Counter({name: len(items) for name, items in by_type.items() if name not in _READ})
    for name, count in sorted(counts.items()):
        b.notes.append(f"{count} {name} resource(s) not read: the case has no place for them")
