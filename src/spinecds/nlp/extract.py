"""Free text to a case fragment with evidence: the entry point of :mod:`spinecds.nlp`.

``extract(["58M s/p C5-6 ACDF 2019 ..."], today=date(2026, 11, 21))`` reads every text with
the medspaCy pipeline, settles each mention's assertion, and assembles the case fragment:
surgeries, complaint, findings (true or false), imaging with study, region and findings, age
and sex. A finding several mentions disagree on is entered as present (a red flag is never
talked away by a template line elsewhere), and the evidence says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from spinecds.errors import CaseError, FieldProblem
from spinecds.knowledge.loader import default_kb
from spinecds.knowledge.vocabulary import Vocabulary
from spinecds.nlp.demographics import find_age_sex
from spinecds.nlp.imaging import read_imaging
from spinecds.nlp.medspacy_adapter import Splitter, reader
from spinecds.nlp.model import Evidence, Extraction, SourceText, Unresolved
from spinecds.nlp.reading import Read, TextReading, read_text
from spinecds.nlp.rules import NlpRules, default_rules
from spinecds.nlp.surgery import read_surgeries

__all__ = ["MAX_TEXTS", "MAX_TEXT_CHARS", "extract"]

MAX_TEXTS = 20
MAX_TEXT_CHARS = 100_000


def extract(
    texts: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    today: date | None = None,
    splitter: Splitter = "rules",
) -> Extraction:
    """Read ``texts`` (clinic notes, messages, reports) as of ``today`` (default: today).

    ``splitter="pyrush"`` splits sentences with medspaCy's PyRuSH instead of our rules
    (slower; for comparison in bench/extract_throughput.py).
    """
    _check(texts, names)
    today = today or date.today()
    rules, kb = default_rules(), default_kb()
    sources = [
        SourceText(i, names[i] if names else f"text {i + 1}", text) for i, text in enumerate(texts)
    ]
    parsed = reader(splitter).read_many([s.text for s in sources])
    readings = [read_text(s, p, rules) for s, p in zip(sources, parsed, strict=True)]
    case: dict[str, Any] = {}
    evidence: list[Evidence] = []
    unresolved: list[Unresolved] = []
    evidence += _demographics(sources, case)
    surgeries = read_surgeries(readings, rules, kb.vocabulary, today)
    unresolved += surgeries.unresolved
    if surgeries.records or surgeries.none_stated:
        case["surgeries"] = [r.as_case() for r in surgeries.records]
    complaint = _complaints(readings, rules, kb.vocabulary)
    if complaint:
        case["complaint"] = complaint
    findings = _findings(readings)
    if findings:
        case["findings"] = findings
    region = _fallback_region(case, kb.vocabulary)
    imaging, unplaced = read_imaging(readings, rules, today, region)
    unresolved += unplaced
    if imaging:
        case["imaging"] = [r.as_case() for r in imaging]
    for reading in readings:
        evidence += [r.evidence for r in reading.reads if r.mention.kind not in _QUIET]
    evidence.sort(key=lambda e: (e.text_index, e.start, e.end))
    return Extraction(
        case=case,
        evidence=evidence,
        unresolved=unresolved,
        sources=sources,
        today=today,
        rules_version=rules.version,
        knowledge_version=kb.version,
    )


# Words that only qualify others (contrast, region): they show in the study's evidence.
_QUIET = ("contrast", "region")


def _check(texts: Sequence[str], names: Sequence[str] | None) -> None:
    problems = []
    if not texts:
        problems.append(FieldProblem("texts", "no text given.", "give at least one text."))
    if len(texts) > MAX_TEXTS:
        problems.append(
            FieldProblem("texts", f"{len(texts)} texts.", f"give at most {MAX_TEXTS} at once.")
        )
    for i, text in enumerate(texts):
        if len(text) > MAX_TEXT_CHARS:
            problems.append(
                FieldProblem(
                    f"texts[{i}]",
                    f"is {len(text):,} characters long.",
                    f"split it into texts of at most {MAX_TEXT_CHARS:,} characters.",
                )
            )
    if names is not None and len(names) != len(texts):
        problems.append(FieldProblem("names", "not one name per text.", "give one per text."))
    if problems:
        raise CaseError("The texts cannot be read.", problems)


def _demographics(sources: Sequence[SourceText], case: dict[str, Any]) -> list[Evidence]:
    out = []
    for source in sources:
        for found in find_age_sex(source.text):
            if found.field in case:
                continue
            case[found.field] = found.value
            line_start = source.text.rfind("\n", 0, found.start) + 1
            line_end = source.text.find("\n", found.end)
            out.append(
                Evidence(
                    source=source.name,
                    text_index=source.index,
                    kind=found.field,
                    term=found.field,
                    words=found.words,
                    start=found.start,
                    end=found.end,
                    sentence=source.text[line_start : line_end if line_end >= 0 else None].strip(),
                    section=None,
                    assertion="present",
                    value=found.value if isinstance(found.value, float | int) else None,
                    entered=True,
                    field=found.field,
                    note=f"{found.field}: {found.value}",
                )
            )
    return out


def _complaints(readings: Sequence[TextReading], rules: NlpRules, vocab: Vocabulary) -> list[str]:
    """Complaints named, and those the present findings make (arm tingling: radiculopathy)."""
    found: set[str] = set()
    for reading in readings:
        for read in reading.of_kind("complaint"):
            if read.evidence.value is True and read.assertion == "present":
                found.add(read.mention.term)
                _enter(read.evidence, "complaint", "a complaint now")
            elif read.evidence.value is not None:
                read.evidence.value = None
                read.evidence.note = "a complaint is only taken when present now"
    made_by = rules.targets["complaint"].from_findings
    for reading in readings:
        for read in reading.of_kind("finding"):
            if read.evidence.value is not True or read.assertion != "present":
                continue
            for complaint, findings in made_by.items():
                if read.mention.term in findings:
                    found.add(complaint)
    return [c for c in vocab.ids("complaint") if c in found]


def _findings(readings: Sequence[TextReading]) -> dict[str, bool | float]:
    by_term: dict[str, list[Read]] = {}
    for reading in readings:
        for read in reading.of_kind("finding", "lab"):
            if read.evidence.value is not None:
                by_term.setdefault(read.mention.term, []).append(read)
    findings: dict[str, bool | float] = {}
    for term, reads in by_term.items():
        values = [r.evidence.value for r in reads]
        numbers = [v for v in values if isinstance(v, float) and not isinstance(v, bool)]
        if numbers:  # motor_grade: the weakest muscle wins
            final: bool | float = min(numbers)
        else:
            final = True if True in values else False
        findings[term] = final
        for read in reads:
            if read.evidence.value == final:
                _enter(read.evidence, f"findings.{term}", read.evidence.note)
            elif isinstance(final, float):
                read.evidence.note = f"a weaker grade ({final:g}) is stated elsewhere"
            else:
                read.evidence.note = "another mention says present: that one is entered"
    return dict(sorted(findings.items()))


def _enter(evidence: Evidence, where: str, note: str) -> None:
    evidence.entered = True
    evidence.field = where
    evidence.note = note


def _fallback_region(case: dict[str, Any], vocab: Vocabulary) -> str | None:
    """For a study that names no region: the operated region, else the complaint's."""
    for surgery in case.get("surgeries", []):
        return str(vocab.attr("procedure", surgery["procedure"], "region"))
    for complaint in case.get("complaint", []):
        return str(vocab.attr("complaint", complaint, "region"))
    return None
