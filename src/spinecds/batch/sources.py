"""Input formats: plan an input into chunks, and read one chunk back as records.

Planning runs once, in the driver, and only finds boundaries (byte offsets, row groups,
patient buckets); reading runs in the workers, so each worker reads its own slice of the
input and the driver never holds or ships the records. A plan depends only on the input
and the chunk size, so a rerun finds the same chunks and can skip the finished ones.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from spinecds.batch.columns import check_header, row_to_case
from spinecds.batch.records import Ready, Rejected, parse_record_date
from spinecds.errors import CaseError, FieldProblem

__all__ = [
    "FORMATS",
    "ChunkSpec",
    "Job",
    "Source",
    "detect_format",
    "open_source",
]


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a worker needs to process any chunk of one run (small, picklable)."""

    input: str
    fmt: str
    out: str
    chunk_size: int
    as_of: date | None = None  # FHIR: the day the export describes
    validate_fhir: bool = False  # FHIR: check each resource against the R4 models (slower)
    procedures_complete: bool = False  # FHIR: the export holds every operation


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """One chunk: a byte range (JSONL, CSV), a row group (Parquet) or a patient bucket."""

    index: int
    start: int
    stop: int
    first: int  # line or row number of the chunk's first record
    size: int  # input units in the chunk (lines, rows or patients), for progress


class Source(Protocol):
    def fingerprint(self) -> list[list[Any]]:
        """Names, sizes and modification times of the input files (a changed input is a new run)."""
        ...

    def plan(self, work: Path) -> list[ChunkSpec]:
        """Chunk boundaries; ``work`` is a folder for any staging the format needs."""
        ...

    def read(self, spec: ChunkSpec) -> Iterator[Ready | Rejected]: ...


def _stat(path: Path) -> list[Any]:
    info = path.stat()
    return [path.name, info.st_size, info.st_mtime_ns]


def _envelope(data: dict[str, Any], record: str) -> Ready | Rejected:
    """Take the batch-only fields off a case dict."""
    patient = data.pop("patient_id", None)
    try:
        when = parse_record_date(data.pop("record_date", None))
    except ValueError as exc:
        problem = FieldProblem("record_date", str(exc), "write YYYY-MM-DD")
        return Rejected(record, "patient", "The record's date cannot be read.", (problem,))
    return Ready(record, "patient", None if patient is None else str(patient), when, data)


class JsonLinesSource:
    """One case per line (the case format), optionally with ``patient_id``/``record_date``."""

    def __init__(self, job: Job) -> None:
        self.path = Path(job.input)
        self.chunk_size = job.chunk_size

    def fingerprint(self) -> list[list[Any]]:
        return [_stat(self.path)]

    def plan(self, work: Path) -> list[ChunkSpec]:
        specs: list[ChunkSpec] = []
        start = offset = 0
        count = 0
        with open(self.path, "rb") as handle:
            for line in handle:
                offset += len(line)
                count += 1
                if count % self.chunk_size == 0:
                    first = count - self.chunk_size + 1
                    specs.append(ChunkSpec(len(specs), start, offset, first, self.chunk_size))
                    start = offset
        if offset > start:
            first = len(specs) * self.chunk_size + 1
            specs.append(ChunkSpec(len(specs), start, offset, first, count - first + 1))
        return specs

    def read(self, spec: ChunkSpec) -> Iterator[Ready | Rejected]:
        with open(self.path, "rb") as handle:
            handle.seek(spec.start)
            block = handle.read(spec.stop - spec.start)
        name = self.path.name
        loads = json.loads
        for number, line in enumerate(block.split(b"\n"), spec.first):
            if not line.strip():
                continue
            record = f"{name}:{number}"
            try:
                data = loads(line)
            except json.JSONDecodeError as exc:
                reason = f"The line is not valid JSON: {exc.msg} at column {exc.colno}."
                yield Rejected(record, "patient", reason)
                continue
            except UnicodeDecodeError:
                yield Rejected(record, "patient", "The line is not UTF-8 text.")
                continue
            if not isinstance(data, dict):
                kind = type(data).__name__
                yield Rejected(
                    record, "patient", f"The line holds a JSON {kind}, not a case object."
                )
                continue
            yield _envelope(data, record)


