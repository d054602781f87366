"""Studies done and what they showed.

A study is done when it is named without being planned, ordered, possible or denied, and not
only as an earlier study for comparison. Contrast and region come from the words beside it
("MRI C-spine w/wo contrast") or, in a report, from its title and technique sections.
An imaging finding belongs to the study its report is about; in a clinic note, to the study
named in its sentence, or the one named just before. A finding with no study named for it
is reported and left out: the case format needs the study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from spinecds.nlp.levels import find_levels, region_of
from spinecds.nlp.model import Evidence, Unresolved
from spinecds.nlp.reading import Read, TextReading
from spinecds.nlp.rules import NlpRules
from spinecds.nlp.timing import find_times

__all__ = ["ImagingRecord", "read_imaging"]

_DONE = ("present", "historical")
_NOT_THIS_STUDY = {"comparison": "earlier study (comparison)", "indication": "reason for the study"}


@dataclass
class ImagingRecord:
    study: str
    region: str | None
    weeks_ago: float | None
    findings: dict[str, bool] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)  # the study's own mentions
    finding_reads: list[Read] = field(default_factory=list)

    def as_case(self) -> dict[str, Any]:
        out: dict[str, Any] = {"study": self.study, "region": self.region}
        if self.weeks_ago is not None:
            out["weeks_ago"] = self.weeks_ago
        out["findings"] = dict(self.findings)
        return out


@dataclass
class _Study:
    read: Read
    study: str
    region: str | None
    weeks_ago: float | None


def read_imaging(
    readings: Sequence[TextReading],
    rules: NlpRules,
    today: date,
    fallback_region: str | None,
) -> tuple[list[ImagingRecord], list[Unresolved]]:
    records: list[ImagingRecord] = []
    unresolved: list[Unresolved] = []
    for reading in readings:
        studies = _studies(reading, rules, today)
        report_study = _report_study(reading, studies)
        for read in reading.of_kind("imaging_finding"):
            if read.evidence.value is None:
                continue
            study = _study_for(read, reading, studies, report_study)
            if study is None:
                unresolved.append(_unplaced(read))
                continue
            record = _record(records, study, fallback_region)
            if record is None:
                unresolved.append(_no_region(read))
                continue
            _add_finding(record, read)
        for study in studies:  # a study done with nothing reported is still done
            if _record(records, study, fallback_region) is None:
                unresolved.append(_no_region(study.read))
    records.sort(key=lambda r: (r.weeks_ago is None, r.weeks_ago or 0.0))
    _mark(records)
    return records, unresolved


def _studies(reading: TextReading, rules: NlpRules, today: date) -> list[_Study]:
    target = rules.targets["study"]
    out: list[_Study] = []
    flex = {
        r.mention.sentence
        for r in reading.of_kind("study")
        if r.mention.term == "radiography_flexion_extension"
    }
    for read in reading.of_kind("study"):
        evidence = read.evidence
        if read.assertion not in _DONE:
            evidence.value = False if read.assertion == "negated" else None
            evidence.note = "not done" if read.assertion == "negated" else "not a study done"
            continue
        if read.role in _NOT_THIS_STUDY:
            evidence.note = f"named as the {_NOT_THIS_STUDY[read.role]}: not entered as done"
            continue
        if reading.is_report and read.role == "technique":
            evidence.note = "the technique of the report's study"
            continue  # "lumbar puncture with contrast, followed by CT" describes the myelogram
        study = read.mention.term
        if study == "radiography" and read.mention.sentence in flex:
            continue  # "AP, lateral, flexion and extension views": one dynamic series
        if _contrast(read, reading) == "with":
            study = target.with_contrast.get(study, study)
        out.append(_Study(read, study, _region(read, reading), _weeks(read, reading, today)))
    return out


def _same_sentence(read: Read, reading: TextReading, kind: str) -> list[Read]:
    return [r for r in reading.of_kind(kind) if r.mention.sentence == read.mention.sentence]


def _nearest(read: Read, candidates: list[Read]) -> Read | None:
    if not candidates:
        return None
    m = read.mention
    return min(candidates, key=lambda r: max(r.mention.start - m.end, m.start - r.mention.end, 0))


def _front_matter(read: Read, reading: TextReading, kind: str) -> list[Read]:
    """In a report, words of the title and technique sections speak for the report's study."""
    if not reading.is_report:
        return []
    return [r for r in reading.of_kind(kind) if r.role in ("title", "technique")]


