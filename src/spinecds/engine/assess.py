"""``assess(case, kb) -> Assessment``: the one pure function every interface calls.

Stages run in a fixed order, each reading the facts the earlier ones set:
triage (urgency, pathway) -> ACR variant -> next study -> adjustments (contraindications,
timing) -> results, plan, pitfalls, follow-up -> differential, order review, conflicts ->
questions. All clinical content comes from the knowledge base; this module only applies it.
"""

from __future__ import annotations

from spinecds.assessment import (
    AcrBlock,
    AcrRatingOut,
    Assessment,
    ImagingChoice,
    OtherPathway,
    RelatedVariant,
    TraceEntry,
    WarningOut,
    build,
)
from spinecds.case import Case
from spinecds.engine.conflicts import conflicts
from spinecds.engine.differential import differential
from spinecds.engine.facts import case_facts
from spinecds.engine.imaging import next_facts, rating_in, regional
from spinecds.engine.order_review import review_order
from spinecds.engine.outputs import follow_up_items, plan_items, warning_items
from spinecds.engine.questions import questions
from spinecds.engine.run import REFERRAL_RANK, URGENCY_RANK, Run
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase, default_kb

__all__ = ["assess"]


def assess(case: Case, kb: KnowledgeBase | None = None) -> Assessment:
    kb = kb or default_kb()
    run = Run(case, kb, case_facts(case, kb))
    _trace_derived(run)
    triage = _Triage(run)
    acr_key, related = _variant(run)
    studies, why, imaging_rule = _next_imaging(run, acr_key)
    studies, adjust_warns = _adjust(run, studies)
    results_fired, _ = run.evaluate("results")
    referral = triage.referral
    labs = list(triage.labs)
    plan_ids: list[tuple[str, CompiledRule]] = []
    warn_ids: list[str] = list(adjust_warns)
    follow_ids: list[str] = []
    for rule in results_fired:
        then = rule.rule.then
        if then.referral and REFERRAL_RANK[then.referral] > REFERRAL_RANK[referral]:
            referral = then.referral
        labs += [lab for lab in then.labs if lab not in labs]
        plan_ids += [(p, rule) for p in then.plan]
        warn_ids += then.warn
        run.record(
            rule,
            _effect(then.referral and f"referral {then.referral}", then.plan, then.warn, then.labs),
        )
    for family in ("management", "pitfalls", "follow_up"):
        fired, _ = run.evaluate(family)
        for rule in fired:
            then = rule.rule.then
            plan_ids += [(p, rule) for p in then.plan]
            warn_ids += then.warn
            follow_ids += then.follow_up
            run.record(rule, _effect(None, then.plan, then.warn, [], then.follow_up))
    review = review_order(run, acr_key, studies)
    return build(
        Assessment,
        case_id=case.id,
        knowledge_version=kb.version,
        urgency=triage.urgency,
        pathway=triage.pathway,
        pathway_reason=triage.reason,
        other_pathways=triage.others,
        do_now=triage.do_now,
        acr=_acr_block(run, acr_key, related),
        next_imaging=studies,
        imaging=_imaging_choices(run, acr_key, studies, why, imaging_rule),
        labs=labs,
        referral=referral,
        differential=differential(run),
        plan=plan_items(run, plan_ids),
        follow_up=follow_up_items(run, follow_ids),
        warnings=warning_items(run, warn_ids),
        order_review=review,
        citations=[],  # filled below, once every part has cited
        questions=questions(run),
        conflicts=conflicts(run, studies, why),
        context=_context(run),
        trace=run.trace,
    ).model_copy(update={"citations": list(run.cites)})


