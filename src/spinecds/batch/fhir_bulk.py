"""FHIR Bulk Data export folders: NDJSON per resource type, joined per patient.

A patient's resources are spread over the files (Patient, Condition, Procedure...). The
plan step sorts every line into one of N bucket files by a stable hash of the patient it
is about (``subject`` or ``patient``; a Patient by its own id), spilling to disk so memory
stays flat; a bucket is a chunk. A worker reads its bucket, groups the lines per patient
and maps each patient with :func:`spinecds.fhir.case_from_resources` (one ``patient``
row), plus one ``order`` row per imaging ServiceRequest: the same case with
``proposed_order`` set to the procedure the order asks for.

Lines that are not JSON or name no patient go to the rejects; an imaging order that the
code map cannot settle to one ACR procedure is rejected with the candidates.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from spinecds.batch.records import Ready, Rejected, parse_record_date
from spinecds.batch.sources import ChunkSpec, Job
from spinecds.errors import FieldProblem, SpinecdsError
from spinecds.knowledge.loader import KnowledgeBase, default_kb

__all__ = ["FhirBulkSource", "export_date", "patient_key"]

_FLUSH_BYTES = 32 << 20  # buffered lines written out to the buckets at this size
_REFERENCE_FIELDS = ("subject", "patient")


def export_date(folder: Path) -> date:
    """The day the export describes: ``transactionTime`` of its manifest."""
    for manifest in sorted(folder.glob("*.json")):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("transactionTime"), str):
            day = parse_record_date(data["transactionTime"])
            if day is not None:
                return day
    raise SpinecdsError(
        "The export's date is unknown: times since surgery are counted up to it.",
        [
            FieldProblem(
                str(folder),
                "no manifest (*.json) with a transactionTime",
                "pass --as-of YYYY-MM-DD, the day the export was made",
            )
        ],
    )


def patient_key(resource: Mapping[str, Any]) -> str | None:
    """``Patient/<id>`` for the patient a resource is about (a Patient: itself)."""
    if resource.get("resourceType") == "Patient":
        ident = resource.get("id")
        return f"Patient/{ident}" if isinstance(ident, str) and ident else None
    for name in _REFERENCE_FIELDS:
        ref = resource.get(name)
        text = ref.get("reference") if isinstance(ref, Mapping) else None
        if isinstance(text, str) and "Patient/" in text:
            ident = text.rstrip("/").split("Patient/", 1)[1].split("/", 1)[0]
            if ident:
                return f"Patient/{ident}"
    return None


def _bucket(key: str, buckets: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % buckets


class _Buckets:
    """Appends lines to bucket files, buffering in memory up to a fixed size."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder, self.count = folder, count
        self.buffer: dict[int, list[bytes]] = defaultdict(list)
        self.size = 0
        self.patients = [0] * count

    def path(self, index: int) -> Path:
        return self.folder / f"bucket-{index:05d}.ndjson"

    def add(self, key: str, line: bytes, is_patient: bool) -> None:
        index = _bucket(key, self.count)
        self.buffer[index].append(line)
        self.size += len(line)
        self.patients[index] += is_patient
        if self.size >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        for index, lines in sorted(self.buffer.items()):
            with open(self.path(index), "ab") as out:
                out.writelines(lines)
        self.buffer.clear()
        self.size = 0


