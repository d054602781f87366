"""Properties of ``parse_case`` and ``assess`` over generated valid cases.

The cases come from ``tests/strategies.py``, which draws every term from the knowledge-base
vocabulary. Each property states one promise of the contract in ../shared/case-format.md or
of the triage design (kb/rules/triage.yaml): it never crashes, every recommendation cites,
the JSON keeps its shape, urgency is monotone in red flags, unknown is never read as absent,
and questions and traces name only real things.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings

from spinecds import Assessment, Case, KnowledgeBase, assess, parse_case
from strategies import (
    cases,
    painful_region,
    red_flag_findings,
    red_flag_imaging_findings,
)

# The contract's order of urgency (case-format.md), written here rather than imported from
# the engine so the test does not share the code it checks.
URGENCY = {"routine": 0, "urgent": 1, "emergency": 2}
REFERRALS = {"none", "spine_surgeon", "spine_surgeon_urgent", "emergency_department"}
VERDICTS = {"appropriate", "consider_alternative", "not_appropriate"}

# Budgets: the whole file runs in about 20 s (about 35 s under coverage). The monotonicity
# properties assess each generated case once per red flag or unknown finding, so they get
# fewer examples.
# SPINECDS_PROPERTY_SCALE=20 runs twenty times as many examples for a deeper search.
_SCALE = float(os.environ.get("SPINECDS_PROPERTY_SCALE", "1"))
FAST = settings(
    max_examples=max(1, int(200 * _SCALE)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=max(1, int(60 * _SCALE)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NoneType = type(None)
# Every field of the assessment table in case-format.md, with its JSON type(s).
CONTRACT_FIELDS: dict[str, tuple[type, ...]] = {
    "case_id": (str, NoneType),
    "knowledge_version": (str,),
    "urgency": (str,),
    "pathway": (str,),
    "acr": (dict, NoneType),
    "next_imaging": (list,),
    "labs": (list,),
    "referral": (str,),
    "differential": (list,),
    "plan": (list,),
    "follow_up": (list,),
    "warnings": (list,),
    "order_review": (dict, NoneType),
    "citations": (list,),
    "questions": (list,),
    "trace": (list,),
}


def _parse(data: dict[str, Any], kb: KnowledgeBase) -> Case:
    return parse_case(data, kb.vocabulary, kb.procedures)


def _run(data: dict[str, Any], kb: KnowledgeBase) -> Assessment:
    return assess(_parse(data, kb), kb)


def _rank(data: dict[str, Any], kb: KnowledgeBase) -> int:
    return URGENCY[_run(data, kb).urgency]


def _with_finding(data: dict[str, Any], name: str, value: bool) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["findings"][name] = value
    return changed


def _with_imaging_finding(
    data: dict[str, Any], region: str, name: str, value: bool, kb: KnowledgeBase
) -> dict[str, Any]:
    """Report an imaging finding on the first study of the painful region (a new one if none).

    The engine merges findings over the region's studies (present if any says present), so
    one study saying so is enough.
    """
    changed = copy.deepcopy(data)
    for study in changed["imaging"]:
        if study["region"] == region:
            study["findings"][name] = value
            return changed
    study_id = kb.vocabulary.ids("study")[0]
    changed["imaging"].append({"study": study_id, "region": region, "findings": {name: value}})
    return changed


def _known_findings(data: dict[str, Any]) -> set[str]:
    return {name for name, value in data["findings"].items() if value is not None}


def _known_imaging_findings(data: dict[str, Any], region: str) -> set[str]:
    return {
        name
        for study in data["imaging"]
        if study["region"] == region
        for name, value in study["findings"].items()
        if value is not None
    }


def _cited(assessment: Assessment) -> Iterator[tuple[str, list[str], bool]]:
    """(where, cite list, must be non-empty) for every citable part of an assessment."""
    for item in assessment.plan:
        yield f"plan[{item.id}]", item.cite, True
    for warning in assessment.warnings:
        yield f"warnings[{warning.id}]", warning.cite, True
    for action in assessment.do_now:
        yield f"do_now[{action.id}]", action.cite, True
    for follow in assessment.follow_up:
        yield f"follow_up[{follow.id}]", follow.cite, True
    for choice in assessment.imaging:
        yield f"imaging[{choice.procedure}]", choice.cite, True
    if assessment.order_review is not None:
        for reason in assessment.order_review.reasons:
            yield f"order_review.reasons[{reason.id}]", reason.cite, True
    # Not required to cite, but whatever they cite must be real and listed.
    for dx in assessment.differential:
        yield f"differential[{dx.id}]", dx.cite, False
    for conflict in assessment.conflicts:
        for position in conflict.positions:
            yield f"conflicts[{conflict.id}].{position.id}", position.cite, False


def _rule_ids(kb: KnowledgeBase) -> dict[str, str]:
    """Every rule id in the knowledge base -> its family."""
    return {rule.id: family for family, rules in kb.rules.items() for rule in rules}


def _derived_ids(kb: KnowledgeBase) -> set[str]:
    """Context facts the engine traces as ``derived.<fact>`` (kb/context.yaml, derived)."""
    return {f"derived.{d.fact}" for d in kb.context.derived}


# --- it runs ---------------------------------------------------------------------------------


@FAST
@given(data=cases())
def test_generated_cases_parse_and_assess(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    case = _parse(data, kb)
    assert isinstance(case, Case)
    assessment = assess(case, kb)
    assert isinstance(assessment, Assessment)
    given_id = data.get("id")
    assert assessment.case_id == (None if given_id is None else str(given_id))


# --- every recommendation cites --------------------------------------------------------------


@FAST
@given(data=cases())
def test_every_recommendation_cites_known_references(
    kb: KnowledgeBase, data: dict[str, Any]
) -> None:
    assessment = _run(data, kb)
    listed = set(assessment.citations)
    assert len(listed) == len(assessment.citations), "citations has duplicates"
    unknown = listed - set(kb.references)
    assert not unknown, f"citations name references not in references.yaml: {sorted(unknown)}"
    for where, cite, required in _cited(assessment):
        if required:
            assert cite, f"{where} has no citation"
        missing = set(cite) - set(kb.references)
        assert not missing, f"{where} cites unknown references {sorted(missing)}"
        unlisted = set(cite) - listed
        assert not unlisted, f"{where} cites {sorted(unlisted)}, absent from citations"


# --- the JSON keeps the contract -------------------------------------------------------------


def _check_acr(acr: dict[str, Any], kb: KnowledgeBase) -> None:
    for key, kind in (("topic", str), ("description", str), ("ratings", list)):
        assert isinstance(acr.get(key), kind), f"acr.{key} is {acr.get(key)!r}"
    assert acr["variant"] is None or isinstance(acr["variant"], int)
    assert acr["key"] in kb.variants, f"acr.key {acr['key']!r} is not a KB variant"
    topic, variant = kb.variants[acr["key"]]
    assert (acr["topic"], acr["variant"], acr["description"]) == (
        topic.topic,
        variant.number,
        variant.description,
    )
    categories = {r.category for ratings in kb.ratings.values() for r in ratings.values()}
    procedures = set(kb.procedures.values())
    for rating in acr["ratings"]:
        assert {"procedure", "category", "rrl"} <= set(rating)
        assert rating["procedure"] in procedures, f"ACR procedure {rating['procedure']!r}"
        assert rating["category"] in categories, f"ACR category {rating['category']!r}"
    assert [(r["procedure"], r["category"]) for r in acr["ratings"]] == [
        (r.procedure, r.category) for r in variant.ratings
    ], "acr.ratings differ from the KB table of that variant"


@FAST
@given(data=cases())
def test_json_fits_the_contract(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    vocab = kb.vocabulary
    out = _run(data, kb).to_json_dict()
    doc = json.loads(json.dumps(out))
    assert doc == out, "to_json_dict() does not survive json.dumps/loads unchanged"

    for name, kinds in CONTRACT_FIELDS.items():
        assert name in doc, f"contract field {name!r} missing"
        assert isinstance(doc[name], kinds), f"{name} is {type(doc[name]).__name__}"
    assert doc["urgency"] in URGENCY
    assert doc["pathway"] in vocab.ids("pathway")
    assert doc["referral"] in REFERRALS

    procedures = set(kb.procedures.values())
    for name in doc["next_imaging"]:
        assert name in procedures, f"next_imaging {name!r} is not an ACR procedure name"
    assert all(isinstance(lab, str) for lab in doc["labs"])
    assert len(set(doc["labs"])) == len(doc["labs"]), f"labs repeat: {doc['labs']}"

    if doc["acr"] is not None:
        _check_acr(doc["acr"], kb)

    dx_ids = set(vocab.ids("differential"))
    for dx in doc["differential"]:
        assert dx["id"] in dx_ids, f"differential id {dx['id']!r} not in the vocabulary"
    for part in ("plan", "follow_up", "warnings"):
        for item in doc[part]:
            assert isinstance(item, dict) and isinstance(item.get("id"), str)
    for warning in doc["warnings"]:
        assert isinstance(warning.get("text"), str) and warning["text"]
    assert all(isinstance(ref, str) for ref in doc["citations"])
    for question in doc["questions"]:
        assert isinstance(question, dict) and isinstance(question.get("id"), str)
    for entry in doc["trace"]:
        assert isinstance(entry, dict) and isinstance(entry.get("rule"), str)

    review = doc["order_review"]
    if data.get("proposed_order") is None:
        assert review is None, "order_review without a proposed_order"
    else:
        assert review is not None, "proposed_order given but no order_review"
        assert review["verdict"] in VERDICTS
        # The order comes back spelt as the ACR tables spell it.
        assert review["order"] == kb.procedures[" ".join(data["proposed_order"].split()).lower()]
        assert isinstance(review["alternatives"], list) and isinstance(review["reasons"], list)
        assert set(review["alternatives"]) <= set(doc["next_imaging"])


# --- urgency is monotone in red flags --------------------------------------------------------


@SLOW
@given(data=cases())
def test_adding_a_red_flag_never_lowers_urgency(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    base = _rank(data, kb)
    for name in red_flag_findings(kb):
        rank = _rank(_with_finding(data, name, True), kb)
        assert rank >= base, f"setting finding {name}=true lowered urgency {base} -> {rank}"
    region = painful_region(data, kb)
    for name in red_flag_imaging_findings(kb):
        rank = _rank(_with_imaging_finding(data, region, name, True, kb), kb)
        assert rank >= base, f"imaging {name}=true ({region}) lowered urgency {base} -> {rank}"


@SLOW
@given(data=cases())
def test_unknown_to_absent_never_raises_urgency(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    vocab = kb.vocabulary
    base = _rank(data, kb)
    known = _known_findings(data)
    for name in vocab.ids("finding"):
        if name in known or vocab.attr("finding", name, "type") == "number":
            continue
        rank = _rank(_with_finding(data, name, False), kb)
        assert rank <= base, f"unknown finding {name} set absent raised urgency {base} -> {rank}"
    region = painful_region(data, kb)
    seen = _known_imaging_findings(data, region)
    for name in vocab.ids("imaging_finding"):
        if name in seen:
            continue
        rank = _rank(_with_imaging_finding(data, region, name, False, kb), kb)
        assert rank <= base, f"unknown imaging {name} set absent raised urgency {base} -> {rank}"


# --- questions and trace name only real, unknown things ---------------------------------------


def _surgeries_here(data: dict[str, Any], region: str, kb: KnowledgeBase) -> list[dict[str, Any]]:
    return [
        s
        for s in data["surgeries"]
        if kb.vocabulary.attr("procedure", s["procedure"], "region") == region
    ]


@FAST
@given(data=cases())
def test_questions_ask_only_about_unknowns(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    vocab = kb.vocabulary
    assessment = _run(data, kb)
    region = painful_region(data, kb)
    known = _known_findings(data)
    seen = _known_imaging_findings(data, region)
    here = _surgeries_here(data, region, kb)
    rule_ids = set(_rule_ids(kb)) | _derived_ids(kb)
    for q in assessment.questions:
        if q.field.startswith("findings."):
            name = q.field.removeprefix("findings.")
            assert vocab.has("finding", name), f"question on unknown finding {name!r}"
            assert name not in known, f"asks about {name}, given as {data['findings'][name]!r}"
        elif q.field.startswith("imaging[].findings."):
            name = q.field.removeprefix("imaging[].findings.")
            assert vocab.has("imaging_finding", name), f"question on unknown imaging {name!r}"
            assert name not in seen, f"asks about imaging {name}, already reported ({region})"
        elif q.field in ("age", "symptom_weeks", "course"):
            assert data.get(q.field) is None, f"asks for {q.field}, given as {data[q.field]!r}"
        elif q.field == "surgeries[].weeks_ago":
            assert any(not {"weeks_ago", "months_ago", "years_ago"} & set(s) for s in here)
        elif q.field == "surgeries[].levels":
            assert any(not s.get("levels") for s in here)
        assert q.rules, f"question {q.id} names no rule"
        unknown_rules = set(q.rules) - rule_ids
        assert not unknown_rules, f"question {q.id} names unknown rules {sorted(unknown_rules)}"


@FAST
@given(data=cases())
def test_trace_names_real_rules(kb: KnowledgeBase, data: dict[str, Any]) -> None:
    families = _rule_ids(kb)
    derived = _derived_ids(kb)
    for entry in _run(data, kb).trace:
        if entry.rule in derived:
            assert entry.family == "context"
            continue
        assert entry.rule in families, f"trace names unknown rule {entry.rule!r}"
        assert entry.family == families[entry.rule], f"{entry.rule} traced as {entry.family}"


# --- the benchmark's own generator makes valid cases -----------------------------------------


def _bench_module() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "assess_throughput.py"
    name = "spinecds_bench_assess_throughput"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_bench_generator_is_valid_and_deterministic(kb: KnowledgeBase) -> None:
    bench = _bench_module()
    first = bench.generate_cases(300, seed=7, kb=kb)
    assert first == bench.generate_cases(300, seed=7, kb=kb)
    for data in first:
        assert isinstance(assess(_parse(data, kb), kb), Assessment)
