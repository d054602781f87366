"""Where the sources disagree: show each position, whether it applies, and which was followed."""

from __future__ import annotations

from spinecds.assessment import ConflictOut, PositionOut, build
from spinecds.engine.conditions import TRUE, UNKNOWN
from spinecds.engine.imaging import kind_of
from spinecds.engine.run import Run

__all__ = ["conflicts"]

_FAMILY = {"ct_contrast": "ct", "mri_contrast": "mri", "ct_myelography": "ct"}


def conflicts(run: Run, studies: list[str], why: str) -> list[ConflictOut]:
    kb = run.kb
    first = _FAMILY.get(m := kind_of(studies[0]).modality, m) if studies else None
    out = []
    for conflict in kb.conflicts:
        positions = []
        for position in conflict.positions:
            value = kb.condition(f"conflict:{conflict.id}:{position.id}").test(run.values)
            applies = "yes" if value == TRUE else "unknown" if value == UNKNOWN else "no"
            positions.append(
                build(
                    PositionOut,
                    id=position.id,
                    claim=position.claim,
                    applies=applies,
                    cite=position.cite,
                    seeds=position.seeds,
                )
            )
        applying = [p for p in positions if p.applies == "yes"]
        if not applying:
            continue
        matching = [
            p
            for p, src in zip(positions, conflict.positions, strict=True)
            if p.applies == "yes" and src.modality == first
        ]
        followed = matching[0] if matching else applying[0]
        because = f"{followed.claim} In this case: {why}" if matching and why else followed.claim
        for shown in positions:
            run.cite(shown.cite)
        out.append(
            build(
                ConflictOut,
                id=conflict.id,
                question=conflict.question,
                followed=followed.id,
                why=because,
                positions=positions,
            )
        )
    return out
