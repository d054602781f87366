"""The user-facing error tree.

Every error a person can cause (a bad case file, a broken knowledge base, a misspelt
term) is a :class:`SpinecdsError` carrying *where* (the field path), *what* went wrong
and *how to fix it*. The CLI prints these at one boundary with a stable exit code; the
web service maps them to 4xx. A traceback is never the answer to bad input.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "CaseError",
    "FieldProblem",
    "KnowledgeBaseError",
    "SpinecdsError",
    "nearest",
]


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field: ``findings.fevr: unknown finding (did you mean fever?)``."""

    field: str
    problem: str
    fix: str = ""
    suggestions: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.field}: {self.problem}" if self.field else self.problem
        if self.suggestions:
            text += f" Did you mean: {', '.join(self.suggestions)}?"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "problem": self.problem,
            "fix": self.fix,
            "suggestions": list(self.suggestions),
        }


@dataclass
class SpinecdsError(Exception):
    """Base of every error meant for a person rather than a developer."""

    message: str
    problems: list[FieldProblem] = field(default_factory=list)
    exit_code: int = 2

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"error": self.message, "problems": [p.as_dict() for p in self.problems]}


@dataclass
class CaseError(SpinecdsError):
    """The case (file, JSON body, FHIR-derived case) does not fit the case format."""

    exit_code: int = 2


@dataclass
class KnowledgeBaseError(SpinecdsError):
    """The knowledge base failed its schema or consistency checks."""

    exit_code: int = 3


def nearest(word: str, choices: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """The closest valid terms to a misspelt one, best first (may be empty)."""
    pool = list(choices)
    found = difflib.get_close_matches(word, pool, n=n, cutoff=0.6)
    if not found:
        lowered = word.lower().replace(" ", "_").replace("-", "_")
        found = [c for c in pool if lowered and (lowered in c or c in lowered)][:n]
    return tuple(found)
