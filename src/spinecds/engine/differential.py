"""The differential: listed diagnoses, ranked by prior plus the weights of features present."""

from __future__ import annotations

from spinecds.assessment import DiagnosisOut
from spinecds.engine.conditions import TRUE
from spinecds.engine.run import Run

__all__ = ["differential"]

_MIN_SCORE = 0.3  # below this a diagnosis is listed only when `always_list_when` holds


def differential(run: Run) -> list[DiagnosisOut]:
    kb, values = run.kb, run.values
    scored = []
    for order, dx in enumerate(kb.differential.diagnoses):
        if kb.condition(f"dx:{dx.id}:applies").test(values) != TRUE:
            continue
        always = (
            dx.always_list_when is not None
            and kb.condition(f"dx:{dx.id}:always").test(values) == TRUE
        )
        found_for = [
            f
            for j, f in enumerate(dx.features_for)
            if kb.condition(f"dx:{dx.id}:for:{j}").test(values) == TRUE
        ]
        found_against = [
            f
            for j, f in enumerate(dx.features_against)
            if kb.condition(f"dx:{dx.id}:against:{j}").test(values) == TRUE
        ]
        score = dx.prior + sum(f.weight for f in found_for) - sum(f.weight for f in found_against)
        if score < _MIN_SCORE and not always:
            continue
        scored.append((score, order, dx, found_for, found_against))
    scored.sort(key=lambda item: (-item[0], item[1]))
    out = []
    for rank, (score, _, dx, found_for, found_against) in enumerate(scored, start=1):
        run.cite(dx.cite)
        out.append(
            DiagnosisOut(
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
