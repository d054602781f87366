"""Bookkeeping shared by the stages of one assessment: values, trace, citations, questions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from spinecds.assessment import TraceEntry, builder
from spinecds.case import Case
from spinecds.engine.describe import describe_leaf
from spinecds.engine.facts import Facts
from spinecds.engine.prepared import Prepared, prepared
from spinecds.engine.walks import compile_because
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase

__all__ = ["REFERRAL_RANK", "URGENCY_RANK", "VERDICT_RANK", "Pending", "Run", "describe_leaf"]

URGENCY_RANK = {"routine": 0, "urgent": 1, "emergency": 2}
REFERRAL_RANK = {
    "none": 0,
    "spine_surgeon": 1,
    "spine_surgeon_urgent": 2,
    "emergency_department": 3,
}
VERDICT_RANK = {"appropriate": 0, "consider_alternative": 1, "not_appropriate": 2}


class Pending(NamedTuple):
    """A rule left unknown whose answer would change the assessment: a question source.

    A tuple (immutable, as before, and made several times faster than a frozen dataclass)
    in the shape questions() reads its sources in.
    """

    rule: CompiledRule
    rule_id: str
    would_change: str
    priority: int


@dataclass
class Run:
    case: Case
    kb: KnowledgeBase
    facts: Facts
    trace: list[TraceEntry] = field(default_factory=list)
    cites: dict[str, None] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    # The same dict as facts.values (a plain attribute: the stages read it very often).
    values: dict[str, Any] = field(init=False)
    prepared: Prepared = field(init=False)

    def __post_init__(self) -> None:
        self.values = self.facts.values
        self.prepared = prepared(self.kb)

    def cite(self, ids: list[str]) -> None:
        # Same insertion order as adding them one by one, in two C calls.
        self.cites.update(dict.fromkeys(ids))

    def evaluate(self, family: str) -> tuple[list[CompiledRule], list[CompiledRule]]:
        """All rules of a family: (the true ones, the unknown ones), in file order."""
        return self.prepared.every(family)(self.values)

    def first(self, family: str) -> tuple[CompiledRule | None, list[CompiledRule]]:
        """Ordered family: the first true rule and the unknown rules before it."""
        return self.prepared.first(family)(self.values)

    def record(self, rule: CompiledRule, effect: str) -> None:
        """Trace a fired rule with the findings that made it fire, and take its citations."""
        prep = self.prepared
        traced = prep.traced.get(id(rule)) or self.traced(rule)
        because = traced.because(self.values)
        key = ("trace", traced.id, traced.family, traced.title, effect, *because)
        entry = prep.shared.get(key)
        if entry is None:  # most cases share an identical entry with an earlier one
            entry = prep.shared.put(
                key, _entry(traced.id, traced.family, traced.title, because, effect)
            )
        self.trace.append(entry)
        self.cites.update(traced.cites)

    def traced(self, rule: CompiledRule) -> _Traced:
        """What the trace needs of a rule (its ``because`` compiled on first use)."""
        found: _Traced | None = self.prepared.traced.get(id(rule))
        if found is None:
            found = self.prepared.traced[id(rule)] = _Traced.of(rule)
        return found

    def ask(self, rule: CompiledRule, would_change: str, priority: int) -> None:
        if rule.asks:
            self.pending.append(Pending(rule, rule.id, would_change, priority))


_entry = builder(TraceEntry, "rule", "family", "title", "because", "effect")


class _Traced(NamedTuple):
    """What the trace needs of a rule, looked up once (kept in ``Prepared.traced``)."""

    id: str
    family: str
    title: str
    because: Callable[[dict[str, Any]], list[str]]
    cites: dict[str, None]  # its citations, ready for dict.update

    @classmethod
    def of(cls, rule: CompiledRule) -> _Traced:
        # The same strings as describe_leaf over explain(cond, values).because.
        because = compile_because(rule.condition)
        return cls(rule.id, rule.family, rule.rule.title, because, dict.fromkeys(rule.rule.cite))
