"""Where the sources disagree: show each position, whether it applies, and which was followed."""

from __future__ import annotations

from spinecds.assessment import ConflictOut, PositionOut, build
from spinecds.engine.conditions import TRUE, UNKNOWN
from spinecds.engine.imaging import kind_of
from spinecds.engine.run import Run
from spinecds.knowledge.schema import Conflict

__all__ = ["conflicts"]

_FAMILY = {"ct_contrast": "ct", "mri_contrast": "mri", "ct_myelography": "ct"}


def conflicts(run: Run, studies: list[str], why: str) -> list[ConflictOut]:
    first = _FAMILY.get(m := kind_of(studies[0]).modality, m) if studies else None
    values = run.prepared.conflict_values(run.values)  # every position of every conflict
    memo = run.prepared.memo
    out = []
    start = 0
    for conflict in run.prepared.conflicts:
        end = start + len(conflict.positions)
        applies = values[start:end]
        start = end
        if TRUE not in applies:
            continue
        # The block depends only on which positions apply, the first study's modality and
        # the imaging rule's reason: a handful of combinations, each built once.
        key = ("conflict", conflict.id, applies, first, why)
        found = memo.get(key)
        if found is None:
            found = memo[key] = _block(conflict, applies, first, why)
        block, cites = found
        run.cite(cites)
        out.append(block)
    return out


def _block(
    conflict: Conflict, values: tuple[float, ...], first: str | None, why: str
) -> tuple[ConflictOut, list[str]]:
    positions = []
    for position, value in zip(conflict.positions, values, strict=True):
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
    matching = [
        p
        for p, src in zip(positions, conflict.positions, strict=True)
        if p.applies == "yes" and src.modality == first
    ]
    followed = matching[0] if matching else applying[0]
    because = f"{followed.claim} In this case: {why}" if matching and why else followed.claim
    block = build(
        ConflictOut,
        id=conflict.id,
        question=conflict.question,
        followed=followed.id,
        why=because,
        positions=positions,
    )
    return block, [ref for shown in positions for ref in shown.cite]
