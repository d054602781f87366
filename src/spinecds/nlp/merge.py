"""Combine what the texts say with a structured case: structured values win.

The text fills only what the case leaves out: a missing field, a missing finding, a
missing level or time of an operation the case names, a study or operation the case does
not list. Where the two disagree the case is kept and the disagreement is recorded, so the
report can show it ("the case file says absent; the text says present"). A case that lists
no operations (``surgeries: []``) has said so: the text adds none.

Every field of the merged case carries its provenance: the case file, or the text with the
evidence (exact words, sentence, section) it came from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spinecds.nlp.model import Evidence, Extraction
from spinecds.nlp.rules import default_rules

__all__ = ["Merged", "Override", "merge_case"]

_SCALARS = ("age", "sex", "symptom_weeks", "course")
_TIMES = ("weeks_ago", "months_ago", "years_ago")


@dataclass(frozen=True)
class Override:
    """The case and the text disagree; the case was kept."""

    field: str
    case_value: Any
    text_value: Any
    evidence: tuple[Evidence, ...]


@dataclass
class Merged:
    data: dict[str, Any]  # raw case data, ready for parse_case
    from_text: dict[str, tuple[Evidence, ...]] = field(default_factory=dict)  # field -> words
    from_case: set[str] = field(default_factory=set)
    overrides: list[Override] = field(default_factory=list)

    def origin(self, path: str) -> str:
        return "text" if path in self.from_text else "case"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "fields_from_text": {
                path: [e.as_dict() for e in evidence] for path, evidence in self.from_text.items()
            },
            "kept_from_case": [
                {
                    "field": o.field,
                    "case_value": o.case_value,
                    "text_value": o.text_value,
                    "evidence": [e.as_dict() for e in o.evidence],
                }
                for o in self.overrides
            ],
        }


def merge_case(case: Mapping[str, Any] | None, extraction: Extraction) -> Merged:
    """The case with the extraction's fragment merged in (see the module docstring)."""
    data = copy.deepcopy(dict(case)) if case else {}
    merged = Merged(data)
    fragment = extraction.case
    evidence = _evidence_by_field(extraction)
    for name in _SCALARS:
        _scalar(merged, name, fragment, evidence)
    _complaint(merged, fragment, evidence)
    _surgeries(merged, fragment, evidence)
    _findings(merged, fragment, evidence)
    _imaging(merged, fragment, evidence)
    return merged


def _evidence_by_field(extraction: Extraction) -> dict[str, tuple[Evidence, ...]]:
    found: dict[str, list[Evidence]] = {}
    for item in extraction.entered():
        if item.field is not None:
            found.setdefault(item.field, []).append(item)
    return {k: tuple(v) for k, v in found.items()}


def _under(evidence: Mapping[str, tuple[Evidence, ...]], prefix: str) -> tuple[Evidence, ...]:
    """The evidence of a field and of everything below it ("surgeries[0]")."""
    return tuple(e for path, items in evidence.items() if path.startswith(prefix) for e in items)


def _scalar(
    merged: Merged,
    name: str,
    fragment: Mapping[str, Any],
    evidence: Mapping[str, tuple[Evidence, ...]],
) -> None:
    if name not in fragment:
        return
    given = merged.data.get(name)
    if given is None:
        merged.data[name] = fragment[name]
        merged.from_text[name] = evidence.get(name, ())
    elif given != fragment[name]:
        merged.overrides.append(Override(name, given, fragment[name], evidence.get(name, ())))


def _complaint(
    merged: Merged, fragment: Mapping[str, Any], evidence: Mapping[str, tuple[Evidence, ...]]
) -> None:
    said = list(fragment.get("complaint", []))
    if not said:
        return
    if merged.data.get("complaint"):
        if set(said) != set(merged.data["complaint"]):
            merged.overrides.append(
                Override("complaint", merged.data["complaint"], said, evidence.get("complaint", ()))
            )
        return
    merged.data["complaint"] = said
    makers = {
        f for c in said for f in default_rules().targets["complaint"].from_findings.get(c, [])
    }
    merged.from_text["complaint"] = evidence.get("complaint", ()) + tuple(
        e
        for path, items in evidence.items()
        if path.startswith("findings.")
        for e in items
        if e.term in makers and e.assertion == "present"
    )


