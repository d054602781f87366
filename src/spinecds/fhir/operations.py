"""Procedures: spine operations (with levels and time since), and imaging recorded as done.

Time since surgery comes from ``performed[x]`` against the caller's ``today``. A code with a
caution (an add-on code, a discectomy that is ACDF only with a fusion code) asserts nothing
alone, but joins an operation of the same kind on the same day that another code asserts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spinecds.fhir.builder import CaseBuilder, SurgeryRecord
from spinecds.fhir.codemap import CodeEntry
from spinecds.fhir.concepts import Lexicon, context_texts, read_concept
from spinecds.fhir.imaging import record_imaging
from spinecds.fhir.resources import Json, Moment, concept_text, moment, ref_of

__all__ = ["HeldOperation", "read_procedure", "settle_held"]

_LEVEL = re.compile(r"\b([CTLS])\s?(\d{1,2})\s?[-/\u2013]\s?([CTLS])?\s?(\d{1,2})\b", re.IGNORECASE)
_REGION_OF_LETTER = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "lumbar"}


@dataclass
class HeldOperation:
    """An operation code that could not be asserted alone, waiting for corroboration."""

    entries: list[CodeEntry]
    when: Moment | None
    levels: list[str]
    source: str


def _when(b: CaseBuilder, res: Json, ref: str) -> Moment | None:
    period = res.get("performedPeriod") or {}
    found = (
        moment(res.get("performedDateTime"))
        or moment(period.get("start"))
        or moment(period.get("end"))
    )
    if found is None:
        b.notes.append(f"{ref}: no performed date; time since surgery unknown")
    elif found.precision != "day":
        b.notes.append(
            f"{ref}: performed {found.text} (to the {found.precision}); "
            "weeks counted from its first day"
        )
    elif found.day > b.today:
        b.notes.append(f"{ref}: performed {found.text} is after today; time since surgery unknown")
        return None
    return found


def _levels(texts: list[str]) -> list[str]:
    """Motion segments written in the record (``C5-C6``, ``C5-6``, ``C5/6``), as C5-C6."""
    found = []
    for text in texts:
        for m in _LEVEL.finditer(text):
            upper, first, letter2, second = m.groups()
            found.append(f"{upper.upper()}{int(first)}-{(letter2 or upper).upper()}{int(second)}")
    return list(dict.fromkeys(found))


def read_procedure(lex: Lexicon, b: CaseBuilder, res: Json, held: list[HeldOperation]) -> None:
    ref = ref_of(res)
    status = str(res.get("status", ""))
    if status not in lex.rule("usable_status")["Procedure"]:
        b.notes.append(
            f"{ref}: {concept_text(res.get('code'))!r} has status {status or 'missing'}; not read"
        )
        return
    code = res.get("code")
    context = context_texts(res, code)
    reading = read_concept(lex, code, ("surgery",), context)
    for entry in reading.informational:
        b.notes.append(f"{ref}: {entry.label}: {entry.informational}")
    if not (reading.terms or reading.held):
        if (
            record_imaging(lex, b, res, code, _when(b, res, ref)) is None
            and not reading.informational
        ):
            b.notes.append(
                f"{ref}: {concept_text(code) or 'no code or text'!r} is not a spine operation "
                "or study in the code map"
            )
        return
    when = _when(b, res, ref)
    levels = _levels(context)
    source = reading.why(ref)
    for term in reading.terms:
        kind, _, name = term.partition(":")
        if kind == "finding":
            b.finding(name, True, source)
        elif kind == "procedure":
            _add(lex, b, name, when, levels, source)
    if reading.held:
        held.append(HeldOperation(reading.held, when, levels, ref))


def _add(
    lex: Lexicon, b: CaseBuilder, name: str, when: Moment | None, levels: list[str], source: str
) -> None:
    region = lex.vocab.attr("procedure", name, "region")
    fitting = [lv for lv in levels if _REGION_OF_LETTER[lv[0]] == region]
    if len(fitting) < len(levels):
        b.notes.append(
            f"{source}: levels {', '.join(set(levels) - set(fitting))} are not {region}; left out"
        )
    for record in b.surgeries:
        if record.procedure == name and _same_day(record.when, when):
            record.levels.extend(lv for lv in fitting if lv not in record.levels)
            record.sources.append(source)
            return
    b.surgeries.append(SurgeryRecord(name, when, fitting, [source]))


def _same_day(a: Moment | None, b: Moment | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a.day == b.day)


def settle_held(lex: Lexicon, b: CaseBuilder, held: list[HeldOperation]) -> None:
    """A held code joins an asserted operation it may mean, on the same day; else a note."""
    for item in held:
        for entry in item.entries:
            names = {t.partition(":")[2] for t in entry.terms if t.startswith("procedure:")}
            match = next(
                (s for s in b.surgeries if s.procedure in names and _same_day(s.when, item.when)),
                None,
            )
            if match is not None:
                _add(
                    lex,
                    b,
                    match.procedure,
                    item.when,
                    item.levels,
                    f"{item.source} (with {match.sources[0]})",
                )
                continue
            why = (
                entry.caution
                or "the code names several operations and the record does not say which"
            )
            b.notes.append(
                f"{item.source}: {entry.label} not used alone ({why}); "
                f"may mean {', '.join(entry.terms)}"
            )
