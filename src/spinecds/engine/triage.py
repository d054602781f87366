"""Triage: urgency, pathway, referral and labs from the red-flag rules.

Everything here that depends only on the knowledge base (each rule's urgency, trace effect
and do-now item; the pathway choice for a given set of fired rules; what an unknown rule
would change, given the triage so far) is worked out once and kept in ``Prepared.memo``.
Rules are keyed by identity, not id: ids are unique only once ``kb check`` has passed, and
the memo lives on the knowledge base that holds the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from spinecds.assessment import OtherPathway, WarningOut, build
from spinecds.engine.run import REFERRAL_RANK, URGENCY_RANK, Pending, Run
from spinecds.engine.text import effect, pairs
from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase

__all__ = ["Triage"]


@dataclass(frozen=True, slots=True)
class _Fired:
    """What a triage rule does when it fires (the same for every case)."""

    urgency: str
    rank: int  # URGENCY_RANK[urgency]
    precedence: int  # position of its pathway in the knowledge base's order (-1: none)
    effect: str
    do_now: WarningOut | None


_Ask = tuple[str, int] | None  # (would change, priority) or nothing worth asking
_Choice = tuple[str, tuple[OtherPathway, ...], str]  # pathway, other pathways, reason


class Triage:
    def __init__(self, run: Run) -> None:
        fired, unknown = run.evaluate("triage")
        memo = run.prepared.memo
        statics: dict[int, _Fired] | None = memo.get(("triage",))
        if statics is None:
            statics = memo[("triage",)] = _statics(run.kb)
        self.urgency = "routine"
        self.referral = "none"
        self.labs: list[str] = []
        self.do_now: list[WarningOut] = []
        candidates: list[tuple[int, int, CompiledRule]] = []
        for rule in fired:
            then = rule.rule.then
            info = statics[id(rule)]
            if info.rank > URGENCY_RANK[self.urgency]:
                self.urgency = info.urgency
            if then.referral and REFERRAL_RANK[then.referral] > REFERRAL_RANK[self.referral]:
                self.referral = then.referral
            if then.labs:
                self.labs += [lab for lab in then.labs if lab not in self.labs]
            if then.pathway:
                candidates.append((-info.rank, info.precedence, rule))
            if info.do_now is not None:
                self.do_now.append(info.do_now)
            run.record(rule, info.effect)
        # The choice depends only on which pathway rules fired, in which order.
        key = ("triage-choice", *(id(rule) for _, _, rule in candidates))
        choice: _Choice | None = memo.get(key)
        if choice is None:
            choice = memo[key] = _choose(candidates)
        self.pathway, others, self.reason = choice
        self.others = list(others)
        run.values["x:pathway"] = self.pathway
        run.values["x:urgency"] = self.urgency
        # What an unknown rule would change depends only on the triage so far: the question
        # source (or None: nothing to ask) is made once per such state and rule.
        state = ("triage-ask", self.urgency, self.pathway, self.referral, *self.labs)
        asks: dict[int, Pending | None] | None = memo.get(state)
        if asks is None:
            asks = memo[state] = {}
        for rule in unknown:
            if id(rule) in asks:
                found = asks[id(rule)]
            else:
                found = asks[id(rule)] = self._pending(rule, run.kb)
            if found is not None:
                run.pending.append(found)

    def _pending(self, rule: CompiledRule, kb: KnowledgeBase) -> Pending | None:
        change = self._would_change(rule, kb)
        return Pending(rule, rule.id, *change) if change is not None and rule.asks else None

    def _would_change(self, rule: CompiledRule, kb: KnowledgeBase) -> _Ask:
        """What this unknown rule would change if it were true (None: nothing)."""
        precedence = {p.id: i for i, p in enumerate(kb.context.pathways)}
        then = rule.rule.then
        changes = []
        if then.urgency and URGENCY_RANK[then.urgency] > URGENCY_RANK[self.urgency]:
            changes.append(f"urgency would become {then.urgency}")
        if (
            then.pathway
            and precedence[then.pathway] < precedence[self.pathway]
            and then.pathway != self.pathway
        ):
            if not then.urgency or URGENCY_RANK[then.urgency] >= URGENCY_RANK[self.urgency]:
                changes.append(f"pathway would become {then.pathway}")
        if then.referral and REFERRAL_RANK[then.referral] > REFERRAL_RANK[self.referral]:
            changes.append(f"referral would become {then.referral}")
        new_labs = [lab for lab in then.labs if lab not in self.labs]
        if new_labs:
            changes.append(f"would add {', '.join(new_labs)}")
        if not changes:
            return None
        priority = 2 - URGENCY_RANK.get(then.urgency or "routine", 0) if then.urgency else 3
        return f"{'; '.join(changes)} ({rule.rule.title.lower()})", priority


def _statics(kb: KnowledgeBase) -> dict[int, _Fired]:
    precedence = {p.id: i for i, p in enumerate(kb.context.pathways)}
    default_urgency = {p.id: p.default_urgency for p in kb.context.pathways}
    out = {}
    for rule in kb.rules["triage"]:
        then = rule.rule.then
        urgency = then.urgency or (default_urgency[then.pathway] if then.pathway else "routine")
        do_now = None
        if then.do_now:
            do_now = build(
                WarningOut,
                id=rule.id,
                text=then.do_now,
                cite=rule.rule.cite,
                seeds=rule.rule.seeds,
            )
        out[id(rule)] = _Fired(
            urgency,
            URGENCY_RANK[urgency],
            precedence[then.pathway] if then.pathway else -1,
            effect(pairs(then.pathway, urgency, then.referral), [], [], then.labs),
            do_now,
        )
    return out


def _choose(candidates: list[tuple[int, int, CompiledRule]]) -> _Choice:
    ordered = sorted(candidates, key=lambda c: (c[0], c[1]))
    if not ordered:  # the catch-all rules (post_surgical, surgery_naive) were removed
        raise KnowledgeBaseError(
            "No triage rule set a pathway for this case.",
            [FieldProblem("rules/triage.yaml", "no catch-all pathway rule fired.", "restore them")],
        )
    chosen = ordered[0][2]
    pathway = str(chosen.rule.then.pathway)
    others = _others(ordered, pathway)
    return pathway, tuple(others), _pathway_reason(chosen, others)


def _others(candidates: list[tuple[int, int, CompiledRule]], chosen: str) -> list[OtherPathway]:
    seen = {chosen}
    out = []
    for neg_urgency, _, rule in candidates:
        pathway = str(rule.rule.then.pathway)
        if pathway not in seen:
            seen.add(pathway)
            urgency = next(u for u, r in URGENCY_RANK.items() if r == -neg_urgency)
            out.append(build(OtherPathway, pathway=pathway, urgency=urgency, rule=rule.id))
    return out


def _pathway_reason(chosen: CompiledRule, others: list[OtherPathway]) -> str:
    reason = chosen.rule.title + "."
    if others:
        listed = ", ".join(f"{o.pathway} ({o.urgency})" for o in others)
        reason += (
            f" Also met: {listed}. The more urgent pathway is followed; at equal urgency the one "
            "listed first in the knowledge base's pathway order. The other pathways' actions still "
            "appear under do now."
        )
    return reason
