"""Can a condition ever be true? A small search over the values its leaves can take.

Used by ``kb check`` to find rules that can never fire and rules that can fire together.
Each leaf key gets a finite domain (findings true/false, facts their listed values, numbers
the thresholds the conditions compare them with). Variables are assigned one at a time and
the condition is evaluated with the rest UNKNOWN (Kleene logic): a FALSE result prunes the
branch, a TRUE result proves the condition satisfiable. Facts are treated as independent
except for the constraints in :func:`consistency`, so a "can fire" answer may be generous,
but "can never fire" is exact for what the domains cover.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinecds.engine.conditions import (
    FALSE,
    TRUE,
    UNKNOWN,
    All,
    Any_,
    Condition,
    Leaf,
    Not,
)
from spinecds.engine.conditions import leaves as _condition_leaves

__all__ = ["Domains", "NotTrue", "domains_for", "satisfiable"]

Domains = Mapping[str, Sequence[Any]]
_BOOLEAN_KINDS = ("present", "absent", "complaint", "done", "surgery", "elsewhere")


@dataclass(frozen=True, slots=True)
class NotTrue:
    """True when the child is false OR left unknown: how a first-match list skips a rule.

    Kleene's ``not`` keeps unknown unknown; an earlier rule that stays unknown does not stop a
    later one from firing, so shadowing needs this operator instead.
    """

    child: Formula


Formula = Condition | NotTrue


def domains_for(cond: Formula, enums: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Finite domains for every leaf key in ``cond``; ``enums`` gives fact value lists."""
    thresholds: dict[str, set[float]] = {}
    domains: dict[str, list[Any]] = {}
    for leaf in leaves(cond):
        key = leaf.key
        if leaf.kind in _BOOLEAN_KINDS:
            domains[key] = [TRUE, FALSE]
        elif leaf.kind == "treated":
            thresholds.setdefault(key, {0.0}).add(float(leaf.value))
        elif leaf.kind == "fact":
            if leaf.name in enums:
                domains[key] = list(enums[leaf.name])
            else:
                values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
                thresholds.setdefault(key, {0.0}).update(float(v) for v in values)
    for key, points in thresholds.items():
        numbers: list[Any] = sorted({p + d for p in points for d in (-0.5, 0.0, 0.5)})
        # A fact may also be unknown; a treatment left out of the case is 0 weeks.
        domains[key] = [*numbers, None] if key.startswith("x:") else numbers
    return domains


def leaves(cond: Formula) -> Iterator[Leaf]:
    if isinstance(cond, NotTrue):
        yield from leaves(cond.child)
    elif isinstance(cond, Leaf | Not):
        yield from _condition_leaves(cond)
    else:
        for child in cond.children:
            yield from leaves(child)


def _leaf(leaf: Leaf, assign: Mapping[str, Any]) -> float:
    if leaf.kind == "always":
        return TRUE
    if leaf.key not in assign:
        return UNKNOWN
    got = assign[leaf.key]
    if leaf.kind == "absent":
        return TRUE - float(got)
    if leaf.kind in _BOOLEAN_KINDS:
        return float(got)
    if got is None:
        return UNKNOWN if leaf.kind == "fact" else FALSE
    if leaf.kind == "treated":
        return TRUE if got >= leaf.value else FALSE
    op, want = leaf.op, leaf.value
    try:
        if op == "eq":
            return TRUE if got == want else FALSE
        if op == "in":
            return TRUE if got in want else FALSE
        result = {"lt": got < want, "le": got <= want, "gt": got > want, "ge": got >= want}[op]
    except TypeError:
        return FALSE
    return TRUE if result else FALSE


def partial(cond: Formula, assign: Mapping[str, Any], final: bool = False) -> float:
    """Evaluate with unassigned keys UNKNOWN; ``final``: every relevant key is assigned."""
    if isinstance(cond, Leaf):
        return _leaf(cond, assign)
    if isinstance(cond, NotTrue):
        child = partial(cond.child, assign, final)
        if child == UNKNOWN:
            return TRUE if final else UNKNOWN
        return TRUE - child
    if isinstance(cond, All):
        return min(partial(c, assign, final) for c in cond.children)
    if isinstance(cond, Any_):
        return max(partial(c, assign, final) for c in cond.children)
    return TRUE - partial(cond.child, assign, final)


def satisfiable(cond: Formula, domains: Domains, budget: int = 200_000) -> bool | None:
    """True if some assignment makes ``cond`` TRUE, False if none does, None if out of budget."""
    assign: dict[str, Any] = {}
    steps = [0]

    def search() -> bool | None:
        steps[0] += 1
        if steps[0] > budget:
            return None
        value = partial(cond, assign)
        if value != UNKNOWN:
            return value == TRUE
        open_keys = _undecided(cond, assign, domains)
        if not open_keys:
            return partial(cond, assign, final=True) == TRUE
        # Branch on the key used most in the undecided part of the formula.
        key = max(open_keys, key=open_keys.__getitem__)
        undecided = False
        for candidate in domains[key]:
            assign[key] = candidate
            found = search()
            del assign[key]
            if found:
                return True
            undecided = undecided or found is None
        return None if undecided else False

    return search()


def _undecided(cond: Formula, assign: Mapping[str, Any], domains: Domains) -> dict[str, int]:
    """Unassigned keys inside subtrees whose value is still UNKNOWN, with their counts."""
    counts: dict[str, int] = {}

    def walk(node: Formula) -> None:
        if partial(node, assign) != UNKNOWN:
            return
        if isinstance(node, Leaf):
            if node.key in domains and node.key not in assign:
                counts[node.key] = counts.get(node.key, 0) + 1
        elif isinstance(node, Not | NotTrue):
            walk(node.child)
        else:
            for child in node.children:
                walk(child)

    walk(cond)
    return counts


def conjoin(*conds: Formula) -> Formula:
    return All(tuple(conds))  # type: ignore[arg-type]  # NotTrue nodes live only in checks


def not_true(cond: Formula) -> Formula:
    return NotTrue(cond)
