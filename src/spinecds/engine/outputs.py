"""Plan steps, warnings and follow-up items picked by rules, resolved from the catalogues.

Each list depends only on which items were picked (and, for a plan step, the title of the
rule that chose it), so the finished list and its citations are kept per selection and
shared by every assessment that makes the same one.
"""

from __future__ import annotations

from spinecds.assessment import FollowUpOut, PlanItem, WarningOut, build
from spinecds.engine.run import Run
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase

__all__ = ["PHASE_ORDER", "follow_up_items", "plan_items", "warning_items"]

PHASE_ORDER = ("now", "conservative", "medicines", "interventional", "surgical")
_FOLLOW_ORDER = ("reassess", "reimage", "return_sooner")

# A finished list (a tuple; each assessment gets its own list) and its citations in order.
_Made = tuple[
    tuple[PlanItem, ...] | tuple[WarningOut, ...] | tuple[FollowUpOut, ...], dict[str, None]
]


def plan_items(run: Run, chosen: list[tuple[str, CompiledRule]]) -> list[PlanItem]:
    """One item per step, in phase order; the rationale names the rule that chose it."""
    first_rule: dict[str, str] = {}
    for step_id, rule in chosen:
        if step_id not in first_rule:
            first_rule[step_id] = rule.rule.title
    key = ("plan", *first_rule.items())
    made = run.prepared.shared.get(key)
    if made is None:
        made = run.prepared.shared.put(key, _plans(run.kb, first_rule))
    run.cites.update(made[1])
    return list(made[0])


def _plans(kb: KnowledgeBase, first_rule: dict[str, str]) -> _Made:
    steps = [kb.plan_steps[s] for s in first_rule]
    steps.sort(key=lambda s: PHASE_ORDER.index(s.phase))
    items = tuple(
        build(
            PlanItem,
            id=step.id,
            phase=step.phase,
            title=step.title,
            text=step.text,
            duration=step.duration,
            evidence=step.evidence,
            evidence_note=step.evidence_note,
            cautions=step.cautions,
            rationale=first_rule[step.id],
            cite=step.cite,
            seeds=step.seeds,
        )
        for step in steps
    )
    return items, dict.fromkeys(ref for step in steps for ref in step.cite)


def warning_items(run: Run, ids: list[str]) -> list[WarningOut]:
    key = ("warnings", *dict.fromkeys(ids))
    made = run.prepared.shared.get(key)
    if made is None:
        made = run.prepared.shared.put(key, _warnings(run.kb, key[1:]))
    run.cites.update(made[1])
    return list(made[0])


def _warnings(kb: KnowledgeBase, ids: tuple[str, ...]) -> _Made:
    items = [kb.warnings[warning_id] for warning_id in ids]
    made = tuple(
        build(WarningOut, id=item.id, text=item.text, cite=item.cite, seeds=item.seeds)
        for item in items
    )
    return made, dict.fromkeys(ref for item in items for ref in item.cite)


def follow_up_items(run: Run, ids: list[str]) -> list[FollowUpOut]:
    key = ("follow_up", *dict.fromkeys(ids))
    made = run.prepared.shared.get(key)
    if made is None:
        made = run.prepared.shared.put(key, _follow_ups(run.kb, key[1:]))
    run.cites.update(made[1])
    return list(made[0])


def _follow_ups(kb: KnowledgeBase, ids: tuple[str, ...]) -> _Made:
    items = [kb.follow_up[i] for i in ids]
    items.sort(key=lambda f: _FOLLOW_ORDER.index(f.kind))
    made = tuple(
        build(
            FollowUpOut,
            id=f.id,
            kind=f.kind,
            text=f.text,
            plain=f.plain,
            cite=f.cite,
            seeds=f.seeds,
        )
        for f in items
    )
    return made, dict.fromkeys(ref for item in items for ref in item.cite)