class _Triage:
    """Urgency, pathway, referral and labs from the red-flag rules."""

    def __init__(self, run: Run) -> None:
        fired, unknown = run.evaluate("triage")
        kb = run.kb
        precedence = {p.id: i for i, p in enumerate(kb.context.pathways)}
        default_urgency = {p.id: p.default_urgency for p in kb.context.pathways}
        self.urgency = "routine"
        self.referral = "none"
        self.labs: list[str] = []
        self.do_now: list[WarningOut] = []
        candidates: list[tuple[int, int, CompiledRule]] = []
        for rule in fired:
            then = rule.rule.then
            urgency = then.urgency or (default_urgency[then.pathway] if then.pathway else "routine")
            if URGENCY_RANK[urgency] > URGENCY_RANK[self.urgency]:
                self.urgency = urgency
            if then.referral and REFERRAL_RANK[then.referral] > REFERRAL_RANK[self.referral]:
                self.referral = then.referral
            self.labs += [lab for lab in then.labs if lab not in self.labs]
            if then.pathway:
                candidates.append((-URGENCY_RANK[urgency], precedence[then.pathway], rule))
            if then.do_now:
                self.do_now.append(
                    build(
                        WarningOut,
                        id=rule.id,
                        text=then.do_now,
                        cite=rule.rule.cite,
                        seeds=rule.rule.seeds,
                    )
                )
            run.record(
                rule, _effect(_pairs(then.pathway, urgency, then.referral), [], [], then.labs)
            )
        candidates.sort(key=lambda c: (c[0], c[1]))
        chosen = candidates[0][2]
        self.pathway = str(chosen.rule.then.pathway)
        self.others = _others(candidates, self.pathway)
        self.reason = _pathway_reason(chosen, self.others)
        run.values["x:pathway"] = self.pathway
        run.values["x:urgency"] = self.urgency
        for rule in unknown:
            self._maybe_ask(run, rule, precedence)

    def _maybe_ask(self, run: Run, rule: CompiledRule, precedence: dict[str, int]) -> None:
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
        if changes:
            priority = 2 - URGENCY_RANK.get(then.urgency or "routine", 0) if then.urgency else 3
            run.ask(rule, f"{'; '.join(changes)} ({rule.rule.title.lower()})", priority)


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


def _variant(run: Run) -> tuple[str | None, list[str]]:
    rule, unknown = run.first("variants")
    for skipped in unknown:
        run.ask(
            skipped,
            f"ACR variant would be {skipped.rule.then.acr} ({skipped.rule.title.lower()})",
            3,
        )
    if rule is None:
        run.values["x:acr"] = None
        return None, []
    acr = rule.rule.then.acr
    key = None if acr in (None, "none") else acr
    run.values["x:acr"] = key
    run.record(rule, f"ACR variant {key or 'none'}")
    return key, list(rule.rule.then.related)


def _next_imaging(run: Run, acr_key: str | None) -> tuple[list[str], str, CompiledRule | None]:
    rule, unknown = run.first("imaging")
    region = run.facts.region
    for skipped in unknown:
        first = skipped.rule.then.imaging[:1]
        target = regional(first[0], region) if first else "no imaging"
        run.ask(skipped, f"first study would be {target} ({skipped.rule.title.lower()})", 3)
    if rule is None:
        return [], "", None
    done = {
        name
        for study, name in run.kb.context.study_procedures.get(region, {}).items()
        if run.values.get(f"d:{study}")
    }
    studies = [s for s in (regional(n, region) for n in rule.rule.then.imaging) if s not in done]
    run.record(rule, "next imaging: " + (", ".join(studies) or "none"))
    return studies, rule.rule.then.why or "", rule


def _adjust(run: Run, studies: list[str]) -> tuple[list[str], list[str]]:
    region = run.facts.region
    run.values.update(next_facts(studies))
    fired, unknown = run.evaluate("imaging_adjust")
    warns: list[str] = []
    for rule in fired:
        then = rule.rule.then
        removed = {regional(n, region) for n in then.remove_imaging}
        swaps = {regional(a, region): regional(b, region) for a, b in then.replace_imaging.items()}
        studies = [swaps.get(s, s) for s in studies if s not in removed]
        warns += then.warn
        run.record(rule, _effect(None, [], then.warn, [], swaps=swaps, removed=sorted(removed)))
    for rule in unknown:
        then = rule.rule.then
        change = (
            "; ".join(
                [
                    f"{regional(a, region)} would be replaced by {regional(b, region)}"
                    for a, b in then.replace_imaging.items()
                    if regional(a, region) in studies
                ]
                + [f"{regional(n, region)} would be dropped" for n in then.remove_imaging]
            )
            or f"would add a caution ({rule.rule.title.lower()})"
        )
        run.ask(rule, change, 3)
    studies = list(dict.fromkeys(studies))
    run.values.update(next_facts(studies))
    return studies, warns


