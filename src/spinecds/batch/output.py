"""The output folder: where each file goes, and writing every file atomically.

Layout of ``OUT``::

    results/part-00000.parquet   one Parquet file per chunk (read the folder as one dataset)
    rejects.jsonl                every record that could not be assessed, with the reason
    summary.csv                  counts behind the report, in long form
    report.html                  the audit report, self-contained
    _batch/plan.json             what this folder holds: input, chunking, knowledge version
    _batch/done/00000.json       written last for each finished chunk: a rerun skips it
    _batch/rejects/00000.jsonl   the rejects of one chunk (merged into rejects.jsonl)

Every file is written to a temporary name in the same folder, flushed to disk and renamed
over the target, so a reader (or a crash) never sees half a file, and writing the same
chunk twice (a rerun, a retried Spark task) leaves the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from spinecds.batch.records import COLUMNS, ChunkRows, Rejected

__all__ = [
    "SCHEMA",
    "Layout",
    "atomic_concatenate",
    "atomic_write_bytes",
    "atomic_write_text",
    "rows_to_table",
    "write_chunk",
]

SCHEMA = pa.schema(
    [
        ("record", pa.string()),
        ("kind", pa.string()),
        ("case_id", pa.string()),
        ("patient_id", pa.string()),
        ("record_date", pa.date32()),
        ("pathway", pa.string()),
        ("urgency", pa.string()),
        ("referral", pa.string()),
        ("acr_variant", pa.string()),
        ("order", pa.string()),
        ("order_category", pa.string()),
        ("order_rating", pa.int8()),
        ("order_rrl", pa.string()),
        ("order_rrl_dose", pa.string()),
        ("order_verdict", pa.string()),
        ("next_imaging", pa.list_(pa.string())),
        ("open_questions", pa.int16()),
        ("knowledge_version", pa.string()),
    ]
)
assert tuple(SCHEMA.names) == COLUMNS  # noqa: S101 - the two lists must never drift apart


class Layout:
    """Paths inside one output folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.results = root / "results"
        self.meta = root / "_batch"
        self.done_dir = self.meta / "done"
        self.rejects_dir = self.meta / "rejects"
        self.plan = self.meta / "plan.json"
        self.rejects = root / "rejects.jsonl"
        self.summary = root / "summary.csv"
        self.report = root / "report.html"

    def make_dirs(self) -> None:
        for folder in (self.results, self.done_dir, self.rejects_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def part(self, index: int) -> Path:
        return self.results / f"part-{index:05d}.parquet"

    def done(self, index: int) -> Path:
        return self.done_dir / f"{index:05d}.json"

    def chunk_rejects(self, index: int) -> Path:
        return self.rejects_dir / f"{index:05d}.jsonl"

    def finished(self) -> set[int]:
        """Chunks whose done marker and result file both exist."""
        out = set()
        for marker in self.done_dir.glob("*.json"):
            if marker.stem.isdigit() and self.part(int(marker.stem)).exists():
                out.add(int(marker.stem))
        return out


def _temporary(path: Path) -> Path:
    # Unique per writer: two writers of the same chunk (a speculative Spark task) never
    # share a temporary file, and the last rename wins with identical content.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_concatenate(path: Path, parts: Iterable[Path]) -> None:
    """``path`` becomes the parts one after another, streamed (any size, little memory)."""
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def rows_to_table(rows: ChunkRows) -> Any:
    """One Arrow table from the column lists (a C loop per column, no per-row objects)."""
    arrays = [pa.array(rows.columns[name], type=SCHEMA.field(name).type) for name in COLUMNS]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _write_table(path: Path, table: Any) -> None:
    tmp = _temporary(path)
    try:
        # No pandas metadata and a fixed writer: the same rows give the same bytes, so
        # local and Spark runs, and reruns, produce identical files.
        pq.write_table(table, tmp, compression="zstd", store_schema=False)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _rejects_text(rejects: Iterable[Rejected]) -> str:
    return "".join(
        json.dumps(r.as_json(), ensure_ascii=False, sort_keys=True) + "\n" for r in rejects
    )


def write_chunk(layout: Layout, index: int, rows: ChunkRows, extra: dict[str, Any]) -> None:
    """Write one chunk's results, then its rejects, then the done marker (last)."""
    _write_table(layout.part(index), rows_to_table(rows))
    atomic_write_text(layout.chunk_rejects(index), _rejects_text(rows.rejects))
    marker = {"chunk": index, "rows": rows.size, "rejects": len(rows.rejects), **extra}
    atomic_write_text(layout.done(index), json.dumps(marker, sort_keys=True) + "\n")
