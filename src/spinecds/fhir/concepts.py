"""Reading one CodeableConcept into spinecds terms: codes first, text only when no code matches.

A code whose map entry is ambiguous (several terms) may be narrowed by what the resource
says about region and approach (bodySite, code text); an entry with a caution never asserts
its term alone. Text matching compares the whole normalised text with known phrases, never a
part of it, so "no fever" can never read as "fever".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spinecds.fhir.codemap import CodeEntry, CodeMap, code_map, norm_system
from spinecds.fhir.resources import codings, concept_text
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.vocabulary import Vocabulary

__all__ = ["Lexicon", "Reading", "lexicon", "regions_in", "tokens"]

_TAG = re.compile(r"\s*\([^()]*\)\s*$")  # "Fever (finding)" -> "Fever"
_WORD = re.compile(r"[a-z0-9]+")
_LEVEL = re.compile(r"\b([ctls])\s?(\d{1,2})\s?[-/\u2013]\s?([ctls])?\s?(\d{1,2})\b", re.IGNORECASE)
_REGION_OF_LETTER = {"c": "cervical", "t": "thoracic", "l": "lumbar", "s": "lumbar"}
# Kinds whose vocabulary labels are read as text, in this order of precedence.
_LABEL_KINDS = ("complaint", "finding", "imaging_finding")


def tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Lexicon:
    """The code map plus everything needed to read text, built once per knowledge base."""

    codes: CodeMap
    vocab: Vocabulary
    procedures: Mapping[str, str]  # lower-cased ACR procedure name -> exact spelling
    phrases: Mapping[str, str]  # normalised phrase -> term
    ignore_words: frozenset[str]
    region_words: Mapping[str, tuple[frozenset[str], ...]]
    approach_words: Mapping[str, tuple[frozenset[str], ...]]

    def norm(self, text: str) -> str:
        text = _TAG.sub("", text.lower())
        return " ".join(w for w in _WORD.findall(text) if w not in self.ignore_words)

    def text_term(self, text: str) -> str | None:
        # "Fever?" is a question, not a finding.
        return self.phrases.get(self.norm(text)) if text and "?" not in text else None

    def rule(self, key: str) -> Any:
        return self.codes.rules.get(key)

    def rank(self, coding: Mapping[str, Any]) -> int:
        system = coding.get("system")
        return self.codes.system_rank.get(norm_system(system), 99) if system else 99


_LEXICONS: dict[str, Lexicon] = {}


def lexicon(kb: KnowledgeBase) -> Lexicon:
    """The lexicon of this knowledge base, built once per process (a dict lookup after)."""
    found = _LEXICONS.get(str(kb.root))
    if found is None:
        found = _LEXICONS[str(kb.root)] = _build(kb)
    return found


def _build(kb: KnowledgeBase) -> Lexicon:
    cmap = code_map(kb)
    rules = cmap.rules
    ignore = frozenset(str(w).lower() for w in rules.get("text_ignore_words") or [])
    norm = Lexicon(cmap, kb.vocabulary, {}, {}, ignore, {}, {}).norm
    phrases: dict[str, str] = {}
    for term, items in (rules.get("text_phrases") or {}).items():
        for phrase in items:
            phrases.setdefault(norm(str(phrase)), str(term))
    for kind in _LABEL_KINDS:
        for term in kb.vocabulary.ids(kind):
            phrases.setdefault(norm(kb.vocabulary.label(kind, term)), f"{kind}:{term}")
    return Lexicon(
        codes=cmap,
        vocab=kb.vocabulary,
        procedures=kb.procedures,
        phrases=phrases,
        ignore_words=ignore,
        region_words=_word_sets(rules.get("region_words")),
        approach_words=_word_sets(rules.get("approach_words")),
    )


def _word_sets(raw: Any) -> dict[str, tuple[frozenset[str], ...]]:
    return {str(k): tuple(tokens(str(p)) for p in v) for k, v in (raw or {}).items()}


def _named(words: Mapping[str, tuple[frozenset[str], ...]], found: frozenset[str]) -> set[str]:
    return {name for name, sets in words.items() if any(s <= found for s in sets)}


def regions_in(lex: Lexicon, texts: Iterable[str]) -> set[str]:
    """Spinal regions named in these texts (words, or levels such as C5-C6)."""
    joined = " ".join(texts)
    found = _named(lex.region_words, tokens(joined))
    found.update(_REGION_OF_LETTER[m.group(1).lower()] for m in _LEVEL.finditer(joined))
    return found


def approaches_in(lex: Lexicon, texts: Iterable[str]) -> set[str]:
    return _named(lex.approach_words, tokens(" ".join(texts)))


@dataclass
class Reading:
    """What one concept says. ``terms`` are asserted; ``held`` could not be asserted alone."""

    terms: list[str] = field(default_factory=list)
    # The entry behind each term, in the same order (None for a text match).
    entries: list[CodeEntry | None] = field(default_factory=list)
    text: str | None = None  # set when the terms come from text, not a code
    narrowed: str | None = None  # how an ambiguous code was narrowed
    held: list[CodeEntry] = field(default_factory=list)
    informational: list[CodeEntry] = field(default_factory=list)
    coded: bool = False  # some coding is in the code map

    def why(self, ref: str) -> str:
        """The provenance entry: the reference, and how it was read when not by a plain code."""
        if self.text is not None:
            return f"{ref} (text match: {self.text!r})"
        return f"{ref} (narrowed by {self.narrowed})" if self.narrowed else ref


def entries_of(lex: Lexicon, concept: Any, kinds: Sequence[str]) -> list[CodeEntry]:
    """Map entries of the concept's codings, preferred code system first."""
    found: list[CodeEntry] = []
    for coding in sorted(codings(concept), key=lex.rank):
        for entry in lex.codes.lookup(coding.get("system"), coding.get("code")):
            if entry.kind in kinds and entry not in found:
                found.append(entry)
    return found