def _contrast(read: Read, reading: TextReading) -> str | None:
    found = _nearest(read, _same_sentence(read, reading, "contrast"))
    if found is None:
        front = _front_matter(read, reading, "contrast")
        found = next((r for r in front if r.mention.term == "with"), front[0] if front else None)
    if found is None:
        return None
    if found.assertion == "negated":
        return "without"
    return found.mention.term


def _region(read: Read, reading: TextReading) -> str | None:
    found = _nearest(read, _same_sentence(read, reading, "region"))
    if found is None:
        front = _front_matter(read, reading, "region")
        found = front[0] if front else None
    if found is not None:
        return found.mention.term
    levels = find_levels(reading.parsed.text)
    segments = [s for lv in levels for s in lv.segments]
    return region_of(segments[0]) if segments else None


def _weeks(read: Read, reading: TextReading, today: date) -> float | None:
    start, end = reading.parsed.sentences[read.mention.sentence]
    times = find_times(reading.parsed.text[start:end], today)
    if not times:
        return None
    at = read.mention.start - start
    nearest = min(times, key=lambda t: abs(t.start - at))
    scale = {"weeks_ago": 1.0, "months_ago": 52.0 / 12.0, "years_ago": 52.0}[nearest.unit]
    return round(nearest.amount * scale, 1)


def _report_study(reading: TextReading, studies: list[_Study]) -> _Study | None:
    if not studies:
        return None
    if reading.is_report:
        titled = [s for s in studies if s.read.role == "title"]
        return titled[0] if titled else studies[0]
    return studies[0] if len({s.study for s in studies}) == 1 else None


def _study_for(
    read: Read, reading: TextReading, studies: list[_Study], report_study: _Study | None
) -> _Study | None:
    if read.role in _NOT_THIS_STUDY:
        read.evidence.value = None
        read.evidence.note = f"in the {_NOT_THIS_STUDY[read.role]}: not a result of a study done"
        return None
    if reading.is_report and report_study is not None and read.role not in ("plan",):
        same = [s for s in studies if s.read.mention.sentence == read.mention.sentence]
        return same[0] if same and read.role != "report" else report_study
    sentence = read.mention.sentence
    same = [s for s in studies if s.read.mention.sentence == sentence]
    if same:
        before = [s for s in same if s.read.mention.start <= read.mention.start]
        return before[-1] if before else same[0]
    earlier = [
        s
        for s in studies
        if sentence - 3 <= s.read.mention.sentence < sentence
        and s.read.mention.section == read.mention.section
    ]
    if earlier:
        return earlier[-1]
    return report_study


def _record(
    records: list[ImagingRecord], study: _Study, fallback_region: str | None
) -> ImagingRecord | None:
    region = study.region or fallback_region
    if region is None:
        return None
    for record in records:
        if record.study == study.study and record.region == region:
            if study.read not in record.reads:
                record.reads.append(study.read)
            record.weeks_ago = record.weeks_ago if record.weeks_ago is not None else study.weeks_ago
            return record
    record = ImagingRecord(study.study, region, study.weeks_ago, reads=[study.read])
    records.append(record)
    return record


def _add_finding(record: ImagingRecord, read: Read) -> None:
    term, value = read.mention.term, read.evidence.value
    assert isinstance(value, bool)  # noqa: S101 - imaging findings are true or false
    record.findings[term] = record.findings.get(term, False) or value
    record.finding_reads.append(read)


def _unplaced(read: Read) -> Unresolved:
    evidence = read.evidence
    if evidence.value is not None:
        evidence.note = "no imaging study named for it: not entered"
    return Unresolved(
        evidence.source,
        evidence.sentence,
        f"{evidence.term} is stated, but not which study showed it.",
        "add the study to the case (imaging[].study and region) with this finding.",
    )


def _no_region(read: Read) -> Unresolved:
    read.evidence.note = "spinal region of the study not stated: not entered"
    return Unresolved(
        read.evidence.source,
        read.evidence.sentence,
        f"the {read.mention.term} does not say which part of the spine it shows.",
        "add the study to the case with its region (cervical, thoracic or lumbar).",
    )


def _mark(records: list[ImagingRecord]) -> None:
    for i, record in enumerate(records):
        for read in record.reads:
            _enter(read.evidence, f"imaging[{i}]", True, "a study done")
        for read in record.finding_reads:
            term = read.mention.term
            final = record.findings[term]
            ok = read.evidence.value == final
            _enter(
                read.evidence,
                f"imaging[{i}].findings.{term}",
                ok,
                read.evidence.note if ok else "another mention says present: that one is entered",
            )


def _enter(evidence: Evidence, where: str, entered: bool, note: str) -> None:
    evidence.entered = entered
    evidence.field = where
    evidence.note = note
    if evidence.kind == "study":
        evidence.value = True
