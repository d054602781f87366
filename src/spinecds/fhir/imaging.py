"""Imaging codes to ACR procedures, and imaging reports to the case's ``imaging`` list.

One code can stand for several ACR procedures (CPT 72126 is CT with IV contrast or the CT
part of a CT myelogram; 72020 a radiograph of any region). The codings of one concept are
intersected (a LOINC term usually settles it), region-specific groups win over "area of
interest" groups, and bodySite or code text may name the region. What is still ambiguous
stays so: the procedure is None and the candidates are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spinecds.fhir.builder import CaseBuilder, ImagingRecord
from spinecds.fhir.concepts import Lexicon, context_texts, read_concept, regions_in, tokens
from spinecds.fhir.resources import Json, Moment, codings, concept_text, moment, ref_of

__all__ = ["ImagingMatch", "read_report", "record_imaging", "resolve_imaging"]

CASE_REGIONS = ("cervical", "thoracic", "lumbar")


@dataclass(frozen=True, slots=True)
class ImagingMatch:
    procedure: str | None  # the ACR procedure name, when one is left
    study: str | None  # case-format study term (None where the vocabulary has none)
    region: str | None
    candidates: tuple[str, ...]
    codes: tuple[str, ...]  # "system|code" of the codings in the code map
    how: str  # "code", "code and bodySite/code text", "text"


def resolve_imaging(lex: Lexicon, concept: Any, context: Sequence[str]) -> ImagingMatch | None:
    """The imaging procedure a concept names; None when no coding or text is imaging."""
    groups = lex.codes.imaging_groups
    sets: list[set[str]] = []
    codes: list[str] = []
    for coding in sorted(codings(concept), key=lex.rank):
        entries = [
            e
            for e in lex.codes.lookup(coding.get("system"), coding.get("code"))
            if e.kind == "imaging"
        ]
        if entries:
            codes.append(f"{coding.get('system')}|{coding.get('code')}")
            sets.append(_specific({str(e.procedure) for e in entries}, lex))
    if not sets:
        return _by_text(lex, concept)
    both = set.intersection(*sets)
    candidates = both or sets[0]  # codings that disagree: the preferred system (LOINC) wins
    how = "code"
    if len(candidates) > 1:
        regions = regions_in(lex, context)
        narrowed = {p for p in candidates if groups[p][1] in regions}
        if narrowed and narrowed != candidates:
            candidates, how = narrowed, "code and bodySite/code text"
    ordered = tuple(sorted(candidates))
    studies = {groups[p][0] for p in ordered}
    regions_left = {groups[p][1] for p in ordered}
    return ImagingMatch(
        procedure=ordered[0] if len(ordered) == 1 else None,
        study=studies.pop() if len(studies) == 1 else None,
        region=_region(lex, regions_left, context),
        candidates=ordered,
        codes=tuple(codes),
        how=how,
    )


def _specific(procedures: set[str], lex: Lexicon) -> set[str]:
    generic = set(lex.rule("imaging_generic_regions") or [])
    groups = lex.codes.imaging_groups
    specific = {p for p in procedures if groups[p][1] not in generic}
    return specific or procedures


def _region(lex: Lexicon, regions: set[str | None], context: Sequence[str]) -> str | None:
    if len(regions) == 1 and (only := next(iter(regions))) in CASE_REGIONS:
        return only
    named = regions_in(lex, context) & set(CASE_REGIONS)
    return named.pop() if len(named) == 1 else None


def _by_text(lex: Lexicon, concept: Any) -> ImagingMatch | None:
    """An order or report without a mapped code: its text may be an ACR procedure name, or
    at least say it is imaging."""
    text = concept_text(concept)
    if not text:
        return None
    exact = lex.procedures.get(" ".join(text.split()).lower())
    if exact is not None:
        study, region = lex.codes.imaging_groups.get(exact, (None, None))
        return ImagingMatch(
            exact, study, region if region in CASE_REGIONS else None, (exact,), (), "text"
        )
    words = tokens(" ".join([text, *(str(c.get("display", "")) for c in codings(concept))]))
    if any(tokens(w) <= words for w in lex.rule("imaging_words") or []):
        return ImagingMatch(None, None, _region(lex, set(), [text]), (), (), "text")
    return None


def record_imaging(
    lex: Lexicon, b: CaseBuilder, res: Json, concept: Any, when: Moment | None
) -> ImagingRecord | None:
    """Put a done study on the case, or say why it cannot be."""
    ref = ref_of(res)
    match = resolve_imaging(lex, concept, context_texts(res, concept))
    if match is None:
        return None
    name = match.procedure or concept_text(concept) or "an imaging study"
    if match.study is None or match.region is None:
        missing = "study type" if match.study is None else "spinal region"
        options = f" (may be {', '.join(match.candidates)})" if match.candidates else ""
        b.notes.append(f"{ref}: {name!r} done, but its {missing} is not known{options}")
        return None
    source = f"{ref} (text match: {name!r})" if match.how == "text" else ref
    for record in b.imaging:
        same_day = (record.when and when and record.when.day == when.day) or record.when is when
        if record.study == match.study and record.region == match.region and same_day:
            record.sources.append(source)
            return record
    record = ImagingRecord(match.study, match.region, when, match.procedure, [source], ref=ref)
    b.imaging.append(record)
    return record


def read_report(lex: Lexicon, b: CaseBuilder, res: Json) -> ImagingRecord | None:
    """A DiagnosticReport of imaging: the study done, and its coded conclusions."""
    ref = ref_of(res)
    status = str(res.get("status", ""))
    if status not in lex.rule("usable_status")["DiagnosticReport"]:
        b.notes.append(f"{ref}: status {status or 'missing'}; not read")
        return None
    when = (
        moment(res.get("effectiveDateTime"))
        or moment((res.get("effectivePeriod") or {}).get("start"))
        or moment(res.get("issued"))
    )
    record = record_imaging(lex, b, res, res.get("code"), when)
    if record is None:
        if resolve_imaging(lex, res.get("code"), ()) is None:
            text = concept_text(res.get("code")) or "no code or text"
            b.notes.append(f"{ref}: {text!r} is not an imaging study in the code map")
        return None
    for concept in res.get("conclusionCode") or []:
        _conclusion(lex, b, record, ref, concept)
    if res.get("conclusion") and not res.get("conclusionCode"):
        b.notes.append(f"{ref}: the conclusion is free text only; its findings are not read here")
    return record


def _conclusion(
    lex: Lexicon, b: CaseBuilder, record: ImagingRecord, ref: str, concept: Any
) -> None:
    reading = read_concept(lex, concept, ("condition",))
    source = reading.why(ref)
    for held in reading.held:
        b.notes.append(
            f"{ref}: conclusion {held.label} not used alone ({held.caution or 'ambiguous'})"
        )
    for term, entry in zip(reading.terms, reading.entries, strict=True):
        kind, _, name = term.partition(":")
        if kind == "imaging_finding":
            b.imaging_finding(record, name, True, source)
        elif kind == "differential":
            b.diagnosis(name, source)
        else:
            b.notes.append(f"{source}: conclusion {term} is not an imaging finding; not used")
        if entry is not None and entry.differential:
            b.diagnosis(entry.differential, source)
    if not reading.terms and not reading.held:
        b.notes.append(f"{ref}: conclusion {concept_text(concept)!r} matched no imaging finding")
