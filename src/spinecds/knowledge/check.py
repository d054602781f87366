"""``spinecds kb check``: consistency checks that a schema alone cannot make.

It fails on: a citation of an unknown reference; a procedure not in the ACR tables; a term
not in the vocabulary; an unknown fact or fact value; a rule that can never fire (alone, or
because earlier rules of a first-match family always win); two rules that contradict each
other under the same conditions (identical conditions with different outcomes, or plan
steps declared in conflict that can be chosen together); and an urgency rule that is not
monotone (uses ``absent``, ``not`` or a derived fact), which would let a new red flag lower
urgency or a newly absent finding raise it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spinecds.engine.conditions import Condition, Leaf, Not, leaves
from spinecds.engine.imaging import REGION_SLOT
from spinecds.errors import FieldProblem
from spinecds.knowledge.loader import CompiledRule, KnowledgeBase
from spinecds.knowledge.satisfy import Formula, conjoin, domains_for, not_true, satisfiable

__all__ = ["CheckReport", "check_kb", "fact_values"]

ORDERED = ("variants", "imaging")
REGIONS = ("cervical", "thoracic", "lumbar")
_LEAF_KINDS = {
    "complaint": "complaint",
    "done": "study",
    "surgery": "procedure",
    "treated": "treatment",
    "elsewhere": "imaging_finding",
}
# Facts the engine computes itself (engine/facts.py, assess.py, order_review.py).
_BOOLEAN_FACTS = (
    "operated_region",
    "operated_elsewhere",
    "anterior_cervical",
    "fusion_region",
    "multilevel",
    "next_mri",
    "next_contrast_mri",
    "next_iodinated_contrast",
    "next_flexion_extension",
    "next_ionising",
    "order_contrast",
    "order_iodinated",
    "order_ionising",
    "order_in_next",
    "order_first_choice",
    "order_done",
)
_NUMERIC_FACTS = ("age", "symptom_weeks", "weeks_since_surgery", "motor_grade", "next_count")
_ORDER_MODALITIES = (
    "radiography",
    "flexion_extension",
    "ct",
    "ct_contrast",
    "ct_myelography",
    "mri",
    "mri_contrast",
    "other",
)


@dataclass
class CheckReport:
    summary: list[str] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)


def fact_values(kb: KnowledgeBase) -> dict[str, list[Any]]:
    """Every enumerated fact and its possible values (derived facts from the context file)."""
    vocab = kb.vocabulary
    values: dict[str, list[Any]] = {name: [True, False] for name in _BOOLEAN_FACTS}
    # None stands for unknown: a fact the case leaves open.
    values.update(
        region=list(REGIONS),
        phase=[b.value for b in kb.context.phases] + ["none", None],
        episode=[b.value for b in kb.context.episodes] + [None],
        course=[*vocab.ids("course"), None],
        sex=[*vocab.ids("sex"), None],
        pathway=[p.id for p in kb.context.pathways],
        urgency=vocab.ids("urgency"),
        acr=list(kb.variants),
        order_modality=list(_ORDER_MODALITIES),
    )
    values["multilevel"] = [True, False, None]
    for derived in kb.context.derived:
        values[derived.fact] = [v.value for v in derived.values] + [None]
    return values


def check_kb(kb: KnowledgeBase) -> CheckReport:
    report = CheckReport()
    checker = _Checker(kb, report.problems)
    checker.references()
    checker.outputs()
    checker.vocabulary_of_conditions()
    checker.monotone_urgency()
    checker.reachability()
    checker.contradictions()
    checker.acr_tables()
    from spinecds.fhir.mapcheck import check_code_map  # kb/fhir: the FHIR code map

    report.problems.extend(check_code_map(kb))
    from spinecds.nlp.rules import check_kb_rules  # kb/nlp: the text-reading rules

    report.problems.extend(check_kb_rules(kb))
    from spinecds.service.cds.config import check_cds_config  # kb/cds: the CDS Hooks services

    report.problems.extend(check_cds_config(kb))
    rules = kb.all_rules()
    report.summary = [
        f"references: {len(kb.references)}; "
        f"ACR topics: {len(kb.topics)}, variants: {len(kb.variants)}",
        f"rules: {len(rules)} in {len(kb.rules)} families; plan steps: {len(kb.plan_steps)}; "
        f"warnings: {len(kb.warnings)}; diagnoses: {len(kb.differential.diagnoses)}",
        f"problems found: {len(report.problems)}",
    ]
    return report


class _Checker:
    def __init__(self, kb: KnowledgeBase, problems: list[FieldProblem]) -> None:
        self.kb = kb
        self.problems = problems
        self.enums = fact_values(kb)

    def add(self, where: str, problem: str, fix: str = "") -> None:
        self.problems.append(FieldProblem(where, problem, fix))

    # -- citations ------------------------------------------------------------------------

    def _cited(self) -> Iterator[tuple[str, list[str]]]:
        kb = self.kb
        for rule in kb.all_rules():
            yield f"{rule.source}:{rule.id}", rule.rule.cite
        for step in kb.plan_steps.values():
            yield f"plan.yaml:{step.id}", step.cite
        for warning in kb.warnings.values():
            yield f"warnings.yaml:{warning.id}", warning.cite
        for item in kb.follow_up.values():
            yield f"follow_up.yaml:{item.id}", item.cite
        for dx in kb.differential.diagnoses:
            yield f"differential.yaml:{dx.id}", dx.cite
        for conflict in kb.conflicts:
            for position in conflict.positions:
                yield f"conflicts.yaml:{conflict.id}.{position.id}", position.cite
        for band in [*kb.context.phases, *kb.context.episodes]:
            yield f"context.yaml:{band.value}", band.cite
        yield "context.yaml:cite", kb.context.cite
        for topic in kb.topics.values():
            yield f"acr/{topic.key}.yaml:references", topic.references

    def references(self) -> None:
        for where, cites in self._cited():
            for ref in cites:
                if ref not in self.kb.references:
                    self.add(
                        where,
                        f"cites unknown reference {ref!r}.",
                        "cite an id from references.yaml",
                    )
        for dx in self.kb.differential.diagnoses:
            if not dx.cite and not dx.unsourced:
                self.add(f"differential.yaml:{dx.id}", "has no citation and no `unsourced` note.")

    # -- outputs of rules -----------------------------------------------------------------

    def _procedure(self, where: str, name: str) -> None:
        names = [name.replace(REGION_SLOT, r) for r in REGIONS] if REGION_SLOT in name else [name]
        for resolved in names:
            if resolved.lower() not in self.kb.procedures:
                self.add(
                    where,
                    f"procedure {resolved!r} is not in the ACR tables.",
                    "use `spinecds kb procedures`",
                )

    def outputs(self) -> None:
        kb, vocab = self.kb, self.kb.vocabulary
        seen: set[str] = set()
        for rule in kb.all_rules():
            where = f"{rule.source}:{rule.id}"
            if rule.id in seen:
                self.add(where, "duplicate rule id.")
            seen.add(rule.id)
            then = rule.rule.then
            if then.pathway and not vocab.has("pathway", then.pathway):
                self.add(where, f"unknown pathway {then.pathway!r}.")
            for key in [then.acr, *then.related]:
                if key not in (None, "none") and key not in kb.variants:
                    self.add(where, f"unknown ACR variant {key!r}.", "use topic_key.number")
            for name in [
                *then.imaging,
                *then.remove_imaging,
                *then.replace_imaging,
                *then.replace_imaging.values(),
            ]:
                self._procedure(where, name)
            self._known(where, "plan step", then.plan, kb.plan_steps)
            self._known(where, "warning", then.warn, kb.warnings)
            self._known(where, "follow-up item", then.follow_up, kb.follow_up)
            self._known(where, "lab", then.labs, vocab.ids("lab"))
        for region, studies in kb.context.study_procedures.items():
            for study, name in studies.items():
                self._procedure(f"context.yaml:study_procedures.{region}.{study}", name)
                if not vocab.has("study", study):
                    self.add(f"context.yaml:study_procedures.{region}", f"unknown study {study!r}.")
        for step in kb.plan_steps.values():
            self._known(f"plan.yaml:{step.id}", "conflicting step", step.conflicts, kb.plan_steps)
            if not vocab.has("evidence", step.evidence):
                self.add(f"plan.yaml:{step.id}", f"unknown evidence level {step.evidence!r}.")

    def _known(self, where: str, what: str, ids: Iterable[str], known: Iterable[str]) -> None:
        pool = set(known)
        for item in ids:
            if item not in pool:
                self.add(where, f"unknown {what} {item!r}.")

    # -- vocabulary and facts in conditions -----------------------------------------------

    def _conditions(self) -> Iterator[tuple[str, Condition]]:
        for rule in self.kb.all_rules():
            yield f"{rule.source}:{rule.id}", rule.condition
        for key, compiled in self.kb.compiled.items():
            yield key, compiled.condition

    def vocabulary_of_conditions(self) -> None:
        vocab = self.kb.vocabulary
        facts = set(self.enums) | set(_NUMERIC_FACTS)
        for where, cond in self._conditions():
            for leaf in leaves(cond):
                if leaf.kind in ("present", "absent"):
                    if not (
                        vocab.has("finding", leaf.name) or vocab.has("imaging_finding", leaf.name)
                    ):
                        self.add(where, f"finding {leaf.name!r} is not in the vocabulary.")
                elif leaf.kind in _LEAF_KINDS:
                    if not vocab.has(_LEAF_KINDS[leaf.kind], leaf.name):
                        self.add(
                            where,
                            f"{_LEAF_KINDS[leaf.kind]} {leaf.name!r} is not in the vocabulary.",
                        )
                elif leaf.kind == "fact":
                    self._fact(where, leaf, facts)

    def _fact(self, where: str, leaf: Leaf, facts: set[str]) -> None:
        if leaf.name not in facts:
            self.add(
                where, f"unknown fact {leaf.name!r}.", f"known facts: {', '.join(sorted(facts))}"
            )
            return
        if leaf.name in self.enums and leaf.op in ("eq", "in"):
            wanted = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            for value in wanted:
                if value not in self.enums[leaf.name]:
                    self.add(
                        where,
                        f"fact {leaf.name} can never be {value!r}.",
                        f"values: {self.enums[leaf.name]}",
                    )

    # -- monotone urgency -----------------------------------------------------------------

    def monotone_urgency(self) -> None:
        derived = {d.fact for d in self.kb.context.derived}
        for rule in self.kb.all_rules():
            if rule.rule.then.urgency is None:
                continue
            where = f"{rule.source}:{rule.id}"
            if _has_negation(rule.condition):
                self.add(
                    where,
                    "sets urgency but uses `absent` or `not`.",
                    "urgency rules may use present findings only",
                )
            for leaf in leaves(rule.condition):
                if leaf.kind == "fact" and leaf.name in derived:
                    self.add(
                        where,
                        f"sets urgency from derived fact {leaf.name!r}.",
                        "use the findings (a macro) instead",
                    )

    # -- reachability and contradictions --------------------------------------------------

    def _sat(self, cond: Formula) -> bool | None:
        return satisfiable(cond, domains_for(cond, self.enums))

    def reachability(self) -> None:
        for family, rules in self.kb.rules.items():
            earlier: list[CompiledRule] = []
            for rule in rules:
                cond: Formula = rule.condition
                if family in ORDERED and earlier:
                    cond = conjoin(cond, *(not_true(e.condition) for e in earlier))
                if self._sat(cond) is False:
                    why = (
                        "earlier rules always win"
                        if family in ORDERED and self._sat(rule.condition)
                        else "its condition is never true"
                    )
                    self.add(
                        f"{rule.source}:{rule.id}",
                        f"can never fire: {why}.",
                        "fix or remove the rule",
                    )
                earlier.append(rule)

    def contradictions(self) -> None:
        for family in ORDERED:
            rules = self.kb.rules[family]
            for i, first in enumerate(rules):
                for second in rules[i + 1 :]:
                    if first.condition == second.condition and first.rule.then != second.rule.then:
                        self.add(
                            f"{second.source}:{second.id}",
                            f"contradicts {first.id}: same conditions, different outcome.",
                        )
        self._plan_conflicts()

    def _plan_conflicts(self) -> None:
        choosers: dict[str, list[CompiledRule]] = {}
        for rule in self.kb.all_rules():
            for step_id in rule.rule.then.plan:
                choosers.setdefault(step_id, []).append(rule)
        for step in self.kb.plan_steps.values():
            for other in step.conflicts:
                for a in choosers.get(step.id, []):
                    for b in choosers.get(other, []):
                        if self._sat(conjoin(a.condition, b.condition)):
                            self.add(
                                f"{a.source}:{a.id}",
                                f"contradicts {b.id}: both can fire, choosing conflicting "
                                f"steps {step.id} and {other}.",
                                "make their conditions exclusive",
                            )

    # -- ACR tables -----------------------------------------------------------------------

    def acr_tables(self) -> None:
        bands = {
            "Usually Appropriate": range(7, 10),
            "May Be Appropriate": range(4, 7),
            "May Be Appropriate (Disagreement)": range(4, 7),
            "Usually Not Appropriate": range(1, 4),
        }
        for key, (topic, variant) in self.kb.variants.items():
            where = f"acr/{topic.key}.yaml:{key}"
            if not variant.ratings:
                self.add(where, "has no ratings.")
            for rating in variant.ratings:
                if rating.category not in bands:
                    self.add(where, f"unknown category {rating.category!r} for {rating.procedure}.")
                elif rating.rating is not None and rating.rating not in bands[rating.category]:
                    self.add(
                        where,
                        f"rating {rating.rating} of {rating.procedure} is outside its category.",
                    )


def _has_negation(cond: Condition) -> bool:
    if isinstance(cond, Not):
        return True
    if isinstance(cond, Leaf):
        return cond.kind == "absent"
    return any(_has_negation(c) for c in cond.children)
