"""A synthetic population for tests, demos and benchmarks: same seed, same bytes.

Each patient is drawn from the distributions in ``kb/synth/population.yaml`` with one
``random.Random(seed)`` in a fixed order, and written either as JSON Lines (one case per
line, in the case format, with ``patient_id`` and ``record_date``) or as a FHIR Bulk
Data export (see :mod:`spinecds.batch.synth_fhir`).

Unknown is not absent here either: a finding the synthetic clinician did not ask about
is left out of the case, never written as false.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from spinecds.batch.population import Distribution, Population, default_population
from spinecds.errors import FieldProblem, SpinecdsError

__all__ = ["SynthPatient", "generate", "write_synthetic"]

_SEGMENTS = ("C2-C3", "C3-C4", "C4-C5", "C5-C6", "C6-C7", "C7-T1")
_ANTERIOR = frozenset({"acdf", "cervical_disc_replacement", "anterior_cervical_corpectomy"})
_HARDWARE = frozenset(
    {"acdf", "posterior_cervical_fusion", "anterior_cervical_corpectomy"}
    | {"thoracic_fusion", "lumbar_fusion"}
)
_HARDWARE_FAULTS = ("screw_backout", "screw_fracture", "pseudarthrosis")
_WEEKS_PER_YEAR = 52.0
_EARLY_WEEKS = 6


@dataclass
class SynthPatient:
    """One synthetic patient: the case as seen on ``record_date``, plus what FHIR needs."""

    patient_id: str
    record_date: date
    case: dict[str, Any]
    surgery_weeks: list[int] = field(default_factory=list)  # exact weeks before the visit


class _Draw:
    """The population's distributions bound to one random stream."""

    def __init__(self, population: Population, rng: random.Random) -> None:
        self.d: Mapping[str, Distribution] = population.distributions
        self.rng = rng

    def pick(self, name: str) -> str:
        weights = self.d[name].weights or {}
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def chance(self, name: str, scale: float = 1.0, cap: float = 1.0) -> bool:
        return self.rng.random() < min(cap, (self.d[name].chance or 0.0) * scale)

    def number(self, name: str) -> int:
        bins = self.d[name].bins or []
        low, high, _ = self.rng.choices(bins, [b[2] for b in bins])[0]
        return self.rng.randint(low, high)

    def findings(self, name: str, early: bool) -> dict[str, bool]:
        d = self.d[name]
        chances = (d.early_chances if early and d.early_chances else d.chances) or {}
        return {term: self.rng.random() < p for term, p in chances.items()}


def _levels(draw: _Draw, procedure: str) -> list[str]:
    if procedure == "lumbar_fusion":
        return [draw.pick("lumbar_level")]
    if procedure == "thoracic_fusion":
        return [draw.pick("thoracic_level")]
    count = int(draw.pick("levels_operated"))
    start = min(_SEGMENTS.index(draw.pick("upper_level")), len(_SEGMENTS) - count)
    return list(_SEGMENTS[start : start + count])


def _time_ago(draw: _Draw, weeks: int) -> dict[str, float]:
    unit = draw.pick("time_unit")
    if unit == "years_ago" and weeks >= _WEEKS_PER_YEAR:
        return {"years_ago": round(weeks / _WEEKS_PER_YEAR, 1)}
    if unit == "months_ago" and weeks >= 5:
        return {"months_ago": float(round(weeks * 12 / _WEEKS_PER_YEAR))}
    return {"weeks_ago": float(weeks)}


