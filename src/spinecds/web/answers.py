"""Answering an open question: the stored case plus one answer, ready to assess again.

A question names the case field it would fill (``findings.arm_weakness``,
``findings.motor_grade``, ``imaging[].findings.fracture``, ``symptom_weeks``...). The
answer is written into a copy of the original input, never into the stored record, and
the result is a new assessment with its own audit record.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["AnswerError", "AnswerSpec", "answer_spec", "apply_answer"]

Kind = Literal["presence", "number", "choice", "levels"]
_FINDING = re.compile(r"^findings\.(\w+)$")
_IMAGING_FINDING = re.compile(r"^imaging\[\]\.findings\.(\w+)$")
_NUMBER_FIELDS = {
    "age": "years",
    "symptom_weeks": "weeks",
    "surgeries[].weeks_ago": "weeks since the operation",
}


class AnswerError(ValueError):
    """The answer does not fit the question (e.g. text where a number is asked)."""


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """How a question is answered on the page: which control, and its limits."""

    kind: Kind
    unit: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    target: str = ""  # which entry an answer lands in, said on the page


def answer_spec(field: str, case: Mapping[str, Any], kb: KnowledgeBase) -> AnswerSpec | None:
    """The control for ``field``, or None when this page cannot answer it.

    Imaging findings go to the newest study and surgery facts to the most relevant
    operation (the first of each list, as the case format orders them); a case without
    one has nowhere to put the answer, so the question is shown without a form.
    """
    vocab = kb.vocabulary
    if match := _FINDING.match(field):
        name = match.group(1)
        if not vocab.has("finding", name):
            return None
        if vocab.attr("finding", name, "type") == "number":
            low, high = vocab.attr("finding", name, "min"), vocab.attr("finding", name, "max")
            return AnswerSpec("number", low=_float(low), high=_float(high))
        return AnswerSpec("presence")
    if match := _IMAGING_FINDING.match(field):
        if not vocab.has("imaging_finding", match.group(1)) or not _first(case, "imaging"):
            return None
        return AnswerSpec("presence", target="on the newest study in the case")
    if field in _NUMBER_FIELDS:
        needs_surgery = field.startswith("surgeries")
        if needs_surgery and not _first(case, "surgeries"):
            return None
        target = "for the first operation in the case" if needs_surgery else ""
        return AnswerSpec("number", unit=_NUMBER_FIELDS[field], low=0, target=target)
    if field == "course":
        choices = tuple((c, vocab.label("course", c)) for c in vocab.ids("course"))
        return AnswerSpec("choice", choices=choices)
    if field == "surgeries[].levels" and _first(case, "surgeries"):
        return AnswerSpec("levels", target="for the first operation in the case")
    return None


def apply_answer(
    case: Mapping[str, Any], field: str, value: str, kb: KnowledgeBase
) -> dict[str, Any]:
    """A copy of ``case`` with the answer to ``field`` written in; the original is untouched."""
    spec = answer_spec(field, case, kb)
    if spec is None:
        raise AnswerError(f"{field} cannot be answered on this page; edit the case instead.")
    answer = _parse(spec, value.strip())
    data: dict[str, Any] = copy.deepcopy(dict(case))
    if match := _FINDING.match(field):
        data["findings"] = {**(data.get("findings") or {}), match.group(1): answer}
    elif match := _IMAGING_FINDING.match(field):
        study = data["imaging"][0]
        study["findings"] = {**(study.get("findings") or {}), match.group(1): answer}
    elif field == "surgeries[].weeks_ago":
        surgery = data["surgeries"][0]
        for key in ("weeks_ago", "months_ago", "years_ago"):
            surgery.pop(key, None)
        surgery["weeks_ago"] = answer
    elif field == "surgeries[].levels":
        data["surgeries"][0]["levels"] = answer
    else:
        data[field] = answer
    return data


def _parse(spec: AnswerSpec, value: str) -> Any:
    if spec.kind == "presence":
        if value not in ("present", "absent"):
            raise AnswerError("Choose present or absent.")
        return value == "present"
    if spec.kind == "number":
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            raise AnswerError(f"Give a number, not {value!r}.") from None
        return int(number) if number.is_integer() else number
    if spec.kind == "choice":
        if value not in {c for c, _ in spec.choices}:
            raise AnswerError("Choose one of the listed answers.")
        return value
    levels = [x for x in re.split(r"[,;\s]+", value) if x]
    if not levels:
        raise AnswerError("Give at least one level, such as C5-C6.")
    return levels


def _first(case: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    items = case.get(key)
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
