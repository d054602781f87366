"""Audit-log export writers: JSON lines (one record a line) and CSV (JSON in the big cells).

Both take an iterator of records and write as they go, so an export of any size runs in
constant memory. ``parse_export`` reads either format back (tests and downstream tools).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from spinecds.errors import FieldProblem
from spinecds.store.engine import dumps
from spinecds.store.errors import StoreError
from spinecds.store.records import AssessmentRecord

__all__ = ["COLUMNS", "FORMATS", "check_format", "parse_export", "write_export"]

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", *(name for name in AssessmentRecord.model_fields if name != "id"))
# CSV cells that hold JSON documents (written as compact JSON text).
JSON_COLUMNS = frozenset({"input", "output"})


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise StoreError(
            "Unknown export format.",
            [FieldProblem("format", f"{fmt!r} is not one", f"use one of: {', '.join(FORMATS)}")],
            exit_code=2,
        )


def write_export(records: Iterable[AssessmentRecord], out: TextIO, fmt: str) -> int:
    """Write each record as it arrives; return how many were written."""
    check_format(fmt)
    return _write_jsonl(records, out) if fmt == "jsonl" else _write_csv(records, out)


def _write_jsonl(records: Iterable[AssessmentRecord], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(dumps(record.to_json_dict()) + "\n")
        count += 1
    return count


def _write_csv(records: Iterable[AssessmentRecord], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        row = record.to_json_dict()
        writer.writerow({key: _cell(key, row[key]) for key in COLUMNS})
        count += 1
    return count


def _cell(key: str, value: Any) -> Any:
    if key in JSON_COLUMNS:
        return dumps(value)  # output None becomes "null", not an empty cell
    return "" if value is None else value


def parse_export(lines: Iterable[str], fmt: str) -> Iterator[AssessmentRecord]:
    """Read an export back into records (CSV cells become JSON and nulls again)."""
    check_format(fmt)
    if fmt == "jsonl":
        for line in lines:
            if line.strip():
                yield AssessmentRecord.model_validate_json(line)
        return
    for row in csv.DictReader(lines):
        data: dict[str, Any] = {
            key: json.loads(value) if key in JSON_COLUMNS else (value if value != "" else None)
            for key, value in row.items()
        }
        yield AssessmentRecord.model_validate(data)
