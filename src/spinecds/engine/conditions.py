"""Three-valued conditions over a case: true, false or unknown.

A condition in the knowledge base is a small tree (YAML)::

    all:
      - present: fever              # finding or imaging finding reported present
      - elsewhere: fracture         # imaging finding on a study of another spinal region
      - absent: recent_trauma       # looked for and reported absent
      - complaint: radiculopathy
      - done: radiography           # study done of the painful region
      - surgery: acdf               # any earlier operation of that kind
      - treated: physical_therapy   # tried for at least `weeks` (default: any time)
        weeks: 6
      - fact: weeks_since_surgery   # a derived fact compared with lt/le/gt/ge/eq/in
        lt: 12
      - use: infection_signs       # a named condition from kb/context.yaml (expanded at load)
      - any: [...]
      - not: {...}
      - always: true

Truth values are numbers so that Kleene's logic is just arithmetic: 1 true, 0 false,
0.5 unknown; ``all`` is ``min``, ``any`` is ``max``, ``not`` is ``1 - x``. An unknown
finding therefore never counts as absent: ``not present: fever`` is unknown, not true.

Conditions are compiled once, at load time, into plain Python lambdas over one dict of
values (``f:fever`` -> 1.0 ...); the same tree is walked by :func:`explain` to say which
findings made a rule fire and which unknown findings would change it. This module is the
reference: the engine itself runs code generated from the same trees, a whole rule family
per function (:mod:`spinecds.engine.codegen`, :mod:`spinecds.engine.walks`), checked
against :func:`evaluate` and :func:`explain` by ``tests/test_compiled.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FALSE",
    "TRUE",
    "UNKNOWN",
    "All",
    "Any_",
    "Condition",
    "ConditionError",
    "Leaf",
    "Not",
    "compile_condition",
    "evaluate",
    "explain",
    "leaves",
    "parse_condition",
]

TRUE, UNKNOWN, FALSE = 1.0, 0.5, 0.0
Values = Mapping[str, Any]

COMPARISONS = ("lt", "le", "gt", "ge", "eq", "in")
# Leaf kinds and the prefix of their key in the value dict.
PREFIX = {
    "present": "f",
    "absent": "f",
    "elsewhere": "e",
    "complaint": "c",
    "done": "d",
    "surgery": "s",
}


class ConditionError(ValueError):
    """A condition tree that does not follow the grammar above."""


@dataclass(frozen=True, slots=True)
class Leaf:
    kind: str  # present | absent | elsewhere | complaint | done | surgery | treated | fact | always
    name: str
    op: str = ""
    value: Any = None
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The key into the value dict, computed once: leaves are read on every assessment.
        prefix = {"treated": "t", "fact": "x"}.get(self.kind) or PREFIX.get(self.kind, "")
        object.__setattr__(self, "key", f"{prefix}:{self.name}")


@dataclass(frozen=True, slots=True)
class All:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Condition


Condition = Leaf | All | Any_ | Not


def parse_condition(
    raw: Any,
    where: str = "when",
    macros: Mapping[str, Any] | None = None,
    _expanding: tuple[str, ...] = (),
) -> Condition:
    """Turn the YAML form into a tree, rejecting anything outside the grammar."""
    if not isinstance(raw, Mapping) or len(raw) == 0:
        raise ConditionError(f"{where}: a condition must be a non-empty mapping, got {raw!r}")
    keys = set(raw)
    if keys == {"all"} or keys == {"any"}:
        (op,) = keys
        items = raw[op]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"{where}.{op}: needs a non-empty list")
        children = tuple(
            parse_condition(c, f"{where}.{op}[{i}]", macros, _expanding)
            for i, c in enumerate(items)
        )
        return All(children) if op == "all" else Any_(children)
    if keys == {"not"}:
        return Not(parse_condition(raw["not"], f"{where}.not", macros, _expanding))
    if keys == {"use"}:
        name = _name(raw["use"], f"{where}.use")
        if macros is None or name not in macros:
            known = ", ".join(sorted(macros or {}))
            raise ConditionError(f"{where}.use: no named condition {name!r} (known: {known})")
        if name in _expanding:
            raise ConditionError(f"{where}.use: {name!r} refers to itself")
        return parse_condition(macros[name], f"{where}.use({name})", macros, (*_expanding, name))
    if keys == {"always"}:
        if raw["always"] is not True:
            raise ConditionError(f"{where}.always: must be true")
        return Leaf("always", "")
    for kind in PREFIX:
        if keys == {kind}:
            return Leaf(kind, _name(raw[kind], f"{where}.{kind}"))
    if "treated" in keys and keys <= {"treated", "weeks"}:
        weeks = raw.get("weeks", 0)
        if not isinstance(weeks, int | float) or weeks < 0:
            raise ConditionError(f"{where}.weeks: must be a number >= 0")
        # `weeks: 0` in a case means "not done", so the least that counts is any time at all.
        least = float(weeks) if weeks > 0 else 1e-9
        return Leaf("treated", _name(raw["treated"], f"{where}.treated"), "ge", least)
    if "fact" in keys:
        ops = keys - {"fact"}
        if len(ops) != 1 or not ops <= set(COMPARISONS):
            raise ConditionError(
                f"{where}: a fact needs exactly one of {', '.join(COMPARISONS)}; got {sorted(ops)}"
            )
        (op,) = ops
        value = raw[op]
        if op == "in":
            if not isinstance(value, list) or not value:
                raise ConditionError(f"{where}.in: needs a non-empty list")
            value = tuple(value)
        return Leaf("fact", _name(raw["fact"], f"{where}.fact"), op, value)
    raise ConditionError(
        f"{where}: unknown condition keys {sorted(keys)}; use all, any, not, use, present, "
        "absent, elsewhere, complaint, done, surgery, treated, fact or always"
    )


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConditionError(f"{where}: must name a term, got {value!r}")
    return value


# -- evaluation -------------------------------------------------------------------------


def _compare(op: str, got: Any, want: Any) -> float:
    if got is None:
        return UNKNOWN
    if op == "eq":
        return TRUE if got == want else FALSE
    if op == "in":
        return TRUE if got in want else FALSE
    if op == "lt":
        return TRUE if got < want else FALSE
    if op == "le":
        return TRUE if got <= want else FALSE
    if op == "gt":
        return TRUE if got > want else FALSE
    return TRUE if got >= want else FALSE


def _leaf_value(leaf: Leaf, values: Values) -> float:
    kind = leaf.kind
    if kind == "always":
        return TRUE
    if kind == "present":
        return float(values.get(leaf.key, UNKNOWN))
    if kind == "absent":
        return TRUE - float(values.get(leaf.key, UNKNOWN))
    if kind in ("complaint", "done", "surgery", "elsewhere"):
        return float(values.get(leaf.key, FALSE))
    if kind == "treated":
        return TRUE if float(values.get(leaf.key, 0.0)) >= leaf.value else FALSE
    return _compare(leaf.op, values.get(leaf.key), leaf.value)


def evaluate(cond: Condition, values: Values) -> float:
    """Interpretive evaluation (used by checks and explanations)."""
    if isinstance(cond, Leaf):
        return _leaf_value(cond, values)
    if isinstance(cond, All):
        return min(evaluate(c, values) for c in cond.children)
    if isinstance(cond, Any_):
        return max(evaluate(c, values) for c in cond.children)
    return TRUE - evaluate(cond.child, values)


def compile_condition(cond: Condition) -> Callable[[Values], float]:
    """Compile to one Python expression: the hot path of every assessment."""
    source = f"lambda v: {_source(cond)}"
    namespace: dict[str, Any] = {"_cmp": _compare, "__builtins__": {"min": min, "max": max}}
    # The expression is generated from a validated tree; names enter only through repr().
    return eval(source, namespace)  # type: ignore[no-any-return]  # noqa: S307


def _source(cond: Condition) -> str:
    if isinstance(cond, All | Any_):
        parts = [_source(c) for c in cond.children]
        if len(parts) == 1:
            return parts[0]
        return f"{'min' if isinstance(cond, All) else 'max'}({', '.join(parts)})"
    if isinstance(cond, Not):
        return f"(1.0 - {_source(cond.child)})"
    kind, key = cond.kind, cond.key
    if kind == "always":
        return "1.0"
    if kind == "present":
        return f"v.get({key!r}, 0.5)"
    if kind == "absent":
        return f"(1.0 - v.get({key!r}, 0.5))"
    if kind in ("complaint", "done", "surgery", "elsewhere"):
        return f"v.get({key!r}, 0.0)"
    if kind == "treated":
        return f"(1.0 if v.get({key!r}, 0.0) >= {cond.value!r} else 0.0)"
    return f"_cmp({cond.op!r}, v.get({key!r}), {cond.value!r})"


def compile_unknowns(cond: Condition) -> Callable[[Values], tuple[Leaf, ...]]:
    """Compile "which unknown leaves could still change this unknown condition?".

    Same answer as ``explain(cond, values).unknown``, as straight-line code: every node's
    value is computed once into a local, then nested ``if``s descend only through unknown
    nodes. Questions ask this of dozens of rules per assessment, so it must be cheap.
    """
    nodes: list[str] = []
    leaves_used: list[Leaf] = []

    def value_of(node: Condition) -> str:
        if isinstance(node, Leaf):
            expr = _source(node)
        elif isinstance(node, Not):
            expr = f"1.0 - {value_of(node.child)}"
        else:
            names = [value_of(c) for c in node.children]
            expr = (
                names[0]
                if len(names) == 1
                else f"{'min' if isinstance(node, All) else 'max'}({', '.join(names)})"
            )
        nodes.append(f"    n{len(nodes)} = {expr}")
        name = f"n{len(nodes) - 1}"
        ids[id(node)] = name
        return name

    ids: dict[int, str] = {}
    root = value_of(cond)
    body = [*nodes, f"    if {root} != 0.5:", "        return ()", "    out = []"]

    def descend(node: Condition, depth: int) -> None:
        pad = "    " * depth
        if isinstance(node, Leaf):
            leaves_used.append(node)
            body.append(f"{pad}out.append(L[{len(leaves_used) - 1}])")
        elif isinstance(node, Not):
            descend(node.child, depth)
        else:
            for child in node.children:
                body.append(f"{pad}if {ids[id(child)]} == 0.5:")
                descend(child, depth + 1)

    descend(cond, 1)
    body.append("    return tuple(dict.fromkeys(out))")
    source = "def unknowns(v):\n" + "\n".join(body)
    namespace: dict[str, Any] = {
        "_cmp": _compare,
        "L": tuple(leaves_used),
        "__builtins__": {"min": min, "max": max, "tuple": tuple, "dict": dict},
    }
    exec(source, namespace)  # noqa: S102 - generated from a validated tree, names via repr()
    return namespace["unknowns"]  # type: ignore[no-any-return]


# -- explanation ------------------------------------------------------------------------


def leaves(cond: Condition) -> Iterator[Leaf]:
    if isinstance(cond, Leaf):
        yield cond
    elif isinstance(cond, All | Any_):
        for child in cond.children:
            yield from leaves(child)
    else:
        yield from leaves(cond.child)


@dataclass(frozen=True, slots=True)
class Explanation:
    value: float
    because: tuple[tuple[Leaf, float], ...]  # leaves (with their own value) that decided the result
    unknown: tuple[Leaf, ...]  # unknown leaves that could still change an unknown result


def explain(cond: Condition, values: Values) -> Explanation:
    """Which leaves decided the value, and which unknown ones could still flip it."""
    memo: dict[int, float] = {}
    value = _memo_value(cond, values, memo)
    because: list[tuple[Leaf, float]] = []
    unknown: list[Leaf] = []
    _walk(cond, memo, value, because, unknown)
    return Explanation(value, tuple(dict.fromkeys(because)), tuple(dict.fromkeys(unknown)))


def _memo_value(cond: Condition, values: Values, memo: dict[int, float]) -> float:
    """Evaluate once per node, remembering each node's value for the walk below."""
    if isinstance(cond, Leaf):
        value = _leaf_value(cond, values)
    elif isinstance(cond, Not):
        value = TRUE - _memo_value(cond.child, values, memo)
    else:
        children = [_memo_value(c, values, memo) for c in cond.children]
        value = min(children) if isinstance(cond, All) else max(children)
    memo[id(cond)] = value
    return value


def _walk(
    cond: Condition,
    memo: dict[int, float],
    value: float,
    because: list[tuple[Leaf, float]],
    unknown: list[Leaf],
) -> None:
    if isinstance(cond, Leaf):
        if value == UNKNOWN:
            unknown.append(cond)
        else:
            because.append((cond, value))
        return
    if isinstance(cond, Not):
        _walk(cond.child, memo, TRUE - value, because, unknown)
        return
    # Only the children whose value equals the node's value explain it: for a true `all`
    # every child, for a true `any` the true children, for an unknown node the unknown ones.
    for child in cond.children:
        child_value = memo[id(child)]
        if child_value == value:
            _walk(child, memo, child_value, because, unknown)
