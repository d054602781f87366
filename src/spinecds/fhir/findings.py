"""Conditions, Observations, allergies and devices: complaints, findings and diagnoses.

A finding is set to absent only when the record says so: a refuted Condition or
AllergyIntolerance, an Observation answered no or negative, a lab result within its own
reference range. A tentative, past or entered-in-error statement asserts nothing and is
reported in the notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinecds.fhir.builder import CaseBuilder, ImagingRecord
from spinecds.fhir.concepts import Lexicon, Reading, context_texts, read_concept, tokens
from spinecds.fhir.resources import (
    Json,
    Moment,
    codings,
    concept_text,
    moment,
    ref_id,
    ref_of,
    status_code,
)

__all__ = ["LabResult", "read_allergy", "read_condition", "read_device", "read_observation"]


@dataclass(frozen=True, slots=True)
class LabResult:
    finding: str
    high: bool
    when: Moment | None
    source: str


def _held_notes(b: CaseBuilder, ref: str, reading: Reading) -> None:
    for entry in reading.informational:
        b.notes.append(f"{ref}: {entry.label}: {entry.informational}")
    for entry in reading.held:
        why = entry.caution or "the code names several terms and the record does not say which"
        b.notes.append(
            f"{ref}: {entry.label} not used alone ({why}); may mean {', '.join(entry.terms)}"
        )


def _unread(b: CaseBuilder, ref: str, concept: Any) -> None:
    text = concept_text(concept) or "no code or text"
    b.notes.append(f"{ref}: {text!r} is not in the code map and its text matched no term")


def read_condition(
    lex: Lexicon, b: CaseBuilder, res: Json, reports: Mapping[str, ImagingRecord]
) -> None:
    """A Condition (or a ServiceRequest reason): complaint, finding, imaging finding, diagnosis."""
    ref = ref_of(res)
    verification = lex.rule("verification_status")
    ver = status_code(res.get("verificationStatus"))
    if ver in verification["ignored"]:
        b.notes.append(f"{ref}: verificationStatus {ver}; ignored")
        return
    reading = read_concept(
        lex, res.get("code"), ("condition",), context_texts(res, res.get("code"))
    )
    _held_notes(b, ref, reading)
    if not reading.terms:
        if not (reading.coded or reading.held or reading.informational):
            _unread(b, ref, res.get("code"))
        return
    if ver in verification["not_asserted"]:
        b.notes.append(f"{ref}: {', '.join(reading.terms)} is {ver}; not asserted")
        return
    refuted = ver in verification["refuted"]
    clinical = status_code(res.get("clinicalStatus"))
    past = clinical in lex.rule("clinical_status")["past"]
    onset = moment(res.get("onsetDateTime")) or moment((res.get("onsetPeriod") or {}).get("start"))
    source = reading.why(ref)
    for term, entry in zip(reading.terms, reading.entries, strict=True):
        kind, _, name = term.partition(":")
        also = entry.differential if entry is not None else None
        if kind == "finding":
            _condition_finding(lex, b, name, source, refuted, past, clinical)
        elif kind == "complaint" and not (refuted or past):
            b.complaint(name, source, onset)
        elif kind == "imaging_finding":
            _attach(b, res, name, not refuted, source, reports)
        elif kind == "differential" and not (refuted or past):
            b.diagnosis(name, source)
        else:
            b.notes.append(f"{ref}: {term} is {ver or clinical}; not asserted")
        if also and not (refuted or past):
            b.diagnosis(also, source)


def _condition_finding(
    lex: Lexicon,
    b: CaseBuilder,
    name: str,
    source: str,
    refuted: bool,
    past: bool,
    clinical: str | None,
) -> None:
    if refuted:
        b.finding(name, False, source)
    elif past and name not in lex.rule("history_findings"):
        b.notes.append(f"{source}: finding {name} is {clinical}; not asserted as current")
    else:
        b.finding(name, True, source)


def _attach(
    b: CaseBuilder,
    res: Json,
    name: str,
    value: bool,
    source: str,
    reports: Mapping[str, ImagingRecord],
) -> None:
    """An imaging finding belongs to a study: the report the Condition names as evidence."""
    for evidence in res.get("evidence") or []:
        for detail in evidence.get("detail") or []:
            record = reports.get(ref_id(detail, "DiagnosticReport") or "")
            if record is not None:
                b.imaging_finding(record, name, value, source)
                return
    b.notes.append(
        f"{source}: imaging finding {name} names no imaging report as evidence; "
        "not placed on a study"
    )


def read_observation(lex: Lexicon, b: CaseBuilder, res: Json, labs: list[LabResult]) -> None:
    ref = ref_of(res)
    status = str(res.get("status", ""))
    if status not in lex.rule("usable_status")["Observation"]:
        b.notes.append(f"{ref}: status {status or 'missing'}; not read")
        return
    reading = read_concept(lex, res.get("code"), ("observation", "condition"))
    _held_notes(b, ref, reading)
    for entry in reading.entries:
        if entry is not None and entry.kind == "observation":
            _lab(lex, b, res, ref, entry.finding_if_high, labs)
    terms = [
        t
        for t, e in zip(reading.terms, reading.entries, strict=True)
        if e is None or e.kind != "observation"
    ]
    if not reading.terms and not (reading.coded or reading.held or reading.informational):
        _unread(b, ref, res.get("code"))
    if not terms:
        return
    value = _polarity(lex, res)
    for term in terms:
        kind, _, name = term.partition(":")
        source = reading.why(ref)
        if value is None:
            b.notes.append(f"{source}: {term} observed, but its value says neither yes nor no")
        elif kind == "finding":
            b.finding(name, value, source)
        elif kind == "complaint" and value:
            b.complaint(name, source, None)
        else:
            b.notes.append(f"{source}: {term} = {value} cannot be placed in the case")


def _lab(
    lex: Lexicon, b: CaseBuilder, res: Json, ref: str, finding: str | None, labs: list[LabResult]
) -> None:
    if finding is None:
        if not res.get("hasMember"):
            b.notes.append(f"{ref}: a laboratory panel without a result the case can use")
        return
    high = _high(lex, res)
    if high is None:
        b.notes.append(f"{ref}: {finding} unknown: no interpretation and no usable reference range")
        return
    when = moment(res.get("effectiveDateTime")) or moment(res.get("issued"))
    labs.append(LabResult(finding, high, when, ref))


def apply_labs(b: CaseBuilder, labs: list[LabResult]) -> None:
    """The latest result of each lab decides its finding; one older than the current episode
    (the earliest complaint onset) asserts nothing."""
    latest: dict[str, LabResult] = {}
    for lab in labs:
        old = latest.get(lab.finding)
        if old is None or (lab.when and (old.when is None or lab.when.day > old.when.day)):
            latest[lab.finding] = lab
    for lab in labs:
        if latest[lab.finding] is not lab:
            b.notes.append(f"{lab.source}: {lab.finding} superseded by a later result")
    onset = min((o.day for o, _ in b.onsets), default=None)
    for lab in latest.values():
        if onset is not None and lab.when is not None and lab.when.day < onset:
            b.notes.append(
                f"{lab.source}: {lab.finding} from {lab.when.text} predates this episode"
            )
        else:
            b.finding(lab.finding, lab.high, lab.source)


def _interpretations(res: Json) -> set[str]:
    return {
        str(c.get("code", "")).upper() for i in res.get("interpretation") or [] for c in codings(i)
    }


def _high(lex: Lexicon, res: Json) -> bool | None:
    rules = lex.rule("interpretation")
    found = _interpretations(res)
    if found & set(rules["high"]):
        return True
    if found & set(rules["not_high"]):
        return False
    value = res.get("valueQuantity") or {}
    for band in res.get("referenceRange") or []:
        high = band.get("high") or {}
        if not isinstance(value.get("value"), int | float) or not isinstance(
            high.get("value"), int | float
        ):
            continue
        unit, band_unit = (
            value.get("code") or value.get("unit"),
            high.get("code") or high.get("unit"),
        )
        if unit and band_unit and unit != band_unit:
            continue
        return bool(value["value"] > high["value"])
    return None


def _polarity(lex: Lexicon, res: Json) -> bool | None:
    """Yes or no, from valueBoolean, interpretation or an answer's words; an Observation that
    carries no value at all states its finding (present)."""
    if isinstance(res.get("valueBoolean"), bool):
        return bool(res["valueBoolean"])
    rules, found = lex.rule("interpretation"), _interpretations(res)
    if found & set(rules["positive"]):
        return True
    if found & set(rules["negative"]):
        return False
    answer = res.get("valueCodeableConcept")
    if answer is not None:
        words = lex.rule("answer_words")
        texts = {lex.norm(concept_text(answer))} | {
            lex.norm(str(c.get("display", ""))) for c in codings(answer)
        }
        if texts & {lex.norm(w) for w in words["positive"]}:
            return True
        if texts & {lex.norm(w) for w in words["negative"]}:
            return False
        return None
    has_value = any(k.startswith("value") for k in res) or "dataAbsentReason" in res
    return None if has_value or found else True


def _phrase_term(phrases: Mapping[str, list[str]], found: frozenset[str]) -> tuple[str, str] | None:
    for term, items in phrases.items():
        for phrase in items:
            if tokens(phrase) <= found:
                return term, phrase
    return None


def _all_text(concept: Any) -> str:
    return " ".join([concept_text(concept), *(str(c.get("display", "")) for c in codings(concept))])


def read_allergy(lex: Lexicon, b: CaseBuilder, res: Json) -> None:
    """Contrast allergies, read by text: codes.yaml holds no allergy codes."""
    ref = ref_of(res)
    text = _all_text(res.get("code"))
    hit = _phrase_term(lex.rule("allergy_phrases"), tokens(text))
    name = concept_text(res.get("code")) or "no text"
    if hit is None:
        unclear = _phrase_term({"?": lex.rule("allergy_unclear_phrases")}, tokens(text))
        why = "does not say which contrast agent" if unclear else "does not bear on imaging"
        b.notes.append(f"{ref}: allergy {name!r} {why}; not asserted")
        return
    term, phrase = hit
    source = f"{ref} (text match: {phrase!r} in {name!r})"
    verification = lex.rule("verification_status")
    ver = status_code(res.get("verificationStatus"))
    clinical = status_code(res.get("clinicalStatus"))
    if ver in verification["refuted"]:
        b.finding(term.partition(":")[2], False, source)
    elif ver in verification["ignored"] or ver in verification["not_asserted"]:
        b.notes.append(f"{source}: verificationStatus {ver}; not asserted")
    elif clinical in lex.rule("clinical_status")["past"]:
        b.notes.append(f"{source}: clinicalStatus {clinical}; not asserted")
    else:
        b.finding(term.partition(":")[2], True, source)


def read_device(lex: Lexicon, b: CaseBuilder, res: Json) -> None:
    """Implants that bar MRI, read by text (no device codes are in codes.yaml)."""
    ref = ref_of(res)
    status = str(res.get("status", "active"))
    names = [str(n.get("name", "")) for n in res.get("deviceName") or [] if isinstance(n, dict)]
    text = " ".join([_all_text(res.get("type")), *names])
    label = concept_text(res.get("type")) or (names[0] if names else "no text")
    if status not in lex.rule("usable_status")["Device"]:
        b.notes.append(f"{ref}: device {label!r} has status {status}; not read")
        return
    safety = " ".join(_all_text(s) for s in res.get("safety") or [])
    hit = _phrase_term(lex.rule("device_phrases"), tokens(text))
    if hit is None:
        b.notes.append(f"{ref}: device {label!r} does not bear on imaging")
        return
    if _phrase_term({"?": lex.rule("device_mr_safe_phrases")}, tokens(f"{text} {safety}")):
        b.notes.append(
            f"{ref}: device {label!r} is labelled MR safe or MR conditional; check its conditions"
        )
        return
    term, phrase = hit
    b.finding(term.partition(":")[2], True, f"{ref} (text match: {phrase!r} in {label!r})")
