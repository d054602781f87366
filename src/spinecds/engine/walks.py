"""The two walks over a condition tree that explain a value, compiled like the families.

``explain(cond, values)`` evaluates every node, then walks down through the children whose
value equals their parent's: the leaves reached are what decided a known value (the trace's
``because``) or what could still change an unknown one (the questions). Both walks are
unrolled here into nested ``if``s over the locals of :class:`spinecds.engine.codegen.Emitter`,
once per condition, and return exactly what ``explain`` gives (``tests/test_compiled.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from spinecds.engine.codegen import Emitter, make_function
from spinecds.engine.conditions import All, Any_, Condition, Leaf, Not
from spinecds.engine.describe import STATIC_KINDS, describe_leaf, leaf_frame, show_value

__all__ = ["compile_because", "compile_unknown_items", "compile_unknown_walk"]

T = TypeVar("T")
Values = Mapping[str, Any]

_CONSTS = ("0.0", "0.5", "1.0")


# Emits the code for one unknown leaf reached by the walk: given the leaf, whether it
# "fires" (a Python expression, or "True"/"False" when known at compile time) and the
# indentation, returns the lines. It may bind constants in the namespace it is given.
OnLeaf = Callable[[Leaf, str, str], list[str]]


def compile_unknown_walk(
    cond: Condition,
    params: str,
    prologue: list[str],
    on_leaf: OnLeaf,
    epilogue: str,
    force: Callable[[Leaf], float | None],
    namespace: dict[str, Any],
) -> Callable[..., Any]:
    """``def walk(v, <params>)`` that runs ``on_leaf``'s code for each leaf of
    ``explain(cond, values).unknown``, in that order, once per leaf (returning nothing at
    once when ``cond`` is not unknown). ``fires``: would ``cond`` be true if the leaf's
    value key alone were set to ``force(leaf)`` (False when that is None)? Only the nodes
    that read that key are recomputed, from the locals already there, instead of evaluating
    the whole condition again on a modified copy of the values.
    """
    em = Emitter(namespace)
    root = em.node(cond)
    em.lines += [f"    if {root} != 0.5:", "        return ()", *(f"    {p}" for p in prologue)]
    _Unknowns(em, on_leaf, force).emit(cond)
    em.emit(epilogue)
    return make_function("walk", em.lines, namespace, params)


def compile_unknown_items(
    cond: Condition,
    item: Callable[[Leaf, bool], T],
    force: Callable[[Leaf], float | None],
) -> Callable[[Values], Sequence[T]]:
    """``f(values) -> [item(leaf, fires), ...]`` for ``explain(cond, values).unknown``
    (see :func:`compile_unknown_walk`); the items are made here, for both ``fires``."""
    namespace: dict[str, Any] = {}

    def on_leaf(leaf: Leaf, fires: str, pad: str) -> list[str]:
        yes, no = f"Y{len(namespace)}", f"N{len(namespace)}"
        namespace[yes], namespace[no] = item(leaf, True), item(leaf, False)
        if fires in ("True", "False"):
            return [f"{pad}out.append({yes if fires == 'True' else no})"]
        return [f"{pad}out.append({yes} if {fires} else {no})"]

    return compile_unknown_walk(cond, "", ["out = []"], on_leaf, "return out", force, namespace)


class _Unknowns:
    """Emits the walk down an unknown condition to its unknown leaves (see above)."""

    def __init__(self, em: Emitter, on_leaf: OnLeaf, force: Callable[[Leaf], Any]) -> None:
        self.em, self.on_leaf, self.force = em, on_leaf, force
        self.reads: dict[int, set[str]] = {}  # id(node) -> the finding keys it reads

    def emit(self, cond: Condition) -> None:
        """The walk (the condition is known to be unknown when it runs)."""
        self.cond = cond
        self.groups, self.counts = _leaf_groups(cond)
        if max(self.counts.values()) > 1:
            self.em.emit("seen = set()")
        self.descend(cond, self.em.pad)

    def keys(self, node: Condition) -> set[str]:
        found = self.reads.get(id(node))
        if found is None:
            if isinstance(node, Leaf):
                found = {node.key} if node.kind in ("present", "absent") else set()
            elif isinstance(node, Not):
                found = self.keys(node.child)
            else:
                found = set().union(*(self.keys(c) for c in node.children))
            self.reads[id(node)] = found
        return found

    def forced(self, node: Condition, key: str, value: float) -> str:
        """``node``'s value with ``key`` read as ``value``: constants folded (see below)."""
        if key not in self.keys(node):
            return self.em.node(node)
        if isinstance(node, Leaf):
            return repr(value if node.kind == "present" else 1.0 - value)
        if isinstance(node, Not):
            child = self.forced(node.child, key, value)
            return repr(1.0 - float(child)) if child in _CONSTS else f"(1.0 - {child})"
        # Every value is 0.0, 0.5 or 1.0 (facts.py stores findings as 0.0/1.0), so a
        # constant 1.0 decides `any` and drops out of `all`, and 0.0 the reverse.
        decides, neutral = ("0.0", "1.0") if isinstance(node, All) else ("1.0", "0.0")
        parts = [self.forced(c, key, value) for c in node.children]
        if decides in parts:
            return decides
        parts = [p for p in parts if p != neutral]
        if len(parts) <= 1:
            return parts[0] if parts else neutral
        return f"{'min' if isinstance(node, All) else 'max'}({', '.join(parts)})"

    def descend(self, node: Condition, pad: str) -> None:
        em = self.em
        if isinstance(node, Leaf):
            if self.counts[node] > 1:  # explain() keeps the first of equal leaves reached
                gid = self.groups[node]
                em.lines += [f"{pad}if {gid} not in seen:", f"{pad}    seen.add({gid})"]
                pad += "    "
            value = self.force(node)
            fired = "0.0" if value is None else self.forced(self.cond, node.key, value)
            fires = repr(fired == "1.0") if fired in _CONSTS else f"{fired} == 1.0"
            em.lines += self.on_leaf(node, fires, pad)
        elif isinstance(node, Not):
            self.descend(node.child, pad)
        else:
            for child in node.children:
                em.lines.append(f"{pad}if {em.node(child)} == 0.5:")
                self.descend(child, pad + "    ")


