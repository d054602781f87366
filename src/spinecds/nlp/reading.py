"""One text, read: every mention with its assertion, its evidence and its section's role.

Findings, laboratory values and complaints get their value here. Operations, studies and
imaging findings are settled later (surgery.py, imaging.py), because they depend on words
elsewhere in the sentence or the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from spinecds.nlp.assertion import assertion_of, note_for, value_of
from spinecds.nlp.medspacy_adapter import ParsedText, RawMention
from spinecds.nlp.model import Assertion, Evidence, SourceText
from spinecds.nlp.numbers import mrc_grade, read_lab
from spinecds.nlp.rules import NlpRules, SectionRules, TermRules

__all__ = ["Read", "TextReading", "read_text"]

_REPORT_ROLES = {"report", "technique", "comparison"}


@dataclass(slots=True)
class Read:
    mention: RawMention
    assertion: Assertion
    evidence: Evidence
    role: str | None  # the role of the section the mention is in


@dataclass(slots=True)
class TextReading:
    source: SourceText
    parsed: ParsedText
    reads: list[Read]
    is_report: bool

    def of_kind(self, *kinds: str) -> list[Read]:
        return [r for r in self.reads if r.mention.kind in kinds]

    def sentence_of(self, read: Read) -> int:
        return read.mention.sentence


def read_text(source: SourceText, parsed: ParsedText, rules: NlpRules) -> TextReading:
    sections = rules.sections.sections
    reads: list[Read] = []
    for mention in parsed.mentions:
        if mention.only_in_section and mention.section != mention.only_in_section:
            continue
        section = sections.get(mention.section) if mention.section else None
        assertion = assertion_of(mention, section)
        evidence = Evidence(
            source=source.name,
            text_index=source.index,
            kind="finding" if mention.kind == "lab" else mention.kind,
            term=mention.term,
            words=mention.text,
            start=mention.start,
            end=mention.end,
            sentence=parsed.sentence_text(mention.sentence).strip(),
            section=mention.section,
            assertion=assertion,
            modifiers=tuple(m.text for m in mention.modifiers),
        )
        reads.append(Read(mention, assertion, evidence, section.role if section else None))
    reading = TextReading(source, parsed, reads, _is_report(parsed, reads, sections))
    _drop_report_words(reading, rules)
    for read in reading.of_kind("finding", "lab", "complaint", "imaging_finding"):
        _settle_value(read, reading, rules)
    _settle_containers(reading, rules)
    return reading


def _is_report(parsed: ParsedText, reads: list[Read], sections: dict[str, SectionRules]) -> bool:
    """A radiology report: it names a study up front and has report sections."""
    roles = {sections[s.name].role for s in parsed.sections if s.name in sections}
    if not roles & _REPORT_ROLES:
        return False
    head = parsed.text.lstrip()
    first_line_end = len(parsed.text) - len(head) + (head.find("\n") if "\n" in head else len(head))
    return any(
        read.mention.kind == "study"
        and (read.role == "title" or read.mention.start < first_line_end)
        for read in reads
    )


def _drop_report_words(reading: TextReading, rules: NlpRules) -> None:
    """In a report's findings, "malignancy" or "myelopathy" describe the images, not history."""
    if not reading.is_report:
        return
    kept = []
    for read in reading.reads:
        term = _term_rules(rules, read.mention)
        if read.role == "report" and term is not None and not term.in_report_body:
            continue
        kept.append(read)
    reading.reads = kept


def _term_rules(rules: NlpRules, mention: RawMention) -> TermRules | None:
    kind = "finding" if mention.kind == "lab" else mention.kind
    if kind not in rules.targets:
        return None
    return rules.terms(kind).get(mention.term)


def _settle_value(read: Read, reading: TextReading, rules: NlpRules) -> None:
    evidence, mention = read.evidence, read.mention
    term = _term_rules(rules, mention)
    value: bool | float | None = value_of(read.assertion, term)
    evidence.note = note_for(read.assertion, value)
    if mention.kind == "lab":
        lab = read_lab(reading.parsed.text, mention.start, mention.end, rules.labs.after_value)
        if lab is None:
            return
        evidence.end = max(evidence.end, lab.end)
        evidence.words = reading.parsed.text[evidence.start : evidence.end]
        if value is True:
            value = lab.elevated
        evidence.note = lab.how if value is not None or lab.elevated is None else evidence.note
    elif term is not None and term.value == "mrc_grade":
        grade = mrc_grade(mention.text)
        value = float(grade) if grade is not None and read.assertion == "present" else None
        evidence.note = "MRC grade" if value is not None else evidence.note
    evidence.value = value


def _settle_containers(reading: TextReading, rules: NlpRules) -> None:
    """A term kept inside another stands on its own only when nothing modifies the outer one.

    "severe central canal stenosis" is a central stenosis too, and a "ground-level fall" is a
    trauma though not a dangerous mechanism; but "no severe stenosis" says nothing about
    mild stenosis, so there the inner term is left out.
    """
    for outer in reading.of_kind("finding", "imaging_finding"):
        term = _term_rules(rules, outer.mention)
        if term is None or not term.keeps_inside:
            continue
        for inner in reading.of_kind("finding", "imaging_finding"):
            m, o = inner.mention, outer.mention
            if inner is outer or m.term not in term.keeps_inside:
                continue
            inside = o.start <= m.start and m.end <= o.end and (o.start, o.end) != (m.start, m.end)
            if inside and o.modifiers:
                inner.evidence.value = None
                inner.evidence.note = f"part of {o.text!r}, which is not stated as present"
