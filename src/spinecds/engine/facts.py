"""Turn a case into the flat value dict that conditions read.

Keys: ``f:`` finding (1.0 present, 0.0 absent, missing = unknown), ``e:`` imaging finding in
another region, ``c:`` complaint, ``d:`` study done this episode, ``s:`` operation,
``t:`` weeks of a treatment, ``x:`` derived fact (``None`` = unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spinecds.case import Case, Imaging, Surgery
from spinecds.engine.conditions import TRUE
from spinecds.engine.prepared import prepared
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.schema import Bands

__all__ = ["Facts", "case_facts"]

_REGION_ORDER = ("cervical", "thoracic", "lumbar")


@dataclass
class Facts:
    values: dict[str, Any]
    region: str
    # derived fact -> (index of the chosen value, indexes of earlier values left unknown)
    derived_unknown: dict[str, list[int]] = field(default_factory=dict)
    imaged: bool = False  # some study images the painful region


def case_facts(case: Case, kb: KnowledgeBase) -> Facts:
    prep = prepared(kb)
    tables = prep.terms
    regions = {tables.complaint_region[c] for c in case.complaint}
    region = next(r for r in _REGION_ORDER if r in regions)
    here = [s for s in case.surgeries if s.region == region]
    weeks = _weeks_since(here)
    v: dict[str, Any] = {
        "x:region": region,
        "x:age": case.age,
        "x:sex": case.sex,
        "x:symptom_weeks": case.symptom_weeks,
        "x:course": case.course,
        "x:operated_region": bool(here),
        "x:operated_elsewhere": bool(case.surgeries) and not here,
        "x:anterior_cervical": any(
            s.region == "cervical" and s.procedure in tables.anterior for s in case.surgeries
        ),
        "x:fusion_region": any(s.procedure in tables.fusion for s in here),
        "x:multilevel": _multilevel(here),
        "x:weeks_since_surgery": weeks,
        "x:phase": (_band(kb.context.phases, weeks) if here else "none"),
        "x:episode": _band(kb.context.episodes, case.symptom_weeks),
        "x:motor_grade": case.findings.get("motor_grade"),
    }
    for name, value in case.findings.items():
        # Only true/false findings become values (a number such as motor_grade is a fact).
        if value is True:
            v[f"f:{name}"] = TRUE
        elif value is False:
            v[f"f:{name}"] = 0.0
    imaged = _imaging(case, region, v)
    for c in case.complaint:
        v[f"c:{c}"] = TRUE
    for s in case.surgeries:
        v[f"s:{s.procedure}"] = TRUE
    for t in case.treatments:
        v[f"t:{t.treatment}"] = max(t.weeks, v.get(f"t:{t.treatment}", 0.0))
    # Every key the knowledge base reads is present (what its absence means, unless the case
    # says otherwise): the generated code reads v[key].
    facts = Facts({**prep.missing, **v}, region, imaged=imaged)
    _derive(facts, kb)
    return facts


def _weeks_since(surgeries: list[Surgery]) -> float | None:
    """Weeks since the latest operation; unknown if any operation's date is unknown."""
    if not surgeries or any(s.weeks_ago is None for s in surgeries):
        return None
    return min(s.weeks_ago for s in surgeries if s.weeks_ago is not None)


def _multilevel(surgeries: list[Surgery]) -> bool | None:
    if any(len(s.levels) >= 2 for s in surgeries):
        return True
    if surgeries and all(s.levels for s in surgeries):
        return False
    return None


def _band(bands: Iterable[Bands], weeks: float | None) -> str | None:
    if weeks is None:
        return None
    for band in bands:
        if band.below_weeks is None or weeks < band.below_weeks:
            return band.value
    return None


def _in_episode(study: Imaging, symptom_weeks: float | None) -> bool:
    """A study counts as done for this episode unless it clearly predates it."""
    if study.weeks_ago is None or symptom_weeks is None:
        return True
    return study.weeks_ago <= symptom_weeks


def _imaging(case: Case, region: str, v: dict[str, Any]) -> bool:
    """Imaging values; and whether any study images the painful region."""
    # Findings merge over every study of the region: present if any study reports them,
    # absent if a study reports them absent and none present; otherwise unknown.
    imaged = False
    for study in case.imaging:
        if study.region == region:
            imaged = True
            if _in_episode(study, case.symptom_weeks):
                v[f"d:{study.study}"] = TRUE
            for name, present in study.findings.items():
                key = f"f:{name}"
                v[key] = max(v.get(key, 0.0), TRUE if present else 0.0)
        else:
            for name, present in study.findings.items():
                if present:
                    v[f"e:{name}"] = TRUE
    return imaged


def _derive(facts: Facts, kb: KnowledgeBase) -> None:
    # Each derived fact is a first-match list; a later one may read an earlier one.
    values = facts.values
    for derived, (fact, test) in zip(kb.context.derived, prepared(kb).derived, strict=True):
        chosen, unknown = test(values)
        values[f"x:{fact}"] = None if chosen is None else derived.values[chosen].value
        if unknown:
            facts.derived_unknown[fact] = unknown