def read_concept(
    lex: Lexicon, concept: Any, kinds: Sequence[str], context: Sequence[str] = ()
) -> Reading:
    """Terms of one concept. ``context`` holds texts (bodySite, code text) that may narrow an
    ambiguous code by region or approach."""
    reading = Reading()
    entries = entries_of(lex, concept, kinds)
    reading.coded = bool(entries)
    for entry in entries:
        if entry.informational:
            reading.informational.append(entry)
        elif entry.caution is None and not entry.ambiguous:
            _assert(reading, entry.terms[0], entry)
    for entry in entries:
        if entry.informational or (entry.caution is None and not entry.ambiguous):
            continue
        term = _narrow(lex, entry, context) if entry.caution is None else None
        if term and term not in reading.terms:
            reading.narrowed = "bodySite/code text"
            _assert(reading, term, entry)
        elif not (set(entry.terms) & set(reading.terms)):
            reading.held.append(entry)  # a caution, or ambiguous even with the context
    if not entries:
        text = concept_text(concept)
        term = lex.text_term(text)
        if term:
            reading.text = text
            reading.terms.append(term)
            reading.entries.append(None)
    return reading


def _assert(reading: Reading, term: str, entry: CodeEntry) -> None:
    if term not in reading.terms:
        reading.terms.append(term)
        reading.entries.append(entry)


def _narrow(lex: Lexicon, entry: CodeEntry, context: Sequence[str]) -> str | None:
    """One term of an ambiguous entry, if region and approach words leave only one."""
    regions, approaches = regions_in(lex, context), approaches_in(lex, context)
    if not regions and not approaches:
        return None
    left = []
    for term in entry.terms:
        kind, _, name = term.partition(":")
        if not lex.vocab.has(kind, name):
            continue
        region = lex.vocab.attr(kind, name, "region")
        approach = lex.vocab.attr(kind, name, "approach")
        if regions and region not in regions:
            continue
        if approaches and approach not in approaches:
            continue
        left.append(term)
    return left[0] if len(left) == 1 else None


def context_texts(resource: Mapping[str, Any], concept: Any) -> list[str]:
    """bodySite texts and the concept's own text and displays: where region words are."""
    texts = [concept_text(site) for site in resource.get("bodySite") or []]
    texts += [
        str(c.get("display", "")) for site in resource.get("bodySite") or [] for c in codings(site)
    ]
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        texts.append(concept["text"])
    texts += [str(c.get("display", "")) for c in codings(concept)]
    return [t for t in texts if t]
