"""Questions: the unknown findings that would change this assessment, most decisive first.

They come from rules whose condition is UNKNOWN (not true, not false) and whose effect would
change the answer; each unknown leaf of such a condition becomes one question. Unknown is never
read as absent, so these are asked rather than assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spinecds.assessment import Question, build
from spinecds.engine.conditions import FALSE, TRUE, Leaf
from spinecds.engine.run import Run
from spinecds.knowledge.loader import CompiledCondition

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
    priority: int
    order: int
    rules: list[str]
    # The most decisive effect found so far; its text is written once, at the end.
    would_change: str = ""
    answer: str = "present"
    needs: tuple[str, ...] = ()

    def text(self) -> str:
        others = sorted(set(self.needs))[:4]
        together = f" together with {', '.join(others)}" if others else ""
        return f"if {self.answer}{together}: {self.would_change}"


def questions(run: Run) -> list[Question]:
    kb, values = run.kb, run.values
    sources: list[tuple[CompiledCondition, str, str, int]] = [
        (p.rule, p.rule.id, p.would_change, p.priority) for p in run.pending
    ]
    for fact, indexes in run.facts.derived_unknown.items():
        derived = next(d for d in kb.context.derived if d.fact == fact)
        for j in indexes:
            compiled = kb.condition(f"derived:{fact}:{j}")
            change = f"{fact.replace('_', ' ')} would be {derived.values[j].value}"
            sources.append((compiled, f"derived.{fact}", change, 3))
    imaged = any(study.region == run.facts.region for study in run.case.imaging)
    drafts: dict[str, _Draft] = {}
    # Most decisive rules first, so a question's best effect is usually found first and the
    # rules after it only add their ids (sorted() is stable: ties keep the rule order).
    for compiled, rule_id, would_change, priority in sorted(sources, key=lambda s: s[3]):
        unknown = compiled.unknowns(values)
        for leaf in unknown:
            key, field_name, ask = _leaf_question(run, leaf.kind, leaf.name)
            if not key or (not imaged and field_name.startswith("imaging")):
                continue
            draft = drafts.get(key)
            if draft is None:
                draft = drafts[key] = _Draft(field_name, ask, 99, len(drafts), [])
            if rule_id not in draft.rules:
                draft.rules.append(rule_id)
            if draft.priority <= priority:
                continue  # this rule cannot make the question more decisive
            if _settles(values, compiled.test, leaf):
                draft.priority, draft.would_change, draft.needs = priority, would_change, ()
                draft.answer = "present" if leaf.kind == "present" else "absent"
            elif draft.priority > priority + 2:
                draft.priority, draft.would_change, draft.answer = (
                    priority + 2,
                    would_change,
                    "present",
                )
                draft.needs = tuple(o.name for o in unknown if o.name != leaf.name)
    ranked = sorted(drafts.items(), key=lambda kv: (kv[1].priority, kv[1].order))
    return [
        build(
            Question,
            id=k,
            field=d.target,
            ask=d.ask,
            would_change=d.text(),
            rules=d.rules,
            priority=d.priority,
        )
        for k, d in ranked
    ]


def _settles(values: dict[str, Any], test: Test, leaf: Leaf) -> bool:
    """Would answering this one finding, alone, make the rule fire?"""
    if leaf.kind not in ("present", "absent"):
        return False
    key = leaf.key
    before = values.get(key)
    values[key] = TRUE if leaf.kind == "present" else FALSE  # try it in place, then restore
    try:
        return test(values) == TRUE
    finally:
        if before is None:
            del values[key]
        else:
            values[key] = before


_ASKED: dict[tuple[str, str, str], tuple[str, str, str]] = {}


def _leaf_question(run: Run, kind: str, name: str) -> tuple[str, str, str]:
    """(question id, case field, question text) for a leaf; ("", "", "") if not askable."""
    memo_key = (run.kb.content_hash, kind, name)
    found = _ASKED.get(memo_key)
    if found is None:
        found = _ASKED[memo_key] = _compose_question(run, kind, name)
    return found


def _compose_question(run: Run, kind: str, name: str) -> tuple[str, str, str]:
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
