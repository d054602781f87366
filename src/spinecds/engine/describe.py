"""How the trace words a leaf of a condition: ``fever present``, ``age = 70 (ge 65)``."""

from __future__ import annotations

from typing import Any

from spinecds.engine.conditions import TRUE, Leaf

__all__ = ["STATIC_KINDS", "describe_leaf", "leaf_frame", "show_value"]

# Leaves whose description depends only on the leaf and its truth value (not on the case).
STATIC_KINDS = ("present", "absent", "elsewhere", "complaint", "done", "surgery", "always")


def describe_leaf(leaf: Leaf, values: dict[str, Any], value: float = TRUE) -> str:
    """A leaf as a clinician reads it, with its own truth value (``ct not done``)."""
    kind, name, yes = leaf.kind, leaf.name, value == TRUE
    if kind == "present":
        return f"{name} present" if yes else f"{name} absent"
    if kind == "absent":
        return f"{name} absent" if yes else f"{name} present"
    if kind == "elsewhere":
        return f"{name} on imaging of another region" if yes else f"no {name} elsewhere"
    if kind == "complaint":
        return f"complaint {name}" if yes else f"complaint is not {name}"
    if kind == "done":
        return f"{name} done" if yes else f"{name} not done"
    if kind == "surgery":
        return f"earlier {name}" if yes else f"no earlier {name}"
    if kind == "always":
        return "always"
    before, after = leaf_frame(leaf)
    if kind == "treated":
        return before + show_value(float(values.get(leaf.key, 0.0))) + after
    return before + show_value(values.get(leaf.key)) + after


def leaf_frame(leaf: Leaf) -> tuple[str, str]:
    """The words before and after the case's value, for a ``treated`` or ``fact`` leaf:
    ``physical_therapy for `` 8 `` weeks (rule: at least 6 weeks)``."""
    if leaf.kind == "treated":
        least = "any time" if leaf.value < 1 else f"at least {leaf.value:g} weeks"
        return f"{leaf.name} for ", f" weeks (rule: {least})"
    want = ", ".join(map(str, leaf.value)) if isinstance(leaf.value, tuple) else str(leaf.value)
    return f"{leaf.name} = ", f" ({leaf.op} {want})"


def show_value(got: Any) -> str:
    """A value as the trace shows it: numbers without a trailing ``.0``."""
    return f"{got:g}" if isinstance(got, float) else str(got)