def _surgeries(
    merged: Merged, fragment: Mapping[str, Any], evidence: Mapping[str, tuple[Evidence, ...]]
) -> None:
    if "surgeries" not in fragment:
        return
    text_surgeries = fragment["surgeries"]
    if "surgeries" not in merged.data:
        merged.data["surgeries"] = copy.deepcopy(text_surgeries)
        merged.from_text["surgeries"] = _under(evidence, "surgeries")
        for i in range(len(text_surgeries)):
            merged.from_text[f"surgeries[{i}]"] = _under(evidence, f"surgeries[{i}]")
        return
    listed = merged.data["surgeries"]
    for i, surgery in enumerate(text_surgeries):
        words = _under(evidence, f"surgeries[{i}]")
        if not listed and isinstance(listed, list):
            merged.overrides.append(Override("surgeries", [], surgery, words))
            continue
        same = [j for j, s in enumerate(listed) if s.get("procedure") == surgery["procedure"]]
        if not same:
            listed.append(copy.deepcopy(surgery))
            merged.from_text[f"surgeries[{len(listed) - 1}]"] = words
            continue
        _fill_surgery(merged, same[0], surgery, words)


def _fill_surgery(
    merged: Merged, index: int, surgery: Mapping[str, Any], words: tuple[Evidence, ...]
) -> None:
    kept = merged.data["surgeries"][index]
    where = f"surgeries[{index}]"
    if surgery.get("levels"):
        if not kept.get("levels"):
            kept["levels"] = list(surgery["levels"])
            merged.from_text[f"{where}.levels"] = words
        elif _normal_levels(kept["levels"]) != set(surgery["levels"]):
            merged.overrides.append(
                Override(f"{where}.levels", kept["levels"], surgery["levels"], words)
            )
    unit = next((u for u in _TIMES if u in surgery), None)
    if unit is None:
        return
    if not any(kept.get(u) is not None for u in _TIMES):
        kept[unit] = surgery[unit]
        merged.from_text[f"{where}.{unit}"] = words
    elif kept.get(unit) != surgery[unit]:
        given = {u: kept[u] for u in _TIMES if kept.get(u) is not None}
        merged.overrides.append(Override(f"{where}.time", given, {unit: surgery[unit]}, words))


def _normal_levels(levels: Any) -> set[str]:
    from spinecds.nlp.levels import find_levels

    return {s for text in levels for lv in find_levels(str(text)) for s in lv.segments}


def _findings(
    merged: Merged, fragment: Mapping[str, Any], evidence: Mapping[str, tuple[Evidence, ...]]
) -> None:
    said = fragment.get("findings", {})
    if not said:
        return
    findings = merged.data.setdefault("findings", {})
    if not isinstance(findings, dict):
        return  # a malformed case: parse_case will name the problem
    for name, value in said.items():
        where = f"findings.{name}"
        given = findings.get(name)
        if given is None:
            findings[name] = value
            merged.from_text[where] = evidence.get(where, ())
        elif given != value:
            merged.overrides.append(Override(where, given, value, evidence.get(where, ())))


def _imaging(
    merged: Merged, fragment: Mapping[str, Any], evidence: Mapping[str, tuple[Evidence, ...]]
) -> None:
    said = fragment.get("imaging", [])
    if not said:
        return
    studies = merged.data.setdefault("imaging", [])
    if not isinstance(studies, list):
        return
    for i, study in enumerate(said):
        source = f"imaging[{i}]"
        same = [
            j
            for j, s in enumerate(studies)
            if isinstance(s, dict)
            and s.get("study") == study["study"]
            and s.get("region") == study["region"]
        ]
        if not same:
            studies.append(copy.deepcopy(study))
            j = len(studies) - 1
            merged.from_text[f"imaging[{j}]"] = evidence.get(source, ())
            for name in study["findings"]:
                merged.from_text[f"imaging[{j}].findings.{name}"] = evidence.get(
                    f"{source}.findings.{name}", ()
                )
            continue
        kept = studies[same[0]]
        findings = kept.setdefault("findings", {})
        for name, value in study["findings"].items():
            where = f"imaging[{same[0]}].findings.{name}"
            words = evidence.get(f"{source}.findings.{name}", ())
            if findings.get(name) is None:
                findings[name] = value
                merged.from_text[where] = words
            elif findings[name] != value:
                merged.overrides.append(Override(where, findings[name], value, words))
