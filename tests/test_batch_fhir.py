"""FHIR Bulk Data export input: join per patient, one row per patient and per imaging order."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from spinecds import KnowledgeBase, SpinecdsError
from spinecds.batch import run_batch
from spinecds.batch.fhir_bulk import FhirBulkSource, export_date, patient_key
from spinecds.batch.records import Ready, Rejected, assess_records
from spinecds.batch.sources import Job
from spinecds.batch.synth import write_synthetic
from spinecds.fhir import case_from_resources

AS_OF = date(2026, 6, 30)
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _ref(pid: str) -> dict[str, str]:
    return {"reference": f"Patient/{pid}"}


def _code(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _order(ident: str, pid: str, system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": ident,
        "status": "active",
        "intent": "order",
        "subject": _ref(pid),
        "code": _code(system, code),
        "authoredOn": "2026-05-02",
    }


def _export(folder: Path) -> Path:
    """Two patients; lines a reader must reject; orders of every kind."""
    folder.mkdir()
    files: dict[str, list[Any]] = {
        "Patient": [
            {"resourceType": "Patient", "id": "a", "gender": "male", "birthDate": "1968-02-01"},
            {"resourceType": "Patient", "id": "b", "gender": "female", "birthDate": "1975-07-09"},
        ],
        "Procedure": [
            {
                "resourceType": "Procedure",
                "id": "op-a",
                "status": "completed",
                "subject": {"reference": "https://ehr.example/fhir/Patient/a"},
                "code": _code(CPT, "22551"),
                "performedDateTime": "2024-06-30",
            }
        ],
        "Condition": [
            {
                "resourceType": "Condition",
                "id": "c-a",
                "subject": _ref("a"),
                "code": _code(ICD, "M54.12"),
                "onsetDateTime": "2026-05-01",
                "recordedDate": "2026-05-02",
            },
            "{broken line",
            {"resourceType": "Condition", "id": "c-x", "code": _code(ICD, "M54.2")},
            {
                "resourceType": "Condition",
                "id": "c-b",
                "subject": _ref("b"),
                "code": _code(ICD, "M54.2"),
                "recordedDate": "2025-11-20",
            },
        ],
        "ServiceRequest": [
            _order("mri-a", "a", LOINC, "30667-0"),  # MRI cervical spine without IV contrast
            _order("ambiguous-a", "a", CPT, "72126"),  # CT with contrast or CT myelography
            _order("crp-a", "a", LOINC, "1988-5"),  # a lab order: not reviewed
            _order("xr-b", "b", CPT, "72050"),
        ],
    }
    for kind, items in files.items():
        lines = [x if isinstance(x, str) else json.dumps(x) for x in items]
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    (folder / "manifest.json").write_text(json.dumps({"transactionTime": "2026-06-30T08:00:00Z"}))
    return folder


def _job(folder: Path, out: Path, chunk: int = 1, complete: bool = False) -> Job:
    return Job(str(folder), "fhir-bulk", str(out), chunk, AS_OF, False, complete)


def test_patient_key_reads_subject_patient_and_the_patient_itself() -> None:
    assert patient_key({"resourceType": "Patient", "id": "7"}) == "Patient/7"
    assert patient_key({"resourceType": "Condition", "subject": _ref("7")}) == "Patient/7"
    full = {
        "resourceType": "Device",
        "patient": {"reference": "http://x/fhir/Patient/7/_history/2"},
    }
    assert patient_key(full) == "Patient/7"
    assert patient_key({"resourceType": "Condition", "subject": {"reference": "Group/1"}}) is None


def test_the_export_date_comes_from_the_manifest(tmp_path: Path) -> None:
    folder = _export(tmp_path / "export")
    assert export_date(folder) == AS_OF
    (folder / "manifest.json").unlink()
    with pytest.raises(SpinecdsError, match="--as-of"):
        export_date(folder)


@pytest.fixture
def read_back(tmp_path: Path, kb: KnowledgeBase) -> tuple[list[Ready | Rejected], list[str]]:
    folder = _export(tmp_path / "export")
    source = FhirBulkSource(_job(folder, tmp_path / "out"))
    work = tmp_path / "out" / "_batch" / "stage"
    specs = source.plan(work)
    assert sum(s.size for s in specs) == 2  # patients, over the buckets
    records = [rec for spec in specs for rec in source.read(spec)]
    staged = (work / "rejects.jsonl").read_text().splitlines()
    return records, staged


def test_each_patient_and_each_imaging_order_is_a_record(
    read_back: tuple[list[Ready | Rejected], list[str]], kb: KnowledgeBase
) -> None:
    records, _ = read_back
    by_record = {r.record: r for r in records}
    assert sorted(by_record) == [
        "Patient/a",
        "Patient/b",
        "ServiceRequest/ambiguous-a",
        "ServiceRequest/mri-a",
        "ServiceRequest/xr-b",
    ]
    mri = by_record["ServiceRequest/mri-a"]
    patient = by_record["Patient/a"]
    assert isinstance(mri, Ready) and isinstance(patient, Ready)
    assert mri.data == {**patient.data, "proposed_order": "MRI cervical spine without IV contrast"}
    assert (mri.kind, mri.patient_id, str(mri.record_date)) == ("order", "a", "2026-05-02")
    assert patient.record_date == date(2026, 5, 2)  # the newest Condition.recordedDate
    ambiguous = by_record["ServiceRequest/ambiguous-a"]
    assert isinstance(ambiguous, Rejected)
    assert "CT myelography cervical spine" in ambiguous.reason


def test_the_case_is_what_the_fhir_mapper_makes_of_the_patient(
    read_back: tuple[list[Ready | Rejected], list[str]], tmp_path: Path, kb: KnowledgeBase
) -> None:
    records, _ = read_back
    folder = tmp_path / "export"
    mine = [
        json.loads(line)
        for name in ("Patient", "Procedure", "Condition", "ServiceRequest")
        for line in (folder / f"{name}.ndjson").read_text().splitlines()
        if '"a"' in line or "Patient/a" in line
    ]
    expected = case_from_resources(mine, today=AS_OF, kb=kb, validate=False).case
    patient = next(r for r in records if r.record == "Patient/a")
    assert isinstance(patient, Ready) and patient.data == expected
    assert expected["surgeries"][0]["procedure"] == "acdf"


def test_lines_that_cannot_be_placed_are_rejected_not_dropped(
    read_back: tuple[list[Ready | Rejected], list[str]],
) -> None:
    _, staged = read_back
    rejects = [json.loads(line) for line in staged]
    assert [(r["record"], r["kind"]) for r in rejects] == [
        ("Condition.ndjson:2", "resource"),
        ("Condition.ndjson:3", "resource"),
    ]
    assert "not valid JSON" in rejects[0]["reason"]
    assert "names no patient" in rejects[1]["reason"]


def test_without_procedures_complete_a_patient_with_no_operation_is_rejected(
    read_back: tuple[list[Ready | Rejected], list[str]], kb: KnowledgeBase
) -> None:
    records, _ = read_back
    rows = assess_records(records, kb)
    rejected = {r.record: r for r in rows.rejects}
    assert "Patient/b" in rejected and "ServiceRequest/xr-b" in rejected
    assert rejected["Patient/b"].problems[0].field == "surgeries"
    assert rows.columns["record"] == ["Patient/a", "ServiceRequest/mri-a"]


def test_a_synthetic_export_runs_end_to_end(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "export", n=150, seed=8, fmt="fhir-bulk")
    result = run_batch(
        tmp_path / "export", tmp_path / "out", workers=2, chunk_size=50, procedures_complete=True
    )
    table = pq.read_table(tmp_path / "out" / "results")
    kinds = table.column("kind").to_pylist()
    rejects = (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()
    patients_rejected = sum(json.loads(r)["kind"] == "patient" for r in rejects)
    assert kinds.count("patient") + patients_rejected == 150 == result.patients + patients_rejected
    assert kinds.count("order") == result.orders > 20
    plan = json.loads((tmp_path / "out" / "_batch" / "plan.json").read_text())
    assert plan["as_of"] == "2026-06-30" and plan["procedures_complete"] is True


def test_with_validation_an_invalid_order_is_rejected_with_its_problem(tmp_path: Path) -> None:
    folder = _export(tmp_path / "export")
    r5 = _order("r5-a", "a", LOINC, "30667-0")
    r5["code"] = {"concept": r5["code"]}  # the R5 shape of ServiceRequest.code
    with open(folder / "ServiceRequest.ndjson", "a") as handle:
        handle.write(json.dumps(r5) + "\n")
    job = Job(str(folder), "fhir-bulk", str(tmp_path / "out"), 1, AS_OF, True, True)
    source = FhirBulkSource(job)
    records = [
        r for spec in source.plan(tmp_path / "out" / "_batch" / "stage") for r in source.read(spec)
    ]
    invalid = [r for r in records if r.record == "ServiceRequest/r5-a"]
    assert len(invalid) == 1 and isinstance(invalid[0], Rejected)
    assert invalid[0].kind == "order"
    assert invalid[0].reason.startswith("The order is not valid FHIR R4: ServiceRequest/r5-a.code")
