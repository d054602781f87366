"""Groups of conditions compiled into one straight-line Python function each.

``compile_condition`` gives every rule its own lambda, so a family of 40 rules costs 40
calls and reads the same findings (and the same expanded ``use:`` macros) again in each.
Here a whole group is one function: every leaf and every distinct sub-tree is computed
once into a local, in rule order, and the function returns which rules are true or
unknown. :mod:`spinecds.engine.walks` does the same for the trace and the questions.

The values are exactly those of :func:`spinecds.engine.conditions.compile_condition`: the
same leaf expressions, ``1.0 - x`` for ``not``, and ``min``/``max`` written as chained
conditional expressions (``a if a <= b else b`` picks what ``min(a, b)`` picks, without a
call). ``tests/test_compiled.py`` checks them against the interpretive ``evaluate``.
Code is generated only from validated condition trees; names and values enter only through
``repr()`` of plain literals (anything else is bound as a constant in the namespace).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from spinecds.engine.conditions import All, Condition, Leaf, Not, leaves

__all__ = [
    "Emitter",
    "compile_families",
    "compile_family",
    "compile_first",
    "compile_ranking",
    "compile_test",
    "compile_values",
    "make_function",
    "missing_values",
]

T = TypeVar("T")
Values = Mapping[str, Any]

_BUILTINS = {"min": min, "max": max, "set": set, "tuple": tuple, "sum": sum, "len": len}
_MISSING_FALSE = ("complaint", "done", "surgery", "elsewhere")
_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "in": "in"}


def _is_literal(value: Any) -> bool:
    """Values whose repr() reads back as an equal constant of the same type."""
    if isinstance(value, tuple):
        return all(_is_literal(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


class Emitter:
    """Writes one assignment per distinct leaf or sub-tree, reusing earlier locals."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.names: dict[str, str] = {}  # expression text -> local holding its value
        self.namespace = namespace
        self.consts: dict[int, str] = {}  # id of a non-literal value -> its global name
        self.pad = "    "
        self._count = 0

    def emit(self, line: str) -> None:
        self.lines.append(self.pad + line)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """An indented block: locals first computed inside it are forgotten after it (the
        block may not run, so later code must not read them)."""
        self.emit(header)
        saved, self.names = self.names, dict(self.names)
        self.pad += "    "
        try:
            yield
        finally:
            self.names, self.pad = saved, self.pad[:-4]

    def const(self, value: Any) -> str:
        if _is_literal(value):
            return repr(value)
        name = self.consts.get(id(value))
        if name is None:  # the same object must map to the same name, or CSE would miss it
            name = self.consts[id(value)] = f"K{len(self.consts)}"
            self.namespace[name] = value
        return name

    def local(self, expr: str, *more: str) -> str:
        """A local holding ``expr`` (then each of ``more`` in turn, which may read it)."""
        key = " ; ".join((expr, *more))
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"n{self._count}"
            self._count += 1
            self.emit(f"{name} = {expr}")
            for step in more:  # only locals here: '@' stands for this one
                self.emit(f"{name} = {step.replace('@', name)}")
        return name

    def node(self, cond: Condition) -> str:
        """The local that holds ``cond``'s value (emitting what it needs first)."""
        if isinstance(cond, Leaf):
            return self.local(self._leaf(cond))
        if isinstance(cond, Not):
            return self.local(f"1.0 - {self.node(cond.child)}")
        parts = [self.node(c) for c in cond.children]
        if len(parts) == 1:
            return parts[0]
        # min(a, b, ...) keeps the first smallest; `a if a <= b else b` does the same.
        cmp = "<=" if isinstance(cond, All) else ">="
        first = f"{parts[0]} if {parts[0]} {cmp} {parts[1]} else {parts[1]}"
        return self.local(first, *(f"@ if @ {cmp} {p} else {p}" for p in parts[2:]))

    def _leaf(self, leaf: Leaf) -> str:
        kind, key = leaf.kind, leaf.key
        if kind == "always":
            return "1.0"
        if kind in ("present", "complaint", "done", "surgery", "elsewhere"):
            return f"v[{key!r}]"
        if kind == "absent":
            return f"1.0 - {self.local(f'v[{key!r}]')}"
        if kind == "treated":
            return f"1.0 if v[{key!r}] >= {self.const(leaf.value)} else 0.0"
        got = self.local(f"v[{key!r}]")
        test = f"{got} {_OPS[leaf.op]} {self.const(leaf.value)}"
        return f"0.5 if {got} is None else 1.0 if {test} else 0.0"


def missing_values(conds: Iterable[Condition]) -> dict[str, Any]:
    """What a missing value key means, for every key these conditions read: a finding not
    reported is unknown (0.5), a complaint, study, operation or treatment not there is
    false (0.0), a fact not known is None. Generated code reads ``v[key]`` (a subscript is
    cheaper than ``v.get(key, default)``), so the engine starts from these values."""
    out: dict[str, Any] = {}
    for cond in conds:
        for leaf in leaves(cond):
            if leaf.kind in ("present", "absent"):
                out[leaf.key] = 0.5
            elif leaf.kind in _MISSING_FALSE or leaf.kind == "treated":
                out[leaf.key] = 0.0
            elif leaf.kind == "fact":
                out[leaf.key] = None
    return out