def _imaging_choices(
    run: Run, acr_key: str | None, studies: list[str], why: str, rule: CompiledRule | None
) -> list[ImagingChoice]:
    out = []
    for i, name in enumerate(studies):
        rating = rating_in(run.kb, acr_key, name, run.facts.region)
        out.append(
            build(
                ImagingChoice,
                procedure=name,
                category=rating.category if rating else None,
                rating=rating.rating if rating else None,
                rrl=rating.rrl if rating else None,
                rrl_dose=rating.rrl_dose if rating else None,
                why=why if i == 0 else f"Also: {why}" if rating is None else why,
                cite=rule.rule.cite if rule else [],
                seeds=rule.rule.seeds if rule else [],
            )
        )
    return out


def _acr_block(run: Run, key: str | None, related: list[str]) -> AcrBlock | None:
    if key is None:
        return None
    topic = run.kb.variants[key][0]
    run.cite(topic.references)
    cache_key = (run.kb.content_hash, key, tuple(related))
    block = _ACR_BLOCKS.get(cache_key)
    if block is None:  # the same for every case of this variant: build it once
        block = _ACR_BLOCKS[cache_key] = _new_acr_block(run, key, related)
    return block


_ACR_BLOCKS: dict[tuple[str, str, tuple[str, ...]], AcrBlock] = {}


def _new_acr_block(run: Run, key: str, related: list[str]) -> AcrBlock:
    topic, variant = run.kb.variants[key]
    return build(
        AcrBlock,
        topic=topic.topic,
        variant=variant.number,
        key=variant.key,
        description=variant.description,
        revision_year=topic.revision_year,
        source=topic.source.title,
        ratings=[
            build(
                AcrRatingOut,
                procedure=r.procedure,
                category=r.category,
                rating=r.rating,
                rrl=r.rrl,
                rrl_dose=r.rrl_dose,
            )
            for r in variant.ratings
        ],
        related=[
            build(
                RelatedVariant,
                topic=run.kb.variants[k][0].topic,
                variant=run.kb.variants[k][1].number,
                key=k,
                description=run.kb.variants[k][1].description,
            )
            for k in related
        ],
    )


def _trace_derived(run: Run) -> None:

    for derived in run.kb.context.derived:
        value = run.values.get(f"x:{derived.fact}")
        run.trace.append(
            build(
                TraceEntry,
                rule=f"derived.{derived.fact}",
                family="context",
                title=derived.description.split(".")[0],
                because=[],
                effect=f"{derived.fact} = {value if value is not None else 'unknown'}",
            )
        )


def _context(run: Run) -> dict[str, str | float | None]:
    keys = ("region", "phase", "weeks_since_surgery", "episode", "presentation", "dominant_symptom")
    return {k: run.values.get(f"x:{k}") for k in keys}


def _pairs(pathway: str | None, urgency: str | None, referral: str | None) -> str:
    parts = [
        f"pathway {pathway}" if pathway else "",
        f"urgency {urgency}" if urgency else "",
        f"referral {referral}" if referral else "",
    ]
    return ", ".join(p for p in parts if p)


def _effect(
    head: str | None,
    plan: list[str],
    warn: list[str],
    labs: list[str],
    follow: list[str] | None = None,
    swaps: dict[str, str] | None = None,
    removed: list[str] | None = None,
) -> str:
    parts = [head] if head else []
    parts += [f"labs {', '.join(labs)}"] if labs else []
    parts += [f"plan {', '.join(plan)}"] if plan else []
    parts += [f"warning {', '.join(warn)}"] if warn else []
    parts += [f"follow-up {', '.join(follow)}"] if follow else []
    parts += [f"{a} -> {b}" for a, b in (swaps or {}).items()]
    parts += [f"removed {r}" for r in removed or []]
    return "; ".join(parts) or "noted"
