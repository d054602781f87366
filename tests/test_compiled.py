"""The generated code of the engine gives exactly what the interpretive walk gives.

spinecds compiles each rule family, the differential, the conflict positions, the derived
facts, the trace's "because" and the questions' unknown leaves into generated Python
(spinecds.engine.codegen, .walks, .prepared). Here every one of them is checked against the
reference path (``conditions.evaluate`` and ``conditions.explain``, and the original wording
of a trace leaf, restated below) on a few thousand cases from the benchmark's generator,
with the values as they stand both after the case is read and at the end of the assessment.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import spinecds.engine.assess as assess_module
from spinecds import KnowledgeBase, assess, parse_case
from spinecds.engine.conditions import TRUE, UNKNOWN, Condition, Leaf, evaluate, explain, leaves
from spinecds.engine.facts import case_facts
from spinecds.engine.prepared import MIN_SCORE, prepared
from spinecds.engine.run import Run
from spinecds.engine.walks import compile_because, compile_unknown_items
from spinecds.knowledge.loader import default_root, load_kb

CASES = 1500  # about 10 s in all


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


@pytest.fixture(scope="module")
def raw_cases(kb: KnowledgeBase) -> list[dict[str, Any]]:
    bench = _bench_module()
    return list(bench.generate_cases(CASES // 2, seed=11, kb=kb)) + list(
        bench.generate_cases(CASES - CASES // 2, seed=20261121, kb=kb)
    )


@pytest.fixture(scope="module")
def snapshots(kb: KnowledgeBase, raw_cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Values after the case is read, and at the end of its assessment (with the pathway,
    the ACR variant, the next studies and the proposed order's facts set)."""
    runs: list[Run] = []
    real = assess_module.questions

    def capture(run: Run) -> Any:
        runs.append(run)
        return real(run)

    out = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assess_module, "questions", capture)
        for data in raw_cases:
            case = parse_case(data, kb.vocabulary, kb.procedures)
            out.append(dict(case_facts(case, kb).values))
            assess(case, kb)
    return out + [dict(run.values) for run in runs]


def _conditions(kb: KnowledgeBase) -> list[Condition]:
    rules = [rule.condition for rule in kb.all_rules()]
    return rules + [compiled.condition for compiled in kb.compiled.values()]


def _reference_describe(leaf: Leaf, values: dict[str, Any], value: float) -> str:
    """How the trace worded a leaf before the walk was compiled (kept here verbatim)."""
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


def _reference_settles(values: dict[str, Any], cond: Condition, leaf: Leaf) -> bool:
    """Would answering this one finding alone make the condition true (as questions asked
    it before): set it on a copy of the values and evaluate the whole condition again."""
    if leaf.kind not in ("present", "absent"):
        return False
    tried = {**values, leaf.key: TRUE if leaf.kind == "present" else 0.0}
    return evaluate(cond, tried) == TRUE


def _yes(leaf: Leaf) -> float | None:
    return TRUE if leaf.kind == "present" else 0.0 if leaf.kind == "absent" else None


def test_every_value_key_the_code_reads_is_present(
    kb: KnowledgeBase, snapshots: list[dict[str, Any]]
) -> None:
    keys = {leaf.key for cond in _conditions(kb) for leaf in leaves(cond) if leaf.kind != "always"}
    for values in snapshots[:50]:
        assert keys <= set(values)


def test_families_match_the_interpretive_evaluation(
    kb: KnowledgeBase, snapshots: list[dict[str, Any]]
) -> None:
    prep = prepared(kb)
    together = prep.together(*kb.rules)
    for values in snapshots:
        for family, rules in kb.rules.items():
            found = [evaluate(rule.condition, values) for rule in rules]
            fired = [r for r, v in zip(rules, found, strict=True) if v == TRUE]
            unknown = [r for r, v in zip(rules, found, strict=True) if v == UNKNOWN]
            assert prep.every(family)(values) == (fired, unknown), family
            first = next((i for i, v in enumerate(found) if v == TRUE), len(rules))
            winner = rules[first] if first < len(rules) else None
            before = [r for r, v in zip(rules[:first], found, strict=False) if v == UNKNOWN]
            assert prep.first(family)(values) == (winner, before), family
            assert [rule.test(values) for rule in rules] == found, family  # the lambdas too
        assert together(values) == [prep.every(f)(values)[0] for f in kb.rules]


