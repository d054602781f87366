"""The differential: listed diagnoses, ranked by prior plus the weights of features present."""

from __future__ import annotations

from spinecds.assessment import DiagnosisOut, build
from spinecds.engine.prepared import DxPlan
from spinecds.engine.run import Run

__all__ = ["differential"]


def differential(run: Run) -> list[DiagnosisOut]:
    # The diagnoses listed, scored, with the features and risk factors found: one call.
    scored = run.prepared.dx_ranking(run.values)
    # Highest score first, then file order (unique: the sort never compares past it).
    scored.sort()
    shared = run.prepared.shared
    out = []
    for rank, (neg_score, _, plan, found_for, found_against, risks) in enumerate(scored, 1):
        run.cites.update(plan.cites)
        # The features found fix the score, so they (not the float) key the shared item.
        key = ("dx", plan.order, rank, *found_for, -1, *found_against, -1, *risks)
        found = shared.get(key)
        if found is None:
            item = _diagnosis(plan, rank, -neg_score, found_for, found_against, risks)
            found = shared.put(key, item)
        out.append(found)
    return out


def _diagnosis(
    plan: DxPlan,
    rank: int,
    score: float,
    found_for: list[int],
    found_against: list[int],
    risks: list[str],
) -> DiagnosisOut:
    dx = plan.dx
    return build(
        DiagnosisOut,
        id=dx.id,
        label=plan.label,
        rank=rank,
        support="strong" if score >= 3 else "moderate" if score >= 1.5 else "weak",
        score=round(score, 2),
        base_rate=dx.base_rate,
        for_=[plan.texts_for[j] for j in found_for],
        against=[plan.texts_against[j] for j in found_against],
        risk_factors_present=list(risks),
        unsourced=dx.unsourced,
        cite=dx.cite,
        seeds=dx.seeds,
    )
