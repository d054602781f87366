"""The synthetic population as a FHIR R4 Bulk Data export: NDJSON per resource type.

Every code comes from the project's verified code map (``codes.yaml``), and only codes
that may assert their term on their own (no ``caution``, ``ambiguous``, ``rule`` or
prefix match). Where the map has a code unique to an ACR procedure it is used; where it
has none (CT myelography, SPECT bone scans), the export uses a code the procedure shares
with others, as a real record would, and the FHIR reader decides what it can tell.

FHIR carries what codes can say: complaints, operations, coded findings (cancer history,
dysphagia), laboratory values, imaging done (with coded conclusions) and imaging orders.
Findings without a code in the map (fever, wound drainage...) and stated absences are not
written; a FHIR reader sees them as unknown, which is what they would be in a real export.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from spinecds.batch.population import Population
from spinecds.batch.synth import SynthPatient
from spinecds.errors import FieldProblem, SpinecdsError

__all__ = ["CodeMap", "codes_file", "write_bulk_export"]

RESOURCE_TYPES = (
    "Patient",
    "Procedure",
    "Condition",
    "Observation",
    "DiagnosticReport",
    "ServiceRequest",
)
_UNSAFE = ("caution", "ambiguous", "rule", "match")
_LAB_CODES = {"esr_elevated": "esr", "crp_elevated": "crp", "wbc_elevated": "wbc_cbc"}
_CODED_FINDINGS = ("cancer_history", "dysphagia")
_WEEK = timedelta(weeks=1)

Coding = dict[str, str]


def codes_file() -> Path:
    """The code map the FHIR reader uses (``kb/fhir/codes.yaml``), else ``../shared``'s."""
    here = Path(__file__).resolve()
    candidates = [
        here.parents[1] / "kb" / "fhir" / "codes.yaml",  # the FHIR reader's copy
        here.parents[3].parent / "shared" / "codes" / "codes.yaml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise SpinecdsError(
        "The FHIR code map (codes.yaml) was not found.",
        [FieldProblem("codes.yaml", "looked in " + ", ".join(map(str, candidates)), "")],
    )


def _coding(entry: dict[str, Any]) -> Coding:
    return {"system": entry["code_system"], "code": str(entry["code"]), "display": entry["display"]}


def _safe(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("maps_to"), str) and not any(k in entry for k in _UNSAFE)


@dataclass
class CodeMap:
    """Codings by the term they assert, read once from ``codes.yaml``."""

    terms: dict[str, list[Coding]]  # "procedure:acdf", "complaint:neck_pain", ...
    orders: dict[str, list[Coding]]  # ACR procedure name -> codings (unique ones if any)
    studies: dict[tuple[str, str], list[Coding]]  # (study, region) -> codings
    labs: dict[str, list[Coding]]  # observations section key -> codings

    @classmethod
    def load(cls, path: Path) -> CodeMap:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        terms: dict[str, list[Coding]] = defaultdict(list)
        for section in ("surgeries", "conditions"):
            for entries in data[section].values():
                for entry in entries:
                    if _safe(entry):
                        terms[entry["maps_to"]].append(_coding(entry))
        owners: dict[tuple[str, str], set[str]] = defaultdict(set)
        for group in data["imaging_procedures"]:
            for entry in group["codes"]:
                owners[entry["code_system"], str(entry["code"])].add(group["acr_procedure"])
        orders: dict[str, list[Coding]] = {}
        studies: dict[tuple[str, str], list[Coding]] = {}
        for group in data["imaging_procedures"]:
            safe = [e for e in group["codes"] if _safe(e)]
            unique = [e for e in safe if len(owners[e["code_system"], str(e["code"])]) == 1]
            codings = [_coding(e) for e in unique or safe]
            orders.setdefault(group["acr_procedure"], codings)
            if group.get("study") and codings:
                studies.setdefault((group["study"], group["region"]), codings)
        labs = {
            key: [_coding(e) for e in entries if _safe(e)]
            for key, entries in data["observations"].items()
        }
        return cls(dict(terms), orders, studies, labs)

    def order(self, procedure: str) -> Coding:
        codings = self.orders.get(procedure)
        if not codings:
            raise SpinecdsError(
                "An ordered procedure has no code in the code map.",
                [FieldProblem("ordered_procedure", procedure, "remove it from population.yaml")],
            )
        return codings[0]


