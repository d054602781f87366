"""What the engine works out once per knowledge base, before it sees any case.

Each rule family becomes one generated function (see :mod:`spinecds.engine.codegen`), and
the conditions that live outside rule files (derived facts, diagnoses, conflict positions)
are grouped the same way, with the f-string keys of ``kb.condition`` resolved here rather
than on every assessment. Built on first use and kept on the knowledge base object.

Output objects are shared between assessments: an item that depends only on the knowledge
base (a plan step, a warning, a do-now item) is built once (``memo``), and an item that an
earlier case built word for word (a trace entry, a question, a diagnosis) is reused
(``shared``). Output models are frozen; their lists must be treated as read-only too, as
the knowledge base's own citation lists in them always had to be. Rules are keyed by
identity (``id(rule)``), not by their id: ids are unique only once ``kb check`` has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spinecds.engine.codegen import (
    Ranked,
    compile_families,
    compile_family,
    compile_first,
    compile_ranking,
    compile_values,
    missing_values,
)
from spinecds.engine.text import effect
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase
from spinecds.knowledge.schema import Conflict, Derived, Diagnosis

__all__ = ["MIN_SCORE", "DxPlan", "Prepared", "prepared"]

MIN_SCORE = 0.3  # below this a diagnosis is listed only when `always_list_when` holds

Values = Mapping[str, Any]
Every = Callable[[Values], tuple[list[CompiledRule], list[CompiledRule]]]
First = Callable[[Values], tuple[CompiledRule | None, list[CompiledRule]]]
DerivedTest = Callable[[Values], tuple[int | None, list[int]]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DxPlan:
    """One diagnosis, with what its output needs from the knowledge base."""

    dx: Diagnosis
    order: int  # its place in differential.yaml (ties in score keep it)
    label: str
    texts_for: tuple[str, ...]  # by the positions the ranking returns
    texts_against: tuple[str, ...]
    cites: dict[str, None]  # dx.cite, ready for dict.update


@dataclass(frozen=True, slots=True)
class Terms:
    """Vocabulary attributes that case_facts reads for every case."""

    complaint_region: dict[str, str]  # str() of the complaint's `region`, as facts.py used
    anterior: frozenset[str]  # procedures whose approach is anterior
    fusion: frozenset[str]  # procedures with a truthy `fusion`


class Shared(dict[tuple[Any, ...], Any]):
    """Output objects keyed by everything they contain, shared by the assessments that
    would build an identical one (most of them: a knowledge base allows few variants).
    Cleared when full, so memory stays bounded whatever the cases."""

    LIMIT = 50_000

    def put(self, key: tuple[Any, ...], value: T) -> T:
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value
        return value


@dataclass(frozen=True, slots=True)
class Prepared:
    kb: KnowledgeBase
    version: str  # kb.version (a property that formats it on every call)
    terms: Terms
    # Every value key the generated code reads, with what its absence means: each case's
    # values start from these (the code reads v[key], not v.get(key, default)).
    missing: dict[str, Any]
    derived: tuple[tuple[str, DerivedTest], ...]  # fact -> f(values) -> (value index, unknown)
    derived_keys: tuple[tuple[Derived, str], ...]  # each derived fact and its value key
    # f(values) -> [(-score, order, diagnosis, for, against, risk factors)], those listed
    dx_ranking: Callable[[Values], list[Ranked[DxPlan]]]
    conflicts: tuple[Conflict, ...]
    conflict_values: Callable[[Values], tuple[float, ...]]  # every position, in order
    effects: dict[int, str]  # id(rule) -> its trace effect, where that is case-independent
    # region -> (value key of a study done, the ACR procedure it stands for), kb order
    studies_done: dict[str, tuple[tuple[str, str], ...]]
    # What depends only on the knowledge base and a few case-independent keys (compiled
    # family groups, output items, question sources), each made once.
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    traced: dict[int, Any] = field(default_factory=dict)  # id(rule) -> what Run.record needs
    shared: Shared = field(default_factory=Shared)
    _every: dict[str, Every] = field(default_factory=dict)
    _first: dict[str, First] = field(default_factory=dict)
    _assessed: list[int] = field(default_factory=lambda: [0])

    def count(self) -> int:
        """Count one more assessment with this knowledge base; returns how many so far."""
        self._assessed[0] += 1
        return self._assessed[0]

    def every(self, family: str) -> Every:
        """f(values) -> (true rules, unknown rules), in file order."""
        found = self._every.get(family)
        if found is None:  # compiled per family on first use: each family is used one way
            rules = self.kb.rules[family]
            found = self._every[family] = compile_family([r.condition for r in rules], rules)
        return found

    def together(self, *families: str) -> Callable[[Values], list[list[CompiledRule]]]:
        """f(values) -> [true rules of each family]: families that ask no questions and that
        the engine evaluates with the same values, read in one call."""
        key = ("together", *families)
        found = self.memo.get(key)
        if found is None:
            rules = [self.kb.rules[f] for f in families]
            groups = [([r.condition for r in rs], rs) for rs in rules]
            found = self.memo[key] = compile_families(groups)
        return found

    def first(self, family: str) -> First:
        """f(values) -> (the first true rule or None, the unknown rules before it)."""
        found = self._first.get(family)
        if found is None:
            rules = self.kb.rules[family]
            found = self._first[family] = compile_first([r.condition for r in rules], rules)
        return found


def prepared(kb: KnowledgeBase) -> Prepared:
    found = kb.engine.get("prepared")
    if found is None:
        found = kb.engine["prepared"] = _prepare(kb)
    return found


def _prepare(kb: KnowledgeBase) -> Prepared:
    def cond(key: str) -> Any:
        return kb.condition(key).condition

    derived = tuple(
        (
            d.fact,
            compile_first(
                [cond(f"derived:{d.fact}:{j}") for j in range(len(d.values))],
                list(range(len(d.values))),
            ),
        )
        for d in kb.context.derived
    )
    ranking = compile_ranking(
        [
            (
                DxPlan(
                    d,
                    order,
                    kb.vocabulary.label("differential", d.id),
                    tuple(f.text for f in d.features_for),
                    tuple(f.text for f in d.features_against),
                    dict.fromkeys(d.cite),
                ),
                cond(f"dx:{d.id}:applies"),
                cond(f"dx:{d.id}:always") if d.always_list_when is not None else None,
                d.prior,
                [(f.weight, cond(f"dx:{d.id}:for:{j}")) for j, f in enumerate(d.features_for)],
                [
                    (f.weight, cond(f"dx:{d.id}:against:{j}"))
                    for j, f in enumerate(d.features_against)
                ],
                [(r, f"f:{r}") for r in d.risk_factors],
            )
            for order, d in enumerate(kb.differential.diagnoses)
        ],
        MIN_SCORE,
    )
    positions = [cond(f"conflict:{c.id}:{p.id}") for c in kb.conflicts for p in c.positions]
    vocab = kb.vocabulary
    terms = Terms(
        {c: str(vocab.attr("complaint", c, "region")) for c in vocab.ids("complaint")},
        frozenset(
            p
            for p in vocab.ids("procedure")
            if vocab.attr("procedure", p, "approach") == "anterior"
        ),
        frozenset(p for p in vocab.ids("procedure") if vocab.attr("procedure", p, "fusion")),
    )
    conds = [r.condition for r in kb.all_rules()] + [c.condition for c in kb.compiled.values()]
    missing = missing_values(conds)
    for d in kb.differential.diagnoses:  # the ranking reads risk factors too
        missing.update((f"f:{r}", 0.5) for r in d.risk_factors if f"f:{r}" not in missing)
    return Prepared(
        kb=kb,
        version=kb.version,
        derived_keys=tuple((d, f"x:{d.fact}") for d in kb.context.derived),
        terms=terms,
        missing=missing,
        derived=derived,
        dx_ranking=ranking,
        conflicts=tuple(kb.conflicts),
        conflict_values=compile_values(positions),
        effects=_effects(kb),
        studies_done={
            region: tuple((f"d:{study}", name) for study, name in names.items())
            for region, names in kb.context.study_procedures.items()
        },
    )


def _effects(kb: KnowledgeBase) -> dict[int, str]:
    """The trace effect of every rule whose effect does not depend on the case.

    Rules are keyed by identity (the memo lives on the knowledge base that holds them):
    rule ids are unique only once ``kb check`` has passed.
    """
    out: dict[int, str] = {}
    for rule in kb.rules.get("results", []):
        then = rule.rule.then
        head = then.referral and f"referral {then.referral}"
        out[id(rule)] = effect(head, then.plan, then.warn, then.labs)
    for family in ("management", "pitfalls", "follow_up"):
        for rule in kb.rules.get(family, []):
            then = rule.rule.then
            out[id(rule)] = effect(None, then.plan, then.warn, [], then.follow_up)
    for rule in kb.rules.get("order_review", []):
        out[id(rule)] = f"order verdict at most {rule.rule.then.verdict}"
    for rule in kb.rules.get("variants", []):
        acr = rule.rule.then.acr
        out[id(rule)] = f"ACR variant {(None if acr in (None, 'none') else acr) or 'none'}"
    return out
