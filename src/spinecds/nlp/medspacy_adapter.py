"""The one module that talks to spaCy and medspaCy; everything else sees plain dataclasses.

The pipeline: medspaCy's clinical tokenizer, our sentence splitter (sentences.py), target
matching of medspaCy TargetRules (every rule of ``kb/nlp``; literal spellings through spaCy's
PhraseMatcher, the rest through medspaCy's MedspacyMatcher) with our overlap pruning
(overlaps.py), medspaCy's Sectionizer, and ConText with our modifier rules. It is built once
per process (:func:`reader`) from the validated rules, and calls into it hold a lock: spaCy
pipelines are not documented as safe to share between threads. Wrapped line breaks are read
as spaces (offsets unchanged) so phrases match across them.

medspaCy has no type information, so its objects are handled as ``Any`` here and nowhere else.
"""

from __future__ import annotations

import bisect
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal

from spinecds.nlp.numbers import lab_value_regex
from spinecds.nlp.overlaps import Match, prune
from spinecds.nlp.phrases import compile_phrase, literal_forms
from spinecds.nlp.quiet import quiet_pyrush
from spinecds.nlp.rules import NlpRules, default_rules
from spinecds.nlp.sentences import sentence_starts, wrapped_line_breaks

__all__ = [
    "Modifier",
    "ParsedText",
    "RawMention",
    "Reader",
    "SectionSpan",
    "reader",
]

GROUP = "spinecds_mentions"
Splitter = Literal["rules", "pyrush"]
_CONTEXT_CATEGORY = {
    "negated": "NEGATED_EXISTENCE",
    "possible": "POSSIBLE_EXISTENCE",
    "historical": "HISTORICAL",
    "hypothetical": "HYPOTHETICAL",
    "someone_else": "FAMILY",
    "current": "CURRENT",
    "terminate": "TERMINATE",
    "pseudo": "PSEUDO",
}
_OUR_CATEGORY = {v: k for k, v in _CONTEXT_CATEGORY.items()}
_DIRECTION = {"forward": "FORWARD", "backward": "BACKWARD", "both": "BIDIRECTIONAL"}
# Words that may sit between a list of mentions and a modifier after it:
# "Hoffmann's and Spurling's signs are negative bilaterally".
_LIST_WORDS = frozenset(
    "and or nor / & , : - 's sign signs test tests maneuver maneuvers reflex reflexes is are was "
    "were been has have both bilaterally bilateral left right l r on the at in of to today "
    "currently also".split()
)


@dataclass(frozen=True, slots=True)
class Modifier:
    category: str  # negated, possible, historical, hypothetical, someone_else
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RawMention:
    kind: str  # finding, imaging_finding, complaint, procedure, study, lab, contrast, region
    term: str
    present: bool  # False: the words say the term is absent ("afebrile")
    start: int  # character offsets in the text
    end: int
    text: str
    sentence: int  # index into ParsedText.sentences
    section: str | None
    modifiers: tuple[Modifier, ...]
    only_in_section: str | None = None  # the rule holds only in this section


@dataclass(frozen=True, slots=True)
class SectionSpan:
    name: str | None
    start: int  # the title's first character (the body's for the untitled first section)
    end: int


