"""Which matched words stand when matches overlap (pure Python, no spaCy).

The target matcher reports every match, overlapping ones included. The rule: the longer
match wins over one it contains ("fractured screw" is a screw fracture, not also a fracture;
"nerve injury" - an ignored phrase - is no trauma), unless the longer term's rules keep the
inner one ("severe central canal stenosis" is both high-grade and central stenosis). Matches
that only partly overlap both stand when they name different terms ("neck pain radiating to
the shoulder blades"). Contrast and region words are a layer of their own: "neck" in "neck
pain" still names the cervical region.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["OWN_LAYER", "Match", "prune"]

OWN_LAYER = ("contrast", "region")


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # token offsets
    end: int
    kind: str
    term: str


def prune(
    matches: Sequence[Match],
    keeps_inside: Mapping[str, Sequence[str]],
    swallows: Collection[str] = (),
) -> list[int]:
    """Indices of the matches that stand, in text order (ignored phrases never stand).

    ``swallows`` names terms whose span holds nothing else ("adjacent segment degeneration
    was present before the fusion" is one pre-existing degeneration, not also today's).
    """
    order = sorted(range(len(matches)), key=lambda i: (matches[i].start, -matches[i].end))
    covering: dict[int, list[int]] = {}  # token -> the matches over it
    for i, match in enumerate(matches):
        for token in range(match.start, match.end):
            covering.setdefault(token, []).append(i)
    kept: list[int] = []
    seen: set[tuple[int, int, str, str]] = set()
    for i in order:
        match = matches[i]
        key = (match.start, match.end, match.kind, match.term)
        if key in seen:
            continue
        seen.add(key)
        rivals = {j for t in range(match.start, match.end) for j in covering[t] if j != i}
        if not any(_beaten(match, matches[j], keeps_inside, swallows) for j in rivals):
            kept.append(i)
    return [i for i in kept if matches[i].kind != "ignore"]


def _layer(match: Match) -> str:
    return match.kind if match.kind in OWN_LAYER else "terms"


def _beaten(
    match: Match,
    other: Match,
    keeps_inside: Mapping[str, Sequence[str]],
    swallows: Collection[str] = (),
) -> bool:
    if _layer(match) != _layer(other):
        return False
    if other.start >= match.end or match.start >= other.end:
        return False  # no overlap
    longer = (other.end - other.start) > (match.end - match.start)
    contains = other.start <= match.start and match.end <= other.end
    same_edge = other.start == match.start or other.end == match.end
    if contains and longer and (same_edge or other.kind == "ignore" or other.term in swallows):
        # "fractured screw" holds "fractured", "saddle numbness" holds "numbness"; a match
        # in the middle of a longer one ("pain radiating to the shoulder blade and down the
        # arm") sits in its gap and names something of its own.
        return match.term not in keeps_inside.get(other.term, ())
    if other.term == match.term and other.kind == match.kind:
        # the same term matched twice over the same words: keep the longer (first on ties)
        same_length = (other.end - other.start) == (match.end - match.start)
        return longer or (same_length and other.start < match.start)
    return False