class FhirBulkSource:
    """A folder of ``*.ndjson`` files from a FHIR Bulk Data ``$export``."""

    def __init__(self, job: Job) -> None:
        self.folder = Path(job.input)
        self.job = job
        self.stage = Path(job.out) / "_batch" / "stage"

    def files(self) -> list[Path]:
        files = sorted(self.folder.glob("*.ndjson"))
        if not files:
            raise SpinecdsError(
                "The FHIR export folder holds no .ndjson files.",
                [FieldProblem(str(self.folder), "no *.ndjson", "point INPUT at the export folder")],
            )
        return files

    def fingerprint(self) -> list[list[Any]]:
        return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in self.files()]

    def _bucket_count(self, files: list[Path]) -> int:
        """From the Patient files' line count: stable for the same input and chunk size."""
        patient_files = [p for p in files if "Patient" in p.name.split(".")]
        lines = 0
        for path in patient_files or files:
            with open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    lines += block.count(b"\n")
        return max(1, -(-lines // self.job.chunk_size))

    def plan(self, work: Path) -> list[ChunkSpec]:
        files = self.files()
        temporary = work.with_name(work.name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        buckets = _Buckets(temporary, self._bucket_count(files))
        rejects: list[str] = []
        for path in files:
            self._stage_file(path, buckets, rejects)
        buckets.flush()
        (temporary / "rejects.jsonl").write_text("".join(rejects), encoding="utf-8")
        shutil.rmtree(work, ignore_errors=True)
        temporary.rename(work)
        filled = [i for i in range(buckets.count) if (work / buckets.path(i).name).exists()]
        return [
            ChunkSpec(index, bucket, bucket + 1, 0, buckets.patients[bucket])
            for index, bucket in enumerate(filled)
        ]

    def _stage_file(self, path: Path, buckets: _Buckets, rejects: list[str]) -> None:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = f"{path.name}:{number}"
                try:
                    resource = json.loads(line)
                except ValueError as exc:
                    rejects.append(_reject(record, f"The line is not valid JSON: {exc}"))
                    continue
                key = patient_key(resource) if isinstance(resource, dict) else None
                if key is None:
                    reason = "The resource names no patient (no subject or patient reference)."
                    rejects.append(_reject(record, reason))
                    continue
                is_patient = resource.get("resourceType") == "Patient"
                buckets.add(key, line if line.endswith(b"\n") else line + b"\n", is_patient)

    def read(self, spec: ChunkSpec) -> Iterator[Ready | Rejected]:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with open(self.stage / f"bucket-{spec.start:05d}.ndjson", "rb") as handle:
            for line in handle:
                resource = json.loads(line)
                key = patient_key(resource)
                if key is not None:
                    groups[key].append(resource)
        kb = default_kb()
        as_of = self.job.as_of or export_date(self.folder)
        for key in sorted(groups):
            yield from _patient_records(key, groups[key], as_of, kb, self.job)


def _reject(record: str, reason: str) -> str:
    item = {"kind": "resource", "problems": [], "reason": reason, "record": record}
    return json.dumps(item, sort_keys=True) + "\n"


def _newest(resources: list[dict[str, Any]], kind: str, field: str) -> date | None:
    days = []
    for res in resources:
        if res.get("resourceType") == kind:
            try:
                day = parse_record_date(res.get(field))
            except ValueError:
                continue
            if day is not None:
                days.append(day)
    return max(days, default=None)


def _patient_records(
    key: str, resources: list[dict[str, Any]], as_of: date, kb: KnowledgeBase, job: Job
) -> Iterator[Ready | Rejected]:
    from spinecds.fhir import case_from_resources, orders_from_resources

    patient_id = key.split("/", 1)[1]
    try:
        mapped = case_from_resources(
            resources,
            today=as_of,
            kb=kb,
            validate=job.validate_fhir,
            procedures_complete=job.procedures_complete,
        )
        invalid: list[str] = []
        orders = orders_from_resources(resources, kb, validate=job.validate_fhir, rejects=invalid)
    except Exception as exc:  # one patient's bad record must not stop the run
        reason = f"internal error while mapping FHIR: {type(exc).__name__}: {exc}"
        yield Rejected(key, "patient", reason)
        return
    # The visit that recorded the complaint dates the patient row (for trends by month).
    visit = _newest(resources, "Condition", "recordedDate")
    yield Ready(key, "patient", patient_id, visit, mapped.case)
    for text in invalid:  # "ServiceRequest/<id>: <problem>"
        record, _, problem = text.partition(": ")
        yield Rejected(record, "order", f"The order is not valid FHIR R4: {problem}")
    authored = {
        str(r.get("id")): r.get("authoredOn")
        for r in resources
        if r.get("resourceType") == "ServiceRequest"
    }
    for order in orders:
        record = f"ServiceRequest/{order.resource_id or '?'}"
        if order.procedure is None:
            why = "; ".join(order.notes) or "the code is not in the code map"
            reason = f"The imaging order cannot be matched to one ACR procedure: {why}."
            yield Rejected(record, "order", reason)
            continue
        try:
            when = parse_record_date(authored.get(str(order.resource_id)))
        except ValueError:
            when = None
        yield Ready(
            record, "order", patient_id, when, {**mapped.case, "proposed_order": order.procedure}
        )