class _Writer:
    """Builds one patient's resources with deterministic ids and code choices."""

    def __init__(self, codes: CodeMap, population: Population, rng: random.Random) -> None:
        self.codes, self.population, self.rng = codes, population, rng

    def _pick(self, codings: list[Coding]) -> Coding:
        return codings[self.rng.randrange(len(codings))]

    def resources(self, p: SynthPatient) -> Iterator[dict[str, Any]]:
        case, pid = p.case, p.patient_id
        subject = {"reference": f"Patient/{pid}"}
        yield self._patient(p)
        for i, (surgery, weeks) in enumerate(zip(case["surgeries"], p.surgery_weeks, strict=True)):
            codings = self.codes.terms.get(f"procedure:{surgery['procedure']}")
            if codings:
                yield {
                    "resourceType": "Procedure",
                    "id": f"{pid}-op{i + 1}",
                    "status": "completed",
                    "subject": subject,
                    "code": {"coding": [self._pick(codings)]},
                    "performedDateTime": (p.record_date - weeks * _WEEK).isoformat(),
                }
        yield from self._conditions(p, subject)
        yield from self._labs(p, subject)
        yield from self._imaging(p, subject)
        if order := case.get("proposed_order"):
            yield {
                "resourceType": "ServiceRequest",
                "id": f"{pid}-order1",
                "status": "active",
                "intent": "order",
                "subject": subject,
                "code": {"coding": [self.codes.order(order)]},
                "authoredOn": p.record_date.isoformat(),
            }

    def _patient(self, p: SynthPatient) -> dict[str, Any]:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": p.patient_id}
        sex = p.case.get("sex")
        if sex:
            patient["gender"] = sex
        if "age" in p.case:
            # Born on a day that makes the patient this age on the visit date.
            days = self.rng.randint(1, 364)
            born = p.record_date.replace(year=p.record_date.year - int(p.case["age"]) - 1)
            patient["birthDate"] = (born + timedelta(days=days)).isoformat()
        return patient

    def _conditions(self, p: SynthPatient, subject: dict[str, str]) -> Iterator[dict[str, Any]]:
        onset = p.record_date - int(p.case["symptom_weeks"]) * _WEEK
        terms = [f"complaint:{c}" for c in p.case["complaint"]]
        terms += [f"finding:{f}" for f in _CODED_FINDINGS if p.case["findings"].get(f) is True]
        for i, term in enumerate(t for t in terms if t in self.codes.terms):
            yield {
                "resourceType": "Condition",
                "id": f"{p.patient_id}-cond{i + 1}",
                "subject": subject,
                "code": {"coding": [self._pick(self.codes.terms[term])]},
                "onsetDateTime": onset.isoformat(),
                "recordedDate": p.record_date.isoformat(),
            }

    def _labs(self, p: SynthPatient, subject: dict[str, str]) -> Iterator[dict[str, Any]]:
        for i, (finding, key) in enumerate(_LAB_CODES.items()):
            raised = p.case["findings"].get(finding)
            if raised is None:
                continue
            lab = self.population.fhir_lab_values[finding]
            value = lab.raised if raised else lab.normal
            yield {
                "resourceType": "Observation",
                "id": f"{p.patient_id}-lab{i + 1}",
                "status": "final",
                "subject": subject,
                "code": {"coding": [self._pick(self.codes.labs[key])]},
                "effectiveDateTime": p.record_date.isoformat(),
                "valueQuantity": {"value": value, "unit": lab.unit},
                "referenceRange": [{"high": {"value": lab.upper_limit, "unit": lab.unit}}],
            }

    def _imaging(self, p: SynthPatient, subject: dict[str, str]) -> Iterator[dict[str, Any]]:
        for i, study in enumerate(p.case["imaging"]):
            codings = self.codes.studies.get((study["study"], study["region"]))
            if not codings:
                continue
            when = p.record_date - int(study["weeks_ago"]) * _WEEK
            report: dict[str, Any] = {
                "resourceType": "DiagnosticReport",
                "id": f"{p.patient_id}-img{i + 1}",
                "status": "final",
                "subject": subject,
                "code": {"coding": [self._pick(codings)]},
                "effectiveDateTime": when.isoformat(),
            }
            found = [f"imaging_finding:{f}" for f, v in study.get("findings", {}).items() if v]
            coded = [self._pick(self.codes.terms[t]) for t in found if t in self.codes.terms]
            if coded:
                report["conclusionCode"] = [{"coding": [c]} for c in coded]
            yield report


def _manifest(as_of: date, counts: dict[str, int]) -> dict[str, Any]:
    """A Bulk Data export manifest; ``transactionTime`` is the day the export describes."""
    return {
        "transactionTime": f"{as_of.isoformat()}T00:00:00Z",
        "request": "spinecds synth (synthetic population)",
        "requiresAccessToken": False,
        "output": [{"type": t, "url": f"{t}.ndjson", "count": counts[t]} for t in RESOURCE_TYPES],
        "error": [],
    }


def write_bulk_export(
    out: Path, patients: Iterable[SynthPatient], population: Population, seed: int
) -> None:
    """Write ``<Type>.ndjson`` files and ``manifest.json`` into the folder ``out``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpinecdsError(
            "The export folder must be new or empty.",
            [FieldProblem(str(out), "exists and is not empty", "choose a new folder")],
        )
    out.mkdir(parents=True, exist_ok=True)
    codes = CodeMap.load(codes_file())
    # A stream of its own, so the FHIR form's code choices never shift the population.
    writer = _Writer(codes, population, random.Random(f"fhir-{seed}"))  # noqa: S311
    handles = {t: open(out / f".{t}.ndjson.tmp", "w", encoding="utf-8") for t in RESOURCE_TYPES}
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    try:
        for patient in patients:
            for resource in writer.resources(patient):
                kind = resource["resourceType"]
                handles[kind].write(json.dumps(resource, ensure_ascii=False) + "\n")
                counts[kind] += 1
    finally:
        for handle in handles.values():
            handle.close()
    for kind in RESOURCE_TYPES:
        (out / f".{kind}.ndjson.tmp").replace(out / f"{kind}.ndjson")
    manifest = json.dumps(_manifest(population.as_of, counts), indent=1) + "\n"
    (out / "manifest.json").write_text(manifest, encoding="utf-8")
