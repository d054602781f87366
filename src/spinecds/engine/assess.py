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
    RelatedVariant,
    TraceEntry,
    build,
    builder,
)
from spinecds.case import Case
from spinecds.engine.conflicts import conflicts
from spinecds.engine.differential import differential
from spinecds.engine.facts import case_facts
from spinecds.engine.order_review import review_order
from spinecds.engine.outputs import follow_up_items, plan_items, warning_items
from spinecds.engine.questions import ASKING, compile_asking, derived_sources, questions
from spinecds.engine.run import REFERRAL_RANK, Run
from spinecds.engine.stages import adjust, imaging_choices, next_imaging, variant
from spinecds.engine.triage import Triage
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase, default_kb

__all__ = ["COMPILE_ALL_AFTER", "assess", "compile_all"]

# The engine's code for a rule's trace or questions is generated when the rule first needs
# it, so a one-case command-line run builds only what it uses. A process that assesses many
# cases builds the rest at once (about 50 ms) at its COMPILE_ALL_AFTER-th assessment rather
# than now and then later on.
COMPILE_ALL_AFTER = 20


def compile_all(run: Run) -> None:
    """Generate now all the code that assessments with this knowledge base may need."""
    prep, kb = run.prepared, run.kb
    for family in ("triage", "imaging_adjust"):
        prep.every(family)
    for family in ("variants", "imaging"):
        prep.first(family)
    prep.together("results", "management", "pitfalls", "follow_up")
    prep.together("order_review")
    for rule in kb.all_rules():
        run.traced(rule)
    asking = [r for f in ASKING for r in kb.rules[f] if r.asks]
    sources = [s[0] for found in derived_sources(kb).values() for s in found]
    for cond in [*asking, *sources]:
        cond.lazy("asking", lambda c: compile_asking(c, kb.vocabulary))


def assess(case: Case, kb: KnowledgeBase | None = None) -> Assessment:
    kb = kb or default_kb()
    run = Run(case, kb, case_facts(case, kb))
    if run.prepared.count() == COMPILE_ALL_AFTER:
        compile_all(run)
    _trace_derived(run)
    triage = Triage(run)
    acr_key, related = variant(run)
    studies, why, imaging_rule = next_imaging(run)
    studies, adjust_warns = adjust(run, studies)
    # Nothing writes to the values between these four families: one call reads them all.
    late = run.prepared.together("results", "management", "pitfalls", "follow_up")(run.values)
    effects = run.prepared.effects
    referral = triage.referral
    labs = list(triage.labs)
    plan_ids: list[tuple[str, CompiledRule]] = []
    warn_ids: list[str] = list(adjust_warns)
    follow_ids: list[str] = []
    for rule in late[0]:
        then = rule.rule.then
        if then.referral and REFERRAL_RANK[then.referral] > REFERRAL_RANK[referral]:
            referral = then.referral
        if then.labs:
            labs += [lab for lab in then.labs if lab not in labs]
        if then.plan:
            plan_ids += [(p, rule) for p in then.plan]
        warn_ids += then.warn
        run.record(rule, effects[id(rule)])
    for fired in late[1:]:
        for rule in fired:
            then = rule.rule.then
            if then.plan:
                plan_ids += [(p, rule) for p in then.plan]
            warn_ids += then.warn
            follow_ids += then.follow_up
            run.record(rule, effects[id(rule)])
    review = review_order(run, acr_key, studies)
    # The parts that cite, in the order they always have (it is the order of `citations`).
    acr = _acr_block(run, acr_key, related)
    imaging = imaging_choices(run, acr_key, studies, why, imaging_rule)
    ranked = differential(run)
    plan = plan_items(run, plan_ids)
    follow_up = follow_up_items(run, follow_ids)
    warnings = warning_items(run, warn_ids)
    asked = questions(run)
    disputed = conflicts(run, studies, why)
    return _assessment(
        case.id,
        run.prepared.version,
        triage.urgency,
        triage.pathway,
        triage.reason,
        triage.others,
        triage.do_now,
        acr,
        studies,
        imaging,
        labs,
        referral,
        ranked,
        plan,
        follow_up,
        warnings,
        review,
        list(run.cites),
        asked,
        disputed,
        _context(run),
        run.trace,
    )


_assessment = builder(
    Assessment,
    "case_id",
    "knowledge_version",
    "urgency",
    "pathway",
    "pathway_reason",
    "other_pathways",
    "do_now",
    "acr",
    "next_imaging",
    "imaging",
    "labs",
    "referral",
    "differential",
    "plan",
    "follow_up",
    "warnings",
    "order_review",
    "citations",
    "questions",
    "conflicts",
    "context",
    "trace",
)


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
    memo, values = run.prepared.memo, run.values
    for i, (derived, key) in enumerate(run.prepared.derived_keys):
        value = values.get(key)
        said = f"{derived.fact} = {value if value is not None else 'unknown'}"
        entry = memo.get(("derived", i, said))
        if entry is None:  # the entry depends on nothing else: build it once
            entry = memo[("derived", i, said)] = build(
                TraceEntry,
                rule=f"derived.{derived.fact}",
                family="context",
                title=derived.description.split(".")[0],
                because=[],
                effect=said,
            )
        run.trace.append(entry)


def _context(run: Run) -> dict[str, str | float | None]:
    values = run.values
    return {k: values.get(key) for k, key in _CONTEXT}


_CONTEXT = tuple(
    (k, f"x:{k}")
    for k in (
        "region",
        "phase",
        "weeks_since_surgery",
        "episode",
        "presentation",
        "dominant_symptom",
    )
)
