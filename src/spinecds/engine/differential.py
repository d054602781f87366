"""The differential: listed diagnoses, ranked by prior plus the weights of features present."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spinecds.assessment import DiagnosisOut, build
from spinecds.engine.conditions import TRUE
from spinecds.engine.run import Run
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.schema import Diagnosis, Feature

Test = Callable[[Mapping[str, Any]], float]

__all__ = ["differential"]

_MIN_SCORE = 0.3  # below this a diagnosis is listed only when `always_list_when` holds


@dataclass(frozen=True, slots=True)
class _Prepared:
    dx: Diagnosis
    applies: Test
    always: Test | None
    features_for: tuple[tuple[Feature, Test], ...]
    features_against: tuple[tuple[Feature, Test], ...]


_PREPARED: dict[str, tuple[_Prepared, ...]] = {}


def _prepared(kb: KnowledgeBase) -> tuple[_Prepared, ...]:
    """The diagnoses with their compiled tests, looked up once per knowledge base."""
    found = _PREPARED.get(kb.content_hash)
    if found is None:
        test = kb.condition
        found = _PREPARED[kb.content_hash] = tuple(
            _Prepared(
                dx,
                test(f"dx:{dx.id}:applies").test,
                test(f"dx:{dx.id}:always").test if dx.always_list_when is not None else None,
                tuple((f, test(f"dx:{dx.id}:for:{j}").test) for j, f in enumerate(dx.features_for)),
                tuple(
                    (f, test(f"dx:{dx.id}:against:{j}").test)
                    for j, f in enumerate(dx.features_against)
                ),
            )
            for dx in kb.differential.diagnoses
        )
    return found


def differential(run: Run) -> list[DiagnosisOut]:
    kb, values = run.kb, run.values
    scored = []
    for order, prepared in enumerate(_prepared(kb)):
        dx = prepared.dx
        if prepared.applies(values) != TRUE:
            continue
        always = prepared.always is not None and prepared.always(values) == TRUE
        found_for = [f for f, test in prepared.features_for if test(values) == TRUE]
        found_against = [f for f, test in prepared.features_against if test(values) == TRUE]
        score = dx.prior + sum(f.weight for f in found_for) - sum(f.weight for f in found_against)
        if score < _MIN_SCORE and not always:
            continue
        scored.append((score, order, dx, found_for, found_against))
    scored.sort(key=lambda item: (-item[0], item[1]))
    out = []
    for rank, (score, _, dx, found_for, found_against) in enumerate(scored, start=1):
        run.cite(dx.cite)
        out.append(
            build(
                DiagnosisOut,
                id=dx.id,
                label=kb.vocabulary.label("differential", dx.id),
                rank=rank,
                support="strong" if score >= 3 else "moderate" if score >= 1.5 else "weak",
                score=round(score, 2),
                base_rate=dx.base_rate,
                for_=[f.text for f in found_for],
                against=[f.text for f in found_against],
                risk_factors_present=[r for r in dx.risk_factors if values.get(f"f:{r}") == TRUE],
                unsourced=dx.unsourced,
                cite=dx.cite,
                seeds=dx.seeds,
            )
        )
    return out
