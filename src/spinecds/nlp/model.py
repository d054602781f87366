"""What reading a text produces: evidence for every mention, and the case fragment.

Every mention keeps its evidence - the exact words and their character span, the sentence,
the section and the assertion - whether or not it entered the case, so a clinician can see
both what was taken and what was deliberately left out ("possible pseudarthrosis" is not a
pseudarthrosis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = ["ASSERTIONS", "Assertion", "Evidence", "Extraction", "SourceText", "Unresolved"]

Assertion = Literal["present", "negated", "possible", "historical", "hypothetical", "someone_else"]
ASSERTIONS: tuple[Assertion, ...] = (
    "present",
    "negated",
    "possible",
    "historical",
    "hypothetical",
    "someone_else",
)
Value = bool | float | None


@dataclass(frozen=True, slots=True)
class SourceText:
    index: int
    name: str  # the file name, or "text 1" for a pasted text
    text: str


@dataclass(slots=True)
class Evidence:
    """One mention: where it is, what it asserts, and what became of it."""

    source: str
    text_index: int
    kind: str  # finding, imaging_finding, complaint, procedure, study, age, sex
    term: str  # vocabulary id (or a description for what has none)
    words: str
    start: int
    end: int
    sentence: str
    section: str | None
    assertion: Assertion
    modifiers: tuple[str, ...] = ()
    value: Value = None  # what this mention says for the case; None: nothing
    entered: bool = False
    field: str | None = None  # where it went in the case ("findings.fever")
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "text_index": self.text_index,
            "kind": self.kind,
            "term": self.term,
            "words": self.words,
            "span": [self.start, self.end],
            "sentence": self.sentence,
            "section": self.section,
            "assertion": self.assertion,
            "modifiers": list(self.modifiers),
            "value": self.value,
            "entered": self.entered,
            "field": self.field,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Unresolved:
    """Something the text says that could not enter the case, with what would settle it."""

    source: str
    words: str
    problem: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "words": self.words,
            "problem": self.problem,
            "fix": self.fix,
        }


@dataclass
class Extraction:
    case: dict[str, Any]  # a fragment in the case format: only what the texts state
    evidence: list[Evidence]
    unresolved: list[Unresolved]
    sources: list[SourceText]
    today: date
    rules_version: str
    knowledge_version: str
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules_version,
            "knowledge_version": self.knowledge_version,
            "today": self.today.isoformat(),
            "texts": [
                {"index": s.index, "name": s.name, "characters": len(s.text)} for s in self.sources
            ],
            "case": self.case,
            "evidence": [e.as_dict() for e in self.evidence],
            "unresolved": [u.as_dict() for u in self.unresolved],
        }

    def entered(self) -> list[Evidence]:
        return [e for e in self.evidence if e.entered]
