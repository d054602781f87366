"""Bookkeeping shared by the stages of one assessment: values, trace, citations, questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spinecds.assessment import TraceEntry, build
from spinecds.case import Case
from spinecds.engine.conditions import TRUE, UNKNOWN, Leaf, explain
from spinecds.engine.facts import Facts
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


@dataclass(frozen=True, slots=True)
class Pending:
    """A rule left unknown whose answer would change the assessment: a question source."""

    rule: CompiledRule
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

    @property
    def values(self) -> dict[str, Any]:
        return self.facts.values

    def cite(self, ids: list[str]) -> None:
        for ref in ids:
            self.cites[ref] = None

    def evaluate(self, family: str) -> tuple[list[CompiledRule], list[CompiledRule]]:
        """All rules of a family: (the true ones, the unknown ones), in file order."""
        fired, unknown = [], []
        for rule in self.kb.rules[family]:
            value = rule.test(self.values)
            if value == TRUE:
                fired.append(rule)
            elif value == UNKNOWN:
                unknown.append(rule)
        return fired, unknown

    def first(self, family: str) -> tuple[CompiledRule | None, list[CompiledRule]]:
        """Ordered family: the first true rule and the unknown rules before it."""
        unknown: list[CompiledRule] = []
        for rule in self.kb.rules[family]:
            value = rule.test(self.values)
            if value == TRUE:
                return rule, unknown
            if value == UNKNOWN:
                unknown.append(rule)
        return None, unknown

    def record(self, rule: CompiledRule, effect: str) -> None:
        """Trace a fired rule with the findings that made it fire, and take its citations."""
        because = [
            describe_leaf(leaf, self.values, value)
            for leaf, value in explain(rule.condition, self.values).because
        ]
        self.trace.append(
            build(
                TraceEntry,
                rule=rule.id,
                family=rule.family,
                title=rule.rule.title,
                because=because,
                effect=effect,
            )
        )
        self.cite(rule.rule.cite)

    def ask(self, rule: CompiledRule, would_change: str, priority: int) -> None:
        if rule.asks:
            self.pending.append(Pending(rule, would_change, priority))


def describe_leaf(leaf: Leaf, values: dict[str, Any], value: float = TRUE) -> str:
    """A leaf as a clinician reads it, with its own truth value (``ct not done``)."""
    kind, name, yes = leaf.kind, leaf.name, value == TRUE
    if kind == "present":
        return f"{name} present" if yes else f"{name} absent"
    if kind == "absent":
        return f"{name} absent" if yes else f"{name} present"
    if kind == "elsewhere":
        return f"{name} on imaging of another region" if yes else f"no {name} elsewhere"
    if kind == "complaint":
        return f"complaint {name}" if yes else f"complaint is not {name}"
    if kind == "done":
        return f"{name} done" if yes else f"{name} not done"
    if kind == "surgery":
        return f"earlier {name}" if yes else f"no earlier {name}"
    if kind == "treated":
        weeks = float(values.get(leaf.key, 0.0))
        least = "any time" if leaf.value < 1 else f"at least {leaf.value:g} weeks"
        return f"{name} for {weeks:g} weeks (rule: {least})"
    if kind == "always":
        return "always"
    got = values.get(leaf.key)
    shown = f"{got:g}" if isinstance(got, float) else str(got)
    want = ", ".join(map(str, leaf.value)) if isinstance(leaf.value, tuple) else str(leaf.value)
    return f"{name} = {shown} ({leaf.op} {want})"
