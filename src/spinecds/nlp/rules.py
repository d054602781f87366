"""The text-reading rules in ``kb/nlp/``: schema and strict loader (no spaCy needed).

Every file carries a version and a change history. Loading checks the shape (unknown keys are
rejected, naming the file and the field), that every term is a vocabulary id of the right kind,
and that every phrase follows the phrase language of :mod:`spinecds.nlp.phrases`. A broken
file stops the reader with :class:`KnowledgeBaseError`; ``spinecds kb check`` reports the same
problems through :func:`check_rules`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.vocabulary import Vocabulary

if TYPE_CHECKING:
    from spinecds.knowledge.loader import KnowledgeBase
from spinecds.nlp.phrases import PhraseError, check_phrase

__all__ = [
    "ContextFile",
    "LabFile",
    "ModifierRule",
    "NlpRules",
    "SectionFile",
    "SentenceFile",
    "TargetFile",
    "TermRules",
    "check_kb_rules",
    "check_rules",
    "default_rules",
    "load_rules",
    "rules_root",
]

Kind = Literal["finding", "imaging_finding", "complaint", "procedure", "study"]
Region = Literal["cervical", "thoracic", "lumbar"]
Category = Literal[
    "negated",
    "possible",
    "historical",
    "hypothetical",
    "someone_else",
    "current",
    "terminate",
    "pseudo",
]
TARGET_FILES: dict[str, Kind] = {
    "findings.yaml": "finding",
    "imaging_findings.yaml": "imaging_finding",
    "complaints.yaml": "complaint",
    "procedures.yaml": "procedure",
    "studies.yaml": "study",
}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Model = TypeVar("Model", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(_Strict):
    version: str
    date: str
    note: str


class _Versioned(_Strict):
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    changes: list[Change] = Field(min_length=1)
    description: str


class TermRules(_Strict):
    """How the text names one vocabulary term."""

    phrases: list[str] = Field(default_factory=list)  # words saying the term is there
    absent_phrases: list[str] = Field(default_factory=list)  # words saying it is not
    regex: list[str] = Field(default_factory=list)  # regular expressions over the text
    history_counts: bool = False  # a past history means present (cancer_history, diabetes)
    possible_counts: bool = False  # a suspicion is the finding (suspected_arterial_injury)
    in_report_body: bool = True  # False: the words mean something else in a report's findings
    section_phrases: dict[str, list[str]] = Field(default_factory=dict)  # only in that section
    keeps_inside: list[str] = Field(default_factory=list)  # terms kept inside this one's span
    swallows_inside: bool = False  # every other term inside its span is part of it
    value: Literal["mrc_grade"] | None = None  # the words carry a number, not true/false
    note: str | None = None


class UnspecifiedProcedure(_Strict):
    """Words for an operation whose type they do not settle (``C5-6 fusion``)."""

    phrases: list[str] = Field(min_length=1)
    by_region: dict[Region, str] = Field(default_factory=dict)
    note: str | None = None


class Contrast(_Strict):
    with_: list[str] = Field(alias="with", min_length=1)
    without: list[str] = Field(min_length=1)


class TargetFile(_Versioned):
    kind: Kind
    terms: dict[str, TermRules]
    # words that look like a term but are not it ("nerve injury" is no trauma): matched, then
    # dropped together with every mention inside them
    ignore: list[str] = Field(default_factory=list)
    # complaints.yaml: findings whose presence makes the complaint
    from_findings: dict[str, list[str]] = Field(default_factory=dict)
    # procedures.yaml
    unspecified: dict[str, UnspecifiedProcedure] = Field(default_factory=dict)
    # studies.yaml
    contrast: Contrast | None = None
    with_contrast: dict[str, str] = Field(default_factory=dict)
    regions: dict[Region, list[str]] = Field(default_factory=dict)


class ModifierRule(_Strict):
    """A ConText modifier: words that change what a nearby mention asserts."""

    category: Category
    direction: Literal["forward", "backward", "both"] | None = None
    phrases: list[str] = Field(min_length=1)
    max_scope: int | None = Field(default=None, ge=1, le=60)
    applies_to: list[Kind] | None = None
    terminated_by: list[Category] = Field(default_factory=list)
    # the most words it may reach for these kinds of mention
    reach: dict[Kind, int] = Field(default_factory=dict)
    # a two-way modifier: the most words it may reach after itself
    after_reach: int | None = Field(default=None, ge=0)
    # a two-way modifier: the most words it may reach before itself
    before_reach: int | None = Field(default=None, ge=0)
    note: str | None = None


class ContextFile(_Versioned):
    rules: list[ModifierRule]


class SectionRules(_Strict):
    titles: list[str] = Field(min_length=1)
    # every mention in the section asserts this (a family history is about someone else)
    assertion: Literal["historical", "hypothetical", "someone_else"] | None = None
    role: Literal["title", "comparison", "indication", "technique", "report", "plan"] | None = None
    note: str | None = None


class SectionFile(_Versioned):
    sections: dict[str, SectionRules]


class SentenceFile(_Versioned):
    abbreviations: list[str] = Field(min_length=1)  # a period after these ends no sentence
    continues_after: list[str] = Field(min_length=1)  # a line ending so goes on on the next


class LabRules(_Strict):
    names: list[str] = Field(min_length=1)  # how the test is written: ESR, sed rate
    units: list[str] = Field(default_factory=list)


class LabPanel(_Strict):
    """Words naming several tests at once (``inflammatory markers``: ESR and CRP)."""

    phrases: list[str] = Field(min_length=1)
    labs: list[str] = Field(min_length=1)


class LabWords(_Strict):
    high: list[str] = Field(min_length=1)
    normal: list[str] = Field(min_length=1)
    low: list[str] = Field(default_factory=list)


class LabFile(_Versioned):
    labs: dict[str, LabRules]
    panels: list[LabPanel] = Field(default_factory=list)
    after_value: LabWords  # flags printed after a number: 48 H, 48 (high)
    in_words: LabWords  # results told in words: elevated ESR, CRP normal


@dataclass(frozen=True)
class NlpRules:
    """Every rule file, validated; ``version`` changes whenever any file changes."""

    targets: dict[Kind, TargetFile]
    context: ContextFile
    sections: SectionFile
    sentences: SentenceFile
    labs: LabFile
    version: str

    def terms(self, kind: Kind) -> Mapping[str, TermRules]:
        return self.targets[kind].terms


def rules_root() -> Path:
    return Path(str(resources.files("spinecds") / "kb" / "nlp"))


@cache
def default_rules() -> NlpRules:
    """The shipped rules, checked against the shipped vocabulary (loaded once per process)."""
    from spinecds.knowledge.loader import default_kb

    return load_rules(rules_root(), default_kb().vocabulary)


def load_rules(root: Path, vocab: Vocabulary) -> NlpRules:
    """Load and check every rule file under ``root``; raise KnowledgeBaseError on any problem."""
    rules, problems = _read(root, vocab)
    if problems or rules is None:
        raise KnowledgeBaseError("The text-reading rules (kb/nlp) are invalid.", problems)
    return rules


def check_kb_rules(kb: KnowledgeBase) -> list[FieldProblem]:
    """For ``spinecds kb check``: every problem of the text rules beside ``kb`` (kb/nlp)."""
    return _read(kb.root / "nlp", kb.vocabulary)[1]


def check_rules(root: Path, vocab: Vocabulary) -> tuple[NlpRules | None, list[FieldProblem]]:
    """For ``spinecds kb check``: the rules (None if unreadable) and every problem found."""
    return _read(root, vocab)


def _read(root: Path, vocab: Vocabulary) -> tuple[NlpRules | None, list[FieldProblem]]:
    problems: list[FieldProblem] = []
    digest = hashlib.sha256()
    loaded: dict[str, BaseModel] = {}
    models: dict[str, type[BaseModel]] = {name: TargetFile for name in TARGET_FILES}
    models.update(
        {
            "context.yaml": ContextFile,
            "sections.yaml": SectionFile,
            "sentences.yaml": SentenceFile,
            "labs.yaml": LabFile,
        }
    )
    for name, model in models.items():
        found = _file(root, name, model, digest, problems)
        if found is not None:
            loaded[name] = found
    if len(loaded) != len(models):
        return None, problems
    targets = {kind: _as(TargetFile, loaded[name]) for name, kind in TARGET_FILES.items()}
    rules = NlpRules(
        targets=targets,
        context=_as(ContextFile, loaded["context.yaml"]),
        sections=_as(SectionFile, loaded["sections.yaml"]),
        sentences=_as(SentenceFile, loaded["sentences.yaml"]),
        labs=_as(LabFile, loaded["labs.yaml"]),
        version=f"{_as(TargetFile, loaded['findings.yaml']).version}+{digest.hexdigest()[:12]}",
    )
    problems.extend(_semantic_problems(rules, vocab))
    return rules, problems


def _as(model: type[Model], value: BaseModel) -> Model:
    assert isinstance(value, model)  # noqa: S101 - narrows the type for mypy
    return value


def _file(
    root: Path,
    name: str,
    model: type[BaseModel],
    digest: Any,
    problems: list[FieldProblem],
) -> BaseModel | None:
    where = f"kb/nlp/{name}"
    try:
        data = (root / name).read_bytes()
    except OSError as exc:
        problems.append(FieldProblem(where, f"cannot be read ({exc.strerror}).", "reinstall"))
        return None
    digest.update(name.encode() + b"\0" + data + b"\0")
    try:
        parsed = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        problems.append(FieldProblem(where, f"is not valid YAML: {exc}", "fix the syntax"))
        return None
    try:
        return model.model_validate(parsed)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            fix = ""
            if err["type"] == "extra_forbidden":
                fix = "remove it or correct its name: the keys are listed in kb/nlp/README.md"
            problems.append(FieldProblem(f"{where}: {field}", err["msg"] + ".", fix))
        return None


def _semantic_problems(rules: NlpRules, vocab: Vocabulary) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def term(where: str, kind: str, name: str) -> None:
        if not vocab.has(kind, name):
            problems.append(
                FieldProblem(
                    where,
                    f"{name!r} is not a {kind} in the vocabulary.",
                    f"use a term from `spinecds vocab {kind}`",
                )
            )

    for file_name, kind in TARGET_FILES.items():
        target = rules.targets[kind]
        where = f"kb/nlp/{file_name}"
        if target.kind != kind:
            problems.append(FieldProblem(f"{where}: kind", f"is {target.kind!r}, not {kind!r}."))
        for name, term_rules in target.terms.items():
            term(f"{where}: terms.{name}", kind, name)
            for section in term_rules.section_phrases:
                if section not in rules.sections.sections:
                    problems.append(
                        FieldProblem(
                            f"{where}: terms.{name}.section_phrases",
                            f"{section!r} is not a section in sections.yaml.",
                        )
                    )
            for inner in term_rules.keeps_inside:
                term(f"{where}: terms.{name}.keeps_inside", kind, inner)
            if term_rules.value == "mrc_grade" and vocab.attr(kind, name, "type") != "number":
                problems.append(FieldProblem(f"{where}: terms.{name}.value", "is not a number."))
        for complaint, findings in target.from_findings.items():
            term(f"{where}: from_findings", "complaint", complaint)
            for finding in findings:
                term(f"{where}: from_findings.{complaint}", "finding", finding)
        for label, generic in target.unspecified.items():
            for region, procedure in generic.by_region.items():
                term(f"{where}: unspecified.{label}.by_region.{region}", "procedure", procedure)
        for base, contrasted in target.with_contrast.items():
            term(f"{where}: with_contrast", "study", base)
            term(f"{where}: with_contrast.{base}", "study", contrasted)
    for name in rules.labs.labs:
        term(f"kb/nlp/labs.yaml: labs.{name}", "finding", name)
    for i, panel in enumerate(rules.labs.panels):
        for name in panel.labs:
            if name not in rules.labs.labs:
                problems.append(
                    FieldProblem(f"kb/nlp/labs.yaml: panels[{i}].labs", f"{name!r} is not a lab.")
                )
    for where, phrase in _phrases(rules):
        try:
            check_phrase(phrase)
        except PhraseError as exc:
            problems.append(FieldProblem(where, f"phrase {phrase!r} {exc}", "see kb/nlp/README.md"))
    for where, pattern in _regexes(rules):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(FieldProblem(where, f"regex {pattern!r}: {exc}.", "fix the pattern"))
    problems.extend(_duplicate_modifiers(rules))
    for i, rule in enumerate(rules.context.rules):
        needs_direction = rule.category not in ("terminate", "pseudo")
        if needs_direction != (rule.direction is not None):
            problems.append(
                FieldProblem(
                    f"kb/nlp/context.yaml: rules[{i}].direction",
                    "is required for this category."
                    if needs_direction
                    else "must be left out for terminate and pseudo rules.",
                )
            )
    return problems


def _duplicate_modifiers(rules: NlpRules) -> list[FieldProblem]:
    """The same words in two modifier rules: medspaCy would keep only one of the two."""
    owner: dict[str, int] = {}
    problems = []
    for i, rule in enumerate(rules.context.rules):
        for phrase in rule.phrases:
            for spelled in _spellings(phrase):
                first = owner.setdefault(spelled, i)
                if first != i:
                    problems.append(
                        FieldProblem(
                            f"kb/nlp/context.yaml: rules[{i}]",
                            f"{spelled!r} (from {phrase!r}) is also in rules[{first}].",
                            "keep the words in one rule: medspaCy keeps one modifier per span",
                        )
                    )
    return problems


def _spellings(phrase: str, limit: int = 400) -> set[str]:
    """The literal word sequences a phrase without gaps or prefixes can match."""
    words = [w for w in phrase.lower().split() if not w.startswith("...")]  # gaps may be empty
    if any(w.endswith("*") or w == "#" for w in words):
        return set()
    found = [""]
    for word in words:
        optional = word.endswith("?") and len(word) > 1 and any(c.isalnum() for c in word)
        choices = (word[:-1] if optional else word).lstrip("=").split("|")
        found = [f"{f} {c}".strip() for f in found for c in choices] + (found if optional else [])
        if len(found) > limit:
            return set()
    return set(found)


def _phrases(rules: NlpRules) -> Iterator[tuple[str, str]]:
    for file_name, kind in TARGET_FILES.items():
        target = rules.targets[kind]
        for name, term_rules in target.terms.items():
            in_sections = [p for ps in term_rules.section_phrases.values() for p in ps]
            for phrase in [*term_rules.phrases, *term_rules.absent_phrases, *in_sections]:
                yield f"kb/nlp/{file_name}: terms.{name}", phrase
        for phrase in target.ignore:
            yield f"kb/nlp/{file_name}: ignore", phrase
        for label, generic in target.unspecified.items():
            for phrase in generic.phrases:
                yield f"kb/nlp/{file_name}: unspecified.{label}", phrase
        if target.contrast is not None:
            for phrase in [*target.contrast.with_, *target.contrast.without]:
                yield f"kb/nlp/{file_name}: contrast", phrase
        for region, phrases in target.regions.items():
            for phrase in phrases:
                yield f"kb/nlp/{file_name}: regions.{region}", phrase
    for i, rule in enumerate(rules.context.rules):
        for phrase in rule.phrases:
            yield f"kb/nlp/context.yaml: rules[{i}]", phrase
    for name, section in rules.sections.sections.items():
        for phrase in section.titles:
            yield f"kb/nlp/sections.yaml: sections.{name}.titles", phrase
    for i, panel in enumerate(rules.labs.panels):
        for phrase in panel.phrases:
            yield f"kb/nlp/labs.yaml: panels[{i}].phrases", phrase
    words = rules.labs.in_words
    for phrase in [*words.high, *words.normal, *words.low]:
        yield "kb/nlp/labs.yaml: in_words", phrase


def _regexes(rules: NlpRules) -> Iterator[tuple[str, str]]:
    for file_name, kind in TARGET_FILES.items():
        for name, term_rules in rules.targets[kind].terms.items():
            for pattern in term_rules.regex:
                yield f"kb/nlp/{file_name}: terms.{name}.regex", pattern
