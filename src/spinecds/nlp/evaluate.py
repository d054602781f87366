"""Scoring what was read against an annotated corpus: precision, recall and F1 per finding.

The corpus (``tests/data/nlp``) has two parts. Sentences carry, for every term they mention,
the assertion a careful reader would give it (present, negated, possible, historical,
hypothetical, someone_else; ``historical_present`` where a past history is itself the finding,
``possible_present`` where a suspicion is; a number for motor_grade). Whole texts carry the
case fragment they should yield, plus ``also_mentioned`` terms that must stay out.

An item is scored on its value for the case: present -> true, negated -> false, the rest ->
left out. A wrong value is a false positive and a false negative at once. A mention that
must stay out (negated, hypothetical, possible, someone else's, historical) but is read as
present is also a *violation*, listed on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LABELS",
    "Tally",
    "Violation",
    "case_items",
    "gold_value",
    "term_values",
]

LABELS: dict[str, bool | None] = {
    "present": True,
    "negated": False,
    "historical_present": True,
    "possible_present": True,
    "possible": None,
    "historical": None,
    "hypothetical": None,
    "someone_else": None,
}
NEVER_PRESENT = ("negated", "hypothetical", "possible", "someone_else", "historical")
Value = bool | float | str | tuple[Any, ...] | None


def gold_value(label: str | float) -> Value:
    """The case value an annotation stands for (a number stands for itself)."""
    if isinstance(label, int | float) and not isinstance(label, bool):
        return float(label)
    if label not in LABELS:
        raise ValueError(f"unknown annotation {label!r}; use one of {', '.join(LABELS)}")
    return LABELS[str(label)]


@dataclass(frozen=True)
class Violation:
    where: str
    term: str
    label: str
    predicted: Value


@dataclass
class Tally:
    """True positives, false positives and false negatives per row of the table."""

    counts: dict[str, list[int]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def add(self, row: str, gold: Value, predicted: Value) -> None:
        tp_fp_fn = self.counts.setdefault(row, [0, 0, 0])
        right = predicted is not None and _same(gold, predicted)
        tp_fp_fn[0] += int(right)
        tp_fp_fn[1] += int(predicted is not None and not right)
        tp_fp_fn[2] += int(gold is not None and not right)

    def guard(self, where: str, term: str, label: str, predicted: Value) -> None:
        """Record a violation when a mention that must stay out is read as present."""
        if label in NEVER_PRESENT and predicted is True:
            self.violations.append(Violation(where, term, label, predicted))

    def micro(self) -> tuple[float, float, float]:
        tp = sum(c[0] for c in self.counts.values())
        fp = sum(c[1] for c in self.counts.values())
        fn = sum(c[2] for c in self.counts.values())
        return _prf(tp, fp, fn)

    def rows(self) -> list[tuple[str, int, int, int, float, float, float]]:
        return [(row, *c, *_prf(*c)) for row, c in sorted(self.counts.items())]  # type: ignore[misc]

    def table(self) -> str:
        lines = [f"{'finding':36} {'tp':>4} {'fp':>4} {'fn':>4} {'P':>6} {'R':>6} {'F1':>6}"]
        for row, tp, fp, fn, p, r, f in self.rows():
            lines.append(f"{row:36} {tp:4d} {fp:4d} {fn:4d} {p:6.3f} {r:6.3f} {f:6.3f}")
        p, r, f = self.micro()
        lines.append(f"{'micro':36} {'':4} {'':4} {'':4} {p:6.3f} {r:6.3f} {f:6.3f}")
        return "\n".join(lines)


def _same(gold: Value, predicted: Value) -> bool:
    if isinstance(gold, float) or isinstance(predicted, float):
        return (
            isinstance(gold, int | float)
            and isinstance(predicted, int | float)
            and not isinstance(gold, bool)
            and not isinstance(predicted, bool)
            and float(gold) == float(predicted)
        )
    return gold == predicted


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def term_values(evidence: Iterable[Mapping[str, Any]]) -> dict[str, Value]:
    """What the evidence concludes per finding or imaging finding, as extract() would."""
    values: dict[str, list[Any]] = {}
    for item in evidence:
        if item["kind"] in ("finding", "imaging_finding") and item["value"] is not None:
            values.setdefault(item["term"], []).append(item["value"])
    out: dict[str, Value] = {}
    for term, found in values.items():
        numbers = [v for v in found if isinstance(v, float) and not isinstance(v, bool)]
        out[term] = min(numbers) if numbers else (True in found)
    return out


def case_items(case: Mapping[str, Any]) -> dict[tuple[str, str], Value]:
    """A case fragment as scorable items: (row, item key) -> value."""
    items: dict[tuple[str, str], Value] = {}
    for name in ("age", "sex"):
        if name in case:
            value = case[name]
            items[(name, name)] = float(value) if isinstance(value, int | float) else value
    for term, value in case.get("findings", {}).items():
        items[(term, f"findings.{term}")] = float(value) if term == "motor_grade" else value
    for complaint in case.get("complaint", []):
        items[("complaint", f"complaint.{complaint}")] = True
    for surgery in case.get("surgeries", []):
        key = f"surgery.{surgery['procedure']}"
        items[("surgery", key)] = True
        if surgery.get("levels"):
            items[("surgery levels", f"{key}.levels")] = tuple(sorted(surgery["levels"]))
        for unit in ("weeks_ago", "months_ago", "years_ago"):
            if unit in surgery:
                items[("surgery time", f"{key}.time")] = (unit, float(surgery[unit]))
    for study in case.get("imaging", []):
        key = f"imaging.{study['study']}@{study['region']}"
        items[("study", key)] = True
        for term, value in study.get("findings", {}).items():
            items[(term, f"{key}.{term}")] = value
    return items