def test_derived_facts_conflicts_and_differential_match(
    kb: KnowledgeBase, snapshots: list[dict[str, Any]]
) -> None:
    prep = prepared(kb)
    positions = [
        kb.condition(f"conflict:{c.id}:{p.id}").condition for c in kb.conflicts for p in c.positions
    ]
    for values in snapshots:
        for derived, (fact, test) in zip(kb.context.derived, prep.derived, strict=True):
            found = [
                evaluate(kb.condition(f"derived:{fact}:{j}").condition, values)
                for j in range(len(derived.values))
            ]
            chosen = next((j for j, v in enumerate(found) if v == TRUE), None)
            stop = len(found) if chosen is None else chosen
            assert test(values) == (chosen, [j for j in range(stop) if found[j] != 0.0])
        assert prep.conflict_values(values) == tuple(evaluate(c, values) for c in positions)
        ranked = prep.dx_ranking(values)
        assert all(plan.order == order for _, order, plan, *_ in ranked)
        assert [(n, o, *rest) for n, o, _, *rest in ranked] == _reference_ranking(kb, values)


def _reference_ranking(kb: KnowledgeBase, values: dict[str, Any]) -> list[Any]:
    """The differential's scoring as it was written before it was compiled."""
    out = []
    for order, dx in enumerate(kb.differential.diagnoses):

        def true(key: str) -> bool:
            return evaluate(kb.condition(key).condition, values) == TRUE

        if not true(f"dx:{dx.id}:applies"):
            continue
        always = dx.always_list_when is not None and true(f"dx:{dx.id}:always")
        found_for = [j for j in range(len(dx.features_for)) if true(f"dx:{dx.id}:for:{j}")]
        against = [j for j in range(len(dx.features_against)) if true(f"dx:{dx.id}:against:{j}")]
        score = (
            dx.prior
            + sum(dx.features_for[j].weight for j in found_for)
            - sum(dx.features_against[j].weight for j in against)
        )
        if score < MIN_SCORE and not always:
            continue
        risks = [r for r in dx.risk_factors if values.get(f"f:{r}") == TRUE]
        out.append((-score, order, found_for, against, risks))
    return out


def _compiled(
    conds: list[Condition], make: Callable[[Condition], Any]
) -> Iterator[tuple[Condition, Any]]:
    seen: dict[int, Any] = {}
    for cond in conds:
        if id(cond) not in seen:
            seen[id(cond)] = make(cond)
        yield cond, seen[id(cond)]


def test_trace_and_questions_walks_match_explain(
    kb: KnowledgeBase, snapshots: list[dict[str, Any]]
) -> None:
    conds = _conditions(kb)
    because = list(_compiled(conds, compile_because))
    asks = list(
        _compiled(conds, lambda c: compile_unknown_items(c, lambda leaf, f: (leaf, f), _yes))
    )
    for values in snapshots:
        for (cond, said), (_, unknown) in zip(because, asks, strict=True):
            why = explain(cond, values)
            assert said(values) == [_reference_describe(lf, values, v) for lf, v in why.because]
            got = list(unknown(values))
            assert [leaf for leaf, _ in got] == list(why.unknown)
            assert all(a is b for (a, _), b in zip(got, why.unknown, strict=True))  # first one
            assert [fires for _, fires in got] == [
                _reference_settles(values, cond, leaf) for leaf in why.unknown
            ]


def test_shared_outputs_do_not_change_an_assessment(
    kb: KnowledgeBase, raw_cases: list[dict[str, Any]]
) -> None:
    """Output objects are shared between assessments that would build identical ones: an
    assessment is the same whether its parts were built fresh or taken from the caches."""
    fresh = load_kb(default_root())  # its own caches, empty
    for data in raw_cases[:200]:
        case = parse_case(data, kb.vocabulary, kb.procedures)
        warm = json.dumps(assess(case, kb).to_json_dict())
        cold = json.dumps(assess(case, fresh).to_json_dict())
        assert warm == cold
        assert json.dumps(assess(case, kb).to_json_dict()) == warm
