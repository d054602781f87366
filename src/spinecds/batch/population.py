"""The synthetic population's data file (``kb/synth/population.yaml``), loaded strictly.

Each distribution must have the one shape the generator expects, cite only references
we hold, and name only terms the vocabulary (or the ACR tables) knows: a typo in the data
file fails at load with the field named, never as a quietly different population.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.loader import KnowledgeBase, default_kb

__all__ = ["Distribution", "LabValue", "Population", "default_population", "load_population"]

Shape = Literal["weights", "chance", "chances", "bins"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Strict):
    rationale: str = Field(min_length=20)
    references: list[str]
    modelling_choice: bool
    weights: dict[str, float] | None = None
    chance: float | None = Field(default=None, ge=0, le=1)
    chances: dict[str, float] | None = None
    early_chances: dict[str, float] | None = None
    bins: list[tuple[int, int, float]] | None = None


class LabValue(_Strict):
    unit: str
    normal: float
    raised: float
    upper_limit: float


class Population(_Strict):
    version: str
    as_of: date
    months_of_records: int = Field(ge=1, le=240)
    distributions: dict[str, Distribution]
    fhir_lab_values: dict[str, LabValue]


# What the generator reads: each distribution's shape and the vocabulary its keys come from
# ("acr" = ACR procedure names; None = keys the generator defines itself).
SHAPES: dict[str, tuple[Shape, str | None]] = {
    "age": ("bins", None),
    "age_recorded": ("chance", None),
    "sex": ("weights", "sex"),
    "operated_region": ("weights", None),
    "cervical_operation": ("weights", "procedure"),
    "levels_operated": ("weights", None),
    "upper_level": ("weights", None),
    "lumbar_level": ("weights", None),
    "thoracic_level": ("weights", None),
    "weeks_since_surgery": ("bins", None),
    "time_unit": ("weights", None),
    "second_operation": ("chance", None),
    "complaints": ("chances", "complaint"),
    "symptom_weeks": ("bins", None),
    "course": ("weights", "course"),
    "red_flags_recorded": ("chance", None),
    "red_flags": ("chances", "finding"),
    "swallowing_after_anterior_surgery": ("chances", "finding"),
    "arm_signs_with_radiculopathy": ("chances", "finding"),
    "cord_signs_with_myelopathy": ("chances", "finding"),
    "risk_factors": ("chances", "finding"),
    "labs_recorded": ("chance", None),
    "labs": ("chances", "finding"),
    "imaging_done": ("chance", None),
    "imaging_study": ("weights", "study"),
    "imaging_findings": ("chances", "imaging_finding"),
    "adjacent_degeneration_per_year": ("chance", None),
    "treatments": ("chances", "treatment"),
    "order_placed": ("chance", None),
    "ordered_procedure": ("weights", "acr"),
}
_FIELDS: tuple[Shape, ...] = ("weights", "chance", "chances", "bins")
_FIX = "see the header of kb/synth/population.yaml"


def _shape_problems(name: str, d: Distribution, shape: Shape) -> list[FieldProblem]:
    where = f"distributions.{name}"
    given = [f for f in _FIELDS if getattr(d, f) is not None]
    if given != [shape]:
        return [FieldProblem(where, f"needs exactly `{shape}`, has {given or 'none'}.", _FIX)]
    problems = []
    if shape == "weights" and (not d.weights or min(d.weights.values()) <= 0):
        problems.append(FieldProblem(where + ".weights", "weights must be positive.", _FIX))
    if shape == "bins" and any(low > high or w <= 0 for low, high, w in d.bins or []):
        problems.append(
            FieldProblem(where + ".bins", "each bin is [low <= high, weight > 0].", _FIX)
        )
    for field in ("chances", "early_chances"):
        values: dict[str, float] = getattr(d, field) or {}
        if any(not 0 <= p <= 1 for p in values.values()):
            problems.append(FieldProblem(f"{where}.{field}", "chances lie in 0..1.", _FIX))
    if d.early_chances is not None and set(d.early_chances) != set(d.chances or {}):
        problems.append(
            FieldProblem(where + ".early_chances", "must name the same terms as chances.", _FIX)
        )
    return problems


def _term_problems(name: str, d: Distribution, kind: str, kb: KnowledgeBase) -> list[FieldProblem]:
    keys = set(d.weights or {}) | set(d.chances or {})
    known = set(kb.procedures.values()) if kind == "acr" else set(kb.vocabulary.ids(kind))
    return [
        FieldProblem(f"distributions.{name}", f"{key!r} is not a known {kind} term.", _FIX)
        for key in sorted(keys - known)
    ]


def check_population(population: Population, kb: KnowledgeBase) -> list[FieldProblem]:
    problems = [
        FieldProblem(f"distributions.{name}", "missing.", _FIX)
        for name in SHAPES
        if name not in population.distributions
    ]
    for name, d in population.distributions.items():
        if name not in SHAPES:
            problems.append(FieldProblem(f"distributions.{name}", "unknown distribution.", _FIX))
            continue
        shape, kind = SHAPES[name]
        problems += _shape_problems(name, d, shape)
        if kind is not None:
            problems += _term_problems(name, d, kind, kb)
        problems += [
            FieldProblem(f"distributions.{name}.references", f"unknown reference {ref!r}.", _FIX)
            for ref in d.references
            if ref not in kb.references
        ]
    for term in population.fhir_lab_values:
        if not kb.vocabulary.has("finding", term):
            problems.append(FieldProblem(f"fhir_lab_values.{term}", "not a finding.", _FIX))
    return problems


def load_population(path: Path, kb: KnowledgeBase) -> Population:
    where = str(path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        population = Population.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(
            "The population file cannot be read.", [FieldProblem(where, str(exc), _FIX)]
        ) from None
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"], _FIX) for e in exc.errors()
        ]
        raise KnowledgeBaseError(f"{where} does not have the expected shape.", problems) from None
    problems = check_population(population, kb)
    if problems:
        raise KnowledgeBaseError(f"{where} has problems.", problems)
    return population


def default_path() -> Path:
    return Path(str(files("spinecds").joinpath("kb", "synth", "population.yaml")))


@cache
def default_population() -> Population:
    return load_population(default_path(), default_kb())
