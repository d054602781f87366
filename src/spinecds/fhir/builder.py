"""Collects what the resources say and writes the case dict with its provenance.

Findings are three-valued as in the case format: present, absent (only from an explicit
negative in the record) or left out. When the record says both, present wins (a red flag is
never hidden by an older negative) and the disagreement is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from spinecds.fhir.resources import Moment
from spinecds.knowledge.vocabulary import Vocabulary

__all__ = ["CaseBuilder", "ImagingRecord", "SurgeryRecord"]


@dataclass
class SurgeryRecord:
    procedure: str
    when: Moment | None
    levels: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


@dataclass
class ImagingRecord:
    study: str
    region: str
    when: Moment | None
    procedure: str | None
    sources: list[str] = field(default_factory=list)
    findings: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)
    ref: str = ""


@dataclass
class CaseBuilder:
    today: date
    patient_id: str | None = None
    age: tuple[int, str] | None = None
    sex: tuple[str, str] | None = None
    complaints: dict[str, list[str]] = field(default_factory=dict)
    onsets: list[tuple[Moment, str]] = field(default_factory=list)
    findings: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)
    surgeries: list[SurgeryRecord] = field(default_factory=list)
    imaging: list[ImagingRecord] = field(default_factory=list)
    diagnoses: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def finding(self, term: str, value: bool, source: str) -> None:
        self.findings = _merge(self.findings, term, value, source, self.notes, "findings")

    def imaging_finding(self, record: ImagingRecord, term: str, value: bool, source: str) -> None:
        record.findings = _merge(record.findings, term, value, source, self.notes, record.ref)

    def complaint(self, term: str, source: str, onset: Moment | None) -> None:
        self.complaints.setdefault(term, []).append(source)
        if onset is not None:
            self.onsets.append((onset, source))

    def diagnosis(self, term: str, source: str) -> None:
        self.diagnoses.setdefault(term, []).append(source)

    # -- output ------------------------------------------------------------------------------

    def build(
        self, vocab: Vocabulary, procedures_complete: bool
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        case: dict[str, Any] = {}
        prov: dict[str, list[str]] = {}
        if self.patient_id is not None:
            case["id"] = self.patient_id
        if self.age is not None:
            case["age"], prov["age"] = self.age[0], [self.age[1]]
        if self.sex is not None:
            case["sex"], prov["sex"] = self.sex[0], [self.sex[1]]
        self._surgeries(case, prov, procedures_complete)
        order = vocab.ids("complaint")
        complaints = sorted(self.complaints, key=order.index)
        case["complaint"] = complaints
        for i, term in enumerate(complaints):
            prov[f"complaint[{i}]"] = self.complaints[term]
        if not complaints:
            self.notes.append(
                "no complaint (neck pain, radiculopathy, ...) was found in the record"
            )
        self._symptom_weeks(case, prov)
        if self.findings:
            case["findings"] = {t: v for t, (v, _) in sorted(self.findings.items())}
            prov.update({f"findings.{t}": s for t, (_, s) in sorted(self.findings.items())})
        self._imaging(case, prov)
        return case, prov

    def _surgeries(
        self, case: dict[str, Any], prov: dict[str, list[str]], procedures_complete: bool
    ) -> None:
        if not self.surgeries and not procedures_complete:
            # The case format reads [] as "never operated": silence in the record is not that.
            self.notes.append(
                "no spine operation was found in the record; `surgeries` is left out because "
                "an empty list would claim the patient was never operated on"
            )
            return
        records = sorted(self.surgeries, key=_newest_first)
        case["surgeries"] = []
        for i, s in enumerate(records):
            item: dict[str, Any] = {"procedure": s.procedure}
            if s.levels:
                item["levels"] = s.levels
            if s.when is not None:
                item["weeks_ago"] = s.when.weeks_before(self.today)
            case["surgeries"].append(item)
            prov[f"surgeries[{i}]"] = s.sources

    def _symptom_weeks(self, case: dict[str, Any], prov: dict[str, list[str]]) -> None:
        # The episode began with the earliest onset of a current complaint.
        if not self.onsets:
            return
        first = min(self.onsets, key=lambda o: o[0].day)
        case["symptom_weeks"] = first[0].weeks_before(self.today)
        prov["symptom_weeks"] = [first[1]]

    def _imaging(self, case: dict[str, Any], prov: dict[str, list[str]]) -> None:
        if not self.imaging:
            return
        case["imaging"] = []
        for i, record in enumerate(sorted(self.imaging, key=_newest_first)):
            item: dict[str, Any] = {"study": record.study, "region": record.region}
            if record.when is not None:
                item["weeks_ago"] = record.when.weeks_before(self.today)
            item["findings"] = {t: v for t, (v, _) in sorted(record.findings.items())}
            case["imaging"].append(item)
            prov[f"imaging[{i}]"] = record.sources
            for term, (_, sources) in sorted(record.findings.items()):
                prov[f"imaging[{i}].findings.{term}"] = sources


def _newest_first(record: SurgeryRecord | ImagingRecord) -> tuple[int, int]:
    # Unknown dates last; among known ones the most recent first.
    if record.when is None:
        return (1, 0)
    return (0, -record.when.day.toordinal())


def _merge(
    current: dict[str, tuple[bool, list[str]]],
    term: str,
    value: bool,
    source: str,
    notes: list[str],
    where: str,
) -> dict[str, tuple[bool, list[str]]]:
    old = current.get(term)
    if old is None:
        current[term] = (value, [source])
    elif old[0] == value:
        old[1].append(source)
    else:
        present = [source] if value else old[1]
        absent = old[1] if value else [source]
        notes.append(
            f"{where}.{term}: {', '.join(present)} say present, {', '.join(absent)} absent; "
            "present was kept"
        )
        current[term] = (True, present)
    return current
