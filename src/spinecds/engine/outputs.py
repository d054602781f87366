"""Plan steps, warnings and follow-up items picked by rules, resolved from the catalogues."""

from __future__ import annotations

from spinecds.assessment import FollowUpOut, PlanItem, WarningOut, build
from spinecds.engine.run import Run
from spinecds.knowledge.loader import CompiledRule

__all__ = ["PHASE_ORDER", "follow_up_items", "plan_items", "warning_items"]

PHASE_ORDER = ("now", "conservative", "medicines", "interventional", "surgical")
_FOLLOW_ORDER = ("reassess", "reimage", "return_sooner")


def plan_items(run: Run, chosen: list[tuple[str, CompiledRule]]) -> list[PlanItem]:
    """One item per step, in phase order; the rationale names the rule that chose it."""
    first_rule: dict[str, CompiledRule] = {}
    for step_id, rule in chosen:
        first_rule.setdefault(step_id, rule)
    steps = [run.kb.plan_steps[s] for s in first_rule]
    steps.sort(key=lambda s: PHASE_ORDER.index(s.phase))
    out = []
    for step in steps:
        run.cite(step.cite)
        out.append(
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
                rationale=first_rule[step.id].rule.title,
                cite=step.cite,
                seeds=step.seeds,
            )
        )
    return out


def warning_items(run: Run, ids: list[str]) -> list[WarningOut]:
    out = []
    for warning_id in dict.fromkeys(ids):
        item = run.kb.warnings[warning_id]
        run.cite(item.cite)
        out.append(build(WarningOut, id=item.id, text=item.text, cite=item.cite, seeds=item.seeds))
    return out


def follow_up_items(run: Run, ids: list[str]) -> list[FollowUpOut]:
    items = [run.kb.follow_up[i] for i in dict.fromkeys(ids)]
    items.sort(key=lambda f: _FOLLOW_ORDER.index(f.kind))
    for item in items:
        run.cite(item.cite)
    return [
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
    ]
