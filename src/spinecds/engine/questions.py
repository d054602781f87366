"""Questions: the unknown findings that would change this assessment, most decisive first.

They come from rules whose condition is UNKNOWN (not true, not false) and whose effect would
change the answer; each unknown leaf of such a condition becomes one question. Unknown is never
read as absent, so these are asked rather than assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinecds.assessment import Question
from spinecds.engine.conditions import FALSE, TRUE, Condition, Leaf, explain
from spinecds.engine.run import Run

__all__ = ["questions"]

Test = Callable[[Mapping[str, Any]], float]

# Facts the case gives directly: where to put the answer and how to ask for it.
_FACT_FIELDS = {
    "episode": ("symptom_weeks", "How many weeks has this episode of pain lasted?"),
    "presentation": (
        "symptom_weeks",
        "How many weeks has this episode lasted, and is it getting worse?",
    ),
    "symptom_weeks": ("symptom_weeks", "How many weeks has this episode of pain lasted?"),
    "phase": ("surgeries[].weeks_ago", "How long ago was the operation?"),
    "weeks_since_surgery": ("surgeries[].weeks_ago", "How long ago was the operation?"),
    "age": ("age", "How old is the patient?"),
    "motor_grade": ("findings.motor_grade", "What is the MRC grade (0-5) of the weakest muscle?"),
    "course": ("course", "Is the pain new, increasing, stable or improving?"),
    "multilevel": ("surgeries[].levels", "Which levels were operated on?"),
}


@dataclass
class _Draft:
    target: str
    ask: str
    would_change: str
    priority: int
    order: int
    rules: list[str] = field(default_factory=list)


def questions(run: Run) -> list[Question]:
    kb = run.kb
    sources: list[tuple[Condition, Test, str, str, int]] = [
        (p.rule.condition, p.rule.test, p.rule.id, p.would_change, p.priority) for p in run.pending
    ]
    for fact, indexes in run.facts.derived_unknown.items():
        derived = next(d for d in kb.context.derived if d.fact == fact)
        for j in indexes:
            compiled = kb.condition(f"derived:{fact}:{j}")
            change = f"{fact.replace('_', ' ')} would be {derived.values[j].value}"
            sources.append((compiled.condition, compiled.test, f"derived.{fact}", change, 3))
    imaged = any(study.region == run.facts.region for study in run.case.imaging)
    drafts: dict[str, _Draft] = {}
    order = 0
    for condition, test, rule_id, would_change, priority in sources:
        unknown = explain(condition, run.values).unknown
        for leaf in unknown:
            key, field_name, ask = _leaf_question(run, leaf.kind, leaf.name)
            if not key or (field_name.startswith("imaging") and not imaged):
                continue
            change, rank = _effect_of(run, test, leaf, unknown, would_change, priority)
            order += 1
            draft = drafts.get(key)
            if draft is None:
                drafts[key] = _Draft(field_name, ask, change, rank, order, [rule_id])
                continue
            if rule_id not in draft.rules:
                draft.rules.append(rule_id)
            if rank < draft.priority:
                draft.priority, draft.would_change = rank, change
    ranked = sorted(drafts.items(), key=lambda kv: (kv[1].priority, kv[1].order))
    return [
        Question(
            id=k,
            field=d.target,
            ask=d.ask,
            would_change=d.would_change,
            rules=d.rules,
            priority=d.priority,
        )
        for k, d in ranked
    ]


def _effect_of(
    run: Run,
    test: Test,
    leaf: Leaf,
    unknown: tuple[Leaf, ...],
    would_change: str,
    priority: int,
) -> tuple[str, int]:
    """Does answering this one finding settle the rule? If not, say what else it needs."""
    if leaf.kind in ("present", "absent"):
        answer = TRUE if leaf.kind == "present" else FALSE
        trial = dict(run.values)
        trial[leaf.key] = answer
        if test(trial) == TRUE:
            return f"if {'present' if answer == TRUE else 'absent'}: {would_change}", priority
    others = sorted({o.name for o in unknown if o.name != leaf.name})[:4]
    needs = f" together with {', '.join(others)}" if others else ""
    return f"if present{needs}: {would_change}", priority + 2


def _leaf_question(run: Run, kind: str, name: str) -> tuple[str, str, str]:
    vocab = run.kb.vocabulary
    if kind in ("present", "absent"):
        if vocab.has("finding", name):
            return name, f"findings.{name}", f"{vocab.label('finding', name)}: present or absent?"
        label = vocab.label("imaging_finding", name)
        return name, f"imaging[].findings.{name}", f"On imaging, {label}: present or absent?"
    if kind == "fact" and name in _FACT_FIELDS:
        field_name, ask = _FACT_FIELDS[name]
        return field_name, field_name, ask
    return "", "", ""