def make_function(
    name: str, lines: list[str], namespace: dict[str, Any], params: str = ""
) -> Callable[..., Any]:
    """``def name(v, params)`` with the body ``lines``, in ``namespace``. ``v`` must hold
    every key the body reads (see :func:`missing_values`)."""
    source = f"def {name}(v{', ' if params else ''}{params}):\n" + "\n".join(lines)
    namespace["__builtins__"] = _BUILTINS
    exec(source, namespace)  # noqa: S102 - generated from validated trees, literals via repr()
    return namespace[name]  # type: ignore[no-any-return]


def compile_family(
    conds: Sequence[Condition], items: Sequence[T]
) -> Callable[[Values], tuple[list[T], list[T]]]:
    """``f(values) -> (items whose condition is true, items whose condition is unknown)``."""
    return _families([(conds, items)], "return f0, u0", unknowns=True)


def compile_families(
    groups: Sequence[tuple[Sequence[Condition], Sequence[T]]],
) -> Callable[[Values], list[list[T]]]:
    """Several families read with the same values, in one call that reads each leaf once:
    ``f(values) -> [true items of each group]`` (for families that ask no questions)."""
    return _families(groups, f"return [{', '.join(f'f{k}' for k in range(len(groups)))}]")


def _families(
    groups: Sequence[tuple[Sequence[Condition], Sequence[T]]], result: str, unknowns: bool = False
) -> Callable[[Values], Any]:
    namespace: dict[str, Any] = {}
    em = Emitter(namespace)
    for k, (conds, items) in enumerate(groups):
        em.emit(f"f{k} = []")
        if unknowns:
            em.emit(f"u{k} = []")
        for i, (cond, item) in enumerate(zip(conds, items, strict=True)):
            namespace[f"I{k}_{i}"] = item
            root = em.node(cond)
            em.lines += [f"    if {root} == 1.0:", f"        f{k}.append(I{k}_{i})"]
            if unknowns:
                em.lines += [f"    elif {root} == 0.5:", f"        u{k}.append(I{k}_{i})"]
    em.emit(result)
    return make_function("families", em.lines, namespace)


def compile_first(
    conds: Sequence[Condition], items: Sequence[T]
) -> Callable[[Values], tuple[T | None, list[T]]]:
    """``f(values) -> (first item whose condition is true or None, unknown items before it)``.

    Each leaf is read where the first rule that needs it is tested, so (as with one lambda
    per rule) nothing after the winning rule is evaluated.
    """
    namespace: dict[str, Any] = {f"I{i}": item for i, item in enumerate(items)}
    em = Emitter(namespace)
    em.emit("unknown = []")
    for i, cond in enumerate(conds):
        root = em.node(cond)
        em.lines += [
            f"    if {root} == 1.0:",
            f"        return I{i}, unknown",
            f"    if {root} == 0.5:",
            f"        unknown.append(I{i})",
        ]
    em.emit("return None, unknown")
    return make_function("first", em.lines, namespace)


def compile_values(conds: Sequence[Condition]) -> Callable[[Values], tuple[float, ...]]:
    """``f(values) -> (value of each condition, ...)`` in the order given."""
    em = Emitter({})
    roots = [em.node(cond) for cond in conds]
    em.emit(f"return ({''.join(f'{r}, ' for r in roots)})")
    return make_function("values", em.lines, em.namespace)


def compile_test(cond: Condition) -> Callable[[Values], float]:
    """``f(values) -> value``: one condition, its shared sub-trees computed once."""
    em = Emitter({})
    em.emit(f"return {em.node(cond)}")
    return make_function("test", em.lines, em.namespace)


Weighed = Sequence[tuple[float, Condition]]
# (item, gate, always, prior, features for, features against, marks: (name, value key))
Group = tuple[T, Condition, Condition | None, float, Weighed, Weighed, Sequence[tuple[str, str]]]
# (-score, position, item, positions of the features for found, against, marks set)
Ranked = tuple[float, int, T, list[int], list[int], list[str]]


def compile_ranking(
    groups: Sequence[Group[T]], least: float
) -> Callable[[Values], list[Ranked[T]]]:
    """Score groups (diagnoses): for each group whose gate is true, ``score = prior +
    sum(weights of features for that are true) - sum(weights of those against)``; keep it
    if ``not (score < least and not always)``. Nothing behind a gate that is not true is
    evaluated. ``marks`` are the names whose value key is 1.0 (risk factors present).
    ``f(values) -> [(-score, position, item, for, against, marks), ...]``, in order."""
    namespace: dict[str, Any] = {}
    em = Emitter(namespace)
    em.emit("out = []")
    for i, (item, gate, always, prior, pros, cons, marks) in enumerate(groups):
        namespace[f"G{i}"] = item
        with em.block(f"if {em.node(gate)} == 1.0:"):
            for side, features in (("p", pros), ("c", cons)):
                em.emit(f"{side} = []")
                em.emit(f"{side}w = []")
                for j, (weight, cond) in enumerate(features):
                    with em.block(f"if {em.node(cond)} == 1.0:"):
                        em.emit(f"{side}.append({j})")
                        em.emit(f"{side}w.append({em.const(weight)})")
            # sum() over the same weights in the same order as differential.yaml lists them.
            em.emit(f"s = {em.const(prior)} + sum(pw) - sum(cw)")
            flag = "False" if always is None else f"{em.node(always)} == 1.0"
            with em.block(f"if not (s < {em.const(least)} and not {flag}):"):
                em.emit("r = []")
                for name, key in marks:
                    with em.block(f"if v[{key!r}] == 1.0:"):
                        em.emit(f"r.append({name!r})")
                em.emit(f"out.append((-s, {i}, G{i}, p, c, r))")
    em.emit("return out")
    return make_function("ranking", em.lines, namespace)