class _Offsets:
    """Feeds lines to ``csv.reader`` while counting the bytes it has consumed."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self.handle = handle
        self.offset = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.offset += len(raw)
            yield raw.decode("utf-8")


class CsvSource:
    """A CSV table with a header row (UTF-8; quoted cells may span lines)."""

    def __init__(self, job: Job) -> None:
        self.path = Path(job.input)
        self.chunk_size = job.chunk_size

    def fingerprint(self) -> list[list[Any]]:
        return [_stat(self.path)]

    def header(self) -> list[str]:
        with open(self.path, encoding="utf-8-sig", newline="") as handle:
            row = next(csv.reader(handle), None)
        if not row:
            raise CaseError(
                "The CSV file has no header row.",
                [FieldProblem(str(self.path), "empty file", "start with a row of column names")],
            )
        return [name.strip() for name in row]

    def plan(self, work: Path) -> list[ChunkSpec]:
        check_header(self.header())
        specs: list[ChunkSpec] = []
        with open(self.path, "rb") as handle:
            lines = _Offsets(handle)
            reader = csv.reader(lines)
            next(reader)
            start, first, rows = lines.offset, reader.line_num + 1, 0
            for _ in reader:
                rows += 1
                if rows == self.chunk_size:
                    specs.append(ChunkSpec(len(specs), start, lines.offset, first, rows))
                    start, first, rows = lines.offset, reader.line_num + 1, 0
            if rows:
                specs.append(ChunkSpec(len(specs), start, lines.offset, first, rows))
        return specs

    def read(self, spec: ChunkSpec) -> Iterator[Ready | Rejected]:
        header = self.header()
        with open(self.path, "rb") as handle:
            handle.seek(spec.start)
            text = handle.read(spec.stop - spec.start).decode("utf-8")
        reader = csv.reader(io.StringIO(text, newline=""))
        name, width = self.path.name, len(header)
        line = spec.first
        for cells in reader:
            record = f"{name}:{line}"
            line = spec.first + reader.line_num
            if not cells:
                continue
            if len(cells) != width:
                reason = f"The row has {len(cells)} cells; the header has {width} columns."
                yield Rejected(record, "patient", reason)
                continue
            yield _table_record(record, dict(zip(header, cells, strict=True)))


def _table_record(record: str, row: dict[str, Any]) -> Ready | Rejected:
    try:
        case, patient, when = row_to_case(row)
    except CaseError as exc:
        return Rejected(record, "patient", exc.message, tuple(exc.problems))
    return Ready(record, "patient", patient, when, case)


class ParquetSource:
    """A Parquet table in the same columns as the CSV form; one chunk per row group."""

    def __init__(self, job: Job) -> None:
        self.path = Path(job.input)

    def fingerprint(self) -> list[list[Any]]:
        return [_stat(self.path)]

    def _file(self) -> Any:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        return pq.ParquetFile(self.path)

    def plan(self, work: Path) -> list[ChunkSpec]:
        parquet = self._file()
        meta = parquet.metadata
        check_header(parquet.schema_arrow.names)  # top-level names (not list leaves)
        specs: list[ChunkSpec] = []
        first = 1
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            specs.append(ChunkSpec(group, group, group + 1, first, rows))
            first += rows
        return specs

    def read(self, spec: ChunkSpec) -> Iterator[Ready | Rejected]:
        table = self._file().read_row_group(spec.start)
        names = table.column_names
        columns = [table.column(n).to_pylist() for n in names]
        name = self.path.name
        for number, cells in enumerate(zip(*columns, strict=True), spec.first):
            yield _table_record(f"{name}:row {number}", dict(zip(names, cells, strict=True)))


def _fhir_source(job: Job) -> Source:
    from spinecds.batch.fhir_bulk import FhirBulkSource

    return FhirBulkSource(job)


FORMATS: dict[str, Callable[[Job], Source]] = {
    "jsonl": JsonLinesSource,
    "csv": CsvSource,
    "parquet": ParquetSource,
    "fhir-bulk": _fhir_source,
}

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def detect_format(path: Path) -> str:
    """The format of INPUT from its form: a folder is a FHIR Bulk export, else the suffix."""
    if path.is_dir():
        return "fhir-bulk"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CaseError(
            "The input format cannot be told from the file name.",
            [
                FieldProblem(
                    str(path),
                    f"unknown suffix {path.suffix!r}",
                    "name it .jsonl, .csv or .parquet, or pass --format",
                )
            ],
        )
    return fmt


def open_source(job: Job) -> Source:
    return FORMATS[job.fmt](job)