def compile_because(cond: Condition) -> Callable[[Values], list[str]]:
    """The trace's ``because``: same strings as ``describe(leaf, values, value)`` over
    ``explain(cond, values).because``, without building an Explanation per fired rule.

    The walk is unrolled into nested ``if``s: a child is entered only when its value equals
    its parent's. Descriptions that depend only on the leaf and its value are constants.
    """
    namespace: dict[str, Any] = {"show": show_value, "float": float}
    em = Emitter(namespace)
    em.node(cond)  # every node's value first; the walk below only reads them
    groups, counts = _leaf_groups(cond)
    em.emit("out = []")
    if max(counts.values()) > 1:
        em.emit("seen = set()")

    def walk(node: Condition, pad: str) -> None:
        name = em.node(node)
        if isinstance(node, Not):
            walk(node.child, pad)
        elif isinstance(node, All | Any_):
            for child in node.children:
                em.lines.append(f"{pad}if {em.node(child)} == {name}:")
                walk(child, pad + "    ")
        else:
            em.lines.append(f"{pad}if {name} != 0.5:")
            inner = pad + "    "
            if counts[node] > 1:  # an equal leaf elsewhere may already have been described
                gid = groups[node]
                em.lines += [f"{inner}if {gid} not in seen:", f"{inner}    seen.add({gid})"]
                inner += "    "
            em.lines.append(f"{inner}out.append({_description(em, node, name)})")

    walk(cond, "    ")
    em.lines.append("    return out")
    return make_function("because", em.lines, namespace)


def _description(em: Emitter, leaf: Leaf, name: str) -> str:
    """describe_leaf(leaf, values, value-in-local-`name`), as an expression."""
    if leaf.kind in STATIC_KINDS:
        yes, no = describe_leaf(leaf, {}, 1.0), describe_leaf(leaf, {}, 0.0)  # read no values
        return f"{yes!r} if {name} == 1.0 else {no!r}"
    before, after = (em.const(part) for part in leaf_frame(leaf))
    if leaf.kind == "treated":
        return f"{before} + show(float(v[{leaf.key!r}])) + {after}"
    return f"{before} + show({em.local(f'v[{leaf.key!r}]')}) + {after}"


def _leaf_groups(cond: Condition) -> tuple[dict[Leaf, int], dict[Leaf, int]]:
    """Equal leaves (dataclass ==, as explain() dedups them) share a group id; and how
    often each occurs, so that only repeated leaves pay for a run-time "seen" check."""
    groups: dict[Leaf, int] = {}
    counts: dict[Leaf, int] = {}
    for leaf in _leaves(cond):
        groups.setdefault(leaf, len(groups))
        counts[leaf] = counts.get(leaf, 0) + 1
    return groups, counts


def _leaves(cond: Condition) -> list[Leaf]:
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return _leaves(cond.child)
    return [leaf for child in cond.children for leaf in _leaves(child)]