@dataclass(frozen=True, slots=True)
class ParsedText:
    text: str
    sentences: tuple[tuple[int, int], ...]
    sections: tuple[SectionSpan, ...]
    mentions: tuple[RawMention, ...]

    def sentence_text(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.text[start:end]

    def section_at(self, offset: int) -> str | None:
        for section in self.sections:
            if section.start <= offset < section.end:
                return section.name
        return None


# ConText compares every modifier with every mention of a document, so a long text is read
# in chunks of whole paragraphs (split at blank lines, which always end a sentence); the
# section of a chunk's untitled start is the section the previous chunk ended in.
CHUNK_CHARS = 4000
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _chunks(text: str) -> list[tuple[int, str]]:
    """(offset, chunk) pieces of ``text``: whole paragraphs, about CHUNK_CHARS each."""
    if len(text) <= CHUNK_CHARS:
        return [(0, text)]
    cuts = [m.end() for m in _BLANK_LINE.finditer(text)]
    pieces, start, last = [], 0, 0
    for cut in [*cuts, len(text)]:
        if cut - start > CHUNK_CHARS and last > start:
            pieces.append((start, text[start:last]))
            start = last
        last = cut
    pieces.append((start, text[start:]))
    return [(a, piece) for a, piece in pieces if piece]


def _joined(text: str, parts: list[tuple[int, str, Any]]) -> ParsedText:
    """One ParsedText from the chunks of a text, with offsets into the whole text."""
    sentences: list[tuple[int, int]] = []
    sections: list[SectionSpan] = []
    mentions: list[RawMention] = []
    carried: str | None = None
    for offset, chunk, doc in parts:
        part = _parsed(doc, chunk)
        first = len(sentences)
        sentences += [(a + offset, b + offset) for a, b in part.sentences]
        for i, section in enumerate(part.sections):
            name = section.name if section.name or i else carried
            sections.append(SectionSpan(name, section.start + offset, section.end + offset))
        mentions += [
            replace(
                m,
                start=m.start + offset,
                end=m.end + offset,
                sentence=m.sentence + first,
                section=m.section or (carried if not _titled_before(part, m.start) else None),
                modifiers=tuple(
                    replace(x, start=x.start + offset, end=x.end + offset) for x in m.modifiers
                ),
            )
            for m in part.mentions
        ]
        carried = sections[-1].name if sections else carried
    return ParsedText(text, tuple(sentences), tuple(sections), tuple(mentions))


def _titled_before(part: ParsedText, offset: int) -> bool:
    return any(s.name is not None and s.start <= offset for s in part.sections)


class Reader:
    """A built pipeline: ``read(text)`` runs it and returns what it found."""

    def __init__(self, nlp: Any, continues_after: Sequence[str]) -> None:
        self._nlp = nlp
        self._continues_after = tuple(continues_after)
        self._lock = threading.Lock()

    def read(self, text: str) -> ParsedText:
        return self.read_many([text])[0]

    def read_many(self, texts: Sequence[str]) -> list[ParsedText]:
        """Each text, read in chunks of paragraphs (see :data:`CHUNK_CHARS`)."""
        chunked = [_chunks(text) for text in texts]
        with self._lock:
            docs = self._nlp.pipe([self._unwrapped(c) for chunks in chunked for _, c in chunks])
            parts = iter(docs)
            return [
                _joined(text, [(start, chunk, next(parts)) for start, chunk in chunks])
                for text, chunks in zip(texts, chunked, strict=True)
            ]

    def _unwrapped(self, text: str) -> Any:
        """The text with wrapped line breaks as spaces, so "trouble\\nswallowing" matches.

        A break becomes as many spaces as it has characters: offsets stay those of the text.
        The sentence splitter still sees the original breaks (``doc.user_data``).
        """
        flat = list(text)
        for start, end in wrapped_line_breaks(text, self._continues_after):
            flat[start:end] = " " * (end - start)
        doc = self._nlp.make_doc("".join(flat))
        doc.user_data["spinecds_original"] = text
        return doc


@cache
def reader(splitter: Splitter = "rules") -> Reader:
    """The pipeline for the shipped rules, built once per process (about a second)."""
    rules = default_rules()
    return Reader(build_pipeline(rules, splitter), rules.sentences.continues_after)


def build_pipeline(rules: NlpRules, splitter: Splitter = "rules") -> Any:
    """A spaCy ``Language`` holding our pipeline (see the module docstring)."""
    medspacy = _import_medspacy()
    _register_components()
    nlp = medspacy.load(medspacy_enable=["medspacy_tokenizer"])
    if splitter == "pyrush":
        nlp.add_pipe("medspacy_pyrush", config={"rules_path": _pyrush_rules()})
    else:
        nlp.add_pipe(
            "spinecds_sentences",
            config={
                "abbreviations": list(rules.sentences.abbreviations),
                "continues_after": list(rules.sentences.continues_after),
            },
        )
    targets = nlp.add_pipe(
        "spinecds_targets",
        config={"keeps_inside": _keeps_inside(rules), "swallows": _swallows(rules)},
    )
    targets.add(target_rules(rules, _splitter(nlp)))
    sectionizer = nlp.add_pipe(
        "medspacy_sectionizer",
        config={"rules": None, "span_attrs": None, "input_span_type": "group"},
    )
    sectionizer.add(section_rules(rules, _splitter(nlp)))
    context = nlp.add_pipe(
        "medspacy_context",
        config={
            "rules": None,
            "span_attrs": None,
            "input_span_type": "group",
            "span_group_name": GROUP,
            "prune_on_target_overlap": False,
        },
    )
    context.add(context_rules(rules, _splitter(nlp)))
    return nlp


def _import_medspacy() -> Any:
    """Import medspaCy (and spaCy) without their side effects on warnings.

    spaCy 3.7 imports a deprecated Click name (a DeprecationWarning, an error under our
    pytest settings), and medspaCy's matcher module calls ``warnings.filterwarnings
    ("ignore")`` for the whole process at import. Importing inside ``catch_warnings`` keeps
    both inside this function.
    """
    quiet_pyrush()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import medspacy  # type: ignore[import-untyped]
        import medspacy.common.medspacy_matcher  # type: ignore[import-untyped]
    return medspacy


def target_rules(rules: NlpRules, split: Callable[[str], list[str]]) -> list[Any]:
    """medspaCy TargetRules for every target, ignored phrase, contrast, region and lab rule."""
    from medspacy.target_matcher import TargetRule  # type: ignore[import-untyped]

    out: list[Any] = []
    for kind, term, phrase, meta in _phrase_rules(rules):
        metadata: dict[str, Any] = {"kind": kind, "term": term, **meta}
        forms = literal_forms(phrase, split)
        if forms is not None:  # matched by spelling (see _Targets)
            metadata["forms"] = forms
        pattern = None if forms is not None else compile_phrase(phrase, split)
        out.append(
            TargetRule(literal=phrase, category=kind.upper(), pattern=pattern, metadata=metadata)
        )
    for kind, term, regex in _regex_rules(rules):
        out.append(
            TargetRule(
                literal=term,
                category=kind.upper(),
                pattern=regex,
                metadata={"kind": kind, "term": term, "present": True},
            )
        )
    return out


def section_rules(rules: NlpRules, split: Callable[[str], list[str]]) -> list[Any]:
    from medspacy.section_detection import SectionRule  # type: ignore[import-untyped]

    out = []
    for name, section in rules.sections.sections.items():
        for title in section.titles:
            for mark in (":", "-"):
                pattern = [*compile_phrase(title, split), {"ORTH": mark}]
                out.append(SectionRule(literal=title, category=name, pattern=pattern))
    return out


def context_rules(rules: NlpRules, split: Callable[[str], list[str]]) -> list[Any]:
    """ConTextRules; each rule gets a category of its own ("HISTORICAL__7").

    ConText lets two modifiers of one category cut each other's scope, which is right for
    "no fever, no chills" but wrong for "leukocytosis during the previous admission
    resolved", where "previous" would stop "resolved" from reaching back. With a category
    per rule, only modifiers of the same rule cut each other.
    """
    from medspacy.context import ConTextRule  # type: ignore[import-untyped]

    names = {
        i: f"{_CONTEXT_CATEGORY[rule.category]}__{i}" for i, rule in enumerate(rules.context.rules)
    }
    out = []
    for i, rule in enumerate(rules.context.rules):
        category = _CONTEXT_CATEGORY[rule.category]
        direction = category if category in ("TERMINATE", "PSEUDO") else None
        direction = direction or _DIRECTION[rule.direction or "forward"]
        stopped_by = {
            names[j]
            for j, other in enumerate(rules.context.rules)
            if other.category in rule.terminated_by
        }
        allowed: set[str] | None = None
        if rule.category == "current":
            allowed = {"NOTHING"}  # it only ends the scope of history words
        elif rule.applies_to is not None:
            allowed = {kind.upper() for kind in rule.applies_to}
            if "FINDING" in allowed:
                allowed.add("LAB")  # a lab value is a finding too
        for literal, pattern in (m for phrase in rule.phrases for m in _matchable(phrase, split)):
            out.append(
                ConTextRule(
                    literal=literal,
                    category=category if direction in ("TERMINATE", "PSEUDO") else names[i],
                    pattern=pattern,
                    direction=direction,
                    max_scope=rule.max_scope,
                    allowed_types=allowed,
                    terminated_by=stopped_by or None,
                    on_modifies=_gate(
                        category,
                        rule.after_reach,
                        rule.before_reach,
                        {str(k): v for k, v in rule.reach.items()},
                    ),
                )
            )
    return out


def _matchable(phrase: str, split: Callable[[str], list[str]]) -> list[tuple[str, Any]]:
    """(literal, pattern) pairs for medspaCy rules: literal spellings (pattern None) go to
    its PhraseMatcher; phrases with gaps, prefixes or exact case keep a Matcher pattern."""
    forms = literal_forms(phrase, split)
    if forms is None:
        return [(phrase, compile_phrase(phrase, split))]
    return [(form, None) for form in forms]


def _phrase_rules(rules: NlpRules) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for kind, target in rules.targets.items():
        for term, term_rules in target.terms.items():
            for phrase in term_rules.phrases:
                yield kind, term, phrase, {"present": True}
            for phrase in term_rules.absent_phrases:
                yield kind, term, phrase, {"present": False}
            for section, phrases in term_rules.section_phrases.items():
                for phrase in phrases:
                    yield kind, term, phrase, {"present": True, "section": section}
        for phrase in target.ignore:
            yield "ignore", "", phrase, {"present": True}
        for label, unspecified in target.unspecified.items():
            for phrase in unspecified.phrases:
                yield "procedure", f"unspecified:{label}", phrase, {"present": True}
        if target.contrast is not None:
            for phrase in target.contrast.with_:
                yield "contrast", "with", phrase, {"present": True}
            for phrase in target.contrast.without:
                yield "contrast", "without", phrase, {"present": True}
        for region, phrases in target.regions.items():
            for phrase in phrases:
                yield "region", region, phrase, {"present": True}
    yield from _lab_word_rules(rules)


def _lab_word_rules(rules: NlpRules) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """Results told in words: "elevated ESR", "CRP ... within normal limits".

    Names and words of one token go into one choice ("esr|crp ...2 elevated|raised"), so
    the gap patterns stay few: each is checked at every token of every text.
    """
    labs = rules.labs
    named = [(term, list(lab.names)) for term, lab in labs.labs.items()]
    named += [(",".join(panel.labs), list(panel.phrases)) for panel in labs.panels]
    said = (
        (labs.in_words.high, True, True),
        (labs.in_words.normal, False, True),
        (labs.in_words.low, False, False),
    )
    for terms, names in named:
        for words, present, before_too in said:
            for name in _choices(names):
                for word in _choices(words):
                    if before_too:
                        yield "finding", terms, f"{word} {name}", {"present": present}
                    yield "finding", terms, f"{name} ...2 {word}", {"present": present}


def _choices(phrases: Sequence[str]) -> list[str]:
    """Single plain words joined into one choice (``a|b|c``); every other phrase on its own."""
    single = [p for p in phrases if " " not in p and p.replace("-", "").isalnum() and "-" not in p]
    single = [p for p in single if not p.startswith("=") and "|" not in p]
    others = [p for p in phrases if p not in single]
    return (["|".join(single)] if single else []) + others


def _regex_rules(rules: NlpRules) -> Iterator[tuple[str, str, str]]:
    for kind, target in rules.targets.items():
        for term, term_rules in target.terms.items():
            for regex in term_rules.regex:
                yield kind, term, regex
    for term, lab in rules.labs.labs.items():
        yield "lab", term, lab_value_regex(lab)


def _swallows(rules: NlpRules) -> list[str]:
    return [
        term
        for target in rules.targets.values()
        for term, term_rules in target.terms.items()
        if term_rules.swallows_inside
    ]


def _keeps_inside(rules: NlpRules) -> dict[str, list[str]]:
    return {
        term: list(term_rules.keeps_inside)
        for target in rules.targets.values()
        for term, term_rules in target.terms.items()
        if term_rules.keeps_inside
    }


def _splitter(nlp: Any) -> Callable[[str], list[str]]:
    def split(text: str) -> list[str]:
        return [token.text for token in nlp.tokenizer(text)]

    return split


def _pyrush_rules() -> str:
    from pathlib import Path

    root = Path(_import_medspacy().__file__).resolve().parents[1]
    return str(root / "resources" / "en" / "rush_rules.tsv")


def _gate(
    category: str, after_reach: int | None, before_reach: int | None, reach: dict[str, int]
) -> Callable[[Any, Any, Any], bool]:
    """Whether a modifier may modify a mention, beyond ConText's own scope rules.

    ``reach`` caps the words between modifier and mention for some kinds; ``after_reach``
    and ``before_reach`` cap them on either side of a two-way modifier; a negation reaching
    back needs a list in between.
    """
    limits = {kind.upper(): most for kind, most in reach.items()}

    def on_modifies(target: Any, modifier: Any, between: Any) -> bool:
        if _inside_own_words(modifier):
            return False
        after = target.start >= modifier.end
        gap = target.start - modifier.end if after else modifier.start - target.end
        label = "FINDING" if target.label_ == "LAB" else target.label_
        if label in limits and gap > limits[label]:
            return False
        if after:  # "negative Spurling and Hoffmann": over a list only
            return after_reach is None or gap <= after_reach or _listed(target, modifier, between)
        if before_reach is not None and gap > before_reach:
            return False
        return category != "NEGATED_EXISTENCE" or _listed(target, modifier, between)

    return on_modifies


# Mentions whose words may hold a modifier word that belongs to them ("no respiratory
# distress", "CRP not elevated", "without contrast"): such a modifier modifies nothing.
# Operations and studies are not among them: "before the fusion" still dates what it follows.
_OWN_WORDS = frozenset({"FINDING", "IMAGING_FINDING", "COMPLAINT", "LAB", "CONTRAST"})


def _inside_own_words(modifier: Any) -> bool:
    doc = modifier.doc
    own = doc.user_data.get("spinecds_own_words")
    if own is None:  # token -> the own-word spans over it, built once per text
        own = {}
        for span in doc.spans[GROUP]:
            if span.label_ in _OWN_WORDS:
                for i in range(span.start, span.end):
                    own.setdefault(i, []).append((span.start, span.end))
        doc.user_data["spinecds_own_words"] = own
    return any(a <= modifier.start and modifier.end <= b for a, b in own.get(modifier.start, []))


def _listed(target: Any, modifier: Any, between: Any) -> bool:
    """A negation after its mention reaches back only over a list of mentions.

    "Hoffmann's and Spurling's signs negative" negates both signs, while "arm numbness,
    Hoffmann negative" leaves the numbness alone: between mention and negation there may be
    only other mentions, list words, and - if a comma - a conjunction.
    """
    doc = target.doc
    covered = doc.user_data.get("spinecds_covered")
    if covered is None:  # computed once per text: this runs for every modifier-mention pair
        covered = {i for span in doc.spans[GROUP] for i in range(span.start, span.end)}
        doc.user_data["spinecds_covered"] = covered
    words = [t for t in between if not t.is_space and not modifier.start <= t.i < modifier.end]
    for token in words:
        if token.i not in covered and token.lower_ not in _LIST_WORDS:
            return False
    lowered = {t.lower_ for t in words}
    return "," not in lowered or bool(lowered & {"and", "or", "nor"})


def _parsed(doc: Any, text: str) -> ParsedText:
    sentences = tuple((s.start_char, s.end_char) for s in doc.sents)
    sent_starts = [s[0] for s in sentences]
    sections = tuple(
        SectionSpan(
            section.category,
            doc[section.title_start].idx if section.category else 0,
            doc[section.body_end - 1].idx + len(doc[section.body_end - 1])
            if section.body_end > 0
            else 0,
        )
        for section in doc._.sections
    )
    mentions = []
    rules_at = doc.user_data.get("spinecds_targets", {})
    for span in doc.spans[GROUP]:
        modifiers = tuple(
            Modifier(
                _OUR_CATEGORY.get(m.category.split("__")[0], m.category.lower()),
                text[
                    doc[m.modifier_span[0]].idx : doc[m.modifier_span[1] - 1].idx
                    + len(doc[m.modifier_span[1] - 1])
                ],
                doc[m.modifier_span[0]].idx,
                doc[m.modifier_span[1] - 1].idx + len(doc[m.modifier_span[1] - 1]),
            )
            for m in span._.modifiers
        )
        section = span[0]._.section
        for meta in rules_at.get((span.start_char, span.end_char), []):
            for term in str(meta["term"]).split(","):  # a panel names several tests
                mentions.append(
                    RawMention(
                        kind=str(meta["kind"]),
                        term=term,
                        present=bool(meta["present"]),
                        start=span.start_char,
                        end=span.end_char,
                        text=text[span.start_char : span.end_char],
                        sentence=max(0, bisect.bisect_right(sent_starts, span.start_char) - 1),
                        section=section.category if section is not None else None,
                        modifiers=modifiers,
                        only_in_section=meta.get("section"),
                    )
                )
    mentions.sort(key=lambda m: (m.start, m.end))
    return ParsedText(text, sentences, sections, tuple(mentions))


class _Targets:
    """medspaCy's target matching, with one span per matched stretch of words.

    spaCy keys span extension values by character offsets alone, so two rules matching the
    same words ("clean, dry and intact" says both no erythema and no drainage) would
    overwrite each other's ``target_rule`` and share their modifiers. Matches are therefore
    pruned (overlaps.py) and grouped by span; the rules of each span go into
    ``doc.user_data``. Matching itself is medspaCy's MedspacyMatcher over TargetRules.
    """

    def __init__(
        self,
        nlp: Any,
        name: str,
        keeps_inside: Mapping[str, Sequence[str]],
        swallows: Sequence[str] = (),
    ) -> None:
        from spacy.matcher import PhraseMatcher

        matcher_class = _import_medspacy().common.medspacy_matcher.MedspacyMatcher
        self._nlp = nlp
        self._matcher = matcher_class(nlp, name=name, phrase_matcher_attr="LOWER", prune=False)
        self._spellings = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._spelled: dict[str, Any] = {}
        self._keeps_inside = keeps_inside
        self._swallows = frozenset(swallows)

    def add(self, rules: list[Any]) -> None:
        """Rules with spellings go to one PhraseMatcher key each (all spellings at once,
        tokenized in a batch: medspaCy would add one key per spelling, slowly); the rest to
        medspaCy's MedspacyMatcher."""
        patterned = []
        for rule in rules:
            forms = rule.metadata.get("forms")
            if forms is None:
                patterned.append(rule)
                continue
            key = f"SPELLED_{len(self._spelled)}"
            self._spelled[key] = rule
            self._spellings.add(key, list(self._nlp.tokenizer.pipe(forms)))
        self._matcher.add(patterned)

    def __call__(self, doc: Any) -> Any:
        from spacy.tokens import Span

        strings = self._nlp.vocab.strings
        found = [
            (self._matcher.rule_map[strings[rule_id]].metadata, start, end)
            for rule_id, start, end in self._matcher(doc)
        ]
        found += [
            (self._spelled[strings[key]].metadata, start, end)
            for key, start, end in self._spellings(doc)
        ]
        matches = [Match(start, end, meta["kind"], meta["term"]) for meta, start, end in found]
        by_span: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for i in prune(matches, self._keeps_inside, self._swallows):
            meta, start, end = found[i]
            by_span.setdefault((start, end), []).append(meta)
        doc.spans[GROUP] = [
            Span(doc, start, end, label=str(metas[0]["kind"]).upper())
            for (start, end), metas in sorted(by_span.items())
        ]
        doc.user_data["spinecds_targets"] = {
            (doc[start].idx, doc[end - 1].idx + len(doc[end - 1])): metas
            for (start, end), metas in by_span.items()
        }
        return doc


_registered = False


def _register_components() -> None:
    """Register our two pipeline components with spaCy (once)."""
    global _registered
    if _registered:
        return
    from spacy.language import Language

    @Language.factory(
        "spinecds_sentences", default_config={"abbreviations": [], "continues_after": []}
    )
    def make_sentences(
        nlp: Any, name: str, abbreviations: list[str], continues_after: list[str]
    ) -> Callable[[Any], Any]:
        abbreviations_set = frozenset(abbreviations)
        continues_set = frozenset(continues_after)

        def set_sentences(doc: Any) -> Any:
            text = doc.user_data.get("spinecds_original", doc.text)
            starts = sentence_starts(text, abbreviations_set, continues_set)
            index = 0
            for token in doc:
                begins = token.i == 0
                while index < len(starts) and starts[index] <= token.idx:
                    begins = True  # a start inside the previous token moves to this one
                    index += 1
                token.is_sent_start = begins
            return doc

        return set_sentences

    @Language.factory("spinecds_targets", default_config={"keeps_inside": {}, "swallows": []})
    def make_targets(
        nlp: Any, name: str, keeps_inside: dict[str, list[str]], swallows: list[str]
    ) -> _Targets:
        return _Targets(nlp, name, keeps_inside, swallows)

    _registered = True