def _surgeries(draw: _Draw) -> tuple[list[dict[str, Any]], list[int]]:
    region = draw.pick("operated_region")
    if region == "none":
        return [], []
    procedure = {"lumbar": "lumbar_fusion", "thoracic": "thoracic_fusion"}.get(region)
    procedure = procedure or draw.pick("cervical_operation")
    weeks = draw.number("weeks_since_surgery")
    levels = _levels(draw, procedure)
    first = {"procedure": procedure, "levels": levels, **_time_ago(draw, weeks)}
    if region != "cervical" or not draw.chance("second_operation") or weeks < 2 * _WEEKS_PER_YEAR:
        return [first], [weeks]
    # A later operation at the segment next to the first: adjacent segment disease.
    below = _SEGMENTS.index(levels[-1]) + 1
    segment = (
        _SEGMENTS[below] if below < len(_SEGMENTS) else _SEGMENTS[_SEGMENTS.index(levels[0]) - 1]
    )
    later = draw.rng.randint(1, weeks // 2)
    second = {"procedure": "acdf", "levels": [segment], **_time_ago(draw, later)}
    return [second, first], [later, weeks]


def _complaints(draw: _Draw) -> list[str]:
    chosen = [term for term, yes in draw.findings("complaints", False).items() if yes]
    return chosen or ["neck_pain"]


def _findings(draw: _Draw, case: dict[str, Any], early: bool) -> dict[str, bool | float]:
    findings: dict[str, bool | float] = {}
    if draw.chance("red_flags_recorded"):
        findings.update(draw.findings("red_flags", early))
    anterior = any(s["procedure"] in _ANTERIOR for s in case["surgeries"])
    if anterior and draw.chance("red_flags_recorded"):
        findings.update(draw.findings("swallowing_after_anterior_surgery", early))
    if "radiculopathy" in case["complaint"]:
        findings.update(draw.findings("arm_signs_with_radiculopathy", early))
        if findings.get("arm_weakness"):
            findings["motor_grade"] = float(draw.rng.randint(3, 4))
    if "myelopathy" in case["complaint"]:
        findings.update(draw.findings("cord_signs_with_myelopathy", early))
    findings.update(draw.findings("risk_factors", early))
    if draw.chance("labs_recorded"):
        findings.update(draw.findings("labs", early))
    return findings


def _imaging(
    draw: _Draw, surgeries: list[dict[str, Any]], weeks: list[int]
) -> list[dict[str, Any]]:
    if not draw.chance("imaging_done"):
        return []
    procedure = surgeries[0]["procedure"] if surgeries else None
    region = {"lumbar_fusion": "lumbar", "thoracic_fusion": "thoracic"}.get(
        procedure or "", "cervical"
    )
    drawn = draw.findings("imaging_findings", False)
    found: dict[str, bool] = {}
    if procedure in _HARDWARE:
        faults = {f: drawn[f] for f in _HARDWARE_FAULTS if drawn[f]}
        found.update(faults)
        if not faults and drawn["hardware_intact"]:
            found["hardware_intact"] = True
        if not faults and drawn["solid_fusion"] and max(weeks) > _WEEKS_PER_YEAR:
            found["solid_fusion"] = True
    for term in (
        "degenerative_changes",
        "disc_herniation",
        "foraminal_stenosis",
        "cord_compression",
    ):
        if drawn[term]:
            found[term] = True
    years = max(weeks, default=0) / _WEEKS_PER_YEAR
    if years and draw.chance("adjacent_degeneration_per_year", years, cap=0.5):
        found["adjacent_segment_degeneration"] = True
    study = {
        "study": draw.pick("imaging_study"),
        "region": region,
        "weeks_ago": float(draw.rng.randint(0, min(12, max(weeks, default=12)))),
    }
    if found:
        study["findings"] = found
    return [study]


def _treatments(draw: _Draw) -> list[dict[str, Any]]:
    chosen = [t for t, yes in draw.findings("treatments", False).items() if yes]
    return [{"treatment": t, "weeks": float(draw.rng.randint(1, 12))} for t in chosen]


def _patient(draw: _Draw, population: Population, seed: int, index: int) -> SynthPatient:
    rng = draw.rng
    days = rng.randint(0, population.months_of_records * 30)
    visit = population.as_of - timedelta(days=days)
    surgeries, weeks = _surgeries(draw)
    case: dict[str, Any] = {"id": f"synth-{seed}-{index:07d}", "patient_id": f"p{index:07d}"}
    case["record_date"] = visit.isoformat()
    if draw.chance("age_recorded"):
        case["age"] = float(draw.number("age"))
    case["sex"] = draw.pick("sex")
    case["surgeries"] = surgeries
    case["complaint"] = _complaints(draw)
    case["symptom_weeks"] = float(draw.number("symptom_weeks"))
    case["course"] = draw.pick("course")
    case["findings"] = _findings(draw, case, bool(weeks) and min(weeks) <= _EARLY_WEEKS)
    case["imaging"] = _imaging(draw, surgeries, weeks)
    case["treatments"] = _treatments(draw)
    if draw.chance("order_placed"):
        case["proposed_order"] = draw.pick("ordered_procedure")
    return SynthPatient(case["patient_id"], visit, case, weeks)


def generate(n: int, seed: int, population: Population | None = None) -> Iterator[SynthPatient]:
    """``n`` patients, the same ones for the same seed and population file."""
    population = population or default_population()
    draw = _Draw(population, random.Random(seed))  # noqa: S311 - reproducible, not secret
    for index in range(n):
        yield _patient(draw, population, seed, index)


def _write_jsonl(path: Path, patients: Iterator[SynthPatient]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        for patient in patients:
            out.write(json.dumps(patient.case, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_synthetic(
    out: Path, *, n: int, seed: int, fmt: str = "jsonl", as_of: date | None = None
) -> Path:
    """Write ``n`` synthetic patients to ``out`` (a .jsonl file or a FHIR export folder)."""
    population = default_population()
    if as_of is not None:
        population = population.model_copy(update={"as_of": as_of})
    patients = generate(n, seed, population)
    if fmt == "jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_jsonl(out, patients)
        return out
    if fmt == "fhir-bulk":
        from spinecds.batch.synth_fhir import write_bulk_export

        write_bulk_export(out, patients, population, seed)
        return out
    raise SpinecdsError(
        "Unknown synthetic output format.",
        [FieldProblem("format", repr(fmt), "use jsonl or fhir-bulk")],
    )
